// SPDX-License-Identifier: MIT
/*
 * Unit tests of the ABI in include/pvio/ and of the byte-order helpers in
 * ring/pvio_compat.h. Sizes and offsets are checked against literal
 * numbers written here, so a change to a header that also changes its own
 * static asserts still fails this test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pvio_compat.h"
#include <pvio/abi.h>
#include <pvio/blk.h>
#include <pvio/host.h>
#include <pvio/net.h>
#include <pvio/region.h>
#include <pvio/ring.h>

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)

/* Whether [off, off + size) lies within one @line-byte line. */
static int on_one_line(size_t off, size_t size, size_t line)
{
	return off / line == (off + size - 1) / line;
}

/* ---- sizes and offsets ---- */

static void test_ring_shared_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_ring_shared), 256);
	assert_int_equal(PVIO_RING_ENTRIES_OFFSET, 256);
	assert_int_equal(offsetof(struct pvio_ring_shared, prod), 0);
	assert_int_equal(offsetof(struct pvio_ring_shared, cons_event), 4);
	assert_int_equal(offsetof(struct pvio_ring_shared, cons), 128);
	assert_int_equal(offsetof(struct pvio_ring_shared, prod_event), 132);
	assert_int_equal(FIELD_SIZE(struct pvio_ring_shared, prod), 4);
	assert_int_equal(FIELD_SIZE(struct pvio_ring_shared, cons), 4);
	assert_int_equal(PVIO_CACHELINE, 128);
}

static void test_ring_sides_on_separate_cache_lines(void **state)
{
	size_t prod_line = offsetof(struct pvio_ring_shared, prod) / 128;
	size_t pe_line = offsetof(struct pvio_ring_shared, cons_event) / 128;
	size_t cons_line = offsetof(struct pvio_ring_shared, cons) / 128;
	size_t ce_line = offsetof(struct pvio_ring_shared, prod_event) / 128;

	(void)state;
	/* producer-written: prod, cons_event; consumer-written: cons, prod_event */
	assert_int_equal(prod_line, pe_line);
	assert_int_equal(cons_line, ce_line);
	assert_int_not_equal(prod_line, cons_line);
}

static void test_ring_bytes_counts_control_block_and_entries(void **state)
{
	(void)state;
	assert_int_equal(PVIO_RING_BYTES(8, 16), 256 + 128);
	assert_int_equal(PVIO_RING_BYTES(32768, 4096), 256 + 134217728ull);
	assert_int_equal(PVIO_RING_MIN_ENTRIES, 2);
	assert_int_equal(PVIO_RING_MAX_ENTRIES, 32768);
	assert_int_equal(PVIO_RING_MAX_ENTRY_SIZE, 4096);
}

static void test_side_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_side), 64);
	assert_int_equal(offsetof(struct pvio_side, state), 0);
	assert_int_equal(offsetof(struct pvio_side, generation), 4);
	assert_int_equal(offsetof(struct pvio_side, features), 8);
	assert_int_equal(offsetof(struct pvio_side, reserved), 16);
	assert_int_equal(FIELD_SIZE(struct pvio_side, features), 8);
	assert_int_equal(FIELD_SIZE(struct pvio_side, reserved), 48);
}

static void test_queue_desc_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_queue_desc), 64);
	assert_int_equal(offsetof(struct pvio_queue_desc, req_ring_off), 0);
	assert_int_equal(offsetof(struct pvio_queue_desc, rsp_ring_off), 8);
	assert_int_equal(offsetof(struct pvio_queue_desc, data_off), 16);
	assert_int_equal(offsetof(struct pvio_queue_desc, data_size), 24);
	assert_int_equal(offsetof(struct pvio_queue_desc, req_entries), 32);
	assert_int_equal(offsetof(struct pvio_queue_desc, rsp_entries), 36);
	assert_int_equal(offsetof(struct pvio_queue_desc, req_entry_size), 40);
	assert_int_equal(offsetof(struct pvio_queue_desc, rsp_entry_size), 44);
	assert_int_equal(offsetof(struct pvio_queue_desc, vector), 48);
	assert_int_equal(offsetof(struct pvio_queue_desc, reserved), 52);
	assert_int_equal(FIELD_SIZE(struct pvio_queue_desc, reserved), 12);
}

