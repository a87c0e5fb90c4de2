// SPDX-License-Identifier: MIT
/*
 * Tests of ring/blk_proto.c: every rule a block request, response, config
 * and layout must satisfy, at and just past its boundary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk_proto.h"
#include "pvio_compat.h"

#define DATA_SIZE (256u * 1024)
#define SEGS_CAP 64u

static unsigned char data[DATA_SIZE];
static struct pvio_blk_vseg segs[SEGS_CAP];
static struct pvio_blk_vreq vr;
static const char *why;

static struct pvio_blk_limits lim;
static uint64_t feat;

static int setup(void **state)
{
	(void)state;
	lim = (struct pvio_blk_limits){
		.capacity = 1u << 20,
		.logical_block_size = 512,
		.physical_block_size = 4096,
		.max_segments = SEGS_CAP,
		.max_segment_size = 65536,
		.max_transfer_sectors = 1024,
		.discard_granularity = 4096,
		.max_discard_sectors = 8192,
		.max_write_zeroes_sectors = 8192,
		.attrs = 0,
		.queue_depth = 64,
	};
	feat = PVIO_BLK_F_ALL;
	memset(data, 0, sizeof(data));
	memset(segs, 0, sizeof(segs));
	return 0;
}

static struct pvio_blk_req rw(unsigned int op, uint64_t sector,
			      uint32_t nr_sectors)
{
	struct pvio_blk_req r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(0x1234);
	r.op = pvio_cpu_to_le16((uint16_t)op);
	r.sector = pvio_cpu_to_le64(sector);
	r.nr_sectors = pvio_cpu_to_le32(nr_sectors);
	return r;
}

static void add_seg(struct pvio_blk_req *r, uint32_t off, uint32_t len)
{
	unsigned int n = pvio_le16_to_cpu(r->nr_segs);

	r->seg[n].offset = pvio_cpu_to_le32(off);
	r->seg[n].len = pvio_cpu_to_le32(len);
	r->nr_segs = pvio_cpu_to_le16((uint16_t)(n + 1));
}

/* A valid READ of @n sectors at @sector, one segment at offset 0. */
static struct pvio_blk_req read1(uint64_t sector, uint32_t n)
{
	struct pvio_blk_req r = rw(PVIO_BLK_OP_READ, sector, n);

	add_seg(&r, 0, n * 512);
	return r;
}

static unsigned int check(const struct pvio_blk_req *r)
{
	return pvio_blk_req_validate(r, &lim, feat, data, DATA_SIZE, &vr, segs,
				     SEGS_CAP, &why);
}

#define assert_status(r, st)                                              \
	do {                                                              \
		unsigned int got_ = check(r);                             \
		if (got_ != (st))                                         \
			fail_msg("status %u, expected %u (%s)", got_,     \
				 (unsigned int)(st), why);                \
	} while (0)

/* ---- valid requests and the converted result ---- */

static void test_valid_read_is_converted(void **state)
{
	struct pvio_blk_req r = rw(PVIO_BLK_OP_READ, 8, 16);

	(void)state;
	add_seg(&r, 4096, 4096);
	add_seg(&r, 0, 4096);
	assert_status(&r, PVIO_BLK_S_OK);
	assert_string_equal(why, "ok");
	assert_int_equal(vr.id, 0x1234);
	assert_int_equal(vr.op, PVIO_BLK_OP_READ);
	assert_int_equal(vr.sector, 8);
	assert_int_equal(vr.nr_sectors, 16);
	assert_int_equal(vr.nr_segs, 2);
	assert_ptr_equal(vr.segs, segs);
	assert_int_equal(segs[0].offset, 4096);
	assert_int_equal(segs[0].len, 4096);
	assert_int_equal(segs[1].offset, 0);
}

static void test_valid_write_fua_flush_getid(void **state)
{
	struct pvio_blk_req r = rw(PVIO_BLK_OP_WRITE, 0, 8);

	(void)state;
	add_seg(&r, 0, 4096);
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_FUA);
	assert_status(&r, PVIO_BLK_S_OK);
	assert_int_equal(vr.flags, PVIO_BLK_REQ_F_FUA);

	r = rw(PVIO_BLK_OP_FLUSH, 0, 0);
	assert_status(&r, PVIO_BLK_S_OK);

	r = rw(PVIO_BLK_OP_GET_ID, 0, 0);
	add_seg(&r, 100, PVIO_BLK_ID_BYTES);
	assert_status(&r, PVIO_BLK_S_OK);
	assert_int_equal(vr.nr_segs, 1);
	assert_int_equal(segs[0].offset, 100);
}

