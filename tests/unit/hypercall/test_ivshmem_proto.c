// SPDX-License-Identifier: MIT
/*
 * Tests of hypercall/ivshmem_server.c and hypercall/ivshmem_client.c: the
 * ivshmem server protocol as QEMU speaks it, both sides in one process, and
 * a client facing a hostile server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ivshmem_client.h"
#include "ivshmem_server.h"

#define REGION (1u << 20)
#define VECS 3u

struct fixture {
	char dir[64];
	char path[128];
	char log[4096]; /* everything the server or client logged */
	struct pvio_ivshmem_server *srv;
};

/* Server and client may log from different threads. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void capture_log(void *opaque, int level, const char *msg)
{
	struct fixture *f = opaque;
	size_t len;

	(void)level;
	pthread_mutex_lock(&log_lock);
	len = strlen(f->log);
	snprintf(f->log + len, sizeof(f->log) - len, "%s\n", msg);
	pthread_mutex_unlock(&log_lock);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/pvio-ivshmem-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pvio_ivshmem_server_destroy(f->srv);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int server_start(struct fixture *f, uint64_t size, unsigned int vecs,
			unsigned int max_clients)
{
	struct pvio_ivshmem_server_opts o = {
		.socket_path = f->path,
		.region_size = size,
		.vectors = vecs,
		.max_clients = max_clients,
		.log = capture_log,
		.opaque = f,
	};

	return pvio_ivshmem_server_create(&o, &f->srv);
}

struct connect_job {
	struct pvio_ivshmem_client_opts opts;
	struct pvio_ivshmem_client *c;
	int ret;
	int done;
};

static void *connect_thread(void *arg)
{
	struct connect_job *j = arg;

	j->ret = pvio_ivshmem_client_connect(&j->opts, &j->c);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Connect a client in a thread while this thread drives the server. */
static int client_connect(struct fixture *f, unsigned int vecs,
			  struct pvio_ivshmem_client **out)
{
	struct connect_job j = {
		.opts = { .socket_path = f->path, .vectors = vecs,
			  .timeout_ms = 5000, .log = capture_log, .opaque = f },
	};
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, connect_thread, &j), 0);
	while (!__atomic_load_n(&j.done, __ATOMIC_ACQUIRE))
		assert_int_equal(pvio_ivshmem_server_run(f->srv, 10), 0);
	pthread_join(t, NULL);
	*out = j.c;
	return j.ret;
}

static bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static uint64_t efd_drain(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Pump the server until @cond holds for the client (or give up). */
static void pump_until_peer_vectors(struct fixture *f,
				    struct pvio_ivshmem_client *c, int peer,
				    unsigned int want)
{
	int i;

	for (i = 0; i < 500; i++) {
		pvio_ivshmem_server_run(f->srv, 2);
		if (fd_readable(pvio_ivshmem_client_fd(c), 2))
			assert_int_equal(pvio_ivshmem_client_handle(c), 0);
		if (pvio_ivshmem_client_peer_vectors(c, peer) == want)
			return;
	}
	fail_msg("peer %d: %u vectors, wanted %u", peer,
		 pvio_ivshmem_client_peer_vectors(c, peer), want);
}

/* ---- server creation ---- */

static void test_server_refuses_non_power_of_two_size(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(server_start(f, REGION + 4096, VECS, 0), -EINVAL);
	assert_int_equal(server_start(f, 0, VECS, 0), -EINVAL);
	assert_int_equal(server_start(f, 3 * 4096, VECS, 0), -EINVAL);
	assert_null(f->srv);
	assert_int_equal(access(f->path, F_OK), -1);
}

static void test_server_refuses_bad_vector_count(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(server_start(f, REGION, 0, 0), -EINVAL);
	assert_int_equal(server_start(f, REGION, PVIO_IVSHMEM_MAX_VECTORS + 1, 0),
			 -EINVAL);
	assert_int_equal(server_start(f, REGION, PVIO_IVSHMEM_MAX_VECTORS, 0), 0);
}

static void test_server_refuses_socket_path_in_use(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_server *second = NULL;
	struct pvio_ivshmem_server_opts o = {
		.socket_path = f->path, .region_size = REGION, .vectors = 1,
		.log = capture_log, .opaque = f,
	};
	struct pvio_ivshmem_client *c;

	assert_int_equal(server_start(f, REGION, VECS, 0), 0);
	assert_int_equal(pvio_ivshmem_server_create(&o, &second), -EADDRINUSE);
	assert_null(second);
	assert_non_null(strstr(f->log, "in use by a running server"));
	/* The first server still serves its socket. */
	assert_int_equal(client_connect(f, VECS, &c), 0);
	pvio_ivshmem_client_close(c);
}

static void test_server_replaces_stale_socket(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pvio_ivshmem_client *c;
	int fd;

	/* A socket file left behind by a server that died. */
	strcpy(sa.sun_path, f->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(access(f->path, F_OK), 0);

	assert_int_equal(server_start(f, REGION, VECS, 0), 0);
	assert_int_equal(client_connect(f, VECS, &c), 0);
	pvio_ivshmem_client_close(c);
}

static void test_server_leaves_non_socket_file_alone(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	int fd = open(f->path, O_CREAT | O_WRONLY, 0600);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(server_start(f, REGION, VECS, 0), -EADDRINUSE);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_server_unlinks_its_socket_on_destroy(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(server_start(f, REGION, VECS, 0), 0);
	assert_int_equal(access(f->path, F_OK), 0);
	pvio_ivshmem_server_destroy(f->srv);
	f->srv = NULL;
	assert_int_equal(access(f->path, F_OK), -1);
}

/* ---- the exact setup sequence, read with a raw socket ---- */

static int raw_recv(int sock, int64_t *val, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = { .iov_base = val, .iov_len = sizeof(*val) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm;
	ssize_t n;
	int nfds = 0;

	*fd = -1;
	n = recvmsg(sock, &m, MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	if (n != sizeof(*val))
		return -EIO;
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
		assert_int_equal(cm->cmsg_type, SCM_RIGHTS);
		assert_int_equal(cm->cmsg_len, CMSG_LEN(sizeof(int)));
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
		nfds++;
	}
	assert_true(nfds <= 1);
	return 0;
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return s;
}

static void expect_msg(int sock, int64_t want_val, bool want_fd, int *fd_out)
{
	int64_t v;
	int fd;

	assert_int_equal(raw_recv(sock, &v, &fd), 0);
	assert_int_equal(v, want_val);
	if (want_fd)
		assert_true(fd >= 0);
	else
		assert_int_equal(fd, -1);
	if (fd_out)
		*fd_out = fd;
	else if (fd >= 0)
		close(fd);
}

static void test_setup_sends_exact_sequence(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *a;
	struct stat st;
	int64_t v;
	int s, fd, id_a, id_raw, mem_fd, i, k;

	assert_int_equal(server_start(f, REGION, VECS, 0), 0);
	assert_int_equal(client_connect(f, VECS, &a), 0);
	id_a = pvio_ivshmem_client_id(a);

	s = raw_connect(f->path);
	assert_int_equal(pvio_ivshmem_server_run(f->srv, 1000), 0);

	expect_msg(s, 0, false, NULL);
	assert_int_equal(raw_recv(s, &v, &fd), 0);
	assert_int_equal(fd, -1);
	id_raw = (int)v;
	assert_true(id_raw > 0 && id_raw <= 65535);
	assert_int_not_equal(id_raw, id_a);
	assert_int_not_equal(id_raw, PVIO_IVSHMEM_SERVER_ID);
	expect_msg(s, -1, true, &mem_fd);
	assert_int_equal(fstat(mem_fd, &st), 0);
	assert_int_equal(st.st_size, REGION);
	close(mem_fd);

	/* The other peers (the server itself and client a), each with VECS
	 * eventfds in a row, in some order; then ourselves. */
	for (k = 0; k < 2; k++) {
		int64_t who;

		assert_int_equal(raw_recv(s, &who, &fd), 0);
		assert_true(fd >= 0);
		close(fd);
		assert_true(who == PVIO_IVSHMEM_SERVER_ID || who == id_a);
		for (i = 1; i < (int)VECS; i++)
			expect_msg(s, who, true, NULL);
	}
	for (i = 0; i < (int)VECS; i++)
		expect_msg(s, id_raw, true, NULL);
	/* Nothing more. */
	assert_int_equal(raw_recv(s, &v, &fd), -EAGAIN);

	/* Client a hears of the newcomer, then of its departure. */
	pump_until_peer_vectors(f, a, id_raw, VECS);
	close(s);
	pump_until_peer_vectors(f, a, id_raw, 0);
	pvio_ivshmem_client_close(a);
}

/* ---- client and server together ---- */

static void test_client_maps_the_server_region(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *c;
	volatile uint8_t *sm, *cm;

	assert_int_equal(server_start(f, REGION, VECS, 0), 0);
	assert_int_equal(client_connect(f, VECS, &c), 0);
	assert_int_equal(pvio_ivshmem_client_mem_size(c), REGION);
	sm = pvio_ivshmem_server_mem(f->srv);
	cm = pvio_ivshmem_client_mem(c);
	assert_ptr_not_equal(sm, cm);
	sm[0] = 0xa5;
	sm[REGION - 1] = 0x5a;
	assert_int_equal(cm[0], 0xa5);
	assert_int_equal(cm[REGION - 1], 0x5a);
	cm[4096] = 0x42;
	assert_int_equal(sm[4096], 0x42);
	pvio_ivshmem_client_close(c);
}

static void test_doorbells_ring_both_ways(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *c;
	unsigned int v;
	int id;

	assert_int_equal(server_start(f, REGION, VECS, 0), 0);
	assert_int_equal(client_connect(f, VECS, &c), 0);
	id = pvio_ivshmem_client_id(c);
	assert_true(pvio_ivshmem_server_has_peer(f->srv, id));
	assert_int_equal(pvio_ivshmem_client_peer_vectors(c, PVIO_IVSHMEM_SERVER_ID),
			 VECS);

	for (v = 0; v < VECS; v++) {
		unsigned int o;

		/* server -> client, only the vector rung */
		assert_int_equal(pvio_ivshmem_server_notify(f->srv, id, v), 0);
		for (o = 0; o < VECS; o++)
			assert_int_equal(fd_readable(pvio_ivshmem_client_vector_fd(c, o), 0),
					 o == v);
		assert_int_equal(efd_drain(pvio_ivshmem_client_vector_fd(c, v)), 1);

		/* client -> server */
		assert_int_equal(pvio_ivshmem_client_notify(c, PVIO_IVSHMEM_SERVER_ID, v), 0);
		for (o = 0; o < VECS; o++)
			assert_int_equal(fd_readable(pvio_ivshmem_server_vector_fd(f->srv, o), 0),
					 o == v);
		assert_int_equal(efd_drain(pvio_ivshmem_server_vector_fd(f->srv, v)), 1);
	}
	assert_int_equal(pvio_ivshmem_server_notify(f->srv, id, VECS), -EINVAL);
	assert_int_equal(pvio_ivshmem_server_notify(f->srv, id + 1, 0), -ENOENT);
	assert_int_equal(pvio_ivshmem_client_notify(c, PVIO_IVSHMEM_SERVER_ID, VECS),
			 -EINVAL);
	assert_int_equal(pvio_ivshmem_client_notify(c, id + 1, 0), -ENOENT);
	assert_int_equal(pvio_ivshmem_server_vector_fd(f->srv, VECS), -EINVAL);
	assert_int_equal(pvio_ivshmem_client_vector_fd(c, VECS), -EINVAL);
	pvio_ivshmem_client_close(c);
}

static void test_join_and_leave_are_announced(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *a, *b;
	int ia, ib, i;

	assert_int_equal(server_start(f, REGION, VECS, 0), 0);
	assert_int_equal(client_connect(f, VECS, &a), 0);
	assert_int_equal(client_connect(f, VECS, &b), 0);
	ia = pvio_ivshmem_client_id(a);
	ib = pvio_ivshmem_client_id(b);
	assert_int_not_equal(ia, ib);
	assert_int_equal(pvio_ivshmem_server_nr_clients(f->srv), 2);

	/* b learnt of a at setup; a learns of b by announcement. */
	assert_int_equal(pvio_ivshmem_client_peer_vectors(b, ia), VECS);
	pump_until_peer_vectors(f, a, ib, VECS);

	/* Peer to peer doorbells, through fds the server handed out. */
	assert_int_equal(pvio_ivshmem_client_notify(a, ib, 2), 0);
	assert_true(fd_readable(pvio_ivshmem_client_vector_fd(b, 2), 1000));
	assert_int_equal(efd_drain(pvio_ivshmem_client_vector_fd(b, 2)), 1);

	pvio_ivshmem_client_close(b);
	pump_until_peer_vectors(f, a, ib, 0);
	assert_int_equal(pvio_ivshmem_client_notify(a, ib, 0), -ENOENT);
	for (i = 0; i < 100 && pvio_ivshmem_server_nr_clients(f->srv) != 1; i++)
		pvio_ivshmem_server_run(f->srv, 10);
	assert_int_equal(pvio_ivshmem_server_nr_clients(f->srv), 1);
	assert_false(pvio_ivshmem_server_has_peer(f->srv, ib));
	assert_int_equal(pvio_ivshmem_server_notify(f->srv, ib, 0), -ENOENT);
	pvio_ivshmem_client_close(a);
}

static void test_second_frontend_refused_when_limited_to_one(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *a, *b = NULL;
	int ret;

	assert_int_equal(server_start(f, REGION, VECS, 1), 0);
	assert_int_equal(client_connect(f, VECS, &a), 0);
	ret = client_connect(f, VECS, &b);
	assert_int_equal(ret, -ECONNREFUSED);
	assert_null(b);
	assert_non_null(strstr(f->log, "refusing connection: 1 client(s) already connected, limit 1"));
	assert_non_null(strstr(f->log, "the server refused the connection"));
	assert_int_equal(pvio_ivshmem_server_nr_clients(f->srv), 1);

	/* Once the first leaves, a new frontend is welcome. */
	pvio_ivshmem_client_close(a);
	while (pvio_ivshmem_server_nr_clients(f->srv) != 0)
		assert_int_equal(pvio_ivshmem_server_run(f->srv, 100), 0);
	assert_int_equal(client_connect(f, VECS, &b), 0);
	pvio_ivshmem_client_close(b);
}

static void test_refusal_is_sent_in_place_of_the_version(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *a;
	char byte;
	int s;

	assert_int_equal(server_start(f, REGION, VECS, 1), 0);
	assert_int_equal(client_connect(f, VECS, &a), 0);
	s = raw_connect(f->path);
	assert_int_equal(pvio_ivshmem_server_run(f->srv, 1000), 0);
	expect_msg(s, PVIO_IVSHMEM_REFUSED, false, NULL);
	/* ... and nothing else: the connection is closed. */
	assert_int_equal(recv(s, &byte, 1, 0), 0);
	close(s);
	pvio_ivshmem_client_close(a);
}

static void test_ids_are_distinct_and_not_reused_at_once(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *c[4];
	int ids[4], i, k;

	assert_int_equal(server_start(f, REGION, 1, 0), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(client_connect(f, 1, &c[i]), 0);
		ids[i] = pvio_ivshmem_client_id(c[i]);
		assert_int_not_equal(ids[i], PVIO_IVSHMEM_SERVER_ID);
		for (k = 0; k < i; k++)
			assert_int_not_equal(ids[i], ids[k]);
	}
	for (i = 0; i < 4; i++)
		pvio_ivshmem_client_close(c[i]);
}

/* ---- a hostile server ---- */

struct hostile {
	int srv_end;
	int cli_end;
	int fds_before;
};

static int count_open_fds(void)
{
	int n = 0, fd;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void hostile_open(struct hostile *h)
{
	int sv[2];

	h->fds_before = count_open_fds();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	h->cli_end = sv[0];
	h->srv_end = sv[1];
}

static void hostile_send(struct hostile *h, int64_t val, int nfds,
			 const int *fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = { .iov_base = &val, .iov_len = sizeof(val) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(h->srv_end, &m, 0), sizeof(val));
}

/* A memfd of @size with @seals added (0: none, sealing left open). */
static int memfd_sealed(uint64_t size, int seals)
{
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

/* A region as pvio's own server hands it out: sealed against resizing. */
static int memfd_of(uint64_t size)
{
	return memfd_sealed(size, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}

static void hostile_send_fd(struct hostile *h, int64_t val, int fd)
{
	hostile_send(h, val, 1, &fd);
	close(fd);
}

static void hostile_send_efd(struct hostile *h, int64_t val)
{
	hostile_send_fd(h, val, eventfd(0, EFD_CLOEXEC));
}

/* A correct prefix: version, id 7, a 64 KiB region. */
static void hostile_good_prefix(struct hostile *h)
{
	hostile_send(h, 0, 0, NULL);
	hostile_send(h, 7, 0, NULL);
	hostile_send_fd(h, -1, memfd_of(65536));
}

static int hostile_attach(struct fixture *f, struct hostile *h,
			  unsigned int vecs, struct pvio_ivshmem_client **c)
{
	struct pvio_ivshmem_client_opts o = {
		.vectors = vecs, .timeout_ms = 300,
		.log = capture_log, .opaque = f,
	};

	return pvio_ivshmem_client_attach(h->cli_end, &o, c);
}

/* The client failed cleanly: no leaked fds (its socket end included). */
static void hostile_close(struct hostile *h)
{
	close(h->srv_end);
	assert_int_equal(count_open_fds(), h->fds_before);
}

static void expect_attach_fails(struct fixture *f, struct hostile *h,
				unsigned int vecs, int err)
{
	struct pvio_ivshmem_client *c = NULL;

	assert_int_equal(hostile_attach(f, h, vecs, &c), err);
	assert_null(c);
	hostile_close(h);
}

static void test_client_rejects_version_1(void **state)
{
	struct fixture *f = *state;
	struct hostile h;

	hostile_open(&h);
	hostile_send(&h, 1, 0, NULL);
	expect_attach_fails(f, &h, 1, -EPROTO);
	assert_non_null(strstr(f->log, "protocol version 1"));
}

static void test_client_rejects_fd_with_version(void **state)
{
	struct fixture *f = *state;
	struct hostile h;

	hostile_open(&h);
	hostile_send_fd(&h, 0, memfd_of(65536));
	expect_attach_fails(f, &h, 1, -EPROTO);
}

static void test_client_rejects_id_out_of_range(void **state)
{
	struct fixture *f = *state;
	struct hostile h;

	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, 65536, 0, NULL);
	expect_attach_fails(f, &h, 1, -EPROTO);

	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, -2, 0, NULL);
	expect_attach_fails(f, &h, 1, -EPROTO);
}

static void test_client_rejects_memory_without_fd(void **state)
{
	struct fixture *f = *state;
	struct hostile h;

	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, 1, 0, NULL);
	hostile_send(&h, -1, 0, NULL);
	expect_attach_fails(f, &h, 1, -EPROTO);
}

static void test_client_rejects_eventfd_before_memory(void **state)
{
	struct fixture *f = *state;
	struct hostile h;

	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, 1, 0, NULL);
	hostile_send_efd(&h, 1);
	expect_attach_fails(f, &h, 1, -EPROTO);
}

static void test_client_rejects_bad_memory_fd(void **state)
{
	struct fixture *f = *state;
	struct hostile h;
	int p[2];

	/* not a power of two */
	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, 1, 0, NULL);
	hostile_send_fd(&h, -1, memfd_of(65536 + 4096));
	expect_attach_fails(f, &h, 1, -EPROTO);

	/* empty */
	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, 1, 0, NULL);
	hostile_send_fd(&h, -1, memfd_of(0));
	expect_attach_fails(f, &h, 1, -EPROTO);

	/* a pipe */
	hostile_open(&h);
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, 1, 0, NULL);
	hostile_send_fd(&h, -1, p[0]);
	expect_attach_fails(f, &h, 1, -EPROTO);
}

