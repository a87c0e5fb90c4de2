// SPDX-License-Identifier: MIT
/*
 * pvio userspace block frontend; see pvio_front.h and include/pvio/region.h.
 */
#include "pvio_front.h"

#include <errno.h>
#include <poll.h>
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

enum fq_tag_state { FQ_FREE, FQ_HELD, FQ_INFLIGHT };

struct fq_tag {
	uint8_t state;     /* enum fq_tag_state */
	uint16_t op;
	uint32_t len;      /* bytes the request asked for */
	void *ubuf;        /* copy mode: caller memory, else NULL */
	uint64_t user_data;
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
	int *free_tags;         /* stack of free tags */
	unsigned int nr_free;
	bool failed_reported;   /* outstanding requests reported after a break */
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
	q->data_size = d->data_size;
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
	if (f->features & PVIO_BLK_F_INDIRECT)
		q->tbl_bytes = f->lim.max_segments * sizeof(struct pvio_blk_seg);
	if ((uint64_t)q->tbl_bytes * q->depth >= q->data_size)
		q->tbl_bytes = 0; /* no room for tables: inline segments only */
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
	if (!q->tags || !q->free_tags)
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
			free(f->queues[i].free_tags);
		}
		free(f->queues);
	}
	pvio_ivshmem_client_close(f->cli);
	free(f);
}

/* Step 2 of the handshake in include/pvio/region.h, and the wait for
 * step 3 (pvio_hs_front_*); step 4 follows once the queues are attached. */
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
	    (f->features & ~f->info.back_features)) {
		front_log(f, "backend laid the region out again during the handshake");
		return -EPROTO;
	}
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
	info->back_generation = f->info.back_generation;
	info->peer_id = pvio_ivshmem_client_id(f->cli);
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
	uint32_t n = (len + seg - 1) / seg, i;
	uint64_t off = (uint64_t)tag * q->slot_size;
	struct pvio_blk_seg *tbl;

	if (n <= PVIO_BLK_INLINE_SEGS) {
		for (i = 0; i < n; i++) {
			uint32_t l = len - i * seg < seg ? len - i * seg : seg;

			w->seg[i].offset = pvio_cpu_to_le32((uint32_t)(off + (uint64_t)i * seg));
			w->seg[i].len = pvio_cpu_to_le32(l);
		}
		w->nr_segs = pvio_cpu_to_le16((uint16_t)n);
		return 0;
	}
	if (!q->tbl_bytes || n > q->f->lim.max_segments)
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
	w->seg[0].len = pvio_cpu_to_le32(n * (uint32_t)sizeof(struct pvio_blk_seg));
	w->nr_segs = pvio_cpu_to_le16((uint16_t)n);
	return 0;
}

/**
 * pvio_front_submit() - queue one request (not yet visible to the backend).
 * @q: queue
 * @tag: a tag from pvio_front_tag_get() whose buffer holds the data
 *       (zero-copy), or -1 to take a free tag here
 * @req: the request; req->buf non-NULL copies data from/to caller memory
 *
 * Call pvio_front_publish() after a batch of submits.
 *
 * Context: the queue's thread.
 * Return: the tag used; -EBUSY (no free tag), -ENOSPC (request ring full:
 * the backend has not yet released slots of answered requests; retry after
 * pvio_front_publish() and a reap), -EINVAL
 * (malformed request or tag), -E2BIG (longer than the buffer or the
 * segment limits), -EOPNOTSUPP (feature not negotiated), -EPROTO (broken).
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
	ret = pvio_prod_put(&q->req, &w, sizeof(w));
	if (ret) {
		if (ret == -EPROTO)
			front_break(q->f, "queue %u: request ring consumer index out of range",
				    q->index);
		goto err_tag;
	}
	t->state = FQ_INFLIGHT;
	t->op = req->op;
	t->len = req->op == PVIO_BLK_OP_FLUSH ? 0 : req->len;
	t->ubuf = req->buf;
	t->user_data = req->user_data;
	q->inflight++;
	q->st.submitted++;
	return tag;

err_tag:
	if (own)
		pvio_front_tag_put(q, tag);
	return ret;
}

/**
 * pvio_front_publish() - make the submitted batch visible; ring if asked.
 * @q: queue
 *
 * Context: the queue's thread.
 * Return: 1 if the backend's doorbell was rung, 0 if it was not needed,
 * -EPROTO if the connection is broken, or the errno of the doorbell write.
 */
