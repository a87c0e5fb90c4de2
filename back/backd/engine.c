// SPDX-License-Identifier: MIT
/*
 * pvio-backd IO engine; see engine.h.
 *
 * One thread and one io_uring per queue. The thread copies each request out
 * of the request ring once, validates the copy (pvio_blk_req_validate) and
 * turns it into io_uring operations on the backing store: READ_FIXED /
 * WRITE_FIXED against the queue's data area, registered as a fixed buffer,
 * one SQE per segment; fsync for FLUSH; fallocate for DISCARD and
 * WRITE_ZEROES. A request is answered once every piece of it completed;
 * short transfers are continued, an unexpected end of file fails it.
 *
 * Idle, the thread sleeps in io_uring_enter on a poll of the eventfd the
 * frontend rings for this queue, after arming the request ring's event
 * index, so nothing spins for long unless --poll asked for it: before
 * sleeping it looks for work for a window that adapts to how soon work
 * came before (eq_poll(); --idle-poll-us and --io-poll-max-us).
 *
 * On an NBD export (store_nbd.c) each queue drives its own libnbd handle
 * instead: a segment, FLUSH, DISCARD or WRITE_ZEROES is one asynchronous
 * NBD command; the handle's socket is polled by this same io_uring (one
 * one-shot poll per direction libnbd waits for, EQ_UD_NBD_IN / _OUT),
 * readiness goes to libnbd, and the commands it completes come back
 * through eq_cqe() like io_uring completions, in eq_reap().
 *
 * A taken request keeps a response slot reserved until it is answered: the
 * thread takes a request only while the response ring has room for every
 * request in flight plus that one, so answers never overflow the ring
 * whatever the frontend does with its indices.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "engine.h"
#include "pvio_ids.h"
#include "pvio_poll.h"
#include "pvio_ring.h"
#include "store_nbd.h"
#include "uring_setup.h"

#define EQ_UD_DOORBELL (~0ull)
#define EQ_UD_NBD_IN (~0ull - 1)
#define EQ_UD_NBD_OUT (~0ull - 2)
/*
 * A frontend that rings with nothing queued, again and again, would keep
 * this thread waking and idle-polling a CPU away (a notification flood).
 * After EQ_DB_FLOOD such wake-ups in a row the queue stops listening to
 * its doorbell and looks at its ring every EQ_DB_FLOOD_LOOK_NS instead,
 * until a look finds work: a flood then costs a thousand cheap wake-ups a
 * second, and a request sent meanwhile waits at most that long.
 */
#define EQ_DB_FLOOD 32u
#define EQ_DB_FLOOD_LOOK_NS 1000000
#define EQ_SEG_NONE 0xffu

/* One request taken off the ring and not yet answered. */
struct eq_req {
	struct pvio_blk_vreq v;
	struct pvio_blk_vseg segs[BACKD_MAX_SEGS];
	uint64_t seg_foff[BACKD_MAX_SEGS]; /* store offset of each segment */
	uint32_t seg_done[BACKD_MAX_SEGS]; /* bytes of it transferred */
	unsigned int pending;              /* operations submitted, not completed */
	unsigned int status;
	uint32_t len;
};

struct eq {
	struct backd_engine *e;
	unsigned int idx;
	struct backd_engine_queue c;
	struct pvio_cons req;
	struct pvio_prod rsp;
	struct io_uring ring;
	bool ring_ok;
	bool ring_deferred;      /* created disabled, single issuer, deferred task work */
	int file;                /* registered index, or the fd itself */
	unsigned char sqe_flags; /* IOSQE_FIXED_FILE when registered */
	bool fixed_buf;
	struct eq_req *reqs;
	uint32_t *free_slots;
	unsigned int nfree;
	unsigned int inflight;
	struct pvio_ids ids;     /* ids in flight */
	bool poll_armed;
	uint64_t poll_ns;        /* idle-poll window now (pvio_poll_next()) */
	uint64_t io_poll_ns;     /* in-flight poll window now, likewise */
	bool rsp_blocked;
	bool db_woke;            /* a doorbell woke us since the last take */
	unsigned int db_empty;   /* doorbell wake-ups in a row that found no work */
	bool dead;
	bool started;
	struct backd_nbd_conn *nbd; /* the queue's NBD connection, or NULL */
	bool nbd_in_armed;       /* a poll for POLLIN on its socket is queued */
	bool nbd_out_armed;      /* likewise POLLOUT */
	pthread_t thread;
};

