// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * pvblkback - pvio block backend in the kernel: serves a block device or a
 * regular file to a pvblk frontend through a BACKEND pvio device (pvio_loop
 * for a frontend in this same kernel, pvio_host for QEMU guests, ivshmem in
 * a driver VM).
 *
 * This half: probe derives the block config from the backing store, lays
 * the region out and binds the doorbells; the handshake (ring/handshake.h)
 * runs from one work item queued by the control doorbell and every second
 * besides, since a frontend may change state without ringing. CONNECT
 * attaches the rings and starts the queue workers (pvblkback_io.c), CLOSE
 * answers what was taken and stops them, RELAYOUT lays the region out
 * again for the next frontend. A frontend that breaks a ring gets one log
 * line, back.state CLOSED and no more service until the device goes away.
 * Statistics and the state are in sysfs, in the pvio device's pvblkback/.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/version.h>

#include "pvblkback.h"

/* How often the handshake looks at the frontend without a doorbell. */
#define PBB_CTL_PERIOD HZ

static void pbb_kick_ctl(struct pbb_dev *d, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&d->kick_lock, flags);
	if (!d->removing) {
		if (delay)
			queue_delayed_work(d->wq, &d->ctl_work, delay);
		else
			mod_delayed_work(d->wq, &d->ctl_work, 0);
	}
	spin_unlock_irqrestore(&d->kick_lock, flags);
}

static void pbb_ctl_doorbell(struct pvio_device *pdev, unsigned int vector,
			     void *data)
{
	pbb_kick_ctl(data, 0);
}

static void pbb_queue_doorbell(struct pvio_device *pdev, unsigned int vector,
			       void *data)
{
	pbb_queue_kick(data);
}

/**
 * pbb_dev_broken() - a queue found the frontend broke the protocol.
 * @d: device
 * @queue: the queue's index
 * @why: what the frontend did
 *
 * Logs once per device; the handshake work then stops every queue and
 * publishes back.state = CLOSED.
 *
 * Context: a queue worker.
 */
void pbb_dev_broken(struct pbb_dev *d, unsigned int queue, const char *why)
{
	if (test_and_set_bit(PBB_BROKEN, &d->flags))
		return;
	dev_err_ratelimited(&d->pdev->dev,
			    "queue %u: frontend broke the protocol (%s); device closed\n",
			    queue, why);
	pbb_kick_ctl(d, 0);
}

/* --- the backing store and the config ------------------------------------ */

static struct block_device *pbb_file_bdev(struct file *file)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return file_bdev(file);
#else
	return I_BDEV(file->f_mapping->host);
#endif
}

/* Discard granularity in bytes a config may carry, or 0 for none. */
static u32 pbb_discard_gran(u32 gran, u32 lbs)
{
	gran = max(gran, lbs);
	return is_power_of_2(gran) ? gran : 0;
}

