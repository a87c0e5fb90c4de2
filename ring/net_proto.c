// SPDX-License-Identifier: MIT
/*
 * pvio network protocol rules; see net_proto.h and include/pvio/net.h.
 * Everything here works on private copies; the only read of shared memory
 * is the copy of a TX segment table.
 */
#include "pvio_compat.h"
#include "net_proto.h"

/* A segment table is copied straight into the caller's array. */
PVIO_ABI_SIZE(struct pvio_net_vseg, sizeof(struct pvio_net_seg));

/* Least header bytes of a TCP segment: Ethernet, IPv4 or IPv6, TCP. */
#define NP_ETH_HLEN 14u
#define NP_GSO_V4_HDR_MIN (NP_ETH_HLEN + 20u + 20u)
#define NP_GSO_V6_HDR_MIN (NP_ETH_HLEN + 40u + 20u)

#define NP_FAIL(err, why)         \
	do {                      \
		*reason = (why);  \
		return (err);     \
	} while (0)

/**
 * pvio_net_features_check() - is a feature set consistent?
 * @features: offered (backend) or accepted (frontend) feature bits
 * @reason: the first broken rule ("ok" if none)
 *
 * Context: any.
 * Return: 0, or -EINVAL for bits net.h does not define, GSO without the
 * checksum offload of its direction, or receive GSO without RX_MERGE.
 */
int pvio_net_features_check(__u64 features, const char **reason)
{
	*reason = "ok";
	if (features & ~PVIO_NET_F_ALL)
		NP_FAIL(-EINVAL, "unknown feature bits");
	if ((features & (PVIO_NET_F_GSO_TCPV4 | PVIO_NET_F_GSO_TCPV6)) &&
	    !(features & PVIO_NET_F_CSUM))
		NP_FAIL(-EINVAL, "TX GSO without PVIO_NET_F_CSUM");
	if (features & (PVIO_NET_F_GUEST_GSO_TCPV4 | PVIO_NET_F_GUEST_GSO_TCPV6)) {
		if (!(features & PVIO_NET_F_GUEST_CSUM))
			NP_FAIL(-EINVAL, "RX GSO without PVIO_NET_F_GUEST_CSUM");
		if (!(features & PVIO_NET_F_RX_MERGE))
			NP_FAIL(-EINVAL, "RX GSO without PVIO_NET_F_RX_MERGE");
	}
	return 0;
}

/**
 * pvio_net_limits_from_config() - host-endian limits from a network config.
 * @cfg: a private copy of the config the backend wrote (or will write)
 * @features: the features the backend offers with it
 * @lim: filled in (also on failure, for diagnostics)
 * @reason: the first broken rule ("ok" if none)
 *
 * Context: any.
 * Return: 0, or -EINVAL: inconsistent @features, a multicast or all-zero
 * MAC address, an MTU outside PVIO_NET_MTU_MIN..MAX (or other than 1500
 * without PVIO_NET_F_MTU), queue pairs outside 1..PVIO_NET_MAX_QUEUE_PAIRS
 * (more than 1 without PVIO_NET_F_MQ), TX segments outside
 * 1..PVIO_NET_MAX_SEGS (more than inline without PVIO_NET_F_INDIRECT),
 * unknown status bits, queue depth 0, non-zero reserved bytes.
 */
