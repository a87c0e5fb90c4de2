// SPDX-License-Identifier: MIT
/*
 * pvio-backd network engine; see net_engine.h and include/pvio/net.h.
 *
 * One thread per queue pair. TX: each request is copied off the ring once,
 * checked (pvio_net_tx_validate) and its segments are written to the pair's
 * TAP queue with one writev(), a virtio-net header in front; it is answered
 * at once (OK, DROPPED when the TAP refuses the frame for want of room or
 * link, INVAL, UNSUPP); a GSO frame goes to the TAP as one, the TAP
 * (the host's stack) cuts it. RX: posted buffers are checked
 * (pvio_net_rx_post_validate) and kept in order; while the kept buffers
 * can hold the largest frame the frontend may be given, the TAP queue is
 * read with readv() straight into them, oldest first, the virtio-net
 * header beside them, and each buffer the frame filled is answered with
 * its part (PVIO_NET_RX_F_MORE on all but the last, the offload header
 * on the first); the others stay kept. Without RX_MERGE that is one
 * buffer per frame. Answers are published once per round of work, and
 * the frontend is rung only when its event index asks for it.
 *
 * Idle, the thread sleeps in poll() on both doorbells and (with buffers
 * kept) the TAP fd, after arming both request rings' event indices; every
 * sleep is bounded, so a stop or a response ring the frontend does not
 * drain is noticed without a doorbell.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net_engine.h"
#include "pvio_ids.h"
#include "pvio_ring.h"

/* Requests or frames handled per queue and round before answers are
 * published and the other direction gets its turn. */
#define NQ_BATCH 64u
/* Longest sleep without a doorbell (a stop is also signalled by one). */
#define NQ_IDLE_MS 200
/* Sleep while the frontend owes response ring space. */
#define NQ_BLOCKED_MS 1

/* One posted RX buffer, kept until a frame fills it. */
struct nq_buf {
	uint32_t id;
	struct pvio_net_vseg seg;
};

struct nq {
	struct backd_net_engine *e;
	unsigned int pair;
	struct backd_engine_queue tx, rx;
	int tap;
	struct pvio_cons txreq;
	struct pvio_prod txrsp;
	struct pvio_cons rxreq;
	struct pvio_prod rxrsp;
	struct nq_buf *bufs;     /* ring of kept buffers, rx.entries slots */
	uint32_t head, count;
	struct pvio_ids ids;     /* ids of the kept buffers */
	bool blocked;            /* a request waits for response ring space */
	bool tap_err_said;
	bool dead;
	bool started;
	pthread_t thread;
};

struct backd_net_engine {
	struct backd_net_engine_cfg cfg;
	int stop;   /* set by backd_net_engine_stop() */
	int broken; /* the frontend broke the protocol on some queue */
	struct nq q[];
};

static void nq_break(struct nq *q, const char *why)
{
	q->dead = true;
	/* Relaxed: the other pairs only need to stop taking requests soon;
	 * nothing they read depends on this store. */
	__atomic_store_n(&q->e->broken, 1, __ATOMIC_RELAXED);
	q->e->cfg.broken(q->e->cfg.opaque, why);
}

static bool nq_idle(const struct nq *q)
{
	return q->dead || __atomic_load_n(&q->e->broken, __ATOMIC_RELAXED);
}

static void nq_tx_answer(struct nq *q, uint32_t id, unsigned int status)
{
	struct pvio_net_tx_rsp rsp;
	int ret;

	memset(&rsp, 0, sizeof(rsp));
	rsp.id = pvio_cpu_to_le32(id);
	rsp.status = pvio_cpu_to_le16((uint16_t)status);
	if (status != PVIO_NET_S_OK)
		backd_stat_add(&q->tx.stats->errors, 1);
	ret = pvio_prod_put(&q->txrsp, &rsp, sizeof(rsp));
	if (ret && !q->dead)
		nq_break(q, ret == -ENOSPC ? "TX response ring full" :
			 "TX response ring consumer index out of range");
}