static int pbb_backing_limits(struct pbb_dev *d)
{
	struct pvio_device *pdev = d->pdev;
	struct file *file = pdev->bp.backing;
	struct inode *inode = file_inode(file);
	struct pvio_blk_limits *lim = &d->lim;
	u32 lbs, pbs, max_tr, max_segs, gran = 0, max_disc = 0;
	bool ro = pdev->bp.read_only || !(file->f_mode & FMODE_WRITE);
	bool wcache;
	const char *why;
	u64 cap;
	int ret;

	if (S_ISBLK(inode->i_mode)) {
		struct block_device *bdev = pbb_file_bdev(file);
		struct request_queue *q = bdev_get_queue(bdev);

		d->bdev = bdev;
		cap = bdev_nr_sectors(bdev);
		lbs = bdev_logical_block_size(bdev);
		pbs = bdev_physical_block_size(bdev);
		max_tr = min_t(u32, queue_max_hw_sectors(q),
			       PBB_MAX_TRANSFER >> PVIO_BLK_SECTOR_SHIFT);
		max_segs = min_t(u32, queue_max_segments(q), PBB_MAX_SEGS);
		ro |= bdev_read_only(bdev);
		if (bdev_max_discard_sectors(bdev)) {
			gran = pbb_discard_gran(bdev_discard_granularity(bdev), lbs);
			max_disc = min_t(u32, bdev_max_discard_sectors(bdev),
					 PBB_MAX_RANGE_SECTORS);
		}
		wcache = bdev_write_cache(bdev);
	} else if (S_ISREG(inode->i_mode)) {
		/* Direct IO to a file needs the alignment of the disk under
		 * its file system; buffered IO is happy with anything. */
		lbs = inode->i_sb->s_bdev ?
		      bdev_logical_block_size(inode->i_sb->s_bdev) : 512;
		pbs = max_t(u32, lbs, i_blocksize(inode));
		if (!is_power_of_2(pbs))
			pbs = lbs;
		cap = i_size_read(inode) >> PVIO_BLK_SECTOR_SHIFT;
		max_tr = PBB_MAX_TRANSFER >> PVIO_BLK_SECTOR_SHIFT;
		max_segs = PBB_MAX_SEGS;
		if (file->f_op->fallocate) {
			gran = pbb_discard_gran(i_blocksize(inode), lbs);
			max_disc = PBB_MAX_RANGE_SECTORS;
		}
		/* The page cache, and the disk under it, hold writes until
		 * fsync. */
		wcache = true;
		d->file_dio = file->f_mode & FMODE_CAN_ODIRECT;
		if (!file->f_op->read_iter || !file->f_op->write_iter) {
			dev_err(&pdev->dev, "%s: the file system has no read_iter/write_iter\n",
				pdev->bp.path);
			return -EINVAL;
		}
	} else {
		dev_err(&pdev->dev, "%s is neither a block device nor a regular file\n",
			pdev->bp.path);
		return -EINVAL;
	}

	memset(lim, 0, sizeof(*lim));
	/* Whole logical blocks only. */
	lim->capacity = cap & ~((u64)(lbs >> PVIO_BLK_SECTOR_SHIFT) - 1);
	lim->logical_block_size = lbs;
	lim->physical_block_size = pbs;
	lim->max_transfer_sectors = max_tr & ~((lbs >> PVIO_BLK_SECTOR_SHIFT) - 1);
	lim->max_segments = max(max_segs, 1u);
	/* A segment is a range of the data area, not a page: it may be as
	 * long as a transfer. The block layer splits the bios built from it
	 * to the device's own segment limits. */
	lim->max_segment_size = lim->max_transfer_sectors << PVIO_BLK_SECTOR_SHIFT;
	if (!ro && gran && max_disc) {
		lim->discard_granularity = gran;
		lim->max_discard_sectors =
			max_disc & ~((gran >> PVIO_BLK_SECTOR_SHIFT) - 1);
	}
	if (!ro)
		lim->max_write_zeroes_sectors = PBB_MAX_RANGE_SECTORS;
	lim->attrs = (ro ? PVIO_BLK_ATTR_RO : 0) |
		     (wcache ? PVIO_BLK_ATTR_WCACHE : 0);
	lim->queue_depth = d->ring_entries;
	if (!lim->capacity) {
		dev_err(&pdev->dev, "%s is empty\n", pdev->bp.path);
		return -EINVAL;
	}

	/* The config the frontend will check, checked here first. */
	pvio_blk_config_from_limits(lim, &d->config);
	ret = pvio_blk_limits_from_config(&d->config, lim, &why);
	if (ret) {
		dev_err(&pdev->dev, "%s: no valid block config (%s)\n",
			pdev->bp.path, why);
		return ret;
	}
	d->offered = PVIO_BLK_F_FLUSH | PVIO_BLK_F_FUA | PVIO_BLK_F_INDIRECT |
		     PVIO_BLK_F_GET_ID;
	if (lim->max_discard_sectors)
		d->offered |= PVIO_BLK_F_DISCARD;
	if (lim->max_write_zeroes_sectors)
		d->offered |= PVIO_BLK_F_WRITE_ZEROES;
	return 0;
}

