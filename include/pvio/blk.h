/* SPDX-License-Identifier: MIT */
/*
 * pvio block protocol (dev_class PVIO_CLASS_BLK).
 *
 * Requests travel on a queue's request ring (struct pvio_blk_req, 64 bytes)
 * and are answered on its response ring (struct pvio_blk_rsp, 16 bytes).
 * Data never travels by guest address: a request names buffers by
 * (offset, length) inside its own queue's data area, so the backend can
 * reach nothing of the frontend but the shared region.
 *
 * Sectors are always 512 bytes, whatever the device's logical block size.
 * Every response carries the id of exactly one outstanding request; the
 * backend may answer out of order. The frontend does not reuse an id until
 * its response has arrived.
 *
 * Repeated requests. After a backend restart (region.h, "Backend restart")
 * the frontend submits again every request it holds unanswered, so a
 * request may be executed twice: once by the instance that died (its
 * answer lost) and once by the new one. Execution is at least once. This
 * is safe because every operation, repeated in place of an answer that
 * was lost, leaves the device as one execution would:
 *   READ          reads again into the same buffer; nothing on the device
 *                 changes, and only the last execution's data is reported.
 *   WRITE         writes the same bytes to the same sectors again: the
 *                 frontend resubmits the data it first sent (a zero-copy
 *                 buffer stays in the data area, which a restart does not
 *                 clear; copy-mode data is copied again from the caller).
 *   FLUSH         makes durable what completed before it; doing so twice
 *                 is the same as once.
 *   DISCARD, WRITE_ZEROES
 *                 leave the range reading as zeroes (DISCARD: as the
 *                 device's discard leaves it) however often repeated.
 *   GET_ID        has no effect on the device.
 * What pvio guarantees: the replayed requests of a queue are submitted
 * in the order they were first submitted, before any request submitted
 * afterwards on that queue; a request is answered to its submitter once,
 * whatever number of times it ran; an id stays held until that answer.
 * What pvio does not guarantee: any order of execution between requests
 * outstanding together (as ever: the backend may run them in any order,
 * and a request of the dead instance may have run before or after others).
 * What pvio assumes of the frontend's user, as the block layer already
 * provides: it does not keep two overlapping writes (or a write and a
 * DISCARD / WRITE_ZEROES of overlapping ranges) outstanding at once, and
 * issues a request that depends on another only after that one was
 * answered (a FLUSH after the writes it covers completed). Under that
 * assumption a repeated write can never land after a later write to the
 * same sectors: the later one is submitted only once the first was
 * answered, and an answered request is never replayed. A repeated READ
 * can race only with writes the user itself left outstanding.
 * A FUA write is durable when answered; a replayed one is answered only
 * after the new instance wrote it with FUA again.
 */
#ifndef PVIO_BLK_H
#define PVIO_BLK_H

#include "abi.h"
#include "region.h"

#define PVIO_BLK_SECTOR_SIZE 512u
#define PVIO_BLK_SECTOR_SHIFT 9u

/* Operations (pvio_blk_req.op). */
#define PVIO_BLK_OP_READ 0u         /* device -> data area */
#define PVIO_BLK_OP_WRITE 1u        /* data area -> device */
#define PVIO_BLK_OP_FLUSH 2u        /* make completed writes durable; no data */
#define PVIO_BLK_OP_DISCARD 3u      /* sector, nr_sectors; no data */
#define PVIO_BLK_OP_WRITE_ZEROES 4u /* sector, nr_sectors; no data */
#define PVIO_BLK_OP_GET_ID 5u       /* device id string into one segment */
#define PVIO_BLK_OP_MAX 5u

/* Request flags (pvio_blk_req.flags); other bits are reserved, zero. */
#define PVIO_BLK_REQ_F_FUA 0x0001u      /* WRITE: durable before completion */
#define PVIO_BLK_REQ_F_INDIRECT 0x0002u /* seg[0] names a segment table */
#define PVIO_BLK_REQ_F_UNMAP 0x0004u    /* WRITE_ZEROES: backend may deallocate */
#define PVIO_BLK_REQ_F_MASK 0x0007u

