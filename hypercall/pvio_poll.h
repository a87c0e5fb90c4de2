/* SPDX-License-Identifier: MIT */
/*
 * The adaptive poll window both ends of a queue use before they sleep on a
 * doorbell (pvio-backd's idle and in-flight polls, libpvio's wait): the
 * rule of KVM's halt polling, in nanoseconds; and the clock and pause
 * their poll loops use.
 */
#ifndef PVIO_POLL_H
#define PVIO_POLL_H

#include <stdint.h>
#include <time.h>

/* Pause inside a busy-wait loop (spares the sibling hyperthread). */
static inline void pvio_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* CLOCK_MONOTONIC in nanoseconds, for poll windows. */
static inline uint64_t pvio_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/**
 * pvio_poll_next() - the poll window after a sleep on the doorbell.
 * @cur_ns: the window that ran out before the sleep
 * @min_ns: shortest window
 * @max_ns: longest; at or below @min_ns the window stays at @min_ns
 * @slept_ns: how long the sleep lasted
 *
 * A doorbell within @max_ns means a longer poll would have spared the
 * sleep, so the window doubles (from 1 us when it was 0), up to @max_ns; a
 * longer sleep means the peer went idle, and the window falls back to
 * @min_ns so that an idle queue costs little CPU.
 *
 * Return: the next window.
 */
static inline uint64_t pvio_poll_next(uint64_t cur_ns, uint64_t min_ns,
				      uint64_t max_ns, uint64_t slept_ns)
{
	uint64_t next;

	if (max_ns <= min_ns || slept_ns > max_ns)
		return min_ns;
	next = cur_ns ? cur_ns * 2 : 1000;
	return next > max_ns ? max_ns : next;
}

#endif /* PVIO_POLL_H */
