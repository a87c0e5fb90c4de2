// SPDX-License-Identifier: MIT
/*
 * pvio-backd: userspace block and network backend daemon. Command line,
 * signals and the region server's event loop; see backd.h for how the
 * pieces fit.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backd.h"
#include "dev.h"
#include "server.h"

#define BACKD_MAX_DEVS 64u
/* How often restarts that are due are looked at, ms. */
#define BACKD_TICK_MS 50

static const char backd_help[] =
"NAME\n"
"    pvio-backd - pvio userspace block and network backend daemon\n"
"\n"
"SYNOPSIS\n"
"    pvio-backd --blk PATH [--ro] [--queues N] [--queue-depth D] --socket SOCK\n"
"               [--blk PATH2 ... --socket SOCK2 ...] [--poll]\n"
"               [--idle-poll-us N] [--idle-poll-max-us M] [--foreground]\n"
"               [--engine uring|kernel] [--socket-mode MODE]\n"
"               [--socket-group GROUP] [--allow-uid USER] [--allow-gid GROUP]\n"
"    pvio-backd --driver-vm BSOCK [--queues N] [--region-mb M] --socket SOCK ...\n"
"    pvio-backd --net tap=IFNAME[,mac=MAC][,mtu=N][,queues=N][,gso=on|off]\n"
"               [--queue-depth D] --socket SOCK ...\n"
"    pvio-backd --help\n"
"\n"
"DESCRIPTION\n"
"    Exports files, block devices and NBD exports (--blk nbd://...) as\n"
"    pvio block devices, and TAP interfaces as pvio network devices\n"
"    (--net). For each device\n"
"    the daemon is the ivshmem server: it creates the shared region (a\n"
"    power-of-two memfd), the doorbell eventfds and the UNIX socket SOCK\n"
"    and serves whoever connects: stock QEMU's ivshmem-doorbell device or\n"
"    pvio's userspace frontend. One frontend per device at a time; a\n"
"    second is refused. Each frontend that connects gets a region and\n"
"    doorbells of its own, new and zeroed: one that left keeps nothing the\n"
"    next one uses.\n"
"\n"
"    The IO of each device runs in an engine process of its own\n"
"    (pvio-eng-devN, a child of the daemon), which lays the region out,\n"
"    runs the connection handshake and serves the queues: one thread and\n"
"    one io_uring per queue, with O_DIRECT where the file system allows it\n"
"    (or the host kernel's block backend, --engine kernel). The daemon\n"
"    itself never touches IO. When an engine dies (killed, crashed), the\n"
"    daemon starts another at once (after a pause that grows to 5 s if it\n"
"    keeps dying within a second); the region, the doorbells and the\n"
"    socket stay, so QEMU stays connected, and the new engine lays the\n"
"    region out again with a new generation. pvio's frontends (the guest\n"
"    driver pvblk, the userspace library) then submit again every request\n"
"    the dead engine had not answered: the guest sees a stall, not an\n"
"    error. A write is answered only after it completed in the kernel (and\n"
"    after a flush, for FUA), so an answered write survives the engine.\n"
"    Before serving, a new engine waits until nothing the dead one\n"
"    submitted can still reach the store (a lock on the store that the\n"
"    kernel releases only when the last of that IO is done); the same lock\n"
"    refuses a second daemon exporting the same store read-write (after\n"
"    5 s, the time a daemon that was just stopped may need to let go).\n"
"\n"
"    When the frontend closes the device or goes away, the engine finishes\n"
"    the IO it took and waits for the next one. Requests are validated; a\n"
"    frontend that breaks the ring protocol (a corrupt ring index, a\n"
"    request id already in flight) gets its device marked broken until it\n"
"    leaves, while other devices keep running. The daemon runs in the\n"
"    foreground and logs to stderr; it prints \"pvio-backd: ready\" once\n"
"    every socket listens.\n"
"\n"
"OPTIONS\n"
"    Each --blk, --net or --driver-vm starts a new device; --ro, --queues,\n"
"    --queue-depth, --region-mb and --socket that follow it apply to that\n"
"    device.\n"
"\n"
"    --driver-vm BSOCK\n"
"        A device served by a driver VM instead of a store here (Xen's\n"
"        driver domain on a stock hypervisor): the daemon creates the\n"
"        region and two sockets, BSOCK for the driver VM's QEMU and SOCK\n"
"        (--socket) for the frontend's. The driver VM's ivshmem-doorbell\n"
"        device gets peer id 0, the backend's; the frontend gets peer id 1.\n"
"        In the driver VM, load pvio_core.ko, pvio_ivshmem.ko and\n"
"        pvblkback.ko and write \"blk /dev/vdX peer=1 queues=N\" to\n"
"        /sys/bus/pci/devices/BDF/pvio_backend. Either VM may stop and\n"
"        start again: the daemon marks the side that left CLOSED in the\n"
"        region and rings the other, so a frontend whose driver VM reboots\n"
"        holds its IO and replays it when the driver VM serves the region\n"
"        again, and a driver VM whose frontend goes lays the region out for\n"
"        the next one. No engine process; --ro, --queue-depth and --engine\n"
"        do not apply. The driver VM keeps its mapping of the region, so\n"
"        frontends of such a device share one region over time (the driver\n"
"        VM's backend clears the data areas it hands to a new frontend).\n"
"    --region-mb M\n"
"        --driver-vm only: region size in MiB, a power of two, 1..1024.\n"
"        Default: 32 for one queue, 64 for more. Both QEMU devices need\n"
"        vectors=N+1.\n"
"    --blk PATH\n"
"    --blk nbd://HOST[:PORT]/EXPORT\n"
"    --blk nbd+unix:///EXPORT?socket=SOCKET\n"
"        Backing store: a regular file (at least 1 MiB, a multiple of 512\n"
"        bytes) or a block device (size from BLKGETSIZE64, logical block\n"
"        size from BLKSSZGET), or an export of an NBD server given as a\n"
"        libnbd URI (see nbd_connect_uri(3); nbd:// over TCP, PORT 10809 by\n"
"        default, or nbd+unix:// on a UNIX socket; an empty EXPORT is the\n"
"        server's default export). The engine opens one NBD connection per\n"
"        queue and drives it asynchronously from the queue's io_uring loop,\n"
"        no extra threads. Several queues need a server that advertises\n"
"        multi-conn (nbdkit's memory and file plugins do, qemu-nbd by\n"
"        default not): otherwise the daemon says so and serves one queue,\n"
"        and the QEMU device then needs vectors=2. The size, the block\n"
"        sizes and what the device offers follow the server: read-only when\n"
"        the export is (said in the log), FLUSH and a write cache when it\n"
"        can flush, FUA, DISCARD (trim) and WRITE_ZEROES when it supports\n"
"        them. The daemon connects at start-up and once more in each engine\n"
"        process, so a server that serves one client only must outlive a\n"
"        disconnect (qemu-nbd --persistent). A server that is not there, or\n"
"        does not answer within 10 s, fails the start-up (exit 1). A\n"
"        connection that breaks later is logged once for the export; every\n"
"        request in flight on it and every later one fails with\n"
"        PVIO_BLK_S_IOERR, and the daemon's other devices keep serving. Not\n"
"        with --engine kernel.\n"
"    --net tap=IFNAME[,mac=MAC][,mtu=N][,queues=N][,gso=on|off]\n"
"        A pvio network device (dev_class NET) whose host end is the TAP\n"
"        interface IFNAME, in the daemon's network namespace (run the\n"
"        daemon under ip netns exec to put it elsewhere). The engine opens\n"
"        one TAP queue per queue pair (IFF_TAP, IFF_NO_PI, IFF_VNET_HDR,\n"
"        IFF_MULTI_QUEUE), creating the interface if it does not exist: a\n"
"        TAP the daemon created goes away when the daemon stops, one that\n"
"        was made persistent beforehand (ip tuntap add IFNAME mode tap\n"
"        multi_queue vnet_hdr) stays. The daemon sets the interface's MTU\n"
"        but never its addresses or its state: bring it up and configure\n"
"        it (or add it to a bridge) as usual. Frames the frontend sends\n"
"        are written to the TAP; frames the host sends to the TAP are\n"
"        delivered to the frontend's posted buffers, with the checksum\n"
"        offload header kept when the frontend accepted GUEST_CSUM.\n"
"        Malformed frames are answered INVAL (one rate-limited log line\n"
"        each) and the device keeps serving; frames the TAP cannot take\n"
"        (interface down, queue full) are answered DROPPED. The keys:\n"
"        tap=IFNAME, the interface, 1..15 characters (required); mac=MAC,\n"
"        the frontend's MAC address as six hex pairs such as\n"
"        52:54:00:12:34:56, unicast (default: a locally administered one\n"
"        derived from --socket); mtu=N, 68..65517 (default 1500; another\n"
"        value is offered with the MTU feature); queues=N, queue pairs,\n"
"        1..16 (default 1; more are offered with the MQ feature, and the\n"
"        QEMU device needs vectors=2N+1); gso=on|off, segmentation\n"
"        offloads (default on: TCP frames of up to 64 KiB both ways, the\n"
"        GSO_TCPV4/6, GUEST_GSO_TCPV4/6 and RX_MERGE features, received\n"
"        frames spread over several posted buffers; the TX data area then\n"
"        holds up to 120 such frames per queue; off: frames of one MTU,\n"
"        one buffer each). --queue-depth D sets the buffers\n"
"        per queue (default 256). Start-up\n"
"        fails (exit 1) when /dev/net/tun is missing, the name is not a\n"
"        valid interface name, or an interface of that name exists that is\n"
"        not a TAP with multi_queue. --ro and --queues do not apply;\n"
"        --engine kernel serves block devices only.\n"
"    --ro\n"
"        Export read-only: writes, discards and write-zeroes fail with\n"
"        PVIO_BLK_S_ROFS; the store is opened O_RDONLY. Default: read-write.\n"
"    --queues N\n"
"        Queues (IO threads), 1..32. Default: 1. The QEMU device needs\n"
"        vectors=N+1.\n"
"    --queue-depth D\n"
"        Requests in flight per queue, 1..4096. Default: 64 (256 for\n"
"        --net). Rings get D\n"
"        entries rounded up to a power of two; each queue's data area is\n"
"        D * 128 KiB plus D * 256 bytes of indirect tables.\n"
"    --socket SOCK\n"
"        UNIX socket to serve the device on (required per device). A stale\n"
"        socket file is replaced; one a live server listens on is refused.\n"
"        The socket file is created with mode 0600 (whatever the umask):\n"
"        only its owner (and root) can connect. See --socket-mode.\n"
"    --socket-mode MODE\n"
"        Octal permission bits of every socket file, for example 0660 with\n"
"        --socket-group to let a group's members (a QEMU running as\n"
"        another user) connect. Default: 0600.\n"
"    --socket-group GROUP\n"
"        Group (name or number) of every socket file. Default: the\n"
"        daemon's.\n"
"    --allow-uid USER, --allow-gid GROUP\n"
"        Check every connection's credentials (SO_PEERCRED) and accept only\n"
"        root, the user USER, and processes whose primary group is GROUP;\n"
"        others are refused with a log line. Either option turns the check\n"
"        on. Default: no check beyond the socket file's mode.\n"
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
"    Network devices (--net): features CSUM, GUEST_CSUM and LINK_STATUS,\n"
"    MQ with more than one queue pair, MTU with an MTU other than 1500;\n"
"    4 segments per TX frame; each queue's data area holds D buffers of\n"
"    the MTU plus 18 bytes, rounded up to 64. The link reported to the\n"
"    frontend (config.status) follows the TAP: up while the interface is\n"
"    up with its carrier on; a change is published within 100 ms.\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT\n"
"        Stop taking requests, finish those in flight, flush the backing\n"
"        stores, print statistics and exit 0 (engines that do not finish\n"
"        within 30 s are killed). The daemon exits once the kernel has let\n"
"        go of the stores (at most 10 s more), so a daemon started right\n"
"        after it finds them free.\n"
"    SIGKILL to an engine (pvio-eng-devN)\n"
"        The engine dies without answering what it took; the daemon starts\n"
"        another and the frontend replays (see DESCRIPTION).\n"
"    SIGUSR1\n"
"        Print per-queue statistics: requests, bytes read and written,\n"
"        errors, doorbells in (wake-ups) and out (notifications sent),\n"
"        and in-flight poll misses: sleeps until a completion with IO in\n"
"        flight, after the look of --io-poll-max-us found nothing (or with\n"
"        that look turned off).\n"
"\n"
"ENVIRONMENT\n"
"    NOTIFY_SOCKET\n"
"        Set by systemd for a Type=notify service (pvio-backd@.service,\n"
"        make install): the daemon sends READY=1 there once every socket\n"
"        listens and STOPPING=1 when told to stop.\n"
"\n"
"EXIT STATUS\n"
"    0   stopped by SIGTERM or SIGINT, or --help\n"
"    1   a device could not be started: missing file, a directory, a file\n"
"        too small or not a multiple of 512 bytes, a bad NBD URI or an NBD\n"
"        server that cannot be reached, a store another\n"
"        pvio-backd exports, a TAP that cannot be opened (see --net), a\n"
"        socket path in use by a running server,\n"
"        /dev/pvio-back missing with --engine kernel, or a system error\n"
"    2   bad command line: unknown option, missing or bad value (--queues\n"
"        not in 1..32, --queue-depth not in 1..4096, a --socket-mode that\n"
"        is not octal permission bits, an unknown user or group), --ro,\n"
"        --queues,\n"
"        --queue-depth or --socket before any --blk, a device without\n"
"        --socket, a --net value that is not KEY=VALUE with a known key\n"
"        and a valid value, --ro or --queues after --net\n"
"\n"
"FILES\n"
"    The engine processes are children of the daemon named pvio-eng-devN\n"
"    (N counts --blk options from 0): pgrep -P PID lists them.\n"
"\n"
"EXAMPLES\n"
"    A driver VM serving its disk to a guest (tools/pvio-vm --backend-vm\n"
"    starts all three):\n"
"        pvio-backd --driver-vm /run/pvio/dvm.sock --socket /run/pvio/pv0.sock\n"
"        qemu-system-x86_64 ... -drive file=disk.img,if=virtio \\\n"
"            -chardev socket,path=/run/pvio/dvm.sock,id=b \\\n"
"            -device ivshmem-doorbell,chardev=b,vectors=2      # driver VM\n"
"        qemu-system-x86_64 ... -chardev socket,path=/run/pvio/pv0.sock,id=f \\\n"
"            -device ivshmem-doorbell,chardev=f,vectors=2      # frontend\n"
"\n"
"    A network device on TAP pvt0 in the namespace pvnet, two queue pairs:\n"
"        ip netns exec pvnet pvio-backd \\\n"
"            --net tap=pvt0,queues=2 --socket /run/pvio/net0.sock\n"
"        ip netns exec pvnet ip addr add 10.99.0.1/24 dev pvt0\n"
"        ip netns exec pvnet ip link set pvt0 up\n"
"\n"
"    Export a file on one queue:\n"
"        pvio-backd --blk /var/lib/pvio/disk.img --socket /run/pvio/pv0.sock\n"
"\n"
"    Two devices, the second read-only with 4 queues of depth 128:\n"
"        pvio-backd --blk disk.img --socket pv0.sock \\\n"
"                   --blk /dev/sdb --ro --queues 4 --queue-depth 128 \\\n"
"                   --socket pv1.sock\n"
"\n"
"    Let group kvm connect (QEMU running as another user):\n"
"        pvio-backd --blk disk.img --socket /run/pvio/pv0.sock \\\n"
"                   --socket-mode 0660 --socket-group kvm --allow-gid kvm\n"
"\n"
"    An NBD export, here nbdkit's memory plugin, on two queues:\n"
"        nbdkit -U /run/pvio/nbd.sock memory 1G\n"
"        pvio-backd --blk 'nbd+unix:///?socket=/run/pvio/nbd.sock' \\\n"
"                   --queues 2 --socket /run/pvio/pv0.sock\n"
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
       OPT_ENGINE, OPT_SOCKET_MODE, OPT_SOCKET_GROUP, OPT_ALLOW_UID,
       OPT_ALLOW_GID, OPT_DRIVER_VM, OPT_REGION_MB, OPT_NET };

