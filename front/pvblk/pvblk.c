// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * pvblk - pvio block frontend: a blk-mq disk whose backend runs in another
 * domain, reached through a pvio shared region (include/pvio/region.h,
 * include/pvio/blk.h). It drives the (PVIO_CLASS_BLK, FRONTEND) devices of
 * the pvio bus (pvio_core.h), whatever transport maps and signals them; the
 * region layout it uses is the copy the transport checked, the block rules
 * (config, entry sizes, responses) and the handshake are those of ring/.
 *
 * One hardware queue per pvio queue. Each tag owns one request slot in its
 * queue's data area: a write is copied into the slot before the request is
 * published, a read is copied out of it after the response arrives. Pages
 * of the guest are never shown to the backend. Requests are built in
 * private memory and copied into the ring once; the ring index is published
 * once per batch (bd->last, commit_rqs) and the doorbell rung only when the
 * backend asked for one. Responses are copied out once and validated; a
 * backend that breaks the protocol kills the device: outstanding and new
 * IO fail, one line is logged, nothing else is touched.
 *
 * A backend that goes away is waited for (include/pvio/region.h, "Backend
 * restart"). Every request stays the frontend's until it is answered: each
 * queue keeps what the backend holds on a list, in the order it was first
 * submitted. The watch work (pvblk_watch()) owns the connection: it looks
 * at the backend on every control doorbell and every second, and is told
 * when a request goes unanswered for io_timeout seconds or a ring is found
 * reset. Once the backend is gone the disk's queue is quiesced and every
 * ring left alone (queues HOLD); a new backend instance (INITWAIT with a
 * new generation) whose layout matches the one the disk was set up with
 * is connected again on the same ring offsets, and every held request is
 * built again (writes copied again from their bios) and submitted in its
 * first order. The guest sees a stall. Away for more than backend_timeout
 * seconds, held and new IO fail (queues FAIL) while the watch goes on, so
 * a backend that comes later is connected again. An incompatible layout
 * kills the device.
 *
 * Every IO ends. The watch runs from the moment the disk is allocated, so
 * a backend that connects and then sits on the partition scan's reads is
 * found gone like any other and probe returns once backend_timeout failed
 * them. Doorbells may be lost (an MSI-X message dropped): the watch and the
 * request timeout look at the response rings themselves. A backend ringing
 * in a loop buys at most PVBLK_REAP_BUDGET responses per queue doorbell
 * (the rest is the watch's) and one run of the watch per PVBLK_CTRL_GAP;
 * the transport bounds how many doorbells it delivers. Requests carry the
 * segments the backend's max_segments and max_segment_size allow.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/version.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <pvio/blk.h>
#include <pvio/region.h>
#include "blk_proto.h"
#include "handshake.h"
#include "pvio_core.h"
#include "pvio_ring.h"
#include "region.h"

#define PVBLK_MINORS 16
/* How long probe waits for the backend to answer the handshake. */
#define PVBLK_CONNECT_TIMEOUT (10 * HZ)
/* Removal fails what the backend holds once it answered nothing for this
 * long (the watchdog looks again every period while removal runs). */
#define PVBLK_DRAIN_TIMEOUT_MS 5000
/* Responses one doorbell reaps before the rest is left to the watch, and
 * the shortest gap between two runs of the watch that control doorbells
 * ask for: a backend ringing in a loop costs the guest at most one reap of
 * PVBLK_REAP_BUDGET responses per doorbell the transport delivers, and at
 * most HZ / PVBLK_CTRL_GAP runs of the watch per second. */
#define PVBLK_REAP_BUDGET 64
#define PVBLK_CTRL_GAP max(HZ / 100, 1)
/* Largest request slot: bounds the bounce copy per request. */
#define PVBLK_MAX_SLOT (512u * 1024)
/* How often the watch looks at a connected backend without a doorbell. */
#define PVBLK_WATCH_PERIOD HZ
/* ... and at the region while it waits for a new backend. */
#define PVBLK_RECOVER_PERIOD (HZ / 4)

static unsigned int backend_timeout = 60;
module_param(backend_timeout, uint, 0644);
MODULE_PARM_DESC(backend_timeout,
		 "Seconds a backend may be away before held and new IO fail; a backend coming later is still connected again (default 60)");

static unsigned int io_timeout = 30;
module_param(io_timeout, uint, 0644);
MODULE_PARM_DESC(io_timeout,
		 "Seconds one request may go unanswered before the backend is treated as gone; taken when a disk is created (default 30)");

static int pvblk_major;
static DEFINE_IDA(pvblk_index_ida);

struct pvblk_dev;

/* What a queue does with the rings and with new requests. */
enum pvblk_qmode {
	PVBLK_Q_LIVE, /* put requests on the ring, reap responses */
	PVBLK_Q_HOLD, /* backend away: keep new requests, touch no ring */
	PVBLK_Q_FAIL, /* away past backend_timeout: fail new requests */
};

/* The connection, as the watch work sees it (only it changes this). */
enum pvblk_link {
	PVBLK_LINK_UP,      /* connected, queues LIVE */
	PVBLK_LINK_HOLD,    /* backend gone, requests held, queue quiesced */
	PVBLK_LINK_FAILING, /* gone past backend_timeout, queues FAIL */
};

/* One pvio queue: its two ring ends, its data area, its doorbell. */
struct pvblk_queue {
	spinlock_t lock; /* ring ends, mode, the outstanding bitmap and list */
	struct pvio_prod req;
	struct pvio_cons rsp;
	u8 *data;             /* this queue's data area in the region */
	u32 vector;           /* doorbell vector, both directions */
	unsigned int index;
	enum pvblk_qmode mode;
	unsigned long *outstanding; /* tags whose request the backend holds */
	struct list_head held; /* their pvblk_cmds, in first submission order */
	struct pvio_blk_req *replay; /* depth entries: requests built again */
	struct pvblk_dev *dev;
	u64 requests;         /* requests put on the ring */
	u64 notifies;         /* doorbells rung */
	u64 interrupts;       /* doorbells received */
};

struct pvblk_dev {
	struct pvio_device *pdev;
	struct pvio_region_hdr *hdr;
	struct pvio_blk_limits lim; /* the backend's config, checked */
	struct pvio_hs_front hs;    /* handshake; hs.features negotiated */
	u64 features;        /* negotiated */
	unsigned int nr_queues;
	unsigned int depth;  /* tags per queue */
	u32 slot_size;       /* bytes of data area per tag */
	u32 seg_size;        /* bytes per wire segment (max_segment_size) */
	atomic_long_t answered; /* responses taken: removal's progress */
	long drain_seen;     /* @answered at the removal watchdog's last look */
	struct work_struct kill_work; /* fails the queues of a dead device */
	unsigned long watch_ran; /* jiffies: the watch's last start */
	struct pvblk_queue *queues;
	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;
	int index;
	wait_queue_head_t ctrl_wq;
	atomic_t dead;       /* protocol broken or layout changed: fail all IO */
	struct delayed_work remove_watchdog; /* bounds removal's drain */

	/* The watch (pvblk_watch()): IO sets @suspect; @link to @seen are
	 * the watch's own; sysfs reads the counters. */
	struct delayed_work watch;
	spinlock_t kick_lock; /* @watching against removal */
	bool watching;        /* the watch may be queued */
	const char *suspect;  /* why IO says the backend is gone (xchg) */
	enum pvblk_link link;
	bool offered;         /* step 2 done with a new backend */
	bool quiesced;        /* we quiesced the disk's queue */
	u32 conn_gen;         /* back.generation we were last connected to */
	u32 checked_gen;      /* back.generation of the layout last checked */
	struct pvio_region_layout seen; /* the layout last checked */
	unsigned long gone_at; /* jiffies when the backend was found gone */
	u64 reconnects;       /* for sysfs (READ_ONCE) */
	u64 replayed;
};

/* Per-request private data (tag_set.cmd_size). */
struct pvblk_cmd {
	blk_status_t status;
	u32 len; /* bytes the backend says it transferred */
	struct list_head node; /* on pvblk_queue.held while outstanding */
};

static u8 *pvblk_slot(struct pvblk_queue *q, unsigned int tag)
{
	return q->data + (size_t)tag * q->dev->slot_size;
}

/* For logs only: decisions are the handshake's (ring/handshake.c). */
static u32 pvblk_back_state(struct pvblk_dev *d)
{
	return le32_to_cpu(READ_ONCE(d->hdr->back.state));
}

static void pvblk_set_front_state(struct pvblk_dev *d, u32 state)
{
	/* A release store (pvio_hs_front_set_state()): what we wrote before
	 * is visible to the backend before the state that tells it to act. */
	pvio_hs_front_set_state(&d->hs, state);
	pvio_notify(d->pdev, PVIO_VECTOR_CONTROL);
}

/* Complete a request the backend held, exactly once: the caller cleared
 * its outstanding bit. */
static void pvblk_finish(struct request *rq, blk_status_t status, u32 len)
{
	struct pvblk_cmd *cmd = blk_mq_rq_to_pdu(rq);

	cmd->status = status;
	cmd->len = len;
	blk_mq_complete_request(rq);
}

/* Make @rq outstanding: the frontend answers for it until it is taken
 * back. Caller holds q->lock. */
static void pvblk_hold(struct pvblk_queue *q, struct request *rq)
{
	struct pvblk_cmd *cmd = blk_mq_rq_to_pdu(rq);

	set_bit(rq->tag, q->outstanding);
	list_add_tail(&cmd->node, &q->held);
}

/* Take request @tag back from the backend, exactly once: the request, or
 * NULL if it is not outstanding (an id the backend made up, or answered
 * twice). Caller holds q->lock. */
static struct request *pvblk_take(struct pvblk_queue *q, u32 tag)
{
	struct pvblk_dev *d = q->dev;
	struct request *rq;

	if (tag >= d->depth || !test_and_clear_bit(tag, q->outstanding))
		return NULL;
	rq = blk_mq_tag_to_rq(d->tag_set.tags[q->index], tag);
	if (rq)
		list_del(&((struct pvblk_cmd *)blk_mq_rq_to_pdu(rq))->node);
	return rq;
}

/* Fail every request outstanding on @q. Caller holds q->lock. */
static void pvblk_fail_outstanding(struct pvblk_queue *q)
{
	struct pvblk_cmd *cmd, *next;

	list_for_each_entry_safe(cmd, next, &q->held, node) {
		struct request *rq = blk_mq_rq_from_pdu(cmd);

		clear_bit(rq->tag, q->outstanding);
		list_del(&cmd->node);
		pvblk_finish(rq, BLK_STS_IOERR, 0);
	}
}

static void pvblk_fail_queue(struct pvblk_queue *q)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	pvblk_fail_outstanding(q);
	spin_unlock_irqrestore(&q->lock, flags);
}

static void pvblk_fail_all(struct pvblk_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_queues; i++)
		pvblk_fail_queue(&d->queues[i]);
}

