// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the network class, frontend view (ring/net_proto.c): the
 * config a backend published, then TX responses and RX responses as a
 * backend wrote them, through pvio_net_tx_rsp_check(),
 * pvio_net_rx_rsp_check() and pvio_net_rx_frame_add(), which puts
 * received frames together.
 *
 * Input (little-endian; missing bytes read as zero):
 *    8 B  negotiated features (made consistent: refused sets become
 *         PVIO_NET_F_ALL)
 *  256 B  struct pvio_net_config; one pvio_net_limits_from_config()
 *         refuses is replaced by a valid one (MTU 1500)
 *   then  operations: one byte, then its operand:
 *         op % 3 == 0: a 16-byte struct pvio_net_tx_rsp
 *         op % 3 == 1: a 32-byte struct pvio_net_rx_rsp and 2 B: the
 *                      length its buffer was posted with
 *         op % 3 == 2: the frame being put together is abandoned (as a
 *                      frontend does when it marks the device broken)
 *
 * A model beside the code under test counts each frame's bytes and
 * buffers: every frame reported complete has the length and buffer count
 * of the responses that made it, at most PVIO_NET_MAX_RX_BUFS buffers and
 * 64 KiB, a header the frame check accepts; a response accepted never
 * claims more bytes than its buffer.
 */
#include "fuzz_common.h"
#include "net_proto.h"

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
	static const __u8 mac[6] = { 0x02, 0, 0, 0, 0, 1 };
	struct pvio_net_rx_frame fr;
	struct pvio_net_config cfg;
	struct pvio_net_limits lim;
	__u32 model_len = 0, model_bufs = 0;
	unsigned int steps = 0;
	const char *reason;
	__u64 feat;
	struct fz f;

	fz_init(&f, data, size);
	feat = fz_u64(&f);
	if (pvio_net_features_check(feat, &reason))
		feat = PVIO_NET_F_ALL;
	fz_bytes(&f, &cfg, sizeof(cfg));
	if (pvio_net_limits_from_config(&cfg, feat, &lim, &reason)) {
		memset(&lim, 0, sizeof(lim));
		memcpy(lim.mac, mac, 6);
		lim.mtu = PVIO_NET_MTU_DEFAULT;
		lim.max_queue_pairs = 1;
		lim.max_tx_segs = 1;
		lim.queue_depth = 1;
	}
	memset(&fr, 0, sizeof(fr));

	while (fz_left(&f) && steps++ < 1024) {
		__u8 op = fz_u8(&f);

		if (op % 3 == 0) {
			struct pvio_net_tx_rsp r;
			struct pvio_net_vtx_rsp v;

			fz_bytes(&f, &r, sizeof(r));
			reason = NULL;
			if (pvio_net_tx_rsp_check(&r, &v, &reason) == 0) {
				FZ_ASSERT(v.status <= PVIO_NET_S_MAX &&
					  v.status != PVIO_NET_S_UNUSED);
				FZ_ASSERT(!r.reserved0 && !r.reserved1);
			}
			FZ_ASSERT(reason != NULL);
		} else if (op % 3 == 1) {
			struct pvio_net_rx_rsp r;
			struct pvio_net_vrx_rsp v;
			__u32 buf_len;
			bool done;
			int ret;

			fz_bytes(&f, &r, sizeof(r));
			buf_len = fz_u16(&f);
			if (pvio_net_rx_rsp_check(&r, buf_len, feat, &v, &reason)) {
				/* A broken device: the frame goes too. */
				memset(&fr, 0, sizeof(fr));
				model_len = model_bufs = 0;
				continue;
			}
			FZ_ASSERT(v.len <= buf_len);
			FZ_ASSERT(v.status == PVIO_NET_S_OK || v.status == PVIO_NET_S_UNUSED);
			FZ_ASSERT(!(v.flags & PVIO_NET_RX_F_MORE) || (feat & PVIO_NET_F_RX_MERGE));
			if (v.status == PVIO_NET_S_UNUSED) {
				FZ_ASSERT(v.len == 0 && v.flags == 0);
				if (!fr.nr_bufs)
					continue; /* a returned buffer, no frame */
			}
			ret = pvio_net_rx_frame_add(&fr, &v, feat, &lim, &done, &reason);
			if (ret) {
				FZ_ASSERT(ret == -EPROTO && !done);
				memset(&fr, 0, sizeof(fr));
				model_len = model_bufs = 0;
				continue;
			}
			model_len += v.len;
			model_bufs++;
			FZ_ASSERT(fr.len == model_len && fr.nr_bufs == model_bufs);
			FZ_ASSERT(fr.nr_bufs <= PVIO_NET_MAX_RX_BUFS);
			FZ_ASSERT(fr.len <= PVIO_NET_GSO_FRAME_MAX);
			FZ_ASSERT(done == !(v.flags & PVIO_NET_RX_F_MORE));
			if (done) {
				FZ_ASSERT(fr.len >= PVIO_NET_FRAME_MIN);
				FZ_ASSERT(pvio_net_frame_check(&fr.hdr, fr.len, feat, false,
							       &lim, &reason) == PVIO_NET_S_OK);
				if (fr.hdr.gso_type == PVIO_NET_GSO_NONE)
					FZ_ASSERT(fr.len <= (__u32)lim.mtu + PVIO_NET_ETH_HLEN_MAX);
				memset(&fr, 0, sizeof(fr));
				model_len = model_bufs = 0;
			}
		} else {
			memset(&fr, 0, sizeof(fr));
			model_len = model_bufs = 0;
		}
	}
	return 0;
}
