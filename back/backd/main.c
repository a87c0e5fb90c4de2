// SPDX-License-Identifier: MIT
/*
 * pvio-backd: userspace block backend daemon. Command line, signals and
 * the main event loop; see backd.h for how the pieces fit.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "backd.h"
#include "dev.h"

#define BACKD_MAX_DEVS 64u
/* How often the handshake is re-checked without a doorbell, ms. */
#define BACKD_TICK_MS 100

static const char backd_help[] =
"NAME\n"
"    pvio-backd - pvio userspace block backend daemon\n"
"\n"
"SYNOPSIS\n"
"    pvio-backd --blk PATH [--ro] [--queues N] [--queue-depth D] --socket SOCK\n"
"               [--blk PATH2 ... --socket SOCK2 ...] [--poll]\n"
"               [--idle-poll-us N] [--idle-poll-max-us M] [--foreground]\n"
"               [--engine uring|kernel]\n"
"    pvio-backd --help\n"
"\n"
"DESCRIPTION\n"
"    Exports files or block devices as pvio block devices. For each device\n"
"    the daemon is the ivshmem server: it creates the shared region (a\n"
"    power-of-two memfd), the doorbell eventfds and the UNIX socket SOCK,\n"
"    lays the region out as a pvio block device and serves whoever\n"
"    connects: stock QEMU's ivshmem-doorbell device or pvio's userspace\n"
"    frontend. One frontend per device at a time; a second is refused.\n"
"    When the frontend closes the device or goes away, the daemon finishes\n"
"    the IO it took, lays the region out again and waits for the next one.\n"
"    IO runs on one thread and one io_uring per queue, with O_DIRECT where\n"
"    the file system allows it. Requests are validated; a frontend that\n"
"    breaks the ring protocol (a corrupt ring index, a request id already\n"
"    in flight) gets its device marked broken until it leaves, while other\n"
"    devices keep running. The daemon runs in the foreground and logs to\n"
"    stderr; it prints \"pvio-backd: ready\" once every socket listens.\n"
"\n"
"OPTIONS\n"
"    Each --blk starts a new device; --ro, --queues, --queue-depth and\n"
"    --socket that follow it apply to that device.\n"
"\n"
"    --blk PATH\n"
"        Backing store: a regular file (at least 1 MiB, a multiple of 512\n"
"        bytes) or a block device (size from BLKGETSIZE64, logical block\n"
"        size from BLKSSZGET).\n"
"    --ro\n"
"        Export read-only: writes, discards and write-zeroes fail with\n"
"        PVIO_BLK_S_ROFS; the store is opened O_RDONLY. Default: read-write.\n"
"    --queues N\n"
"        Queues (IO threads), 1..32. Default: 1. The QEMU device needs\n"
"        vectors=N+1.\n"
"    --queue-depth D\n"
"        Requests in flight per queue, 1..4096. Default: 64. Rings get D\n"
"        entries rounded up to a power of two; each queue's data area is\n"
"        D * 128 KiB plus D * 256 bytes of indirect tables.\n"
"    --socket SOCK\n"
"        UNIX socket to serve the device on (required per device). A stale\n"
"        socket file is replaced; one a live server listens on is refused.\n"
"    --poll\n"
"        IO threads spin on their rings instead of sleeping on doorbells:\n"
"        lowest latency, one busy CPU per queue. Applies to every device.\n"
"    --idle-poll-us N\n"
"        When a queue's request ring runs empty and no IO is in flight,\n"
"        its IO thread keeps looking at the ring for up to N microseconds\n"
"        before it asks for a doorbell and sleeps, 0..10000. A frontend\n"
"        that submits again within that time needs no doorbell (no VM exit\n"
"        in the guest, no wake-up here): fewer doorbells and lower latency\n"
"        for up to N us of CPU per idle period. While IO is in flight the\n"
"        thread never asks for a doorbell: each completion wakes it and it\n"
"        looks at the ring then (see --io-poll-max-us). 0 sleeps at once.\n"
"        Default: 50.\n"
"    --idle-poll-max-us M\n"
"        Let each queue's idle poll grow up to M microseconds, 0..10000:\n"
"        after a sleep that a doorbell ended within M us, the next poll\n"
"        lasts twice as long (a longer poll would have caught that\n"
"        request), up to M; after a longer sleep it falls back to\n"
"        --idle-poll-us. A frontend that pauses briefly between batches,\n"
"        as a guest often does, then rings far less often, for at most M us\n"
"        of CPU per pause. M at or below --idle-poll-us turns this off.\n"
"        Default: 200.\n"
"    --io-poll-max-us M\n"
"        While IO is in flight, let each queue's IO thread look for\n"
"        completions and new requests for up to M microseconds, 0..10000,\n"
"        giving the CPU to any other runnable thread between looks, before\n"
"        it sleeps until a completion wakes it. The look starts at 0 and\n"
"        adapts as the idle poll does: it doubles after a sleep that a\n"
"        completion ended within M us and drops to 0 after a longer one. A\n"
"        store that answers in microseconds (tmpfs, the page cache, fast\n"
"        NVMe) is then served without a wake-up per completion. A disk\n"
"        that keeps completions coming every few microseconds keeps the\n"
"        thread busy (about one CPU at 4 KiB QD32); one that takes longer\n"
"        than M costs almost no polling. 0 always sleeps. Default: 200.\n"
"    --engine uring|kernel\n"
"        Who serves the IO of every device. uring (the default): this\n"
"        daemon, as described above. kernel: the host kernel's block\n"
"        backend; the daemon stays the ivshmem server, and for each\n"
"        frontend that connects it hands the region, the doorbells and\n"
"        the backing store to /dev/pvio-back (load pvio_core.ko,\n"
"        pvio_host.ko and pvblkback.ko first), which lays the region out\n"
"        and serves it until the frontend leaves (the daemon then closes\n"
"        the device and the next frontend gets a new one). --poll and the\n"
"        --*-poll-* options do not apply; statistics are the kernel's\n"
"        (/sys/bus/pvio/devices/). Start-up fails (exit 1) when\n"
"        /dev/pvio-back is missing.\n"
"    --foreground\n"
"        Accepted for compatibility: the daemon always runs in the\n"
"        foreground (use a service manager to run it in the background).\n"
"    -h, --help\n"
"        Print this help and exit 0.\n"
"\n"
"DEVICE PARAMETERS\n"
"    Logical block size 512 (4096 for block devices with 4096-byte\n"
"    sectors), max transfer 128 KiB, 32 segments per request (indirect),\n"
"    128 KiB per segment, features FLUSH FUA DISCARD WRITE_ZEROES INDIRECT\n"
"    GET_ID (no DISCARD and WRITE_ZEROES on read-only devices).\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT\n"
"        Stop taking requests, finish those in flight, flush the backing\n"
"        stores, print statistics and exit 0.\n"
"    SIGUSR1\n"
"        Print per-queue statistics: requests, bytes read and written,\n"
"        errors, doorbells in (wake-ups) and out (notifications sent),\n"
"        and in-flight poll misses: sleeps until a completion with IO in\n"
"        flight, after the look of --io-poll-max-us found nothing (or with\n"
"        that look turned off).\n"
"\n"
"EXIT STATUS\n"
"    0   stopped by SIGTERM or SIGINT, or --help\n"
"    1   a device could not be started: missing file, a directory, a file\n"
"        too small or not a multiple of 512 bytes, a socket path in use by\n"
"        a running server, /dev/pvio-back missing with --engine kernel,\n"
"        or a system error\n"
"    2   bad command line: unknown option, missing or bad value (--queues\n"
"        not in 1..32, --queue-depth not in 1..4096), --ro, --queues,\n"
"        --queue-depth or --socket before any --blk, a device without\n"
"        --socket\n"
"\n"
"EXAMPLES\n"
"    Export a file on one queue:\n"
"        pvio-backd --blk /var/lib/pvio/disk.img --socket /run/pvio/pv0.sock\n"
"\n"
"    Two devices, the second read-only with 4 queues of depth 128:\n"
"        pvio-backd --blk disk.img --socket pv0.sock \\\n"
"                   --blk /dev/sdb --ro --queues 4 --queue-depth 128 \\\n"
"                   --socket pv1.sock\n"
"\n"
"    Serve a file from the host kernel instead:\n"
"        insmod pvio_core.ko; insmod pvio_host.ko; insmod pvblkback.ko\n"
"        pvio-backd --engine kernel --blk disk.img --socket pv0.sock\n"
"\n"
"    Attach stock QEMU to a device with N queues (vectors = N + 1):\n"
"        qemu-system-x86_64 ... \\\n"
"            -chardev socket,path=SOCK,id=pv0 \\\n"
"            -device ivshmem-doorbell,chardev=pv0,vectors=N+1\n";