/* ---- operation and flags ---- */

static void test_unknown_op_is_unsupp(void **state)
{
	struct pvio_blk_req r = read1(0, 8);

	(void)state;
	r.op = pvio_cpu_to_le16(PVIO_BLK_OP_MAX + 1);
	assert_status(&r, PVIO_BLK_S_UNSUPP);
	r.op = pvio_cpu_to_le16(0xffff);
	assert_status(&r, PVIO_BLK_S_UNSUPP);
	assert_int_equal(vr.id, 0x1234); /* still answerable */
}

static void test_unknown_flag_bits_rejected(void **state)
{
	struct pvio_blk_req r = read1(0, 8);
	unsigned int bit;

	(void)state;
	for (bit = 3; bit < 16; bit++) {
		r.flags = pvio_cpu_to_le16((uint16_t)(1u << bit));
		assert_status(&r, PVIO_BLK_S_INVAL);
	}
}

static void test_fua_only_on_write_and_when_negotiated(void **state)
{
	struct pvio_blk_req r = read1(0, 8);

	(void)state;
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_FUA);
	assert_status(&r, PVIO_BLK_S_INVAL); /* READ + FUA */
	r = rw(PVIO_BLK_OP_FLUSH, 0, 0);
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_FUA);
	assert_status(&r, PVIO_BLK_S_INVAL);

	r = rw(PVIO_BLK_OP_WRITE, 0, 8);
	add_seg(&r, 0, 4096);
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_FUA);
	feat &= ~PVIO_BLK_F_FUA;
	assert_status(&r, PVIO_BLK_S_UNSUPP);
	feat |= PVIO_BLK_F_FUA;
	assert_status(&r, PVIO_BLK_S_OK);
}

static void test_unmap_only_on_write_zeroes(void **state)
{
	struct pvio_blk_req r = read1(0, 8);

	(void)state;
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_UNMAP);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_DISCARD, 0, 8);
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_UNMAP);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_WRITE_ZEROES, 0, 8);
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_UNMAP);
	assert_status(&r, PVIO_BLK_S_OK);
}

static void test_ops_need_their_feature(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	feat = PVIO_BLK_F_ALL & ~(PVIO_BLK_F_FLUSH | PVIO_BLK_F_DISCARD |
				  PVIO_BLK_F_WRITE_ZEROES | PVIO_BLK_F_GET_ID);
	r = rw(PVIO_BLK_OP_FLUSH, 0, 0);
	assert_status(&r, PVIO_BLK_S_UNSUPP);
	r = rw(PVIO_BLK_OP_DISCARD, 0, 8);
	assert_status(&r, PVIO_BLK_S_UNSUPP);
	r = rw(PVIO_BLK_OP_WRITE_ZEROES, 0, 8);
	assert_status(&r, PVIO_BLK_S_UNSUPP);
	r = rw(PVIO_BLK_OP_GET_ID, 0, 0);
	add_seg(&r, 0, 512);
	assert_status(&r, PVIO_BLK_S_UNSUPP);

	/* A limit of 0 means unsupported whatever the features say. */
	feat = PVIO_BLK_F_ALL;
	lim.max_discard_sectors = 0;
	lim.max_write_zeroes_sectors = 0;
	r = rw(PVIO_BLK_OP_DISCARD, 0, 8);
	assert_status(&r, PVIO_BLK_S_UNSUPP);
	r = rw(PVIO_BLK_OP_WRITE_ZEROES, 0, 8);
	assert_status(&r, PVIO_BLK_S_UNSUPP);
}

static void test_reserved_fields_must_be_zero(void **state)
{
	struct pvio_blk_req r = read1(0, 8);

	(void)state;
	r.reserved0 = pvio_cpu_to_le16(1);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = read1(0, 8);
	r.reserved1 = pvio_cpu_to_le64(1ull << 63);
	assert_status(&r, PVIO_BLK_S_INVAL);
}

/* ---- segments ---- */