static void nq_rx_answer(struct nq *q, uint32_t id, unsigned int status,
			 uint16_t flags, uint32_t len,
			 const struct pvio_net_hdr *hdr)
{
	struct pvio_net_rx_rsp rsp;
	int ret;

	memset(&rsp, 0, sizeof(rsp));
	rsp.id = pvio_cpu_to_le32(id);
	rsp.status = pvio_cpu_to_le16((uint16_t)status);
	rsp.flags = pvio_cpu_to_le16(flags);
	rsp.len = pvio_cpu_to_le32(len);
	if (hdr)
		rsp.hdr = *hdr;
	ret = pvio_prod_put(&q->rxrsp, &rsp, sizeof(rsp));
	if (ret && !q->dead)
		nq_break(q, ret == -ENOSPC ? "RX response ring full" :
			 "RX response ring consumer index out of range");
}

/* The frame's offload header as the TAP wants it (same meaning). */
static void nq_hdr_to_vnet(const struct pvio_net_hdr *h,
			   struct virtio_net_hdr *vh)
{
	memset(vh, 0, sizeof(*vh));
	vh->flags = h->flags & PVIO_NET_HDR_F_NEEDS_CSUM ?
		    VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
	switch (h->gso_type) {
	case PVIO_NET_GSO_TCPV4:
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		break;
	case PVIO_NET_GSO_TCPV6:
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		break;
	default:
		vh->gso_type = VIRTIO_NET_HDR_GSO_NONE;
		break;
	}
	/* The TAP takes the header in host byte order (no TUNSETVNETLE). */
	vh->hdr_len = pvio_le16_to_cpu(h->hdr_len);
	vh->gso_size = pvio_le16_to_cpu(h->gso_size);
	vh->csum_start = pvio_le16_to_cpu(h->csum_start);
	vh->csum_offset = pvio_le16_to_cpu(h->csum_offset);
}

/*
 * The header length of a TCP GSO frame: its TCP header starts at
 * csum_start, and its data offset says how long it is. @first holds the
 * frame's first @first_len bytes, in a buffer of the frontend's: the one
 * byte is read once, and the result is checked with the frame
 * (pvio_net_frame_check()). Return: the length, or 0 if it is not there.
 */
static uint16_t nq_gso_hdr_len(const unsigned char *first, uint32_t first_len,
			       uint16_t csum_start)
{
	uint8_t doff;

	if ((uint32_t)csum_start + 13u > first_len)
		return 0;
	memcpy(&doff, first + csum_start + 12u, 1);
	return (uint16_t)(csum_start + (doff >> 4) * 4u);
}

/*
 * A received frame's virtio-net header as a pvio one; false for a frame
 * the frontend cannot be given (GSO of a kind it did not accept, which
 * the TAP's offload flags keep rare; an unfinished checksum without
 * GUEST_CSUM). The TAP's hdr_len is only a hint (the bytes in its first
 * buffer): a GSO frame's is derived from its TCP header instead.
 */
static bool nq_vnet_to_hdr(const struct virtio_net_hdr *vh, uint64_t features,
			   const unsigned char *first, uint32_t first_len,
			   struct pvio_net_hdr *h)
{
	uint16_t hdr_len;

	memset(h, 0, sizeof(*h));
	if (!(features & PVIO_NET_F_GUEST_CSUM))
		/* DATA_VALID is only an assurance: dropping it is safe; an
		 * unfinished checksum is not (the TAP finishes checksums
		 * itself while TUN_F_CSUM is off, so this is rare). */
		return vh->gso_type == VIRTIO_NET_HDR_GSO_NONE &&
		       !(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		h->flags = PVIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = pvio_cpu_to_le16(vh->csum_start);
		h->csum_offset = pvio_cpu_to_le16(vh->csum_offset);
	} else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		h->flags = PVIO_NET_HDR_F_DATA_VALID;
	}
	switch (vh->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!(features & PVIO_NET_F_GUEST_GSO_TCPV4))
			return false;
		h->gso_type = PVIO_NET_GSO_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!(features & PVIO_NET_F_GUEST_GSO_TCPV6))
			return false;
		h->gso_type = PVIO_NET_GSO_TCPV6;
		break;
	default:
		/* ECN, UDP: not offered to the TAP, not in the ABI. */
		return false;
	}
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return false;
	hdr_len = nq_gso_hdr_len(first, first_len, vh->csum_start);
	if (!hdr_len)
		return false;
	h->hdr_len = pvio_cpu_to_le16(hdr_len);
	h->gso_size = pvio_cpu_to_le16(vh->gso_size);
	return true;
}

