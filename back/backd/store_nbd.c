// SPDX-License-Identifier: MIT
/*
 * pvio-backd backing store on an NBD export, through libnbd.
 *
 * backd_nbd_open() connects one libnbd handle per queue (more than one only
 * when the server advertises multi-conn, which says that what one
 * connection flushed every other connection sees) and reads the export's
 * size, block sizes and the operations it supports into the store. Each
 * queue thread then drives its own handle with libnbd's asynchronous API
 * from the engine's event loop: the engine polls the handle's socket with
 * io_uring and calls backd_nbd_notify() on readiness; commands finish in a
 * completion callback that only records (id, result), and the engine takes
 * those records with backd_nbd_reap() into the same completion path as its
 * io_uring completions. Nothing in here waits without a bound, and no
 * libnbd call is made from inside a libnbd callback.
 *
 * A connection that breaks fails every command in flight on it (libnbd
 * retires them with an error) and every later one; the first queue that
 * sees it says so once for the export.
 */
#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backd.h"
#include "store_nbd.h"

/* Connecting, or a flush at exit: give up after this long. */
#define NBD_WAIT_MS 10000

struct backd_nbd_done {
	uint64_t ud;
	int res;
};

struct backd_nbd_conn {
	struct backd_nbd *nbd;
	struct nbd_handle *h;
	/* Completions recorded by the callback, taken by backd_nbd_reap();
	 * both run on the queue's thread. */
	struct backd_nbd_done *done;
	unsigned int ndone, cap;
};

struct backd_nbd {
	const char *name; /* device, for log lines */
	const char *uri;
	unsigned int nr;
	int gone_said;    /* the loss of the export was logged */
	struct backd_nbd_conn conn[BACKD_MAX_QUEUES];
};

/* One command in flight: where its completion goes. */
struct nbd_cmd {
	struct backd_nbd_conn *c;
	uint64_t ud;
	int res;          /* what a successful completion reports */
};

/**
 * backd_store_is_nbd() - does a --blk argument name an NBD export?
 * @path: the argument
 *
 * Context: any.
 * Return: true for the URI schemes libnbd connects to (nbd://,
 * nbd+unix://, nbds://, nbd+vsock://, ...).
 */
bool backd_store_is_nbd(const char *path)
{
	return !strncmp(path, "nbd:", 4) || !strncmp(path, "nbds:", 5) ||
	       !strncmp(path, "nbd+", 4) || !strncmp(path, "nbds+", 5);
}

static bool nbd_gone(struct backd_nbd_conn *c)
{
	return nbd_aio_is_dead(c->h) || nbd_aio_is_closed(c->h);
}

static uint64_t nbd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Drive @h synchronously until @done(h) holds, the handle dies, or
 * NBD_WAIT_MS pass. Used at start-up and at exit only, never by a queue.
 * Return: 0, -ETIMEDOUT, or -EIO (nbd_get_error() says why).
 */
static int nbd_wait(struct nbd_handle *h, int (*done)(struct nbd_handle *h))
{
	uint64_t end = nbd_now_ms() + NBD_WAIT_MS;

	while (!done(h)) {
		unsigned int dir = nbd_aio_get_direction(h);
		struct pollfd p = { .fd = nbd_aio_get_fd(h) };
		uint64_t now = nbd_now_ms();
		int n;

		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h) || p.fd < 0)
			return -EIO;
		if (now >= end)
			return -ETIMEDOUT;
		if (dir & LIBNBD_AIO_DIRECTION_READ)
			p.events |= POLLIN;
		if (dir & LIBNBD_AIO_DIRECTION_WRITE)
			p.events |= POLLOUT;
		n = poll(&p, 1, (int)(end - now));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (dir & LIBNBD_AIO_DIRECTION_READ) && nbd_aio_notify_read(h) < 0)
			return -EIO;
		else if ((p.revents & (POLLOUT | POLLHUP | POLLERR)) &&
			 (dir & LIBNBD_AIO_DIRECTION_WRITE) &&
			 nbd_aio_notify_write(h) < 0)
			return -EIO;
	}
	return 0;
}

static int nbd_connected(struct nbd_handle *h)
{
	return !nbd_aio_is_connecting(h);
}

