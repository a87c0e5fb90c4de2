// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * pvio_ivshmem - the guest kernel transport of pvio over QEMU's stock
 * ivshmem-doorbell device (1af4:1110, revision 1, MSI-X).
 *
 * The device: BAR0 holds four 32-bit registers (IntrMask, IntrStatus,
 * IVPosition = our own peer id, Doorbell); BAR1 the MSI-X table; BAR2 the
 * shared region, plain RAM on the host side, so it is mapped write-back.
 * Writing (peer << 16) | vector to Doorbell rings that peer's vector; the
 * backend is the ivshmem server, peer 0. The backend ringing our vector N
 * raises MSI-X vector N.
 *
 * A region that does not start with the pvio magic is someone else's: probe
 * logs one line and declines without touching it further. A pvio region
 * whose layout breaks a rule is refused with a message naming the rule.
 * Otherwise the device becomes a struct pvio_transport (pvio_transport.h)
 * and is handed to the class driver registered for its dev_class.
 *
 * debugfs, for tests and for looking at a live device, in
 * /sys/kernel/debug/pvio_ivshmem/<pci device>/:
 *   notify      write a vector number: rings the backend's vector
 *   irq_counts  one line per vector: "<vector> irqs <n> notifies <n>"
 *   info        peer id, region size, class, queues and their vectors
 */
#include <linux/atomic.h>
#include <linux/bitmap.h>
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

#include <pvio/region.h>
#include "pvio_ring.h"
#include "pvio_transport.h"

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

/* The backend's peer id: the ivshmem server is peer 0 in pvio. */
#define IVS_BACKEND_PEER 0u

/* Region data areas start on this boundary (back/region_layout.h). */
#define IVS_DATA_ALIGN 4096u

struct ivs_dev;

struct ivs_vec {
	struct ivs_dev *idev;
	unsigned int vector;
	bool irq_requested;
	/* Published with release after @data; read with acquire in the IRQ. */
	pvio_transport_handler_fn *fn;
	void *data;
	atomic_long_t irqs;
	atomic_long_t notifies;
	char irq_name[40];
};

struct ivs_dev {
	struct pvio_transport t;
	struct pci_dev *pdev;
	void __iomem *regs;
	int peer_id;
	struct dentry *dbg;
	struct mutex bind_lock; /* serialises bind/unbind of handlers */
	struct ivs_vec vecs[PVIO_MAX_VECTORS];
};

static struct dentry *ivs_dbg_root;

/* The class-driver registry: transports and class drivers meet here. */
static DEFINE_MUTEX(ivs_registry_lock);
static LIST_HEAD(ivs_transports);
static LIST_HEAD(ivs_classes);

static struct ivs_dev *to_ivs(struct pvio_transport *t)
{
	return container_of(t, struct ivs_dev, t);
}

static const char *ivs_class_name(u32 dev_class)
{
	switch (dev_class) {
	case PVIO_CLASS_BLK:
		return "blk";
	case PVIO_CLASS_NET:
		return "net";
	default:
		return "unknown";
	}
}

/* ------------------------------------------------------------------------
 * Transport operations
 */

static int ivs_notify(struct pvio_transport *t, unsigned int vector)
{
	struct ivs_dev *idev = to_ivs(t);

	if (vector >= PVIO_MAX_VECTORS)
		return -EINVAL;
	/* iowrite32 orders the caller's earlier stores to the region (ring
	 * indices published with release) before the doorbell reaches the
	 * device: on x86 an uncached MMIO write is not reordered with earlier
	 * stores, and on weaker architectures iowrite32 carries a wmb(). */
	iowrite32((IVS_BACKEND_PEER << 16) | vector,
		  idev->regs + IVS_REG_DOORBELL);
	atomic_long_inc(&idev->vecs[vector].notifies);
	return 0;
}

