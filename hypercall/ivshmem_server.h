/* SPDX-License-Identifier: MIT */
/*
 * pvio ivshmem server: hands one shared region and its doorbells to peers
 * over QEMU's ivshmem server protocol (DESIGN.md, "Facts about the ivshmem
 * server protocol"), to QEMU's ivshmem-doorbell device and to pvio's own
 * userspace frontend alike.
 *
 * The server is itself a peer: it has an id (PVIO_IVSHMEM_SERVER_ID) and one
 * eventfd per vector, announced to every client like any other peer, so the
 * backend that embeds the server is rung through them and rings clients
 * through theirs. It knows nothing of what travels in the region: the IO
 * engine that uses it can be torn down and restarted while the region, the
 * eventfds and the socket stay up.
 *
 * Event loop: everything the server waits on (the listening socket and one
 * socket per connected peer) sits behind a single epoll descriptor,
 * pvio_ivshmem_server_fd(). The caller adds that one fd to its own loop
 * (poll, epoll or io_uring) and calls pvio_ivshmem_server_handle() when it
 * is readable; pvio_ivshmem_server_run() is a poll()-based helper for
 * callers without a loop. Nothing blocks except the sends to a peer, which
 * are bounded by a send timeout (a peer that does not read its socket is
 * dropped).
 *
 * A connection over the client limit gets PVIO_IVSHMEM_REFUSED in place of
 * the version and is closed: QEMU then fails to create the device with a
 * version error, where a bare close would leave QEMU 7.2 spinning.
 *
 * The server's vector count must equal the `vectors` property of every
 * QEMU device that connects: QEMU refuses more eventfds than it has vectors.
 *
 * Not thread-safe: every call on one server, pvio_ivshmem_server_notify()
 * included, comes from one thread at a time.
 */
#ifndef PVIO_IVSHMEM_SERVER_H
#define PVIO_IVSHMEM_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PVIO_IVSHMEM_LOG_FN_DEFINED
#define PVIO_IVSHMEM_LOG_FN_DEFINED
/* Log sink; @level is a syslog level (LOG_ERR, LOG_WARNING, LOG_INFO). */
typedef void pvio_ivshmem_log_fn(void *opaque, int level, const char *msg);
#endif

/* Protocol constants shared by server and client. */
#define PVIO_IVSHMEM_PROTOCOL_VERSION 0
#define PVIO_IVSHMEM_MEM_MSG (-1)
/* Sent instead of the version to a connection the server turns away (over
 * its client limit); QEMU fails with "server sent version -2". */
#define PVIO_IVSHMEM_REFUSED (-2)
#define PVIO_IVSHMEM_MAX_PEER_ID 65535
/* The doorbell register carries the low 8 bits of a vector. */
#define PVIO_IVSHMEM_MAX_VECTORS 256u
/* The id the server gives itself; clients get 1..PVIO_IVSHMEM_MAX_PEER_ID. */
#define PVIO_IVSHMEM_SERVER_ID 0
/* Bound on clients when max_clients is 0, and on a send to one client. */
#define PVIO_IVSHMEM_DEFAULT_MAX_CLIENTS 64u
#define PVIO_IVSHMEM_SEND_TIMEOUT_MS 2000

struct pvio_ivshmem_server;

/* Called after a client joined (@joined true) or left. */
typedef void pvio_ivshmem_peer_fn(void *opaque, int peer_id, bool joined);

struct pvio_ivshmem_server_opts {
	const char *socket_path; /* UNIX socket to listen on */
	uint64_t region_size;    /* bytes, power of two */
	unsigned int vectors;    /* doorbells per peer, 1..PVIO_IVSHMEM_MAX_VECTORS */
	unsigned int max_clients; /* 0: PVIO_IVSHMEM_DEFAULT_MAX_CLIENTS; 1: one frontend */
	pvio_ivshmem_log_fn *log; /* NULL: errors and warnings to stderr */
	pvio_ivshmem_peer_fn *on_peer; /* optional */
	void *opaque;             /* passed to log and on_peer */
};

int pvio_ivshmem_server_create(const struct pvio_ivshmem_server_opts *opts,
			       struct pvio_ivshmem_server **out);
void pvio_ivshmem_server_destroy(struct pvio_ivshmem_server *srv);

int pvio_ivshmem_server_fd(const struct pvio_ivshmem_server *srv);
int pvio_ivshmem_server_handle(struct pvio_ivshmem_server *srv);
int pvio_ivshmem_server_run(struct pvio_ivshmem_server *srv, int timeout_ms);

void *pvio_ivshmem_server_mem(const struct pvio_ivshmem_server *srv);
uint64_t pvio_ivshmem_server_mem_size(const struct pvio_ivshmem_server *srv);
int pvio_ivshmem_server_mem_fd(const struct pvio_ivshmem_server *srv);
unsigned int pvio_ivshmem_server_vectors(const struct pvio_ivshmem_server *srv);
int pvio_ivshmem_server_vector_fd(const struct pvio_ivshmem_server *srv,
				  unsigned int vector);
int pvio_ivshmem_server_peer_vector_fd(const struct pvio_ivshmem_server *srv,
				       int peer_id, unsigned int vector);
unsigned int pvio_ivshmem_server_nr_clients(const struct pvio_ivshmem_server *srv);
bool pvio_ivshmem_server_has_peer(const struct pvio_ivshmem_server *srv,
				  int peer_id);
int pvio_ivshmem_server_notify(struct pvio_ivshmem_server *srv, int peer_id,
			       unsigned int vector);

#endif /* PVIO_IVSHMEM_SERVER_H */