static int nbd_connect_one(struct backd_nbd *n, struct nbd_handle **out)
{
	struct nbd_handle *h = nbd_create();
	int ret;

	if (!h) {
		backd_log("%s: NBD: %s", n->name, nbd_get_error());
		return -ENOMEM;
	}
	if (nbd_aio_connect_uri(h, n->uri) < 0) {
		ret = nbd_get_errno() == EINVAL ? -EINVAL : -ECONNREFUSED;
		backd_log("%s: %s NBD export %s: %s", n->name,
			  ret == -EINVAL ? "bad URI for" : "cannot connect to",
			  n->uri, nbd_get_error());
		nbd_close(h);
		return ret;
	}
	ret = nbd_wait(h, nbd_connected);
	if (!ret && !nbd_aio_is_ready(h))
		ret = -EIO;
	if (ret) {
		backd_log("%s: cannot connect to NBD export %s: %s", n->name, n->uri,
			  ret == -ETIMEDOUT ? "no answer within 10 s" :
			  nbd_get_error() ? nbd_get_error() : strerror(-ret));
		nbd_close(h);
		return ret == -ETIMEDOUT ? ret : -ECONNREFUSED;
	}
	*out = h;
	return 0;
}

/* The export's geometry and operations, from the first connection. */
static void nbd_describe(struct backd_store *st, struct nbd_handle *h)
{
	int64_t min = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	int64_t pref = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	int64_t size = nbd_get_size(h);

	st->size = size > 0 ? (uint64_t)size : 0;
	st->lbs = min == 4096 ? 4096 : 512;
	st->pbs = pref >= st->lbs && pref <= 65536 && !(pref & (pref - 1)) ?
			  (uint32_t)pref : 4096;
	if (st->pbs < st->lbs)
		st->pbs = st->lbs;
	st->caps = 0;
	if (nbd_can_flush(h) == 1)
		st->caps |= BACKD_STORE_FLUSH;
	if (nbd_can_fua(h) == 1)
		st->caps |= BACKD_STORE_FUA;
	if (nbd_can_trim(h) == 1)
		st->caps |= BACKD_STORE_DISCARD;
	if (nbd_can_zero(h) == 1)
		st->caps |= BACKD_STORE_ZERO;
}

/* An ID for GET_ID that stays the same for the same URI: FNV-1a of it. */
static void nbd_store_id(struct backd_store *st, const char *uri)
{
	uint64_t h = 14695981039346656037ull;

	for (; *uri; uri++)
		h = (h ^ (unsigned char)*uri) * 1099511628211ull;
	memset(st->id, 0, sizeof(st->id));
	snprintf(st->id, sizeof(st->id), "pn%016llx", (unsigned long long)h);
}

/**
 * backd_nbd_open() - connect to an NBD export and describe it.
 * @st: store to fill in (path already set)
 * @name: device name for log lines
 * @ro: export read-only whatever the server allows
 * @conns: connections wanted (one per queue)
 *
 * Connects a first handle; the others only if the server advertises
 * multi-conn, else it says so and @st->nbd_conns stays 1. A server that
 * says the export is read-only makes @st read-only. Every failure is
 * logged naming the export.
 *
 * Context: process, before any IO thread exists.
 * Return: 0 or a negative errno.
 */
int backd_nbd_open(struct backd_store *st, const char *name, bool ro,
		   unsigned int conns)
{
	struct backd_nbd *n = calloc(1, sizeof(*n));
	unsigned int i;
	int ret;

	if (!n)
		return -ENOMEM;
	n->name = name;
	n->uri = st->path;
	st->nbd = n;
	ret = nbd_connect_one(n, &n->conn[0].h);
	if (ret)
		goto err_close;
	n->nr = 1;
	nbd_describe(st, n->conn[0].h);
	if (!ro && nbd_is_read_only(n->conn[0].h) == 1) {
		if (!backd_store_quiet)
			backd_log("%s: NBD export %s is read-only; serving it read-only",
				  name, n->uri);
		st->ro = true;
	}
	if (conns > 1 && nbd_can_multi_conn(n->conn[0].h) != 1) {
		if (!backd_store_quiet)
			backd_log("%s: NBD export %s does not allow several connections (no multi-conn); serving it with one queue",
				  name, n->uri);
		conns = 1;
	}
	for (i = 1; i < conns; i++) {
		ret = nbd_connect_one(n, &n->conn[i].h);
		if (ret)
			goto err_close;
		n->nr++;
	}
	for (i = 0; i < n->nr; i++)
		n->conn[i].nbd = n;
	st->nbd_conns = n->nr;
	nbd_store_id(st, n->uri);
	return 0;

err_close:
	backd_nbd_close(st);
	return ret;
}

/**
 * backd_nbd_close() - disconnect every handle and free the store's NBD part.
 * @st: store, maybe without one
 *
 * Context: process; no IO thread may be using @st.
 */