/* --- the region ---------------------------------------------------------- */

static void pbb_region_params(const struct pbb_dev *d, u64 data_size,
			      struct pvio_region_params *p)
{
	memset(p, 0, sizeof(*p));
	p->region_size = d->pdev->region_size;
	p->dev_class = PVIO_CLASS_BLK;
	p->num_queues = d->nr_queues;
	p->ring_entries = d->ring_entries;
	p->req_entry_size = sizeof(struct pvio_blk_req);
	p->rsp_entry_size = sizeof(struct pvio_blk_rsp);
	p->generation = d->generation;
	p->data_size = data_size;
	p->features = d->offered;
	p->config = &d->config;
}

/*
 * The data area per queue: what the region has left after the header and
 * the rings, shared evenly. Growing every data area by a multiple of
 * PVIO_DATA_ALIGN moves the later rings by the same amount and keeps their
 * alignment, so the size grows exactly by nr_queues times that.
 */
static int pbb_size_region(struct pbb_dev *d)
{
	struct pvio_region_params p;
	u64 base, per, size = d->pdev->region_size;

	pbb_region_params(d, PVIO_DATA_ALIGN, &p);
	base = pvio_region_layout_size(&p);
	if (!base || base > size) {
		dev_err(&d->pdev->dev, "a region of %llu bytes cannot hold %u queue(s) of %u entries\n",
			size, d->nr_queues, d->ring_entries);
		return -ENOSPC;
	}
	per = PVIO_DATA_ALIGN +
	      rounddown(div_u64(size - base, d->nr_queues), PVIO_DATA_ALIGN);
	per = min_t(u64, per, 1ull << 40);
	pbb_region_params(d, per, &p);
	if (pvio_region_layout_size(&p) > size)
		return -ENOSPC;
	d->data_size = per;
	return 0;
}

/* Step 1 of the handshake: a fresh layout, a new generation. */
static int pbb_layout(struct pbb_dev *d)
{
	struct pvio_device *pdev = d->pdev;
	struct pvio_region_params p;
	unsigned int i;
	int ret;

	d->generation++;
	pbb_region_params(d, d->data_size, &p);
	p.clear_data = d->laid_out;
	d->laid_out = true;
	ret = pvio_region_layout(pdev->region, &p, &d->layout);
	if (ret) {
		dev_err(&pdev->dev, "laying out the region failed: %d\n", ret);
		return ret;
	}
	pdev->layout = d->layout;
	pvio_hs_back_init(&d->hs, pdev->region, d->offered);
	for (i = 0; i < d->nr_queues; i++) {
		struct pbb_queue *q = &d->queues[i];
		const struct pvio_region_queue *lq = &d->layout.queues[i];

		q->vector = lq->vector;
		q->data_off = lq->data_off;
		q->data_size = lq->data_size;
		q->data = (u8 *)pdev->region + lq->data_off;
	}
	return 0;
}

/* --- the handshake ------------------------------------------------------- */

static void pbb_set_state(struct pbb_dev *d, u32 state)
{
	pvio_hs_back_set_state(&d->hs, state);
	pvio_notify(d->pdev, PVIO_VECTOR_CONTROL);
}

/* Step 3: attach our ring ends (from our own copy of the layout, never the
 * shared queue table), start the workers, say CONNECTED. */