/* Send one TX request on; answers it. */
static void nq_tx_one(struct nq *q, const struct pvio_net_tx_req *wire)
{
	struct backd_net_engine *e = q->e;
	struct pvio_net_vseg segs[PVIO_NET_MAX_SEGS];
	struct iovec iov[1 + PVIO_NET_MAX_SEGS];
	struct virtio_net_hdr vh;
	struct pvio_net_vtx v;
	unsigned int status, i;
	const char *why;
	ssize_t n;

	backd_stat_add(&q->tx.stats->requests, 1);
	status = pvio_net_tx_validate(wire, &e->cfg.lim, e->cfg.features,
				      q->tx.data, q->tx.data_size, &v, segs,
				      PVIO_NET_MAX_SEGS, &why);
	if (status != PVIO_NET_S_OK) {
		backd_log_peer(e->cfg.rl, e->cfg.name,
			       "queue %u: TX request id %u refused, status %u: %s",
			       PVIO_NET_TXQ(q->pair), pvio_le32_to_cpu(wire->id),
			       status, why);
		nq_tx_answer(q, pvio_le32_to_cpu(wire->id), status);
		return;
	}
	nq_hdr_to_vnet(&v.hdr, &vh);
	iov[0].iov_base = &vh;
	iov[0].iov_len = sizeof(vh);
	/* Segments were checked to lie inside the data area; the kernel
	 * copies them out once, whatever the frontend does meanwhile. */
	for (i = 0; i < v.nr_segs; i++) {
		iov[1 + i].iov_base = (unsigned char *)q->tx.data + segs[i].offset;
		iov[1 + i].iov_len = segs[i].len;
	}
	do {
		n = writev(q->tap, iov, (int)(1 + v.nr_segs));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)(sizeof(vh) + v.len)) {
		backd_stat_add(&q->tx.stats->bytes_written, v.len);
		nq_tx_answer(q, v.id, PVIO_NET_S_OK);
		return;
	}
	if (n < 0 && (errno == EINVAL || errno == EFAULT)) {
		/* The kernel refused the frame's header (a checksum offset
		 * it does not accept): the frontend's fault. */
		backd_log_peer(e->cfg.rl, e->cfg.name,
			       "queue %u: TX request id %u refused by %s: %s",
			       PVIO_NET_TXQ(q->pair), v.id, "the TAP",
			       strerror(errno));
		nq_tx_answer(q, v.id, PVIO_NET_S_INVAL);
		return;
	}
	/* No room in the TAP queue, interface down, short write. */
	nq_tx_answer(q, v.id, PVIO_NET_S_DROPPED);
}

/*
 * One request off @req while @rsp has room for its answer and the @owed
 * ones (pvio_ring_take()): a full response ring blocks the queue until
 * the frontend frees some, a broken ring breaks it. Return: true with the
 * request in @wire, false to end the round.
 */
static bool nq_take(struct nq *q, struct pvio_cons *req, struct pvio_prod *rsp,
		    uint32_t owed, void *wire, uint32_t size)
{
	const char *why;
	int ret = pvio_ring_take(req, rsp, owed, wire, size, &why);

	if (ret == -ENOSPC)
		q->blocked = true;
	else if (ret < 0)
		nq_break(q, why);
	return ret > 0;
}

static unsigned int nq_tx_round(struct nq *q)
{
	struct pvio_net_tx_req wire;
	unsigned int n = 0;

	while (n < NQ_BATCH && !nq_idle(q)) {
		/* Every TX request is answered before the next is taken. */
		if (!nq_take(q, &q->txreq, &q->txrsp, 0, &wire, sizeof(wire)))
			break;
		n++;
		nq_tx_one(q, &wire);
	}
	pvio_cons_release(&q->txreq);
	return n;
}

