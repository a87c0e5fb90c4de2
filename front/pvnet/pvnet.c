// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * pvnet - pvio network frontend: an Ethernet device whose backend runs in
 * another domain, reached through a pvio shared region (include/pvio/net.h,
 * include/pvio/region.h). It drives the (PVIO_CLASS_NET, FRONTEND) devices
 * of the pvio bus (pvio_core.h); the network rules (config, layout, frames,
 * responses) and the handshake are those of ring/.
 *
 * One queue pair per real TX/RX queue of the net_device, each with its own
 * NAPI context. Every queue's data area is cut into slots of one frame
 * (mtu + PVIO_NET_ETH_HLEN_MAX of the config, rounded up to a cache line):
 * a TX slot per TX request in flight, an RX slot per posted RX buffer.
 * With TX GSO (taken when the TX data area holds PVNET_GSO_MIN_SLOTS
 * frames of PVIO_NET_GSO_FRAME_MAX) a TX slot holds a 64 KiB TCP frame;
 * with receive GSO and RX_MERGE (taken when the RX buffers hold a few such
 * frames) RX slots are at least PVNET_RX_MERGE_SLOT bytes and a frame
 * comes in consecutive buffers, copied one by one into an skb being built
 * (a linear head, then page fragments). Frames are copied into a TX slot
 * before their request is published, and out of RX slots into a fresh
 * skb; pages of the guest are never shown to the backend. Requests are
 * built in private memory and copied into the ring once; responses are
 * copied out once and checked with net_proto.
 * The doorbell is rung only when the ring says the backend asked for one.
 *
 * A backend that breaks a rule while it is the one we connected to kills
 * the device: one line is logged, the carrier goes off, the queues stop
 * and the rings are not touched again. A backend that goes away (region.h,
 * "Backend restart") is waited for by the watch work: the carrier is off
 * meanwhile; a new instance whose layout matches is connected again, every
 * TX frame it did not answer is submitted again (net.h: duplicates are
 * fine) and every RX buffer posted again. A backend that leaves a TX frame
 * unanswered for PVNET_TX_TIMEOUT is taken for gone the same way: its
 * queue would otherwise stay stopped with the carrier on.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/tcp.h>
#include <linux/u64_stats_sync.h>
#include <linux/version.h>
#include <linux/virtio_net.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <pvio/net.h>
#include <pvio/region.h>
#include "handshake.h"
#include "net_proto.h"
#include "pvio_core.h"
#include "pvio_ring.h"
#include "region.h"

/* How long probe waits for each answer of the handshake. */
#define PVNET_CONNECT_TIMEOUT (10 * HZ)
/* Slots per queue at most: bounds the private tables. */
#define PVNET_MAX_SLOTS 4096u
/* Slot sizes are whole cache lines. */
#define PVNET_SLOT_ALIGN 64u
/* How often the watch looks at a connected backend, and at the region
 * while it waits for a new one; the shortest gap between two runs that
 * control doorbells ask for (a backend ringing vector 0 in a loop). */
#define PVNET_WATCH_PERIOD HZ
#define PVNET_RECOVER_PERIOD (HZ / 4)
#define PVNET_CTRL_GAP max(HZ / 100, 1)
/* A connected backend that holds a TX frame unanswered this long is
 * taken for gone (its queue would stay stopped for ever): the carrier goes
 * off and a new instance is waited for, as after any backend restart. */
#define PVNET_TX_TIMEOUT (10 * HZ)

/* The features this driver implements; all are optional. The offloads
 * of frames over one MTU are taken only when the data areas fit them
 * (pvnet_choose_features()). */
#define PVNET_WANTED (PVIO_NET_F_CSUM | PVIO_NET_F_GUEST_CSUM | \
		      PVIO_NET_F_MQ | PVIO_NET_F_MTU | PVIO_NET_F_LINK_STATUS)
#define PVNET_TX_GSO (PVIO_NET_F_GSO_TCPV4 | PVIO_NET_F_GSO_TCPV6)
#define PVNET_RX_GSO (PVIO_NET_F_RX_MERGE | PVIO_NET_F_GUEST_GSO_TCPV4 | \
		      PVIO_NET_F_GUEST_GSO_TCPV6)
/* TX GSO only with at least this many 64 KiB slots per queue. */
#define PVNET_GSO_MIN_SLOTS 32u
/* RX buffers with RX_MERGE: at least this size, and together at least
 * PVNET_RX_GSO_FRAMES of the largest frames (the backend may wait until
 * the posted ones hold one, net.h). */
#define PVNET_RX_MERGE_SLOT 4096u
#define PVNET_RX_GSO_FRAMES 4u
/* Bytes of a frame over several buffers copied into the skb's linear
 * part (every header the stack reads there); the rest goes to pages. */
#define PVNET_RX_HEAD 256u

/* Per-queue counters, each block written from one context only. */
struct pvnet_stats {
	struct u64_stats_sync syncp;
	u64_stats_t packets;
	u64_stats_t bytes;
	u64_stats_t drops;
	u64_stats_t doorbells;
	u64_stats_t merged; /* RX: frames over several buffers */
};

/* One TX slot: the frame in the data area, and its request. */
struct pvnet_tx_slot {
	struct pvio_net_tx_req req; /* as put on the ring, kept for a resubmit */
	struct list_head node;      /* on pvnet_txq.sent while outstanding */
	u32 len;                    /* frame bytes, for BQL */
	unsigned long sent_at;      /* jiffies when (last) put on the ring */
};

struct pvnet_txq {
	spinlock_t lock; /* req ring end, free stack, outstanding, @sent, @live */
	struct pvio_prod req;
	struct pvio_cons rsp; /* NAPI only (or with NAPI off) */
	u8 *data;
	u32 vector;
	u32 nslots;
	u32 slot_size;
	bool live;            /* requests may be put on the ring */
	u32 nfree;
	u32 *free;            /* stack of free slot ids */
	unsigned long *outstanding; /* slots the backend holds */
	struct list_head sent; /* their pvnet_tx_slots, in first send order */
	struct pvnet_tx_slot *slots;
	struct pvnet_stats xs; /* written under @lock: drops, doorbells */
	struct pvnet_stats cs; /* written by NAPI: packets, bytes, errors */
};

struct pvnet_rxq {
	struct pvio_prod req; /* NAPI only (or with NAPI off) */
	struct pvio_cons rsp;
	u8 *data;
	u32 vector;
	u32 nslots;
	u32 slot_size;
	unsigned long *posted;  /* buffers the backend holds */
	unsigned long *pending; /* buffers to post (again) */
	struct pvio_net_rx_frame fr;
	struct sk_buff *skb;    /* the frame being built from @fr's buffers;
				 * NULL once memory ran out for it (dropped) */
	struct pvnet_stats st; /* written by NAPI */
};

struct pvnet_dev;

struct pvnet_qp {
	struct pvnet_dev *d;
	unsigned int index;
	struct napi_struct napi;
	struct pvnet_txq tx;
	struct pvnet_rxq rx;
	atomic64_t interrupts;
};

enum pvnet_link {
	PVNET_UP,   /* connected, rings live */
	PVNET_AWAY, /* backend gone: rings left alone, waiting for a new one */
};

struct pvnet_dev {
	struct net_device *ndev;
	struct pvio_device *pdev;
	struct pvio_region_hdr *hdr;
	struct pvio_net_limits lim; /* the backend's config, checked */
	struct pvio_hs_front hs;
	u64 wanted;                 /* asked for (pvnet_choose_features()) */
	u64 features;               /* negotiated */
	unsigned int nqp;
	struct pvnet_qp *qps;      /* own allocation: NAPI off the netdev first */
	unsigned int napi_added;   /* qps[0..napi_added) are on the netdev */
	atomic_t dead;
	wait_queue_head_t ctrl_wq;

	/* The watch; its fields change under rtnl_lock. */
	struct delayed_work watch;
	spinlock_t kick_lock;       /* @watching against removal */
	bool watching;
	unsigned long watch_ran;
	enum pvnet_link link;       /* READ_ONCE from NAPI */
	bool napi_on;
	bool offered;
	u32 conn_gen;
	u32 checked_gen;
	struct pvio_region_layout seen;
	u64 reconnects;
};

static void pvnet_kick(struct pvnet_dev *d, unsigned long delay);

static void pvnet_stat_add(struct pvnet_stats *s, u64_stats_t *c, u64 n)
{
	u64_stats_update_begin(&s->syncp);
	u64_stats_add(c, n);
	u64_stats_update_end(&s->syncp);
}

static void pvnet_stats_read(struct pvnet_stats *s, u64 *packets, u64 *bytes,
			     u64 *drops, u64 *doorbells)
{
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&s->syncp);
		*packets = u64_stats_read(&s->packets);
		*bytes = u64_stats_read(&s->bytes);
		*drops = u64_stats_read(&s->drops);
		*doorbells = u64_stats_read(&s->doorbells);
	} while (u64_stats_fetch_retry(&s->syncp, start));
}

