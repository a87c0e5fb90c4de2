// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the network class, backend view (ring/net_proto.c): the
 * config a backend is given, then TX requests and posted RX buffers as a
 * frontend wrote them, through pvio_net_tx_validate() and
 * pvio_net_rx_post_validate().
 *
 * Input (little-endian; missing bytes read as zero):
 *    8 B  features (made consistent: refused sets become PVIO_NET_F_ALL)
 *  256 B  struct pvio_net_config; one pvio_net_limits_from_config()
 *         refuses is replaced by a valid one (MTU 1500, 18 segments)
 *    4 B  data area size (0..PVIO_FUZZ_DATA)
 *    2 B  bytes of input copied to the data area's start (tables)
 *   then  that many bytes, then operations: one byte, then its operand:
 *         even: a 64-byte struct pvio_net_tx_req
 *         odd:  a 16-byte struct pvio_net_rx_req
 *
 * The data area ends where a heap buffer ends, so a table read past it
 * is an AddressSanitizer report. Everything accepted is checked again
 * here against net.h: segments inside the data area adding up to the
 * frame, the count within max_tx_segs, lengths within the MTU or GSO
 * limit, offloads negotiated; refusals carry a status the ABI allows.
 */
#include "fuzz_common.h"
#include "net_proto.h"

#define PVIO_FUZZ_DATA (64u * 1024u)

static void good_limits(struct pvio_net_limits *lim)
{
	static const __u8 mac[6] = { 0x02, 0, 0, 0, 0, 1 };

	memset(lim, 0, sizeof(*lim));
	memcpy(lim->mac, mac, 6);
	lim->mtu = PVIO_NET_MTU_DEFAULT;
	lim->max_queue_pairs = 1;
	lim->max_tx_segs = 18;
	lim->queue_depth = 256;
}

static void check_tx(const struct pvio_net_tx_req *req,
		     const struct pvio_net_limits *lim, __u64 feat,
		     const unsigned char *data, __u64 dsize)
{
	static struct pvio_net_vseg segs[PVIO_NET_MAX_SEGS];
	struct pvio_net_vtx vt;
	const char *reason = NULL;
	unsigned int st, i;
	__u64 sum = 0;

	st = pvio_net_tx_validate(req, lim, feat, data, dsize, &vt, segs,
				  PVIO_NET_MAX_SEGS, &reason);
	FZ_ASSERT(reason != NULL);
	if (st != PVIO_NET_S_OK) {
		FZ_ASSERT(st == PVIO_NET_S_INVAL || st == PVIO_NET_S_UNSUPP);
		return;
	}
	FZ_ASSERT(!req->reserved0);
	FZ_ASSERT(!(pvio_le16_to_cpu(req->flags) & ~PVIO_NET_TX_F_MASK));
	FZ_ASSERT(vt.nr_segs >= 1 && vt.nr_segs <= lim->max_tx_segs);
	FZ_ASSERT(vt.segs == segs);
	for (i = 0; i < vt.nr_segs; i++) {
		FZ_ASSERT(segs[i].len > 0);
		FZ_ASSERT((__u64)segs[i].offset + segs[i].len <= dsize);
		sum += segs[i].len;
	}
	FZ_ASSERT(sum == vt.len);
	FZ_ASSERT(vt.len >= PVIO_NET_FRAME_MIN);
	if (vt.hdr.gso_type == PVIO_NET_GSO_NONE)
		FZ_ASSERT(vt.len <= (__u32)lim->mtu + PVIO_NET_ETH_HLEN_MAX);
	else
		FZ_ASSERT(vt.len <= PVIO_NET_GSO_FRAME_MAX &&
			  (vt.hdr.flags & PVIO_NET_HDR_F_NEEDS_CSUM));
	FZ_ASSERT(!(vt.hdr.flags & PVIO_NET_HDR_F_DATA_VALID));
	if (vt.hdr.flags & PVIO_NET_HDR_F_NEEDS_CSUM)
		FZ_ASSERT((feat & PVIO_NET_F_CSUM) &&
			  (__u32)pvio_le16_to_cpu(vt.hdr.csum_start) +
			  pvio_le16_to_cpu(vt.hdr.csum_offset) + 2 <= vt.len);
	if (vt.hdr.gso_type == PVIO_NET_GSO_TCPV4)
		FZ_ASSERT(feat & PVIO_NET_F_GSO_TCPV4);
	if (vt.hdr.gso_type == PVIO_NET_GSO_TCPV6)
		FZ_ASSERT(feat & PVIO_NET_F_GSO_TCPV6);
	if (pvio_le16_to_cpu(req->flags) & PVIO_NET_TX_F_INDIRECT)
		FZ_ASSERT(feat & PVIO_NET_F_INDIRECT);
	/* The frame check alone agrees. */
	FZ_ASSERT(pvio_net_frame_check(&vt.hdr, vt.len, feat, true, lim,
				       &reason) == PVIO_NET_S_OK);
}

