// SPDX-License-Identifier: MIT
/*
 * ivshmem_region - serve a pvio block region over the ivshmem server, for
 * guest tests of the ivshmem transport module (tests/suites/55-*).
 *
 * Usage: ivshmem_region [-m pvio|zero|corrupt|parked] [-s SIZE]
 *                       [-v VECTORS] [-p MS] [-l MS] SOCKET
 *
 *   -m pvio     a valid block region with one queue on vector 1 (default)
 *   -m zero     an all-zero region: not pvio's
 *   -m corrupt  a pvio region whose queue 0 data area lies past the end
 *   -m parked   the header a backend that is not ready yet leaves (magic,
 *               revision, back.state INITIALISING); laid out as "pvio"
 *               on the command "layout", or -l MS after the first peer
 *               joined
 *   -s SIZE     region bytes, power of two (default 1 MiB)
 *   -v VECTORS  doorbells per peer, the QEMU device's `vectors` (default 2)
 *   -p MS       while a peer is connected, ring its vector 1 every MS ms
 *               (default 200; 0 = never)
 *   -l MS       with -m parked: lay out MS ms after the first peer joined
 *
 * Prints "ready" once the socket listens, "peer N joined|left" as peers
 * come and go, "doorbell vector N" each time a peer rings the server's
 * vector N, and "laid out" when a parked region is. Reads commands from
 * stdin: "ring V" rings vector V of every connected peer; "layout" lays a
 * parked region out and rings vector 0. Runs until SIGTERM, SIGINT or
 * "quit".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ivshmem_server.h"
#include "pvio_compat.h"
#include "blk_proto.h"
#include "region.h"

#define MAX_PEERS 8

struct region_state {
	struct pvio_ivshmem_server *srv;
	int peers[MAX_PEERS];
	unsigned int nr_peers;
	bool layout_now; /* "layout" read: lay the parked region out */
};

static void region_log(void *opaque, int level, const char *msg)
{
	(void)opaque;
	printf("log %d: %s\n", level, msg);
	fflush(stdout);
}

static void region_peer(void *opaque, int id, bool joined)
{
	struct region_state *st = opaque;
	unsigned int i;

	printf("peer %d %s\n", id, joined ? "joined" : "left");
	fflush(stdout);
	if (joined) {
		if (st->nr_peers < MAX_PEERS)
			st->peers[st->nr_peers++] = id;
		return;
	}
	for (i = 0; i < st->nr_peers; i++) {
		if (st->peers[i] == id) {
			st->peers[i] = st->peers[--st->nr_peers];
			break;
		}
	}
}

static void ring_peers(struct region_state *st, unsigned int vector)
{
	unsigned int i;
	int ret;

	for (i = 0; i < st->nr_peers; i++) {
		ret = pvio_ivshmem_server_notify(st->srv, st->peers[i], vector);
		if (ret)
			printf("ring peer %d vector %u: %s\n", st->peers[i],
			       vector, strerror(-ret));
	}
}

