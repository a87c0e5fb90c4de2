// SPDX-License-Identifier: MIT
/*
 * pvio block protocol rules; see blk_proto.h and include/pvio/blk.h.
 * Everything here works on private copies; the only read of shared memory
 * is the copy of an indirect segment table.
 */
#include "pvio_compat.h"
#include "blk_proto.h"

/* An indirect table is copied straight into the caller's segment array. */
PVIO_ABI_SIZE(struct pvio_blk_vseg, sizeof(struct pvio_blk_seg));

static bool bv_is_pow2(__u64 v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

#define BV_ERR(why)               \
	do {                      \
		*reason = (why);  \
		return -EINVAL;   \
	} while (0)

/**
 * pvio_blk_limits_from_config() - host-endian limits from a block config.
 * @cfg: a private copy of the config the backend wrote (or will write)
 * @lim: filled in (also on failure, for diagnostics)
 * @reason: a short description of the first broken rule ("ok" if none)
 *
 * Context: any.
 * Return: 0, or -EINVAL if the config is inconsistent: capacity outside
 * 1..(2^64 - 1) >> 9 sectors, block sizes (logical a power of two in
 * 512..4096, physical a power of two >= logical), zero segment limits,
 * more segments than nr_segs can count, discard granularity, unknown
 * attributes, queue depth 0, non-zero reserved bytes.
 */
int pvio_blk_limits_from_config(const struct pvio_blk_config *cfg,
				struct pvio_blk_limits *lim,
				const char **reason)
{
	size_t i;

	*reason = "ok";
	lim->capacity = pvio_le64_to_cpu(cfg->capacity);
	lim->logical_block_size = pvio_le32_to_cpu(cfg->logical_block_size);
	lim->physical_block_size = pvio_le32_to_cpu(cfg->physical_block_size);
	lim->max_segments = pvio_le32_to_cpu(cfg->max_segments);
	lim->max_segment_size = pvio_le32_to_cpu(cfg->max_segment_size);
	lim->max_transfer_sectors = pvio_le32_to_cpu(cfg->max_transfer_sectors);
	lim->discard_granularity = pvio_le32_to_cpu(cfg->discard_granularity);
	lim->max_discard_sectors = pvio_le32_to_cpu(cfg->max_discard_sectors);
	lim->max_write_zeroes_sectors =
		pvio_le32_to_cpu(cfg->max_write_zeroes_sectors);
	lim->attrs = pvio_le32_to_cpu(cfg->attrs);
	lim->queue_depth = pvio_le32_to_cpu(cfg->queue_depth);

	/* A byte size must fit in 64 bits. */
	if (lim->capacity == 0 ||
	    lim->capacity > (~0ull >> PVIO_BLK_SECTOR_SHIFT))
		BV_ERR("capacity outside 1..2^55 sectors");
	if (!bv_is_pow2(lim->logical_block_size) ||
	    lim->logical_block_size < PVIO_BLK_SECTOR_SIZE ||
	    lim->logical_block_size > 4096)
		BV_ERR("logical block size not a power of two in 512..4096");
	if (!bv_is_pow2(lim->physical_block_size) ||
	    lim->physical_block_size < lim->logical_block_size)
		BV_ERR("physical block size not a power of two >= logical");
	if (lim->max_segments == 0)
		BV_ERR("max_segments is 0");
	/* A request counts its segments in the 16-bit nr_segs. */
	if (lim->max_segments > 0xffffu)
		BV_ERR("max_segments above 65535");
	if (lim->max_segment_size < lim->logical_block_size)
		BV_ERR("max_segment_size below the logical block size");
	if ((__u64)lim->max_transfer_sectors * PVIO_BLK_SECTOR_SIZE <
	    lim->logical_block_size)
		BV_ERR("max_transfer_sectors below one logical block");
	if (lim->discard_granularity &&
	    (!bv_is_pow2(lim->discard_granularity) ||
	     lim->discard_granularity < lim->logical_block_size))
		BV_ERR("discard granularity not a power of two >= logical");
	if (lim->attrs & ~PVIO_BLK_ATTR_MASK)
		BV_ERR("unknown attribute bits");
	if (lim->queue_depth == 0)
		BV_ERR("queue depth 0");
	for (i = 0; i < sizeof(cfg->reserved); i++)
		if (cfg->reserved[i])
			BV_ERR("config reserved bytes not zero");
	return 0;
}

/**
 * pvio_blk_config_from_limits() - the wire config for a set of limits.
 * @lim: the limits (host-endian)
 * @cfg: filled in, reserved bytes zero
 *
 * Context: any.
 */
void pvio_blk_config_from_limits(const struct pvio_blk_limits *lim,
				 struct pvio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = pvio_cpu_to_le64(lim->capacity);
	cfg->logical_block_size = pvio_cpu_to_le32(lim->logical_block_size);
	cfg->physical_block_size = pvio_cpu_to_le32(lim->physical_block_size);
	cfg->max_segments = pvio_cpu_to_le32(lim->max_segments);
	cfg->max_segment_size = pvio_cpu_to_le32(lim->max_segment_size);
	cfg->max_transfer_sectors = pvio_cpu_to_le32(lim->max_transfer_sectors);
	cfg->discard_granularity = pvio_cpu_to_le32(lim->discard_granularity);
	cfg->max_discard_sectors = pvio_cpu_to_le32(lim->max_discard_sectors);
	cfg->max_write_zeroes_sectors =
		pvio_cpu_to_le32(lim->max_write_zeroes_sectors);
	cfg->attrs = pvio_cpu_to_le32(lim->attrs);
	cfg->queue_depth = pvio_cpu_to_le32(lim->queue_depth);
}

/**
 * pvio_blk_check_layout() - is a checked region layout a block one?
 * @l: the layout from pvio_region_check() (or pvio_region_layout())
 * @reason: a short description of the first broken rule ("ok" if none)
 *
 * Checks what the class-agnostic check leaves to the class: the class
 * itself and every used queue's entry sizes. The config is checked by
 * pvio_blk_limits_from_config() on @l->config.
 *
 * Context: any.
 * Return: 0, or -EPROTO.
 */
int pvio_blk_check_layout(const struct pvio_region_layout *l,
			  const char **reason)
{
	unsigned int i;

	*reason = "ok";
	if (l->dev_class != PVIO_CLASS_BLK) {
		*reason = "not a block device";
		return -EPROTO;
	}
	for (i = 0; i < l->num_queues && i < PVIO_MAX_QUEUES; i++) {
		if (l->queues[i].req_entry_size != sizeof(struct pvio_blk_req) ||
		    l->queues[i].rsp_entry_size != sizeof(struct pvio_blk_rsp)) {
			*reason = "queue entry size is not the block protocol's";
			return -EPROTO;
		}
	}
	return 0;
}

/**
 * pvio_blk_rsp_check() - check one response and convert it.
 * @rsp: the response, already copied out of the ring (private memory)
 * @max_len: the most bytes the request it answers can have moved
 * @out: the checked response (id set even when refused)
 * @reason: a short description of the first broken rule ("ok" if none)
 *
 * Only the response itself is checked; whether @out->id names an
 * outstanding request is the caller's to check.
 *
 * Context: any.
 * Return: 0, or -EPROTO for an unknown status, non-zero reserved fields or
 * a length above @max_len.
 */
int pvio_blk_rsp_check(const struct pvio_blk_rsp *rsp, __u32 max_len,
		       struct pvio_blk_vrsp *out, const char **reason)
{
	__u32 status = pvio_le16_to_cpu(rsp->status);

	*reason = "ok";
	out->id = pvio_le32_to_cpu(rsp->id);
	out->status = (__u16)status;
	out->len = pvio_le32_to_cpu(rsp->len);
	if (status > PVIO_BLK_S_MAX) {
		*reason = "unknown response status";
		return -EPROTO;
	}
	if (rsp->reserved0 || rsp->reserved1) {
		*reason = "response reserved field not zero";
		return -EPROTO;
	}
	if (out->len > max_len) {
		*reason = "response length beyond the request";
		return -EPROTO;
	}
	return 0;
}

#define BV_FAIL(status, why)          \
	do {                          \
		*reason = (why);      \
		return (status);      \
	} while (0)

/* [offset, offset + len) inside the data area; 64-bit sum cannot wrap. */
static bool bv_in_data(__u64 offset, __u64 len, __u64 data_size)
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
static bool bv_in_capacity(__u64 sector, __u64 n, __u64 cap)
{
	return sector <= cap && n <= cap - sector;
}

static unsigned int bv_read_write(const struct pvio_blk_req *req,
				  const struct pvio_blk_limits *lim,
				  const void *data, __u64 data_size,
				  struct pvio_blk_vreq *out,
				  struct pvio_blk_vseg *segs,
				  unsigned int segs_cap, const char **reason)
{
	__u32 lbs = lim->logical_block_size;
	__u32 lbs_sectors = lbs / PVIO_BLK_SECTOR_SIZE;
	__u32 nr_segs = pvio_le16_to_cpu(req->nr_segs);
	__u64 total = 0;
	__u32 i;

	if (nr_segs == 0)
		BV_FAIL(PVIO_BLK_S_INVAL, "no segments");
	if (nr_segs > lim->max_segments)
		BV_FAIL(PVIO_BLK_S_INVAL, "more segments than max_segments");
	if (nr_segs > segs_cap)
		BV_FAIL(PVIO_BLK_S_INVAL, "more segments than the backend can hold");

	if (out->flags & PVIO_BLK_REQ_F_INDIRECT) {
		__u64 toff = pvio_le32_to_cpu(req->seg[0].offset);
		__u64 tlen = pvio_le32_to_cpu(req->seg[0].len);
		struct pvio_blk_seg wire;

		if (!bv_segs_zero(req, 1))
			BV_FAIL(PVIO_BLK_S_INVAL, "indirect request with inline segments");
		if (tlen != (__u64)nr_segs * sizeof(struct pvio_blk_seg))
			BV_FAIL(PVIO_BLK_S_INVAL, "indirect table length is not nr_segs entries");
		if (toff % sizeof(struct pvio_blk_seg))
			BV_FAIL(PVIO_BLK_S_INVAL, "indirect table misaligned");
		if (!data || !bv_in_data(toff, tlen, data_size))
			BV_FAIL(PVIO_BLK_S_INVAL, "indirect table outside the data area");
		/* The one read of the table: the frontend may rewrite it at any
		 * time, so only this copy is checked and used (and a plain
		 * memcpy could be turned into later re-reads). */
		pvio_copy_from_shared(segs, (const unsigned char *)data + toff,
				      tlen);
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
	if (total != (__u64)out->nr_sectors * PVIO_BLK_SECTOR_SIZE)
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
	__u32 max = discard ? lim->max_discard_sectors
			       : lim->max_write_zeroes_sectors;
	__u64 align = lim->logical_block_size;

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
static __u64 bv_op_feature(unsigned int op)
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
				   __u64 features, const void *data,
				   __u64 data_size, struct pvio_blk_vreq *out,
				   struct pvio_blk_vseg *segs,
				   unsigned int segs_cap, const char **reason)
{
	__u64 need;

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