/* The other queues of a device killed from one queue's IRQ path. */
static void pvblk_kill_work(struct work_struct *work)
{
	pvblk_fail_all(container_of(work, struct pvblk_dev, kill_work));
}

/*
 * The device is unusable: say why once, then fail what the backend holds
 * and everything that comes later. @locked is the queue whose lock the
 * caller holds, if any.
 *
 * No two queue locks are ever held at once: a caller holding @locked
 * fails that queue only, and the other queues are failed one after the
 * other from kill_work, each under its own lock. Taking them here would
 * nest locks of one class in whatever order the killing queue's IRQ
 * comes in; only the @dead exchange keeps two killers on two CPUs from
 * waiting on each other's lock, which lockdep cannot see (it would report
 * recursive locking). Until the work runs, the other queues' requests stay
 * outstanding: @dead is set, so their doorbells are ignored, new IO fails
 * and their timeouts fail them.
 */
static void pvblk_kill(struct pvblk_dev *d, struct pvblk_queue *locked,
		       const char *why)
{
	if (atomic_xchg(&d->dead, 1))
		return;
	dev_err(&d->pdev->dev, "pvblk%d: %s; failing all IO\n",
		d->index, why);
	if (locked) {
		pvblk_fail_outstanding(locked);
		schedule_work(&d->kill_work);
		return;
	}
	pvblk_fail_all(d);
}

static bool pvblk_idle(struct pvblk_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_queues; i++)
		if (!bitmap_empty(d->queues[i].outstanding, d->depth))
			return false;
	return true;
}

static bool pvblk_reap_all(struct pvblk_dev *d);

/*
 * Removal waits for the backend to finish what it holds, but not forever:
 * the watchdog looks every PVBLK_DRAIN_TIMEOUT_MS for as long as removal
 * runs (it re-arms itself; removal cancels it), so IO that del_gendisk()
 * sends late is bounded as well as what was in flight when it began. A
 * backend holding requests that answered nothing since the last look gets
 * them failed. It reaps first: a lost doorbell is not a silent backend.
 */
static void pvblk_remove_watchdog(struct work_struct *work)
{
	struct pvblk_dev *d = container_of(to_delayed_work(work),
					   struct pvblk_dev, remove_watchdog);
	long answered;

	pvblk_reap_all(d);
	answered = atomic_long_read(&d->answered);
	if (!pvblk_idle(d) && answered == d->drain_seen) {
		pvblk_kill(d, NULL, "backend did not finish in-flight IO on removal");
		return;
	}
	d->drain_seen = answered;
	schedule_delayed_work(&d->remove_watchdog,
			      msecs_to_jiffies(PVBLK_DRAIN_TIMEOUT_MS));
}

/* Run the watch after @delay (0: now, even if it is already queued for
 * later); nothing once removal stopped it. Context: any. */
static void pvblk_kick(struct pvblk_dev *d, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&d->kick_lock, flags);
	if (d->watching) {
		if (delay)
			queue_delayed_work(system_wq, &d->watch, delay);
		else
			mod_delayed_work(system_wq, &d->watch, 0);
	}
	spin_unlock_irqrestore(&d->kick_lock, flags);
}

/* IO found the backend gone (@why, a constant): tell the watch, which
 * decides in process context. Context: any. */
static void pvblk_suspect(struct pvblk_dev *d, const char *why)
{
	cmpxchg(&d->suspect, NULL, why);
	pvblk_kick(d, 0);
}

/*
 * @q found its rings broken. A backend that is still the one we connected
 * to broke the protocol: kill the device. One that left or restarted took
 * its rings with it (a new layout zeroes them): that is no error, the
 * queue stops touching them and the watch recovers. Caller holds q->lock.
 */
static void pvblk_ring_lost(struct pvblk_queue *q, const char *why)
{
	struct pvblk_dev *d = q->dev;

	if (pvio_hs_front_backend_alive(&d->hs)) {
		pvblk_kill(d, q, why);
		return;
	}
	q->mode = PVBLK_Q_HOLD;
	pvblk_suspect(d, "its rings were reset");
}

static blk_status_t pvblk_status(u16 status)
{
	switch (status) {
	case PVIO_BLK_S_OK:
		return BLK_STS_OK;
	case PVIO_BLK_S_UNSUPP:
		return BLK_STS_NOTSUPP;
	case PVIO_BLK_S_RANGE:
	case PVIO_BLK_S_INVAL:
		return BLK_STS_IOERR;
	case PVIO_BLK_S_ROFS:
		return BLK_STS_PROTECTION;
	case PVIO_BLK_S_NOSPC:
		return BLK_STS_NOSPC;
	default:
		return BLK_STS_IOERR;
	}
}

/*
 * Take the responses off @q's ring, at most @budget of them. Each is copied
 * out once and checked: its id must name a request the backend holds, and
 * pvio_blk_rsp_check() must accept the rest (status known, reserved fields
 * zero, length within a slot). Caller holds q->lock, @q is LIVE.
 * Returns 0 when the ring is empty and the next doorbell asked for,
 * -EAGAIN when @budget ran out first (the caller has the rest reaped
 * later; no doorbell is asked for meanwhile), -EPROTO if the rings are
 * broken (the device is then dead, or the queue held when the backend is
 * gone: pvblk_ring_lost()).
 */