static u64 pvnet_stat_read_one(struct pvnet_stats *s, u64_stats_t *c)
{
	unsigned int start;
	u64 v;

	do {
		start = u64_stats_fetch_begin(&s->syncp);
		v = u64_stats_read(c);
	} while (u64_stats_fetch_retry(&s->syncp, start));
	return v;
}

static bool pvnet_live(struct pvnet_dev *d)
{
	return !atomic_read(&d->dead) && READ_ONCE(d->link) == PVNET_UP;
}

/*
 * The device is unusable: say why once, stop everything; no ring is
 * touched again (every path checks @dead first). Context: any.
 */
static void pvnet_kill(struct pvnet_dev *d, const char *what, const char *why)
{
	if (atomic_xchg(&d->dead, 1))
		return;
	dev_err(&d->pdev->dev, "%s: %s (%s); device disabled\n",
		netdev_name(d->ndev), what, why);
	netif_carrier_off(d->ndev);
	netif_tx_stop_all_queues(d->ndev);
}

/*
 * A ring of @qp was found broken. The backend we connected to broke the
 * protocol: kill. One that left or restarted took its rings with it (a new
 * layout zeroes them): the watch recovers. Context: any.
 */
static void pvnet_ring_lost(struct pvnet_dev *d, const char *what,
			    const char *why)
{
	if (pvio_hs_front_backend_alive(&d->hs)) {
		pvnet_kill(d, what, why);
		return;
	}
	pvnet_kick(d, 0);
}

/* Schedule @qp's NAPI from any context: outside interrupts the softirq is
 * raised with bottom halves off, so it runs when they come back on. */
static void pvnet_napi_kick(struct pvnet_qp *qp)
{
	if (in_hardirq() || irqs_disabled()) {
		napi_schedule(&qp->napi);
		return;
	}
	local_bh_disable();
	napi_schedule(&qp->napi);
	local_bh_enable();
}

static u8 *pvnet_tx_slot_data(struct pvnet_txq *tx, u32 id)
{
	return tx->data + (size_t)id * tx->slot_size;
}

/* --- TX ---------------------------------------------------------------- */

/*
 * The offload header of GSO frame @skb, into @hdr (the meaning of
 * virtio_net_hdr_from_skb(), but hdr_len is the headers' length, as
 * net.h wants it). pvnet_features_check() let through only TCP frames
 * the slot and the ABI take. Return: 0, or -EINVAL to drop the frame.
 */
static int pvnet_tx_gso_hdr(struct pvnet_dev *d, struct sk_buff *skb,
			    struct pvio_net_hdr *hdr)
{
	unsigned int type = skb_shinfo(skb)->gso_type;
	int start = skb_checksum_start_offset(skb);
	const char *why;

	if (skb->ip_summed != CHECKSUM_PARTIAL || start < 0 || start > U16_MAX)
		return -EINVAL;
	if (type & SKB_GSO_TCPV4)
		hdr->gso_type = PVIO_NET_GSO_TCPV4;
	else if (type & SKB_GSO_TCPV6)
		hdr->gso_type = PVIO_NET_GSO_TCPV6;
	else
		return -EINVAL;
	hdr->flags = PVIO_NET_HDR_F_NEEDS_CSUM;
	hdr->csum_start = cpu_to_le16(start);
	hdr->csum_offset = cpu_to_le16(skb->csum_offset);
	hdr->hdr_len = cpu_to_le16(skb_tcp_all_headers(skb));
	hdr->gso_size = cpu_to_le16(skb_shinfo(skb)->gso_size);
	/* A GSO frame cannot be summed here (skb_checksum_help() refuses
	 * it): one the backend would not take is dropped. */
	if (pvio_net_frame_check(hdr, skb->len, d->features, true, &d->lim,
				 &why) != PVIO_NET_S_OK)
		return -EINVAL;
	return 0;
}

/*
 * The offload header of @skb, into @hdr. A CHECKSUM_PARTIAL frame is sent
 * with NEEDS_CSUM when PVIO_NET_F_CSUM was negotiated and its fields fit
 * the header, else summed here. Return: 0, or -EINVAL to drop the frame.
 */
static int pvnet_tx_hdr(struct pvnet_dev *d, struct sk_buff *skb,
			struct pvio_net_hdr *hdr)
{
	const char *why;

	memset(hdr, 0, sizeof(*hdr));
	if (skb_is_gso(skb))
		return pvnet_tx_gso_hdr(d, skb, hdr);
	if (skb->ip_summed == CHECKSUM_PARTIAL) {
		int start = skb_checksum_start_offset(skb);

		if ((d->features & PVIO_NET_F_CSUM) && start >= 0 &&
		    start <= U16_MAX) {
			hdr->flags = PVIO_NET_HDR_F_NEEDS_CSUM;
			hdr->csum_start = cpu_to_le16(start);
			hdr->csum_offset = cpu_to_le16(skb->csum_offset);
		} else if (skb_checksum_help(skb)) {
			return -EINVAL;
		}
	}
	if (pvio_net_frame_check(hdr, skb->len, d->features, true, &d->lim,
				 &why) == PVIO_NET_S_OK)
		return 0;
	/* Not a frame the backend would take as it is: sum it here, and
	 * send it without offloads if that makes it one. */
	if (hdr->flags) {
		memset(hdr, 0, sizeof(*hdr));
		if (skb_checksum_help(skb))
			return -EINVAL;
		if (pvio_net_frame_check(hdr, skb->len, d->features, true,
					 &d->lim, &why) == PVIO_NET_S_OK)
			return 0;
	}
	return -EINVAL;
}

/*
 * GSO only for frames a TX slot and the ABI take: TCP over IPv4 or IPv6,
 * not encapsulated, up to the slot's size, headers and segment size as
 * net.h allows. The stack cuts the others itself before they reach
 * pvnet_start_xmit().
 */
static netdev_features_t pvnet_features_check(struct sk_buff *skb,
					      struct net_device *ndev,
					      netdev_features_t features)
{
	struct pvnet_dev *d = netdev_priv(ndev);
	u32 max = min_t(u32, d->qps[0].tx.slot_size, PVIO_NET_GSO_FRAME_MAX);

	features = vlan_features_check(skb, features);
	if (!skb_is_gso(skb))
		return features;
	if (skb->encapsulation || skb->len > max ||
	    !(skb_shinfo(skb)->gso_type & (SKB_GSO_TCPV4 | SKB_GSO_TCPV6)) ||
	    skb_tcp_all_headers(skb) + skb_shinfo(skb)->gso_size > 65535u)
		features &= ~NETIF_F_GSO_MASK;
	return features;
}

