/* SPDX-License-Identifier: MIT */
/*
 * The io_uring set-up pvio's userspace IO paths share: pvio-backd's queues
 * and pvio-bench's native engine, which must match them to compare like
 * with like.
 */
#ifndef PVIO_URING_SETUP_H
#define PVIO_URING_SETUP_H

#include <liburing.h>
#include <stdbool.h>

/**
 * pvio_uring_init() - an io_uring for one thread's IO.
 * @ring: the ring to set up
 * @sq_entries: submission queue entries
 * @cq_entries: completion queue entries, 0 for the kernel's default
 * @disabled: create the ring disabled, for pvio_uring_enable() in the
 *            thread that will use it
 * @deferred: set to whether the ring got the flags below
 *
 * Only one thread submits and reaps, so the ring is single issuer with
 * deferred task work and the task-run flag: completions wait until the
 * thread asks for them and the kernel wakes it once per wait, rather than
 * interrupting it for every completion (IO handed to an io-wq worker, as on
 * tmpfs, otherwise signals the thread each time). Kernels before 6.1
 * refuse these flags; the plain ring is then used, which works the same,
 * only slower (and is never created disabled).
 * The kernel clamps @sq_entries and @cq_entries to its limits.
 *
 * Return: 0 or a negative errno.
 */
int pvio_uring_init(struct io_uring *ring, unsigned int sq_entries,
		    unsigned int cq_entries, bool disabled, bool *deferred);

/**
 * pvio_uring_enable() - enable a ring created disabled, from its thread.
 * @ring: the ring
 *
 * The calling thread becomes the ring's single issuer.
 * Return: 0 or a negative errno.
 */
int pvio_uring_enable(struct io_uring *ring);

#endif /* PVIO_URING_SETUP_H */