static int pvblk_reap(struct pvblk_queue *q, unsigned int budget)
{
	struct pvblk_dev *d = q->dev;
	struct pvio_blk_rsp rsp;
	struct pvio_blk_vrsp v;
	const char *reason;
	int avail, bad;

	do {
		avail = pvio_cons_avail(&q->rsp);
		if (avail < 0) {
			pvblk_ring_lost(q, "backend corrupted the response ring");
			return -EPROTO;
		}
		while (avail-- > 0) {
			struct request *rq;

			if (!budget) {
				pvio_cons_release(&q->rsp);
				return -EAGAIN;
			}
			budget--;
			if (pvio_cons_get(&q->rsp, &rsp, sizeof(rsp)))
				break;
			/* v.id is set even for a response refused. */
			bad = pvio_blk_rsp_check(&rsp, d->slot_size, &v, &reason);
			if (bad) {
				if (pvio_hs_front_backend_alive(&d->hs))
					dev_err(&d->pdev->dev, "pvblk%d: response %u refused: %s\n",
						d->index, v.id, reason);
				pvblk_ring_lost(q, "backend sent a malformed response");
				return -EPROTO;
			}
			rq = pvblk_take(q, v.id);
			if (!rq) {
				pvblk_ring_lost(q, "backend answered a request it does not hold");
				return -EPROTO;
			}
			atomic_long_inc(&d->answered);
			pvblk_finish(rq, pvblk_status(v.status), v.len);
		}
		pvio_cons_release(&q->rsp);
		/* Ask for the next doorbell, then look again: a response
		 * published before the event index was visible is caught
		 * here rather than lost. */
		avail = pvio_cons_arm(&q->rsp, 0);
	} while (avail > 0);
	if (avail < 0) {
		pvblk_ring_lost(q, "backend corrupted the response ring");
		return -EPROTO;
	}
	return 0;
}

/*
 * Reap every LIVE queue of @d, one queue lock at a time, without a budget
 * (process context): what a lost doorbell, or a doorbell's spent budget,
 * left on a response ring. Return: true if a queue still has responses
 * left (only a ring refilled as fast as we reap; the caller comes back).
 */
static bool pvblk_reap_all(struct pvblk_dev *d)
{
	unsigned long flags;
	bool more = false;
	unsigned int i;

	for (i = 0; i < d->nr_queues; i++) {
		struct pvblk_queue *q = &d->queues[i];

		if (atomic_read(&d->dead))
			break;
		spin_lock_irqsave(&q->lock, flags);
		if (q->mode == PVBLK_Q_LIVE &&
		    pvblk_reap(q, 4 * d->depth) == -EAGAIN)
			more = true;
		spin_unlock_irqrestore(&q->lock, flags);
	}
	return more;
}

static void pvblk_queue_irq(struct pvio_device *pdev, unsigned int vector,
			    void *data)
{
	struct pvblk_queue *q = data;
	unsigned long flags;
	int ret = 0;

	if (atomic_read(&q->dev->dead))
		return;
	spin_lock_irqsave(&q->lock, flags);
	q->interrupts++;
	/* A held queue leaves the old rings alone: what they hold is replayed. */
	if (q->mode == PVBLK_Q_LIVE)
		ret = pvblk_reap(q, PVBLK_REAP_BUDGET);
	spin_unlock_irqrestore(&q->lock, flags);
	/* Budget spent: the watch reaps the rest in process context. */
	if (ret == -EAGAIN)
		pvblk_kick(q->dev, 0);
}

static void pvblk_ctrl_irq(struct pvio_device *pdev, unsigned int vector,
			   void *data)
{
	struct pvblk_dev *d = data;
	unsigned long next = READ_ONCE(d->watch_ran) + PVBLK_CTRL_GAP;

	/* Probe's connect waits on ctrl_wq; afterwards the watch decides. */
	wake_up(&d->ctrl_wq);
	/* A backend ringing vector 0 in a loop gets the watch run at most
	 * once per PVBLK_CTRL_GAP: later doorbells find it already queued
	 * (queue_delayed_work() leaves a pending watch alone). */
	if (time_after_eq(jiffies, next))
		pvblk_kick(d, 0);
	else
		pvblk_kick(d, next - jiffies);
}

/* Copy a write's data into the request's slot. */
static void pvblk_copy_to_slot(struct request *rq, u8 *slot)
{
	struct req_iterator iter;
	struct bio_vec bv;

	rq_for_each_segment(bv, rq, iter) {
		memcpy_from_bvec(slot, &bv);
		slot += bv.bv_len;
	}
}

/* Copy a read's data out of the request's slot, @len bytes at most. */
static void pvblk_copy_from_slot(struct request *rq, const u8 *slot, u32 len)
{
	struct req_iterator iter;
	struct bio_vec bv;

	rq_for_each_segment(bv, rq, iter) {
		u32 n = min(len, bv.bv_len);

		bv.bv_len = n;
		memcpy_to_bvec(&bv, slot);
		slot += n;
		len -= n;
		if (!len)
			break;
	}
}

static void pvblk_complete_rq(struct request *rq)
{
	struct pvblk_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct pvblk_queue *q = rq->mq_hctx->driver_data;
	blk_status_t status = cmd->status;

	if (status == BLK_STS_OK && req_op(rq) == REQ_OP_READ) {
		/* A short read is an error, not zeroes the guest never asked
		 * for. */
		if (cmd->len != blk_rq_bytes(rq))
			status = BLK_STS_IOERR;
		else
			pvblk_copy_from_slot(rq, pvblk_slot(q, rq->tag),
					     cmd->len);
	}
	blk_mq_end_request(rq, status);
}

/*
 * The segments of a READ/WRITE of @bytes (at most slot_size) in slot @tag:
 * the slot cut into pieces of seg_size, which pvblk_size_queues() chose so
 * that a slot needs no more than the negotiated max_segments nor
 * PVIO_BLK_INLINE_SEGS of them. Offsets in 64 bits, checked there to fit
 * the wire's 32.
 */
static void pvblk_build_segs(struct pvblk_dev *d, struct pvio_blk_req *req,
			     unsigned int tag, u32 bytes)
{
	u64 off = (u64)tag * d->slot_size;
	unsigned int n = 0;

	while (bytes) {
		u32 len = min(bytes, d->seg_size);

		req->seg[n].offset = cpu_to_le32((u32)off);
		req->seg[n].len = cpu_to_le32(len);
		off += len;
		bytes -= len;
		n++;
	}
	req->nr_segs = cpu_to_le16(n);
}

/* Build the wire request for @rq privately; 0 or a blk_status_t error. */
static blk_status_t pvblk_build(struct pvblk_queue *q, struct request *rq,
				struct pvio_blk_req *req)
{
	struct pvblk_dev *d = q->dev;
	u32 bytes = blk_rq_bytes(rq);
	u16 op, flags = 0;

	memset(req, 0, sizeof(*req));
	switch (req_op(rq)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		if (bytes == 0 || bytes > d->slot_size)
			return BLK_STS_IOERR;
		op = req_op(rq) == REQ_OP_READ ? PVIO_BLK_OP_READ
					       : PVIO_BLK_OP_WRITE;
		if (op == PVIO_BLK_OP_WRITE) {
			pvblk_copy_to_slot(rq, pvblk_slot(q, rq->tag));
			if ((rq->cmd_flags & REQ_FUA) &&
			    (d->features & PVIO_BLK_F_FUA))
				flags |= PVIO_BLK_REQ_F_FUA;
		}
		pvblk_build_segs(d, req, rq->tag, bytes);
		req->nr_sectors = cpu_to_le32(blk_rq_sectors(rq));
		break;
	case REQ_OP_FLUSH:
		op = PVIO_BLK_OP_FLUSH;
		break;
	case REQ_OP_DISCARD:
		op = PVIO_BLK_OP_DISCARD;
		req->nr_sectors = cpu_to_le32(blk_rq_sectors(rq));
		break;
	case REQ_OP_WRITE_ZEROES:
		op = PVIO_BLK_OP_WRITE_ZEROES;
		if (!(rq->cmd_flags & REQ_NOUNMAP))
			flags |= PVIO_BLK_REQ_F_UNMAP;
		req->nr_sectors = cpu_to_le32(blk_rq_sectors(rq));
		break;
	default:
		return BLK_STS_NOTSUPP;
	}
	if (op != PVIO_BLK_OP_FLUSH)
		req->sector = cpu_to_le64(blk_rq_pos(rq));
	req->id = cpu_to_le32(rq->tag);
	req->op = cpu_to_le16(op);
	req->flags = cpu_to_le16(flags);
	return BLK_STS_OK;
}

