/* SPDX-License-Identifier: MIT */
/*
 * pvio-backd device, engine side: one exported block or network device as
 * its engine process sees it. The region server (server.c) hands it a session (the
 * region memfd and both sides' doorbell eventfds, chan.h) when a frontend
 * is attached; the device lays the region out, runs the handshake of
 * include/pvio/region.h and starts the IO engine (engine.c, or the kernel
 * through kernel_engine.c). The engine process may die at any time: the
 * server keeps the region, the eventfds and the socket, and the next
 * engine process takes the session over (region.h, "Backend restart").
 *
 * Every function here runs on the engine process's main thread, except
 * the two engine callbacks (notify, broken), which queue threads call.
 */
#ifndef BACKD_DEV_H
#define BACKD_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backd.h"
#include "blk_proto.h"
#include "chan.h"
#include "engine.h"
#include "handshake.h"
#include "net_engine.h"
#include "net_proto.h"
#include "region.h"

/* How long a new engine waits for the store's lock (backd_store_fence()). */
#define BACKD_FENCE_TIMEOUT_MS 60000u

struct backd_dev_opts {
	const char *path;
	const char *socket;
	bool ro;
	unsigned int queues;
	unsigned int depth;
	bool kernel;   /* --engine kernel: pvio_host.ko serves the IO */
	/* --driver-vm BSOCK: no store here, a driver VM's QEMU connects to
	 * BSOCK and serves the region (server.c); region_mb sizes it. */
	const char *driver_vm;
	unsigned int region_mb;
	/* --net tap=IFNAME[,...]: a network device on a TAP interface
	 * (net_engine.h); @queues is then 2 * @pairs, the region's queues. */
	bool net;
	const char *tap;
	unsigned char mac[6];
	bool mac_set;
	unsigned int mtu;
	unsigned int pairs;
	bool gso_off;  /* gso=off: no segmentation offloads, no RX_MERGE */
};

struct backd_dev {
	char name[16];
	struct backd_dev_opts o;
	struct backd_poll_opts po;
	struct backd_store store;
	uint64_t region_size;
	uint32_t ring_entries;
	uint64_t data_size;
	struct pvio_blk_config config;
	struct pvio_blk_limits lim;
	uint64_t offered;
	/* --net: the TAP, the network config and its limits (status is
	 * the TAP's link as last published). */
	struct backd_tap tap;
	bool tap_open;
	struct pvio_net_config net_config;
	struct pvio_net_limits net_lim;
	struct backd_net_engine *net_eng;

	/* The session; engine process only. sess_lock orders the main
	 * thread's changes of @peer and @call_fd against queue threads
	 * ringing the frontend. */
	pthread_mutex_t sess_lock;
	int chan;           /* to the region server */
	bool have_session;
	bool fresh;         /* the session's region was new */
	int peer;           /* the frontend's peer id, or -1 */
	uint64_t session;
	int mem_fd;
	struct pvio_region_hdr *hdr; /* mapped session region, or NULL */
	unsigned int nvec;
	int kick_fd[PVIO_MAX_QUEUES + 1]; /* the frontend rings these */
	int call_fd[PVIO_MAX_QUEUES + 1]; /* we ring these */
	uint32_t generation; /* last published (or to start above) */
	struct pvio_region_layout layout; /* as laid out: private, the engine's offsets */
	struct pvio_hs_back hs;           /* hs.state: our back.state, never read back */
	int host_fd;        /* --engine kernel: /dev/pvio-back while serving, or -1 */
	struct backd_engine *eng;
	int broken;         /* set by queue threads */
	bool broken_seen;
	struct backd_ratelimit rl;
	/* Session lines (join, leave, connect, close): their own limit, so
	 * that connect/close cycling cannot hide the lines about bad IO. */
	struct backd_ratelimit sess_rl;
	/* Engine starts allowed now (a token bucket, refilled one per
	 * DEV_START_EVERY_MS up to DEV_START_BURST): each start costs a
	 * thread and an io_uring per queue, and a frontend cycling
	 * connect/close would otherwise pay that at will. */
	unsigned int start_tokens;
	long long start_refill_ms;
	/* Control doorbells handled in this tick; past DEV_CTL_BURST the
	 * doorbell is not watched until the next tick. */
	unsigned int ctl_events;
	bool ctl_paused;
	struct backd_qstats stats[BACKD_MAX_QUEUES];
};

/* Both processes: open and check the store, derive config and geometry. */
int backd_dev_prepare(struct backd_dev *d, unsigned int idx,
		      const struct backd_dev_opts *o,
		      const struct backd_poll_opts *po);
void backd_dev_unprepare(struct backd_dev *d);

/* The engine process: serve sessions from @chan until told to stop. */
int backd_dev_engine_main(const struct backd_dev_opts *o,
			  const struct backd_poll_opts *po, unsigned int idx,
			  int chan);

/* kernel_engine.c: --engine kernel. */
int backd_kernel_check(const char *name);
int backd_kernel_start(struct backd_dev *d);
void backd_kernel_stop(struct backd_dev *d);

#endif /* BACKD_DEV_H */
