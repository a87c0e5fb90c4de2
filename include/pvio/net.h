/* SPDX-License-Identifier: MIT */
/*
 * pvio network protocol (dev_class PVIO_CLASS_NET).
 *
 * Queues come in pairs: pair p is queue 2p (TX) and queue 2p + 1 (RX), so
 * the region's num_queues is even, 2 * (queue pairs), and at most
 * 2 * max_queue_pairs of the config. The two kinds have their own entry
 * sizes (region.h: every queue descriptor carries its own):
 *
 *   TX  requests  struct pvio_net_tx_req (64 bytes): one frame to send,
 *                 in buffers of the TX queue's data area that the
 *                 frontend filled;
 *       responses struct pvio_net_tx_rsp (16 bytes): the frame was taken
 *                 (sent, or dropped with a reason); its buffers are the
 *                 frontend's again.
 *   RX  requests  struct pvio_net_rx_req (16 bytes): one empty buffer in
 *                 the RX queue's data area, posted by the frontend;
 *       responses struct pvio_net_rx_rsp (32 bytes): the buffer, filled
 *                 with (part of) a received frame, or returned unused.
 *
 * This is the netif model of Xen's split network drivers on pvio rings:
 * the data area of each queue belongs to the frontend, which decides where
 * every buffer lies; the backend only ever reads TX buffers and writes RX
 * buffers it was given, and answers every request exactly once, in any
 * order. Frames are Ethernet frames without the FCS, starting with the
 * destination MAC address.
 *
 * A frame on RX may span several buffers when PVIO_NET_F_RX_MERGE was
 * negotiated: its responses are consecutive on the RX ring, each but the
 * last with PVIO_NET_RX_F_MORE, at most PVIO_NET_MAX_RX_BUFS of them; the
 * offload header is in the first and zero in the others; buffers a frame
 * did not need stay posted. A backend may hold the buffers posted until
 * they add up to the largest frame it may deliver (PVIO_NET_GSO_FRAME_MAX
 * with receive GSO, else mtu + PVIO_NET_ETH_HLEN_MAX; within the first
 * PVIO_NET_MAX_RX_BUFS of them), so a frontend posts at least that much.
 * Without it, every frame fits the one buffer it arrives in, and the
 * frontend posts buffers of at least mtu + PVIO_NET_ETH_HLEN_MAX bytes.
 *
 * Offloads, in the per-frame struct pvio_net_hdr (the same meaning as the
 * Linux virtio-net header, so a backend can hand it to a TAP as is):
 *   - PVIO_NET_HDR_F_NEEDS_CSUM: the frame's L4 checksum is not filled in;
 *     the receiver of the frame sums from csum_start to the end of the
 *     frame and stores the result at csum_start + csum_offset. Allowed
 *     frontend to backend with PVIO_NET_F_CSUM, backend to frontend with
 *     PVIO_NET_F_GUEST_CSUM.
 *   - PVIO_NET_HDR_F_DATA_VALID (backend to frontend only, with
 *     PVIO_NET_F_GUEST_CSUM): the checksums were verified.
 *   - gso_type other than NONE: the frame is a TCP segment of up to 64 KiB
 *     to be cut into gso_size-byte segments by whoever sends it on (hdr_len
 *     bytes of Ethernet, IP and TCP headers repeated in each); it needs
 *     NEEDS_CSUM. Allowed frontend to backend with PVIO_NET_F_GSO_TCPV4 /
 *     _TCPV6, backend to frontend with PVIO_NET_F_GUEST_GSO_TCPV4 / _TCPV6
 *     (which need RX_MERGE: such frames do not fit one buffer).
 * A frame without offloads has an all-zero header.
 *
 * Link: the carrier is on while both sides are CONNECTED (region.h); with
 * PVIO_NET_F_LINK_STATUS the backend may also report its own link (a TAP
 * that is down) in config.status, which it may change while connected: it
 * writes the new status and rings the frontend's control vector (0). This
 * is the only config field that changes while connected.
 *
 * Repeated requests. After a backend restart (region.h, "Backend restart")
 * the frontend submits again every request it holds unanswered: a TX frame
 * the dead instance had already sent goes out twice (networks may duplicate
 * frames; the protocols above them cope), and RX buffers are simply posted
 * again. Nothing else is repeated.
 *
 * Orderly close (region.h): the backend answers every request it took;
 * RX buffers it did not fill are answered with PVIO_NET_S_UNUSED.
 */
