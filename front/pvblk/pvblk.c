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
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/idr.h>
#include <linux/module.h>
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

#define PVBLK_MINORS 16
/* How long probe waits for the backend to answer the handshake. */
#define PVBLK_CONNECT_TIMEOUT (10 * HZ)
/* How long removal lets in-flight requests finish before failing them. */
#define PVBLK_DRAIN_TIMEOUT_MS 5000
/* Largest request slot: bounds the bounce copy per request. */
#define PVBLK_MAX_SLOT (512u * 1024)

static int pvblk_major;
static DEFINE_IDA(pvblk_index_ida);

struct pvblk_dev;

/* One pvio queue: its two ring ends, its data area, its doorbell. */
struct pvblk_queue {
	spinlock_t lock; /* ring ends and the outstanding bitmap */
	struct pvio_prod req;
	struct pvio_cons rsp;
	u8 *data;             /* this queue's data area in the region */
	u32 vector;           /* doorbell vector, both directions */
	unsigned int index;
	unsigned long *outstanding; /* tags whose request the backend holds */
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
	struct pvblk_queue *queues;
	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;
	int index;
	wait_queue_head_t ctrl_wq;
	atomic_t dead;       /* protocol broken or backend gone: fail all IO */
	struct delayed_work remove_watchdog; /* bounds removal's drain */
};

