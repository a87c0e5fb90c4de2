// SPDX-License-Identifier: MIT
/*
 * host_ioctl - the ioctl ABI of /dev/pvio-back (include/pvio/host.h) as a
 * list of specifications, run in a guest with pvio_core.ko and
 * pvio_host.ko loaded.
 *
 * Usage:
 *   host_ioctl errors FILE
 *       every refused START with its errno (bad sizes, a region that is
 *       not a memfd or not its size, non-eventfds, closed fds, a read-only
 *       backing fd for a read-write export, bad queue and vector counts,
 *       reserved bytes, flags), then a valid START: a BACKEND device of
 *       class blk appears in /sys/bus/pvio/devices, INFO names it, a second
 *       START is -EBUSY, and closing the fd removes the device; a read-only
 *       export of a read-only fd starts too
 *   host_ioctl bound FILE
 *       a valid START with the block backend loaded: it binds (INFO says
 *       so) and publishes back.state INITWAIT in the region within 5 s;
 *       closing removes the device
 *
 * FILE is a regular file of at least 1 MiB that may be opened read-write.
 * One "host_ioctl: PASS <case>" or "host_ioctl: FAIL <case>: why" line per
 * case; exit 0 if all passed, 1 otherwise, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pvio/host.h>
#include <pvio/region.h>

#define HI_REGION_SIZE (1u << 20)
#define HI_QUEUES 1u
#define HI_VECTORS (HI_QUEUES + 1)

static int hi_failed;

static void hi_pass(const char *name)
{
	printf("host_ioctl: PASS %s\n", name);
	fflush(stdout);
}

__attribute__((format(printf, 2, 3)))
static void hi_fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("host_ioctl: FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	hi_failed = 1;
}

/* What a valid START needs; each case breaks one thing of a copy. */
struct hi_env {
	int region;   /* memfd, HI_REGION_SIZE */
	int backing;  /* FILE, read-write */
	int kick[HI_VECTORS];
	int call[HI_VECTORS];
};

