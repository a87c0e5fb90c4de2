// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * pvio core: the pvio bus (pvio_core.h). Transports register devices,
 * class drivers register for one (class, role) pair, and the driver core
 * does the rest: matching, probing each device under its own device lock
 * (asynchronously for drivers that ask), removal when either side goes.
 * There is no lock of our own around probe or remove, so a probe that
 * waits on a silent peer holds up nothing but its own device.
 *
 * Each device shows, in /sys/bus/pvio/devices/pvioN/:
 *   dev_class    the class name ("blk")
 *   role         "frontend" or "backend"
 *   region_size  bytes of the shared region
 * and carries MODALIAS=pvio:cCLASSrROLE (decimal numbers) in its uevent.
 *
 * Also here: the one parser of the line that names what a backend device
 * serves, for every transport's control file.
 */
/* A literal: KBUILD_MODNAME of a module of several objects is its path. */
#define pr_fmt(fmt) "pvio_core: " fmt

#include <linux/device.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>

#include "pvio_core.h"
#include "pvio_ring.h"

/* Longest backend line the parser takes. */
#define PVIO_LINE_MAX 512
/* pvio_backend_params.peer when the line names none. */
#define PVIO_PEER_NONE U32_MAX

static DEFINE_IDA(pvio_dev_ida);

/**
 * pvio_class_name() - the name of a device class, as in backend lines.
 * @dev_class: PVIO_CLASS_*
 *
 * Context: any.
 * Return: "blk", "net", or "unknown" for anything else.
 */
const char *pvio_class_name(u32 dev_class)
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
EXPORT_SYMBOL_GPL(pvio_class_name);

static const char *pvio_role_name(enum pvio_role role)
{
	return role == PVIO_ROLE_BACKEND ? "backend" : "frontend";
}

/* ------------------------------------------------------------------------
 * The bus
 */

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
static int pvio_bus_match(struct device *dev, const struct device_driver *drv)
#else
static int pvio_bus_match(struct device *dev, struct device_driver *drv)
#endif
{
	struct pvio_device *pdev = to_pvio_device(dev);
	struct pvio_driver *pdrv = to_pvio_driver(drv);

	return pdev->dev_class == pdrv->dev_class && pdev->role == pdrv->role;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
static int pvio_bus_uevent(const struct device *dev, struct kobj_uevent_env *env)
#else
static int pvio_bus_uevent(struct device *dev, struct kobj_uevent_env *env)
#endif
{
	const struct pvio_device *pdev = to_pvio_device(dev);

	return add_uevent_var(env, "MODALIAS=pvio:c%ur%u", pdev->dev_class,
			      (unsigned int)pdev->role);
}

static int pvio_bus_probe(struct device *dev)
{
	struct pvio_device *pdev = to_pvio_device(dev);
	struct pvio_driver *pdrv = to_pvio_driver(dev->driver);

	return pdrv->probe(pdev);
}

static void pvio_bus_remove(struct device *dev)
{
	struct pvio_device *pdev = to_pvio_device(dev);
	struct pvio_driver *pdrv = to_pvio_driver(dev->driver);

	pdrv->remove(pdev);
}

static ssize_t dev_class_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  pvio_class_name(to_pvio_device(dev)->dev_class));
}
static DEVICE_ATTR_RO(dev_class);

static ssize_t role_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", pvio_role_name(to_pvio_device(dev)->role));
}
static DEVICE_ATTR_RO(role);

static ssize_t region_size_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_pvio_device(dev)->region_size);
}
static DEVICE_ATTR_RO(region_size);

static struct attribute *pvio_dev_attrs[] = {
	&dev_attr_dev_class.attr,
	&dev_attr_role.attr,
	&dev_attr_region_size.attr,
	NULL,
};
ATTRIBUTE_GROUPS(pvio_dev);

static struct bus_type pvio_bus = {
	.name = "pvio",
	.match = pvio_bus_match,
	.uevent = pvio_bus_uevent,
	.probe = pvio_bus_probe,
	.remove = pvio_bus_remove,
	.dev_groups = pvio_dev_groups,
};

/* ------------------------------------------------------------------------
 * Devices and drivers
 */

static void pvio_dev_release(struct device *dev)
{
	struct pvio_device *pdev = to_pvio_device(dev);
	int id = pdev->id;

	/* The transport's callback frees @pdev: nothing of it after this. */
	pdev->release(pdev);
	ida_free(&pvio_dev_ida, id);
}

/**
 * pvio_device_register() - add a transport's device to the pvio bus.
 * @pdev: zeroed, then dev_class, role, region, region_size, nr_vectors,
 *        ops (and for FRONTEND devices layout, for BACKEND ones bp) filled
 *        in; the core names it pvioN
 * @parent: the transport's device, the parent in sysfs
 * @release: called once the last reference to @pdev is gone; frees it
 *
 * A class driver registered for the device's (class, role) is probed at
 * once (or asynchronously, if it prefers).
 *
 * Context: process, may sleep (may probe a class driver).
 * Return: 0; -EINVAL for a device without ops, a region or vectors, with
 * class PVIO_CLASS_NONE or without @release; -ENOMEM or a driver-core
 * error. As with device_register(), on any error but a missing @release
 * the reference is dropped and @release has been called: the caller must
 * not touch @pdev afterwards.
 */
