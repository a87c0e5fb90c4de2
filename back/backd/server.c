// SPDX-License-Identifier: MIT
/*
 * pvio-backd region server; see server.h. One per exported device, all on
 * the daemon's main thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pvio_ring.h"
#include "server.h"
#include "store_nbd.h"

/**
 * backd_now_ms() - a monotonic clock in milliseconds.
 *
 * Context: any.
 * Return: milliseconds since an arbitrary point.
 */
long long backd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void srv_log_cb(void *opaque, int level, const char *msg)
{
	struct backd_srv *s = opaque;

	/* The server's own "peer N joined/left" lines repeat ours. */
	if (level == LOG_INFO && !strncmp(msg, "peer ", 5))
		return;
	/* Anyone allowed can connect at will: rate-limited. */
	if (!strncmp(msg, "refusing connection", 19) &&
	    strstr(msg, "already connected"))
		backd_log_peer(&s->rl, s->name,
			       "second frontend refused, the device already has one (peer %d): %s",
			       s->peer, msg);
	else if (!strncmp(msg, "refusing connection", 19) ||
		 !strncmp(msg, "peer ", 5))
		/* What a client made happen ("peer N: sending setup
		 * failed" from one that connects and closes at once). */
		backd_log_peer(&s->rl, s->name, "ivshmem server: %s", msg);
	else
		backd_log("%s: ivshmem server: %s", s->name, msg);
}

static void srv_on_peer(void *opaque, int id, bool joined)
{
	struct backd_srv *s = opaque;

	if (s->nr_ev == BACKD_SRV_MAX_EVENTS) {
		backd_log("%s: too many peer events at once; peer %d %s ignored",
			  s->name, id, joined ? "joining" : "leaving");
		return;
	}
	s->ev[s->nr_ev].id = id;
	s->ev[s->nr_ev].joined = joined;
	s->nr_ev++;
}

/* A fresh region: park its header so that an early frontend waits for
 * the engine's layout instead of refusing a region without the magic. */
static void srv_on_region(void *opaque, void *mem, uint64_t size)
{
	(void)opaque;
	(void)size;
	pvio_region_park(mem, 0);
}

/*
 * A message the engine did not take within BACKD_CHAN_SEND_TIMEOUT_MS
 * (its channel full: it stopped reading) or could not take: the engine
 * is stuck or going. Kill it; the one started after it gets the session.
 */
static void srv_chan_failed(struct backd_srv *s, const char *what, int err)
{
	/* Once per engine: it is being killed, the rest would repeat it. */
	if (s->chan_failed)
		return;
	s->chan_failed = true;
	backd_log("%s: %s to the engine (pid %d): %s; killing it", s->name,
		  what, (int)s->pid,
		  err == -EAGAIN ? "not taken in time" : strerror(-err));
	if (s->pid > 0)
		kill(s->pid, SIGKILL);
}

