/* SPDX-License-Identifier: MIT */
/*
 * pvio userspace block frontend: connects to a block backend's ivshmem
 * socket the way QEMU's ivshmem-doorbell device does, runs the handshake of
 * include/pvio/region.h and drives the device's queues.
 *
 * Threads: the connection (pvio_front_connect/close) belongs to one thread;
 * each queue belongs to one thread at a time, and queues are independent,
 * so the fast path takes no lock. What queues share is one atomic word,
 * the connection's state and epoch, read (after an atomic exchange of the
 * queue's own "in a call" flag) on entry to submit, publish, reap and wait,
 * and the connection's "broken" flag.
 *
 * Backend restart (include/pvio/region.h, "Backend restart"): when a queue
 * finds the backend gone (back.state left CONNECTED, back.generation
 * changed, a ring index reset under it, or no request of the queue
 * answered for opts.io_timeout_ms while some are outstanding), its thread
 * takes the connection's mutex and recovers: it marks the connection
 * away (every queue then keeps what it is given instead of producing), waits
 * until no other queue is inside a call, waits for the new backend
 * (INITWAIT with another generation), requires the new layout to match the
 * old one (queues, rings, offsets, data areas, block limits, and every
 * negotiated feature still offered; else the connection breaks with
 * -EPROTO), writes every queue's ring lines back to zero, runs the
 * handshake again with the same features and marks the connection up. Each
 * queue then, on its owner's next call, submits again every request it
 * holds, in the order first submitted (zero-copy requests from the tag
 * buffer, which a restart leaves alone; copy-mode writes copied again from
 * the caller's buffer, which must therefore stay intact until the request
 * completes). A request is thus executed at least once (blk.h, "Repeated
 * requests"); callers see latency, not errors. Other queue threads are
 * never blocked by a recovery: their calls return at once (submit keeps
 * the request, publish and reap find nothing, wait sleeps up to its
 * timeout). If no new backend is connected within opts.reconnect_ms of the
 * backend going away, the connection is "down": every request outstanding
 * completes with status -ENOTCONN and new submits return -ENOTCONN; calls
 * keep looking for a new backend (at most every 10 ms) and connect to it
 * when it comes, after which requests flow again. Losing the ivshmem
 * server itself (its socket) breaks the connection for good.
 *
 * Buffers: each queue gives every tag (request slot) a fixed buffer in the
 * queue's data area, pvio_front_buf_size() bytes, logical-block aligned.
 * A request either uses that buffer directly (zero-copy: req.buf == NULL,
 * the caller fills or reads pvio_front_tag_buf()) or names caller memory
 * that the library copies into the slot before a write and out of it after
 * a read completes.
 *
 * The backend is not trusted. Every response is checked (id in range and
 * outstanding, status known, reserved fields zero, length consistent with
 * the request); a violation, or a ring index out of range, breaks the
 * connection: the queue that sees it reports each outstanding request once
 * as failed with -EPROTO, later calls on any queue return -EPROTO, and
 * nothing is read from the rings again.
 *
 * Waiting: pvio_front_wait() polls the response ring for a while before it
 * sleeps on the doorbell, adapting the poll to how soon responses come,
 * while at most PVIO_FRONT_POLL_DEPTH requests are in flight (a request at
 * a time then costs no wake-up, at the price of CPU time while it waits);
 * see pvio_front_set_poll() and pvio_front_set_spin().
 *
 * Every function returns 0 or a positive count on success and a negative
 * errno on failure.
 */
#ifndef PVIO_FRONT_H
#define PVIO_FRONT_H

#include <stdbool.h>
#include <stdint.h>
#include <pvio/blk.h>

struct pvio_front;
struct pvio_front_queue;

/* By default pvio_front_wait() polls the response ring for between these
 * many microseconds before it sleeps, adapting to how soon responses come
 * (pvio_front_set_poll()), while at most PVIO_FRONT_POLL_DEPTH requests are
 * in flight; pvio_front_set_spin(q, 0) turns polling off. */
#define PVIO_FRONT_POLL_MIN_US 0u
#define PVIO_FRONT_POLL_MAX_US 200u
#define PVIO_FRONT_POLL_DEPTH 2u