int pvio_net_limits_from_config(const struct pvio_net_config *cfg,
				__u64 features, struct pvio_net_limits *lim,
				const char **reason)
{
	int ret;

	memcpy(lim->mac, cfg->mac, sizeof(lim->mac));
	lim->mtu = pvio_le16_to_cpu(cfg->mtu);
	lim->max_queue_pairs = pvio_le16_to_cpu(cfg->max_queue_pairs);
	lim->max_tx_segs = pvio_le16_to_cpu(cfg->max_tx_segs);
	lim->status = pvio_le32_to_cpu(cfg->status);
	lim->queue_depth = pvio_le32_to_cpu(cfg->queue_depth);

	ret = pvio_net_features_check(features, reason);
	if (ret)
		return ret;
	if (lim->mac[0] & 1)
		NP_FAIL(-EINVAL, "MAC address is a multicast address");
	if (pvio_all_zero(lim->mac, sizeof(lim->mac)))
		NP_FAIL(-EINVAL, "MAC address is zero");
	if (lim->mtu < PVIO_NET_MTU_MIN)
		NP_FAIL(-EINVAL, "MTU below 68");
	if (!(features & PVIO_NET_F_MTU) && lim->mtu != PVIO_NET_MTU_DEFAULT)
		NP_FAIL(-EINVAL, "MTU other than 1500 without PVIO_NET_F_MTU");
	if (lim->max_queue_pairs == 0 ||
	    lim->max_queue_pairs > PVIO_NET_MAX_QUEUE_PAIRS)
		NP_FAIL(-EINVAL, "queue pairs outside 1..16");
	if (!(features & PVIO_NET_F_MQ) && lim->max_queue_pairs != 1)
		NP_FAIL(-EINVAL, "several queue pairs without PVIO_NET_F_MQ");
	if (lim->max_tx_segs == 0 || lim->max_tx_segs > PVIO_NET_MAX_SEGS)
		NP_FAIL(-EINVAL, "TX segments outside 1..64");
	if (!(features & PVIO_NET_F_INDIRECT) &&
	    lim->max_tx_segs > PVIO_NET_INLINE_SEGS)
		NP_FAIL(-EINVAL, "more TX segments than inline without PVIO_NET_F_INDIRECT");
	if (lim->status & ~PVIO_NET_STATUS_MASK)
		NP_FAIL(-EINVAL, "unknown status bits");
	if (lim->queue_depth == 0)
		NP_FAIL(-EINVAL, "queue depth 0");
	if (!pvio_all_zero(cfg->reserved, sizeof(cfg->reserved)))
		NP_FAIL(-EINVAL, "reserved config bytes not zero");
	return 0;
}

/**
 * pvio_net_config_from_limits() - the config a backend publishes.
 * @lim: limits, checked by the caller's own rules
 * @cfg: written in full, reserved bytes zero
 *
 * Context: any.
 */
void pvio_net_config_from_limits(const struct pvio_net_limits *lim,
				 struct pvio_net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->mac, lim->mac, sizeof(cfg->mac));
	cfg->mtu = pvio_cpu_to_le16(lim->mtu);
	cfg->max_queue_pairs = pvio_cpu_to_le16(lim->max_queue_pairs);
	cfg->max_tx_segs = pvio_cpu_to_le16(lim->max_tx_segs);
	cfg->status = pvio_cpu_to_le32(lim->status);
	cfg->queue_depth = pvio_cpu_to_le32(lim->queue_depth);
}

/**
 * pvio_net_check_layout() - is a checked region layout a network one?
 * @l: from pvio_region_check() or pvio_region_layout()
 * @lim: the config's limits (pvio_net_limits_from_config())
 * @reason: the first broken rule ("ok" if none)
 *
 * Context: any.
 * Return: 0, or -EPROTO: another class, an odd number of queues or more
 * than 2 * max_queue_pairs, or a queue whose entry sizes are not its
 * kind's (TX: 64-byte requests, 16-byte responses; RX: 16 and 32).
 */
int pvio_net_check_layout(const struct pvio_region_layout *l,
			  const struct pvio_net_limits *lim,
			  const char **reason)
{
	unsigned int i;

	*reason = "ok";
	if (l->dev_class != PVIO_CLASS_NET)
		NP_FAIL(-EPROTO, "not a network device");
	if (l->num_queues < 2 || l->num_queues % 2)
		NP_FAIL(-EPROTO, "queues do not come in TX/RX pairs");
	if (l->num_queues > 2u * lim->max_queue_pairs)
		NP_FAIL(-EPROTO, "more queue pairs than the config allows");
	for (i = 0; i < l->num_queues; i++) {
		const struct pvio_region_queue *q = &l->queues[i];
		bool rx = i & 1;

		if (q->req_entry_size != (rx ? sizeof(struct pvio_net_rx_req) :
					  sizeof(struct pvio_net_tx_req)) ||
		    q->rsp_entry_size != (rx ? sizeof(struct pvio_net_rx_rsp) :
					  sizeof(struct pvio_net_tx_rsp)))
			NP_FAIL(-EPROTO, rx ? "RX queue entry sizes are not the network protocol's" :
				"TX queue entry sizes are not the network protocol's");
	}
	return 0;
}