struct backd_engine {
	struct backd_engine_cfg cfg;
	int stop;   /* set by backd_engine_stop() */
	int broken; /* the frontend broke the protocol on some queue */
	void *zeroes;
	struct eq q[];
};

static void eq_break(struct eq *q, const char *why)
{
	q->dead = true;
	/* Relaxed: the other queues only need to stop taking requests soon;
	 * nothing they read depends on this store. */
	__atomic_store_n(&q->e->broken, 1, __ATOMIC_RELAXED);
	q->e->cfg.broken(q->e->cfg.opaque, why);
}

static unsigned int eq_errno_status(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return PVIO_BLK_S_NOSPC;
	case EOPNOTSUPP:
		return PVIO_BLK_S_UNSUPP;
	default:
		return PVIO_BLK_S_IOERR;
	}
}

static struct io_uring_sqe *eq_sqe(struct eq *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	int tries;

	for (tries = 0; !sqe && tries < 100; tries++) {
		if (io_uring_submit(&q->ring) < 0)
			sched_yield();
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

static void eq_answer(struct eq *q, uint32_t id, unsigned int status,
		      uint32_t len)
{
	struct pvio_blk_rsp rsp;
	int ret;

	memset(&rsp, 0, sizeof(rsp));
	rsp.id = pvio_cpu_to_le32(id);
	rsp.status = pvio_cpu_to_le16((uint16_t)status);
	rsp.len = pvio_cpu_to_le32(len);
	if (status != PVIO_BLK_S_OK)
		backd_stat_add(&q->c.stats->errors, 1);
	ret = pvio_prod_put(&q->rsp, &rsp, sizeof(rsp));
	if (ret && !q->dead)
		eq_break(q, ret == -ENOSPC ? "response ring full" :
			 "response ring consumer index out of range");
}

static void eq_finish(struct eq *q, uint32_t slot)
{
	struct eq_req *r = &q->reqs[slot];

	if (r->status == PVIO_BLK_S_OK) {
		if (r->v.op == PVIO_BLK_OP_READ)
			backd_stat_add(&q->c.stats->bytes_read, r->len);
		else if (r->v.op == PVIO_BLK_OP_WRITE)
			backd_stat_add(&q->c.stats->bytes_written, r->len);
	}
	eq_answer(q, r->v.id, r->status, r->status == PVIO_BLK_S_OK ? r->len : 0);
	pvio_ids_del(&q->ids, r->v.id);
	q->free_slots[q->nfree++] = slot;
	q->inflight--;
}

/*
 * One NBD command for a segment (@s) or a whole request (EQ_SEG_NONE); it
 * completes through eq_reap() like an SQE. A refused command (the
 * connection is gone) fails the request as an SQE that cannot be had does.
 */
static bool eq_nbd_submit(struct eq *q, uint32_t slot, unsigned int op,
			  void *buf, uint32_t len, uint64_t off,
			  unsigned int flags, unsigned int s)
{
	struct eq_req *r = &q->reqs[slot];

	if (backd_nbd_submit(q->nbd, op, buf, len, off, flags,
			     ((uint64_t)slot << 8) | s))
		return false;
	r->pending++;
	return true;
}

static bool eq_submit_seg(struct eq *q, uint32_t slot, unsigned int s)
{
	struct eq_req *r = &q->reqs[slot];
	uint32_t done = r->seg_done[s];
	uint32_t len = r->segs[s].len - done;
	uint64_t off = r->seg_foff[s] + done;
	void *buf = (unsigned char *)q->c.data + r->segs[s].offset + done;
	struct io_uring_sqe *sqe;

	if (q->nbd)
		return eq_nbd_submit(q, slot, r->v.op, buf, len, off,
				     r->v.flags, s);
	sqe = eq_sqe(q);
	if (!sqe)
		return false;
	if (r->v.op == PVIO_BLK_OP_READ) {
		if (q->fixed_buf)
			io_uring_prep_read_fixed(sqe, q->file, buf, len, off, 0);
		else
			io_uring_prep_read(sqe, q->file, buf, len, off);
	} else {
		if (q->fixed_buf)
			io_uring_prep_write_fixed(sqe, q->file, buf, len, off, 0);
		else
			io_uring_prep_write(sqe, q->file, buf, len, off);
		/* FUA: the write is durable before it completes. */
		if (r->v.flags & PVIO_BLK_REQ_F_FUA)
			sqe->rw_flags = RWF_DSYNC;
	}
	sqe->flags |= q->sqe_flags;
	sqe->user_data = ((uint64_t)slot << 8) | s;
	r->pending++;
	return true;
}

static bool eq_submit_other(struct eq *q, uint32_t slot)
{
	struct eq_req *r = &q->reqs[slot];
	uint64_t off = r->v.sector * PVIO_BLK_SECTOR_SIZE;
	uint64_t len = (uint64_t)r->v.nr_sectors * PVIO_BLK_SECTOR_SIZE;
	struct io_uring_sqe *sqe;

	if (q->nbd)
		return eq_nbd_submit(q, slot, r->v.op, NULL, (uint32_t)len, off,
				     r->v.flags, EQ_SEG_NONE);
	sqe = eq_sqe(q);
	if (!sqe)
		return false;
	switch (r->v.op) {
	case PVIO_BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, q->file, IORING_FSYNC_DATASYNC);
		break;
	case PVIO_BLK_OP_DISCARD:
		io_uring_prep_fallocate(sqe, q->file,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)off, (off_t)len);
		break;
	default: /* WRITE_ZEROES */
		io_uring_prep_fallocate(sqe, q->file,
					FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					(off_t)off, (off_t)len);
		break;
	}
	sqe->flags |= q->sqe_flags;
	sqe->user_data = ((uint64_t)slot << 8) | EQ_SEG_NONE;
	r->pending++;
	return true;
}

