// SPDX-License-Identifier: MIT
/*
 * hostile_netback - a network backend that needs no TAP, with hostile
 * modes for testing network frontends (include/pvio/net.h).
 *
 * Usage: hostile_netback --socket SOCK [--mode MODE] [--after N]
 *                        [--seed N] [--depth D] [--mac XX:XX:XX:XX:XX:XX]
 *                        [--help]
 *
 * Serves one network device of one queue pair on an ivshmem socket. Every
 * TX frame the frontend sends is answered OK and looped back into the
 * oldest RX buffer the frontend posted, with its source and destination
 * MAC addresses swapped (dropped when no buffer is posted), so a frontend
 * sees one received frame of the same length per frame it sent. No
 * offload is offered (but by the merge-* modes); the carrier is on while
 * both sides are connected. --depth (default 64, 2..4096) is the queue
 * depth announced and the number of full-size frames each data area
 * holds; the merge-* modes offer GUEST_CSUM, RX_MERGE and receive GSO,
 * their depth defaults to 128 and each data area holds depth buffers of
 * 4096 bytes (room a frontend wants before it takes RX_MERGE).
 *
 * MODE (default "good") misbehaves from the (N+1)th TX frame on (--after,
 * default 0), on every frame from then on:
 *   bad-id        the TX response carries an id no request has
 *   dup-id        every TX request is answered twice
 *   bad-status    the TX response carries an unknown status
 *   reserved      the TX response has a non-zero reserved field
 *   prod-jump     the TX response producer index is published past the
 *                 ring size instead of the batch
 *   rx-bad-len    the looped frame's RX response claims more bytes than
 *                 its buffer holds
 *   rx-bad-id     the looped frame's RX response names a buffer never
 *                 posted
 *   more-overflow the looped frame's RX responses have PVIO_NET_RX_F_MORE:
 *                 without PVIO_NET_F_RX_MERGE negotiated one such response,
 *                 with it a chain over PVIO_NET_MAX_RX_BUFS + 1 buffers
 *                 (as many as are posted)
 *   merge-overflow as more-overflow, with RX_MERGE offered: a chain over
 *                 PVIO_NET_MAX_RX_BUFS + 1 buffers
 *   merge-hdr     with RX_MERGE offered, the looped frame comes in two
 *                 buffers, the second with an offload header (DATA_VALID)
 *   garbage       about one response in four (TX and RX) is random bytes,
 *                 and about one batch in ten publishes a random producer
 *                 index (--seed)
 *   cons-jump     the TX request ring's consumer index is published ahead
 *                 of the frontend's producer index (slots "freed" that
 *                 were never filled)
 *   silent        TX requests are taken (and looped back) but never
 *                 answered: the frontend's TX slots stay in flight
 * Prints "hostile_netback: ready" on stdout once the socket listens, and
 * "hostile_netback: MODE from frame K" on stderr when it first misbehaves;
 * runs until SIGTERM or SIGINT, then prints
 * "hostile_netback: frames T looped L" (TX frames taken, frames looped
 * into RX buffers) on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "handshake.h"
#include "ivshmem_server.h"
#include "net_proto.h"
#include "pvio_ring.h"
#include "region.h"

#define HN_MTU PVIO_NET_MTU_DEFAULT
#define HN_FRAME_MAX (HN_MTU + PVIO_NET_ETH_HLEN_MAX)
#define HN_MAX_DEPTH 4096u
/* Queue indices of the one pair, and the vectors they ring on. */
#define HN_TXQ PVIO_NET_TXQ(0)
#define HN_RXQ PVIO_NET_RXQ(0)
#define HN_NQ 2u

enum hn_mode {
	HN_GOOD, HN_BAD_ID, HN_DUP_ID, HN_BAD_STATUS, HN_RESERVED,
	HN_PROD_JUMP, HN_RX_BAD_LEN, HN_RX_BAD_ID, HN_MORE_OVERFLOW,
	HN_GARBAGE, HN_CONS_JUMP, HN_SILENT, HN_MERGE_OVERFLOW, HN_MERGE_HDR,
};

static const char *const hn_mode_names[] = {
	"good", "bad-id", "dup-id", "bad-status", "reserved", "prod-jump",
	"rx-bad-len", "rx-bad-id", "more-overflow", "garbage",
	"cons-jump", "silent", "merge-overflow", "merge-hdr",
};

#define HN_NMODES (sizeof(hn_mode_names) / sizeof(hn_mode_names[0]))

