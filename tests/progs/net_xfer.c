// SPDX-License-Identifier: MIT
/*
 * net_xfer - move a known byte stream over TCP or known datagrams over UDP
 * and check what arrived, for the network tests.
 *
 *   net_xfer tcp-send ADDR PORT BYTES [--seed S] [--timeout SEC]
 *   net_xfer tcp-recv PORT BYTES [--seed S] [--timeout SEC]
 *   net_xfer udp-send ADDR PORT COUNT SIZE [--seed S] [--timeout SEC]
 *   net_xfer udp-recv PORT COUNT SIZE [--seed S] [--timeout SEC]
 *                     [--min-pct P]
 *
 * The stream is a function of the seed only (xorshift64*, 8 bytes at a
 * time, little-endian), so the receiver checks every byte against what the
 * sender must have sent and names the first offset that differs. Both
 * ends print "net_xfer: BYTES bytes, hash H" (FNV-1a, 64 bits, over the
 * bytes moved), so a test can also compare the two lines. tcp-send
 * connects (trying again for up to --timeout seconds while the peer is not
 * listening yet), writes BYTES bytes, shuts its side down and waits for
 * the peer to close. tcp-recv accepts one connection and reads to its end;
 * it fails unless exactly BYTES correct bytes came.
 *
 * Datagram i (0-based) holds its index in its first 4 bytes and stream
 * bytes of seed S + i after them. udp-recv counts datagrams until COUNT
 * came or no datagram came for a second after the first one; it fails on
 * any datagram of the wrong size or content, on a repeated index, or when
 * fewer than --min-pct (default 90) per cent of COUNT came.
 *
 * Every run ends within --timeout seconds (default 60): exit 0 when the
 * check passed, 1 when it failed (the reason on stderr), 2 on bad usage.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xfer_stream.h"

#define XFER_CHUNK (64u * 1024u)
#define XFER_UDP_MAX 65507u

static uint64_t opt_seed = 1;
static unsigned int opt_timeout = 60;
static unsigned int opt_min_pct = 90;

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

static int fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "net_xfer: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 1;
}

static int fail_errno(const char *what)
{
	fprintf(stderr, "net_xfer: %s: %s\n", what, strerror(errno));
	return 1;
}

static void on_alarm(int sig)
{
	static const char msg[] = "net_xfer: timed out\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int addr_of(const char *host, const char *port, struct sockaddr_in *sa)
{
	uint64_t p;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (parse_u64(port, 65535, &p) || !p)
		return -1;
	sa->sin_port = htons((uint16_t)p);
	if (!host) {
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static void report(uint64_t bytes, uint64_t hash)
{
	printf("net_xfer: %llu bytes, hash %016llx\n", (unsigned long long)bytes,
	       (unsigned long long)hash);
	fflush(stdout);
}

static int tcp_send(const struct sockaddr_in *sa, uint64_t bytes)
{
	static uint8_t buf[XFER_CHUNK];
	struct xfer_stream s;
	uint64_t sent = 0, h = FNV_INIT;
	int fd = -1;

	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return fail_errno("socket");
		if (!connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
			break;
		if (errno != ECONNREFUSED && errno != EHOSTUNREACH &&
		    errno != ENETUNREACH)
			return fail_errno("connect");
		close(fd);
		usleep(100000); /* the peer is not listening yet */
	}
	xfer_stream_init(&s, opt_seed);
	while (sent < bytes) {
		size_t n = bytes - sent < XFER_CHUNK ? (size_t)(bytes - sent) : XFER_CHUNK;
		size_t off = 0;

		xfer_stream_fill(&s, buf, n);
		h = fnv(h, buf, n);
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				return fail_errno("write");
			}
			off += (size_t)w;
		}
		sent += n;
	}
	if (shutdown(fd, SHUT_WR))
		return fail_errno("shutdown");
	/* Wait for the receiver's close: all bytes were taken. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	report(sent, h);
	return 0;
}

static int tcp_recv(const struct sockaddr_in *sa, uint64_t bytes)
{
	static uint8_t buf[XFER_CHUNK];
	struct xfer_stream s;
	uint64_t got = 0, h = FNV_INIT;
	int one = 1, lfd, fd;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		return fail_errno("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (const struct sockaddr *)sa, sizeof(*sa)) || listen(lfd, 1))
		return fail_errno("bind/listen");
	printf("net_xfer: listening\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return fail_errno("accept");
	xfer_stream_init(&s, opt_seed);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		ssize_t i;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return fail_errno("read");
		}
		if (!r)
			break;
		for (i = 0; i < r; i++) {
			if (buf[i] != xfer_stream_byte(&s)) {
				fprintf(stderr, "net_xfer: byte %llu differs from what was sent\n",
					(unsigned long long)(got + (uint64_t)i));
				return 1;
			}
		}
		h = fnv(h, buf, (size_t)r);
		got += (uint64_t)r;
		if (got > bytes) {
			fprintf(stderr, "net_xfer: more than %llu bytes came\n",
				(unsigned long long)bytes);
			return 1;
		}
	}
	close(fd);
	close(lfd);
	report(got, h);
	if (got != bytes) {
		fprintf(stderr, "net_xfer: %llu of %llu bytes came\n",
			(unsigned long long)got, (unsigned long long)bytes);
		return 1;
	}
	return 0;
}

static void dgram_fill(uint8_t *p, uint32_t idx, size_t size)
{
	struct xfer_stream s;
	uint32_t le = htole32(idx);

	memcpy(p, &le, sizeof(le));
	xfer_stream_init(&s, opt_seed + idx);
	xfer_stream_fill(&s, p + 4, size - 4);
}

static int udp_send(const struct sockaddr_in *sa, uint64_t count, size_t size)
{
	static uint8_t buf[XFER_UDP_MAX];
	uint64_t i, sent = 0;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return fail_errno("socket");
	for (i = 0; i < count; i++) {
		dgram_fill(buf, (uint32_t)i, size);
		if (sendto(fd, buf, size, 0, (const struct sockaddr *)sa,
			   sizeof(*sa)) == (ssize_t)size) {
			sent++;
		} else if (errno != ENOBUFS && errno != EAGAIN &&
			   errno != ECONNREFUSED) {
			return fail_errno("sendto");
		}
		/* Pace: the check is about content, not rate, and a guest
		 * under emulation takes a few thousand datagrams a second. */
		if (i % 4 == 3)
			usleep(1000);
	}
	close(fd);
	printf("net_xfer: sent %llu of %llu datagrams of %zu bytes\n",
	       (unsigned long long)sent, (unsigned long long)count, size);
	return sent ? 0 : 1;
}

