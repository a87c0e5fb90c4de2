// SPDX-License-Identifier: MIT
/* The shared io_uring set-up; see uring_setup.h. */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uring_setup.h"

static int pvio_uring_try(struct io_uring *ring, unsigned int sq_entries,
			  unsigned int cq_entries, unsigned int flags)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags | IORING_SETUP_CLAMP;
	if (cq_entries) {
		p.flags |= IORING_SETUP_CQSIZE;
		p.cq_entries = cq_entries;
	}
	return io_uring_queue_init_params(sq_entries, ring, &p);
}

int pvio_uring_init(struct io_uring *ring, unsigned int sq_entries,
		    unsigned int cq_entries, bool disabled, bool *deferred)
{
	int ret;

	ret = pvio_uring_try(ring, sq_entries, cq_entries,
			     IORING_SETUP_SINGLE_ISSUER |
			     IORING_SETUP_DEFER_TASKRUN |
			     IORING_SETUP_TASKRUN_FLAG |
			     (disabled ? IORING_SETUP_R_DISABLED : 0));
	*deferred = ret == 0;
	if (ret == -EINVAL)
		ret = pvio_uring_try(ring, sq_entries, cq_entries, 0);
	return ret;
}

int pvio_uring_enable(struct io_uring *ring)
{
	/* liburing 2.3 declares io_uring_enable_rings() but does not export
	 * it. */
	if (syscall(__NR_io_uring_register, ring->ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}