/* Per-request private data (tag_set.cmd_size). */
struct pvblk_cmd {
	blk_status_t status;
	u32 len; /* bytes the backend says it transferred */
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

/* Fail every request the backend still holds on @q. Caller holds q->lock. */
static void pvblk_fail_outstanding(struct pvblk_queue *q)
{
	struct pvblk_dev *d = q->dev;
	unsigned int tag;

	for_each_set_bit(tag, q->outstanding, d->depth) {
		struct request *rq;

		if (!test_and_clear_bit(tag, q->outstanding))
			continue;
		rq = blk_mq_tag_to_rq(d->tag_set.tags[q->index], tag);
		if (rq)
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

/*
 * The device is unusable: say why once, then fail what the backend holds
 * and everything that comes later. @locked is the queue whose lock the
 * caller holds, if any.
 */
static void pvblk_kill(struct pvblk_dev *d, struct pvblk_queue *locked,
		       const char *why)
{
	unsigned int i;

	if (atomic_xchg(&d->dead, 1))
		return;
	dev_err(&d->pdev->dev, "pvblk%d: %s; failing all IO\n",
		d->index, why);
	for (i = 0; i < d->nr_queues; i++) {
		if (&d->queues[i] == locked)
			pvblk_fail_outstanding(locked);
		else
			pvblk_fail_queue(&d->queues[i]);
	}
}

static bool pvblk_idle(struct pvblk_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_queues; i++)
		if (!bitmap_empty(d->queues[i].outstanding, d->depth))
			return false;
	return true;
}

/* Removal waits for the backend to finish what it holds, but not forever:
 * a backend that does not answer in time gets its requests failed. */
static void pvblk_remove_watchdog(struct work_struct *work)
{
	struct pvblk_dev *d = container_of(to_delayed_work(work),
					   struct pvblk_dev, remove_watchdog);

	if (!pvblk_idle(d))
		pvblk_kill(d, NULL, "backend did not finish in-flight IO on removal");
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
 * Take every response off @q's ring. Each is copied out once and checked:
 * its id must name a request the backend holds, and pvio_blk_rsp_check()
 * must accept the rest (status known, reserved fields zero, length within
 * a slot). Caller holds q->lock.
 * Returns false if the backend broke the protocol (the device is then dead).
 */
static bool pvblk_reap(struct pvblk_queue *q)
{
	struct pvblk_dev *d = q->dev;
	struct pvio_blk_rsp rsp;
	struct pvio_blk_vrsp v;
	const char *reason;
	int avail, bad;

	do {
		avail = pvio_cons_avail(&q->rsp);
		if (avail < 0) {
			pvblk_kill(d, q, "backend corrupted the response ring");
			return false;
		}
		while (avail-- > 0) {
			struct request *rq;

			if (pvio_cons_get(&q->rsp, &rsp, sizeof(rsp)))
				break;
			/* v.id is set even for a response refused. */
			bad = pvio_blk_rsp_check(&rsp, d->slot_size, &v, &reason);
			if (v.id >= d->depth ||
			    !test_and_clear_bit(v.id, q->outstanding)) {
				pvblk_kill(d, q, "backend answered a request it does not hold");
				return false;
			}
			rq = blk_mq_tag_to_rq(d->tag_set.tags[q->index], v.id);
			if (!rq) {
				pvblk_kill(d, q, "response for an unknown tag");
				return false;
			}
			if (bad) {
				dev_err(&d->pdev->dev, "pvblk%d: response %u refused: %s\n",
					d->index, v.id, reason);
				pvblk_finish(rq, BLK_STS_IOERR, 0);
				pvblk_kill(d, q, "backend sent a malformed response");
				return false;
			}
			pvblk_finish(rq, pvblk_status(v.status), v.len);
		}
		pvio_cons_release(&q->rsp);
		/* Ask for the next doorbell, then look again: a response
		 * published before the event index was visible is caught
		 * here rather than lost. */
		avail = pvio_cons_arm(&q->rsp, 0);
	} while (avail > 0);
	if (avail < 0) {
		pvblk_kill(d, q, "backend corrupted the response ring");
		return false;
	}
	return true;
}

static void pvblk_queue_irq(struct pvio_device *pdev, unsigned int vector,
			    void *data)
{
	struct pvblk_queue *q = data;
	unsigned long flags;

	if (atomic_read(&q->dev->dead))
		return;
	spin_lock_irqsave(&q->lock, flags);
	q->interrupts++;
	pvblk_reap(q);
	spin_unlock_irqrestore(&q->lock, flags);
}

static void pvblk_ctrl_irq(struct pvio_device *pdev, unsigned int vector,
			   void *data)
{
	struct pvblk_dev *d = data;

	wake_up(&d->ctrl_wq);
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
		req->nr_segs = cpu_to_le16(1);
		req->seg[0].offset = cpu_to_le32(rq->tag * d->slot_size);
		req->seg[0].len = cpu_to_le32(bytes);
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
	bool notify = false;
	int ret;

	if (atomic_read(&d->dead))
		return BLK_STS_IOERR;
	status = pvblk_build(q, rq, &req);
	if (status != BLK_STS_OK)
		return status;
	blk_mq_start_request(rq);

	spin_lock_irqsave(&q->lock, flags);
	ret = pvio_prod_put(&q->req, &req, sizeof(req));
	if (ret == 0) {
		set_bit(rq->tag, q->outstanding);
		q->requests++;
		if (bd->last)
			notify = pvblk_publish(q);
	} else if (ret == -ENOSPC) {
		/* Cannot happen while depth <= ring size; if it does, publish
		 * what is queued so the ring drains, and retry later. */
		notify = pvblk_publish(q);
	}
	spin_unlock_irqrestore(&q->lock, flags);

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
	notify = pvblk_publish(q);
	spin_unlock_irqrestore(&q->lock, flags);
	if (notify)
		pvio_notify(q->dev->pdev, q->vector);
}

static enum blk_eh_timer_return pvblk_timeout(struct request *rq)
{
	struct pvblk_queue *q = rq->mq_hctx->driver_data;
	unsigned long flags;
	bool mine;

	/* A slow backend (a restart in progress) is waited for; a dead one
	 * is not. */
	if (!atomic_read(&q->dev->dead))
		return BLK_EH_RESET_TIMER;
	spin_lock_irqsave(&q->lock, flags);
	mine = test_and_clear_bit(rq->tag, q->outstanding);
	spin_unlock_irqrestore(&q->lock, flags);
	if (mine)
		pvblk_finish(rq, BLK_STS_IOERR, 0);
	return BLK_EH_DONE;
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
 * rung to the backend, interrupts doorbells received from it. */
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

/* Size the tags: every tag needs a ring slot each way and a data slot. */
static int pvblk_size_queues(struct pvblk_dev *d)
{
	const struct pvio_region_queue *tq;
	u32 slot = min_t(u64, (u64)d->lim.max_transfer_sectors << 9,
			 PVBLK_MAX_SLOT);
	u64 depth = d->lim.queue_depth;
	unsigned int i;

	slot = rounddown(slot, max_t(u32, d->lim.logical_block_size, PAGE_SIZE));
	if (!slot)
		return -EPROTO;
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
		q->dev = d;
		q->index = i;
		q->vector = tq->vector;
		q->data = base + tq->data_off;
		q->outstanding = bitmap_zalloc(d->depth, GFP_KERNEL);
		if (!q->outstanding)
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
	for (i = 0; i < d->nr_queues; i++)
		bitmap_free(d->queues[i].outstanding);
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

	ret = device_add_disk(&d->pdev->dev, disk, pvblk_attr_groups);
	if (ret)
		goto put_disk;
	return 0;

put_disk:
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
	/* In-flight IO still completes through the backend while
	 * del_gendisk() drains the queue (new IO fails); the watchdog bounds
	 * the wait. Only then is the connection closed. */
	schedule_delayed_work(&d->remove_watchdog,
			      msecs_to_jiffies(PVBLK_DRAIN_TIMEOUT_MS));
	del_gendisk(d->disk);
	cancel_delayed_work_sync(&d->remove_watchdog);
	pvblk_set_front_state(d, PVIO_STATE_CLOSING);
	pvblk_unbind_queues(d);
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
