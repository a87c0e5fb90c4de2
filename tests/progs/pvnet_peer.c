// SPDX-License-Identifier: MIT
/*
 * pvnet_peer - a userspace frontend for pvio network devices, for
 * pvio-backd's tests: it attaches to the device's socket as an
 * ivshmem-doorbell device would, runs the handshake of include/pvio/region.h
 * with the checks of ring/net_proto.h, posts every RX buffer it can, and
 * then runs the steps given on the command line in order, answering ARP
 * requests for its own address all the while.
 *
 * Usage: pvnet_peer SOCK [OPTIONS] STEP...
 * Options:
 *   --pairs N       queue pairs the device has (default 1); frames are sent
 *                   on pair 0 and received on every pair
 *   --ip A          this end's IPv4 address (default 10.99.0.2)
 *   --host-ip B     the TAP end's IPv4 address (default 10.99.0.1)
 *   --timeout MS    bound of each step (default 5000)
 *   --no-offload    accept no checksum offload (CSUM, GUEST_CSUM)
 *   --rx-buf N      RX buffers of N bytes (default: one frame of the MTU)
 *   --gso           also accept the segmentation offloads offered (TX
 *                   and receive GSO, RX_MERGE); without it, none
 * Steps:
 *   arp             ARP request for the host address; the reply must come
 *                   and names the host's MAC address
 *   ping COUNT SIZE COUNT ICMP echo requests with SIZE payload bytes; each
 *                   reply must come with valid IP and ICMP checksums and the
 *                   same payload (its FNV-1a hash is printed)
 *   udp-wait PORT TEXT  a UDP datagram to this address, port PORT, holding
 *                   exactly TEXT, with a valid UDP checksum (finished here
 *                   when the backend handed it over unfinished)
 *   ready FILE      create FILE (tells a test script to go on)
 *   bad-len         a TX frame longer than the MTU allows: must be INVAL
 *   bad-flag        a TX request with an unknown flag: must be INVAL
 *   link up|down    wait until config.status shows the link so
 *   sleep MS        keep serving (ARP) for MS milliseconds
 *   rx-small        post a buffer smaller than a frame needs: it must come
 *                   back UNUSED (the last buffer of pair 0 is kept for it)
 *   rx-dup          post a buffer id that is posted already: the backend
 *                   must close the device (back.state CLOSED); ends the run
 *   close           orderly close: every posted RX buffer must come back
 *                   (filled or UNUSED) before the backend says CLOSED
 *   tcp-out PORT BYTES SEED  (--gso) a TCP connection to the host's PORT
 *                   (a minimal TCP here): after the handshake, BYTES of
 *                   net_xfer's stream for SEED in one TX GSO frame
 *                   (NEEDS_CSUM, gso_size 1400), then FIN; the host must
 *                   acknowledge all of it and close (a net_xfer tcp-recv
 *                   there checks the bytes)
 *   tcp-in PORT BYTES SEED  (--gso) take a TCP connection to this end's
 *                   PORT (from net_xfer tcp-send): BYTES must arrive in
 *                   order and equal the stream for SEED, at least one
 *                   frame longer than an RX buffer (RX_F_MORE) with a
 *                   GSO type; each frame is acknowledged, the FIN too
 * Every step prints one line; exit 0 when all passed, 1 with a "FAIL:" line
 * on the first that did not, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ivshmem_client.h"
#include "net_proto.h"
#include "pvio_ring.h"
#include "region.h"
#include "xfer_stream.h"

#define PP_MAX_PAIRS 16u
#define PP_MAX_BUFS 1024u
#define PP_FRAME_MAX 65600u
#define PP_RXQ_FRAMES 64u
#define PP_TX_IDS 1024u

struct pp_pair {
	struct pvio_prod txreq;
	struct pvio_cons txrsp;
	struct pvio_prod rxreq;
	struct pvio_cons rxrsp;
	unsigned char *txdata, *rxdata;
	uint64_t txsize, rxsize;
	unsigned int txvec, rxvec;
	uint32_t nbufs;
	uint32_t buf_len;
	bool posted[PP_MAX_BUFS];
	bool unused[PP_MAX_BUFS]; /* came back UNUSED */
	unsigned int outstanding;
	struct pvio_net_rx_frame fr;
	unsigned char cur[PP_FRAME_MAX]; /* frame being put together */
};

struct pp {
	struct pvio_ivshmem_client *cl;
	unsigned char *mem;
	struct pvio_region_hdr *hdr;
	uint64_t size;
	struct pvio_region_layout info;
	struct pvio_net_limits lim;
	uint64_t features;
	unsigned int npairs;
	struct pp_pair p[PP_MAX_PAIRS];
	uint32_t tx_id;
	/* TX answers seen, by id modulo PP_TX_IDS. */
	bool tx_seen[PP_TX_IDS];
	uint16_t tx_st[PP_TX_IDS];
	/* Frames received, not yet looked at by a step. */
	unsigned int nframes;
	uint32_t flen[PP_RXQ_FRAMES];
	struct pvio_net_hdr fhdr[PP_RXQ_FRAMES];
	unsigned char *frames[PP_RXQ_FRAMES];
	unsigned long rx_total, arp_answered;
	bool closing; /* no more buffers are posted */
};

static unsigned char my_mac[6], host_mac[6];
static uint32_t my_ip, host_ip; /* network byte order */
static int opt_timeout = 5000;
static bool opt_no_offload;
static bool opt_gso;
static unsigned int opt_rx_buf; /* --rx-buf: RX buffer bytes, 0: one frame */

static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pp_log(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	note("client: %s", msg);
}

static uint32_t back_state(const struct pp *pp)
{
	return pvio_le32_to_cpu(pvio_load_acquire(&pp->hdr->back.state));
}

