// SPDX-License-Identifier: MIT
/*
 * Tests of ring/net_proto.c: every rule a network config, layout, frame,
 * TX request, RX buffer and response must satisfy, at and just past its
 * boundary, and the status precedence of TX requests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_proto.h"
#include "pvio_compat.h"

#define DATA_SIZE (256u * 1024)
#define SEGS_CAP PVIO_NET_MAX_SEGS

static unsigned char data[DATA_SIZE];
static struct pvio_net_vseg segs[SEGS_CAP];
static struct pvio_net_vtx vt;
static const char *why;
static struct pvio_net_limits lim;
static uint64_t feat;

static int setup(void **state)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	(void)state;
	memset(&lim, 0, sizeof(lim));
	memcpy(lim.mac, mac, 6);
	lim.mtu = 1500;
	lim.max_queue_pairs = 4;
	lim.max_tx_segs = 18;
	lim.status = PVIO_NET_STATUS_LINK_UP;
	lim.queue_depth = 256;
	feat = PVIO_NET_F_ALL;
	memset(data, 0, sizeof(data));
	memset(segs, 0, sizeof(segs));
	return 0;
}

/* A TX request for one @len-byte frame in one inline segment at @off. */
static struct pvio_net_tx_req tx1(uint32_t off, uint32_t len)
{
	struct pvio_net_tx_req r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(7);
	r.nr_segs = pvio_cpu_to_le16(1);
	r.len = pvio_cpu_to_le32(len);
	r.seg[0].offset = pvio_cpu_to_le32(off);
	r.seg[0].len = pvio_cpu_to_le32(len);
	return r;
}

static unsigned int tx_check(const struct pvio_net_tx_req *r)
{
	return pvio_net_tx_validate(r, &lim, feat, data, DATA_SIZE, &vt, segs,
				    SEGS_CAP, &why);
}

static void set_csum(struct pvio_net_hdr *h, unsigned int start,
		     unsigned int off)
{
	h->flags |= PVIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = pvio_cpu_to_le16((uint16_t)start);
	h->csum_offset = pvio_cpu_to_le16((uint16_t)off);
}

static void set_tso4(struct pvio_net_hdr *h, unsigned int mss)
{
	set_csum(h, 34, 16);
	h->gso_type = PVIO_NET_GSO_TCPV4;
	h->hdr_len = pvio_cpu_to_le16(54);
	h->gso_size = pvio_cpu_to_le16((uint16_t)mss);
}

/* ---- features and config ---- */

static void test_features(void **state)
{
	(void)state;
	assert_int_equal(pvio_net_features_check(PVIO_NET_F_ALL, &why), 0);
	assert_int_equal(pvio_net_features_check(0, &why), 0);
	assert_int_equal(pvio_net_features_check(PVIO_NET_F_ALL + 1, &why), -EINVAL);
	assert_int_equal(pvio_net_features_check(PVIO_NET_F_GSO_TCPV4, &why), -EINVAL);
	assert_int_equal(pvio_net_features_check(PVIO_NET_F_GSO_TCPV6 |
						 PVIO_NET_F_CSUM, &why), 0);
	assert_int_equal(pvio_net_features_check(PVIO_NET_F_GUEST_GSO_TCPV4 |
						 PVIO_NET_F_GUEST_CSUM, &why), -EINVAL);
	assert_string_equal(why, "RX GSO without PVIO_NET_F_RX_MERGE");
	assert_int_equal(pvio_net_features_check(PVIO_NET_F_GUEST_GSO_TCPV6 |
						 PVIO_NET_F_RX_MERGE, &why), -EINVAL);
}

static void test_config_round_trip(void **state)
{
	struct pvio_net_config cfg;
	struct pvio_net_limits back;

	(void)state;
	pvio_net_config_from_limits(&lim, &cfg);
	assert_int_equal(pvio_net_limits_from_config(&cfg, feat, &back, &why), 0);
	assert_memory_equal(&back, &lim, sizeof(lim));
	assert_string_equal(why, "ok");
}

static int cfg_with(void (*edit)(struct pvio_net_config *), uint64_t f)
{
	struct pvio_net_config cfg;
	struct pvio_net_limits l;

	pvio_net_config_from_limits(&lim, &cfg);
	edit(&cfg);
	return pvio_net_limits_from_config(&cfg, f, &l, &why);
}