/* A MAC address as six hex pairs separated by ':'; unicast, not zero. */
static void backd_parse_mac(const char *s, unsigned char *mac)
{
	unsigned int b[6], i;
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6 || strlen(s) != 17)
		backd_usage_error("--net: bad mac '%s', want six hex pairs such as 52:54:00:12:34:56",
				  s);
	for (i = 0; i < 6; i++)
		mac[i] = (unsigned char)b[i];
	if (mac[0] & 1)
		backd_usage_error("--net: mac %s is a multicast address", s);
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		backd_usage_error("--net: mac %s is zero", s);
}

/* --net tap=IFNAME[,mac=MAC][,mtu=N][,queues=N][,gso=on|off] into @d. */
static void backd_parse_net(const char *arg, struct backd_dev_opts *d)
{
	/* Cut up a copy that lives as long as the process (@d points into
	 * it), so that the command line in /proc stays as given. */
	char *spec = strdup(arg), *save = NULL, *tok, *val;

	if (!spec) {
		fprintf(stderr, "pvio-backd: out of memory\n");
		exit(1);
	}
	d->net = true;
	d->mtu = PVIO_NET_MTU_DEFAULT;
	d->pairs = 1;
	for (tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		val = strchr(tok, '=');
		if (!val)
			backd_usage_error("--net: '%s' is not KEY=VALUE", tok);
		*val++ = '\0';
		if (!strcmp(tok, "tap")) {
			if (!*val || strlen(val) >= 16)
				backd_usage_error("--net: tap name '%s' must have 1..15 characters",
						  val);
			d->tap = val;
		} else if (!strcmp(tok, "mac")) {
			backd_parse_mac(val, d->mac);
			d->mac_set = true;
		} else if (!strcmp(tok, "mtu")) {
			d->mtu = backd_parse_uint("--net mtu", val, PVIO_NET_MTU_MIN,
						  PVIO_NET_MTU_MAX - PVIO_NET_ETH_HLEN_MAX);
		} else if (!strcmp(tok, "queues")) {
			d->pairs = backd_parse_uint("--net queues", val, 1,
						    BACKD_MAX_QUEUES / 2);
		} else if (!strcmp(tok, "gso")) {
			if (strcmp(val, "on") && strcmp(val, "off"))
				backd_usage_error("--net: gso=%s: bad value (on or off)",
						  val);
			d->gso_off = !strcmp(val, "off");
		} else {
			backd_usage_error("--net: unknown key '%s' (tap, mac, mtu, queues, gso)",
					  tok);
		}
	}
	if (!d->tap)
		backd_usage_error("--net: %sno tap=IFNAME given", "");
	d->path = d->tap;
	d->queues = 2 * d->pairs;
}