/* One's complement sum of @len bytes, not folded. */
static uint32_t csum_add(uint32_t sum, const unsigned char *b, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint64_t fnv(const unsigned char *b, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	while (len--)
		h = (h ^ *b++) * 1099511628211ull;
	return h;
}

static void put16(unsigned char *b, uint16_t v)
{
	b[0] = (unsigned char)(v >> 8);
	b[1] = (unsigned char)v;
}

static uint16_t get16(const unsigned char *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Post buffer @i of pair @p. */
static void pp_post(struct pp *pp, struct pp_pair *p, uint32_t i)
{
	struct pvio_net_rx_req r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(i);
	r.buf.offset = pvio_cpu_to_le32(i * p->buf_len);
	r.buf.len = pvio_cpu_to_le32(p->buf_len);
	if (pvio_prod_put(&p->rxreq, &r, sizeof(r)))
		fail("RX request ring full");
	p->posted[i] = true;
	p->outstanding++;
	(void)pp;
}

static void pp_kick_rx(struct pp *pp, struct pp_pair *p)
{
	if (pvio_prod_publish(&p->rxreq))
		pvio_ivshmem_client_notify(pp->cl, 0, p->rxvec);
}

static void pp_tx_raw(struct pp *pp, const struct pvio_net_tx_req *r)
{
	struct pp_pair *p = &pp->p[0];

	if (pvio_prod_put(&p->txreq, r, sizeof(*r)))
		fail("TX request ring full");
	if (pvio_prod_publish(&p->txreq))
		pvio_ivshmem_client_notify(pp->cl, 0, p->txvec);
}

/* A frame that came whole: answer ARP for us, keep the rest. */
static void pp_frame(struct pp *pp, const unsigned char *f, uint32_t len,
		     const struct pvio_net_hdr *h);

static void pp_tx_frame(struct pp *pp, const unsigned char *f, uint32_t len,
			const struct pvio_net_hdr *h, uint16_t flags);

/* Take every RX and TX answer there is; re-post the RX buffers. */
static int pp_reap(struct pp *pp)
{
	unsigned int q;
	int work = 0;

	for (q = 0; q < pp->npairs; q++) {
		struct pp_pair *p = &pp->p[q];
		struct pvio_net_tx_rsp trsp;
		struct pvio_net_rx_rsp rrsp;
		struct pvio_net_vtx_rsp vt;
		struct pvio_net_vrx_rsp vr;
		const char *why;
		bool done;
		int n;

		n = pvio_cons_avail(&p->txrsp);
		if (n < 0)
			fail("TX response ring broken");
		while (n-- > 0) {
			pvio_cons_get(&p->txrsp, &trsp, sizeof(trsp));
			if (pvio_net_tx_rsp_check(&trsp, &vt, &why))
				fail("TX response: %s", why);
			pp->tx_seen[vt.id % PP_TX_IDS] = true;
			pp->tx_st[vt.id % PP_TX_IDS] = vt.status;
			work++;
		}
		pvio_cons_release(&p->txrsp);
		n = pvio_cons_avail(&p->rxrsp);
		if (n < 0)
			fail("RX response ring broken");
		while (n-- > 0) {
			uint32_t id;

			pvio_cons_get(&p->rxrsp, &rrsp, sizeof(rrsp));
			id = pvio_le32_to_cpu(rrsp.id);
			if (id >= p->nbufs || !p->posted[id])
				fail("RX response for buffer %u, not posted", id);
			if (pvio_net_rx_rsp_check(&rrsp, p->buf_len, pp->features,
						  &vr, &why))
				fail("RX response: %s", why);
			p->posted[id] = false;
			p->outstanding--;
			work++;
			if (vr.status == PVIO_NET_S_UNUSED) {
				p->unused[id] = true;
				continue;
			}
			if (p->fr.len + vr.len > PP_FRAME_MAX)
				fail("RX frame over %u bytes", PP_FRAME_MAX);
			/* Copied out of shared memory once. */
			memcpy(p->cur + p->fr.len, p->rxdata + (uint64_t)id * p->buf_len,
			       vr.len);
			if (pvio_net_rx_frame_add(&p->fr, &vr, pp->features, &pp->lim,
						  &done, &why))
				fail("RX frame: %s", why);
			if (done) {
				struct pvio_net_hdr h = p->fr.hdr;
				uint32_t len = p->fr.len;

				memset(&p->fr, 0, sizeof(p->fr));
				pp->rx_total++;
				pp_frame(pp, p->cur, len, &h);
			}
			if (!pp->closing && back_state(pp) == PVIO_STATE_CONNECTED)
				pp_post(pp, p, id);
		}
		pvio_cons_release(&p->rxrsp);
		if (!pp->closing && back_state(pp) == PVIO_STATE_CONNECTED)
			pp_kick_rx(pp, p);
	}
	return work;
}

/* Serve for up to @ms: reap, then sleep on every doorbell. */
static void pp_pump(struct pp *pp, int ms)
{
	struct pollfd fds[2 * PP_MAX_PAIRS + 1];
	unsigned int q, n = 0;
	uint64_t cnt;
	int armed = 0;

	if (pp_reap(pp))
		return;
	for (q = 0; q < pp->npairs; q++) {
		armed |= pvio_cons_arm(&pp->p[q].txrsp, 0);
		armed |= pvio_cons_arm(&pp->p[q].rxrsp, 0);
	}
	if (armed)
		return;
	for (q = 0; q < pp->npairs; q++) {
		fds[n].fd = pvio_ivshmem_client_vector_fd(pp->cl, pp->p[q].txvec);
		fds[n++].events = POLLIN;
		fds[n].fd = pvio_ivshmem_client_vector_fd(pp->cl, pp->p[q].rxvec);
		fds[n++].events = POLLIN;
	}
	fds[n].fd = pvio_ivshmem_client_fd(pp->cl);
	fds[n++].events = POLLIN;
	if (poll(fds, n, ms) <= 0)
		return;
	for (q = 0; q + 1 < n; q++)
		if ((fds[q].revents & POLLIN) && read(fds[q].fd, &cnt, sizeof(cnt)) < 0)
			cnt = 0;
	if ((fds[n - 1].revents & (POLLIN | POLLHUP)) &&
	    pvio_ivshmem_client_handle(pp->cl) < 0)
		fail("the backend's socket went away");
}

/* Send a frame on pair 0 and wait for its answer; returns the status. */
static unsigned int pp_send(struct pp *pp, const unsigned char *f, uint32_t len,
			    const struct pvio_net_hdr *h, uint16_t flags)
{
	long long end = now_ms() + opt_timeout;
	uint32_t id = pp->tx_id;

	pp->tx_seen[id % PP_TX_IDS] = false;
	pp_tx_frame(pp, f, len, h, flags);
	while (!pp->tx_seen[id % PP_TX_IDS]) {
		if (now_ms() > end)
			fail("no answer to TX request %u within %d ms", id, opt_timeout);
		pp_pump(pp, 50);
	}
	return pp->tx_st[id % PP_TX_IDS];
}

static void pp_tx_frame(struct pp *pp, const unsigned char *f, uint32_t len,
			const struct pvio_net_hdr *h, uint16_t flags)
{
	struct pp_pair *p = &pp->p[0];
	struct pvio_net_tx_req r;
	/* A slot per id, so that frames in flight (an ARP answer sent
	 * while waiting for another answer) keep their bytes. */
	uint64_t off = (uint64_t)(pp->tx_id % 16u) * p->buf_len;

	/* A frame over one buffer (GSO) has the space after those. */
	if (len > p->buf_len)
		off = 16ull * p->buf_len;

	if (off + len > p->txsize)
		off = 0;
	if (len > p->txsize)
		fail("frame of %u bytes does not fit the TX data area", len);
	memcpy(p->txdata + off, f, len);
	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(pp->tx_id++);
	r.flags = pvio_cpu_to_le16(flags);
	r.nr_segs = pvio_cpu_to_le16(1);
	r.len = pvio_cpu_to_le32(len);
	if (h)
		r.hdr = *h;
	r.seg[0].offset = pvio_cpu_to_le32((uint32_t)off);
	r.seg[0].len = pvio_cpu_to_le32(len);
	pp_tx_raw(pp, &r);
}

static size_t mk_arp(unsigned char *f, uint16_t op, const unsigned char *dst_mac,
		     const unsigned char *tha, uint32_t tpa)
{
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, my_mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, op);
	memcpy(f + 22, my_mac, 6);
	memcpy(f + 28, &my_ip, 4);
	memcpy(f + 32, tha, 6);
	memcpy(f + 38, &tpa, 4);
	return 42;
}

static void pp_frame(struct pp *pp, const unsigned char *f, uint32_t len,
		     const struct pvio_net_hdr *h)
{
	unsigned char out[64];
	unsigned int k;

	if (len >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 1 &&
	    !memcmp(f + 38, &my_ip, 4)) {
		uint32_t spa;

		memcpy(&spa, f + 28, 4);
		mk_arp(out, 2, f + 22, f + 22, spa);
		/* The answer's own TX answer is taken by whoever waits. */
		pp_tx_frame(pp, out, 42, NULL, 0);
		pp->arp_answered++;
		return;
	}
	if (pp->nframes == PP_RXQ_FRAMES) {
		free(pp->frames[0]);
		for (k = 1; k < PP_RXQ_FRAMES; k++) {
			pp->frames[k - 1] = pp->frames[k];
			pp->flen[k - 1] = pp->flen[k];
			pp->fhdr[k - 1] = pp->fhdr[k];
		}
		pp->nframes--;
	}
	pp->frames[pp->nframes] = malloc(len);
	if (!pp->frames[pp->nframes])
		fail("out of memory");
	memcpy(pp->frames[pp->nframes], f, len);
	pp->flen[pp->nframes] = len;
	pp->fhdr[pp->nframes] = *h;
	pp->nframes++;
}

/* Wait for a kept frame that @match accepts; it is taken off the list. */
static unsigned char *pp_wait_frame(struct pp *pp,
				    bool (*match)(const unsigned char *, uint32_t, void *),
				    void *arg, uint32_t *len, struct pvio_net_hdr *h,
				    const char *what)
{
	long long end = now_ms() + opt_timeout;
	unsigned int k, j;

	for (;;) {
		for (k = 0; k < pp->nframes; k++) {
			if (!match(pp->frames[k], pp->flen[k], arg))
				continue;
			unsigned char *f = pp->frames[k];

			*len = pp->flen[k];
			*h = pp->fhdr[k];
			for (j = k + 1; j < pp->nframes; j++) {
				pp->frames[j - 1] = pp->frames[j];
				pp->flen[j - 1] = pp->flen[j];
				pp->fhdr[j - 1] = pp->fhdr[j];
			}
			pp->nframes--;
			return f;
		}
		if (now_ms() > end)
			fail("%s: nothing within %d ms (%lu frames received)", what,
			     opt_timeout, pp->rx_total);
		pp_pump(pp, 50);
	}
}

/* Finish an unfinished checksum (NEEDS_CSUM) the way the header says. */
static void finish_csum(unsigned char *f, uint32_t len, const struct pvio_net_hdr *h)
{
	uint32_t start = pvio_le16_to_cpu(h->csum_start);
	uint32_t off = pvio_le16_to_cpu(h->csum_offset);

	if (!(h->flags & PVIO_NET_HDR_F_NEEDS_CSUM))
		return;
	if (start + off + 2 > len)
		fail("checksum field outside the frame");
	put16(f + start + off, (uint16_t)~csum_fold(csum_add(0, f + start, len - start)));
}

static bool match_arp_reply(const unsigned char *f, uint32_t len, void *arg)
{
	(void)arg;
	return len >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 2 &&
	       !memcmp(f + 28, &host_ip, 4) && !memcmp(f + 38, &my_ip, 4);
}

static void step_arp(struct pp *pp)
{
	static const unsigned char bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const unsigned char zero[6];
	struct pvio_net_hdr h;
	unsigned char f[64], *r;
	unsigned int st;
	uint32_t len;

	mk_arp(f, 1, bcast, zero, host_ip);
	st = pp_send(pp, f, 42, NULL, 0);
	if (st != PVIO_NET_S_OK)
		fail("arp: TX status %u", st);
	r = pp_wait_frame(pp, match_arp_reply, NULL, &len, &h, "arp reply");
	memcpy(host_mac, r + 22, 6);
	note("arp: %s is at %02x:%02x:%02x:%02x:%02x:%02x", inet_ntoa(*(struct in_addr *)&host_ip),
	     host_mac[0], host_mac[1], host_mac[2], host_mac[3], host_mac[4], host_mac[5]);
	free(r);
}

struct echo_want {
	uint16_t id, seq;
};

static bool match_echo(const unsigned char *f, uint32_t len, void *arg)
{
	const struct echo_want *w = arg;
	unsigned int ihl;

	if (len < 14 + 20 + 8 || get16(f + 12) != 0x0800 || f[23] != 1)
		return false;
	ihl = (f[14] & 15u) * 4u;
	if (len < 14 + ihl + 8)
		return false;
	return f[14 + ihl] == 0 && get16(f + 14 + ihl + 4) == w->id &&
	       get16(f + 14 + ihl + 6) == w->seq;
}

static void step_ping(struct pp *pp, unsigned int count, unsigned int size)
{
	unsigned char f[PP_FRAME_MAX], *r;
	struct echo_want w = { .id = (uint16_t)getpid() };
	uint32_t flen = 14 + 20 + 8 + size, rlen, k, ihl;
	struct pvio_net_hdr h;
	unsigned int i, st;
	uint16_t tot = (uint16_t)(20 + 8 + size);

	if (flen > pp->lim.mtu + 14u)
		fail("ping: %u payload bytes exceed the MTU", size);
	for (i = 0; i < count; i++) {
		w.seq = (uint16_t)(i + 1);
		memcpy(f, host_mac, 6);
		memcpy(f + 6, my_mac, 6);
		put16(f + 12, 0x0800);
		memset(f + 14, 0, 20);
		f[14] = 0x45;
		put16(f + 16, tot);
		put16(f + 18, (uint16_t)(0x100 + i));
		put16(f + 20, 0x4000);
		f[22] = 64;
		f[23] = 1;
		memcpy(f + 26, &my_ip, 4);
		memcpy(f + 30, &host_ip, 4);
		put16(f + 24, (uint16_t)~csum_fold(csum_add(0, f + 14, 20)));
		f[34] = 8;
		f[35] = 0;
		put16(f + 36, 0);
		put16(f + 38, w.id);
		put16(f + 40, w.seq);
		for (k = 0; k < size; k++)
			f[42 + k] = (unsigned char)(k * 7 + i + (k >> 8));
		put16(f + 36, (uint16_t)~csum_fold(csum_add(0, f + 34, 8 + size)));
		st = pp_send(pp, f, flen, NULL, 0);
		if (st != PVIO_NET_S_OK)
			fail("ping: TX status %u", st);
		r = pp_wait_frame(pp, match_echo, &w, &rlen, &h, "echo reply");
		finish_csum(r, rlen, &h);
		ihl = (r[14] & 15u) * 4u;
		if (memcmp(r + 26, &host_ip, 4) || memcmp(r + 30, &my_ip, 4))
			fail("ping: reply with wrong addresses");
		if (csum_fold(csum_add(0, r + 14, ihl)) != 0xffff)
			fail("ping: reply's IP header checksum is wrong");
		if (get16(r + 16) != tot || rlen < 14u + tot)
			fail("ping: reply of %u bytes, want %u", get16(r + 16), tot);
		if (csum_fold(csum_add(0, r + 14 + ihl, 8 + size)) != 0xffff)
			fail("ping: reply's ICMP checksum is wrong");
		if (memcmp(r + 14 + ihl + 8, f + 42, size))
			fail("ping: reply's payload differs from the request's");
		note("ping: seq %u: reply ok, %u payload bytes, hash %016" PRIx64 " (request %016" PRIx64 ")",
		     w.seq, size, fnv(r + 14 + ihl + 8, size), fnv(f + 42, size));
		free(r);
	}
}

struct udp_want {
	uint16_t port;
};

static bool match_udp(const unsigned char *f, uint32_t len, void *arg)
{
	const struct udp_want *w = arg;
	unsigned int ihl;

	if (len < 14 + 20 + 8 || get16(f + 12) != 0x0800 || f[23] != 17 ||
	    memcmp(f + 30, &my_ip, 4))
		return false;
	ihl = (f[14] & 15u) * 4u;
	return len >= 14 + ihl + 8 && get16(f + 14 + ihl + 2) == w->port;
}

static void step_udp_wait(struct pp *pp, unsigned int port, const char *text)
{
	struct udp_want w = { .port = (uint16_t)port };
	struct pvio_net_hdr h;
	unsigned char *r, *u;
	uint32_t len, ihl, ulen, sum;
	const char *how;

	r = pp_wait_frame(pp, match_udp, &w, &len, &h, "udp datagram");
	how = h.flags & PVIO_NET_HDR_F_NEEDS_CSUM ? "checksum finished here" :
	      h.flags & PVIO_NET_HDR_F_DATA_VALID ? "checksum valid (DATA_VALID)" :
	      "checksum complete";
	finish_csum(r, len, &h);
	ihl = (r[14] & 15u) * 4u;
	u = r + 14 + ihl;
	ulen = get16(u + 4);
	if (ulen < 8 || 14 + ihl + ulen > len)
		fail("udp: length %u does not fit the frame", ulen);
	if (get16(u + 6)) {
		sum = csum_add(0, r + 26, 8);
		sum += 17 + ulen;
		sum = csum_add(sum, u, ulen);
		if (csum_fold(sum) != 0xffff)
			fail("udp: checksum is wrong");
	}
	if (ulen - 8 != strlen(text) || memcmp(u + 8, text, ulen - 8))
		fail("udp: payload '%.*s' is not '%s'", (int)(ulen - 8), u + 8, text);
	note("udp: %u bytes on port %u intact, %s", ulen - 8, port, how);
	free(r);
}

static void step_bad(struct pp *pp, bool len_over)
{
	unsigned char f[PP_FRAME_MAX];
	uint32_t len = len_over ? pp->lim.mtu + PVIO_NET_ETH_HLEN_MAX + 1u : 60u;
	unsigned int st;

	memset(f, 0, len);
	memset(f, 0xff, 6);
	memcpy(f + 6, my_mac, 6);
	put16(f + 12, 0x88b5); /* local experimental ethertype */
	st = pp_send(pp, f, len, NULL, len_over ? 0 : 0x8000);
	if (st != PVIO_NET_S_INVAL)
		fail("%s: status %u, want INVAL (%u)", len_over ? "bad-len" : "bad-flag",
		     st, PVIO_NET_S_INVAL);
	note("%s: INVAL", len_over ? "bad-len" : "bad-flag");
}

static void step_link(struct pp *pp, bool up)
{
	const struct pvio_net_config *c = (const struct pvio_net_config *)pp->hdr->config;
	long long end = now_ms() + opt_timeout;
	uint32_t st;

	if (!(pp->features & PVIO_NET_F_LINK_STATUS))
		fail("link: LINK_STATUS not negotiated");
	for (;;) {
		/* Acquire: pairs with the backend's release of the status. */
		st = pvio_le32_to_cpu(pvio_load_acquire(&c->status));
		if (!!(st & PVIO_NET_STATUS_LINK_UP) == up)
			break;
		if (now_ms() > end)
			fail("link: still %s after %d ms", up ? "down" : "up", opt_timeout);
		pp_pump(pp, 20);
	}
	note("link: %s", up ? "up" : "down");
}

static void step_close(struct pp *pp)
{
	long long end = now_ms() + opt_timeout;
	unsigned int q, left;

	pp->closing = true;
	pvio_store_release(&pp->hdr->front.state, pvio_cpu_to_le32(PVIO_STATE_CLOSING));
	pvio_ivshmem_client_notify(pp->cl, 0, PVIO_VECTOR_CONTROL);
	for (;;) {
		pp_reap(pp);
		left = 0;
		for (q = 0; q < pp->npairs; q++)
			left += pp->p[q].outstanding;
		if (back_state(pp) == PVIO_STATE_CLOSED) {
			/* The answers were published before CLOSED. Buffers
			 * the backend never took (still in the ring: behind
			 * its consumer index) are not owed an answer. */
			pp_reap(pp);
			left = 0;
			for (q = 0; q < pp->npairs; q++) {
				struct pp_pair *p = &pp->p[q];
				uint32_t cons = pvio_le32_to_cpu(pvio_load_acquire(&p->rxreq.sh->cons));
				uint32_t in_ring = p->rxreq.pub - cons;

				if (in_ring > p->outstanding)
					fail("close: pair %u: consumer index beyond what was posted", q);
				left += p->outstanding - in_ring;
			}
			if (left)
				fail("close: %u RX buffers taken and not answered at CLOSED", left);
			break;
		}
		if (now_ms() > end)
			fail("close: backend did not say CLOSED");
		pp_pump(pp, 20);
	}
	pvio_store_release(&pp->hdr->front.state, pvio_cpu_to_le32(PVIO_STATE_CLOSED));
	note("close: every RX buffer answered, backend CLOSED");
}

static void step_rx_small(struct pp *pp)
{
	struct pp_pair *p = &pp->p[0];
	long long end = now_ms() + opt_timeout;
	uint32_t id = p->nbufs - 1;
	struct pvio_net_rx_req r;

	if (p->posted[id])
		fail("rx-small: buffer %u is posted already", id);
	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(id);
	r.buf.offset = pvio_cpu_to_le32(id * p->buf_len);
	r.buf.len = pvio_cpu_to_le32(100);
	if (pvio_prod_put(&p->rxreq, &r, sizeof(r)))
		fail("RX request ring full");
	p->posted[id] = true;
	p->outstanding++;
	p->unused[id] = false;
	pp_kick_rx(pp, p);
	while (p->posted[id]) {
		if (now_ms() > end)
			fail("rx-small: no answer within %d ms", opt_timeout);
		pp_pump(pp, 20);
	}
	if (!p->unused[id])
		fail("rx-small: a 100-byte buffer was filled");
	note("rx-small: 100-byte buffer returned UNUSED");
}

static void step_rx_dup(struct pp *pp)
{
	struct pp_pair *p = &pp->p[0];
	long long end = now_ms() + opt_timeout;
	struct pvio_net_rx_req r;

	if (!p->posted[0])
		fail("rx-dup: buffer 0 is not posted");
	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(0);
	r.buf.offset = pvio_cpu_to_le32(0);
	r.buf.len = pvio_cpu_to_le32(p->buf_len);
	if (pvio_prod_put(&p->rxreq, &r, sizeof(r)))
		fail("RX request ring full");
	pp_kick_rx(pp, p);
	while (back_state(pp) != PVIO_STATE_CLOSED) {
		if (now_ms() > end)
			fail("rx-dup: the backend did not close the device");
		usleep(10000);
	}
	note("rx-dup: backend closed the device");
	pvio_ivshmem_client_close(pp->cl);
	exit(0);
}

/* --- a minimal TCP over IPv4, for the GSO steps ----------------------- */

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_PSH 0x08u
#define TCP_ACK 0x10u

static void put32(unsigned char *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b + 2, (uint16_t)v);
}