/* Publish what queue_rq put on the ring; true if the backend wants a
 * doorbell. Caller holds q->lock. */
static bool pvblk_publish(struct pvblk_queue *q)
{
	bool notify = pvio_prod_publish(&q->req);

	if (notify)
		q->notifies++;
	return notify;
}

static blk_status_t pvblk_queue_rq(struct blk_mq_hw_ctx *hctx,
				   const struct blk_mq_queue_data *bd)
{
	struct pvblk_queue *q = hctx->driver_data;
	struct pvblk_dev *d = q->dev;
	struct request *rq = bd->rq;
	struct pvio_blk_req req;
	unsigned long flags;
	blk_status_t status;
	bool notify = false, lost = false;
	int ret = 0;

	if (atomic_read(&d->dead))
		return BLK_STS_IOERR;
	status = pvblk_build(q, rq, &req);
	if (status != BLK_STS_OK)
		return status;
	blk_mq_start_request(rq);

	spin_lock_irqsave(&q->lock, flags);
	switch (q->mode) {
	case PVBLK_Q_FAIL:
		ret = -EIO;
		break;
	case PVBLK_Q_HOLD:
		/* Came in before the watch quiesced the queue: kept, and
		 * submitted with the others once a backend is back. */
		pvblk_hold(q, rq);
		break;
	case PVBLK_Q_LIVE:
		ret = pvio_prod_put(&q->req, &req, sizeof(req));
		if (ret == 0) {
			pvblk_hold(q, rq);
			q->requests++;
			if (bd->last)
				notify = pvblk_publish(q);
		} else if (ret == -ENOSPC) {
			/* Cannot happen while depth <= ring size; if it does,
			 * publish what is queued so the ring drains, and retry
			 * later. */
			notify = pvblk_publish(q);
		} else if (!pvio_hs_front_backend_alive(&d->hs)) {
			/* The backend left and a new layout zeroed the ring
			 * under us: keep the request for the replay. */
			q->mode = PVBLK_Q_HOLD;
			pvblk_hold(q, rq);
			lost = true;
			ret = 0;
		}
		break;
	}
	spin_unlock_irqrestore(&q->lock, flags);

	if (lost)
		pvblk_suspect(d, "its request ring was reset");
	if (ret == -EIO)
		return BLK_STS_IOERR;

	/* The doorbell is rung outside the lock: it may trap to the host. */
	if (notify)
		pvio_notify(d->pdev, q->vector);
	if (ret == -ENOSPC)
		return BLK_STS_DEV_RESOURCE;
	if (ret) {
		pvblk_kill(d, NULL, "backend corrupted the request ring");
		return BLK_STS_IOERR;
	}
	return BLK_STS_OK;
}

static void pvblk_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	struct pvblk_queue *q = hctx->driver_data;
	unsigned long flags;
	bool notify;

	spin_lock_irqsave(&q->lock, flags);
	notify = q->mode == PVBLK_Q_LIVE && pvblk_publish(q);
	spin_unlock_irqrestore(&q->lock, flags);
	if (notify)
		pvio_notify(q->dev->pdev, q->vector);
}

/*
 * A request unanswered for io_timeout seconds. On a live queue the
 * response ring is looked at first: a backend that answered but whose
 * doorbell was lost (an MSI-X message dropped) is reaped, and the next
 * doorbell asked for again. Still unanswered, the backend took it and went
 * silent: the watch treats the backend as gone (and asks it to close). A
 * held request waits for the recovery, which backend_timeout bounds, after
 * which it fails. On a dead or failing device it fails now.
 */
static enum blk_eh_timer_return pvblk_timeout(struct request *rq)
{
	struct pvblk_queue *q = rq->mq_hctx->driver_data;
	struct pvblk_dev *d = q->dev;
	enum pvblk_qmode mode;
	unsigned long flags;
	struct request *mine;

	spin_lock_irqsave(&q->lock, flags);
	mode = q->mode;
	if (atomic_read(&d->dead) || mode == PVBLK_Q_FAIL) {
		mine = pvblk_take(q, rq->tag);
		spin_unlock_irqrestore(&q->lock, flags);
		if (mine)
			pvblk_finish(mine, BLK_STS_IOERR, 0);
		return BLK_EH_DONE;
	}
	if (mode == PVBLK_Q_LIVE && test_bit(rq->tag, q->outstanding)) {
		/* No budget: the timeout runs in process context. */
		pvblk_reap(q, UINT_MAX);
		if (!test_bit(rq->tag, q->outstanding)) {
			/* Answered: reaping completed it (or failed it, the
			 * device being dead now). */
			spin_unlock_irqrestore(&q->lock, flags);
			return BLK_EH_DONE;
		}
		mode = q->mode;
	}
	mine = test_bit(rq->tag, q->outstanding) ? rq : NULL;
	spin_unlock_irqrestore(&q->lock, flags);
	if (mode == PVBLK_Q_LIVE && mine)
		pvblk_suspect(d, "a request went unanswered");
	return BLK_EH_RESET_TIMER;
}

static int pvblk_init_hctx(struct blk_mq_hw_ctx *hctx, void *data,
			   unsigned int index)
{
	struct pvblk_dev *d = data;

	if (index >= d->nr_queues)
		return -EINVAL;
	hctx->driver_data = &d->queues[index];
	return 0;
}

static const struct blk_mq_ops pvblk_mq_ops = {
	.queue_rq = pvblk_queue_rq,
	.commit_rqs = pvblk_commit_rqs,
	.complete = pvblk_complete_rq,
	.timeout = pvblk_timeout,
	.init_hctx = pvblk_init_hctx,
};

/* /sys/block/pvblkN/pvio_stats: one line per queue, counted since probe:
 * "queue Q requests R notifies N interrupts I" -- notifies are doorbells
 * rung to the backend, interrupts doorbells received from it; requests
 * submitted again after a backend restart count again. Then one line
 * "reconnects C replayed P": backends connected again since probe, and
 * requests submitted again to them. */
static ssize_t pvio_stats_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct pvblk_dev *d = dev_to_disk(dev)->private_data;
	unsigned int i;
	int len = 0;

	for (i = 0; i < d->nr_queues; i++) {
		struct pvblk_queue *q = &d->queues[i];
		unsigned long flags;
		u64 r, n, irq;

		spin_lock_irqsave(&q->lock, flags);
		r = q->requests;
		n = q->notifies;
		irq = q->interrupts;
		spin_unlock_irqrestore(&q->lock, flags);
		len += sysfs_emit_at(buf, len,
				     "queue %u requests %llu notifies %llu interrupts %llu\n",
				     i, r, n, irq);
	}
	len += sysfs_emit_at(buf, len, "reconnects %llu replayed %llu\n",
			     READ_ONCE(d->reconnects), READ_ONCE(d->replayed));
	return len;
}
static DEVICE_ATTR_RO(pvio_stats);

static struct attribute *pvblk_attrs[] = {
	&dev_attr_pvio_stats.attr,
	NULL,
};

static const struct attribute_group pvblk_attr_group = {
	.attrs = pvblk_attrs,
};

static const struct attribute_group *pvblk_attr_groups[] = {
	&pvblk_attr_group,
	NULL,
};

static const struct block_device_operations pvblk_fops = {
	.owner = THIS_MODULE,
};

/* The block rules on the layout the transport checked: entry sizes, and
 * the config converted and checked by the one block protocol check. */