struct hn_queue {
	struct pvio_cons req;
	struct pvio_prod rsp;
	struct pvio_region_queue d;
};

/* An RX buffer the frontend posted, kept in posting order. */
struct hn_rxbuf {
	uint32_t id;
	struct pvio_net_vseg seg;
};

struct hn {
	struct pvio_ivshmem_server *srv;
	unsigned char *mem;
	struct pvio_region_params par;
	struct pvio_net_config cfg;
	struct pvio_net_limits lim;
	struct hn_queue q[HN_NQ];
	struct pvio_hs_back hs;
	uint64_t features;      /* negotiated */
	enum hn_mode mode;
	unsigned long after;
	unsigned long frames;   /* TX frames taken */
	unsigned long looped;   /* frames written into RX buffers */
	bool said;              /* the first misbehaviour was reported */
	int peer;               /* the frontend's id, or -1 */
	bool connected;
	bool relayout;          /* the frontend left: lay out again */
	bool jump;              /* publish a bad TX producer index */
	bool rx_jump;           /* the same on the RX response ring */
	bool cons_jump;         /* publish a bad TX request consumer index */
	uint32_t generation;
	uint64_t rng;
	struct hn_rxbuf *rxb;   /* ring of posted buffers, depth entries */
	unsigned int rx_head, rx_count, rx_cap;
	unsigned char frame[PVIO_NET_GSO_FRAME_MAX];
};

