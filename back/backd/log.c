// SPDX-License-Identifier: MIT
/*
 * pvio-backd logging: one line per message on stderr with the daemon's
 * prefix, and a rate limit for messages a peer can trigger at will, so a
 * hostile frontend cannot flood the log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "backd.h"

static void backd_vlog(const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One call per line: stdio's stream lock keeps lines from the queue
	 * threads and the main thread whole. */
	fprintf(stderr, "pvio-backd: %s\n", buf);
}

/**
 * backd_log() - log one line on stderr with the daemon's prefix.
 * @fmt: printf format, no trailing newline
 *
 * Context: any thread.
 */
void backd_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	backd_vlog(fmt, ap);
	va_end(ap);
}

/**
 * backd_ratelimit_init() - a rate limit with an empty window.
 * @rl: the limit
 *
 * Context: before any thread uses @rl.
 */
void backd_ratelimit_init(struct backd_ratelimit *rl)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->window_ns = 0;
	rl->count = 0;
	rl->suppressed = 0;
}

/**
 * backd_ratelimit_destroy() - undo backd_ratelimit_init().
 * @rl: the limit
 *
 * Context: no thread uses @rl any more.
 */
void backd_ratelimit_destroy(struct backd_ratelimit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

static uint64_t backd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/**
 * backd_log_peer() - log a line a peer provoked, at most
 * BACKD_PEER_LOG_BURST per second per @rl.
 * @rl: the device's limit
 * @dev: device name, the line's prefix
 * @fmt: printf format
 *
 * Lines over the limit are counted; the count is logged as "N messages
 * suppressed" before the first line of a later window.
 *
 * Context: any thread.
 */
void backd_log_peer(struct backd_ratelimit *rl, const char *dev,
		    const char *fmt, ...)
{
	unsigned long suppressed = 0;
	uint64_t now = backd_now_ns();
	bool print;
	char buf[400];
	va_list ap;

	pthread_mutex_lock(&rl->lock);
	if (now - rl->window_ns >= 1000000000ull) {
		suppressed = rl->suppressed;
		rl->window_ns = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	print = rl->count < BACKD_PEER_LOG_BURST;
	if (print)
		rl->count++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&rl->lock);

	if (suppressed)
		backd_log("%s: %lu messages suppressed", dev, suppressed);
	if (!print)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	backd_log("%s: %s", dev, buf);
}
