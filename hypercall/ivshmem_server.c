// SPDX-License-Identifier: MIT
/*
 * pvio ivshmem server; see ivshmem_server.h for the model and the protocol
 * facts in DESIGN.md.
 */
#include "ivshmem_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

struct srv_peer {
	struct srv_peer *next;
	int id;
	int sock;
	bool backend; /* the client of the backend socket */
	bool dead; /* a send failed; removed by srv_reap() */
	int efd[PVIO_IVSHMEM_MAX_VECTORS]; /* first srv->vectors used */
};

/*
 * Driver-VM mode reuses peer ids: the driver VM is always 0, the frontend
 * always 1. QEMU's ivshmem-doorbell keeps one slot per peer id and does
 * not survive a departed id coming back with new eventfds (the slot's
 * array is freed on departure and written again on the return). So in
 * that mode a departure is not announced, the id's eventfds stay here,
 * and the peer that takes the id next gets the same ones: the other side
 * never sees the id change.
 */
#define SRV_KEEP_IDS 2

struct pvio_ivshmem_server {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ino_t path_ino;   /* inode of our socket file, to unlink only ours */
	dev_t path_dev;
	int listen_fd;
	char bpath[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ino_t bpath_ino;
	dev_t bpath_dev;
	int blisten_fd;   /* driver-VM mode: the backend socket, else -1 */
	int epoll_fd;
	/* Out of descriptors (EMFILE, ENFILE, ...): the listening sockets stay
	 * readable, so they leave the epoll set until this timer fires. */
	int pause_fd;
	bool listen_paused;
	bool blisten_paused;
	long long accept_log_ms;   /* last "accept:" line, CLOCK_MONOTONIC ms */
	unsigned long accept_fails; /* failures not logged since */
	int mem_fd;
	void *mem;
	uint64_t size;
	unsigned int vectors;
	unsigned int max_clients;
	unsigned int nr_clients;
	int next_id;
	int self_efd[PVIO_IVSHMEM_MAX_VECTORS];
	/* Driver-VM mode: the eventfds of ids 0 and 1 while their peer is
	 * away (see srv_keep_id()). */
	int kept_efd[SRV_KEEP_IDS][PVIO_IVSHMEM_MAX_VECTORS];
	bool kept[SRV_KEEP_IDS];
	struct srv_peer *peers;
	bool fresh_region;
	bool handed_out;  /* the current region went to a client */
	uint64_t sessions; /* regions handed out so far */
	bool peer_check;
	uid_t peer_uid;
	bool peer_gid_set;
	gid_t peer_gid;
	pvio_ivshmem_log_fn *log;
	pvio_ivshmem_peer_fn *on_peer;
	pvio_ivshmem_region_fn *on_region;
	void *opaque;
};

/* epoll tags: the listening socket, or a peer's id + 1. An id is looked up
 * again for every event, and ids are not reused at once, so an event left
 * over from a peer removed earlier in the same batch finds nothing. */
#define SRV_TAG_LISTEN 0
#define SRV_TAG_BLISTEN (~0ull)
#define SRV_TAG_PAUSE (~1ull)

/* How long accepting stops after running out of descriptors, and how
 * often such a failure is logged at most. */
#define SRV_ACCEPT_PAUSE_MS 200
#define SRV_ACCEPT_LOG_MS 5000

__attribute__((format(printf, 3, 4)))
static void srv_log(const struct pvio_ivshmem_server *srv, int level,
		    const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (srv->log)
		srv->log(srv->opaque, level, buf);
	else if (level <= LOG_WARNING)
		fprintf(stderr, "pvio-ivshmem-server: %s\n", buf);
}

static bool srv_is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* One protocol message: a little-endian int64, optionally one fd. */
static int srv_send_msg(int sock, int64_t value, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint64_t le = (uint64_t)value;
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	/* The wire is little-endian whatever the host. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	le = __builtin_bswap64(le);
#endif
	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* A stream socket may take part of a message only when it is full; the
	 * send timeout makes that an error rather than a silent split. */
	if (n != (ssize_t)sizeof(le))
		return -EIO;
	return 0;
}

static int srv_send_peer_fds(const struct pvio_ivshmem_server *srv, int sock,
			     int id, const int *efd)
{
	unsigned int v;
	int ret;

	for (v = 0; v < srv->vectors; v++) {
		ret = srv_send_msg(sock, id, efd[v]);
		if (ret)
			return ret;
	}
	return 0;
}

static void srv_close_fds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static int srv_make_eventfds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		fds[i] = -1;
	for (i = 0; i < n; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fds[i] < 0) {
			int err = -errno;

			srv_close_fds(fds, n);
			return err;
		}
	}
	return 0;
}