/* WRITE_ZEROES where the store cannot zero a range: write the zeroes. */
static int eq_write_zeroes(struct eq *q, const struct eq_req *r)
{
	uint64_t off = r->v.sector * PVIO_BLK_SECTOR_SIZE;
	uint64_t left = (uint64_t)r->v.nr_sectors * PVIO_BLK_SECTOR_SIZE;

	while (left) {
		size_t n = left < BACKD_SEG_BYTES ? (size_t)left : BACKD_SEG_BYTES;
		ssize_t w = pwrite(q->e->cfg.store->fd, q->e->zeroes, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		left -= (uint64_t)w;
	}
	return 0;
}

static int eq_blk_discard(struct eq *q, const struct eq_req *r)
{
	uint64_t range[2] = {
		r->v.sector * PVIO_BLK_SECTOR_SIZE,
		(uint64_t)r->v.nr_sectors * PVIO_BLK_SECTOR_SIZE,
	};

	return ioctl(q->e->cfg.store->fd, BLKDISCARD, range) < 0 ? -errno : 0;
}

static void eq_handle(struct eq *q, const struct pvio_blk_req *wire)
{
	struct backd_engine *e = q->e;
	struct pvio_blk_vseg segs[BACKD_MAX_SEGS];
	struct pvio_blk_vreq v;
	const char *why;
	unsigned int status, s;
	struct eq_req *r;
	uint32_t slot;
	uint64_t foff;
	char msg[96];

	backd_stat_add(&q->c.stats->requests, 1);
	status = pvio_blk_req_validate(wire, &e->cfg.lim, e->cfg.features,
				       q->c.data, q->c.data_size, &v, segs,
				       BACKD_MAX_SEGS, &why);
	if (status != PVIO_BLK_S_OK) {
		backd_log_peer(e->cfg.rl, e->cfg.name,
			       "queue %u: request id %u op %u refused, status %u: %s",
			       q->idx, v.id, v.op, status, why);
		eq_answer(q, v.id, status, 0);
		return;
	}
	slot = q->free_slots[q->nfree - 1];
	if (pvio_ids_add(&q->ids, v.id, (int32_t)slot)) {
		snprintf(msg, sizeof(msg), "queue %u: request id %u is already in flight",
			 q->idx, v.id);
		eq_break(q, msg);
		return;
	}
	q->nfree--;
	r = &q->reqs[slot];
	r->v = v;
	memcpy(r->segs, segs, sizeof(segs[0]) * v.nr_segs);
	r->v.segs = r->segs;
	r->pending = 0;
	r->status = PVIO_BLK_S_OK;
	r->len = 0;
	q->inflight++;

	switch (v.op) {
	case PVIO_BLK_OP_READ:
	case PVIO_BLK_OP_WRITE:
		foff = v.sector * PVIO_BLK_SECTOR_SIZE;
		for (s = 0; s < v.nr_segs; s++) {
			r->seg_foff[s] = foff;
			r->seg_done[s] = 0;
			foff += r->segs[s].len;
			r->len += r->segs[s].len;
		}
		for (s = 0; s < v.nr_segs; s++) {
			if (!eq_submit_seg(q, slot, s)) {
				r->status = PVIO_BLK_S_IOERR;
				break;
			}
		}
		break;
	case PVIO_BLK_OP_DISCARD:
		if (e->cfg.store->is_blk) {
			int ret = eq_blk_discard(q, r);

			if (ret)
				r->status = eq_errno_status(-ret);
			break;
		}
		/* fall through */
	case PVIO_BLK_OP_FLUSH:
	case PVIO_BLK_OP_WRITE_ZEROES:
		if (!eq_submit_other(q, slot))
			r->status = PVIO_BLK_S_IOERR;
		break;
	case PVIO_BLK_OP_GET_ID:
		/* The validator checked the segment lies in the data area and
		 * holds at least PVIO_BLK_ID_BYTES. */
		memcpy((unsigned char *)q->c.data + r->segs[0].offset,
		       e->cfg.store->id, PVIO_BLK_ID_BYTES);
		r->len = PVIO_BLK_ID_BYTES;
		break;
	}
	if (r->pending == 0)
		eq_finish(q, slot);
}

/* Take requests while the response ring can hold every answer owed. */
static unsigned int eq_take(struct eq *q)
{
	struct pvio_blk_req wire;
	const char *why;
	unsigned int n = 0;
	int ret;

	while (!q->dead && !__atomic_load_n(&q->e->broken, __ATOMIC_RELAXED)) {
		ret = pvio_ring_take(&q->req, &q->rsp, q->inflight, &wire,
				     sizeof(wire), &why);
		if (ret == -ENOSPC)
			q->rsp_blocked = true;
		else if (ret < 0)
			eq_break(q, why);
		if (ret <= 0)
			break;
		n++;
		eq_handle(q, &wire);
	}
	pvio_cons_release(&q->req);
	return n;
}

static void eq_cqe(struct eq *q, uint64_t ud, int res)
{
	struct eq_req *r;
	unsigned int s;
	uint32_t slot;
	uint64_t cnt;

	if (ud == EQ_UD_DOORBELL) {
		q->poll_armed = false;
		q->db_woke = true;
		if (read(q->c.doorbell_fd, &cnt, sizeof(cnt)) == sizeof(cnt))
			backd_stat_add(&q->c.stats->doorbells_in, 1);
		return;
	}
	if (ud == EQ_UD_NBD_IN || ud == EQ_UD_NBD_OUT) {
		if (ud == EQ_UD_NBD_IN)
			q->nbd_in_armed = false;
		else
			q->nbd_out_armed = false;
		/* The poll's result is its revents, or an errno. */
		if (res > 0)
			backd_nbd_notify(q->nbd, (unsigned int)res);
		return;
	}
	slot = (uint32_t)(ud >> 8);
	s = (unsigned int)(ud & 0xff);
	r = &q->reqs[slot];
	r->pending--;
	if (s == EQ_SEG_NONE) {
		if ((res == -EOPNOTSUPP || res == -EINVAL) && !q->nbd &&
		    r->v.op == PVIO_BLK_OP_WRITE_ZEROES)
			res = eq_write_zeroes(q, r);
		if (res < 0)
			r->status = eq_errno_status(-res);
	} else if (res < 0) {
		r->status = eq_errno_status(-res);
	} else if (res == 0) {
		/* End of file inside the device: the store shrank. */
		r->status = PVIO_BLK_S_IOERR;
	} else {
		r->seg_done[s] += (uint32_t)res;
		if (r->seg_done[s] < r->segs[s].len && r->status == PVIO_BLK_S_OK &&
		    !eq_submit_seg(q, slot, s))
			r->status = PVIO_BLK_S_IOERR;
	}
	if (r->pending == 0)
		eq_finish(q, slot);
}

static void eq_nbd_done(void *opaque, uint64_t ud, int res)
{
	eq_cqe(opaque, ud, res);
}

static void eq_nbd_poll(struct eq *q, unsigned int ev, uint64_t ud)
{
	struct io_uring_sqe *sqe = eq_sqe(q);

	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, backd_nbd_fd(q->nbd), ev);
	sqe->user_data = ud;
	if (ud == EQ_UD_NBD_IN)
		q->nbd_in_armed = true;
	else
		q->nbd_out_armed = true;
}

