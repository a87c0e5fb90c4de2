/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * pvio guest transport: what a class driver (pvblk, pvnet) gets from the
 * hypervisor shim. Three things and nothing else (DESIGN.md, hypercall/):
 *
 *   - the shared region, mapped write-back, with a validated host-endian
 *     copy of its layout (struct pvio_transport_layout);
 *   - a doorbell to the backend, pvio_transport_notify(t, vector);
 *   - incoming doorbells: pvio_transport_bind() attaches a handler to a
 *     vector, called in hard-IRQ context each time the backend rings it.
 *
 * The transport copies and checks the header's layout once, at probe:
 * header size, region size, queue count, every queue's rings and data area
 * (geometry, alignment, inside the region, no overlaps) and its vector
 * (1..255, distinct, backed by an MSI-X vector). A class driver uses the
 * copy in @layout, never the queue table in shared memory. Everything else
 * in the region (handshake states, features, class config, ring indices) is
 * the class driver's to copy and check, because the backend keeps writing
 * it after probe.
 *
 * Binding: a class driver registers a struct pvio_class_driver for one
 * dev_class. Each transport device whose header names that class is handed
 * to its probe(); remove() is called when the device goes away or the
 * class driver unregisters. The two modules may be loaded in either order.
 */
#ifndef PVIO_TRANSPORT_H
#define PVIO_TRANSPORT_H

#include <linux/device.h>
#include <linux/list.h>
#include <linux/types.h>
#include <pvio/region.h>

struct pvio_transport;

/* One queue of the layout, host-endian, validated against the region. */
struct pvio_transport_queue {
	u64 req_ring_off;   /* bytes from the region start */
	u64 rsp_ring_off;
	u64 data_off;
	u64 data_size;
	u32 req_entries;    /* power of two, ring ABI limits */
	u32 rsp_entries;
	u32 req_entry_size; /* multiple of 8, not checked against the class */
	u32 rsp_entry_size;
	u32 vector;         /* doorbell vector, 1..255, distinct per queue */
};

/* The header's layout as the transport validated it at probe. */
struct pvio_transport_layout {
	u64 region_size; /* power of two, <= the mapping */
	u32 dev_class;   /* PVIO_CLASS_* */
	u32 num_queues;  /* 1..PVIO_MAX_QUEUES */
	u32 nr_vectors;  /* MSI-X vectors set up: highest queue vector + 1 */
	struct pvio_transport_queue queues[PVIO_MAX_QUEUES];
};

/*
 * Incoming doorbell handler. Context: hard IRQ, for the vector it was bound
 * to; never runs concurrently with itself for one vector.
 */
typedef void pvio_transport_handler_fn(struct pvio_transport *t,
				       unsigned int vector, void *data);

/* Implemented by each transport (ivshmem today, the in-kernel loop later). */
struct pvio_transport_ops {
	int (*notify)(struct pvio_transport *t, unsigned int vector);
	int (*bind)(struct pvio_transport *t, unsigned int vector,
		    pvio_transport_handler_fn *fn, void *data);
	void (*unbind)(struct pvio_transport *t, unsigned int vector);
};

struct pvio_transport {
	struct device *dev;  /* the transport's device: log with it, parent to it */
	void *region;        /* the shared region; the backend may write any of it */
	u64 region_size;     /* bytes mapped at @region (== layout.region_size) */
	struct pvio_transport_layout layout;
	const struct pvio_transport_ops *ops;
	void *class_data;    /* the bound class driver's; NULL otherwise */

	/* Private to the transport core. */
	struct list_head node;
	struct pvio_class_driver *drv;
};

struct pvio_class_driver {
	const char *name;
	u32 dev_class; /* PVIO_CLASS_*: the header's dev_class this driver binds */
	/* Process context, may sleep; 0 binds the driver to @t. */
	int (*probe)(struct pvio_transport *t);
	/* Process context; must unbind every vector it bound and stop using
	 * the region before it returns. */
	void (*remove)(struct pvio_transport *t);

	/* Private to the transport core. */
	struct list_head node;
};

/**
 * pvio_transport_notify() - ring the backend's doorbell @vector.
 * @t: transport
 * @vector: 0 (control) or a queue's vector, < PVIO_MAX_VECTORS
 *
 * Doorbells do not queue: several rings before the backend looks may be
 * seen as one. Publish ring indices (release) before ringing.
 *
 * Context: any, including hard IRQ; does not sleep.
 * Return: 0, or -EINVAL for a vector out of range.
 */
static inline int pvio_transport_notify(struct pvio_transport *t,
					unsigned int vector)
{
	return t->ops->notify(t, vector);
}

/**
 * pvio_transport_bind() - call @fn whenever the backend rings @vector.
 * @t: transport
 * @vector: PVIO_VECTOR_CONTROL or one of the layout's queue vectors
 * @fn: handler, hard-IRQ context
 * @data: passed to @fn
 *
 * Context: process, may sleep.
 * Return: 0; -EINVAL for a vector the layout does not use; -EBUSY if a
 * handler is already bound to it.
 */
static inline int pvio_transport_bind(struct pvio_transport *t,
				      unsigned int vector,
				      pvio_transport_handler_fn *fn, void *data)
{
	return t->ops->bind(t, vector, fn, data);
}

/**
 * pvio_transport_unbind() - detach the handler of @vector.
 * @t: transport
 * @vector: a vector bound with pvio_transport_bind(); others are ignored
 *
 * Waits for a running handler to finish: once this returns, the handler is
 * not running and will not be called again.
 *
 * Context: process, may sleep.
 */
static inline void pvio_transport_unbind(struct pvio_transport *t,
					 unsigned int vector)
{
	t->ops->unbind(t, vector);
}

int pvio_transport_register_class(struct pvio_class_driver *drv);
void pvio_transport_unregister_class(struct pvio_class_driver *drv);

#endif /* PVIO_TRANSPORT_H */