/* Hand the current session to the engine, if both exist. */
static void srv_send_session(struct backd_srv *s, bool fresh)
{
	int fds[BACKD_CHAN_MAX_FDS];
	struct backd_msg m;
	unsigned int v;
	int ret;

	if (s->chan < 0 || s->peer < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.type = BACKD_MSG_SESSION;
	m.peer = s->peer;
	m.session = s->session;
	m.region_size = s->region_size;
	m.nvec = s->nvec;
	m.gen = s->gen;
	m.fresh = fresh;
	fds[0] = pvio_ivshmem_server_mem_fd(s->srv);
	for (v = 0; v < s->nvec; v++) {
		fds[1 + v] = pvio_ivshmem_server_vector_fd(s->srv, v);
		fds[1 + s->nvec + v] =
			pvio_ivshmem_server_peer_vector_fd(s->srv, s->peer, v);
		if (fds[1 + v] < 0 || fds[1 + s->nvec + v] < 0) {
			backd_log("%s: frontend peer %d: no doorbell for vector %u",
				  s->name, s->peer, v);
			return;
		}
	}
	ret = backd_chan_send(s->chan, &m, fds, 1 + 2 * s->nvec);
	if (ret)
		srv_chan_failed(s, "handing the session", ret);
}

static void srv_send_end(struct backd_srv *s, uint64_t session)
{
	struct backd_msg m;
	int ret;

	if (s->chan < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.type = BACKD_MSG_END;
	m.session = session;
	ret = backd_chan_send(s->chan, &m, NULL, 0);
	if (ret)
		srv_chan_failed(s, "ending the session", ret);
}

static int srv_epoll_ep = -1;

/**
 * backd_srv_start_engine() - fork the device's engine process.
 * @s: device without a running engine
 *
 * The child keeps only stdin, stdout, stderr and its end of the channel,
 * renames itself pvio-eng-devN and runs backd_dev_engine_main(). The
 * current session, if any, is handed to it at once.
 *
 * Context: region server thread.
 * Return: 0 or a negative errno (logged); a failure is retried later.
 */
int backd_srv_start_engine(struct backd_srv *s)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char comm[16];
	int sv[2];
	pid_t pid;

	s->restart_ms = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		backd_log("%s: engine channel: %s", s->name, strerror(errno));
		goto retry;
	}
	pid = fork();
	if (pid < 0) {
		backd_log("%s: starting the engine: %s", s->name, strerror(errno));
		close(sv[0]);
		close(sv[1]);
		goto retry;
	}
	if (pid == 0) {
		int chan = sv[1] == 3 ? 3 : dup2(sv[1], 3);

		if (chan != 3)
			_exit(1);
		/* Nothing of the server's (sockets, other devices' regions)
		 * stays in the engine. */
		close_range(4, ~0u, 0);
		snprintf(comm, sizeof(comm), "pvio-eng-dev%u", s->idx);
		prctl(PR_SET_NAME, comm);
		_exit(backd_dev_engine_main(&s->o, &s->po, s->idx, 3));
	}
	close(sv[1]);
	s->chan_failed = false;
	/* The server never waits on an engine without a bound. */
	if (backd_chan_bound_sends(sv[0]))
		backd_log("%s: engine channel timeout: %s", s->name, strerror(errno));
	s->chan = sv[0];
	s->pid = pid;
	s->started_ms = backd_now_ms();
	ev.data.u64 = ((uint64_t)s->idx << 2) | 1;
	if (epoll_ctl(srv_epoll_ep, EPOLL_CTL_ADD, s->chan, &ev) < 0)
		backd_log("%s: epoll: %s", s->name, strerror(errno));
	srv_send_session(s, false);
	return 0;

retry:
	s->restart_ms = backd_now_ms() + BACKD_RESTART_MAX_MS;
	return -EAGAIN;
}

/**
 * backd_srv_reaped() - an engine process ended; plan the next one.
 * @s: device
 * @pid: the process that ended
 * @status: its wait status
 *
 * Context: region server thread, after waitpid().
 * Return: true if @pid was @s's engine.
 */
bool backd_srv_reaped(struct backd_srv *s, pid_t pid, int status)
{
	long long now = backd_now_ms(), lived;
	char how[64];

	if (pid != s->pid)
		return false;
	s->pid = 0;
	if (s->chan >= 0) {
		epoll_ctl(srv_epoll_ep, EPOLL_CTL_DEL, s->chan, NULL);
		close(s->chan);
		s->chan = -1;
	}
	if (s->stopping)
		return true;
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d",
			 WEXITSTATUS(status));
	lived = now - s->started_ms;
	if (lived < BACKD_RESTART_QUICK_MS) {
		s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKD_RESTART_MIN_MS;
		if (s->backoff_ms > BACKD_RESTART_MAX_MS)
			s->backoff_ms = BACKD_RESTART_MAX_MS;
	} else {
		s->backoff_ms = 0;
	}
	s->restart_ms = now + s->backoff_ms;
	s->restarts++;
	backd_log("%s: engine (pid %d) %s after %lld ms; starting another%s (restart %u; the region, doorbells and socket stay)",
		  s->name, (int)pid, how, lived,
		  s->backoff_ms ? " after a pause" : "", s->restarts);
	if (!s->restart_ms)
		s->restart_ms = now;
	return true;
}

/**
 * backd_srv_tick() - start an engine that is due.
 * @s: device
 * @now_ms: backd_now_ms()
 *
 * Context: region server thread.
 */
void backd_srv_tick(struct backd_srv *s, long long now_ms)
{
	if (!s->pid && !s->stopping && s->restart_ms && now_ms >= s->restart_ms)
		backd_srv_start_engine(s);
}

/**
 * backd_srv_handle_chan() - a message from the engine.
 * @s: device
 *
 * Context: region server thread, when the channel is readable.
 */