static uint32_t get32(const unsigned char *b)
{
	return (uint32_t)get16(b) << 16 | get16(b + 2);
}

struct tcb {
	uint16_t lport, rport;
	uint32_t snd_nxt, rcv_nxt;
	uint32_t wnd; /* the host's window, unscaled (no window scale) */
	bool wscale;  /* our SYN-ACK offers window scale 4 (the host's
		       * frames then go up to 64 KiB, not half our window) */
};

/* TCP pseudo-header sum for @tcp_len bytes of segment, not folded. */
static uint32_t tcp_pseudo(uint32_t tcp_len)
{
	uint32_t sum = csum_add(0, (const unsigned char *)&my_ip, 4);

	sum = csum_add(sum, (const unsigned char *)&host_ip, 4);
	return sum + 6u + tcp_len;
}

/*
 * Send a segment: @flags, @len payload bytes. A SYN carries the MSS
 * option (1460). With @gso_size the frame goes as one TX GSO frame:
 * NEEDS_CSUM with the pseudo-header sum in the checksum field, as the
 * Linux stack leaves it; else every checksum is finished here.
 */
static void tcp_out(struct pp *pp, struct tcb *t, unsigned int flags,
		    const unsigned char *payload, uint32_t len, uint16_t gso_size)
{
	static unsigned char f[PP_FRAME_MAX];
	uint32_t thl = flags & TCP_SYN ? (t->wscale ? 28u : 24u) : 20u, tl = thl + len;
	unsigned char *ip = f + 14, *th = ip + 20;
	struct pvio_net_hdr h;
	unsigned int st;

	memcpy(f, host_mac, 6);
	memcpy(f + 6, my_mac, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tl));
	put16(ip + 4, (uint16_t)t->snd_nxt);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &my_ip, 4);
	memcpy(ip + 16, &host_ip, 4);
	put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, 20)));
	memset(th, 0, thl);
	put16(th, t->lport);
	put16(th + 2, t->rport);
	put32(th + 4, t->snd_nxt);
	put32(th + 8, flags & TCP_ACK ? t->rcv_nxt : 0);
	th[12] = (unsigned char)((thl / 4) << 4);
	th[13] = (unsigned char)flags;
	put16(th + 14, 65535);
	if (flags & TCP_SYN) {
		th[20] = 2;
		th[21] = 4;
		put16(th + 22, 1460);
		if (t->wscale) {
			th[24] = 1;
			th[25] = 3;
			th[26] = 3;
			th[27] = 4;
		}
	}
	if (len)
		memcpy(th + thl, payload, len);
	memset(&h, 0, sizeof(h));
	if (gso_size) {
		put16(th + 16, csum_fold(tcp_pseudo(tl)));
		h.flags = PVIO_NET_HDR_F_NEEDS_CSUM;
		h.gso_type = PVIO_NET_GSO_TCPV4;
		h.hdr_len = pvio_cpu_to_le16((uint16_t)(14 + 20 + thl));
		h.gso_size = pvio_cpu_to_le16(gso_size);
		h.csum_start = pvio_cpu_to_le16(14 + 20);
		h.csum_offset = pvio_cpu_to_le16(16);
	} else {
		put16(th + 16, (uint16_t)~csum_fold(csum_add(tcp_pseudo(tl), th, tl)));
	}
	st = pp_send(pp, f, 14 + 20 + tl, gso_size ? &h : NULL, 0);
	if (st != PVIO_NET_S_OK)
		fail("tcp: TX status %u for a %u-byte segment%s", st, len,
		     gso_size ? " (GSO)" : "");
	t->snd_nxt += len + !!(flags & (TCP_SYN | TCP_FIN));
}

