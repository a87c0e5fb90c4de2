// SPDX-License-Identifier: MIT
/*
 * Tests of front/libpvio against tests/progs/test_backend: the request
 * types round-trip through a well-behaved backend, and every hostile mode
 * ends in an error the caller sees (-EPROTO, -ENODEV, ...) without a crash
 * and without any request completing twice.
 *
 * The backend program is found next to this test's build directory
 * (BUILD/tests/unit/front/ -> BUILD/tests/progs/test_backend), so the
 * sanitizer builds test against the sanitizer build of the backend.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libpvio/pvio_front.h"

static char backend_prog[PATH_MAX];
static char sock_path[108];
static pid_t backend_pid = -1;

/* Start test_backend with @args (NULL-terminated); wait for "ready". */
static void backend_start(const char *first, ...)
{
	const char *argv[32];
	char line[256];
	int pfd[2], n = 0;
	va_list ap;
	FILE *in;

	snprintf(sock_path, sizeof(sock_path), "/tmp/pvio-front-test.%d.sock", getpid());
	unlink(sock_path);
	argv[n++] = backend_prog;
	argv[n++] = "--socket";
	argv[n++] = sock_path;
	va_start(ap, first);
	for (const char *a = first; a && n < 30; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;

	assert_int_equal(pipe(pfd), 0);
	backend_pid = fork();
	assert_true(backend_pid >= 0);
	if (backend_pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execv(backend_prog, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	in = fdopen(pfd[0], "r");
	assert_non_null(in);
	assert_non_null(fgets(line, sizeof(line), in));
	assert_non_null(strstr(line, "test_backend: ready"));
	fclose(in);
}

static void backend_stop(void)
{
	int st;

	if (backend_pid > 0) {
		kill(backend_pid, SIGTERM);
		waitpid(backend_pid, &st, 0);
		/* The backend must have survived whatever we did to it. */
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	backend_pid = -1;
	unlink(sock_path);
}

static int teardown(void **state)
{
	(void)state;
	if (backend_pid > 0) {
		kill(backend_pid, SIGKILL);
		waitpid(backend_pid, NULL, 0);
		backend_pid = -1;
	}
	unlink(sock_path);
	return 0;
}

static struct pvio_front *connect_ok(uint32_t max_seg)
{
	struct pvio_front_opts o = {
		.socket_path = sock_path,
		.features_wanted = PVIO_BLK_F_ALL,
		.max_seg_bytes = max_seg,
		.timeout_ms = 3000,
	};
	struct pvio_front *f = NULL;

	assert_int_equal(pvio_front_connect(&o, &f), 0);
	assert_non_null(f);
	return f;
}

static int run_op(struct pvio_front_queue *q, uint16_t op, uint16_t flags,
		  uint64_t sector, uint32_t len, void *buf)
{
	struct pvio_front_req r = { .op = op, .flags = flags, .sector = sector,
				    .len = len, .buf = buf };
	struct pvio_front_cqe c;
	int ret = pvio_front_run(q, &r, 3000, &c);

	if (ret)
		return ret;
	return c.status;
}

static void test_roundtrip_every_request_type(void **state)
{
	static unsigned char wbuf[128 * 1024], rbuf[128 * 1024];
	struct pvio_front_info info;
	struct pvio_front_queue *q;
	struct pvio_front_stats st;
	struct pvio_front *f;
	size_t i;

	(void)state;
	backend_start("--size", "8388608", NULL);
	f = connect_ok(0);
	pvio_front_info(f, &info);
	assert_int_equal(info.capacity, 8388608 / 512);
	assert_int_equal(info.num_queues, 1);
	assert_int_equal(info.features, PVIO_BLK_F_ALL);
	assert_true(info.max_transfer >= 128 * 1024);
	q = pvio_front_queue(f, 0);
	assert_non_null(q);
	assert_null(pvio_front_queue(f, 1));

	for (i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(run_op(q, PVIO_BLK_OP_WRITE, PVIO_BLK_REQ_F_FUA, 64,
				sizeof(wbuf), wbuf), PVIO_BLK_S_OK);
	assert_int_equal(run_op(q, PVIO_BLK_OP_READ, 0, 64, sizeof(rbuf), rbuf),
			 PVIO_BLK_S_OK);
	assert_memory_equal(wbuf, rbuf, sizeof(wbuf));
	assert_int_equal(run_op(q, PVIO_BLK_OP_FLUSH, 0, 0, 0, NULL), PVIO_BLK_S_OK);

	/* DISCARD then WRITE_ZEROES: the range reads back as zeroes. */
	assert_int_equal(run_op(q, PVIO_BLK_OP_DISCARD, 0, 64, 4096, NULL),
			 PVIO_BLK_S_OK);
	assert_int_equal(run_op(q, PVIO_BLK_OP_WRITE_ZEROES, 0, 72, 4096, NULL),
			 PVIO_BLK_S_OK);
	assert_int_equal(run_op(q, PVIO_BLK_OP_READ, 0, 64, 16384, rbuf), PVIO_BLK_S_OK);
	for (i = 0; i < 8192; i++)
		assert_int_equal(rbuf[i], 0);
	assert_memory_equal(rbuf + 8192, wbuf + 8192, 8192);

	memset(rbuf, 0, 64);
	assert_int_equal(run_op(q, PVIO_BLK_OP_GET_ID, 0, 0, 512, rbuf), PVIO_BLK_S_OK);
	assert_string_equal((char *)rbuf, "pvio-test-backend");

	/* Past the end: the backend's RANGE reaches the caller. */
	assert_int_equal(run_op(q, PVIO_BLK_OP_READ, 0, 8388608 / 512, 4096, rbuf),
			 PVIO_BLK_S_RANGE);
	/* Malformed requests never reach the ring. */
	assert_int_equal(run_op(q, PVIO_BLK_OP_READ, 0, 0, 100, rbuf), -EINVAL);
	assert_int_equal(run_op(q, PVIO_BLK_OP_READ, 0, 0, 1u << 24, rbuf), -E2BIG);
	assert_int_equal(run_op(q, 9, 0, 0, 512, rbuf), -EINVAL);

	pvio_front_stats(q, &st);
	assert_int_equal(st.submitted, st.completed);
	assert_true(st.doorbells_out >= 1);
	assert_false(pvio_front_broken(f));
	assert_int_equal(pvio_front_close(f), 0);
	backend_stop();
}

/* 128 KiB in 4 KiB segments: 32 segments, an indirect table. */
static void test_large_io_uses_indirect_table(void **state)
{
	static unsigned char wbuf[128 * 1024], rbuf[128 * 1024];
	struct pvio_front_queue *q;
	struct pvio_front *f;
	size_t i;

	(void)state;
	backend_start(NULL);
	f = connect_ok(4096);
	q = pvio_front_queue(f, 0);
	pvio_front_set_spin(q, 100); /* the polling wait path too */
	for (i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (unsigned char)(i ^ (i >> 9));
	assert_int_equal(run_op(q, PVIO_BLK_OP_WRITE, 0, 1000, sizeof(wbuf), wbuf),
			 PVIO_BLK_S_OK);
	assert_int_equal(run_op(q, PVIO_BLK_OP_READ, 0, 1000, sizeof(rbuf), rbuf),
			 PVIO_BLK_S_OK);
	assert_memory_equal(wbuf, rbuf, sizeof(wbuf));
	assert_int_equal(pvio_front_close(f), 0);
	backend_stop();
}

/* A batch of zero-copy writes published once, then reads, on 2 queues. */
static void test_zero_copy_batch_two_queues(void **state)
{
	struct pvio_front_cqe cqe[64];
	struct pvio_front_info info;
	struct pvio_front *f;
	unsigned int qi, i, got;
	int tag;

	(void)state;
	backend_start("--queues", "2", "--depth", "32", NULL);
	f = connect_ok(0); /* queue count found out: 2 */
	pvio_front_info(f, &info);
	assert_int_equal(info.num_queues, 2);
	assert_int_equal(info.queue_depth, 32);
	for (qi = 0; qi < 2; qi++) {
		struct pvio_front_queue *q = pvio_front_queue(f, qi);

		for (int pass = 0; pass < 2; pass++) {
			for (i = 0; i < 32; i++) {
				struct pvio_front_req r = {
					.op = pass ? PVIO_BLK_OP_READ : PVIO_BLK_OP_WRITE,
					.sector = (qi * 32 + i) * 8, .len = 4096,
					.user_data = i,
				};

				tag = pvio_front_tag_get(q);
				assert_true(tag >= 0);
				if (!pass)
					memset(pvio_front_tag_buf(q, tag), (int)(qi * 32 + i + 1), 4096);
				assert_int_equal(pvio_front_submit(q, tag, &r), tag);
			}
			assert_int_equal(pvio_front_tag_get(q), -EBUSY);
			assert_true(pvio_front_publish(q) >= 0);
			for (got = 0; got < 32;) {
				int n = pvio_front_reap(q, cqe, 64);

				assert_true(n >= 0);
				for (int k = 0; k < n; k++) {
					unsigned char *b = pvio_front_tag_buf(q, cqe[k].tag);

					assert_int_equal(cqe[k].status, PVIO_BLK_S_OK);
					if (pass)
						assert_int_equal(b[0], qi * 32 + cqe[k].user_data + 1);
				}
				got += (unsigned int)n;
				if (got < 32)
					assert_true(pvio_front_wait(q, 32 - got, 3000) > 0);
			}
		}
		assert_int_equal(pvio_front_inflight(q), 0);
	}
	assert_int_equal(pvio_front_close(f), 0);
	backend_stop();
}

struct qthread {
	struct pvio_front_queue *q;
	unsigned int base;   /* first sector of this thread's area */
	int errors;
};

/* Write 64 blocks stamped with their number, read them back, 8 at a time. */
static void *queue_thread(void *arg)
{
	struct qthread *t = arg;
	struct pvio_front_cqe cqe[8];
	unsigned int blk, k;

	for (int pass = 0; pass < 2; pass++) {
		for (blk = 0; blk < 64; blk += 8) {
			unsigned int got = 0;

			for (k = 0; k < 8; k++) {
				int tag = pvio_front_tag_get(t->q);
				struct pvio_front_req r = {
					.op = pass ? PVIO_BLK_OP_READ : PVIO_BLK_OP_WRITE,
					.sector = t->base + (blk + k) * 8, .len = 4096,
					.user_data = blk + k,
				};

				if (tag < 0) {
					t->errors++;
					return NULL;
				}
				if (!pass)
					memset(pvio_front_tag_buf(t->q, tag),
					       (int)(t->base / 8 + blk + k) & 0xff, 4096);
				if (pvio_front_submit(t->q, tag, &r) != tag)
					t->errors++;
			}
			if (pvio_front_publish(t->q) < 0)
				t->errors++;
			while (got < 8) {
				int n = pvio_front_reap(t->q, cqe, 8);

				if (n < 0) {
					t->errors++;
					return NULL;
				}
				for (int i = 0; i < n; i++) {
					unsigned char *b = pvio_front_tag_buf(t->q, cqe[i].tag);

					if (cqe[i].status != PVIO_BLK_S_OK ||
					    (pass && b[4095] != ((t->base / 8 + cqe[i].user_data) & 0xff)))
						t->errors++;
				}
				got += (unsigned int)n;
				if (got < 8 && pvio_front_wait(t->q, 8 - got, 3000) <= 0)
					t->errors++;
			}
		}
	}
	return NULL;
}

/* One thread per queue, no locks: both queues run at the same time. */
static void test_two_threads_two_queues_concurrently(void **state)
{
	struct qthread t[2];
	pthread_t th[2];
	struct pvio_front *f;
	int i;

	(void)state;
	backend_start("--queues", "2", "--depth", "16", NULL);
	f = connect_ok(0);
	for (i = 0; i < 2; i++) {
		t[i] = (struct qthread){ .q = pvio_front_queue(f, (unsigned int)i),
					 .base = (unsigned int)i * 4096 };
		pvio_front_set_spin(t[i].q, i ? 20 : 0);
		assert_int_equal(pthread_create(&th[i], NULL, queue_thread, &t[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].errors, 0);
	}
	assert_int_equal(pvio_front_close(f), 0);
	backend_stop();
}

static void test_read_only_export_refuses_writes(void **state)
{
	static unsigned char buf[4096];
	struct pvio_front_info info;
	struct pvio_front *f;

	(void)state;
	backend_start("--ro", NULL);
	f = connect_ok(0);
	pvio_front_info(f, &info);
	assert_true(info.attrs & PVIO_BLK_ATTR_RO);
	assert_int_equal(run_op(pvio_front_queue(f, 0), PVIO_BLK_OP_WRITE, 0, 0,
				sizeof(buf), buf), PVIO_BLK_S_ROFS);
	assert_int_equal(run_op(pvio_front_queue(f, 0), PVIO_BLK_OP_READ, 0, 0,
				sizeof(buf), buf), PVIO_BLK_S_OK);
	assert_int_equal(pvio_front_close(f), 0);
	backend_stop();
}

/*
 * Two good requests, then a batch of four that the backend answers in its
 * hostile way: every request completes exactly once, the four with an
 * error, and the connection stays broken.
 */
static void hostile_responses(const char *mode)
{
	struct pvio_front_cqe cqe[16];
	struct pvio_front_queue *q;
	struct pvio_front *f;
	unsigned int seen[6] = { 0 }, i, done = 0, failed = 0;
	int n, rounds = 0;

	backend_start("--mode", mode, "--after", "2", NULL);
	f = connect_ok(0);
	q = pvio_front_queue(f, 0);
	for (i = 0; i < 2; i++) {
		struct pvio_front_req r = { .op = PVIO_BLK_OP_WRITE, .sector = i * 8,
					    .len = 4096, .user_data = i };
		struct pvio_front_cqe c;

		assert_int_equal(pvio_front_run(q, &r, 3000, &c), 0);
		assert_int_equal(c.status, PVIO_BLK_S_OK);
		seen[i]++;
	}
	for (i = 2; i < 6; i++) {
		struct pvio_front_req r = { .op = PVIO_BLK_OP_READ, .sector = i * 8,
					    .len = 4096, .user_data = i };

		assert_true(pvio_front_submit(q, -1, &r) >= 0);
	}
	assert_true(pvio_front_publish(q) >= 0);
	while (done < 4) {
		assert_true(rounds++ < 100);
		n = pvio_front_wait(q, 1, 2000);
		assert_true(n > 0 || n == -EPROTO);
		n = pvio_front_reap(q, cqe, 16);
		if (n == -EPROTO)
			break;
		assert_true(n >= 0);
		for (int k = 0; k < n; k++) {
			assert_true(cqe[k].user_data >= 2 && cqe[k].user_data < 6);
			seen[cqe[k].user_data]++;
			failed += cqe[k].status < 0;
			done++;
		}
	}
	for (i = 0; i < 6; i++)
		assert_int_equal(seen[i], 1);
	assert_true(failed >= 1);
	assert_true(pvio_front_broken(f));
	assert_true(strlen(pvio_front_error(f)) > 0);
	/* Broken for good: nothing more completes, nothing can be submitted. */
	assert_int_equal(pvio_front_reap(q, cqe, 16), -EPROTO);
	{
		struct pvio_front_req r = { .op = PVIO_BLK_OP_READ, .len = 4096 };

		assert_int_equal(pvio_front_submit(q, -1, &r), -EPROTO);
	}
	assert_int_equal(pvio_front_inflight(q), 0);
	assert_int_equal(pvio_front_close(f), -EPROTO);
	backend_stop();
}

static void test_unknown_id_breaks_connection(void **s) { (void)s; hostile_responses("bad-id"); }
static void test_repeated_id_never_completes_twice(void **s) { (void)s; hostile_responses("dup-id"); }
static void test_unknown_status_breaks_connection(void **s) { (void)s; hostile_responses("bad-status"); }
static void test_reserved_field_breaks_connection(void **s) { (void)s; hostile_responses("reserved"); }
static void test_wrong_length_breaks_connection(void **s) { (void)s; hostile_responses("bad-len"); }
static void test_prod_jump_breaks_connection(void **s) { (void)s; hostile_responses("prod-jump"); }

/* A violation seen on one queue fails the other queue's requests, once. */
static void test_break_on_one_queue_fails_the_other(void **state)
{
	struct pvio_front_queue *q0, *q1;
	struct pvio_front_cqe cqe[8];
	struct pvio_front *f;
	unsigned int i;
	int n;

	(void)state;
	backend_start("--queues", "2", "--mode", "bad-id", NULL);
	f = connect_ok(0);
	q0 = pvio_front_queue(f, 0);
	q1 = pvio_front_queue(f, 1);
	for (i = 0; i < 3; i++) {
		struct pvio_front_req r = { .op = PVIO_BLK_OP_READ, .sector = i * 8,
					    .len = 4096, .user_data = i };

		assert_true(pvio_front_submit(i ? q0 : q1, -1, &r) >= 0);
	}
	assert_true(pvio_front_publish(q0) >= 0);
	assert_true(pvio_front_publish(q1) >= 0);
	assert_true(pvio_front_wait(q1, 1, 3000) > 0);
	n = pvio_front_reap(q1, cqe, 8);
	assert_int_equal(n, 1);
	assert_int_equal(cqe[0].status, -EPROTO);
	assert_int_equal(cqe[0].user_data, 0);
	/* Queue 0 has not looked at its ring yet: the connection is broken
	 * already, so its two requests fail without their answers read. */
	assert_true(pvio_front_broken(f));
	n = pvio_front_reap(q0, cqe, 8);
	assert_int_equal(n, 2);
	assert_int_equal(cqe[0].status, -EPROTO);
	assert_int_equal(cqe[1].status, -EPROTO);
	assert_int_equal(cqe[0].user_data + cqe[1].user_data, 3);
	assert_int_equal(pvio_front_reap(q0, cqe, 8), -EPROTO);
	assert_int_equal(pvio_front_reap(q1, cqe, 8), -EPROTO);
	assert_int_equal(pvio_front_wait(q0, 1, 100), -EPROTO);
	assert_int_equal(pvio_front_close(f), -EPROTO);
	backend_stop();
}

/*
 * A backend answering with random bytes now and then, and publishing
 * random producer indices: over many connections no request completes
 * twice, every connection either completes everything or breaks, and a
 * broken connection reports every request it still had.
 */
static void test_garbage_backend_over_many_connections(void **state)
{
	struct pvio_front_opts o = {
		.socket_path = NULL, .features_wanted = PVIO_BLK_F_ALL,
		.timeout_ms = 3000, .quiet = true,
	};
	unsigned int round, broke = 0, clean = 0;

	(void)state;
	backend_start("--mode", "garbage", "--seed", "12345", "--depth", "16", NULL);
	o.socket_path = sock_path;
	for (round = 0; round < 40; round++) {
		struct pvio_front_cqe cqe[16];
		unsigned int seen[16] = { 0 }, done = 0, k, idle = 0;
		struct pvio_front_queue *q;
		struct pvio_front *f;
		bool broken = false;

		assert_int_equal(pvio_front_connect(&o, &f), 0);
		q = pvio_front_queue(f, 0);
		for (k = 0; k < 16; k++) {
			struct pvio_front_req r = { .op = k & 1 ? PVIO_BLK_OP_WRITE : PVIO_BLK_OP_READ,
						    .sector = k * 8, .len = 4096, .user_data = k };

			assert_true(pvio_front_submit(q, -1, &r) >= 0);
		}
		pvio_front_publish(q);
		while (done < 16) {
			int n = pvio_front_reap(q, cqe, 16);

			if (n == -EPROTO) {
				broken = true;
				break;
			}
			assert_true(n >= 0);
			for (int i = 0; i < n; i++) {
				assert_true(cqe[i].user_data < 16);
				assert_int_equal(seen[cqe[i].user_data]++, 0);
				done++;
			}
			if (n == 0) {
				n = pvio_front_wait(q, 1, 500);
				if (n == 0)
					assert_true(++idle < 4);
			}
		}
		broken |= pvio_front_broken(f);
		/* All 16 were reported, by an answer or as failed. */
		assert_int_equal(done, 16);
		assert_int_equal(pvio_front_inflight(q), 0);
		if (broken) {
			broke++;
			assert_int_equal(pvio_front_close(f), -EPROTO);
		} else {
			clean++;
			assert_int_equal(pvio_front_close(f), 0);
		}
	}
	print_message("garbage backend: %u connections broken, %u clean\n", broke, clean);
	assert_true(broke > 0 && clean > 0);
	backend_stop();
}

static void hostile_region(const char *mode, int want)
{
	struct pvio_front_opts o = {
		.socket_path = sock_path,
		.num_queues = 1,
		.features_wanted = PVIO_BLK_F_ALL,
		.timeout_ms = 2000,
		.quiet = true,
	};
	struct pvio_front *f = NULL;

	backend_start("--mode", mode, NULL);
	assert_int_equal(pvio_front_connect(&o, &f), want);
	assert_null(f);
	backend_stop();
}

static void test_bad_magic_refused(void **s) { (void)s; hostile_region("bad-magic", -ENODEV); }
static void test_other_abi_revision_refused(void **s) { (void)s; hostile_region("bad-abi", -EPROTONOSUPPORT); }
static void test_overlapping_rings_refused(void **s) { (void)s; hostile_region("overlap", -EPROTO); }
static void test_backend_refusing_features_fails_connect(void **s) { (void)s; hostile_region("refuse", -ECONNREFUSED); }

/* A backend that never answers: waits time out, close still completes. */
static void test_silent_backend_times_out(void **state)
{
	struct pvio_front_req r = { .op = PVIO_BLK_OP_READ, .len = 4096 };
	struct pvio_front_cqe c;
	struct pvio_front *f;

	(void)state;
	backend_start("--mode", "silent", NULL);
	f = connect_ok(0);
	assert_int_equal(pvio_front_run(pvio_front_queue(f, 0), &r, 200, &c), -ETIMEDOUT);
	assert_int_equal(pvio_front_close(f), 0);
	backend_stop();
}

/* The backend dies: requests time out, close reports it, nothing hangs. */
static void test_backend_vanishing_is_reported(void **state)
{
	struct pvio_front_req r = { .op = PVIO_BLK_OP_READ, .len = 4096 };
	struct pvio_front_cqe c;
	struct pvio_front *f;

	(void)state;
	backend_start(NULL);
	f = connect_ok(0);
	kill(backend_pid, SIGKILL);
	waitpid(backend_pid, NULL, 0);
	backend_pid = -1;
	assert_int_equal(pvio_front_run(pvio_front_queue(f, 0), &r, 200, &c), -ETIMEDOUT);
	assert_true(pvio_front_close(f) < 0);
	unlink(sock_path);
}

/* Wrong queue count given explicitly: refused, not hung. */
static void test_queue_count_mismatch_refused(void **state)
{
	struct pvio_front_opts o = {
		.socket_path = sock_path, .num_queues = 1, .timeout_ms = 2000,
		.quiet = true,
	};
	struct pvio_front *f = NULL;

	(void)state;
	backend_start("--queues", "3", NULL);
	assert_int_equal(pvio_front_connect(&o, &f), -EPROTO);
	backend_stop();
}

/*
 * Issue 11, findings 1, 5 and 6: configs and layouts a backend may offer
 * that once made the library compute sizes and offsets that wrapped.
 */

/* A 128 KiB write then read at @sector, verified, on queue 0. */
static void roundtrip_128k(struct pvio_front *f, uint64_t sector)
{
	static unsigned char wbuf[128 * 1024], rbuf[128 * 1024];
	struct pvio_front_queue *q = pvio_front_queue(f, 0);
	size_t i;

	for (i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (unsigned char)(i * 7 ^ (i >> 11) ^ sector);
	memset(rbuf, 0, sizeof(rbuf));
	assert_int_equal(run_op(q, PVIO_BLK_OP_WRITE, 0, sector, sizeof(wbuf), wbuf),
			 PVIO_BLK_S_OK);
	assert_int_equal(run_op(q, PVIO_BLK_OP_READ, 0, sector, sizeof(rbuf), rbuf),
			 PVIO_BLK_S_OK);
	assert_memory_equal(wbuf, rbuf, sizeof(wbuf));
	assert_false(pvio_front_broken(f));
}

/*
 * Finding 1: max_segments 0x20000001 made the per-tag table size wrap to
 * 8 bytes in 32 bits and a large request wrote its table past the data
 * area. nr_segs is 16 bits, so such a config breaks the protocol and
 * connect must refuse it.
 */
static void test_max_segments_beyond_nr_segs_refused(void **state)
{
	struct pvio_front_opts o = {
		.socket_path = sock_path,
		.features_wanted = PVIO_BLK_F_ALL,
		.max_seg_bytes = 4096,
		.timeout_ms = 2000,
		.quiet = true,
	};
	struct pvio_front *f = NULL;
	int ret;

	(void)state;
	backend_start("--cfg-max-segs", "0x20000001", NULL);
	ret = pvio_front_connect(&o, &f);
	if (ret == 0)
		pvio_front_close(f);
	assert_int_equal(ret, -EPROTO);
	backend_stop();
}

/*
 * Finding 1, the allowed extreme: max_segments 65535 with a data area far
 * too small for 65535-entry tables per tag. The library sizes each table
 * for the largest request it builds, so large IO still uses indirect
 * tables inside the data area.
 */
static void test_max_segments_at_limit_sized_by_requests(void **state)
{
	struct pvio_front *f;

	(void)state;
	backend_start("--cfg-max-segs", "65535", NULL);
	f = connect_ok(4096);
	roundtrip_128k(f, 2000);
	assert_int_equal(pvio_front_close(f), 0);
	backend_stop();
}

/*
 * Finding 6: max_segment_size close to 4 GiB made (len + seg - 1) / seg
 * wrap to 0 segments; every READ/WRITE then went out with none.
 */
static void test_segment_size_near_4g(void **state)
{
	struct pvio_front *f;

	(void)state;
	backend_start("--cfg-max-seg-size", "0xfffff000", NULL);
	f = connect_ok(0);
	roundtrip_128k(f, 3000);
	assert_int_equal(pvio_front_close(f), 0);
	backend_stop();
}

/*
 * Finding 5: a data area over 4 GiB put the indirect tables beyond what a
 * 32-bit segment offset reaches; the (uint32_t) cast sent the backend to
 * another part of the area. The library now uses the first 4 GiB only.
 */
static void test_data_area_over_4g(void **state)
{
	struct pvio_front *f;

	(void)state;
	backend_start("--data-size", "0x140000000", NULL);
	f = connect_ok(4096);
	roundtrip_128k(f, 4000);
	roundtrip_128k(f, 8);
	assert_int_equal(pvio_front_close(f), 0);
	backend_stop();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_roundtrip_every_request_type, teardown),
		cmocka_unit_test_teardown(test_large_io_uses_indirect_table, teardown),
		cmocka_unit_test_teardown(test_zero_copy_batch_two_queues, teardown),
		cmocka_unit_test_teardown(test_two_threads_two_queues_concurrently, teardown),
		cmocka_unit_test_teardown(test_read_only_export_refuses_writes, teardown),
		cmocka_unit_test_teardown(test_unknown_id_breaks_connection, teardown),
		cmocka_unit_test_teardown(test_repeated_id_never_completes_twice, teardown),
		cmocka_unit_test_teardown(test_unknown_status_breaks_connection, teardown),
		cmocka_unit_test_teardown(test_reserved_field_breaks_connection, teardown),
		cmocka_unit_test_teardown(test_wrong_length_breaks_connection, teardown),
		cmocka_unit_test_teardown(test_prod_jump_breaks_connection, teardown),
		cmocka_unit_test_teardown(test_break_on_one_queue_fails_the_other, teardown),
		cmocka_unit_test_teardown(test_garbage_backend_over_many_connections, teardown),
		cmocka_unit_test_teardown(test_bad_magic_refused, teardown),
		cmocka_unit_test_teardown(test_other_abi_revision_refused, teardown),
		cmocka_unit_test_teardown(test_overlapping_rings_refused, teardown),
		cmocka_unit_test_teardown(test_backend_refusing_features_fails_connect, teardown),
		cmocka_unit_test_teardown(test_silent_backend_times_out, teardown),
		cmocka_unit_test_teardown(test_backend_vanishing_is_reported, teardown),
		cmocka_unit_test_teardown(test_queue_count_mismatch_refused, teardown),
		cmocka_unit_test_teardown(test_max_segments_beyond_nr_segs_refused, teardown),
		cmocka_unit_test_teardown(test_max_segments_at_limit_sized_by_requests, teardown),
		cmocka_unit_test_teardown(test_segment_size_near_4g, teardown),
		cmocka_unit_test_teardown(test_data_area_over_4g, teardown),
	};
	char self[PATH_MAX];

	(void)argc;
	if (!realpath(argv[0], self)) {
		fprintf(stderr, "cannot resolve %s\n", argv[0]);
		return 1;
	}
	/* BUILD/tests/unit/front/test_front_hostile -> BUILD/tests/progs/ */
	snprintf(backend_prog, sizeof(backend_prog), "%s/../../progs/test_backend",
		 dirname(self));
	if (access(backend_prog, X_OK)) {
		fprintf(stderr, "backend program missing: %s (make progs)\n", backend_prog);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
