// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * pvblkback IO: one worker per queue.
 *
 * The worker (a delayed work item on the device's unbound workqueue, never
 * running twice at once) answers what completed, then takes every request
 * present: each is copied out of the ring once, validated with the shared
 * pvio_blk_req_validate() and turned into IO on the backing store under a
 * plug: bios built on the region's own pages for a block device, an
 * asynchronous kiocb over an ITER_BVEC iterator for a regular file, a work
 * item for what sleeps (discard, zeroing, fsync). Responses are published
 * once per round and the frontend rung only when it asked; before going
 * idle the worker arms the request ring and looks again.
 *
 * Completions arrive in any context; they only put the request on the
 * queue's done list and queue the worker, which is the response ring's one
 * producer. A request is taken only while the response ring has room for
 * the answer of every request in flight plus its own, so answers never
 * overflow the ring whatever the frontend does with its indices.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "pvblkback.h"

/* How long stopping a queue waits for the backing store before it says so
 * (and waits on: the IO uses the region, which must outlive it). */
#define PBB_DRAIN_WARN (30 * HZ)

static unsigned int pbb_errno_status(int err)
{
	switch (err) {
	case -ENOSPC:
	case -EDQUOT:
		return PVIO_BLK_S_NOSPC;
	case -EOPNOTSUPP:
		return PVIO_BLK_S_UNSUPP;
	default:
		return PVIO_BLK_S_IOERR;
	}
}

/* Queue the worker unless the queue is idle; caller holds q->lock. */
static void pbb_queue_kick_locked(struct pbb_queue *q)
{
	/* queue_work() on a work already queued is a cheap no-op: kicks that
	 * come while the worker is pending fold into its next run. */
	if (q->active)
		queue_work(q->d->wq, &q->work);
}

/**
 * pbb_queue_kick() - the frontend rang the queue's doorbell.
 * @q: queue
 *
 * Context: any (doorbell handlers run in atomic context).
 */
void pbb_queue_kick(struct pbb_queue *q)
{
	unsigned long flags;

	atomic64_inc(&q->stats.notifies_in);
	spin_lock_irqsave(&q->lock, flags);
	pbb_queue_kick_locked(q);
	spin_unlock_irqrestore(&q->lock, flags);
}

/*
 * The last piece of a request is done: hand it to the worker. Everything
 * happens under q->lock, so that once pbb_queue_stop() has seen busy reach
 * 0 and taken the lock itself, no completion still touches the queue.
 */
static void pbb_req_complete(struct pbb_req *r)
{
	struct pbb_queue *q = r->q;
	unsigned long flags;

	r->status = r->err ? pbb_errno_status(r->err) : PVIO_BLK_S_OK;
	spin_lock_irqsave(&q->lock, flags);
	list_add_tail(&r->done_node, &q->done);
	if (--q->busy == 0)
		wake_up(&q->idle);
	pbb_queue_kick_locked(q);
	spin_unlock_irqrestore(&q->lock, flags);
}

static void pbb_req_set_err(struct pbb_req *r, int err)
{
	/* The first error wins; pieces complete concurrently. */
	cmpxchg(&r->err, 0, err);
}

static void pbb_req_put(struct pbb_req *r)
{
	if (atomic_dec_and_test(&r->pending))
		pbb_req_complete(r);
}

/* --- the pages of a request ---------------------------------------------- */

static int pbb_bounce_alloc(struct pbb_req *r)
{
	unsigned int i, n = PBB_MAX_TRANSFER / PAGE_SIZE;

	if (r->bounce)
		return 0;
	r->bounce = kcalloc(n, sizeof(*r->bounce), GFP_NOIO);
	if (!r->bounce)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		r->bounce[i] = alloc_page(GFP_NOIO);
		if (!r->bounce[i])
			return -ENOMEM; /* freed with the slot */
	}
	return 0;
}

static void pbb_bounce_free(struct pbb_req *r)
{
	unsigned int i;

	if (!r->bounce)
		return;
	for (i = 0; i < PBB_MAX_TRANSFER / PAGE_SIZE; i++)
		if (r->bounce[i])
			__free_page(r->bounce[i]);
	kfree(r->bounce);
	r->bounce = NULL;
}

