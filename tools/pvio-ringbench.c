// SPDX-License-Identifier: MIT
/*
 * pvio-ringbench - round-trip throughput of the pvio ring.
 *
 * Two threads on two CPUs share one region laid out as a device would lay
 * it out: a region header, a request ring of struct pvio_blk_req (64 bytes)
 * and a response ring of struct pvio_blk_rsp (16 bytes). The "driver"
 * thread produces requests and consumes responses, the "device" thread
 * consumes requests and answers each with one response, so every message
 * is a full round trip through ring/pvio_ring.h, used unchanged.
 *
 * Every response is checked against the request it answers (id sequence,
 * opcode, a length derived from the request), so a benchmark run is also a
 * correctness run: any mismatch ends the program with exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <pvio/blk.h>
#include <pvio/region.h>
#include <pvio_ring.h>

#include "lib/machine.h"

#define RB_NAME "pvio-ringbench"
#define RB_MAX_BATCHES 16
#define RB_DATA_SIZE 65536u
/* The driver reads the clock once per this many loop iterations. */
#define RB_CLOCK_EVERY 1024u
/* Request opcode private to the benchmark: tells the device to stop. */
#define RB_OP_STOP 0xffffu

enum rb_mode { RB_POLL, RB_SLEEP };

struct rb_opts {
	unsigned int batches[RB_MAX_BATCHES];
	int nbatches;
	bool mode_poll, mode_sleep;
	double duration;    /* seconds per configuration, when messages == 0 */
	uint64_t messages;  /* round trips per configuration, or 0 */
	unsigned int entries;
	int cpu[2];
	bool json;
};

/* What one configuration is run with; read-only once the threads start. */
struct rb_conf {
	enum rb_mode mode;
	unsigned int batch;
	unsigned int entries;
	uint64_t messages;
	double duration;
	int cpu;
	int efd_to_device; /* driver rings the device through this */
	int efd_to_driver; /* device rings the driver through this */
	struct pvio_ring_shared *req_sh, *rsp_sh;
	pthread_barrier_t *start;
};

/*
 * Each thread's private state sits on its own cache lines (PVIO_CACHELINE
 * covers the adjacent-line prefetcher), so the two threads only ever share
 * the lines of the region itself.
 */
struct rb_driver {
	struct pvio_prod req;
	struct pvio_cons rsp;
	const struct rb_conf *conf;
	uint64_t done;      /* round trips completed and checked */
	uint64_t doorbells; /* eventfd writes to the device */
	uint64_t sleeps;
	double seconds;
} __attribute__((aligned(PVIO_CACHELINE)));

struct rb_device {
	struct pvio_cons req;
	struct pvio_prod rsp;
	const struct rb_conf *conf;
	uint64_t doorbells; /* eventfd writes to the driver */
	uint64_t sleeps;
} __attribute__((aligned(PVIO_CACHELINE)));

