// SPDX-License-Identifier: MIT
/*
 * pvio-backd backing store: a regular file or a block device. Opened with
 * O_DIRECT when the file system accepts it for 512-byte aligned IO (the
 * frontend's buffers are only logical-block aligned); otherwise buffered,
 * said once in the log. An NBD URI goes to store_nbd.c instead; the
 * checks on the size are the same for both.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backd.h"
#include "store_nbd.h"

bool backd_store_quiet;

/* Can this descriptor do O_DIRECT IO of one logical block? */
static bool store_direct_works(int fd, uint32_t lbs)
{
	void *buf;
	ssize_t n;

	if (posix_memalign(&buf, 4096, 4096))
		return false;
	n = pread(fd, buf, lbs, lbs);
	free(buf);
	return n == (ssize_t)lbs;
}

static int store_sizes(struct backd_store *st, const char *name,
		       const struct stat *sb)
{
	if (S_ISREG(sb->st_mode)) {
		st->size = (uint64_t)sb->st_size;
		st->lbs = 512;
		st->pbs = 4096;
		return 0;
	}
	if (S_ISBLK(sb->st_mode)) {
		uint64_t bytes;
		int ssz = 0;
		unsigned int psz = 0;

		if (ioctl(st->fd, BLKGETSIZE64, &bytes) < 0 ||
		    ioctl(st->fd, BLKSSZGET, &ssz) < 0) {
			int err = -errno;

			backd_log("%s: %s: cannot read the block device's size: %s",
				  name, st->path, strerror(-err));
			return err;
		}
		if (ioctl(st->fd, BLKPBSZGET, &psz) < 0)
			psz = (unsigned int)ssz;
		st->is_blk = true;
		st->size = bytes;
		st->lbs = ssz == 4096 ? 4096 : 512;
		st->pbs = psz >= st->lbs && psz <= 65536 && !(psz & (psz - 1)) ?
				  psz : st->lbs;
		return 0;
	}
	backd_log("%s: %s is neither a regular file nor a block device",
		  name, st->path);
	return -EINVAL;
}

static int store_check_size(const struct backd_store *st, const char *name)
{
	if (st->size < BACKD_MIN_STORE_BYTES) {
		backd_log("%s: backing store %s is too small: %llu bytes, at least %llu needed",
			  name, st->path, (unsigned long long)st->size,
			  BACKD_MIN_STORE_BYTES);
		return -EINVAL;
	}
	if (st->size % st->lbs) {
		backd_log("%s: backing store %s: size %llu is not a multiple of %u bytes",
			  name, st->path, (unsigned long long)st->size, st->lbs);
		return -EINVAL;
	}
	return 0;
}

/**
 * backd_store_open() - open and check a device's backing store.
 * @st: filled in
 * @name: device name for log lines
 * @path: file or block device
 * @ro: open read-only
 * @queues: queues that will do IO: an NBD export gets a connection each
 *	    (fewer if the server does not allow that; see @st->nbd_conns)
 *
 * Every refusal is logged with a message naming the problem.
 *
 * Context: process, before any IO thread exists.
 * Return: 0 or a negative errno.
 */
int backd_store_open(struct backd_store *st, const char *name,
		     const char *path, bool ro, unsigned int queues)
{
	int flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat sb;
	int ret;

	memset(st, 0, sizeof(*st));
	st->path = path;
	st->ro = ro;
	st->fd = -1;
	if (backd_store_is_nbd(path)) {
		ret = backd_nbd_open(st, name, ro, queues);
		if (!ret)
			ret = store_check_size(st, name);
		if (ret)
			backd_nbd_close(st);
		return ret;
	}
	st->caps = BACKD_STORE_FLUSH | BACKD_STORE_FUA | BACKD_STORE_DISCARD |
		   BACKD_STORE_ZERO;
	if (stat(path, &sb) < 0) {
		ret = -errno;
		backd_log("%s: backing store %s: %s", name, path, strerror(-ret));
		return ret;
	}
	if (S_ISDIR(sb.st_mode)) {
		backd_log("%s: backing store %s is a directory", name, path);
		return -EISDIR;
	}
	st->fd = open(path, flags | O_DIRECT);
	if (st->fd >= 0) {
		st->direct = true;
	} else {
		st->fd = open(path, flags);
		if (st->fd < 0) {
			ret = -errno;
			backd_log("%s: cannot open %s: %s", name, path,
				  strerror(-ret));
			return ret;
		}
	}
	if (fstat(st->fd, &sb) < 0) {
		ret = -errno;
		goto err_close;
	}
	ret = store_sizes(st, name, &sb);
	if (!ret)
		ret = store_check_size(st, name);
	if (ret)
		goto err_close;
	if (st->direct && !store_direct_works(st->fd, st->lbs)) {
		close(st->fd);
		st->direct = false;
		st->fd = open(path, flags);
		if (st->fd < 0) {
			ret = -errno;
			backd_log("%s: cannot open %s: %s", name, path,
				  strerror(-ret));
			return ret;
		}
	}
	/* Said once, by the region server's check at start-up, not by every
	 * engine process that opens the store again. */
	if (!st->direct && !backd_store_quiet)
		backd_log("%s: %s: O_DIRECT not available on this file system, using buffered IO",
			  name, path);
	/* Stable for the life of the file: device and inode numbers. */
	if (st->is_blk)
		snprintf(st->id, sizeof(st->id), "pb%04x%012llx",
			 (unsigned int)((major(sb.st_rdev) << 8 ^ minor(sb.st_rdev)) & 0xffff),
			 (unsigned long long)sb.st_ino & 0xffffffffffffull);
	else
		snprintf(st->id, sizeof(st->id), "pv%04x%012llx",
			 (unsigned int)((major(sb.st_dev) << 8 ^ minor(sb.st_dev)) & 0xffff),
			 (unsigned long long)sb.st_ino & 0xffffffffffffull);
	return 0;

err_close:
	close(st->fd);
	st->fd = -1;
	return ret;
}

