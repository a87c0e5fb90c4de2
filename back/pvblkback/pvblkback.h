/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * pvblkback - pvio block backend in the kernel: what the device half
 * (pvblkback_main.c: probe, handshake, sysfs) and the IO half
 * (pvblkback_io.c: queue workers, bios, kiocbs) share.
 *
 * One struct pbb_dev per BACKEND pvio device of class BLK; one struct
 * pbb_queue per queue, each with a work item on the device's unbound
 * workqueue that is the only producer of the queue's response ring and the
 * only consumer of its request ring. Doorbell handlers (atomic context) and
 * IO completions (any context) only queue that work.
 */
#ifndef PVBLKBACK_H
#define PVBLKBACK_H

#include <linux/atomic.h>
#include <linux/bvec.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <pvio/blk.h>
#include "pvio_core.h"
#include "pvio_ring.h"
#include "blk_proto.h"
#include "handshake.h"
#include "pvio_ids.h"

/* Segments per request, inline or indirect (as pvio-backd). */
#define PBB_MAX_SEGS 32u
/* Largest READ/WRITE: bounds the pages of one request (and its bounce). */
#define PBB_MAX_TRANSFER (512u * 1024u)
/* Pages one request may touch: every segment may straddle one page more
 * than its length needs. */
#define PBB_MAX_BVECS (PBB_MAX_TRANSFER / PAGE_SIZE + 2 * PBB_MAX_SEGS)
/* DISCARD / WRITE_ZEROES per request, in sectors (2 GiB, as pvio-backd). */
#define PBB_MAX_RANGE_SECTORS 0x400000u
#define PBB_DEFAULT_ENTRIES 128u

struct pbb_dev;
struct pbb_queue;

/* One request taken off a ring and not yet answered; one per ring slot. */
struct pbb_req {
	struct pbb_queue *q;
	struct pvio_blk_vreq v;
	struct pvio_blk_vseg segs[PBB_MAX_SEGS];
	struct list_head done_node; /* on q->done once complete */
	atomic_t pending;           /* IO pieces outstanding, +1 while submitting */
	int err;                    /* first error (negative errno), or 0 */
	u32 len;                    /* bytes transferred when OK */
	unsigned int status;        /* PVIO_BLK_S_* once complete */
	unsigned int nr_bvecs;
	struct bio_vec *bvecs;      /* PBB_MAX_BVECS */
	struct page **bounce;       /* PBB_MAX_TRANSFER / PAGE_SIZE, or NULL */
	struct kiocb iocb;          /* regular-file READ/WRITE */
	struct work_struct work;    /* operations that sleep */
};

struct pbb_qstats {
	atomic64_t requests;
	atomic64_t bytes;
	atomic64_t errors;
	atomic64_t notifies_in;
	atomic64_t notifies_out;
};

struct pbb_queue {
	struct pbb_dev *d;
	unsigned int index;
	unsigned int vector;
	struct pvio_cons req;       /* worker only */
	struct pvio_prod rsp;       /* worker only */
	u8 *data;                   /* the queue's data area in the region */
	u64 data_off;               /* its offset in the region */
	u64 data_size;
	struct work_struct work;    /* the queue's worker */
	struct delayed_work retry;  /* queues @work again later (ring full) */

	/* Worker only. */
	struct pbb_req *reqs;       /* ring_entries */
	unsigned int *free_slots;
	unsigned int nfree;
	unsigned int inflight;      /* taken, not yet answered */
	bool dead;                  /* the frontend broke a ring */
	const char *why;            /* ... and how */
	struct pvio_ids ids;        /* ids in flight */

	/* Under @lock. */
	spinlock_t lock;
	bool active;                /* doorbells and completions queue work */
	bool stopping;              /* take no more requests */
	unsigned int busy;          /* taken, not yet complete */
	struct list_head done;      /* complete, to be answered */
	wait_queue_head_t idle;     /* woken when @busy reaches 0 */

	struct pbb_qstats stats;
};

struct pbb_dev {
	struct pvio_device *pdev;
	struct file *file;
	struct block_device *bdev;  /* NULL for a regular file */
	bool file_dio;              /* regular file: try IOCB_DIRECT */
	bool bounce;                /* no struct pages behind the region */
	char id[PVIO_BLK_ID_BYTES];
	struct workqueue_struct *wq;

	struct mutex lock;          /* handshake, connect, close, remove */
	struct delayed_work ctl_work;
	spinlock_t kick_lock;
	bool removing;              /* under @kick_lock: ctl_work not queued */
	unsigned long flags;        /* PBB_BROKEN */
	bool connected;             /* under @lock */

	struct pvio_hs_back hs;
	struct pvio_region_layout layout; /* private copy of what we wrote */
	struct pvio_blk_limits lim;
	struct pvio_blk_config config;
	u64 offered;
	u64 features;               /* accepted by the frontend */
	u32 generation;
	u32 ring_entries;
	u64 data_size;
	unsigned int nr_queues;
	struct pbb_queue *queues;
	/* Laid out once already: the next layout is for another frontend
	 * session, whose data areas start zeroed. The first keeps them: a
	 * frontend that outlived the previous backend instance may still
	 * hold write data there (include/pvio/region.h, "Backend restart"). */
	bool laid_out;
};

#define PBB_BROKEN 0

/* pvblkback_io.c */
int pbb_queue_alloc(struct pbb_queue *q);
void pbb_queue_free(struct pbb_queue *q);
void pbb_queue_start(struct pbb_queue *q);
void pbb_queue_stop(struct pbb_queue *q);
void pbb_queue_kick(struct pbb_queue *q);

/* pvblkback_main.c */
void pbb_dev_broken(struct pbb_dev *d, unsigned int queue, const char *why);

#endif /* PVBLKBACK_H */