static void check_rx_post(const struct pvio_net_rx_req *req,
			  const struct pvio_net_limits *lim, __u64 feat,
			  __u64 dsize)
{
	struct pvio_net_vseg b;
	const char *reason = NULL;
	unsigned int st;
	__u32 id;

	st = pvio_net_rx_post_validate(req, lim, feat, dsize, &id, &b, &reason);
	FZ_ASSERT(reason != NULL);
	FZ_ASSERT(id == pvio_le32_to_cpu(req->id));
	if (st == PVIO_NET_S_INVAL)
		return;
	FZ_ASSERT(st == PVIO_NET_S_OK || st == PVIO_NET_S_UNUSED);
	FZ_ASSERT(!req->reserved0);
	FZ_ASSERT(b.len > 0 && (__u64)b.offset + b.len <= dsize);
	if (st == PVIO_NET_S_OK)
		FZ_ASSERT(b.len >= ((feat & PVIO_NET_F_RX_MERGE) ? PVIO_NET_RX_BUF_MIN :
				    (__u32)lim->mtu + PVIO_NET_ETH_HLEN_MAX));
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
	struct pvio_net_config cfg;
	struct pvio_net_limits lim;
	const char *reason;
	unsigned char *area;
	unsigned int steps = 0;
	__u64 feat;
	__u32 dsize;
	__u16 fill;
	struct fz f;

	fz_init(&f, data, size);
	feat = fz_u64(&f);
	if (pvio_net_features_check(feat, &reason))
		feat = PVIO_NET_F_ALL;
	fz_bytes(&f, &cfg, sizeof(cfg));
	if (pvio_net_limits_from_config(&cfg, feat, &lim, &reason)) {
		good_limits(&lim);
	} else {
		/* Accepted: it comes back byte for byte. */
		struct pvio_net_config again;

		pvio_net_config_from_limits(&lim, &again);
		FZ_ASSERT(!memcmp(&again, &cfg, sizeof(cfg)));
		FZ_ASSERT(lim.mtu >= PVIO_NET_MTU_MIN);
		FZ_ASSERT(lim.max_tx_segs >= 1 && lim.max_tx_segs <= PVIO_NET_MAX_SEGS);
		FZ_ASSERT(!(lim.mac[0] & 1));
	}
	dsize = fz_u32(&f) % (PVIO_FUZZ_DATA + 1);
	/* The data area ends at the end of the allocation (ASan). */
	area = malloc(dsize ? dsize : 1);
	if (!area)
		return 0;
	memset(area, 0, dsize ? dsize : 1);
	fill = fz_u16(&f);
	fz_bytes(&f, area, fill < dsize ? fill : dsize);

	while (fz_left(&f) && steps++ < 1024) {
		if (fz_u8(&f) % 2 == 0) {
			struct pvio_net_tx_req r;

			fz_bytes(&f, &r, sizeof(r));
			check_tx(&r, &lim, feat, area, dsize);
		} else {
			struct pvio_net_rx_req r;

			fz_bytes(&f, &r, sizeof(r));
			check_rx_post(&r, &lim, feat, dsize);
		}
	}
	free(area);
	return 0;
}
