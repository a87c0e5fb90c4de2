// SPDX-License-Identifier: MIT
/*
 * ivshmem_serve - serve one region with the pvio ivshmem server, for
 * integration tests that attach stock QEMU or another client to it.
 *
 * Usage: ivshmem_serve SOCKET SIZE VECTORS [MAX_CLIENTS]
 *
 * Fills the region with a known pattern (region_pattern() at every 8-byte
 * word), prints "listening" once the socket accepts connections and a line
 * per peer joining or leaving, and runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ivshmem_server.h"

static void serve_log(void *opaque, int level, const char *msg)
{
	(void)opaque;
	printf("log %d: %s\n", level, msg);
	fflush(stdout);
}

static void serve_peer(void *opaque, int id, bool joined)
{
	(void)opaque;
	printf("peer %d %s\n", id, joined ? "joined" : "left");
	fflush(stdout);
}

/* The value a client expects at byte offset @off of the region. */
static uint64_t region_pattern(uint64_t off)
{
	return 0x5056494f00000000ull ^ (off * 0x9e3779b97f4a7c15ull);
}

int main(int argc, char **argv)
{
	struct pvio_ivshmem_server_opts o = {
		.log = serve_log, .on_peer = serve_peer,
	};
	struct pvio_ivshmem_server *srv;
	struct pollfd pfd[2];
	uint64_t *mem, off;
	sigset_t sigs;
	int ret, sfd;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s SOCKET SIZE VECTORS [MAX_CLIENTS]\n", argv[0]);
		return 2;
	}
	o.socket_path = argv[1];
	o.region_size = strtoull(argv[2], NULL, 0);
	o.vectors = (unsigned int)strtoul(argv[3], NULL, 0);
	o.max_clients = argc == 5 ? (unsigned int)strtoul(argv[4], NULL, 0) : 0;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("signalfd");
		return 1;
	}

	ret = pvio_ivshmem_server_create(&o, &srv);
	if (ret) {
		fprintf(stderr, "ivshmem_serve: %s\n", strerror(-ret));
		return 1;
	}
	mem = pvio_ivshmem_server_mem(srv);
	for (off = 0; off < o.region_size; off += 8)
		mem[off / 8] = region_pattern(off);
	printf("listening size %" PRIu64 " vectors %u\n", o.region_size, o.vectors);
	fflush(stdout);

	pfd[0] = (struct pollfd){ .fd = pvio_ivshmem_server_fd(srv), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents) {
			ret = pvio_ivshmem_server_handle(srv);
			if (ret) {
				fprintf(stderr, "ivshmem_serve: %s\n", strerror(-ret));
				break;
			}
		}
	}
	pvio_ivshmem_server_destroy(srv);
	printf("stopped\n");
	return 0;
}
