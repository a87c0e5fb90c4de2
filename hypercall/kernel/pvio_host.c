// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * pvio_host - the host kernel serving stock QEMU guests: /dev/pvio-back.
 *
 * The region server in userspace (pvio-backd --engine kernel) keeps the
 * shared region (a memfd) and the doorbell eventfds of QEMU's ivshmem
 * protocol. For each frontend it opens /dev/pvio-back and hands them over
 * with PVIO_HOST_IOC_START (include/pvio/host.h); this transport then
 * registers a BACKEND pvio device on the pvio bus and the class driver
 * (pvblkback) serves it. Closing the file stops the device.
 *
 * What the transport gives the class driver (pvio_core.h):
 *   region:   every page of the memfd, pinned and mapped contiguously
 *             (vmap); region_page() hands out those pinned pages;
 *   notify:   eventfd_signal() on the frontend's eventfd of that vector;
 *   bind:     a wait-queue entry on the backend's eventfd of that vector,
 *             whose wake function clears the counter and calls the
 *             handler. It runs under the eventfd's wait-queue lock with
 *             interrupts off, in the context of whoever wrote the eventfd
 *             (a QEMU thread, a userspace frontend): atomic, never
 *             concurrently with itself for one vector.
 *
 * The frontend, QEMU or a userspace program, can write any byte of the
 * region at any time, but it cannot shrink the memfd under us: the pages
 * are pinned here, so at worst they stop being the file's.
 */
#include <linux/bitmap.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <pvio/host.h>
#include <pvio/region.h>
#include "pvio_core.h"

struct host_dev;

/* One doorbell vector: the eventfd we are rung on and the one we ring. */
struct host_vec {
	struct host_dev *hd;
	unsigned int vector;
	struct file *kick_file;     /* our reference, keeps @kick polled */
	struct eventfd_ctx *kick;   /* frontend -> backend */
	struct eventfd_ctx *call;   /* backend -> frontend */
	wait_queue_entry_t wait;    /* on @kick's wait queue while bound */
	poll_table pt;
	wait_queue_head_t *wqh;     /* @kick's wait queue; NULL: unbound */
	pvio_handler_fn *fn;
	void *data;
};

/* One open file of /dev/pvio-back: at most one started device. */
struct host_dev {
	struct mutex lock;          /* START, INFO and release */
	bool started;
	struct pvio_device *pdev;   /* on the bus; its memory is the bus's */
	struct file *region_file;
	struct page **pages;
	unsigned long nr_pages;
	void *region;
	u64 region_size;
	struct file *backing;
	unsigned int nr_vectors;
	u32 num_queues;
	u32 dev_class;
	struct mutex bind_lock;     /* bind against unbind */
	/* Doorbells to the frontend that could not be signalled where they
	 * were asked for (inside another eventfd's wake-up), rung from
	 * @call_work instead. */
	DECLARE_BITMAP(pending_calls, PVIO_HOST_MAX_VECTORS);
	struct work_struct call_work;
	struct host_vec vec[PVIO_HOST_MAX_VECTORS];
};

static struct miscdevice host_misc;

static void host_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

static void host_call_work(struct work_struct *work)
{
	struct host_dev *hd = container_of(work, struct host_dev, call_work);
	unsigned int v;

	for (v = 0; v < hd->nr_vectors; v++) {
		if (test_and_clear_bit(v, hd->pending_calls))
			host_signal(hd->vec[v].call);
	}
}

static int host_notify(struct pvio_device *pdev, unsigned int vector)
{
	struct host_dev *hd = pdev->transport_data;

	if (vector >= hd->nr_vectors)
		return -EINVAL;
	/*
	 * eventfd_signal() refuses (with a warning) to run inside another
	 * eventfd's wake-up, which is where doorbell handlers run: a handler
	 * that rings back has its doorbell deferred to process context. The
	 * bit is set before the work is queued, and the work clears it before
	 * signalling, so a doorbell asked for while the work runs is either
	 * seen by this run or queues the next.
	 */
	if (eventfd_signal_allowed()) {
		host_signal(hd->vec[vector].call);
	} else {
		set_bit(vector, hd->pending_calls);
		schedule_work(&hd->call_work);
	}
	return 0;
}

/* Called with @vec->wqh->lock held: the counter, then the handler. */
static void host_vec_fire(struct host_vec *vec)
{
	u64 cnt;

	eventfd_ctx_do_read(vec->kick, &cnt);
	if (cnt)
		vec->fn(vec->hd->pdev, vec->vector, vec->data);
}