static uint64_t hn_rand(struct hn *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

static struct pvio_region_hdr *hn_hdr(struct hn *b)
{
	return (struct pvio_region_hdr *)b->mem;
}

static void hn_layout(struct hn *b)
{
	struct pvio_region_layout info;
	unsigned int i;

	b->par.generation = ++b->generation;
	if (pvio_region_layout(b->mem, &b->par, &info)) {
		fprintf(stderr, "hostile_netback: layout failed\n");
		exit(1);
	}
	for (i = 0; i < HN_NQ; i++)
		b->q[i].d = info.queues[i];
	pvio_hs_back_init(&b->hs, hn_hdr(b), b->par.features);
	b->connected = false;
	b->rx_head = 0;
	b->rx_count = 0;
	b->jump = false;
	b->rx_jump = false;
	b->cons_jump = false;
}

static void hn_ring(struct hn *b, unsigned int vector)
{
	if (b->peer >= 0)
		pvio_ivshmem_server_notify(b->srv, b->peer, vector);
}

static void hn_on_peer(void *opaque, int id, bool joined)
{
	struct hn *b = opaque;

	if (joined) {
		b->peer = id;
		hn_ring(b, PVIO_VECTOR_CONTROL);
	} else if (id == b->peer) {
		b->peer = -1;
		b->relayout = true;
	}
}

/* The handshake's backend half: the one state machine of ring/handshake.c
 * (this backend misbehaves on its rings only). */
static void hn_control(struct hn *b)
{
	const char *why;
	unsigned int i;

	switch (pvio_hs_back_step(&b->hs, &why)) {
	case PVIO_HS_BACK_CONNECT:
		b->features = b->hs.accepted;
		for (i = 0; i < HN_NQ; i++) {
			struct hn_queue *q = &b->q[i];

			pvio_cons_attach(&q->req, (struct pvio_ring_shared *)
					 (b->mem + q->d.req_ring_off),
					 q->d.req_entries, q->d.req_entry_size);
			pvio_prod_attach(&q->rsp, (struct pvio_ring_shared *)
					 (b->mem + q->d.rsp_ring_off),
					 q->d.rsp_entries, q->d.rsp_entry_size);
		}
		b->connected = true;
		/* A release store: the rings are attached before CONNECTED
		 * is seen. */
		pvio_hs_back_set_state(&b->hs, PVIO_STATE_CONNECTED);
		hn_ring(b, PVIO_VECTOR_CONTROL);
		break;
	case PVIO_HS_BACK_REFUSED:
		hn_ring(b, PVIO_VECTOR_CONTROL);
		break;
	case PVIO_HS_BACK_CLOSE:
		b->connected = false;
		pvio_hs_back_set_state(&b->hs, PVIO_STATE_CLOSED);
		hn_ring(b, PVIO_VECTOR_CONTROL);
		break;
	default:
		break;
	}
}

/* Is frame number @n (from 0) one to misbehave on? Says so the first
 * time. */
static bool hn_hostile(struct hn *b, unsigned long n)
{
	if (b->mode == HN_GOOD || n < b->after)
		return false;
	if (!b->said) {
		fprintf(stderr, "hostile_netback: %s from frame %lu\n",
			hn_mode_names[b->mode], n + 1);
		b->said = true;
	}
	return true;
}

/* Garbage mode: now and then, a response replaced by random bytes. */
static void hn_scramble(struct hn *b, void *rsp, size_t size)
{
	unsigned char *p = rsp;
	size_t i;

	if (hn_rand(b) % 4)
		return;
	for (i = 0; i < size; i++)
		p[i] = (unsigned char)hn_rand(b);
}

/* Take every RX buffer the frontend posted; unusable ones go back. */
static void hn_rx_take(struct hn *b)
{
	struct hn_queue *q = &b->q[HN_RXQ];
	struct pvio_net_rx_req req;
	struct pvio_net_rx_rsp r;
	struct pvio_net_vseg seg;
	const char *why;
	uint32_t id;
	int avail;

	for (;;) {
		avail = pvio_cons_avail(&q->req);
		if (avail <= 0) {
			avail = pvio_cons_arm(&q->req, 0);
			if (avail <= 0)
				return;
		}
		while (avail-- > 0 && !pvio_cons_get(&q->req, &req, sizeof(req))) {
			unsigned int st;

			st = pvio_net_rx_post_validate(&req, &b->lim, b->features,
						       q->d.data_size, &id, &seg,
						       &why);
			if (st != PVIO_NET_S_OK || b->rx_count == b->rx_cap) {
				fprintf(stderr, "hostile_netback: RX buffer %u returned unused: %s\n",
					id, st != PVIO_NET_S_OK ? why : "too many posted");
				memset(&r, 0, sizeof(r));
				r.id = pvio_cpu_to_le32(id);
				r.status = pvio_cpu_to_le16(PVIO_NET_S_UNUSED);
				pvio_prod_put(&q->rsp, &r, sizeof(r));
				continue;
			}
			b->rxb[(b->rx_head + b->rx_count) % b->rx_cap] =
				(struct hn_rxbuf){ .id = id, .seg = seg };
			b->rx_count++;
		}
		pvio_cons_release(&q->req);
	}
}

/* The oldest posted RX buffer, taken off the list; false if none. */
static bool hn_rx_pop(struct hn *b, struct hn_rxbuf *out)
{
	if (!b->rx_count)
		return false;
	*out = b->rxb[b->rx_head];
	b->rx_head = (b->rx_head + 1) % b->rx_cap;
	b->rx_count--;
	return true;
}

/* Loop @len bytes of b->frame (MACs already swapped) back to the frontend,
 * misbehaving on RX if @hostile. */
static void hn_loop(struct hn *b, uint32_t len, bool hostile)
{
	struct hn_queue *q = &b->q[HN_RXQ];
	unsigned char *data = b->mem + q->d.data_off;
	struct pvio_net_rx_rsp r;
	struct hn_rxbuf buf;
	unsigned int n;

	if (hostile && b->mode == HN_MERGE_HDR) {
		struct hn_rxbuf second;
		uint32_t half = len / 2;

		/* A frame of two pieces; the second carries a header. */
		if (b->rx_count < 2 || !hn_rx_pop(b, &buf) || !hn_rx_pop(b, &second))
			return;
		memcpy(data + buf.seg.offset, b->frame, half);
		memcpy(data + second.seg.offset, b->frame + half, len - half);
		memset(&r, 0, sizeof(r));
		r.id = pvio_cpu_to_le32(buf.id);
		r.status = pvio_cpu_to_le16(PVIO_NET_S_OK);
		r.flags = pvio_cpu_to_le16(PVIO_NET_RX_F_MORE);
		r.len = pvio_cpu_to_le32(half);
		pvio_prod_put(&q->rsp, &r, sizeof(r));
		memset(&r, 0, sizeof(r));
		r.id = pvio_cpu_to_le32(second.id);
		r.status = pvio_cpu_to_le16(PVIO_NET_S_OK);
		r.len = pvio_cpu_to_le32(len - half);
		r.hdr.flags = PVIO_NET_HDR_F_DATA_VALID;
		pvio_prod_put(&q->rsp, &r, sizeof(r));
		b->looped++;
		return;
	}
	if (hostile && (b->mode == HN_MORE_OVERFLOW || b->mode == HN_MERGE_OVERFLOW)) {
		/* Each buffer gets a piece and MORE; the chain never ends
		 * within the limit (or at all without RX_MERGE). */
		for (n = 0; n <= PVIO_NET_MAX_RX_BUFS && hn_rx_pop(b, &buf); n++) {
			uint32_t piece = buf.seg.len < len ? buf.seg.len : len;

			memcpy(data + buf.seg.offset, b->frame, piece);
			memset(&r, 0, sizeof(r));
			r.id = pvio_cpu_to_le32(buf.id);
			r.status = pvio_cpu_to_le16(PVIO_NET_S_OK);
			r.flags = pvio_cpu_to_le16(PVIO_NET_RX_F_MORE);
			r.len = pvio_cpu_to_le32(piece);
			pvio_prod_put(&q->rsp, &r, sizeof(r));
			if (!(b->features & PVIO_NET_F_RX_MERGE))
				break;
		}
		b->looped++;
		return;
	}
	if (!hn_rx_pop(b, &buf))
		return;
	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(buf.id);
	if (len > buf.seg.len) {
		/* Cannot happen with buffers of a full frame; not ours to
		 * split without RX_MERGE. */
		r.status = pvio_cpu_to_le16(PVIO_NET_S_UNUSED);
	} else {
		memcpy(data + buf.seg.offset, b->frame, len);
		r.status = pvio_cpu_to_le16(PVIO_NET_S_OK);
		r.len = pvio_cpu_to_le32(len);
		b->looped++;
	}
	if (hostile) {
		switch (b->mode) {
		case HN_RX_BAD_LEN:
			r.len = pvio_cpu_to_le32(buf.seg.len + 64);
			break;
		case HN_RX_BAD_ID:
			r.id = pvio_cpu_to_le32(buf.id + 100000);
			break;
		case HN_GARBAGE:
			hn_scramble(b, &r, sizeof(r));
			if (hn_rand(b) % 10 == 0)
				b->rx_jump = true;
			break;
		default:
			break;
		}
	}
	pvio_prod_put(&q->rsp, &r, sizeof(r));
}

/* Answer one TX request (already validated or refused with @st). */
static void hn_tx_answer(struct hn *b, uint32_t id, unsigned int st,
			 bool hostile)
{
	struct hn_queue *q = &b->q[HN_TXQ];
	struct pvio_net_tx_rsp r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(id);
	r.status = pvio_cpu_to_le16((uint16_t)st);
	if (hostile) {
		switch (b->mode) {
		case HN_BAD_ID:
			r.id = pvio_cpu_to_le32(id + 100000);
			break;
		case HN_BAD_STATUS:
			r.status = pvio_cpu_to_le16(PVIO_NET_S_MAX + 3);
			break;
		case HN_RESERVED:
			r.reserved1 = pvio_cpu_to_le64(0xdead);
			break;
		case HN_PROD_JUMP:
			b->jump = true;
			break;
		case HN_GARBAGE:
			hn_scramble(b, &r, sizeof(r));
			if (hn_rand(b) % 10 == 0)
				b->jump = true;
			break;
		case HN_CONS_JUMP:
			b->cons_jump = true;
			break;
		case HN_SILENT:
			return;
		default:
			break;
		}
	}
	pvio_prod_put(&q->rsp, &r, sizeof(r));
	if (hostile && b->mode == HN_DUP_ID)
		pvio_prod_put(&q->rsp, &r, sizeof(r));
}

/* Publish a response ring's batch, or with @jump an index the frontend
 * must refuse instead; ring the queue's vector if asked or jumped. */
static void hn_publish(struct hn *b, struct hn_queue *q, bool *jump)
{
	uint32_t bad;

	if (!*jump) {
		if (pvio_prod_publish(&q->rsp))
			hn_ring(b, q->d.vector);
		return;
	}
	bad = q->rsp.prod + q->d.rsp_entries + 3;
	if (b->mode == HN_GARBAGE)
		bad = (uint32_t)hn_rand(b);
	/* Release: the entries written so far are visible before the
	 * index; pairs with the frontend's acquire of prod. */
	pvio_store_release(&q->rsp.sh->prod, pvio_cpu_to_le32(bad));
	hn_ring(b, q->d.vector);
	*jump = false;
}

/* Serve the TX queue: validate, answer, loop back. */
static void hn_tx_serve(struct hn *b)
{
	struct hn_queue *q = &b->q[HN_TXQ];
	struct pvio_net_vseg segs[PVIO_NET_MAX_SEGS];
	const unsigned char *data = b->mem + q->d.data_off;
	struct pvio_net_tx_req req;
	struct pvio_net_vtx v;
	unsigned char mac[6];
	const char *why;
	int avail;

	for (;;) {
		avail = pvio_cons_avail(&q->req);
		if (avail <= 0) {
			avail = pvio_cons_arm(&q->req, 0);
			if (avail <= 0)
				return;
		}
		while (avail-- > 0 && !pvio_cons_get(&q->req, &req, sizeof(req))) {
			unsigned int st, i;
			uint32_t off = 0;
			bool hostile;

			st = pvio_net_tx_validate(&req, &b->lim, b->features, data,
						  q->d.data_size, &v, segs,
						  PVIO_NET_MAX_SEGS, &why);
			if (st != PVIO_NET_S_OK) {
				fprintf(stderr, "hostile_netback: TX request %u refused, status %u: %s\n",
					pvio_le32_to_cpu(req.id), st, why);
				hn_tx_answer(b, pvio_le32_to_cpu(req.id), st, false);
				continue;
			}
			hostile = hn_hostile(b, b->frames++);
			/* One copy of the frame, out of the frontend's
			 * buffers; the segments lie in the data area. */
			for (i = 0; i < v.nr_segs; i++) {
				memcpy(b->frame + off, data + segs[i].offset, segs[i].len);
				off += segs[i].len;
			}
			memcpy(mac, b->frame, 6);
			memmove(b->frame, b->frame + 6, 6);
			memcpy(b->frame + 6, mac, 6);
			hn_tx_answer(b, v.id, PVIO_NET_S_OK, hostile);
			hn_loop(b, v.len, hostile);
		}
		pvio_cons_release(&q->req);
		if (b->cons_jump) {
			/* Release: as pvio_cons_release(), which this index
			 * replaces; pairs with the frontend's acquire of
			 * cons. Then the frontend's next request is needed
			 * to see the break: nothing more to take here. */
			pvio_store_release(&q->req.sh->cons,
					   pvio_cpu_to_le32(q->req.cons + 5));
			b->cons_jump = false;
		}
		hn_publish(b, q, &b->jump);
		hn_publish(b, &b->q[HN_RXQ], &b->rx_jump);
	}
}

static uint64_t hn_pow2(uint64_t v, uint64_t p)
{
	while (p < v)
		p <<= 1;
	return p;
}

static int hn_parse_mac(const char *s, unsigned char *mac)
{
	unsigned int m[6], i;
	char end;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3],
		   &m[4], &m[5], &end) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (m[i] > 255)
			return -EINVAL;
		mac[i] = (unsigned char)m[i];
	}
	return 0;
}

