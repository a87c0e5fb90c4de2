// SPDX-License-Identifier: MIT
/*
 * Tests of ring/region.c: the backend's layout passes the check, every
 * single corruption of it is refused (by the region check or, for the
 * class's own rules, by the block protocol a frontend applies after it),
 * and impossible layouts are refused.
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
#include "pvio_ring.h"
#include "region.h"

#define REGION (1u << 20)

static unsigned char *mem;
static struct pvio_blk_config cfg;
static struct pvio_region_params par;
static struct pvio_region_layout info;
static const char *why;

static int setup(void **state)
{
	(void)state;
	mem = aligned_alloc(4096, REGION);
	if (!mem)
		return -1;
	memset(mem, 0xee, REGION); /* layout must not rely on zeroed memory */
	pvio_blk_config_from_limits(&(struct pvio_blk_limits){
		.capacity = 1u << 21, .logical_block_size = 512,
		.physical_block_size = 4096, .max_segments = 32,
		.max_segment_size = 65536, .max_transfer_sectors = 1024,
		.queue_depth = 64,
	}, &cfg);
	par = (struct pvio_region_params){
		.region_size = REGION,
		.dev_class = PVIO_CLASS_BLK,
		.num_queues = 4,
		.ring_entries = 64,
		.req_entry_size = sizeof(struct pvio_blk_req),
		.rsp_entry_size = sizeof(struct pvio_blk_rsp),
		.data_size = 128 * 1024,
		.features = PVIO_BLK_F_FLUSH | PVIO_BLK_F_INDIRECT,
		.generation = 3,
		.config = &cfg,
	};
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(mem);
	return 0;
}

/* The class-agnostic check alone. */
static int check(void)
{
	return pvio_region_check(mem, REGION, &info, &why);
}

/* What a block frontend does: the region check, then the class's rules. */
static int validate(void)
{
	struct pvio_blk_config c;
	struct pvio_blk_limits lim;
	int ret = check();

	if (ret)
		return ret;
	ret = pvio_blk_check_layout(&info, &why);
	if (ret)
		return ret;
	memcpy(&c, info.config, sizeof(c));
	return pvio_blk_limits_from_config(&c, &lim, &why) ? -EPROTO : 0;
}

static int lay_out(void)
{
	return pvio_region_layout(mem, &par, NULL);
}

static struct pvio_region_hdr *hdr(void)
{
	return (struct pvio_region_hdr *)mem;
}

static void test_layout_validates(void **state)
{
	unsigned int i;

	(void)state;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(validate(), 0);
	assert_string_equal(why, "ok");
	assert_int_equal(info.dev_class, PVIO_CLASS_BLK);
	assert_int_equal(info.num_queues, 4);
	assert_int_equal(info.region_size, REGION);
	assert_int_equal(info.back_state, PVIO_STATE_INITWAIT);
	assert_int_equal(info.back_generation, 3);
	assert_int_equal(info.back_features, par.features);
	assert_memory_equal(info.config, &cfg, sizeof(cfg));
	assert_int_equal(info.nr_vectors, 5);
	/* The frontend's side starts clean. */
	assert_int_equal(hdr()->front.state, 0);
	assert_int_equal(hdr()->front.features, 0);
	for (i = 0; i < 4; i++) {
		const struct pvio_region_queue *q = &info.queues[i];
		struct pvio_prod p;
		struct pvio_cons c;

		assert_int_equal(q->vector, i + 1);
		assert_int_equal(q->req_entries, 64);
		assert_int_equal(q->req_entry_size, sizeof(struct pvio_blk_req));
		assert_int_equal(q->rsp_entry_size, sizeof(struct pvio_blk_rsp));
		assert_int_equal(q->req_ring_off % PVIO_CACHELINE, 0);
		assert_int_equal(q->rsp_ring_off % PVIO_CACHELINE, 0);
		assert_int_equal(q->data_off % 4096, 0);
		assert_int_equal(q->data_size, 128 * 1024);
		/* Control blocks were reset: both sides attach at index 0. */
		assert_int_equal(pvio_prod_attach(&p, (void *)(mem + q->req_ring_off),
						  q->req_entries, q->req_entry_size), 0);
		assert_int_equal(p.prod, 0);
		assert_int_equal(pvio_cons_attach(&c, (void *)(mem + q->rsp_ring_off),
						  q->rsp_entries, q->rsp_entry_size), 0);
		assert_int_equal(c.cons, 0);
	}
	assert_true(pvio_region_layout_size(&par) <= REGION);
}