static unsigned int backd_parse_mode(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || end == s || *end || s[0] == '-' || v > 0777)
		backd_usage_error("--socket-mode: bad value '%s', want octal permission bits such as 0660",
				  s);
	return (unsigned int)v;
}

/* A group by name or number. */
static unsigned int backd_parse_gid(const char *opt, const char *s)
{
	struct group *g = getgrnam(s);
	char msg[96];
	char *end;
	unsigned long v;

	if (g)
		return (unsigned int)g->gr_gid;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v >= UINT_MAX) {
		snprintf(msg, sizeof(msg), "%s: no group '%%s'", opt);
		backd_usage_error(msg, s);
	}
	return (unsigned int)v;
}

/* A user by name or number. */
static unsigned int backd_parse_uid(const char *s)
{
	struct passwd *pw = getpwnam(s);
	char *end;
	unsigned long v;

	if (pw)
		return (unsigned int)pw->pw_uid;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v >= UINT_MAX)
		backd_usage_error("--allow-uid: no user '%s'", s);
	return (unsigned int)v;
}

static unsigned int backd_parse(int argc, char **argv,
				struct backd_dev_opts *devs,
				struct backd_poll_opts *po,
				struct backd_socket_opts *so)
{
	static const struct option opts[] = {
		{ "blk", required_argument, NULL, OPT_BLK },
		{ "driver-vm", required_argument, NULL, OPT_DRIVER_VM },
		{ "net", required_argument, NULL, OPT_NET },
		{ "region-mb", required_argument, NULL, OPT_REGION_MB },
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
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
		{ "allow-gid", required_argument, NULL, OPT_ALLOW_GID },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backd_dev_opts *cur = NULL;
	unsigned int n = 0, i;
	bool kernel = false;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c != OPT_BLK && c != OPT_DRIVER_VM && c != OPT_NET &&
		    c != OPT_POLL &&
		    c != OPT_IDLE_POLL &&
		    c != OPT_IDLE_POLL_MAX && c != OPT_IO_POLL_MAX &&
		    c != OPT_FOREGROUND && c != OPT_ENGINE &&
		    c != OPT_SOCKET_MODE && c != OPT_SOCKET_GROUP &&
		    c != OPT_ALLOW_UID && c != OPT_ALLOW_GID &&
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
		case OPT_DRIVER_VM:
			if (n == BACKD_MAX_DEVS)
				backd_usage_error("too many devices (at most %s)", "64");
			cur = &devs[n++];
			memset(cur, 0, sizeof(*cur));
			cur->driver_vm = optarg;
			cur->path = optarg;
			cur->queues = 1;
			cur->depth = BACKD_DEFAULT_DEPTH;
			break;
		case OPT_NET:
			if (n == BACKD_MAX_DEVS)
				backd_usage_error("too many devices (at most %s)", "64");
			cur = &devs[n++];
			memset(cur, 0, sizeof(*cur));
			backd_parse_net(optarg, cur);
			break;
		case OPT_REGION_MB:
			if (!cur->driver_vm)
				backd_usage_error("%s applies to --driver-vm devices only", "--region-mb");
			cur->region_mb = backd_parse_uint("--region-mb", optarg, 1, 1024);
			if (cur->region_mb & (cur->region_mb - 1))
				backd_usage_error("--region-mb: %s is not a power of two", optarg);
			break;
		case OPT_RO:
			if (cur->net)
				backd_usage_error("%s applies to --blk devices only", "--ro");
			if (cur->driver_vm)
				backd_usage_error("%s applies to --blk devices only", "--ro");
			cur->ro = true;
			break;
		case OPT_QUEUES:
			if (cur->net)
				backd_usage_error("%s: give queue pairs as --net ...,queues=N",
						  "--queues");
			cur->queues = backd_parse_uint("--queues", optarg, 1,
						       BACKD_MAX_QUEUES);
			break;
		case OPT_DEPTH:
			if (cur->driver_vm)
				backd_usage_error("%s applies to --blk devices only", "--queue-depth");
			cur->depth = backd_parse_uint("--queue-depth", optarg, 1,
						      BACKD_MAX_DEPTH);
			break;
		case OPT_SOCKET:
			if (cur->socket)
				backd_usage_error("--socket given twice for the device %s",
						  cur->path);
			if (cur->driver_vm && !strcmp(optarg, cur->driver_vm))
				backd_usage_error("--socket %s is the driver VM's socket too",
						  optarg);
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
		case OPT_SOCKET_MODE:
			so->mode = backd_parse_mode(optarg);
			if (!so->mode)
				backd_usage_error("--socket-mode: %s lets nobody connect", optarg);
			break;
		case OPT_SOCKET_GROUP:
			so->set_group = true;
			so->gid = backd_parse_gid("--socket-group", optarg);
			break;
		case OPT_ALLOW_UID:
			so->peer_check = true;
			so->peer_uid = backd_parse_uid(optarg);
			break;
		case OPT_ALLOW_GID:
			so->peer_check = true;
			so->peer_gid_set = true;
			so->peer_gid = backd_parse_gid("--allow-gid", optarg);
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
		devs[i].kernel = kernel && !devs[i].driver_vm && !devs[i].net;
	}
	return n;
}

