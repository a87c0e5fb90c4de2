// SPDX-License-Identifier: MIT
/*
 * pvio userspace block frontend; see pvio_front.h and include/pvio/region.h.
 */
#include "pvio_front.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "blk_proto.h"
#include "handshake.h"
#include "ivshmem_client.h"
#include "pvio_poll.h"
#include "pvio_ring.h"
#include "region.h"

#define FRONT_DEFAULT_TIMEOUT_MS 5000
/* How often a handshake wait re-reads the backend's state even without a
 * doorbell: a backend may legitimately change state without ringing (a
 * frontend attached while it was laying out). */
#define FRONT_POLL_MS 10
/* Bytes of a data area a 32-bit segment offset can reach. */
#define FQ_WIRE_SPAN (1ull << 32)
#define FRONT_DEFAULT_RECONNECT_MS 60000
#define FRONT_DEFAULT_IO_TIMEOUT_MS 30000
/* A sleeping pvio_front_wait() looks at the backend's state this often. */
#define FRONT_CHECK_MS 50
/* An empty reap looks at it every this many calls. */
#define FRONT_CHECK_REAPS 256u
/* A ring index that went backwards is a restart only if the header says
 * so within this long (the backend zeroes the header before the rings). */
#define FRONT_GRACE_MS 20

/*
 * Connection state: one atomic word, epoch << 2 | FC_*. Every transition
 * bumps the epoch, so a queue that saw a value knows whether anything
 * happened since; see front_recover().
 */
enum { FC_UP = 0, FC_AWAY = 1, FC_DOWN = 2 };
#define FC_STATE(c) ((c) & 3u)
#define FC_NEXT(c, st) ((((c) >> 2) + 1) << 2 | (st))

enum fq_tag_state { FQ_FREE, FQ_HELD, FQ_INFLIGHT };

struct fq_tag {
	uint8_t state;     /* enum fq_tag_state */
	uint16_t op;
	uint32_t len;      /* bytes the request asked for */
	bool dead;         /* to be completed with -ENOTCONN */
	void *ubuf;        /* copy mode: caller memory, else NULL */
	uint64_t user_data;
	uint64_t order;    /* submission order, for a replay */
	struct pvio_blk_req w; /* the request as first put, for a replay */
};

struct pvio_front_queue {
	struct pvio_front *f;
	unsigned int index;
	unsigned int vector;
	int efd;                /* our doorbell for this queue */
	struct pvio_prod req;
	struct pvio_cons rsp;
	unsigned char *data;    /* the queue's data area */
	uint64_t data_size;
	uint32_t slot_size;     /* bytes of data buffer per tag */
	uint64_t tbl_base;      /* offset of tag 0's indirect table */
	uint32_t tbl_bytes;     /* bytes of indirect table per tag */
	unsigned int depth;
	unsigned int inflight;
	struct fq_tag *tags;
	int *replay;            /* scratch for fq_replay(): depth tags */
	int *free_tags;         /* stack of free tags */
	unsigned int nr_free;
	bool failed_reported;   /* outstanding requests reported after a break */
	int busy;               /* atomic: 1 while the owner is in a call */
	uint32_t conn;          /* the connection word the rings are in sync with */
	uint32_t downs_seen;    /* f->downs when last synced */
	unsigned int nr_dead;   /* tags to complete with -ENOTCONN */
	uint64_t next_order;
	unsigned int empty_reaps;
	uint64_t chk_completed; /* st.completed at chk_ms */
	long long chk_ms;       /* 0: no baseline for the IO timeout yet */
	uint64_t spin_ns;       /* pvio_front_wait polls this long before sleeping */
	uint64_t spin_min_ns;   /* ... adapting between these two */
	uint64_t spin_max_ns;
	struct pvio_front_stats st;
};

struct pvio_front {
	struct pvio_ivshmem_client *cli;
	unsigned char *mem;
	uint64_t mem_size;
	struct pvio_region_hdr *hdr;
	struct pvio_region_layout info; /* the checked header: the only one used */
	struct pvio_blk_limits lim;
	struct pvio_hs_front hs;
	uint64_t features;
	uint32_t max_seg_bytes;
	uint32_t max_transfer;
	int timeout_ms;
	bool quiet;
	int broken;             /* atomic: 0 or 1, set once */
	char errmsg[160];       /* written by whoever set broken */
	unsigned int nq;
	struct pvio_front_queue *queues;
	/* Recovery (front_recover()): the mutex is taken by the one thread
	 * that recovers; queues only read @conn. */
	pthread_mutex_t lock;
	bool lock_init;
	uint32_t conn;          /* atomic: epoch << 2 | FC_* */
	uint32_t downs;         /* atomic: transitions to FC_DOWN */
	uint32_t back_gen;      /* atomic: generation connected to */
	uint64_t reconnects;    /* atomic */
	uint64_t replayed;      /* atomic, all queues */
	long long away_since;   /* under @lock */
	long long last_probe;   /* atomic: last look for a backend while down */
	int reconnect_ms;
	int io_timeout_ms;
	bool closing;
};