void backd_nbd_close(struct backd_store *st)
{
	struct backd_nbd *n = st->nbd;
	unsigned int i;

	if (!n)
		return;
	for (i = 0; i < BACKD_MAX_QUEUES; i++) {
		if (n->conn[i].h)
			nbd_close(n->conn[i].h);
		free(n->conn[i].done);
	}
	free(n);
	st->nbd = NULL;
	st->nbd_conns = 0;
}

static int nbd_cmd_done(struct nbd_handle *h)
{
	return nbd_aio_in_flight(h) <= 0;
}

/**
 * backd_nbd_flush() - make every write answered so far durable on the server.
 * @st: store
 *
 * Each connection is flushed (a server without multi-conn has only one),
 * waiting at most NBD_WAIT_MS for each.
 *
 * Context: process; no IO thread may be using @st.
 * Return: 0 (also when the connection is gone and that was logged already:
 * the frontend got IO errors for it), or a negative errno.
 */
int backd_nbd_flush(struct backd_store *st)
{
	struct backd_nbd *n = st->nbd;
	unsigned int i;
	int ret = 0;

	if (!(st->caps & BACKD_STORE_FLUSH))
		return 0;
	for (i = 0; i < n->nr && !ret; i++) {
		struct nbd_handle *h = n->conn[i].h;

		if (nbd_gone(&n->conn[i]))
			return __atomic_load_n(&n->gone_said, __ATOMIC_RELAXED) ?
				       0 : -ENOTCONN;
		if (nbd_aio_flush(h, NBD_NULL_COMPLETION, 0) < 0)
			return -EIO;
		ret = nbd_wait(h, nbd_cmd_done);
	}
	return ret;
}

/**
 * backd_nbd_conn() - the connection a queue drives.
 * @st: store
 * @idx: queue, below @st->nbd_conns
 * @depth: most requests the queue has in flight
 * @max_cmds: most NBD commands one request can need
 *
 * Context: process, before the queue's thread starts.
 * Return: the connection, or NULL (out of memory).
 */
struct backd_nbd_conn *backd_nbd_conn(struct backd_store *st, unsigned int idx,
				      unsigned int depth, unsigned int max_cmds)
{
	struct backd_nbd_conn *c = &st->nbd->conn[idx];
	unsigned int cap = depth * max_cmds;

	if (c->cap < cap) {
		free(c->done);
		c->done = calloc(cap, sizeof(*c->done));
		c->cap = c->done ? cap : 0;
		if (!c->done)
			return NULL;
	}
	c->ndone = 0;
	return c;
}

/* Said once per export, by whichever queue notices first; @why is libnbd's
 * error when a call just failed, else NULL. */
static void nbd_lost(struct backd_nbd_conn *c, const char *why)
{
	if (__atomic_exchange_n(&c->nbd->gone_said, 1, __ATOMIC_RELAXED))
		return;
	if (!why)
		why = nbd_aio_is_closed(c->h) ? "the server closed the connection" :
		      "the connection broke";
	backd_log("%s: NBD export %s: connection lost (%s); its requests fail with IO errors",
		  c->nbd->name, c->nbd->uri, why);
}

static int nbd_cmd_cb(void *opaque, int *error)
{
	struct nbd_cmd *cmd = opaque;
	struct backd_nbd_conn *c = cmd->c;

	/* Room for every command of every request the queue holds. */
	if (c->ndone < c->cap) {
		c->done[c->ndone].ud = cmd->ud;
		c->done[c->ndone].res = *error ? -*error : cmd->res;
		c->ndone++;
	}
	return 1; /* retire the command */
}

/**
 * backd_nbd_submit() - start one NBD command.
 * @c: the queue's connection
 * @op: PVIO_BLK_OP_READ, WRITE, FLUSH, DISCARD or WRITE_ZEROES
 * @buf: data for READ and WRITE
 * @len: bytes
 * @off: byte offset in the export
 * @flags: PVIO_BLK_REQ_F_FUA (WRITE), PVIO_BLK_REQ_F_UNMAP (WRITE_ZEROES)
 * @ud: handed back by backd_nbd_reap() with the result
 *
 * Its completion (@len for READ and WRITE, 0 for the others, or a negative
 * errno) is recorded for backd_nbd_reap(), never reported from here.
 *
 * Context: the queue's thread.
 * Return: 0, or a negative errno if the command could not be started (the
 * connection is gone: logged once for the export).
 */