/*
 * Response status (pvio_blk_rsp.status). A request that breaks several
 * rules is answered with the first that applies, in this order:
 *   1. UNSUPP  unknown operation (op > PVIO_BLK_OP_MAX);
 *   2. INVAL   reserved fields or unknown flag bits not zero, or a flag on
 *              an operation it does not apply to;
 *   3. UNSUPP  operation or flag whose feature was not negotiated, or an
 *              operation the device's limits rule out (max_*_sectors 0);
 *   4. INVAL   malformed request (segments, lengths, alignment, limits);
 *   5. ROFS    modification of a read-only device;
 *   6. RANGE   sectors beyond the capacity.
 * IOERR and NOSPC come from executing a valid request.
 */
#define PVIO_BLK_S_OK 0u
#define PVIO_BLK_S_IOERR 1u  /* the backing store failed */
#define PVIO_BLK_S_UNSUPP 2u /* operation or flag not offered */
#define PVIO_BLK_S_INVAL 3u  /* malformed request: reserved bits, bad segment */
#define PVIO_BLK_S_RANGE 4u  /* sectors beyond the device's capacity */
#define PVIO_BLK_S_ROFS 5u   /* write to a read-only device */
#define PVIO_BLK_S_NOSPC 6u  /* backing store full */
#define PVIO_BLK_S_MAX 6u

/* Feature bits (class range, bits 0-31 of pvio_side.features). */
#define PVIO_BLK_F_FLUSH (1ull << 0)        /* FLUSH is meaningful */
#define PVIO_BLK_F_FUA (1ull << 1)          /* PVIO_BLK_REQ_F_FUA honoured */
#define PVIO_BLK_F_DISCARD (1ull << 2)      /* DISCARD supported */
#define PVIO_BLK_F_WRITE_ZEROES (1ull << 3) /* WRITE_ZEROES supported */
#define PVIO_BLK_F_INDIRECT (1ull << 4)     /* indirect segment tables */
#define PVIO_BLK_F_GET_ID (1ull << 5)       /* GET_ID supported */
#define PVIO_BLK_F_ALL 0x3full

/* Segments carried in the request itself. */
#define PVIO_BLK_INLINE_SEGS 4u
/* Bytes of the id string GET_ID returns (not NUL-terminated when full). */
#define PVIO_BLK_ID_BYTES 20u

/*
 * One buffer in the queue's data area. offset + len must lie inside the
 * data area; for READ and WRITE both offset and len are multiples of the
 * logical block size (so a backend can use direct IO on the buffer), len is
 * non-zero and at most max_segment_size.
 */
struct pvio_blk_seg {
	__le32 offset; /* bytes from the start of this queue's data area */
	__le32 len;    /* bytes */
};
PVIO_ABI_SIZE(struct pvio_blk_seg, 8);
PVIO_ABI_OFFSET(struct pvio_blk_seg, offset, 0);
PVIO_ABI_OFFSET(struct pvio_blk_seg, len, 4);

/*
 * A request, written by the frontend once, in full, to a request ring slot.
 *
 * READ/WRITE: nr_sectors is the total length; the segments, taken in order,
 * cover exactly nr_sectors * 512 bytes. With at most PVIO_BLK_INLINE_SEGS
 * segments they sit in seg[]. Larger IO (PVIO_BLK_F_INDIRECT negotiated)
 * sets PVIO_BLK_REQ_F_INDIRECT: seg[0] then names a table in the data area
 * holding nr_segs struct pvio_blk_seg entries, and seg[1..3] are zero.
 * FLUSH: sector, nr_sectors, nr_segs are zero.
 * DISCARD / WRITE_ZEROES: sector and nr_sectors give the range; no segments.
 * GET_ID: one segment of at least PVIO_BLK_ID_BYTES bytes; sector and
 * nr_sectors zero.
 */