/* Copy between the request's segments and its bounce pages, in order. */
static void pbb_bounce_copy(struct pbb_req *r, bool to_bounce)
{
	const struct pbb_queue *q = r->q;
	u32 pos = 0, s, done, n;

	for (s = 0; s < r->v.nr_segs; s++) {
		u8 *seg = q->data + r->segs[s].offset;

		for (done = 0; done < r->segs[s].len; done += n) {
			u8 *b = page_address(r->bounce[pos / PAGE_SIZE]) +
				pos % PAGE_SIZE;

			n = min_t(u32, r->segs[s].len - done,
				  PAGE_SIZE - pos % PAGE_SIZE);
			if (to_bounce)
				memcpy(b, seg + done, n);
			else
				memcpy(seg + done, b, n);
			pos += n;
		}
	}
}

/*
 * The bio_vecs of a READ/WRITE: the region's own pages behind each
 * segment, or the request's bounce pages when the region has none (a PCI
 * BAR). The validator put every segment inside the data area and the
 * total within max_transfer_sectors (<= PBB_MAX_TRANSFER), so the arrays
 * are big enough; the checks below only keep that true if limits change.
 */
static int pbb_req_map(struct pbb_req *r)
{
	struct pbb_queue *q = r->q;
	struct pvio_device *pdev = q->d->pdev;
	u32 total = r->v.nr_sectors << PVIO_BLK_SECTOR_SHIFT;
	unsigned int n = 0, s;
	u32 done, len;
	int ret;

	if (total > PBB_MAX_TRANSFER)
		return -EINVAL;
	if (q->d->bounce) {
		ret = pbb_bounce_alloc(r);
		if (ret)
			return ret;
		for (done = 0; done < total; done += len) {
			len = min_t(u32, total - done, PAGE_SIZE);
			bvec_set_page(&r->bvecs[n++], r->bounce[done / PAGE_SIZE],
				      len, 0);
		}
		if (r->v.op == PVIO_BLK_OP_WRITE)
			pbb_bounce_copy(r, true);
		r->nr_bvecs = n;
		return 0;
	}
	for (s = 0; s < r->v.nr_segs; s++) {
		u64 off = q->data_off + r->segs[s].offset;

		for (done = 0; done < r->segs[s].len; done += len) {
			struct page *page;

			len = min_t(u32, r->segs[s].len - done,
				    PAGE_SIZE - offset_in_page(off + done));
			page = pdev->ops->region_page(pdev, off + done);
			if (!page || n == PBB_MAX_BVECS)
				return -EINVAL;
			bvec_set_page(&r->bvecs[n++], page, len,
				      offset_in_page(off + done));
		}
	}
	r->nr_bvecs = n;
	return 0;
}

/* --- block device -------------------------------------------------------- */

static void pbb_bio_end(struct bio *bio)
{
	struct pbb_req *r = bio->bi_private;

	if (bio->bi_status)
		pbb_req_set_err(r, blk_status_to_errno(bio->bi_status));
	bio_put(bio);
	pbb_req_put(r);
}

static struct bio *pbb_bio_new(struct pbb_req *r, unsigned int nr_vecs,
			       blk_opf_t opf, sector_t sector)
{
	struct bio *bio = bio_alloc(r->q->d->bdev, nr_vecs, opf, GFP_NOIO);

	bio->bi_iter.bi_sector = sector;
	bio->bi_private = r;
	bio->bi_end_io = pbb_bio_end;
	atomic_inc(&r->pending);
	return bio;
}

static void pbb_bdev_rw(struct pbb_req *r)
{
	bool write = r->v.op == PVIO_BLK_OP_WRITE;
	blk_opf_t opf = write ? REQ_OP_WRITE : REQ_OP_READ;
	sector_t sector = r->v.sector;
	unsigned int i = 0, left;
	struct bio *bio;

	if (write && (r->v.flags & PVIO_BLK_REQ_F_FUA))
		opf |= REQ_FUA;
	while (i < r->nr_bvecs) {
		left = r->nr_bvecs - i;
		bio = pbb_bio_new(r, min_t(unsigned int, left, BIO_MAX_VECS),
				  opf, sector);
		for (; i < r->nr_bvecs; i++) {
			struct bio_vec *bv = &r->bvecs[i];

			if (bio_add_page(bio, bv->bv_page, bv->bv_len,
					 bv->bv_offset) != bv->bv_len)
				break;
		}
		sector += bio_sectors(bio);
		submit_bio(bio);
	}
}

static void pbb_bdev_flush(struct pbb_req *r)
{
	/* An empty write with PREFLUSH: the block layer completes it at once
	 * for a device without a volatile cache. */
	submit_bio(pbb_bio_new(r, 0, REQ_OP_WRITE | REQ_PREFLUSH, 0));
}