static bool match_tcp(const unsigned char *f, uint32_t len, void *arg)
{
	const struct tcb *t = arg;
	unsigned int ihl;

	if (len < 14 + 20 + 20 || get16(f + 12) != 0x0800 || f[23] != 6 ||
	    memcmp(f + 26, &host_ip, 4) || memcmp(f + 30, &my_ip, 4))
		return false;
	ihl = (f[14] & 15u) * 4u;
	return len >= 14 + ihl + 20 && get16(f + 14 + ihl) == t->rport &&
	       get16(f + 14 + ihl + 2) == t->lport;
}

static bool match_syn(const unsigned char *f, uint32_t len, void *arg)
{
	const struct tcb *t = arg;
	unsigned int ihl;

	if (len < 14 + 20 + 20 || get16(f + 12) != 0x0800 || f[23] != 6 ||
	    memcmp(f + 30, &my_ip, 4))
		return false;
	ihl = (f[14] & 15u) * 4u;
	return len >= 14 + ihl + 20 && get16(f + 14 + ihl + 2) == t->lport &&
	       (f[14 + ihl + 13] & (TCP_SYN | TCP_ACK)) == TCP_SYN;
}

/* One segment of the connection, parsed. */
struct tseg {
	unsigned char *frame;
	uint32_t flen;
	struct pvio_net_hdr hdr;
	unsigned int flags;
	uint32_t seq, ack, wnd;
	const unsigned char *data;
	uint32_t len;
};