/* Does this server keep @id's eventfds across its peers (see above)? */
static bool srv_keep_id(const struct pvio_ivshmem_server *srv, int id)
{
	return srv->blisten_fd >= 0 && id >= 0 && id < SRV_KEEP_IDS;
}

static struct srv_peer *srv_find(const struct pvio_ivshmem_server *srv, int id)
{
	struct srv_peer *p;

	for (p = srv->peers; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

/* Next free client id, skipping ids in use and the server's own. */
static int srv_alloc_id(struct pvio_ivshmem_server *srv)
{
	int tries;

	/* Driver-VM mode: the lowest free id, so a lone frontend is always
	 * 1 and the backend can be told so once. */
	if (srv->blisten_fd >= 0) {
		for (tries = 1; tries <= PVIO_IVSHMEM_MAX_PEER_ID; tries++)
			if (!srv_find(srv, tries))
				return tries;
		return -EBUSY;
	}

	for (tries = 0; tries <= PVIO_IVSHMEM_MAX_PEER_ID; tries++) {
		int id = srv->next_id;

		srv->next_id = id >= PVIO_IVSHMEM_MAX_PEER_ID ? 1 : id + 1;
		if (id != PVIO_IVSHMEM_SERVER_ID && !srv_find(srv, id))
			return id;
	}
	return -EBUSY;
}

/* Forget a peer: close its fds, tell the others it left. */
static void srv_remove_peer(struct pvio_ivshmem_server *srv,
			    struct srv_peer *peer, const char *why)
{
	struct srv_peer **pp, *o;
	int id = peer->id;

	for (pp = &srv->peers; *pp; pp = &(*pp)->next) {
		if (*pp == peer) {
			*pp = peer->next;
			break;
		}
	}
	epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL, peer->sock, NULL);
	close(peer->sock);
	if (!peer->backend)
		srv->nr_clients--;
	if (srv_keep_id(srv, id)) {
		/* Kept for the id's next peer; the others keep theirs. */
		memcpy(srv->kept_efd[id], peer->efd, sizeof(peer->efd));
		srv->kept[id] = true;
		free(peer);
		srv_log(srv, LOG_INFO, "peer %d left (%s)", id, why);
		if (srv->on_peer)
			srv->on_peer(srv->opaque, id, false);
		return;
	}
	srv_close_fds(peer->efd, srv->vectors);
	free(peer);
	srv_log(srv, LOG_INFO, "peer %d left (%s)", id, why);

	for (o = srv->peers; o; o = o->next) {
		int ret;

		if (o->dead)
			continue;
		ret = srv_send_msg(o->sock, id, -1);
		if (ret) {
			srv_log(srv, LOG_WARNING,
				"dropping peer %d: announcing peer %d's departure failed: %s",
				o->id, id, strerror(-ret));
			o->dead = true;
		}
	}
	if (srv->on_peer)
		srv->on_peer(srv->opaque, id, false);
}

/* Remove peers whose socket failed; each removal is announced in turn. */
static void srv_reap(struct pvio_ivshmem_server *srv)
{
	struct srv_peer *p;

	for (;;) {
		for (p = srv->peers; p && !p->dead; p = p->next)
			;
		if (!p)
			return;
		srv_remove_peer(srv, p, "send failed");
	}
}

/* Initial burst for a new peer: version, id, memory, others, itself. */
static int srv_send_setup(struct pvio_ivshmem_server *srv,
			  struct srv_peer *peer)
{
	struct srv_peer *o;
	int ret, i;

	ret = srv_send_msg(peer->sock, PVIO_IVSHMEM_PROTOCOL_VERSION, -1);
	if (!ret)
		ret = srv_send_msg(peer->sock, peer->id, -1);
	if (!ret)
		ret = srv_send_msg(peer->sock, PVIO_IVSHMEM_MEM_MSG, srv->mem_fd);
	if (!ret && srv->blisten_fd < 0)
		ret = srv_send_peer_fds(srv, peer->sock, PVIO_IVSHMEM_SERVER_ID,
					srv->self_efd);
	for (o = srv->peers; o && !ret; o = o->next)
		ret = srv_send_peer_fds(srv, peer->sock, o->id, o->efd);
	/* An id that is away still has its eventfds: the newcomer needs them
	 * now, as the id's return is not announced. */
	for (i = 0; i < SRV_KEEP_IDS && !ret; i++)
		if (srv->kept[i] && i != peer->id)
			ret = srv_send_peer_fds(srv, peer->sock, i, srv->kept_efd[i]);
	if (!ret)
		ret = srv_send_peer_fds(srv, peer->sock, peer->id, peer->efd);
	return ret;
}

/*
 * Turn a connection away. QEMU 7.2 spins for ever on a socket closed before
 * the version message (it retries its read on end of file), so the refusal
 * is spoken: PVIO_IVSHMEM_REFUSED in place of the version, which QEMU
 * reports as a wrong version and fails the device cleanly, and which
 * pvio's client reports as a refusal.
 */
static void srv_refuse(int sock)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100 * 1000 };

	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	srv_send_msg(sock, PVIO_IVSHMEM_REFUSED, -1);
	close(sock);
}