int backd_nbd_submit(struct backd_nbd_conn *c, unsigned int op, void *buf,
		     uint32_t len, uint64_t off, unsigned int flags, uint64_t ud)
{
	struct nbd_cmd *cmd = malloc(sizeof(*cmd));
	nbd_completion_callback cb = {
		.callback = nbd_cmd_cb, .user_data = cmd, .free = free,
	};
	uint32_t nflags = 0;
	int64_t cookie;

	if (!cmd)
		return -ENOMEM;
	cmd->c = c;
	cmd->ud = ud;
	cmd->res = 0;
	switch (op) {
	case PVIO_BLK_OP_READ:
		cmd->res = (int)len;
		cookie = nbd_aio_pread(c->h, buf, len, off, cb, 0);
		break;
	case PVIO_BLK_OP_WRITE:
		cmd->res = (int)len;
		if (flags & PVIO_BLK_REQ_F_FUA)
			nflags |= LIBNBD_CMD_FLAG_FUA;
		cookie = nbd_aio_pwrite(c->h, buf, len, off, cb, nflags);
		break;
	case PVIO_BLK_OP_FLUSH:
		cookie = nbd_aio_flush(c->h, cb, 0);
		break;
	case PVIO_BLK_OP_DISCARD:
		cookie = nbd_aio_trim(c->h, len, off, cb, 0);
		break;
	default: /* WRITE_ZEROES: leave the range allocated unless UNMAP */
		if (!(flags & PVIO_BLK_REQ_F_UNMAP))
			nflags |= LIBNBD_CMD_FLAG_NO_HOLE;
		cookie = nbd_aio_zero(c->h, len, off, cb, nflags);
		break;
	}
	/* On failure libnbd has freed cmd already (the .free above). */
	if (cookie < 0) {
		int err = nbd_get_errno();

		if (nbd_gone(c)) {
			nbd_lost(c, NULL);
			return -ENOTCONN;
		}
		return err > 0 ? -err : -EIO;
	}
	return 0;
}

/**
 * backd_nbd_fd() - the socket of a queue's connection, to poll.
 * @c: connection
 *
 * Context: the queue's thread.
 * Return: the fd, or -1 once the connection is gone.
 */
int backd_nbd_fd(struct backd_nbd_conn *c)
{
	if (nbd_gone(c))
		return -1;
	return nbd_aio_get_fd(c->h);
}

/**
 * backd_nbd_events() - what libnbd waits for on the socket.
 * @c: connection
 *
 * Context: the queue's thread.
 * Return: POLLIN and/or POLLOUT, or 0 (nothing to wait for).
 */
unsigned int backd_nbd_events(struct backd_nbd_conn *c)
{
	unsigned int dir, ev = 0;

	if (nbd_gone(c))
		return 0;
	dir = nbd_aio_get_direction(c->h);
	if (dir & LIBNBD_AIO_DIRECTION_READ)
		ev |= POLLIN;
	if (dir & LIBNBD_AIO_DIRECTION_WRITE)
		ev |= POLLOUT;
	return ev;
}

/**
 * backd_nbd_notify() - tell libnbd the socket became ready.
 * @c: connection
 * @revents: what the poll reported (POLLIN, POLLOUT, POLLHUP, POLLERR)
 *
 * Only a direction libnbd still waits for is notified: the poll was armed
 * earlier and libnbd's state may have moved on since.
 *
 * Context: the queue's thread.
 */
void backd_nbd_notify(struct backd_nbd_conn *c, unsigned int revents)
{
	unsigned int want = backd_nbd_events(c);
	int ret = 0;

	if (revents & (POLLHUP | POLLERR))
		revents |= POLLIN | POLLOUT;
	if (want & revents & POLLIN)
		ret = nbd_aio_notify_read(c->h);
	else if (want & revents & POLLOUT)
		ret = nbd_aio_notify_write(c->h);
	if (ret < 0)
		nbd_lost(c, nbd_get_error());
	else if (nbd_gone(c))
		nbd_lost(c, NULL);
}

/**
 * backd_nbd_reap() - hand over the completions recorded so far.
 * @c: connection
 * @fn: called with each command's @ud and result
 * @opaque: for @fn
 *
 * Context: the queue's thread, never from inside a libnbd call.
 * Return: how many.
 */
unsigned int backd_nbd_reap(struct backd_nbd_conn *c,
			    void (*fn)(void *opaque, uint64_t ud, int res),
			    void *opaque)
{
	unsigned int n = 0;

	/* From the end: @fn may start commands whose completions are
	 * recorded at once (a connection that just broke). */
	while (c->ndone) {
		struct backd_nbd_done d = c->done[--c->ndone];

		fn(opaque, d.ud, d.res);
		n++;
	}
	return n;
}