/* Take posted RX buffers while the response ring can answer all kept. */
static unsigned int nq_rx_post_round(struct nq *q)
{
	struct backd_net_engine *e = q->e;
	struct pvio_net_rx_req wire;
	struct pvio_net_vseg seg;
	unsigned int n = 0, st;
	const char *why;
	uint32_t id, slot;
	char msg[96];

	while (n < NQ_BATCH && !nq_idle(q)) {
		if (!nq_take(q, &q->rxreq, &q->rxrsp, q->count, &wire,
			     sizeof(wire)))
			break;
		n++;
		backd_stat_add(&q->rx.stats->requests, 1);
		st = pvio_net_rx_post_validate(&wire, &e->cfg.lim, e->cfg.features,
					       q->rx.data_size, &id, &seg, &why);
		if (st != PVIO_NET_S_OK) {
			/* An RX answer carries OK or UNUSED only (net.h):
			 * a buffer that cannot be used goes back unused. */
			backd_log_peer(e->cfg.rl, e->cfg.name,
				       "queue %u: RX buffer id %u returned unused: %s",
				       PVIO_NET_RXQ(q->pair), id, why);
			backd_stat_add(&q->rx.stats->errors, 1);
			nq_rx_answer(q, id, PVIO_NET_S_UNUSED, 0, 0, NULL);
			continue;
		}
		slot = (q->head + q->count) % q->rx.entries;
		if (pvio_ids_add(&q->ids, id, (int32_t)slot)) {
			snprintf(msg, sizeof(msg), "queue %u: RX buffer id %u is already posted",
				 PVIO_NET_RXQ(q->pair), id);
			nq_break(q, msg);
			break;
		}
		q->bufs[slot].id = id;
		q->bufs[slot].seg = seg;
		q->count++;
	}
	pvio_cons_release(&q->rxreq);
	return n;
}

/* Bytes of the largest frame the frontend may be given. */
static uint32_t nq_rx_frame_max(const struct nq *q)
{
	if (q->e->cfg.features & (PVIO_NET_F_GUEST_GSO_TCPV4 |
				  PVIO_NET_F_GUEST_GSO_TCPV6))
		return PVIO_NET_GSO_FRAME_MAX;
	return (uint32_t)q->e->cfg.lim.mtu + PVIO_NET_ETH_HLEN_MAX;
}

static struct nq_buf *nq_kept(struct nq *q, uint32_t i)
{
	return &q->bufs[(q->head + i) % q->rx.entries];
}

/*
 * Kept buffers, oldest first, that the next frame is read into: one
 * without RX_MERGE (each holds a frame), else as many as the largest
 * frame takes (at most PVIO_NET_MAX_RX_BUFS). Return: 0 while the kept
 * buffers do not add up to that (net.h: the backend may wait for more).
 */
static uint32_t nq_rx_ready(struct nq *q)
{
	uint32_t need, i;
	uint64_t have = 0;

	if (!q->count || !(q->e->cfg.features & PVIO_NET_F_RX_MERGE))
		return q->count ? 1 : 0;
	need = nq_rx_frame_max(q);
	for (i = 0; i < q->count && i < PVIO_NET_MAX_RX_BUFS; i++) {
		have += nq_kept(q, i)->seg.len;
		if (have >= need)
			return i + 1;
	}
	return i == PVIO_NET_MAX_RX_BUFS ? i : 0;
}

/* Answer the @used oldest kept buffers with a frame of @flen bytes read
 * into them, in ring order; the first carries @h. */
static void nq_rx_deliver(struct nq *q, uint32_t used, uint32_t flen,
			  const struct pvio_net_hdr *h)
{
	uint32_t i, part;
	struct nq_buf *b;

	for (i = 0; i < used; i++) {
		b = nq_kept(q, 0);
		part = flen < b->seg.len ? flen : b->seg.len;
		flen -= part;
		nq_rx_answer(q, b->id, PVIO_NET_S_OK,
			     i + 1 < used ? PVIO_NET_RX_F_MORE : 0, part,
			     i ? NULL : h);
		pvio_ids_del(&q->ids, b->id);
		q->head = (q->head + 1) % q->rx.entries;
		q->count--;
	}
}

/* A frame from the TAP that cannot be delivered: counted, and said in a
 * rate-limited line (the host's stack sent it, not the frontend). */
static void nq_rx_drop(struct nq *q, uint32_t flen,
		       const struct virtio_net_hdr *vh, const char *why)
{
	backd_stat_add(&q->rx.stats->errors, 1);
	backd_log_peer(q->e->cfg.rl, q->e->cfg.name,
		       "queue %u: a %u-byte frame from the TAP dropped (gso_type %u, gso_size %u, flags %#x): %s",
		       PVIO_NET_RXQ(q->pair), flen, vh->gso_type, vh->gso_size,
		       vh->flags, why);
}

