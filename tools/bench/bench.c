// SPDX-License-Identifier: MIT
/*
 * pvio-bench - fio-like throughput and latency benchmark of the pvio
 * userspace block path, against io_uring on the same file. See --help.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "libpvio/pvio_front.h"
#include "../lib/machine.h"

/* ---- latency histogram: 32 linear steps per power of two of ns ---- */

#define HIST_SUB 32u
#define HIST_BUCKETS (64u * HIST_SUB)

struct hist {
	uint64_t n[HIST_BUCKETS];
};

static unsigned int hist_index(uint64_t ns)
{
	unsigned int msb, sub;

	if (ns < HIST_SUB)
		return (unsigned int)ns;
	msb = 63u - (unsigned int)__builtin_clzll(ns);
	sub = (unsigned int)(ns >> (msb - 5)) & (HIST_SUB - 1);
	return (msb - 4) * HIST_SUB + sub;
}

/* Lower bound of a bucket, in ns. */
static double hist_value(unsigned int idx)
{
	unsigned int grp = idx / HIST_SUB, sub = idx % HIST_SUB;

	if (grp == 0)
		return sub;
	return (double)((uint64_t)(HIST_SUB + sub) << (grp - 1));
}

static double hist_pct(const struct hist *h, double pct)
{
	uint64_t total = 0, acc = 0, want;
	unsigned int i;

	for (i = 0; i < HIST_BUCKETS; i++)
		total += h->n[i];
	if (!total)
		return 0;
	want = (uint64_t)((double)total * pct / 100.0);
	if ((double)want < (double)total * pct / 100.0)
		want++;
	if (!want)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		acc += h->n[i];
		if (acc >= want)
			return hist_value(i) / 1000.0;
	}
	return 0;
}

/* ---- verification pattern ---- */

#define VERIFY_MAGIC 0x5946525630495650ull /* "PVI0VRFY" */
#define VERIFY_GEN 1u

struct verify_hdr {
	uint64_t magic;
	uint64_t offset; /* absolute byte offset of this granule */
	uint32_t seed;
	uint32_t gen;
	uint64_t csum;   /* over the rest of the granule */
};

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t granule_csum(const uint64_t *w, unsigned int n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned int i;

	for (i = 0; i < n; i++)
		h = (h ^ w[i]) * 0x100000001b3ull;
	return h;
}

static void granule_fill(uint64_t *w, uint64_t off, uint32_t seed)
{
	struct verify_hdr *h = (struct verify_hdr *)w;
	unsigned int nh = sizeof(*h) / 8, i;
	uint64_t base = splitmix(((uint64_t)seed << 32) ^ off ^ VERIFY_GEN);

	for (i = nh; i < BENCH_GRANULE / 8; i++)
		w[i] = splitmix(base + i);
	h->magic = VERIFY_MAGIC;
	h->offset = off;
	h->seed = seed;
	h->gen = VERIFY_GEN;
	h->csum = granule_csum(w + nh, BENCH_GRANULE / 8 - nh);
}

/**
 * bench_pattern_fill() - write the verification pattern for a byte range.
 * @buf: destination, @len bytes
 * @off: absolute offset of @buf in the file (multiple of 4096)
 * @len: bytes (multiple of 4096)
 * @seed: run seed
 *
 * Context: any.
 */
void bench_pattern_fill(void *buf, uint64_t off, uint32_t len, uint32_t seed)
{
	uint32_t g;

	for (g = 0; g < len; g += BENCH_GRANULE)
		granule_fill((uint64_t *)((unsigned char *)buf + g), off + g, seed);
}

/**
 * bench_pattern_check() - check a range read back against the pattern.
 * @buf: data read
 * @off: absolute offset it was read from
 * @len: bytes
 * @seed: run seed
 * @bad_off: the first bad granule's offset on failure
 *
 * Each granule's header must name its own offset, the seed and the
 * generation, its checksum must match its content, and the content must be
 * the one the seed produces.
 *
 * Context: any.
 * Return: 0, or -EILSEQ on a mismatch.
 */
int bench_pattern_check(const void *buf, uint64_t off, uint32_t len,
			uint32_t seed, uint64_t *bad_off)
{
	uint64_t want[BENCH_GRANULE / 8];
	unsigned int nh = sizeof(struct verify_hdr) / 8;
	uint32_t g;

	for (g = 0; g < len; g += BENCH_GRANULE) {
		const uint64_t *w = (const uint64_t *)((const unsigned char *)buf + g);
		const struct verify_hdr *h = (const struct verify_hdr *)w;

		if (h->magic != VERIFY_MAGIC || h->offset != off + g ||
		    h->seed != seed || h->gen != VERIFY_GEN ||
		    h->csum != granule_csum(w + nh, BENCH_GRANULE / 8 - nh))
			goto bad;
		granule_fill(want, off + g, seed);
		if (memcmp(want, w, BENCH_GRANULE))
			goto bad;
		continue;
bad:
		*bad_off = off + g;
		return -EILSEQ;
	}
	return 0;
}

/* ---- jobs ---- */

enum phase { PH_RUN, PH_VERIFY_WRITE, PH_VERIFY_READ };

struct extent {
	uint64_t off;
	uint32_t len;
};

struct job {
	unsigned int idx;
	struct bench_engine *e;
	const struct bench_opts *o;
	enum phase phase;
	uint64_t start, len;     /* the job's part of the region */
	uint64_t budget;         /* bytes to issue, 0: runtime-bound */
	uint64_t deadline_ns;
	pthread_barrier_t *bar;
	uint64_t rng;
	struct extent *ext;
	size_t next_ext, nr_ext;
	uint64_t cursor;
	bool has_stash;          /* an IO the engine had no room for yet */
	bool stash_write;
	uint64_t stash_off;
	uint32_t stash_len;
	/* results */
	uint64_t ios, bytes;     /* atomics: read by the progress line */
	struct hist *h;
	uint64_t db_out, db_in;
	int err;
	uint64_t bad_off;
	char msg[200];
};

static volatile sig_atomic_t stop_flag;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void build_extents(struct job *j, uint64_t salt)
{
	uint64_t pos = j->start, end = j->start + j->len, r = splitmix(j->rng ^ salt);
	size_t cap = j->len / BENCH_GRANULE + 1, n = 0, i;

	j->ext = calloc(cap, sizeof(*j->ext));
	if (!j->ext) {
		j->err = -ENOMEM;
		return;
	}
	while (pos < end) {
		uint32_t len = j->o->bs[rnd(&r) % j->o->nr_bs];

		if (len > end - pos)
			len = (uint32_t)(end - pos);
		j->ext[n++] = (struct extent){ pos, len };
		pos += len;
	}
	for (i = n; i > 1; i--) {
		size_t k = rnd(&r) % i;
		struct extent t = j->ext[i - 1];

		j->ext[i - 1] = j->ext[k];
		j->ext[k] = t;
	}
	j->nr_ext = n;
	j->next_ext = 0;
}