/**
 * backd_store_flush() - make every completed write durable.
 * @st: store
 *
 * Context: process; no IO thread may be using @st.
 * Return: 0 or a negative errno.
 */
int backd_store_flush(struct backd_store *st)
{
	if (st->nbd && !st->ro)
		return backd_nbd_flush(st);
	if (st->fd < 0 || st->ro)
		return 0;
	return fsync(st->fd) < 0 ? -errno : 0;
}

/**
 * backd_store_close() - close the store's descriptor or NBD connections.
 * @st: store
 *
 * Context: process; no IO thread may be using @st.
 */
void backd_store_close(struct backd_store *st)
{
	backd_nbd_close(st);
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

static bool store_stop_pending(void)
{
	sigset_t pend;

	if (sigpending(&pend))
		return false;
	return sigismember(&pend, SIGTERM) == 1 || sigismember(&pend, SIGINT) == 1;
}

/**
 * backd_store_fence() - wait until no earlier engine's IO can still land.
 * @st: an opened store
 * @name: device name for log lines
 * @timeout_ms: how long to wait
 *
 * Each engine process opens the store itself and holds a lock on its own
 * open file (flock: exclusive, shared for read-only exports). The kernel
 * releases a lock only when the last reference to that open file goes,
 * and IO still in flight holds one (io_uring requests, a kernel backend's
 * file), even after the process that issued it died. So once the lock is
 * ours, nothing a dead engine submitted can still reach the store and
 * overwrite a replayed write. The same lock refuses a second daemon that
 * exports the same file read-write.
 *
 * Context: engine process, before serving.
 * Return: 0; -ETIMEDOUT after @timeout_ms (logged); -EINTR if SIGTERM or
 * SIGINT is pending; or another errno.
 */
int backd_store_fence(struct backd_store *st, const char *name,
		      unsigned int timeout_ms)
{
	unsigned int waited = 0;
	bool said = false;

	/* An NBD export has no lock to take: the server alone decides who
	 * may connect, and commands a dead engine sent before its connection
	 * closed are the server's to finish. */
	if (st->nbd)
		return 0;
	for (;;) {
		if (flock(st->fd, (st->ro ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0) {
			if (said)
				backd_log("%s: %s: free after %u ms", name,
					  st->path, waited);
			return 0;
		}
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int err = -errno;

			backd_log("%s: %s: flock: %s", name, st->path,
				  strerror(-err));
			return err;
		}
		/* Told to stop (or the region server died: PDEATHSIG) while
		 * waiting: the signal is blocked for the signalfd that is not
		 * read yet, so look for it here. */
		if (store_stop_pending()) {
			backd_log("%s: %s: stopped while waiting for its lock", name,
				  st->path);
			return -EINTR;
		}
		if (waited >= timeout_ms) {
			backd_log("%s: %s: still locked after %u ms: another pvio-backd exports it, or IO of an earlier engine is still in flight",
				  name, st->path, waited);
			return -ETIMEDOUT;
		}
		if (!said && waited >= 1000) {
			backd_log("%s: %s: waiting for an earlier engine's IO to finish (or another daemon exporting it)",
				  name, st->path);
			said = true;
		}
		usleep(10 * 1000);
		waited += 10;
	}
}
