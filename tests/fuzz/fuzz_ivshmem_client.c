// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the ivshmem client (hypercall/ivshmem_client.c) against a
 * hostile server's message stream.
 *
 * The client gets one end of a socketpair; the harness writes the stream
 * the input describes into the other end (int64 messages, with memfds,
 * eventfds or other fds attached where the input says), shuts that end
 * down, and runs pvio_ivshmem_client_attach() and then
 * pvio_ivshmem_client_handle() until the client gives up. The end of the
 * stream is an EOF, so nothing ever waits out the timeout.
 *
 * Input (little-endian; missing bytes read as zero):
 *    1 B  the device's vectors: 1 + b % 8
 *   then  messages of 9 bytes: a kind byte and the int64 value.
 *         kind % 8: 0-2 no fd; 3 a memfd (size from kind >> 3, some not a
 *         power of two, one empty); 4-5 an eventfd; 6 an fd that is
 *         neither (a pipe); 7 the message split over two writes, with an
 *         eventfd on the second when kind & 8, and a second eventfd in
 *         the same write when kind & 16.
 *         After an attach that succeeds, each further 9 bytes also ring
 *         a doorbell: peer id from the value, vector from the kind.
 *
 * Checked: return values are the documented ones; a client that attached
 * has its id in range, a mapping of a power-of-two size that is really
 * read-write at both ends, and exactly `vectors` own eventfds; errors are
 * sticky; no fd leaks (the lowest free descriptor is the same before and
 * after every input).
 */
#include "fuzz_common.h"
#include "ivshmem_client.h"
#include "ivshmem_server.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define CL_MAX_MSGS 200u
#define CL_NR_EFDS 8u

static const uint64_t memfd_sizes[8] = {
	65536, 4096, 0, 12288, 131072, 8192, 65535, 1u << 20,
};
static int memfds[8], efds[CL_NR_EFDS], pipefd[2];

static void quiet(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
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
	unsigned int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < 8; i++) {
		memfds[i] = memfd_create("pvio-fuzz", MFD_CLOEXEC);
		if (memfds[i] < 0 || ftruncate(memfds[i], (off_t)memfd_sizes[i]))
			abort();
	}
	for (i = 0; i < CL_NR_EFDS; i++) {
		efds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efds[i] < 0)
			abort();
	}
	if (pipe2(pipefd, O_CLOEXEC))
		abort();
	return 0;
}

static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* One write of @len bytes with up to two fds; false if the socket is full. */
static bool send_part(int sock, const void *buf, size_t len, int fd1, int fd2)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[2] = { fd1, fd2 }, n = (fd1 >= 0) + (fd2 >= 0);

	if (n) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(cm), fd1 >= 0 ? fds : fds + 1, n * sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len;
}

static bool send_msg(int sock, __u8 kind, const uint8_t val[8])
{
	int efd = efds[(kind >> 3) % CL_NR_EFDS];

	switch (kind % 8) {
	case 3:
		return send_part(sock, val, 8, memfds[(kind >> 3) % 8], -1);
	case 4:
	case 5:
		return send_part(sock, val, 8, efd, -1);
	case 6:
		return send_part(sock, val, 8, pipefd[kind & 8 ? 0 : 1], -1);
	case 7:
		return send_part(sock, val, 3, -1, -1) &&
		       send_part(sock, val + 3, 5, kind & 8 ? efd : -1,
				 kind & 16 ? efds[(kind >> 5) % CL_NR_EFDS] : -1);
	default:
		return send_part(sock, val, 8, -1, -1);
	}
}

static void check_attached(struct pvio_ivshmem_client *c, unsigned int vectors)
{
	volatile __u8 *mem = pvio_ivshmem_client_mem(c);
	uint64_t size = pvio_ivshmem_client_mem_size(c);
	int id = pvio_ivshmem_client_id(c);
	unsigned int v;

	FZ_ASSERT(id >= 0 && id <= PVIO_IVSHMEM_MAX_PEER_ID);
	FZ_ASSERT(mem != NULL);
	FZ_ASSERT(size && !(size & (size - 1)));
	/* The mapping covers what the client says it does. */
	mem[0] = mem[0];
	mem[size - 1] = mem[size - 1];
	FZ_ASSERT(pvio_ivshmem_client_peer_vectors(c, id) == vectors);
	for (v = 0; v < vectors; v++)
		FZ_ASSERT(pvio_ivshmem_client_vector_fd(c, v) >= 0);
	FZ_ASSERT(pvio_ivshmem_client_vector_fd(c, vectors) < 0);
	FZ_ASSERT(pvio_ivshmem_client_fd(c) >= 0);
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
	struct pvio_ivshmem_client_opts opts = { .log = quiet, .timeout_ms = 20 };
	struct pvio_ivshmem_client *c = NULL;
	const uint8_t *rest_p;
	size_t rest_n;
	unsigned int i;
	int sv[2], ret, free_fd = lowest_free_fd();
	struct fz f;

	fz_init(&f, data, size);
	opts.vectors = 1u + fz_u8(&f) % 8;
	FZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	rest_p = f.p;
	rest_n = f.n;
	for (i = 0; fz_left(&f) && i < CL_MAX_MSGS; i++) {
		__u8 kind = fz_u8(&f);
		uint8_t val[8];

		fz_bytes(&f, val, sizeof(val));
		if (!send_msg(sv[1], kind, val))
			break;
	}
	shutdown(sv[1], SHUT_WR);

	ret = pvio_ivshmem_client_attach(sv[0], &opts, &c);
	if (ret) {
		FZ_ASSERT(c == NULL);
		FZ_ASSERT(ret == -EPROTO || ret == -ECONNRESET ||
			  ret == -ECONNREFUSED || ret == -ETIMEDOUT ||
			  ret == -ENOMEM || ret == -EINVAL || ret == -ENODEV);
	} else {
		check_attached(c, opts.vectors);
		/* Ring doorbells the input names, on what the stream set up. */
		fz_init(&f, rest_p, rest_n);
		for (i = 0; fz_left(&f) && i < 64; i++) {
			__u8 kind = fz_u8(&f);
			__s64 peer = (__s64)fz_u64(&f);

			ret = pvio_ivshmem_client_notify(c, (int)(peer % 70000),
							 kind % 10);
			FZ_ASSERT(ret == 0 || ret == -ENOENT || ret == -EINVAL ||
				  ret == -EAGAIN);
		}
		ret = pvio_ivshmem_client_handle(c);
		for (i = 0; ret == 0 && i < 1000; i++)
			ret = pvio_ivshmem_client_handle(c);
		/* The stream ends in EOF, so the client must stop. */
		FZ_ASSERT(ret == -EPROTO || ret == -ECONNRESET || ret == -ENOMEM);
		FZ_ASSERT(pvio_ivshmem_client_handle(c) == ret);
		pvio_ivshmem_client_close(c);
	}
	close(sv[1]);
	FZ_ASSERT(lowest_free_fd() == free_fd);
	return 0;
}