static int pvblk_read_config(struct pvblk_dev *d)
{
	struct pvio_blk_config raw;
	struct device *dev = &d->pdev->dev;
	const char *reason;
	int ret;

	ret = pvio_blk_check_layout(&d->pdev->layout, &reason);
	if (ret) {
		dev_err(dev, "pvblk: region refused: %s\n", reason);
		return ret;
	}
	/* A private copy already (the transport's); copied again only to
	 * give it the config's type and alignment. */
	memcpy(&raw, d->pdev->layout.config, sizeof(raw));
	ret = pvio_blk_limits_from_config(&raw, &d->lim, &reason);
	if (ret) {
		dev_err(dev, "pvblk: block configuration refused: %s\n", reason);
		return -EPROTO;
	}
	return 0;
}

/*
 * Size the tags: every tag needs a ring slot each way and a data slot. A
 * slot is what one request may carry: at most max_transfer_sectors, and at
 * most as many segments of max_segment_size (rounded down to whole logical
 * blocks) as both the backend's max_segments and the inline segment slots
 * allow. Every slot must lie where a 32-bit segment offset reaches.
 */
static int pvblk_size_queues(struct pvblk_dev *d)
{
	const struct pvio_region_queue *tq;
	u32 lbs = d->lim.logical_block_size;
	u32 seg = rounddown(d->lim.max_segment_size, lbs);
	u32 nsegs = min(d->lim.max_segments, PVIO_BLK_INLINE_SEGS);
	u32 slot = min_t(u64, (u64)d->lim.max_transfer_sectors << 9,
			 PVBLK_MAX_SLOT);
	u64 depth = d->lim.queue_depth;
	unsigned int i;

	slot = min_t(u64, slot, (u64)seg * nsegs);
	slot = rounddown(slot, max_t(u32, lbs, PAGE_SIZE));
	if (!slot || !seg)
		return -EPROTO;
	/* Offsets are 32 bits on the wire: slot @depth - 1 must end by 4 GiB. */
	depth = min_t(u64, depth, div_u64(1ull << 32, slot));
	d->nr_queues = d->pdev->layout.num_queues;
	for (i = 0; i < d->nr_queues; i++) {
		tq = &d->pdev->layout.queues[i];
		depth = min_t(u64, depth, tq->req_entries);
		depth = min_t(u64, depth, tq->rsp_entries);
		depth = min_t(u64, depth, div_u64(tq->data_size, slot));
	}
	/* With fewer tags than this a queue cannot keep a batch in flight
	 * while another completes; still correct, only slow. */
	if (depth == 0)
		return -EPROTO;
	d->depth = depth;
	d->slot_size = slot;
	d->seg_size = min(seg, slot);
	return 0;
}

static int pvblk_init_queues(struct pvblk_dev *d)
{
	unsigned int i;
	int ret;

	d->queues = kcalloc(d->nr_queues, sizeof(*d->queues), GFP_KERNEL);
	if (!d->queues)
		return -ENOMEM;
	for (i = 0; i < d->nr_queues; i++) {
		const struct pvio_region_queue *tq =
			&d->pdev->layout.queues[i];
		struct pvblk_queue *q = &d->queues[i];
		u8 *base = d->pdev->region;

		spin_lock_init(&q->lock);
		INIT_LIST_HEAD(&q->held);
		q->mode = PVBLK_Q_LIVE;
		q->dev = d;
		q->index = i;
		q->vector = tq->vector;
		q->data = base + tq->data_off;
		q->outstanding = bitmap_zalloc(d->depth, GFP_KERNEL);
		q->replay = kcalloc(d->depth, sizeof(*q->replay), GFP_KERNEL);
		if (!q->outstanding || !q->replay)
			return -ENOMEM;
		ret = pvio_prod_attach(&q->req,
				       (struct pvio_ring_shared *)(base + tq->req_ring_off),
				       tq->req_entries, tq->req_entry_size);
		if (!ret)
			ret = pvio_cons_attach(&q->rsp,
					       (struct pvio_ring_shared *)(base + tq->rsp_ring_off),
					       tq->rsp_entries, tq->rsp_entry_size);
		if (ret)
			return ret;
	}
	return 0;
}

static void pvblk_free_queues(struct pvblk_dev *d)
{
	unsigned int i;

	if (!d->queues)
		return;
	for (i = 0; i < d->nr_queues; i++) {
		bitmap_free(d->queues[i].outstanding);
		kfree(d->queues[i].replay);
	}
	kfree(d->queues);
	d->queues = NULL;
}

/* Handshake steps 2 and 3 of include/pvio/region.h (ring/handshake.c);
 * step 4 once the rings are attached. Each wait is bounded. */
static int pvblk_connect(struct pvblk_dev *d)
{
	struct device *dev = &d->pdev->dev;
	const char *reason = "ok";
	long left;
	int ret;

	d->hs.hdr = d->hdr;
	d->hs.wanted = PVIO_BLK_F_FLUSH | PVIO_BLK_F_FUA |
		       PVIO_BLK_F_DISCARD | PVIO_BLK_F_WRITE_ZEROES;
	d->hs.required = 0;

	/* The backend rings vector 0 when it lays the region out again. */
	left = wait_event_timeout(d->ctrl_wq,
				  (ret = pvio_hs_front_offer(&d->hs, &reason)) != -EAGAIN,
				  PVBLK_CONNECT_TIMEOUT);
	if (!left || ret) {
		dev_err(dev, "pvblk: backend not waiting for a frontend: %s (state %u)\n",
			reason, pvblk_back_state(d));
		return left ? ret : -ETIMEDOUT;
	}
	d->features = d->hs.features;
	pvio_notify(d->pdev, PVIO_VECTOR_CONTROL);

	left = wait_event_timeout(d->ctrl_wq,
				  (ret = pvio_hs_front_poll(&d->hs, &reason)) != -EAGAIN,
				  PVBLK_CONNECT_TIMEOUT);
	if (!left) {
		dev_err(dev, "pvblk: backend did not answer the connection in %u s (state %u)\n",
			PVBLK_CONNECT_TIMEOUT / HZ, pvblk_back_state(d));
		return -ETIMEDOUT;
	}
	if (ret) {
		dev_err(dev, "pvblk: backend did not connect: %s (state %u)\n",
			reason, pvblk_back_state(d));
		return ret;
	}
	return 0;
}

/* --- backend restart: hold, wait, check, connect again, replay ---------- */

static void pvblk_unquiesce(struct pvblk_dev *d)
{
	if (d->quiesced) {
		blk_mq_unquiesce_queue(d->disk->queue);
		d->quiesced = false;
	}
}

/* Why the connection is gone, into @buf; false if it is not. */
static bool pvblk_gone_reason(struct pvblk_dev *d, char *buf, size_t len)
{
	u32 gen;

	if (pvio_hs_front_backend_alive(&d->hs))
		return false;
	gen = le32_to_cpu(READ_ONCE(d->hdr->back.generation));
	if (gen != d->hs.back_generation)
		snprintf(buf, len, "restarted: generation %u, was %u",
			 gen, d->hs.back_generation);
	else
		snprintf(buf, len, "left CONNECTED: state %u",
			 pvblk_back_state(d));
	return true;
}

/*
 * The backend is gone: stop touching the rings, stop the disk's queue, keep
 * what the backend held. A backend still CONNECTED (it sat on a request)
 * is asked to close: it answers what it took, says CLOSED and, once we say
 * CLOSED too, lays the region out again for us.
 */
