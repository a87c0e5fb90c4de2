// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the ivshmem server (hypercall/ivshmem_server.c) against
 * hostile clients. Peers only listen in QEMU's protocol, so whatever a
 * client writes is noise: the server must discard it, drop the client
 * when it goes away, and keep serving the others; never crash, hang or
 * lose count.
 *
 * One server for the whole run (created at start-up, as pvio-backd does):
 * 2 vectors, at most 3 clients, so the refusal path is fuzzed too.
 *
 * Input: operations, one byte each followed by its operands:
 *   op % 7: 0 connect a new client (up to 6 sockets); 1 client op >> 3
 *   writes 1 + (next byte % 64) bytes of input; 2 it writes one byte
 *   with an eventfd attached; 3 it shuts its writing side down; 4 it
 *   closes; 5 and 6 the server handles what is pending.
 * Every client reads (and discards, closing any fd) all the server sent
 * it after every step, as QEMU would, so no send of the server waits.
 *
 * At the end every client closes; within a bounded number of
 * pvio_ivshmem_server_handle() calls the server must count no clients
 * and have announced as many departures as arrivals, and a new client
 * must still get version 0, an id and the memory fd.
 */
#include "fuzz_common.h"
#include "ivshmem_server.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SV_CLIENTS 6

static struct pvio_ivshmem_server *srv;
static char sock_path[108];
static int joined, left, efd;