static void test_region_hdr_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_region_hdr), 4096);
	assert_int_equal(PVIO_REGION_HDR_SIZE, 4096);
	assert_int_equal(offsetof(struct pvio_region_hdr, magic), 0);
	assert_int_equal(offsetof(struct pvio_region_hdr, abi_rev), 8);
	assert_int_equal(offsetof(struct pvio_region_hdr, hdr_size), 12);
	assert_int_equal(offsetof(struct pvio_region_hdr, dev_class), 16);
	assert_int_equal(offsetof(struct pvio_region_hdr, num_queues), 20);
	assert_int_equal(offsetof(struct pvio_region_hdr, region_size), 24);
	assert_int_equal(offsetof(struct pvio_region_hdr, reserved0), 32);
	assert_int_equal(offsetof(struct pvio_region_hdr, back), 64);
	assert_int_equal(offsetof(struct pvio_region_hdr, front), 128);
	assert_int_equal(offsetof(struct pvio_region_hdr, config), 192);
	assert_int_equal(offsetof(struct pvio_region_hdr, reserved1), 448);
	assert_int_equal(offsetof(struct pvio_region_hdr, queues), 512);
	assert_int_equal(offsetof(struct pvio_region_hdr, reserved2), 2560);
	assert_int_equal(FIELD_SIZE(struct pvio_region_hdr, config), 256);
	assert_int_equal(FIELD_SIZE(struct pvio_region_hdr, queues), 32 * 64);
	assert_int_equal(FIELD_SIZE(struct pvio_region_hdr, reserved2), 1536);
}

static void test_region_sides_on_separate_64_byte_lines(void **state)
{
	size_t back = offsetof(struct pvio_region_hdr, back);
	size_t front = offsetof(struct pvio_region_hdr, front);

	(void)state;
	assert_true(on_one_line(back, sizeof(struct pvio_side), 64));
	assert_true(on_one_line(front, sizeof(struct pvio_side), 64));
	assert_int_not_equal(back / 64, front / 64);
	/* nor on a line with the backend's identity fields */
	assert_int_not_equal(front / 64, 0);
	assert_int_not_equal(back / 64, 0);
}

static void test_region_queue_table_fits_in_header(void **state)
{
	(void)state;
	assert_int_equal(PVIO_MAX_QUEUES, 32);
	assert_true(512 + PVIO_MAX_QUEUES * sizeof(struct pvio_queue_desc) <= 4096);
	for (unsigned int i = 0; i < PVIO_MAX_QUEUES; i++)
		assert_true(on_one_line(offsetof(struct pvio_region_hdr, queues) +
					i * sizeof(struct pvio_queue_desc),
					sizeof(struct pvio_queue_desc), 64));
	assert_true(PVIO_REGION_HDR_SIZE <= PVIO_REGION_MIN_SIZE);
	assert_int_equal(PVIO_REGION_MIN_SIZE, 65536);
}

static void test_blk_seg_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_blk_seg), 8);
	assert_int_equal(offsetof(struct pvio_blk_seg, offset), 0);
	assert_int_equal(offsetof(struct pvio_blk_seg, len), 4);
}

static void test_blk_req_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_blk_req), 64);
	assert_int_equal(offsetof(struct pvio_blk_req, id), 0);
	assert_int_equal(offsetof(struct pvio_blk_req, op), 4);
	assert_int_equal(offsetof(struct pvio_blk_req, flags), 6);
	assert_int_equal(offsetof(struct pvio_blk_req, sector), 8);
	assert_int_equal(offsetof(struct pvio_blk_req, nr_sectors), 16);
	assert_int_equal(offsetof(struct pvio_blk_req, nr_segs), 20);
	assert_int_equal(offsetof(struct pvio_blk_req, reserved0), 22);
	assert_int_equal(offsetof(struct pvio_blk_req, reserved1), 24);
	assert_int_equal(offsetof(struct pvio_blk_req, seg), 32);
	assert_int_equal(FIELD_SIZE(struct pvio_blk_req, seg), 4 * 8);
	assert_int_equal(FIELD_SIZE(struct pvio_blk_req, op), 2);
	assert_int_equal(FIELD_SIZE(struct pvio_blk_req, sector), 8);
	/* a request fits a ring entry, which is a multiple of 8 */
	assert_int_equal(sizeof(struct pvio_blk_req) % 8, 0);
}