static void test_unused_segment_slots_must_be_zero(void **state)
{
	unsigned int slot;

	(void)state;
	for (slot = 1; slot < PVIO_BLK_INLINE_SEGS; slot++) {
		struct pvio_blk_req r = read1(0, 8);

		r.seg[slot].len = pvio_cpu_to_le32(512);
		assert_status(&r, PVIO_BLK_S_INVAL);
		r.seg[slot].len = 0;
		r.seg[slot].offset = pvio_cpu_to_le32(4096);
		assert_status(&r, PVIO_BLK_S_INVAL);
	}
}

static void test_nr_segs_limits(void **state)
{
	struct pvio_blk_req r = rw(PVIO_BLK_OP_READ, 0, 0);
	unsigned int i;

	(void)state;
	assert_status(&r, PVIO_BLK_S_INVAL); /* no segments */

	r = rw(PVIO_BLK_OP_READ, 0, 4);
	for (i = 0; i < 4; i++)
		add_seg(&r, i * 512, 512);
	assert_status(&r, PVIO_BLK_S_OK);
	r.nr_segs = pvio_cpu_to_le16(5);
	assert_status(&r, PVIO_BLK_S_INVAL); /* > 4 inline */

	r.nr_segs = pvio_cpu_to_le16(4);
	lim.max_segments = 3;
	assert_status(&r, PVIO_BLK_S_INVAL);
}

static void test_segment_len_rules(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	r = rw(PVIO_BLK_OP_READ, 0, 0);
	add_seg(&r, 0, 0);
	assert_status(&r, PVIO_BLK_S_INVAL); /* empty */

	lim.logical_block_size = 4096;
	r = rw(PVIO_BLK_OP_READ, 0, 9);
	add_seg(&r, 0, 4608); /* 512-byte multiple, not 4096 */
	assert_status(&r, PVIO_BLK_S_INVAL);
	lim.logical_block_size = 512;

	r = rw(PVIO_BLK_OP_READ, 0, 128);
	add_seg(&r, 0, 65536); /* exactly max_segment_size */
	assert_status(&r, PVIO_BLK_S_OK);
	lim.max_segment_size = 65536 - 512;
	assert_status(&r, PVIO_BLK_S_INVAL);
}

static void test_segment_inside_data_area(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	/* Exactly fills the end of the data area. */
	r = rw(PVIO_BLK_OP_READ, 0, 8);
	add_seg(&r, DATA_SIZE - 4096, 4096);
	assert_status(&r, PVIO_BLK_S_OK);
	/* One block past it. */
	r = rw(PVIO_BLK_OP_READ, 0, 8);
	add_seg(&r, DATA_SIZE - 3584, 4096);
	assert_status(&r, PVIO_BLK_S_INVAL);
	/* Offset beyond it. */
	r = rw(PVIO_BLK_OP_READ, 0, 1);
	add_seg(&r, DATA_SIZE, 512);
	assert_status(&r, PVIO_BLK_S_INVAL);
	/* offset + len wraps in 32 bits. */
	lim.max_segment_size = UINT32_MAX;
	lim.max_transfer_sectors = UINT32_MAX;
	lim.capacity = UINT64_MAX;
	r = rw(PVIO_BLK_OP_READ, 0, 0x7fffff);
	add_seg(&r, 0x200, 0xfffffe00u);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_READ, 0, 0x7fffff);
	add_seg(&r, 0xfffffe00u, 0xfffffe00u);
	assert_status(&r, PVIO_BLK_S_INVAL);
	/* A data area as large as a segment could reach accepts it. */
	assert_int_equal(pvio_blk_req_validate(&r, &lim, feat, NULL,
					       0x200000000ull, &vr, segs,
					       SEGS_CAP, &why),
			 PVIO_BLK_S_OK);
}

static void test_segments_must_add_up_to_nr_sectors(void **state)
{
	struct pvio_blk_req r = rw(PVIO_BLK_OP_WRITE, 0, 9);

	(void)state;
	add_seg(&r, 0, 4096);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r.nr_sectors = pvio_cpu_to_le32(7);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r.nr_sectors = pvio_cpu_to_le32(8);
	assert_status(&r, PVIO_BLK_S_OK);
}

/* ---- sectors ---- */

