// SPDX-License-Identifier: MIT
/*
 * LD_PRELOAD shim for tests: a file system without O_DIRECT, on any file
 * system. PVIO_SHIM_NODIRECT selects how it fails:
 *   open  open() and openat() with O_DIRECT fail with EINVAL (what most file
 *         systems without direct IO do)
 *   io    the open succeeds, but pread() on a descriptor opened with
 *         O_DIRECT fails with EINVAL (a file system that takes the flag and
 *         then refuses the IO, which pvio-backd probes for)
 * Anything else, or unset: no change.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int shim_mode(const char *want)
{
	const char *m = getenv("PVIO_SHIM_NODIRECT");

	return m && strcmp(m, want) == 0;
}

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);

/* The open variants: their mode argument exists only with O_CREAT or
 * O_TMPFILE. Refuse O_DIRECT in "open" mode, else pass on. */
#define SHIM_OPEN(name, fn_t, params, args)                                \
	int name params                                                    \
	{                                                                  \
		static fn_t real;                                          \
		mode_t mode = 0;                                           \
		va_list ap;                                                \
                                                                           \
		va_start(ap, flags);                                       \
		if (flags & (O_CREAT | O_TMPFILE))                         \
			mode = (mode_t)va_arg(ap, int);                    \
		va_end(ap);                                                \
		if ((flags & O_DIRECT) && shim_mode("open")) {             \
			errno = EINVAL;                                    \
			return -1;                                         \
		}                                                          \
		if (!real)                                                 \
			real = (fn_t)dlsym(RTLD_NEXT, #name);              \
		return real args;                                          \
	}

#define SHIM_PREAD(name)                                                   \
	ssize_t name(int fd, void *buf, size_t len, off_t off)             \
	{                                                                  \
		static pread_fn real;                                      \
		int fl;                                                    \
                                                                           \
		if (shim_mode("io")) {                                     \
			fl = fcntl(fd, F_GETFL);                           \
			if (fl >= 0 && (fl & O_DIRECT)) {                  \
				errno = EINVAL;                            \
				return -1;                                 \
			}                                                  \
		}                                                          \
		if (!real)                                                 \
			real = (pread_fn)dlsym(RTLD_NEXT, #name);          \
		return real(fd, buf, len, off);                            \
	}

SHIM_OPEN(open, open_fn, (const char *path, int flags, ...), (path, flags, mode))
SHIM_OPEN(open64, open_fn, (const char *path, int flags, ...), (path, flags, mode))
SHIM_OPEN(openat, openat_fn, (int dirfd, const char *path, int flags, ...),
	  (dirfd, path, flags, mode))
SHIM_OPEN(openat64, openat_fn, (int dirfd, const char *path, int flags, ...),
	  (dirfd, path, flags, mode))
SHIM_PREAD(pread)
SHIM_PREAD(pread64)