static int udp_recv(const struct sockaddr_in *sa, uint64_t count, size_t size)
{
	static uint8_t buf[XFER_UDP_MAX + 1], want[XFER_UDP_MAX];
	uint8_t *seen = calloc((size_t)count, 1);
	uint64_t got = 0;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int rcvbuf = 4 << 20;

	if (!seen)
		return fail("%s", "out of memory");
	if (fd < 0)
		return fail_errno("socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		return fail_errno("bind");
	printf("net_xfer: listening\n");
	fflush(stdout);
	while (got < count) {
		struct timeval tv = { .tv_sec = 1 };
		uint32_t idx;
		ssize_t r;

		if (got)
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return fail_errno("recv");
		}
		if ((size_t)r != size) {
			fprintf(stderr, "net_xfer: a datagram of %zd bytes, not %zu\n", r, size);
			return 1;
		}
		memcpy(&idx, buf, sizeof(idx));
		idx = le32toh(idx);
		if (idx >= count || seen[idx]) {
			fprintf(stderr, "net_xfer: datagram index %u unknown or repeated\n", idx);
			return 1;
		}
		dgram_fill(want, idx, size);
		if (memcmp(want, buf, size)) {
			fprintf(stderr, "net_xfer: datagram %u differs from what was sent\n", idx);
			return 1;
		}
		seen[idx] = 1;
		got++;
	}
	close(fd);
	free(seen);
	printf("net_xfer: received %llu of %llu datagrams of %zu bytes intact\n",
	       (unsigned long long)got, (unsigned long long)count, size);
	if (got * 100 < count * opt_min_pct) {
		fprintf(stderr, "net_xfer: fewer than %u%% came\n", opt_min_pct);
		return 1;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: net_xfer tcp-send ADDR PORT BYTES [--seed S] [--timeout SEC]\n"
		"       net_xfer tcp-recv PORT BYTES [--seed S] [--timeout SEC]\n"
		"       net_xfer udp-send ADDR PORT COUNT SIZE [--seed S] [--timeout SEC]\n"
		"       net_xfer udp-recv PORT COUNT SIZE [--seed S] [--timeout SEC] [--min-pct P]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *pos[5];
	unsigned int npos = 0;
	struct sockaddr_in sa;
	uint64_t v, n = 0, size = 0;
	const char *mode;
	int i;

	if (argc < 2)
		return usage();
	mode = argv[1];
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (parse_u64(argv[++i], UINT64_MAX, &opt_seed))
				return usage();
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			if (parse_u64(argv[++i], 86400, &v) || !v)
				return usage();
			opt_timeout = (unsigned int)v;
		} else if (!strcmp(argv[i], "--min-pct") && i + 1 < argc) {
			if (parse_u64(argv[++i], 100, &v))
				return usage();
			opt_min_pct = (unsigned int)v;
		} else if (argv[i][0] == '-' || npos == 5) {
			return usage();
		} else {
			pos[npos++] = argv[i];
		}
	}
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(opt_timeout);

	if (!strcmp(mode, "tcp-send") && npos == 3) {
		if (addr_of(pos[0], pos[1], &sa) || parse_u64(pos[2], UINT64_MAX, &n))
			return usage();
		return tcp_send(&sa, n);
	}
	if (!strcmp(mode, "tcp-recv") && npos == 2) {
		if (addr_of(NULL, pos[0], &sa) || parse_u64(pos[1], UINT64_MAX, &n))
			return usage();
		return tcp_recv(&sa, n);
	}
	if (!strcmp(mode, "udp-send") && npos == 4) {
		if (addr_of(pos[0], pos[1], &sa) || parse_u64(pos[2], 1u << 24, &n) ||
		    parse_u64(pos[3], XFER_UDP_MAX, &size) || size < 4)
			return usage();
		return udp_send(&sa, n, (size_t)size);
	}
	if (!strcmp(mode, "udp-recv") && npos == 3) {
		if (addr_of(NULL, pos[0], &sa) || parse_u64(pos[1], 1u << 24, &n) ||
		    parse_u64(pos[2], XFER_UDP_MAX, &size) || size < 4 || !n)
			return usage();
		return udp_recv(&sa, n, (size_t)size);
	}
	return usage();
}