/* Frame checks, in the order of the status precedence (net.h). */

static unsigned int np_hdr_reserved(const struct pvio_net_hdr *h,
				    bool to_backend, const char **reason)
{
	if (h->reserved0 || h->reserved1)
		NP_FAIL(PVIO_NET_S_INVAL, "reserved header fields not zero");
	if (h->flags & ~PVIO_NET_HDR_F_MASK)
		NP_FAIL(PVIO_NET_S_INVAL, "unknown header flags");
	if (h->gso_type > PVIO_NET_GSO_MAX)
		NP_FAIL(PVIO_NET_S_INVAL, "unknown GSO type");
	if (to_backend && (h->flags & PVIO_NET_HDR_F_DATA_VALID))
		NP_FAIL(PVIO_NET_S_INVAL, "DATA_VALID on a frame to send");
	return PVIO_NET_S_OK;
}

static unsigned int np_hdr_negotiated(const struct pvio_net_hdr *h,
				      __u64 features, bool to_backend,
				      const char **reason)
{
	__u64 csum = to_backend ? PVIO_NET_F_CSUM : PVIO_NET_F_GUEST_CSUM;
	__u64 v4 = to_backend ? PVIO_NET_F_GSO_TCPV4 : PVIO_NET_F_GUEST_GSO_TCPV4;
	__u64 v6 = to_backend ? PVIO_NET_F_GSO_TCPV6 : PVIO_NET_F_GUEST_GSO_TCPV6;

	if ((h->flags & (PVIO_NET_HDR_F_NEEDS_CSUM | PVIO_NET_HDR_F_DATA_VALID)) &&
	    !(features & csum))
		NP_FAIL(PVIO_NET_S_UNSUPP, "checksum offload not negotiated");
	if (h->gso_type == PVIO_NET_GSO_TCPV4 && !(features & v4))
		NP_FAIL(PVIO_NET_S_UNSUPP, "TCPv4 GSO not negotiated");
	if (h->gso_type == PVIO_NET_GSO_TCPV6 && !(features & v6))
		NP_FAIL(PVIO_NET_S_UNSUPP, "TCPv6 GSO not negotiated");
	return PVIO_NET_S_OK;
}