static void test_blk_rsp_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_blk_rsp), 16);
	assert_int_equal(offsetof(struct pvio_blk_rsp, id), 0);
	assert_int_equal(offsetof(struct pvio_blk_rsp, status), 4);
	assert_int_equal(offsetof(struct pvio_blk_rsp, reserved0), 6);
	assert_int_equal(offsetof(struct pvio_blk_rsp, len), 8);
	assert_int_equal(offsetof(struct pvio_blk_rsp, reserved1), 12);
}

static void test_net_layouts(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_net_hdr), 16);
	assert_int_equal(offsetof(struct pvio_net_hdr, gso_type), 1);
	assert_int_equal(offsetof(struct pvio_net_hdr, hdr_len), 2);
	assert_int_equal(offsetof(struct pvio_net_hdr, gso_size), 4);
	assert_int_equal(offsetof(struct pvio_net_hdr, csum_start), 6);
	assert_int_equal(offsetof(struct pvio_net_hdr, csum_offset), 8);
	assert_int_equal(offsetof(struct pvio_net_hdr, reserved1), 12);
	assert_int_equal(sizeof(struct pvio_net_seg), 8);
	assert_int_equal(sizeof(struct pvio_net_tx_req), 64);
	assert_int_equal(offsetof(struct pvio_net_tx_req, flags), 4);
	assert_int_equal(offsetof(struct pvio_net_tx_req, nr_segs), 6);
	assert_int_equal(offsetof(struct pvio_net_tx_req, len), 8);
	assert_int_equal(offsetof(struct pvio_net_tx_req, hdr), 16);
	assert_int_equal(offsetof(struct pvio_net_tx_req, seg), 32);
	assert_int_equal(FIELD_SIZE(struct pvio_net_tx_req, seg), 4 * 8);
	assert_int_equal(sizeof(struct pvio_net_tx_rsp), 16);
	assert_int_equal(offsetof(struct pvio_net_tx_rsp, status), 4);
	assert_int_equal(sizeof(struct pvio_net_rx_req), 16);
	assert_int_equal(offsetof(struct pvio_net_rx_req, buf), 8);
	assert_int_equal(sizeof(struct pvio_net_rx_rsp), 32);
	assert_int_equal(offsetof(struct pvio_net_rx_rsp, flags), 6);
	assert_int_equal(offsetof(struct pvio_net_rx_rsp, len), 8);
	assert_int_equal(offsetof(struct pvio_net_rx_rsp, hdr), 16);
	assert_int_equal(sizeof(struct pvio_net_config), 256);
	assert_int_equal(offsetof(struct pvio_net_config, mtu), 6);
	assert_int_equal(offsetof(struct pvio_net_config, max_queue_pairs), 8);
	assert_int_equal(offsetof(struct pvio_net_config, max_tx_segs), 10);
	assert_int_equal(offsetof(struct pvio_net_config, status), 12);
	assert_int_equal(offsetof(struct pvio_net_config, queue_depth), 16);
	/* Pairs: TX even, RX odd, as many pairs as queues allow. */
	assert_int_equal(PVIO_NET_TXQ(3), 6);
	assert_int_equal(PVIO_NET_RXQ(3), 7);
	assert_int_equal(PVIO_NET_MAX_QUEUE_PAIRS, 16);
	assert_int_equal(PVIO_NET_F_ALL, 0x7ff);
}