/*
 * Poll the NBD socket for what libnbd waits for now: issuing a command may
 * have given it something to send, a reply read may have finished. A poll
 * armed for a direction libnbd no longer waits for fires harmlessly
 * (backd_nbd_notify() checks) and is not armed again until it is wanted.
 */
static void eq_nbd_arm(struct eq *q)
{
	unsigned int ev;
	bool queued = false;

	if (!q->nbd || backd_nbd_fd(q->nbd) < 0)
		return;
	ev = backd_nbd_events(q->nbd);
	if ((ev & POLLIN) && !q->nbd_in_armed) {
		eq_nbd_poll(q, POLLIN, EQ_UD_NBD_IN);
		queued = true;
	}
	if ((ev & POLLOUT) && !q->nbd_out_armed) {
		eq_nbd_poll(q, POLLOUT, EQ_UD_NBD_OUT);
		queued = true;
	}
	/* Now, so that an in-flight poll (eq_poll()) can see it fire. */
	if (queued)
		io_uring_submit(&q->ring);
}

static unsigned int eq_reap(struct eq *q)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;

	while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		uint64_t ud = cqe->user_data;
		int res = cqe->res;

		io_uring_cqe_seen(&q->ring, cqe);
		eq_cqe(q, ud, res);
		n++;
	}
	if (q->nbd) {
		n += backd_nbd_reap(q->nbd, eq_nbd_done, q);
		eq_nbd_arm(q);
	}
	return n;
}