static void test_sector_range_and_capacity(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	r = read1(lim.capacity - 1, 1); /* the last sector */
	assert_status(&r, PVIO_BLK_S_OK);
	r = read1(lim.capacity - 1, 2);
	assert_status(&r, PVIO_BLK_S_RANGE);
	r = read1(lim.capacity, 1);
	assert_status(&r, PVIO_BLK_S_RANGE);
	/* sector + nr_sectors wraps in 64 bits */
	r = read1(UINT64_MAX, 1);
	assert_status(&r, PVIO_BLK_S_RANGE);
	lim.capacity = UINT64_MAX;
	r = read1(UINT64_MAX - 8, 8); /* the last 8 sectors of the largest device */
	assert_status(&r, PVIO_BLK_S_OK);
	r = read1(UINT64_MAX - 7, 8); /* would end at 2^64 */
	assert_status(&r, PVIO_BLK_S_RANGE);
}

static void test_alignment_to_logical_block(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	lim.logical_block_size = 4096;
	r = read1(8, 8);
	assert_status(&r, PVIO_BLK_S_OK);
	r = read1(4, 8);
	assert_status(&r, PVIO_BLK_S_INVAL);
	/* Last logical block of the device. */
	r = read1(lim.capacity - 8, 8);
	assert_status(&r, PVIO_BLK_S_OK);
	/* Buffers too: direct IO needs them block-aligned in the data area. */
	r = rw(PVIO_BLK_OP_READ, 8, 8);
	add_seg(&r, 4096, 4096);
	assert_status(&r, PVIO_BLK_S_OK);
	r = rw(PVIO_BLK_OP_READ, 8, 8);
	add_seg(&r, 512, 4096);
	assert_status(&r, PVIO_BLK_S_INVAL);
}

static void test_max_transfer(void **state)
{
	struct pvio_blk_req r;
	unsigned int i;

	(void)state;
	r = rw(PVIO_BLK_OP_READ, 0, 512);
	for (i = 0; i < 4; i++)
		add_seg(&r, i * 65536, 65536);
	lim.max_transfer_sectors = 512;
	assert_status(&r, PVIO_BLK_S_OK);
	lim.max_transfer_sectors = 511;
	assert_status(&r, PVIO_BLK_S_INVAL);
}

static void test_read_only_device(void **state)
{
	struct pvio_blk_req r = rw(PVIO_BLK_OP_WRITE, 0, 8);

	(void)state;
	lim.attrs = PVIO_BLK_ATTR_RO;
	add_seg(&r, 0, 4096);
	assert_status(&r, PVIO_BLK_S_ROFS);
	r = rw(PVIO_BLK_OP_DISCARD, 0, 8);
	assert_status(&r, PVIO_BLK_S_ROFS);
	r = rw(PVIO_BLK_OP_WRITE_ZEROES, 0, 8);
	assert_status(&r, PVIO_BLK_S_ROFS);
	r = read1(0, 8);
	assert_status(&r, PVIO_BLK_S_OK);
	r = rw(PVIO_BLK_OP_FLUSH, 0, 0);
	assert_status(&r, PVIO_BLK_S_OK);
}

/* ---- FLUSH, DISCARD, WRITE_ZEROES, GET_ID ---- */

static void test_flush_with_fields_is_inval(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	r = rw(PVIO_BLK_OP_FLUSH, 1, 0);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_FLUSH, 0, 1);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_FLUSH, 0, 0);
	r.nr_segs = pvio_cpu_to_le16(1);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_FLUSH, 0, 0);
	r.seg[3].offset = pvio_cpu_to_le32(8);
	assert_status(&r, PVIO_BLK_S_INVAL);
}

static void test_discard_limits_and_granularity(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	r = rw(PVIO_BLK_OP_DISCARD, 8, 8192);
	assert_status(&r, PVIO_BLK_S_OK);
	r = rw(PVIO_BLK_OP_DISCARD, 8, 8200);
	assert_status(&r, PVIO_BLK_S_INVAL); /* > max_discard_sectors */
	r = rw(PVIO_BLK_OP_DISCARD, 4, 8);
	assert_status(&r, PVIO_BLK_S_INVAL); /* 4096-byte granularity */
	r = rw(PVIO_BLK_OP_DISCARD, 8, 4);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_DISCARD, 8, 0);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_DISCARD, lim.capacity - 8, 8);
	assert_status(&r, PVIO_BLK_S_OK);
	r = rw(PVIO_BLK_OP_DISCARD, lim.capacity, 8);
	assert_status(&r, PVIO_BLK_S_RANGE);
	r = rw(PVIO_BLK_OP_DISCARD, 0, 8);
	add_seg(&r, 0, 4096);
	assert_status(&r, PVIO_BLK_S_INVAL); /* no segments allowed */
}

