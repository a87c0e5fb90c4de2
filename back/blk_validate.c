// SPDX-License-Identifier: MIT
/*
 * pvio block backend: request validation; see blk_validate.h. Everything
 * here works on private copies; the only read of shared memory is the one
 * memcpy of an indirect segment table.
 */
#include "blk_validate.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "pvio_compat.h"

/* An indirect table is copied straight into the caller's segment array. */
_Static_assert(sizeof(struct pvio_blk_vseg) == sizeof(struct pvio_blk_seg),
	       "pvio_blk_vseg must match the wire segment's size");

static bool bv_is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/**
 * pvio_blk_limits_from_config() - host-endian limits from a block config.
 * @cfg: the config the backend wrote (or will write) to the region header
 * @lim: filled in
 *
 * Context: any.
 * Return: 0, or -EINVAL if the config itself is inconsistent (block sizes,
 * zero segment limits, unknown attributes, non-zero reserved bytes).
 */
int pvio_blk_limits_from_config(const struct pvio_blk_config *cfg,
				struct pvio_blk_limits *lim)
{
	size_t i;

	lim->capacity = pvio_le64_to_cpu(cfg->capacity);
	lim->logical_block_size = pvio_le32_to_cpu(cfg->logical_block_size);
	lim->max_segments = pvio_le32_to_cpu(cfg->max_segments);
	lim->max_segment_size = pvio_le32_to_cpu(cfg->max_segment_size);
	lim->max_transfer_sectors = pvio_le32_to_cpu(cfg->max_transfer_sectors);
	lim->discard_granularity = pvio_le32_to_cpu(cfg->discard_granularity);
	lim->max_discard_sectors = pvio_le32_to_cpu(cfg->max_discard_sectors);
	lim->max_write_zeroes_sectors =
		pvio_le32_to_cpu(cfg->max_write_zeroes_sectors);
	lim->attrs = pvio_le32_to_cpu(cfg->attrs);

	if (!bv_is_pow2(lim->logical_block_size) ||
	    lim->logical_block_size < PVIO_BLK_SECTOR_SIZE ||
	    lim->logical_block_size > 4096)
		return -EINVAL;
	if (lim->max_segments == 0 ||
	    lim->max_segment_size < lim->logical_block_size ||
	    (uint64_t)lim->max_transfer_sectors * PVIO_BLK_SECTOR_SIZE <
		    lim->logical_block_size)
		return -EINVAL;
	if (lim->discard_granularity &&
	    (!bv_is_pow2(lim->discard_granularity) ||
	     lim->discard_granularity < lim->logical_block_size))
		return -EINVAL;
	if (lim->attrs & ~PVIO_BLK_ATTR_MASK)
		return -EINVAL;
	for (i = 0; i < sizeof(cfg->reserved); i++)
		if (cfg->reserved[i])
			return -EINVAL;
	return 0;
}

#define BV_FAIL(status, why)          \
	do {                          \
		*reason = (why);      \
		return (status);      \
	} while (0)

/* [offset, offset + len) inside the data area; 64-bit sum cannot wrap. */
static bool bv_in_data(uint64_t offset, uint64_t len, uint64_t data_size)
{
	return offset <= data_size && len <= data_size - offset;
}

static bool bv_segs_zero(const struct pvio_blk_req *req, unsigned int from)
{
	unsigned int i;

	for (i = from; i < PVIO_BLK_INLINE_SEGS; i++)
		if (req->seg[i].offset || req->seg[i].len)
			return false;
	return true;
}

/* Sectors [sector, sector + n) inside a device of @cap sectors. */
static bool bv_in_capacity(uint64_t sector, uint64_t n, uint64_t cap)
{
	return sector <= cap && n <= cap - sector;
}