/* Next IO; false when the job has issued everything. */
static bool next_io(struct job *j, bool *write, uint64_t *off, uint32_t *len,
		    uint64_t issued)
{
	const struct bench_opts *o = j->o;

	if (j->has_stash) {
		j->has_stash = false;
		*write = j->stash_write;
		*off = j->stash_off;
		*len = j->stash_len;
		return true;
	}
	if (j->phase != PH_RUN) {
		if (j->next_ext == j->nr_ext)
			return false;
		*off = j->ext[j->next_ext].off;
		*len = j->ext[j->next_ext].len;
		j->next_ext++;
		*write = j->phase == PH_VERIFY_WRITE;
		return true;
	}
	if (stop_flag)
		return false;
	if (j->budget ? issued >= j->budget : now_ns() >= j->deadline_ns)
		return false;
	*len = o->bs[o->nr_bs > 1 ? rnd(&j->rng) % o->nr_bs : 0];
	switch (o->rw) {
	case RW_READ:
	case RW_WRITE:
		if (j->cursor + *len > j->start + j->len || j->cursor < j->start)
			j->cursor = j->start;
		*off = j->cursor;
		j->cursor += *len;
		*write = o->rw == RW_WRITE;
		return true;
	default:
		*off = j->start + (rnd(&j->rng) % (j->len / *len)) * *len;
		if (o->rw == RW_RANDRW)
			*write = rnd(&j->rng) % 100 >= o->rwmixread;
		else
			*write = o->rw == RW_RANDWRITE;
		return true;
	}
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	const struct bench_opts *o = j->o;
	unsigned int depth = o->iodepth, inflight = 0, i, nfree = depth;
	unsigned int *freeslots = calloc(depth, sizeof(unsigned int));
	struct bench_done *done = calloc(depth, sizeof(*done));
	struct slotinfo { uint64_t t0, off; uint32_t len; bool write; void *buf; } *si;
	uint64_t issued = 0;
	void *ctx = NULL;
	bool more = true, ring_full = false;
	int ret;

	si = calloc(depth, sizeof(*si));
	ret = (!freeslots || !done || !si) ? -ENOMEM :
		j->e->ops->job_init(j->e, j->idx, depth, o->max_bs, &ctx);
	pthread_barrier_wait(j->bar);
	j->deadline_ns = now_ns() + (uint64_t)(o->runtime * 1e9);
	if (ret) {
		j->err = ret;
		snprintf(j->msg, sizeof(j->msg), "job %u: setup failed: %s", j->idx,
			 strerror(-ret));
		goto out;
	}
	for (i = 0; i < depth; i++)
		freeslots[i] = depth - 1 - i;

	while (more || inflight) {
		unsigned int want;
		int n;

		while (more && nfree) {
			unsigned int s = freeslots[nfree - 1];
			struct slotinfo *x = &si[s];

			if (!next_io(j, &x->write, &x->off, &x->len, issued)) {
				more = false;
				break;
			}
			x->buf = j->e->ops->slot_buf(ctx, s);
			if (!x->buf) {
				ret = -EBUSY;
				goto fail;
			}
			if (x->write && j->phase != PH_RUN)
				bench_pattern_fill(x->buf, x->off, x->len, o->seed);
			x->t0 = now_ns();
			ret = j->e->ops->submit(ctx, s, x->write, x->off, x->len);
			if (ret == -ENOSPC) {
				/* The request ring has no free slot although a
				 * tag is free (the backend answered before it
				 * released the request): retry this IO later. */
				j->has_stash = true;
				j->stash_write = x->write;
				j->stash_off = x->off;
				j->stash_len = x->len;
				ring_full = true;
				break;
			}
			if (ret)
				goto fail;
			nfree--;
			inflight++;
			issued += x->len;
		}
		ret = j->e->ops->commit(ctx);
		if (ret)
			goto fail;
		if (!inflight) {
			if (!ring_full)
				break;
			ring_full = false;
			sched_yield();
			continue;
		}
		ring_full = false;
		/* Wait for half the queue (at least one) before refilling:
		 * requests and completions then travel in batches, which is
		 * what keeps doorbells rare at high depth. */
		want = o->reap_min ? o->reap_min : inflight / 2;
		if (want > inflight)
			want = inflight;
		if (!want || !more)
			want = 1;
		n = j->e->ops->reap(ctx, want, done, depth);
		if (n < 0) {
			ret = n;
			goto fail;
		}
		for (i = 0; i < (unsigned int)n; i++) {
			unsigned int s = done[i].slot;
			struct slotinfo *x;
			uint64_t t1 = now_ns();

			if (s >= depth) {
				ret = -EPROTO;
				goto fail;
			}
			x = &si[s];
			if (done[i].status) {
				j->err = done[i].status < 0 ? done[i].status : -EIO;
				snprintf(j->msg, sizeof(j->msg),
					 "%s of %u bytes at offset %" PRIu64 " failed: %s",
					 x->write ? "write" : "read", x->len, x->off,
					 done[i].status < 0 ? strerror(-done[i].status) :
					 done[i].status == PVIO_BLK_S_RANGE ? "beyond the device (RANGE)" :
					 done[i].status == PVIO_BLK_S_ROFS ? "read-only device (ROFS)" :
					 "backend error status");
				more = false;
			} else if (!x->write && j->phase == PH_VERIFY_READ &&
				   bench_pattern_check(x->buf, x->off, x->len, o->seed,
						       &j->bad_off)) {
				j->err = -EILSEQ;
				snprintf(j->msg, sizeof(j->msg),
					 "verify: data mismatch at offset %" PRIu64, j->bad_off);
				more = false;
			}
			j->h->n[hist_index(t1 - x->t0)]++;
			__atomic_fetch_add(&j->ios, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&j->bytes, x->len, __ATOMIC_RELAXED);
			freeslots[nfree++] = s;
			inflight--;
		}
		if (o->think_us && more && n > 0) {
			struct timespec ts = {
				.tv_sec = o->think_us / 1000000u,
				.tv_nsec = (long)(o->think_us % 1000000u) * 1000,
			};

			nanosleep(&ts, NULL);
		}
	}
	goto out_exit;

fail:
	j->err = ret;
	snprintf(j->msg, sizeof(j->msg), "job %u: IO failed: %s", j->idx,
		 strerror(-ret));
out_exit:
	j->e->ops->job_exit(ctx, &j->db_out, &j->db_in);
out:
	free(freeslots);
	free(done);
	free(si);
	return NULL;
}

