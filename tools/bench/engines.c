// SPDX-License-Identifier: MIT
/*
 * pvio-bench engines: "pvio" (one frontend queue per job, zero-copy buffers
 * in the data area) and "native" (one io_uring per job on the file itself,
 * O_DIRECT when the file system allows it, registered fixed buffers).
 * Both get the same depth, the same IO sizes and the same waiting policy
 * from the job loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "libpvio/pvio_front.h"
#include "uring_setup.h"

/* ---- pvio ---- */

struct pv_ctx {
	struct pvio_front_queue *q;
	int *slot_tag;
	unsigned int depth;
	struct pvio_front_cqe *cqes;
};

static int pv_job_init(struct bench_engine *e, unsigned int job,
		       unsigned int depth, uint32_t max_bs, void **out)
{
	struct pvio_front *f = e->priv;
	struct pv_ctx *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->q = pvio_front_queue(f, job);
	if (!c->q || max_bs > pvio_front_buf_size(c->q)) {
		free(c);
		return -EINVAL;
	}
	c->depth = depth;
	if (e->o->spin_set)
		pvio_front_set_spin(c->q, e->o->spin_us);
	c->slot_tag = calloc(depth, sizeof(int));
	c->cqes = calloc(depth, sizeof(*c->cqes));
	if (!c->slot_tag || !c->cqes) {
		free(c->slot_tag);
		free(c->cqes);
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

static void *pv_slot_buf(void *ctx, unsigned int slot)
{
	struct pv_ctx *c = ctx;
	int tag = pvio_front_tag_get(c->q);

	if (tag < 0)
		return NULL;
	c->slot_tag[slot] = tag;
	return pvio_front_tag_buf(c->q, tag);
}

static int pv_submit(void *ctx, unsigned int slot, bool write, uint64_t off,
		     uint32_t len)
{
	struct pv_ctx *c = ctx;
	struct pvio_front_req r = {
		.op = write ? PVIO_BLK_OP_WRITE : PVIO_BLK_OP_READ,
		.sector = off / PVIO_BLK_SECTOR_SIZE,
		.len = len,
		.user_data = slot,
	};
	int ret = pvio_front_submit(c->q, c->slot_tag[slot], &r);

	if (ret < 0) {
		pvio_front_tag_put(c->q, c->slot_tag[slot]);
		return ret;
	}
	return 0;
}

static int pv_commit(void *ctx)
{
	struct pv_ctx *c = ctx;
	int ret = pvio_front_publish(c->q);

	return ret < 0 ? ret : 0;
}

static int pv_reap(void *ctx, unsigned int min, struct bench_done *out,
		   unsigned int max)
{
	struct pv_ctx *c = ctx;
	int n, i, ret;

	if (max > c->depth)
		max = c->depth;
	n = pvio_front_reap(c->q, c->cqes, max);
	if (n == 0 && min) {
		ret = pvio_front_wait(c->q, min, 10000);
		if (ret == 0)
			return -ETIMEDOUT;
		if (ret < 0 && ret != -EPROTO)
			return ret;
		n = pvio_front_reap(c->q, c->cqes, max);
	}
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		out[i].slot = (unsigned int)c->cqes[i].user_data;
		out[i].status = c->cqes[i].status;
	}
	return n;
}

static void pv_job_exit(void *ctx, uint64_t *db_out, uint64_t *db_in)
{
	struct pv_ctx *c = ctx;
	struct pvio_front_stats st;

	pvio_front_stats(c->q, &st);
	*db_out = st.doorbells_out;
	*db_in = st.doorbells_in;
	free(c->slot_tag);
	free(c->cqes);
	free(c);
}

static const struct bench_engine_ops pv_ops = {
	.job_init = pv_job_init,
	.slot_buf = pv_slot_buf,
	.submit = pv_submit,
	.commit = pv_commit,
	.reap = pv_reap,
	.job_exit = pv_job_exit,
};

/* ---- native io_uring ---- */

struct nat_priv {
	int fd;
};

struct nat_ctx {
	struct io_uring ring;
	int fd;
	bool fixed;
	unsigned char *bufs;
	uint32_t bs;
	unsigned int depth;
	unsigned int pending; /* prepared, not yet submitted */
	uint64_t enters;      /* io_uring_enter calls: the native "doorbells" */
	uint64_t spin_ns;
};

static uint64_t nat_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int nat_job_init(struct bench_engine *e, unsigned int job,
			unsigned int depth, uint32_t max_bs, void **out)
{
	struct nat_priv *p = e->priv;
	struct iovec *iov;
	struct nat_ctx *c;
	unsigned int i;
	bool deferred;
	int ret;

	(void)job;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = p->fd;
	c->depth = depth;
	c->spin_ns = (uint64_t)e->o->spin_us * 1000;
	c->bs = max_bs;
	/* The set-up pvio-backd uses for its queues: this job's thread is the
	 * only one to touch the ring. Created here and used only by the job's
	 * thread after that, so it needs no enabling from there. */
	ret = pvio_uring_init(&c->ring, depth, 0, false, &deferred);
	if (ret < 0) {
		free(c);
		return ret;
	}
	if (posix_memalign((void **)&c->bufs, 4096, (size_t)depth * max_bs)) {
		io_uring_queue_exit(&c->ring);
		free(c);
		return -ENOMEM;
	}
	memset(c->bufs, 0, (size_t)depth * max_bs);
	iov = calloc(depth, sizeof(*iov));
	if (iov) {
		for (i = 0; i < depth; i++) {
			iov[i].iov_base = c->bufs + (size_t)i * max_bs;
			iov[i].iov_len = max_bs;
		}
		/* Fixed buffers when the memlock limit allows, else plain. */
		c->fixed = io_uring_register_buffers(&c->ring, iov, depth) == 0;
		free(iov);
	}
	*out = c;
	return 0;
}

static void *nat_slot_buf(void *ctx, unsigned int slot)
{
	struct nat_ctx *c = ctx;

	return c->bufs + (size_t)slot * c->bs;
}

static int nat_submit(void *ctx, unsigned int slot, bool write, uint64_t off,
		      uint32_t len)
{
	struct nat_ctx *c = ctx;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	void *buf = nat_slot_buf(c, slot);

	if (!sqe)
		return -ENOSPC;
	if (c->fixed && write)
		io_uring_prep_write_fixed(sqe, c->fd, buf, len, off, (int)slot);
	else if (c->fixed)
		io_uring_prep_read_fixed(sqe, c->fd, buf, len, off, (int)slot);
	else if (write)
		io_uring_prep_write(sqe, c->fd, buf, len, off);
	else
		io_uring_prep_read(sqe, c->fd, buf, len, off);
	/* Expected length in the upper half: a short transfer is an error. */
	io_uring_sqe_set_data64(sqe, ((uint64_t)len << 32) | slot);
	c->pending++;
	return 0;
}

static int nat_commit(void *ctx)
{
	struct nat_ctx *c = ctx;

	if (!c->pending)
		return 0;
	c->pending = 0;
	c->enters++;
	return io_uring_submit(&c->ring) < 0 ? -EIO : 0;
}

static int nat_reap(void *ctx, unsigned int min, struct bench_done *out,
		    unsigned int max)
{
	struct nat_ctx *c = ctx;
	struct io_uring_cqe *cqes[BENCH_MAX_DEPTH];
	unsigned int n, i;
	int ret;

	if (max > c->depth)
		max = c->depth;
	n = io_uring_peek_batch_cqe(&c->ring, cqes, max);
	if (n < min && c->spin_ns) {
		/* The same polling the pvio engine does before it sleeps. */
		uint64_t end = nat_now_ns() + c->spin_ns;

		while (n < min && nat_now_ns() < end)
			n = io_uring_peek_batch_cqe(&c->ring, cqes, max);
	}
	if (!n && min) {
		c->enters++;
		ret = io_uring_wait_cqe_nr(&c->ring, cqes, min);
		if (ret < 0)
			return ret;
		n = io_uring_peek_batch_cqe(&c->ring, cqes, max);
	}
	for (i = 0; i < n; i++) {
		uint64_t d = io_uring_cqe_get_data64(cqes[i]);

		out[i].slot = (unsigned int)(d & 0xffffffffu);
		if (cqes[i]->res < 0)
			out[i].status = cqes[i]->res;
		else if ((uint64_t)cqes[i]->res != d >> 32)
			out[i].status = -EIO;
		else
			out[i].status = 0;
	}
	io_uring_cq_advance(&c->ring, n);
	return (int)n;
}

static void nat_job_exit(void *ctx, uint64_t *db_out, uint64_t *db_in)
{
	struct nat_ctx *c = ctx;

	*db_out = c->enters;
	*db_in = 0;
	io_uring_queue_exit(&c->ring);
	free(c->bufs);
	free(c);
}

static const struct bench_engine_ops nat_ops = {
	.job_init = nat_job_init,
	.slot_buf = nat_slot_buf,
	.submit = nat_submit,
	.commit = nat_commit,
	.reap = nat_reap,
	.job_exit = nat_job_exit,
};

/**
 * bench_engine_open() - open an engine for a run.
 * @e: filled in
 * @o: options (file, queues)
 * @kind: ENG_PVIO or ENG_NATIVE
 * @socket: the backend socket for ENG_PVIO
 *
 * Context: process.
 * Return: 0 or a negative errno; a message is printed on failure.
 */
int bench_engine_open(struct bench_engine *e, const struct bench_opts *o,
		      enum bench_engine_kind kind, const char *socket)
{
	memset(e, 0, sizeof(*e));
	e->o = o;
	if (kind == ENG_PVIO) {
		struct pvio_front_opts fo = {
			.socket_path = socket,
			.num_queues = o->queues,
			.features_wanted = PVIO_BLK_F_ALL,
		};
		struct pvio_front_info info;
		struct pvio_front *f;
		int ret = pvio_front_connect(&fo, &f);

		if (ret) {
			fprintf(stderr, "pvio-bench: cannot connect to the backend at %s: %s\n",
				socket, strerror(-ret));
			return ret;
		}
		pvio_front_info(f, &info);
		if (o->jobs > info.num_queues) {
			fprintf(stderr, "pvio-bench: --jobs %u but the backend serves %u queue(s) (pvio-backd --queues)\n",
				o->jobs, info.num_queues);
			pvio_front_close(f);
			return -E2BIG;
		}
		if (o->iodepth > info.queue_depth) {
			fprintf(stderr, "pvio-bench: --iodepth %u but the backend's queue depth is %u (pvio-backd --queue-depth)\n",
				o->iodepth, info.queue_depth);
			pvio_front_close(f);
			return -E2BIG;
		}
		if (o->max_bs > info.max_transfer) {
			fprintf(stderr, "pvio-bench: --bs %u is above the device's largest request (%u bytes)\n",
				o->max_bs, info.max_transfer);
			pvio_front_close(f);
			return -E2BIG;
		}
		e->ops = &pv_ops;
		e->priv = f;
		e->dev_size = info.capacity * PVIO_BLK_SECTOR_SIZE;
		return 0;
	} else {
		struct nat_priv *p = calloc(1, sizeof(*p));
		bool ro = !o->verify && (o->rw == RW_READ || o->rw == RW_RANDREAD);
		struct stat stt;

		if (!p)
			return -ENOMEM;
		p->fd = open(o->file, (ro ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC);
		if (p->fd < 0 && errno == EINVAL)
			p->fd = open(o->file, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (p->fd < 0 || fstat(p->fd, &stt)) {
			int ret = -errno;

			fprintf(stderr, "pvio-bench: %s: %s\n", o->file, strerror(errno));
			if (p->fd >= 0)
				close(p->fd);
			free(p);
			return ret;
		}
		e->ops = &nat_ops;
		e->priv = p;
		e->dev_size = (uint64_t)stt.st_size;
		if (S_ISBLK(stt.st_mode)) {
			off_t end = lseek(p->fd, 0, SEEK_END);

			e->dev_size = end > 0 ? (uint64_t)end : 0;
		}
		return 0;
	}
}

/**
 * bench_engine_close() - close an engine opened by bench_engine_open().
 * @e: engine
 *
 * Context: process; every job has exited.
 */
void bench_engine_close(struct bench_engine *e)
{
	if (e->ops == &pv_ops) {
		pvio_front_close(e->priv);
	} else if (e->ops == &nat_ops) {
		struct nat_priv *p = e->priv;

		close(p->fd);
		free(p);
	}
	e->ops = NULL;
}