static void eq_publish(struct eq *q)
{
	if (pvio_prod_publish(&q->rsp)) {
		q->e->cfg.notify(q->e->cfg.opaque, q->c.vector);
		backd_stat_add(&q->c.stats->doorbells_out, 1);
	}
}

static void eq_arm_doorbell(struct eq *q)
{
	struct io_uring_sqe *sqe;

	if (q->poll_armed)
		return;
	sqe = eq_sqe(q);
	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, q->c.doorbell_fd, POLLIN);
	sqe->user_data = EQ_UD_DOORBELL;
	q->poll_armed = true;
}

/* A completion is ready to reap, or waits as deferred task work that the
 * next io_uring_enter() with GETEVENTS (any submit or peek) will post. */
static bool eq_cqe_due(struct eq *q)
{
	return io_uring_cq_ready(&q->ring) != 0 ||
	       (IO_URING_READ_ONCE(*q->ring.sq.kflags) & IORING_SQ_TASKRUN);
}

/*
 * Look for work for up to @window_ns before paying for a sleep and the
 * wake-up that ends it (a doorbell: a VM exit in the guest; a completion:
 * a wake-up from the io-wq worker that did the IO).
 * With nothing in flight the ring just ran empty: a frontend that is the
 * slower side submits again within a few tens of microseconds, so most of
 * its requests then need no doorbell at all; the look spins.
 * With IO in flight completions count too, and the look yields the CPU
 * between tries: on a machine with few CPUs the thread that would complete
 * the IO, or the frontend, may be waiting for this one.
 * Return: true if something arrived (or the ring broke: the caller's next
 * take reports it), false once the time is up.
 */