static int backd_epoll_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Device tags are (idx << 2) | 0 (server) or | 1 (engine channel). */
#define TAG_SIGNAL (~0ull)

/* Reap every engine that ended and tell its device. */
static void backd_reap(struct backd_srv *srvs, unsigned int n)
{
	unsigned int i;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < n; i++)
			if (backd_srv_reaped(&srvs[i], pid, status))
				break;
}

static bool backd_engines_running(const struct backd_srv *srvs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (srvs[i].pid > 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static struct backd_dev_opts opts[BACKD_MAX_DEVS];
	struct backd_socket_opts so = { 0 };
	struct backd_srv *srvs;
	struct epoll_event evs[16];
	struct signalfd_siginfo si;
	struct backd_poll_opts po = {
		.idle_us = BACKD_DEFAULT_IDLE_POLL_US,
		.idle_max_us = BACKD_DEFAULT_IDLE_POLL_MAX_US,
		.io_max_us = BACKD_DEFAULT_IO_POLL_MAX_US,
	};
	long long stop_deadline = 0, now;
	unsigned int n, i, opened = 0;
	sigset_t sigs;
	int ep, sfd, k, nev, exit_code = 0;

	n = backd_parse(argc, argv, opts, &po, &so);
	/* --idle-poll-us 0 sleeps at once, whatever the maximum. */
	if (po.idle_max_us < po.idle_us || po.idle_us == 0)
		po.idle_max_us = po.idle_us;

	/* Blocked before any process or thread exists, so every engine
	 * inherits it and only signalfds see these signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	srvs = calloc(n, sizeof(*srvs));
	if (sfd < 0 || ep < 0 || !srvs) {
		backd_log("start-up: %s", strerror(errno));
		return 1;
	}
	if (backd_epoll_add(ep, sfd, TAG_SIGNAL))
		return 1;
	backd_srv_set_epoll(ep);
	for (i = 0; i < n; i++) {
		if (backd_srv_open(&srvs[i], i, &opts[i], &po, &so)) {
			exit_code = 1;
			break;
		}
		opened++;
	}
	if (exit_code) {
		for (i = 0; i < opened; i++) {
			backd_srv_signal(&srvs[i], SIGTERM);
			backd_srv_close(&srvs[i]);
		}
		free(srvs);
		return exit_code;
	}
	backd_log("ready");
	backd_notify("READY=1\nSTATUS=serving");

	for (;;) {
		if (stop_deadline && !backd_engines_running(srvs, n))
			break;
		nev = epoll_wait(ep, evs, 16, BACKD_TICK_MS);
		if (nev < 0 && errno != EINTR) {
			backd_log("epoll_wait: %s", strerror(errno));
			exit_code = 1;
			break;
		}
		now = backd_now_ms();
		if (stop_deadline && now >= stop_deadline) {
			backd_log("engines did not stop within %d s; killing them",
				  BACKD_STOP_TIMEOUT_MS / 1000);
			break;
		}
		for (k = 0; k < nev; k++) {
			uint64_t tag = evs[k].data.u64;

			if (tag == TAG_SIGNAL) {
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD) {
						backd_reap(srvs, n);
					} else if (si.ssi_signo == SIGUSR1) {
						for (i = 0; i < n; i++)
							backd_srv_signal(&srvs[i], SIGUSR1);
					} else if (!stop_deadline) {
						backd_log("signal %u: finishing in-flight IO and exiting",
							  si.ssi_signo);
						backd_notify("STOPPING=1\nSTATUS=finishing in-flight IO");
						for (i = 0; i < n; i++)
							backd_srv_signal(&srvs[i], SIGTERM);
						stop_deadline = now + BACKD_STOP_TIMEOUT_MS;
					}
				}
			} else if (tag & 1) {
				backd_srv_handle_chan(&srvs[tag >> 2]);
			} else {
				backd_srv_handle(&srvs[tag >> 2]);
			}
		}
		/* A SIGCHLD may have been merged with one read above; reaping
		 * is cheap, so look every round. */
		backd_reap(srvs, n);
		for (i = 0; i < n; i++)
			backd_srv_tick(&srvs[i], now);
	}
	for (i = 0; i < n; i++)
		backd_srv_close(&srvs[i]);
	free(srvs);
	close(ep);
	close(sfd);
	backd_log("exiting");
	return exit_code;
}