static void c_multicast(struct pvio_net_config *c) { c->mac[0] |= 1; }
static void c_zero_mac(struct pvio_net_config *c) { memset(c->mac, 0, 6); }
static void c_mtu67(struct pvio_net_config *c) { c->mtu = pvio_cpu_to_le16(67); }
static void c_mtu68(struct pvio_net_config *c) { c->mtu = pvio_cpu_to_le16(68); }
static void c_mtu9000(struct pvio_net_config *c) { c->mtu = pvio_cpu_to_le16(9000); }
static void c_pairs0(struct pvio_net_config *c) { c->max_queue_pairs = 0; }
static void c_pairs17(struct pvio_net_config *c) { c->max_queue_pairs = pvio_cpu_to_le16(17); }
static void c_pairs1(struct pvio_net_config *c) { c->max_queue_pairs = pvio_cpu_to_le16(1); }
static void c_segs0(struct pvio_net_config *c) { c->max_tx_segs = 0; }
static void c_segs65(struct pvio_net_config *c) { c->max_tx_segs = pvio_cpu_to_le16(65); }
static void c_segs4(struct pvio_net_config *c) { c->max_tx_segs = pvio_cpu_to_le16(4); }
static void c_status(struct pvio_net_config *c) { c->status = pvio_cpu_to_le32(2); }
static void c_depth0(struct pvio_net_config *c) { c->queue_depth = 0; }
static void c_reserved(struct pvio_net_config *c) { c->reserved[235] = 1; }
static void c_none(struct pvio_net_config *c) { (void)c; }

static void test_config_rules(void **state)
{
	uint64_t no_mtu = feat & ~PVIO_NET_F_MTU;
	uint64_t no_mq = feat & ~PVIO_NET_F_MQ;
	uint64_t no_ind = feat & ~PVIO_NET_F_INDIRECT;

	(void)state;
	assert_int_equal(cfg_with(c_multicast, feat), -EINVAL);
	assert_int_equal(cfg_with(c_zero_mac, feat), -EINVAL);
	assert_int_equal(cfg_with(c_mtu67, feat), -EINVAL);
	assert_int_equal(cfg_with(c_mtu68, feat), 0);
	assert_int_equal(cfg_with(c_mtu9000, feat), 0);
	assert_int_equal(cfg_with(c_mtu9000, no_mtu), -EINVAL);
	assert_int_equal(cfg_with(c_none, no_mtu), 0); /* 1500 */
	assert_int_equal(cfg_with(c_pairs0, feat), -EINVAL);
	assert_int_equal(cfg_with(c_pairs17, feat), -EINVAL);
	assert_int_equal(cfg_with(c_none, no_mq), -EINVAL); /* 4 pairs */
	assert_int_equal(cfg_with(c_pairs1, no_mq), 0);
	assert_int_equal(cfg_with(c_segs0, feat), -EINVAL);
	assert_int_equal(cfg_with(c_segs65, feat), -EINVAL);
	assert_int_equal(cfg_with(c_none, no_ind), -EINVAL); /* 18 segments */
	assert_int_equal(cfg_with(c_segs4, no_ind), 0);
	assert_int_equal(cfg_with(c_status, feat), -EINVAL);
	assert_int_equal(cfg_with(c_depth0, feat), -EINVAL);
	assert_int_equal(cfg_with(c_reserved, feat), -EINVAL);
	assert_int_equal(cfg_with(c_none, PVIO_NET_F_GSO_TCPV4 | PVIO_NET_F_ALL), 0);
	assert_int_equal(cfg_with(c_none, PVIO_NET_F_ALL | (1ull << 11)), -EINVAL);
}

/* ---- layout ---- */