static int srv_make_region(struct pvio_ivshmem_server *srv);

/*
 * A fresh region and fresh server eventfds for the client about to join,
 * when nobody else holds the current ones. The old ones are dropped: the
 * client that had them keeps a mapping nobody else writes and eventfds
 * nobody reads. On failure the client is refused rather than given the
 * previous client's region.
 */
static int srv_new_session(struct pvio_ivshmem_server *srv)
{
	int efd[PVIO_IVSHMEM_MAX_VECTORS];
	void *old_mem = srv->mem;
	int old_fd = srv->mem_fd, ret;

	if (!srv->fresh_region || !srv->handed_out || srv->nr_clients)
		return 0;
	ret = srv_make_eventfds(efd, srv->vectors);
	if (ret)
		return ret;
	ret = srv_make_region(srv);
	if (ret) {
		srv->mem = old_mem;
		srv->mem_fd = old_fd;
		srv_close_fds(efd, srv->vectors);
		return ret;
	}
	munmap(old_mem, srv->size);
	close(old_fd);
	srv_close_fds(srv->self_efd, srv->vectors);
	memcpy(srv->self_efd, efd, sizeof(efd[0]) * srv->vectors);
	srv->handed_out = false;
	if (srv->on_region)
		srv->on_region(srv->opaque, srv->mem, srv->size);
	return 0;
}

/* The peer check of the options; true if @sock may become a client. */
static bool srv_peer_allowed(struct pvio_ivshmem_server *srv, int sock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (!srv->peer_check)
		return true;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		srv_log(srv, LOG_WARNING, "refusing connection: SO_PEERCRED: %s",
			strerror(errno));
		return false;
	}
	if (cred.uid == 0 || cred.uid == srv->peer_uid ||
	    (srv->peer_gid_set && cred.gid == srv->peer_gid))
		return true;
	srv_log(srv, LOG_WARNING,
		"refusing connection from pid %d: uid %u gid %u not allowed",
		(int)cred.pid, (unsigned int)cred.uid, (unsigned int)cred.gid);
	return false;
}

static long long srv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * accept4() ran out of descriptors or memory. The pending connection
 * stays queued, so the listening socket stays readable: left in the epoll
 * set, it would wake the caller's loop at once, for ever.
 * It leaves the set for SRV_ACCEPT_PAUSE_MS (pvio_ivshmem_server_handle()
 * puts it back when pause_fd fires) and the failure is logged at most
 * once per SRV_ACCEPT_LOG_MS, with the count of those not logged.
 */
static void srv_accept_pause(struct pvio_ivshmem_server *srv, bool backend,
			     int err)
{
	struct itimerspec its = {
		.it_value.tv_sec = SRV_ACCEPT_PAUSE_MS / 1000,
		.it_value.tv_nsec = (SRV_ACCEPT_PAUSE_MS % 1000) * 1000000L,
	};
	bool *paused = backend ? &srv->blisten_paused : &srv->listen_paused;
	long long now = srv_now_ms();

	srv->accept_fails++;
	if (!srv->accept_log_ms || now - srv->accept_log_ms >= SRV_ACCEPT_LOG_MS) {
		srv_log(srv, LOG_WARNING,
			"accept: %s; not accepting for %d ms (%lu failure(s) since the last report)",
			strerror(err), SRV_ACCEPT_PAUSE_MS, srv->accept_fails);
		srv->accept_log_ms = now;
		srv->accept_fails = 0;
	}
	if (*paused)
		return;
	if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL,
		      backend ? srv->blisten_fd : srv->listen_fd, NULL) < 0)
		return; /* still in the set: the next wake retries, no worse */
	*paused = true;
	timerfd_settime(srv->pause_fd, 0, &its, NULL);
}