/* ---- one run of one engine ---- */

struct result {
	uint64_t ios, bytes;
	double secs;
	struct hist h;
	double cpu_s;          /* this process, user + sys */
	double backend_cpu_s;  /* pvio-backd, when we started it */
	uint64_t db_out, db_in;
	int err;
};

static double rusage_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* User + system time of another process, from /proc/PID/stat. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *fp;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = 0;
	fclose(fp);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static bool use_progress(const struct bench_opts *o)
{
	return o->progress && !o->json && isatty(STDOUT_FILENO);
}

static int run_phase(struct bench_engine *e, const struct bench_opts *o,
		     enum phase ph, uint64_t rstart, uint64_t rlen,
		     struct result *res, pid_t backend, const char *label)
{
	struct job *jobs = calloc(o->jobs, sizeof(*jobs));
	pthread_t *th = calloc(o->jobs, sizeof(*th));
	pthread_barrier_t bar;
	uint64_t t0, t1, last_ios = 0, last_bytes = 0, slice;
	double c0, b0, last_t = 0;
	unsigned int i;
	int err = 0;

	if (!jobs || !th)
		return -ENOMEM;
	slice = rlen / o->jobs;
	slice -= slice % BENCH_GRANULE;
	pthread_barrier_init(&bar, NULL, o->jobs + 1);
	for (i = 0; i < o->jobs; i++) {
		struct job *j = &jobs[i];

		j->idx = i;
		j->e = e;
		j->o = o;
		j->phase = ph;
		j->bar = &bar;
		j->rng = splitmix(((uint64_t)o->seed << 20) + i + 1) | 1;
		j->h = calloc(1, sizeof(*j->h));
		if (!j->h)
			return -ENOMEM;
		if (ph != PH_RUN || o->rw == RW_READ || o->rw == RW_WRITE) {
			j->start = rstart + slice * i;
			j->len = i == o->jobs - 1 ? rstart + rlen - j->start : slice;
		} else {
			j->start = rstart;
			j->len = rlen;
		}
		j->cursor = j->start;
		if (ph != PH_RUN)
			build_extents(j, ph == PH_VERIFY_READ ? 0x5eedull : 0x1234ull);
		else if (!o->runtime)
			j->budget = (o->size ? o->size : rlen) / o->jobs;
		pthread_create(&th[i], NULL, job_main, j);
	}
	c0 = rusage_s();
	b0 = proc_cpu_s(backend);
	pthread_barrier_wait(&bar);
	t0 = now_ns();
	if (use_progress(o)) {
		for (;;) {
			struct timespec ts = { 0, 100000000 };
			uint64_t ios = 0, bytes = 0;
			bool alive = false;
			double t;

			nanosleep(&ts, NULL);
			for (i = 0; i < o->jobs; i++) {
				ios += __atomic_load_n(&jobs[i].ios, __ATOMIC_RELAXED);
				bytes += __atomic_load_n(&jobs[i].bytes, __ATOMIC_RELAXED);
				if (pthread_tryjoin_np(th[i], NULL) == EBUSY)
					alive = true;
				else
					th[i] = 0;
			}
			t = (now_ns() - t0) / 1e9;
			if (t - last_t >= 1.0) {
				printf("\r\033[K%s: %6.1f s  %9.0f IOPS  %9.1f MB/s",
				       label, t, (ios - last_ios) / (t - last_t),
				       (bytes - last_bytes) / (t - last_t) / 1e6);
				fflush(stdout);
				last_t = t;
				last_ios = ios;
				last_bytes = bytes;
			}
			if (!alive)
				break;
		}
		printf("\r\033[K");
		fflush(stdout);
	}
	for (i = 0; i < o->jobs; i++)
		if (th[i])
			pthread_join(th[i], NULL);
	t1 = now_ns();
	res->secs += (t1 - t0) / 1e9;
	res->cpu_s += rusage_s() - c0;
	res->backend_cpu_s += proc_cpu_s(backend) - b0;
	for (i = 0; i < o->jobs; i++) {
		struct job *j = &jobs[i];
		unsigned int k;

		res->ios += j->ios;
		res->bytes += j->bytes;
		res->db_out += j->db_out;
		res->db_in += j->db_in;
		for (k = 0; k < HIST_BUCKETS; k++)
			res->h.n[k] += j->h->n[k];
		if (j->err && !err) {
			err = j->err;
			fprintf(stderr, "pvio-bench: %s\n", j->msg);
		}
		free(j->h);
		free(j->ext);
	}
	pthread_barrier_destroy(&bar);
	free(jobs);
	free(th);
	if (err)
		res->err = err;
	return err;
}

/* ---- options ---- */

const char *const bench_rw_names[] = { "read", "write", "randread", "randwrite", "randrw" };

