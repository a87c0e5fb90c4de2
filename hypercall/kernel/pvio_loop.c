// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * pvio_loop - the pvio transport with both ends in this kernel: a pair is
 * a BACKEND and a FRONTEND pvio device sharing one region in vmalloc
 * memory, for tests and for measuring the driver path without any
 * hypervisor.
 *
 * Control files, in /sys/devices/pvio_loop/:
 *   add     write a backend line (pvio_backend_params_parse(): "blk PATH
 *           [ro] [queues=N] [entries=N]"): creates pair N. The BACKEND
 *           device comes first; its class driver (pvblkback) lays the
 *           region out; once pvio_region_check() accepts what it wrote,
 *           the FRONTEND device is registered with that checked layout
 *           and its class driver (pvblk) connects as over any transport.
 *           Fails with -ENODEV if no backend class driver takes the
 *           backend device within LOOP_BIND_GRACE_MS, and with -ETIMEDOUT
 *           if it does not lay the region out within LOOP_LAYOUT_TIMEOUT_MS;
 *           either way the pair is undone.
 *   remove  write a pair number: removes the pair, frontend first.
 *   pairs   one line per pair: "N blk PATH queues Q region BYTES frontend
 *           pvioF backend pvioB".
 * Unloading the module removes every pair.
 *
 * Region size: enough for the queues' rings and, per queue, a data area
 * for 128 requests of 128 KiB (16 MiB), shrunk so that all data areas
 * together stay within 32 MiB (1 MiB per queue at least), rounded up to a
 * power of two: 32 MiB for one queue, 64 MiB for 2 to 32 queues of up to
 * 128 entries. The backend class driver decides the layout inside it.
 *
 * Doorbells: pvio_notify(vector) on one side runs the handler the other
 * side bound to that vector, directly, in the context of the caller of
 * pvio_notify() (process, softirq or hard IRQ; interrupts and preemption
 * as the caller left them) under rcu_read_lock(). There is no lock and no
 * deferral: a handler already running for that vector (on another CPU, or
 * interrupted on this one, or up the stack when a handler rings its own
 * peer back) is not run again concurrently; the ring is recorded and the
 * running call makes one more pass, so that a handler never runs
 * concurrently with itself and rings that arrive while it runs are folded
 * into one more run, as doorbells allow. Unbinding clears the handler and
 * waits for an RCU grace period, after which it cannot be running.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/idr.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include <pvio/blk.h>
#include "pvio_core.h"
#include "region.h"

#define LOOP_DEFAULT_ENTRIES 128u
#define LOOP_DATA_PER_QUEUE (16ull << 20)  /* 128 requests of 128 KiB */
#define LOOP_DATA_TOTAL (32ull << 20)
#define LOOP_DATA_MIN (1ull << 20)
/* How long a backend class driver may take to lay the region out. */
#define LOOP_LAYOUT_TIMEOUT_MS 10000
/* How long the backend device may stay without a driver before add gives
 * up (covers a class driver that probes asynchronously). */
#define LOOP_BIND_GRACE_MS 1000
#define LOOP_POLL_MS 10

/* struct loop_bell.flags */
#define LOOP_PENDING 0
#define LOOP_RUNNING 1

struct loop_handler {
	pvio_handler_fn *fn;
	void *data;
	struct rcu_head rcu;
};

/* One incoming doorbell vector of one side. */
struct loop_bell {
	struct loop_handler __rcu *h;
	unsigned long flags;
};

struct loop_pair;

struct loop_side {
	struct loop_pair *pair;
	struct loop_side *peer;
	struct pvio_device *pvdev; /* NULL until registered */
	struct mutex bind_lock;    /* bind/unbind of @bells */
	struct loop_bell bells[PVIO_MAX_VECTORS];
};

struct loop_pair {
	int index;
	void *region;
	u64 region_size;
	struct loop_side front;
	struct loop_side back;
	char path[128];
	u32 num_queues;
	struct list_head node;
};

static struct device *loop_root;
static DEFINE_MUTEX(loop_lock); /* the pair list, add and remove */
static LIST_HEAD(loop_pairs);
static DEFINE_IDA(loop_ida);

/* ------------------------------------------------------------------------
 * Transport operations
 */

/* Ring vector @v of side @to: see the head comment for the context. */
static void loop_ring(struct loop_side *to, unsigned int v)
{
	struct loop_bell *b = &to->bells[v];
	struct loop_handler *h;

	/* Orders the ringer's stores to the region (ring indices published
	 * with release) before PENDING; pairs with the full barrier of the
	 * runner's test_and_set_bit(RUNNING) after it saw PENDING, so the
	 * handler reads what was published before the ring. */
	smp_mb__before_atomic();
	set_bit(LOOP_PENDING, &b->flags);
	rcu_read_lock();
	h = rcu_dereference(b->h);
	/* test_and_set_bit() is a full barrier: our PENDING is visible
	 * before we look at RUNNING, and a runner that clears RUNNING then
	 * looks at PENDING (below) sees it; one of the two runs the handler. */
	while (h && !test_and_set_bit(LOOP_RUNNING, &b->flags)) {
		clear_bit(LOOP_PENDING, &b->flags);
		/* Clearing PENDING before the handler reads anything: a ring
		 * during the run sets it again and gets one more pass. */
		smp_mb__after_atomic();
		h->fn(to->pvdev, v, h->data);
		clear_bit_unlock(LOOP_RUNNING, &b->flags);
		/* RUNNING cleared before PENDING is read; pairs with the
		 * ringer's set PENDING / test_and_set RUNNING. */
		smp_mb__after_atomic();
		if (!test_bit(LOOP_PENDING, &b->flags))
			break;
	}
	rcu_read_unlock();
}

static int loop_notify(struct pvio_device *pdev, unsigned int vector)
{
	struct loop_side *s = pdev->transport_data;

	if (vector >= pdev->nr_vectors)
		return -EINVAL;
	loop_ring(s->peer, vector);
	return 0;
}

static int loop_bind(struct pvio_device *pdev, unsigned int vector,
		     pvio_handler_fn *fn, void *data)
{
	struct loop_side *s = pdev->transport_data;
	struct loop_handler *h;
	int ret = 0;

	if (vector >= pdev->nr_vectors || !fn)
		return -EINVAL;
	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->fn = fn;
	h->data = data;
	mutex_lock(&s->bind_lock);
	if (rcu_access_pointer(s->bells[vector].h)) {
		ret = -EBUSY;
		kfree(h);
	} else {
		/* Publishes @fn and @data before the pointer (release). */
		rcu_assign_pointer(s->bells[vector].h, h);
	}
	mutex_unlock(&s->bind_lock);
	return ret;
}

static void loop_unbind_vec(struct loop_side *s, unsigned int vector)
{
	struct loop_handler *h;

	mutex_lock(&s->bind_lock);
	h = rcu_dereference_protected(s->bells[vector].h,
				      lockdep_is_held(&s->bind_lock));
	RCU_INIT_POINTER(s->bells[vector].h, NULL);
	mutex_unlock(&s->bind_lock);
	if (!h)
		return;
	/* Every loop_ring() that may have seen @h is done after this: the
	 * handler is not running and will not be called again. */
	synchronize_rcu();
	kfree(h);
}

static void loop_unbind(struct pvio_device *pdev, unsigned int vector)
{
	if (vector >= PVIO_MAX_VECTORS)
		return;
	loop_unbind_vec(pdev->transport_data, vector);
}

static struct page *loop_region_page(struct pvio_device *pdev, u64 off)
{
	if (off >= pdev->region_size)
		return NULL;
	return vmalloc_to_page((u8 *)pdev->region + off);
}

static const struct pvio_transport_ops loop_ops = {
	.notify = loop_notify,
	.bind = loop_bind,
	.unbind = loop_unbind,
	.region_page = loop_region_page,
};

/* ------------------------------------------------------------------------
 * Pairs
 */

static void loop_pvio_release(struct pvio_device *pvdev)
{
	pvio_backend_params_release(&pvdev->bp);
	kfree(pvdev);
}

/* A class driver that left a vector bound is told about it here; the
 * handler is taken away before the region goes. */
static void loop_side_unbind_all(struct loop_side *s, const char *name)
{
	unsigned int v;

	for (v = 0; v < PVIO_MAX_VECTORS; v++) {
		if (!rcu_access_pointer(s->bells[v].h))
			continue;
		pr_err("%s: class driver left vector %u bound\n", name, v);
		loop_unbind_vec(s, v);
	}
}

static void loop_side_del(struct loop_side *s)
{
	char name[16];

	if (!s->pvdev)
		return;
	strscpy(name, dev_name(&s->pvdev->dev), sizeof(name));
	pvio_device_unregister(s->pvdev);
	s->pvdev = NULL;
	loop_side_unbind_all(s, name);
}

/* Frontend first: its class driver closes the connection while the
 * backend still answers. */
static void loop_pair_free(struct loop_pair *p)
{
	loop_side_del(&p->front);
	loop_side_del(&p->back);
	vfree(p->region);
	ida_free(&loop_ida, p->index);
	kfree(p);
}

/* The region for @nq queues of @entries entries (see the head comment). */
static u64 loop_region_size(u32 nq, u32 entries)
{
	static const u8 zero_config[PVIO_CONFIG_SIZE];
	struct pvio_region_params rp = {
		.dev_class = PVIO_CLASS_BLK,
		.num_queues = nq,
		.ring_entries = entries,
		.req_entry_size = sizeof(struct pvio_blk_req),
		.rsp_entry_size = sizeof(struct pvio_blk_rsp),
		.config = zero_config,
	};
	u64 per = div_u64(LOOP_DATA_TOTAL, nq), need;

	per = clamp_t(u64, per, LOOP_DATA_MIN, LOOP_DATA_PER_QUEUE);
	rp.data_size = round_down(per, PVIO_DATA_ALIGN);
	need = pvio_region_layout_size(&rp);
	if (!need)
		return 0;
	return max_t(u64, roundup_pow_of_two(need), PVIO_REGION_MIN_SIZE);
}

static void loop_side_init(struct loop_pair *p, struct loop_side *s,
			   struct loop_side *peer)
{
	s->pair = p;
	s->peer = peer;
	mutex_init(&s->bind_lock);
}

static struct pvio_device *loop_pvio_alloc(struct loop_pair *p,
					   struct loop_side *s,
					   enum pvio_role role)
{
	struct pvio_device *pvdev = kzalloc(sizeof(*pvdev), GFP_KERNEL);

	if (!pvdev)
		return NULL;
	pvdev->dev_class = PVIO_CLASS_BLK;
	pvdev->role = role;
	pvdev->region = p->region;
	pvdev->region_size = p->region_size;
	pvdev->ops = &loop_ops;
	pvdev->transport_data = s;
	return pvdev;
}

/*
 * Wait until the backend's class driver has laid the region out and the
 * frontend's check accepts it; @layout is then that check's result.
 */
static int loop_wait_layout(struct loop_pair *p,
			    struct pvio_region_layout *layout)
{
	struct pvio_device *back = p->back.pvdev;
	unsigned long start = jiffies;
	const char *reason = "not laid out";
	int ret;

	for (;;) {
		ret = pvio_region_check(p->region, p->region_size, layout,
					&reason);
		if (!ret)
			return 0;
		if (!READ_ONCE(back->dev.driver) &&
		    time_after(jiffies, start + msecs_to_jiffies(LOOP_BIND_GRACE_MS))) {
			pr_err("pair %d: no class driver serves the backend device %s: load pvblkback (or see why it refused the device)\n",
			       p->index, dev_name(&back->dev));
			return -ENODEV;
		}
		if (time_after(jiffies, start + msecs_to_jiffies(LOOP_LAYOUT_TIMEOUT_MS))) {
			pr_err("pair %d: the backend %s did not lay the region out in %u ms (%s)\n",
			       p->index, dev_name(&back->dev),
			       LOOP_LAYOUT_TIMEOUT_MS, reason);
			return -ETIMEDOUT;
		}
		msleep(LOOP_POLL_MS);
	}
}

static int loop_pair_add(const char *line)
{
	struct pvio_device *pvdev, *front;
	struct loop_pair *p;
	u32 dev_class;
	int ret;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	loop_side_init(p, &p->front, &p->back);
	loop_side_init(p, &p->back, &p->front);
	ret = ida_alloc(&loop_ida, GFP_KERNEL);
	if (ret < 0)
		goto err_free;
	p->index = ret;

	pvdev = loop_pvio_alloc(p, &p->back, PVIO_ROLE_BACKEND);
	if (!pvdev) {
		ret = -ENOMEM;
		goto err_ida;
	}
	ret = pvio_backend_params_parse(line, &dev_class, &pvdev->bp);
	if (ret)
		goto err_free_pvdev;
	pvdev->dev_class = dev_class;
	p->num_queues = pvdev->bp.num_queues;
	strscpy(p->path, pvdev->bp.path, sizeof(p->path));
	p->region_size = loop_region_size(p->num_queues,
					  pvdev->bp.ring_entries ?: LOOP_DEFAULT_ENTRIES);
	if (!p->region_size) {
		pr_err("pair %d: no region fits %u queues of %u entries\n",
		       p->index, p->num_queues, pvdev->bp.ring_entries);
		ret = -EINVAL;
		goto err_release_params;
	}
	p->region = vzalloc(p->region_size);
	if (!p->region) {
		pr_err("pair %d: cannot allocate a region of %llu bytes\n",
		       p->index, p->region_size);
		ret = -ENOMEM;
		goto err_release_params;
	}
	pvdev->region = p->region;
	pvdev->region_size = p->region_size;
	/* The control vector and one per queue. */
	pvdev->nr_vectors = p->num_queues + 1;
	p->back.pvdev = pvdev;
	ret = pvio_device_register(pvdev, loop_root, loop_pvio_release);
	if (ret) {
		/* pvio_device_register() released @pvdev and its params. */
		p->back.pvdev = NULL;
		pr_err("pair %d: cannot register the backend device: %d\n",
		       p->index, ret);
		goto err_pair;
	}

	/* The layout lands in the frontend device: too big for the stack. */
	front = loop_pvio_alloc(p, &p->front, PVIO_ROLE_FRONTEND);
	if (!front) {
		ret = -ENOMEM;
		goto err_pair;
	}
	ret = loop_wait_layout(p, &front->layout);
	if (!ret && front->layout.dev_class != dev_class) {
		pr_err("pair %d: the backend laid out class %s, not %s\n", p->index,
		       pvio_class_name(front->layout.dev_class),
		       pvio_class_name(dev_class));
		ret = -EPROTO;
	}
	if (ret) {
		kfree(front);
		goto err_pair;
	}
	front->nr_vectors = front->layout.nr_vectors;
	p->front.pvdev = front;
	ret = pvio_device_register(front, loop_root, loop_pvio_release);
	if (ret) {
		p->front.pvdev = NULL;
		pr_err("pair %d: cannot register the frontend device: %d\n",
		       p->index, ret);
		goto err_pair;
	}
	list_add_tail(&p->node, &loop_pairs);
	pr_info("pair %d: %s %s, %u queue%s, region %llu bytes, frontend %s, backend %s\n",
		p->index, pvio_class_name(dev_class), p->path, p->num_queues,
		p->num_queues == 1 ? "" : "s", p->region_size,
		dev_name(&p->front.pvdev->dev), dev_name(&p->back.pvdev->dev));
	return p->index;

err_release_params:
	pvio_backend_params_release(&pvdev->bp);
err_free_pvdev:
	kfree(pvdev);
err_ida:
	ida_free(&loop_ida, p->index);
err_free:
	kfree(p);
	return ret;
err_pair:
	/* Whatever was registered goes, the region with it. */
	loop_pair_free(p);
	return ret;
}

static void loop_pair_remove(struct loop_pair *p)
{
	int index = p->index;

	list_del(&p->node);
	loop_pair_free(p);
	pr_info("pair %d: removed\n", index);
}

/* ------------------------------------------------------------------------
 * Control files
 */

static ssize_t add_store(struct device *dev, struct device_attribute *attr,
			 const char *buf, size_t len)
{
	int ret;

	mutex_lock(&loop_lock);
	ret = loop_pair_add(buf);
	mutex_unlock(&loop_lock);
	return ret < 0 ? ret : len;
}
static DEVICE_ATTR_WO(add);

static ssize_t remove_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t len)
{
	struct loop_pair *p;
	int index, ret;

	ret = kstrtoint(buf, 0, &index);
	if (ret)
		return ret;
	ret = -ENOENT;
	mutex_lock(&loop_lock);
	list_for_each_entry(p, &loop_pairs, node) {
		if (p->index == index) {
			loop_pair_remove(p);
			ret = 0;
			break;
		}
	}
	mutex_unlock(&loop_lock);
	if (ret)
		pr_err("remove: no pair %d\n", index);
	return ret ? ret : len;
}
static DEVICE_ATTR_WO(remove);