static int ivs_bind(struct pvio_transport *t, unsigned int vector,
		    pvio_transport_handler_fn *fn, void *data)
{
	struct ivs_dev *idev = to_ivs(t);
	struct ivs_vec *vec;
	int ret = 0;

	if (vector >= PVIO_MAX_VECTORS || !fn)
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

static void ivs_unbind(struct pvio_transport *t, unsigned int vector)
{
	struct ivs_dev *idev = to_ivs(t);
	struct ivs_vec *vec;

	if (vector >= PVIO_MAX_VECTORS)
		return;
	vec = &idev->vecs[vector];
	mutex_lock(&idev->bind_lock);
	if (vec->fn) {
		WRITE_ONCE(vec->fn, NULL);
		/* A handler that loaded the old @fn finishes before we return,
		 * so the caller may free what @data points to. */
		synchronize_irq(pci_irq_vector(idev->pdev, vector));
		vec->data = NULL;
	}
	mutex_unlock(&idev->bind_lock);
}

static const struct pvio_transport_ops ivs_ops = {
	.notify = ivs_notify,
	.bind = ivs_bind,
	.unbind = ivs_unbind,
};

static irqreturn_t ivs_irq(int irq, void *arg)
{
	struct ivs_vec *vec = arg;
	pvio_transport_handler_fn *fn;

	atomic_long_inc(&vec->irqs);
	/* Acquire: pairs with the release in ivs_bind(), so @data is the one
	 * published with this @fn. */
	fn = smp_load_acquire(&vec->fn);
	if (fn)
		fn(&vec->idev->t, vec->vector, vec->data);
	return IRQ_HANDLED;
}

/* ------------------------------------------------------------------------
 * Class-driver registry
 */

/* Hand @t to @drv. Called with ivs_registry_lock held. */
static void ivs_class_attach(struct pvio_transport *t,
			     struct pvio_class_driver *drv)
{
	int ret;

	ret = drv->probe(t);
	if (ret) {
		dev_err(t->dev, "class driver %s refused the device: %d\n",
			drv->name, ret);
		return;
	}
	t->drv = drv;
	dev_info(t->dev, "bound to class driver %s\n", drv->name);
}

/* Take @t away from its class driver, if any; ivs_registry_lock held. */
static void ivs_class_detach(struct pvio_transport *t)
{
	struct ivs_dev *idev = to_ivs(t);
	unsigned int v;

	if (!t->drv)
		return;
	t->drv->remove(t);
	dev_info(t->dev, "unbound from class driver %s\n", t->drv->name);
	t->drv = NULL;
	t->class_data = NULL;
	/* A class driver that left a handler bound would have it called
	 * after it is gone; take it away here. */
	for (v = 0; v < PVIO_MAX_VECTORS; v++) {
		if (READ_ONCE(idev->vecs[v].fn)) {
			dev_err(t->dev, "class driver left vector %u bound\n", v);
			ivs_unbind(t, v);
		}
	}
}

/**
 * pvio_transport_register_class() - offer a class driver its devices.
 * @drv: the driver; @drv->dev_class, probe and remove set; stays registered
 *       (and in memory) until pvio_transport_unregister_class()
 *
 * Every transport device whose header names @drv->dev_class and that no
 * driver holds yet is passed to @drv->probe now; later ones as they appear.
 *
 * Context: process, may sleep; calls @drv->probe.
 * Return: 0; -EINVAL for a driver without callbacks or with class
 * PVIO_CLASS_NONE; -EBUSY if a driver already serves that class.
 */
int pvio_transport_register_class(struct pvio_class_driver *drv)
{
	struct pvio_class_driver *other;
	struct pvio_transport *t;
	int ret = 0;

	if (!drv || !drv->probe || !drv->remove || !drv->name ||
	    drv->dev_class == PVIO_CLASS_NONE)
		return -EINVAL;
	mutex_lock(&ivs_registry_lock);
	list_for_each_entry(other, &ivs_classes, node) {
		if (other->dev_class == drv->dev_class) {
			ret = -EBUSY;
			goto out_unlock;
		}
	}
	list_add_tail(&drv->node, &ivs_classes);
	list_for_each_entry(t, &ivs_transports, node)
		if (!t->drv && t->layout.dev_class == drv->dev_class)
			ivs_class_attach(t, drv);
out_unlock:
	mutex_unlock(&ivs_registry_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(pvio_transport_register_class);

/**
 * pvio_transport_unregister_class() - take every device away from @drv.
 * @drv: a driver registered with pvio_transport_register_class()
 *
 * Calls @drv->remove for each device it holds; when this returns, @drv is
 * not called again.
 *
 * Context: process, may sleep; calls @drv->remove.
 */
void pvio_transport_unregister_class(struct pvio_class_driver *drv)
{
	struct pvio_transport *t;

	mutex_lock(&ivs_registry_lock);
	list_for_each_entry(t, &ivs_transports, node)
		if (t->drv == drv)
			ivs_class_detach(t);
	list_del(&drv->node);
	mutex_unlock(&ivs_registry_lock);
}
EXPORT_SYMBOL_GPL(pvio_transport_unregister_class);

/* ------------------------------------------------------------------------
 * Header
 */

/* [off, off + len) lies inside @size bytes, without wrapping. */
static bool ivs_inside(u64 off, u64 len, u64 size)
{
	return off <= size && len <= size - off;
}

/* Span @i of the layout: 0 is the header, then each queue's request
 * ring, response ring and data area. */
static void ivs_span(const struct pvio_transport_layout *l, unsigned int i,
		     u64 *start, u64 *end)
{
	const struct pvio_transport_queue *q;

	if (i == 0) {
		*start = 0;
		*end = PVIO_REGION_HDR_SIZE;
		return;
	}
	q = &l->queues[(i - 1) / 3];
	switch ((i - 1) % 3) {
	case 0:
		*start = q->req_ring_off;
		*end = *start + PVIO_RING_BYTES(q->req_entries, q->req_entry_size);
		break;
	case 1:
		*start = q->rsp_ring_off;
		*end = *start + PVIO_RING_BYTES(q->rsp_entries, q->rsp_entry_size);
		break;
	default:
		*start = q->data_off;
		*end = *start + q->data_size;
		break;
	}
}

/* Copy queue @i's descriptor out of shared memory, once. */
static void ivs_copy_queue(const struct pvio_queue_desc *d,
			   struct pvio_transport_queue *q)
{
	q->req_ring_off = le64_to_cpu(READ_ONCE(d->req_ring_off));
	q->rsp_ring_off = le64_to_cpu(READ_ONCE(d->rsp_ring_off));
	q->data_off = le64_to_cpu(READ_ONCE(d->data_off));
	q->data_size = le64_to_cpu(READ_ONCE(d->data_size));
	q->req_entries = le32_to_cpu(READ_ONCE(d->req_entries));
	q->rsp_entries = le32_to_cpu(READ_ONCE(d->rsp_entries));
	q->req_entry_size = le32_to_cpu(READ_ONCE(d->req_entry_size));
	q->rsp_entry_size = le32_to_cpu(READ_ONCE(d->rsp_entry_size));
	q->vector = le32_to_cpu(READ_ONCE(d->vector));
}

/* Check the copy of queue @i; on failure say why in @why. */
static int ivs_check_queue(const struct pvio_transport_queue *q, u64 size,
			   unsigned long *used, const char **why)
{
	if (q->vector == PVIO_VECTOR_CONTROL || q->vector >= PVIO_MAX_VECTORS) {
		*why = "vector outside 1..255";
		return -EPROTO;
	}
	if (test_and_set_bit(q->vector, used)) {
		*why = "vector shared with another queue";
		return -EPROTO;
	}
	if (pvio_ring_geometry_valid(q->req_entries, q->req_entry_size) ||
	    pvio_ring_geometry_valid(q->rsp_entries, q->rsp_entry_size)) {
		*why = "ring geometry invalid";
		return -EPROTO;
	}
	if (q->req_ring_off % PVIO_CACHELINE || q->rsp_ring_off % PVIO_CACHELINE) {
		*why = "ring not cache-line aligned";
		return -EPROTO;
	}
	if (q->data_off % IVS_DATA_ALIGN || q->data_size == 0) {
		*why = "data area empty or not 4096-aligned";
		return -EPROTO;
	}
	if (!ivs_inside(q->req_ring_off,
			PVIO_RING_BYTES(q->req_entries, q->req_entry_size), size) ||
	    !ivs_inside(q->rsp_ring_off,
			PVIO_RING_BYTES(q->rsp_entries, q->rsp_entry_size), size)) {
		*why = "ring outside the region";
		return -EPROTO;
	}
	if (!ivs_inside(q->data_off, q->data_size, size)) {
		*why = "data area outside the region";
		return -EPROTO;
	}
	return 0;
}

/*
 * Magic and ABI revision, before anything else. -ENODEV quietly (one info
 * line) for a region that is not pvio's.
 */
static int ivs_check_magic(struct ivs_dev *idev)
{
	const struct pvio_region_hdr *hdr = idev->t.region;
	struct device *dev = &idev->pdev->dev;
	u64 magic = le64_to_cpu(READ_ONCE(hdr->magic));
	u32 rev = le32_to_cpu(READ_ONCE(hdr->abi_rev));

	if (magic != PVIO_REGION_MAGIC) {
		dev_info(dev, "no pvio region (magic %#llx); leaving the device alone\n",
			 magic);
		return -ENODEV;
	}
	if (rev != PVIO_ABI_REV) {
		dev_info(dev, "pvio region of ABI revision %u, this driver speaks %u; leaving the device alone\n",
			 rev, PVIO_ABI_REV);
		return -ENODEV;
	}
	return 0;
}

/* Copy the layout out of the header once and check every rule on the copy. */
static int ivs_read_layout(struct ivs_dev *idev, u64 bar_len)
{
	const struct pvio_region_hdr *hdr = idev->t.region;
	struct pvio_transport_layout *l = &idev->t.layout;
	struct device *dev = &idev->pdev->dev;
	DECLARE_BITMAP(used, PVIO_MAX_VECTORS);
	unsigned int i, k, n, max_vec = 0;
	const char *why;
	u32 state, hdr_size;
	int ret;

	/* Acquire: pairs with the backend's release of back.state when it
	 * publishes INITWAIT (pvio_region_layout_blk); the queue table read
	 * below is then the one it finished writing. */
	state = le32_to_cpu(smp_load_acquire(&hdr->back.state));
	if (state < PVIO_STATE_INITWAIT || state > PVIO_STATE_CLOSED) {
		dev_err(dev, "pvio region refused: backend state %u, not ready\n",
			state);
		return -EAGAIN;
	}
	hdr_size = le32_to_cpu(READ_ONCE(hdr->hdr_size));
	l->dev_class = le32_to_cpu(READ_ONCE(hdr->dev_class));
	l->num_queues = le32_to_cpu(READ_ONCE(hdr->num_queues));
	l->region_size = le64_to_cpu(READ_ONCE(hdr->region_size));

	if (hdr_size != PVIO_REGION_HDR_SIZE) {
		dev_err(dev, "pvio region refused: header size %u, expected %u\n",
			hdr_size, PVIO_REGION_HDR_SIZE);
		return -EPROTO;
	}
	if (memchr_inv(hdr->reserved0, 0, sizeof(hdr->reserved0))) {
		dev_err(dev, "pvio region refused: reserved header bytes not zero\n");
		return -EPROTO;
	}
	if (l->dev_class == PVIO_CLASS_NONE) {
		dev_err(dev, "pvio region refused: no device class\n");
		return -EPROTO;
	}
	if (!is_power_of_2(l->region_size) ||
	    l->region_size < PVIO_REGION_MIN_SIZE || l->region_size > bar_len) {
		dev_err(dev, "pvio region refused: region size %llu not a power of two in %llu..%llu (BAR2)\n",
			l->region_size, PVIO_REGION_MIN_SIZE, bar_len);
		return -EPROTO;
	}
	if (l->num_queues == 0 || l->num_queues > PVIO_MAX_QUEUES) {
		dev_err(dev, "pvio region refused: %u queues, expected 1..%u\n",
			l->num_queues, PVIO_MAX_QUEUES);
		return -EPROTO;
	}

	bitmap_zero(used, PVIO_MAX_VECTORS);
	__set_bit(PVIO_VECTOR_CONTROL, used);
	for (i = 0; i < l->num_queues; i++) {
		struct pvio_transport_queue *q = &l->queues[i];

		ivs_copy_queue(&hdr->queues[i], q);
		ret = ivs_check_queue(q, l->region_size, used, &why);
		/* Read once and only compared, never used afterwards. */
		if (!ret && memchr_inv(hdr->queues[i].reserved, 0,
				       sizeof(hdr->queues[i].reserved))) {
			why = "reserved bytes not zero";
			ret = -EPROTO;
		}
		if (ret) {
			dev_err(dev, "pvio region refused: queue %u: %s (rings %#llx %#llx, data %#llx+%#llx, vector %u, region %#llx)\n",
				i, why, q->req_ring_off, q->rsp_ring_off,
				q->data_off, q->data_size, q->vector,
				l->region_size);
			return ret;
		}
		max_vec = max(max_vec, q->vector);
	}

	n = 1 + 3 * l->num_queues;
	for (i = 0; i < n; i++) {
		for (k = i + 1; k < n; k++) {
			u64 s1, e1, s2, e2;

			ivs_span(l, i, &s1, &e1);
			ivs_span(l, k, &s2, &e2);
			if (s1 < e2 && s2 < e1) {
				dev_err(dev, "pvio region refused: header, rings or data areas overlap ([%#llx, %#llx) and [%#llx, %#llx))\n",
					s1, e1, s2, e2);
				return -EPROTO;
			}
		}
	}
	l->nr_vectors = max_vec + 1;
	return 0;
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
	ret = ivs_notify(&idev->t, vector);
	return ret ? ret : len;
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
		seq_printf(m, "%u irqs %ld notifies %ld\n", v,
			   atomic_long_read(&vec->irqs), notifies);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ivs_dbg_irq_counts);

static int ivs_dbg_info_show(struct seq_file *m, void *unused)
{
	struct ivs_dev *idev = m->private;
	const struct pvio_transport_layout *l = &idev->t.layout;
	unsigned int i;

	seq_printf(m, "peer_id %d\nregion_size %llu\nclass %s\nqueues %u\nvectors %u\n",
		   idev->peer_id, l->region_size, ivs_class_name(l->dev_class),
		   l->num_queues, l->nr_vectors);
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

static int ivs_map(struct ivs_dev *idev, u64 *bar_len)
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
	idev->t.region = memremap(start, len, MEMREMAP_WB);
	if (!idev->t.region) {
		pci_iounmap(pdev, idev->regs);
		idev->regs = NULL;
		return -ENOMEM;
	}
	*bar_len = len;
	return 0;
}

static void ivs_unmap(struct ivs_dev *idev)
{
	memunmap(idev->t.region);
	idev->t.region = NULL;
	pci_iounmap(idev->pdev, idev->regs);
	idev->regs = NULL;
}

static void ivs_free_irqs(struct ivs_dev *idev)
{
	unsigned int v;

	for (v = 0; v < PVIO_MAX_VECTORS; v++) {
		struct ivs_vec *vec = &idev->vecs[v];

		if (!vec->irq_requested)
			continue;
		free_irq(pci_irq_vector(idev->pdev, v), vec);
		vec->irq_requested = false;
	}
}

/* MSI-X vector N is doorbell N: allocate up to the highest vector used
 * and request an IRQ for the control vector and each queue's. */
static int ivs_setup_irqs(struct ivs_dev *idev)
{
	const struct pvio_transport_layout *l = &idev->t.layout;
	struct pci_dev *pdev = idev->pdev;
	unsigned int i, need = l->nr_vectors;
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

	for (i = 0; i <= l->num_queues; i++) {
		unsigned int v = i == 0 ? PVIO_VECTOR_CONTROL : l->queues[i - 1].vector;
		struct ivs_vec *vec = &idev->vecs[v];

		snprintf(vec->irq_name, sizeof(vec->irq_name), "pvio_ivshmem-%s-%u",
			 pci_name(pdev), v);
		ret = request_irq(pci_irq_vector(pdev, v), ivs_irq, 0,
				  vec->irq_name, vec);
		if (ret) {
			dev_err(&pdev->dev, "cannot request the IRQ of vector %u: %d\n",
				v, ret);
			goto err_free_irqs;
		}
		vec->irq_requested = true;
	}
	return 0;

err_free_irqs:
	ivs_free_irqs(idev);
	pci_free_irq_vectors(pdev);
	return ret;
}

static void ivs_teardown_irqs(struct ivs_dev *idev)
{
	ivs_free_irqs(idev);
	pci_free_irq_vectors(idev->pdev);
}

static int ivs_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct pvio_class_driver *drv;
	struct ivs_dev *idev;
	u64 bar_len;
	unsigned int v;
	int ret;

	ret = ivs_check_device(pdev);
	if (ret)
		return ret;

	idev = kzalloc(sizeof(*idev), GFP_KERNEL);
	if (!idev)
		return -ENOMEM;
	idev->pdev = pdev;
	mutex_init(&idev->bind_lock);
	for (v = 0; v < PVIO_MAX_VECTORS; v++) {
		idev->vecs[v].idev = idev;
		idev->vecs[v].vector = v;
	}
	idev->t.dev = &pdev->dev;
	idev->t.ops = &ivs_ops;
	INIT_LIST_HEAD(&idev->t.node);

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_free;
	ret = pci_request_regions(pdev, KBUILD_MODNAME);
	if (ret)
		goto err_disable;
	ret = ivs_map(idev, &bar_len);
	if (ret)
		goto err_release;
	ret = ivs_check_magic(idev);
	if (ret)
		goto err_unmap;
	ret = ivs_read_layout(idev, bar_len);
	if (ret)
		goto err_unmap;
	idev->t.region_size = idev->t.layout.region_size;
	/* MSI-X messages are memory writes by the device: without bus
	 * mastering QEMU drops them. */
	pci_set_master(pdev);
	ret = ivs_setup_irqs(idev);
	if (ret)
		goto err_clear_master;
	idev->peer_id = (int)ioread32(idev->regs + IVS_REG_IVPOSITION);
	pci_set_drvdata(pdev, idev);
	ivs_debugfs_init(idev);

	dev_info(&pdev->dev, "pvio region: %llu bytes, class %s, %u queue%s, %u vectors, peer id %d\n",
		 idev->t.region_size, ivs_class_name(idev->t.layout.dev_class),
		 idev->t.layout.num_queues,
		 idev->t.layout.num_queues == 1 ? "" : "s",
		 idev->t.layout.nr_vectors, idev->peer_id);

	mutex_lock(&ivs_registry_lock);
	list_add_tail(&idev->t.node, &ivs_transports);
	list_for_each_entry(drv, &ivs_classes, node) {
		if (drv->dev_class == idev->t.layout.dev_class) {
			ivs_class_attach(&idev->t, drv);
			break;
		}
	}
	mutex_unlock(&ivs_registry_lock);
	return 0;

err_clear_master:
	pci_clear_master(pdev);
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

	mutex_lock(&ivs_registry_lock);
	ivs_class_detach(&idev->t);
	list_del(&idev->t.node);
	mutex_unlock(&ivs_registry_lock);

	/* debugfs removal waits for readers and writers in progress, so no
	 * notify write can reach BAR0 after this. */
	debugfs_remove_recursive(idev->dbg);
	/* IRQs go before the mappings: a late doorbell must not find a
	 * handler whose device is half torn down. */
	ivs_teardown_irqs(idev);
	pci_clear_master(pdev);
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
};

static int __init ivs_init(void)
{
	int ret;

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