/* Fill kept buffers with frames the TAP has. */
static unsigned int nq_rx_fill_round(struct nq *q)
{
	struct backd_net_engine *e = q->e;
	struct iovec iov[1 + PVIO_NET_MAX_RX_BUFS];
	struct virtio_net_hdr vh;
	uint32_t flen, k, i, used;
	struct pvio_net_hdr h;
	unsigned int n = 0;
	uint64_t cap, sum;
	const char *why;
	struct nq_buf *b;
	ssize_t got;

	while (n < NQ_BATCH && !nq_idle(q) && (k = nq_rx_ready(q))) {
		iov[0].iov_base = &vh;
		iov[0].iov_len = sizeof(vh);
		cap = 0;
		for (i = 0; i < k; i++) {
			b = nq_kept(q, i);
			iov[1 + i].iov_base = (unsigned char *)q->rx.data + b->seg.offset;
			iov[1 + i].iov_len = b->seg.len;
			cap += b->seg.len;
		}
		got = readv(q->tap, iov, (int)(1 + k));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			if (errno != EAGAIN && !q->tap_err_said) {
				backd_log("%s: queue pair %u: reading the TAP: %s",
					  e->cfg.name, q->pair, strerror(errno));
				q->tap_err_said = true;
			}
			break;
		}
		n++;
		flen = got > (ssize_t)sizeof(vh) ? (uint32_t)(got - sizeof(vh)) : 0;
		/* The buffers are reused for the next frame when this one
		 * cannot be delivered. A frame the buffers could not hold
		 * comes cut to them (or, by older kernels, with its full
		 * length): one that fills buffers smaller than the largest
		 * frame may have been cut. */
		if (flen == 0 || flen > cap ||
		    (flen == cap && cap < nq_rx_frame_max(q))) {
			nq_rx_drop(q, flen, &vh, "longer than the buffers");
			continue;
		}
		b = nq_kept(q, 0);
		for (used = 0, sum = 0; sum < flen; used++)
			sum += nq_kept(q, used)->seg.len;
		if (!nq_vnet_to_hdr(&vh, e->cfg.features,
				    (const unsigned char *)q->rx.data + b->seg.offset,
				    flen < b->seg.len ? flen : b->seg.len, &h)) {
			nq_rx_drop(q, flen, &vh, "offload the frontend did not take");
			continue;
		}
		if (pvio_net_frame_check(&h, flen, e->cfg.features, false,
					 &e->cfg.lim, &why) != PVIO_NET_S_OK) {
			nq_rx_drop(q, flen, &vh, why);
			continue;
		}
		backd_stat_add(&q->rx.stats->bytes_read, flen);
		nq_rx_deliver(q, used, flen, &h);
	}
	return n;
}

static void nq_publish(struct nq *q)
{
	if (pvio_prod_publish(&q->txrsp)) {
		q->e->cfg.notify(q->e->cfg.opaque, q->tx.vector);
		backd_stat_add(&q->tx.stats->doorbells_out, 1);
	}
	if (pvio_prod_publish(&q->rxrsp)) {
		q->e->cfg.notify(q->e->cfg.opaque, q->rx.vector);
		backd_stat_add(&q->rx.stats->doorbells_out, 1);
	}
}

static void nq_drain(int fd, uint64_t *ctr)
{
	uint64_t cnt;

	if (fd >= 0 && read(fd, &cnt, sizeof(cnt)) == sizeof(cnt))
		backd_stat_add(ctr, 1);
}

/* Sleep until a doorbell, a frame for a kept buffer, or the bound. */
static void nq_sleep(struct nq *q, bool want_tap, int timeout_ms)
{
	struct pollfd p[3];
	nfds_t n = 2;

	p[0].fd = q->tx.doorbell_fd;
	p[0].events = POLLIN;
	p[1].fd = q->rx.doorbell_fd;
	p[1].events = POLLIN;
	if (want_tap) {
		p[2].fd = q->tap;
		p[2].events = POLLIN;
		n = 3;
	}
	if (poll(p, n, timeout_ms) <= 0)
		return;
	if (p[0].revents & POLLIN)
		nq_drain(q->tx.doorbell_fd, &q->tx.stats->doorbells_in);
	if (p[1].revents & POLLIN)
		nq_drain(q->rx.doorbell_fd, &q->rx.stats->doorbells_in);
}