static int host_kick_wake(wait_queue_entry_t *wait, unsigned int mode,
			  int sync, void *key)
{
	struct host_vec *vec = container_of(wait, struct host_vec, wait);

	if (key_to_poll(key) & EPOLLIN)
		host_vec_fire(vec);
	return 0;
}

static void host_kick_queue(struct file *file, wait_queue_head_t *wqh,
			    poll_table *pt)
{
	struct host_vec *vec = container_of(pt, struct host_vec, pt);

	/* An eventfd has one wait queue; a second call would be a bug of
	 * the file type, not something a peer controls. */
	if (vec->wqh)
		return;
	vec->wqh = wqh;
	add_wait_queue(wqh, &vec->wait);
}

static int host_bind(struct pvio_device *pdev, unsigned int vector,
		     pvio_handler_fn *fn, void *data)
{
	struct host_dev *hd = pdev->transport_data;
	struct host_vec *vec;
	unsigned long flags;
	__poll_t mask;
	int ret = 0;

	if (vector >= hd->nr_vectors || !fn)
		return -EINVAL;
	vec = &hd->vec[vector];
	mutex_lock(&hd->bind_lock);
	if (vec->wqh) {
		ret = -EBUSY;
		goto out;
	}
	/* Set before the entry is added: the wait-queue lock taken by
	 * add_wait_queue() orders these stores before any wake-up that
	 * finds the entry. */
	vec->fn = fn;
	vec->data = data;
	init_waitqueue_func_entry(&vec->wait, host_kick_wake);
	init_poll_funcptr(&vec->pt, host_kick_queue);
	mask = vfs_poll(vec->kick_file, &vec->pt);
	if (!vec->wqh) {
		vec->fn = NULL;
		vec->data = NULL;
		ret = -EINVAL;
		goto out;
	}
	/* Doorbells rung while unbound are still counted: deliver them. */
	if (mask & EPOLLIN) {
		spin_lock_irqsave(&vec->wqh->lock, flags);
		host_vec_fire(vec);
		spin_unlock_irqrestore(&vec->wqh->lock, flags);
	}
out:
	mutex_unlock(&hd->bind_lock);
	return ret;
}

static void host_unbind(struct pvio_device *pdev, unsigned int vector)
{
	struct host_dev *hd = pdev->transport_data;
	struct host_vec *vec;

	if (vector >= hd->nr_vectors)
		return;
	vec = &hd->vec[vector];
	mutex_lock(&hd->bind_lock);
	if (vec->wqh) {
		/* Takes the wait-queue lock the wake function runs under: once
		 * it returns, the handler is not running and cannot start. */
		remove_wait_queue(vec->wqh, &vec->wait);
		vec->wqh = NULL;
		vec->fn = NULL;
		vec->data = NULL;
	}
	mutex_unlock(&hd->bind_lock);
}

static struct page *host_region_page(struct pvio_device *pdev, u64 off)
{
	struct host_dev *hd = pdev->transport_data;

	if (off >= hd->region_size)
		return NULL;
	return hd->pages[off >> PAGE_SHIFT];
}

static const struct pvio_transport_ops host_ops = {
	.notify = host_notify,
	.bind = host_bind,
	.unbind = host_unbind,
	.region_page = host_region_page,
};

/* Setup and teardown, step by step; each undo mirrors its step. */

static void host_put_pages(struct host_dev *hd, unsigned long n)
{
	while (n--) {
		/* The frontend's writes went through our mapping, not the
		 * page tables: tell the page cache the page holds data. */
		set_page_dirty_lock(hd->pages[n]);
		put_page(hd->pages[n]);
	}
	kvfree(hd->pages);
	hd->pages = NULL;
}