static void test_layout_refuses_what_does_not_fit(void **state)
{
	(void)state;
	par.data_size = REGION / 4; /* four queues of a quarter each + header */
	assert_int_equal(lay_out(), -ENOSPC);
	par.num_queues = 3;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(validate(), 0);

	/* Exactly full: the last data area ends at the region's end. */
	par.num_queues = 1;
	/* Header page, then the two rings of 64 entries (4352 + 1280 bytes)
	 * rounded up to the next page: data starts at 12 KiB. */
	par.data_size = REGION - 4096 * 3;
	assert_int_equal(pvio_region_layout_size(&par), REGION);
	assert_int_equal(lay_out(), 0);
	assert_int_equal(validate(), 0);
	par.data_size += 4096;
	assert_int_equal(lay_out(), -ENOSPC);

	par = (struct pvio_region_params){
		.region_size = PVIO_REGION_MIN_SIZE, .dev_class = PVIO_CLASS_BLK,
		.num_queues = 32, .ring_entries = 32768,
		.req_entry_size = 64, .rsp_entry_size = 16,
		.data_size = 4096, .config = &cfg,
	};
	assert_int_equal(lay_out(), -ENOSPC);
}

static void test_layout_refuses_invalid_params(void **state)
{
	struct pvio_region_params good;

	(void)state;
	good = par;
	par.region_size = REGION + 4096;
	assert_int_equal(lay_out(), -EINVAL);
	par.region_size = PVIO_REGION_MIN_SIZE / 2;
	assert_int_equal(lay_out(), -EINVAL);
	par = good;
	par.num_queues = 0;
	assert_int_equal(lay_out(), -EINVAL);
	par.num_queues = PVIO_MAX_QUEUES + 1;
	assert_int_equal(lay_out(), -EINVAL);
	par = good;
	par.ring_entries = 48;
	assert_int_equal(lay_out(), -EINVAL);
	par.ring_entries = 1;
	assert_int_equal(lay_out(), -EINVAL);
	par.ring_entries = PVIO_RING_MAX_ENTRIES * 2;
	assert_int_equal(lay_out(), -EINVAL);
	par = good;
	par.data_size = 0;
	assert_int_equal(lay_out(), -EINVAL);
	par.data_size = 6000;
	assert_int_equal(lay_out(), -EINVAL);
	par.data_size = UINT64_MAX & ~4095ull;
	assert_int_equal(lay_out(), -EINVAL);
	par = good;
	par.features = 1ull << 40;
	assert_int_equal(lay_out(), -EINVAL);
	par = good;
	par.dev_class = PVIO_CLASS_NONE;
	assert_int_equal(lay_out(), -EINVAL);
	par.dev_class = 3;
	assert_int_equal(lay_out(), -EINVAL);
	par = good;
	par.req_entry_size = 60;
	assert_int_equal(lay_out(), -EINVAL);
	par = good;
	par.rsp_entry_size = 0;
	assert_int_equal(lay_out(), -EINVAL);
	par = good;
	par.config = NULL;
	assert_int_equal(lay_out(), -EINVAL);
	/* Nothing was written by the refused layouts. */
	assert_int_equal(mem[0], 0xee);
}

/* One corruption: @len bytes at @off are replaced by @val (little-endian). */
struct corruption {
	const char *what;
	size_t off;
	unsigned int len;
	uint64_t val;
	int err;
};

