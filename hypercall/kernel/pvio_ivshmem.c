// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * pvio_ivshmem - the pvio transport over QEMU's stock ivshmem-doorbell
 * device (1af4:1110, revision 1, MSI-X), in either role.
 *
 * The device: BAR0 holds four 32-bit registers (IntrMask, IntrStatus,
 * IVPosition = our own peer id, Doorbell); BAR1 the MSI-X table; BAR2 the
 * shared region, plain RAM on the host side, so it is mapped write-back.
 * Writing (peer << 16) | vector to Doorbell rings that peer's vector; a
 * peer ringing our vector N raises MSI-X vector N.
 *
 * The transport maps the device, sets up its doorbells and puts one pvio
 * device on the pvio bus (pvio_core.h); the class driver registered for it
 * does the rest. What the region holds decides the role:
 *
 *   FRONTEND  BAR2 starts with the pvio magic: it is checked with
 *             pvio_region_check(), and refused with the reason logged if a
 *             rule is broken. Doorbells go to peer @backend_peer (module
 *             parameter, default 0: the ivshmem server, where pvio's
 *             backends live). A region that is parked (the magic, but
 *             the backend has not laid it out: an engine starting, a
 *             driver VM booting) is looked at again every 200 ms for up
 *             to @ready_wait_s seconds (module parameter, default 60).
 *   BACKEND   a region without the magic, or any region when our own
 *             peer id is 0 (PVIO_BACKEND_PEER: in a driver VM, where
 *             pvio-backd --driver-vm gives the backend that id, a reboot
 *             finds its last layout there), is left alone (one info line)
 *             until someone asks this kernel to serve it: writing a backend
 *             line (pvio_backend_params_parse(), peer=N required: the
 *             frontend's ivshmem peer id) to
 *                 /sys/bus/pci/devices/<bdf>/pvio_backend
 *             registers a BACKEND device whose region is the whole BAR2
 *             and whose vectors are all the device's MSI-X vectors;
 *             writing "remove" there takes it away again. The region has
 *             no struct pages: region_page is NULL, class drivers copy.
 *
 * debugfs, for tests and for looking at a live device, in
 * /sys/kernel/debug/pvio_ivshmem/<pci device>/ while a pvio device exists:
 *   notify      write a vector number: rings the peer's vector
 *   irq_counts  one line per vector: "<vector> irqs <n> notifies <n>
 *               masked <n>" (masked: jiffies the vector spent masked
 *               for exceeding its doorbell budget, ivs_irq())
 *   info        role, pvio device, peer ids, region size, class, queues
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include <pvio/region.h>
#include "pvio_core.h"
#include "region.h"

#define IVS_VENDOR_ID 0x1af4
#define IVS_DEVICE_ID 0x1110
/* Revision 1: ivshmem-plain and ivshmem-doorbell; only the latter has MSI-X. */
#define IVS_REVISION 1

/* BAR0 registers. */
#define IVS_REG_IVPOSITION 8
#define IVS_REG_DOORBELL 12
#define IVS_BAR0_MIN_LEN 16

#define IVS_BAR_REGS 0
#define IVS_BAR_REGION 2

static unsigned int backend_peer;
module_param(backend_peer, uint, 0444);
MODULE_PARM_DESC(backend_peer,
		 "ivshmem peer id of the backend that frontend devices ring (default 0, the ivshmem server)");

static unsigned int ready_wait_s = 60;
module_param(ready_wait_s, uint, 0644);
MODULE_PARM_DESC(ready_wait_s,
		 "seconds a frontend device waits for its backend to lay the region out when it finds it parked (backend not ready yet; default 60, 0: refuse at once)");

/* How often a waiting frontend device looks at its region again. */
#define IVS_READY_POLL_MS 200

enum ivs_mode {
	IVS_IDLE = 0,  /* no pvio device: a foreign region, or not served yet */
	IVS_FRONTEND,
	IVS_BACKEND,
};

struct ivs_dev;

struct ivs_vec {
	struct ivs_dev *idev;
	unsigned int vector;
	bool irq_requested;
	/* Published with release after @data; read with acquire in the IRQ. */
	pvio_handler_fn *fn;
	void *data;
	atomic_long_t irqs;
	atomic_long_t notifies;
	/* The flood budget (ivs_irq()); only the IRQ handler and, while the
	 * vector is masked, @unmask touch these. */
	unsigned long win;        /* jiffies: the window being counted */
	unsigned int win_irqs;    /* doorbells delivered in it */
	atomic_long_t masked;     /* windows the vector was masked for */
	struct delayed_work unmask;
	char irq_name[40];
};