int pvio_device_register(struct pvio_device *pdev, struct device *parent,
			 void (*release)(struct pvio_device *pdev))
{
	int ret;

	if (!release)
		return -EINVAL;
	if (!pdev->ops || !pdev->region || !pdev->region_size ||
	    !pdev->nr_vectors || pdev->nr_vectors > PVIO_MAX_VECTORS ||
	    pdev->dev_class == PVIO_CLASS_NONE ||
	    (pdev->role != PVIO_ROLE_FRONTEND && pdev->role != PVIO_ROLE_BACKEND)) {
		release(pdev);
		return -EINVAL;
	}
	ret = ida_alloc(&pvio_dev_ida, GFP_KERNEL);
	if (ret < 0) {
		release(pdev);
		return ret;
	}
	pdev->id = ret;
	pdev->release = release;

	device_initialize(&pdev->dev);
	pdev->dev.parent = parent;
	pdev->dev.bus = &pvio_bus;
	pdev->dev.release = pvio_dev_release;
	ret = dev_set_name(&pdev->dev, "pvio%d", pdev->id);
	if (!ret)
		ret = device_add(&pdev->dev);
	if (ret) {
		/* Frees the id; calls @release. */
		put_device(&pdev->dev);
		return ret;
	}
	dev_dbg(&pdev->dev, "%s %s, region %llu bytes, %u vectors\n",
		pvio_class_name(pdev->dev_class), pvio_role_name(pdev->role),
		pdev->region_size, pdev->nr_vectors);
	return 0;
}
EXPORT_SYMBOL_GPL(pvio_device_register);

/**
 * pvio_device_unregister() - take a device off the bus.
 * @pdev: a device registered with pvio_device_register()
 *
 * Removes the bound class driver first (waiting for a probe in progress to
 * end), then drops the transport's reference: @release runs when the last
 * one goes, perhaps later if someone still holds the device.
 *
 * Context: process, may sleep.
 */
void pvio_device_unregister(struct pvio_device *pdev)
{
	device_unregister(&pdev->dev);
}
EXPORT_SYMBOL_GPL(pvio_device_unregister);

/**
 * __pvio_register_driver() - register a class driver on the pvio bus.
 * @drv: dev_class, role, probe, remove and driver.name set (driver.probe_type
 *       optional); stays registered until pvio_unregister_driver()
 * @owner: the module it lives in (pvio_register_driver() passes THIS_MODULE)
 *
 * Every device of @drv's (class, role) not yet bound is probed.
 *
 * Context: process, may sleep.
 * Return: 0, -EINVAL for a driver without callbacks, name or class, or a
 * driver-core error.
 */
int __pvio_register_driver(struct pvio_driver *drv, struct module *owner)
{
	if (!drv->probe || !drv->remove || !drv->driver.name ||
	    drv->dev_class == PVIO_CLASS_NONE)
		return -EINVAL;
	drv->driver.owner = owner;
	drv->driver.bus = &pvio_bus;
	return driver_register(&drv->driver);
}
EXPORT_SYMBOL_GPL(__pvio_register_driver);

/**
 * pvio_unregister_driver() - take every device away from a class driver.
 * @drv: a driver registered with pvio_register_driver()
 *
 * Calls @drv->remove for each device it holds; when this returns, @drv is
 * not called again.
 *
 * Context: process, may sleep.
 */
void pvio_unregister_driver(struct pvio_driver *drv)
{
	driver_unregister(&drv->driver);
}
EXPORT_SYMBOL_GPL(pvio_unregister_driver);

/* ------------------------------------------------------------------------
 * Backend lines
 */

/* "KEY=N" with KEY @key: parse N into @val (0 if not that key, 1 if it is,
 * -EINVAL if it is but N is not a number). */
static int pvio_opt_u32(const char *word, const char *key, u32 *val)
{
	size_t n = strlen(key);

	if (strncmp(word, key, n) || word[n] != '=')
		return 0;
	return kstrtou32(word + n + 1, 0, val) ? -EINVAL : 1;
}

/* Parse the words of @line into @dev_class and @bp (nothing opened). */
static int pvio_parse_words(char *line, u32 *dev_class,
			    struct pvio_backend_params *bp)
{
	unsigned int nword = 0;
	char *word;
	u32 val;
	int r;