static void test_client_rejects_two_fds_in_one_message(void **state)
{
	struct fixture *f = *state;
	struct hostile h;
	int fds[2];

	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, 1, 0, NULL);
	fds[0] = memfd_of(65536);
	fds[1] = memfd_of(65536);
	hostile_send(&h, -1, 2, fds);
	close(fds[0]);
	close(fds[1]);
	expect_attach_fails(f, &h, 1, -EPROTO);
}

static void test_client_rejects_non_eventfd_doorbell(void **state)
{
	struct fixture *f = *state;
	struct hostile h;
	int p[2];

	hostile_open(&h);
	hostile_good_prefix(&h);
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	hostile_send_fd(&h, 7, p[1]);
	expect_attach_fails(f, &h, 1, -EPROTO);
}

static void test_client_rejects_too_many_vectors(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *c;
	struct hostile h;

	/* for another peer */
	hostile_open(&h);
	hostile_good_prefix(&h);
	hostile_send_efd(&h, 3);
	hostile_send_efd(&h, 3);
	hostile_send_efd(&h, 3);
	expect_attach_fails(f, &h, 2, -EPROTO);
	assert_non_null(strstr(f->log, "more than 2 eventfds for peer 3"));

	/* for ourselves, after the handshake completed */
	hostile_open(&h);
	hostile_good_prefix(&h);
	hostile_send_efd(&h, 7);
	assert_int_equal(hostile_attach(f, &h, 1, &c), 0);
	hostile_send_efd(&h, 7);
	assert_true(fd_readable(pvio_ivshmem_client_fd(c), 1000));
	assert_int_equal(pvio_ivshmem_client_handle(c), -EPROTO);
	assert_int_equal(pvio_ivshmem_client_handle(c), -EPROTO); /* sticky */
	pvio_ivshmem_client_close(c);
	hostile_close(&h);
}

