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
 * through theirs; except in driver-VM mode (backend_socket_path), where
 * that id belongs to the client of the backend socket. It knows nothing of what travels in the region: the IO
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

/* Called with the server's mapping of a region just created, before any
 * client sees it (at create time, and for each fresh region). */
typedef void pvio_ivshmem_region_fn(void *opaque, void *mem, uint64_t size);

/* Default mode of the socket file: the owner (and root) only. */
#define PVIO_IVSHMEM_SOCKET_MODE 0600u

struct pvio_ivshmem_server_opts {
	const char *socket_path; /* UNIX socket to listen on */
	uint64_t region_size;    /* bytes, power of two */
	unsigned int vectors;    /* doorbells per peer, 1..PVIO_IVSHMEM_MAX_VECTORS */
	unsigned int max_clients; /* 0: PVIO_IVSHMEM_DEFAULT_MAX_CLIENTS; 1: one frontend */
	/* Socket file mode (permission bits only); 0: PVIO_IVSHMEM_SOCKET_MODE.
	 * The file never exists with a wider mode, whatever the umask. */
	unsigned int socket_mode;
	bool set_group;           /* give the socket file group socket_gid */
	unsigned int socket_gid;
	/* Peer check (SO_PEERCRED): accept only clients running as root, as
	 * peer_uid, or with primary group peer_gid (when peer_gid_set);
	 * others are refused with a log line. */
	bool peer_check;
	unsigned int peer_uid;
	bool peer_gid_set;
	unsigned int peer_gid;
	/* Each client that connects while no other is connected gets a region
	 * and server eventfds of its own, new and zeroed, once the previous
	 * ones were handed out: a client that left keeps only mappings and
	 * fds that nobody uses any more (no revocation gap). Only with
	 * max_clients 1, where no other peer holds the old ones. */
	bool fresh_region;
	/* Driver-VM mode: a second socket whose one client (the backend, a
	 * driver VM's QEMU) gets peer id PVIO_IVSHMEM_SERVER_ID; the server is
	 * then no peer itself (announces no eventfds of its own), and clients
	 * of socket_path (frontends, max_clients of them) get the lowest free
	 * id from 1, so that the backend can name the frontend. Not with
	 * fresh_region: the backend keeps its mapping. */
	const char *backend_socket_path;
	pvio_ivshmem_log_fn *log; /* NULL: errors and warnings to stderr */
	pvio_ivshmem_peer_fn *on_peer; /* optional */
	pvio_ivshmem_region_fn *on_region; /* optional */
	void *opaque;             /* passed to log, on_peer and on_region */
};

int pvio_ivshmem_server_create(const struct pvio_ivshmem_server_opts *opts,
			       struct pvio_ivshmem_server **out);
void pvio_ivshmem_server_destroy(struct pvio_ivshmem_server *srv);

int pvio_ivshmem_server_fd(const struct pvio_ivshmem_server *srv);
int pvio_ivshmem_server_handle(struct pvio_ivshmem_server *srv);
int pvio_ivshmem_server_run(struct pvio_ivshmem_server *srv, int timeout_ms);

/* The region and the server's own eventfds are those of the current
 * session: with fresh_region they change when a client joins (read them
 * again in on_peer). */
void *pvio_ivshmem_server_mem(const struct pvio_ivshmem_server *srv);
uint64_t pvio_ivshmem_server_mem_size(const struct pvio_ivshmem_server *srv);
int pvio_ivshmem_server_mem_fd(const struct pvio_ivshmem_server *srv);
unsigned int pvio_ivshmem_server_vectors(const struct pvio_ivshmem_server *srv);
int pvio_ivshmem_server_vector_fd(const struct pvio_ivshmem_server *srv,
				  unsigned int vector);
int pvio_ivshmem_server_peer_vector_fd(const struct pvio_ivshmem_server *srv,
				       int peer_id, unsigned int vector);
uint64_t pvio_ivshmem_server_sessions(const struct pvio_ivshmem_server *srv);
unsigned int pvio_ivshmem_server_nr_clients(const struct pvio_ivshmem_server *srv);
bool pvio_ivshmem_server_has_peer(const struct pvio_ivshmem_server *srv,
				  int peer_id);
int pvio_ivshmem_server_notify(struct pvio_ivshmem_server *srv, int peer_id,
			       unsigned int vector);

#endif /* PVIO_IVSHMEM_SERVER_H */
