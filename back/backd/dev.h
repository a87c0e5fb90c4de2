/* SPDX-License-Identifier: MIT */
/*
 * pvio-backd device: the server half of one exported block device (its
 * ivshmem server, its region and the handshake of include/pvio/region.h).
 * Every function here runs on the daemon's main thread.
 */
#ifndef BACKD_DEV_H
#define BACKD_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "backd.h"
#include "blk_proto.h"
#include "engine.h"
#include "handshake.h"
#include "ivshmem_server.h"
#include "region.h"

#define BACKD_DEV_MAX_EVENTS 16

struct backd_dev_opts {
	const char *path;
	const char *socket;
	bool ro;
	unsigned int queues;
	unsigned int depth;
	bool kernel;   /* --engine kernel: pvio_host.ko serves the IO */
};

struct backd_dev {
	char name[16];
	struct backd_dev_opts o;
	struct backd_poll_opts po;
	struct backd_store store;
	struct pvio_ivshmem_server *srv;
	/* Serialises the server between the main thread (its event loop) and
	 * the queue threads (ringing the frontend). */
	pthread_mutex_t srv_lock;
	struct pvio_region_hdr *hdr;
	uint64_t region_size;
	uint32_t ring_entries;
	uint64_t data_size;
	struct pvio_blk_config config;
	struct pvio_blk_limits lim;
	uint64_t offered;
	uint32_t generation;
	struct pvio_region_layout layout; /* as laid out: private, the engine's offsets */
	struct pvio_hs_back hs;           /* hs.state: our back.state, never read back */
	int peer;           /* the frontend's peer id, or -1 */
	int host_fd;        /* --engine kernel: /dev/pvio-back while serving, or -1 */
	struct backd_engine *eng;
	int broken;         /* set by queue threads */
	bool broken_seen;
	struct backd_ratelimit rl;
	/* Peer joins and leaves noted by the server callback, handled once
	 * the server lock is dropped (stopping the engine needs it free). */
	struct { int id; bool joined; } ev[BACKD_DEV_MAX_EVENTS];
	unsigned int nr_ev;
	struct backd_qstats stats[BACKD_MAX_QUEUES];
};

int backd_dev_open(struct backd_dev *d, unsigned int idx,
		   const struct backd_dev_opts *o,
		   const struct backd_poll_opts *po);
void backd_dev_close(struct backd_dev *d);
int backd_dev_server_fd(const struct backd_dev *d);
int backd_dev_control_fd(const struct backd_dev *d);
void backd_dev_handle_server(struct backd_dev *d);
void backd_dev_handle_control(struct backd_dev *d);
void backd_dev_print_stats(struct backd_dev *d);

/* kernel_engine.c: --engine kernel. */
int backd_kernel_open(struct backd_dev *d);
int backd_kernel_start(struct backd_dev *d);
void backd_kernel_stop(struct backd_dev *d);

#endif /* BACKD_DEV_H */