static void test_write_zeroes_limits_and_alignment(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	r = rw(PVIO_BLK_OP_WRITE_ZEROES, 1, 8192); /* 512-byte lbs: any sector */
	assert_status(&r, PVIO_BLK_S_OK);
	r = rw(PVIO_BLK_OP_WRITE_ZEROES, 1, 8193);
	assert_status(&r, PVIO_BLK_S_INVAL);
	lim.logical_block_size = 4096;
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_WRITE_ZEROES, 1, 8);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_WRITE_ZEROES, UINT64_MAX - 7, 8);
	assert_status(&r, PVIO_BLK_S_RANGE);
}

static void test_get_id_segment(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	r = rw(PVIO_BLK_OP_GET_ID, 0, 0);
	add_seg(&r, 0, PVIO_BLK_ID_BYTES - 1);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_GET_ID, 0, 0);
	assert_status(&r, PVIO_BLK_S_INVAL); /* no segment */
	r = rw(PVIO_BLK_OP_GET_ID, 0, 0);
	add_seg(&r, 0, 512);
	add_seg(&r, 512, 512);
	assert_status(&r, PVIO_BLK_S_INVAL); /* two */
	r = rw(PVIO_BLK_OP_GET_ID, 0, 0);
	add_seg(&r, DATA_SIZE - PVIO_BLK_ID_BYTES, PVIO_BLK_ID_BYTES);
	assert_status(&r, PVIO_BLK_S_OK);
	r = rw(PVIO_BLK_OP_GET_ID, 0, 0);
	add_seg(&r, DATA_SIZE - PVIO_BLK_ID_BYTES + 1, PVIO_BLK_ID_BYTES);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = rw(PVIO_BLK_OP_GET_ID, 1, 0);
	add_seg(&r, 0, 512);
	assert_status(&r, PVIO_BLK_S_INVAL);
}

/* ---- indirect ---- */

static struct pvio_blk_req indirect(uint32_t table_off, unsigned int n,
				    uint32_t seg_len)
{
	struct pvio_blk_req r = rw(PVIO_BLK_OP_WRITE, 0, n * seg_len / 512);
	unsigned int i;

	/* Entries that would fall outside the buffer are left out: the
	 * validator must refuse such a table before reading it. */
	for (i = 0; i < n && table_off + (i + 1) * 8 <= DATA_SIZE; i++) {
		struct pvio_blk_seg e = {
			.offset = pvio_cpu_to_le32(i * seg_len),
			.len = pvio_cpu_to_le32(seg_len),
		};

		memcpy(data + table_off + i * 8, &e, sizeof(e));
	}
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_INDIRECT);
	r.nr_segs = pvio_cpu_to_le16((uint16_t)n);
	r.seg[0].offset = pvio_cpu_to_le32(table_off);
	r.seg[0].len = pvio_cpu_to_le32(n * 8);
	return r;
}

static void test_indirect_table_is_copied_and_checked(void **state)
{
	struct pvio_blk_req r = indirect(DATA_SIZE - 64 * 8, 64, 2048);
	struct pvio_blk_seg *t = (struct pvio_blk_seg *)(data + DATA_SIZE - 64 * 8);

	(void)state;
	assert_status(&r, PVIO_BLK_S_OK); /* table ends the data area exactly */
	assert_int_equal(vr.nr_segs, 64);
	assert_int_equal(segs[63].offset, 63 * 2048);
	assert_int_equal(segs[63].len, 2048);
	/* The result is the copy: changing the table afterwards changes nothing. */
	t[5].len = pvio_cpu_to_le32(0);
	assert_int_equal(segs[5].len, 2048);
	/* And the copy is what is validated. */
	assert_status(&r, PVIO_BLK_S_INVAL);
}