static netdev_tx_t pvnet_start_xmit(struct sk_buff *skb, struct net_device *ndev)
{
	struct pvnet_dev *d = netdev_priv(ndev);
	u16 qi = skb_get_queue_mapping(skb);
	struct netdev_queue *txq = netdev_get_tx_queue(ndev, qi);
	struct pvnet_qp *qp = &d->qps[qi];
	struct pvnet_txq *tx = &qp->tx;
	struct pvnet_tx_slot *slot;
	struct pvio_net_hdr hdr;
	bool notify = false;
	u32 id, len;
	int ret;

	if (qi >= d->nqp || atomic_read(&d->dead) || pvnet_tx_hdr(d, skb, &hdr))
		goto drop;
	len = skb->len;
	if (len > tx->slot_size)
		goto drop;

	spin_lock(&tx->lock);
	if (!tx->live || atomic_read(&d->dead) || !tx->nfree) {
		/* Away, dead, or (not expected: the queue stops with its
		 * last slot) full. */
		spin_unlock(&tx->lock);
		goto drop;
	}
	id = tx->free[--tx->nfree];
	slot = &tx->slots[id];
	skb_copy_bits(skb, 0, pvnet_tx_slot_data(tx, id), len);
	memset(&slot->req, 0, sizeof(slot->req));
	slot->req.id = cpu_to_le32(id);
	slot->req.nr_segs = cpu_to_le16(1);
	slot->req.len = cpu_to_le32(len);
	slot->req.hdr = hdr;
	slot->req.seg[0].offset = cpu_to_le32(id * tx->slot_size);
	slot->req.seg[0].len = cpu_to_le32(len);
	ret = pvio_prod_put(&tx->req, &slot->req, sizeof(slot->req));
	if (ret) {
		/* -ENOSPC: the backend answered before it freed the request
		 * slots; -EPROTO: the ring is broken. Either way this frame
		 * is dropped; a broken ring is the watch's or the end. */
		tx->free[tx->nfree++] = id;
		pvnet_stat_add(&tx->xs, &tx->xs.drops, 1);
		notify = pvio_prod_publish(&tx->req);
		spin_unlock(&tx->lock);
		if (ret != -ENOSPC)
			pvnet_ring_lost(d, "TX request ring broken",
					"consumer index out of range");
		goto ring;
	}
	slot->len = len;
	slot->sent_at = jiffies;
	set_bit(id, tx->outstanding);
	list_add_tail(&slot->node, &tx->sent);
	netdev_tx_sent_queue(txq, len);
	if (!tx->nfree)
		netif_tx_stop_queue(txq);
	if (!netdev_xmit_more() || netif_xmit_stopped(txq))
		notify = pvio_prod_publish(&tx->req);
	if (notify)
		pvnet_stat_add(&tx->xs, &tx->xs.doorbells, 1);
	spin_unlock(&tx->lock);
	dev_consume_skb_any(skb);
	/* Rung outside the lock: it may trap to the host. */
	if (notify)
		pvio_notify(d->pdev, tx->vector);
	return NETDEV_TX_OK;

ring:
	if (notify)
		pvio_notify(d->pdev, tx->vector);
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
drop:
	if (qi < d->nqp)
		pvnet_stat_add(&tx->xs, &tx->xs.drops, 1);
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

/*
 * Take the TX responses off @qp's ring: each must answer a slot the
 * backend holds. The loop is bounded by the slots outstanding (an answer
 * for one that is not kills). NAPI context. Return: 0, -EPROTO.
 */
static int pvnet_tx_reap(struct pvnet_qp *qp)
{
	struct pvnet_dev *d = qp->d;
	struct pvnet_txq *tx = &qp->tx;
	struct netdev_queue *txq = netdev_get_tx_queue(d->ndev, qp->index);
	unsigned int pkts = 0, bytes = 0, errs = 0;
	struct pvio_net_vtx_rsp v;
	struct pvio_net_tx_rsp rsp;
	const char *why = "ok";
	int avail, ret = 0;

	spin_lock(&tx->lock);
	avail = pvio_cons_avail(&tx->rsp);
	if (avail < 0) {
		why = "producer index out of range";
		ret = -EPROTO;
	}
	while (avail-- > 0) {
		struct pvnet_tx_slot *slot;

		if (pvio_cons_get(&tx->rsp, &rsp, sizeof(rsp)))
			break;
		ret = pvio_net_tx_rsp_check(&rsp, &v, &why);
		if (ret)
			break;
		if (v.id >= tx->nslots || !test_and_clear_bit(v.id, tx->outstanding)) {
			why = "answer for a frame the backend does not hold";
			ret = -EPROTO;
			break;
		}
		slot = &tx->slots[v.id];
		list_del(&slot->node);
		tx->free[tx->nfree++] = v.id;
		pkts++;
		bytes += slot->len;
		if (v.status != PVIO_NET_S_OK)
			errs++;
	}
	pvio_cons_release(&tx->rsp);
	if (pkts) {
		netdev_tx_completed_queue(txq, pkts, bytes);
		if (netif_tx_queue_stopped(txq) && tx->live && !atomic_read(&d->dead))
			netif_tx_wake_queue(txq);
	}
	spin_unlock(&tx->lock);

	if (pkts) {
		u64_stats_update_begin(&tx->cs.syncp);
		u64_stats_add(&tx->cs.packets, pkts - errs);
		u64_stats_add(&tx->cs.bytes, bytes);
		u64_stats_add(&tx->cs.drops, errs);
		u64_stats_update_end(&tx->cs.syncp);
	}
	if (ret)
		pvnet_ring_lost(d, "TX response refused", why);
	return ret;
}

/* --- RX ---------------------------------------------------------------- */

/*
 * Post every pending RX buffer of @qp. Put fails with -ENOSPC only while
 * the backend has not yet freed request slots it answered: those buffers
 * stay pending for the next poll (the watch polls every period). NAPI
 * context, or NAPI off. Return: 0, -EPROTO.
 */
static int pvnet_rx_refill(struct pvnet_qp *qp)
{
	struct pvnet_rxq *rx = &qp->rx;
	struct pvio_net_rx_req req;
	unsigned long id;
	int ret = 0;

	for_each_set_bit(id, rx->pending, rx->nslots) {
		memset(&req, 0, sizeof(req));
		req.id = cpu_to_le32(id);
		req.buf.offset = cpu_to_le32(id * rx->slot_size);
		req.buf.len = cpu_to_le32(rx->slot_size);
		ret = pvio_prod_put(&rx->req, &req, sizeof(req));
		if (ret)
			break;
		clear_bit(id, rx->pending);
		set_bit(id, rx->posted);
	}
	if (pvio_prod_publish(&rx->req)) {
		pvnet_stat_add(&rx->st, &rx->st.doorbells, 1);
		pvio_notify(qp->d->pdev, rx->vector);
	}
	if (ret && ret != -ENOSPC) {
		pvnet_ring_lost(qp->d, "RX request ring broken",
				"consumer index out of range");
		return -EPROTO;
	}
	return 0;
}

/* Drop the frame being built, if any. */
static void pvnet_rx_skb_drop(struct pvnet_rxq *rx)
{
	if (rx->skb)
		dev_kfree_skb_any(rx->skb);
	rx->skb = NULL;
}

/* Append @len bytes at @src to the page fragments of @skb. Return: 0, or
 * -ENOMEM (no page, or no fragment left). */
static int pvnet_rx_append_frags(struct sk_buff *skb, const u8 *src, u32 len)
{
	struct skb_shared_info *sh = skb_shinfo(skb);

	while (len) {
		skb_frag_t *f = sh->nr_frags ? &sh->frags[sh->nr_frags - 1] : NULL;
		u32 used = f ? skb_frag_off(f) + skb_frag_size(f) : PAGE_SIZE;
		u32 n;

		if (used == PAGE_SIZE) {
			struct page *page;

			if (sh->nr_frags == MAX_SKB_FRAGS)
				return -ENOMEM;
			page = alloc_page(GFP_ATOMIC | __GFP_NOWARN);
			if (!page)
				return -ENOMEM;
			skb_add_rx_frag(skb, sh->nr_frags, page, 0, 0, PAGE_SIZE);
			f = &sh->frags[sh->nr_frags - 1];
			used = 0;
		}
		n = min_t(u32, len, PAGE_SIZE - used);
		memcpy(page_address(skb_frag_page(f)) + used, src, n);
		skb_coalesce_rx_frag(skb, sh->nr_frags - 1, n, 0);
		src += n;
		len -= n;
	}
	return 0;
}

/*
 * Copy the @len bytes of buffer @id, the @first (or a later) part of the
 * frame in @rx->fr, into the skb being built: a frame that is all in its
 * first buffer gets a linear skb of its size, a longer one a head of
 * PVNET_RX_HEAD bytes and page fragments. A frame for which memory runs
 * out is taken to its end and dropped.
 */
static void pvnet_rx_copy(struct pvnet_qp *qp, u32 id, u32 len, bool first,
			  bool last)
{
	struct pvnet_rxq *rx = &qp->rx;
	const u8 *src = rx->data + (size_t)id * rx->slot_size;
	u32 head;

	if (first) {
		pvnet_rx_skb_drop(rx);
		rx->skb = napi_alloc_skb(&qp->napi, last ? len : PVNET_RX_HEAD);
		if (!rx->skb)
			return;
	}
	if (!rx->skb)
		return;
	/* The head only while no fragment follows it (skb_put() is for
	 * linear skbs only). */
	head = skb_shinfo(rx->skb)->nr_frags ? 0 :
	       min_t(u32, len, skb_tailroom(rx->skb));
	if (head)
		skb_put_data(rx->skb, src, head);
	if (pvnet_rx_append_frags(rx->skb, src + head, len - head)) {
		dev_kfree_skb_any(rx->skb);
		rx->skb = NULL;
	}
}

/*
 * The offload header of a received frame onto its skb, before
 * eth_type_trans() (offsets count from the frame's start): the same
 * meaning as virtio-net's, so virtio_net_hdr_to_skb() applies it.
 * Return: 0, or -EINVAL for a header the stack refuses.
 */
static int pvnet_rx_hdr(struct net_device *ndev, struct sk_buff *skb,
			const struct pvio_net_hdr *hdr)
{
	struct virtio_net_hdr vh = {};

	if (hdr->flags & PVIO_NET_HDR_F_NEEDS_CSUM) {
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = __cpu_to_virtio16(true, le16_to_cpu(hdr->csum_start));
		vh.csum_offset = __cpu_to_virtio16(true, le16_to_cpu(hdr->csum_offset));
	}
	switch (hdr->gso_type) {
	case PVIO_NET_GSO_TCPV4:
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		break;
	case PVIO_NET_GSO_TCPV6:
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		break;
	default:
		vh.gso_type = VIRTIO_NET_HDR_GSO_NONE;
		break;
	}
	vh.hdr_len = __cpu_to_virtio16(true, le16_to_cpu(hdr->hdr_len));
	vh.gso_size = __cpu_to_virtio16(true, le16_to_cpu(hdr->gso_size));
	if (virtio_net_hdr_to_skb(skb, &vh, true))
		return -EINVAL;
	if (!(hdr->flags & PVIO_NET_HDR_F_NEEDS_CSUM) &&
	    (hdr->flags & PVIO_NET_HDR_F_DATA_VALID) &&
	    (ndev->features & NETIF_F_RXCSUM))
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	return 0;
}

/* Hand the frame just completed (checked, in @rx->fr) to the stack. */
static void pvnet_rx_deliver(struct pvnet_qp *qp)
{
	struct net_device *ndev = qp->d->ndev;
	struct pvnet_rxq *rx = &qp->rx;
	struct sk_buff *skb = rx->skb;
	u32 len = rx->fr.len;

	rx->skb = NULL;
	if (!skb)
		goto drop;
	if (pvnet_rx_hdr(ndev, skb, &rx->fr.hdr)) {
		dev_kfree_skb_any(skb);
		goto drop;
	}
	skb->protocol = eth_type_trans(skb, ndev);
	skb_record_rx_queue(skb, qp->index);
	u64_stats_update_begin(&rx->st.syncp);
	u64_stats_inc(&rx->st.packets);
	u64_stats_add(&rx->st.bytes, len);
	if (rx->fr.nr_bufs > 1)
		u64_stats_inc(&rx->st.merged);
	u64_stats_update_end(&rx->st.syncp);
	napi_gro_receive(&qp->napi, skb);
	return;
drop:
	pvnet_stat_add(&rx->st, &rx->st.drops, 1);
}

/*
 * Take up to @budget RX responses off @qp's ring. Each must name a buffer
 * the backend holds and pass pvio_net_rx_rsp_check() and, filled,
 * pvio_net_rx_frame_add(); its buffer is posted again afterwards. NAPI
 * context. Return: frames (and unused buffers) taken, or -EPROTO.
 */
static int pvnet_rx_reap(struct pvnet_qp *qp, int budget)
{
	struct pvnet_dev *d = qp->d;
	struct pvnet_rxq *rx = &qp->rx;
	struct pvio_net_rx_rsp rsp;
	struct pvio_net_vrx_rsp v;
	const char *why = "ok";
	int avail, work = 0;
	bool done;
	u32 id;

	avail = pvio_cons_avail(&rx->rsp);
	if (avail < 0) {
		why = "producer index out of range";
		goto broken;
	}
	while (avail-- > 0 && work < budget) {
		if (pvio_cons_get(&rx->rsp, &rsp, sizeof(rsp)))
			break;
		id = le32_to_cpu(rsp.id);
		if (id >= rx->nslots || !test_bit(id, rx->posted)) {
			why = "answer for a buffer the backend does not hold";
			goto broken;
		}
		if (pvio_net_rx_rsp_check(&rsp, rx->slot_size, d->features,
					  &v, &why))
			goto broken;
		clear_bit(id, rx->posted);
		set_bit(id, rx->pending);
		work++;
		/* An unused buffer outside a frame is simply returned. */
		if (v.status == PVIO_NET_S_UNUSED && !rx->fr.nr_bufs)
			continue;
		if (pvio_net_rx_frame_add(&rx->fr, &v, d->features, &d->lim,
					  &done, &why))
			goto broken;
		/* Copied out now: the buffer is posted again after this poll,
		 * whether or not its frame is complete. Without RX_MERGE
		 * every frame is one buffer: done. */
		pvnet_rx_copy(qp, id, v.len, rx->fr.nr_bufs == 1, done);
		if (done) {
			pvnet_rx_deliver(qp);
			memset(&rx->fr, 0, sizeof(rx->fr));
		}
	}
	pvio_cons_release(&rx->rsp);
	return work;

broken:
	pvio_cons_release(&rx->rsp);
	pvnet_ring_lost(d, "RX response refused", why);
	return -EPROTO;
}

static int pvnet_poll(struct napi_struct *napi, int budget)
{
	struct pvnet_qp *qp = container_of(napi, struct pvnet_qp, napi);
	int work = 0, a, b;

	if (!pvnet_live(qp->d))
		goto complete;
	if (pvnet_tx_reap(qp))
		goto complete;
	if (!budget)
		return 0;
	work = pvnet_rx_reap(qp, budget);
	if (work < 0) {
		work = 0;
		goto complete;
	}
	if (pvnet_rx_refill(qp))
		goto complete;
	if (work >= budget)
		return budget;
	/*
	 * Ask for the next doorbells and look again, while this poll still
	 * owns the rings: the consumer ends are private state, and once
	 * napi_complete_done() returns, a doorbell may run the next poll on
	 * another CPU. Responses found here are taken by polling on; one
	 * published after the look rings (the event index is armed), and a
	 * doorbell that comes before napi_complete_done() makes it poll
	 * again rather than complete.
	 */
	a = pvio_cons_arm(&qp->tx.rsp, 0);
	b = pvio_cons_arm(&qp->rx.rsp, 0);
	if (a || b)
		return budget; /* more to take, or a ring to report broken */
	napi_complete_done(napi, work);
	return work;

complete:
	napi_complete_done(napi, work);
	return work;
}

static void pvnet_queue_irq(struct pvio_device *pdev, unsigned int vector,
			    void *data)
{
	struct pvnet_qp *qp = data;

	atomic64_inc(&qp->interrupts);
	pvnet_napi_kick(qp);
}

static void pvnet_ctrl_irq(struct pvio_device *pdev, unsigned int vector,
			   void *data)
{
	struct pvnet_dev *d = data;
	unsigned long next = READ_ONCE(d->watch_ran) + PVNET_CTRL_GAP;

	/* Probe's connect waits on ctrl_wq; afterwards the watch decides. */
	wake_up(&d->ctrl_wq);
	/* A backend ringing vector 0 in a loop gets the watch run at most
	 * once per PVNET_CTRL_GAP. */
	if (time_after_eq(jiffies, next))
		pvnet_kick(d, 0);
	else
		pvnet_kick(d, next - jiffies);
}

/* --- link, NAPI on and off (rtnl held) ---------------------------------- */

static bool pvnet_backend_link_up(struct pvnet_dev *d)
{
	struct pvio_net_config *cfg = (struct pvio_net_config *)d->hdr->config;
	u32 status;

	if (!(d->features & PVIO_NET_F_LINK_STATUS))
		return true;
	/* Acquire: net.h says to read it so; what the backend wrote before
	 * its new status is seen after it. Pairs with its release store. */
	status = le32_to_cpu(smp_load_acquire(&cfg->status));
	return status & PVIO_NET_STATUS_LINK_UP;
}

static void pvnet_update_carrier(struct pvnet_dev *d)
{
	if (pvnet_live(d) && pvnet_backend_link_up(d))
		netif_carrier_on(d->ndev);
	else
		netif_carrier_off(d->ndev);
}

static void pvnet_napi_on(struct pvnet_dev *d)
{
	unsigned int i;

	if (d->napi_on)
		return;
	for (i = 0; i < d->nqp; i++)
		napi_enable(&d->qps[i].napi);
	d->napi_on = true;
	/* What came while NAPI was off. */
	for (i = 0; i < d->nqp; i++)
		pvnet_napi_kick(&d->qps[i]);
}

static void pvnet_napi_off(struct pvnet_dev *d)
{
	unsigned int i;

	if (!d->napi_on)
		return;
	for (i = 0; i < d->nqp; i++)
		napi_disable(&d->qps[i].napi);
	d->napi_on = false;
}

/* Queues with a free slot run; the others wake from TX completion. */
static void pvnet_wake_queues(struct pvnet_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->nqp; i++) {
		struct pvnet_txq *tx = &d->qps[i].tx;
		bool wake;

		spin_lock_bh(&tx->lock);
		wake = tx->live && tx->nfree;
		spin_unlock_bh(&tx->lock);
		if (wake)
			netif_tx_wake_queue(netdev_get_tx_queue(d->ndev, i));
	}
}