static void *nq_thread(void *arg)
{
	struct nq *q = arg;
	struct backd_net_engine *e = q->e;
	unsigned int work;
	int ret;

	/* Acquire: pairs with the release in backd_net_engine_stop(). */
	while (!__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE)) {
		if (nq_idle(q)) {
			nq_sleep(q, false, NQ_IDLE_MS);
			continue;
		}
		q->blocked = false;
		work = nq_tx_round(q);
		work += nq_rx_post_round(q);
		work += nq_rx_fill_round(q);
		nq_publish(q);
		if (work)
			continue;
		if (q->blocked) {
			/* The frontend need not ring when it frees response
			 * slots: look again shortly. */
			nq_sleep(q, nq_rx_ready(q) > 0, NQ_BLOCKED_MS);
			continue;
		}
		ret = pvio_cons_arm(&q->txreq, 0);
		if (ret == 0)
			ret = pvio_cons_arm(&q->rxreq, 0);
		if (ret > 0)
			continue;
		if (ret < 0) {
			nq_break(q, "request ring producer index out of range");
			continue;
		}
		nq_sleep(q, nq_rx_ready(q) > 0, NQ_IDLE_MS);
	}
	/* Orderly stop: every kept buffer goes back unused (net.h). The
	 * take rule reserved a response slot for each. */
	while (q->count) {
		nq_rx_answer(q, q->bufs[q->head].id, PVIO_NET_S_UNUSED, 0, 0,
			     NULL);
		q->head = (q->head + 1) % q->rx.entries;
		q->count--;
	}
	nq_publish(q);
	return NULL;
}

static void nq_teardown(struct nq *q)
{
	free(q->bufs);
	free(q->ids.key);
	free(q->ids.slot);
}

static int nq_setup(struct backd_net_engine *e, unsigned int p)
{
	struct nq *q = &e->q[p];
	uint32_t n;
	int ret;

	q->e = e;
	q->pair = p;
	q->tx = e->cfg.q[PVIO_NET_TXQ(p)];
	q->rx = e->cfg.q[PVIO_NET_RXQ(p)];
	q->tap = e->cfg.tap_fd[p];
	ret = pvio_cons_attach(&q->txreq, q->tx.req, q->tx.entries,
			       sizeof(struct pvio_net_tx_req));
	if (!ret)
		ret = pvio_prod_attach(&q->txrsp, q->tx.rsp, q->tx.entries,
				       sizeof(struct pvio_net_tx_rsp));
	if (!ret)
		ret = pvio_cons_attach(&q->rxreq, q->rx.req, q->rx.entries,
				       sizeof(struct pvio_net_rx_req));
	if (!ret)
		ret = pvio_prod_attach(&q->rxrsp, q->rx.rsp, q->rx.entries,
				       sizeof(struct pvio_net_rx_rsp));
	if (ret) {
		backd_log_peer(e->cfg.rl, e->cfg.name,
			       "queue pair %u: the frontend left the ring indices inconsistent",
			       p);
		return ret;
	}
	n = q->rx.entries;
	q->bufs = calloc(n, sizeof(*q->bufs));
	q->ids.key = calloc(2 * n, sizeof(*q->ids.key));
	q->ids.slot = calloc(2 * n, sizeof(*q->ids.slot));
	if (!q->bufs || !q->ids.key || !q->ids.slot)
		return -ENOMEM;
	pvio_ids_init(&q->ids, q->ids.key, q->ids.slot, n);
	return 0;
}

/**
 * backd_net_engine_start() - start serving a connected network device.
 * @cfg: queues, TAP fds, limits, features and callbacks; copied
 * @out: the engine
 *
 * Attaches to the rings where their indices stand.
 *
 * Context: process; the device half's thread.
 * Return: 0 or a negative errno (inconsistent ring indices: -EPROTO).
 */
int backd_net_engine_start(const struct backd_net_engine_cfg *cfg,
			   struct backd_net_engine **out)
{
	struct backd_net_engine *e;
	unsigned int p;
	int ret;

	if (!cfg->nr_pairs || cfg->nr_pairs > BACKD_MAX_QUEUES / 2)
		return -EINVAL;
	e = calloc(1, sizeof(*e) + cfg->nr_pairs * sizeof(struct nq));
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	for (p = 0; p < cfg->nr_pairs; p++) {
		ret = nq_setup(e, p);
		if (ret)
			goto err_teardown;
	}
	for (p = 0; p < cfg->nr_pairs; p++) {
		ret = -pthread_create(&e->q[p].thread, NULL, nq_thread, &e->q[p]);
		if (ret) {
			backd_net_engine_stop(e);
			return ret;
		}
		e->q[p].started = true;
	}
	*out = e;
	return 0;

err_teardown:
	for (p = 0; p < cfg->nr_pairs; p++)
		nq_teardown(&e->q[p]);
	free(e);
	return ret;
}