static void test_indirect_rules(void **state)
{
	struct pvio_blk_req r;

	(void)state;
	r = indirect(0, 8, 4096);
	feat &= ~PVIO_BLK_F_INDIRECT;
	assert_status(&r, PVIO_BLK_S_UNSUPP);
	feat = PVIO_BLK_F_ALL;
	assert_status(&r, PVIO_BLK_S_OK);

	r = indirect(0, 8, 4096);
	r.seg[0].len = pvio_cpu_to_le32(7 * 8);
	assert_status(&r, PVIO_BLK_S_INVAL); /* table length != nr_segs */
	r = indirect(4, 8, 4096);
	assert_status(&r, PVIO_BLK_S_INVAL); /* misaligned table */
	r = indirect(0, 8, 4096);
	r.seg[2].len = pvio_cpu_to_le32(512);
	assert_status(&r, PVIO_BLK_S_INVAL); /* inline slot used */
	r = indirect(DATA_SIZE - 56, 8, 4096);
	assert_status(&r, PVIO_BLK_S_INVAL); /* table past the data area */
	r = indirect(0, 8, 4096);
	r.seg[0].offset = pvio_cpu_to_le32(0xfffffff8u);
	assert_status(&r, PVIO_BLK_S_INVAL); /* offset + len wraps 32 bits */
	lim.max_segments = 7;
	r = indirect(0, 8, 4096);
	assert_status(&r, PVIO_BLK_S_INVAL); /* entries > max_segments */
	lim.max_segments = SEGS_CAP;
	assert_int_equal(pvio_blk_req_validate(&r, &lim, feat, data, DATA_SIZE,
					       &vr, segs, 7, &why),
			 PVIO_BLK_S_INVAL); /* more than the caller can hold */
	assert_int_equal(pvio_blk_req_validate(&r, &lim, feat, NULL, DATA_SIZE,
					       &vr, segs, SEGS_CAP, &why),
			 PVIO_BLK_S_INVAL); /* no data area */

	r = rw(PVIO_BLK_OP_FLUSH, 0, 0);
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_INDIRECT);
	assert_status(&r, PVIO_BLK_S_INVAL);
}

static void test_indirect_entries_are_checked(void **state)
{
	struct pvio_blk_req r = indirect(0, 8, 4096);
	struct pvio_blk_seg *t = (struct pvio_blk_seg *)data;

	(void)state;
	t[7].offset = pvio_cpu_to_le32(DATA_SIZE - 2048);
	assert_status(&r, PVIO_BLK_S_INVAL);
	r = indirect(0, 8, 4096);
	t[3].len = pvio_cpu_to_le32(4096 + 100);
	assert_status(&r, PVIO_BLK_S_INVAL);
}

/* ---- limits from config ---- */

static struct pvio_blk_config good_cfg(void)
{
	struct pvio_blk_config cfg;

