/* SPDX-License-Identifier: MIT */
/*
 * pvio host: the ioctl ABI of /dev/pvio-back (pvio_host.ko), through which
 * the management domain's userspace hands a shared region, its doorbells
 * and a backing file to the host kernel, which then serves the region as a
 * pvio BACKEND device (the kernel block backend binds to it), the way
 * vhost takes its fds.
 *
 * The region server (pvio-backd --engine kernel) keeps the region and the
 * eventfds; per frontend it opens /dev/pvio-back, issues
 * PVIO_HOST_IOC_START once, and closes the fd when the frontend leaves.
 * Closing the last reference to the open file stops the device: the class
 * driver is removed, every doorbell detached and the region unmapped.
 * The kernel keeps its own references to every fd it was given, so the
 * caller may close its copies after START.
 *
 * Doorbells, as seen by the kernel backend:
 *   kick_fds[v]  eventfds the frontend writes to ring vector v of the
 *                backend (over ivshmem: the server's own, peer 0's);
 *   call_fds[v]  eventfds the kernel signals to ring vector v of the
 *                frontend (over ivshmem: the frontend peer's).
 * Vector 0 is the control channel, queue q uses vector q + 1
 * (include/pvio/region.h).
 *
 * Errors of PVIO_HOST_IOC_START (each also logged once in the kernel log):
 *   -EINVAL  flags, reserved bytes or dev_class not valid; num_queues not
 *            in 1..PVIO_MAX_QUEUES or nr_vectors not in
 *            num_queues + 1..PVIO_HOST_MAX_VECTORS; ring_entries not 0 or
 *            a power of two; region_size not a power of two, below
 *            PVIO_REGION_MIN_SIZE, above PVIO_HOST_MAX_REGION_SIZE or
 *            not the file's size; region_fd not a
 *            memfd/tmpfs (shmem) file; a kick or call fd not an eventfd;
 *            backing_fd not a regular file or block device
 *   -EBADF   a descriptor that is not open, or a backing fd not open
 *            for reading
 *   -EACCES  region_fd not open for reading and writing
 *   -EROFS   a read-write export (no PVIO_HOST_F_READ_ONLY) of a backing
 *            fd not opened for writing
 *   -EBUSY   START already issued on this open file
 *   -ENOMEM, -ENXIO (the pvio bus refused the device)
 *
 * Every header in include/pvio/ compiles alone as C99, C++ and in a kernel
 * module.
 */
#ifndef PVIO_HOST_H
#define PVIO_HOST_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include "abi.h"

/* The control vector plus one per queue: PVIO_MAX_QUEUES + 1. */
#define PVIO_HOST_MAX_VECTORS 33u
/* Largest region the kernel maps (it pins every page of it). */
#define PVIO_HOST_MAX_REGION_SIZE (1ull << 30)

/* pvio_host_start.flags */
#define PVIO_HOST_F_READ_ONLY (1u << 0) /* export read-only */
#define PVIO_HOST_F_ALL PVIO_HOST_F_READ_ONLY

/*
 * Argument of PVIO_HOST_IOC_START; written by the caller, read once by
 * the kernel. File descriptors are the caller's; entries of kick_fds and
 * call_fds at and beyond nr_vectors must be -1.
 */
struct pvio_host_start {
	__u32 flags;        /* PVIO_HOST_F_* */
	__u32 dev_class;    /* PVIO_CLASS_* (PVIO_CLASS_BLK) */
	__s32 region_fd;    /* the region: a memfd, open read-write */
	__s32 backing_fd;   /* file or block device to serve */
	__u64 region_size;  /* bytes; power of two, == the memfd's size */
	__u32 num_queues;   /* 1..PVIO_MAX_QUEUES */
	__u32 ring_entries; /* per ring; 0: the class driver's default */
	__u32 nr_vectors;   /* num_queues + 1..PVIO_HOST_MAX_VECTORS */
	__u32 peer;         /* the frontend's peer id, for the logs */
	__u8 reserved[24];  /* zero */
	__s32 kick_fds[PVIO_HOST_MAX_VECTORS]; /* frontend -> kernel, eventfds */
	__s32 call_fds[PVIO_HOST_MAX_VECTORS]; /* kernel -> frontend, eventfds */
};
PVIO_ABI_SIZE(struct pvio_host_start, 328);
PVIO_ABI_OFFSET(struct pvio_host_start, flags, 0);
PVIO_ABI_OFFSET(struct pvio_host_start, dev_class, 4);
PVIO_ABI_OFFSET(struct pvio_host_start, region_fd, 8);
PVIO_ABI_OFFSET(struct pvio_host_start, backing_fd, 12);
PVIO_ABI_OFFSET(struct pvio_host_start, region_size, 16);
PVIO_ABI_OFFSET(struct pvio_host_start, num_queues, 24);
PVIO_ABI_OFFSET(struct pvio_host_start, ring_entries, 28);
PVIO_ABI_OFFSET(struct pvio_host_start, nr_vectors, 32);
PVIO_ABI_OFFSET(struct pvio_host_start, peer, 36);
PVIO_ABI_OFFSET(struct pvio_host_start, kick_fds, 64);
PVIO_ABI_OFFSET(struct pvio_host_start, call_fds, 196);

/* pvio_host_info.state */
#define PVIO_HOST_STATE_IDLE 0u    /* no START yet */
#define PVIO_HOST_STATE_STARTED 1u /* the pvio device exists */

/* pvio_host_info.flags */
#define PVIO_HOST_INFO_F_BOUND (1u << 0) /* a class driver serves it */

/* Answer of PVIO_HOST_IOC_INFO; written by the kernel. */
struct pvio_host_info {
	__u32 state;        /* PVIO_HOST_STATE_* */
	__u32 flags;        /* PVIO_HOST_INFO_F_* */
	__u32 dev_class;    /* as started, or 0 */
	__u32 num_queues;   /* as started, or 0 */
	__u64 region_size;  /* as started, or 0 */
	__u8 reserved[8];   /* zero */
	char name[32];      /* the pvio device (/sys/bus/pvio/devices/NAME),
			     * NUL-terminated; empty while IDLE */
};
PVIO_ABI_SIZE(struct pvio_host_info, 64);
PVIO_ABI_OFFSET(struct pvio_host_info, state, 0);
PVIO_ABI_OFFSET(struct pvio_host_info, flags, 4);
PVIO_ABI_OFFSET(struct pvio_host_info, dev_class, 8);
PVIO_ABI_OFFSET(struct pvio_host_info, num_queues, 12);
PVIO_ABI_OFFSET(struct pvio_host_info, region_size, 16);
PVIO_ABI_OFFSET(struct pvio_host_info, name, 32);

#define PVIO_HOST_IOC_MAGIC 0xB5
/* Start the backend device; once per open file. Return: 0 or see above. */
#define PVIO_HOST_IOC_START _IOW(PVIO_HOST_IOC_MAGIC, 0x00, struct pvio_host_start)
/* What this open file serves. Return: 0 or -EFAULT. */
#define PVIO_HOST_IOC_INFO _IOR(PVIO_HOST_IOC_MAGIC, 0x01, struct pvio_host_info)

#endif /* PVIO_HOST_H */
