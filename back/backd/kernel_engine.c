// SPDX-License-Identifier: MIT
/*
 * pvio-backd kernel engine (--engine kernel): the host kernel serves the
 * IO. The region server stays the ivshmem server QEMU and libpvio talk
 * to; for each session the engine process opens /dev/pvio-back
 * (pvio_host.ko) and hands the kernel the region memfd, the doorbells and
 * the backing fd with PVIO_HOST_IOC_START (include/pvio/host.h); the
 * kernel block backend (pvblkback.ko) lays the region out and runs the
 * handshake and the IO. Closing the fd stops the kernel device: when the
 * frontend leaves, when the engine stops, and when the engine process
 * dies (the kernel then marks the region closed, and the next engine
 * process starts a new kernel device on the same region, which the
 * frontend reconnects to).
 *
 * The engine never writes the region while a kernel device runs, and
 * never reads the backend's eventfds (the kernel is woken by them).
 * Before a kernel device starts, the header is parked: back.state
 * INITIALISING with the pvio magic and ABI revision, so a frontend that
 * comes early waits for INITWAIT instead of refusing the region or taking
 * the previous layout for its own. The rest of the last layout stays in
 * place: a frontend that is checking the header at that moment must not
 * see it torn (the kernel backend lays the region out afresh anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <pvio/host.h>

#include "dev.h"
#include "pvio_ring.h"

#define KENG_DEV_PATH "/dev/pvio-back"

static int keng_open_dev(const char *name)
{
	int fd, ret;

	fd = open(KENG_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	ret = -errno;
	if (ret == -ENOENT || ret == -ENXIO || ret == -ENODEV)
		backd_log("%s: %s: %s: load pvio_host.ko and pvblkback.ko (and pvio_core.ko) for --engine kernel",
			  name, KENG_DEV_PATH, strerror(-ret));
	else
		backd_log("%s: %s: %s", name, KENG_DEV_PATH, strerror(-ret));
	return ret;
}

/**
 * backd_kernel_check() - can the kernel engine run?
 * @name: device name for log lines
 *
 * Context: process, at start-up.
 * Return: 0, or the negative errno of opening /dev/pvio-back (logged with
 * what to load when the device is missing).
 */
int backd_kernel_check(const char *name)
{
	int fd = keng_open_dev(name);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/**
 * backd_kernel_start() - have the kernel serve frontend peer @d->peer.
 * @d: device with a session and no kernel device
 *
 * The backend's doorbells (the server's own eventfds, peer 0's) are the
 * kernel's kick fds, the frontend's are its call fds. A failure is logged
 * and leaves the region parked: the frontend times out waiting for
 * INITWAIT.
 *
 * Context: engine main thread, when a session starts.
 * Return: 0 or a negative errno.
 */
int backd_kernel_start(struct backd_dev *d)
{
	struct pvio_host_start s;
	struct pvio_host_info info;
	unsigned int v, nvec = d->o.queues + 1;
	int fd, ret;

	if (d->host_fd >= 0)
		return -EBUSY;
	memset(&s, 0, sizeof(s));
	s.flags = d->o.ro ? PVIO_HOST_F_READ_ONLY : 0;
	s.dev_class = PVIO_CLASS_BLK;
	s.region_fd = d->mem_fd;
	s.backing_fd = d->store.fd;
	s.region_size = d->region_size;
	s.num_queues = d->o.queues;
	s.ring_entries = d->ring_entries;
	s.nr_vectors = nvec;
	s.peer = (uint32_t)d->peer;
	for (v = 0; v < PVIO_HOST_MAX_VECTORS; v++) {
		s.kick_fds[v] = -1;
		s.call_fds[v] = -1;
	}
	for (v = 0; v < nvec; v++) {
		s.kick_fds[v] = d->kick_fd[v];
		s.call_fds[v] = d->call_fd[v];
		if (s.kick_fds[v] < 0 || s.call_fds[v] < 0) {
			backd_log("%s: frontend peer %d: no doorbell for vector %u; not started",
				  d->name, d->peer, v);
			return -ENOENT;
		}
	}
	fd = keng_open_dev(d->name);
	if (fd < 0)
		return fd;
	/* Parked again: a frontend may have written anywhere. */
	pvio_region_park(d->hdr, d->generation);
	if (ioctl(fd, PVIO_HOST_IOC_START, &s) < 0) {
		ret = -errno;
		backd_log("%s: %s: starting the kernel backend for peer %d: %s",
			  d->name, KENG_DEV_PATH, d->peer, strerror(-ret));
		close(fd);
		return ret;
	}
	d->host_fd = fd;
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, PVIO_HOST_IOC_INFO, &info) < 0)
		snprintf(info.name, sizeof(info.name), "?");
	info.name[sizeof(info.name) - 1] = '\0';
	backd_log("%s: frontend peer %d served by the kernel: pvio device %s%s",
		  d->name, d->peer, info.name,
		  info.flags & PVIO_HOST_INFO_F_BOUND ? "" :
		  " (no class driver bound yet: is pvblkback.ko loaded?)");
	return 0;
}

/**
 * backd_kernel_stop() - stop the kernel device of @d, park the region.
 * @d: device; nothing happens without a kernel device
 *
 * Closing the fd removes the kernel's block backend (it answers or drops
 * what it took and marks the region closed), detaches the doorbells and
 * unmaps the region before close() returns.
 *
 * Context: engine main thread, when the session ends or at exit.
 */
void backd_kernel_stop(struct backd_dev *d)
{
	uint32_t gen;

	if (d->host_fd < 0)
		return;
	close(d->host_fd);
	d->host_fd = -1;
	/* The kernel is gone: the generation it published last, read once.
	 * A frontend may have scribbled on it; the worst it gets is an odd
	 * numbering, never a generation that goes back. */
	gen = pvio_le32_to_cpu(PVIO_READ_ONCE(d->hdr->back.generation));
	d->generation = gen > d->generation ? gen : d->generation + 1;
	pvio_region_park(d->hdr, d->generation);
	backd_log("%s: kernel backend of peer %d stopped", d->name, d->peer);
}
