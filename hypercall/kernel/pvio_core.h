/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * pvio core (pvio_core.ko): the pvio bus. A pvio device is one shared
 * region with its doorbells, of one device class (PVIO_CLASS_*) and one
 * role: FRONTEND (this kernel drives the device: pvblk) or BACKEND (this
 * kernel serves it: pvblkback). Transports (pvio_ivshmem, pvio_loop,
 * pvio_host) create devices; class drivers register for one (class, role)
 * pair; the driver core matches the two and calls probe, each device under
 * its own device lock, so one slow probe never holds up another device
 * (drivers whose probe waits on a peer set PROBE_PREFER_ASYNCHRONOUS).
 *
 * What a transport gives a class driver is what DESIGN.md says and nothing
 * else: the region (map), pvio_notify(vector), pvio_bind(vector, handler).
 *
 *   FRONTEND devices: the transport checked the region header with
 *   pvio_region_check() before registering; @layout is that private copy
 *   and the only description of the region a class driver may use.
 *   BACKEND devices: the region is the class driver's to lay out
 *   (pvio_region_layout()); @layout is zero until it does, @nr_vectors
 *   says how many doorbell vectors the transport carries, and @bp says what
 *   to serve.
 */
#ifndef PVIO_CORE_H
#define PVIO_CORE_H

#include <linux/device.h>
#include <linux/fs.h>
#include <linux/types.h>
#include <pvio/region.h>
#include "region.h"

enum pvio_role {
	PVIO_ROLE_FRONTEND = 0,
	PVIO_ROLE_BACKEND = 1,
};

struct pvio_device;

/*
 * Incoming doorbell handler. Context: atomic, must not sleep (hard IRQ for
 * ivshmem, an eventfd wake-up for pvio_host, the ringing side's context
 * for pvio_loop, possibly with interrupts enabled); never runs concurrently
 * with itself for one vector.
 */
typedef void pvio_handler_fn(struct pvio_device *pdev, unsigned int vector,
			     void *data);

/* Implemented by each transport. */
struct pvio_transport_ops {
	int (*notify)(struct pvio_device *pdev, unsigned int vector);
	int (*bind)(struct pvio_device *pdev, unsigned int vector,
		    pvio_handler_fn *fn, void *data);
	void (*unbind)(struct pvio_device *pdev, unsigned int vector);
	/*
	 * Optional: the page behind byte @off of the region, for IO straight
	 * to and from the data area (bios, bvec iterators). NULL when the
	 * region has no struct pages (a PCI BAR): the class driver copies.
	 */
	struct page *(*region_page)(struct pvio_device *pdev, u64 off);
};

/* What a BACKEND device serves; set by the transport, constant. */
struct pvio_backend_params {
	struct file *backing; /* the file or block device; the transport's ref */
	bool read_only;       /* export read-only (also if @backing is) */
	u32 num_queues;       /* 1..PVIO_MAX_QUEUES */
	u32 ring_entries;     /* 0: the class driver's default */
	u32 peer;             /* the frontend's peer id, for transports that
			       * need one (ivshmem); informational otherwise */
	char path[128];       /* what @backing was opened from, for logs */
};

struct pvio_device {
	struct device dev;      /* on the pvio bus, child of the transport's */
	u32 dev_class;          /* PVIO_CLASS_* */
	enum pvio_role role;
	void *region;           /* the shared region; the peer may write any of it */
	u64 region_size;        /* bytes mapped at @region, power of two */
	unsigned int nr_vectors; /* doorbell vectors usable, 1..PVIO_MAX_VECTORS */
	struct pvio_region_layout layout; /* see above */
	struct pvio_backend_params bp;    /* BACKEND only */
	const struct pvio_transport_ops *ops;
	void *transport_data;   /* the transport's */

	/* Private to pvio core (pvio_device_register() fills them in). */
	void (*release)(struct pvio_device *pdev);
	int id;                 /* N of the device's name, pvioN */
};

#define to_pvio_device(d) container_of(d, struct pvio_device, dev)

struct pvio_driver {
	u32 dev_class;          /* PVIO_CLASS_* it drives */
	enum pvio_role role;    /* the role it takes */
	int (*probe)(struct pvio_device *pdev);
	/* Must unbind every vector it bound and stop using the region. */
	void (*remove)(struct pvio_device *pdev);
	struct device_driver driver; /* name, owner, probe_type */
};

#define to_pvio_driver(d) container_of(d, struct pvio_driver, driver)

/**
 * pvio_notify() - ring the peer's doorbell @vector.
 * @pdev: device
 * @vector: 0 (control) or a queue's vector, < @pdev->nr_vectors
 *
 * Doorbells do not queue: several rings before the peer looks may be seen
 * as one. Publish ring indices (release) before ringing.
 *
 * Context: any, including hard IRQ; does not sleep.
 * Return: 0, or -EINVAL for a vector out of range.
 */
static inline int pvio_notify(struct pvio_device *pdev, unsigned int vector)
{
	return pdev->ops->notify(pdev, vector);
}

/**
 * pvio_bind() - call @fn whenever the peer rings @vector.
 * @pdev: device
 * @vector: < @pdev->nr_vectors
 * @fn: handler (see pvio_handler_fn for its context)
 * @data: passed to @fn
 *
 * Context: process, may sleep.
 * Return: 0; -EINVAL for a vector the transport does not carry; -EBUSY if
 * a handler is already bound to it.
 */
static inline int pvio_bind(struct pvio_device *pdev, unsigned int vector,
			    pvio_handler_fn *fn, void *data)
{
	return pdev->ops->bind(pdev, vector, fn, data);
}

/**
 * pvio_unbind() - detach the handler of @vector.
 * @pdev: device
 * @vector: a vector bound with pvio_bind(); others are ignored
 *
 * Waits for a running handler to finish: once this returns, the handler is
 * not running and will not be called again.
 *
 * Context: process, may sleep.
 */
static inline void pvio_unbind(struct pvio_device *pdev, unsigned int vector)
{
	pdev->ops->unbind(pdev, vector);
}

/* Class drivers. */
int __pvio_register_driver(struct pvio_driver *drv, struct module *owner);
#define pvio_register_driver(drv) __pvio_register_driver(drv, THIS_MODULE)
void pvio_unregister_driver(struct pvio_driver *drv);

/* Transports: @pdev zeroed, then every field above but @dev filled in;
 * @pdev->dev.parent and @release set. pvio_device_unregister() removes the
 * class driver first, then drops the transport's reference. */
int pvio_device_register(struct pvio_device *pdev, struct device *parent,
			 void (*release)(struct pvio_device *pdev));
void pvio_device_unregister(struct pvio_device *pdev);

/* One parser for the line that names a backend, for every transport:
 * "CLASS PATH [ro] [queues=N] [entries=N] [peer=N]". Opens PATH. */
int pvio_backend_params_parse(const char *line, u32 *dev_class,
			      struct pvio_backend_params *bp);
void pvio_backend_params_release(struct pvio_backend_params *bp);

const char *pvio_class_name(u32 dev_class);

#endif /* PVIO_CORE_H */