static void tcp_wait(struct pp *pp, struct tcb *t, struct tseg *s,
		     bool (*match)(const unsigned char *, uint32_t, void *),
		     const char *what)
{
	unsigned int ihl, thl, tot;
	unsigned char *f;

	f = pp_wait_frame(pp, match, t, &s->flen, &s->hdr, what);
	s->frame = f;
	ihl = (f[14] & 15u) * 4u;
	tot = get16(f + 16);
	thl = (f[14 + ihl + 12] >> 4) * 4u;
	if (tot > s->flen - 14 || tot < ihl + thl || thl < 20)
		fail("tcp: %s: malformed segment (IP length %u, frame %u)", what,
		     tot, s->flen);
	s->flags = f[14 + ihl + 13];
	s->seq = get32(f + 14 + ihl + 4);
	s->ack = get32(f + 14 + ihl + 8);
	s->wnd = get16(f + 14 + ihl + 14);
	s->data = f + 14 + ihl + thl;
	s->len = tot - ihl - thl;
	if (s->flags & TCP_RST)
		fail("tcp: %s: the host reset the connection", what);
}

static void step_tcp_out(struct pp *pp, unsigned int port, unsigned int bytes,
			 unsigned int seed)
{
	struct tcb t = { .lport = (uint16_t)(40000 + getpid() % 20000),
			 .rport = (uint16_t)port, .snd_nxt = 0x10000000u };
	static unsigned char data[PP_FRAME_MAX];
	long long end = now_ms() + opt_timeout;
	uint32_t isn = t.snd_nxt, fin_seq;
	bool host_fin = false;
	struct xfer_stream x;
	struct tseg s;
	unsigned int i;

	if (bytes + 14u + 40u > PVIO_NET_GSO_FRAME_MAX)
		fail("tcp-out: %u bytes do not fit one GSO frame", bytes);
	tcp_out(pp, &t, TCP_SYN, NULL, 0, 0);
	tcp_wait(pp, &t, &s, match_tcp, "SYN-ACK");
	if ((s.flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK) || s.ack != isn + 1)
		fail("tcp-out: no SYN-ACK for our SYN (flags %#x)", s.flags);
	t.rcv_nxt = s.seq + 1;
	t.wnd = s.wnd;
	free(s.frame);
	if (bytes > t.wnd)
		fail("tcp-out: %u bytes over the host's window of %u", bytes, t.wnd);
	tcp_out(pp, &t, TCP_ACK, NULL, 0, 0);
	xfer_stream_init(&x, seed);
	for (i = 0; i < bytes; i++)
		data[i] = xfer_stream_byte(&x);
	tcp_out(pp, &t, TCP_ACK | TCP_PSH, data, bytes, 1400);
	tcp_out(pp, &t, TCP_ACK | TCP_FIN, NULL, 0, 0);
	fin_seq = t.snd_nxt;
	/* All of it acknowledged, and the host's FIN (net_xfer closes once
	 * it read the end). */
	for (;;) {
		if (now_ms() > end)
			fail("tcp-out: not all acknowledged and closed within %d ms",
			     opt_timeout);
		tcp_wait(pp, &t, &s, match_tcp, "segment from the host");
		if (s.len)
			fail("tcp-out: the host sent %u bytes", s.len);
		if ((s.flags & TCP_FIN) && s.seq == t.rcv_nxt) {
			t.rcv_nxt++;
			host_fin = true;
			tcp_out(pp, &t, TCP_ACK, NULL, 0, 0);
		}
		free(s.frame);
		if (host_fin && (s.flags & TCP_ACK) && s.ack == fin_seq)
			break;
	}
	note("tcp-out: %u bytes in one GSO frame of %u bytes acknowledged, connection closed",
	     bytes, bytes + 54u);
}

