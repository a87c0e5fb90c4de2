// SPDX-License-Identifier: MIT
/*
 * Stress test of ring/pvio_ring.h: one producer and one consumer thread,
 * pinned to different CPUs, move COUNT stamped entries through a ring whose
 * indices start just below 2^32 so that they wrap during the run. Both
 * sides vary their batch sizes pseudo-randomly (1..64). The consumer checks
 * that every entry arrives exactly once, in order, with an intact stamp.
 *
 *   test_ring_stress [COUNT [poll|sleep]]
 *
 * poll  (default) both sides busy-poll the shared indices.
 * sleep the consumer arms (pvio_cons_arm) and blocks on an eventfd that the
 *       producer writes when pvio_prod_publish() asks for a doorbell; the
 *       producer, when the ring is full, arms for space
 *       (pvio_prod_arm_space) and blocks on a second eventfd that the
 *       consumer writes when pvio_cons_release_check() asks for it. A
 *       watchdog fails the run if nothing moves for 30 s (a lost wakeup).
 *
 * Exit 0 on success, 1 on the first bad entry or ring error, 2 on a hang.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pvio_ring.h"
#include "../../common/pvio_test_threads.h"

#define RING_ENTRIES 256u
#define MAX_BATCH 64u
/* Indices start here so that they wrap after about a thousand entries. */
#define START_INDEX (0u - 1000u)
#define HANG_SECONDS 30

struct entry {
	__u64 seq;
	__u64 check;
};

struct stress {
	struct pvio_ring_shared *sh;
	__u64 total;
	bool sleep;
	int data_efd;  /* producer -> consumer doorbell */
	int space_efd; /* consumer -> producer doorbell */
	int cpu[2];    /* -1: not pinned */
	__u64 progress; /* entries consumed; atomic, read by the watchdog */
	int done;       /* atomic */
	__u64 doorbells, space_doorbells, cons_sleeps, prod_sleeps;
};

static __u64 stamp_of(__u64 seq)
{
	__u64 x = seq * 0x9e3779b97f4a7c15ull;

	return x ^ (x >> 29) ^ ~seq;
}

static __u32 rnd_next(__u32 *s)
{
	__u32 x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void __attribute__((noreturn)) die(const char *msg, long long v)
{
	fprintf(stderr, "FAIL: %s (%lld)\n", msg, v);
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;
	int ret;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret)
		die("pthread_setaffinity_np", -ret);
}

static void efd_wait(int fd)
{
	__u64 v;

	while (read(fd, &v, sizeof(v)) != sizeof(v))
		if (errno != EINTR)
			die("eventfd read", -errno);
}

static void efd_ring(int fd)
{
	__u64 one = 1;

	while (write(fd, &one, sizeof(one)) != sizeof(one))
		if (errno != EINTR)
			die("eventfd write", -errno);
}

