/* SPDX-License-Identifier: MIT */
/*
 * pvio-backd IO engine: serves the queues of one connected block device.
 *
 * The narrow interface between the server half (dev.c) and the engine:
 * the server hands over where each queue's rings and data area are, the
 * eventfd the frontend rings for that queue, the validated limits and the
 * negotiated features, and two callbacks: ring the frontend's vector, and
 * report that the frontend broke the protocol. The engine knows nothing of
 * sockets, peers or the handshake; stopping it answers every request it
 * took and leaves the rings where a new engine can attach and continue.
 */
#ifndef BACKD_ENGINE_H
#define BACKD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <pvio/ring.h>

#include "backd.h"
#include "blk_proto.h"

struct backd_engine;

struct backd_engine_queue {
	struct pvio_ring_shared *req; /* request ring control block */
	struct pvio_ring_shared *rsp; /* response ring control block */
	uint32_t entries;             /* per ring */
	void *data;                   /* the queue's data area */
	uint64_t data_size;
	int doorbell_fd;              /* eventfd the frontend rings */
	unsigned int vector;          /* the frontend's vector to ring */
	struct backd_qstats *stats;   /* owned by the caller, outlives the engine */
};

struct backd_engine_cfg {
	const char *name;             /* device name for log lines */
	unsigned int nr_queues;
	struct backd_engine_queue q[BACKD_MAX_QUEUES];
	struct backd_store *store;
	struct pvio_blk_limits lim;
	uint64_t features;            /* accepted by the frontend */
	bool poll;                    /* spin instead of sleeping */
	unsigned int idle_poll_us;    /* look this long before sleeping... */
	unsigned int idle_poll_max_us; /* ...or up to this, adapting */
	unsigned int io_poll_max_us;  /* in-flight poll: up to this, adapting */
	struct backd_ratelimit *rl;   /* for peer-provoked log lines */
	/* Ring the frontend; called from queue threads. */
	void (*notify)(void *opaque, unsigned int vector);
	/* The frontend broke the protocol; called from queue threads, maybe
	 * more than once. */
	void (*broken)(void *opaque, const char *why);
	void *opaque;
};

int backd_engine_start(const struct backd_engine_cfg *cfg,
		       struct backd_engine **out);
void backd_engine_stop(struct backd_engine *e);

#endif /* BACKD_ENGINE_H */
