// SPDX-License-Identifier: MIT
/*
 * Lost-wakeup test of ring/pvio_ring.h's event indices.
 *
 * The consumer sleeps in read() on an eventfd whenever pvio_cons_arm() lets
 * it; the producer writes that eventfd only when pvio_prod_publish() says
 * the consumer asked for it. Symmetrically, the producer sleeps on a second
 * eventfd when the (small) ring is full and pvio_prod_arm_space() lets it,
 * and the consumer rings it only when pvio_cons_release_check() says so.
 * The producer publishes in small random batches and spins, yields or
 * sleeps at random points, so that publishing and arming often race. A
 * missed doorbell leaves one side asleep forever; a watchdog turns that into
 * a failure after 10 s without progress.
 *
 *   test_ring_wakeup [COUNT]     (default 1000000 messages)
 *
 * Exit 0 on success, 1 on a bad or out-of-order message or ring error, 2 on
 * a hang (lost wakeup).
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
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "pvio_ring.h"
#include "../../common/pvio_test_threads.h"

#define RING_ENTRIES 16u
#define MAX_BATCH 6u
#define START_INDEX (0u - 100u)
#define HANG_SECONDS 10

struct msg {
	__u64 seq;
	__u64 check;
};

struct wake {
	struct pvio_ring_shared *sh;
	__u64 total;
	int data_efd;  /* producer -> consumer */
	int space_efd; /* consumer -> producer */
	int cpu[2];
	/* atomics, read by the watchdog */
	__u64 received;
	__u64 sent;
	int cons_asleep;
	int prod_asleep;
	int done;
	/* owned by one thread each, read after join */
	__u64 doorbells, space_doorbells;
	__u64 cons_sleeps, prod_sleeps;
	__u64 cons_arm_raced, prod_arm_raced;
};

static __u64 check_of(__u64 seq)
{
	return ~seq ^ 0x5a5aa5a5c3c33c3cull;
}

