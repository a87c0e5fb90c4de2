/* SPDX-License-Identifier: MIT */
/*
 * pvio ivshmem client: the peer side of QEMU's ivshmem server protocol,
 * doing what QEMU's ivshmem-doorbell device does, for pvio's userspace
 * frontend and for tests.
 *
 * Connecting reads, in order, the protocol version (must be 0), the
 * client's own id, the region (mapped read-write, size from fstat), the
 * other peers' eventfds and finally the client's own eventfds; it returns
 * once all `vectors` own eventfds have arrived. Later announcements (peers
 * joining or leaving) are read by pvio_ivshmem_client_handle() whenever
 * pvio_ivshmem_client_fd() is readable.
 *
 * The server is not trusted: every message is checked (value range, an fd
 * where one is required and none where none is, at most one fd per message,
 * fds of the expected kind, vector counts within the limit). A violation
 * returns -EPROTO with a logged reason and leaves the client broken: every
 * later call of pvio_ivshmem_client_handle() returns the same error.
 *
 * Not thread-safe; one thread at a time per client.
 */
#ifndef PVIO_IVSHMEM_CLIENT_H
#define PVIO_IVSHMEM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PVIO_IVSHMEM_LOG_FN_DEFINED
#define PVIO_IVSHMEM_LOG_FN_DEFINED
/* Log sink; @level is a syslog level (LOG_ERR, LOG_WARNING, LOG_INFO). */
typedef void pvio_ivshmem_log_fn(void *opaque, int level, const char *msg);
#endif

/* Peers (besides itself) a client keeps track of; more is a protocol error. */
#define PVIO_IVSHMEM_CLIENT_MAX_PEERS 64u

struct pvio_ivshmem_client;

struct pvio_ivshmem_client_opts {
	const char *socket_path; /* for pvio_ivshmem_client_connect() */
	unsigned int vectors;    /* the device's vectors, 1..256: own eventfds awaited, per-peer limit */
	int timeout_ms;          /* bound on the connect handshake; <= 0: 5000 */
	pvio_ivshmem_log_fn *log; /* NULL: errors to stderr */
	void *opaque;
};

int pvio_ivshmem_client_connect(const struct pvio_ivshmem_client_opts *opts,
				struct pvio_ivshmem_client **out);
int pvio_ivshmem_client_attach(int sock,
			       const struct pvio_ivshmem_client_opts *opts,
			       struct pvio_ivshmem_client **out);
void pvio_ivshmem_client_close(struct pvio_ivshmem_client *c);

int pvio_ivshmem_client_fd(const struct pvio_ivshmem_client *c);
int pvio_ivshmem_client_handle(struct pvio_ivshmem_client *c);

int pvio_ivshmem_client_id(const struct pvio_ivshmem_client *c);
void *pvio_ivshmem_client_mem(const struct pvio_ivshmem_client *c);
uint64_t pvio_ivshmem_client_mem_size(const struct pvio_ivshmem_client *c);
int pvio_ivshmem_client_vector_fd(const struct pvio_ivshmem_client *c,
				  unsigned int vector);
unsigned int pvio_ivshmem_client_peer_vectors(const struct pvio_ivshmem_client *c,
					      int peer_id);
int pvio_ivshmem_client_notify(struct pvio_ivshmem_client *c, int peer_id,
			       unsigned int vector);

#endif /* PVIO_IVSHMEM_CLIENT_H */