#ifndef PVIO_NET_H
#define PVIO_NET_H

#include "abi.h"
#include "region.h"

/* Queue indices of queue pair @p. */
#define PVIO_NET_TXQ(p) (2u * (p))
#define PVIO_NET_RXQ(p) (2u * (p) + 1u)
#define PVIO_NET_MAX_QUEUE_PAIRS (PVIO_MAX_QUEUES / 2u)

/* Ethernet header with one VLAN tag, the most a frame adds to its MTU. */
#define PVIO_NET_ETH_HLEN_MAX 18u
/* Smallest frame: an Ethernet header. */
#define PVIO_NET_FRAME_MIN 14u
/* Largest frame with GSO (a 64 KiB IP packet and its Ethernet header). */
#define PVIO_NET_GSO_FRAME_MAX (65535u + PVIO_NET_ETH_HLEN_MAX)
/* MTU limits (config.mtu, bytes of L3 payload per frame without GSO). */
#define PVIO_NET_MTU_MIN 68u
#define PVIO_NET_MTU_DEFAULT 1500u
#define PVIO_NET_MTU_MAX 65535u
/* Buffers of one TX frame: inline, and at most through a table. */
#define PVIO_NET_INLINE_SEGS 4u
#define PVIO_NET_MAX_SEGS 64u
/* Buffers of one RX frame with PVIO_NET_F_RX_MERGE, and their least size. */
#define PVIO_NET_MAX_RX_BUFS 64u
#define PVIO_NET_RX_BUF_MIN 256u

/* Feature bits (class range, bits 0-31 of pvio_side.features). */
#define PVIO_NET_F_CSUM (1ull << 0)           /* TX: NEEDS_CSUM frames */
#define PVIO_NET_F_GUEST_CSUM (1ull << 1)     /* RX: NEEDS_CSUM, DATA_VALID */
#define PVIO_NET_F_GSO_TCPV4 (1ull << 2)      /* TX: TCPv4 GSO (needs CSUM) */
#define PVIO_NET_F_GSO_TCPV6 (1ull << 3)      /* TX: TCPv6 GSO (needs CSUM) */
#define PVIO_NET_F_GUEST_GSO_TCPV4 (1ull << 4) /* RX: needs GUEST_CSUM, RX_MERGE */
#define PVIO_NET_F_GUEST_GSO_TCPV6 (1ull << 5) /* RX: needs GUEST_CSUM, RX_MERGE */
#define PVIO_NET_F_RX_MERGE (1ull << 6)       /* RX frames over several buffers */
#define PVIO_NET_F_MQ (1ull << 7)             /* more than one queue pair */
#define PVIO_NET_F_MTU (1ull << 8)            /* config.mtu other than 1500 */
#define PVIO_NET_F_INDIRECT (1ull << 9)       /* TX segment tables */
#define PVIO_NET_F_LINK_STATUS (1ull << 10)   /* config.status is live */
#define PVIO_NET_F_ALL 0x7ffull

/* Offload header flags (pvio_net_hdr.flags); other bits reserved, zero. */
#define PVIO_NET_HDR_F_NEEDS_CSUM 0x01u
#define PVIO_NET_HDR_F_DATA_VALID 0x02u
#define PVIO_NET_HDR_F_MASK 0x03u

/* pvio_net_hdr.gso_type. */
#define PVIO_NET_GSO_NONE 0u
#define PVIO_NET_GSO_TCPV4 1u
#define PVIO_NET_GSO_TCPV6 2u
#define PVIO_NET_GSO_MAX 2u

/*
 * Per-frame offload header. With NEEDS_CSUM, csum_start + csum_offset + 2
 * lies within the frame and csum_start at or after its Ethernet header;
 * with GSO, hdr_len (bytes up to the end of the TCP header) is at most
 * the frame's length, and gso_size is 1..65535 - hdr_len. Fields that do
 * not apply are zero.
 */