/* --- regular file -------------------------------------------------------- */

static void pbb_kiocb_done(struct kiocb *iocb, long ret)
{
	struct pbb_req *r = container_of(iocb, struct pbb_req, iocb);

	if (ret < 0)
		pbb_req_set_err(r, ret);
	else if (ret != (long)r->v.nr_sectors << PVIO_BLK_SECTOR_SHIFT)
		/* Short: the file shrank under the device. */
		pbb_req_set_err(r, -EIO);
	pbb_req_put(r);
}

static void pbb_file_rw(struct pbb_req *r)
{
	struct pbb_dev *d = r->q->d;
	bool write = r->v.op == PVIO_BLK_OP_WRITE;
	size_t bytes = (size_t)r->v.nr_sectors << PVIO_BLK_SECTOR_SHIFT;
	struct iov_iter iter;
	bool dio = READ_ONCE(d->file_dio);
	ssize_t ret;

again:
	iov_iter_bvec(&iter, write ? ITER_SOURCE : ITER_DEST, r->bvecs,
		      r->nr_bvecs, bytes);
	init_sync_kiocb(&r->iocb, d->file);
	r->iocb.ki_pos = (loff_t)r->v.sector << PVIO_BLK_SECTOR_SHIFT;
	r->iocb.ki_complete = pbb_kiocb_done;
	if (dio)
		r->iocb.ki_flags |= IOCB_DIRECT;
	if (write) {
		r->iocb.ki_flags |= IOCB_WRITE;
		if (r->v.flags & PVIO_BLK_REQ_F_FUA)
			r->iocb.ki_flags |= IOCB_DSYNC;
	}
	atomic_inc(&r->pending);
	if (write)
		ret = d->file->f_op->write_iter(&r->iocb, &iter);
	else
		ret = d->file->f_op->read_iter(&r->iocb, &iter);
	if (ret == -EIOCBQUEUED)
		return;
	if (ret == -EINVAL && dio) {
		/* Direct IO refused (alignment, or the file system cannot):
		 * buffered from now on, as loop does. */
		atomic_dec(&r->pending);
		WRITE_ONCE(d->file_dio, false);
		dev_info(&d->pdev->dev, "%s refuses direct IO; using buffered IO\n",
			 d->pdev->bp.path);
		dio = false;
		goto again;
	}
	pbb_kiocb_done(&r->iocb, ret);
}

/* WRITE_ZEROES where the file cannot zero a range in place: write zeroes. */
static int pbb_file_write_zeroes(struct file *file, loff_t pos, u64 len)
{
	struct bio_vec bv[16];
	struct iov_iter iter;
	unsigned int i, n;
	ssize_t ret;

	while (len) {
		for (n = 0; n < ARRAY_SIZE(bv) && (u64)n * PAGE_SIZE < len; n++)
			;
		for (i = 0; i < n; i++)
			bvec_set_page(&bv[i], ZERO_PAGE(0),
				      min_t(u64, PAGE_SIZE, len - (u64)i * PAGE_SIZE), 0);
		iov_iter_bvec(&iter, ITER_SOURCE, bv, n,
			      min_t(u64, len, (u64)n * PAGE_SIZE));
		ret = vfs_iter_write(file, &iter, &pos, 0);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -EIO;
		len -= ret;
	}
	return 0;
}

/* --- operations that sleep: from their own work item --------------------- */

static int pbb_sync_op(struct pbb_req *r)
{
	struct pbb_dev *d = r->q->d;
	u64 off = r->v.sector << PVIO_BLK_SECTOR_SHIFT;
	u64 len = (u64)r->v.nr_sectors << PVIO_BLK_SECTOR_SHIFT;
	bool unmap = r->v.flags & PVIO_BLK_REQ_F_UNMAP;
	int ret;

	if (d->bdev) {
		if (r->v.op == PVIO_BLK_OP_DISCARD)
			return blkdev_issue_discard(d->bdev, r->v.sector,
						    r->v.nr_sectors, GFP_NOIO);
		/* Falls back to writing zeroes where the device cannot. */
		return blkdev_issue_zeroout(d->bdev, r->v.sector,
					    r->v.nr_sectors, GFP_NOIO,
					    unmap ? 0 : BLKDEV_ZERO_NOUNMAP);
	}
	switch (r->v.op) {
	case PVIO_BLK_OP_FLUSH:
		return vfs_fsync(d->file, 0);
	case PVIO_BLK_OP_DISCARD:
		return vfs_fallocate(d->file, FALLOC_FL_PUNCH_HOLE |
				     FALLOC_FL_KEEP_SIZE, off, len);
	default: /* WRITE_ZEROES */
		ret = vfs_fallocate(d->file, FALLOC_FL_ZERO_RANGE |
				    FALLOC_FL_KEEP_SIZE, off, len);
		/* A hole reads back as zeroes too. */
		if (ret == -EOPNOTSUPP && unmap)
			ret = vfs_fallocate(d->file, FALLOC_FL_PUNCH_HOLE |
					    FALLOC_FL_KEEP_SIZE, off, len);
		if (ret == -EOPNOTSUPP || ret == -EINVAL)
			ret = pbb_file_write_zeroes(d->file, off, len);
		return ret;
	}
}