static void test_layout(void **state)
{
	static unsigned char mem[1u << 20] __attribute__((aligned(4096)));
	struct pvio_net_config cfg;
	struct pvio_region_layout l;
	struct pvio_region_params p = {
		.region_size = sizeof(mem), .dev_class = PVIO_CLASS_NET,
		.num_queues = 4, .ring_entries = 64,
		.req_entry_size = sizeof(struct pvio_net_tx_req),
		.rsp_entry_size = sizeof(struct pvio_net_tx_rsp),
		.req_entry_size_odd = sizeof(struct pvio_net_rx_req),
		.rsp_entry_size_odd = sizeof(struct pvio_net_rx_rsp),
		.generation = 1, .data_size = 64 * 1024, .config = &cfg,
	};

	(void)state;
	pvio_net_config_from_limits(&lim, &cfg);
	assert_int_equal(pvio_region_layout(mem, &p, &l), 0);
	assert_int_equal(l.queues[0].req_entry_size, 64);
	assert_int_equal(l.queues[1].req_entry_size, 16);
	assert_int_equal(l.queues[1].rsp_entry_size, 32);
	assert_int_equal(l.queues[2].rsp_entry_size, 16);
	assert_int_equal(pvio_net_check_layout(&l, &lim, &why), 0);
	/* What the frontend reads back is the same, and passes too. */
	assert_int_equal(pvio_region_check(mem, sizeof(mem), &l, &why), 0);
	assert_int_equal(pvio_net_check_layout(&l, &lim, &why), 0);

	lim.max_queue_pairs = 1;
	assert_int_equal(pvio_net_check_layout(&l, &lim, &why), -EPROTO);
	lim.max_queue_pairs = 4;
	l.num_queues = 3;
	assert_int_equal(pvio_net_check_layout(&l, &lim, &why), -EPROTO);
	l.num_queues = 4;
	l.queues[3].req_entry_size = 64;
	assert_int_equal(pvio_net_check_layout(&l, &lim, &why), -EPROTO);
	assert_string_equal(why, "RX queue entry sizes are not the network protocol's");
	l.queues[3].req_entry_size = 16;
	l.dev_class = PVIO_CLASS_BLK;
	assert_int_equal(pvio_net_check_layout(&l, &lim, &why), -EPROTO);

	/* One odd size without the other is not a layout. */
	p.rsp_entry_size_odd = 0;
	assert_int_equal(pvio_region_layout(mem, &p, &l), -EINVAL);
	/* Uniform layouts (the block class's) are unchanged. */
	p.req_entry_size_odd = 0;
	assert_int_equal(pvio_region_layout(mem, &p, &l), 0);
	assert_int_equal(l.queues[1].req_entry_size, 64);
	assert_int_equal(pvio_net_check_layout(&l, &lim, &why), -EPROTO);
}

/* ---- TX requests ---- */

static void test_tx_plain(void **state)
{
	struct pvio_net_tx_req r = tx1(4096, 60);

	(void)state;
	assert_int_equal(tx_check(&r), PVIO_NET_S_OK);
	assert_int_equal(vt.id, 7);
	assert_int_equal(vt.len, 60);
	assert_int_equal(vt.nr_segs, 1);
	assert_int_equal(vt.segs[0].offset, 4096);
	/* Frame length limits: 14 .. mtu + 18 without GSO. */
	r = tx1(0, 13);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r = tx1(0, 14);
	assert_int_equal(tx_check(&r), PVIO_NET_S_OK);
	r = tx1(0, 1518);
	assert_int_equal(tx_check(&r), PVIO_NET_S_OK);
	r = tx1(0, 1519);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	assert_string_equal(why, "frame longer than the MTU allows");
}

static void test_tx_segments(void **state)
{
	struct pvio_net_tx_req r = tx1(0, 100);

	(void)state;
	/* Three inline segments adding up. */
	r.nr_segs = pvio_cpu_to_le16(3);
	r.seg[0].len = pvio_cpu_to_le32(40);
	r.seg[1].offset = pvio_cpu_to_le32(8192);
	r.seg[1].len = pvio_cpu_to_le32(40);
	r.seg[2].offset = pvio_cpu_to_le32(DATA_SIZE - 20);
	r.seg[2].len = pvio_cpu_to_le32(20);
	assert_int_equal(tx_check(&r), PVIO_NET_S_OK);
	assert_int_equal(vt.segs[2].offset, DATA_SIZE - 20);
	/* ... one byte past the data area. */
	r.seg[2].offset = pvio_cpu_to_le32(DATA_SIZE - 19);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.seg[2].offset = pvio_cpu_to_le32(DATA_SIZE - 20);
	/* ... not adding up. */
	r.len = pvio_cpu_to_le32(101);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.len = pvio_cpu_to_le32(100);
	/* ... an empty segment. */
	r.seg[1].len = 0;
	r.seg[0].len = pvio_cpu_to_le32(80);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	/* ... a stray entry past nr_segs. */
	r = tx1(0, 100);
	r.seg[3].len = pvio_cpu_to_le32(1);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	/* ... counts 0 and over the inline room. */
	r = tx1(0, 100);
	r.nr_segs = 0;
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.nr_segs = pvio_cpu_to_le16(5);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	/* An offset + length that wraps 32 bits is outside, not small. */
	r = tx1(0xfffffff0u, 0x20);
	r.len = pvio_cpu_to_le32(0x20);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
}