static void usage(FILE *out)
{
	fputs(
"NAME\n"
"    pvio-bench - measure the pvio userspace block path against io_uring\n"
"\n"
"SYNOPSIS\n"
"    pvio-bench --engine=pvio --socket SOCK [OPTIONS]\n"
"    pvio-bench --engine=native --file FILE [OPTIONS]\n"
"    pvio-bench --compare --file FILE [OPTIONS]\n"
"    pvio-bench [--compare] --sweep iodepth=LIST [--plot FILE.svg] [OPTIONS]\n"
"    pvio-bench --make-pattern OUT --filesize BYTES [--offset BYTES] [--seed N]\n"
"\n"
"DESCRIPTION\n"
"    Runs a fio-like workload through one of two engines:\n"
"      pvio    connects to a pvio block backend (pvio-backd) over its ivshmem\n"
"              socket with the frontend library; each job drives its own\n"
"              queue, with buffers in the shared data area (zero-copy).\n"
"      native  io_uring directly on FILE: O_DIRECT when the file system\n"
"              allows it, one ring per job, registered fixed buffers.\n"
"    Both engines use the same depth, sizes and completion batching: a job\n"
"    keeps --iodepth requests in flight, waits for half of them (or\n"
"    --reap-min), and refills the queue with one publish (pvio) or one\n"
"    submit (native).\n"
"\n"
"    --compare starts its own pvio-backd on FILE (the binary next to\n"
"    pvio-bench, or --backd), on a temporary socket, runs both engines back\n"
"    to back for --rounds rounds (pvio then native in every round) and\n"
"    prints one table.\n"
"\n"
"    --sweep runs the same job (one engine, or both with --compare) at each\n"
"    queue depth of a list, in the order given, and prints one row per\n"
"    depth: IOPS and p99 latency (with --compare for both engines and\n"
"    their ratio). --plot draws both curves with gnuplot.\n"
"\n"
"OPTIONS\n"
"    --rw=MODE         read, write (sequential), randread, randwrite, randrw\n"
"                      (default randread)\n"
"    --rwmixread=PCT   share of reads for randrw (default 50)\n"
"    --bs=SIZE[,SIZE]  IO size, with k/m suffixes (default 4k); a list picks\n"
"                      one at random for every IO\n"
"    --iodepth=N       requests in flight per job (default 1)\n"
"    --jobs=N          threads; each has its own pvio queue or io_uring.\n"
"                      For pvio N must not exceed the backend's queues\n"
"    --runtime=SEC     run for SEC seconds\n"
"    --size=BYTES      stop after BYTES in total (default: the region once)\n"
"    --offset=BYTES    start of the region used (default 0)\n"
"    --filesize=BYTES  length of the region (default: to the end)\n"
"    --verify          write the whole region once (random order, sizes from\n"
"                      --bs), each 4 KiB carrying a header with its offset,\n"
"                      the seed, a generation and a checksum of its content;\n"
"                      then read it all back in another random order and\n"
"                      check every 4 KiB. Any mismatch exits 1 with the offset\n"
"    --verify-only     only the read-back half of --verify\n"
"    --seed=N          pattern and offset seed (default 1)\n"
"    --make-pattern=OUT  write to OUT the exact bytes --verify writes to the\n"
"                      region (for an independent cmp against the file)\n"
"    --engine=pvio|native   (default pvio)\n"
"    --socket=SOCK     the backend's socket (pvio engine)\n"
"    --queues=N        the backend's queue count (default: found out)\n"
"    --file=FILE       the file or block device (native engine, --compare)\n"
"    --compare         both engines on FILE through a pvio-backd of our own\n"
"    --rounds=N        rounds for --compare (default 3)\n"
"    --backd=PATH      pvio-backd binary for --compare\n"
"    --backd-arg=ARG   one more argument for that pvio-backd (repeat the\n"
"                      option for several), e.g. --backd-arg=--poll\n"
"    --reap-min=N      completions a job waits for before it refills its\n"
"                      queue (both engines; default: half the requests in\n"
"                      flight, at least 1)\n"
"    --spin-us=N       before sleeping for completions, poll for up to N\n"
"                      microseconds (both engines alike; 0: sleep at once).\n"
"                      Trades CPU time for wake-up latency. Default: each\n"
"                      engine's own: native sleeps at once, pvio polls as\n"
"                      libpvio does by default (0 to 200 us, adapting to how\n"
"                      soon responses come; see pvio_front_set_poll)\n"
"    --thinktime-us=N  after each batch of completions, pause N microseconds\n"
"                      before refilling (both engines; default 0), like an\n"
"                      application that computes between IOs\n"
"    --sweep=iodepth=LIST\n"
"                      run the job at each depth of LIST, comma-separated\n"
"                      values in 1..1024, at most 32, none twice (e.g.\n"
"                      iodepth=1,2,4,8,16,32,64,128); replaces --iodepth.\n"
"                      Each depth runs --runtime (default 2 s) per engine,\n"
"                      --rounds times with --compare (one pvio-backd for the\n"
"                      whole sweep, deep enough for the largest depth)\n"
"    --plot=FILE       with --sweep: draw IOPS (left axis) and p99 latency\n"
"                      (right axis) against the depth (log2 axis) into FILE\n"
"                      with gnuplot, an SVG if FILE ends in .svg, a PNG if it\n"
"                      ends in .png. Needs gnuplot (Debian: gnuplot-nox)\n"
"    --json            one JSON object on stdout, nothing else; with --sweep\n"
"                      a JSON list of them, one per depth in sweep order\n"
"    --no-progress     no live line (it is shown only when stdout is a\n"
"                      terminal: elapsed time, IOPS and MB/s, every second)\n"
"    --help            this text\n"
"\n"
"OUTPUT\n"
"    IOPS and MB/s (10^6 bytes) over the measured time; latency per IO in\n"
"    microseconds from submission to completion (p50, p99, p99.9 from a\n"
"    histogram with 3% resolution); CPU per IO is the user + system time\n"
"    of this process divided by the IOs: it EXCLUDES the backend. With\n"
"    --compare the backend's own CPU time per IO (from /proc/PID/stat) is\n"
"    shown in a separate column. Doorbells per IO: for pvio, eventfd\n"
"    writes to the backend plus eventfd reads that found a doorbell; for\n"
"    native, io_uring_enter calls (submits and waits).\n"
"    --json fields: engine, rw, bs, iodepth, jobs, ios, bytes, seconds,\n"
"    iops, mbps, lat_p50_us, lat_p99_us, lat_p999_us, cpu_us_per_io,\n"
"    doorbells_out, doorbells_in, doorbells_per_io; with --compare:\n"
"    pvio_iops, native_iops, ratio (pvio/native IOPS), pvio_mbps,\n"
"    native_mbps, doorbells_per_io (pvio), backend_cpu_us_per_io,\n"
"    pvio_round_iops and native_round_iops (one value per round) and the\n"
"    two engines' totals as objects \"pvio\" and \"native\". Every top-level\n"
"    object also has \"machine\": cpu_model, cores, memory_mib, kernel\n"
"    (uname -r), os, qemu and accel (null and \"none\": no guest here),\n"
"    pvio_version, pvio_git (git describe of the build) and date_utc, so\n"
"    that results of two machines can be compared.\n"
"\n"
"EXIT STATUS\n"
"    0  success\n"
"    1  runtime error: backend not reachable, IO error, verify mismatch,\n"
"       gnuplot missing or failing\n"
"    2  usage error: unknown option or impossible value\n"
"\n"
"EXAMPLES\n"
"    pvio-backd --blk disk.img --socket /tmp/d.sock --queue-depth 64 &\n"
"    pvio-bench --socket /tmp/d.sock --rw=randread --bs=4k --iodepth=32 --runtime=10\n"
"    pvio-bench --compare --file disk.img --rw=read --bs=128k --iodepth=8 --runtime=5\n"
"    pvio-bench --socket /tmp/d.sock --verify --bs=4k,16k,64k,128k --iodepth=16\n"
"    pvio-bench --compare --file disk.img --sweep=iodepth=1,4,16,64,128 --rounds=1 \\\n"
"        --plot=sweep.svg\n",
	      out);
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "pvio-bench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'b' || *end == 'B')
		end++;
	if (*end)
		return false;
	*out = v;
	return true;
}