static int pvnet_open(struct net_device *ndev)
{
	struct pvnet_dev *d = netdev_priv(ndev);

	if (pvnet_live(d)) {
		pvnet_napi_on(d);
		pvnet_wake_queues(d);
	}
	pvnet_update_carrier(d);
	return 0;
}

static int pvnet_stop(struct net_device *ndev)
{
	struct pvnet_dev *d = netdev_priv(ndev);

	netif_tx_disable(ndev);
	pvnet_napi_off(d);
	return 0;
}

/* --- backend restart: wait, check, connect again, resubmit ------------- */

static void pvnet_set_front_state(struct pvnet_dev *d, u32 state)
{
	/* A release store (pvio_hs_front_set_state()): what we wrote before
	 * is visible to the backend before the state that tells it to act. */
	pvio_hs_front_set_state(&d->hs, state);
	pvio_notify(d->pdev, PVIO_VECTOR_CONTROL);
}

/* Why the connection is gone, into @buf; false if it is not. */
static bool pvnet_gone_reason(struct pvnet_dev *d, char *buf, size_t len)
{
	u32 gen;

	if (pvio_hs_front_backend_alive(&d->hs))
		return false;
	gen = le32_to_cpu(READ_ONCE(d->hdr->back.generation));
	if (gen != d->hs.back_generation)
		snprintf(buf, len, "restarted: generation %u, was %u", gen,
			 d->hs.back_generation);
	else
		snprintf(buf, len, "left CONNECTED: state %u",
			 le32_to_cpu(READ_ONCE(d->hdr->back.state)));
	return true;
}