struct ivs_dev {
	struct pci_dev *pdev;
	void __iomem *regs;
	void *region;
	u64 bar_len;
	int peer_id;            /* ours */
	struct mutex mode_lock; /* @mode, @pvdev, the IRQs and debugfs */
	enum ivs_mode mode;
	struct pvio_device *pvdev; /* the pvio device, while @mode is not IDLE */
	u32 ring_peer;          /* whom notify rings */
	unsigned int nr_vectors; /* MSI-X vectors allocated and requested */
	struct dentry *dbg;
	struct mutex bind_lock; /* serialises bind/unbind of handlers */
	/* A parked region (magic, backend not ready) found at probe: looked
	 * at again every IVS_READY_POLL_MS until @ready_deadline. */
	struct delayed_work ready_work;
	unsigned long ready_deadline; /* jiffies */
	struct ivs_vec vecs[PVIO_MAX_VECTORS];
};

static struct dentry *ivs_dbg_root;

static const char *ivs_mode_name(enum ivs_mode mode)
{
	return mode == IVS_BACKEND ? "backend" : "frontend";
}

/* ------------------------------------------------------------------------
 * Transport operations
 */

/* Ring the peer's @vector; @vector < PVIO_MAX_VECTORS. */
static void ivs_ring(struct ivs_dev *idev, unsigned int vector)
{
	/* iowrite32 orders the caller's earlier stores to the region (ring
	 * indices published with release) before the doorbell reaches the
	 * device: on x86 an uncached MMIO write is not reordered with earlier
	 * stores, and on weaker architectures iowrite32 carries a wmb(). */
	iowrite32((idev->ring_peer << 16) | vector,
		  idev->regs + IVS_REG_DOORBELL);
	atomic_long_inc(&idev->vecs[vector].notifies);
}

static int ivs_notify(struct pvio_device *pdev, unsigned int vector)
{
	struct ivs_dev *idev = pdev->transport_data;

	if (vector >= pdev->nr_vectors)
		return -EINVAL;
	ivs_ring(idev, vector);
	return 0;
}

static int ivs_bind(struct pvio_device *pdev, unsigned int vector,
		    pvio_handler_fn *fn, void *data)
{
	struct ivs_dev *idev = pdev->transport_data;
	struct ivs_vec *vec;
	int ret = 0;

	if (vector >= pdev->nr_vectors || !fn)
		return -EINVAL;
	vec = &idev->vecs[vector];
	if (!vec->irq_requested)
		return -EINVAL;
	mutex_lock(&idev->bind_lock);
	if (vec->fn) {
		ret = -EBUSY;
	} else {
		vec->data = data;
		/* Release: @data is visible before @fn; pairs with the
		 * acquire in ivs_irq(), which would otherwise call the new
		 * handler with a stale @data. */
		smp_store_release(&vec->fn, fn);
	}
	mutex_unlock(&idev->bind_lock);
	return ret;
}

static void ivs_unbind_vec(struct ivs_dev *idev, unsigned int vector)
{
	struct ivs_vec *vec = &idev->vecs[vector];

	mutex_lock(&idev->bind_lock);
	if (vec->fn) {
		WRITE_ONCE(vec->fn, NULL);
		/* A handler that loaded the old @fn finishes before we return,
		 * so the caller may free what @data points to; one that masked
		 * the vector queued ivs_unmask(), which runs (and unmasks)
		 * before we return. With @fn NULL nothing queues it again. */
		synchronize_irq(pci_irq_vector(idev->pdev, vector));
		flush_delayed_work(&vec->unmask);
		vec->data = NULL;
	}
	mutex_unlock(&idev->bind_lock);
}

static void ivs_unbind(struct pvio_device *pdev, unsigned int vector)
{
	struct ivs_dev *idev = pdev->transport_data;

	if (vector >= PVIO_MAX_VECTORS || !idev->vecs[vector].irq_requested)
		return;
	ivs_unbind_vec(idev, vector);
}

static const struct pvio_transport_ops ivs_ops = {
	.notify = ivs_notify,
	.bind = ivs_bind,
	.unbind = ivs_unbind,
	/* BAR2 is device memory to the guest: no struct pages. */
	.region_page = NULL,
};