/* The pause is over: listen again on every socket that was paused. */
static void srv_accept_resume(struct pvio_ivshmem_server *srv)
{
	uint64_t ticks;

	(void)!read(srv->pause_fd, &ticks, sizeof(ticks));
	if (srv->listen_paused) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.u64 = SRV_TAG_LISTEN };

		if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, srv->listen_fd, &ev) == 0)
			srv->listen_paused = false;
	}
	if (srv->blisten_paused) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.u64 = SRV_TAG_BLISTEN };

		if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, srv->blisten_fd, &ev) == 0)
			srv->blisten_paused = false;
	}
	/* A failed re-add (itself out of memory) tries again later. */
	if (srv->listen_paused || srv->blisten_paused) {
		struct itimerspec its = {
			.it_value.tv_nsec = SRV_ACCEPT_PAUSE_MS * 1000000L,
		};

		timerfd_settime(srv->pause_fd, 0, &its, NULL);
	}
}

static void srv_accept(struct pvio_ivshmem_server *srv, bool backend)
{
	struct timeval tv = {
		.tv_sec = PVIO_IVSHMEM_SEND_TIMEOUT_MS / 1000,
		.tv_usec = (PVIO_IVSHMEM_SEND_TIMEOUT_MS % 1000) * 1000,
	};
	struct epoll_event ev = { .events = EPOLLIN };
	struct srv_peer *peer, *o;
	bool reused = false;
	int sock, id, ret;

	sock = accept4(backend ? srv->blisten_fd : srv->listen_fd, NULL, NULL,
		       SOCK_CLOEXEC);
	if (sock < 0) {
		/* Out of descriptors or memory, the connection stays queued;
		 * anything else (an aborted connection) left the queue. */
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			srv_accept_pause(srv, backend, errno);
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			srv_log(srv, LOG_WARNING, "accept: %s", strerror(errno));
		return;
	}
	if (backend && srv_find(srv, PVIO_IVSHMEM_SERVER_ID)) {
		srv_log(srv, LOG_WARNING,
			"refusing connection on the backend socket: a backend is already connected");
		srv_refuse(sock);
		return;
	}
	if (!backend && srv->nr_clients >= srv->max_clients) {
		srv_log(srv, LOG_WARNING,
			"refusing connection: %u client(s) already connected, limit %u",
			srv->nr_clients, srv->max_clients);
		srv_refuse(sock);
		return;
	}
	if (!srv_peer_allowed(srv, sock)) {
		srv_refuse(sock);
		return;
	}
	ret = srv_new_session(srv);
	if (ret) {
		srv_log(srv, LOG_ERR, "refusing connection: a fresh region: %s",
			strerror(-ret));
		srv_refuse(sock);
		return;
	}
	id = backend ? PVIO_IVSHMEM_SERVER_ID : srv_alloc_id(srv);
	if (id < 0) {
		srv_log(srv, LOG_WARNING, "refusing connection: no free peer id");
		srv_refuse(sock);
		return;
	}
	/* Sends block at most this long, so a peer that stops reading its
	 * socket cannot stall the caller's loop for good. */
	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	peer = calloc(1, sizeof(*peer));
	if (!peer) {
		srv_log(srv, LOG_ERR, "refusing connection: out of memory");
		srv_refuse(sock);
		return;
	}
	peer->id = id;
	peer->sock = sock;
	peer->backend = backend;
	reused = srv_keep_id(srv, id) && srv->kept[id];
	if (reused) {
		memcpy(peer->efd, srv->kept_efd[id], sizeof(peer->efd));
		srv->kept[id] = false;
		ret = 0;
	} else {
		ret = srv_make_eventfds(peer->efd, srv->vectors);
	}
	if (ret) {
		srv_log(srv, LOG_ERR, "refusing connection: eventfd: %s",
			strerror(-ret));
		free(peer);
		srv_refuse(sock);
		return;
	}
	ret = srv_send_setup(srv, peer);
	if (ret) {
		srv_log(srv, LOG_WARNING, "peer %d: sending setup failed: %s",
			id, strerror(-ret));
		goto err_fds;
	}
	ev.data.u64 = (uint64_t)id + 1;
	if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, sock, &ev) < 0) {
		ret = -errno;
		srv_log(srv, LOG_ERR, "peer %d: epoll: %s", id, strerror(-ret));
		goto err_fds;
	}

	if (!srv->handed_out) {
		srv->handed_out = true;
		srv->sessions++;
	}
	/* Announce the newcomer only once it is fully set up. */
	peer->next = srv->peers;
	srv->peers = peer;
	if (!backend)
		srv->nr_clients++;
	srv_log(srv, LOG_INFO, "peer %d joined", id);
	for (o = peer->next; o; o = o->next) {
		/* A kept id's eventfds are known to everyone already. */
		if (o->dead || reused)
			continue;
		ret = srv_send_peer_fds(srv, o->sock, id, peer->efd);
		if (ret) {
			srv_log(srv, LOG_WARNING,
				"dropping peer %d: announcing peer %d failed: %s",
				o->id, id, strerror(-ret));
			o->dead = true;
		}
	}
	if (srv->on_peer)
		srv->on_peer(srv->opaque, id, true);
	srv_reap(srv);
	return;

