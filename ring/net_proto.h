/* SPDX-License-Identifier: MIT */
/*
 * pvio network protocol rules (include/pvio/net.h), one implementation for
 * every frontend and backend, kernel and userspace:
 *   - pvio_net_features_check(): a feature set is consistent (offloads and
 *     what they need);
 *   - pvio_net_limits_from_config(): a network config to host-endian
 *     limits, every field checked against the features offered (both
 *     sides: the backend before it publishes, the frontend on its copy);
 *   - pvio_net_check_layout(): a checked region layout is a network one
 *     (queue pairs, TX and RX entry sizes);
 *   - pvio_net_frame_check(): a frame's length and offload header, in
 *     either direction;
 *   - pvio_net_tx_validate(): one TX request taken off a ring, checked
 *     against the limits, the negotiated features and the data area
 *     (backend view); pvio_net_rx_post_validate(): one posted RX buffer;
 *   - pvio_net_tx_rsp_check(), pvio_net_rx_rsp_check() and
 *     pvio_net_rx_frame_add(): responses taken off a ring, and the RX
 *     frames they make up (frontend view).
 * Everything works on private copies; the only read of shared memory is
 * the copy of a TX segment table (pvio_copy_from_shared). Sees only
 * pvio_compat.h.
 */
#ifndef PVIO_RING_NET_PROTO_H
#define PVIO_RING_NET_PROTO_H

#include "pvio_compat.h"
#include "region.h"
#include <pvio/net.h>

/* A network config, checked and host-endian. */
struct pvio_net_limits {
	__u8 mac[6];
	__u16 mtu;             /* PVIO_NET_MTU_MIN..PVIO_NET_MTU_MAX */
	__u16 max_queue_pairs; /* 1..PVIO_NET_MAX_QUEUE_PAIRS */
	__u16 max_tx_segs;     /* 1..PVIO_NET_MAX_SEGS */
	__u32 status;          /* PVIO_NET_STATUS_* */
	__u32 queue_depth;     /* >= 1 */
};

/* One validated buffer: [offset, offset + len) lies in the data area. */
struct pvio_net_vseg {
	__u32 offset;
	__u32 len;
};

/* A validated TX request, host-endian. */
struct pvio_net_vtx {
	__u32 id;
	__u32 len;                  /* frame bytes, the sum of the segments */
	__u32 nr_segs;              /* entries of segs[] in use */
	struct pvio_net_hdr hdr;    /* the checked copy, as in the request */
	struct pvio_net_vseg *segs; /* the caller's array, filled in */
};

/* A checked TX response. */
struct pvio_net_vtx_rsp {
	__u32 id;
	__u16 status; /* PVIO_NET_S_OK, _DROPPED, _INVAL or _UNSUPP */
};

/* A checked RX response. */
struct pvio_net_vrx_rsp {
	__u32 id;
	__u16 status; /* PVIO_NET_S_OK or _UNUSED */
	__u16 flags;  /* PVIO_NET_RX_F_* */
	__u32 len;    /* bytes in the buffer, <= its length */
	struct pvio_net_hdr hdr;
};

/*
 * An RX frame being put together from consecutive responses of one ring
 * (frontend view); zeroed to start, and again by pvio_net_rx_frame_add()
 * after each frame it completes.
 */
struct pvio_net_rx_frame {
	__u32 len;     /* bytes so far */
	__u32 nr_bufs; /* buffers so far */
	struct pvio_net_hdr hdr; /* the first buffer's */
};

int pvio_net_features_check(__u64 features, const char **reason);
int pvio_net_limits_from_config(const struct pvio_net_config *cfg,
				__u64 features, struct pvio_net_limits *lim,
				const char **reason);
void pvio_net_config_from_limits(const struct pvio_net_limits *lim,
				 struct pvio_net_config *cfg);
int pvio_net_check_layout(const struct pvio_region_layout *l,
			  const struct pvio_net_limits *lim,
			  const char **reason);
unsigned int pvio_net_frame_check(const struct pvio_net_hdr *hdr,
				  __u32 frame_len, __u64 features,
				  bool to_backend,
				  const struct pvio_net_limits *lim,
				  const char **reason);
unsigned int pvio_net_tx_validate(const struct pvio_net_tx_req *req,
				  const struct pvio_net_limits *lim,
				  __u64 features, const void *data,
				  __u64 data_size, struct pvio_net_vtx *out,
				  struct pvio_net_vseg *segs,
				  unsigned int segs_cap, const char **reason);
unsigned int pvio_net_rx_post_validate(const struct pvio_net_rx_req *req,
				       const struct pvio_net_limits *lim,
				       __u64 features, __u64 data_size,
				       __u32 *id, struct pvio_net_vseg *buf,
				       const char **reason);
int pvio_net_tx_rsp_check(const struct pvio_net_tx_rsp *rsp,
			  struct pvio_net_vtx_rsp *out, const char **reason);
int pvio_net_rx_rsp_check(const struct pvio_net_rx_rsp *rsp, __u32 buf_len,
			  __u64 features, struct pvio_net_vrx_rsp *out,
			  const char **reason);
int pvio_net_rx_frame_add(struct pvio_net_rx_frame *fr,
			  const struct pvio_net_vrx_rsp *rsp, __u64 features,
			  const struct pvio_net_limits *lim, bool *done,
			  const char **reason);

#endif /* PVIO_RING_NET_PROTO_H */