static __u32 rnd_next(__u32 *s)
{
	__u32 x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
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

static void efd_wait(int fd, int *asleep)
{
	__u64 v;

	__atomic_store_n(asleep, 1, __ATOMIC_RELAXED);
	while (read(fd, &v, sizeof(v)) != sizeof(v))
		if (errno != EINTR)
			die("eventfd read", -errno);
	__atomic_store_n(asleep, 0, __ATOMIC_RELAXED);
}

static void efd_ring(int fd)
{
	__u64 one = 1;

	while (write(fd, &one, sizeof(one)) != sizeof(one))
		if (errno != EINTR)
			die("eventfd write", -errno);
}

/* Spin, yield or sleep for a random while, or (most often) not at all:
 * moves one side's steps across the other's race windows. */
static void jitter(__u32 *rnd)
{
	__u32 r = rnd_next(rnd);

	switch (r & 15) {
	case 0: {
		struct timespec ts = { 0, (long)((r >> 8) % 20000) };

		nanosleep(&ts, NULL);
		break;
	}
	case 1:
	case 2:
		sched_yield();
		break;
	case 3:
	case 4:
	case 5:
	case 6:
		for (__u32 i = (r >> 8) % 512; i; i--) {
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#endif
			__asm__ __volatile__("" ::: "memory");
		}
		break;
	default:
		break;
	}
}

static void *producer(void *arg)
{
	struct wake *w = arg;
	struct pvio_prod p;
	__u32 rnd = 0x1234567u;
	__u64 seq = 0;
	int ret;

	pin(w->cpu[0]);
	ret = pvio_prod_attach(&p, w->sh, RING_ENTRIES, sizeof(struct msg));
	if (ret)
		die("producer attach", ret);
	while (seq < w->total) {
		__u32 n = 1 + rnd_next(&rnd) % MAX_BATCH;
		int space;

		if (n > w->total - seq)
			n = (__u32)(w->total - seq);
		space = pvio_prod_space(&p, n);
		if (space < 0)
			die("producer: ring broken", space);
		if ((__u32)space < n) {
			space = pvio_prod_arm_space(&p, n);
			if (space < 0)
				die("producer: arm_space", space);
			if (space > 0) {
				w->prod_arm_raced++;
				continue;
			}
			w->prod_sleeps++;
			efd_wait(w->space_efd, &w->prod_asleep);
			continue;
		}
		for (__u32 i = 0; i < n; i++, seq++) {
			struct msg m = { seq, check_of(seq) };

			ret = pvio_prod_put(&p, &m, sizeof(m));
			if (ret)
				die("producer: put with space", ret);
			if ((rnd_next(&rnd) & 7) == 0)
				jitter(&rnd);
		}
		if (pvio_prod_publish(&p)) {
			w->doorbells++;
			jitter(&rnd);
			efd_ring(w->data_efd);
		}
		__atomic_store_n(&w->sent, seq, __ATOMIC_RELAXED);
		jitter(&rnd);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct wake *w = arg;
	struct pvio_cons c;
	__u32 rnd = 0x7654321u;
	__u64 expect = 0;
	int ret;

	pin(w->cpu[1]);
	ret = pvio_cons_attach(&c, w->sh, RING_ENTRIES, sizeof(struct msg));
	if (ret)
		die("consumer attach", ret);
	while (expect < w->total) {
		int avail = pvio_cons_avail(&c);
		__u32 n;

		if (avail < 0)
			die("consumer: ring broken", avail);
		if (avail == 0) {
			if ((rnd_next(&rnd) & 3) == 0)
				jitter(&rnd);
			avail = pvio_cons_arm(&c, 0);
			if (avail < 0)
				die("consumer: arm", avail);
			if (avail == 0) {
				w->cons_sleeps++;
				efd_wait(w->data_efd, &w->cons_asleep);
				continue;
			}
			/* entries came between the check and the arm */
			w->cons_arm_raced++;
		}
		n = 1 + rnd_next(&rnd) % MAX_BATCH;
		if (n > (__u32)avail)
			n = (__u32)avail;
		for (__u32 i = 0; i < n; i++, expect++) {
			struct msg m;

			ret = pvio_cons_get(&c, &m, sizeof(m));
			if (ret)
				die("consumer: get with entries available", ret);
			if (m.seq != expect || m.check != check_of(m.seq)) {
				fprintf(stderr,
					"FAIL: message %" PRIu64 ": got seq %" PRIu64
					" check %#" PRIx64 "\n",
					(uint64_t)expect, (uint64_t)m.seq,
					(uint64_t)m.check);
				exit(1);
			}
		}
		if (pvio_cons_release_check(&c)) {
			w->space_doorbells++;
			efd_ring(w->space_efd);
		}
		__atomic_store_n(&w->received, expect, __ATOMIC_RELAXED);
	}
	return NULL;
}

static __u32 shared_index(__le32 *p)
{
	return pvio_le32_to_cpu(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void *watchdog(void *arg)
{
	struct wake *w = arg;
	__u64 last_r = ~0ull, last_s = ~0ull;
	int still = 0;

	while (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
		__u64 r = __atomic_load_n(&w->received, __ATOMIC_RELAXED);
		__u64 s = __atomic_load_n(&w->sent, __ATOMIC_RELAXED);

		still = (r == last_r && s == last_s) ? still + 1 : 0;
		last_r = r;
		last_s = s;
		if (still >= HANG_SECONDS * 10) {
			fprintf(stderr,
				"FAIL: lost wakeup: no progress for %d s; sent %" PRIu64
				", received %" PRIu64 "; consumer %s, producer %s;"
				" shared prod %#x cons %#x prod_event %#x cons_event %#x\n",
				HANG_SECONDS, (uint64_t)s, (uint64_t)r,
				__atomic_load_n(&w->cons_asleep, __ATOMIC_RELAXED) ?
					"asleep" : "awake",
				__atomic_load_n(&w->prod_asleep, __ATOMIC_RELAXED) ?
					"asleep" : "awake",
				shared_index(&w->sh->prod), shared_index(&w->sh->cons),
				shared_index(&w->sh->prod_event),
				shared_index(&w->sh->cons_event));
			_exit(2);
		}
		usleep(100000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct wake w;
	pthread_t tp, tc, tw;
	size_t bytes;
	double t0, dt;
	char *end;

	memset(&w, 0, sizeof(w));
	w.total = 1000000;
	if (argc > 1) {
		w.total = strtoull(argv[1], &end, 0);
		if (*end || w.total == 0) {
			fprintf(stderr, "usage: %s [COUNT]\n", argv[0]);
			return 2;
		}
	}
	/* Short nanosleeps should be short: the jitter is about microseconds. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	bytes = (PVIO_RING_BYTES(RING_ENTRIES, sizeof(struct msg)) + 4095) & ~4095ul;
	w.sh = aligned_alloc(4096, bytes);
	if (!w.sh)
		die("out of memory", (long long)bytes);
	memset(w.sh, 0, bytes);
	pvio_ring_shared_init(w.sh);
	w.sh->prod = w.sh->cons = pvio_cpu_to_le32(START_INDEX);
	w.sh->prod_event = w.sh->cons_event = pvio_cpu_to_le32(START_INDEX);

	w.data_efd = eventfd(0, EFD_CLOEXEC);
	w.space_efd = eventfd(0, EFD_CLOEXEC);
	if (w.data_efd < 0 || w.space_efd < 0)
		die("eventfd", -errno);
	pvio_test_pick_cpus(w.cpu);
	if (w.cpu[0] < 0)
		printf("only one CPU available: threads not pinned\n");
	else
		printf("producer on CPU %d, consumer on CPU %d\n", w.cpu[0], w.cpu[1]);
	printf("%" PRIu64 " messages, ring of %u, batches 1..%u\n",
	       (uint64_t)w.total, RING_ENTRIES, MAX_BATCH);
	fflush(stdout);

	t0 = pvio_test_now();
	if (pthread_create(&tw, NULL, watchdog, &w) ||
	    pthread_create(&tc, NULL, consumer, &w) ||
	    pthread_create(&tp, NULL, producer, &w))
		die("pthread_create", 0);
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);
	dt = pvio_test_now() - t0;
	__atomic_store_n(&w.done, 1, __ATOMIC_RELEASE);
	pthread_join(tw, NULL);

	if (w.cons_sleeps == 0)
		die("the consumer never slept: the wakeup path was not exercised", 0);
	printf("messages: %" PRIu64 " in %.2f s\n", (uint64_t)w.total, dt);
	printf("doorbells: %" PRIu64 " (%.4f per message), consumer sleeps %" PRIu64
	       ", arm found entries %" PRIu64 "\n",
	       (uint64_t)w.doorbells, (double)w.doorbells / w.total,
	       (uint64_t)w.cons_sleeps, (uint64_t)w.cons_arm_raced);
	printf("space doorbells: %" PRIu64 ", producer sleeps %" PRIu64
	       ", arm_space found space %" PRIu64 "\n",
	       (uint64_t)w.space_doorbells, (uint64_t)w.prod_sleeps,
	       (uint64_t)w.prod_arm_raced);
	printf("PASS: all messages arrived in order, no wakeup lost\n");
	close(w.data_efd);
	close(w.space_efd);
	free(w.sh);
	return 0;
}
