/* SPDX-License-Identifier: MIT */
/*
 * pvio block protocol rules (include/pvio/blk.h), one implementation for
 * every frontend and backend, kernel and userspace:
 *
 *   - pvio_blk_limits_from_config(): a block config to host-endian limits,
 *     every field checked (both sides: the backend before it publishes a
 *     config, the frontend on the copy it took from the header);
 *   - pvio_blk_check_layout(): a checked region layout is a block one
 *     (entry sizes of the block protocol);
 *   - pvio_blk_req_validate(): one request taken off a request ring,
 *     checked against the limits, the negotiated features and the data
 *     area (backend view);
 *   - pvio_blk_rsp_check(): one response taken off a response ring,
 *     checked (frontend view).
 *
 * Everything works on private copies; the only reads of shared memory are
 * the copy of an indirect segment table (pvio_copy_from_shared).
 *
 * Status precedence when a request breaks several rules is the ABI's
 * (PVIO_BLK_S_* order in blk.h): UNSUPP for an unknown operation; INVAL for
 * reserved fields or flag bits; UNSUPP for an operation or flag whose
 * feature was not negotiated; INVAL for a malformed request; ROFS for a
 * modification of a read-only device; RANGE for sectors beyond capacity.
 *
 * Sees only pvio_compat.h.
 */
#ifndef PVIO_RING_BLK_PROTO_H
#define PVIO_RING_BLK_PROTO_H

#include "pvio_compat.h"
#include "region.h"
#include <pvio/blk.h>

/* A block config, checked and host-endian. */
struct pvio_blk_limits {
	__u64 capacity;             /* 512-byte sectors, 1..2^55 */
	__u32 logical_block_size;   /* bytes, power of two, 512..4096 */
	__u32 physical_block_size;  /* bytes, power of two, >= logical */
	__u32 max_segments;         /* >= 1 */
	__u32 max_segment_size;     /* bytes, >= logical_block_size */
	__u32 max_transfer_sectors; /* >= logical_block_size / 512 */
	__u32 discard_granularity;  /* bytes; 0: logical_block_size */
	__u32 max_discard_sectors;  /* 0: DISCARD unsupported */
	__u32 max_write_zeroes_sectors; /* 0: WRITE_ZEROES unsupported */
	__u32 attrs;                /* PVIO_BLK_ATTR_* */
	__u32 queue_depth;          /* >= 1 */
};

/* One validated segment: [offset, offset + len) lies in the data area. */
struct pvio_blk_vseg {
	__u32 offset;
	__u32 len;
};

/* A validated request, host-endian. */
struct pvio_blk_vreq {
	__u32 id;
	__u16 op;
	__u16 flags;
	__u64 sector;
	__u32 nr_sectors;
	__u32 nr_segs;              /* entries of segs[] in use */
	struct pvio_blk_vseg *segs; /* the caller's array, filled in */
};

/* A checked response, host-endian. */
struct pvio_blk_vrsp {
	__u32 id;
	__u16 status; /* PVIO_BLK_S_*, <= PVIO_BLK_S_MAX */
	__u32 len;
};

int pvio_blk_limits_from_config(const struct pvio_blk_config *cfg,
				struct pvio_blk_limits *lim,
				const char **reason);
void pvio_blk_config_from_limits(const struct pvio_blk_limits *lim,
				 struct pvio_blk_config *cfg);
int pvio_blk_check_layout(const struct pvio_region_layout *l,
			  const char **reason);
unsigned int pvio_blk_req_validate(const struct pvio_blk_req *req,
				   const struct pvio_blk_limits *lim,
				   __u64 features, const void *data,
				   __u64 data_size, struct pvio_blk_vreq *out,
				   struct pvio_blk_vseg *segs,
				   unsigned int segs_cap,
				   const char **reason);
int pvio_blk_rsp_check(const struct pvio_blk_rsp *rsp, __u32 max_len,
		       struct pvio_blk_vrsp *out, const char **reason);

#endif /* PVIO_RING_BLK_PROTO_H */