static bool eq_poll(struct eq *q, uint64_t window_ns)
{
	bool io = q->inflight > 0;
	uint64_t end;

	if (!window_ns)
		return false;
	end = pvio_now_ns() + window_ns;
	do {
		for (int i = 0; i < (io ? 1 : 64); i++) {
			if (pvio_cons_avail(&q->req) != 0 ||
			    (io && eq_cqe_due(q)))
				return true;
			if (io)
				sched_yield();
			else
				pvio_cpu_relax();
		}
	} while (pvio_now_ns() < end);
	return false;
}

/* Sleep until a completion, a doorbell or the ring's next event, and adapt
 * the poll @window to how long that took (pvio_poll_next()). */
static void eq_sleep(struct eq *q, uint64_t *window, unsigned int min_us,
		     unsigned int max_us)
{
	uint64_t t0 = pvio_now_ns();

	io_uring_submit_and_wait(&q->ring, 1);
	*window = pvio_poll_next(*window, (uint64_t)min_us * 1000u,
				 (uint64_t)max_us * 1000u, pvio_now_ns() - t0);
}

static void *eq_thread(void *arg)
{
	struct eq *q = arg;
	struct backd_engine *e = q->e;
	struct __kernel_timespec ts = { .tv_nsec = 1000000 };
	struct io_uring_cqe *cqe;
	int err = q->ring_deferred ? pvio_uring_enable(&q->ring) : 0;

	if (err) {
		backd_log("%s: queue %u: cannot enable its io_uring: %s",
			  e->cfg.name, q->idx, strerror(-err));
		q->dead = true;
		return NULL;
	}
	for (;;) {
		/* Acquire: pairs with the release in backd_engine_stop(). */
		bool stopping = __atomic_load_n(&e->stop, __ATOMIC_ACQUIRE);
		bool idle = stopping || q->dead ||
			    __atomic_load_n(&e->broken, __ATOMIC_RELAXED);
		unsigned int took = 0, reaped;
		int ret;

		if (!idle)
			took = eq_take(q);
		if (took) {
			q->db_empty = 0;
		} else if (q->db_woke && q->db_empty < EQ_DB_FLOOD &&
			   ++q->db_empty == EQ_DB_FLOOD) {
			backd_log_peer(e->cfg.rl, e->cfg.name,
				       "queue %u: %u doorbells in a row with nothing queued; looking at the ring every %d us instead until it has work",
				       q->idx, EQ_DB_FLOOD, EQ_DB_FLOOD_LOOK_NS / 1000);
		}
		q->db_woke = false;
		eq_nbd_arm(q);
		io_uring_submit(&q->ring);
		reaped = eq_reap(q);
		eq_publish(q);
		if (stopping && q->inflight == 0)
			break;
		if (took || reaped)
			continue;
		if (!idle && !q->rsp_blocked && q->inflight == 0 &&
		    q->db_empty >= EQ_DB_FLOOD) {
			struct __kernel_timespec look = {
				.tv_nsec = EQ_DB_FLOOD_LOOK_NS,
			};

			/* Flooded: no idle poll, no doorbell, a timed look. */
			io_uring_submit_and_wait_timeout(&q->ring, &cqe, 1, &look, NULL);
			continue;
		}
		if (e->cfg.poll && !idle && !q->rsp_blocked) {
			pvio_cpu_relax();
			continue;
		}
		if (!idle && !q->rsp_blocked && q->inflight == 0 &&
		    eq_poll(q, q->poll_ns))
			continue;
		if (!idle && !q->rsp_blocked && q->inflight > 0) {
			/* IO in flight will wake us with a completion, and
			 * every wake-up looks at the request ring: leave the
			 * event index unarmed so the frontend need not ring
			 * while we are busy anyway. */
			if (eq_poll(q, q->io_poll_ns))
				continue;
			backd_stat_add(&q->c.stats->io_sleeps, 1);
			eq_sleep(q, &q->io_poll_ns, 0, e->cfg.io_poll_max_us);
			continue;
		}
		if (!idle && !q->rsp_blocked) {
			ret = pvio_cons_arm(&q->req, 0);
			if (ret > 0)
				continue;
			if (ret < 0) {
				eq_break(q, "request ring producer index out of range");
				continue;
			}
		}
		if (!stopping)
			eq_arm_doorbell(q);
		if (q->rsp_blocked) {
			/* The frontend owes us response-ring space; it need
			 * not ring for that, so look again shortly. */
			io_uring_submit_and_wait_timeout(&q->ring, &cqe, 1, &ts, NULL);
			q->rsp_blocked = false;
		} else if (!idle && q->inflight == 0) {
			/* A frontend that pauses briefly between batches
			 * gets a longer idle poll next time. */
			eq_sleep(q, &q->poll_ns, e->cfg.idle_poll_us,
				 e->cfg.idle_poll_max_us);
		} else {
			io_uring_submit_and_wait(&q->ring, 1);
		}
	}
	return NULL;
}