	while ((word = strsep(&line, " \t\n")) != NULL) {
		if (!*word)
			continue;
		switch (nword++) {
		case 0:
			if (strcmp(word, "blk")) {
				pr_err("backend line: class '%s' unknown (only 'blk' has a kernel backend)\n",
				       word);
				return -EINVAL;
			}
			*dev_class = PVIO_CLASS_BLK;
			continue;
		case 1:
			if (strscpy(bp->path, word, sizeof(bp->path)) < 0) {
				pr_err("backend line: path '%s' longer than %zu bytes\n",
				       word, sizeof(bp->path) - 1);
				return -EINVAL;
			}
			continue;
		default:
			break;
		}
		if (!strcmp(word, "ro")) {
			bp->read_only = true;
			continue;
		}
		r = pvio_opt_u32(word, "queues", &val);
		if (r > 0 && val >= 1 && val <= PVIO_MAX_QUEUES) {
			bp->num_queues = val;
			continue;
		}
		if (r > 0) {
			pr_err("backend line: '%s': queues must be 1..%u\n",
			       word, PVIO_MAX_QUEUES);
			return -EINVAL;
		}
		if (r == 0)
			r = pvio_opt_u32(word, "entries", &val);
		if (r > 0 && pvio_ring_geometry_valid(val, 8) == 0) {
			bp->ring_entries = val;
			continue;
		}
		if (r > 0) {
			pr_err("backend line: '%s': entries must be a power of two in %u..%u\n",
			       word, PVIO_RING_MIN_ENTRIES, PVIO_RING_MAX_ENTRIES);
			return -EINVAL;
		}
		if (r == 0)
			r = pvio_opt_u32(word, "peer", &val);
		if (r > 0 && val <= 0xffff) {
			bp->peer = val;
			continue;
		}
		if (r > 0) {
			pr_err("backend line: '%s': peer must be 0..65535\n", word);
			return -EINVAL;
		}
		pr_err("backend line: '%s' not understood (expected ro, queues=N, entries=N or peer=N)\n",
		       word);
		return -EINVAL;
	}
	if (nword < 2) {
		pr_err("backend line: expected \"CLASS PATH [ro] [queues=N] [entries=N] [peer=N]\"\n");
		return -EINVAL;
	}
	return 0;
}

/**
 * pvio_backend_params_parse() - parse a backend line and open its path.
 * @line: "CLASS PATH [ro] [queues=N] [entries=N] [peer=N]", words separated
 *        by blanks, a trailing newline allowed (a sysfs write). CLASS is
 *        "blk"; queues 1..PVIO_MAX_QUEUES (default 1); entries a power of
 *        two within the ring limits (default 0: the class driver's); peer
 *        0..65535
 * @dev_class: set to the class
 * @bp: filled in; @bp->backing is opened read-write (read-only with "ro")
 *      and holds a reference until pvio_backend_params_release(); peer is
 *      U32_MAX when the line names none
 *
 * Every error is logged, naming the word at fault. A path that cannot be
 * opened read-write is not silently exported read-only: the error is
 * returned and the log says to add "ro".
 *
 * Context: process, may sleep (opens a file).
 * Return: 0; -EINVAL for a malformed line; -ENOMEM; the error of opening
 * PATH (-ENOENT, -EACCES, -EROFS, ...).
 */
int pvio_backend_params_parse(const char *line, u32 *dev_class,
			      struct pvio_backend_params *bp)
{
	struct pvio_backend_params p = {
		.num_queues = 1,
		.peer = PVIO_PEER_NONE,
	};
	struct file *f;
	char *copy;
	u32 cls = PVIO_CLASS_NONE;
	int ret;

	if (strnlen(line, PVIO_LINE_MAX) >= PVIO_LINE_MAX) {
		pr_err("backend line longer than %d bytes\n", PVIO_LINE_MAX - 1);
		return -EINVAL;
	}
	copy = kstrdup(line, GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	ret = pvio_parse_words(copy, &cls, &p);
	kfree(copy);
	if (ret)
		return ret;

	f = filp_open(p.path, (p.read_only ? O_RDONLY : O_RDWR) | O_LARGEFILE, 0);
	if (IS_ERR(f)) {
		ret = PTR_ERR(f);
		if (!p.read_only && (ret == -EROFS || ret == -EACCES))
			pr_err("backend line: cannot open %s read-write (%d); add 'ro' to export it read-only\n",
			       p.path, ret);
		else
			pr_err("backend line: cannot open %s: %d\n", p.path, ret);
		return ret;
	}
	p.backing = f;
	*dev_class = cls;
	*bp = p;
	return 0;
}
EXPORT_SYMBOL_GPL(pvio_backend_params_parse);

/**
 * pvio_backend_params_release() - drop what pvio_backend_params_parse() took.
 * @bp: parsed parameters; @bp->backing is put and cleared (NULL is fine)
 *
 * Context: process, may sleep.
 */
void pvio_backend_params_release(struct pvio_backend_params *bp)
{
	if (bp->backing)
		fput(bp->backing);
	bp->backing = NULL;
}
EXPORT_SYMBOL_GPL(pvio_backend_params_release);

/* ------------------------------------------------------------------------
 * Module
 */

static int __init pvio_core_init(void)
{
	return bus_register(&pvio_bus);
}

static void __exit pvio_core_exit(void)
{
	/* Transports and class drivers depend on our symbols: they are all
	 * gone, and with them every device and driver. */
	bus_unregister(&pvio_bus);
	ida_destroy(&pvio_dev_ida);
}

module_init(pvio_core_init);
module_exit(pvio_core_exit);

MODULE_DESCRIPTION("pvio bus and shared protocol library");
MODULE_LICENSE("Dual MIT/GPL");