static void pvblk_backend_gone(struct pvblk_dev *d, const char *why)
{
	bool alive = pvio_hs_front_backend_alive(&d->hs);
	unsigned int i, n = 0;
	unsigned long flags;

	for (i = 0; i < d->nr_queues; i++) {
		struct pvblk_queue *q = &d->queues[i];

		spin_lock_irqsave(&q->lock, flags);
		if (q->mode == PVBLK_Q_LIVE)
			q->mode = PVBLK_Q_HOLD;
		spin_unlock_irqrestore(&q->lock, flags);
	}
	/* No queue_rq runs once this returns; those that ran since the
	 * queues were held kept their requests. */
	blk_mq_quiesce_queue(d->disk->queue);
	d->quiesced = true;
	for (i = 0; i < d->nr_queues; i++) {
		struct pvblk_queue *q = &d->queues[i];

		spin_lock_irqsave(&q->lock, flags);
		n += bitmap_weight(q->outstanding, d->depth);
		spin_unlock_irqrestore(&q->lock, flags);
	}
	d->link = PVBLK_LINK_HOLD;
	d->offered = false;
	d->gone_at = jiffies;
	dev_warn(&d->pdev->dev, "pvblk%d: backend gone (%s); holding %u requests\n",
		 d->index, why, n);
	if (alive)
		pvblk_set_front_state(d, PVIO_STATE_CLOSING);
}

/* Away too long: fail what is held and whatever comes, keep watching. */
static void pvblk_fail_held(struct pvblk_dev *d)
{
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < d->nr_queues; i++) {
		struct pvblk_queue *q = &d->queues[i];

		spin_lock_irqsave(&q->lock, flags);
		q->mode = PVBLK_Q_FAIL;
		pvblk_fail_outstanding(q);
		spin_unlock_irqrestore(&q->lock, flags);
	}
	d->link = PVBLK_LINK_FAILING;
	pvblk_unquiesce(d);
	dev_warn(&d->pdev->dev, "pvblk%d: backend away for more than %u s; failing IO\n",
		 d->index, READ_ONCE(backend_timeout));
}

/* The queues of @l must be those of the layout the disk was set up with. */
/*
 * Can the disk as set up go on over the checked layout @l? Same queues,
 * rings, data areas and doorbells (the ring ends and slots stay where they
 * are), the same disk (capacity, block sizes, read-only), and limits that
 * still admit every request the disk can send. The features are the
 * offer's to check (pvblk_offer_again()).
 */
static int pvblk_layout_compatible(struct pvblk_dev *d,
				   const struct pvio_region_layout *l,
				   const char **why)
{
	const struct pvio_region_layout *old = &d->pdev->layout;
	const struct pvio_blk_limits *o = &d->lim;
	struct pvio_blk_config raw;
	struct pvio_blk_limits n;

	if (pvio_blk_check_layout(l, why))
		return -EPROTO;
	if (pvio_region_same_geometry(old, l, why))
		return -EPROTO;
	/* A private copy already; copied again for the config's type. */
	memcpy(&raw, l->config, sizeof(raw));
	if (pvio_blk_limits_from_config(&raw, &n, why))
		return -EPROTO;
	if (n.capacity != o->capacity ||
	    n.logical_block_size != o->logical_block_size ||
	    n.physical_block_size != o->physical_block_size ||
	    (n.attrs & PVIO_BLK_ATTR_RO) != (o->attrs & PVIO_BLK_ATTR_RO)) {
		*why = "capacity, block size or read-only changed";
		return -EPROTO;
	}
	if (((u64)n.max_transfer_sectors << 9) < d->slot_size ||
	    n.max_segment_size < d->seg_size ||
	    (u64)min(n.max_segments, PVIO_BLK_INLINE_SEGS) * d->seg_size <
	    d->slot_size ||
	    n.queue_depth < d->depth ||
	    ((d->features & PVIO_BLK_F_DISCARD) &&
	     n.max_discard_sectors < o->max_discard_sectors) ||
	    ((d->features & PVIO_BLK_F_WRITE_ZEROES) &&
	     n.max_write_zeroes_sectors < o->max_write_zeroes_sectors)) {
		*why = "limits shrank below what the disk sends";
		return -EPROTO;
	}
	return 0;
}

/*
 * Look at the region with the one region check. Return: 0 if it holds a
 * backend we may offer to (INITWAIT, a generation other than the one we
 * were connected to, compatible) -- or with @connected, the backend our
 * offer went to, compatible; -EAGAIN if not (yet): not laid out, in the
 * middle of a layout, the old backend, closed; -EPROTO if incompatible
 * (@why says how).
 */
static int pvblk_check_region(struct pvblk_dev *d, bool connected,
			      const char **why)
{
	struct pvio_region_layout *l = &d->seen;
	bool closed;

	if (pvio_region_check(d->pdev->region, d->pdev->region_size, l, why))
		return -EAGAIN;
	if (pvio_hs_front_next_backend(&d->hs, l, connected, d->conn_gen,
				       &closed)) {
		if (closed && d->hs.state != PVIO_STATE_CLOSED)
			pvblk_set_front_state(d, PVIO_STATE_CLOSED);
		return -EAGAIN;
	}
	if (pvblk_layout_compatible(d, l, why))
		return -EPROTO;
	d->checked_gen = l->back_generation;
	return 0;
}

/*
 * Handshake step 2 with a new backend. Our ring ends are taken again on the
 * same offsets, our own lines written back to zero (what we published to
 * the old backend is undone); the offer's release store of
 * front.state = INITIALISED orders those writes before the backend attaches
 * its ends. Only the features negotiated at probe are accepted, and all of
 * them are required. Return: 0 (offered), -EAGAIN, -EOPNOTSUPP.
 */
static int pvblk_offer_again(struct pvblk_dev *d, const char **why)
{
	u8 *base = d->pdev->region;
	unsigned long flags;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < d->nr_queues && !ret; i++) {
		const struct pvio_region_queue *tq = &d->pdev->layout.queues[i];
		struct pvblk_queue *q = &d->queues[i];

		spin_lock_irqsave(&q->lock, flags);
		ret = pvio_prod_reset(&q->req,
				      (struct pvio_ring_shared *)(base + tq->req_ring_off),
				      tq->req_entries, tq->req_entry_size);
		if (!ret)
			ret = pvio_cons_reset(&q->rsp,
					      (struct pvio_ring_shared *)(base + tq->rsp_ring_off),
					      tq->rsp_entries, tq->rsp_entry_size);
		spin_unlock_irqrestore(&q->lock, flags);
	}
	if (ret) {
		/* The backend's lines are not those of a fresh layout:
		 * not ready, or not a layout at all; wait for the next. */
		*why = "backend's ring indices not reset";
		return -EAGAIN;
	}
	ret = pvio_hs_front_offer(&d->hs, why);
	if (ret)
		return ret;
	pvio_notify(d->pdev, PVIO_VECTOR_CONTROL);
	d->offered = true;
	return 0;
}

/* Build every held request of @q again (writes copied into their slots
 * again). Only while no queue is LIVE: nothing else changes the lists then
 * (IO paths touch them only on LIVE queues, removal cancels the watch). */
static void pvblk_rebuild_queue(struct pvblk_queue *q)
{
	struct pvblk_cmd *cmd;
	unsigned int i = 0;

	list_for_each_entry(cmd, &q->held, node)
		cmd->status = pvblk_build(q, blk_mq_rq_from_pdu(cmd),
					  &q->replay[i++]);
}

/* Put @q's rebuilt requests on the ring in first submission order, make
 * it LIVE and ring once. A queue found dead meanwhile has an empty list.
 * Return: requests submitted again. */
static unsigned int pvblk_replay_queue(struct pvblk_queue *q)
{
	struct pvblk_dev *d = q->dev;
	struct pvblk_cmd *cmd, *next;
	unsigned int i = 0, n = 0;
	unsigned long flags;
	bool notify;

	spin_lock_irqsave(&q->lock, flags);
	list_for_each_entry_safe(cmd, next, &q->held, node) {
		struct request *rq = blk_mq_rq_from_pdu(cmd);
		struct pvio_blk_req *req = &q->replay[i++];
		blk_status_t st = cmd->status;

		/* The ring is as empty as the depth is small: put cannot
		 * fail but on a broken ring, and then the request fails. */
		if (st == BLK_STS_OK) {
			if (!pvio_prod_put(&q->req, req, sizeof(*req))) {
				q->requests++;
				n++;
				continue;
			}
			st = BLK_STS_IOERR;
		}
		if (pvblk_take(q, rq->tag))
			pvblk_finish(rq, st, 0);
	}
	q->mode = PVBLK_Q_LIVE;
	notify = pvblk_publish(q);
	spin_unlock_irqrestore(&q->lock, flags);
	if (notify)
		pvio_notify(d->pdev, q->vector);
	return n;
}

