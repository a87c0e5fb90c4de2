// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * pvio_class_test - a stand-in class driver for testing the transport's
 * class binding (tests/vm/guest/ivshmem-kernel.sh), not for use.
 *
 * Registers for PVIO_CLASS_BLK. On probe it binds the control vector and
 * every queue vector to a handler that counts doorbells, and rings the
 * backend's first queue vector once; on remove it unbinds them and logs the
 * count per vector. It never touches the rings.
 */
#include <linux/atomic.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "pvio_transport.h"

struct ct_dev {
	atomic_long_t doorbells[PVIO_MAX_VECTORS];
};

static void ct_doorbell(struct pvio_transport *t, unsigned int vector,
			void *data)
{
	struct ct_dev *ct = data;

	atomic_long_inc(&ct->doorbells[vector]);
}

static void ct_unbind_all(struct pvio_transport *t)
{
	unsigned int i;

	pvio_transport_unbind(t, PVIO_VECTOR_CONTROL);
	for (i = 0; i < t->layout.num_queues; i++)
		pvio_transport_unbind(t, t->layout.queues[i].vector);
}

static int ct_probe(struct pvio_transport *t)
{
	const struct pvio_transport_layout *l = &t->layout;
	struct ct_dev *ct;
	unsigned int i;
	int ret;

	ct = kzalloc(sizeof(*ct), GFP_KERNEL);
	if (!ct)
		return -ENOMEM;
	ret = pvio_transport_bind(t, PVIO_VECTOR_CONTROL, ct_doorbell, ct);
	for (i = 0; !ret && i < l->num_queues; i++)
		ret = pvio_transport_bind(t, l->queues[i].vector, ct_doorbell, ct);
	if (!ret && pvio_transport_bind(t, PVIO_VECTOR_CONTROL, ct_doorbell, ct) != -EBUSY)
		ret = -EINVAL;
	if (ret) {
		ct_unbind_all(t);
		kfree(ct);
		return ret;
	}
	t->class_data = ct;
	ret = pvio_transport_notify(t, l->queues[0].vector);
	dev_info(t->dev, "pvio_class_test: probe: %u queue(s), region %llu bytes, notify %d\n",
		 l->num_queues, t->region_size, ret);
	return 0;
}

static void ct_remove(struct pvio_transport *t)
{
	struct ct_dev *ct = t->class_data;
	unsigned int v = t->layout.queues[0].vector;

	ct_unbind_all(t);
	dev_info(t->dev, "pvio_class_test: remove: vector 0 doorbells %ld, vector %u doorbells %ld\n",
		 atomic_long_read(&ct->doorbells[0]), v,
		 atomic_long_read(&ct->doorbells[v]));
	kfree(ct);
}

static struct pvio_class_driver ct_driver = {
	.name = "pvio_class_test",
	.dev_class = PVIO_CLASS_BLK,
	.probe = ct_probe,
	.remove = ct_remove,
};

static int __init ct_init(void)
{
	return pvio_transport_register_class(&ct_driver);
}

static void __exit ct_exit(void)
{
	pvio_transport_unregister_class(&ct_driver);
}

module_init(ct_init);
module_exit(ct_exit);

MODULE_DESCRIPTION("pvio transport class-binding test driver");
MODULE_LICENSE("Dual MIT/GPL");