/* The backend is gone: carrier off, no TX, NAPI off, rings left alone;
 * what it held stays ours. */
static void pvnet_backend_gone(struct pvnet_dev *d, const char *why)
{
	unsigned int i, held = 0;

	WRITE_ONCE(d->link, PVNET_AWAY);
	netif_carrier_off(d->ndev);
	for (i = 0; i < d->nqp; i++) {
		struct pvnet_txq *tx = &d->qps[i].tx;

		spin_lock_bh(&tx->lock);
		tx->live = false;
		held += tx->nslots - tx->nfree;
		spin_unlock_bh(&tx->lock);
	}
	netif_tx_disable(d->ndev);
	pvnet_napi_off(d);
	d->offered = false;
	netdev_warn(d->ndev, "backend gone (%s); holding %u TX frames\n",
		    why, held);
}

/*
 * Can the device as set up go on over the checked layout @l? The same
 * queues, rings, data areas and doorbells (slots stay where they are),
 * the same MAC address, and limits that still admit every frame and
 * every slot in use.
 */
static int pvnet_layout_compatible(struct pvnet_dev *d,
				   const struct pvio_region_layout *l,
				   const char **why)
{
	struct pvio_net_config raw;
	struct pvio_net_limits n;
	unsigned int i;

	if (pvio_region_same_geometry(&d->pdev->layout, l, why))
		return -EPROTO;
	/* A private copy already; copied again for the config's type. */
	memcpy(&raw, l->config, sizeof(raw));
	if (pvio_net_limits_from_config(&raw, l->back_features, &n, why))
		return -EPROTO;
	if (pvio_net_check_layout(l, &n, why))
		return -EPROTO;
	if (memcmp(n.mac, d->lim.mac, sizeof(n.mac))) {
		*why = "MAC address changed";
		return -EPROTO;
	}
	if (n.mtu < d->lim.mtu || n.max_queue_pairs < d->nqp) {
		*why = "MTU or queue pairs shrank";
		return -EPROTO;
	}
	for (i = 0; i < d->nqp; i++) {
		if (n.queue_depth < d->qps[i].tx.nslots ||
		    n.queue_depth < d->qps[i].rx.nslots) {
			*why = "queue depth shrank below the slots in use";
			return -EPROTO;
		}
	}
	return 0;
}

/*
 * Look at the region with the one region check. Return: 0 if it holds a
 * backend we may offer to (INITWAIT, a generation other than the one we
 * were connected to, compatible), or with @connected the backend our offer
 * went to, compatible; -EAGAIN if not (yet); -EPROTO if incompatible.
 */
static int pvnet_check_region(struct pvnet_dev *d, bool connected,
			      const char **why)
{
	struct pvio_region_layout *l = &d->seen;
	bool closed;

	if (pvio_region_check(d->pdev->region, d->pdev->region_size, l, why))
		return -EAGAIN;
	if (pvio_hs_front_next_backend(&d->hs, l, connected, d->conn_gen,
				       &closed)) {
		if (closed && d->hs.state != PVIO_STATE_CLOSED)
			pvnet_set_front_state(d, PVIO_STATE_CLOSED);
		return -EAGAIN;
	}
	if (pvnet_layout_compatible(d, l, why))
		return -EPROTO;
	d->checked_gen = l->back_generation;
	return 0;
}

static int pvnet_attach_rings(struct pvnet_dev *d, bool reset)
{
	u8 *base = d->pdev->region;
	unsigned int i, q;
	int ret = 0;

	for (i = 0; i < d->nqp && !ret; i++) {
		struct pvnet_qp *qp = &d->qps[i];
		const struct pvio_region_queue *tq, *rq;

		q = PVIO_NET_TXQ(i);
		tq = &d->pdev->layout.queues[q];
		rq = &d->pdev->layout.queues[q + 1];
		spin_lock_bh(&qp->tx.lock);
		if (reset) {
			ret = pvio_prod_reset(&qp->tx.req,
					      (struct pvio_ring_shared *)(base + tq->req_ring_off),
					      tq->req_entries, tq->req_entry_size);
			ret = ret ?: pvio_cons_reset(&qp->tx.rsp,
						     (struct pvio_ring_shared *)(base + tq->rsp_ring_off),
						     tq->rsp_entries, tq->rsp_entry_size);
			ret = ret ?: pvio_prod_reset(&qp->rx.req,
						     (struct pvio_ring_shared *)(base + rq->req_ring_off),
						     rq->req_entries, rq->req_entry_size);
			ret = ret ?: pvio_cons_reset(&qp->rx.rsp,
						     (struct pvio_ring_shared *)(base + rq->rsp_ring_off),
						     rq->rsp_entries, rq->rsp_entry_size);
		} else {
			ret = pvio_prod_attach(&qp->tx.req,
					       (struct pvio_ring_shared *)(base + tq->req_ring_off),
					       tq->req_entries, tq->req_entry_size);
			ret = ret ?: pvio_cons_attach(&qp->tx.rsp,
						      (struct pvio_ring_shared *)(base + tq->rsp_ring_off),
						      tq->rsp_entries, tq->rsp_entry_size);
			ret = ret ?: pvio_prod_attach(&qp->rx.req,
						      (struct pvio_ring_shared *)(base + rq->req_ring_off),
						      rq->req_entries, rq->req_entry_size);
			ret = ret ?: pvio_cons_attach(&qp->rx.rsp,
						      (struct pvio_ring_shared *)(base + rq->rsp_ring_off),
						      rq->rsp_entries, rq->rsp_entry_size);
		}
		spin_unlock_bh(&qp->tx.lock);
	}
	return ret;
}

/*
 * Handshake step 2 with a new backend, on our ring ends taken again at the
 * same offsets with our own lines written back to zero; the offer's
 * release store of INITIALISED orders those writes before the backend
 * attaches. Only the features negotiated at probe are accepted, all
 * required. Return: 0, -EAGAIN, -EOPNOTSUPP.
 */
static int pvnet_offer_again(struct pvnet_dev *d, const char **why)
{
	int ret;

	if (pvnet_attach_rings(d, true)) {
		*why = "backend's ring indices not reset";
		return -EAGAIN;
	}
	ret = pvio_hs_front_offer(&d->hs, why);
	if (ret)
		return ret;
	pvio_notify(d->pdev, PVIO_VECTOR_CONTROL);
	d->offered = true;
	return 0;
}

/* Every RX buffer of @qp to be posted (again), no frame in progress. */
static void pvnet_rx_reset(struct pvnet_qp *qp)
{
	bitmap_zero(qp->rx.posted, qp->rx.nslots);
	bitmap_fill(qp->rx.pending, qp->rx.nslots);
	memset(&qp->rx.fr, 0, sizeof(qp->rx.fr));
	pvnet_rx_skb_drop(&qp->rx);
}

/* Submit again every TX frame of @qp the backend held, in first send
 * order; NAPI is off. Return: frames submitted. */
static unsigned int pvnet_tx_resubmit(struct pvnet_qp *qp)
{
	struct pvnet_txq *tx = &qp->tx;
	struct pvnet_tx_slot *slot;
	unsigned int n = 0;
	bool notify;

	spin_lock_bh(&tx->lock);
	list_for_each_entry(slot, &tx->sent, node) {
		/* The ring holds at least nslots entries: put fails only on
		 * a ring broken already, which the next poll finds. */
		if (pvio_prod_put(&tx->req, &slot->req, sizeof(slot->req)))
			break;
		slot->sent_at = jiffies;
		n++;
	}
	tx->live = true;
	notify = pvio_prod_publish(&tx->req);
	if (notify)
		pvnet_stat_add(&tx->xs, &tx->xs.doorbells, 1);
	spin_unlock_bh(&tx->lock);
	if (notify)
		pvio_notify(qp->d->pdev, tx->vector);
	return n;
}