__attribute__((format(printf, 2, 3)))
static void front_log(const struct pvio_front *f, const char *fmt, ...)
{
	va_list ap;

	if (f && f->quiet)
		return;
	va_start(ap, fmt);
	fputs("pvio-front: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Mark the connection broken; the first caller's reason is kept. */
__attribute__((format(printf, 2, 3)))
static int front_break(struct pvio_front *f, const char *fmt, ...)
{
	int expected = 0;
	va_list ap;

	/* The message is written by the one thread that wins the exchange,
	 * before other threads can see broken == 2 (release below). */
	if (__atomic_compare_exchange_n(&f->broken, &expected, 1, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		va_start(ap, fmt);
		vsnprintf(f->errmsg, sizeof(f->errmsg), fmt, ap);
		va_end(ap);
		front_log(f, "connection broken: %s", f->errmsg);
		__atomic_store_n(&f->broken, 2, __ATOMIC_RELEASE);
	}
	return -EPROTO;
}

static bool front_is_broken(const struct pvio_front *f)
{
	/* Relaxed: a queue that sees the flag only stops using its rings,
	 * which needs no other data; the message is read with acquire in
	 * pvio_front_error(). A queue that misses a flag set a moment ago
	 * still finds its own rings intact (the break came from another
	 * queue's rings) and sees the flag on its next call. */
	return __atomic_load_n(&f->broken, __ATOMIC_RELAXED) != 0;
}

static long long front_now_ms(void)
{
	return (long long)(pvio_now_ns() / 1000000u);
}

static void front_cli_log(void *opaque, int level, const char *msg)
{
	const bool *quiet = opaque;

	if (level <= LOG_ERR && !*quiet)
		fprintf(stderr, "pvio-front: %s\n", msg);
}

static void front_cli_log_silent(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

/* Read and count a pending doorbell on @fd; true if there was one. */
static bool front_efd_drain(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

static uint32_t front_back_state(const struct pvio_front *f)
{
	/* Acquire: pairs with the backend's release of its state; what it
	 * wrote before (ring attach, CLOSED after the last answer) is seen. */
	return pvio_le32_to_cpu(pvio_load_acquire(&f->hdr->back.state));
}

/* Sleep on the control doorbell for at most @ms, also watching the server
 * socket so that a backend that leaves is noticed. */
static int front_ctl_sleep(struct pvio_front *f, int ms)
{
	struct pollfd pfd[2] = {
		{ .fd = pvio_ivshmem_client_vector_fd(f->cli, PVIO_VECTOR_CONTROL),
		  .events = POLLIN },
		{ .fd = pvio_ivshmem_client_fd(f->cli), .events = POLLIN },
	};
	int ret;

	if (poll(pfd, 2, ms) < 0 && errno != EINTR)
		return -errno;
	if (pfd[0].revents & POLLIN)
		front_efd_drain(pfd[0].fd);
	if (pfd[1].revents) {
		ret = pvio_ivshmem_client_handle(f->cli);
		if (ret)
			return ret;
		if (!pvio_ivshmem_client_peer_vectors(f->cli, PVIO_BACKEND_PEER))
			return -ECONNRESET;
	}
	return 0;
}

static int front_ring_control(struct pvio_front *f)
{
	return pvio_ivshmem_client_notify(f->cli, PVIO_BACKEND_PEER,
					  PVIO_VECTOR_CONTROL);
}

/* Connect with @vectors; the server must have exactly that many. */
static int front_try_connect(struct pvio_front *f, const char *path,
			     unsigned int vectors, bool silent)
{
	struct pvio_ivshmem_client_opts co = {
		.socket_path = path,
		.vectors = vectors,
		.timeout_ms = f->timeout_ms,
		.log = silent ? front_cli_log_silent : front_cli_log,
		.opaque = &f->quiet,
	};

	return pvio_ivshmem_client_connect(&co, &f->cli);
}

/*
 * QEMU's device is told its vector count; we may not know the backend's
 * queue count. A client expecting fewer vectors than the server has fails
 * at once with -EPROTO (too many eventfds), so counting up from one queue
 * finds the match without ever waiting for missing eventfds.
 */
static int front_discover(struct pvio_front *f, const char *path)
{
	unsigned int nq;
	int ret = -EPROTO, busy = 0;

	for (nq = 1; nq <= PVIO_MAX_QUEUES; nq++) {
		ret = front_try_connect(f, path, nq + 1, true);
		/* The server may not yet have seen our previous attempt go:
		 * with a one-client limit it turns us away meanwhile. */
		while (ret == -ECONNREFUSED && busy++ < 200) {
			usleep(5000);
			ret = front_try_connect(f, path, nq + 1, true);
		}
		if (ret != -EPROTO)
			break;
	}
	if (ret)
		front_log(f, "cannot attach to %s: %s", path, strerror(-ret));
	else
		f->nq = nq;
	return ret;
}

/* Validate the region, waiting for the backend to publish INITWAIT. */
static int front_validate(struct pvio_front *f, long long deadline)
{
	const char *why = "ok";
	int ret;

	for (;;) {
		ret = pvio_region_check(f->mem, f->mem_size, &f->info, &why);
		if (!ret)
			ret = pvio_blk_check_layout(&f->info, &why);
		if (!ret && f->info.back_state == PVIO_STATE_INITWAIT)
			return 0;
		if (ret && ret != -EAGAIN) {
			front_log(f, "region refused: %s", why);
			return ret;
		}
		if (front_now_ms() >= deadline) {
			front_log(f, "backend not ready (state %u)",
				  f->info.back_state);
			return -ETIMEDOUT;
		}
		ret = front_ctl_sleep(f, FRONT_POLL_MS);
		if (ret)
			return ret;
	}
}

static int front_setup_queue(struct pvio_front *f, unsigned int i,
			     unsigned int want_depth)
{
	const struct pvio_region_queue *d = &f->info.queues[i];
	struct pvio_front_queue *q = &f->queues[i];
	uint32_t lbs = f->lim.logical_block_size;
	uint32_t cfg_depth = f->lim.queue_depth;
	uint64_t per_tag;
	unsigned int t;
	int ret;

	q->f = f;
	q->index = i;
	q->vector = d->vector;
	q->data = f->mem + d->data_off;
	/* Segment offsets on the wire are 32 bits: a larger data area is
	 * used only up to 4 GiB, so that every offset the library writes
	 * names the byte it means. */
	q->data_size = d->data_size < FQ_WIRE_SPAN ? d->data_size : FQ_WIRE_SPAN;
	pvio_front_set_poll(q, PVIO_FRONT_POLL_MIN_US, PVIO_FRONT_POLL_MAX_US);
	q->efd = pvio_ivshmem_client_vector_fd(f->cli, d->vector);
	if (q->efd < 0) {
		front_log(f, "queue %u: vector %u has no eventfd", i, d->vector);
		return -EPROTO;
	}
	/* Every tag can be in flight at once on either ring. */
	q->depth = d->req_entries < d->rsp_entries ? d->req_entries : d->rsp_entries;
	if (cfg_depth && cfg_depth < q->depth)
		q->depth = cfg_depth;
	if (want_depth && want_depth < q->depth)
		q->depth = want_depth;
	/* A table never holds more entries than the largest request can use
	 * (whatever max_segments the backend offers), and the tables of all
	 * tags must fit in the data area with room to spare for buffers. */
	q->tbl_bytes = 0;
	if (f->features & PVIO_BLK_F_INDIRECT) {
		uint64_t segs = ((uint64_t)f->max_transfer + f->max_seg_bytes - 1) /
				f->max_seg_bytes;

		if (segs > f->lim.max_segments)
			segs = f->lim.max_segments;
		if (segs > PVIO_BLK_INLINE_SEGS &&
		    segs * sizeof(struct pvio_blk_seg) * q->depth < q->data_size)
			q->tbl_bytes = (uint32_t)(segs * sizeof(struct pvio_blk_seg));
	}
	/* Tables at the end of the data area, buffers from its start. */
	q->tbl_base = q->data_size - (uint64_t)q->tbl_bytes * q->depth;
	per_tag = q->tbl_base / q->depth;
	per_tag -= per_tag % (lbs > 4096 ? lbs : 4096);
	if (per_tag > f->max_transfer)
		per_tag = f->max_transfer;
	if (per_tag < lbs) {
		front_log(f, "queue %u: data area too small for %u tags", i, q->depth);
		return -EPROTO;
	}
	q->slot_size = (uint32_t)per_tag;

	q->tags = calloc(q->depth, sizeof(*q->tags));
	q->free_tags = calloc(q->depth, sizeof(*q->free_tags));
	q->replay = calloc(q->depth, sizeof(*q->replay));
	if (!q->tags || !q->free_tags || !q->replay)
		return -ENOMEM;
	for (t = 0; t < q->depth; t++)
		q->free_tags[t] = (int)(q->depth - 1 - t);
	q->nr_free = q->depth;

	ret = pvio_prod_attach(&q->req, (struct pvio_ring_shared *)
			       (f->mem + d->req_ring_off), d->req_entries,
			       d->req_entry_size);
	if (!ret)
		ret = pvio_cons_attach(&q->rsp, (struct pvio_ring_shared *)
				       (f->mem + d->rsp_ring_off), d->rsp_entries,
				       d->rsp_entry_size);
	if (ret) {
		front_log(f, "queue %u: ring indices inconsistent", i);
		return ret;
	}
	return 0;
}

static void front_free(struct pvio_front *f)
{
	unsigned int i;

	if (f->queues) {
		for (i = 0; i < f->nq; i++) {
			free(f->queues[i].tags);
			free(f->queues[i].replay);
			free(f->queues[i].free_tags);
		}
		free(f->queues);
	}
	if (f->lock_init)
		pthread_mutex_destroy(&f->lock);
	pvio_ivshmem_client_close(f->cli);
	free(f);
}

/* Step 2 of the handshake in include/pvio/region.h, and the wait for
 * step 3 (pvio_hs_front_*); step 4 follows once the queues are attached.
 * -ESTALE: the backend laid the region out again meanwhile (a new
 * generation, INITWAIT): the caller starts over. */
static int front_negotiate(struct pvio_front *f,
			   const struct pvio_front_opts *o, long long deadline)
{
	const char *why;
	int ret;

	f->hs.hdr = f->hdr;
	f->hs.wanted = o->features_wanted;
	f->hs.required = o->features_required;
	ret = pvio_hs_front_offer(&f->hs, &why);
	if (ret == -EOPNOTSUPP) {
		front_log(f, "backend lacks required features %#llx",
			  (unsigned long long)(o->features_required &
					       ~f->info.back_features));
		return ret;
	}
	if (ret) {
		front_log(f, "backend left INITWAIT before the offer: %s", why);
		return -EPROTO;
	}
	f->features = f->hs.features;
	if (f->hs.back_generation != f->info.back_generation ||
	    (f->features & ~f->info.back_features))
		return -ESTALE; /* laid out again under us: start over */
	ret = front_ring_control(f);
	if (ret)
		return ret;

	for (;;) {
		ret = pvio_hs_front_poll(&f->hs, &why);
		if (!ret)
			break;
		if (ret == -ECONNREFUSED) {
			front_log(f, "backend refused the connection (features %#llx)",
				  (unsigned long long)f->features);
			return ret;
		}
		if (ret != -EAGAIN && front_back_state(f) == PVIO_STATE_INITWAIT &&
		    pvio_le32_to_cpu(PVIO_READ_ONCE(f->hdr->back.generation)) !=
			    f->hs.back_generation)
			return -ESTALE; /* a new layout for the next frontend */
		if (ret != -EAGAIN) {
			front_log(f, "backend broke the handshake: %s (state %u)",
				  why, front_back_state(f));
			return -EPROTO;
		}
		if (front_now_ms() >= deadline) {
			front_log(f, "backend did not connect in %d ms", f->timeout_ms);
			return -ETIMEDOUT;
		}
		ret = front_ctl_sleep(f, FRONT_POLL_MS);
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * pvio_front_connect() - attach to a block backend and connect.
 * @opts: socket, queue count, features, depth, timeout
 * @out: the connection
 *
 * Connects as an ivshmem peer, checks the region (magic and ABI revision
 * first, then the whole layout), negotiates features and waits for the
 * backend to be CONNECTED, then attaches every queue.
 *
 * Context: process; sleeps up to opts->timeout_ms.
 * Return: 0; -ENODEV (bad magic), -EPROTONOSUPPORT (other ABI revision),
 * -EPROTO (malformed region or protocol), -EOPNOTSUPP (required features
 * not offered), -ECONNREFUSED (backend refused: CLOSED), -ETIMEDOUT,
 * -ENOENT/-ECONNREFUSED from the socket, -ENOMEM, -EINVAL.
 */
int pvio_front_connect(const struct pvio_front_opts *opts,
		       struct pvio_front **out)
{
	struct pvio_front *f;
	long long deadline;
	uint64_t mt;
	unsigned int i;
	int ret;

	*out = NULL;
	if (!opts || !opts->socket_path || opts->num_queues > PVIO_MAX_QUEUES ||
	    (opts->features_wanted & ~PVIO_BLK_F_ALL))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->quiet = opts->quiet;
	f->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms
					     : FRONT_DEFAULT_TIMEOUT_MS;
	deadline = front_now_ms() + f->timeout_ms;
	f->reconnect_ms = opts->reconnect_ms > 0 ? opts->reconnect_ms
						 : FRONT_DEFAULT_RECONNECT_MS;
	f->io_timeout_ms = opts->io_timeout_ms ? opts->io_timeout_ms
					       : FRONT_DEFAULT_IO_TIMEOUT_MS;
	if (pthread_mutex_init(&f->lock, NULL)) {
		free(f);
		return -ENOMEM;
	}
	f->lock_init = true;

	if (opts->num_queues) {
		f->nq = opts->num_queues;
		ret = front_try_connect(f, opts->socket_path, f->nq + 1, false);
		if (ret == -EPROTO)
			front_log(f, "the backend does not serve %u queue(s)", f->nq);
	} else {
		ret = front_discover(f, opts->socket_path);
	}
	if (ret)
		goto err_free;
	f->mem = pvio_ivshmem_client_mem(f->cli);
	f->mem_size = pvio_ivshmem_client_mem_size(f->cli);
	f->hdr = (struct pvio_region_hdr *)f->mem;

	/* A backend that lays the region out again while we connect (the
	 * previous frontend's close, say) sends us back here, within the
	 * same deadline. */
again:
	ret = front_validate(f, deadline);
	if (ret)
		goto err_free;
	if (f->info.num_queues != f->nq) {
		front_log(f, "region has %u queues, the server %u vectors",
			  f->info.num_queues, f->nq + 1);
		ret = -EPROTO;
		goto err_free;
	}
	{
		struct pvio_blk_config cfg;
		const char *why;

		memcpy(&cfg, f->info.config, sizeof(cfg));
		if (pvio_blk_limits_from_config(&cfg, &f->lim, &why)) {
			front_log(f, "block config refused: %s", why);
			ret = -EPROTO;
			goto err_free;
		}
	}
	f->max_seg_bytes = f->lim.max_segment_size;
	if (opts->max_seg_bytes && opts->max_seg_bytes < f->max_seg_bytes)
		f->max_seg_bytes = opts->max_seg_bytes;
	f->max_seg_bytes -= f->max_seg_bytes % f->lim.logical_block_size;
	if (f->max_seg_bytes == 0) {
		ret = -EINVAL;
		goto err_free;
	}
	mt = (uint64_t)f->lim.max_transfer_sectors * PVIO_BLK_SECTOR_SIZE;
	if (mt > (1u << 30))
		mt = 1u << 30;
	f->max_transfer = (uint32_t)(mt - mt % f->lim.logical_block_size);

	ret = front_negotiate(f, opts, deadline);
	if (ret == -ESTALE && front_now_ms() < deadline)
		goto again;
	if (ret == -ESTALE) {
		front_log(f, "backend kept laying the region out again during the handshake");
		ret = -EPROTO;
	}
	if (ret)
		goto err_free;
	/* Segments per request the library may build, once INDIRECT is known. */
	if (!(f->features & PVIO_BLK_F_INDIRECT) ||
	    f->lim.max_segments <= PVIO_BLK_INLINE_SEGS) {
		uint64_t lim = (uint64_t)f->max_seg_bytes *
			(f->lim.max_segments < PVIO_BLK_INLINE_SEGS ?
			 f->lim.max_segments : PVIO_BLK_INLINE_SEGS);

		if (lim < f->max_transfer)
			f->max_transfer = (uint32_t)lim;
	} else if ((uint64_t)f->max_seg_bytes * f->lim.max_segments < f->max_transfer) {
		f->max_transfer = f->max_seg_bytes * f->lim.max_segments;
	}

	f->queues = calloc(f->nq, sizeof(*f->queues));
	if (!f->queues) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (i = 0; i < f->nq; i++) {
		ret = front_setup_queue(f, i, opts->queue_depth);
		if (ret)
			goto err_free;
	}
	/* Step 4 (a release store): our ring attach (private) is complete;
	 * the backend only needs the state for bookkeeping. */
	pvio_hs_front_set_state(&f->hs, PVIO_STATE_CONNECTED);
	f->back_gen = f->info.back_generation;
	*out = f;
	return 0;

err_free:
	front_free(f);
	return ret;
}

/**
 * pvio_front_info() - what was negotiated.
 * @f: connection
 * @info: filled in
 *
 * Context: any.
 */
void pvio_front_info(const struct pvio_front *f, struct pvio_front_info *info)
{
	memset(info, 0, sizeof(*info));
	info->capacity = f->lim.capacity;
	info->logical_block_size = f->lim.logical_block_size;
	info->max_transfer = f->max_transfer;
	info->max_segments = f->lim.max_segments;
	info->attrs = f->lim.attrs;
	info->features_offered = f->info.back_features;
	info->features = f->features;
	info->num_queues = f->nq;
	info->queue_depth = f->nq ? f->queues[0].depth : 0;
	info->back_generation = __atomic_load_n(&f->back_gen, __ATOMIC_RELAXED);
	info->peer_id = pvio_ivshmem_client_id(f->cli);
	info->reconnects = __atomic_load_n(&f->reconnects, __ATOMIC_RELAXED);
	info->replayed = __atomic_load_n(&f->replayed, __ATOMIC_RELAXED);
	info->connected = FC_STATE(__atomic_load_n(&f->conn, __ATOMIC_RELAXED)) == FC_UP &&
		!front_is_broken(f);
	if (f->nq && f->queues[0].slot_size < info->max_transfer)
		info->max_transfer = f->queues[0].slot_size;
}

/**
 * pvio_front_broken() - has the backend broken the protocol?
 * @f: connection
 *
 * Context: any thread.
 * Return: true once any queue saw a protocol violation.
 */
bool pvio_front_broken(const struct pvio_front *f)
{
	return front_is_broken(f);
}

/**
 * pvio_front_error() - why the connection broke.
 * @f: connection
 *
 * Context: any thread.
 * Return: a description, or "" while the connection is healthy.
 */
const char *pvio_front_error(const struct pvio_front *f)
{
	/* Acquire: pairs with the release in front_break(); the message is
	 * complete once broken reads 2. */
	if (__atomic_load_n(&f->broken, __ATOMIC_ACQUIRE) != 2)
		return "";
	return f->errmsg;
}

/**
 * pvio_front_queue() - one of the connection's queues.
 * @f: connection
 * @q: index, below info.num_queues
 *
 * Context: any.
 * Return: the queue, or NULL for an index out of range.
 */
struct pvio_front_queue *pvio_front_queue(struct pvio_front *f, unsigned int q)
{
	return q < f->nq ? &f->queues[q] : NULL;
}

/**
 * pvio_front_tag_get() - reserve a tag (and its buffer) for a request.
 * @q: queue
 *
 * Context: the queue's thread.
 * Return: the tag (0..depth-1), or -EBUSY when every tag is taken.
 */
int pvio_front_tag_get(struct pvio_front_queue *q)
{
	int t;

	if (!q->nr_free)
		return -EBUSY;
	t = q->free_tags[--q->nr_free];
	q->tags[t].state = FQ_HELD;
	return t;
}

/**
 * pvio_front_tag_put() - give back a tag reserved and not submitted.
 * @q: queue
 * @tag: from pvio_front_tag_get()
 *
 * Context: the queue's thread.
 */
void pvio_front_tag_put(struct pvio_front_queue *q, int tag)
{
	if (tag < 0 || (unsigned int)tag >= q->depth ||
	    q->tags[tag].state != FQ_HELD)
		return;
	q->tags[tag].state = FQ_FREE;
	q->free_tags[q->nr_free++] = tag;
}

/**
 * pvio_front_tag_buf() - the data-area buffer of a tag.
 * @q: queue
 * @tag: a tag of this queue
 *
 * Context: any.
 * Return: pvio_front_buf_size() bytes in shared memory, logical-block
 * aligned, or NULL for a tag out of range.
 */
void *pvio_front_tag_buf(struct pvio_front_queue *q, int tag)
{
	if (tag < 0 || (unsigned int)tag >= q->depth)
		return NULL;
	return q->data + (size_t)tag * q->slot_size;
}

/**
 * pvio_front_buf_size() - bytes of each tag's buffer.
 * @q: queue
 *
 * Context: any.
 * Return: the size, also the largest READ/WRITE the queue accepts.
 */
uint32_t pvio_front_buf_size(const struct pvio_front_queue *q)
{
	return q->slot_size < q->f->max_transfer ? q->slot_size : q->f->max_transfer;
}

/**
 * pvio_front_inflight() - requests submitted and not yet completed.
 * @q: queue
 *
 * Context: the queue's thread.
 * Return: the count.
 */
unsigned int pvio_front_inflight(const struct pvio_front_queue *q)
{
	return q->inflight;
}

/**
 * pvio_front_fd() - the queue's doorbell eventfd (non-blocking).
 * @q: queue
 *
 * For callers with their own event loop: pvio_front_wait(q, n, 0)
 * returning 0 means the doorbell is armed; then poll this fd for POLLIN
 * (and read it before waiting again).
 *
 * Context: any.
 * Return: the fd.
 */
int pvio_front_fd(const struct pvio_front_queue *q)
{
	return q->efd;
}

/**
 * pvio_front_set_poll() - how long pvio_front_wait() polls before sleeping.
 * @q: queue
 * @min_usec: shortest poll of the response ring before arming the doorbell
 *            and sleeping
 * @max_usec: longest; above @min_usec the poll adapts: after a sleep that a
 *            response ended within @max_usec it doubles (a longer poll would
 *            have spared the wake-up), after a longer sleep it falls back to
 *            @min_usec. Values below @min_usec count as @min_usec.
 *
 * Polling trades CPU time for the latency of a wake-up; the poll yields the
 * CPU to any other runnable thread (the backend's, on a shared CPU) each
 * time round. An adaptive poll (@max_usec above @min_usec) runs only while
 * at most PVIO_FRONT_POLL_DEPTH requests are in flight: deeper, one wake-up
 * covers a batch of responses anyway, and the CPU the poll would take is
 * the one the backend needs to produce them (on two CPUs, polling at depth
 * 32 cost a third of the throughput). Default: PVIO_FRONT_POLL_MIN_US to
 * PVIO_FRONT_POLL_MAX_US.
 *
 * Context: the queue's thread.
 */
void pvio_front_set_poll(struct pvio_front_queue *q, unsigned int min_usec,
			 unsigned int max_usec)
{
	q->spin_min_ns = (uint64_t)min_usec * 1000;
	q->spin_max_ns = (uint64_t)(max_usec > min_usec ? max_usec : min_usec) * 1000;
	q->spin_ns = q->spin_min_ns;
}

/**
 * pvio_front_set_spin() - poll for a fixed time before sleeping.
 * @q: queue
 * @usec: microseconds to poll the response ring before arming the doorbell
 *        and sleeping; 0 sleeps at once
 *
 * The same as pvio_front_set_poll(@q, @usec, @usec).
 *
 * Context: the queue's thread.
 */
void pvio_front_set_spin(struct pvio_front_queue *q, unsigned int usec)
{
	pvio_front_set_poll(q, usec, usec);
}

/**
 * pvio_front_stats() - the queue's counters.
 * @q: queue
 * @st: filled in
 *
 * Context: the queue's thread, or after it stopped.
 */
void pvio_front_stats(const struct pvio_front_queue *q,
		      struct pvio_front_stats *st)
{
	*st = q->st;
}

static int fq_check_req(const struct pvio_front_queue *q,
			const struct pvio_front_req *r)
{
	const struct pvio_front *f = q->f;
	uint32_t lbs = f->lim.logical_block_size;
	uint32_t lbs_sec = lbs / PVIO_BLK_SECTOR_SIZE;

	if (r->flags & ~(PVIO_BLK_REQ_F_FUA | PVIO_BLK_REQ_F_UNMAP))
		return -EINVAL;
	switch (r->op) {
	case PVIO_BLK_OP_READ:
	case PVIO_BLK_OP_WRITE:
		if (r->flags & PVIO_BLK_REQ_F_UNMAP)
			return -EINVAL;
		if ((r->flags & PVIO_BLK_REQ_F_FUA) &&
		    (r->op != PVIO_BLK_OP_WRITE || !(f->features & PVIO_BLK_F_FUA)))
			return r->op == PVIO_BLK_OP_WRITE ? -EOPNOTSUPP : -EINVAL;
		if (!r->len || r->len % lbs || r->sector % lbs_sec)
			return -EINVAL;
		if (r->len > pvio_front_buf_size(q))
			return -E2BIG;
		return 0;
	case PVIO_BLK_OP_FLUSH:
		if (r->flags || r->len || r->sector)
			return -EINVAL;
		return f->features & PVIO_BLK_F_FLUSH ? 0 : -EOPNOTSUPP;
	case PVIO_BLK_OP_DISCARD:
	case PVIO_BLK_OP_WRITE_ZEROES:
		if (!r->len || r->len % PVIO_BLK_SECTOR_SIZE)
			return -EINVAL;
		if (r->op == PVIO_BLK_OP_DISCARD && r->flags)
			return -EINVAL;
		if (r->op == PVIO_BLK_OP_WRITE_ZEROES && (r->flags & PVIO_BLK_REQ_F_FUA))
			return -EINVAL;
		return f->features & (r->op == PVIO_BLK_OP_DISCARD ?
				      PVIO_BLK_F_DISCARD : PVIO_BLK_F_WRITE_ZEROES) ?
			0 : -EOPNOTSUPP;
	case PVIO_BLK_OP_GET_ID:
		if (r->flags || r->sector || r->len < PVIO_BLK_ID_BYTES)
			return -EINVAL;
		if (r->len > q->slot_size)
			return -E2BIG;
		return f->features & PVIO_BLK_F_GET_ID ? 0 : -EOPNOTSUPP;
	}
	return -EINVAL;
}

/* Describe the tag's buffer as segments, inline or in its indirect table. */
static int fq_build_segs(struct pvio_front_queue *q, int tag, uint32_t len,
			 struct pvio_blk_req *w)
{
	uint32_t seg = q->f->max_seg_bytes;
	/* 64 bits: seg may be close to 4 GiB. */
	uint64_t n = ((uint64_t)len + seg - 1) / seg;
	uint64_t off = (uint64_t)tag * q->slot_size;
	struct pvio_blk_seg *tbl;
	uint32_t i;

	if (n <= PVIO_BLK_INLINE_SEGS) {
		for (i = 0; i < n; i++) {
			uint32_t l = len - i * seg < seg ? len - i * seg : seg;

			w->seg[i].offset = pvio_cpu_to_le32((uint32_t)(off + (uint64_t)i * seg));
			w->seg[i].len = pvio_cpu_to_le32(l);
		}
		w->nr_segs = pvio_cpu_to_le16((uint16_t)n);
		return 0;
	}
	if (n * sizeof(struct pvio_blk_seg) > q->tbl_bytes)
		return -E2BIG;
	/* The table lives in the shared data area: the backend copies it once
	 * after it sees the request, which the ring's release orders after
	 * these plain stores. */
	tbl = (struct pvio_blk_seg *)(q->data + q->tbl_base +
				      (uint64_t)tag * q->tbl_bytes);
	for (i = 0; i < n; i++) {
		uint32_t l = len - i * seg < seg ? len - i * seg : seg;

		tbl[i].offset = pvio_cpu_to_le32((uint32_t)(off + (uint64_t)i * seg));
		tbl[i].len = pvio_cpu_to_le32(l);
	}
	w->flags |= pvio_cpu_to_le16(PVIO_BLK_REQ_F_INDIRECT);
	w->seg[0].offset = pvio_cpu_to_le32((uint32_t)(q->tbl_base +
						       (uint64_t)tag * q->tbl_bytes));
	w->seg[0].len = pvio_cpu_to_le32((uint32_t)(n * sizeof(struct pvio_blk_seg)));
	w->nr_segs = pvio_cpu_to_le16((uint16_t)n);
	return 0;
}

/*
 * Backend restart (pvio_front.h, include/pvio/region.h). The protocol
 * between queues and the one recovering thread:
 *   - a queue's owner sets q->busy with a full barrier on entry to a call
 *     and reads f->conn; it touches its rings only while f->conn is the
 *     UP word it last synced to (q->conn), and clears q->busy (release)
 *     on the way out;
 *   - the recovering thread stores a new f->conn (AWAY) and then waits
 *     for every q->busy to read 0. After that no queue touches its rings
 *     until it sees the next UP word, so the recovering thread may reset
 *     every queue's rings, private state included; the UP word's store
 *     hands them back, and each queue replays what it holds on its next
 *     call (fq_resync()).
 */
static void fq_leave(struct pvio_front_queue *q)
{
	/* Release: our ring stores are done before a recovering thread that
	 * reads busy == 0 resets the rings; pairs with the seq_cst load in
	 * front_quiesce(). */
	__atomic_store_n(&q->busy, 0, __ATOMIC_RELEASE);
}

static void front_set_conn(struct pvio_front *f, unsigned int st)
{
	uint32_t c = __atomic_load_n(&f->conn, __ATOMIC_RELAXED);

	/* Seq_cst: ordered before the loads of every q->busy that follow in
	 * front_quiesce() (the other half of the exchange in fq_enter()),
	 * and a release of everything written before (ring resets, the new
	 * handshake state, f->downs) to the queues that read the new word. */
	__atomic_store_n(&f->conn, FC_NEXT(c, st), __ATOMIC_SEQ_CST);
}

/* Wait until no queue is inside a call; bounded by @deadline. */
static int front_quiesce(struct pvio_front *f, long long deadline)
{
	unsigned int i;

	for (i = 0; i < f->nq; i++) {
		/* Seq_cst: see front_set_conn(); a queue that still reads the
		 * old word is seen busy here and waited for. */
		while (__atomic_load_n(&f->queues[i].busy, __ATOMIC_SEQ_CST)) {
			if (front_now_ms() >= deadline)
				return -ETIMEDOUT;
			sched_yield();
		}
	}
	return 0;
}

static bool front_layout_same(const struct pvio_front *f,
			      const struct pvio_region_layout *nl,
			      const char **why)
{
	const struct pvio_region_layout *ol = &f->info;
	struct pvio_blk_config cfg;
	struct pvio_blk_limits lim;

	if (pvio_region_same_geometry(ol, nl, why))
		return false;
	memcpy(&cfg, nl->config, sizeof(cfg));
	if (pvio_blk_limits_from_config(&cfg, &lim, why))
		return false;
	if (memcmp(&lim, &f->lim, sizeof(lim))) {
		*why = "block limits changed";
		return false;
	}
	if ((nl->back_features & f->features) != f->features) {
		*why = "a negotiated feature is no longer offered";
		return false;
	}
	return true;
}

/* Is a new backend instance in INITWAIT? Fills @nl when so. */
static bool front_new_backend(struct pvio_front *f, struct pvio_region_layout *nl)
{
	const char *why;
	bool closed;

	/* A layout in progress fails the check (back.state is not ready
	 * until it is done): that is "not yet", not an error. */
	if (pvio_region_check(f->mem, f->mem_size, nl, &why) ||
	    pvio_blk_check_layout(nl, &why))
		return false;
	/* A closed backend (@closed) is waited for like any other: this
	 * library never closes a connection it holds IO for. */
	return !pvio_hs_front_next_backend(&f->hs, nl, false,
					   f->hs.back_generation, &closed);
}

/*
 * Steps 2-4 again with a new backend instance, every queue quiescent.
 * Waits for it until @deadline unless @probe (then only one look).
 * Return: 0 connected; -ETIMEDOUT; -EPROTO with the connection broken.
 */
static int front_rehandshake(struct pvio_front *f, long long deadline, bool probe)
{
	struct pvio_region_layout nl;
	const char *why;
	unsigned int i;
	int ret;

	for (;;) {
		if (!front_new_backend(f, &nl)) {
			if (probe || front_now_ms() >= deadline)
				return -ETIMEDOUT;
			ret = front_ctl_sleep(f, FRONT_POLL_MS);
			if (ret)
				return front_break(f, "lost the ivshmem server while the backend was away: %s",
						   strerror(-ret));
			continue;
		}
		if (!front_layout_same(f, &nl, &why))
			return front_break(f, "restarted backend's layout differs: %s", why);
		/* Our stale publishes into the new rings are undone before the
		 * backend can attach (it does so only after INITIALISED, whose
		 * release store below orders these). */
		for (i = 0; i < f->nq; i++) {
			const struct pvio_region_queue *d = &nl.queues[i];
			struct pvio_front_queue *q = &f->queues[i];

			ret = pvio_prod_reset(&q->req, (struct pvio_ring_shared *)
					      (f->mem + d->req_ring_off),
					      d->req_entries, d->req_entry_size);
			if (!ret)
				ret = pvio_cons_reset(&q->rsp, (struct pvio_ring_shared *)
						      (f->mem + d->rsp_ring_off),
						      d->rsp_entries, d->rsp_entry_size);
			if (ret)
				return front_break(f, "queue %u: cannot reset the rings", i);
		}
		f->hs.wanted = f->features;
		f->hs.required = f->features;
		ret = pvio_hs_front_offer(&f->hs, &why);
		if (ret == -EAGAIN)
			continue; /* laid out again meanwhile */
		if (ret)
			return front_break(f, "restarted backend: %s", why);
		if (f->hs.back_generation != nl.back_generation)
			continue;
		if (f->hs.features != f->features)
			return front_break(f, "restarted backend accepts other features");
		front_ring_control(f);
		for (;;) {
			ret = pvio_hs_front_poll(&f->hs, &why);
			if (ret != -EAGAIN)
				break;
			if (front_now_ms() >= deadline + f->timeout_ms)
				return -ETIMEDOUT;
			ret = front_ctl_sleep(f, FRONT_POLL_MS);
			if (ret)
				return front_break(f, "lost the ivshmem server: %s",
						   strerror(-ret));
		}
		if (ret == -EPROTO && !probe)
			continue; /* restarted again: wait for that one */
		if (ret == -ECONNREFUSED)
			return front_break(f, "restarted backend refused the connection");
		if (ret)
			return -ETIMEDOUT;
		pvio_hs_front_set_state(&f->hs, PVIO_STATE_CONNECTED);
		f->info = nl;
		__atomic_store_n(&f->back_gen, nl.back_generation, __ATOMIC_RELAXED);
		return 0;
	}
}

/*
 * Called by the owner of @q, which saw connection word @seen and found the
 * backend gone (@what), or found the connection down and looks for a new
 * backend. Runs the whole recovery unless another thread is at it. Leaves
 * @q not busy; the caller enters again before touching the rings.
 */
static void front_recover(struct pvio_front_queue *q, uint32_t seen,
			  const char *what)
{
	struct pvio_front *f = q->f;
	struct pvio_region_layout nl;
	long long deadline;
	bool down;
	uint32_t c;
	int ret;

	fq_leave(q);
	if (f->closing || pthread_mutex_trylock(&f->lock))
		return;
	c = __atomic_load_n(&f->conn, __ATOMIC_RELAXED);
	if (c != seen || front_is_broken(f) || FC_STATE(c) == FC_AWAY)
		goto out; /* handled meanwhile */
	down = FC_STATE(c) == FC_DOWN;
	if (down) {
		__atomic_store_n(&f->last_probe, front_now_ms(), __ATOMIC_RELAXED);
		if (!front_new_backend(f, &nl))
			goto out;
		deadline = front_now_ms() + f->timeout_ms;
	} else {
		front_log(f, "backend gone (%s); waiting up to %d ms for it",
			  what, f->reconnect_ms);
		f->away_since = front_now_ms();
		front_set_conn(f, FC_AWAY);
		deadline = f->away_since + f->reconnect_ms;
	}
	ret = front_quiesce(f, deadline);
	if (!ret)
		ret = front_rehandshake(f, deadline, down);
	if (!ret) {
		__atomic_fetch_add(&f->reconnects, 1, __ATOMIC_RELAXED);
		front_log(f, "connected to backend generation %u",
			  f->info.back_generation);
		front_set_conn(f, FC_UP);
	} else if (!down && !front_is_broken(f)) {
		front_log(f, "backend away for %d ms: failing its requests",
			  f->reconnect_ms);
		/* Before the word: a queue that reads DOWN sees the count. */
		__atomic_fetch_add(&f->downs, 1, __ATOMIC_RELAXED);
		front_set_conn(f, FC_DOWN);
	}
out:
	pthread_mutex_unlock(&f->lock);
}

/* Submit again every request @q holds, in the order first submitted. */
static void fq_replay(struct pvio_front_queue *q)
{
	unsigned int n = 0, i, j;
	int *ord = q->replay;

	for (i = 0; i < q->depth; i++)
		if (q->tags[i].state == FQ_INFLIGHT && !q->tags[i].dead)
			ord[n++] = (int)i;
	/* Insertion sort: at most depth entries, and only after a restart. */
	for (i = 1; i < n; i++) {
		int t = ord[i];

		for (j = i; j > 0 && q->tags[ord[j - 1]].order > q->tags[t].order; j--)
			ord[j] = ord[j - 1];
		ord[j] = t;
	}
	for (i = 0; i < n; i++) {
		struct fq_tag *t = &q->tags[ord[i]];
		struct pvio_blk_req w = t->w;

		if (t->op == PVIO_BLK_OP_READ || t->op == PVIO_BLK_OP_WRITE) {
			/* The indirect table is in the data area too: write it
			 * again rather than trust what is there. */
			w.flags &= pvio_cpu_to_le16((uint16_t)~PVIO_BLK_REQ_F_INDIRECT);
			if (fq_build_segs(q, ord[i], t->len, &w))
				w = t->w;
			if (t->ubuf && t->op == PVIO_BLK_OP_WRITE)
				memcpy(pvio_front_tag_buf(q, ord[i]), t->ubuf, t->len);
		}
		if (pvio_prod_put(&q->req, &w, sizeof(w))) {
			front_break(q->f, "queue %u: no room to replay request %d",
				    q->index, ord[i]);
			return;
		}
	}
	if (!n)
		return;
	q->st.replayed += n;
	__atomic_fetch_add(&q->f->replayed, n, __ATOMIC_RELAXED);
	q->st.publishes++;
	if (pvio_prod_publish(&q->req) &&
	    !pvio_ivshmem_client_notify(q->f->cli, PVIO_BACKEND_PEER, q->vector))
		q->st.doorbells_out++;
}

/* The connection moved on since @q last synced (word @c). */
static int fq_resync(struct pvio_front_queue *q, uint32_t c)
{
	uint32_t downs = __atomic_load_n(&q->f->downs, __ATOMIC_RELAXED);
	unsigned int i;

	if (downs != q->downs_seen) {
		/* The backend stayed away too long since we last looked:
		 * what we held fails. */
		for (i = 0; i < q->depth; i++) {
			if (q->tags[i].state == FQ_INFLIGHT && !q->tags[i].dead) {
				q->tags[i].dead = true;
				q->nr_dead++;
			}
		}
		q->downs_seen = downs;
	}
	switch (FC_STATE(c)) {
	case FC_AWAY:
		return 1;
	case FC_DOWN:
		return -ENOTCONN;
	default:
		break;
	}
	q->conn = c;
	q->chk_ms = 0;
	fq_replay(q);
	return 0;
}

/*
 * Enter a call on @q. Return: 0, the rings may be used; 1, the backend is
 * away (hold requests, touch no ring); -ENOTCONN, the connection is down.
 * The caller calls fq_leave() before returning (also after an error).
 */
static int fq_enter(struct pvio_front_queue *q)
{
	uint32_t c;

	/* Full barrier (seq_cst exchange): busy = 1 is visible before the
	 * connection word is read; pairs with front_set_conn() followed by
	 * front_quiesce(). Either the recovering thread sees us busy and
	 * waits, or we see its new word and keep off the rings. */
	__atomic_exchange_n(&q->busy, 1, __ATOMIC_SEQ_CST);
	c = __atomic_load_n(&q->f->conn, __ATOMIC_SEQ_CST);
	if (pvio_likely(c == q->conn))
		return 0;
	return fq_resync(q, c);
}

/* fq_enter(), and while down look for a new backend (every FRONT_POLL_MS). */
static int fq_enter_probe(struct pvio_front_queue *q)
{
	struct pvio_front *f = q->f;
	int ret = fq_enter(q);

	if (ret != -ENOTCONN || f->closing ||
	    front_now_ms() - __atomic_load_n(&f->last_probe, __ATOMIC_RELAXED) < FRONT_POLL_MS)
		return ret;
	front_recover(q, __atomic_load_n(&f->conn, __ATOMIC_RELAXED), "down");
	return fq_enter(q);
}

/* Has the backend @q is connected to gone away? */
static bool fq_backend_gone(struct pvio_front_queue *q, const char **what)
{
	long long now;

	if (!pvio_hs_front_backend_alive(&q->f->hs)) {
		*what = "back.state or back.generation changed";
		return true;
	}
	if (q->f->io_timeout_ms < 0 || q->inflight == q->nr_dead) {
		q->chk_ms = 0;
		return false;
	}
	now = front_now_ms();
	if (!q->chk_ms || q->chk_completed != q->st.completed) {
		q->chk_ms = now;
		q->chk_completed = q->st.completed;
		return false;
	}
	if (now - q->chk_ms < q->f->io_timeout_ms)
		return false;
	*what = "no response within the IO timeout";
	return true;
}

/*
 * A ring of @q reported an index out of range. A restarted backend zeroes
 * the rings after its header: if the header says so within FRONT_GRACE_MS
 * this is a restart and we recover (return 1, @q left not busy); else the
 * backend broke the protocol (-EPROTO).
 */
static int fq_ring_error(struct pvio_front_queue *q, const char *msg)
{
	long long end = front_now_ms() + FRONT_GRACE_MS;

	for (;;) {
		if (!pvio_hs_front_backend_alive(&q->f->hs)) {
			front_recover(q, q->conn, msg);
			return 1;
		}
		if (front_now_ms() >= end)
			break;
		usleep(1000);
	}
	return front_break(q->f, "queue %u: %s", q->index, msg);
}

/**
 * pvio_front_submit() - queue one request (not yet visible to the backend).
 * @q: queue
 * @tag: a tag from pvio_front_tag_get() whose buffer holds the data
 *       (zero-copy), or -1 to take a free tag here
 * @req: the request; req->buf non-NULL copies data from/to caller memory
 *
 * Call pvio_front_publish() after a batch of submits. While the backend is
 * away (restarting) the request is kept and sent once a new backend is
 * connected; a copy-mode write's buffer must stay intact until the
 * request completes, since a replay copies it again.
 *
 * Context: the queue's thread.
 * Return: the tag used; -EBUSY (no free tag), -ENOSPC (request ring full:
 * the backend has not yet released slots of answered requests; retry after
 * pvio_front_publish() and a reap), -EINVAL
 * (malformed request or tag), -E2BIG (longer than the buffer or the
 * segment limits), -EOPNOTSUPP (feature not negotiated), -EPROTO (broken),
 * -ENOTCONN (the backend was away longer than opts.reconnect_ms and none
 * has come back yet).
 */
int pvio_front_submit(struct pvio_front_queue *q, int tag,
		      const struct pvio_front_req *req)
{
	struct pvio_blk_req w;
	struct fq_tag *t;
	bool own = false;
	int ret;

	if (front_is_broken(q->f))
		return -EPROTO;
	ret = fq_check_req(q, req);
	if (ret)
		return ret;
	if (tag < 0) {
		tag = pvio_front_tag_get(q);
		if (tag < 0)
			return tag;
		own = true;
	} else if ((unsigned int)tag >= q->depth ||
		   q->tags[tag].state != FQ_HELD) {
		return -EINVAL;
	}
	t = &q->tags[tag];

	memset(&w, 0, sizeof(w));
	w.id = pvio_cpu_to_le32((uint32_t)tag);
	w.op = pvio_cpu_to_le16(req->op);
	w.flags = pvio_cpu_to_le16(req->flags);
	switch (req->op) {
	case PVIO_BLK_OP_READ:
	case PVIO_BLK_OP_WRITE:
		w.sector = pvio_cpu_to_le64(req->sector);
		w.nr_sectors = pvio_cpu_to_le32(req->len / PVIO_BLK_SECTOR_SIZE);
		ret = fq_build_segs(q, tag, req->len, &w);
		if (ret)
			goto err_tag;
		if (req->buf && req->op == PVIO_BLK_OP_WRITE)
			memcpy(pvio_front_tag_buf(q, tag), req->buf, req->len);
		break;
	case PVIO_BLK_OP_DISCARD:
	case PVIO_BLK_OP_WRITE_ZEROES:
		w.sector = pvio_cpu_to_le64(req->sector);
		w.nr_sectors = pvio_cpu_to_le32(req->len / PVIO_BLK_SECTOR_SIZE);
		break;
	case PVIO_BLK_OP_GET_ID:
		w.nr_segs = pvio_cpu_to_le16(1);
		w.seg[0].offset = pvio_cpu_to_le32((uint32_t)((uint64_t)tag * q->slot_size));
		w.seg[0].len = pvio_cpu_to_le32(req->len);
		break;
	default:
		break;
	}
	ret = fq_enter_probe(q);
	if (ret < 0)
		goto err_tag;
	if (ret == 0) {
		ret = pvio_prod_put(&q->req, &w, sizeof(w));
		if (ret == -EPROTO)
			ret = fq_ring_error(q, "request ring consumer index out of range");
		if (ret < 0)
			goto err_tag;
		/* 1: the backend is away; the request is replayed. */
	}
	if (!q->inflight)
		q->chk_ms = 0; /* the IO timeout counts from now */
	t->state = FQ_INFLIGHT;
	t->dead = false;
	t->op = req->op;
	t->len = req->op == PVIO_BLK_OP_FLUSH ? 0 : req->len;
	t->ubuf = req->buf;
	t->user_data = req->user_data;
	t->order = q->next_order++;
	t->w = w;
	q->inflight++;
	q->st.submitted++;
	fq_leave(q);
	return tag;

err_tag:
	fq_leave(q);
	if (own)
		pvio_front_tag_put(q, tag);
	return ret;
}

/**
 * pvio_front_publish() - make the submitted batch visible; ring if asked.
 * @q: queue
 *
 * Context: the queue's thread.
 * Return: 1 if the backend's doorbell was rung, 0 if it was not needed
 * (or the backend is away: the requests go out once it is back), -EPROTO
 * if the connection is broken, -ENOTCONN if it is down, or the errno of
 * the doorbell write.
 */
int pvio_front_publish(struct pvio_front_queue *q)
{
	bool ring;
	int ret;

	if (front_is_broken(q->f))
		return -EPROTO;
	ret = fq_enter(q);
	if (ret || q->req.prod == q->req.pub) {
		fq_leave(q);
		return ret > 0 ? 0 : ret;
	}
	q->st.publishes++;
	ring = pvio_prod_publish(&q->req);
	fq_leave(q);
	if (!ring)
		return 0;
	ret = pvio_ivshmem_client_notify(q->f->cli, PVIO_BACKEND_PEER,
					 q->vector);
	if (ret)
		return ret;
	q->st.doorbells_out++;
	return 1;
}

static void fq_complete(struct pvio_front_queue *q, int tag, int status,
			uint32_t len, struct pvio_front_cqe *cqe)
{
	struct fq_tag *t = &q->tags[tag];

	if (status == PVIO_BLK_S_OK && t->ubuf &&
	    (t->op == PVIO_BLK_OP_READ || t->op == PVIO_BLK_OP_GET_ID))
		memcpy(t->ubuf, pvio_front_tag_buf(q, tag), len);
	cqe->user_data = t->user_data;
	cqe->tag = tag;
	cqe->status = status;
	cqe->len = len;
	t->state = FQ_HELD;
	q->inflight--;
	q->st.completed++;
	/* Tags taken by pvio_front_submit(tag = -1) and by the caller alike
	 * go back to the pool: the completion ends the tag's life. */
	pvio_front_tag_put(q, tag);
}

/* Report every outstanding request of @q as failed, once. */
static int fq_fail_all(struct pvio_front_queue *q, struct pvio_front_cqe *cqes,
		       unsigned int max)
{
	unsigned int t, n = 0;

	for (t = 0; t < q->depth && n < max; t++)
		if (q->tags[t].state == FQ_INFLIGHT)
			fq_complete(q, (int)t, -EPROTO, 0, &cqes[n++]);
	if (!q->inflight)
		q->failed_reported = true;
	return n ? (int)n : -EPROTO;
}

static int fq_check_rsp(struct pvio_front_queue *q, const struct pvio_blk_rsp *r,
			uint32_t *tag, int *status, uint32_t *len)
{
	const struct fq_tag *t;
	uint32_t want;

	*tag = pvio_le32_to_cpu(r->id);
	*status = pvio_le16_to_cpu(r->status);
	*len = pvio_le32_to_cpu(r->len);
	if (*tag >= q->depth)
		return front_break(q->f, "queue %u: response id %u out of range",
				   q->index, *tag);
	t = &q->tags[*tag];
	if (t->state != FQ_INFLIGHT)
		return front_break(q->f, "queue %u: response for id %u, which is not outstanding",
				   q->index, *tag);
	if (*status > (int)PVIO_BLK_S_MAX)
		return front_break(q->f, "queue %u: unknown status %d for id %u",
				   q->index, *status, *tag);
	if (r->reserved0 || r->reserved1)
		return front_break(q->f, "queue %u: reserved response field not zero (id %u)",
				   q->index, *tag);
	switch (t->op) {
	case PVIO_BLK_OP_READ:
	case PVIO_BLK_OP_WRITE:
		want = t->len;
		break;
	case PVIO_BLK_OP_GET_ID:
		want = PVIO_BLK_ID_BYTES;
		break;
	default:
		want = 0;
		break;
	}
	if (*status == PVIO_BLK_S_OK ? *len != want : *len > want)
		return front_break(q->f, "queue %u: response length %u for id %u, expected %u",
				   q->index, *len, *tag, want);
	return 0;
}

/**
 * pvio_front_reap() - collect completed requests.
 * @q: queue
 * @cqes: array for the completions
 * @max: entries in @cqes (> 0)
 *
 * Each request completes exactly once. A READ with caller memory is copied
 * out of the data area before it is reported. After a protocol violation
 * every outstanding request of the queue is reported once with status
 * -EPROTO; later calls return -EPROTO. Requests outstanding when the
 * backend has been away longer than opts.reconnect_ms are reported once
 * with status -ENOTCONN. While the backend is away nothing completes.
 *
 * Context: the queue's thread.
 * Return: the number of completions (0 if none), -EPROTO, or -ENOTCONN
 * (down, nothing left to report).
 */
int pvio_front_reap(struct pvio_front_queue *q, struct pvio_front_cqe *cqes,
		    unsigned int max)
{
	struct pvio_blk_rsp r;
	const char *what;
	unsigned int n = 0, i;
	int avail, status, ret;
	uint32_t tag, len;

	if (!max)
		return -EINVAL;
	if (front_is_broken(q->f))
		goto broken;
	ret = fq_enter_probe(q);
	if (q->nr_dead) {
		for (i = 0; i < q->depth && n < max; i++) {
			if (q->tags[i].state != FQ_INFLIGHT || !q->tags[i].dead)
				continue;
			q->tags[i].dead = false;
			q->nr_dead--;
			fq_complete(q, (int)i, -ENOTCONN, 0, &cqes[n++]);
		}
		fq_leave(q);
		return (int)n;
	}
	if (ret) {
		fq_leave(q);
		return ret > 0 ? 0 : ret;
	}
	avail = pvio_cons_avail(&q->rsp);
	if (avail < 0) {
		if (fq_ring_error(q, "response producer index out of range") > 0)
			return 0;
		goto broken;
	}
	while (n < max && avail-- > 0) {
		if (pvio_cons_get(&q->rsp, &r, sizeof(r)))
			break;
		if (fq_check_rsp(q, &r, &tag, &status, &len))
			goto broken_partial;
		fq_complete(q, (int)tag, status, len, &cqes[n++]);
	}
	pvio_cons_release(&q->rsp);
	if (!n && q->inflight && !(++q->empty_reaps % FRONT_CHECK_REAPS) &&
	    fq_backend_gone(q, &what))
		front_recover(q, q->conn, what);
	fq_leave(q);
	return (int)n;

broken_partial:
	fq_leave(q);
	if (n)
		return (int)n; /* the failures follow on the next call */
broken:
	fq_leave(q);
	if (q->failed_reported)
		return -EPROTO;
	return fq_fail_all(q, cqes, max);
}

/**
 * pvio_front_wait() - wait until responses arrive.
 * @q: queue
 * @min_ready: wake once at least @min_ready responses wait (1 = the
 *             first); values above the requests in flight are lowered to
 *             it, so the wait always ends provided every request in flight
 *             has been published (pvio_front_publish)
 * @timeout_ms: < 0 forever, 0 just check
 *
 * First polls the response ring, as pvio_front_set_poll() set (by default
 * adaptively, and only with few requests in flight), then arms the response
 * ring's event index (pvio_cons_arm) and sleeps on the queue's eventfd only
 * if nothing arrived meanwhile. For more than two responses it arms for
 * half of them first, and again for the rest if they are not all in when it
 * wakes: up to two doorbells per wait.
 *
 * Context: the queue's thread.
 * While asleep it looks at the backend every FRONT_CHECK_MS ms, and
 * recovers if it is gone (pvio_front.h); while the backend is away it
 * waits for it to come back, up to @timeout_ms.
 *
 * Return: responses available (> 0), 0 on timeout, -EPROTO if broken (call
 * pvio_front_reap() to collect the failures), -ENOTCONN if down with
 * nothing to reap, or another negative errno. Requests failed with
 * -ENOTCONN count as responses available.
 */
int pvio_front_wait(struct pvio_front_queue *q, unsigned int min_ready,
		    int timeout_ms)
{
	long long deadline = timeout_ms > 0 ? front_now_ms() + timeout_ms : 0;
	struct pollfd pfd = { .fd = q->efd, .events = POLLIN };
	const char *what;
	unsigned int early;
	uint64_t t0;
	int avail, ms, ret, pr;

	if (min_ready == 0)
		min_ready = 1;
	if (min_ready > q->inflight)
		min_ready = q->inflight ? q->inflight : 1;
	ret = fq_enter_probe(q);
	if (!ret && !q->nr_dead && q->spin_ns && timeout_ms != 0 &&
	    (q->spin_max_ns == q->spin_min_ns || q->inflight <= PVIO_FRONT_POLL_DEPTH)) {
		uint64_t end = pvio_now_ns() + q->spin_ns;
		unsigned int i = 0;

		do {
			if (front_is_broken(q->f))
				break;
			avail = pvio_cons_avail(&q->rsp);
			if (avail < 0)
				break; /* the arm below finds it too, and decides */
			if ((unsigned int)avail >= min_ready) {
				fq_leave(q);
				return avail;
			}
			pvio_cpu_relax();
			if (!(++i & 63))
				sched_yield();
		} while ((i & 63) || pvio_now_ns() < end);
	}
	/*
	 * Ask for the doorbell when half of the responses are in, not all: a
	 * wake-up takes about as long as the backend needs for the other half,
	 * so the caller is back when they are, instead of a wake-up later (at
	 * depth 32 on two CPUs this raised throughput by a quarter and more).
	 * Woken early with too few, arm again for the rest.
	 */
	early = min_ready > 2 ? min_ready / 2 : 0;
	for (;;) {
		if (front_is_broken(q->f)) {
			fq_leave(q);
			return -EPROTO;
		}
		if (q->nr_dead) {
			fq_leave(q);
			return (int)q->nr_dead; /* failures to reap */
		}
		if (ret < 0) {
			fq_leave(q);
			return ret;
		}
		if (ret == 0) {
			avail = pvio_cons_arm(&q->rsp, (early ? early : min_ready) - 1);
			if (avail < 0) {
				if (fq_ring_error(q, "response producer index out of range") < 0) {
					fq_leave(q);
					return -EPROTO;
				}
				ret = fq_enter(q);
				continue;
			}
			if (avail > 0 && (unsigned int)avail < min_ready) {
				early = 0;
				continue;
			}
			if (avail > 0) {
				fq_leave(q);
				return avail;
			}
		}
		if (timeout_ms == 0) {
			fq_leave(q);
			return 0;
		}
		/* Bounded sleeps, so that a backend gone silent is noticed;
		 * shorter while it is away, to be back soon after it is. */
		ms = ret ? FRONT_POLL_MS : FRONT_CHECK_MS;
		if (timeout_ms > 0) {
			long long left = deadline - front_now_ms();

			if (left <= 0) {
				fq_leave(q);
				return 0;
			}
			if (left < ms)
				ms = (int)left;
		}
		fq_leave(q);
		t0 = pvio_now_ns();
		pr = poll(&pfd, 1, ms);
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (!ret && (pfd.revents & POLLIN) && q->inflight <= PVIO_FRONT_POLL_DEPTH)
			q->spin_ns = pvio_poll_next(q->spin_ns, q->spin_min_ns,
						    q->spin_max_ns, pvio_now_ns() - t0);
		if ((pfd.revents & POLLIN) && front_efd_drain(q->efd))
			q->st.doorbells_in++;
		ret = fq_enter_probe(q);
		if (!ret && pr == 0 && fq_backend_gone(q, &what)) {
			front_recover(q, q->conn, what);
			ret = fq_enter(q);
		}
	}
}

/**
 * pvio_front_run() - submit one request and wait for its completion.
 * @q: queue, with no other request in flight
 * @req: the request
 * @timeout_ms: bound on the wait (< 0 forever)
 * @cqe: the completion
 *
 * Context: the queue's thread.
 * Return: 0 (status in @cqe), -ETIMEDOUT, -EBUSY if requests are in flight,
 * or a submit error.
 */
int pvio_front_run(struct pvio_front_queue *q, const struct pvio_front_req *req,
		   int timeout_ms, struct pvio_front_cqe *cqe)
{
	int ret;

	if (q->inflight)
		return -EBUSY;
	ret = pvio_front_submit(q, -1, req);
	if (ret < 0)
		return ret;
	ret = pvio_front_publish(q);
	for (;;) {
		ret = pvio_front_reap(q, cqe, 1);
		if (ret == 1)
			return 0;
		if (ret < 0)
			return ret;
		ret = pvio_front_wait(q, 1, timeout_ms);
		if (ret == 0)
			return -ETIMEDOUT;
		if (ret < 0 && ret != -EPROTO)
			return ret;
	}
}

/**
 * pvio_front_close() - orderly close, then disconnect and free.
 * @f: connection, may be NULL; no queue may be in use by another thread
 *
 * Sets front.state = CLOSING and rings the backend, collects the answers to
 * requests still in flight (dropped), waits for back.state == CLOSED, sets
 * CLOSED and leaves the ivshmem server.
 *
 * Context: process; sleeps up to the connect timeout.
 * Return: 0; -ETIMEDOUT if the backend did not close in time; -EPROTO if
 * the connection was broken; -ENOTCONN if the backend was away or down;
 * -ECONNRESET (or the server socket's error) if
 * the backend went away. The connection is freed in every case.
 */
int pvio_front_close(struct pvio_front *f)
{
	long long deadline;
	struct pvio_front_cqe cqe[16];
	unsigned int i;
	int ret = 0;

	if (!f)
		return 0;
	if (front_is_broken(f)) {
		ret = -EPROTO;
		goto out;
	}
	f->closing = true;
	if (FC_STATE(__atomic_load_n(&f->conn, __ATOMIC_RELAXED)) != FC_UP) {
		ret = -ENOTCONN; /* no backend to close with */
		goto out;
	}
	deadline = front_now_ms() + f->timeout_ms;
	/* A release store: every request we published is ordered before
	 * CLOSING. */
	pvio_hs_front_set_state(&f->hs, PVIO_STATE_CLOSING);
	front_ring_control(f);
	for (;;) {
		for (i = 0; i < f->nq; i++)
			while (f->queues[i].inflight &&
			       pvio_front_reap(&f->queues[i], cqe, 16) > 0)
				;
		if (front_is_broken(f)) {
			ret = -EPROTO;
			break;
		}
		if (front_back_state(f) == PVIO_STATE_CLOSED)
			break;
		if (front_now_ms() >= deadline) {
			front_log(f, "backend did not close in %d ms", f->timeout_ms);
			ret = -ETIMEDOUT;
			break;
		}
		ret = front_ctl_sleep(f, FRONT_POLL_MS);
		if (ret)
			break; /* the backend left: nothing more to wait for */
	}
	pvio_hs_front_set_state(&f->hs, PVIO_STATE_CLOSED);
out:
	front_free(f);
	return ret;
}