static int lay_out(void *mem, uint64_t size, const char *mode)
{
	static struct pvio_blk_config cfg;
	struct pvio_region_params p = {
		.region_size = size, .dev_class = PVIO_CLASS_BLK,
		.num_queues = 1, .ring_entries = 64,
		.req_entry_size = sizeof(struct pvio_blk_req),
		.rsp_entry_size = sizeof(struct pvio_blk_rsp),
		.data_size = 64 * 1024, .generation = 1, .config = &cfg,
	};
	struct pvio_region_hdr *hdr = mem;
	int ret;

	if (!strcmp(mode, "zero"))
		return 0; /* the server's memfd starts zeroed */
	if (!strcmp(mode, "parked")) {
		pvio_region_park(mem, 0);
		return 0;
	}
	pvio_blk_config_from_limits(&(struct pvio_blk_limits){
		.capacity = 2048, .logical_block_size = 512,
		.physical_block_size = 4096, .max_segments = 16,
		.max_segment_size = 65536, .max_transfer_sectors = 128,
		.queue_depth = 32,
	}, &cfg);
	ret = pvio_region_layout(mem, &p, NULL);
	if (ret)
		return ret;
	if (!strcmp(mode, "corrupt"))
		hdr->queues[0].data_off = pvio_cpu_to_le64(size);
	else if (strcmp(mode, "pvio"))
		return -EINVAL;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One stdin command; returns 1 for quit. */
static int command(struct region_state *st, const char *line)
{
	unsigned int v;

	if (sscanf(line, "ring %u", &v) == 1) {
		ring_peers(st, v);
		return 0;
	}
	if (!strncmp(line, "quit", 4))
		return 1;
	if (!strncmp(line, "layout", 6)) {
		st->layout_now = true;
		return 0;
	}
	printf("unknown command: %s", line);
	return 0;
}

int main(int argc, char **argv)
{
	struct region_state st = { .nr_peers = 0 };
	struct pvio_ivshmem_server_opts o = {
		.region_size = 1u << 20, .vectors = 2, .max_clients = 1,
		.log = region_log, .on_peer = region_peer, .opaque = &st,
	};
	struct pollfd pfd[3 + PVIO_IVSHMEM_MAX_VECTORS];
	const char *mode = "pvio";
	int64_t period = 200, next, late_ms = 0, layout_at = 0;
	unsigned int i, nfd;
	bool stdin_open = true;
	char line[128];
	sigset_t sigs;
	int opt, ret, sfd;

	while ((opt = getopt(argc, argv, "m:s:v:p:l:")) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 's': o.region_size = strtoull(optarg, NULL, 0); break;
		case 'v': o.vectors = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'p': period = strtoll(optarg, NULL, 0); break;
		case 'l': late_ms = strtoll(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	o.socket_path = argv[optind];

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("signalfd");
		return 1;
	}
	ret = pvio_ivshmem_server_create(&o, &st.srv);
	if (ret) {
		fprintf(stderr, "ivshmem_region: server: %s\n", strerror(-ret));
		return 1;
	}
	ret = lay_out(pvio_ivshmem_server_mem(st.srv), o.region_size, mode);
	if (ret) {
		fprintf(stderr, "ivshmem_region: layout (%s): %s\n", mode, strerror(-ret));
		pvio_ivshmem_server_destroy(st.srv);
		return 1;
	}
	printf("ready mode %s size %" PRIu64 " vectors %u\n", mode,
	       o.region_size, o.vectors);
	fflush(stdout);

	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = pvio_ivshmem_server_fd(st.srv), .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	for (i = 0; i < o.vectors; i++)
		pfd[3 + i] = (struct pollfd){
			.fd = pvio_ivshmem_server_vector_fd(st.srv, i), .events = POLLIN };
	nfd = 3 + o.vectors;
	next = now_ms() + period;

	for (;;) {
		int64_t wait = period > 0 ? next - now_ms() : -1;
		int timeout = period > 0 ? (wait > 0 ? (int)wait : 0) : -1;

		if (!stdin_open)
			pfd[2].fd = -1;

		if (layout_at > 0) {
			int64_t left = layout_at - now_ms();
			int lt = left > 0 ? (int)left : 0;

			if (timeout < 0 || lt < timeout)
				timeout = lt;
		}
		if (poll(pfd, nfd, timeout) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			break;
		}
		if (pfd[0].revents)
			break;
		if (pfd[1].revents) {
			ret = pvio_ivshmem_server_handle(st.srv);
			if (ret) {
				fprintf(stderr, "ivshmem_region: %s\n", strerror(-ret));
				break;
			}
			if (!strcmp(mode, "parked") && late_ms > 0 &&
			    !layout_at && st.nr_peers)
				layout_at = now_ms() + late_ms;
		}
		if (stdin_open && pfd[2].revents) {
			if (!fgets(line, sizeof(line), stdin))
				stdin_open = false;
			else if (command(&st, line))
				break;
		}
		if (st.layout_now || (layout_at > 0 && now_ms() >= layout_at)) {
			st.layout_now = false;
			layout_at = -1;
			ret = lay_out(pvio_ivshmem_server_mem(st.srv),
				      o.region_size, "pvio");
			printf(ret ? "layout failed\n" : "laid out\n");
			ring_peers(&st, 0);
		}
		for (i = 0; i < o.vectors; i++) {
			uint64_t cnt;

			if (!pfd[3 + i].revents)
				continue;
			if (read(pfd[3 + i].fd, &cnt, sizeof(cnt)) == sizeof(cnt))
				printf("doorbell vector %u\n", i);
		}
		fflush(stdout);
		if (period > 0 && now_ms() >= next) {
			if (o.vectors > 1)
				ring_peers(&st, 1);
			next = now_ms() + period;
		}
	}
	pvio_ivshmem_server_destroy(st.srv);
	printf("stopped\n");
	return 0;

usage:
	fprintf(stderr, "usage: %s [-m pvio|zero|corrupt|parked] [-s SIZE] [-v VECTORS] [-p MS] [-l MS] SOCKET\n",
		argv[0]);
	return 2;
}