static void pbb_connect(struct pbb_dev *d)
{
	u8 *region = d->pdev->region;
	unsigned int i;
	int ret = 0;

	d->features = d->hs.accepted;
	for (i = 0; i < d->nr_queues && !ret; i++) {
		struct pbb_queue *q = &d->queues[i];
		const struct pvio_region_queue *lq = &d->layout.queues[i];

		ret = pvio_cons_attach(&q->req, (struct pvio_ring_shared *)
				       (region + lq->req_ring_off),
				       lq->req_entries, sizeof(struct pvio_blk_req));
		if (!ret)
			ret = pvio_prod_attach(&q->rsp, (struct pvio_ring_shared *)
					       (region + lq->rsp_ring_off),
					       lq->rsp_entries,
					       sizeof(struct pvio_blk_rsp));
	}
	if (ret) {
		dev_warn_ratelimited(&d->pdev->dev,
				     "the frontend left ring indices inconsistent; refused\n");
		pbb_set_state(d, PVIO_STATE_CLOSED);
		return;
	}
	for (i = 0; i < d->nr_queues; i++)
		pbb_queue_start(&d->queues[i]);
	d->connected = true;
	pbb_set_state(d, PVIO_STATE_CONNECTED);
	dev_info(&d->pdev->dev, "%s: frontend connected (generation %u, features %#llx)\n",
		 d->pdev->bp.path, d->generation, d->features);
}

/* Answer what was taken, stop serving, say CLOSED. */
static void pbb_close(struct pbb_dev *d)
{
	unsigned int i;

	if (d->connected) {
		for (i = 0; i < d->nr_queues; i++)
			pbb_queue_stop(&d->queues[i]);
		d->connected = false;
	}
	pbb_set_state(d, PVIO_STATE_CLOSED);
}

static void pbb_ctl_work(struct work_struct *w)
{
	struct pbb_dev *d = container_of(to_delayed_work(w), struct pbb_dev,
					 ctl_work);
	bool broken = test_bit(PBB_BROKEN, &d->flags);
	const char *why;

	mutex_lock(&d->lock);
	if (broken && d->connected) {
		pbb_close(d);
		goto out;
	}
	switch (pvio_hs_back_step(&d->hs, &why)) {
	case PVIO_HS_BACK_CONNECT:
		if (!broken)
			pbb_connect(d);
		break;
	case PVIO_HS_BACK_REFUSED:
		dev_warn_ratelimited(&d->pdev->dev, "frontend refused: %s\n", why);
		pvio_notify(d->pdev, PVIO_VECTOR_CONTROL);
		break;
	case PVIO_HS_BACK_CLOSE:
		pbb_close(d);
		dev_info(&d->pdev->dev, "frontend closed the device\n");
		break;
	case PVIO_HS_BACK_RELAYOUT:
		/* A broken device stays closed until it goes away, as
		 * pvio-backd's waits for its frontend to leave. */
		if (!broken && !pbb_layout(d))
			pvio_notify(d->pdev, PVIO_VECTOR_CONTROL);
		break;
	case PVIO_HS_BACK_NONE:
		break;
	}
out:
	mutex_unlock(&d->lock);
	pbb_kick_ctl(d, PBB_CTL_PERIOD);
}

/* --- sysfs: /sys/bus/pvio/devices/pvioN/pvblkback/ ------------------------ */

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct pbb_dev *d = dev_get_drvdata(dev);
	const char *s;

	if (test_bit(PBB_BROKEN, &d->flags))
		s = "broken";
	else if (READ_ONCE(d->hs.state) == PVIO_STATE_CONNECTED)
		s = "connected";
	else if (READ_ONCE(d->hs.state) == PVIO_STATE_INITWAIT)
		s = "initwait";
	else
		s = "closed";
	return sysfs_emit(buf, "%s\n", s);
}
static DEVICE_ATTR_RO(state);

static ssize_t stats_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct pbb_dev *d = dev_get_drvdata(dev);
	unsigned int i;
	int n = 0;

	for (i = 0; i < d->nr_queues; i++) {
		const struct pbb_qstats *s = &d->queues[i].stats;

		n += sysfs_emit_at(buf, n, "queue %u requests %lld bytes %lld errors %lld notifies_in %lld notifies_out %lld\n",
				   i, atomic64_read(&s->requests),
				   atomic64_read(&s->bytes),
				   atomic64_read(&s->errors),
				   atomic64_read(&s->notifies_in),
				   atomic64_read(&s->notifies_out));
	}
	return n;
}
static DEVICE_ATTR_RO(stats);