static void quiet(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

static void on_peer(void *opaque, int peer_id, bool join)
{
	(void)opaque;
	FZ_ASSERT(peer_id >= 0 && peer_id <= PVIO_IVSHMEM_MAX_PEER_ID);
	if (join)
		joined++;
	else
		left++;
}

static void remove_socket(void)
{
	if (srv)
		pvio_ivshmem_server_destroy(srv);
	unlink(sock_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/**
 * LLVMFuzzerInitialize() - set up what every input shares (libFuzzer hook).
 * @argc: unused
 * @argv: unused
 *
 * Context: process, once, before the first input.
 * Return: 0; aborts if the set-up fails.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pvio_ivshmem_server_opts o = {
		.region_size = 65536,
		.vectors = 2,
		.max_clients = 3,
		.log = quiet,
		.on_peer = on_peer,
	};

	(void)argc;
	(void)argv;
	snprintf(sock_path, sizeof(sock_path), "/tmp/pvio-fuzz-srv.%d.sock",
		 (int)getpid());
	unlink(sock_path);
	o.socket_path = sock_path;
	if (pvio_ivshmem_server_create(&o, &srv))
		abort();
	atexit(remove_socket);
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		abort();
	return 0;
}

static void handle(void);

/*
 * A connection the server has not accepted yet waits in the listen
 * backlog, even once its client closed; with the backlog full, connect()
 * fails with EAGAIN until the server accepts. A server that still does not
 * after many handle() calls has stopped serving.
 */
static int connect_client(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int i, ret = -1;

	FZ_ASSERT(s >= 0);
	memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
	for (i = 0; i < 100; i++) {
		ret = connect(s, (struct sockaddr *)&a, sizeof(a));
		if (ret == 0 || errno != EAGAIN)
			break;
		handle();
	}
	if (ret)
		fprintf(stderr, "connect: %s\n", strerror(errno));
	FZ_ASSERT(ret == 0);
	return s;
}

/* Read one message (value and fd) if there is one; returns bytes read. */
static ssize_t recv_one(int s, int64_t *val, int *fd)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = val, .iov_len = sizeof(*val) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	n = recvmsg(s, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	for (cm = CMSG_FIRSTHDR(&msg); n >= 0 && cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t k, nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (k = 0; k < nfd; k++) {
			int x;

			memcpy(&x, CMSG_DATA(cm) + k * sizeof(int), sizeof(x));
			if (*fd < 0)
				*fd = x;
			else
				close(x);
		}
	}
	return n;
}

static void drain(int s)
{
	int64_t v;
	int fd;

	while (recv_one(s, &v, &fd) > 0)
		if (fd >= 0)
			close(fd);
	/* EOF, EAGAIN or an error: nothing more now. */
}

static void handle(void)
{
	FZ_ASSERT(pvio_ivshmem_server_handle(srv) == 0);
	FZ_ASSERT(pvio_ivshmem_server_nr_clients(srv) <= 3);
}

static void send_with_fd(int s, __u8 byte)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memset(&ctl, 0, sizeof(ctl));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &efd, sizeof(int));
	(void)sendmsg(s, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* A new client still gets the protocol's first three messages. */
static void check_still_serving(void)
{
	int s = connect_client(), fd, got = 0, i;
	int64_t v, want[3] = { PVIO_IVSHMEM_PROTOCOL_VERSION, -2, PVIO_IVSHMEM_MEM_MSG };
	struct pollfd p = { .fd = s, .events = POLLIN };

	for (i = 0; i < 100 && got < 3; i++) {
		handle();
		if (poll(&p, 1, i ? 1 : 0) <= 0)
			continue;
		while (got < 3 && recv_one(s, &v, &fd) == (ssize_t)sizeof(v)) {
			if (got == 1)
				FZ_ASSERT(v >= 1 && v <= PVIO_IVSHMEM_MAX_PEER_ID &&
					  fd < 0);
			else
				FZ_ASSERT(v == want[got] && (got == 2) == (fd >= 0));
			if (fd >= 0)
				close(fd);
			got++;
		}
	}
	FZ_ASSERT(got == 3);
	close(s);
	for (i = 0; i < 100 && pvio_ivshmem_server_nr_clients(srv); i++) {
		handle();
		if (pvio_ivshmem_server_nr_clients(srv))
			poll(NULL, 0, 1);
	}
	FZ_ASSERT(pvio_ivshmem_server_nr_clients(srv) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * LLVMFuzzerTestOneInput() - run one input (libFuzzer's entry point).
 * @data: the input, in the format described at the top of this file
 * @size: its length
 *
 * Context: process; libFuzzer calls it once per input, one at a time.
 * Return: 0 (a broken invariant aborts instead).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static __u8 noise[64];
	int cl[SV_CLIENTS], n = 0, i, k;
	unsigned int steps = 0;
	struct fz f;

	fz_init(&f, data, size);
	FZ_ASSERT(pvio_ivshmem_server_nr_clients(srv) == 0);
	FZ_ASSERT(joined == left);
	while (fz_left(&f) && steps++ < 256) {
		__u8 op = fz_u8(&f);
		int c = n ? cl[(op >> 3) % n] : -1;

		switch (op % 7) {
		case 0:
			if (n < SV_CLIENTS)
				cl[n++] = connect_client();
			break;
		case 1: {
			size_t len = 1 + fz_u8(&f) % sizeof(noise);

			fz_bytes(&f, noise, len);
			if (c >= 0)
				(void)send(c, noise, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		}
		case 2:
			if (c >= 0)
				send_with_fd(c, fz_u8(&f));
			break;
		case 3:
			if (c >= 0)
				shutdown(c, SHUT_WR);
			break;
		case 4:
			if (c >= 0) {
				k = (op >> 3) % n;
				close(cl[k]);
				cl[k] = cl[--n];
			}
			break;
		default:
			handle();
			break;
		}
		for (i = 0; i < n; i++)
			drain(cl[i]);
	}
	for (i = 0; i < n; i++)
		close(cl[i]);
	/* Each handle reads at most 256 bytes of a peer's noise; the input
	 * cannot have queued more than a few KiB. */
	for (i = 0; i < 2000 && pvio_ivshmem_server_nr_clients(srv); i++) {
		handle();
		if (i > 100)
			poll(NULL, 0, 1);
	}
	FZ_ASSERT(pvio_ivshmem_server_nr_clients(srv) == 0);
	FZ_ASSERT(joined == left);
	check_still_serving();
	FZ_ASSERT(joined == left);
	return 0;
}