static unsigned int np_frame_shape(const struct pvio_net_hdr *h,
				   __u32 frame_len,
				   const struct pvio_net_limits *lim,
				   const char **reason)
{
	__u32 hdr_len = pvio_le16_to_cpu(h->hdr_len);
	__u32 gso_size = pvio_le16_to_cpu(h->gso_size);
	__u32 cs_start = pvio_le16_to_cpu(h->csum_start);
	__u32 cs_off = pvio_le16_to_cpu(h->csum_offset);

	if (frame_len < PVIO_NET_FRAME_MIN)
		NP_FAIL(PVIO_NET_S_INVAL, "frame shorter than an Ethernet header");
	if (h->gso_type == PVIO_NET_GSO_NONE) {
		if (frame_len > (__u32)lim->mtu + PVIO_NET_ETH_HLEN_MAX)
			NP_FAIL(PVIO_NET_S_INVAL, "frame longer than the MTU allows");
		if (hdr_len || gso_size)
			NP_FAIL(PVIO_NET_S_INVAL, "GSO fields set on a frame without GSO");
	} else {
		__u32 min = h->gso_type == PVIO_NET_GSO_TCPV4 ?
			    NP_GSO_V4_HDR_MIN : NP_GSO_V6_HDR_MIN;

		if (frame_len > PVIO_NET_GSO_FRAME_MAX)
			NP_FAIL(PVIO_NET_S_INVAL, "GSO frame over 64 KiB");
		if (!(h->flags & PVIO_NET_HDR_F_NEEDS_CSUM))
			NP_FAIL(PVIO_NET_S_INVAL, "GSO frame without NEEDS_CSUM");
		if (hdr_len < min || hdr_len > frame_len)
			NP_FAIL(PVIO_NET_S_INVAL, "GSO header length outside the frame's headers");
		if (gso_size == 0 || gso_size > 65535u - hdr_len)
			NP_FAIL(PVIO_NET_S_INVAL, "GSO segment size 0 or too large");
	}
	if (h->flags & PVIO_NET_HDR_F_NEEDS_CSUM) {
		if (cs_start < NP_ETH_HLEN)
			NP_FAIL(PVIO_NET_S_INVAL, "checksum start inside the Ethernet header");
		if (cs_start + cs_off + 2 > frame_len)
			NP_FAIL(PVIO_NET_S_INVAL, "checksum field outside the frame");
	} else if (cs_start || cs_off) {
		NP_FAIL(PVIO_NET_S_INVAL, "checksum fields set without NEEDS_CSUM");
	}
	return PVIO_NET_S_OK;
}

/**
 * pvio_net_frame_check() - a frame's length and offload header.
 * @hdr: a private copy of the frame's header
 * @frame_len: the frame's bytes
 * @features: negotiated features
 * @to_backend: true for a frame the frontend sends (TX), false for one
 *              the backend delivers (RX)
 * @lim: the config's limits
 * @reason: the first broken rule ("ok" if none)
 *
 * Context: any.
 * Return: PVIO_NET_S_OK; PVIO_NET_S_INVAL for reserved fields, unknown
 * flags or GSO type, DATA_VALID towards the backend; PVIO_NET_S_UNSUPP for
 * an offload of that direction not negotiated; PVIO_NET_S_INVAL for a
 * frame shorter than an Ethernet header, longer than the MTU allows (64
 * KiB with GSO), GSO without NEEDS_CSUM or with header length or segment
 * size out of range, a checksum field outside the frame, or fields set
 * that do not apply.
 */
unsigned int pvio_net_frame_check(const struct pvio_net_hdr *hdr,
				  __u32 frame_len, __u64 features,
				  bool to_backend,
				  const struct pvio_net_limits *lim,
				  const char **reason)
{
	unsigned int st;

	*reason = "ok";
	st = np_hdr_reserved(hdr, to_backend, reason);
	if (st == PVIO_NET_S_OK)
		st = np_hdr_negotiated(hdr, features, to_backend, reason);
	if (st == PVIO_NET_S_OK)
		st = np_frame_shape(hdr, frame_len, lim, reason);
	return st;
}

/* [offset, offset + len) inside a data area of @size bytes, len > 0. */
static bool np_inside(__u32 offset, __u32 len, __u64 size)
{
	return len && (__u64)offset + len <= size;
}

/**
 * pvio_net_tx_validate() - check one TX request (backend view).
 * @req: a private copy of the request, taken off the ring
 * @lim: the config's limits
 * @features: negotiated features
 * @data: this queue's data area (read only for a segment table)
 * @data_size: its bytes
 * @out: the validated request, filled in when PVIO_NET_S_OK is returned
 * @segs: room for the segments
 * @segs_cap: entries of @segs (at least lim->max_tx_segs to accept all)
 * @reason: the first broken rule ("ok" if none)
 *
 * Every buffer the request names lies inside the data area, and they add
 * up to the frame's length; the segment table is copied out of shared
 * memory once, then checked.
 *
 * Context: any.
 * Return: PVIO_NET_S_OK, or the status to answer with: PVIO_NET_S_INVAL
 * for reserved fields or unknown flags; PVIO_NET_S_UNSUPP for a segment
 * table or offload not negotiated; PVIO_NET_S_INVAL for a malformed
 * request (segment count, table, segments, length, frame).
 */