/* Step 4 with the new backend, then the resubmit; the device runs again. */
static void pvnet_resume(struct pvnet_dev *d)
{
	unsigned int i, n = 0;

	pvnet_set_front_state(d, PVIO_STATE_CONNECTED);
	d->conn_gen = d->hs.back_generation;
	d->offered = false;
	for (i = 0; i < d->nqp; i++) {
		n += pvnet_tx_resubmit(&d->qps[i]);
		pvnet_rx_reset(&d->qps[i]);
		pvnet_rx_refill(&d->qps[i]);
	}
	d->reconnects++;
	WRITE_ONCE(d->link, PVNET_UP);
	netdev_info(d->ndev, "backend back (generation %u); %u TX frames submitted again\n",
		    d->hs.back_generation, n);
	if (netif_running(d->ndev)) {
		pvnet_napi_on(d);
		pvnet_wake_queues(d);
	}
	pvnet_update_carrier(d);
}

/* One step of the recovery; the watch calls it until the link is up. */
static void pvnet_recover(struct pvnet_dev *d)
{
	const char *why;
	int ret;

	if (d->offered) {
		ret = pvio_hs_front_poll(&d->hs, &why);
		if (ret == 0 && d->hs.back_generation != d->checked_gen) {
			/* Laid out again between our check and our offer. */
			ret = pvnet_check_region(d, true, &why);
			if (ret == -EPROTO) {
				pvnet_kill(d, "new backend incompatible", why);
				return;
			}
		}
		if (ret == 0) {
			pvnet_resume(d);
			return;
		}
		if (ret != -EAGAIN)
			d->offered = false;
	}
	if (!d->offered) {
		ret = pvnet_check_region(d, false, &why);
		if (ret == 0)
			ret = pvnet_offer_again(d, &why);
		if (ret == -EPROTO || ret == -EOPNOTSUPP)
			pvnet_kill(d, "new backend incompatible", why);
	}
}

/* Is the oldest TX frame of any pair older than PVNET_TX_TIMEOUT? */
static bool pvnet_tx_stalled(struct pvnet_dev *d)
{
	struct pvnet_tx_slot *slot;
	bool stalled = false;
	unsigned int i;

	for (i = 0; i < d->nqp && !stalled; i++) {
		struct pvnet_txq *tx = &d->qps[i].tx;

		spin_lock_bh(&tx->lock);
		slot = list_first_entry_or_null(&tx->sent, struct pvnet_tx_slot, node);
		stalled = tx->live && slot &&
			  time_after(jiffies, slot->sent_at + PVNET_TX_TIMEOUT);
		spin_unlock_bh(&tx->lock);
	}
	return stalled;
}

/*
 * The watch: on control doorbells (at most once per PVNET_CTRL_GAP), when
 * a ring is found broken, and periodically. Connected, it follows the
 * backend's link status and polls every queue pair (a lost doorbell
 * stalls a queue for PVNET_WATCH_PERIOD at most); otherwise it steps the
 * recovery. Runs under rtnl_lock: it turns NAPI and the queues on and off
 * as open and stop do.
 */
static void pvnet_watch(struct work_struct *work)
{
	struct pvnet_dev *d = container_of(to_delayed_work(work),
					   struct pvnet_dev, watch);
	unsigned int i;
	char why[96];

	WRITE_ONCE(d->watch_ran, jiffies);
	rtnl_lock();
	if (atomic_read(&d->dead)) {
		rtnl_unlock();
		return;
	}
	if (d->link == PVNET_UP) {
		if (pvnet_gone_reason(d, why, sizeof(why))) {
			pvnet_backend_gone(d, why);
		} else if (d->napi_on && pvnet_tx_stalled(d)) {
			/* Only while open: a closed device reaps nothing. */
			pvnet_backend_gone(d, "a TX frame unanswered for 10 s");
		} else {
			pvnet_update_carrier(d);
			if (d->napi_on)
				for (i = 0; i < d->nqp; i++)
					pvnet_napi_kick(&d->qps[i]);
		}
	}
	if (d->link == PVNET_AWAY)
		pvnet_recover(d);
	rtnl_unlock();
	if (atomic_read(&d->dead))
		return;
	pvnet_kick(d, d->link == PVNET_UP ? PVNET_WATCH_PERIOD :
		   PVNET_RECOVER_PERIOD);
}

/* Run the watch after @delay (0: now, even if queued for later); nothing
 * once removal stopped it. Context: any. */
static void pvnet_kick(struct pvnet_dev *d, unsigned long delay)
{
	unsigned long flags;

	spin_lock_irqsave(&d->kick_lock, flags);
	if (d->watching) {
		if (delay)
			queue_delayed_work(system_wq, &d->watch, delay);
		else
			mod_delayed_work(system_wq, &d->watch, 0);
	}
	spin_unlock_irqrestore(&d->kick_lock, flags);
}

static void pvnet_stop_watch(struct pvnet_dev *d)
{
	spin_lock_irq(&d->kick_lock);
	d->watching = false;
	spin_unlock_irq(&d->kick_lock);
	cancel_delayed_work_sync(&d->watch);
}

/* --- netdev and ethtool ops -------------------------------------------- */

static void pvnet_get_stats64(struct net_device *ndev,
			      struct rtnl_link_stats64 *s)
{
	struct pvnet_dev *d = netdev_priv(ndev);
	u64 p, b, dr, db;
	unsigned int i;

	for (i = 0; i < d->nqp; i++) {
		struct pvnet_qp *qp = &d->qps[i];

		pvnet_stats_read(&qp->rx.st, &p, &b, &dr, &db);
		s->rx_packets += p;
		s->rx_bytes += b;
		s->rx_dropped += dr;
		pvnet_stats_read(&qp->tx.cs, &p, &b, &dr, &db);
		s->tx_packets += p;
		s->tx_bytes += b;
		s->tx_errors += dr;
		pvnet_stats_read(&qp->tx.xs, &p, &b, &dr, &db);
		s->tx_dropped += dr;
	}
}

/* Within [min_mtu, max_mtu] (the core checks): the slots were sized for
 * the config's MTU, so any smaller one fits them. */
static int pvnet_change_mtu(struct net_device *ndev, int mtu)
{
	WRITE_ONCE(ndev->mtu, mtu);
	return 0;
}

static const struct net_device_ops pvnet_netdev_ops = {
	.ndo_open = pvnet_open,
	.ndo_stop = pvnet_stop,
	.ndo_start_xmit = pvnet_start_xmit,
	.ndo_features_check = pvnet_features_check,
	.ndo_get_stats64 = pvnet_get_stats64,
	.ndo_change_mtu = pvnet_change_mtu,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

static void pvnet_get_drvinfo(struct net_device *ndev,
			      struct ethtool_drvinfo *info)
{
	struct pvnet_dev *d = netdev_priv(ndev);

	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	strscpy(info->bus_info, dev_name(&d->pdev->dev), sizeof(info->bus_info));
}

static void pvnet_get_channels(struct net_device *ndev,
			       struct ethtool_channels *ch)
{
	struct pvnet_dev *d = netdev_priv(ndev);

	ch->max_combined = d->nqp;
	ch->combined_count = d->nqp;
}

static const char * const pvnet_qstat_names[] = {
	"tx_packets", "tx_bytes", "rx_packets", "rx_bytes",
	"doorbells_out", "interrupts", "drops", "rx_merged",
};

#define PVNET_NQSTATS ARRAY_SIZE(pvnet_qstat_names)

static int pvnet_get_sset_count(struct net_device *ndev, int sset)
{
	struct pvnet_dev *d = netdev_priv(ndev);

	if (sset != ETH_SS_STATS)
		return -EOPNOTSUPP;
	return d->nqp * PVNET_NQSTATS + 1;
}

static void pvnet_get_strings(struct net_device *ndev, u32 sset, u8 *data)
{
	struct pvnet_dev *d = netdev_priv(ndev);
	unsigned int i, j;

	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < d->nqp; i++)
		for (j = 0; j < PVNET_NQSTATS; j++)
			ethtool_sprintf(&data, "q%u_%s", i, pvnet_qstat_names[j]);
	ethtool_sprintf(&data, "reconnects");
}

static void pvnet_get_ethtool_stats(struct net_device *ndev,
				    struct ethtool_stats *stats, u64 *data)
{
	struct pvnet_dev *d = netdev_priv(ndev);
	u64 tp, tb, te, tdb, rp, rb, rd, rdb, p, b, xd, xdb;
	unsigned int i;

	for (i = 0; i < d->nqp; i++) {
		struct pvnet_qp *qp = &d->qps[i];

		pvnet_stats_read(&qp->tx.cs, &tp, &tb, &te, &tdb);
		pvnet_stats_read(&qp->tx.xs, &p, &b, &xd, &xdb);
		pvnet_stats_read(&qp->rx.st, &rp, &rb, &rd, &rdb);
		*data++ = tp;
		*data++ = tb;
		*data++ = rp;
		*data++ = rb;
		*data++ = xdb + rdb;
		*data++ = atomic64_read(&qp->interrupts);
		*data++ = te + xd + rd;
		*data++ = pvnet_stat_read_one(&qp->rx.st, &qp->rx.st.merged);
	}
	*data++ = READ_ONCE(d->reconnects);
}