static unsigned int bv_read_write(const struct pvio_blk_req *req,
				  const struct pvio_blk_limits *lim,
				  const void *data, uint64_t data_size,
				  struct pvio_blk_vreq *out,
				  struct pvio_blk_vseg *segs,
				  unsigned int segs_cap, const char **reason)
{
	uint32_t lbs = lim->logical_block_size;
	uint32_t lbs_sectors = lbs / PVIO_BLK_SECTOR_SIZE;
	uint32_t nr_segs = pvio_le16_to_cpu(req->nr_segs);
	uint64_t total = 0;
	uint32_t i;

	if (nr_segs == 0)
		BV_FAIL(PVIO_BLK_S_INVAL, "no segments");
	if (nr_segs > lim->max_segments)
		BV_FAIL(PVIO_BLK_S_INVAL, "more segments than max_segments");
	if (nr_segs > segs_cap)
		BV_FAIL(PVIO_BLK_S_INVAL, "more segments than the backend can hold");

	if (out->flags & PVIO_BLK_REQ_F_INDIRECT) {
		uint64_t toff = pvio_le32_to_cpu(req->seg[0].offset);
		uint64_t tlen = pvio_le32_to_cpu(req->seg[0].len);
		struct pvio_blk_seg wire;

		if (!bv_segs_zero(req, 1))
			BV_FAIL(PVIO_BLK_S_INVAL, "indirect request with inline segments");
		if (tlen != (uint64_t)nr_segs * sizeof(struct pvio_blk_seg))
			BV_FAIL(PVIO_BLK_S_INVAL, "indirect table length is not nr_segs entries");
		if (toff % sizeof(struct pvio_blk_seg))
			BV_FAIL(PVIO_BLK_S_INVAL, "indirect table misaligned");
		if (!data || !bv_in_data(toff, tlen, data_size))
			BV_FAIL(PVIO_BLK_S_INVAL, "indirect table outside the data area");
		/* The one read of the table: the frontend may rewrite it at any
		 * time, so only this copy is checked and used. */
		memcpy(segs, (const unsigned char *)data + toff, tlen);
		for (i = 0; i < nr_segs; i++) {
			memcpy(&wire, &segs[i], sizeof(wire));
			segs[i].offset = pvio_le32_to_cpu(wire.offset);
			segs[i].len = pvio_le32_to_cpu(wire.len);
		}
	} else {
		if (nr_segs > PVIO_BLK_INLINE_SEGS)
			BV_FAIL(PVIO_BLK_S_INVAL, "more than 4 inline segments");
		if (!bv_segs_zero(req, nr_segs))
			BV_FAIL(PVIO_BLK_S_INVAL, "unused segment slot not zero");
		for (i = 0; i < nr_segs; i++) {
			segs[i].offset = pvio_le32_to_cpu(req->seg[i].offset);
			segs[i].len = pvio_le32_to_cpu(req->seg[i].len);
		}
	}

	for (i = 0; i < nr_segs; i++) {
		if (segs[i].len == 0)
			BV_FAIL(PVIO_BLK_S_INVAL, "empty segment");
		if (segs[i].len % lbs)
			BV_FAIL(PVIO_BLK_S_INVAL, "segment length not a multiple of the logical block size");
		if (segs[i].offset % lbs)
			BV_FAIL(PVIO_BLK_S_INVAL, "segment offset not a multiple of the logical block size");
		if (segs[i].len > lim->max_segment_size)
			BV_FAIL(PVIO_BLK_S_INVAL, "segment longer than max_segment_size");
		if (!bv_in_data(segs[i].offset, segs[i].len, data_size))
			BV_FAIL(PVIO_BLK_S_INVAL, "segment outside the data area");
		total += segs[i].len;
	}
	if (total != (uint64_t)out->nr_sectors * PVIO_BLK_SECTOR_SIZE)
		BV_FAIL(PVIO_BLK_S_INVAL, "segments do not add up to nr_sectors");
	if (out->nr_sectors > lim->max_transfer_sectors)
		BV_FAIL(PVIO_BLK_S_INVAL, "transfer longer than max_transfer_sectors");
	if ((out->sector | out->nr_sectors) & (lbs_sectors - 1))
		BV_FAIL(PVIO_BLK_S_INVAL, "not aligned to the logical block size");
	if (out->op == PVIO_BLK_OP_WRITE && (lim->attrs & PVIO_BLK_ATTR_RO))
		BV_FAIL(PVIO_BLK_S_ROFS, "write to a read-only device");
	if (!bv_in_capacity(out->sector, out->nr_sectors, lim->capacity))
		BV_FAIL(PVIO_BLK_S_RANGE, "sectors beyond capacity");
	out->nr_segs = nr_segs;
	return PVIO_BLK_S_OK;
}