static void test_blk_config_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_blk_config), 256);
	assert_int_equal(sizeof(struct pvio_blk_config),
			 FIELD_SIZE(struct pvio_region_hdr, config));
	assert_int_equal(offsetof(struct pvio_blk_config, capacity), 0);
	assert_int_equal(offsetof(struct pvio_blk_config, logical_block_size), 8);
	assert_int_equal(offsetof(struct pvio_blk_config, physical_block_size), 12);
	assert_int_equal(offsetof(struct pvio_blk_config, max_segments), 16);
	assert_int_equal(offsetof(struct pvio_blk_config, max_segment_size), 20);
	assert_int_equal(offsetof(struct pvio_blk_config, max_transfer_sectors), 24);
	assert_int_equal(offsetof(struct pvio_blk_config, discard_granularity), 28);
	assert_int_equal(offsetof(struct pvio_blk_config, max_discard_sectors), 32);
	assert_int_equal(offsetof(struct pvio_blk_config, max_write_zeroes_sectors), 36);
	assert_int_equal(offsetof(struct pvio_blk_config, attrs), 40);
	assert_int_equal(offsetof(struct pvio_blk_config, queue_depth), 44);
	assert_int_equal(offsetof(struct pvio_blk_config, reserved), 48);
}

/* ---- byte order ---- */

static void test_cpu_to_le16_stores_low_byte_first(void **state)
{
	__le16 v = pvio_cpu_to_le16(0x1234);
	const __u8 want[2] = { 0x34, 0x12 };

	(void)state;
	assert_memory_equal(&v, want, 2);
}

static void test_cpu_to_le32_stores_low_byte_first(void **state)
{
	__le32 v = pvio_cpu_to_le32(0x11223344u);
	const __u8 want[4] = { 0x44, 0x33, 0x22, 0x11 };

	(void)state;
	assert_memory_equal(&v, want, 4);
}

static void test_cpu_to_le64_stores_low_byte_first(void **state)
{
	__le64 v = pvio_cpu_to_le64(0x0102030405060708ull);
	const __u8 want[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };

	(void)state;
	assert_memory_equal(&v, want, 8);
}

static void test_le_to_cpu_reads_low_byte_first(void **state)
{
	const __u8 b16[2] = { 0xcd, 0xab };
	const __u8 b32[4] = { 0xef, 0xbe, 0xad, 0xde };
	const __u8 b64[8] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe };
	__le16 v16;
	__le32 v32;
	__le64 v64;

	(void)state;
	memcpy(&v16, b16, 2);
	memcpy(&v32, b32, 4);
	memcpy(&v64, b64, 8);
	assert_int_equal(pvio_le16_to_cpu(v16), 0xabcd);
	assert_int_equal(pvio_le32_to_cpu(v32), 0xdeadbeefu);
	assert_int_equal(pvio_le64_to_cpu(v64), 0xfedcba9876543210ull);
}

static void test_byte_order_round_trips(void **state)
{
	static const __u64 vals[] = {
		0, 1, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x12345678,
		0x80000000u, 0xffffffffu, 0x100000000ull, 0x8000000000000000ull,
		0xffffffffffffffffull, 0x0123456789abcdefull,
	};

	(void)state;
	for (unsigned int i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		__u16 v16 = (__u16)vals[i];
		__u32 v32 = (__u32)vals[i];
		__u64 v64 = vals[i];

		assert_int_equal(pvio_le16_to_cpu(pvio_cpu_to_le16(v16)), v16);
		assert_int_equal(pvio_le32_to_cpu(pvio_cpu_to_le32(v32)), v32);
		assert_int_equal(pvio_le64_to_cpu(pvio_cpu_to_le64(v64)), v64);
	}
}

static void test_region_magic_spells_pvioregn(void **state)
{
	struct pvio_region_hdr hdr;

	(void)state;
	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = pvio_cpu_to_le64(PVIO_REGION_MAGIC);
	assert_memory_equal(&hdr, "PVIOREGN", 8);
}

/* ---- constants ---- */