/* Step 4 with the new backend, then the replay; the disk runs again. */
static void pvblk_resume(struct pvblk_dev *d)
{
	unsigned int i, n = 0;

	pvblk_set_front_state(d, PVIO_STATE_CONNECTED);
	d->conn_gen = d->hs.back_generation;
	d->offered = false;
	/* Suspicions are raised on LIVE queues only: any left is old. */
	xchg(&d->suspect, NULL);
	for (i = 0; i < d->nr_queues; i++)
		pvblk_rebuild_queue(&d->queues[i]);
	for (i = 0; i < d->nr_queues; i++)
		n += pvblk_replay_queue(&d->queues[i]);
	WRITE_ONCE(d->reconnects, d->reconnects + 1);
	WRITE_ONCE(d->replayed, d->replayed + n);
	dev_info(&d->pdev->dev, "pvblk%d: backend back (generation %u); replayed %u requests after %u ms\n",
		 d->index, d->hs.back_generation, n,
		 jiffies_to_msecs(jiffies - d->gone_at));
	d->link = PVBLK_LINK_UP;
	pvblk_unquiesce(d);
}

static void pvblk_incompatible(struct pvblk_dev *d, const char *why)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "new backend incompatible with the disk (%s)",
		 why);
	pvblk_kill(d, NULL, msg);
	pvblk_unquiesce(d);
}

/* One step of the recovery; the watch calls it until the link is up. */
static void pvblk_recover(struct pvblk_dev *d)
{
	const char *why;
	int ret;

	if (d->offered) {
		ret = pvio_hs_front_poll(&d->hs, &why);
		if (ret == 0 && d->hs.back_generation != d->checked_gen) {
			/* Laid out again between our check and our offer:
			 * check what we are now connected to. */
			ret = pvblk_check_region(d, true, &why);
			if (ret == -EPROTO) {
				pvblk_incompatible(d, why);
				return;
			}
		}
		if (ret == 0) {
			pvblk_resume(d);
			return;
		}
		/* Refused, or laid out again: start over with what is there. */
		if (ret != -EAGAIN)
			d->offered = false;
	}
	if (!d->offered) {
		ret = pvblk_check_region(d, false, &why);
		if (ret == 0)
			ret = pvblk_offer_again(d, &why);
		if (ret == -EPROTO || ret == -EOPNOTSUPP) {
			pvblk_incompatible(d, why);
			return;
		}
	}
	if (d->link == PVBLK_LINK_HOLD &&
	    time_after_eq(jiffies, d->gone_at +
			  (unsigned long)READ_ONCE(backend_timeout) * HZ))
		pvblk_fail_held(d);
}

/*
 * The watch: on every control doorbell (at most once per PVBLK_CTRL_GAP),
 * when IO suspects the backend, when a doorbell's reap budget ran out, and
 * periodically. Connected, it reaps every queue (so a lost doorbell stalls
 * a queue for PVBLK_WATCH_PERIOD at most) and checks that the backend is
 * the one it connected to; otherwise it steps the recovery.
 */
static void pvblk_watch(struct work_struct *work)
{
	struct pvblk_dev *d = container_of(to_delayed_work(work),
					   struct pvblk_dev, watch);
	const char *suspect;
	bool more = false;
	char why[96];

	WRITE_ONCE(d->watch_ran, jiffies);
	if (atomic_read(&d->dead)) {
		/* Nothing more to connect: what the queue holds fails. */
		pvblk_unquiesce(d);
		return;
	}
	if (d->link == PVBLK_LINK_UP) {
		more = pvblk_reap_all(d);
		suspect = xchg(&d->suspect, NULL);
		if (suspect)
			strscpy(why, suspect, sizeof(why));
		else if (!pvblk_gone_reason(d, why, sizeof(why)))
			goto rearm;
		pvblk_backend_gone(d, why);
	}
	pvblk_recover(d);
	if (atomic_read(&d->dead))
		return;
rearm:
	if (more)
		pvblk_kick(d, PVBLK_CTRL_GAP);
	else
		pvblk_kick(d, d->link == PVBLK_LINK_UP ? PVBLK_WATCH_PERIOD :
			   PVBLK_RECOVER_PERIOD);
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
static struct gendisk *pvblk_alloc_disk(struct pvblk_dev *d)
{
	struct queue_limits lim = {
		.logical_block_size = d->lim.logical_block_size,
		.physical_block_size = d->lim.physical_block_size,
		.max_hw_sectors = d->slot_size >> 9,
		.max_segments = USHRT_MAX,
		.max_segment_size = d->slot_size,
	};

	if (d->features & PVIO_BLK_F_DISCARD) {
		lim.max_hw_discard_sectors = d->lim.max_discard_sectors;
		lim.discard_granularity = d->lim.discard_granularity ?: d->lim.logical_block_size;
	}
	if (d->features & PVIO_BLK_F_WRITE_ZEROES)
		lim.max_write_zeroes_sectors = d->lim.max_write_zeroes_sectors;
	if ((d->lim.attrs & PVIO_BLK_ATTR_WCACHE) &&
	    (d->features & PVIO_BLK_F_FLUSH)) {
		lim.features |= BLK_FEAT_WRITE_CACHE;
		if (d->features & PVIO_BLK_F_FUA)
			lim.features |= BLK_FEAT_FUA;
	}
	return blk_mq_alloc_disk(&d->tag_set, &lim, d);
}
#else
static struct gendisk *pvblk_alloc_disk(struct pvblk_dev *d)
{
	struct gendisk *disk = blk_mq_alloc_disk(&d->tag_set, d);
	struct request_queue *q;
	bool wc;

	if (IS_ERR(disk))
		return disk;
	q = disk->queue;
	blk_queue_logical_block_size(q, d->lim.logical_block_size);
	blk_queue_physical_block_size(q, d->lim.physical_block_size);
	blk_queue_max_hw_sectors(q, d->slot_size >> 9);
	blk_queue_max_segments(q, USHRT_MAX);
	blk_queue_max_segment_size(q, d->slot_size);
	if (d->features & PVIO_BLK_F_DISCARD) {
		blk_queue_max_discard_sectors(q, d->lim.max_discard_sectors);
		q->limits.discard_granularity =
			d->lim.discard_granularity ?: d->lim.logical_block_size;
	}
	if (d->features & PVIO_BLK_F_WRITE_ZEROES)
		blk_queue_max_write_zeroes_sectors(q,
				d->lim.max_write_zeroes_sectors);
	wc = (d->lim.attrs & PVIO_BLK_ATTR_WCACHE) &&
	     (d->features & PVIO_BLK_F_FLUSH);
	blk_queue_write_cache(q, wc, wc && (d->features & PVIO_BLK_F_FUA));
	return disk;
}
#endif

/* No watch after this: cancelled, and neither a doorbell nor IO queues it
 * again. A recovery in progress ends here: what is held fails, and the
 * queue runs again so that new IO fails too. */
static void pvblk_stop_watch(struct pvblk_dev *d)
{
	spin_lock_irq(&d->kick_lock);
	d->watching = false;
	spin_unlock_irq(&d->kick_lock);
	cancel_delayed_work_sync(&d->watch);
	if (d->link != PVBLK_LINK_UP)
		pvblk_kill(d, NULL, "removed while the backend is away");
	pvblk_unquiesce(d);
}

static int pvblk_add_disk(struct pvblk_dev *d)
{
	struct blk_mq_tag_set *set = &d->tag_set;
	struct gendisk *disk;
	int ret;

	set->ops = &pvblk_mq_ops;
	set->nr_hw_queues = d->nr_queues;
	set->queue_depth = d->depth;
	set->numa_node = NUMA_NO_NODE;
	set->cmd_size = sizeof(struct pvblk_cmd);
	set->flags = BLK_MQ_F_SHOULD_MERGE;
	set->timeout = max(READ_ONCE(io_timeout), 1u) * HZ;
	set->driver_data = d;
	ret = blk_mq_alloc_tag_set(set);
	if (ret)
		return ret;

	disk = pvblk_alloc_disk(d);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto free_tag_set;
	}
	disk->major = pvblk_major;
	disk->first_minor = d->index * PVBLK_MINORS;
	disk->minors = PVBLK_MINORS;
	disk->fops = &pvblk_fops;
	disk->private_data = d;
	snprintf(disk->disk_name, DISK_NAME_LEN, "pvblk%d", d->index);
	set_capacity(disk, d->lim.capacity);
	if (d->lim.attrs & PVIO_BLK_ATTR_RO)
		set_disk_ro(disk, true);
	d->disk = disk;

	/*
	 * The watch runs before the disk is added: device_add_disk() reads
	 * the partition table, and a backend that connected and then sits on
	 * those reads is found gone by it (io_timeout), held, and failed after
	 * backend_timeout, so probe returns.
	 */
	spin_lock_irq(&d->kick_lock);
	d->watching = true;
	spin_unlock_irq(&d->kick_lock);
	pvblk_kick(d, PVBLK_WATCH_PERIOD);
	ret = device_add_disk(&d->pdev->dev, disk, pvblk_attr_groups);
	if (ret)
		goto stop_watch;
	return 0;

stop_watch:
	pvblk_stop_watch(d);
	put_disk(disk);
	d->disk = NULL;
free_tag_set:
	blk_mq_free_tag_set(set);
	return ret;
}

