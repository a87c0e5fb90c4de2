// SPDX-License-Identifier: MIT
/*
 * pvio ivshmem client; see ivshmem_client.h. Every value the server sends
 * is checked before it is used: the server is a peer like any other.
 */
#include "ivshmem_client.h"
#include "ivshmem_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Room for more fds than the one a message may carry, so that extra fds
 * are received (and closed) rather than silently truncated. */
#define CLI_MAX_RX_FDS 8
#define CLI_DEFAULT_TIMEOUT_MS 5000

enum cli_stage { CLI_WANT_VERSION, CLI_WANT_ID, CLI_WANT_MEM, CLI_RUNNING };

struct cli_peer {
	int id;
	unsigned int nfds;
	int fds[PVIO_IVSHMEM_MAX_VECTORS];
};

struct pvio_ivshmem_client {
	int sock;
	enum cli_stage stage;
	int err;            /* sticky: 0 or the error that broke the client */
	int id;
	void *mem;
	uint64_t size;
	unsigned int vectors;
	unsigned int own_nfds;
	int own_fds[PVIO_IVSHMEM_MAX_VECTORS];
	struct cli_peer *peers[PVIO_IVSHMEM_CLIENT_MAX_PEERS];
	unsigned int nr_peers;
	/* A message may arrive in pieces on a stream socket. */
	unsigned char rx[8];
	unsigned int rx_len;
	int rx_fd;
	pvio_ivshmem_log_fn *log;
	void *opaque;
};

__attribute__((format(printf, 3, 4)))
static void cli_log(const struct pvio_ivshmem_client *c, int level,
		    const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c->log)
		c->log(c->opaque, level, buf);
	else if (level <= LOG_ERR)
		fprintf(stderr, "pvio-ivshmem-client: %s\n", buf);
}

__attribute__((format(printf, 2, 3)))
static int cli_proto(struct pvio_ivshmem_client *c, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cli_log(c, LOG_ERR, "protocol error from the server: %s", buf);
	c->err = -EPROTO;
	return -EPROTO;
}

static void cli_close_fds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * Receive what the socket has of the current message, at most up to its end.
 * Return: 1 when a whole message is in @val/@fd (fd -1 if none), 0 if more
 * is needed and the socket has nothing now, negative errno otherwise.
 */
static int cli_recv(struct pvio_ivshmem_client *c, int64_t *val, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CLI_MAX_RX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *cm;
	uint64_t v;
	ssize_t n;
	int i;

	while (c->rx_len < sizeof(c->rx)) {
		int nfds = 0, fds[CLI_MAX_RX_FDS];
		bool bad_cmsg = false;

		iov.iov_base = c->rx + c->rx_len;
		iov.iov_len = sizeof(c->rx) - c->rx_len;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(c->sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			cli_log(c, LOG_ERR, "receiving from the server: %s",
				strerror(errno));
			return -errno;
		}
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			size_t len;
			int k;

			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS) {
				bad_cmsg = true;
				continue;
			}
			len = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (k = 0; k < (int)len; k++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + k * sizeof(int),
				       sizeof(int));
				if (nfds < CLI_MAX_RX_FDS)
					fds[nfds++] = f;
				else
					close(f);
			}
		}
		if (nfds > 1 || (nfds == 1 && c->rx_fd >= 0) ||
		    (msg.msg_flags & MSG_CTRUNC) || bad_cmsg) {
			for (i = 0; i < nfds; i++)
				close(fds[i]);
			return cli_proto(c, "more than one fd, or other ancillary data, in one message");
		}
		if (nfds == 1)
			c->rx_fd = fds[0];
		if (n == 0) {
			cli_log(c, LOG_ERR, "the server closed the connection");
			return -ECONNRESET;
		}
		c->rx_len += (unsigned int)n;
	}
	memcpy(&v, c->rx, sizeof(v));
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	*val = (int64_t)v;
	*fd = c->rx_fd;
	c->rx_len = 0;
	c->rx_fd = -1;
	return 1;
}