static bool parse_uint(const char *s, unsigned int lo, unsigned int hi,
		       unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = (unsigned int)v;
	return true;
}

/* ---- output ---- */

static const char *rw_label(const struct bench_opts *o)
{
	return o->verify ? "verify" : o->verify_only ? "verify-only" : bench_rw_names[o->rw];
}

static void print_json_run(FILE *f, const char *eng, const struct bench_opts *o,
			   const struct result *r, bool machine)
{
	double secs = r->secs > 0 ? r->secs : 1e-9;
	double ios = r->ios ? (double)r->ios : 1;

	fprintf(f, "{\"engine\":\"%s\",\"rw\":\"%s\",\"bs\":%u,\"iodepth\":%u,\"jobs\":%u,"
		"\"ios\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"seconds\":%.3f,"
		"\"iops\":%.1f,\"mbps\":%.2f,\"lat_p50_us\":%.2f,\"lat_p99_us\":%.2f,"
		"\"lat_p999_us\":%.2f,\"cpu_us_per_io\":%.3f,\"doorbells_out\":%" PRIu64
		",\"doorbells_in\":%" PRIu64 ",\"doorbells_per_io\":%.4f",
		eng, rw_label(o), o->bs[0], o->iodepth, o->jobs, r->ios, r->bytes,
		r->secs, r->ios / secs, r->bytes / secs / 1e6,
		hist_pct(&r->h, 50), hist_pct(&r->h, 99), hist_pct(&r->h, 99.9),
		r->cpu_s * 1e6 / ios, r->db_out, r->db_in,
		(double)(r->db_out + r->db_in) / ios);
	if (machine) {
		fputs(",\"machine\":", f);
		pvio_machine_json(f);
	}
	fputc('}', f);
}

static void print_text_run(const char *eng, const struct bench_opts *o,
			   const struct result *r)
{
	double secs = r->secs > 0 ? r->secs : 1e-9;
	double ios = r->ios ? (double)r->ios : 1;

	printf("%s: rw=%s bs=%u iodepth=%u jobs=%u: %" PRIu64 " IOs in %.2f s\n",
	       eng, rw_label(o), o->bs[0], o->iodepth, o->jobs, r->ios, r->secs);
	printf("  IOPS %.0f  MB/s %.1f\n", r->ios / secs, r->bytes / secs / 1e6);
	printf("  latency us: p50 %.1f  p99 %.1f  p99.9 %.1f\n", hist_pct(&r->h, 50),
	       hist_pct(&r->h, 99), hist_pct(&r->h, 99.9));
	printf("  CPU per IO %.2f us (this process only)  doorbells per IO %.3f (out %" PRIu64
	       ", in %" PRIu64 ")\n", r->cpu_s * 1e6 / ios,
	       (double)(r->db_out + r->db_in) / ios, r->db_out, r->db_in);
}

/* ---- region and runs ---- */

static int region_of(const struct bench_opts *o, uint64_t dev, uint64_t *start,
		     uint64_t *len)
{
	*start = o->offset;
	*len = o->filesize ? o->filesize : (dev > o->offset ? dev - o->offset : 0);
	*len -= *len % BENCH_GRANULE;
	if (o->offset % BENCH_GRANULE || o->offset + *len > dev || *len < o->max_bs) {
		fprintf(stderr, "pvio-bench: region [%" PRIu64 ", +%" PRIu64
			") does not fit the device of %" PRIu64 " bytes or is smaller than --bs\n",
			o->offset, *len, dev);
		return -EINVAL;
	}
	if ((o->verify || o->verify_only || o->rw == RW_READ || o->rw == RW_WRITE) &&
	    *len / o->jobs < o->max_bs) {
		fprintf(stderr, "pvio-bench: the region is too small for %u jobs\n", o->jobs);
		return -EINVAL;
	}
	return 0;
}

static int run_engine(const struct bench_opts *o, enum bench_engine_kind kind,
		      const char *socket, struct result *res, pid_t backend)
{
	const char *label = kind == ENG_PVIO ? "pvio" : "native";
	struct bench_engine e;
	uint64_t start, len;
	int ret;

	ret = bench_engine_open(&e, o, kind, socket);
	if (ret)
		return ret;
	ret = region_of(o, e.dev_size, &start, &len);
	if (ret) {
		bench_engine_close(&e);
		return -EINVAL;
	}
	if (o->verify) {
		ret = run_phase(&e, o, PH_VERIFY_WRITE, start, len, res, backend, label);
		if (!ret)
			ret = run_phase(&e, o, PH_VERIFY_READ, start, len, res, backend, label);
	} else if (o->verify_only) {
		ret = run_phase(&e, o, PH_VERIFY_READ, start, len, res, backend, label);
	} else {
		ret = run_phase(&e, o, PH_RUN, start, len, res, backend, label);
	}
	bench_engine_close(&e);
	return ret;
}

static int make_pattern(const struct bench_opts *o, const char *out)
{
	static unsigned char buf[1 << 20];
	uint64_t pos;
	int fd;

	if (!o->filesize || o->filesize % BENCH_GRANULE || o->offset % BENCH_GRANULE)
		return bad("--make-pattern needs --filesize (and --offset) in multiples of 4096%s", "");
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "pvio-bench: %s: %s\n", out, strerror(errno));
		return 1;
	}
	for (pos = 0; pos < o->filesize; pos += sizeof(buf)) {
		uint32_t n = o->filesize - pos < sizeof(buf) ? (uint32_t)(o->filesize - pos)
							     : (uint32_t)sizeof(buf);

		bench_pattern_fill(buf, o->offset + pos, n, o->seed);
		if (pwrite(fd, buf, n, (off_t)(o->offset + pos)) != (ssize_t)n) {
			fprintf(stderr, "pvio-bench: %s: write failed\n", out);
			close(fd);
			return 1;
		}
	}
	close(fd);
	return 0;
}

/* ---- --compare: our own backend ---- */

/**
 * bench_backd_start() - start a pvio-backd of our own on --file.
 * @o: the options (file, jobs as queues, iodepth for the queue depth,
 *     --backd, --backd-arg)
 * @b: filled with its pid, socket and log
 *
 * Context: process context; waits up to 15 s for "pvio-backd: ready".
 * Return: 0, or a negative errno with a message on stderr; call
 * bench_backd_stop() in both cases.
 */