/*
 * Doorbells a vector delivers per jiffy before it is masked until the next
 * jiffy: a peer ringing in a loop costs the guest at most
 * (IVS_IRQ_BUDGET + 1) * HZ handler calls per second per vector (2250 at
 * HZ=250), while a peer ringing at a normal pace is never masked; a busy
 * one that is gets its doorbells answered one jiffy late, in one batch.
 */
#define IVS_IRQ_BUDGET 8

/* The end of a masked window: one handler call for whatever the doorbells
 * we did not take announced, then the vector is live again (a doorbell
 * rung while masked is pending in the MSI-X table and arrives now). */
static void ivs_unmask(struct work_struct *work)
{
	struct ivs_vec *vec = container_of(to_delayed_work(work),
					   struct ivs_vec, unmask);
	pvio_handler_fn *fn;
	unsigned long flags;

	/* Acquire: pairs with the release in ivs_bind(), as in ivs_irq(). */
	fn = smp_load_acquire(&vec->fn);
	if (fn) {
		/* Handlers expect interrupt context: no IRQ in between. */
		local_irq_save(flags);
		fn(vec->idev->pvdev, vec->vector, vec->data);
		local_irq_restore(flags);
	}
	vec->win = jiffies;
	vec->win_irqs = 0;
	enable_irq(pci_irq_vector(vec->idev->pdev, vec->vector));
}

static irqreturn_t ivs_irq(int irq, void *arg)
{
	struct ivs_vec *vec = arg;
	pvio_handler_fn *fn;

	atomic_long_inc(&vec->irqs);
	/* Acquire: pairs with the release in ivs_bind(), so @data is the one
	 * published with this @fn. */
	fn = smp_load_acquire(&vec->fn);
	if (!fn)
		return IRQ_HANDLED;
	/* One handler runs at a time per vector (edge MSI-X): the window
	 * needs no lock. */
	if (vec->win != jiffies) {
		vec->win = jiffies;
		vec->win_irqs = 0;
	}
	if (++vec->win_irqs > IVS_IRQ_BUDGET) {
		/* A flood: mask until the next jiffy, where ivs_unmask()
		 * calls the handler once. Unbinding flushes that work. */
		atomic_long_inc(&vec->masked);
		disable_irq_nosync(irq);
		schedule_delayed_work(&vec->unmask, 1);
		return IRQ_HANDLED;
	}
	fn(vec->idev->pvdev, vec->vector, vec->data);
	return IRQ_HANDLED;
}

/* ------------------------------------------------------------------------
 * debugfs
 */

static ssize_t ivs_dbg_notify_write(struct file *file, const char __user *buf,
				    size_t len, loff_t *ppos)
{
	struct ivs_dev *idev = file->private_data;
	unsigned int vector;
	int ret;

	ret = kstrtouint_from_user(buf, len, 0, &vector);
	if (ret)
		return ret;
	/* Any vector the doorbell register can carry: the peer's vector
	 * count is the device's, which we may not have allocated in full. */
	if (vector >= PVIO_MAX_VECTORS)
		return -EINVAL;
	ivs_ring(idev, vector);
	return len;
}

static const struct file_operations ivs_dbg_notify_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = ivs_dbg_notify_write,
	.llseek = noop_llseek,
};