static const struct ethtool_ops pvnet_ethtool_ops = {
	.get_drvinfo = pvnet_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_channels = pvnet_get_channels,
	.get_sset_count = pvnet_get_sset_count,
	.get_strings = pvnet_get_strings,
	.get_ethtool_stats = pvnet_get_ethtool_stats,
};

/* --- probe and remove --------------------------------------------------- */

/* The network rules on the layout the transport checked: config against
 * the features offered, then the queues. */
static int pvnet_read_config(struct pvio_device *pdev,
			     struct pvio_net_limits *lim)
{
	struct pvio_net_config raw;
	const char *why;

	/* A private copy already (the transport's); copied again only to
	 * give it the config's type. */
	memcpy(&raw, pdev->layout.config, sizeof(raw));
	if (pvio_net_limits_from_config(&raw, pdev->layout.back_features, lim,
					&why)) {
		dev_err(&pdev->dev, "pvnet: network configuration refused: %s\n", why);
		return -EPROTO;
	}
	if (pvio_net_check_layout(&pdev->layout, lim, &why)) {
		dev_err(&pdev->dev, "pvnet: region refused: %s\n", why);
		return -EPROTO;
	}
	return 0;
}

/*
 * Slots of one queue: min(depth, data_size / slot), where depth is what
 * both rings and the backend's queue_depth allow, and every slot must lie
 * where a 32-bit offset reaches. Return: slots, 0 if not even one fits.
 */
static u32 pvnet_nslots(const struct pvio_region_queue *q,
			const struct pvio_net_limits *lim, u32 slot)
{
	u64 n = min_t(u64, lim->queue_depth, PVNET_MAX_SLOTS);

	n = min_t(u64, n, q->req_entries);
	n = min_t(u64, n, q->rsp_entries);
	n = min_t(u64, n, div_u64(q->data_size, slot));
	n = min_t(u64, n, div_u64(1ull << 32, slot));
	return n;
}

static int pvnet_init_qp(struct pvnet_dev *d, unsigned int i, u32 tx_slot,
			 u32 rx_slot)
{
	const struct pvio_region_queue *tq = &d->pdev->layout.queues[PVIO_NET_TXQ(i)];
	const struct pvio_region_queue *rq = &d->pdev->layout.queues[PVIO_NET_RXQ(i)];
	struct pvnet_qp *qp = &d->qps[i];
	u8 *base = d->pdev->region;
	struct pvnet_txq *tx = &qp->tx;
	struct pvnet_rxq *rx = &qp->rx;
	u32 id;

	qp->d = d;
	qp->index = i;
	atomic64_set(&qp->interrupts, 0);
	spin_lock_init(&tx->lock);
	INIT_LIST_HEAD(&tx->sent);
	u64_stats_init(&tx->xs.syncp);
	u64_stats_init(&tx->cs.syncp);
	u64_stats_init(&rx->st.syncp);
	tx->data = base + tq->data_off;
	tx->vector = tq->vector;
	tx->slot_size = tx_slot;
	tx->nslots = pvnet_nslots(tq, &d->lim, tx_slot);
	rx->data = base + rq->data_off;
	rx->vector = rq->vector;
	rx->slot_size = rx_slot;
	rx->nslots = pvnet_nslots(rq, &d->lim, rx_slot);
	if (!tx->nslots || !rx->nslots) {
		dev_err(&d->pdev->dev, "pvnet: queue pair %u has no room for a %u-byte frame\n",
			i, tx->nslots ? rx_slot : tx_slot);
		return -EPROTO;
	}
	tx->free = kcalloc(tx->nslots, sizeof(*tx->free), GFP_KERNEL);
	tx->slots = kcalloc(tx->nslots, sizeof(*tx->slots), GFP_KERNEL);
	tx->outstanding = bitmap_zalloc(tx->nslots, GFP_KERNEL);
	rx->posted = bitmap_zalloc(rx->nslots, GFP_KERNEL);
	rx->pending = bitmap_zalloc(rx->nslots, GFP_KERNEL);
	if (!tx->free || !tx->slots || !tx->outstanding || !rx->posted ||
	    !rx->pending)
		return -ENOMEM;
	/* Popped from the top: slot 0 goes first. */
	for (id = 0; id < tx->nslots; id++)
		tx->free[id] = tx->nslots - 1 - id;
	tx->nfree = tx->nslots;
	tx->live = true;
	pvnet_rx_reset(qp);
	return 0;
}

static void pvnet_free_qps(struct pvnet_dev *d)
{
	unsigned int i;

	if (!d->qps)
		return;
	/* The netdev lists its NAPI contexts: off the list before they go. */
	for (i = 0; i < d->napi_added; i++)
		netif_napi_del(&d->qps[i].napi);
	d->napi_added = 0;
	for (i = 0; i < d->nqp; i++) {
		struct pvnet_qp *qp = &d->qps[i];

		kfree(qp->tx.free);
		kfree(qp->tx.slots);
		bitmap_free(qp->tx.outstanding);
		bitmap_free(qp->rx.posted);
		bitmap_free(qp->rx.pending);
		pvnet_rx_skb_drop(&qp->rx);
	}
	kfree(d->qps);
	d->qps = NULL;
}

/* Handshake steps 2 and 3 (ring/handshake.c); step 4 once the rings are
 * attached. Each wait is bounded. */
static int pvnet_connect(struct pvnet_dev *d)
{
	struct device *dev = &d->pdev->dev;
	const char *why = "ok";
	long left;
	int ret;

	d->hs.hdr = d->hdr;
	d->hs.wanted = d->wanted;
	d->hs.required = 0;
	left = wait_event_timeout(d->ctrl_wq,
				  (ret = pvio_hs_front_offer(&d->hs, &why)) != -EAGAIN,
				  PVNET_CONNECT_TIMEOUT);
	if (!left || ret) {
		dev_err(dev, "pvnet: backend not waiting for a frontend: %s\n", why);
		return left ? ret : -ETIMEDOUT;
	}
	d->features = d->hs.features;
	pvio_notify(d->pdev, PVIO_VECTOR_CONTROL);
	left = wait_event_timeout(d->ctrl_wq,
				  (ret = pvio_hs_front_poll(&d->hs, &why)) != -EAGAIN,
				  PVNET_CONNECT_TIMEOUT);
	if (!left) {
		dev_err(dev, "pvnet: backend did not answer the connection in %u s\n",
			PVNET_CONNECT_TIMEOUT / HZ);
		return -ETIMEDOUT;
	}
	if (ret) {
		dev_err(dev, "pvnet: backend did not connect: %s\n", why);
		return ret;
	}
	return 0;
}

static int pvnet_bind_queues(struct pvnet_dev *d)
{
	unsigned int i;
	int ret;

	for (i = 0; i < d->nqp; i++) {
		ret = pvio_bind(d->pdev, d->qps[i].tx.vector, pvnet_queue_irq,
				&d->qps[i]);
		if (ret)
			goto unbind;
		ret = pvio_bind(d->pdev, d->qps[i].rx.vector, pvnet_queue_irq,
				&d->qps[i]);
		if (ret) {
			pvio_unbind(d->pdev, d->qps[i].tx.vector);
			goto unbind;
		}
	}
	return 0;
unbind:
	while (i--) {
		pvio_unbind(d->pdev, d->qps[i].rx.vector);
		pvio_unbind(d->pdev, d->qps[i].tx.vector);
	}
	return ret;
}

static void pvnet_unbind_queues(struct pvnet_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->nqp; i++) {
		pvio_unbind(d->pdev, d->qps[i].rx.vector);
		pvio_unbind(d->pdev, d->qps[i].tx.vector);
	}
}

static void pvnet_setup_features(struct pvnet_dev *d)
{
	struct net_device *ndev = d->ndev;

	if (d->features & PVIO_NET_F_CSUM)
		ndev->hw_features |= NETIF_F_SG | NETIF_F_HW_CSUM;
	if ((d->features & PVIO_NET_F_CSUM) && (d->features & PVNET_TX_GSO)) {
		if (d->features & PVIO_NET_F_GSO_TCPV4)
			ndev->hw_features |= NETIF_F_TSO;
		if (d->features & PVIO_NET_F_GSO_TCPV6)
			ndev->hw_features |= NETIF_F_TSO6;
		/* A GSO frame and its Ethernet header in one slot. */
		netif_set_tso_max_size(ndev, min_t(u32, d->qps[0].tx.slot_size,
						   PVIO_NET_GSO_FRAME_MAX) -
					     PVIO_NET_ETH_HLEN_MAX);
	}
	if (d->features & PVIO_NET_F_GUEST_CSUM)
		ndev->hw_features |= NETIF_F_RXCSUM;
	ndev->features |= ndev->hw_features;
}