static int host_map_region(struct host_dev *hd, int fd, u64 size)
{
	struct address_space *mapping;
	struct file *file;
	unsigned long i;
	struct page *page;
	loff_t isize;
	int ret;

	if (!is_power_of_2(size) || size < PVIO_REGION_MIN_SIZE ||
	    size > PVIO_HOST_MAX_REGION_SIZE) {
		pr_info("pvio_host: region size %llu: not a power of two in %llu..%llu\n",
			size, PVIO_REGION_MIN_SIZE, PVIO_HOST_MAX_REGION_SIZE);
		return -EINVAL;
	}
	file = fget(fd);
	if (!file) {
		pr_info("pvio_host: region fd %d is not open\n", fd);
		return -EBADF;
	}
	if (!shmem_file(file)) {
		pr_info("pvio_host: region fd %d is not a memfd (shmem) file\n", fd);
		ret = -EINVAL;
		goto err_fput;
	}
	if ((file->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE)) {
		pr_info("pvio_host: region fd %d is not open read-write\n", fd);
		ret = -EACCES;
		goto err_fput;
	}
	isize = i_size_read(file_inode(file));
	if (isize != size) {
		pr_info("pvio_host: region fd %d has %lld bytes, not the %llu given\n",
			fd, isize, size);
		ret = -EINVAL;
		goto err_fput;
	}
	hd->nr_pages = size >> PAGE_SHIFT;
	hd->pages = kvcalloc(hd->nr_pages, sizeof(*hd->pages), GFP_KERNEL);
	if (!hd->pages) {
		ret = -ENOMEM;
		goto err_fput;
	}
	mapping = file->f_mapping;
	for (i = 0; i < hd->nr_pages; i++) {
		page = shmem_read_mapping_page(mapping, i);
		if (IS_ERR(page)) {
			ret = PTR_ERR(page);
			pr_info("pvio_host: region page %lu: error %d\n", i, ret);
			goto err_put_pages;
		}
		hd->pages[i] = page;
	}
	hd->region = vmap(hd->pages, hd->nr_pages, VM_MAP, PAGE_KERNEL);
	if (!hd->region) {
		pr_info("pvio_host: cannot map a %llu-byte region\n", size);
		ret = -ENOMEM;
		goto err_put_pages;
	}
	hd->region_file = file;
	hd->region_size = size;
	return 0;

err_put_pages:
	host_put_pages(hd, i);
err_fput:
	fput(file);
	return ret;
}

static void host_unmap_region(struct host_dev *hd)
{
	vunmap(hd->region);
	hd->region = NULL;
	host_put_pages(hd, hd->nr_pages);
	fput(hd->region_file);
	hd->region_file = NULL;
}

static void host_put_vec(struct host_vec *vec)
{
	if (vec->call)
		eventfd_ctx_put(vec->call);
	if (vec->kick)
		eventfd_ctx_put(vec->kick);
	if (vec->kick_file)
		fput(vec->kick_file);
	vec->call = NULL;
	vec->kick = NULL;
	vec->kick_file = NULL;
}

static int host_get_vec(struct host_dev *hd, unsigned int v, int kick_fd,
			int call_fd)
{
	struct host_vec *vec = &hd->vec[v];
	struct eventfd_ctx *ctx;
	int ret;

	vec->hd = hd;
	vec->vector = v;
	vec->kick_file = fget(kick_fd);
	if (!vec->kick_file) {
		pr_info("pvio_host: vector %u: kick fd %d is not open\n", v, kick_fd);
		return -EBADF;
	}
	ctx = eventfd_ctx_fileget(vec->kick_file);
	if (IS_ERR(ctx)) {
		pr_info("pvio_host: vector %u: kick fd %d is not an eventfd\n",
			v, kick_fd);
		ret = PTR_ERR(ctx);
		goto err_put;
	}
	vec->kick = ctx;
	ctx = eventfd_ctx_fdget(call_fd);
	if (IS_ERR(ctx)) {
		ret = PTR_ERR(ctx);
		pr_info("pvio_host: vector %u: call fd %d is %s\n", v, call_fd,
			ret == -EBADF ? "not open" : "not an eventfd");
		goto err_put;
	}
	vec->call = ctx;
	return 0;

err_put:
	host_put_vec(vec);
	return ret;
}

static int host_get_vecs(struct host_dev *hd, const struct pvio_host_start *s)
{
	unsigned int v;
	int ret;

	for (v = 0; v < s->nr_vectors; v++) {
		ret = host_get_vec(hd, v, s->kick_fds[v], s->call_fds[v]);
		if (ret)
			goto err_put_vecs;
	}
	hd->nr_vectors = s->nr_vectors;
	return 0;

err_put_vecs:
	while (v--)
		host_put_vec(&hd->vec[v]);
	return ret;
}

static void host_put_vecs(struct host_dev *hd)
{
	unsigned int v;

	for (v = 0; v < hd->nr_vectors; v++)
		host_put_vec(&hd->vec[v]);
	hd->nr_vectors = 0;
}

static int host_get_backing(struct host_dev *hd, int fd, bool read_only)
{
	struct file *file;
	umode_t mode;

	file = fget(fd);
	if (!file) {
		pr_info("pvio_host: backing fd %d is not open\n", fd);
		return -EBADF;
	}
	mode = file_inode(file)->i_mode;
	if (!S_ISREG(mode) && !S_ISBLK(mode)) {
		pr_info("pvio_host: backing fd %d is neither a regular file nor a block device\n",
			fd);
		fput(file);
		return -EINVAL;
	}
	if (!(file->f_mode & FMODE_READ)) {
		pr_info("pvio_host: backing fd %d is not open for reading\n", fd);
		fput(file);
		return -EBADF;
	}
	if (!read_only && !(file->f_mode & FMODE_WRITE)) {
		pr_info("pvio_host: backing fd %d is read-only, the export read-write\n",
			fd);
		fput(file);
		return -EROFS;
	}
	hd->backing = file;
	return 0;
}