static void test_client_rejects_unknown_or_own_departure(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *c;
	struct hostile h;

	hostile_open(&h);
	hostile_good_prefix(&h);
	hostile_send_efd(&h, 7);
	assert_int_equal(hostile_attach(f, &h, 1, &c), 0);
	hostile_send(&h, 9, 0, NULL); /* never announced */
	assert_true(fd_readable(pvio_ivshmem_client_fd(c), 1000));
	assert_int_equal(pvio_ivshmem_client_handle(c), -EPROTO);
	pvio_ivshmem_client_close(c);
	hostile_close(&h);

	hostile_open(&h);
	hostile_good_prefix(&h);
	hostile_send_efd(&h, 7);
	assert_int_equal(hostile_attach(f, &h, 1, &c), 0);
	hostile_send(&h, 7, 0, NULL); /* ourselves */
	assert_true(fd_readable(pvio_ivshmem_client_fd(c), 1000));
	assert_int_equal(pvio_ivshmem_client_handle(c), -EPROTO);
	pvio_ivshmem_client_close(c);
	hostile_close(&h);
}

static void test_client_rejects_garbage(void **state)
{
	struct fixture *f = *state;
	struct hostile h;
	unsigned char junk[64];
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 37 + 11);
	hostile_open(&h);
	assert_int_equal(write(h.srv_end, junk, sizeof(junk)), sizeof(junk));
	expect_attach_fails(f, &h, 1, -EPROTO);
}