struct pvio_net_hdr {
	__u8 flags;          /* PVIO_NET_HDR_F_* */
	__u8 gso_type;       /* PVIO_NET_GSO_* */
	__le16 hdr_len;      /* GSO: bytes of headers repeated per segment */
	__le16 gso_size;     /* GSO: payload bytes per segment (MSS) */
	__le16 csum_start;   /* NEEDS_CSUM: where summing starts */
	__le16 csum_offset;  /* NEEDS_CSUM: checksum field, from csum_start */
	__le16 reserved0;    /* zero */
	__le32 reserved1;    /* zero */
};
PVIO_ABI_SIZE(struct pvio_net_hdr, 16);
PVIO_ABI_OFFSET(struct pvio_net_hdr, flags, 0);
PVIO_ABI_OFFSET(struct pvio_net_hdr, gso_type, 1);
PVIO_ABI_OFFSET(struct pvio_net_hdr, hdr_len, 2);
PVIO_ABI_OFFSET(struct pvio_net_hdr, gso_size, 4);
PVIO_ABI_OFFSET(struct pvio_net_hdr, csum_start, 6);
PVIO_ABI_OFFSET(struct pvio_net_hdr, csum_offset, 8);
PVIO_ABI_OFFSET(struct pvio_net_hdr, reserved0, 10);
PVIO_ABI_OFFSET(struct pvio_net_hdr, reserved1, 12);

/* One buffer in the queue's data area: offset + len lies inside it. */
struct pvio_net_seg {
	__le32 offset; /* bytes from the start of this queue's data area */
	__le32 len;    /* bytes, non-zero */
};
PVIO_ABI_SIZE(struct pvio_net_seg, 8);
PVIO_ABI_OFFSET(struct pvio_net_seg, offset, 0);
PVIO_ABI_OFFSET(struct pvio_net_seg, len, 4);

/* TX request flags (pvio_net_tx_req.flags); other bits reserved, zero. */
#define PVIO_NET_TX_F_INDIRECT 0x0001u /* seg[0] names a segment table */
#define PVIO_NET_TX_F_MASK 0x0001u

/*
 * A frame to send, written by the frontend once, in full, to a TX request
 * ring slot. The segments, taken in order, hold exactly len bytes of frame:
 * len is PVIO_NET_FRAME_MIN..mtu + PVIO_NET_ETH_HLEN_MAX, or up to
 * PVIO_NET_GSO_FRAME_MAX for a GSO frame. At most PVIO_NET_INLINE_SEGS
 * segments sit in seg[] (unused entries zero); with PVIO_NET_F_INDIRECT
 * negotiated, PVIO_NET_TX_F_INDIRECT makes seg[0] name a table in the
 * data area holding nr_segs struct pvio_net_seg entries (8-byte aligned),
 * and seg[1..3] are zero. nr_segs is 1..max_tx_segs of the config.
 */
struct pvio_net_tx_req {
	__le32 id;        /* frontend's tag, echoed in the response */
	__le16 flags;     /* PVIO_NET_TX_F_* */
	__le16 nr_segs;   /* segments, inline or in the table */
	__le32 len;       /* frame bytes */
	__le32 reserved0; /* zero */
	struct pvio_net_hdr hdr;
	struct pvio_net_seg seg[PVIO_NET_INLINE_SEGS];
};
PVIO_ABI_SIZE(struct pvio_net_tx_req, 64);
PVIO_ABI_OFFSET(struct pvio_net_tx_req, id, 0);
PVIO_ABI_OFFSET(struct pvio_net_tx_req, flags, 4);
PVIO_ABI_OFFSET(struct pvio_net_tx_req, nr_segs, 6);
PVIO_ABI_OFFSET(struct pvio_net_tx_req, len, 8);
PVIO_ABI_OFFSET(struct pvio_net_tx_req, reserved0, 12);
PVIO_ABI_OFFSET(struct pvio_net_tx_req, hdr, 16);
PVIO_ABI_OFFSET(struct pvio_net_tx_req, seg, 32);

/*
 * Response status (TX and RX). A TX request that breaks several rules is
 * answered with the first that applies: INVAL for reserved fields or
 * unknown flags; UNSUPP for an offload or flag not negotiated; INVAL for a
 * malformed request (segments, lengths, header fields).
 */
#define PVIO_NET_S_OK 0u      /* TX: sent on; RX: the buffer holds frame data */
#define PVIO_NET_S_DROPPED 1u /* TX: valid, not sent (link down, host queue full) */
#define PVIO_NET_S_INVAL 2u   /* malformed request */
#define PVIO_NET_S_UNSUPP 3u  /* offload or flag not negotiated */
#define PVIO_NET_S_UNUSED 4u  /* RX: buffer returned empty (close, too small) */
#define PVIO_NET_S_MAX 4u