unsigned int pvio_net_tx_validate(const struct pvio_net_tx_req *req,
				  const struct pvio_net_limits *lim,
				  __u64 features, const void *data,
				  __u64 data_size, struct pvio_net_vtx *out,
				  struct pvio_net_vseg *segs,
				  unsigned int segs_cap, const char **reason)
{
	__u16 flags = pvio_le16_to_cpu(req->flags);
	__u32 nr = pvio_le16_to_cpu(req->nr_segs);
	__u32 len = pvio_le32_to_cpu(req->len);
	bool indirect = flags & PVIO_NET_TX_F_INDIRECT;
	__u64 total = 0;
	unsigned int i, st;

	*reason = "ok";
	/* 1. reserved fields and unknown flags */
	if (req->reserved0)
		NP_FAIL(PVIO_NET_S_INVAL, "reserved request field not zero");
	if (flags & ~PVIO_NET_TX_F_MASK)
		NP_FAIL(PVIO_NET_S_INVAL, "unknown request flags");
	st = np_hdr_reserved(&req->hdr, true, reason);
	if (st)
		return st;
	/* 2. what was not negotiated */
	if (indirect && !(features & PVIO_NET_F_INDIRECT))
		NP_FAIL(PVIO_NET_S_UNSUPP, "segment table not negotiated");
	st = np_hdr_negotiated(&req->hdr, features, true, reason);
	if (st)
		return st;
	/* 3. the request's shape */
	if (nr == 0 || nr > lim->max_tx_segs)
		NP_FAIL(PVIO_NET_S_INVAL, "segment count outside 1..max_tx_segs");
	if (nr > segs_cap)
		NP_FAIL(PVIO_NET_S_INVAL, "more segments than this backend takes");
	if (indirect) {
		__u32 toff = pvio_le32_to_cpu(req->seg[0].offset);
		__u32 tlen = pvio_le32_to_cpu(req->seg[0].len);

		if (!pvio_all_zero(&req->seg[1], sizeof(req->seg) - sizeof(req->seg[0])))
			NP_FAIL(PVIO_NET_S_INVAL, "inline segments beside a segment table");
		if (tlen != nr * sizeof(struct pvio_net_seg) || toff % 8)
			NP_FAIL(PVIO_NET_S_INVAL, "segment table length or alignment wrong");
		if (!np_inside(toff, tlen, data_size))
			NP_FAIL(PVIO_NET_S_INVAL, "segment table outside the data area");
		pvio_copy_from_shared(segs, (const unsigned char *)data + toff, tlen);
	} else {
		if (nr > PVIO_NET_INLINE_SEGS)
			NP_FAIL(PVIO_NET_S_INVAL, "more inline segments than the request holds");
		if (!pvio_all_zero(&req->seg[nr], sizeof(req->seg) - nr * sizeof(req->seg[0])))
			NP_FAIL(PVIO_NET_S_INVAL, "unused inline segments not zero");
		memcpy(segs, req->seg, nr * sizeof(req->seg[0]));
	}
	for (i = 0; i < nr; i++) {
		struct pvio_net_seg wire;

		/* In place: the copy's little-endian bytes become host-endian. */
		memcpy(&wire, &segs[i], sizeof(wire));
		segs[i].offset = pvio_le32_to_cpu(wire.offset);
		segs[i].len = pvio_le32_to_cpu(wire.len);
		if (!np_inside(segs[i].offset, segs[i].len, data_size))
			NP_FAIL(PVIO_NET_S_INVAL, "segment outside the data area");
		total += segs[i].len;
	}
	if (total != len)
		NP_FAIL(PVIO_NET_S_INVAL, "segments do not add up to the frame length");
	st = np_frame_shape(&req->hdr, len, lim, reason);
	if (st)
		return st;
	out->id = pvio_le32_to_cpu(req->id);
	out->len = len;
	out->nr_segs = nr;
	out->hdr = req->hdr;
	out->segs = segs;
	return PVIO_NET_S_OK;
}