static unsigned int bv_discard_zeroes(const struct pvio_blk_req *req,
				      const struct pvio_blk_limits *lim,
				      struct pvio_blk_vreq *out,
				      const char **reason)
{
	bool discard = out->op == PVIO_BLK_OP_DISCARD;
	uint32_t max = discard ? lim->max_discard_sectors
			       : lim->max_write_zeroes_sectors;
	uint64_t align = lim->logical_block_size;

	if (discard && lim->discard_granularity)
		align = lim->discard_granularity;
	align /= PVIO_BLK_SECTOR_SIZE;

	if (req->nr_segs || !bv_segs_zero(req, 0))
		BV_FAIL(PVIO_BLK_S_INVAL, "segments on a request without data");
	if (out->nr_sectors == 0)
		BV_FAIL(PVIO_BLK_S_INVAL, "empty range");
	if (out->nr_sectors > max)
		BV_FAIL(PVIO_BLK_S_INVAL, discard ? "discard longer than max_discard_sectors"
						  : "write-zeroes longer than max_write_zeroes_sectors");
	/* align is a power of two (checked with the limits). */
	if ((out->sector | out->nr_sectors) & (align - 1))
		BV_FAIL(PVIO_BLK_S_INVAL, discard ? "discard not aligned to its granularity"
						  : "write-zeroes not aligned to the logical block size");
	if (lim->attrs & PVIO_BLK_ATTR_RO)
		BV_FAIL(PVIO_BLK_S_ROFS, "modification of a read-only device");
	if (!bv_in_capacity(out->sector, out->nr_sectors, lim->capacity))
		BV_FAIL(PVIO_BLK_S_RANGE, "sectors beyond capacity");
	return PVIO_BLK_S_OK;
}

/* The feature an operation needs, or 0. */
static uint64_t bv_op_feature(unsigned int op)
{
	switch (op) {
	case PVIO_BLK_OP_FLUSH:
		return PVIO_BLK_F_FLUSH;
	case PVIO_BLK_OP_DISCARD:
		return PVIO_BLK_F_DISCARD;
	case PVIO_BLK_OP_WRITE_ZEROES:
		return PVIO_BLK_F_WRITE_ZEROES;
	case PVIO_BLK_OP_GET_ID:
		return PVIO_BLK_F_GET_ID;
	default:
		return 0;
	}
}

/**
 * pvio_blk_req_validate() - check one block request and convert it.
 * @req: the request, already copied out of the ring (private memory)
 * @lim: the device's limits (pvio_blk_limits_from_config())
 * @features: the features the frontend accepted
 * @data: this queue's data area in the shared region (read only for an
 *        indirect table), or NULL if it has none
 * @data_size: bytes in the data area
 * @out: the validated request; id is set even when the request is refused
 * @segs: caller's array for the segments, @segs_cap entries; the backend
 *        sizes it for lim->max_segments
 * @segs_cap: entries in @segs
 * @reason: set to a short description of the broken rule (never NULL after
 *          the call; "ok" for a valid request)
 *
 * Context: any; does not sleep.
 * Return: PVIO_BLK_S_OK, or the PVIO_BLK_S_* status to answer with.
 */
