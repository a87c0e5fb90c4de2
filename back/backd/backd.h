/* SPDX-License-Identifier: MIT */
/*
 * pvio-backd: the userspace block and network backend daemon; pieces
 * shared by its files. Each device has two halves that meet only through
 * the narrow interface of engine.h (net_engine.h for network devices):
 *   dev.c     the server half: the ivshmem server (region, eventfds,
 *             socket), the region layout and the connection handshake;
 *             it lives as long as the daemon;
 *   engine.c  the IO engine: one thread and one io_uring per queue; it is
 *             started when a frontend connects and stopped when it leaves,
 *             and could be restarted without the frontend noticing.
 * net_engine.c serves a network device's queue pairs against a TAP
 * interface (one thread per pair) and opens that TAP.
 * store.c opens the backing file or block device, store_nbd.c an NBD
 * export; log.c logs.
 */
#ifndef BACKD_H
#define BACKD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <pvio/blk.h>

#define BACKD_MAX_QUEUES 32u
#define BACKD_MAX_DEPTH 4096u
#define BACKD_DEFAULT_DEPTH 64u
/* How long an IO thread keeps looking at an emptied request ring before it
 * sleeps on the doorbell (--idle-poll-us). A frontend that submits again
 * within it needs no doorbell; see the option's help for the trade-off. */
#define BACKD_DEFAULT_IDLE_POLL_US 50u
/* The idle poll adapts up to this (--idle-poll-max-us); see engine.c. */
#define BACKD_DEFAULT_IDLE_POLL_MAX_US 200u
#define BACKD_MAX_IDLE_POLL_US 10000u
/* Longest look for completions while IO is in flight (--io-poll-max-us);
 * the window adapts from 0 up to it, see engine.c. */
#define BACKD_DEFAULT_IO_POLL_MAX_US 200u

/* How IO threads wait for work; the same for every device. */
struct backd_poll_opts {
	bool spin;                /* --poll: never sleep */
	unsigned int idle_us;     /* --idle-poll-us: shortest idle poll */
	unsigned int idle_max_us; /* --idle-poll-max-us: longest, >= idle_us */
	unsigned int io_max_us;   /* --io-poll-max-us: longest in-flight poll */
};
#define BACKD_MAX_SEGS 32u
#define BACKD_SEG_BYTES (128u * 1024u)
#define BACKD_MAX_TRANSFER_SECTORS 256u
#define BACKD_MIN_STORE_BYTES (1ull << 20)

/* Log lines about one peer's misbehaviour allowed per second per device. */
#define BACKD_PEER_LOG_BURST 10u

void backd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void backd_notify(const char *state);

/* Rate limit for messages a hostile peer can provoke at will. */
struct backd_ratelimit {
	pthread_mutex_t lock;
	uint64_t window_ns;
	unsigned int count;
	unsigned long suppressed;
};

void backd_ratelimit_init(struct backd_ratelimit *rl);
void backd_ratelimit_destroy(struct backd_ratelimit *rl);
void backd_log_peer(struct backd_ratelimit *rl, const char *dev,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* What a backing store can do beyond reads and writes (backd_store.caps). */
#define BACKD_STORE_FLUSH   0x1u /* has a write cache that FLUSH empties */
#define BACKD_STORE_FUA     0x2u /* forced unit access on writes */
#define BACKD_STORE_DISCARD 0x4u
#define BACKD_STORE_ZERO    0x8u /* zeroes a range without a data transfer */

struct backd_nbd;

/* The backing store of one device: a file or block device (fd), or an
 * NBD export (nbd, see store_nbd.h). */
struct backd_store {
	const char *path;
	int fd;       /* -1 for an NBD export */
	bool ro;
	bool is_blk;  /* block device: BLKDISCARD, sizes from ioctls */
	bool direct;  /* opened with O_DIRECT */
	unsigned int caps;        /* BACKD_STORE_* */
	struct backd_nbd *nbd;    /* NBD export, else NULL */
	unsigned int nbd_conns;   /* its connections: the queues it can serve */
	uint64_t size; /* bytes */
	uint32_t lbs;  /* logical block size */
	uint32_t pbs;  /* physical block size */
	char id[PVIO_BLK_ID_BYTES]; /* GET_ID answer, zero padded */
};

int backd_store_open(struct backd_store *st, const char *name,
		     const char *path, bool ro, unsigned int queues);
int backd_store_flush(struct backd_store *st);
/* Engine processes set it: the store's notices were given at start-up. */
extern bool backd_store_quiet;
int backd_store_fence(struct backd_store *st, const char *name,
		      unsigned int timeout_ms);
void backd_store_close(struct backd_store *st);

/* Per-queue counters; updated by the queue's thread with relaxed atomics
 * and read by the main thread for printing. */
struct backd_qstats {
	uint64_t requests;
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t errors;
	uint64_t doorbells_in;
	uint64_t doorbells_out;
	uint64_t io_sleeps;   /* slept with IO in flight: the poll ran out or is off */
};

static inline void backd_stat_add(uint64_t *ctr, uint64_t v)
{
	__atomic_fetch_add(ctr, v, __ATOMIC_RELAXED);
}

static inline uint64_t backd_stat_get(const uint64_t *ctr)
{
	return __atomic_load_n(ctr, __ATOMIC_RELAXED);
}

#endif /* BACKD_H */