static void step_tcp_in(struct pp *pp, unsigned int port, unsigned int bytes,
			unsigned int seed)
{
	struct tcb t = { .lport = (uint16_t)port, .snd_nxt = 0x20000000u,
			 .wscale = true };
	long long end = now_ms() + opt_timeout;
	uint32_t got = 0, big = 0, frames = 0, maxlen = 0, i;
	struct xfer_stream x;
	struct tseg s;
	bool fin = false;

	xfer_stream_init(&x, seed);
	tcp_wait(pp, &t, &s, match_syn, "SYN");
	{
		unsigned int ihl = (s.frame[14] & 15u) * 4u;

		t.rport = get16(s.frame + 14 + ihl);
	}
	t.rcv_nxt = s.seq + 1;
	free(s.frame);
	tcp_out(pp, &t, TCP_SYN | TCP_ACK, NULL, 0, 0);
	while (!fin) {
		if (now_ms() > end)
			fail("tcp-in: %u of %u bytes within %d ms", got, bytes, opt_timeout);
		tcp_wait(pp, &t, &s, match_tcp, "segment from the host");
		if (s.len && s.seq == t.rcv_nxt) {
			if (got + s.len > bytes)
				fail("tcp-in: more than %u bytes", bytes);
			for (i = 0; i < s.len; i++)
				if (s.data[i] != xfer_stream_byte(&x))
					fail("tcp-in: byte %u differs from the stream", got + i);
			got += s.len;
			t.rcv_nxt += s.len;
			frames++;
			if (s.flen > maxlen)
				maxlen = s.flen;
			if (s.flen > pp->p[0].buf_len && s.hdr.gso_type != PVIO_NET_GSO_NONE)
				big++;
		}
		if ((s.flags & TCP_FIN) && s.seq + s.len == t.rcv_nxt) {
			t.rcv_nxt++;
			fin = true;
		}
		free(s.frame);
		tcp_out(pp, &t, fin ? TCP_ACK | TCP_FIN : TCP_ACK, NULL, 0, 0);
	}
	if (got != bytes)
		fail("tcp-in: %u bytes before the FIN, want %u", got, bytes);
	if (!big)
		fail("tcp-in: no frame over one %u-byte buffer with a GSO type (%u frames, longest %u)",
		     pp->p[0].buf_len, frames, maxlen);
	note("tcp-in: %u bytes intact in %u frames, %u over several buffers with GSO (longest %u bytes)",
	     got, frames, big, maxlen);
}