/* A TX response, written by the backend once, in full. */
struct pvio_net_tx_rsp {
	__le32 id;        /* id of the request answered */
	__le16 status;    /* PVIO_NET_S_OK, _DROPPED, _INVAL, _UNSUPP */
	__le16 reserved0; /* zero */
	__le64 reserved1; /* zero */
};
PVIO_ABI_SIZE(struct pvio_net_tx_rsp, 16);
PVIO_ABI_OFFSET(struct pvio_net_tx_rsp, id, 0);
PVIO_ABI_OFFSET(struct pvio_net_tx_rsp, status, 4);

/*
 * An empty buffer for received frames, posted by the frontend to an RX
 * request ring. buf.len is at least PVIO_NET_RX_BUF_MIN with RX_MERGE,
 * else at least mtu + PVIO_NET_ETH_HLEN_MAX (a backend answers a smaller
 * one UNUSED).
 */
struct pvio_net_rx_req {
	__le32 id;        /* frontend's tag, echoed in the response */
	__le32 reserved0; /* zero */
	struct pvio_net_seg buf;
};
PVIO_ABI_SIZE(struct pvio_net_rx_req, 16);
PVIO_ABI_OFFSET(struct pvio_net_rx_req, id, 0);
PVIO_ABI_OFFSET(struct pvio_net_rx_req, reserved0, 4);
PVIO_ABI_OFFSET(struct pvio_net_rx_req, buf, 8);

/* RX response flags (pvio_net_rx_rsp.flags); other bits reserved, zero. */
#define PVIO_NET_RX_F_MORE 0x0001u /* the frame continues in the next response */
#define PVIO_NET_RX_F_MASK 0x0001u

/*
 * A filled (or unused) RX buffer, written by the backend once, in full.
 * len bytes at the start of the buffer hold frame data (0 for UNUSED).
 * The first response of a frame carries its offload header; a frame's
 * length is the sum of its responses' len, PVIO_NET_FRAME_MIN at least.
 */
struct pvio_net_rx_rsp {
	__le32 id;        /* id of the buffer's request */
	__le16 status;    /* PVIO_NET_S_OK or _UNUSED */
	__le16 flags;     /* PVIO_NET_RX_F_* */
	__le32 len;       /* bytes written to the buffer */
	__le32 reserved0; /* zero */
	struct pvio_net_hdr hdr; /* first buffer of a frame; else zero */
};
PVIO_ABI_SIZE(struct pvio_net_rx_rsp, 32);
PVIO_ABI_OFFSET(struct pvio_net_rx_rsp, id, 0);
PVIO_ABI_OFFSET(struct pvio_net_rx_rsp, status, 4);
PVIO_ABI_OFFSET(struct pvio_net_rx_rsp, flags, 6);
PVIO_ABI_OFFSET(struct pvio_net_rx_rsp, len, 8);
PVIO_ABI_OFFSET(struct pvio_net_rx_rsp, reserved0, 12);
PVIO_ABI_OFFSET(struct pvio_net_rx_rsp, hdr, 16);

/* config.status. */
#define PVIO_NET_STATUS_LINK_UP 0x1u
#define PVIO_NET_STATUS_MASK 0x1u

/*
 * Network configuration, in pvio_region_hdr.config; written by the backend
 * before it sets INITWAIT, constant while connected but for status (see
 * "Link" above).
 */
struct pvio_net_config {
	__u8 mac[6];             /* the frontend's MAC address, unicast */
	__le16 mtu;              /* PVIO_NET_MTU_MIN..MAX; 1500 without F_MTU */
	__le16 max_queue_pairs;  /* 1..PVIO_NET_MAX_QUEUE_PAIRS; 1 without F_MQ */
	__le16 max_tx_segs;      /* segments per TX frame, 1..PVIO_NET_MAX_SEGS */
	__le32 status;           /* PVIO_NET_STATUS_*; read with acquire */
	__le32 queue_depth;      /* requests in flight per queue the backend serves */
	__u8 reserved[236];      /* zero */
};
PVIO_ABI_SIZE(struct pvio_net_config, PVIO_CONFIG_SIZE);
PVIO_ABI_OFFSET(struct pvio_net_config, mac, 0);
PVIO_ABI_OFFSET(struct pvio_net_config, mtu, 6);
PVIO_ABI_OFFSET(struct pvio_net_config, max_queue_pairs, 8);
PVIO_ABI_OFFSET(struct pvio_net_config, max_tx_segs, 10);
PVIO_ABI_OFFSET(struct pvio_net_config, status, 12);
PVIO_ABI_OFFSET(struct pvio_net_config, queue_depth, 16);
PVIO_ABI_OFFSET(struct pvio_net_config, reserved, 20);

#endif /* PVIO_NET_H */