static void host_put_backing(struct host_dev *hd)
{
	fput(hd->backing);
	hd->backing = NULL;
}

static void host_backing_path(struct file *file, char *out, size_t len)
{
	char *buf, *p;

	strscpy(out, "fd", len);
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!buf)
		return;
	p = d_path(&file->f_path, buf, PATH_MAX);
	if (!IS_ERR(p))
		strscpy(out, p, len);
	kfree(buf);
}

static int host_check_args(const struct pvio_host_start *s)
{
	unsigned int v;

	if (s->flags & ~PVIO_HOST_F_ALL) {
		pr_info("pvio_host: unknown flags %#x\n", s->flags);
		return -EINVAL;
	}
	if (memchr_inv(s->reserved, 0, sizeof(s->reserved))) {
		pr_info("pvio_host: reserved bytes not zero\n");
		return -EINVAL;
	}
	if (s->dev_class != PVIO_CLASS_BLK && s->dev_class != PVIO_CLASS_NET) {
		pr_info("pvio_host: unknown device class %u\n", s->dev_class);
		return -EINVAL;
	}
	if (s->num_queues < 1 || s->num_queues > PVIO_MAX_QUEUES ||
	    s->nr_vectors < s->num_queues + 1 ||
	    s->nr_vectors > PVIO_HOST_MAX_VECTORS) {
		pr_info("pvio_host: %u queue(s) on %u vector(s): want 1..%u queues on queues + 1..%u vectors\n",
			s->num_queues, s->nr_vectors, PVIO_MAX_QUEUES,
			PVIO_HOST_MAX_VECTORS);
		return -EINVAL;
	}
	if (s->ring_entries && !is_power_of_2(s->ring_entries)) {
		pr_info("pvio_host: ring entries %u: not a power of two\n",
			s->ring_entries);
		return -EINVAL;
	}
	for (v = s->nr_vectors; v < PVIO_HOST_MAX_VECTORS; v++) {
		if (s->kick_fds[v] != -1 || s->call_fds[v] != -1) {
			pr_info("pvio_host: vector %u is beyond nr_vectors but has fds\n",
				v);
			return -EINVAL;
		}
	}
	return 0;
}

static void host_pdev_release(struct pvio_device *pdev)
{
	kfree(pdev);
}

static int host_register(struct host_dev *hd, const struct pvio_host_start *s)
{
	struct pvio_device *pdev;
	int ret;

	pdev = kzalloc(sizeof(*pdev), GFP_KERNEL);
	if (!pdev)
		return -ENOMEM;
	pdev->dev_class = s->dev_class;
	pdev->role = PVIO_ROLE_BACKEND;
	pdev->region = hd->region;
	pdev->region_size = hd->region_size;
	pdev->nr_vectors = hd->nr_vectors;
	pdev->bp.backing = hd->backing;
	pdev->bp.read_only = (s->flags & PVIO_HOST_F_READ_ONLY) ||
			     !(hd->backing->f_mode & FMODE_WRITE);
	pdev->bp.num_queues = s->num_queues;
	pdev->bp.ring_entries = s->ring_entries;
	pdev->bp.peer = s->peer;
	host_backing_path(hd->backing, pdev->bp.path, sizeof(pdev->bp.path));
	pdev->ops = &host_ops;
	pdev->transport_data = hd;
	/* Set before registering: probe may ring or bind at once. */
	hd->pdev = pdev;
	ret = pvio_device_register(pdev, host_misc.this_device,
				   host_pdev_release);
	if (ret) {
		/* The bus has dropped its reference, and with it @pdev. */
		hd->pdev = NULL;
		pr_info("pvio_host: the pvio bus refused the device: %d\n", ret);
		return ret;
	}
	dev_info(&pdev->dev, "pvio_host: backend %s: region %llu bytes, %u queue(s), %u vector(s), %s%s, frontend peer %u\n",
		 pvio_class_name(s->dev_class), hd->region_size, s->num_queues,
		 hd->nr_vectors, pdev->bp.path, pdev->bp.read_only ? " (ro)" : "",
		 s->peer);
	return 0;
}

