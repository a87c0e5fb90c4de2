/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench internals: the job loop (bench.c) drives one engine instance
 * per job thread through struct bench_engine (engines.c); --sweep
 * (sweep.c) repeats the job over queue depths and plots the results.
 */
#ifndef PVIO_BENCH_H
#define PVIO_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_MAX_BS 16
#define BENCH_MAX_JOBS 32
#define BENCH_MAX_DEPTH 1024
#define BENCH_GRANULE 4096u

enum bench_rw { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE, RW_RANDRW };
enum bench_engine_kind { ENG_PVIO, ENG_NATIVE };

/* --rw's names, indexed by enum bench_rw (bench.c). */
extern const char *const bench_rw_names[];

struct bench_opts {
	enum bench_rw rw;
	unsigned int rwmixread;
	uint32_t bs[BENCH_MAX_BS];
	unsigned int nr_bs;
	uint32_t max_bs;
	unsigned int iodepth;
	unsigned int jobs;
	double runtime;        /* seconds, 0: size-bound */
	uint64_t size;         /* bytes in total, 0: the region */
	uint64_t offset;       /* region start */
	uint64_t filesize;     /* region length, 0: to the end */
	bool verify, verify_only;
	uint32_t seed;
	bool json;
	enum bench_engine_kind engine;
	const char *socket;
	const char *file;
	unsigned int queues;   /* the backend's queues, 0: find out */
	bool compare;
	unsigned int rounds;
	const char *backd;     /* pvio-backd path for --compare */
	const char *backd_args[8]; /* extra pvio-backd arguments (--backd-arg) */
	unsigned int nr_backd_args;
	bool progress;
	unsigned int spin_us;  /* poll for completions this long before sleeping */
	bool spin_set;         /* --spin-us given: else each engine's default */
	unsigned int reap_min; /* completions to wait for, 0: half the queue */
	unsigned int think_us; /* pause before each refill */
};

/* One IO slot's completion as the job loop sees it. */
struct bench_done {
	unsigned int slot;
	int status; /* 0 ok; > 0 PVIO_BLK_S_*; < 0 -errno */
};

struct bench_engine;

struct bench_engine_ops {
	/* Per-job setup on the job's thread: queue @job, depth, largest IO. */
	int (*job_init)(struct bench_engine *e, unsigned int job,
			unsigned int depth, uint32_t max_bs, void **ctx);
	void *(*slot_buf)(void *ctx, unsigned int slot);
	int (*submit)(void *ctx, unsigned int slot, bool write, uint64_t off,
		      uint32_t len);
	int (*commit)(void *ctx);
	/* Wait for at least @min completions (0: do not wait). */
	int (*reap)(void *ctx, unsigned int min, struct bench_done *out,
		    unsigned int max);
	void (*job_exit)(void *ctx, uint64_t *doorbells_out, uint64_t *doorbells_in);
};

struct bench_engine {
	const struct bench_engine_ops *ops;
	const struct bench_opts *o;
	uint64_t dev_size;     /* bytes */
	void *priv;
};

int bench_engine_open(struct bench_engine *e, const struct bench_opts *o,
		      enum bench_engine_kind kind, const char *socket);
void bench_engine_close(struct bench_engine *e);

/* --compare's own pvio-backd (bench.c). */
struct bench_backd {
	pid_t pid;
	char sock[64];
	char log[64];
};

int bench_backd_start(const struct bench_opts *o, struct bench_backd *b);
void bench_backd_stop(struct bench_backd *b);

/* One measured point: [0] the engine (pvio with --compare), [1] native. */
struct bench_point {
	double iops[2];
	double p99_us[2];
};

int bench_measure(const struct bench_opts *o, const struct bench_backd *b,
		  struct bench_point *pt, bool text);

/* --sweep (sweep.c): the queue depths to run the job at, in order. */
#define BENCH_SWEEP_MAX 32

struct bench_sweep {
	unsigned int depth[BENCH_SWEEP_MAX];
	unsigned int n;
};

int bench_sweep_parse(const char *arg, struct bench_sweep *sw);
int bench_sweep(struct bench_opts *o, const struct bench_sweep *sw,
		const char *plot);

/* The verification pattern (bench.c). */
void bench_pattern_fill(void *buf, uint64_t off, uint32_t len, uint32_t seed);
int bench_pattern_check(const void *buf, uint64_t off, uint32_t len,
			uint32_t seed, uint64_t *bad_off);

#endif /* PVIO_BENCH_H */