static int ivs_dbg_irq_counts_show(struct seq_file *m, void *unused)
{
	struct ivs_dev *idev = m->private;
	unsigned int v;

	for (v = 0; v < PVIO_MAX_VECTORS; v++) {
		struct ivs_vec *vec = &idev->vecs[v];
		long notifies = atomic_long_read(&vec->notifies);

		if (!vec->irq_requested && !notifies)
			continue;
		seq_printf(m, "%u irqs %ld notifies %ld masked %ld\n", v,
			   atomic_long_read(&vec->irqs), notifies,
			   atomic_long_read(&vec->masked));
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ivs_dbg_irq_counts);

static int ivs_dbg_info_show(struct seq_file *m, void *unused)
{
	struct ivs_dev *idev = m->private;
	const struct pvio_device *pvdev = idev->pvdev;
	const struct pvio_region_layout *l = &pvdev->layout;
	unsigned int i;

	seq_printf(m, "role %s\ndevice %s\npeer_id %d\nrings_peer %u\nregion_size %llu\nclass %s\nvectors %u\n",
		   ivs_mode_name(idev->mode), dev_name(&pvdev->dev),
		   idev->peer_id, idev->ring_peer, pvdev->region_size,
		   pvio_class_name(pvdev->dev_class), pvdev->nr_vectors);
	if (idev->mode == IVS_BACKEND) {
		seq_printf(m, "serves %s%s\n", pvdev->bp.path,
			   pvdev->bp.read_only ? " ro" : "");
		return 0;
	}
	seq_printf(m, "queues %u\n", l->num_queues);
	for (i = 0; i < l->num_queues; i++)
		seq_printf(m, "queue %u vector %u req %#llx rsp %#llx data %#llx+%#llx\n",
			   i, l->queues[i].vector, l->queues[i].req_ring_off,
			   l->queues[i].rsp_ring_off, l->queues[i].data_off,
			   l->queues[i].data_size);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ivs_dbg_info);

/* debugfs is optional: a failure here leaves the device working. */
static void ivs_debugfs_init(struct ivs_dev *idev)
{
	if (IS_ERR_OR_NULL(ivs_dbg_root))
		return;
	idev->dbg = debugfs_create_dir(pci_name(idev->pdev), ivs_dbg_root);
	debugfs_create_file("notify", 0200, idev->dbg, idev, &ivs_dbg_notify_fops);
	debugfs_create_file("irq_counts", 0444, idev->dbg, idev,
			    &ivs_dbg_irq_counts_fops);
	debugfs_create_file("info", 0444, idev->dbg, idev, &ivs_dbg_info_fops);
}

static void ivs_debugfs_remove(struct ivs_dev *idev)
{
	/* Waits for readers and writers in progress, so no notify write
	 * reaches BAR0 and no info read sees @pvdev after this. */
	debugfs_remove_recursive(idev->dbg);
	idev->dbg = NULL;
}

/* ------------------------------------------------------------------------
 * Doorbells
 */

static void ivs_free_irqs(struct ivs_dev *idev)
{
	unsigned int v;

	for (v = 0; v < PVIO_MAX_VECTORS; v++) {
		struct ivs_vec *vec = &idev->vecs[v];

		if (!vec->irq_requested)
			continue;
		/* Not masked any more when freed: see ivs_unbind_vec(). */
		WRITE_ONCE(vec->fn, NULL);
		synchronize_irq(pci_irq_vector(idev->pdev, v));
		flush_delayed_work(&vec->unmask);
		free_irq(pci_irq_vector(idev->pdev, v), vec);
		vec->irq_requested = false;
	}
}

/* MSI-X vector N is doorbell N: allocate @need of them and request an IRQ
 * for each. */
static int ivs_setup_irqs(struct ivs_dev *idev, unsigned int need)
{
	struct pci_dev *pdev = idev->pdev;
	unsigned int v;
	int have, ret;

	have = pci_msix_vec_count(pdev);
	if (have < 0 || (unsigned int)have < need) {
		dev_err(&pdev->dev, "the region's doorbells need %u MSI-X vectors, the device has %d (ivshmem-doorbell vectors=%u or more)\n",
			need, have, need);
		return -ENOSPC;
	}
	ret = pci_alloc_irq_vectors(pdev, need, need, PCI_IRQ_MSIX);
	if (ret < 0) {
		dev_err(&pdev->dev, "cannot allocate %u MSI-X vectors: %d\n",
			need, ret);
		return ret;
	}
	for (v = 0; v < need; v++) {
		struct ivs_vec *vec = &idev->vecs[v];

		snprintf(vec->irq_name, sizeof(vec->irq_name), "pvio_ivshmem-%s-%u",
			 pci_name(pdev), v);
		INIT_DELAYED_WORK(&vec->unmask, ivs_unmask);
		vec->win_irqs = 0;
		ret = request_irq(pci_irq_vector(pdev, v), ivs_irq, 0,
				  vec->irq_name, vec);
		if (ret) {
			dev_err(&pdev->dev, "cannot request the IRQ of vector %u: %d\n",
				v, ret);
			goto err_free_irqs;
		}
		vec->irq_requested = true;
	}
	idev->nr_vectors = need;
	/* MSI-X messages are memory writes by the device: without bus
	 * mastering QEMU drops them. */
	pci_set_master(pdev);
	return 0;

err_free_irqs:
	ivs_free_irqs(idev);
	pci_free_irq_vectors(pdev);
	return ret;
}

static void ivs_teardown_irqs(struct ivs_dev *idev)
{
	unsigned int v;

	pci_clear_master(idev->pdev);
	ivs_free_irqs(idev);
	pci_free_irq_vectors(idev->pdev);
	for (v = 0; v < PVIO_MAX_VECTORS; v++)
		idev->vecs[v].fn = NULL;
	idev->nr_vectors = 0;
}

/* ------------------------------------------------------------------------
 * The pvio device
 */

static void ivs_pvio_release(struct pvio_device *pvdev)
{
	pvio_backend_params_release(&pvdev->bp);
	kfree(pvdev);
}

/*
 * Register @pvdev (filled in but for ops and transport data) on the bus
 * and show it in debugfs. On failure @pvdev is gone and the IRQs are
 * still set up. Caller holds mode_lock.
 */
static int ivs_pvio_add(struct ivs_dev *idev, struct pvio_device *pvdev,
			enum ivs_mode mode)
{
	int ret;

	pvdev->ops = &ivs_ops;
	pvdev->transport_data = idev;
	/* Set before the device exists: a class driver's probe may bind a
	 * vector, and a doorbell may then arrive at once. */
	idev->pvdev = pvdev;
	idev->mode = mode;
	ret = pvio_device_register(pvdev, &idev->pdev->dev, ivs_pvio_release);
	if (ret) {
		idev->pvdev = NULL;
		idev->mode = IVS_IDLE;
		return ret;
	}
	ivs_debugfs_init(idev);
	return 0;
}

/* Take the pvio device away; the device is idle again. Caller holds
 * mode_lock. */
static void ivs_pvio_del(struct ivs_dev *idev)
{
	struct pci_dev *pdev = idev->pdev;
	unsigned int v;

	ivs_debugfs_remove(idev);
	/* Removes the class driver first, which unbinds its vectors. */
	pvio_device_unregister(idev->pvdev);
	/* A class driver that left a handler bound would have it called
	 * after it is gone; take it away here. */
	for (v = 0; v < idev->nr_vectors; v++) {
		if (READ_ONCE(idev->vecs[v].fn)) {
			dev_err(&pdev->dev, "class driver left vector %u bound\n", v);
			ivs_unbind_vec(idev, v);
		}
	}
	/* IRQs go before the mappings: a late doorbell must not find a
	 * handler whose device is half torn down. */
	ivs_teardown_irqs(idev);
	idev->pvdev = NULL;
	idev->mode = IVS_IDLE;
}

/* A region with the pvio magic: check it, then drive it. */
static int ivs_frontend_add(struct ivs_dev *idev)
{
	struct device *dev = &idev->pdev->dev;
	struct pvio_device *pvdev;
	struct pvio_region_layout *l;
	const char *reason;
	int ret;

	pvdev = kzalloc(sizeof(*pvdev), GFP_KERNEL);
	if (!pvdev)
		return -ENOMEM;
	l = &pvdev->layout;
	ret = pvio_region_check(idev->region, idev->bar_len, l, &reason);
	/* Parked: the caller decides whether to wait (ivs_ready_work()). */
	if (ret == -EAGAIN)
		goto err_free;
	if (ret == -EPROTONOSUPPORT) {
		dev_info(dev, "pvio region refused: %s (this driver speaks revision %u); leaving the device alone\n",
			 reason, PVIO_ABI_REV);
		ret = -ENODEV;
		goto err_free;
	}
	if (ret) {
		dev_err(dev, "pvio region refused: %s (%d)\n", reason, ret);
		goto err_free;
	}
	ret = ivs_setup_irqs(idev, l->nr_vectors);
	if (ret)
		goto err_free;

	pvdev->dev_class = l->dev_class;
	pvdev->role = PVIO_ROLE_FRONTEND;
	pvdev->region = idev->region;
	pvdev->region_size = l->region_size;
	pvdev->nr_vectors = l->nr_vectors;
	idev->ring_peer = backend_peer;
	dev_info(dev, "pvio region: %llu bytes, class %s, %u queue%s, %u vectors, peer id %d\n",
		 l->region_size, pvio_class_name(l->dev_class), l->num_queues,
		 l->num_queues == 1 ? "" : "s", l->nr_vectors, idev->peer_id);
	ret = ivs_pvio_add(idev, pvdev, IVS_FRONTEND);
	if (ret) {
		dev_err(dev, "cannot register the pvio device: %d\n", ret);
		goto err_teardown_irqs;
	}
	dev_info(dev, "frontend %s\n", dev_name(&idev->pvdev->dev));
	return 0;

err_teardown_irqs:
	ivs_teardown_irqs(idev);
	return ret;
err_free:
	kfree(pvdev);
	return ret;
}

/* Serve the region as a backend, as @line says. */
static int ivs_backend_add(struct ivs_dev *idev, const char *line)
{
	struct device *dev = &idev->pdev->dev;
	struct pvio_device *pvdev;
	int nvec, ret;

	if (idev->mode != IVS_IDLE) {
		dev_err(dev, "pvio_backend: the device already has a %s (%s); write \"remove\" first\n",
			ivs_mode_name(idev->mode), dev_name(&idev->pvdev->dev));
		return -EBUSY;
	}
	if (!is_power_of_2(idev->bar_len) || idev->bar_len < PVIO_REGION_MIN_SIZE) {
		dev_err(dev, "pvio_backend: BAR2 is %llu bytes, not a power of two of at least %llu\n",
			idev->bar_len, PVIO_REGION_MIN_SIZE);
		return -EINVAL;
	}
	pvdev = kzalloc(sizeof(*pvdev), GFP_KERNEL);
	if (!pvdev)
		return -ENOMEM;
	ret = pvio_backend_params_parse(line, &pvdev->dev_class, &pvdev->bp);
	if (ret)
		goto err_free;
	if (pvdev->bp.peer > 0xffff) {
		dev_err(dev, "pvio_backend: peer=N required (the frontend's ivshmem peer id)\n");
		ret = -EINVAL;
		goto err_release_params;
	}
	if ((int)pvdev->bp.peer == idev->peer_id) {
		dev_err(dev, "pvio_backend: peer=%u is this device's own peer id\n",
			pvdev->bp.peer);
		ret = -EINVAL;
		goto err_release_params;
	}
	nvec = pci_msix_vec_count(idev->pdev);
	if (nvec < 2) {
		dev_err(dev, "pvio_backend: the device has %d MSI-X vectors, a backend needs 2 or more\n",
			nvec);
		ret = -ENOSPC;
		goto err_release_params;
	}
	ret = ivs_setup_irqs(idev, min_t(unsigned int, nvec, PVIO_MAX_VECTORS));
	if (ret)
		goto err_release_params;

	pvdev->role = PVIO_ROLE_BACKEND;
	pvdev->region = idev->region;
	pvdev->region_size = idev->bar_len;
	pvdev->nr_vectors = idev->nr_vectors;
	idev->ring_peer = pvdev->bp.peer;
	ret = ivs_pvio_add(idev, pvdev, IVS_BACKEND);
	if (ret) {
		dev_err(dev, "cannot register the pvio device: %d\n", ret);
		goto err_teardown_irqs;
	}
	dev_info(dev, "backend %s: %s %s%s, %u queue%s, frontend peer %u, %u vectors\n",
		 dev_name(&idev->pvdev->dev), pvio_class_name(idev->pvdev->dev_class),
		 idev->pvdev->bp.path, idev->pvdev->bp.read_only ? " (ro)" : "",
		 idev->pvdev->bp.num_queues,
		 idev->pvdev->bp.num_queues == 1 ? "" : "s",
		 idev->pvdev->bp.peer, idev->nr_vectors);
	return 0;

err_teardown_irqs:
	/* ivs_pvio_add() freed @pvdev and its parameters. */
	ivs_teardown_irqs(idev);
	return ret;
err_release_params:
	pvio_backend_params_release(&pvdev->bp);
err_free:
	kfree(pvdev);
	return ret;
}

static int ivs_backend_remove(struct ivs_dev *idev)
{
	char name[16];

	if (idev->mode != IVS_BACKEND) {
		dev_err(&idev->pdev->dev, "pvio_backend: no backend to remove\n");
		return -ENODEV;
	}
	strscpy(name, dev_name(&idev->pvdev->dev), sizeof(name));
	ivs_pvio_del(idev);
	dev_info(&idev->pdev->dev, "backend %s removed\n", name);
	return 0;
}

/*
 * /sys/bus/pci/devices/<bdf>/pvio_backend: a backend line serves the
 * region; "remove" stops serving it.
 */
static ssize_t pvio_backend_store(struct device *dev,
				  struct device_attribute *attr,
				  const char *buf, size_t len)
{
	struct ivs_dev *idev = pci_get_drvdata(to_pci_dev(dev));
	int ret;

	mutex_lock(&idev->mode_lock);
	if (sysfs_streq(buf, "remove"))
		ret = ivs_backend_remove(idev);
	else
		ret = ivs_backend_add(idev, buf);
	mutex_unlock(&idev->mode_lock);
	return ret ? ret : len;
}
static DEVICE_ATTR_WO(pvio_backend);

static struct attribute *ivs_dev_attrs[] = {
	&dev_attr_pvio_backend.attr,
	NULL,
};
ATTRIBUTE_GROUPS(ivs_dev);

/*
 * A frontend device whose region was parked at probe: its backend (a
 * region server's engine starting or restarting, a driver VM booting)
 * has not laid it out yet. Look again until it has, or until
 * ready_wait_s have passed; the device stays bound meanwhile, doing
 * nothing, so that pvio_backend still works on it.
 */
static void ivs_ready_work(struct work_struct *work)
{
	struct ivs_dev *idev = container_of(to_delayed_work(work),
					    struct ivs_dev, ready_work);
	struct device *dev = &idev->pdev->dev;
	int ret;

	mutex_lock(&idev->mode_lock);
	/* pvio_backend took the device meanwhile. */
	if (idev->mode != IVS_IDLE)
		goto out;
	ret = ivs_frontend_add(idev);
	if (ret != -EAGAIN)
		goto out;
	if (time_before(jiffies, idev->ready_deadline)) {
		schedule_delayed_work(&idev->ready_work,
				      msecs_to_jiffies(IVS_READY_POLL_MS));
		goto out;
	}
	dev_err(dev, "backend did not lay the region out within %u s; leaving the device alone (bind the driver again to retry)\n",
		ready_wait_s);
out:
	mutex_unlock(&idev->mode_lock);
}

/* ------------------------------------------------------------------------
 * PCI probe and remove
 */

/* Only ivshmem-doorbell (revision 1 with MSI-X) carries doorbells. */
static int ivs_check_device(struct pci_dev *pdev)
{
	int nvec;

	if (pdev->revision != IVS_REVISION) {
		dev_info(&pdev->dev, "ivshmem revision %u, not ivshmem-doorbell; not binding\n",
			 pdev->revision);
		return -ENODEV;
	}
	nvec = pci_msix_vec_count(pdev);
	if (nvec <= 0) {
		dev_info(&pdev->dev, "ivshmem without MSI-X (ivshmem-plain?); not binding\n");
		return -ENODEV;
	}
	return 0;
}

static int ivs_map(struct ivs_dev *idev)
{
	struct pci_dev *pdev = idev->pdev;
	resource_size_t start, len;

	if (!(pci_resource_flags(pdev, IVS_BAR_REGS) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, IVS_BAR_REGS) < IVS_BAR0_MIN_LEN ||
	    !(pci_resource_flags(pdev, IVS_BAR_REGION) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, IVS_BAR_REGION) < PVIO_REGION_HDR_SIZE) {
		dev_err(&pdev->dev, "unexpected BAR layout\n");
		return -ENODEV;
	}
	idev->regs = pci_iomap(pdev, IVS_BAR_REGS, IVS_BAR0_MIN_LEN);
	if (!idev->regs)
		return -ENOMEM;

	start = pci_resource_start(pdev, IVS_BAR_REGION);
	len = pci_resource_len(pdev, IVS_BAR_REGION);
	/* The region is RAM on the host side (a memfd), not device memory:
	 * map it cacheable so that rings and data cost what RAM costs. */
	idev->region = memremap(start, len, MEMREMAP_WB);
	if (!idev->region) {
		pci_iounmap(pdev, idev->regs);
		idev->regs = NULL;
		return -ENOMEM;
	}
	idev->bar_len = len;
	return 0;
}

static void ivs_unmap(struct ivs_dev *idev)
{
	memunmap(idev->region);
	idev->region = NULL;
	pci_iounmap(idev->pdev, idev->regs);
	idev->regs = NULL;
}

static int ivs_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	unsigned int v, wait_s;
	struct ivs_dev *idev;
	u64 magic;
	int ret;

	ret = ivs_check_device(pdev);
	if (ret)
		return ret;

	idev = kzalloc(sizeof(*idev), GFP_KERNEL);
	if (!idev)
		return -ENOMEM;
	idev->pdev = pdev;
	mutex_init(&idev->bind_lock);
	mutex_init(&idev->mode_lock);
	INIT_DELAYED_WORK(&idev->ready_work, ivs_ready_work);
	for (v = 0; v < PVIO_MAX_VECTORS; v++) {
		idev->vecs[v].idev = idev;
		idev->vecs[v].vector = v;
	}

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_free;
	ret = pci_request_regions(pdev, KBUILD_MODNAME);
	if (ret)
		goto err_disable;
	ret = ivs_map(idev);
	if (ret)
		goto err_release;
	idev->peer_id = (int)ioread32(idev->regs + IVS_REG_IVPOSITION);
	pci_set_drvdata(pdev, idev);

	/* Only looked at, never used: the check below copies what it uses. */
	magic = le64_to_cpu(READ_ONCE(((struct pvio_region_hdr *)idev->region)->magic));
	/* Peer id 0 is the backend's (PVIO_BACKEND_PEER): a driver VM whose
	 * region still holds the layout of its previous boot serves it
	 * again through pvio_backend rather than driving it. */
	if (magic == PVIO_REGION_MAGIC && idev->peer_id == PVIO_BACKEND_PEER) {
		dev_info(&pdev->dev, "pvio region of a backend (peer id %d); leaving it to pvio_backend\n",
			 idev->peer_id);
		return 0;
	}
	if (magic != PVIO_REGION_MAGIC) {
		/* Stay bound, touching nothing, so that pvio_backend exists
		 * for a driver VM that is to serve this region. */
		dev_info(&pdev->dev, "no pvio region (magic %#llx); leaving the device alone (peer id %d; pvio_backend serves it)\n",
			 magic, idev->peer_id);
		return 0;
	}
	mutex_lock(&idev->mode_lock);
	ret = ivs_frontend_add(idev);
	mutex_unlock(&idev->mode_lock);
	wait_s = READ_ONCE(ready_wait_s);
	if (ret == -EAGAIN && wait_s) {
		dev_info(&pdev->dev, "pvio region parked: its backend has not laid it out yet; waiting up to %u s (peer id %d)\n",
			 wait_s, idev->peer_id);
		idev->ready_deadline = jiffies + (unsigned long)wait_s * HZ;
		schedule_delayed_work(&idev->ready_work,
				      msecs_to_jiffies(IVS_READY_POLL_MS));
		return 0;
	}
	if (ret == -EAGAIN)
		dev_err(&pdev->dev, "pvio region refused: backend not ready (ready_wait_s is 0)\n");
	if (ret)
		goto err_unmap;
	return 0;

err_unmap:
	ivs_unmap(idev);
err_release:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
err_free:
	kfree(idev);
	return ret;
}