	/* Written field by field: this is the wire format under test. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = pvio_cpu_to_le64(1000);
	cfg.logical_block_size = pvio_cpu_to_le32(4096);
	cfg.physical_block_size = cfg.logical_block_size;
	cfg.max_segments = pvio_cpu_to_le32(16);
	cfg.max_segment_size = pvio_cpu_to_le32(65536);
	cfg.max_transfer_sectors = pvio_cpu_to_le32(2048);
	cfg.attrs = pvio_cpu_to_le32(PVIO_BLK_ATTR_RO);
	cfg.queue_depth = pvio_cpu_to_le32(8);
	return cfg;
}

static int from_cfg(const struct pvio_blk_config *cfg)
{
	struct pvio_blk_limits l;

	return pvio_blk_limits_from_config(cfg, &l, &why);
}

static void test_limits_from_config(void **state)
{
	struct pvio_blk_config cfg = good_cfg();
	struct pvio_blk_limits l;

	(void)state;
	assert_int_equal(pvio_blk_limits_from_config(&cfg, &l, &why), 0);
	assert_string_equal(why, "ok");
	assert_int_equal(l.capacity, 1000);
	assert_int_equal(l.logical_block_size, 4096);
	assert_int_equal(l.physical_block_size, 4096);
	assert_int_equal(l.attrs, PVIO_BLK_ATTR_RO);
	assert_int_equal(l.queue_depth, 8);

	cfg.logical_block_size = pvio_cpu_to_le32(1024 + 512);
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	cfg.logical_block_size = pvio_cpu_to_le32(8192);
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	cfg = good_cfg();
	cfg.max_segments = 0;
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	assert_string_equal(why, "max_segments is 0");
	cfg = good_cfg();
	cfg.attrs = pvio_cpu_to_le32(0x80);
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	cfg = good_cfg();
	cfg.reserved[100] = 1;
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	assert_string_equal(why, "config reserved bytes not zero");
}

static void test_limits_reject_capacity_zero(void **state)
{
	struct pvio_blk_config cfg = good_cfg();

	(void)state;
	cfg.capacity = 0;
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	assert_string_equal(why, "capacity outside 1..2^55 sectors");
}

static void test_limits_capacity_must_fit_64_bit_bytes(void **state)
{
	struct pvio_blk_config cfg = good_cfg();

	(void)state;
	cfg.capacity = pvio_cpu_to_le64(UINT64_MAX >> 9);
	assert_int_equal(from_cfg(&cfg), 0);
	cfg.capacity = pvio_cpu_to_le64((UINT64_MAX >> 9) + 1);
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	cfg.capacity = pvio_cpu_to_le64(UINT64_MAX);
	assert_int_equal(from_cfg(&cfg), -EINVAL);
}

static void test_limits_reject_pbs_below_lbs(void **state)
{
	struct pvio_blk_config cfg = good_cfg();

	(void)state;
	cfg.physical_block_size = pvio_cpu_to_le32(2048);
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	assert_string_equal(why, "physical block size not a power of two >= logical");
	cfg.physical_block_size = pvio_cpu_to_le32(3 * 4096);
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	cfg.physical_block_size = 0;
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	cfg.physical_block_size = pvio_cpu_to_le32(1u << 20);
	assert_int_equal(from_cfg(&cfg), 0);
}

static void test_limits_reject_queue_depth_zero(void **state)
{
	struct pvio_blk_config cfg = good_cfg();

	(void)state;
	cfg.queue_depth = 0;
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	assert_string_equal(why, "queue depth 0");
	cfg.queue_depth = pvio_cpu_to_le32(1);
	assert_int_equal(from_cfg(&cfg), 0);
}

static void test_limits_reject_bad_discard_granularity(void **state)
{
	struct pvio_blk_config cfg = good_cfg();

	(void)state;
	cfg.discard_granularity = pvio_cpu_to_le32(512); /* below lbs 4096 */
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	cfg.discard_granularity = pvio_cpu_to_le32(3 * 4096);
	assert_int_equal(from_cfg(&cfg), -EINVAL);
	cfg.discard_granularity = pvio_cpu_to_le32(8192);
	assert_int_equal(from_cfg(&cfg), 0);
}

static void test_config_from_limits_round_trips(void **state)
{
	struct pvio_blk_config cfg, back;
	struct pvio_blk_limits l;

	(void)state;
	memset(&cfg, 0xff, sizeof(cfg)); /* reserved bytes must be cleared */
	pvio_blk_config_from_limits(&lim, &cfg);
	assert_int_equal(pvio_blk_limits_from_config(&cfg, &l, &why), 0);
	assert_memory_equal(&l, &lim, sizeof(l));
	pvio_blk_config_from_limits(&l, &back);
	assert_memory_equal(&back, &cfg, sizeof(cfg));
}

/* ---- layout ---- */

static void test_check_layout_wants_block_entry_sizes(void **state)
{
	struct pvio_region_layout l;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.dev_class = PVIO_CLASS_BLK;
	l.num_queues = 2;
	l.queues[0].req_entry_size = l.queues[1].req_entry_size = 64;
	l.queues[0].rsp_entry_size = l.queues[1].rsp_entry_size = 16;
	assert_int_equal(pvio_blk_check_layout(&l, &why), 0);
	l.queues[1].rsp_entry_size = 24;
	assert_int_equal(pvio_blk_check_layout(&l, &why), -EPROTO);
	assert_string_equal(why, "queue entry size is not the block protocol's");
	l.queues[1].rsp_entry_size = 16;
	l.queues[0].req_entry_size = 128;
	assert_int_equal(pvio_blk_check_layout(&l, &why), -EPROTO);
	l.queues[0].req_entry_size = 64;
	l.dev_class = PVIO_CLASS_NET;
	assert_int_equal(pvio_blk_check_layout(&l, &why), -EPROTO);
	assert_string_equal(why, "not a block device");
}

/* ---- responses ---- */

static struct pvio_blk_rsp rsp(uint32_t id, uint16_t status, uint32_t len)
{
	struct pvio_blk_rsp r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(id);
	r.status = pvio_cpu_to_le16(status);
	r.len = pvio_cpu_to_le32(len);
	return r;
}