unsigned int pvio_blk_req_validate(const struct pvio_blk_req *req,
				   const struct pvio_blk_limits *lim,
				   uint64_t features, const void *data,
				   uint64_t data_size, struct pvio_blk_vreq *out,
				   struct pvio_blk_vseg *segs,
				   unsigned int segs_cap, const char **reason)
{
	uint64_t need;

	memset(out, 0, sizeof(*out));
	out->id = pvio_le32_to_cpu(req->id);
	out->op = pvio_le16_to_cpu(req->op);
	out->flags = pvio_le16_to_cpu(req->flags);
	out->sector = pvio_le64_to_cpu(req->sector);
	out->nr_sectors = pvio_le32_to_cpu(req->nr_sectors);
	out->segs = segs;
	*reason = "ok";

	if (out->op > PVIO_BLK_OP_MAX)
		BV_FAIL(PVIO_BLK_S_UNSUPP, "unknown operation");
	if (req->reserved0 || req->reserved1)
		BV_FAIL(PVIO_BLK_S_INVAL, "reserved field not zero");
	if (out->flags & ~PVIO_BLK_REQ_F_MASK)
		BV_FAIL(PVIO_BLK_S_INVAL, "unknown flag");
	if ((out->flags & PVIO_BLK_REQ_F_FUA) && out->op != PVIO_BLK_OP_WRITE)
		BV_FAIL(PVIO_BLK_S_INVAL, "FUA on an operation other than WRITE");
	if ((out->flags & PVIO_BLK_REQ_F_INDIRECT) &&
	    out->op != PVIO_BLK_OP_READ && out->op != PVIO_BLK_OP_WRITE)
		BV_FAIL(PVIO_BLK_S_INVAL, "INDIRECT on an operation without data");
	if ((out->flags & PVIO_BLK_REQ_F_UNMAP) &&
	    out->op != PVIO_BLK_OP_WRITE_ZEROES)
		BV_FAIL(PVIO_BLK_S_INVAL, "UNMAP on an operation other than WRITE_ZEROES");

	need = bv_op_feature(out->op);
	if (need && !(features & need))
		BV_FAIL(PVIO_BLK_S_UNSUPP, "operation not negotiated");
	if ((out->op == PVIO_BLK_OP_DISCARD && !lim->max_discard_sectors) ||
	    (out->op == PVIO_BLK_OP_WRITE_ZEROES && !lim->max_write_zeroes_sectors))
		BV_FAIL(PVIO_BLK_S_UNSUPP, "operation not supported by the device");
	if ((out->flags & PVIO_BLK_REQ_F_FUA) && !(features & PVIO_BLK_F_FUA))
		BV_FAIL(PVIO_BLK_S_UNSUPP, "FUA not negotiated");
	if ((out->flags & PVIO_BLK_REQ_F_INDIRECT) &&
	    !(features & PVIO_BLK_F_INDIRECT))
		BV_FAIL(PVIO_BLK_S_UNSUPP, "INDIRECT not negotiated");

	switch (out->op) {
	case PVIO_BLK_OP_READ:
	case PVIO_BLK_OP_WRITE:
		return bv_read_write(req, lim, data, data_size, out, segs,
				     segs_cap, reason);
	case PVIO_BLK_OP_FLUSH:
		if (out->flags || out->sector || out->nr_sectors ||
		    req->nr_segs || !bv_segs_zero(req, 0))
			BV_FAIL(PVIO_BLK_S_INVAL, "FLUSH with non-zero fields");
		return PVIO_BLK_S_OK;
	case PVIO_BLK_OP_DISCARD:
	case PVIO_BLK_OP_WRITE_ZEROES:
		return bv_discard_zeroes(req, lim, out, reason);
	case PVIO_BLK_OP_GET_ID:
		if (out->flags || out->sector || out->nr_sectors)
			BV_FAIL(PVIO_BLK_S_INVAL, "GET_ID with non-zero fields");
		if (pvio_le16_to_cpu(req->nr_segs) != 1 || !bv_segs_zero(req, 1))
			BV_FAIL(PVIO_BLK_S_INVAL, "GET_ID needs exactly one segment");
		if (segs_cap < 1)
			BV_FAIL(PVIO_BLK_S_INVAL, "more segments than the backend can hold");
		segs[0].offset = pvio_le32_to_cpu(req->seg[0].offset);
		segs[0].len = pvio_le32_to_cpu(req->seg[0].len);
		if (segs[0].len < PVIO_BLK_ID_BYTES)
			BV_FAIL(PVIO_BLK_S_INVAL, "GET_ID segment shorter than the id");
		if (!bv_in_data(segs[0].offset, segs[0].len, data_size))
			BV_FAIL(PVIO_BLK_S_INVAL, "segment outside the data area");
		out->nr_segs = 1;
		return PVIO_BLK_S_OK;
	}
	BV_FAIL(PVIO_BLK_S_UNSUPP, "unknown operation");
}