static void backd_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "pvio-backd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\npvio-backd: try 'pvio-backd --help'\n");
	exit(2);
}

static unsigned int backd_parse_uint(const char *opt, const char *s,
				     unsigned int lo, unsigned int hi)
{
	char *end;
	unsigned long v;
	char msg[128];

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
		snprintf(msg, sizeof(msg), "%s: bad value '%%s', want %u..%u", opt,
			 lo, hi);
		backd_usage_error(msg, s);
	}
	return (unsigned int)v;
}

enum { OPT_BLK = 256, OPT_RO, OPT_QUEUES, OPT_DEPTH, OPT_SOCKET, OPT_POLL,
       OPT_IDLE_POLL, OPT_IDLE_POLL_MAX, OPT_IO_POLL_MAX, OPT_FOREGROUND,
       OPT_ENGINE };

static unsigned int backd_parse(int argc, char **argv,
				struct backd_dev_opts *devs,
				struct backd_poll_opts *po)
{
	static const struct option opts[] = {
		{ "blk", required_argument, NULL, OPT_BLK },
		{ "ro", no_argument, NULL, OPT_RO },
		{ "queues", required_argument, NULL, OPT_QUEUES },
		{ "queue-depth", required_argument, NULL, OPT_DEPTH },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "poll", no_argument, NULL, OPT_POLL },
		{ "idle-poll-us", required_argument, NULL, OPT_IDLE_POLL },
		{ "idle-poll-max-us", required_argument, NULL, OPT_IDLE_POLL_MAX },
		{ "io-poll-max-us", required_argument, NULL, OPT_IO_POLL_MAX },
		{ "foreground", no_argument, NULL, OPT_FOREGROUND },
		{ "engine", required_argument, NULL, OPT_ENGINE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backd_dev_opts *cur = NULL;
	unsigned int n = 0, i;
	bool kernel = false;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c != OPT_BLK && c != OPT_POLL && c != OPT_IDLE_POLL &&
		    c != OPT_IDLE_POLL_MAX && c != OPT_IO_POLL_MAX &&
		    c != OPT_FOREGROUND && c != OPT_ENGINE &&
		    c != 'h' && c != '?' && c != ':' && !cur)
			backd_usage_error("%s given before any --blk", argv[optind - 1]);
		switch (c) {
		case OPT_BLK:
			if (n == BACKD_MAX_DEVS)
				backd_usage_error("too many devices (at most %s)", "64");
			cur = &devs[n++];
			memset(cur, 0, sizeof(*cur));
			cur->path = optarg;
			cur->queues = 1;
			cur->depth = BACKD_DEFAULT_DEPTH;
			break;
		case OPT_RO:
			cur->ro = true;
			break;
		case OPT_QUEUES:
			cur->queues = backd_parse_uint("--queues", optarg, 1,
						       BACKD_MAX_QUEUES);
			break;
		case OPT_DEPTH:
			cur->depth = backd_parse_uint("--queue-depth", optarg, 1,
						      BACKD_MAX_DEPTH);
			break;
		case OPT_SOCKET:
			if (cur->socket)
				backd_usage_error("--socket given twice for the device %s",
						  cur->path);
			cur->socket = optarg;
			break;
		case OPT_POLL:
			po->spin = true;
			break;
		case OPT_IDLE_POLL:
			po->idle_us = backd_parse_uint("--idle-poll-us", optarg,
						       0, BACKD_MAX_IDLE_POLL_US);
			break;
		case OPT_IDLE_POLL_MAX:
			po->idle_max_us = backd_parse_uint("--idle-poll-max-us",
							   optarg, 0,
							   BACKD_MAX_IDLE_POLL_US);
			break;
		case OPT_IO_POLL_MAX:
			po->io_max_us = backd_parse_uint("--io-poll-max-us",
							 optarg, 0,
							 BACKD_MAX_IDLE_POLL_US);
			break;
		case OPT_FOREGROUND:
			break;
		case OPT_ENGINE:
			if (!strcmp(optarg, "kernel"))
				kernel = true;
			else if (!strcmp(optarg, "uring"))
				kernel = false;
			else
				backd_usage_error("--engine: bad value '%s', want uring or kernel",
						  optarg);
			break;
		case 'h':
			fputs(backd_help, stdout);
			exit(0);
		case ':':
			backd_usage_error("%s needs a value", argv[optind - 1]);
			break;
		default:
			backd_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		backd_usage_error("unexpected argument '%s'", argv[optind]);
	if (n == 0)
		backd_usage_error("%sno device: give at least one --blk PATH --socket SOCK", "");
	for (i = 0; i < n; i++) {
		if (!devs[i].socket)
			backd_usage_error("device %s has no --socket", devs[i].path);
		devs[i].kernel = kernel;
	}
	return n;
}

static int backd_epoll_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

#define TAG_SIGNAL (~0ull)
#define TAG_SERVER(i) ((uint64_t)(i) << 1)
#define TAG_CONTROL(i) (((uint64_t)(i) << 1) | 1)

int main(int argc, char **argv)
{
	static struct backd_dev_opts opts[BACKD_MAX_DEVS];
	struct backd_dev *devs;
	struct epoll_event evs[16];
	struct signalfd_siginfo si;
	struct backd_poll_opts po = {
		.idle_us = BACKD_DEFAULT_IDLE_POLL_US,
		.idle_max_us = BACKD_DEFAULT_IDLE_POLL_MAX_US,
		.io_max_us = BACKD_DEFAULT_IO_POLL_MAX_US,
	};
	bool running = true;
	unsigned int n, i, opened = 0;
	sigset_t sigs;
	int ep, sfd, k, nev, exit_code = 0;

	n = backd_parse(argc, argv, opts, &po);
	/* --idle-poll-us 0 sleeps at once, whatever the maximum. */
	if (po.idle_max_us < po.idle_us || po.idle_us == 0)
		po.idle_max_us = po.idle_us;

	/* Blocked before any thread exists, so every thread inherits it and
	 * only the signalfd sees these signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	devs = calloc(n, sizeof(*devs));
	if (sfd < 0 || ep < 0 || !devs) {
		backd_log("start-up: %s", strerror(errno));
		return 1;
	}
	if (backd_epoll_add(ep, sfd, TAG_SIGNAL))
		return 1;
	for (i = 0; i < n; i++) {
		if (backd_dev_open(&devs[i], i, &opts[i], &po)) {
			exit_code = 1;
			break;
		}
		opened++;
		if (backd_epoll_add(ep, backd_dev_server_fd(&devs[i]), TAG_SERVER(i)) ||
		    (backd_dev_control_fd(&devs[i]) >= 0 &&
		     backd_epoll_add(ep, backd_dev_control_fd(&devs[i]), TAG_CONTROL(i)))) {
			backd_log("%s: epoll: %s", devs[i].name, strerror(errno));
			exit_code = 1;
			break;
		}
	}
	if (exit_code) {
		for (i = 0; i < opened; i++)
			backd_dev_close(&devs[i]);
		free(devs);
		return exit_code;
	}
	backd_log("ready");

	while (running) {
		nev = epoll_wait(ep, evs, 16, BACKD_TICK_MS);
		if (nev < 0 && errno != EINTR) {
			backd_log("epoll_wait: %s", strerror(errno));
			exit_code = 1;
			break;
		}
		if (nev <= 0) {
			for (i = 0; i < n; i++)
				backd_dev_handle_control(&devs[i]);
			continue;
		}
		for (k = 0; k < nev; k++) {
			uint64_t tag = evs[k].data.u64;

			if (tag == TAG_SIGNAL) {
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGUSR1) {
						for (i = 0; i < n; i++)
							backd_dev_print_stats(&devs[i]);
					} else {
						backd_log("signal %u: finishing in-flight IO and exiting",
							  si.ssi_signo);
						running = false;
					}
				}
			} else if (tag & 1) {
				backd_dev_handle_control(&devs[tag >> 1]);
			} else {
				backd_dev_handle_server(&devs[tag >> 1]);
			}
		}
	}
	for (i = 0; i < n; i++)
		backd_dev_close(&devs[i]);
	free(devs);
	close(ep);
	close(sfd);
	backd_log("exiting");
	return exit_code;
}