int pvio_front_publish(struct pvio_front_queue *q)
{
	int ret;

	if (front_is_broken(q->f))
		return -EPROTO;
	if (q->req.prod == q->req.pub)
		return 0;
	q->st.publishes++;
	if (!pvio_prod_publish(&q->req))
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
 * -EPROTO; later calls return -EPROTO.
 *
 * Context: the queue's thread.
 * Return: the number of completions (0 if none), or -EPROTO.
 */
int pvio_front_reap(struct pvio_front_queue *q, struct pvio_front_cqe *cqes,
		    unsigned int max)
{
	struct pvio_blk_rsp r;
	unsigned int n = 0;
	int avail, status;
	uint32_t tag, len;

	if (!max)
		return -EINVAL;
	if (front_is_broken(q->f))
		goto broken;
	avail = pvio_cons_avail(&q->rsp);
	if (avail < 0) {
		front_break(q->f, "queue %u: response producer index out of range",
			    q->index);
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
	return (int)n;

broken_partial:
	if (n)
		return (int)n; /* the failures follow on the next call */
broken:
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
 * Return: responses available (> 0), 0 on timeout, -EPROTO if broken (call
 * pvio_front_reap() to collect the failures), or another negative errno.
 */
int pvio_front_wait(struct pvio_front_queue *q, unsigned int min_ready,
		    int timeout_ms)
{
	long long deadline = timeout_ms > 0 ? front_now_ms() + timeout_ms : 0;
	struct pollfd pfd = { .fd = q->efd, .events = POLLIN };
	unsigned int early;
	uint64_t t0;
	int avail, ms;

	if (min_ready == 0)
		min_ready = 1;
	if (min_ready > q->inflight)
		min_ready = q->inflight ? q->inflight : 1;
	if (q->spin_ns && timeout_ms != 0 &&
	    (q->spin_max_ns == q->spin_min_ns || q->inflight <= PVIO_FRONT_POLL_DEPTH)) {
		uint64_t end = pvio_now_ns() + q->spin_ns;
		unsigned int i = 0;

		do {
			if (front_is_broken(q->f))
				return -EPROTO;
			avail = pvio_cons_avail(&q->rsp);
			if (avail < 0)
				return front_break(q->f, "queue %u: response producer index out of range",
						   q->index);
			if ((unsigned int)avail >= min_ready)
				return avail;
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
		if (front_is_broken(q->f))
			return -EPROTO;
		avail = pvio_cons_arm(&q->rsp, (early ? early : min_ready) - 1);
		if (avail < 0)
			return front_break(q->f, "queue %u: response producer index out of range",
					   q->index);
		if (avail > 0 && (unsigned int)avail < min_ready) {
			early = 0;
			continue;
		}
		if (avail > 0)
			return avail;
		if (timeout_ms == 0)
			return 0;
		ms = -1;
		if (timeout_ms > 0) {
			long long left = deadline - front_now_ms();

			if (left <= 0)
				return 0;
			ms = (int)left;
		}
		t0 = pvio_now_ns();
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return -errno;
		if ((pfd.revents & POLLIN) && q->inflight <= PVIO_FRONT_POLL_DEPTH)
			q->spin_ns = pvio_poll_next(q->spin_ns, q->spin_min_ns,
						    q->spin_max_ns, pvio_now_ns() - t0);
		if ((pfd.revents & POLLIN) && front_efd_drain(q->efd))
			q->st.doorbells_in++;
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
 * the connection was broken; -ECONNRESET (or the server socket's error) if
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
