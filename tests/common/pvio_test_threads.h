/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the two-thread ring tests: choosing two CPUs to pin the
 * producer and the consumer to, and a monotonic clock in seconds.
 */
#ifndef PVIO_TEST_THREADS_H
#define PVIO_TEST_THREADS_H

#include <sched.h>
#include <time.h>

/* Two CPUs this process may run on, or -1, -1 if there is only one. */
static inline void pvio_test_pick_cpus(int cpu[2])
{
	cpu_set_t set;
	int n = 0;

	cpu[0] = cpu[1] = -1;
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpu[n++] = i;
	if (n < 2)
		cpu[0] = cpu[1] = -1;
}

static inline double pvio_test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* PVIO_TEST_THREADS_H */