#define HDR_OFF(f) offsetof(struct pvio_region_hdr, f)
#define Q0(f) (HDR_OFF(queues) + offsetof(struct pvio_queue_desc, f))
#define Q1(f) (HDR_OFF(queues) + 64 + offsetof(struct pvio_queue_desc, f))
#define CFG(f) (HDR_OFF(config) + offsetof(struct pvio_blk_config, f))

static void apply(const struct corruption *c)
{
	uint64_t le = c->val; /* the test host is little-endian */

	memcpy(mem + c->off, &le, c->len);
}

static void test_each_single_corruption_is_refused(void **state)
{
	const struct corruption cs[] = {
		{ "magic", HDR_OFF(magic), 8, PVIO_REGION_MAGIC ^ 1, -ENODEV },
		{ "abi_rev 0", HDR_OFF(abi_rev), 4, 0, -EPROTONOSUPPORT },
		{ "abi_rev 2", HDR_OFF(abi_rev), 4, 2, -EPROTONOSUPPORT },
		{ "hdr_size", HDR_OFF(hdr_size), 4, 8192, -EPROTO },
		{ "class none", HDR_OFF(dev_class), 4, PVIO_CLASS_NONE, -EPROTO },
		{ "class net", HDR_OFF(dev_class), 4, PVIO_CLASS_NET, -EPROTO },
		{ "class unknown", HDR_OFF(dev_class), 4, 3, -EPROTO },
		{ "num_queues 0", HDR_OFF(num_queues), 4, 0, -EPROTO },
		{ "num_queues 33", HDR_OFF(num_queues), 4, 33, -EPROTO },
		{ "num_queues +1", HDR_OFF(num_queues), 4, 3, -EPROTO },
		{ "region_size other", HDR_OFF(region_size), 8, REGION * 2, -EPROTO },
		{ "region_size npot", HDR_OFF(region_size), 8, REGION - 4096, -EPROTO },
		{ "reserved0", HDR_OFF(reserved0) + 31, 1, 1, -EPROTO },
		{ "back.state init", HDR_OFF(back.state), 4, PVIO_STATE_INITIALISING, -EAGAIN },
		{ "back.state 7", HDR_OFF(back.state), 4, 7, -EPROTO },
		{ "back.features transport", HDR_OFF(back.features), 8, 1ull << 32, -EPROTO },
		{ "back.reserved", HDR_OFF(back.reserved) + 10, 1, 1, -EPROTO },
		{ "config lbs", CFG(logical_block_size), 4, 1000, -EPROTO },
		{ "config max_segments", CFG(max_segments), 4, 0, -EPROTO },
		{ "config attrs", CFG(attrs), 4, 0x10, -EPROTO },
		{ "config reserved", CFG(reserved) + 200, 1, 1, -EPROTO },
		{ "config capacity 0", CFG(capacity), 8, 0, -EPROTO },
		{ "config pbs < lbs", CFG(physical_block_size), 4, 256, -EPROTO },
		{ "config queue_depth 0", CFG(queue_depth), 4, 0, -EPROTO },
		{ "reserved1", HDR_OFF(reserved1), 1, 1, -EPROTO },
		{ "reserved2", HDR_OFF(reserved2) + 100, 1, 1, -EPROTO },
		{ "unused queue", HDR_OFF(queues) + 2 * 64 + 48, 4, 9, -EPROTO },
		{ "req_ring_off misaligned", Q0(req_ring_off), 8, 4096 + 64, -EPROTO },
		{ "req_ring_off outside", Q0(req_ring_off), 8, REGION - 128, -EPROTO },
		{ "req_ring_off wraps", Q0(req_ring_off), 8, UINT64_MAX - 127, -EPROTO },
		{ "req_ring_off in header", Q0(req_ring_off), 8, 0, -EPROTO },
		{ "rsp_ring_off misaligned", Q0(rsp_ring_off), 8, 8192 + 8, -EPROTO },
		{ "rsp_ring_off outside", Q1(rsp_ring_off), 8, REGION, -EPROTO },
		{ "data_off misaligned", Q0(data_off), 8, 8192 + 128, -EPROTO },
		{ "data_off outside", Q1(data_off), 8, REGION, -EPROTO },
		{ "data_size 0", Q0(data_size), 8, 0, -EPROTO },
		{ "data_size huge", Q1(data_size), 8, REGION, -EPROTO },
		{ "data_size wraps", Q1(data_size), 8, UINT64_MAX - 4095, -EPROTO },
		{ "req_entries 0", Q0(req_entries), 4, 0, -EPROTO },
		{ "req_entries npot", Q0(req_entries), 4, 48, -EPROTO },
		{ "req_entries huge", Q0(req_entries), 4, 65536, -EPROTO },
		{ "req_entries more", Q0(req_entries), 4, 128, -EPROTO },
		{ "rsp_entries", Q1(rsp_entries), 4, 3, -EPROTO },
		{ "rsp_entries more", Q1(rsp_entries), 4, 4096, -EPROTO },
		{ "req_entry_size", Q0(req_entry_size), 4, 32, -EPROTO },
		{ "rsp_entry_size", Q1(rsp_entry_size), 4, 64, -EPROTO },
		{ "vector 0", Q0(vector), 4, 0, -EPROTO },
		{ "vector 256", Q1(vector), 4, 256, -EPROTO },
		{ "vector shared", Q1(vector), 4, 1, -EPROTO },
		{ "queue reserved", Q1(reserved) + 11, 1, 1, -EPROTO },
	};
	unsigned char *good;
	size_t i;

	(void)state;
	par.num_queues = 2;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(validate(), 0);
	good = malloc(PVIO_REGION_HDR_SIZE);
	assert_non_null(good);
	memcpy(good, mem, PVIO_REGION_HDR_SIZE);

	for (i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		int ret;

		memcpy(mem, good, PVIO_REGION_HDR_SIZE);
		apply(&cs[i]);
		ret = validate();
		if (ret != cs[i].err)
			fail_msg("corruption '%s': %d (%s), expected %d",
				 cs[i].what, ret, why, cs[i].err);
	}
	/* And the untouched header still validates. */
	memcpy(mem, good, PVIO_REGION_HDR_SIZE);
	assert_int_equal(validate(), 0);
	free(good);
}

