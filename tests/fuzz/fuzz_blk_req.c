// SPDX-License-Identifier: MIT
/*
 * Fuzz target: block request validation, backend view
 * (pvio_blk_req_validate() in ring/blk_proto.c, what pvio-backd and
 * pvblkback call on every request copied off a request ring).
 *
 * Input (little-endian; missing bytes read as zero):
 *   64 B  struct pvio_blk_req, exactly as a frontend wrote it
 *    8 B  negotiated features
 *   28 B  device limits, in a form that always gives a valid config
 *         (see fz_limits()); the config goes through
 *         pvio_blk_limits_from_config(), which must accept it
 *    2 B  entries of the backend's segment array (1..PVIO_FUZZ_SEGS)
 *    4 B  data area size (0..PVIO_FUZZ_DATA; 0: no data area)
 *   rest  the data area's first bytes (indirect tables live there)
 *
 * The data area ends where a static buffer ends, so any read of an
 * indirect table past it lands in the buffer's AddressSanitizer redzone. Every request
 * accepted is checked against the rules of include/pvio/blk.h again here,
 * independently of the code under test.
 */
#include "fuzz_common.h"
#include "blk_proto.h"

#define PVIO_FUZZ_SEGS 300u
#define PVIO_FUZZ_DATA (128u * 1024u)

static void fz_limits(struct fz *f, struct pvio_blk_limits *lim)
{
	__u32 lbs = 512u << (fz_u8(f) % 4);
	__u32 lbs_sectors = lbs / 512u;
	__u8 g;

	memset(lim, 0, sizeof(*lim));
	lim->logical_block_size = lbs;
	lim->physical_block_size = lbs << (fz_u8(f) % 4);
	lim->max_segments = 1u + fz_u16(f) % 512u;
	lim->max_segment_size = lbs * (1u + fz_u32(f) % 1024u);
	lim->max_transfer_sectors = lbs_sectors * (1u + fz_u32(f) % 4096u);
	g = fz_u8(f);
	lim->discard_granularity = g % 5 ? lbs << (g % 5 - 1) : 0;
	lim->max_discard_sectors = fz_u32(f);
	lim->max_write_zeroes_sectors = fz_u32(f);
	lim->attrs = fz_u8(f) & PVIO_BLK_ATTR_MASK;
	lim->capacity = 1u + fz_u64(f) % (~0ull >> PVIO_BLK_SECTOR_SHIFT);
	lim->queue_depth = 1u + fz_u8(f);
}

static bool op_needs(__u64 features, unsigned int op)
{
	switch (op) {
	case PVIO_BLK_OP_FLUSH:
		return features & PVIO_BLK_F_FLUSH;
	case PVIO_BLK_OP_DISCARD:
		return features & PVIO_BLK_F_DISCARD;
	case PVIO_BLK_OP_WRITE_ZEROES:
		return features & PVIO_BLK_F_WRITE_ZEROES;
	case PVIO_BLK_OP_GET_ID:
		return features & PVIO_BLK_F_GET_ID;
	default:
		return true;
	}
}

