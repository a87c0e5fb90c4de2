/* SPDX-License-Identifier: MIT */
/*
 * pvio-backd: the channel between the region server (the supervisor
 * process, server.c) and one device's engine process (dev.c). A
 * SOCK_SEQPACKET socketpair; each message is one struct backd_msg, with
 * the session's descriptors attached to SESSION messages (SCM_RIGHTS).
 *
 * Supervisor to engine:
 *   SESSION  a frontend is attached: fds are the region memfd, then the
 *            backend's eventfds (what the frontend rings, @nvec of them),
 *            then the frontend's (what the engine rings, @nvec). @fresh
 *            says the region is new (a new frontend session: zeroed but
 *            for the parked header); otherwise an engine that died left
 *            it and the frontend is still there (the new engine lays it
 *            out again with a new generation, region.h "Backend restart").
 *   END      the frontend of session @session left; stop serving it.
 * Engine to supervisor:
 *   GEN      the engine published generation @gen (so that the next
 *            engine of this device starts above it).
 * Both sides trust each other (one program); the peer they serve is not.
 */
#ifndef BACKD_CHAN_H
#define BACKD_CHAN_H

#include <stdbool.h>
#include <stdint.h>

#include <pvio/region.h>

enum backd_msg_type {
	BACKD_MSG_SESSION = 1,
	BACKD_MSG_END = 2,
	BACKD_MSG_GEN = 3,
};

/* Descriptors a SESSION carries: memfd + two per vector. */
#define BACKD_CHAN_MAX_FDS (1 + 2 * (PVIO_MAX_QUEUES + 1))
/* How long either side waits for the other to take a message (each end
 * sets it as SO_SNDTIMEO); a side that does not is stuck. */
#define BACKD_CHAN_SEND_TIMEOUT_MS 1000

struct backd_msg {
	uint32_t type;     /* enum backd_msg_type */
	int32_t peer;      /* the frontend's ivshmem peer id */
	uint64_t session;  /* the server's session number */
	uint64_t region_size;
	uint32_t nvec;     /* vectors: queues + 1 */
	uint32_t gen;      /* SESSION: generation to start above; GEN: published */
	uint32_t fresh;    /* SESSION: 1 for a new region */
	uint32_t pad;
};

int backd_chan_bound_sends(int sock);
int backd_chan_send(int sock, const struct backd_msg *m, const int *fds,
		    unsigned int nfds);
int backd_chan_recv(int sock, struct backd_msg *m, int *fds,
		    unsigned int max_fds, unsigned int *nfds);

#endif /* BACKD_CHAN_H */
