/* SPDX-License-Identifier: MIT */
/*
 * pvio-backd region server: the long-lived half of one exported device.
 * It owns what QEMU cannot reconnect to if it went away (the ivshmem
 * socket, the region memfd, every doorbell eventfd) and never touches IO:
 * it writes nothing of the region but the parked header of a fresh one.
 * Each device's IO runs in an engine process of its own (dev.c), which
 * the server forks, hands the current session (chan.h) and starts again
 * when it dies; the frontend sees a stall and replays what was lost
 * (include/pvio/region.h, "Backend restart").
 *
 * Sessions: each frontend that connects gets a region and server
 * eventfds of its own (pvio_ivshmem_server_opts.fresh_region), so one that
 * left keeps nothing the next one uses.
 *
 * Driver-VM devices (--driver-vm) have no engine and no store: a driver
 * VM's QEMU connects to a second socket as peer 0, the backend, and its
 * kernel serves the region (pvblkback over pvio_ivshmem's backend role);
 * the frontend is peer 1. The server then only stands in for a side that
 * left (srv_relay_event()).
 *
 * Every function here runs on the region server's only thread.
 */
#ifndef BACKD_SERVER_H
#define BACKD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backd.h"
#include "dev.h"
#include "ivshmem_server.h"

#define BACKD_SRV_MAX_EVENTS 16
/* An engine that dies sooner than this after its start is restarted
 * after a pause that doubles each time, from BACKD_RESTART_MIN_MS up to
 * BACKD_RESTART_MAX_MS; one that lived longer is restarted at once. */
#define BACKD_RESTART_QUICK_MS 1000
#define BACKD_RESTART_MIN_MS 50
#define BACKD_RESTART_MAX_MS 5000
/* How long an orderly stop waits for an engine to finish before SIGKILL. */
#define BACKD_STOP_TIMEOUT_MS 30000
/* How long a starting daemon waits for a store that is still locked (a
 * daemon that was just stopped, whose last IO the kernel is retiring)
 * before it takes the lock for another daemon's and refuses; and how long
 * a stopping one waits for its engines' IO to let go of the store, so
 * that once pvio-backd has exited the store is free. */
#define BACKD_START_FENCE_MS 5000u
#define BACKD_EXIT_FENCE_MS 10000u

/* Socket options, the same for every device. */
struct backd_socket_opts {
	unsigned int mode;      /* 0: 0600 */
	bool set_group;
	unsigned int gid;
	bool peer_check;
	unsigned int peer_uid;
	bool peer_gid_set;
	unsigned int peer_gid;
};

struct backd_srv {
	char name[16];
	unsigned int idx;
	struct backd_dev_opts o;
	struct backd_poll_opts po;
	uint64_t region_size;
	unsigned int nvec;
	struct pvio_ivshmem_server *srv;
	struct backd_ratelimit rl;
	/* Session lines (join, leave, connect, close): their own limit, so
	 * that connect/close cycling cannot hide the lines about bad IO. */
	struct backd_ratelimit sess_rl;
	int peer;              /* the frontend's peer id, or -1 */
	uint64_t session;      /* its session number */
	uint32_t gen;          /* highest generation an engine published */
	pid_t pid;             /* engine process, or 0 */
	int chan;              /* our end of its channel, or -1 */
	bool chan_failed;      /* a send to it failed: it is being killed */
	long long started_ms;  /* when it was started */
	long long restart_ms;  /* when to start the next one; 0: not due */
	unsigned int backoff_ms;
	unsigned int restarts; /* engines started after the first */
	bool stopping;
	bool backend_up;       /* --driver-vm: the driver VM is connected */
	struct { int id; bool joined; } ev[BACKD_SRV_MAX_EVENTS];
	unsigned int nr_ev;
};

int backd_srv_open(struct backd_srv *s, unsigned int idx,
		   const struct backd_dev_opts *o,
		   const struct backd_poll_opts *po,
		   const struct backd_socket_opts *so);
void backd_srv_close(struct backd_srv *s);
void backd_srv_handle(struct backd_srv *s);
void backd_srv_handle_chan(struct backd_srv *s);
bool backd_srv_reaped(struct backd_srv *s, pid_t pid, int status);
void backd_srv_tick(struct backd_srv *s, long long now_ms);
int backd_srv_start_engine(struct backd_srv *s);
void backd_srv_signal(struct backd_srv *s, int sig);
long long backd_now_ms(void);
void backd_srv_set_epoll(int ep);

#endif /* BACKD_SERVER_H */