void backd_srv_handle_chan(struct backd_srv *s)
{
	int fds[BACKD_CHAN_MAX_FDS];
	struct backd_msg m;
	unsigned int nfds, i;
	int ret;

	if (s->chan < 0)
		return;
	ret = backd_chan_recv(s->chan, &m, fds, BACKD_CHAN_MAX_FDS, &nfds);
	if (ret == -EAGAIN)
		return;
	if (ret == -EPIPE || (ret && ret != -EPROTO)) {
		/* The engine is gone; SIGCHLD reaps it. */
		epoll_ctl(srv_epoll_ep, EPOLL_CTL_DEL, s->chan, NULL);
		close(s->chan);
		s->chan = -1;
		return;
	}
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (!ret && m.type == BACKD_MSG_GEN && m.gen > s->gen)
		s->gen = m.gen;
}

/*
 * Driver-VM mode: the server stands in for a peer that left without
 * closing, so that the one still there acts at once: the driver VM sees
 * its frontend CLOSED (it answers, closes and lays the region out again
 * for the next one), the frontend sees its backend CLOSED (it holds its
 * requests until the next driver VM lays the region out). One release
 * store of the state word of the side that is gone, then its peer's
 * control doorbell; nothing else of the region is touched.
 */
static void srv_stand_in(struct backd_srv *s, bool backend_left)
{
	struct pvio_region_hdr *hdr = pvio_ivshmem_server_mem(s->srv);
	int ring = backend_left ? s->peer : PVIO_IVSHMEM_SERVER_ID;

	if (backend_left)
		pvio_store_release(&hdr->back.state, pvio_cpu_to_le32(PVIO_STATE_CLOSED));
	else
		pvio_store_release(&hdr->front.state, pvio_cpu_to_le32(PVIO_STATE_CLOSED));
	if (ring >= 0 && pvio_ivshmem_server_has_peer(s->srv, ring))
		pvio_ivshmem_server_notify(s->srv, ring, PVIO_VECTOR_CONTROL);
}

static void srv_relay_event(struct backd_srv *s, int id, bool joined)
{
	if (id == PVIO_IVSHMEM_SERVER_ID) {
		s->backend_up = joined;
		if (joined) {
			backd_log("%s: driver VM joined as the backend (peer 0); its frontend is peer 1",
				  s->name);
			return;
		}
		backd_log("%s: driver VM left; the frontend holds its IO until the next one serves the region",
			  s->name);
		srv_stand_in(s, true);
		return;
	}
	if (joined) {
		s->peer = id;
		backd_log_peer(&s->sess_rl, s->name, "frontend peer %d joined", id);
		return;
	}
	if (id != s->peer)
		return;
	backd_log_peer(&s->sess_rl, s->name,
		       "frontend peer %d left; the driver VM lays the region out again for the next one",
		       id);
	s->peer = -1;
	srv_stand_in(s, false);
}

/**
 * backd_srv_handle() - serve the ivshmem socket(s) of @s.
 * @s: device
 *
 * Context: region server thread, when backd_srv_fd() is readable.
 */
void backd_srv_handle(struct backd_srv *s)
{
	unsigned int i;
	int ret;

	ret = pvio_ivshmem_server_handle(s->srv);
	if (ret < 0)
		backd_log("%s: ivshmem server: %s", s->name, strerror(-ret));
	for (i = 0; i < s->nr_ev; i++) {
		int id = s->ev[i].id;

		if (s->o.driver_vm) {
			srv_relay_event(s, id, s->ev[i].joined);
			continue;
		}
		if (s->ev[i].joined) {
			if (s->peer >= 0) {
				backd_log_peer(&s->sess_rl, s->name,
					       "peer %d joined while peer %d is the frontend; ignored",
					       id, s->peer);
				continue;
			}
			s->peer = id;
			s->session = pvio_ivshmem_server_sessions(s->srv);
			backd_log_peer(&s->sess_rl, s->name,
				       "frontend peer %d joined (session %" PRIu64 ")",
				       id, s->session);
			srv_send_session(s, true);
		} else if (id == s->peer) {
			backd_log_peer(&s->sess_rl, s->name,
				       "frontend peer %d left; its region and doorbells go with it, the next frontend gets new ones",
				       id);
			srv_send_end(s, s->session);
			s->peer = -1;
		}
	}
	s->nr_ev = 0;
}

/*
 * At start-up only: is another daemon exporting the store read-write?
 * A daemon that stopped a moment ago may still hold the lock through IO
 * the kernel is retiring (an io_uring lets go of its files after its
 * process has gone), so wait a little before calling it another's.
 */
static int srv_store_free(struct backd_srv *s, struct backd_dev *d)
{
	int ret = backd_store_fence(&d->store, s->name, BACKD_START_FENCE_MS);

	if (ret == -ETIMEDOUT) {
		backd_log("%s: %s is exported by another pvio-backd (it holds its lock)",
			  s->name, s->o.path);
		return -EBUSY;
	}
	return ret;
}