err_fds:
	if (reused) {
		memcpy(srv->kept_efd[id], peer->efd, sizeof(peer->efd));
		srv->kept[id] = true;
	} else {
		srv_close_fds(peer->efd, srv->vectors);
	}
	free(peer);
	close(sock);
}

/* Peers only listen; anything readable is either EOF or noise to drop. */
static void srv_peer_event(struct pvio_ivshmem_server *srv,
			   struct srv_peer *peer, uint32_t events)
{
	char buf[256];
	ssize_t n;

	n = recv(peer->sock, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0)
		return;
	if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
	    !(events & (EPOLLHUP | EPOLLERR)))
		return;
	srv_remove_peer(srv, peer, n == 0 ? "disconnected" : "socket error");
	srv_reap(srv);
}

/**
 * pvio_ivshmem_server_handle() - process whatever is pending, without waiting.
 * @srv: server
 *
 * Accepts new peers (sending them the setup messages and announcing them to
 * the others) and notices peers that left (announcing their departure).
 *
 * Context: process; the caller's event loop thread.
 * Return: 0, or a negative errno if the epoll descriptor itself failed.
 */
int pvio_ivshmem_server_handle(struct pvio_ivshmem_server *srv)
{
	struct epoll_event evs[16];
	bool listen_ready = false, blisten_ready = false;
	int n, i;

	n = epoll_wait(srv->epoll_fd, evs, 16, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct srv_peer *p;

		if (evs[i].data.u64 == SRV_TAG_LISTEN) {
			listen_ready = true;
			continue;
		}
		if (evs[i].data.u64 == SRV_TAG_BLISTEN) {
			blisten_ready = true;
			continue;
		}
		if (evs[i].data.u64 == SRV_TAG_PAUSE) {
			srv_accept_resume(srv);
			continue;
		}
		p = srv_find(srv, (int)(evs[i].data.u64 - 1));
		if (p)
			srv_peer_event(srv, p, evs[i].events);
	}
	/* Departures first: a client that disconnects and connects again at
	 * once (a frontend reopening the device) finds its old slot free
	 * rather than being refused over the client limit. */
	if (blisten_ready)
		srv_accept(srv, true);
	if (listen_ready)
		srv_accept(srv, false);
	return 0;
}

/**
 * pvio_ivshmem_server_run() - wait up to @timeout_ms for activity, handle it.
 * @srv: server
 * @timeout_ms: poll() timeout; -1 waits for ever
 *
 * Context: process; may sleep.
 * Return: 0, or a negative errno.
 */
int pvio_ivshmem_server_run(struct pvio_ivshmem_server *srv, int timeout_ms)
{
	struct pollfd pfd = { .fd = srv->epoll_fd, .events = POLLIN };
	int n;

	n = poll(&pfd, 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 0;
	return pvio_ivshmem_server_handle(srv);
}

/*
 * Bind @path; a socket file nobody listens on is a leftover of a dead server
 * and is replaced, a live one is refused.
 */
static int srv_listen_bind(struct pvio_ivshmem_server *srv, const char *path);

/*
 * Bind and listen on @path with the options' mode and group. The bind runs
 * under umask 0177, so the file never exists with more than 0600 (umask is
 * per process: the server is created before any thread that could create
 * files is started, as its users do).
 */
static int srv_listen(struct pvio_ivshmem_server *srv, const char *path,
		      const struct pvio_ivshmem_server_opts *opts)
{
	mode_t mode = opts->socket_mode ? (opts->socket_mode & 07777)
					: PVIO_IVSHMEM_SOCKET_MODE;
	mode_t old = umask(0177);
	int ret;

	ret = srv_listen_bind(srv, path);
	umask(old);
	if (ret)
		return ret;
	if (opts->set_group && chown(path, (uid_t)-1, (gid_t)opts->socket_gid) < 0) {
		ret = -errno;
		srv_log(srv, LOG_ERR, "chown %s to group %u: %s", path,
			opts->socket_gid, strerror(-ret));
		goto err;
	}
	if (chmod(path, mode) < 0) {
		ret = -errno;
		srv_log(srv, LOG_ERR, "chmod %s %o: %s", path, (unsigned int)mode,
			strerror(-ret));
		goto err;
	}
	return 0;
err:
	close(srv->listen_fd);
	srv->listen_fd = -1;
	unlink(path);
	return ret;
}

static int srv_listen_bind(struct pvio_ivshmem_server *srv, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		srv_log(srv, LOG_ERR, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;

	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int probe;

		ret = -errno;
		if (ret != -EADDRINUSE) {
			srv_log(srv, LOG_ERR, "bind %s: %s", path, strerror(-ret));
			goto err_close;
		}
		if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			srv_log(srv, LOG_ERR, "%s exists and is not a socket", path);
			goto err_close;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			ret = -errno;
			goto err_close;
		}
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
		    errno != ECONNREFUSED) {
			close(probe);
			srv_log(srv, LOG_ERR,
				"socket %s is in use by a running server", path);
			ret = -EADDRINUSE;
			goto err_close;
		}
		close(probe);
		srv_log(srv, LOG_INFO, "replacing stale socket %s", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			ret = -errno;
			srv_log(srv, LOG_ERR, "unlink %s: %s", path, strerror(-ret));
			goto err_close;
		}
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			ret = -errno;
			srv_log(srv, LOG_ERR, "bind %s: %s", path, strerror(-ret));
			goto err_close;
		}
	}
	if (listen(fd, 16) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	if (lstat(path, &st) == 0) {
		srv->path_ino = st.st_ino;
		srv->path_dev = st.st_dev;
	}
	strcpy(srv->path, path);
	srv->listen_fd = fd;
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(fd);
	return ret;
}