static ssize_t backing_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct pbb_dev *d = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s %s%s %llu sectors\n", d->pdev->bp.path,
			  d->bdev ? "blkdev" : "file",
			  d->bdev ? "" : (READ_ONCE(d->file_dio) ? " direct" : " buffered"),
			  d->lim.capacity);
}
static DEVICE_ATTR_RO(backing);

static struct attribute *pbb_attrs[] = {
	&dev_attr_state.attr,
	&dev_attr_stats.attr,
	&dev_attr_backing.attr,
	NULL,
};

static const struct attribute_group pbb_group = {
	.name = "pvblkback",
	.attrs = pbb_attrs,
};

static const struct attribute_group *pbb_groups[] = {
	&pbb_group,
	NULL,
};

/* --- probe and remove ---------------------------------------------------- */

static void pbb_unbind_all(struct pbb_dev *d, unsigned int nr_bound)
{
	unsigned int i;

	for (i = 0; i < nr_bound; i++)
		pvio_unbind(d->pdev, d->queues[i].vector);
	pvio_unbind(d->pdev, PVIO_VECTOR_CONTROL);
}

static void pbb_free_queues(struct pbb_dev *d, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		pbb_queue_free(&d->queues[i]);
	kfree(d->queues);
}

static int pbb_params(struct pbb_dev *d)
{
	const struct pvio_backend_params *bp = &d->pdev->bp;
	const struct pvio_region_hdr *hdr = d->pdev->region;

	d->ring_entries = bp->ring_entries ?: PBB_DEFAULT_ENTRIES;
	if (pvio_ring_geometry_valid(d->ring_entries, sizeof(struct pvio_blk_req))) {
		dev_err(&d->pdev->dev, "ring entries %u: not a power of two in %u..%u\n",
			d->ring_entries, PVIO_RING_MIN_ENTRIES, PVIO_RING_MAX_ENTRIES);
		return -EINVAL;
	}
	d->nr_queues = clamp_t(u32, bp->num_queues, 1, PVIO_MAX_QUEUES);
	if (d->pdev->nr_vectors < 2) {
		dev_err(&d->pdev->dev, "the transport carries no queue doorbell\n");
		return -EINVAL;
	}
	if (d->nr_queues > d->pdev->nr_vectors - 1) {
		dev_info(&d->pdev->dev, "%u queue(s) asked, %u doorbell vectors: serving %u\n",
			 d->nr_queues, d->pdev->nr_vectors, d->pdev->nr_vectors - 1);
		d->nr_queues = d->pdev->nr_vectors - 1;
	}
	/* Continue the generation found in the region, if any, so that a
	 * frontend still attached sees a new backend instance. A frontend can
	 * only make us pick an odd number. */
	if (le64_to_cpu(READ_ONCE(hdr->magic)) == PVIO_REGION_MAGIC)
		d->generation = le32_to_cpu(READ_ONCE(hdr->back.generation));
	snprintf(d->id, sizeof(d->id), "pvblkback-%s", dev_name(&d->pdev->dev));
	return 0;
}