int bench_backd_start(const struct bench_opts *o, struct bench_backd *b)
{
	char self[PATH_MAX], path[PATH_MAX + 16], qs[16], ds[16], line[512];
	uint64_t deadline;
	ssize_t n;
	int fd;

	if (o->backd) {
		snprintf(path, sizeof(path), "%s", o->backd);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return -errno;
		self[n] = 0;
		*strrchr(self, '/') = 0;
		snprintf(path, sizeof(path), "%s/pvio-backd", self);
	}
	if (access(path, X_OK)) {
		fprintf(stderr, "pvio-bench: backend %s not found (build it, or pass --backd)\n", path);
		return -ENOENT;
	}
	snprintf(b->sock, sizeof(b->sock), "/tmp/pvio-bench.%d.sock", (int)getpid());
	snprintf(b->log, sizeof(b->log), "/tmp/pvio-bench.%d.backd.log", (int)getpid());
	snprintf(qs, sizeof(qs), "%u", o->jobs);
	snprintf(ds, sizeof(ds), "%u", o->iodepth > 64 ? o->iodepth : 64);
	unlink(b->sock);
	fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	b->pid = fork();
	if (b->pid < 0) {
		close(fd);
		return -errno;
	}
	if (b->pid == 0) {
		dup2(fd, 2);
		dup2(fd, 1);
		const char *av[24] = { path, "--blk", o->file, "--queues", qs,
				       "--queue-depth", ds, "--socket", b->sock };
		unsigned int k;

		for (k = 0; k < o->nr_backd_args; k++)
			av[9 + k] = o->backd_args[k];
		execv(path, (char *const *)av);
		_exit(127);
	}
	close(fd);
	deadline = now_ns() + 15000000000ull;
	while (now_ns() < deadline) {
		FILE *f = fopen(b->log, "r");
		bool ready = false;
		int st;

		if (f) {
			while (fgets(line, sizeof(line), f))
				if (strstr(line, "pvio-backd: ready"))
					ready = true;
			fclose(f);
		}
		if (ready)
			return 0;
		if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
			fprintf(stderr, "pvio-bench: pvio-backd exited before it was ready; its log:\n");
			f = fopen(b->log, "r");
			while (f && fgets(line, sizeof(line), f))
				fprintf(stderr, "  %s", line);
			if (f)
				fclose(f);
			b->pid = 0;
			return -ECHILD;
		}
		usleep(10000);
	}
	fprintf(stderr, "pvio-bench: pvio-backd did not print \"pvio-backd: ready\" in 15 s (log %s)\n",
		b->log);
	return -ETIMEDOUT;
}

/**
 * bench_backd_stop() - stop what bench_backd_start() started, remove its files.
 * @b: as bench_backd_start() left it (zeroed: nothing to stop)
 *
 * Context: process context; waits up to 10 s, then kills.
 */
void bench_backd_stop(struct bench_backd *b)
{
	int st, i;

	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		for (i = 0; i < 1000; i++) {
			if (waitpid(b->pid, &st, WNOHANG) == b->pid)
				break;
			usleep(10000);
		}
		if (i == 1000) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &st, 0);
		}
	}
	unlink(b->sock);
	unlink(b->log);
}

static void compare_print(const struct bench_opts *o, const struct result *rp,
			  const struct result *rn, double round_iops[2][100])
{
	double pi = rp->ios / rp->secs, ni = rn->ios / rn->secs;
	double pm = rp->bytes / rp->secs / 1e6, nm = rn->bytes / rn->secs / 1e6;
	double pio = rp->ios ? (double)rp->ios : 1, nio = rn->ios ? (double)rn->ios : 1;
	unsigned int r, e;

	if (o->json) {
		printf("{\"rounds\":%u,\"pvio_iops\":%.1f,\"native_iops\":%.1f,\"ratio\":%.4f,"
		       "\"pvio_mbps\":%.2f,\"native_mbps\":%.2f,\"doorbells_per_io\":%.4f,"
		       "\"backend_cpu_us_per_io\":%.3f,\"pvio\":",
		       o->rounds, pi, ni, ni > 0 ? pi / ni : 0, pm, nm,
		       (double)(rp->db_out + rp->db_in) / pio,
		       rp->backend_cpu_s * 1e6 / pio);
		print_json_run(stdout, "pvio", o, rp, false);
		printf(",\"native\":");
		print_json_run(stdout, "native", o, rn, false);
		for (e = 0; e < 2; e++) {
			printf(",\"%s_round_iops\":[", e ? "native" : "pvio");
			for (r = 0; r < o->rounds; r++)
				printf("%s%.1f", r ? "," : "", round_iops[e][r]);
			printf("]");
		}
		printf(",\"machine\":");
		pvio_machine_json(stdout);
		printf("}\n");
		return;
	}
	printf("rw=%s bs=%u iodepth=%u jobs=%u, %u rounds of %.1f s each engine, file %s\n",
	       bench_rw_names[o->rw], o->bs[0], o->iodepth, o->jobs, o->rounds,
	       o->runtime, o->file);
	printf("%-7s %10s %9s %9s %9s %9s %10s %10s %10s\n", "engine", "IOPS",
	       "MB/s", "p50 us", "p99 us", "p99.9 us", "CPU us/IO",
	       "backd us/IO", "doorb/IO");
	printf("%-7s %10.0f %9.1f %9.1f %9.1f %9.1f %10.2f %10.2f %10.3f\n",
	       "pvio", pi, pm, hist_pct(&rp->h, 50), hist_pct(&rp->h, 99),
	       hist_pct(&rp->h, 99.9), rp->cpu_s * 1e6 / pio,
	       rp->backend_cpu_s * 1e6 / pio,
	       (double)(rp->db_out + rp->db_in) / pio);
	printf("%-7s %10.0f %9.1f %9.1f %9.1f %9.1f %10.2f %10s %10.3f\n",
	       "native", ni, nm, hist_pct(&rn->h, 50), hist_pct(&rn->h, 99),
	       hist_pct(&rn->h, 99.9), rn->cpu_s * 1e6 / nio, "-",
	       (double)(rn->db_out + rn->db_in) / nio);
	printf("pvio/native: IOPS %.3f  MB/s %.3f  p50 %+.1f us\n",
	       ni > 0 ? pi / ni : 0, nm > 0 ? pm / nm : 0,
	       hist_pct(&rp->h, 50) - hist_pct(&rn->h, 50));
	for (e = 0; e < 2; e++) {
		printf("%s IOPS per round:", e ? "native" : "pvio");
		for (r = 0; r < o->rounds; r++)
			printf(" %.0f", round_iops[e][r]);
		printf("\n");
	}
	printf("(CPU us/IO: this process only; backd us/IO: pvio-backd's user+sys time per IO)\n");
}