static void test_tx_indirect(void **state)
{
	struct pvio_net_tx_req r;
	struct pvio_net_seg *tbl = (struct pvio_net_seg *)(data + 1024);
	unsigned int i, n = 18;

	(void)state;
	memset(&r, 0, sizeof(r));
	for (i = 0; i < n; i++) {
		tbl[i].offset = pvio_cpu_to_le32(8192 + i * 4096);
		tbl[i].len = pvio_cpu_to_le32(100);
	}
	r.id = pvio_cpu_to_le32(9);
	r.flags = pvio_cpu_to_le16(PVIO_NET_TX_F_INDIRECT);
	r.nr_segs = pvio_cpu_to_le16((uint16_t)n);
	r.len = pvio_cpu_to_le32(100 * n);
	r.seg[0].offset = pvio_cpu_to_le32(1024);
	r.seg[0].len = pvio_cpu_to_le32(8 * n);
	/* 1800 bytes is over the MTU without GSO... */
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	/* ... and fine as a TSO frame. */
	set_tso4(&r.hdr, 1448);
	assert_int_equal(tx_check(&r), PVIO_NET_S_OK);
	assert_int_equal(vt.nr_segs, n);
	assert_int_equal(vt.segs[17].offset, 8192 + 17 * 4096);
	/* The table is copied: changing shared memory now changes nothing. */
	tbl[17].offset = pvio_cpu_to_le32(0xffffffffu);
	assert_int_equal(vt.segs[17].offset, 8192 + 17 * 4096);
	tbl[17].offset = pvio_cpu_to_le32(8192 + 17 * 4096);
	/* More than max_tx_segs. */
	r.nr_segs = pvio_cpu_to_le16(19);
	r.seg[0].len = pvio_cpu_to_le32(8 * 19);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.nr_segs = pvio_cpu_to_le16((uint16_t)n);
	/* Table length, alignment, place; inline entries beside it. */
	r.seg[0].len = pvio_cpu_to_le32(8 * n - 8);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.seg[0].len = pvio_cpu_to_le32(8 * n);
	r.seg[0].offset = pvio_cpu_to_le32(1028);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.seg[0].offset = pvio_cpu_to_le32(DATA_SIZE - 8);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.seg[0].offset = pvio_cpu_to_le32(1024);
	r.seg[2].len = pvio_cpu_to_le32(1);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.seg[2].len = 0;
	/* A table entry outside the data area. */
	tbl[3].offset = pvio_cpu_to_le32(DATA_SIZE);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	tbl[3].offset = pvio_cpu_to_le32(8192 + 3 * 4096);
	/* Not negotiated: UNSUPP. */
	feat &= ~PVIO_NET_F_INDIRECT;
	assert_int_equal(tx_check(&r), PVIO_NET_S_UNSUPP);
}

