// SPDX-License-Identifier: (GPL-2.0 OR MIT)
/*
 * The protocol library of ring/ (region.c, blk_proto.c, net_proto.c,
 * handshake.c) is compiled unchanged into pvio_core.ko; this file is the
 * only kernel glue it needs: it exports each function, so that every
 * transport and class driver runs the one implementation the userspace
 * programs and the fuzz harnesses run too. Their kernel-doc is in the ring/ sources.
 */
#include <linux/export.h>

#include "region.h"
#include "blk_proto.h"
#include "net_proto.h"
#include "handshake.h"

/* ring/region.h */
EXPORT_SYMBOL_GPL(pvio_region_layout_size);
EXPORT_SYMBOL_GPL(pvio_region_layout);
EXPORT_SYMBOL_GPL(pvio_region_park);
EXPORT_SYMBOL_GPL(pvio_region_check);
EXPORT_SYMBOL_GPL(pvio_region_same_geometry);

/* ring/blk_proto.h */
EXPORT_SYMBOL_GPL(pvio_blk_limits_from_config);
EXPORT_SYMBOL_GPL(pvio_blk_config_from_limits);
EXPORT_SYMBOL_GPL(pvio_blk_check_layout);
EXPORT_SYMBOL_GPL(pvio_blk_req_validate);
EXPORT_SYMBOL_GPL(pvio_blk_rsp_check);

/* ring/net_proto.h */
EXPORT_SYMBOL_GPL(pvio_net_features_check);
EXPORT_SYMBOL_GPL(pvio_net_limits_from_config);
EXPORT_SYMBOL_GPL(pvio_net_config_from_limits);
EXPORT_SYMBOL_GPL(pvio_net_check_layout);
EXPORT_SYMBOL_GPL(pvio_net_frame_check);
EXPORT_SYMBOL_GPL(pvio_net_tx_validate);
EXPORT_SYMBOL_GPL(pvio_net_rx_post_validate);
EXPORT_SYMBOL_GPL(pvio_net_tx_rsp_check);
EXPORT_SYMBOL_GPL(pvio_net_rx_rsp_check);
EXPORT_SYMBOL_GPL(pvio_net_rx_frame_add);

/* ring/handshake.h */
EXPORT_SYMBOL_GPL(pvio_hs_front_offer);
EXPORT_SYMBOL_GPL(pvio_hs_front_poll);
EXPORT_SYMBOL_GPL(pvio_hs_front_set_state);
EXPORT_SYMBOL_GPL(pvio_hs_front_backend_alive);
EXPORT_SYMBOL_GPL(pvio_hs_front_next_backend);
EXPORT_SYMBOL_GPL(pvio_hs_back_init);
EXPORT_SYMBOL_GPL(pvio_hs_back_step);
EXPORT_SYMBOL_GPL(pvio_hs_back_set_state);