static void hn_usage(FILE *fp)
{
	unsigned int i;

	fprintf(fp, "usage: hostile_netback --socket SOCK [--mode MODE] [--after N] [--seed N] [--depth D] [--mac XX:XX:XX:XX:XX:XX] [--help]\nmodes:");
	for (i = 0; i < HN_NMODES; i++)
		fprintf(fp, " %s", hn_mode_names[i]);
	fprintf(fp, "\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "after", required_argument, NULL, 'a' },
		{ "seed", required_argument, NULL, 'x' },
		{ "depth", required_argument, NULL, 'd' },
		{ "mac", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pvio_ivshmem_server_opts so = { .max_clients = 1 };
	static struct hn b = { .peer = -1 };
	unsigned char mac[6] = { 0x52, 0x56, 0x00, 0x4e, 0x42, 0x01 };
	unsigned int depth = 0, c, i;
	uint64_t offer = 0, buf_size = (HN_FRAME_MAX + 63) & ~63u;
	struct pollfd pfd[2 + HN_NQ + 1];
	sigset_t sigs;
	const char *why;
	int opt, sfd, ret;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's': so.socket_path = optarg; break;
		case 'a': b.after = strtoul(optarg, NULL, 0); break;
		case 'x': b.rng = strtoull(optarg, NULL, 0); break;
		case 'd': depth = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'M':
			if (hn_parse_mac(optarg, mac)) {
				fprintf(stderr, "hostile_netback: bad MAC %s\n", optarg);
				return 2;
			}
			break;
		case 'h':
			hn_usage(stdout);
			return 0;
		case 'm':
			for (c = 0; c < HN_NMODES; c++)
				if (!strcmp(optarg, hn_mode_names[c]))
					break;
			if (c == HN_NMODES) {
				fprintf(stderr, "hostile_netback: unknown mode %s\n", optarg);
				return 2;
			}
			b.mode = (enum hn_mode)c;
			break;
		default:
			hn_usage(stderr);
			return 2;
		}
	}
	if (b.mode == HN_MERGE_OVERFLOW || b.mode == HN_MERGE_HDR) {
		offer = PVIO_NET_F_GUEST_CSUM | PVIO_NET_F_RX_MERGE |
			PVIO_NET_F_GUEST_GSO_TCPV4 | PVIO_NET_F_GUEST_GSO_TCPV6;
		buf_size = 4096;
		if (!depth)
			depth = 128;
	}
	if (!depth)
		depth = 64;
	if (!so.socket_path || depth < 2 || depth > HN_MAX_DEPTH || optind != argc) {
		hn_usage(stderr);
		return 2;
	}
	b.rng = b.rng * 0x9e3779b97f4a7c15ull + 1;
	b.rx_cap = depth;
	b.rxb = calloc(depth, sizeof(*b.rxb));
	if (!b.rxb)
		return 1;

	memcpy(b.lim.mac, mac, sizeof(b.lim.mac));
	b.lim.mtu = HN_MTU;
	b.lim.max_queue_pairs = 1;
	b.lim.max_tx_segs = PVIO_NET_INLINE_SEGS;
	b.lim.status = PVIO_NET_STATUS_LINK_UP;
	b.lim.queue_depth = depth;
	pvio_net_config_from_limits(&b.lim, &b.cfg);
	/* The check every frontend makes on what we publish. */
	if (pvio_net_limits_from_config(&b.cfg, offer, &b.lim, &why)) {
		fprintf(stderr, "hostile_netback: config: %s\n", why);
		return 1;
	}
	b.par = (struct pvio_region_params){
		.dev_class = PVIO_CLASS_NET,
		.num_queues = HN_NQ,
		.ring_entries = (uint32_t)hn_pow2(depth, 2),
		.req_entry_size = sizeof(struct pvio_net_tx_req),
		.rsp_entry_size = sizeof(struct pvio_net_tx_rsp),
		.req_entry_size_odd = sizeof(struct pvio_net_rx_req),
		.rsp_entry_size_odd = sizeof(struct pvio_net_rx_rsp),
		/* depth frames of a full size each, cache-line aligned (or
		 * buffers of 4096 bytes for the merge-* modes) */
		.data_size = ((uint64_t)depth * buf_size +
			      PVIO_DATA_ALIGN - 1) & ~(uint64_t)(PVIO_DATA_ALIGN - 1),
		.features = offer,
		.config = &b.cfg,
	};
	b.par.region_size = hn_pow2(pvio_region_layout_size(&b.par),
				    PVIO_REGION_MIN_SIZE);

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("hostile_netback: signalfd");
		return 1;
	}

	so.region_size = b.par.region_size;
	so.vectors = HN_NQ + 1;
	so.on_peer = hn_on_peer;
	so.opaque = &b;
	ret = pvio_ivshmem_server_create(&so, &b.srv);
	if (ret) {
		fprintf(stderr, "hostile_netback: %s\n", strerror(-ret));
		return 1;
	}
	b.mem = pvio_ivshmem_server_mem(b.srv);
	hn_layout(&b);
	printf("hostile_netback: ready\n");
	fflush(stdout);

	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = pvio_ivshmem_server_fd(b.srv), .events = POLLIN };
	for (i = 0; i <= HN_NQ; i++)
		pfd[2 + i] = (struct pollfd){
			.fd = pvio_ivshmem_server_vector_fd(b.srv, i), .events = POLLIN };
	for (;;) {
		/* Bounded: a doorbell the frontend skipped costs 20 ms. */
		if (poll(pfd, 3 + HN_NQ, 20) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents)
			pvio_ivshmem_server_handle(b.srv);
		for (i = 0; i <= HN_NQ; i++) {
			uint64_t v;

			if (pfd[2 + i].revents & POLLIN)
				(void)!read(pfd[2 + i].fd, &v, sizeof(v));
		}
		if (b.relayout) {
			b.relayout = false;
			hn_layout(&b);
		}
		hn_control(&b);
		if (!b.connected)
			continue;
		hn_rx_take(&b);
		hn_publish(&b, &b.q[HN_RXQ], &b.rx_jump);
		hn_tx_serve(&b);
	}
	fprintf(stderr, "hostile_netback: frames %lu looped %lu\n", b.frames,
		b.looped);
	pvio_ivshmem_server_destroy(b.srv);
	free(b.rxb);
	return 0;
}