static void test_client_survives_truncated_stream(void **state)
{
	struct fixture *f = *state;
	struct hostile h;

	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	assert_int_equal(write(h.srv_end, "\1\0\0", 3), 3);
	shutdown(h.srv_end, SHUT_WR);
	expect_attach_fails(f, &h, 1, -ECONNRESET);
}

static void test_client_times_out_on_silent_server(void **state)
{
	struct fixture *f = *state;
	struct hostile h;

	hostile_open(&h);
	hostile_good_prefix(&h);
	expect_attach_fails(f, &h, 1, -ETIMEDOUT);
}

/*
 * Issue 11, finding 2: a server that keeps the right to shrink the region
 * after the client mapped it can kill the client with SIGBUS. The client
 * must refuse a memfd not sealed against shrinking (with or without other
 * seals), and a plain file, before it maps anything; the server here
 * shrinks its memfd right after handing it over, as a hostile one would.
 */
static void hostile_unsealed(struct fixture *f, int fd)
{
	struct pvio_ivshmem_client *c = NULL;
	struct hostile h;
	int keep, ret;

	f->log[0] = '\0';
	hostile_open(&h);
	h.fds_before--; /* @fd, which the send below closes */
	keep = dup(fd);
	assert_true(keep >= 0);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, 1, 0, NULL);
	hostile_send_fd(&h, -1, fd);
	hostile_send_efd(&h, 1);
	ret = hostile_attach(f, &h, 1, &c);
	/* The hostile server's next move; a client that mapped the region
	 * would now die of SIGBUS on its first access. */
	(void)!ftruncate(keep, 0);
	close(keep);
	if (ret == 0) {
		pvio_ivshmem_client_close(c);
		c = NULL;
	}
	assert_int_equal(ret, -EPROTO);
	assert_null(c);
	assert_non_null(strstr(f->log, "not sealed against shrinking"));
	hostile_close(&h);
}