static int pbb_probe(struct pvio_device *pdev)
{
	struct pbb_dev *d;
	unsigned int nq = 0, nb = 0;
	int ret;

	if (!pdev->bp.backing)
		return -EINVAL;
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->pdev = pdev;
	d->file = pdev->bp.backing;
	d->bounce = !pdev->ops->region_page;
	mutex_init(&d->lock);
	spin_lock_init(&d->kick_lock);
	INIT_DELAYED_WORK(&d->ctl_work, pbb_ctl_work);

	ret = pbb_params(d);
	if (ret)
		goto err_free;
	ret = pbb_backing_limits(d);
	if (ret)
		goto err_free;
	ret = pbb_size_region(d);
	if (ret)
		goto err_free;

	d->queues = kcalloc(d->nr_queues, sizeof(*d->queues), GFP_KERNEL);
	if (!d->queues) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (nq = 0; nq < d->nr_queues; nq++) {
		d->queues[nq].d = d;
		d->queues[nq].index = nq;
		ret = pbb_queue_alloc(&d->queues[nq]);
		if (ret)
			goto err_free_queues;
	}
	d->wq = alloc_workqueue("pvblkback-%s", WQ_UNBOUND | WQ_MEM_RECLAIM, 0,
				dev_name(&pdev->dev));
	if (!d->wq) {
		ret = -ENOMEM;
		goto err_free_queues;
	}

	ret = pbb_layout(d);
	if (ret)
		goto err_destroy_wq;
	dev_set_drvdata(&pdev->dev, d);

	ret = pvio_bind(pdev, PVIO_VECTOR_CONTROL, pbb_ctl_doorbell, d);
	if (ret)
		goto err_closed;
	for (nb = 0; nb < d->nr_queues; nb++) {
		ret = pvio_bind(pdev, d->queues[nb].vector, pbb_queue_doorbell,
				&d->queues[nb]);
		if (ret)
			goto err_unbind;
	}

	dev_info(&pdev->dev, "%s: %llu sectors of %u bytes%s, %s, %u queue(s) of %u entries, %llu bytes of data each\n",
		 pdev->bp.path, d->lim.capacity, d->lim.logical_block_size,
		 (d->lim.attrs & PVIO_BLK_ATTR_RO) ? ", read-only" : "",
		 d->bdev ? "block device" :
		 (d->file_dio ? "file, direct IO" : "file, buffered IO"),
		 d->nr_queues, d->ring_entries, d->data_size);
	/* Step 1 ends with a doorbell for a frontend already attached. */
	pvio_notify(pdev, PVIO_VECTOR_CONTROL);
	pbb_kick_ctl(d, 0);
	return 0;

err_unbind:
	pbb_unbind_all(d, nb);
err_closed:
	pvio_hs_back_set_state(&d->hs, PVIO_STATE_CLOSED);
	memset(&pdev->layout, 0, sizeof(pdev->layout));
	dev_set_drvdata(&pdev->dev, NULL);
err_destroy_wq:
	destroy_workqueue(d->wq);
err_free_queues:
	pbb_free_queues(d, nq);
err_free:
	kfree(d);
	dev_err(&pdev->dev, "cannot serve %s: %d\n", pdev->bp.path, ret);
	return ret;
}

static void pbb_remove(struct pvio_device *pdev)
{
	struct pbb_dev *d = dev_get_drvdata(&pdev->dev);

	/* No handshake work after this: neither a doorbell nor a queue
	 * worker nor the work itself queues it again. */
	spin_lock_irq(&d->kick_lock);
	d->removing = true;
	spin_unlock_irq(&d->kick_lock);
	cancel_delayed_work_sync(&d->ctl_work);

	mutex_lock(&d->lock);
	pbb_close(d);
	mutex_unlock(&d->lock);

	/* The handlers use the queues: unbind (which waits for a running
	 * one) before freeing them. */
	pbb_unbind_all(d, d->nr_queues);
	destroy_workqueue(d->wq);
	pbb_free_queues(d, d->nr_queues);
	dev_set_drvdata(&pdev->dev, NULL);
	dev_info(&pdev->dev, "%s: no longer served\n", pdev->bp.path);
	kfree(d);
}

static struct pvio_driver pbb_driver = {
	.dev_class = PVIO_CLASS_BLK,
	.role = PVIO_ROLE_BACKEND,
	.probe = pbb_probe,
	.remove = pbb_remove,
	.driver = {
		.name = "pvblkback",
		.dev_groups = pbb_groups,
	},
};

static int __init pbb_init(void)
{
	return pvio_register_driver(&pbb_driver);
}

static void __exit pbb_exit(void)
{
	pvio_unregister_driver(&pbb_driver);
}

module_init(pbb_init);
module_exit(pbb_exit);

MODULE_DESCRIPTION("pvio block backend: serves block devices and files to pvblk");
MODULE_LICENSE("Dual MIT/GPL");