static int pvblk_bind_queues(struct pvblk_dev *d)
{
	unsigned int i;
	int ret;

	for (i = 0; i < d->nr_queues; i++) {
		ret = pvio_bind(d->pdev, d->queues[i].vector,
				pvblk_queue_irq, &d->queues[i]);
		if (ret)
			goto unbind;
	}
	return 0;
unbind:
	while (i--)
		pvio_unbind(d->pdev, d->queues[i].vector);
	return ret;
}

static void pvblk_unbind_queues(struct pvblk_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_queues; i++)
		pvio_unbind(d->pdev, d->queues[i].vector);
}

static int pvblk_probe(struct pvio_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct pvblk_dev *d;
	int ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->pdev = pdev;
	d->hdr = pdev->region;
	init_waitqueue_head(&d->ctrl_wq);
	atomic_set(&d->dead, 0);
	INIT_DELAYED_WORK(&d->remove_watchdog, pvblk_remove_watchdog);
	INIT_DELAYED_WORK(&d->watch, pvblk_watch);
	INIT_WORK(&d->kill_work, pvblk_kill_work);
	atomic_long_set(&d->answered, 0);
	d->watch_ran = jiffies;
	spin_lock_init(&d->kick_lock);
	d->link = PVBLK_LINK_UP;

	ret = ida_alloc_range(&pvblk_index_ida, 0, (1 << MINORBITS) / PVBLK_MINORS - 1,
			      GFP_KERNEL);
	if (ret < 0)
		goto free_dev;
	d->index = ret;

	ret = pvblk_read_config(d);
	if (ret)
		goto free_index;
	ret = pvblk_size_queues(d);
	if (ret) {
		dev_err(dev, "pvblk: queue layout does not fit the block protocol\n");
		goto free_index;
	}
	ret = pvio_bind(pdev, PVIO_VECTOR_CONTROL, pvblk_ctrl_irq, d);
	if (ret)
		goto free_index;
	ret = pvblk_connect(d);
	if (ret)
		goto close;
	/* A backend we connect to again must offer what we negotiated now;
	 * we accept nothing more (the disk was set up for these). */
	d->hs.wanted = d->features;
	d->hs.required = d->features;
	d->conn_gen = d->hs.back_generation;
	ret = pvblk_init_queues(d);
	if (ret) {
		dev_err(dev, "pvblk: cannot attach the rings (%d)\n", ret);
		goto free_queues;
	}
	ret = pvblk_bind_queues(d);
	if (ret)
		goto free_queues;
	pvblk_set_front_state(d, PVIO_STATE_CONNECTED);
	ret = pvblk_add_disk(d);
	if (ret)
		goto unbind_queues;
	dev_set_drvdata(dev, d);
	dev_info(dev, "pvblk%d: %llu sectors of %u bytes, %u queue(s) of %u, %s%s\n",
		 d->index, d->lim.capacity, d->lim.logical_block_size,
		 d->nr_queues, d->depth,
		 (d->lim.attrs & PVIO_BLK_ATTR_RO) ? "read-only" : "read-write",
		 (d->lim.attrs & PVIO_BLK_ATTR_WCACHE) ? ", write cache" : "");
	return 0;

unbind_queues:
	pvblk_unbind_queues(d);
	/* Killed from a queue's IRQ before the unbind: the work touches the
	 * queues. */
	cancel_work_sync(&d->kill_work);
free_queues:
	pvblk_free_queues(d);
close:
	/* Only once we said INITIALISED (or more) is there anything to
	 * close; a backend that never saw us keeps waiting for a frontend. */
	if (d->hs.state != PVIO_STATE_UNKNOWN)
		pvblk_set_front_state(d, PVIO_STATE_CLOSED);
	pvio_unbind(pdev, PVIO_VECTOR_CONTROL);
free_index:
	ida_free(&pvblk_index_ida, d->index);
free_dev:
	kfree(d);
	return ret;
}

static void pvblk_remove(struct pvio_device *pdev)
{
	struct pvblk_dev *d = dev_get_drvdata(&pdev->dev);

	if (!d)
		return;
	pvblk_stop_watch(d);

	/* In-flight IO still completes through the backend while
	 * del_gendisk() drains the queue (new IO fails); the watchdog bounds
	 * the wait. Only then is the connection closed. */
	d->drain_seen = atomic_long_read(&d->answered);
	schedule_delayed_work(&d->remove_watchdog,
			      msecs_to_jiffies(PVBLK_DRAIN_TIMEOUT_MS));
	del_gendisk(d->disk);
	/* The watchdog re-arms itself: this cancels it for good. */
	cancel_delayed_work_sync(&d->remove_watchdog);
	pvblk_set_front_state(d, PVIO_STATE_CLOSING);
	pvblk_unbind_queues(d);
	/* No IRQ queues the kill work any more; let a queued one finish. */
	cancel_work_sync(&d->kill_work);
	put_disk(d->disk);
	blk_mq_free_tag_set(&d->tag_set);
	pvblk_free_queues(d);
	pvblk_set_front_state(d, PVIO_STATE_CLOSED);
	pvio_unbind(pdev, PVIO_VECTOR_CONTROL);
	dev_set_drvdata(&pdev->dev, NULL);
	ida_free(&pvblk_index_ida, d->index);
	kfree(d);
}

/*
 * Probing waits for the backend (up to twice PVBLK_CONNECT_TIMEOUT): done
 * asynchronously, each device under its own device lock, so a silent
 * backend holds up its own device only.
 */
static struct pvio_driver pvblk_driver = {
	.dev_class = PVIO_CLASS_BLK,
	.role = PVIO_ROLE_FRONTEND,
	.probe = pvblk_probe,
	.remove = pvblk_remove,
	.driver = {
		.name = "pvblk",
		.probe_type = PROBE_PREFER_ASYNCHRONOUS,
	},
};

static int __init pvblk_init(void)
{
	int ret;

	pvblk_major = register_blkdev(0, "pvblk");
	if (pvblk_major < 0)
		return pvblk_major;
	ret = pvio_register_driver(&pvblk_driver);
	if (ret)
		unregister_blkdev(pvblk_major, "pvblk");
	return ret;
}

static void __exit pvblk_exit(void)
{
	pvio_unregister_driver(&pvblk_driver);
	unregister_blkdev(pvblk_major, "pvblk");
	ida_destroy(&pvblk_index_ida);
}

module_init(pvblk_init);
module_exit(pvblk_exit);
MODULE_DESCRIPTION("pvio block frontend");
MODULE_AUTHOR("pvio");
MODULE_LICENSE("Dual MIT/GPL");
/* Matches the pvio bus's uevent: class 1 (blk), role 0 (frontend). */
MODULE_ALIAS("pvio:c1r0");