struct pvio_front_opts {
	const char *socket_path; /* the backend's ivshmem socket */
	/* Queues the backend serves (its ivshmem vectors minus one, as QEMU's
	 * `vectors` property must match the server); 0 finds it out by trying
	 * 1, 2, ... until the server's vector count matches. */
	unsigned int num_queues;
	uint64_t features_wanted;   /* PVIO_BLK_F_*; accepted = wanted & offered */
	uint64_t features_required; /* missing from the offer: -EOPNOTSUPP */
	unsigned int queue_depth;   /* tags per queue; 0: as many as the device allows */
	/* Largest segment the library builds, in bytes; 0: the device's
	 * max_segment_size. Smaller values make large requests use more
	 * segments (and indirect tables), mostly for tests. */
	uint32_t max_seg_bytes;
	int timeout_ms;             /* connect and close handshakes; <= 0: 5000 */
	bool quiet;                 /* no error messages on stderr */
	/* How long the backend may be away (restarting) before outstanding and
	 * new requests fail with -ENOTCONN; 0: 60000. */
	int reconnect_ms;
	/* No response on a queue for this long while requests are outstanding
	 * counts as the backend gone; 0: 30000; < 0: never. */
	int io_timeout_ms;
};

/* A request to submit; host-endian. */
struct pvio_front_req {
	uint16_t op;        /* PVIO_BLK_OP_* */
	uint16_t flags;     /* PVIO_BLK_REQ_F_FUA, PVIO_BLK_REQ_F_UNMAP */
	uint64_t sector;    /* 512-byte sectors */
	uint32_t len;       /* bytes: READ/WRITE data; DISCARD/WRITE_ZEROES range;
			     * GET_ID buffer (>= PVIO_BLK_ID_BYTES); FLUSH 0 */
	void *buf;          /* caller memory to copy from/to; NULL: zero-copy */
	uint64_t user_data; /* returned in the completion */
};

/* A completed request. */
struct pvio_front_cqe {
	uint64_t user_data;
	int tag;
	int status;   /* PVIO_BLK_S_* (>= 0), or -EPROTO if the backend broke the
		       * connection before answering, or -ENOTCONN if it was
		       * away longer than opts.reconnect_ms */
	uint32_t len; /* bytes the backend reported */
};

/* What the backend offered and the library accepted; host-endian. */
struct pvio_front_info {
	uint64_t capacity;          /* 512-byte sectors */
	uint32_t logical_block_size;
	uint32_t max_transfer;      /* bytes per request the library accepts */
	uint32_t max_segments;
	uint32_t attrs;             /* PVIO_BLK_ATTR_* */
	uint64_t features_offered;
	uint64_t features;          /* accepted */
	unsigned int num_queues;
	unsigned int queue_depth;   /* tags per queue */
	uint32_t back_generation;   /* of the backend connected to now */
	int peer_id;                /* our ivshmem id */
	uint64_t reconnects;        /* backends connected to after the first */
	uint64_t replayed;          /* requests submitted again, all queues */
	bool connected;             /* false while the backend is away or down */
};

/* Per-queue counters. */
struct pvio_front_stats {
	uint64_t submitted;
	uint64_t completed;
	uint64_t doorbells_out; /* eventfd writes to the backend */
	uint64_t doorbells_in;  /* eventfd reads that found a doorbell */
	uint64_t publishes;     /* ring publishes (batches) */
	uint64_t replayed;      /* requests submitted again after a restart */
};

int pvio_front_connect(const struct pvio_front_opts *opts,
		       struct pvio_front **out);
int pvio_front_close(struct pvio_front *f);
void pvio_front_info(const struct pvio_front *f, struct pvio_front_info *info);
bool pvio_front_broken(const struct pvio_front *f);
const char *pvio_front_error(const struct pvio_front *f);

struct pvio_front_queue *pvio_front_queue(struct pvio_front *f, unsigned int q);
int pvio_front_tag_get(struct pvio_front_queue *q);
void pvio_front_tag_put(struct pvio_front_queue *q, int tag);
void *pvio_front_tag_buf(struct pvio_front_queue *q, int tag);
uint32_t pvio_front_buf_size(const struct pvio_front_queue *q);
unsigned int pvio_front_inflight(const struct pvio_front_queue *q);
int pvio_front_submit(struct pvio_front_queue *q, int tag,
		      const struct pvio_front_req *req);
int pvio_front_publish(struct pvio_front_queue *q);
int pvio_front_reap(struct pvio_front_queue *q, struct pvio_front_cqe *cqes,
		    unsigned int max);
int pvio_front_wait(struct pvio_front_queue *q, unsigned int min_ready,
		    int timeout_ms);
int pvio_front_fd(const struct pvio_front_queue *q);
void pvio_front_set_spin(struct pvio_front_queue *q, unsigned int usec);
void pvio_front_set_poll(struct pvio_front_queue *q, unsigned int min_usec,
			 unsigned int max_usec);
void pvio_front_stats(const struct pvio_front_queue *q,
		      struct pvio_front_stats *st);
int pvio_front_run(struct pvio_front_queue *q, const struct pvio_front_req *req,
		   int timeout_ms, struct pvio_front_cqe *cqe);

#endif /* PVIO_FRONT_H */