/* Both engines back to back, --rounds times, pvio first in every round. */
static int compare_measure(const struct bench_opts *o, const struct bench_backd *b,
			   struct result *rp, struct result *rn, double round_iops[2][100])
{
	unsigned int r;
	int ret = 0;

	for (r = 0; r < o->rounds && !stop_flag; r++) {
		uint64_t pios = rp->ios, nios = rn->ios;
		double psecs = rp->secs, nsecs = rn->secs;

		ret = run_engine(o, ENG_PVIO, b->sock, rp, b->pid);
		if (!ret)
			ret = run_engine(o, ENG_NATIVE, NULL, rn, 0);
		if (ret)
			break;
		/* Per-round figures show how noisy the machine was. */
		if (r < 100) {
			round_iops[0][r] = (rp->ios - pios) / (rp->secs - psecs);
			round_iops[1][r] = (rn->ios - nios) / (rn->secs - nsecs);
		}
	}
	if (ret)
		return ret == -E2BIG || ret == -EINVAL ? 2 : 1;
	return 0;
}

static void point_of(const struct result *r, unsigned int e, struct bench_point *pt)
{
	pt->iops[e] = r->secs > 0 ? r->ios / r->secs : 0;
	pt->p99_us[e] = hist_pct(&r->h, 99);
}

/**
 * bench_measure() - one measurement at the depth and job @o describes.
 * @o: the options; with --compare both engines for --rounds rounds
 * @b: the backend of --compare (bench_backd_start()); NULL otherwise
 * @pt: if not NULL, filled with IOPS and p99 of each engine
 * @text: print the text report (else nothing but --json's object)
 *
 * With --json prints the run's JSON object to stdout, on one line.
 *
 * Context: process context; runs the jobs' threads.
 * Return: 0, 1 on a runtime error (IO error, verify mismatch, backend
 * gone), 2 when the job does not fit the device or the backend.
 */
int bench_measure(const struct bench_opts *o, const struct bench_backd *b,
		  struct bench_point *pt, bool text)
{
	const char *eng = o->engine == ENG_PVIO ? "pvio" : "native";
	struct result *r1 = calloc(1, sizeof(*r1)), *r2 = calloc(1, sizeof(*r2));
	double round_iops[2][100];
	int ret;

	if (!r1 || !r2) {
		ret = 1;
		goto out_free;
	}
	if (o->compare) {
		ret = compare_measure(o, b, r1, r2, round_iops);
		if (ret)
			goto out_free;
		if (pt) {
			point_of(r1, 0, pt);
			point_of(r2, 1, pt);
		}
		if (o->json || text)
			compare_print(o, r1, r2, round_iops);
		goto out_free;
	}
	ret = run_engine(o, o->engine, o->socket, r1, 0);
	if (ret == -E2BIG || ret == -EINVAL) {
		ret = 2;
		goto out_free;
	}
	if (ret && !r1->secs) { /* nothing ran: the message says why */
		ret = 1;
		goto out_free;
	}
	if (pt)
		point_of(r1, 0, pt);
	if (o->json) {
		print_json_run(stdout, eng, o, r1, true);
		printf("\n");
	} else if (text) {
		print_text_run(eng, o, r1);
		if (o->verify || o->verify_only)
			printf("verify: %s\n", ret ? "FAILED" : "ok");
	}
	ret = ret ? 1 : 0;
out_free:
	free(r1);
	free(r2);
	return ret;
}