static void eq_teardown(struct eq *q)
{
	if (q->ring_ok)
		io_uring_queue_exit(&q->ring);
	free(q->reqs);
	free(q->free_slots);
	free(q->ids.key);
	free(q->ids.slot);
}

static int eq_setup(struct backd_engine *e, unsigned int i)
{
	struct eq *q = &e->q[i];
	struct iovec iov;
	uint32_t n, k, sq;
	int ret, fd = e->cfg.store->fd;

	q->e = e;
	q->idx = i;
	q->c = e->cfg.q[i];
	n = q->c.entries;
	ret = pvio_cons_attach(&q->req, q->c.req, n, sizeof(struct pvio_blk_req));
	if (!ret)
		ret = pvio_prod_attach(&q->rsp, q->c.rsp, n, sizeof(struct pvio_blk_rsp));
	if (ret) {
		backd_log_peer(e->cfg.rl, e->cfg.name,
			       "queue %u: the frontend left the ring indices inconsistent",
			       i);
		return ret;
	}
	q->reqs = calloc(n, sizeof(*q->reqs));
	q->free_slots = calloc(n, sizeof(*q->free_slots));
	q->ids.key = calloc(2 * n, sizeof(*q->ids.key));
	q->ids.slot = calloc(2 * n, sizeof(*q->ids.slot));
	if (!q->reqs || !q->free_slots || !q->ids.key || !q->ids.slot)
		return -ENOMEM;
	for (k = 0; k < n; k++)
		q->free_slots[k] = n - 1 - k;
	q->nfree = n;
	pvio_ids_init(&q->ids, q->ids.key, q->ids.slot, n);

	sq = n < 8 ? 16 : (n > 2048 ? 4096 : 2 * n);
	/* Room for a completion per segment of every request in flight, so
	 * the CQ never overflows (the kernel clamps very deep queues). The
	 * ring starts disabled so that the queue's thread, not this one,
	 * becomes its single issuer. */
	ret = pvio_uring_init(&q->ring, sq, BACKD_MAX_SEGS * n + 16, true,
			      &q->ring_deferred);
	if (ret) {
		backd_log("%s: queue %u: io_uring setup: %s", e->cfg.name, i,
			  strerror(-ret));
		return ret;
	}
	q->ring_ok = true;
	if (e->cfg.store->nbd) {
		/* libnbd moves the data; the ring only polls its socket. */
		q->nbd = backd_nbd_conn(e->cfg.store, i, n, BACKD_MAX_SEGS);
		return q->nbd ? 0 : -ENOMEM;
	}
	if (io_uring_register_files(&q->ring, &fd, 1) == 0) {
		q->file = 0;
		q->sqe_flags = IOSQE_FIXED_FILE;
	} else {
		q->file = fd;
	}
	iov.iov_base = q->c.data;
	iov.iov_len = q->c.data_size;
	ret = io_uring_register_buffers(&q->ring, &iov, 1);
	q->fixed_buf = ret == 0;
	if (ret && i == 0)
		backd_log("%s: registering the data area with io_uring failed (%s); using plain reads and writes",
			  e->cfg.name, strerror(-ret));
	return 0;
}