static void test_overlapping_queues_refused(void **state)
{
	struct pvio_queue_desc *q0, *q1;

	(void)state;
	par.num_queues = 2;
	assert_int_equal(lay_out(), 0);
	q0 = &hdr()->queues[0];
	q1 = &hdr()->queues[1];

	/* Queue 1's request ring inside queue 0's data area. */
	q1->req_ring_off = pvio_cpu_to_le64(pvio_le64_to_cpu(q0->data_off) + 4096);
	assert_int_equal(validate(), -EPROTO);
	assert_string_equal(why, "rings or data areas overlap");

	assert_int_equal(lay_out(), 0);
	/* Both queues share one data area. */
	q1->data_off = q0->data_off;
	assert_int_equal(validate(), -EPROTO);

	assert_int_equal(lay_out(), 0);
	/* A queue's own response ring on top of its request ring. */
	q0->rsp_ring_off = pvio_cpu_to_le64(pvio_le64_to_cpu(q0->req_ring_off) + 256);
	assert_int_equal(validate(), -EPROTO);

	/* The layout itself packs pieces end to start: touching is no overlap. */
	assert_int_equal(lay_out(), 0);
	assert_int_equal(validate(), 0);
}

static void test_check_refuses_short_or_mismatched_mapping(void **state)
{
	(void)state;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(pvio_region_check(mem, 100, &info, &why), -EPROTO);
	assert_int_equal(pvio_region_check(mem, REGION / 2, &info, &why), -EPROTO);
	assert_string_equal(why, "region size differs from the mapping");
}

/* Lay out, set the header byte at @off to @v, and check. */
static int check_with_byte(size_t off, unsigned char v)
{
	assert_int_equal(lay_out(), 0);
	mem[off] = v;
	return check();
}