struct pvio_blk_req {
	__le32 id;         /* frontend's tag, echoed in the response */
	__le16 op;         /* PVIO_BLK_OP_* */
	__le16 flags;      /* PVIO_BLK_REQ_F_* */
	__le64 sector;     /* first 512-byte sector */
	__le32 nr_sectors; /* length in 512-byte sectors */
	__le16 nr_segs;    /* segments, inline or in the indirect table */
	__le16 reserved0;  /* zero */
	__le64 reserved1;  /* zero */
	struct pvio_blk_seg seg[PVIO_BLK_INLINE_SEGS];
};
PVIO_ABI_SIZE(struct pvio_blk_req, 64);
PVIO_ABI_OFFSET(struct pvio_blk_req, id, 0);
PVIO_ABI_OFFSET(struct pvio_blk_req, op, 4);
PVIO_ABI_OFFSET(struct pvio_blk_req, flags, 6);
PVIO_ABI_OFFSET(struct pvio_blk_req, sector, 8);
PVIO_ABI_OFFSET(struct pvio_blk_req, nr_sectors, 16);
PVIO_ABI_OFFSET(struct pvio_blk_req, nr_segs, 20);
PVIO_ABI_OFFSET(struct pvio_blk_req, reserved0, 22);
PVIO_ABI_OFFSET(struct pvio_blk_req, reserved1, 24);
PVIO_ABI_OFFSET(struct pvio_blk_req, seg, 32);

/* A response, written by the backend once, in full. */
struct pvio_blk_rsp {
	__le32 id;        /* id of the request answered */
	__le16 status;    /* PVIO_BLK_S_* */
	__le16 reserved0; /* zero */
	__le32 len;       /* bytes transferred (READ, WRITE, GET_ID), else 0 */
	__le32 reserved1; /* zero */
};
PVIO_ABI_SIZE(struct pvio_blk_rsp, 16);
PVIO_ABI_OFFSET(struct pvio_blk_rsp, id, 0);
PVIO_ABI_OFFSET(struct pvio_blk_rsp, status, 4);
PVIO_ABI_OFFSET(struct pvio_blk_rsp, len, 8);

/* Device attributes (pvio_blk_config.attrs). */
#define PVIO_BLK_ATTR_RO 0x1u     /* read-only: WRITE, DISCARD, WRITE_ZEROES fail */
#define PVIO_BLK_ATTR_WCACHE 0x2u /* volatile write cache: FLUSH needed */
#define PVIO_BLK_ATTR_MASK 0x3u

/*
 * Block configuration, in pvio_region_hdr.config; written by the backend
 * before it sets INITWAIT, constant while connected. The number of queues
 * is the region header's num_queues, common to all classes. Limits of 0 for
 * discard/write-zeroes mean "not supported" whatever the feature bits say.
 */
struct pvio_blk_config {
	__le64 capacity;             /* device size in 512-byte sectors */
	__le32 logical_block_size;   /* bytes, power of two, 512..4096 */
	__le32 physical_block_size;  /* bytes, power of two, >= logical */
	__le32 max_segments;         /* segments per request, >= 1 */
	__le32 max_segment_size;     /* bytes per segment */
	__le32 max_transfer_sectors; /* 512-byte sectors per READ/WRITE */
	__le32 discard_granularity;  /* bytes; discard ranges are aligned to it */
	__le32 max_discard_sectors;  /* 512-byte sectors per DISCARD */
	__le32 max_write_zeroes_sectors; /* 512-byte sectors per WRITE_ZEROES */
	__le32 attrs;                /* PVIO_BLK_ATTR_* */
	__le32 queue_depth;          /* requests in flight per queue the backend serves */
	__u8 reserved[208];          /* zero */
};
PVIO_ABI_SIZE(struct pvio_blk_config, PVIO_CONFIG_SIZE);
PVIO_ABI_OFFSET(struct pvio_blk_config, capacity, 0);
PVIO_ABI_OFFSET(struct pvio_blk_config, logical_block_size, 8);
PVIO_ABI_OFFSET(struct pvio_blk_config, physical_block_size, 12);
PVIO_ABI_OFFSET(struct pvio_blk_config, max_segments, 16);
PVIO_ABI_OFFSET(struct pvio_blk_config, max_segment_size, 20);
PVIO_ABI_OFFSET(struct pvio_blk_config, max_transfer_sectors, 24);
PVIO_ABI_OFFSET(struct pvio_blk_config, discard_granularity, 28);
PVIO_ABI_OFFSET(struct pvio_blk_config, max_discard_sectors, 32);
PVIO_ABI_OFFSET(struct pvio_blk_config, max_write_zeroes_sectors, 36);
PVIO_ABI_OFFSET(struct pvio_blk_config, attrs, 40);
PVIO_ABI_OFFSET(struct pvio_blk_config, queue_depth, 44);

#endif /* PVIO_BLK_H */