/**
 * backd_engine_start() - start serving a connected device's queues.
 * @cfg: queues, store, limits, features and callbacks; copied
 * @out: the engine
 *
 * Attaches to the rings where their indices stand, so an engine started
 * on rings a previous engine served continues where that one stopped.
 *
 * Context: process; the server half's thread.
 * Return: 0 or a negative errno (inconsistent ring indices: -EPROTO).
 */
int backd_engine_start(const struct backd_engine_cfg *cfg,
		       struct backd_engine **out)
{
	struct backd_engine *e;
	unsigned int i;
	int ret;

	e = calloc(1, sizeof(*e) + cfg->nr_queues * sizeof(struct eq));
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	if (posix_memalign(&e->zeroes, 4096, BACKD_SEG_BYTES)) {
		free(e);
		return -ENOMEM;
	}
	memset(e->zeroes, 0, BACKD_SEG_BYTES);
	for (i = 0; i < cfg->nr_queues; i++)
		e->q[i].poll_ns = (uint64_t)cfg->idle_poll_us * 1000u;
	for (i = 0; i < cfg->nr_queues; i++) {
		ret = eq_setup(e, i);
		if (ret)
			goto err_teardown;
	}
	for (i = 0; i < cfg->nr_queues; i++) {
		ret = -pthread_create(&e->q[i].thread, NULL, eq_thread, &e->q[i]);
		if (ret)
			goto err_stop;
		e->q[i].started = true;
	}
	*out = e;
	return 0;

err_stop:
	backd_engine_stop(e);
	return ret;
err_teardown:
	for (i = 0; i < cfg->nr_queues; i++)
		eq_teardown(&e->q[i]);
	free(e->zeroes);
	free(e);
	return ret;
}

/**
 * backd_engine_stop() - stop taking requests, finish those taken, free.
 * @e: engine, may be NULL
 *
 * Every request taken is answered (the answers reach the rings even if no
 * frontend is left to read them); requests still in the ring are left
 * there.
 *
 * Context: process; not from a queue thread.
 */
void backd_engine_stop(struct backd_engine *e)
{
	const uint64_t one = 1;
	unsigned int i;
	uint64_t cnt;

	if (!e)
		return;
	/* Release: pairs with the acquire in eq_thread(). */
	__atomic_store_n(&e->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < e->cfg.nr_queues; i++)
		if (e->q[i].started &&
		    write(e->q[i].c.doorbell_fd, &one, sizeof(one)) < 0)
			backd_log("%s: queue %u: waking the IO thread: %s",
				  e->cfg.name, i, strerror(errno));
	for (i = 0; i < e->cfg.nr_queues; i++) {
		if (!e->q[i].started)
			continue;
		pthread_join(e->q[i].thread, NULL);
		/* Our own wake-up must not count as the next frontend's
		 * doorbell; the eventfd is non-blocking. */
		if (read(e->q[i].c.doorbell_fd, &cnt, sizeof(cnt)) < 0)
			cnt = 0;
	}
	for (i = 0; i < e->cfg.nr_queues; i++)
		eq_teardown(&e->q[i]);
	free(e->zeroes);
	free(e);
}