/*
 * At exit, once the engines are reaped: wait until what they submitted
 * has let go of the store, so that a daemon started right after this one
 * exits finds it free, and so does anyone else who opens it.
 */
static void srv_store_release_wait(struct backd_srv *s)
{
	struct backd_store st = { .path = s->o.path, .ro = s->o.ro };

	if (!s->o.path || s->o.driver_vm || s->o.net ||
	    backd_store_is_nbd(s->o.path))
		return;
	st.fd = open(s->o.path, O_RDONLY | O_CLOEXEC);
	if (st.fd < 0)
		return;
	backd_store_fence(&st, s->name, BACKD_EXIT_FENCE_MS);
	backd_store_close(&st);
}

static void srv_fill_socket_opts(struct pvio_ivshmem_server_opts *io,
				 const struct backd_socket_opts *so)
{
	io->socket_mode = so->mode;
	io->set_group = so->set_group;
	io->socket_gid = so->gid;
	io->peer_check = so->peer_check;
	io->peer_uid = so->peer_uid;
	io->peer_gid_set = so->peer_gid_set;
	io->peer_gid = so->peer_gid;
}

/* --driver-vm: both sockets, no engine; see srv_relay_event(). */
static int srv_open_relay(struct backd_srv *s, const struct backd_socket_opts *so)
{
	struct pvio_ivshmem_server_opts io;
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int mb = s->o.region_mb ? s->o.region_mb :
			  s->o.queues == 1 ? 32 : 64;
	int ret;

	s->region_size = (uint64_t)mb << 20;
	s->nvec = s->o.queues + 1;
	memset(&io, 0, sizeof(io));
	io.socket_path = s->o.socket;
	io.backend_socket_path = s->o.driver_vm;
	io.region_size = s->region_size;
	io.vectors = s->nvec;
	io.max_clients = 1;
	srv_fill_socket_opts(&io, so);
	io.log = srv_log_cb;
	io.on_peer = srv_on_peer;
	io.opaque = s;
	ret = pvio_ivshmem_server_create(&io, &s->srv);
	if (ret) {
		backd_log("%s: cannot serve on sockets %s and %s: %s", s->name,
			  s->o.socket, s->o.driver_vm, strerror(-ret));
		backd_ratelimit_destroy(&s->rl);
		backd_ratelimit_destroy(&s->sess_rl);
		return ret;
	}
	ev.data.u64 = (uint64_t)s->idx << 2;
	if (epoll_ctl(srv_epoll_ep, EPOLL_CTL_ADD,
		      pvio_ivshmem_server_fd(s->srv), &ev) < 0) {
		ret = -errno;
		backd_log("%s: epoll: %s", s->name, strerror(-ret));
		pvio_ivshmem_server_destroy(s->srv);
		s->srv = NULL;
		backd_ratelimit_destroy(&s->rl);
		backd_ratelimit_destroy(&s->sess_rl);
		return ret;
	}
	backd_log("%s: driver VM device: backend socket %s, frontend socket %s, %u queue(s), region %" PRIu64 " bytes, vectors %u",
		  s->name, s->o.driver_vm, s->o.socket, s->o.queues,
		  s->region_size, s->nvec);
	return 0;
}

/**
 * backd_srv_open() - check the store, serve the socket, start the engine.
 * @s: device, zeroed by the caller
 * @idx: device number
 * @o: options
 * @po: how the engine's IO threads wait
 * @so: socket mode, group and peer check
 *
 * Context: region server thread, at start-up, before any thread exists
 * (the socket is created under a process-wide umask).
 * Return: 0 or a negative errno (logged).
 */