static void test_client_refuses_region_not_sealed_against_shrink(void **state)
{
	struct fixture *f = *state;
	char path[] = "/tmp/pvio-hostile-region.XXXXXX";
	int fd;

	hostile_unsealed(f, memfd_sealed(65536, 0));
	hostile_unsealed(f, memfd_sealed(65536, F_SEAL_GROW | F_SEAL_SEAL));
	hostile_unsealed(f, memfd_sealed(65536, F_SEAL_WRITE));
	/* a regular file cannot be sealed at all */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, 65536), 0);
	hostile_unsealed(f, fd);
}

static void test_client_accepts_region_sealed_against_shrink(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *c;
	struct hostile h;

	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	hostile_send(&h, 1, 0, NULL);
	hostile_send_fd(&h, -1, memfd_sealed(65536, F_SEAL_SHRINK));
	hostile_send_efd(&h, 1);
	assert_int_equal(hostile_attach(f, &h, 1, &c), 0);
	/* The memory is usable end to end. */
	((volatile char *)pvio_ivshmem_client_mem(c))[65535] = 1;
	pvio_ivshmem_client_close(c);
	hostile_close(&h);
}

static void test_client_accepts_messages_in_pieces(void **state)
{
	struct fixture *f = *state;
	struct pvio_ivshmem_client *c;
	struct hostile h;
	int64_t one = 1;

	hostile_open(&h);
	hostile_send(&h, 0, 0, NULL);
	/* Id 1 split over three writes. */
	assert_int_equal(write(h.srv_end, &one, 3), 3);
	assert_int_equal(write(h.srv_end, (char *)&one + 3, 4), 4);
	assert_int_equal(write(h.srv_end, (char *)&one + 7, 1), 1);
	hostile_send_fd(&h, -1, memfd_of(65536));
	hostile_send_efd(&h, 1);
	assert_int_equal(hostile_attach(f, &h, 1, &c), 0);
	assert_int_equal(pvio_ivshmem_client_id(c), 1);
	assert_int_equal(pvio_ivshmem_client_mem_size(c), 65536);
	pvio_ivshmem_client_close(c);
	hostile_close(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_server_refuses_non_power_of_two_size),
		T(test_server_refuses_bad_vector_count),
		T(test_server_refuses_socket_path_in_use),
		T(test_server_replaces_stale_socket),
		T(test_server_leaves_non_socket_file_alone),
		T(test_server_unlinks_its_socket_on_destroy),
		T(test_setup_sends_exact_sequence),
		T(test_client_maps_the_server_region),
		T(test_doorbells_ring_both_ways),
		T(test_join_and_leave_are_announced),
		T(test_second_frontend_refused_when_limited_to_one),
		T(test_refusal_is_sent_in_place_of_the_version),
		T(test_ids_are_distinct_and_not_reused_at_once),
		T(test_client_rejects_version_1),
		T(test_client_rejects_fd_with_version),
		T(test_client_rejects_id_out_of_range),
		T(test_client_rejects_memory_without_fd),
		T(test_client_rejects_eventfd_before_memory),
		T(test_client_rejects_bad_memory_fd),
		T(test_client_rejects_two_fds_in_one_message),
		T(test_client_rejects_non_eventfd_doorbell),
		T(test_client_rejects_too_many_vectors),
		T(test_client_rejects_unknown_or_own_departure),
		T(test_client_rejects_garbage),
		T(test_client_survives_truncated_stream),
		T(test_client_times_out_on_silent_server),
		T(test_client_accepts_messages_in_pieces),
		T(test_client_refuses_region_not_sealed_against_shrink),
		T(test_client_accepts_region_sealed_against_shrink),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