static void test_check_rejects_reserved0_nonzero(void **state)
{
	(void)state;
	assert_int_equal(check_with_byte(HDR_OFF(reserved0), 1), -EPROTO);
	assert_string_equal(why, "reserved bytes not zero");
}

static void test_check_rejects_reserved1_nonzero(void **state)
{
	(void)state;
	assert_int_equal(check_with_byte(HDR_OFF(reserved1) + 63, 0x80), -EPROTO);
	assert_string_equal(why, "reserved bytes not zero");
}

static void test_check_rejects_reserved2_nonzero(void **state)
{
	(void)state;
	assert_int_equal(check_with_byte(PVIO_REGION_HDR_SIZE - 1, 1), -EPROTO);
	assert_string_equal(why, "reserved bytes not zero");
	assert_int_equal(check_with_byte(HDR_OFF(reserved2), 1), -EPROTO);
}

static void test_check_rejects_back_reserved_nonzero(void **state)
{
	(void)state;
	assert_int_equal(check_with_byte(HDR_OFF(back.reserved) + 47, 1), -EPROTO);
	assert_string_equal(why, "reserved bytes not zero");
}

static void test_check_ignores_the_front_side(void **state)
{
	(void)state;
	/* The frontend's own fields are its to write, garbage included. */
	assert_int_equal(lay_out(), 0);
	memset(mem + HDR_OFF(front), 0xa5, sizeof(struct pvio_side));
	assert_int_equal(check(), 0);
}

static void test_check_rejects_unknown_class(void **state)
{
	(void)state;
	assert_int_equal(check_with_byte(HDR_OFF(dev_class), 3), -EPROTO);
	assert_string_equal(why, "unknown device class");
	assert_int_equal(check_with_byte(HDR_OFF(dev_class), 0), -EPROTO);
	assert_string_equal(why, "no device class");
}

/* A restarted backend's layout (region.h, "Backend restart"): the same
 * parameters and another generation give the same geometry; another
 * queue count, ring size or data size does not. */
static void test_same_geometry(void **state)
{
	struct pvio_region_layout was;

	(void)state;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(check(), 0);
	was = info;
	par.generation = 4;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(check(), 0);
	assert_int_equal(pvio_region_same_geometry(&was, &info, &why), 0);

	par.num_queues = 3;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(check(), 0);
	assert_int_equal(pvio_region_same_geometry(&was, &info, &why), -EPROTO);
	par.num_queues = 4;
	par.ring_entries = 32;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(check(), 0);
	assert_int_equal(pvio_region_same_geometry(&was, &info, &why), -EPROTO);
	par.ring_entries = 64;
	par.data_size = 64 * 1024;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(check(), 0);
	assert_int_equal(pvio_region_same_geometry(&was, &info, &why), -EPROTO);
}

static void test_check_is_class_agnostic(void **state)
{
	(void)state;
	/* A NET region with other entry sizes passes the region check; the
	 * block protocol then refuses it. */
	par.dev_class = PVIO_CLASS_NET;
	par.req_entry_size = 32;
	par.rsp_entry_size = 24;
	assert_int_equal(lay_out(), 0);
	assert_int_equal(check(), 0);
	assert_int_equal(info.dev_class, PVIO_CLASS_NET);
	assert_int_equal(info.queues[0].req_entry_size, 32);
	assert_int_equal(pvio_blk_check_layout(&info, &why), -EPROTO);
	assert_string_equal(why, "not a block device");
}

static void test_check_rejects_transport_features(void **state)
{
	(void)state;
	assert_int_equal(check_with_byte(HDR_OFF(back.features) + 4, 1), -EPROTO);
	assert_string_equal(why, "transport feature bits offered");
}

static void test_check_accepts_unknown_class_features(void **state)
{
	(void)state;
	/* Class bits the frontend does not know are simply not accepted. */
	assert_int_equal(check_with_byte(HDR_OFF(back.features) + 3, 0x80), 0);
	assert_int_equal(info.back_features, par.features | (1ull << 31));
}

