// SPDX-License-Identifier: MIT
/*
 * pvio-backd logging: one line per message on stderr with the daemon's
 * prefix, and a rate limit for messages a peer can trigger at will, so a
 * hostile frontend cannot flood the log; and the readiness notification
 * of a systemd Type=notify service.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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

/**
 * backd_notify() - tell the service manager about the daemon's state.
 * @state: newline-separated assignments, e.g. "READY=1" or "STOPPING=1"
 *
 * The sd_notify protocol: one datagram to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or an abstract name written with a leading
 * '@'). Without $NOTIFY_SOCKET (not started by systemd with
 * Type=notify) nothing is sent. A failure is logged and otherwise
 * ignored: the daemon serves whether or not anyone listens, and never
 * waits for a service manager that does not read (MSG_DONTWAIT).
 *
 * Context: the region server's thread.
 */
void backd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || !*path)
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		backd_log("NOTIFY_SOCKET '%s' is not a socket path; not notifying", path);
		return;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		backd_log("telling the service manager '%s': %s", state, strerror(errno));
	if (fd >= 0)
		close(fd);
}