static void rb_die(const char *who, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void rb_die(const char *who, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, RB_NAME ": %s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double rb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void rb_pin(const char *who, int cpu)
{
	cpu_set_t set;
	int ret;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret)
		rb_die(who, "cannot pin to CPU %d: %s", cpu, strerror(ret));
}

static void rb_ring(const char *who, int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		rb_die(who, "eventfd write: %s", strerror(errno));
}

static void rb_wait(const char *who, int efd)
{
	uint64_t v;

	while (read(efd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
		if (errno != EINTR)
			rb_die(who, "eventfd read: %s", strerror(errno));
	}
}

static inline void rb_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Ask for the request slots the driver fills a little later in exclusive
 * state now. The device read them last, so each store would otherwise stall
 * on a read-for-ownership of a line held by the other core; measured here,
 * this is worth up to 1.5x at batch 16 when the two CPUs are far apart. A
 * prefetch only moves cache lines: whatever it touches, it cannot change
 * what either side reads. Uses the producer's own private indices, which
 * struct pvio_prod documents; the ring itself is driven only through
 * pvio_prod_put/pvio_prod_publish.
 */
static inline void rb_prefetch_slots(const struct pvio_prod *p, unsigned int n,
				     unsigned int dist)
{
	for (unsigned int i = 0; i < n; i++)
		__builtin_prefetch(p->entries +
				   (size_t)((p->prod + dist + i) & p->mask) *
				   sizeof(struct pvio_blk_req), 1);
}

/* Length the device must answer for request @id: a cheap function of the
 * id, so the driver can check the response carries this request's data. */
static inline __u32 rb_sectors(__u32 id)
{
	return (id & 7u) + 1u;
}

/* Driver: submit a batch when the window allows it, reap up to a batch of
 * responses, repeat; at the deadline stop submitting and drain. */
static void *rb_driver_main(void *arg)
{
	struct rb_driver *d = arg;
	const struct rb_conf *c = d->conf;
	const uint64_t window = c->entries;
	const unsigned int batch = c->batch;
	/* Far enough ahead to hide a cross-core miss, and no more than half
	 * the ring, so as not to pull lines the device has yet to read. */
	const unsigned int prefetch_dist = c->entries / 2 < 32 ? c->entries / 2 : 32;
	uint64_t sent = 0, done = 0, doorbells = 0, sleeps = 0;
	unsigned int rsp_left = 0, iter = 0;
	bool submitting = true;
	double t0, deadline;
	struct pvio_blk_req req;
	struct pvio_blk_rsp rsp;
	int ret;

	rb_pin("driver", c->cpu);
	memset(&req, 0, sizeof(req));
	req.op = pvio_cpu_to_le16(PVIO_BLK_OP_READ);
	req.nr_segs = pvio_cpu_to_le16(1);
	pthread_barrier_wait(c->start);
	t0 = rb_now();
	deadline = t0 + c->duration;

	for (;;) {
		bool progress = false;
		unsigned int n = batch;

		if (c->messages && c->messages - sent < n)
			n = (unsigned int)(c->messages - sent);
		if (submitting && sent - done + n <= window) {
			rb_prefetch_slots(&d->req, n, prefetch_dist);
			for (unsigned int i = 0; i < n; i++) {
				__u32 id = (__u32)(sent + i);

				req.id = pvio_cpu_to_le32(id);
				req.sector = pvio_cpu_to_le64((__u64)id << 3);
				req.nr_sectors = pvio_cpu_to_le32(rb_sectors(id));
				req.seg[0].len = pvio_cpu_to_le32(rb_sectors(id) << 9);
				ret = pvio_prod_put(&d->req, &req, sizeof(req));
				if (pvio_unlikely(ret))
					rb_die("driver", "request ring put: %s",
					       strerror(-ret));
			}
			sent += n;
			if (pvio_prod_publish(&d->req)) {
				rb_ring("driver", c->efd_to_device);
				doorbells++;
			}
			if (c->messages && sent == c->messages)
				submitting = false;
			progress = true;
		}

		if (rsp_left == 0) {
			ret = pvio_cons_avail(&d->rsp);
			if (pvio_unlikely(ret < 0))
				rb_die("driver", "response ring: %s",
				       strerror(-ret));
			rsp_left = (unsigned int)ret;
		}
		if (rsp_left) {
			n = rsp_left < batch ? rsp_left : batch;
			for (unsigned int i = 0; i < n; i++) {
				__u32 want = (__u32)done;

				ret = pvio_cons_get(&d->rsp, &rsp, sizeof(rsp));
				if (pvio_unlikely(ret))
					rb_die("driver", "response ring get: %s",
					       strerror(-ret));
				if (pvio_unlikely(pvio_le32_to_cpu(rsp.id) != want ||
						  rsp.status != pvio_cpu_to_le16(PVIO_BLK_S_OK) ||
						  pvio_le32_to_cpu(rsp.len) != rb_sectors(want) << 9))
					rb_die("driver",
					       "response %" PRIu64 " wrong: id %u (want %u) status %u len %u (want %u)",
					       done, pvio_le32_to_cpu(rsp.id), want,
					       pvio_le16_to_cpu(rsp.status),
					       pvio_le32_to_cpu(rsp.len),
					       rb_sectors(want) << 9);
				done++;
			}
			if (pvio_unlikely(done > sent))
				rb_die("driver", "more responses than requests");
			pvio_cons_release(&d->rsp);
			rsp_left -= n;
			progress = true;
		}

		if (!submitting && done == sent)
			break;
		if (submitting && !c->messages && ++iter % RB_CLOCK_EVERY == 0 &&
		    rb_now() >= deadline)
			submitting = false;
		if (progress)
			continue;
		if (c->mode == RB_POLL) {
			rb_relax();
			continue;
		}
		/*
		 * Nothing to send and nothing to read. Every request in
		 * flight will be answered, so ask for the doorbell only once
		 * half of them are (interrupt coalescing): one wakeup then
		 * serves a whole half-window, and the device still has the
		 * other half to work on while we refill. Sleep only if the
		 * re-check after arming finds too few responses.
		 */
		ret = pvio_cons_arm(&d->rsp, (__u32)((sent - done - 1) / 2));
		if (pvio_unlikely(ret < 0))
			rb_die("driver", "response ring: %s", strerror(-ret));
		if (ret > 0) {
			rsp_left = (unsigned int)ret;
			continue;
		}
		rb_wait("driver", c->efd_to_driver);
		sleeps++;
	}
	d->seconds = rb_now() - t0;
	d->done = done;
	d->doorbells = doorbells;
	d->sleeps = sleeps;

	/* Not timed: tell the device to finish. */
	memset(&req, 0, sizeof(req));
	req.op = pvio_cpu_to_le16(RB_OP_STOP);
	ret = pvio_prod_put(&d->req, &req, sizeof(req));
	if (ret)
		rb_die("driver", "request ring put (stop): %s", strerror(-ret));
	if (pvio_prod_publish(&d->req))
		rb_ring("driver", c->efd_to_device);
	return NULL;
}

/* Device: take what the request ring holds, up to a batch at a time, answer
 * each request, release and publish once per batch. */
static void *rb_device_main(void *arg)
{
	struct rb_device *v = arg;
	const struct rb_conf *c = v->conf;
	const unsigned int batch = c->batch;
	uint64_t doorbells = 0, sleeps = 0;
	unsigned int left = 0;
	__u32 expect = 0;
	bool stop = false;
	struct pvio_blk_req req;
	struct pvio_blk_rsp rsp;
	int ret;

	rb_pin("device", c->cpu);
	memset(&rsp, 0, sizeof(rsp));
	pthread_barrier_wait(c->start);

	while (!stop) {
		unsigned int n, i;

		if (left == 0) {
			ret = pvio_cons_avail(&v->req);
			if (pvio_unlikely(ret < 0))
				rb_die("device", "request ring: %s",
				       strerror(-ret));
			if (ret == 0 && c->mode == RB_SLEEP) {
				/* Re-check after arming; see pvio_cons_arm. */
				ret = pvio_cons_arm(&v->req, 0);
				if (pvio_unlikely(ret < 0))
					rb_die("device", "request ring: %s",
					       strerror(-ret));
				if (ret == 0) {
					rb_wait("device", c->efd_to_device);
					sleeps++;
					continue;
				}
			}
			if (ret == 0) {
				rb_relax();
				continue;
			}
			left = (unsigned int)ret;
		}
		n = left < batch ? left : batch;
		for (i = 0; i < n; i++) {
			__u32 id;

			ret = pvio_cons_get(&v->req, &req, sizeof(req));
			if (pvio_unlikely(ret))
				rb_die("device", "request ring get: %s",
				       strerror(-ret));
			if (pvio_unlikely(req.op != pvio_cpu_to_le16(PVIO_BLK_OP_READ))) {
				if (req.op == pvio_cpu_to_le16(RB_OP_STOP)) {
					stop = true;
					i++;
					break;
				}
				rb_die("device", "request %u: bad opcode %u",
				       expect, pvio_le16_to_cpu(req.op));
			}
			id = pvio_le32_to_cpu(req.id);
			if (pvio_unlikely(id != expect ||
					  pvio_le32_to_cpu(req.nr_sectors) != rb_sectors(id)))
				rb_die("device",
				       "request %u wrong: id %u nr_sectors %u",
				       expect, id,
				       pvio_le32_to_cpu(req.nr_sectors));
			expect++;
			rsp.id = req.id;
			rsp.len = pvio_cpu_to_le32(pvio_le32_to_cpu(req.nr_sectors) << 9);
			/* The driver keeps at most a ring's worth in flight,
			 * so the response ring cannot be full. */
			ret = pvio_prod_put(&v->rsp, &rsp, sizeof(rsp));
			if (pvio_unlikely(ret))
				rb_die("device", "response ring put: %s",
				       strerror(-ret));
		}
		left -= i;
		/* The driver never waits for request-ring space (its window
		 * bounds what it sends), so no space doorbell is needed. */
		pvio_cons_release(&v->req);
		if (pvio_prod_publish(&v->rsp)) {
			rb_ring("device", c->efd_to_driver);
			doorbells++;
		}
	}
	v->doorbells = doorbells;
	v->sleeps = sleeps;
	return NULL;
}

/* The region: header page, request ring, response ring, data area, sized
 * to a power of two as the ivshmem transport requires. */
struct rb_region {
	void *base;
	size_t size;
	__u64 req_off, rsp_off, data_off;
};

static __u64 rb_align(__u64 v, __u64 a)
{
	return (v + a - 1) & ~(a - 1);
}

static int rb_region_map(struct rb_region *r, unsigned int entries)
{
	struct pvio_region_hdr *h;
	struct pvio_queue_desc *q;
	__u64 end, size = PVIO_REGION_MIN_SIZE;
	int fd;

	r->req_off = PVIO_REGION_HDR_SIZE;
	r->rsp_off = rb_align(r->req_off + PVIO_RING_BYTES(entries,
					   sizeof(struct pvio_blk_req)),
			      PVIO_CACHELINE);
	r->data_off = rb_align(r->rsp_off + PVIO_RING_BYTES(entries,
					    sizeof(struct pvio_blk_rsp)),
			       4096);
	end = r->data_off + RB_DATA_SIZE;
	while (size < end)
		size <<= 1;
	r->size = size;

	fd = memfd_create(RB_NAME, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	r->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (r->base == MAP_FAILED)
		return -errno;

	h = r->base;
	h->magic = pvio_cpu_to_le64(PVIO_REGION_MAGIC);
	h->abi_rev = pvio_cpu_to_le32(PVIO_ABI_REV);
	h->hdr_size = pvio_cpu_to_le32(PVIO_REGION_HDR_SIZE);
	h->dev_class = pvio_cpu_to_le32(PVIO_CLASS_BLK);
	h->num_queues = pvio_cpu_to_le32(1);
	h->region_size = pvio_cpu_to_le64(size);
	q = &h->queues[0];
	q->req_ring_off = pvio_cpu_to_le64(r->req_off);
	q->rsp_ring_off = pvio_cpu_to_le64(r->rsp_off);
	q->data_off = pvio_cpu_to_le64(r->data_off);
	q->data_size = pvio_cpu_to_le64(RB_DATA_SIZE);
	q->req_entries = pvio_cpu_to_le32(entries);
	q->rsp_entries = pvio_cpu_to_le32(entries);
	q->req_entry_size = pvio_cpu_to_le32(sizeof(struct pvio_blk_req));
	q->rsp_entry_size = pvio_cpu_to_le32(sizeof(struct pvio_blk_rsp));
	q->vector = pvio_cpu_to_le32(1);
	return 0;
}

struct rb_result {
	uint64_t messages;
	double seconds;
	uint64_t drv_doorbells, dev_doorbells;
	uint64_t drv_sleeps, dev_sleeps;
};

static void rb_fail_setup(const char *what, int err)
{
	fprintf(stderr, RB_NAME ": %s: %s\n", what, strerror(err));
	exit(1);
}

static void rb_run_one(const struct rb_opts *o, struct rb_region *r,
		       enum rb_mode mode, unsigned int batch,
		       struct rb_result *res)
{
	static struct rb_driver drv;
	static struct rb_device dev;
	struct rb_conf dconf, vconf;
	pthread_barrier_t start;
	pthread_t td, tv;
	int ret;

	struct pvio_ring_shared *req_sh =
		(void *)((char *)r->base + r->req_off);
	struct pvio_ring_shared *rsp_sh =
		(void *)((char *)r->base + r->rsp_off);

	memset(&drv, 0, sizeof(drv));
	memset(&dev, 0, sizeof(dev));
	pvio_ring_shared_init(req_sh);
	pvio_ring_shared_init(rsp_sh);

	memset(&dconf, 0, sizeof(dconf));
	dconf.mode = mode;
	dconf.batch = batch;
	dconf.entries = o->entries;
	dconf.messages = o->messages;
	dconf.duration = o->duration;
	dconf.req_sh = req_sh;
	dconf.rsp_sh = rsp_sh;
	dconf.start = &start;
	dconf.efd_to_device = eventfd(0, EFD_CLOEXEC);
	dconf.efd_to_driver = eventfd(0, EFD_CLOEXEC);
	if (dconf.efd_to_device < 0 || dconf.efd_to_driver < 0)
		rb_fail_setup("eventfd", errno);
	vconf = dconf;
	dconf.cpu = o->cpu[0];
	vconf.cpu = o->cpu[1];

	ret = pvio_prod_attach(&drv.req, req_sh, o->entries,
			       sizeof(struct pvio_blk_req));
	if (!ret)
		ret = pvio_cons_attach(&drv.rsp, rsp_sh, o->entries,
				       sizeof(struct pvio_blk_rsp));
	if (!ret)
		ret = pvio_cons_attach(&dev.req, req_sh, o->entries,
				       sizeof(struct pvio_blk_req));
	if (!ret)
		ret = pvio_prod_attach(&dev.rsp, rsp_sh, o->entries,
				       sizeof(struct pvio_blk_rsp));
	if (ret)
		rb_fail_setup("ring attach", -ret);
	drv.conf = &dconf;
	dev.conf = &vconf;

	pthread_barrier_init(&start, NULL, 2);
	ret = pthread_create(&tv, NULL, rb_device_main, &dev);
	if (ret)
		rb_fail_setup("pthread_create", ret);
	ret = pthread_create(&td, NULL, rb_driver_main, &drv);
	if (ret)
		rb_fail_setup("pthread_create", ret);
	pthread_join(td, NULL);
	pthread_join(tv, NULL);
	pthread_barrier_destroy(&start);
	close(dconf.efd_to_device);
	close(dconf.efd_to_driver);

	res->messages = drv.done;
	res->seconds = drv.seconds;
	res->drv_doorbells = drv.doorbells;
	res->dev_doorbells = dev.doorbells;
	res->drv_sleeps = drv.sleeps;
	res->dev_sleeps = dev.sleeps;
}

static void rb_print(const struct rb_opts *o, enum rb_mode mode,
		     unsigned int batch, const struct rb_result *res)
{
	double m = (double)res->messages;
	double rate = res->seconds > 0 ? m / res->seconds : 0;
	double ns = m > 0 ? res->seconds * 1e9 / m : 0;
	double dpm = m > 0 ? (double)(res->drv_doorbells + res->dev_doorbells) / m : 0;
	const char *mname = mode == RB_POLL ? "poll" : "sleep";

	if (o->json) {
		printf("{\"mode\":\"%s\",\"batch\":%u,\"ring_entries\":%u,"
		       "\"req_size\":%zu,\"rsp_size\":%zu,\"cpus\":[%d,%d],"
		       "\"messages\":%" PRIu64 ",\"seconds\":%.6f,"
		       "\"msgs_per_sec\":%.0f,\"ns_per_msg\":%.3f,"
		       "\"doorbells\":%" PRIu64 ",\"doorbells_per_msg\":%.6f,"
		       "\"driver_doorbells\":%" PRIu64 ",\"device_doorbells\":%" PRIu64 ","
		       "\"driver_sleeps\":%" PRIu64 ",\"device_sleeps\":%" PRIu64 ","
		       "\"machine\":",
		       mname, batch, o->entries, sizeof(struct pvio_blk_req),
		       sizeof(struct pvio_blk_rsp), o->cpu[0], o->cpu[1],
		       res->messages, res->seconds, rate, ns,
		       res->drv_doorbells + res->dev_doorbells, dpm,
		       res->drv_doorbells, res->dev_doorbells,
		       res->drv_sleeps, res->dev_sleeps);
		pvio_machine_json(stdout);
		printf("}\n");
	} else {
		printf("%-5s %5u %14.0f %9.2f %14.6f %13" PRIu64 " %8.3f\n",
		       mname, batch, rate, ns, dpm, res->messages,
		       res->seconds);
	}
	fflush(stdout);
}

static const char rb_help[] =
"NAME\n"
"    pvio-ringbench - round-trip throughput of the pvio shared-memory ring\n"
"\n"
"SYNOPSIS\n"
"    pvio-ringbench [--batch LIST] [--mode poll|sleep|both]\n"
"                   [--duration SEC | --messages N] [--ring-entries N]\n"
"                   [--cpus A,B] [--json]\n"
"    pvio-ringbench --help\n"
"\n"
"DESCRIPTION\n"
"    Measures how many request/response round trips per second two threads\n"
"    exchange through ring/pvio_ring.h. One region (a memfd mapping laid out\n"
"    like a device's: region header, request ring, response ring, data\n"
"    area) holds a request ring of 64-byte entries (struct pvio_blk_req)\n"
"    and a response ring of 16-byte entries (struct pvio_blk_rsp).\n"
"\n"
"    The driver thread puts BATCH requests, publishes them with one store,\n"
"    and keeps up to RING-ENTRIES requests in flight. The device thread\n"
"    takes whatever the request ring holds, up to BATCH at a time, answers\n"
"    each request with a response, and releases and publishes once per\n"
"    batch. The driver reads responses up to BATCH at a time. Each response\n"
"    is checked against its request (id sequence, opcode, length); any\n"
"    mismatch or ring protocol error stops the program with status 1.\n"
"\n"
"    Modes:\n"
"      poll   both threads spin on their incoming ring.\n"
"      sleep  a thread that finds its incoming ring empty arms it with\n"
"             pvio_cons_arm() and blocks on an eventfd; the peer writes that\n"
"             eventfd only when pvio_prod_publish() says a doorbell is due.\n"
"             The driver asks to be woken once half of its requests in\n"
"             flight are answered; the device on the next request.\n"
"    Every configuration (mode x batch) is run in turn, poll first.\n"
"\n"
"OPTIONS\n"
"    --batch LIST      comma-separated batch sizes, each 1..RING-ENTRIES\n"
"                      (default 1,4,16,64)\n"
"    --mode MODE       poll, sleep or both (default both)\n"
"    --duration SEC    seconds per configuration, fractions allowed\n"
"                      (default 2)\n"
"    --messages N      run N round trips per configuration instead of a\n"
"                      fixed time; excludes --duration\n"
"    --ring-entries N  entries per ring, a power of two in 2..32768 and at\n"
"                      least the largest batch (default 256); also the\n"
"                      most requests in flight\n"
"    --cpus A,B        CPUs for the driver and the device thread (default:\n"
"                      the first two CPUs this process may run on)\n"
"    --json            one JSON object per configuration per line instead\n"
"                      of a table\n"
"    -h, --help        this text\n"
"\n"
"OUTPUT\n"
"    Table columns, and JSON keys (JSON adds ring_entries, req_size,\n"
"    rsp_size, cpus, doorbells, driver_doorbells, device_doorbells,\n"
"    driver_sleeps, device_sleeps, and machine: the CPU model, cores,\n"
"    memory, kernel, OS, pvio version and the date, to compare machines):\n"
"      mode               poll or sleep\n"
"      batch              batch size\n"
"      msgs_per_sec       round trips per second\n"
"      ns_per_msg         nanoseconds per round trip (1e9 / msgs_per_sec)\n"
"      doorbells_per_msg  eventfd writes, both directions, per round trip\n"
"      messages           round trips completed and checked\n"
"      seconds            wall-clock time of the measured run\n"
"    The time runs from the moment both threads are ready until the driver\n"
"    has read the last response; the run stops submitting at the deadline\n"
"    (checked every 1024 loop iterations) and then drains.\n"
"\n"
"EXIT STATUS\n"
"    0  all configurations ran and every response checked out\n"
"    1  a response did not match its request, a ring reported a protocol\n"
"       error, a system call failed, or fewer than two CPUs are available\n"
"    2  bad command line\n"
"\n"
"EXAMPLE\n"
"    pvio-ringbench --mode poll --batch 16 --duration 5 --cpus 0,1\n"
"    pvio-ringbench --messages 100000 --json\n";

static void rb_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void rb_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, RB_NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" RB_NAME " --help' for more information.\n");
	exit(2);
}

static unsigned long rb_parse_ulong(const char *opt, const char *s,
				    unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		rb_usage_error("%s: '%s' is not a number", opt, s);
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		rb_usage_error("%s: '%s' is not a number in 0..%lu", opt, s,
			       max);
	return v;
}

static void rb_parse_batches(struct rb_opts *o, const char *arg)
{
	char buf[256], *tok, *save = NULL;

	if (strlen(arg) >= sizeof(buf))
		rb_usage_error("--batch: list too long");
	strcpy(buf, arg);
	o->nbatches = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long v = rb_parse_ulong("--batch", tok,
						 PVIO_RING_MAX_ENTRIES);

		if (v == 0)
			rb_usage_error("--batch: a batch size must be at least 1");
		if (o->nbatches == RB_MAX_BATCHES)
			rb_usage_error("--batch: at most %d sizes",
				       RB_MAX_BATCHES);
		o->batches[o->nbatches++] = (unsigned int)v;
	}
	if (o->nbatches == 0)
		rb_usage_error("--batch: empty list");
}

static void rb_parse_cpus(struct rb_opts *o, const char *arg)
{
	char buf[64], *comma;

	if (strlen(arg) >= sizeof(buf) || !(comma = strchr(arg, ',')))
		rb_usage_error("--cpus: expected A,B (two CPU numbers), got '%s'",
			       arg);
	strcpy(buf, arg);
	comma = strchr(buf, ',');
	*comma = '\0';
	o->cpu[0] = (int)rb_parse_ulong("--cpus", buf, CPU_SETSIZE - 1);
	o->cpu[1] = (int)rb_parse_ulong("--cpus", comma + 1, CPU_SETSIZE - 1);
}

static void rb_parse(struct rb_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, 'b' },
		{ "mode", required_argument, NULL, 'm' },
		{ "duration", required_argument, NULL, 'd' },
		{ "messages", required_argument, NULL, 'n' },
		{ "ring-entries", required_argument, NULL, 'r' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_duration = false, have_cpus = false;
	cpu_set_t allowed;
	unsigned int maxb = 0;
	int opt, i;

	memset(o, 0, sizeof(*o));
	rb_parse_batches(o, "1,4,16,64");
	o->mode_poll = o->mode_sleep = true;
	o->duration = 2.0;
	o->entries = 256;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			rb_parse_batches(o, optarg);
			break;
		case 'm':
			if (!strcmp(optarg, "poll")) {
				o->mode_poll = true;
				o->mode_sleep = false;
			} else if (!strcmp(optarg, "sleep")) {
				o->mode_poll = false;
				o->mode_sleep = true;
			} else if (!strcmp(optarg, "both")) {
				o->mode_poll = o->mode_sleep = true;
			} else {
				rb_usage_error("--mode: expected poll, sleep or both, got '%s'",
					       optarg);
			}
			break;
		case 'd': {
			char *end;

			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(o->duration > 0 && o->duration <= 3600))
				rb_usage_error("--duration: expected seconds in (0, 3600], got '%s'",
					       optarg);
			have_duration = true;
			break;
		}
		case 'n':
			o->messages = rb_parse_ulong("--messages", optarg,
						     ULONG_MAX);
			if (o->messages == 0)
				rb_usage_error("--messages: must be at least 1");
			break;
		case 'r':
			o->entries = (unsigned int)rb_parse_ulong(
				"--ring-entries", optarg, PVIO_RING_MAX_ENTRIES);
			if (pvio_ring_geometry_valid(o->entries, 8))
				rb_usage_error("--ring-entries: %u is not a power of two in %u..%u",
					       o->entries, PVIO_RING_MIN_ENTRIES,
					       PVIO_RING_MAX_ENTRIES);
			break;
		case 'c':
			rb_parse_cpus(o, optarg);
			have_cpus = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			fputs(rb_help, stdout);
			exit(0);
		case ':':
			rb_usage_error("option '%s' needs an argument",
				       argv[optind - 1]);
		default:
			rb_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		rb_usage_error("unexpected argument '%s'", argv[optind]);
	if (have_duration && o->messages)
		rb_usage_error("--duration and --messages exclude each other");
	for (i = 0; i < o->nbatches; i++)
		if (o->batches[i] > maxb)
			maxb = o->batches[i];
	if (maxb > o->entries)
		rb_usage_error("batch %u is larger than the ring (%u entries)",
			       maxb, o->entries);

	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		rb_fail_setup("sched_getaffinity", errno);
	if (have_cpus) {
		for (i = 0; i < 2; i++)
			if (!CPU_ISSET(o->cpu[i], &allowed))
				rb_usage_error("--cpus: CPU %d is not available to this process",
					       o->cpu[i]);
		if (o->cpu[0] == o->cpu[1])
			rb_usage_error("--cpus: the two threads need two different CPUs");
	} else {
		int found = 0;

		for (i = 0; i < CPU_SETSIZE && found < 2; i++)
			if (CPU_ISSET(i, &allowed))
				o->cpu[found++] = i;
		if (found < 2) {
			fprintf(stderr, RB_NAME ": need two CPUs, only CPU %d is available\n",
				o->cpu[0]);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	struct rb_region region;
	struct rb_opts o;
	int ret, m, i;

	rb_parse(&o, argc, argv);
	ret = rb_region_map(&region, o.entries);
	if (ret)
		rb_fail_setup("region", -ret);

	if (!o.json) {
		printf("pvio-ringbench: request %zu B, response %zu B, %u entries per ring, CPUs %d,%d, ",
		       sizeof(struct pvio_blk_req), sizeof(struct pvio_blk_rsp),
		       o.entries, o.cpu[0], o.cpu[1]);
		if (o.messages)
			printf("%" PRIu64 " round trips per run\n", o.messages);
		else
			printf("%g s per run\n", o.duration);
		printf("%-5s %5s %14s %9s %14s %13s %8s\n", "mode", "batch",
		       "msgs/s", "ns/msg", "doorbells/msg", "messages",
		       "seconds");
	}
	for (m = 0; m < 2; m++) {
		enum rb_mode mode = m == 0 ? RB_POLL : RB_SLEEP;

		if ((mode == RB_POLL && !o.mode_poll) ||
		    (mode == RB_SLEEP && !o.mode_sleep))
			continue;
		for (i = 0; i < o.nbatches; i++) {
			struct rb_result res;

			rb_run_one(&o, &region, mode, o.batches[i], &res);
			rb_print(&o, mode, o.batches[i], &res);
		}
	}
	munmap(region.base, region.size);
	return 0;
}