/**
 * pvio_net_rx_post_validate() - check one posted RX buffer (backend view).
 * @req: a private copy of the request, taken off the ring
 * @lim: the config's limits
 * @features: negotiated features
 * @data_size: bytes of this queue's data area
 * @id: the request's id
 * @buf: the buffer, host-endian, when PVIO_NET_S_OK is returned
 * @reason: the first broken rule ("ok" if none)
 *
 * Context: any.
 * Return: PVIO_NET_S_OK; PVIO_NET_S_INVAL for a reserved field not zero or
 * a buffer empty or outside the data area; PVIO_NET_S_UNUSED for a buffer
 * smaller than a frame needs (PVIO_NET_RX_BUF_MIN with RX_MERGE, else
 * mtu + PVIO_NET_ETH_HLEN_MAX): answer it unused.
 */
unsigned int pvio_net_rx_post_validate(const struct pvio_net_rx_req *req,
				       const struct pvio_net_limits *lim,
				       __u64 features, __u64 data_size,
				       __u32 *id, struct pvio_net_vseg *buf,
				       const char **reason)
{
	__u32 min = (features & PVIO_NET_F_RX_MERGE) ? PVIO_NET_RX_BUF_MIN :
		    (__u32)lim->mtu + PVIO_NET_ETH_HLEN_MAX;

	*reason = "ok";
	*id = pvio_le32_to_cpu(req->id);
	buf->offset = pvio_le32_to_cpu(req->buf.offset);
	buf->len = pvio_le32_to_cpu(req->buf.len);
	if (req->reserved0)
		NP_FAIL(PVIO_NET_S_INVAL, "reserved request field not zero");
	if (!np_inside(buf->offset, buf->len, data_size))
		NP_FAIL(PVIO_NET_S_INVAL, "buffer empty or outside the data area");
	if (buf->len < min)
		NP_FAIL(PVIO_NET_S_UNUSED, "buffer smaller than a frame needs");
	return PVIO_NET_S_OK;
}

/**
 * pvio_net_tx_rsp_check() - check one TX response (frontend view).
 * @rsp: a private copy of the response, taken off the ring
 * @out: the checked response
 * @reason: the first broken rule ("ok" if none)
 *
 * Whether the id is outstanding is the caller's id table's business.
 *
 * Context: any.
 * Return: 0, or -EPROTO for a status a TX response cannot carry or
 * reserved fields not zero.
 */
int pvio_net_tx_rsp_check(const struct pvio_net_tx_rsp *rsp,
			  struct pvio_net_vtx_rsp *out, const char **reason)
{
	*reason = "ok";
	out->id = pvio_le32_to_cpu(rsp->id);
	out->status = pvio_le16_to_cpu(rsp->status);
	if (rsp->reserved0 || rsp->reserved1)
		NP_FAIL(-EPROTO, "reserved response fields not zero");
	if (out->status > PVIO_NET_S_MAX || out->status == PVIO_NET_S_UNUSED)
		NP_FAIL(-EPROTO, "status a TX response cannot carry");
	return 0;
}

/**
 * pvio_net_rx_rsp_check() - check one RX response (frontend view).
 * @rsp: a private copy of the response, taken off the ring
 * @buf_len: the length of the buffer its id was posted with
 * @features: negotiated features
 * @out: the checked response
 * @reason: the first broken rule ("ok" if none)
 *
 * The header is checked with the frame (pvio_net_rx_frame_add()).
 *
 * Context: any.
 * Return: 0, or -EPROTO: a status other than OK or UNUSED, reserved fields
 * or unknown flags, MORE without RX_MERGE, more bytes than the buffer
 * holds, an OK response with no bytes, or an UNUSED one with bytes, flags
 * or a header.
 */