/**
 * backd_net_engine_stop() - stop, answer every request taken, free.
 * @e: engine, may be NULL
 *
 * Requests still in the rings are left there.
 *
 * Context: process; not from a queue thread.
 */
void backd_net_engine_stop(struct backd_net_engine *e)
{
	const uint64_t one = 1;
	unsigned int p;
	uint64_t cnt;

	if (!e)
		return;
	/* Release: pairs with the acquire in nq_thread(). */
	__atomic_store_n(&e->stop, 1, __ATOMIC_RELEASE);
	for (p = 0; p < e->cfg.nr_pairs; p++)
		if (e->q[p].started &&
		    write(e->q[p].tx.doorbell_fd, &one, sizeof(one)) < 0)
			backd_log("%s: queue pair %u: waking the thread: %s",
				  e->cfg.name, p, strerror(errno));
	for (p = 0; p < e->cfg.nr_pairs; p++) {
		if (!e->q[p].started)
			continue;
		pthread_join(e->q[p].thread, NULL);
		/* Our own wake-up must not count as the next frontend's
		 * doorbell; the eventfd is non-blocking. */
		if (read(e->q[p].tx.doorbell_fd, &cnt, sizeof(cnt)) < 0)
			cnt = 0;
	}
	for (p = 0; p < e->cfg.nr_pairs; p++)
		nq_teardown(&e->q[p]);
	free(e);
}

/* TAP interface names: what the kernel's dev_valid_name() accepts. */
static bool tap_name_ok(const char *s)
{
	size_t len = strlen(s), i;

	if (len == 0 || len >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == '%' || s[i] <= ' ' ||
		    s[i] == 0x7f)
			return false;
	return true;
}

static int tap_open_queue(const char *name, const char *ifname, int *out)
{
	struct ifreq ifr;
	int fd, err, sz = BACKD_TAP_VNET_HDR_LEN;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT || err == -ENODEV || err == -ENXIO)
			backd_log("%s: TAP %s: /dev/net/tun is missing (%s): load the tun module, or create the device node (mknod /dev/net/tun c 10 200)",
				  name, ifname, strerror(-err));
		else
			backd_log("%s: TAP %s: opening /dev/net/tun: %s", name,
				  ifname, strerror(-err));
		return err;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		if (err == -EINVAL)
			backd_log("%s: TAP %s: an interface of that name exists and is not a TAP with multi_queue (recreate it with 'ip tuntap add %s mode tap multi_queue vnet_hdr', or remove it)",
				  name, ifname, ifname);
		else if (err == -EBUSY)
			backd_log("%s: TAP %s: busy: all its queues are taken by another process",
				  name, ifname);
		else if (err == -EPERM)
			backd_log("%s: TAP %s: not allowed (needs CAP_NET_ADMIN, or the TAP's owner)",
				  name, ifname);
		else
			backd_log("%s: TAP %s: TUNSETIFF: %s", name, ifname,
				  strerror(-err));
		goto err_close;
	}
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		err = -errno;
		backd_log("%s: TAP %s: TUNGETIFF: %s", name, ifname, strerror(-err));
		goto err_close;
	}
	if (!(ifr.ifr_flags & IFF_VNET_HDR) || !(ifr.ifr_flags & IFF_MULTI_QUEUE) ||
	    !(ifr.ifr_flags & IFF_TAP)) {
		backd_log("%s: TAP %s: the interface lacks %s", name, ifname,
			  !(ifr.ifr_flags & IFF_TAP) ? "tap mode" :
			  !(ifr.ifr_flags & IFF_VNET_HDR) ? "vnet_hdr" : "multi_queue");
		err = -EINVAL;
		goto err_close;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
		err = -errno;
		backd_log("%s: TAP %s: TUNSETVNETHDRSZ: %s", name, ifname,
			  strerror(-err));
		goto err_close;
	}
	*out = fd;
	return 0;

err_close:
	close(fd);
	return err;
}