/* All @n values distinct and each at most @max. */
static void check_distinct_upto(const unsigned long long *v, unsigned int n,
				unsigned long long max)
{
	for (unsigned int i = 0; i < n; i++) {
		assert_true(v[i] <= max);
		for (unsigned int j = i + 1; j < n; j++)
			assert_int_not_equal(v[i], v[j]);
	}
}

#define CHECK_DISTINCT(max, ...)                                          \
	do {                                                              \
		const unsigned long long v_[] = { __VA_ARGS__ };          \
		check_distinct_upto(v_, sizeof(v_) / sizeof(v_[0]), max); \
	} while (0)

/* Single bits, distinct, all inside @mask, and together equal to @mask. */
static void check_bits(const unsigned long long *v, unsigned int n,
		       unsigned long long mask)
{
	unsigned long long all = 0;

	for (unsigned int i = 0; i < n; i++) {
		assert_int_not_equal(v[i], 0);
		assert_int_equal(v[i] & (v[i] - 1), 0);
		assert_int_equal(all & v[i], 0);
		all |= v[i];
	}
	assert_int_equal(all, mask);
}

#define CHECK_BITS(mask, ...)                                      \
	do {                                                       \
		const unsigned long long v_[] = { __VA_ARGS__ };   \
		check_bits(v_, sizeof(v_) / sizeof(v_[0]), mask);  \
	} while (0)

static void test_blk_ops_distinct_and_within_max(void **state)
{
	(void)state;
	CHECK_DISTINCT(PVIO_BLK_OP_MAX, PVIO_BLK_OP_READ, PVIO_BLK_OP_WRITE,
		       PVIO_BLK_OP_FLUSH, PVIO_BLK_OP_DISCARD,
		       PVIO_BLK_OP_WRITE_ZEROES, PVIO_BLK_OP_GET_ID);
	assert_int_equal(PVIO_BLK_OP_MAX, 5);
}

static void test_blk_status_distinct_and_within_max(void **state)
{
	(void)state;
	CHECK_DISTINCT(PVIO_BLK_S_MAX, PVIO_BLK_S_OK, PVIO_BLK_S_IOERR,
		       PVIO_BLK_S_UNSUPP, PVIO_BLK_S_INVAL, PVIO_BLK_S_RANGE,
		       PVIO_BLK_S_ROFS, PVIO_BLK_S_NOSPC);
	assert_int_equal(PVIO_BLK_S_OK, 0);
	assert_int_equal(PVIO_BLK_S_MAX, 6);
}

static void test_region_states_and_classes_distinct(void **state)
{
	(void)state;
	CHECK_DISTINCT(PVIO_STATE_CLOSED, PVIO_STATE_UNKNOWN,
		       PVIO_STATE_INITIALISING, PVIO_STATE_INITWAIT,
		       PVIO_STATE_INITIALISED, PVIO_STATE_CONNECTED,
		       PVIO_STATE_CLOSING, PVIO_STATE_CLOSED);
	/* Xen's XenbusState numbering */
	assert_int_equal(PVIO_STATE_INITWAIT, 2);
	assert_int_equal(PVIO_STATE_CONNECTED, 4);
	assert_int_equal(PVIO_STATE_CLOSED, 6);
	CHECK_DISTINCT(PVIO_CLASS_NET, PVIO_CLASS_NONE, PVIO_CLASS_BLK,
		       PVIO_CLASS_NET);
}

static void test_feature_and_flag_bits_are_distinct(void **state)
{
	(void)state;
	CHECK_BITS(PVIO_BLK_F_ALL, PVIO_BLK_F_FLUSH, PVIO_BLK_F_FUA,
		   PVIO_BLK_F_DISCARD, PVIO_BLK_F_WRITE_ZEROES,
		   PVIO_BLK_F_INDIRECT, PVIO_BLK_F_GET_ID);
	assert_int_equal(PVIO_BLK_F_ALL & ~PVIO_F_CLASS_MASK, 0);
	assert_int_equal(PVIO_F_CLASS_MASK & PVIO_F_TRANSPORT_MASK, 0);
	assert_int_equal(PVIO_F_CLASS_MASK | PVIO_F_TRANSPORT_MASK, ~0ull);
	CHECK_BITS(PVIO_BLK_REQ_F_MASK, PVIO_BLK_REQ_F_FUA,
		   PVIO_BLK_REQ_F_INDIRECT, PVIO_BLK_REQ_F_UNMAP);
	CHECK_BITS(PVIO_BLK_ATTR_MASK, PVIO_BLK_ATTR_RO, PVIO_BLK_ATTR_WCACHE);
}