static void pp_connect(struct pp *pp, const char *sock, unsigned int pairs)
{
	struct pvio_ivshmem_client_opts o = {
		.socket_path = sock, .vectors = 2 * pairs + 1, .timeout_ms = 5000,
		.log = pp_log,
	};
	struct pvio_net_config cfg;
	long long end;
	const char *why;
	unsigned int q;
	uint32_t i;
	int ret;

	ret = pvio_ivshmem_client_connect(&o, &pp->cl);
	if (ret)
		fail("connecting to %s: %s", sock, strerror(-ret));
	pp->mem = pvio_ivshmem_client_mem(pp->cl);
	pp->hdr = (struct pvio_region_hdr *)pp->mem;
	pp->size = pvio_ivshmem_client_mem_size(pp->cl);
	end = now_ms() + opt_timeout;
	while (back_state(pp) != PVIO_STATE_INITWAIT) {
		if (now_ms() > end)
			fail("backend never reached INITWAIT");
		usleep(5000);
	}
	if (pvio_region_check(pp->mem, pp->size, &pp->info, &why))
		fail("region: %s", why);
	memcpy(&cfg, pp->info.config, sizeof(cfg));
	if (pvio_net_limits_from_config(&cfg, pp->info.back_features, &pp->lim, &why))
		fail("network config: %s", why);
	if (pvio_net_check_layout(&pp->info, &pp->lim, &why))
		fail("layout: %s", why);
	if (pp->info.num_queues != 2 * pairs)
		fail("%u queues, expected %u", pp->info.num_queues, 2 * pairs);
	pp->npairs = pairs;
	memcpy(my_mac, pp->lim.mac, 6);
	pp->features = pp->info.back_features;
	if (!opt_gso || opt_no_offload)
		pp->features &= ~(PVIO_NET_F_GSO_TCPV4 | PVIO_NET_F_GSO_TCPV6 |
				  PVIO_NET_F_GUEST_GSO_TCPV4 |
				  PVIO_NET_F_GUEST_GSO_TCPV6 | PVIO_NET_F_RX_MERGE);
	if (opt_no_offload)
		pp->features &= ~(PVIO_NET_F_CSUM | PVIO_NET_F_GUEST_CSUM);
	if (pvio_net_features_check(pp->features, &why))
		fail("features: %s", why);
	pp->hdr->front.features = pvio_cpu_to_le64(pp->features);
	pp->hdr->front.generation = pvio_cpu_to_le32(1);
	/* Release: features before the state that publishes them. */
	pvio_store_release(&pp->hdr->front.state, pvio_cpu_to_le32(PVIO_STATE_INITIALISED));
	pvio_ivshmem_client_notify(pp->cl, 0, PVIO_VECTOR_CONTROL);
	while (back_state(pp) != PVIO_STATE_CONNECTED) {
		if (now_ms() > end)
			fail("backend never reached CONNECTED (state %u)", back_state(pp));
		usleep(5000);
	}
	for (q = 0; q < pairs; q++) {
		const struct pvio_region_queue *t = &pp->info.queues[PVIO_NET_TXQ(q)];
		const struct pvio_region_queue *r = &pp->info.queues[PVIO_NET_RXQ(q)];
		struct pp_pair *p = &pp->p[q];

		if (pvio_prod_attach(&p->txreq, (struct pvio_ring_shared *)(pp->mem + t->req_ring_off),
				     t->req_entries, sizeof(struct pvio_net_tx_req)) ||
		    pvio_cons_attach(&p->txrsp, (struct pvio_ring_shared *)(pp->mem + t->rsp_ring_off),
				     t->rsp_entries, sizeof(struct pvio_net_tx_rsp)) ||
		    pvio_prod_attach(&p->rxreq, (struct pvio_ring_shared *)(pp->mem + r->req_ring_off),
				     r->req_entries, sizeof(struct pvio_net_rx_req)) ||
		    pvio_cons_attach(&p->rxrsp, (struct pvio_ring_shared *)(pp->mem + r->rsp_ring_off),
				     r->rsp_entries, sizeof(struct pvio_net_rx_rsp)))
			fail("attaching the rings of pair %u", q);
		p->txdata = pp->mem + t->data_off;
		p->txsize = t->data_size;
		p->rxdata = pp->mem + r->data_off;
		p->rxsize = r->data_size;
		p->txvec = t->vector;
		p->rxvec = r->vector;
		p->buf_len = (pp->lim.mtu + PVIO_NET_ETH_HLEN_MAX + 63u) & ~63u;
		if (opt_rx_buf)
			p->buf_len = opt_rx_buf;
		p->nbufs = (uint32_t)(p->rxsize / p->buf_len);
		if (p->nbufs > r->req_entries)
			p->nbufs = r->req_entries;
		if (p->nbufs > PP_MAX_BUFS)
			p->nbufs = PP_MAX_BUFS;
		/* Pair 0's last buffer is kept back for rx-small. */
		for (i = 0; i + (q == 0) < p->nbufs; i++)
			pp_post(pp, p, i);
	}
	pvio_store_release(&pp->hdr->front.state, pvio_cpu_to_le32(PVIO_STATE_CONNECTED));
	for (q = 0; q < pairs; q++)
		pp_kick_rx(pp, &pp->p[q]);
	note("connected: %u queue pair(s), MTU %u, features %#" PRIx64 ", mac %02x:%02x:%02x:%02x:%02x:%02x, %u RX buffers of %u bytes per pair",
	     pairs, pp->lim.mtu, pp->features, my_mac[0], my_mac[1], my_mac[2],
	     my_mac[3], my_mac[4], my_mac[5], pp->p[0].nbufs, pp->p[0].buf_len);
}

