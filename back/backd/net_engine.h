/* SPDX-License-Identifier: MIT */
/*
 * pvio-backd network engine: serves the queue pairs of one connected
 * network device (include/pvio/net.h) against a TAP interface, and the TAP
 * helpers the device half uses to create and watch that interface.
 *
 * The interface is the block engine's (engine.h): the device half hands
 * over where each queue's rings and data area are, the eventfd the
 * frontend rings per queue, the checked limits, the negotiated features,
 * one TAP queue fd per pair and the two callbacks. One thread per queue
 * pair serves TX (queue 2p) and RX (queue 2p + 1). Stopping the engine
 * answers every request it took: posted RX buffers it did not fill go
 * back PVIO_NET_S_UNUSED.
 */
#ifndef BACKD_NET_ENGINE_H
#define BACKD_NET_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "backd.h"
#include "engine.h"
#include "net_proto.h"

/* Bytes of the virtio-net header each TAP queue carries in front of a
 * frame (struct virtio_net_hdr, IFF_VNET_HDR). */
#define BACKD_TAP_VNET_HDR_LEN 10u
#define BACKD_NET_DEFAULT_DEPTH 256u
/* TX frames of PVIO_NET_GSO_FRAME_MAX each queue's data area holds with
 * GSO offered (at most the queue depth): 120 keep the region of one queue
 * pair at the default depth within 16 MiB. */
#define BACKD_NET_GSO_FRAMES 120u

struct backd_net_engine;

struct backd_net_engine_cfg {
	const char *name;             /* device name for log lines */
	unsigned int nr_pairs;        /* queue pairs: queues 2p (TX), 2p + 1 (RX) */
	struct backd_engine_queue q[BACKD_MAX_QUEUES];
	int tap_fd[BACKD_MAX_QUEUES / 2]; /* one TAP queue per pair, non-blocking */
	struct pvio_net_limits lim;
	uint64_t features;            /* accepted by the frontend */
	struct backd_ratelimit *rl;   /* for peer-provoked log lines */
	/* Ring the frontend; called from queue threads. */
	void (*notify)(void *opaque, unsigned int vector);
	/* The frontend broke the protocol; from queue threads, maybe more
	 * than once. */
	void (*broken)(void *opaque, const char *why);
	void *opaque;
};

int backd_net_engine_start(const struct backd_net_engine_cfg *cfg,
			   struct backd_net_engine **out);
void backd_net_engine_stop(struct backd_net_engine *e);

/* The TAP interface of one network device. */
struct backd_tap {
	char ifname[16];
	unsigned int nr_queues;
	int fd[BACKD_MAX_QUEUES / 2];
	int ctl;                      /* AF_INET datagram socket for ioctls */
};

int backd_tap_open(struct backd_tap *t, const char *name, const char *ifname,
		   unsigned int queues, unsigned int mtu);
int backd_tap_set_offload(struct backd_tap *t, bool csum, bool tso4,
			  bool tso6);
int backd_tap_link_up(struct backd_tap *t);
void backd_tap_close(struct backd_tap *t);

#endif /* BACKD_NET_ENGINE_H */