/*
 * The features to ask for, and the slot sizes they need: TX GSO when
 * every TX data area holds PVNET_GSO_MIN_SLOTS 64 KiB frames; receive GSO
 * (with RX_MERGE) when every RX data area holds buffers of
 * PVNET_RX_MERGE_SLOT for PVNET_RX_GSO_FRAMES such frames. Without them,
 * one slot is one frame of the MTU.
 */
static u64 pvnet_choose_features(struct pvio_device *pdev,
				 const struct pvio_net_limits *lim,
				 unsigned int nqp, u32 *tx_slot, u32 *rx_slot)
{
	u64 offered = pdev->layout.back_features;
	u32 mtu_slot = ALIGN((u32)lim->mtu + PVIO_NET_ETH_HLEN_MAX, PVNET_SLOT_ALIGN);
	u32 gso_slot = ALIGN(PVIO_NET_GSO_FRAME_MAX, PVNET_SLOT_ALIGN);
	u32 merge_slot = max_t(u32, mtu_slot, PVNET_RX_MERGE_SLOT);
	bool tx_gso = (offered & PVIO_NET_F_CSUM) && (offered & PVNET_TX_GSO);
	bool rx_gso = (offered & PVIO_NET_F_GUEST_CSUM) &&
		      (offered & PVIO_NET_F_RX_MERGE) &&
		      (offered & (PVIO_NET_F_GUEST_GSO_TCPV4 | PVIO_NET_F_GUEST_GSO_TCPV6));
	u64 want = PVNET_WANTED;
	unsigned int i;

	for (i = 0; i < nqp; i++) {
		const struct pvio_region_queue *tq = &pdev->layout.queues[PVIO_NET_TXQ(i)];
		const struct pvio_region_queue *rq = &pdev->layout.queues[PVIO_NET_RXQ(i)];

		if (pvnet_nslots(tq, lim, gso_slot) < PVNET_GSO_MIN_SLOTS)
			tx_gso = false;
		if ((u64)pvnet_nslots(rq, lim, merge_slot) * merge_slot <
		    (u64)PVNET_RX_GSO_FRAMES * PVIO_NET_GSO_FRAME_MAX)
			rx_gso = false;
	}
	*tx_slot = tx_gso ? gso_slot : mtu_slot;
	*rx_slot = rx_gso ? merge_slot : mtu_slot;
	if (tx_gso)
		want |= PVNET_TX_GSO;
	if (rx_gso)
		want |= PVNET_RX_GSO;
	return want;
}

static int pvnet_probe(struct pvio_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct pvio_net_limits lim;
	struct net_device *ndev;
	struct pvnet_dev *d;
	unsigned int nqp, i;
	u32 tx_slot, rx_slot;
	u64 wanted;
	int ret;

	ret = pvnet_read_config(pdev, &lim);
	if (ret)
		return ret;
	nqp = min3(num_online_cpus(), (unsigned int)lim.max_queue_pairs,
		   pdev->layout.num_queues / 2);
	wanted = pvnet_choose_features(pdev, &lim, nqp, &tx_slot, &rx_slot);

	ndev = alloc_etherdev_mqs(sizeof(*d), nqp, nqp);
	if (!ndev)
		return -ENOMEM;
	SET_NETDEV_DEV(ndev, dev);
	d = netdev_priv(ndev);
	d->ndev = ndev;
	d->pdev = pdev;
	d->hdr = pdev->region;
	d->lim = lim;
	d->nqp = nqp;
	d->wanted = wanted;
	d->link = PVNET_UP;
	atomic_set(&d->dead, 0);
	init_waitqueue_head(&d->ctrl_wq);
	spin_lock_init(&d->kick_lock);
	INIT_DELAYED_WORK(&d->watch, pvnet_watch);
	d->watch_ran = jiffies;

	d->qps = kcalloc(nqp, sizeof(*d->qps), GFP_KERNEL);
	if (!d->qps) {
		ret = -ENOMEM;
		goto free_netdev;
	}
	for (i = 0; i < nqp; i++) {
		ret = pvnet_init_qp(d, i, tx_slot, rx_slot);
		if (ret)
			goto free_qps;
	}

	ndev->netdev_ops = &pvnet_netdev_ops;
	ndev->ethtool_ops = &pvnet_ethtool_ops;
	ndev->min_mtu = PVIO_NET_MTU_MIN;
	ndev->max_mtu = lim.mtu;
	ndev->mtu = lim.mtu;
	eth_hw_addr_set(ndev, lim.mac);
	netif_set_real_num_tx_queues(ndev, nqp);
	netif_set_real_num_rx_queues(ndev, nqp);
	for (i = 0; i < nqp; i++) {
		netif_napi_add(ndev, &d->qps[i].napi, pvnet_poll);
		d->napi_added = i + 1;
	}

	ret = pvio_bind(pdev, PVIO_VECTOR_CONTROL, pvnet_ctrl_irq, d);
	if (ret)
		goto free_qps;
	ret = pvnet_connect(d);
	if (ret)
		goto close;
	/* A backend we connect to again must offer what we negotiated now,
	 * and we take nothing more (the device was set up for these). */
	d->hs.wanted = d->features;
	d->hs.required = d->features;
	d->conn_gen = d->hs.back_generation;
	ret = pvnet_attach_rings(d, false);
	if (ret) {
		dev_err(dev, "pvnet: cannot attach the rings (%d)\n", ret);
		goto close;
	}
	ret = pvnet_bind_queues(d);
	if (ret)
		goto close;
	pvnet_set_front_state(d, PVIO_STATE_CONNECTED);
	pvnet_setup_features(d);
	/* NAPI is off until open: nothing else touches the rings yet. */
	for (i = 0; i < nqp; i++)
		pvnet_rx_refill(&d->qps[i]);

	strscpy(ndev->name, "pvnet%d", sizeof(ndev->name));
	netif_carrier_off(ndev);
	ret = register_netdev(ndev);
	if (ret)
		goto unbind_queues;
	dev_set_drvdata(dev, d);
	spin_lock_irq(&d->kick_lock);
	d->watching = true;
	spin_unlock_irq(&d->kick_lock);
	pvnet_kick(d, 0);
	netdev_info(ndev, "%pM, mtu %u, %u queue pair(s) of %u TX / %u RX slots, features 0x%llx\n",
		    lim.mac, lim.mtu, nqp, d->qps[0].tx.nslots,
		    d->qps[0].rx.nslots, d->features);
	return 0;

unbind_queues:
	pvnet_unbind_queues(d);
close:
	/* Only once we said INITIALISED is there anything to close. */
	if (d->hs.state != PVIO_STATE_UNKNOWN)
		pvnet_set_front_state(d, PVIO_STATE_CLOSED);
	pvio_unbind(pdev, PVIO_VECTOR_CONTROL);
free_qps:
	pvnet_free_qps(d);
free_netdev:
	free_netdev(ndev);
	return ret;
}

static void pvnet_remove(struct pvio_device *pdev)
{
	struct pvnet_dev *d = dev_get_drvdata(&pdev->dev);

	if (!d)
		return;
	/* No watch turns NAPI or the queues on after this. */
	pvnet_stop_watch(d);
	/* Stops the device (pvnet_stop(): TX off, napi_disable) and waits
	 * for every user; then the rings are ours alone. */
	unregister_netdev(d->ndev);
	pvnet_set_front_state(d, PVIO_STATE_CLOSING);
	pvnet_unbind_queues(d);
	pvnet_set_front_state(d, PVIO_STATE_CLOSED);
	pvio_unbind(pdev, PVIO_VECTOR_CONTROL);
	dev_set_drvdata(&pdev->dev, NULL);
	pvnet_free_qps(d);
	free_netdev(d->ndev);
}

/* Probe waits for the backend (up to twice PVNET_CONNECT_TIMEOUT): done
 * asynchronously, so a silent backend holds up its own device only. */
static struct pvio_driver pvnet_driver = {
	.dev_class = PVIO_CLASS_NET,
	.role = PVIO_ROLE_FRONTEND,
	.probe = pvnet_probe,
	.remove = pvnet_remove,
	.driver = {
		.name = "pvnet",
		.probe_type = PROBE_PREFER_ASYNCHRONOUS,
	},
};

static int __init pvnet_init(void)
{
	return pvio_register_driver(&pvnet_driver);
}

static void __exit pvnet_exit(void)
{
	pvio_unregister_driver(&pvnet_driver);
}

module_init(pvnet_init);
module_exit(pvnet_exit);
MODULE_DESCRIPTION("pvio network frontend");
MODULE_AUTHOR("pvio");
MODULE_LICENSE("Dual MIT/GPL");
/* Matches the pvio bus's uevent: class 2 (net), role 0 (frontend). */
MODULE_ALIAS("pvio:c2r0");
