// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * pvio_class_test - a stand-in class driver for testing how transports
 * and the pvio bus bind class drivers (tests/vm/guest/ivshmem-kernel.sh),
 * not for use.
 *
 * Drives (PVIO_CLASS_BLK, FRONTEND) devices. On probe it binds the control
 * vector and every queue vector to a handler that counts doorbells, checks
 * that a second bind is refused, and rings the backend's first queue
 * vector once; on remove it unbinds them and logs the count per vector. It
 * never touches the region.
 */
#include <linux/atomic.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "pvio_core.h"

struct ct_dev {
	atomic_long_t doorbells[PVIO_MAX_VECTORS];
};

static void ct_doorbell(struct pvio_device *pdev, unsigned int vector,
			void *data)
{
	struct ct_dev *ct = data;

	atomic_long_inc(&ct->doorbells[vector]);
}

static void ct_unbind_all(struct pvio_device *pdev)
{
	unsigned int i;

	pvio_unbind(pdev, PVIO_VECTOR_CONTROL);
	for (i = 0; i < pdev->layout.num_queues; i++)
		pvio_unbind(pdev, pdev->layout.queues[i].vector);
}

static int ct_probe(struct pvio_device *pdev)
{
	const struct pvio_region_layout *l = &pdev->layout;
	struct ct_dev *ct;
	unsigned int i;
	int ret;

	ct = kzalloc(sizeof(*ct), GFP_KERNEL);
	if (!ct)
		return -ENOMEM;
	ret = pvio_bind(pdev, PVIO_VECTOR_CONTROL, ct_doorbell, ct);
	for (i = 0; !ret && i < l->num_queues; i++)
		ret = pvio_bind(pdev, l->queues[i].vector, ct_doorbell, ct);
	if (!ret && pvio_bind(pdev, PVIO_VECTOR_CONTROL, ct_doorbell, ct) != -EBUSY)
		ret = -EINVAL;
	if (!ret && pvio_bind(pdev, pdev->nr_vectors, ct_doorbell, ct) != -EINVAL)
		ret = -EINVAL;
	if (ret) {
		ct_unbind_all(pdev);
		kfree(ct);
		return ret;
	}
	dev_set_drvdata(&pdev->dev, ct);
	ret = pvio_notify(pdev, l->queues[0].vector);
	dev_info(&pdev->dev, "probe: %u queue(s), region %llu bytes, notify %d, transport %s\n",
		 l->num_queues, pdev->region_size, ret,
		 pdev->dev.parent ? dev_name(pdev->dev.parent) : "none");
	return 0;
}

static void ct_remove(struct pvio_device *pdev)
{
	struct ct_dev *ct = dev_get_drvdata(&pdev->dev);
	unsigned int v = pdev->layout.queues[0].vector;

	ct_unbind_all(pdev);
	dev_info(&pdev->dev, "remove: vector 0 doorbells %ld, vector %u doorbells %ld\n",
		 atomic_long_read(&ct->doorbells[0]), v,
		 atomic_long_read(&ct->doorbells[v]));
	dev_set_drvdata(&pdev->dev, NULL);
	kfree(ct);
}

static struct pvio_driver ct_driver = {
	.dev_class = PVIO_CLASS_BLK,
	.role = PVIO_ROLE_FRONTEND,
	.probe = ct_probe,
	.remove = ct_remove,
	.driver = {
		.name = "pvio_class_test",
	},
};

static int __init ct_init(void)
{
	return pvio_register_driver(&ct_driver);
}

static void __exit ct_exit(void)
{
	pvio_unregister_driver(&ct_driver);
}

module_init(ct_init);
module_exit(ct_exit);

MODULE_DESCRIPTION("pvio bus class-binding test driver");
MODULE_LICENSE("Dual MIT/GPL");