static void *producer(void *arg)
{
	struct stress *s = arg;
	struct pvio_prod p;
	__u32 rnd = 0x2545f491u;
	__u64 seq = 0;
	int ret;

	pin(s->cpu[0]);
	ret = pvio_prod_attach(&p, s->sh, RING_ENTRIES, sizeof(struct entry));
	if (ret)
		die("producer attach", ret);
	while (seq < s->total) {
		__u32 n = 1 + rnd_next(&rnd) % MAX_BATCH;
		int space;

		if (n > s->total - seq)
			n = (__u32)(s->total - seq);
		space = pvio_prod_space(&p, n);
		if (space < 0)
			die("producer: ring broken", space);
		if ((__u32)space < n) {
			if (!s->sleep) {
				cpu_relax();
				continue;
			}
			space = pvio_prod_arm_space(&p, n);
			if (space < 0)
				die("producer: arm_space", space);
			if (space == 0) {
				s->prod_sleeps++;
				efd_wait(s->space_efd);
			}
			continue;
		}
		for (__u32 i = 0; i < n; i++, seq++) {
			struct entry e = { seq, stamp_of(seq) };

			ret = pvio_prod_put(&p, &e, sizeof(e));
			if (ret)
				die("producer: put with space", ret);
		}
		if (pvio_prod_publish(&p)) {
			s->doorbells++;
			if (s->sleep)
				efd_ring(s->data_efd);
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct stress *s = arg;
	struct pvio_cons c;
	__u32 rnd = 0x9e3779b9u;
	__u64 expect = 0;
	int ret;

	pin(s->cpu[1]);
	ret = pvio_cons_attach(&c, s->sh, RING_ENTRIES, sizeof(struct entry));
	if (ret)
		die("consumer attach", ret);
	while (expect < s->total) {
		int avail = pvio_cons_avail(&c);
		__u32 m;

		if (avail < 0)
			die("consumer: ring broken", avail);
		if (avail == 0) {
			if (!s->sleep) {
				cpu_relax();
				continue;
			}
			avail = pvio_cons_arm(&c, 0);
			if (avail < 0)
				die("consumer: arm", avail);
			if (avail == 0) {
				s->cons_sleeps++;
				efd_wait(s->data_efd);
				continue;
			}
		}
		m = 1 + rnd_next(&rnd) % MAX_BATCH;
		if (m > (__u32)avail)
			m = (__u32)avail;
		for (__u32 i = 0; i < m; i++, expect++) {
			struct entry e;

			ret = pvio_cons_get(&c, &e, sizeof(e));
			if (ret)
				die("consumer: get with entries available", ret);
			if (e.seq != expect || e.check != stamp_of(e.seq)) {
				fprintf(stderr,
					"FAIL: entry %" PRIu64 ": seq %" PRIu64
					" check %#" PRIx64 ", want seq %" PRIu64
					" check %#" PRIx64 "\n",
					(uint64_t)expect, (uint64_t)e.seq,
					(uint64_t)e.check, (uint64_t)expect,
					(uint64_t)stamp_of(expect));
				exit(1);
			}
		}
		if (s->sleep) {
			if (pvio_cons_release_check(&c)) {
				s->space_doorbells++;
				efd_ring(s->space_efd);
			}
		} else {
			pvio_cons_release(&c);
		}
		__atomic_store_n(&s->progress, expect, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	struct stress *s = arg;
	__u64 last = ~0ull;
	int still = 0;

	while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
		__u64 now = __atomic_load_n(&s->progress, __ATOMIC_RELAXED);

		still = now == last ? still + 1 : 0;
		last = now;
		if (still >= HANG_SECONDS * 10) {
			fprintf(stderr,
				"FAIL: no progress for %d s after %" PRIu64
				" entries: lost wakeup (prod %u cons %u prod_event %u cons_event %u)\n",
				HANG_SECONDS, (uint64_t)now,
				pvio_le32_to_cpu(__atomic_load_n(&s->sh->prod, __ATOMIC_RELAXED)),
				pvio_le32_to_cpu(__atomic_load_n(&s->sh->cons, __ATOMIC_RELAXED)),
				pvio_le32_to_cpu(__atomic_load_n(&s->sh->prod_event, __ATOMIC_RELAXED)),
				pvio_le32_to_cpu(__atomic_load_n(&s->sh->cons_event, __ATOMIC_RELAXED)));
			_exit(2);
		}
		usleep(100000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct stress s;
	pthread_t tp, tc, tw;
	size_t bytes;
	double t0, dt;
	char *end;

	memset(&s, 0, sizeof(s));
	s.total = 100000000ull;
	if (argc > 1) {
		s.total = strtoull(argv[1], &end, 0);
		if (*end || s.total == 0) {
			fprintf(stderr, "usage: %s [COUNT [poll|sleep]]\n", argv[0]);
			return 2;
		}
	}
	if (argc > 2) {
		if (!strcmp(argv[2], "sleep")) {
			s.sleep = true;
		} else if (strcmp(argv[2], "poll")) {
			fprintf(stderr, "usage: %s [COUNT [poll|sleep]]\n", argv[0]);
			return 2;
		}
	}

	bytes = (PVIO_RING_BYTES(RING_ENTRIES, sizeof(struct entry)) + 4095) & ~4095ul;
	s.sh = aligned_alloc(4096, bytes);
	if (!s.sh)
		die("out of memory", (long long)bytes);
	memset(s.sh, 0, bytes);
	pvio_ring_shared_init(s.sh);
	/* A ring in use, about to wrap: indices and event indices just below
	 * 2^32. */
	s.sh->prod = s.sh->cons = pvio_cpu_to_le32(START_INDEX);
	s.sh->prod_event = s.sh->cons_event = pvio_cpu_to_le32(START_INDEX);

	s.data_efd = eventfd(0, EFD_CLOEXEC);
	s.space_efd = eventfd(0, EFD_CLOEXEC);
	if (s.data_efd < 0 || s.space_efd < 0)
		die("eventfd", -errno);
	pvio_test_pick_cpus(s.cpu);
	if (s.cpu[0] < 0)
		printf("only one CPU available: threads not pinned\n");
	else
		printf("producer on CPU %d, consumer on CPU %d\n", s.cpu[0], s.cpu[1]);
	printf("%s mode, %" PRIu64 " entries, ring of %u, start index %#x\n",
	       s.sleep ? "sleep" : "poll", (uint64_t)s.total, RING_ENTRIES,
	       START_INDEX);
	fflush(stdout);

	t0 = pvio_test_now();
	if (pthread_create(&tw, NULL, watchdog, &s) ||
	    pthread_create(&tc, NULL, consumer, &s) ||
	    pthread_create(&tp, NULL, producer, &s))
		die("pthread_create", 0);
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);
	dt = pvio_test_now() - t0;
	__atomic_store_n(&s.done, 1, __ATOMIC_RELEASE);
	pthread_join(tw, NULL);

	if (pvio_le32_to_cpu(s.sh->prod) != (__u32)(START_INDEX + s.total) ||
	    pvio_le32_to_cpu(s.sh->cons) != (__u32)(START_INDEX + s.total))
		die("final indices do not match the count", (long long)s.total);
	printf("%" PRIu64 " entries in %.2f s: %.2f M entries/s\n",
	       (uint64_t)s.total, dt, s.total / dt / 1e6);
	printf("doorbells: %" PRIu64 " data (%.4f per entry), %" PRIu64
	       " space; sleeps: consumer %" PRIu64 ", producer %" PRIu64 "\n",
	       (uint64_t)s.doorbells, (double)s.doorbells / s.total,
	       (uint64_t)s.space_doorbells, (uint64_t)s.cons_sleeps,
	       (uint64_t)s.prod_sleeps);
	printf("PASS: every entry arrived once, in order, intact\n");
	close(s.data_efd);
	close(s.space_efd);
	free(s.sh);
	return 0;
}