static void pbb_sync_work(struct work_struct *w)
{
	struct pbb_req *r = container_of(w, struct pbb_req, work);
	int ret = pbb_sync_op(r);

	if (ret)
		pbb_req_set_err(r, ret);
	pbb_req_put(r);
}

/* --- taking requests ----------------------------------------------------- */

static void pbb_queue_break(struct pbb_queue *q, const char *why)
{
	if (q->dead)
		return;
	q->dead = true;
	q->why = why;
}

static void pbb_answer(struct pbb_queue *q, u32 id, unsigned int status,
		       u32 len)
{
	struct pvio_blk_rsp rsp = {
		.id = cpu_to_le32(id),
		.status = cpu_to_le16(status),
		.len = cpu_to_le32(len),
	};
	int ret;

	if (status != PVIO_BLK_S_OK)
		atomic64_inc(&q->stats.errors);
	ret = pvio_prod_put(&q->rsp, &rsp, sizeof(rsp));
	if (ret)
		pbb_queue_break(q, ret == -ENOSPC ? "response ring full" :
				"response ring consumer index out of range");
}

/* Start the IO of a validated request in slot @r. */
static void pbb_req_submit(struct pbb_req *r)
{
	struct pbb_dev *d = r->q->d;
	int ret;

	atomic_set(&r->pending, 1);
	switch (r->v.op) {
	case PVIO_BLK_OP_READ:
	case PVIO_BLK_OP_WRITE:
		r->len = r->v.nr_sectors << PVIO_BLK_SECTOR_SHIFT;
		ret = pbb_req_map(r);
		if (ret)
			pbb_req_set_err(r, ret);
		else if (d->bdev)
			pbb_bdev_rw(r);
		else
			pbb_file_rw(r);
		break;
	case PVIO_BLK_OP_FLUSH:
		if (d->bdev) {
			pbb_bdev_flush(r);
			break;
		}
		fallthrough;
	case PVIO_BLK_OP_DISCARD:
	case PVIO_BLK_OP_WRITE_ZEROES:
		atomic_inc(&r->pending);
		queue_work(d->wq, &r->work);
		break;
	case PVIO_BLK_OP_GET_ID:
		/* The validator put the segment inside the data area and at
		 * least PVIO_BLK_ID_BYTES long. */
		memcpy(r->q->data + r->segs[0].offset, d->id, PVIO_BLK_ID_BYTES);
		r->len = PVIO_BLK_ID_BYTES;
		break;
	}
	pbb_req_put(r);
}

static void pbb_handle(struct pbb_queue *q, const struct pvio_blk_req *wire)
{
	struct pbb_dev *d = q->d;
	struct pvio_blk_vseg segs[PBB_MAX_SEGS];
	struct pvio_blk_vreq v;
	const char *why;
	unsigned int status, slot;
	struct pbb_req *r;

	atomic64_inc(&q->stats.requests);
	status = pvio_blk_req_validate(wire, &d->lim, d->features, q->data,
				       q->data_size, &v, segs, PBB_MAX_SEGS,
				       &why);
	if (status != PVIO_BLK_S_OK) {
		dev_info_ratelimited(&d->pdev->dev,
				     "queue %u: request id %u op %u refused, status %u: %s\n",
				     q->index, v.id, v.op, status, why);
		pbb_answer(q, v.id, status, 0);
		return;
	}
	if (!q->nfree) {
		/* Cannot happen: the response reserve bounds inflight by the
		 * ring size, which is the number of slots. */
		pbb_answer(q, v.id, PVIO_BLK_S_IOERR, 0);
		return;
	}
	slot = q->free_slots[q->nfree - 1];
	if (pvio_ids_add(&q->ids, v.id, slot)) {
		pbb_queue_break(q, "request id already in flight");
		return;
	}
	q->nfree--;
	r = &q->reqs[slot];
	r->v = v;
	memcpy(r->segs, segs, sizeof(segs[0]) * v.nr_segs);
	r->v.segs = r->segs;
	r->err = 0;
	r->len = 0;
	q->inflight++;
	spin_lock_irq(&q->lock);
	q->busy++;
	spin_unlock_irq(&q->lock);
	pbb_req_submit(r);
}