static void test_check_config_is_copied_raw(void **state)
{
	(void)state;
	/* The region check does not read the class config: garbage there is
	 * the class protocol's to refuse. */
	assert_int_equal(check_with_byte(HDR_OFF(config) + 100, 0x5a), 0);
	assert_int_equal(info.config[100], 0x5a);
	assert_int_equal(validate(), -EPROTO);
}

static void test_check_nr_vectors_is_highest_vector_plus_one(void **state)
{
	struct pvio_queue_desc *q;

	(void)state;
	par.num_queues = 2;
	assert_int_equal(lay_out(), 0);
	q = &hdr()->queues[0];
	q->vector = pvio_cpu_to_le32(200);
	assert_int_equal(check(), 0);
	assert_int_equal(info.nr_vectors, 201);
	q->vector = pvio_cpu_to_le32(255);
	assert_int_equal(check(), 0);
	assert_int_equal(info.nr_vectors, 256);
}

static void test_check_waits_for_initwait(void **state)
{
	(void)state;
	assert_int_equal(lay_out(), 0);
	hdr()->back.state = pvio_cpu_to_le32(PVIO_STATE_UNKNOWN);
	assert_int_equal(check(), -EAGAIN);
	hdr()->back.state = pvio_cpu_to_le32(PVIO_STATE_CONNECTED);
	assert_int_equal(check(), 0);
	assert_int_equal(info.back_state, PVIO_STATE_CONNECTED);
}

static void test_layout_out_matches_check(void **state)
{
	struct pvio_region_layout laid;

	(void)state;
	assert_int_equal(pvio_region_layout(mem, &par, &laid), 0);
	assert_int_equal(check(), 0);
	assert_memory_equal(&laid, &info, sizeof(laid));
}

static void test_layout_clears_data_only_when_asked(void **state)
{
	struct pvio_region_layout laid;
	unsigned int i;

	(void)state;
	assert_int_equal(pvio_region_layout(mem, &par, &laid), 0);
	/* Left alone by default (the memory was filled with 0xee). */
	assert_int_equal(mem[laid.queues[0].data_off], 0xee);
	par.clear_data = 1;
	assert_int_equal(pvio_region_layout(mem, &par, &laid), 0);
	for (i = 0; i < laid.num_queues; i++) {
		const unsigned char *d = mem + laid.queues[i].data_off;

		assert_int_equal(d[0], 0);
		assert_int_equal(d[laid.queues[i].data_size - 1], 0);
	}
}

static void test_magic_checked_before_anything_else(void **state)
{
	(void)state;
	/* Garbage everywhere: the answer is about the magic, nothing else. */
	assert_int_equal(validate(), -ENODEV);
	assert_string_equal(why, "bad magic");
	assert_int_equal(lay_out(), 0);
	memset(mem + 8, 0xff, PVIO_REGION_HDR_SIZE - 8);
	assert_int_equal(validate(), -EPROTONOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_layout_validates),
		T(test_layout_refuses_what_does_not_fit),
		T(test_layout_refuses_invalid_params),
		T(test_each_single_corruption_is_refused),
		T(test_overlapping_queues_refused),
		T(test_check_refuses_short_or_mismatched_mapping),
		T(test_check_rejects_reserved0_nonzero),
		T(test_check_rejects_reserved1_nonzero),
		T(test_check_rejects_reserved2_nonzero),
		T(test_check_rejects_back_reserved_nonzero),
		T(test_check_ignores_the_front_side),
		T(test_check_rejects_unknown_class),
		T(test_check_is_class_agnostic),
		T(test_same_geometry),
		T(test_check_rejects_transport_features),
		T(test_check_accepts_unknown_class_features),
		T(test_check_config_is_copied_raw),
		T(test_check_nr_vectors_is_highest_vector_plus_one),
		T(test_check_waits_for_initwait),
		T(test_layout_out_matches_check),
		T(test_layout_clears_data_only_when_asked),
		T(test_magic_checked_before_anything_else),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