static bool cli_is_eventfd(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

static int cli_map(struct pvio_ivshmem_client *c, int fd)
{
	struct stat st;
	uint64_t size;
	int seals;
	void *p;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return cli_proto(c, "the memory fd is not a regular file or memfd");
	/* A region the server could still shrink would turn every access
	 * past the new end into SIGBUS: only a memfd sealed against
	 * shrinking has a size we may trust for as long as it is mapped
	 * (F_GET_SEALS fails on anything that is not a memfd). */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return cli_proto(c, "the region memfd is not sealed against shrinking (seals %#x)",
				 seals < 0 ? 0 : (unsigned int)seals);
	size = (uint64_t)st.st_size;
	if (size == 0 || (size & (size - 1)) != 0 || size > (uint64_t)SIZE_MAX)
		return cli_proto(c, "region size %llu is not a power of two",
				 (unsigned long long)size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		cli_log(c, LOG_ERR, "mapping the region: %s", strerror(-err));
		c->err = err;
		return err;
	}
	c->mem = p;
	c->size = size;
	return 0;
}

static struct cli_peer *cli_find(const struct pvio_ivshmem_client *c, int id,
				 unsigned int *idx)
{
	unsigned int i;

	for (i = 0; i < c->nr_peers; i++) {
		if (c->peers[i]->id == id) {
			if (idx)
				*idx = i;
			return c->peers[i];
		}
	}
	return NULL;
}

static int cli_add_eventfd(struct pvio_ivshmem_client *c, int id, int fd)
{
	struct cli_peer *p;

	if (id == c->id) {
		if (c->own_nfds >= c->vectors)
			return cli_proto(c, "more than %u eventfds for our own id %d",
					 c->vectors, id);
		c->own_fds[c->own_nfds++] = fd;
		return 0;
	}
	p = cli_find(c, id, NULL);
	if (!p) {
		if (c->nr_peers >= PVIO_IVSHMEM_CLIENT_MAX_PEERS)
			return cli_proto(c, "more than %u peers",
					 PVIO_IVSHMEM_CLIENT_MAX_PEERS);
		p = calloc(1, sizeof(*p));
		if (!p) {
			c->err = -ENOMEM;
			return -ENOMEM;
		}
		p->id = id;
		c->peers[c->nr_peers++] = p;
	}
	if (p->nfds >= c->vectors)
		return cli_proto(c, "more than %u eventfds for peer %d",
				 c->vectors, id);
	p->fds[p->nfds++] = fd;
	return 0;
}

static int cli_remove_peer(struct pvio_ivshmem_client *c, int id)
{
	struct cli_peer *p;
	unsigned int idx;

	if (id == c->id)
		return cli_proto(c, "announced our own id %d as leaving", id);
	p = cli_find(c, id, &idx);
	if (!p)
		return cli_proto(c, "announced unknown peer %d as leaving", id);
	cli_close_fds(p->fds, p->nfds);
	free(p);
	c->peers[idx] = c->peers[--c->nr_peers];
	cli_log(c, LOG_INFO, "peer %d left", id);
	return 0;
}

/* Act on one complete message; takes ownership of @fd. */
static int cli_process(struct pvio_ivshmem_client *c, int64_t val, int fd)
{
	int ret;

	switch (c->stage) {
	case CLI_WANT_VERSION:
		if (fd >= 0)
			goto err_fd_unexpected;
		if (val == PVIO_IVSHMEM_REFUSED) {
			cli_log(c, LOG_ERR,
				"the server refused the connection (it already serves as many peers as it allows)");
			c->err = -ECONNREFUSED;
			return -ECONNREFUSED;
		}
		if (val != PVIO_IVSHMEM_PROTOCOL_VERSION)
			return cli_proto(c, "protocol version %lld, expected %d",
					 (long long)val,
					 PVIO_IVSHMEM_PROTOCOL_VERSION);
		c->stage = CLI_WANT_ID;
		return 0;
	case CLI_WANT_ID:
		if (fd >= 0)
			goto err_fd_unexpected;
		if (val < 0 || val > PVIO_IVSHMEM_MAX_PEER_ID)
			return cli_proto(c, "own id %lld out of range",
					 (long long)val);
		c->id = (int)val;
		c->stage = CLI_WANT_MEM;
		return 0;
	case CLI_WANT_MEM:
		if (val != PVIO_IVSHMEM_MEM_MSG)
			ret = cli_proto(c, "expected the memory message, got %lld",
					(long long)val);
		else if (fd < 0)
			ret = cli_proto(c, "memory message without an fd");
		else
			ret = cli_map(c, fd);
		if (fd >= 0)
			close(fd);
		if (!ret)
			c->stage = CLI_RUNNING;
		return ret;
	case CLI_RUNNING:
		break;
	}

	if (val < 0 || val > PVIO_IVSHMEM_MAX_PEER_ID) {
		ret = cli_proto(c, "peer id %lld out of range", (long long)val);
		goto err_close;
	}
	if (fd < 0)
		return cli_remove_peer(c, (int)val);
	if (!cli_is_eventfd(fd)) {
		ret = cli_proto(c, "fd for peer %lld is not an eventfd",
				(long long)val);
		goto err_close;
	}
	/* A hostile server could preload the counter so that a blocking
	 * write of ours never returns. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		ret = cli_proto(c, "cannot make the eventfd of peer %lld non-blocking",
				(long long)val);
		goto err_close;
	}
	ret = cli_add_eventfd(c, (int)val, fd);
	if (ret)
		goto err_close;
	return 0;

err_fd_unexpected:
	ret = cli_proto(c, "unexpected fd with message %lld", (long long)val);
err_close:
	if (fd >= 0)
		close(fd);
	return ret;
}

/**
 * pvio_ivshmem_client_handle() - read every message the socket has now.
 * @c: client
 *
 * Context: process; does not sleep.
 * Return: 0, -EPROTO if the server broke the protocol, -ECONNRESET if it
 * went away, or another negative errno. Errors are sticky.
 */
int pvio_ivshmem_client_handle(struct pvio_ivshmem_client *c)
{
	int64_t val = 0;
	int fd = -1, ret;

	if (c->err)
		return c->err;
	for (;;) {
		ret = cli_recv(c, &val, &fd);
		if (ret <= 0) {
			if (ret < 0)
				c->err = ret;
			return ret;
		}
		ret = cli_process(c, val, fd);
		if (ret) {
			c->err = ret;
			return ret;
		}
	}
}

static long long cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/**
 * pvio_ivshmem_client_attach() - run the client handshake on a connected socket.
 * @sock: connected UNIX stream socket; owned by the client from now on, even
 *        on failure
 * @opts: vectors, timeout and log (socket_path is ignored)
 * @out: the client, once its memory and all its own eventfds arrived
 *
 * Context: process; sleeps up to the timeout.
 * Return: 0; -EINVAL for bad options; -EPROTO if the server broke the
 * protocol; -ECONNREFUSED if the server turned the connection away;
 * -ETIMEDOUT; -ECONNRESET if the server closed the socket; or another
 * negative errno.
 */
int pvio_ivshmem_client_attach(int sock,
			       const struct pvio_ivshmem_client_opts *opts,
			       struct pvio_ivshmem_client **out)
{
	struct pvio_ivshmem_client *c;
	int timeout = opts->timeout_ms > 0 ? opts->timeout_ms
					   : CLI_DEFAULT_TIMEOUT_MS;
	long long deadline = cli_now_ms() + timeout;
	int ret;

	*out = NULL;
	if (opts->vectors == 0 || opts->vectors > PVIO_IVSHMEM_MAX_VECTORS) {
		close(sock);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(sock);
		return -ENOMEM;
	}
	c->sock = sock;
	c->rx_fd = -1;
	c->id = -1;
	c->vectors = opts->vectors;
	c->log = opts->log;
	c->opaque = opts->opaque;

	while (c->stage != CLI_RUNNING || c->own_nfds < c->vectors) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		long long left = deadline - cli_now_ms();

		ret = pvio_ivshmem_client_handle(c);
		if (ret)
			goto err_close;
		if (c->stage == CLI_RUNNING && c->own_nfds == c->vectors)
			break;
		if (left <= 0) {
			cli_log(c, LOG_ERR,
				"handshake incomplete after %d ms (%u of %u own eventfds)",
				timeout, c->own_nfds, c->vectors);
			ret = -ETIMEDOUT;
			goto err_close;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			ret = -errno;
			goto err_close;
		}
	}
	*out = c;
	return 0;

err_close:
	pvio_ivshmem_client_close(c);
	return ret;
}

/**
 * pvio_ivshmem_client_connect() - connect to a server's socket and handshake.
 * @opts: socket path, vectors, timeout, log
 * @out: the client
 *
 * Context: process; sleeps up to the timeout.
 * Return: as pvio_ivshmem_client_attach(), plus the errno of a failed
 * connect (-ENOENT, -ECONNREFUSED) and -ENAMETOOLONG.
 */
int pvio_ivshmem_client_connect(const struct pvio_ivshmem_client_opts *opts,
				struct pvio_ivshmem_client **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sock, ret;

	*out = NULL;
	if (!opts->socket_path)
		return -EINVAL;
	if (strlen(opts->socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, opts->socket_path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		if (opts->log)
			opts->log(opts->opaque, LOG_ERR, "connecting to the ivshmem server failed");
		else
			fprintf(stderr, "pvio-ivshmem-client: connect %s: %s\n",
				opts->socket_path, strerror(-ret));
		close(sock);
		return ret;
	}
	return pvio_ivshmem_client_attach(sock, opts, out);
}

/**
 * pvio_ivshmem_client_close() - disconnect, unmap and free.
 * @c: client, may be NULL
 *
 * Context: process.
 */
void pvio_ivshmem_client_close(struct pvio_ivshmem_client *c)
{
	unsigned int i;

	if (!c)
		return;
	for (i = 0; i < c->nr_peers; i++) {
		cli_close_fds(c->peers[i]->fds, c->peers[i]->nfds);
		free(c->peers[i]);
	}
	cli_close_fds(c->own_fds, c->own_nfds);
	if (c->rx_fd >= 0)
		close(c->rx_fd);
	if (c->mem)
		munmap(c->mem, c->size);
	close(c->sock);
	free(c);
}

/**
 * pvio_ivshmem_client_fd() - the socket to watch for announcements.
 * @c: client
 *
 * Context: any.
 * Return: the fd; call pvio_ivshmem_client_handle() when it is readable.
 */
int pvio_ivshmem_client_fd(const struct pvio_ivshmem_client *c)
{
	return c->sock;
}

/**
 * pvio_ivshmem_client_id() - the id the server gave this client.
 * @c: client
 *
 * Context: any.
 * Return: 0..65535.
 */
int pvio_ivshmem_client_id(const struct pvio_ivshmem_client *c)
{
	return c->id;
}

/**
 * pvio_ivshmem_client_mem() - the mapped region.
 * @c: client
 *
 * Context: any.
 * Return: the mapping, valid until pvio_ivshmem_client_close().
 */
void *pvio_ivshmem_client_mem(const struct pvio_ivshmem_client *c)
{
	return c->mem;
}

/**
 * pvio_ivshmem_client_mem_size() - bytes in the mapped region.
 * @c: client
 *
 * Context: any.
 * Return: the size (a power of two).
 */
uint64_t pvio_ivshmem_client_mem_size(const struct pvio_ivshmem_client *c)
{
	return c->size;
}

/**
 * pvio_ivshmem_client_vector_fd() - this client's doorbell eventfd.
 * @c: client
 * @vector: 0..vectors-1
 *
 * Context: any.
 * Return: the eventfd to wait on, or -EINVAL.
 */
int pvio_ivshmem_client_vector_fd(const struct pvio_ivshmem_client *c,
				  unsigned int vector)
{
	if (vector >= c->own_nfds)
		return -EINVAL;
	return c->own_fds[vector];
}

/**
 * pvio_ivshmem_client_peer_vectors() - doorbells known for a peer.
 * @c: client
 * @peer_id: id
 *
 * Context: any.
 * Return: the number of eventfds received for @peer_id (0 if unknown).
 */
unsigned int pvio_ivshmem_client_peer_vectors(const struct pvio_ivshmem_client *c,
					      int peer_id)
{
	const struct cli_peer *p;

	if (peer_id == c->id)
		return c->own_nfds;
	p = cli_find(c, peer_id, NULL);
	return p ? p->nfds : 0;
}

/**
 * pvio_ivshmem_client_notify() - ring a peer's doorbell.
 * @c: client
 * @peer_id: a peer the server announced
 * @vector: a vector the peer has
 *
 * Context: process; does not sleep.
 * Return: 0, -ENOENT for an unknown peer, -EINVAL for a vector it does not
 * have, or the errno of the write.
 */
int pvio_ivshmem_client_notify(struct pvio_ivshmem_client *c, int peer_id,
			       unsigned int vector)
{
	const uint64_t one = 1;
	const struct cli_peer *p;
	int fd;

	if (peer_id == c->id) {
		if (vector >= c->own_nfds)
			return -EINVAL;
		fd = c->own_fds[vector];
	} else {
		p = cli_find(c, peer_id, NULL);
		if (!p)
			return -ENOENT;
		if (vector >= p->nfds)
			return -EINVAL;
		fd = p->fds[vector];
	}
	/* The fd is non-blocking (cli_process): a write that would block (a
	 * counter at its maximum) already means a doorbell is pending. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}