int backd_srv_open(struct backd_srv *s, unsigned int idx,
		   const struct backd_dev_opts *o,
		   const struct backd_poll_opts *po,
		   const struct backd_socket_opts *so)
{
	struct pvio_ivshmem_server_opts io;
	struct epoll_event ev = { .events = EPOLLIN };
	struct backd_dev *d;
	int ret;

	snprintf(s->name, sizeof(s->name), "dev%u", idx);
	s->idx = idx;
	s->o = *o;
	s->po = *po;
	s->peer = -1;
	s->chan = -1;
	backd_ratelimit_init(&s->rl);
	backd_ratelimit_init(&s->sess_rl);
	if (o->driver_vm)
		return srv_open_relay(s, so);
	if (o->kernel) {
		ret = backd_kernel_check(s->name);
		if (ret)
			goto err_rl;
	}
	/* The checks the engine repeats, once here so that a bad store
	 * fails the start-up; the engine opens the store itself. */
	d = calloc(1, sizeof(*d));
	if (!d) {
		ret = -ENOMEM;
		goto err_rl;
	}
	ret = backd_dev_prepare(d, idx, o, po);
	if (!ret && o->net) {
		s->region_size = d->region_size;
		backd_log("%s: network device on TAP %s: MTU %u, %u queue pair(s) of depth %u; socket %s, region %" PRIu64 " bytes, vectors %u",
			  s->name, o->tap, o->mtu, o->pairs, d->net_lim.queue_depth,
			  o->socket, d->region_size, o->queues + 1);
	} else if (!ret) {
		/* The store may serve fewer queues than asked (an NBD export
		 * without multi-conn): the engine finds the same. */
		s->o.queues = d->o.queues;
		s->region_size = d->region_size;
		backd_log("%s: %s: %" PRIu64 " bytes, block size %u%s, %s IO; socket %s, %u queue(s) of depth %u, region %" PRIu64 " bytes, vectors %u, %s engine",
			  s->name, o->path, d->store.size, d->store.lbs,
			  o->ro || d->store.ro ? ", read-only" : "",
			  d->store.nbd ? "NBD" : d->store.direct ? "direct" : "buffered",
			  o->socket, s->o.queues, o->depth, d->region_size,
			  s->o.queues + 1,
			  o->kernel ? "kernel" : "io_uring");
	}
	if (ret) {
		free(d);
		goto err_rl;
	}
	s->nvec = s->o.queues + 1;

	memset(&io, 0, sizeof(io));
	io.socket_path = o->socket;
	io.region_size = s->region_size;
	io.vectors = s->nvec;
	io.max_clients = 1;
	io.fresh_region = true;
	srv_fill_socket_opts(&io, so);
	io.log = srv_log_cb;
	io.on_peer = srv_on_peer;
	io.on_region = srv_on_region;
	io.opaque = s;
	ret = pvio_ivshmem_server_create(&io, &s->srv);
	if (ret)
		backd_log("%s: cannot serve on socket %s: %s", s->name, o->socket,
			  strerror(-ret));
	else if (!o->net)
		ret = srv_store_free(s, d);
	backd_dev_unprepare(d);
	free(d);
	if (ret)
		goto err_srv;
	ev.data.u64 = (uint64_t)idx << 2;
	if (epoll_ctl(srv_epoll_ep, EPOLL_CTL_ADD,
		      pvio_ivshmem_server_fd(s->srv), &ev) < 0) {
		ret = -errno;
		backd_log("%s: epoll: %s", s->name, strerror(-ret));
		goto err_srv;
	}
	ret = backd_srv_start_engine(s);
	if (ret)
		goto err_srv;
	return 0;

err_srv:
	pvio_ivshmem_server_destroy(s->srv);
	s->srv = NULL;
err_rl:
	backd_ratelimit_destroy(&s->rl);
	backd_ratelimit_destroy(&s->sess_rl);
	return ret;
}

/**
 * backd_srv_signal() - pass a signal on to the engine.
 * @s: device
 * @sig: SIGTERM (stop for good: no restart), SIGUSR1 (statistics), ...
 *
 * Context: region server thread.
 */
void backd_srv_signal(struct backd_srv *s, int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		s->stopping = true;
	if (s->pid > 0)
		kill(s->pid, sig);
}

/**
 * backd_srv_close() - stop serving: the engine is gone, drop the server.
 * @s: device whose engine was stopped and reaped (or SIGKILLed here)
 *
 * Context: region server thread, at exit.
 */
void backd_srv_close(struct backd_srv *s)
{
	int status;

	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &status, 0);
		s->pid = 0;
	}
	if (s->chan >= 0)
		close(s->chan);
	s->chan = -1;
	if (s->srv)
		srv_store_release_wait(s);
	if (s->restarts)
		backd_log("%s: the engine was started %u time(s) after the first",
			  s->name, s->restarts);
	pvio_ivshmem_server_destroy(s->srv);
	s->srv = NULL;
	backd_ratelimit_destroy(&s->rl);
	backd_ratelimit_destroy(&s->sess_rl);
}

/**
 * backd_srv_set_epoll() - the event loop the servers register with.
 * @ep: epoll descriptor; tags are (idx << 2) | 0 for a server, | 1 for
 *      an engine channel
 *
 * Context: region server thread, before backd_srv_open().
 */
void backd_srv_set_epoll(int ep)
{
	srv_epoll_ep = ep;
}