static int do_compare(struct bench_opts *o)
{
	struct bench_backd b = { 0 };
	int ret;

	if (!o->runtime && !o->size)
		o->runtime = 5;
	ret = bench_backd_start(o, &b);
	if (!ret)
		ret = bench_measure(o, &b, NULL, true);
	bench_backd_stop(&b);
	return ret < 0 ? 1 : ret;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	enum { O_RW = 256, O_MIX, O_BS, O_DEPTH, O_JOBS, O_RUNTIME, O_SIZE,
	       O_OFFSET, O_FILESIZE, O_VERIFY, O_VONLY, O_SEED, O_JSON, O_ENGINE,
	       O_SOCKET, O_FILE, O_QUEUES, O_COMPARE, O_ROUNDS, O_BACKD, O_NOPROG,
	       O_HELP, O_MKPAT, O_SPIN, O_BACKD_ARG, O_REAPMIN, O_THINK, O_SWEEP,
	       O_PLOT };
	static const struct option lo[] = {
		{ "rw", required_argument, NULL, O_RW },
		{ "rwmixread", required_argument, NULL, O_MIX },
		{ "bs", required_argument, NULL, O_BS },
		{ "iodepth", required_argument, NULL, O_DEPTH },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "numjobs", required_argument, NULL, O_JOBS },
		{ "runtime", required_argument, NULL, O_RUNTIME },
		{ "size", required_argument, NULL, O_SIZE },
		{ "offset", required_argument, NULL, O_OFFSET },
		{ "filesize", required_argument, NULL, O_FILESIZE },
		{ "verify", no_argument, NULL, O_VERIFY },
		{ "verify-only", no_argument, NULL, O_VONLY },
		{ "seed", required_argument, NULL, O_SEED },
		{ "json", no_argument, NULL, O_JSON },
		{ "engine", required_argument, NULL, O_ENGINE },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "file", required_argument, NULL, O_FILE },
		{ "queues", required_argument, NULL, O_QUEUES },
		{ "compare", no_argument, NULL, O_COMPARE },
		{ "rounds", required_argument, NULL, O_ROUNDS },
		{ "backd", required_argument, NULL, O_BACKD },
		{ "no-progress", no_argument, NULL, O_NOPROG },
		{ "make-pattern", required_argument, NULL, O_MKPAT },
		{ "spin-us", required_argument, NULL, O_SPIN },
		{ "thinktime-us", required_argument, NULL, O_THINK },
		{ "reap-min", required_argument, NULL, O_REAPMIN },
		{ "backd-arg", required_argument, NULL, O_BACKD_ARG },
		{ "sweep", required_argument, NULL, O_SWEEP },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_opts o = {
		.rw = RW_RANDREAD, .rwmixread = 50, .bs = { 4096 }, .nr_bs = 1,
		.iodepth = 1, .jobs = 1, .seed = 1, .rounds = 3, .progress = true,
	};
	const char *mkpat = NULL, *plot = NULL;
	struct bench_sweep sw, *sweep = NULL;
	bool depth_set = false;
	unsigned int i;
	uint64_t v;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case O_RW:
			for (i = 0; i < 5; i++)
				if (!strcmp(optarg, bench_rw_names[i]))
					break;
			if (i == 5)
				return bad("--rw: unknown mode '%s'", optarg);
			o.rw = (enum bench_rw)i;
			break;
		case O_MIX:
			if (!parse_uint(optarg, 0, 100, &o.rwmixread))
				return bad("--rwmixread: '%s' is not 0..100", optarg);
			break;
		case O_BS: {
			char *s = strdup(optarg), *tok, *save = NULL;

			o.nr_bs = 0;
			for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				if (o.nr_bs == BENCH_MAX_BS || !parse_size(tok, &v) || !v ||
				    v % 512 || v > (1u << 24)) {
					free(s);
					return bad("--bs: '%s' is not a list of sizes (multiples of 512, up to 16m)", optarg);
				}
				o.bs[o.nr_bs++] = (uint32_t)v;
			}
			free(s);
			if (!o.nr_bs)
				return bad("--bs: empty%s", "");
			break;
		}
		case O_DEPTH:
			depth_set = true;
			if (!parse_uint(optarg, 1, BENCH_MAX_DEPTH, &o.iodepth))
				return bad("--iodepth: '%s' is not 1..1024", optarg);
			break;
		case O_JOBS:
			if (!parse_uint(optarg, 1, BENCH_MAX_JOBS, &o.jobs))
				return bad("--jobs: '%s' is not 1..32", optarg);
			break;
		case O_RUNTIME: {
			char *end;

			o.runtime = strtod(optarg, &end);
			if (*end || end == optarg || !(o.runtime > 0) || o.runtime > 1e6)
				return bad("--runtime: '%s' is not a positive number of seconds", optarg);
			break;
		}
		case O_SIZE:
			if (!parse_size(optarg, &o.size) || !o.size)
				return bad("--size: '%s' is not a size", optarg);
			break;
		case O_OFFSET:
			if (!parse_size(optarg, &o.offset))
				return bad("--offset: '%s' is not a size", optarg);
			break;
		case O_FILESIZE:
			if (!parse_size(optarg, &o.filesize) || !o.filesize)
				return bad("--filesize: '%s' is not a size", optarg);
			break;
		case O_VERIFY: o.verify = true; break;
		case O_VONLY: o.verify_only = true; break;
		case O_SEED:
			if (!parse_uint(optarg, 0, UINT_MAX, &o.seed))
				return bad("--seed: '%s' is not a number", optarg);
			break;
		case O_JSON: o.json = true; break;
		case O_ENGINE:
			if (!strcmp(optarg, "pvio"))
				o.engine = ENG_PVIO;
			else if (!strcmp(optarg, "native"))
				o.engine = ENG_NATIVE;
			else
				return bad("--engine: '%s' is not pvio or native", optarg);
			break;
		case O_SOCKET: o.socket = optarg; break;
		case O_FILE: o.file = optarg; break;
		case O_QUEUES:
			if (!parse_uint(optarg, 1, 32, &o.queues))
				return bad("--queues: '%s' is not 1..32", optarg);
			break;
		case O_COMPARE: o.compare = true; break;
		case O_ROUNDS:
			if (!parse_uint(optarg, 1, 100, &o.rounds))
				return bad("--rounds: '%s' is not 1..100", optarg);
			break;
		case O_BACKD: o.backd = optarg; break;
		case O_BACKD_ARG:
			if (o.nr_backd_args == 8)
				return bad("--backd-arg: at most 8%s", "");
			o.backd_args[o.nr_backd_args++] = optarg;
			break;
		case O_NOPROG: o.progress = false; break;
		case O_MKPAT: mkpat = optarg; break;
		case O_REAPMIN:
			if (!parse_uint(optarg, 1, BENCH_MAX_DEPTH, &o.reap_min))
				return bad("--reap-min: '%s' is not 1..1024", optarg);
			break;
		case O_SPIN:
			if (!parse_uint(optarg, 0, 1000000, &o.spin_us))
				return bad("--spin-us: '%s' is not 0..1000000", optarg);
			o.spin_set = true;
			break;
		case O_THINK:
			if (!parse_uint(optarg, 0, 1000000, &o.think_us))
				return bad("--thinktime-us: '%s' is not 0..1000000", optarg);
			break;
		case O_SWEEP:
			if (bench_sweep_parse(optarg, &sw))
				return bad("--sweep: '%s' is not iodepth=N[,N...] (N in 1..1024, none twice, at most 32)",
					   optarg);
			sweep = &sw;
			break;
		case O_PLOT:
			if (!*optarg)
				return bad("--plot: empty file name%s", "");
			plot = optarg;
			break;
		case O_HELP:
			usage(stdout);
			return 0;
		default:
			if (optopt)
				fprintf(stderr, "pvio-bench: option needs a value or takes none: %s\n",
					argv[optind - 1]);
			else
				fprintf(stderr, "pvio-bench: unknown option %s\n", argv[optind - 1]);
			fprintf(stderr, "pvio-bench: see --help\n");
			return 2;
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	for (i = 0; i < o.nr_bs; i++)
		if (o.bs[i] > o.max_bs)
			o.max_bs = o.bs[i];
	if (mkpat)
		return make_pattern(&o, mkpat);
	if (plot && !sweep)
		return bad("--plot needs --sweep%s", "");
	if (sweep && depth_set)
		return bad("--sweep sets the depth: drop --iodepth%s", "");
	if (sweep && (o.verify || o.verify_only))
		return bad("--sweep measures; it does not combine with --verify%s", "");
	if ((o.verify || o.verify_only)) {
		if (o.verify && o.verify_only)
			return bad("--verify and --verify-only exclude each other%s", "");
		for (i = 0; i < o.nr_bs; i++)
			if (o.bs[i] % BENCH_GRANULE)
				return bad("--verify needs --bs multiples of 4k%s", "");
		if (o.compare)
			return bad("--verify does not combine with --compare%s", "");
	}
	if (o.compare) {
		if (!o.file)
			return bad("--compare needs --file%s", "");
		if (o.socket)
			return bad("--compare starts its own backend: drop --socket%s", "");
	} else if (o.engine == ENG_PVIO && !o.socket) {
		return bad("the pvio engine needs --socket%s", "");
	} else if (o.engine == ENG_NATIVE && !o.file) {
		return bad("the native engine needs --file%s", "");
	}
	if (o.file && access(o.file, R_OK)) {
		fprintf(stderr, "pvio-bench: %s: %s\n", o.file, strerror(errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	if (sweep)
		return bench_sweep(&o, sweep, plot);
	if (o.compare)
		return do_compare(&o);
	return bench_measure(&o, NULL, NULL, true);
}
