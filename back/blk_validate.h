/* SPDX-License-Identifier: MIT */
/*
 * pvio block backend: validation of one request taken off a request ring.
 *
 * The caller copies the request out of the ring once (pvio_cons_get) and
 * hands the copy here; the result is a host-endian request whose every
 * field and segment has been checked against the device's limits, the
 * negotiated features and the queue's data area. Indirect segment tables
 * are copied out of the data area once and only the copy is checked and
 * returned, so a frontend rewriting the table afterwards changes nothing.
 *
 * The answer is the PVIO_BLK_S_* status to send back: PVIO_BLK_S_OK means
 * the request may be executed as described by struct pvio_blk_vreq.
 * Precedence when several rules are broken: UNSUPP for an unknown operation;
 * INVAL for reserved fields or flag bits; UNSUPP for an operation or flag
 * whose feature was not negotiated; INVAL for a malformed request; ROFS for
 * a modification of a read-only device; RANGE for sectors beyond capacity.
 */
#ifndef PVIO_BLK_VALIDATE_H
#define PVIO_BLK_VALIDATE_H

#include <stdint.h>
#include <pvio/blk.h>

/* The device limits the validator needs, host-endian. */
struct pvio_blk_limits {
	uint64_t capacity;             /* 512-byte sectors */
	uint32_t logical_block_size;   /* bytes, power of two, 512..4096 */
	uint32_t max_segments;         /* >= 1 */
	uint32_t max_segment_size;     /* bytes, >= logical_block_size */
	uint32_t max_transfer_sectors; /* >= logical_block_size / 512 */
	uint32_t discard_granularity;  /* bytes; 0: logical_block_size */
	uint32_t max_discard_sectors;  /* 0: DISCARD unsupported */
	uint32_t max_write_zeroes_sectors; /* 0: WRITE_ZEROES unsupported */
	uint32_t attrs;                /* PVIO_BLK_ATTR_* */
};

/* One validated segment: [offset, offset + len) lies in the data area. */
struct pvio_blk_vseg {
	uint32_t offset;
	uint32_t len;
};

/* A validated request, host-endian. */
struct pvio_blk_vreq {
	uint32_t id;
	uint16_t op;
	uint16_t flags;
	uint64_t sector;
	uint32_t nr_sectors;
	uint32_t nr_segs;           /* entries of segs[] in use */
	struct pvio_blk_vseg *segs; /* the caller's array, filled in */
};

int pvio_blk_limits_from_config(const struct pvio_blk_config *cfg,
				struct pvio_blk_limits *lim);
unsigned int pvio_blk_req_validate(const struct pvio_blk_req *req,
				   const struct pvio_blk_limits *lim,
				   uint64_t features, const void *data,
				   uint64_t data_size, struct pvio_blk_vreq *out,
				   struct pvio_blk_vseg *segs,
				   unsigned int segs_cap,
				   const char **reason);

#endif /* PVIO_BLK_VALIDATE_H */