/* Take requests while the response ring can hold every answer owed. */
static unsigned int pbb_take(struct pbb_queue *q, bool *blocked)
{
	struct pvio_blk_req wire;
	struct blk_plug plug;
	const char *why;
	unsigned int n = 0;
	int ret;

	blk_start_plug(&plug);
	while (!q->dead) {
		ret = pvio_ring_take(&q->req, &q->rsp, q->inflight, &wire,
				     sizeof(wire), &why);
		if (ret == -ENOSPC)
			*blocked = true;
		else if (ret < 0)
			pbb_queue_break(q, why);
		if (ret <= 0)
			break;
		n++;
		pbb_handle(q, &wire);
	}
	pvio_cons_release(&q->req);
	blk_finish_plug(&plug);
	return n;
}

/* Answer every request that completed. */
static unsigned int pbb_reap(struct pbb_queue *q)
{
	struct pbb_req *r, *tmp;
	unsigned int n = 0;
	LIST_HEAD(done);

	spin_lock_irq(&q->lock);
	list_splice_init(&q->done, &done);
	spin_unlock_irq(&q->lock);
	list_for_each_entry_safe(r, tmp, &done, done_node) {
		list_del(&r->done_node);
		if (r->status == PVIO_BLK_S_OK &&
		    (r->v.op == PVIO_BLK_OP_READ || r->v.op == PVIO_BLK_OP_WRITE)) {
			if (r->v.op == PVIO_BLK_OP_READ && q->d->bounce)
				pbb_bounce_copy(r, false);
			atomic64_add(r->len, &q->stats.bytes);
		}
		pbb_answer(q, r->v.id, r->status,
			   r->status == PVIO_BLK_S_OK ? r->len : 0);
		pvio_ids_del(&q->ids, r->v.id);
		q->free_slots[q->nfree++] = r - q->reqs;
		q->inflight--;
		n++;
	}
	return n;
}

static void pbb_publish(struct pbb_queue *q)
{
	if (pvio_prod_publish(&q->rsp)) {
		atomic64_inc(&q->stats.notifies_out);
		pvio_notify(q->d->pdev, q->vector);
	}
}

static void pbb_queue_work(struct work_struct *w)
{
	struct pbb_queue *q = container_of(w, struct pbb_queue, work);
	bool blocked = false, stopping;
	unsigned int took, reaped;
	int ret;

	for (;;) {
		spin_lock_irq(&q->lock);
		stopping = q->stopping;
		spin_unlock_irq(&q->lock);
		reaped = pbb_reap(q);
		took = stopping ? 0 : pbb_take(q, &blocked);
		pbb_publish(q);
		if (q->dead) {
			pbb_dev_broken(q->d, q->index, q->why);
			return;
		}
		if (stopping || blocked)
			break;
		if (took || reaped) {
			cond_resched();
			continue;
		}
		/* Drain, arm, re-check: entries published after our last look
		 * either show up here or ring the doorbell. */
		ret = pvio_cons_arm(&q->req, 0);
		if (ret == 0)
			break;
		if (ret < 0) {
			pbb_queue_break(q, "request ring producer index out of range");
			pbb_dev_broken(q->d, q->index, q->why);
			return;
		}
	}
	/* The frontend owes us response-ring space and need not ring for it:
	 * look again shortly. */
	if (blocked && !stopping) {
		spin_lock_irq(&q->lock);
		if (q->active)
			queue_delayed_work(q->d->wq, &q->retry, 1);
		spin_unlock_irq(&q->lock);
	}
}

/* The frontend owed response-ring space a jiffy ago: look again. */
static void pbb_queue_retry(struct work_struct *w)
{
	struct pbb_queue *q = container_of(to_delayed_work(w), struct pbb_queue,
					   retry);

	spin_lock_irq(&q->lock);
	pbb_queue_kick_locked(q);
	spin_unlock_irq(&q->lock);
}