static int srv_make_region(struct pvio_ivshmem_server *srv)
{
	int fd, ret;

	fd = memfd_create("pvio-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)srv->size) < 0) {
		ret = -errno;
		goto err_close;
	}
	/* A peer holding the fd must not shrink it under our mapping: that
	 * would turn our accesses into SIGBUS. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		goto err_close;
	}
	srv->mem = mmap(NULL, srv->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			fd, 0);
	if (srv->mem == MAP_FAILED) {
		srv->mem = NULL;
		ret = -errno;
		goto err_close;
	}
	srv->mem_fd = fd;
	return 0;

err_close:
	close(fd);
	return ret;
}

/**
 * pvio_ivshmem_server_create() - create a region and serve it on a socket.
 * @opts: socket path, region size (power of two), vectors, limits, callbacks
 * @out: the new server
 *
 * Creates the region (a sealed memfd, zero-filled), the server's own
 * eventfds, and listens on @opts->socket_path, replacing a stale socket file;
 * the socket file gets @opts->socket_mode (0600 by default) and group.
 *
 * Context: process.
 * Return: 0; -EINVAL for a size that is not a power of two or a vector count
 * outside 1..PVIO_IVSHMEM_MAX_VECTORS; -EADDRINUSE if a live server listens
 * on the path; -ENAMETOOLONG; or the errno of a failed system call.
 */
int pvio_ivshmem_server_create(const struct pvio_ivshmem_server_opts *opts,
			       struct pvio_ivshmem_server **out)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u64 = SRV_TAG_LISTEN };
	struct pvio_ivshmem_server *srv;
	int ret;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->log = opts->log;
	srv->on_peer = opts->on_peer;
	srv->on_region = opts->on_region;
	srv->opaque = opts->opaque;
	srv->peer_check = opts->peer_check;
	srv->peer_uid = (uid_t)opts->peer_uid;
	srv->peer_gid_set = opts->peer_gid_set;
	srv->peer_gid = (gid_t)opts->peer_gid;
	srv->listen_fd = srv->blisten_fd = srv->epoll_fd = srv->mem_fd = -1;
	srv->pause_fd = -1;
	srv->next_id = 1;

	if (!opts->socket_path || !srv_is_pow2(opts->region_size) ||
	    opts->region_size > (uint64_t)SIZE_MAX ||
	    opts->vectors == 0 || opts->vectors > PVIO_IVSHMEM_MAX_VECTORS) {
		srv_log(srv, LOG_ERR,
			"invalid server options: size %llu (power of two needed), %u vectors (1..%u)",
			(unsigned long long)opts->region_size, opts->vectors,
			PVIO_IVSHMEM_MAX_VECTORS);
		free(srv);
		return -EINVAL;
	}
	srv->size = opts->region_size;
	srv->vectors = opts->vectors;
	srv->max_clients = opts->max_clients ? opts->max_clients
					     : PVIO_IVSHMEM_DEFAULT_MAX_CLIENTS;
	srv->fresh_region = opts->fresh_region;
	if (srv->fresh_region && (srv->max_clients != 1 || opts->backend_socket_path)) {
		srv_log(srv, LOG_ERR, "invalid server options: a fresh region per client needs max_clients 1 and no backend socket");
		free(srv);
		return -EINVAL;
	}

	ret = srv_make_eventfds(srv->self_efd, srv->vectors);
	if (ret)
		goto err_free;
	ret = srv_make_region(srv);
	if (ret) {
		srv_log(srv, LOG_ERR, "creating the region: %s", strerror(-ret));
		goto err_efds;
	}
	srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epoll_fd < 0) {
		ret = -errno;
		goto err_region;
	}
	srv->pause_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (srv->pause_fd < 0) {
		ret = -errno;
		goto err_epoll;
	}
	{
		struct epoll_event pev = { .events = EPOLLIN,
					   .data.u64 = SRV_TAG_PAUSE };

		if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, srv->pause_fd, &pev) < 0) {
			ret = -errno;
			goto err_epoll;
		}
	}
	if (srv->on_region)
		srv->on_region(srv->opaque, srv->mem, srv->size);
	if (opts->backend_socket_path) {
		struct epoll_event bev = { .events = EPOLLIN,
					   .data.u64 = SRV_TAG_BLISTEN };

		ret = srv_listen(srv, opts->backend_socket_path, opts);
		if (ret)
			goto err_epoll;
		srv->blisten_fd = srv->listen_fd;
		strcpy(srv->bpath, srv->path);
		srv->bpath_ino = srv->path_ino;
		srv->bpath_dev = srv->path_dev;
		srv->listen_fd = -1;
		if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, srv->blisten_fd, &bev) < 0) {
			ret = -errno;
			goto err_blisten;
		}
	}
	ret = srv_listen(srv, opts->socket_path, opts);
	if (ret)
		goto err_blisten;
	if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, srv->listen_fd, &ev) < 0) {
		ret = -errno;
		goto err_listen;
	}
	*out = srv;
	return 0;