int pvio_net_rx_rsp_check(const struct pvio_net_rx_rsp *rsp, __u32 buf_len,
			  __u64 features, struct pvio_net_vrx_rsp *out,
			  const char **reason)
{
	*reason = "ok";
	out->id = pvio_le32_to_cpu(rsp->id);
	out->status = pvio_le16_to_cpu(rsp->status);
	out->flags = pvio_le16_to_cpu(rsp->flags);
	out->len = pvio_le32_to_cpu(rsp->len);
	out->hdr = rsp->hdr;
	if (out->status != PVIO_NET_S_OK && out->status != PVIO_NET_S_UNUSED)
		NP_FAIL(-EPROTO, "status an RX response cannot carry");
	if (rsp->reserved0)
		NP_FAIL(-EPROTO, "reserved response field not zero");
	if (out->flags & ~PVIO_NET_RX_F_MASK)
		NP_FAIL(-EPROTO, "unknown response flags");
	if ((out->flags & PVIO_NET_RX_F_MORE) && !(features & PVIO_NET_F_RX_MERGE))
		NP_FAIL(-EPROTO, "frame over several buffers without RX_MERGE");
	if (out->len > buf_len)
		NP_FAIL(-EPROTO, "more bytes than the buffer holds");
	if (out->status == PVIO_NET_S_UNUSED) {
		if (out->len || out->flags || !pvio_all_zero(&rsp->hdr, sizeof(rsp->hdr)))
			NP_FAIL(-EPROTO, "unused buffer with bytes, flags or a header");
	} else if (!out->len) {
		NP_FAIL(-EPROTO, "filled buffer with no bytes");
	}
	return 0;
}

/**
 * pvio_net_rx_frame_add() - add one checked RX response to a frame.
 * @fr: the frame being put together (zero at the start of a frame; the
 *      caller zeroes it again once it took a complete frame)
 * @rsp: from pvio_net_rx_rsp_check(), status OK (an UNUSED buffer belongs
 *       to no frame: pass it only to have it refused inside one)
 * @features: negotiated features
 * @lim: the config's limits
 * @done: set when @rsp was the frame's last buffer; @fr then holds the
 *        frame's length, buffer count and header, checked
 * @reason: the first broken rule ("ok" if none)
 *
 * Context: any.
 * Return: 0, or -EPROTO: an UNUSED buffer inside a frame, a header on a
 * buffer other than the first, more than PVIO_NET_MAX_RX_BUFS buffers or
 * PVIO_NET_GSO_FRAME_MAX bytes, or a complete frame whose length or
 * header pvio_net_frame_check() refuses.
 */
int pvio_net_rx_frame_add(struct pvio_net_rx_frame *fr,
			  const struct pvio_net_vrx_rsp *rsp, __u64 features,
			  const struct pvio_net_limits *lim, bool *done,
			  const char **reason)
{
	*reason = "ok";
	*done = false;
	if (rsp->status != PVIO_NET_S_OK)
		NP_FAIL(-EPROTO, fr->nr_bufs ? "unused buffer inside a frame" :
			"unused buffer taken for a frame");
	if (!fr->nr_bufs)
		fr->hdr = rsp->hdr;
	else if (!pvio_all_zero(&rsp->hdr, sizeof(rsp->hdr)))
		NP_FAIL(-EPROTO, "offload header on a buffer other than the first");
	if (fr->nr_bufs >= PVIO_NET_MAX_RX_BUFS)
		NP_FAIL(-EPROTO, "frame over more than 64 buffers");
	if ((__u64)fr->len + rsp->len > PVIO_NET_GSO_FRAME_MAX)
		NP_FAIL(-EPROTO, "frame over 64 KiB");
	fr->nr_bufs++;
	fr->len += rsp->len;
	if (rsp->flags & PVIO_NET_RX_F_MORE)
		return 0;
	if (pvio_net_frame_check(&fr->hdr, fr->len, features, false, lim,
				 reason) != PVIO_NET_S_OK)
		return -EPROTO;
	*done = true;
	return 0;
}