static void test_tx_offloads(void **state)
{
	struct pvio_net_tx_req r = tx1(0, 1000);

	(void)state;
	set_csum(&r.hdr, 34, 16);
	assert_int_equal(tx_check(&r), PVIO_NET_S_OK);
	/* The checksum field must lie inside the frame. */
	set_csum(&r.hdr, 34, 1000 - 34 - 2);
	assert_int_equal(tx_check(&r), PVIO_NET_S_OK);
	set_csum(&r.hdr, 34, 1000 - 34 - 1);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	set_csum(&r.hdr, 13, 16);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	set_csum(&r.hdr, 34, 16);
	/* DATA_VALID is for received frames. */
	r.hdr.flags |= PVIO_NET_HDR_F_DATA_VALID;
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.hdr.flags &= ~PVIO_NET_HDR_F_DATA_VALID;
	feat &= ~PVIO_NET_F_CSUM;
	assert_int_equal(tx_check(&r), PVIO_NET_S_UNSUPP);
	feat = PVIO_NET_F_ALL;
	/* Checksum fields without NEEDS_CSUM. */
	r.hdr.flags = 0;
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	memset(&r.hdr, 0, sizeof(r.hdr));

	/* GSO: header length and segment size. */
	set_tso4(&r.hdr, 1448);
	assert_int_equal(tx_check(&r), PVIO_NET_S_OK);
	r.hdr.hdr_len = pvio_cpu_to_le16(53);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.hdr.hdr_len = pvio_cpu_to_le16(1001);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.hdr.hdr_len = pvio_cpu_to_le16(54);
	r.hdr.gso_size = 0;
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.hdr.gso_size = pvio_cpu_to_le16(65535 - 54 + 1);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.hdr.gso_size = pvio_cpu_to_le16(1448);
	r.hdr.flags = 0;
	r.hdr.csum_start = r.hdr.csum_offset = 0;
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	assert_string_equal(why, "GSO frame without NEEDS_CSUM");
	set_tso4(&r.hdr, 1448);
	r.hdr.gso_type = PVIO_NET_GSO_TCPV6;
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL); /* 54 < 74 */
	r.hdr.hdr_len = pvio_cpu_to_le16(74);
	assert_int_equal(tx_check(&r), PVIO_NET_S_OK);
	feat &= ~PVIO_NET_F_GSO_TCPV6;
	assert_int_equal(tx_check(&r), PVIO_NET_S_UNSUPP);
	feat = PVIO_NET_F_ALL;
	r.hdr.gso_type = 3;
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
}

static void test_tx_precedence(void **state)
{
	struct pvio_net_tx_req r = tx1(0, 5000);

	(void)state;
	/* Malformed (too long), TSO not negotiated, reserved set: INVAL
	 * for the reserved field comes first... */
	set_tso4(&r.hdr, 1448);
	feat &= ~PVIO_NET_F_GSO_TCPV4;
	r.reserved0 = pvio_cpu_to_le32(1);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	assert_string_equal(why, "reserved request field not zero");
	/* ... then UNSUPP for the offload, before the shape. */
	r.reserved0 = 0;
	r.seg[0].len = pvio_cpu_to_le32(1);
	assert_int_equal(tx_check(&r), PVIO_NET_S_UNSUPP);
	/* Unknown request flags and header flags are INVAL. */
	feat = PVIO_NET_F_ALL;
	r = tx1(0, 100);
	r.flags = pvio_cpu_to_le16(2);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.flags = 0;
	r.hdr.flags = 4;
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	r.hdr.flags = 0;
	r.hdr.reserved1 = pvio_cpu_to_le32(1);
	assert_int_equal(tx_check(&r), PVIO_NET_S_INVAL);
	/* More segments than the caller has room for. */
	r = tx1(0, 100);
	assert_int_equal(pvio_net_tx_validate(&r, &lim, feat, data, DATA_SIZE,
					      &vt, segs, 0, &why),
			 PVIO_NET_S_INVAL);
}

/* ---- RX buffers ---- */

static void test_rx_post(void **state)
{
	struct pvio_net_rx_req q;
	struct pvio_net_vseg b;
	uint32_t id;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.id = pvio_cpu_to_le32(3);
	q.buf.offset = pvio_cpu_to_le32(DATA_SIZE - 2048);
	q.buf.len = pvio_cpu_to_le32(2048);
	assert_int_equal(pvio_net_rx_post_validate(&q, &lim, feat, DATA_SIZE, &id, &b, &why),
			 PVIO_NET_S_OK);
	assert_int_equal(id, 3);
	assert_int_equal(b.len, 2048);
	q.buf.offset = pvio_cpu_to_le32(DATA_SIZE - 2047);
	assert_int_equal(pvio_net_rx_post_validate(&q, &lim, feat, DATA_SIZE, &id, &b, &why),
			 PVIO_NET_S_INVAL);
	q.buf.offset = 0;
	q.buf.len = 0;
	assert_int_equal(pvio_net_rx_post_validate(&q, &lim, feat, DATA_SIZE, &id, &b, &why),
			 PVIO_NET_S_INVAL);
	/* Least sizes: 256 with RX_MERGE, mtu + 18 without. */
	q.buf.len = pvio_cpu_to_le32(255);
	assert_int_equal(pvio_net_rx_post_validate(&q, &lim, feat, DATA_SIZE, &id, &b, &why),
			 PVIO_NET_S_UNUSED);
	q.buf.len = pvio_cpu_to_le32(256);
	assert_int_equal(pvio_net_rx_post_validate(&q, &lim, feat, DATA_SIZE, &id, &b, &why),
			 PVIO_NET_S_OK);
	feat &= ~PVIO_NET_F_RX_MERGE;
	assert_int_equal(pvio_net_rx_post_validate(&q, &lim, feat, DATA_SIZE, &id, &b, &why),
			 PVIO_NET_S_UNUSED);
	q.buf.len = pvio_cpu_to_le32(1518);
	assert_int_equal(pvio_net_rx_post_validate(&q, &lim, feat, DATA_SIZE, &id, &b, &why),
			 PVIO_NET_S_OK);
	q.reserved0 = pvio_cpu_to_le32(1);
	assert_int_equal(pvio_net_rx_post_validate(&q, &lim, feat, DATA_SIZE, &id, &b, &why),
			 PVIO_NET_S_INVAL);
}