err_listen:
	close(srv->listen_fd);
	unlink(srv->path);
err_blisten:
	if (srv->blisten_fd >= 0) {
		close(srv->blisten_fd);
		unlink(srv->bpath);
	}
err_epoll:
	if (srv->pause_fd >= 0)
		close(srv->pause_fd);
	close(srv->epoll_fd);
err_region:
	munmap(srv->mem, srv->size);
	close(srv->mem_fd);
err_efds:
	srv_close_fds(srv->self_efd, srv->vectors);
err_free:
	free(srv);
	return ret;
}

/**
 * pvio_ivshmem_server_destroy() - disconnect every peer and free everything.
 * @srv: server, may be NULL
 *
 * Removes the socket file if it is still the one this server bound.
 *
 * Context: process.
 */
void pvio_ivshmem_server_destroy(struct pvio_ivshmem_server *srv)
{
	struct stat st;
	int i;

	if (!srv)
		return;
	while (srv->peers) {
		struct srv_peer *p = srv->peers;

		srv->peers = p->next;
		close(p->sock);
		srv_close_fds(p->efd, srv->vectors);
		free(p);
	}
	close(srv->listen_fd);
	if (lstat(srv->path, &st) == 0 && st.st_ino == srv->path_ino &&
	    st.st_dev == srv->path_dev)
		unlink(srv->path);
	if (srv->blisten_fd >= 0) {
		close(srv->blisten_fd);
		if (lstat(srv->bpath, &st) == 0 && st.st_ino == srv->bpath_ino &&
		    st.st_dev == srv->bpath_dev)
			unlink(srv->bpath);
	}
	close(srv->pause_fd);
	close(srv->epoll_fd);
	munmap(srv->mem, srv->size);
	close(srv->mem_fd);
	srv_close_fds(srv->self_efd, srv->vectors);
	for (i = 0; i < SRV_KEEP_IDS; i++)
		if (srv->kept[i])
			srv_close_fds(srv->kept_efd[i], srv->vectors);
	free(srv);
}

/**
 * pvio_ivshmem_server_fd() - the one descriptor to add to an event loop.
 * @srv: server
 *
 * Context: any.
 * Return: an epoll descriptor, readable when pvio_ivshmem_server_handle()
 * has work.
 */
int pvio_ivshmem_server_fd(const struct pvio_ivshmem_server *srv)
{
	return srv->epoll_fd;
}

/**
 * pvio_ivshmem_server_mem() - the server's own mapping of the region.
 * @srv: server
 *
 * Context: any.
 * Return: the mapping, valid until pvio_ivshmem_server_destroy().
 */
void *pvio_ivshmem_server_mem(const struct pvio_ivshmem_server *srv)
{
	return srv->mem;
}

/**
 * pvio_ivshmem_server_mem_size() - bytes in the region.
 * @srv: server
 *
 * Context: any.
 * Return: the region size.
 */
uint64_t pvio_ivshmem_server_mem_size(const struct pvio_ivshmem_server *srv)
{
	return srv->size;
}