static ssize_t pairs_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct loop_pair *p;
	int len = 0;

	mutex_lock(&loop_lock);
	list_for_each_entry(p, &loop_pairs, node)
		len += sysfs_emit_at(buf, len, "%d %s %s queues %u region %llu frontend %s backend %s\n",
				     p->index, pvio_class_name(p->back.pvdev->dev_class),
				     p->path, p->num_queues, p->region_size,
				     dev_name(&p->front.pvdev->dev),
				     dev_name(&p->back.pvdev->dev));
	mutex_unlock(&loop_lock);
	return len;
}
static DEVICE_ATTR_RO(pairs);

static struct attribute *loop_attrs[] = {
	&dev_attr_add.attr,
	&dev_attr_remove.attr,
	&dev_attr_pairs.attr,
	NULL,
};

static const struct attribute_group loop_group = {
	.attrs = loop_attrs,
};

static int __init loop_init(void)
{
	int ret;

	loop_root = root_device_register("pvio_loop");
	if (IS_ERR(loop_root))
		return PTR_ERR(loop_root);
	ret = sysfs_create_group(&loop_root->kobj, &loop_group);
	if (ret) {
		root_device_unregister(loop_root);
		return ret;
	}
	return 0;
}

static void __exit loop_exit(void)
{
	struct loop_pair *p, *tmp;

	/* No add or remove in progress or to come (removing the files waits
	 * for writers), then every pair, then the root. */
	sysfs_remove_group(&loop_root->kobj, &loop_group);
	mutex_lock(&loop_lock);
	list_for_each_entry_safe(p, tmp, &loop_pairs, node)
		loop_pair_remove(p);
	mutex_unlock(&loop_lock);
	root_device_unregister(loop_root);
	ida_destroy(&loop_ida);
}

module_init(loop_init);
module_exit(loop_exit);

MODULE_DESCRIPTION("pvio transport with frontend and backend in one kernel");
MODULE_LICENSE("Dual MIT/GPL");