static void test_rsp_check_converts_a_valid_response(void **state)
{
	struct pvio_blk_rsp r = rsp(77, PVIO_BLK_S_NOSPC, 4096);
	struct pvio_blk_vrsp v;

	(void)state;
	assert_int_equal(pvio_blk_rsp_check(&r, 4096, &v, &why), 0);
	assert_string_equal(why, "ok");
	assert_int_equal(v.id, 77);
	assert_int_equal(v.status, PVIO_BLK_S_NOSPC);
	assert_int_equal(v.len, 4096);
}

static void test_rsp_check_rejects_unknown_status(void **state)
{
	struct pvio_blk_rsp r = rsp(5, PVIO_BLK_S_MAX + 1, 0);
	struct pvio_blk_vrsp v;

	(void)state;
	assert_int_equal(pvio_blk_rsp_check(&r, 0, &v, &why), -EPROTO);
	assert_string_equal(why, "unknown response status");
	assert_int_equal(v.id, 5); /* the id still names the request */
	r = rsp(5, 0xffff, 0);
	assert_int_equal(pvio_blk_rsp_check(&r, 0, &v, &why), -EPROTO);
}

static void test_rsp_check_rejects_reserved_nonzero(void **state)
{
	struct pvio_blk_rsp r = rsp(1, PVIO_BLK_S_OK, 0);
	struct pvio_blk_vrsp v;

	(void)state;
	r.reserved0 = pvio_cpu_to_le16(1);
	assert_int_equal(pvio_blk_rsp_check(&r, 0, &v, &why), -EPROTO);
	assert_string_equal(why, "response reserved field not zero");
	r = rsp(1, PVIO_BLK_S_OK, 0);
	r.reserved1 = pvio_cpu_to_le32(0x80000000u);
	assert_int_equal(pvio_blk_rsp_check(&r, 0, &v, &why), -EPROTO);
}

static void test_rsp_check_rejects_len_beyond_max(void **state)
{
	struct pvio_blk_rsp r = rsp(1, PVIO_BLK_S_OK, 4097);
	struct pvio_blk_vrsp v;

	(void)state;
	assert_int_equal(pvio_blk_rsp_check(&r, 4096, &v, &why), -EPROTO);
	assert_string_equal(why, "response length beyond the request");
	r = rsp(1, PVIO_BLK_S_OK, UINT32_MAX);
	assert_int_equal(pvio_blk_rsp_check(&r, UINT32_MAX, &v, &why), 0);
	r = rsp(1, PVIO_BLK_S_OK, 1);
	assert_int_equal(pvio_blk_rsp_check(&r, 0, &v, &why), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup(fn, setup)
		T(test_valid_read_is_converted),
		T(test_valid_write_fua_flush_getid),
		T(test_unknown_op_is_unsupp),
		T(test_unknown_flag_bits_rejected),
		T(test_fua_only_on_write_and_when_negotiated),
		T(test_unmap_only_on_write_zeroes),
		T(test_ops_need_their_feature),
		T(test_reserved_fields_must_be_zero),
		T(test_unused_segment_slots_must_be_zero),
		T(test_nr_segs_limits),
		T(test_segment_len_rules),
		T(test_segment_inside_data_area),
		T(test_segments_must_add_up_to_nr_sectors),
		T(test_sector_range_and_capacity),
		T(test_alignment_to_logical_block),
		T(test_max_transfer),
		T(test_read_only_device),
		T(test_flush_with_fields_is_inval),
		T(test_discard_limits_and_granularity),
		T(test_write_zeroes_limits_and_alignment),
		T(test_get_id_segment),
		T(test_indirect_table_is_copied_and_checked),
		T(test_indirect_rules),
		T(test_indirect_entries_are_checked),
		T(test_limits_from_config),
		T(test_limits_reject_capacity_zero),
		T(test_limits_capacity_must_fit_64_bit_bytes),
		T(test_limits_reject_pbs_below_lbs),
		T(test_limits_reject_queue_depth_zero),
		T(test_limits_reject_bad_discard_granularity),
		T(test_config_from_limits_round_trips),
		T(test_check_layout_wants_block_entry_sizes),
		T(test_rsp_check_converts_a_valid_response),
		T(test_rsp_check_rejects_unknown_status),
		T(test_rsp_check_rejects_reserved_nonzero),
		T(test_rsp_check_rejects_len_beyond_max),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