/**
 * pbb_queue_alloc() - allocate a queue's request slots.
 * @q: queue, with @q->d set
 *
 * Context: process, may sleep.
 * Return: 0 or -ENOMEM (nothing left allocated).
 */
int pbb_queue_alloc(struct pbb_queue *q)
{
	unsigned int n = q->d->ring_entries, i;

	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->done);
	init_waitqueue_head(&q->idle);
	INIT_WORK(&q->work, pbb_queue_work);
	INIT_DELAYED_WORK(&q->retry, pbb_queue_retry);
	q->reqs = kvcalloc(n, sizeof(*q->reqs), GFP_KERNEL);
	q->free_slots = kvcalloc(n, sizeof(*q->free_slots), GFP_KERNEL);
	q->ids.key = kvcalloc(2 * n, sizeof(*q->ids.key), GFP_KERNEL);
	q->ids.slot = kvcalloc(2 * n, sizeof(*q->ids.slot), GFP_KERNEL);
	if (!q->reqs || !q->free_slots || !q->ids.key || !q->ids.slot)
		goto err_free;
	for (i = 0; i < n; i++) {
		q->reqs[i].q = q;
		INIT_WORK(&q->reqs[i].work, pbb_sync_work);
		q->reqs[i].bvecs = kvcalloc(PBB_MAX_BVECS, sizeof(struct bio_vec),
					    GFP_KERNEL);
		if (!q->reqs[i].bvecs)
			goto err_free;
	}
	return 0;

err_free:
	pbb_queue_free(q);
	return -ENOMEM;
}

/**
 * pbb_queue_free() - free what pbb_queue_alloc() allocated.
 * @q: queue, stopped
 *
 * Context: process.
 */
void pbb_queue_free(struct pbb_queue *q)
{
	unsigned int i;

	if (q->reqs) {
		for (i = 0; i < q->d->ring_entries; i++) {
			kvfree(q->reqs[i].bvecs);
			pbb_bounce_free(&q->reqs[i]);
		}
	}
	kvfree(q->reqs);
	kvfree(q->free_slots);
	kvfree(q->ids.key);
	kvfree(q->ids.slot);
	q->reqs = NULL;
	q->free_slots = NULL;
	q->ids.key = NULL;
	q->ids.slot = NULL;
}

/**
 * pbb_queue_start() - serve a queue whose ring ends are attached.
 * @q: queue; @q->req and @q->rsp attached, @q->data set
 *
 * Context: process; under the device lock.
 */
void pbb_queue_start(struct pbb_queue *q)
{
	unsigned int i, n = q->d->ring_entries;

	for (i = 0; i < n; i++)
		q->free_slots[i] = n - 1 - i;
	q->nfree = n;
	q->inflight = 0;
	q->dead = false;
	q->why = NULL;
	pvio_ids_init(&q->ids, q->ids.key, q->ids.slot, n);
	spin_lock_irq(&q->lock);
	q->stopping = false;
	q->active = true;
	/* Requests may be waiting already (a frontend that published before
	 * we connected, or a reconnect). */
	queue_work(q->d->wq, &q->work);
	spin_unlock_irq(&q->lock);
}

/**
 * pbb_queue_stop() - stop taking requests and answer every one taken.
 * @q: queue, started
 *
 * Waits for the IO submitted to the backing store: it reads and writes the
 * region's pages, which must outlive it. The backing store, not the
 * frontend, decides how long that takes; a store that hangs is reported
 * every PBB_DRAIN_WARN. The answers are published (a frontend that left
 * just does not read them) and the frontend rung if it asked.
 *
 * Context: process, may sleep; under the device lock.
 */
void pbb_queue_stop(struct pbb_queue *q)
{
	struct pbb_dev *d = q->d;

	spin_lock_irq(&q->lock);
	q->stopping = true;
	spin_unlock_irq(&q->lock);
	while (!wait_event_timeout(q->idle, READ_ONCE(q->busy) == 0,
				   PBB_DRAIN_WARN))
		dev_warn(&d->pdev->dev, "queue %u: waiting for %u request(s) on %s\n",
			 q->index, READ_ONCE(q->busy), d->pdev->bp.path);
	spin_lock_irq(&q->lock);
	q->active = false;
	spin_unlock_irq(&q->lock);
	/* Nothing queues the worker now: not a doorbell (inactive), not a
	 * completion (none left), not itself (it re-arms only when active). */
	cancel_delayed_work_sync(&q->retry);
	cancel_work_sync(&q->work);
	pbb_reap(q);
	pbb_publish(q);
}