/**
 * pvio_ivshmem_server_mem_fd() - the region's memfd (owned by the server).
 * @srv: server
 *
 * Context: any.
 * Return: the fd.
 */
int pvio_ivshmem_server_mem_fd(const struct pvio_ivshmem_server *srv)
{
	return srv->mem_fd;
}

/**
 * pvio_ivshmem_server_vectors() - doorbell vectors per peer.
 * @srv: server
 *
 * Context: any.
 * Return: the vector count.
 */
unsigned int pvio_ivshmem_server_vectors(const struct pvio_ivshmem_server *srv)
{
	return srv->vectors;
}

/**
 * pvio_ivshmem_server_vector_fd() - the server's own doorbell for @vector.
 * @srv: server
 * @vector: 0..vectors-1
 *
 * Peers ring the server by writing to this eventfd; the IO engine waits on
 * it (it is non-blocking; read 8 bytes to clear it). The fd stays valid
 * until pvio_ivshmem_server_destroy(), across peers coming and going.
 *
 * Context: any.
 * Return: the eventfd, or -EINVAL for a vector out of range.
 */
int pvio_ivshmem_server_vector_fd(const struct pvio_ivshmem_server *srv,
				  unsigned int vector)
{
	if (vector >= srv->vectors)
		return -EINVAL;
	return srv->self_efd[vector];
}

/**
 * pvio_ivshmem_server_peer_vector_fd() - a client's doorbell @vector.
 * @srv: server
 * @peer_id: a connected client
 * @vector: 0..vectors-1
 *
 * Writing 1 to it rings the client (what pvio_ivshmem_server_notify()
 * does); for handing the doorbell to another engine, such as the host
 * kernel's. The fd stays the server's and is closed when the client
 * leaves: dup it (or pass it to the kernel, which takes its own
 * reference) to keep it longer.
 *
 * Context: any.
 * Return: the eventfd, -ENOENT for an unknown peer, -EINVAL for a bad
 * vector.
 */
int pvio_ivshmem_server_peer_vector_fd(const struct pvio_ivshmem_server *srv,
				       int peer_id, unsigned int vector)
{
	const struct srv_peer *p;

	if (vector >= srv->vectors)
		return -EINVAL;
	p = srv_find(srv, peer_id);
	if (!p)
		return -ENOENT;
	return p->efd[vector];
}

/**
 * pvio_ivshmem_server_nr_clients() - connected clients.
 * @srv: server
 *
 * Context: any.
 * Return: the number of clients (the server itself not counted).
 */
/**
 * pvio_ivshmem_server_sessions() - how many regions were handed out.
 * @srv: server
 *
 * With fresh_region, each is a client session of its own; otherwise 1
 * once the first client joined.
 *
 * Context: any.
 * Return: the count.
 */
uint64_t pvio_ivshmem_server_sessions(const struct pvio_ivshmem_server *srv)
{
	return srv->sessions;
}

/**
 * pvio_ivshmem_server_nr_clients() - how many clients are connected.
 * @srv: server
 *
 * Context: any.
 * Return: the count.
 */
unsigned int pvio_ivshmem_server_nr_clients(const struct pvio_ivshmem_server *srv)
{
	return srv->nr_clients;
}

/**
 * pvio_ivshmem_server_has_peer() - is @peer_id connected?
 * @srv: server
 * @peer_id: id
 *
 * Context: any.
 * Return: true for the server's own id and for connected clients.
 */
bool pvio_ivshmem_server_has_peer(const struct pvio_ivshmem_server *srv,
				  int peer_id)
{
	return peer_id == PVIO_IVSHMEM_SERVER_ID || srv_find(srv, peer_id);
}

/**
 * pvio_ivshmem_server_notify() - ring a peer's doorbell.
 * @srv: server
 * @peer_id: a connected client, or PVIO_IVSHMEM_SERVER_ID
 * @vector: 0..vectors-1
 *
 * A doorbell already pending absorbs this one (eventfd counter semantics),
 * which is all a doorbell promises.
 *
 * Context: process; does not sleep.
 * Return: 0, -ENOENT for an unknown peer, -EINVAL for a bad vector, or the
 * errno of the write.
 */
int pvio_ivshmem_server_notify(struct pvio_ivshmem_server *srv, int peer_id,
			       unsigned int vector)
{
	const uint64_t one = 1;
	struct srv_peer *p = NULL;
	int fd;

	if (vector >= srv->vectors)
		return -EINVAL;
	if (peer_id == PVIO_IVSHMEM_SERVER_ID) {
		fd = srv->self_efd[vector];
	} else {
		p = srv_find(srv, peer_id);
		if (!p)
			return -ENOENT;
		fd = p->efd[vector];
	}
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}