static void test_region_constants(void **state)
{
	(void)state;
	assert_int_equal(PVIO_ABI_REV, 1);
	assert_int_equal(PVIO_CONFIG_SIZE, 256);
	assert_int_equal(PVIO_MAX_VECTORS, 256);
	assert_int_equal(PVIO_VECTOR_CONTROL, 0);
	assert_int_equal(PVIO_BLK_SECTOR_SIZE, 1u << PVIO_BLK_SECTOR_SHIFT);
	assert_int_equal(PVIO_BLK_SECTOR_SIZE, 512);
	assert_int_equal(PVIO_BLK_INLINE_SEGS, 4);
}

static void test_host_start_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_host_start), 328);
	assert_int_equal(offsetof(struct pvio_host_start, region_size), 16);
	assert_int_equal(offsetof(struct pvio_host_start, reserved), 40);
	assert_int_equal(offsetof(struct pvio_host_start, kick_fds), 64);
	assert_int_equal(offsetof(struct pvio_host_start, call_fds),
			 64 + 4 * PVIO_HOST_MAX_VECTORS);
	/* Control vector plus one per queue. */
	assert_int_equal(PVIO_HOST_MAX_VECTORS, PVIO_MAX_QUEUES + 1);
	assert_int_equal(PVIO_HOST_MAX_REGION_SIZE % PVIO_REGION_MIN_SIZE, 0);
}

static void test_host_info_layout_and_ioctls(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct pvio_host_info), 64);
	assert_int_equal(offsetof(struct pvio_host_info, name), 32);
	assert_int_not_equal(PVIO_HOST_IOC_START, PVIO_HOST_IOC_INFO);
	assert_int_equal(_IOC_SIZE(PVIO_HOST_IOC_START), sizeof(struct pvio_host_start));
	assert_int_equal(_IOC_SIZE(PVIO_HOST_IOC_INFO), sizeof(struct pvio_host_info));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_shared_layout),
		cmocka_unit_test(test_ring_sides_on_separate_cache_lines),
		cmocka_unit_test(test_ring_bytes_counts_control_block_and_entries),
		cmocka_unit_test(test_side_layout),
		cmocka_unit_test(test_queue_desc_layout),
		cmocka_unit_test(test_region_hdr_layout),
		cmocka_unit_test(test_region_sides_on_separate_64_byte_lines),
		cmocka_unit_test(test_region_queue_table_fits_in_header),
		cmocka_unit_test(test_blk_seg_layout),
		cmocka_unit_test(test_blk_req_layout),
		cmocka_unit_test(test_blk_rsp_layout),
		cmocka_unit_test(test_blk_config_layout),
		cmocka_unit_test(test_net_layouts),
		cmocka_unit_test(test_cpu_to_le16_stores_low_byte_first),
		cmocka_unit_test(test_cpu_to_le32_stores_low_byte_first),
		cmocka_unit_test(test_cpu_to_le64_stores_low_byte_first),
		cmocka_unit_test(test_le_to_cpu_reads_low_byte_first),
		cmocka_unit_test(test_byte_order_round_trips),
		cmocka_unit_test(test_region_magic_spells_pvioregn),
		cmocka_unit_test(test_blk_ops_distinct_and_within_max),
		cmocka_unit_test(test_blk_status_distinct_and_within_max),
		cmocka_unit_test(test_region_states_and_classes_distinct),
		cmocka_unit_test(test_feature_and_flag_bits_are_distinct),
		cmocka_unit_test(test_region_constants),
		cmocka_unit_test(test_host_start_layout),
		cmocka_unit_test(test_host_info_layout_and_ioctls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