static void hi_die(const char *what)
{
	printf("host_ioctl: FAIL setup: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int hi_memfd(uint64_t size)
{
	int fd = memfd_create("host_ioctl", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		hi_die("memfd");
	return fd;
}

static void hi_env_open(struct hi_env *e, const char *file)
{
	unsigned int v;

	e->region = hi_memfd(HI_REGION_SIZE);
	e->backing = open(file, O_RDWR | O_CLOEXEC);
	if (e->backing < 0)
		hi_die(file);
	for (v = 0; v < HI_VECTORS; v++) {
		e->kick[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		e->call[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (e->kick[v] < 0 || e->call[v] < 0)
			hi_die("eventfd");
	}
}

static void hi_start_args(const struct hi_env *e, struct pvio_host_start *s)
{
	unsigned int v;

	memset(s, 0, sizeof(*s));
	s->dev_class = PVIO_CLASS_BLK;
	s->region_fd = e->region;
	s->backing_fd = e->backing;
	s->region_size = HI_REGION_SIZE;
	s->num_queues = HI_QUEUES;
	s->nr_vectors = HI_VECTORS;
	s->peer = 1;
	for (v = 0; v < PVIO_HOST_MAX_VECTORS; v++) {
		s->kick_fds[v] = v < HI_VECTORS ? e->kick[v] : -1;
		s->call_fds[v] = v < HI_VECTORS ? e->call[v] : -1;
	}
}

static int hi_open_dev(void)
{
	int fd = open("/dev/pvio-back", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		hi_die("/dev/pvio-back");
	return fd;
}

/* START @s on a fresh fd; expect -@want (0: success, fd returned). */
static int hi_expect(const char *name, const struct pvio_host_start *s, int want)
{
	int fd = hi_open_dev(), ret;

	ret = ioctl(fd, PVIO_HOST_IOC_START, s) < 0 ? errno : 0;
	if (ret != want) {
		hi_fail(name, "START gave %s, want %s", ret ? strerror(ret) : "success",
			want ? strerror(want) : "success");
		close(fd);
		return -1;
	}
	hi_pass(name);
	if (ret) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool hi_sysfs_is(const char *dev, const char *attr, const char *want)
{
	char path[128], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pvio/devices/%s/%s", dev, attr);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return !strcmp(buf, want);
}

static bool hi_exists(const char *dev)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/bus/pvio/devices/%s", dev);
	return stat(path, &st) == 0;
}

static int hi_info(int fd, struct pvio_host_info *info)
{
	memset(info, 0xa5, sizeof(*info));
	if (ioctl(fd, PVIO_HOST_IOC_INFO, info) < 0)
		return -errno;
	info->name[sizeof(info->name) - 1] = '\0';
	return 0;
}

static void hi_errors(const struct hi_env *e, const char *file)
{
	struct pvio_host_start s;
	struct pvio_host_info info;
	char name[32], path[64];
	int fd, fd2, tmp, pipefd[2];

	hi_start_args(e, &s);
	s.region_size = HI_REGION_SIZE - 4096;
	hi_expect("region-size-not-pow2", &s, EINVAL);

	hi_start_args(e, &s);
	s.region_size = HI_REGION_SIZE / 2;
	hi_expect("region-size-differs-from-memfd", &s, EINVAL);

	hi_start_args(e, &s);
	tmp = hi_memfd(PVIO_REGION_MIN_SIZE / 2);
	s.region_fd = tmp;
	s.region_size = PVIO_REGION_MIN_SIZE / 2;
	hi_expect("region-below-min-size", &s, EINVAL);
	close(tmp);


	hi_start_args(e, &s);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", e->region);
	tmp = open(path, O_RDONLY | O_CLOEXEC);
	if (tmp < 0)
		hi_die(path);
	s.region_fd = tmp;
	hi_expect("region-read-only", &s, EACCES);
	close(tmp);

	hi_start_args(e, &s);
	s.region_fd = 1000;
	hi_expect("region-fd-closed", &s, EBADF);

	if (pipe(pipefd) < 0)
		hi_die("pipe");
	hi_start_args(e, &s);
	s.region_fd = pipefd[0];
	hi_expect("region-not-memfd", &s, EINVAL);
	hi_start_args(e, &s);
	s.kick_fds[1] = pipefd[0];
	hi_expect("kick-not-eventfd", &s, EINVAL);
	hi_start_args(e, &s);
	s.call_fds[0] = pipefd[1];
	hi_expect("call-not-eventfd", &s, EINVAL);
	hi_start_args(e, &s);
	s.backing_fd = pipefd[0];
	hi_expect("backing-not-a-file", &s, EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);

	hi_start_args(e, &s);
	s.kick_fds[0] = 1000;
	hi_expect("kick-fd-closed", &s, EBADF);

	hi_start_args(e, &s);
	s.kick_fds[HI_VECTORS] = e->kick[0];
	hi_expect("fd-beyond-nr-vectors", &s, EINVAL);

	hi_start_args(e, &s);
	tmp = open(file, O_RDONLY | O_CLOEXEC);
	if (tmp < 0)
		hi_die(file);
	s.backing_fd = tmp;
	hi_expect("backing-read-only-for-rw-export", &s, EROFS);


	hi_start_args(e, &s);
	s.backing_fd = 1000;
	hi_expect("backing-fd-closed", &s, EBADF);

	hi_start_args(e, &s);
	s.num_queues = 0;
	hi_expect("zero-queues", &s, EINVAL);
	hi_start_args(e, &s);
	s.num_queues = PVIO_MAX_QUEUES + 1;
	hi_expect("too-many-queues", &s, EINVAL);
	hi_start_args(e, &s);
	s.nr_vectors = HI_QUEUES;
	s.kick_fds[HI_QUEUES] = -1;
	s.call_fds[HI_QUEUES] = -1;
	hi_expect("vectors-below-queues-plus-one", &s, EINVAL);
	hi_start_args(e, &s);
	s.ring_entries = 100;
	hi_expect("ring-entries-not-pow2", &s, EINVAL);
	hi_start_args(e, &s);
	s.flags = 1u << 7;
	hi_expect("unknown-flag", &s, EINVAL);
	hi_start_args(e, &s);
	s.reserved[5] = 1;
	hi_expect("reserved-not-zero", &s, EINVAL);
	hi_start_args(e, &s);
	s.dev_class = PVIO_CLASS_NONE;
	hi_expect("class-none", &s, EINVAL);

	/* A read-only export of a read-only fd is fine. */
	hi_start_args(e, &s);
	s.backing_fd = tmp;
	s.flags = PVIO_HOST_F_READ_ONLY;
	fd = hi_expect("read-only-export-of-read-only-fd", &s, 0);
	if (fd >= 0)
		close(fd);
	close(tmp);

	/* The valid START, and what it makes. */
	fd = hi_open_dev();
	if (hi_info(fd, &info) || info.state != PVIO_HOST_STATE_IDLE || info.name[0])
		hi_fail("info-before-start", "state %u name '%s'", info.state, info.name);
	else
		hi_pass("info-before-start");
	hi_start_args(e, &s);
	if (ioctl(fd, PVIO_HOST_IOC_START, &s) < 0) {
		hi_fail("start", "%s", strerror(errno));
		close(fd);
		return;
	}
	hi_pass("start");
	if (hi_info(fd, &info) || info.state != PVIO_HOST_STATE_STARTED ||
	    strncmp(info.name, "pvio", 4) || info.dev_class != PVIO_CLASS_BLK ||
	    info.num_queues != HI_QUEUES || info.region_size != HI_REGION_SIZE) {
		hi_fail("info", "state %u name '%s' class %u queues %u size %llu",
			info.state, info.name, info.dev_class, info.num_queues,
			(unsigned long long)info.region_size);
		close(fd);
		return;
	}
	hi_pass("info");
	snprintf(name, sizeof(name), "%s", info.name);
	if (hi_sysfs_is(name, "role", "backend") && hi_sysfs_is(name, "dev_class", "blk"))
		hi_pass("sysfs-backend-device");
	else
		hi_fail("sysfs-backend-device", "/sys/bus/pvio/devices/%s: no backend blk device",
			name);
	hi_start_args(e, &s);
	if (ioctl(fd, PVIO_HOST_IOC_START, &s) < 0 && errno == EBUSY)
		hi_pass("second-start-ebusy");
	else
		hi_fail("second-start-ebusy", "second START did not fail with EBUSY");
	/* Another file may serve the same region meanwhile: nothing shared. */
	fd2 = hi_expect("second-file-starts", &s, 0);
	if (fd2 >= 0)
		close(fd2);
	close(fd);
	if (hi_exists(name))
		hi_fail("close-removes-device", "%s still there after close", name);
	else
		hi_pass("close-removes-device");
	if (ioctl(hi_open_dev(), 0xdead, NULL) < 0 && errno == ENOTTY)
		hi_pass("unknown-ioctl-enotty");
	else
		hi_fail("unknown-ioctl-enotty", "an unknown ioctl was not ENOTTY");
}

static long long hi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hi_bound(const struct hi_env *e)
{
	const struct pvio_region_hdr *hdr;
	struct pvio_host_start s;
	struct pvio_host_info info;
	long long end;
	uint32_t state = 0;
	char name[32];
	bool bound = false;
	int fd;

	hdr = mmap(NULL, HI_REGION_SIZE, PROT_READ, MAP_SHARED, e->region, 0);
	if (hdr == MAP_FAILED)
		hi_die("mmap");
	fd = hi_open_dev();
	hi_start_args(e, &s);
	if (ioctl(fd, PVIO_HOST_IOC_START, &s) < 0) {
		hi_fail("bound-start", "%s", strerror(errno));
		return;
	}
	hi_pass("bound-start");
	end = hi_now_ms() + 5000;
	while (hi_now_ms() < end) {
		bound = !hi_info(fd, &info) && (info.flags & PVIO_HOST_INFO_F_BOUND);
		state = __atomic_load_n(&hdr->back.state, __ATOMIC_ACQUIRE);
		if (bound && state == PVIO_STATE_INITWAIT)
			break;
		usleep(10000);
	}
	snprintf(name, sizeof(name), "%s", info.name);
	if (bound)
		hi_pass("bound-class-driver");
	else
		hi_fail("bound-class-driver", "%s: no class driver bound in 5 s", name);
	if (state == PVIO_STATE_INITWAIT && hdr->magic == PVIO_REGION_MAGIC &&
	    hdr->num_queues == HI_QUEUES)
		hi_pass("bound-initwait");
	else
		hi_fail("bound-initwait", "back.state %u, magic %#llx, queues %u",
			state, (unsigned long long)hdr->magic, hdr->num_queues);
	close(fd);
	if (hi_exists(name))
		hi_fail("bound-close-removes-device", "%s still there", name);
	else
		hi_pass("bound-close-removes-device");
	munmap((void *)hdr, HI_REGION_SIZE);
}

int main(int argc, char **argv)
{
	struct hi_env e;

	if (argc != 3 || (strcmp(argv[1], "errors") && strcmp(argv[1], "bound"))) {
		fprintf(stderr, "usage: host_ioctl errors|bound FILE\n");
		return 2;
	}
	hi_env_open(&e, argv[2]);
	if (!strcmp(argv[1], "errors"))
		hi_errors(&e, argv[2]);
	else
		hi_bound(&e);
	return hi_failed;
}