static void host_unbind_all(struct host_dev *hd)
{
	unsigned int v;

	for (v = 0; v < hd->nr_vectors; v++) {
		if (hd->vec[v].wqh) {
			pr_warn("pvio_host: vector %u still bound after remove; detaching\n",
				v);
			host_unbind(hd->pdev, v);
		}
	}
}

static void host_stop(struct host_dev *hd)
{
	char name[32];

	if (!hd->started)
		return;
	strscpy(name, dev_name(&hd->pdev->dev), sizeof(name));
	/* The class driver's remove runs in here: after it, nothing of the
	 * bus touches the region or rings a doorbell. */
	get_device(&hd->pdev->dev);
	pvio_device_unregister(hd->pdev);
	host_unbind_all(hd);
	put_device(&hd->pdev->dev);
	hd->pdev = NULL;
	/* A doorbell deferred by a handler before it was unbound. */
	cancel_work_sync(&hd->call_work);
	host_put_backing(hd);
	host_put_vecs(hd);
	host_unmap_region(hd);
	hd->started = false;
	pr_info("pvio_host: %s stopped\n", name);
}

static long host_ioctl_start(struct host_dev *hd, void __user *arg)
{
	struct pvio_host_start s;
	int ret;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	mutex_lock(&hd->lock);
	if (hd->started) {
		pr_info("pvio_host: START on a file already started\n");
		ret = -EBUSY;
		goto out;
	}
	ret = host_check_args(&s);
	if (ret)
		goto out;
	ret = host_map_region(hd, s.region_fd, s.region_size);
	if (ret)
		goto out;
	ret = host_get_vecs(hd, &s);
	if (ret)
		goto err_unmap_region;
	ret = host_get_backing(hd, s.backing_fd, s.flags & PVIO_HOST_F_READ_ONLY);
	if (ret)
		goto err_put_vecs;
	hd->num_queues = s.num_queues;
	hd->dev_class = s.dev_class;
	ret = host_register(hd, &s);
	if (ret)
		goto err_put_backing;
	hd->started = true;
	goto out;

err_put_backing:
	host_put_backing(hd);
err_put_vecs:
	host_put_vecs(hd);
err_unmap_region:
	host_unmap_region(hd);
out:
	mutex_unlock(&hd->lock);
	return ret;
}

static long host_ioctl_info(struct host_dev *hd, void __user *arg)
{
	struct pvio_host_info info;

	memset(&info, 0, sizeof(info));
	mutex_lock(&hd->lock);
	if (hd->started) {
		info.state = PVIO_HOST_STATE_STARTED;
		/* Informational: a driver may bind or leave right after. */
		if (READ_ONCE(hd->pdev->dev.driver))
			info.flags |= PVIO_HOST_INFO_F_BOUND;
		info.dev_class = hd->dev_class;
		info.num_queues = hd->num_queues;
		info.region_size = hd->region_size;
		strscpy(info.name, dev_name(&hd->pdev->dev), sizeof(info.name));
	}
	mutex_unlock(&hd->lock);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long host_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct host_dev *hd = file->private_data;

	switch (cmd) {
	case PVIO_HOST_IOC_START:
		return host_ioctl_start(hd, (void __user *)arg);
	case PVIO_HOST_IOC_INFO:
		return host_ioctl_info(hd, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static int host_open(struct inode *inode, struct file *file)
{
	struct host_dev *hd;

	hd = kzalloc(sizeof(*hd), GFP_KERNEL);
	if (!hd)
		return -ENOMEM;
	mutex_init(&hd->lock);
	mutex_init(&hd->bind_lock);
	INIT_WORK(&hd->call_work, host_call_work);
	file->private_data = hd;
	return stream_open(inode, file);
}

static int host_release(struct inode *inode, struct file *file)
{
	struct host_dev *hd = file->private_data;

	mutex_lock(&hd->lock);
	host_stop(hd);
	mutex_unlock(&hd->lock);
	mutex_destroy(&hd->bind_lock);
	mutex_destroy(&hd->lock);
	kfree(hd);
	return 0;
}

static const struct file_operations host_fops = {
	.owner = THIS_MODULE,
	.open = host_open,
	.release = host_release,
	.unlocked_ioctl = host_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice host_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pvio-back",
	.fops = &host_fops,
	.mode = 0600,
};

static int __init host_init(void)
{
	return misc_register(&host_misc);
}

static void __exit host_exit(void)
{
	misc_deregister(&host_misc);
}

module_init(host_init);
module_exit(host_exit);

MODULE_DESCRIPTION("pvio host transport: serve memfd/eventfd regions (/dev/pvio-back)");
MODULE_LICENSE("Dual MIT/GPL");