static void check_accepted(const struct pvio_blk_req *req,
			   const struct pvio_blk_limits *lim, __u64 features,
			   __u64 data_size, const struct pvio_blk_vreq *v,
			   unsigned int segs_cap)
{
	__u64 total = 0;
	__u32 i;

	FZ_ASSERT(v->op <= PVIO_BLK_OP_MAX);
	FZ_ASSERT(!(v->flags & ~PVIO_BLK_REQ_F_MASK));
	FZ_ASSERT(req->reserved0 == 0 && req->reserved1 == 0);
	FZ_ASSERT(op_needs(features, v->op));
	if (v->flags & PVIO_BLK_REQ_F_FUA)
		FZ_ASSERT(v->op == PVIO_BLK_OP_WRITE &&
			  (features & PVIO_BLK_F_FUA));
	if (v->flags & PVIO_BLK_REQ_F_INDIRECT)
		FZ_ASSERT(features & PVIO_BLK_F_INDIRECT);

	switch (v->op) {
	case PVIO_BLK_OP_READ:
	case PVIO_BLK_OP_WRITE:
		FZ_ASSERT(v->nr_segs >= 1 && v->nr_segs <= lim->max_segments &&
			  v->nr_segs <= segs_cap);
		if (!(v->flags & PVIO_BLK_REQ_F_INDIRECT))
			FZ_ASSERT(v->nr_segs <= PVIO_BLK_INLINE_SEGS);
		for (i = 0; i < v->nr_segs; i++) {
			const struct pvio_blk_vseg *s = &v->segs[i];

			FZ_ASSERT(s->len > 0 && s->len <= lim->max_segment_size);
			FZ_ASSERT(s->len % lim->logical_block_size == 0);
			FZ_ASSERT(s->offset % lim->logical_block_size == 0);
			FZ_ASSERT((__u64)s->offset + s->len <= data_size);
			total += s->len;
		}
		FZ_ASSERT(total == (__u64)v->nr_sectors * 512u);
		FZ_ASSERT(v->nr_sectors <= lim->max_transfer_sectors);
		FZ_ASSERT(v->sector + v->nr_sectors <= lim->capacity);
		FZ_ASSERT(v->sector % (lim->logical_block_size / 512u) == 0);
		if (v->op == PVIO_BLK_OP_WRITE)
			FZ_ASSERT(!(lim->attrs & PVIO_BLK_ATTR_RO));
		break;
	case PVIO_BLK_OP_FLUSH:
		FZ_ASSERT(v->sector == 0 && v->nr_sectors == 0 && v->flags == 0);
		break;
	case PVIO_BLK_OP_DISCARD:
	case PVIO_BLK_OP_WRITE_ZEROES:
		FZ_ASSERT(v->nr_sectors >= 1);
		FZ_ASSERT(v->nr_sectors <= (v->op == PVIO_BLK_OP_DISCARD ?
					    lim->max_discard_sectors :
					    lim->max_write_zeroes_sectors));
		FZ_ASSERT(v->sector + v->nr_sectors <= lim->capacity);
		FZ_ASSERT(!(lim->attrs & PVIO_BLK_ATTR_RO));
		FZ_ASSERT(req->nr_segs == 0);
		break;
	case PVIO_BLK_OP_GET_ID:
		FZ_ASSERT(v->nr_segs == 1);
		FZ_ASSERT(v->segs[0].len >= PVIO_BLK_ID_BYTES);
		FZ_ASSERT((__u64)v->segs[0].offset + v->segs[0].len <= data_size);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * LLVMFuzzerTestOneInput() - run one input (libFuzzer's entry point).
 * @data: the input, in the format described at the top of this file
 * @size: its length
 *
 * Context: process; libFuzzer calls it once per input, one at a time.
 * Return: 0 (a broken invariant aborts instead).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pvio_blk_vseg segs[PVIO_FUZZ_SEGS];
	/* Zero but for the bytes an input writes, which it zeroes again. */
	static uint8_t buf[PVIO_FUZZ_DATA];
	struct pvio_blk_config cfg;
	struct pvio_blk_limits lim, lim2;
	struct pvio_blk_req req;
	struct pvio_blk_vreq v;
	const char *reason = NULL;
	unsigned int status, segs_cap;
	__u64 features;
	__u32 data_size;
	uint8_t *area = NULL;
	size_t filled = 0;
	struct fz f;

	fz_init(&f, data, size);
	fz_bytes(&f, &req, sizeof(req));
	features = fz_u64(&f);
	fz_limits(&f, &lim);
	/* The limits went through the wire config as a backend publishes
	 * them: the one parser must accept them unchanged. */
	pvio_blk_config_from_limits(&lim, &cfg);
	FZ_ASSERT(pvio_blk_limits_from_config(&cfg, &lim2, &reason) == 0);
	FZ_ASSERT(memcmp(&lim, &lim2, sizeof(lim)) == 0);
	segs_cap = 1u + fz_u16(&f) % PVIO_FUZZ_SEGS;
	data_size = fz_u32(&f) % (PVIO_FUZZ_DATA + 1u);
	if (data_size) {
		area = buf + sizeof(buf) - data_size;
		filled = fz_left(&f) < data_size ? fz_left(&f) : data_size;
		fz_bytes(&f, area, filled);
	}

	reason = NULL;
	status = pvio_blk_req_validate(&req, &lim, features, area, data_size,
				       &v, segs, segs_cap, &reason);
	FZ_ASSERT(reason != NULL);
	FZ_ASSERT(status <= PVIO_BLK_S_MAX);
	FZ_ASSERT(v.id == pvio_le32_to_cpu(req.id));
	if (pvio_le16_to_cpu(req.op) > PVIO_BLK_OP_MAX)
		FZ_ASSERT(status == PVIO_BLK_S_UNSUPP);
	if (status == PVIO_BLK_S_OK) {
		FZ_ASSERT(strcmp(reason, "ok") == 0);
		check_accepted(&req, &lim, features, data_size, &v, segs_cap);
	} else {
		FZ_ASSERT(status == PVIO_BLK_S_UNSUPP ||
			  status == PVIO_BLK_S_INVAL ||
			  status == PVIO_BLK_S_RANGE ||
			  status == PVIO_BLK_S_ROFS);
	}
	if (filled)
		memset(area, 0, filled);
	return 0;
}