/**
 * backd_tap_open() - create (or attach to) a multi-queue TAP interface.
 * @t: filled in
 * @name: device name for log lines
 * @ifname: the interface's name
 * @queues: TAP queues to open, one per queue pair
 * @mtu: the interface's MTU to set
 *
 * The interface lives in the caller's network namespace, and goes away
 * with the last fd unless it was made persistent beforehand. Every
 * failure is logged with a line naming the problem.
 *
 * Context: process.
 * Return: 0 or a negative errno (-EINVAL for a bad name or an interface
 * that is not a multi-queue TAP with vnet_hdr).
 */
int backd_tap_open(struct backd_tap *t, const char *name, const char *ifname,
		   unsigned int queues, unsigned int mtu)
{
	struct ifreq ifr;
	unsigned int i;
	int ret;

	memset(t, 0, sizeof(*t));
	t->ctl = -1;
	for (i = 0; i < BACKD_MAX_QUEUES / 2; i++)
		t->fd[i] = -1;
	if (!tap_name_ok(ifname)) {
		backd_log("%s: TAP interface name '%s' is not valid (1..15 characters, no '/', ':', '%%' or spaces)",
			  name, ifname);
		return -EINVAL;
	}
	if (!queues || queues > BACKD_MAX_QUEUES / 2)
		return -EINVAL;
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
	for (i = 0; i < queues; i++) {
		ret = tap_open_queue(name, ifname, &t->fd[i]);
		if (ret)
			goto err_close;
		t->nr_queues++;
	}
	t->ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->ctl < 0) {
		ret = -errno;
		backd_log("%s: TAP %s: socket: %s", name, ifname, strerror(-ret));
		goto err_close;
	}
	ret = backd_tap_set_offload(t, false, false, false);
	if (ret) {
		backd_log("%s: TAP %s: TUNSETOFFLOAD: %s", name, ifname,
			  strerror(-ret));
		goto err_close;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(t->ctl, SIOCSIFMTU, &ifr) < 0) {
		ret = -errno;
		backd_log("%s: TAP %s: setting MTU %u: %s", name, ifname, mtu,
			  strerror(-ret));
		goto err_close;
	}
	return 0;

err_close:
	backd_tap_close(t);
	return ret;
}

/**
 * backd_tap_set_offload() - what the TAP may hand over unfinished.
 * @t: open TAP
 * @csum: true when the frontend accepted PVIO_NET_F_GUEST_CSUM
 * @tso4: it also accepted PVIO_NET_F_GUEST_GSO_TCPV4 (TCPv4 frames of up
 *        to 64 KiB; taken only with @csum)
 * @tso6: the same for PVIO_NET_F_GUEST_GSO_TCPV6
 *
 * Context: process.
 * Return: 0 or a negative errno.
 */
int backd_tap_set_offload(struct backd_tap *t, bool csum, bool tso4, bool tso6)
{
	unsigned long off = 0;

	if (csum) {
		off = TUN_F_CSUM;
		if (tso4)
			off |= TUN_F_TSO4;
		if (tso6)
			off |= TUN_F_TSO6;
	}

	if (!t->nr_queues)
		return -EBADF;
	return ioctl(t->fd[0], TUNSETOFFLOAD, off) < 0 ? -errno : 0;
}

/**
 * backd_tap_link_up() - is the TAP interface up with its carrier on?
 * @t: open TAP
 *
 * Context: process.
 * Return: PVIO_NET_STATUS_LINK_UP or 0 (also when it cannot be told).
 */
int backd_tap_link_up(struct backd_tap *t)
{
	struct ifreq ifr;

	if (t->ctl < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
	if (ioctl(t->ctl, SIOCGIFFLAGS, &ifr) < 0)
		return 0;
	/* RUNNING: administratively up and the carrier on. */
	return (ifr.ifr_flags & IFF_RUNNING) ? PVIO_NET_STATUS_LINK_UP : 0;
}

/**
 * backd_tap_close() - close every TAP queue (a TAP the daemon created
 * goes away with them).
 * @t: from backd_tap_open(), may have failed half-way
 *
 * Context: process.
 */
void backd_tap_close(struct backd_tap *t)
{
	unsigned int i;

	for (i = 0; i < BACKD_MAX_QUEUES / 2; i++) {
		if (t->fd[i] >= 0)
			close(t->fd[i]);
		t->fd[i] = -1;
	}
	t->nr_queues = 0;
	if (t->ctl >= 0)
		close(t->ctl);
	t->ctl = -1;
}