/* ---- responses (frontend) ---- */

static void test_tx_rsp(void **state)
{
	struct pvio_net_tx_rsp r;
	struct pvio_net_vtx_rsp v;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(5);
	r.status = pvio_cpu_to_le16(PVIO_NET_S_DROPPED);
	assert_int_equal(pvio_net_tx_rsp_check(&r, &v, &why), 0);
	assert_int_equal(v.id, 5);
	assert_int_equal(v.status, PVIO_NET_S_DROPPED);
	r.status = pvio_cpu_to_le16(PVIO_NET_S_UNUSED);
	assert_int_equal(pvio_net_tx_rsp_check(&r, &v, &why), -EPROTO);
	r.status = pvio_cpu_to_le16(PVIO_NET_S_MAX + 1);
	assert_int_equal(pvio_net_tx_rsp_check(&r, &v, &why), -EPROTO);
	r.status = 0;
	r.reserved1 = pvio_cpu_to_le64(1);
	assert_int_equal(pvio_net_tx_rsp_check(&r, &v, &why), -EPROTO);
}

static struct pvio_net_rx_rsp rxr(uint32_t id, uint32_t len, uint16_t flags)
{
	struct pvio_net_rx_rsp r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(id);
	r.len = pvio_cpu_to_le32(len);
	r.flags = pvio_cpu_to_le16(flags);
	return r;
}

static void test_rx_rsp(void **state)
{
	struct pvio_net_rx_rsp r = rxr(1, 2048, 0);
	struct pvio_net_vrx_rsp v;

	(void)state;
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2048, feat, &v, &why), 0);
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2047, feat, &v, &why), -EPROTO);
	r = rxr(1, 0, 0);
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2048, feat, &v, &why), -EPROTO);
	r.status = pvio_cpu_to_le16(PVIO_NET_S_UNUSED);
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2048, feat, &v, &why), 0);
	r.hdr.flags = PVIO_NET_HDR_F_DATA_VALID;
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2048, feat, &v, &why), -EPROTO);
	r = rxr(1, 100, PVIO_NET_RX_F_MORE);
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2048, feat, &v, &why), 0);
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2048, feat & ~PVIO_NET_F_RX_MERGE,
					       &v, &why), -EPROTO);
	r = rxr(1, 100, 2);
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2048, feat, &v, &why), -EPROTO);
	r = rxr(1, 100, 0);
	r.status = pvio_cpu_to_le16(PVIO_NET_S_DROPPED);
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2048, feat, &v, &why), -EPROTO);
	r.status = 0;
	r.reserved0 = pvio_cpu_to_le32(1);
	assert_int_equal(pvio_net_rx_rsp_check(&r, 2048, feat, &v, &why), -EPROTO);
}

/* Feeds @n responses of @len bytes, the last without MORE. */
static int rx_frame(unsigned int n, uint32_t len, const struct pvio_net_hdr *h,
		    struct pvio_net_rx_frame *fr, bool *done)
{
	struct pvio_net_vrx_rsp v;
	unsigned int i;
	int ret = 0;

	memset(fr, 0, sizeof(*fr));
	for (i = 0; i < n && !ret; i++) {
		struct pvio_net_rx_rsp r = rxr(i, len, i + 1 < n ? PVIO_NET_RX_F_MORE : 0);

		if (i == 0 && h)
			r.hdr = *h;
		ret = pvio_net_rx_rsp_check(&r, 4096, feat, &v, &why);
		if (!ret)
			ret = pvio_net_rx_frame_add(fr, &v, feat, &lim, done, &why);
		if (!ret && i + 1 < n)
			assert_false(*done);
	}
	return ret;
}