static unsigned int arg_uint(const char *s, unsigned int max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > max) {
		fprintf(stderr, "pvnet_peer: bad number '%s'\n", s);
		exit(2);
	}
	return (unsigned int)v;
}

static void need(int argc, int i, int n)
{
	if (i + n >= argc) {
		fprintf(stderr, "pvnet_peer: step needs %d argument(s)\n", n);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static struct pp pp;
	unsigned int pairs = 1;
	const char *sock;
	struct in_addr a;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	inet_pton(AF_INET, "10.99.0.2", &my_ip);
	inet_pton(AF_INET, "10.99.0.1", &host_ip);
	if (argc < 3) {
		fprintf(stderr, "usage: pvnet_peer SOCK [OPTIONS] STEP...\n");
		return 2;
	}
	sock = argv[1];
	for (i = 2; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--no-offload")) {
			opt_no_offload = true;
			continue;
		}
		if (!strcmp(argv[i], "--gso")) {
			opt_gso = true;
			continue;
		}
		need(argc, i, 1);
		if (!strcmp(argv[i], "--pairs"))
			pairs = arg_uint(argv[++i], PP_MAX_PAIRS);
		else if (!strcmp(argv[i], "--rx-buf"))
			opt_rx_buf = arg_uint(argv[++i], PP_FRAME_MAX);
		else if (!strcmp(argv[i], "--timeout"))
			opt_timeout = (int)arg_uint(argv[++i], 600000);
		else if (!strcmp(argv[i], "--ip") && inet_pton(AF_INET, argv[i + 1], &a) == 1)
			my_ip = a.s_addr, i++;
		else if (!strcmp(argv[i], "--host-ip") && inet_pton(AF_INET, argv[i + 1], &a) == 1)
			host_ip = a.s_addr, i++;
		else {
			fprintf(stderr, "pvnet_peer: bad option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!pairs) {
		fprintf(stderr, "pvnet_peer: --pairs 0\n");
		return 2;
	}
	pp_connect(&pp, sock, pairs);
	for (; i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "arp")) {
			step_arp(&pp);
		} else if (!strcmp(s, "ping")) {
			need(argc, i, 2);
			step_ping(&pp, arg_uint(argv[i + 1], 1000),
				  arg_uint(argv[i + 2], 65000));
			i += 2;
		} else if (!strcmp(s, "udp-wait")) {
			need(argc, i, 2);
			step_udp_wait(&pp, arg_uint(argv[i + 1], 65535), argv[i + 2]);
			i += 2;
		} else if (!strcmp(s, "ready")) {
			FILE *f;

			need(argc, i, 1);
			f = fopen(argv[++i], "w");
			if (!f || fclose(f))
				fail("ready: cannot create %s", argv[i]);
			note("ready");
		} else if (!strcmp(s, "bad-len")) {
			step_bad(&pp, true);
		} else if (!strcmp(s, "bad-flag")) {
			step_bad(&pp, false);
		} else if (!strcmp(s, "link")) {
			need(argc, i, 1);
			step_link(&pp, !strcmp(argv[++i], "up"));
		} else if (!strcmp(s, "sleep")) {
			long long end;

			need(argc, i, 1);
			end = now_ms() + arg_uint(argv[++i], 600000);
			while (now_ms() < end)
				pp_pump(&pp, 20);
			note("sleep: done, %lu frames received, %lu ARP requests answered",
			     pp.rx_total, pp.arp_answered);
		} else if (!strcmp(s, "rx-small")) {
			step_rx_small(&pp);
		} else if (!strcmp(s, "rx-dup")) {
			step_rx_dup(&pp);
		} else if (!strcmp(s, "close")) {
			step_close(&pp);
		} else if (!strcmp(s, "tcp-out") || !strcmp(s, "tcp-in")) {
			need(argc, i, 3);
			if (!(pp.features & PVIO_NET_F_GSO_TCPV4) ||
			    !(pp.features & PVIO_NET_F_GUEST_GSO_TCPV4))
				fail("%s: TCPv4 GSO both ways not negotiated", s);
			if (!strcmp(s, "tcp-out"))
				step_tcp_out(&pp, arg_uint(argv[i + 1], 65535),
					     arg_uint(argv[i + 2], 60000),
					     arg_uint(argv[i + 3], 1000000));
			else
				step_tcp_in(&pp, arg_uint(argv[i + 1], 65535),
					    arg_uint(argv[i + 2], 1u << 24),
					    arg_uint(argv[i + 3], 1000000));
			i += 3;
		} else {
			fprintf(stderr, "pvnet_peer: unknown step '%s'\n", s);
			return 2;
		}
	}
	note("pvnet_peer: all steps passed (%lu frames received, %lu ARP requests answered)",
	     pp.rx_total, pp.arp_answered);
	pvio_ivshmem_client_close(pp.cl);
	return 0;
}