static void ivs_remove(struct pci_dev *pdev)
{
	struct ivs_dev *idev = pci_get_drvdata(pdev);

	/* Before the lock, which the work takes; it re-arms only while
	 * running, and cancel_delayed_work_sync() waits for that too. */
	cancel_delayed_work_sync(&idev->ready_work);
	/* pvio_backend is gone already (the driver core removes the
	 * driver's attributes first), so nothing changes @mode under us. */
	mutex_lock(&idev->mode_lock);
	if (idev->mode != IVS_IDLE)
		ivs_pvio_del(idev);
	mutex_unlock(&idev->mode_lock);

	ivs_unmap(idev);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	dev_info(&pdev->dev, "pvio region released\n");
	kfree(idev);
}

static const struct pci_device_id ivs_ids[] = {
	{ PCI_DEVICE(IVS_VENDOR_ID, IVS_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ivs_ids);

static struct pci_driver ivs_driver = {
	.name = KBUILD_MODNAME,
	.id_table = ivs_ids,
	.probe = ivs_probe,
	.remove = ivs_remove,
	.dev_groups = ivs_dev_groups,
};

static int __init ivs_init(void)
{
	int ret;

	if (backend_peer > 0xffff) {
		pr_err("pvio_ivshmem: backend_peer=%u is not an ivshmem peer id (0..65535)\n",
		       backend_peer);
		return -EINVAL;
	}
	ivs_dbg_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	ret = pci_register_driver(&ivs_driver);
	if (ret)
		debugfs_remove_recursive(ivs_dbg_root);
	return ret;
}

static void __exit ivs_exit(void)
{
	pci_unregister_driver(&ivs_driver);
	debugfs_remove_recursive(ivs_dbg_root);
}

module_init(ivs_init);
module_exit(ivs_exit);

MODULE_DESCRIPTION("pvio transport over QEMU's ivshmem-doorbell device");
MODULE_LICENSE("Dual MIT/GPL");