static void test_rx_frames(void **state)
{
	struct pvio_net_rx_frame fr;
	struct pvio_net_hdr h;
	struct pvio_net_vrx_rsp v;
	bool done;

	(void)state;
	assert_int_equal(rx_frame(1, 1514, NULL, &fr, &done), 0);
	assert_true(done);
	assert_int_equal(fr.len, 1514);
	assert_int_equal(fr.nr_bufs, 1);
	/* Several buffers make a frame over the MTU only with GSO. */
	assert_int_equal(rx_frame(3, 1000, NULL, &fr, &done), -EPROTO);
	memset(&h, 0, sizeof(h));
	set_tso4(&h, 1448);
	assert_int_equal(rx_frame(3, 1000, &h, &fr, &done), 0);
	assert_true(done);
	assert_int_equal(fr.len, 3000);
	assert_int_equal(fr.hdr.gso_type, PVIO_NET_GSO_TCPV4);
	/* 64 buffers at most, 64 KiB at most. */
	assert_int_equal(rx_frame(64, 1000, &h, &fr, &done), 0);
	assert_int_equal(rx_frame(65, 1000, &h, &fr, &done), -EPROTO);
	assert_int_equal(rx_frame(17, 4096, &h, &fr, &done), -EPROTO);
	/* RX GSO not negotiated. */
	feat &= ~(PVIO_NET_F_GUEST_GSO_TCPV4 | PVIO_NET_F_GUEST_GSO_TCPV6);
	assert_int_equal(rx_frame(3, 1000, &h, &fr, &done), -EPROTO);
	feat = PVIO_NET_F_ALL;
	/* A header on a later buffer. */
	memset(&fr, 0, sizeof(fr));
	v = (struct pvio_net_vrx_rsp){ .status = 0, .flags = PVIO_NET_RX_F_MORE, .len = 100 };
	assert_int_equal(pvio_net_rx_frame_add(&fr, &v, feat, &lim, &done, &why), 0);
	v.flags = 0;
	v.hdr.flags = PVIO_NET_HDR_F_DATA_VALID;
	assert_int_equal(pvio_net_rx_frame_add(&fr, &v, feat, &lim, &done, &why), -EPROTO);
	/* An unused buffer inside a frame. */
	memset(&fr, 0, sizeof(fr));
	v = (struct pvio_net_vrx_rsp){ .status = 0, .flags = PVIO_NET_RX_F_MORE, .len = 100 };
	assert_int_equal(pvio_net_rx_frame_add(&fr, &v, feat, &lim, &done, &why), 0);
	v = (struct pvio_net_vrx_rsp){ .status = PVIO_NET_S_UNUSED };
	assert_int_equal(pvio_net_rx_frame_add(&fr, &v, feat, &lim, &done, &why), -EPROTO);
	assert_string_equal(why, "unused buffer inside a frame");
	/* DATA_VALID is fine towards the frontend, with GUEST_CSUM. */
	memset(&h, 0, sizeof(h));
	h.flags = PVIO_NET_HDR_F_DATA_VALID;
	assert_int_equal(rx_frame(1, 100, &h, &fr, &done), 0);
	feat &= ~PVIO_NET_F_GUEST_CSUM;
	assert_int_equal(rx_frame(1, 100, &h, &fr, &done), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_features, setup),
		cmocka_unit_test_setup(test_config_round_trip, setup),
		cmocka_unit_test_setup(test_config_rules, setup),
		cmocka_unit_test_setup(test_layout, setup),
		cmocka_unit_test_setup(test_tx_plain, setup),
		cmocka_unit_test_setup(test_tx_segments, setup),
		cmocka_unit_test_setup(test_tx_indirect, setup),
		cmocka_unit_test_setup(test_tx_offloads, setup),
		cmocka_unit_test_setup(test_tx_precedence, setup),
		cmocka_unit_test_setup(test_rx_post, setup),
		cmocka_unit_test_setup(test_tx_rsp, setup),
		cmocka_unit_test_setup(test_rx_rsp, setup),
		cmocka_unit_test_setup(test_rx_frames, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
