// SPDX-License-Identifier: MIT
/*
 * hostile_frontend - a hand-made pvio block frontend for pvio-backd's tests:
 * it connects with the ivshmem client, runs the region handshake by raw
 * header writes, and then either misbehaves on purpose or does valid IO
 * and checks the results.
 *
 * Usage:
 *   hostile_frontend hostile RW_SOCK RO_SOCK
 *       one malformed request per case, each on a fresh connection to the
 *       read-write device RW_SOCK (and a write on the read-only RO_SOCK);
 *       checks each answer's status, or that the backend closed the device
 *       (back.state CLOSED) for the protocol violations
 *   hostile_frontend good SOCK EXPECT_FILE
 *       a legitimate round: write/read back (inline, FUA, indirect),
 *       flush, discard, write-zeroes, GET_ID, IO past the end; writes the
 *       bytes expected at sectors 2048..2303 of the store to EXPECT_FILE
 *   hostile_frontend mq SOCK QUEUES
 *       IO on every queue of a QUEUES-queue device, all queues at once
 *   hostile_frontend flood SOCK
 *       40 bad requests at once, all answered; then one more after a
 *       second (the daemon's log of them is rate-limited)
 *   hostile_frontend ro SOCK
 *       reads work, a write is refused with PVIO_BLK_S_ROFS
 *   hostile_frontend twofront SOCK
 *       a second frontend is refused while one is connected; after an
 *       orderly close and after a frontend vanishing, the next one gets a
 *       fresh generation and sees the data
 *   hostile_frontend revoke SOCK
 *       a frontend keeps a second mapping of its region and then vanishes;
 *       the next frontend's data and ring entries must never show up in
 *       that mapping, and what is written through it (forged requests,
 *       a forged state) must not reach the next frontend's device
 *   hostile_frontend stream SOCK EXPECT_FILE
 *       writes sectors 0..1023 and waits for the answers, writes their
 *       bytes to EXPECT_FILE, prints "phase1 done", then keeps writes in
 *       flight until the backend goes away; exit 0 if it did
 *   hostile_frontend cycle SOCK MS
 *       for MS milliseconds: connect with the full handshake and leave
 *       (orderly and vanishing in turn) as fast as the backend lets it;
 *       prints "cycles N"
 *   hostile_frontend ctlflood SOCK MS
 *   hostile_frontend qflood SOCK MS
 *       connects, then rings the control doorbell (ctlflood) or the queue
 *       doorbell with nothing queued (qflood) in a tight loop for MS
 *       milliseconds; prints "rings N"; then a read must still work
 *   hostile_frontend iops SOCK MS
 *       4 KiB reads one at a time for MS milliseconds; prints "iops N"
 *   hostile_frontend scribble SOCK SECONDS [SEED]
 *       for SECONDS: random IO, several requests in flight, while random
 *       bytes of the header, the block config, the request ring and the
 *       data area are rewritten under the backend and doorbells rung in
 *       bursts; connects again whenever the backend ends a session;
 *       prints one "scribble: ..." line of counts. Exit 0 unless the
 *       first connection failed (what the backend answers is not checked)
 *
 * Devices have one queue (two vectors), except in mq mode. Exit 0 on success, 1 on
 * a failed check (with a "FAIL:" line), 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ivshmem_client.h"
#include "blk_proto.h"
#include "pvio_ring.h"
#include "region.h"

#define HF_MAX_QUEUES 32u
#define HF_TIMEOUT_MS 5000

struct hf {
	struct pvio_ivshmem_client *cl;
	struct pvio_region_hdr *hdr;
	unsigned char *mem;
	uint64_t size;
	struct pvio_region_layout info;
	unsigned int nq;
	/* Per queue; the fields below them are the selected queue's. */
	struct pvio_prod reqs[HF_MAX_QUEUES];
	struct pvio_cons rsps[HF_MAX_QUEUES];
	struct pvio_ring_shared *req_sh;
	struct pvio_prod *req;
	struct pvio_cons *rsp;
	unsigned char *data;
	uint64_t data_size;
	unsigned int qvec;
	uint64_t capacity;
	uint32_t gen;
};

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

/* Vectors of the devices this run talks to: queues + 1. */
static unsigned int hf_vectors = 2;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Set in scribble mode, where every session ends in a refused peer and
 * the client's messages about it would drown the summary. */
static bool hf_mute;

static void hf_quiet(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	if (!hf_mute)
		note("client: %s", msg);
}

static uint32_t hf_back_state(const struct hf *h)
{
	return pvio_le32_to_cpu(pvio_load_acquire(&h->hdr->back.state));
}

/* Wait for back.state == @want; also serves the client socket. */
static int hf_wait_back(struct hf *h, uint32_t want, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	struct pollfd p;

	while (hf_back_state(h) != want) {
		if (now_ms() > end)
			return -ETIMEDOUT;
		p.fd = pvio_ivshmem_client_fd(h->cl);
		p.events = POLLIN;
		if (poll(&p, 1, 10) > 0 && pvio_ivshmem_client_handle(h->cl) < 0)
			return -EPIPE;
	}
	return 0;
}

static int hf_open(struct hf *h, const char *sock)
{
	struct pvio_ivshmem_client_opts o = {
		.socket_path = sock, .vectors = hf_vectors, .timeout_ms = 5000,
		.log = hf_quiet,
	};

	memset(h, 0, sizeof(*h));
	return pvio_ivshmem_client_connect(&o, &h->cl);
}

/* Direct the following requests to queue @q. */
static void hf_select(struct hf *h, unsigned int q)
{
	const struct pvio_region_queue *d = &h->info.queues[q];

	h->req = &h->reqs[q];
	h->rsp = &h->rsps[q];
	h->req_sh = (struct pvio_ring_shared *)(h->mem + d->req_ring_off);
	h->data = h->mem + d->data_off;
	h->data_size = d->data_size;
	h->qvec = d->vector;
}

/* The handshake of include/pvio/region.h, by hand. Returns 0, or a
 * negative errno with @err saying why; the client is closed on failure. */
static int hf_try_connect(struct hf *h, const char *sock, char *err,
			  size_t errlen)
{
	struct pvio_blk_config cfg;
	const char *why = "";
	unsigned int q;
	int ret;

	ret = hf_open(h, sock);
	if (ret) {
		snprintf(err, errlen, "connecting to %s: %s", sock, strerror(-ret));
		return ret;
	}
	h->mem = pvio_ivshmem_client_mem(h->cl);
	h->hdr = (struct pvio_region_hdr *)h->mem;
	h->size = pvio_ivshmem_client_mem_size(h->cl);
	ret = hf_wait_back(h, PVIO_STATE_INITWAIT, HF_TIMEOUT_MS);
	if (ret) {
		snprintf(err, errlen, "%s: backend never reached INITWAIT (state %u)",
			 sock, hf_back_state(h));
		goto err_close;
	}
	ret = pvio_region_check(h->mem, h->size, &h->info, &why);
	if (!ret)
		ret = pvio_blk_check_layout(&h->info, &why);
	if (ret) {
		snprintf(err, errlen, "%s: region invalid: %s", sock, why);
		goto err_close;
	}
	if (h->info.num_queues != hf_vectors - 1) {
		snprintf(err, errlen, "%s: %u queues, this run expects %u", sock,
			 h->info.num_queues, hf_vectors - 1);
		ret = -EINVAL;
		goto err_close;
	}
	h->nq = h->info.num_queues;
	h->gen = h->info.back_generation;
	memcpy(&cfg, h->info.config, sizeof(cfg));
	h->capacity = pvio_le64_to_cpu(cfg.capacity);

	h->hdr->front.features = pvio_cpu_to_le64(h->info.back_features);
	h->hdr->front.generation = pvio_cpu_to_le32(1);
	/* Release: features before the state that publishes them. */
	pvio_store_release(&h->hdr->front.state,
			   pvio_cpu_to_le32(PVIO_STATE_INITIALISED));
	pvio_ivshmem_client_notify(h->cl, 0, PVIO_VECTOR_CONTROL);
	ret = hf_wait_back(h, PVIO_STATE_CONNECTED, HF_TIMEOUT_MS);
	if (ret) {
		snprintf(err, errlen, "%s: backend never reached CONNECTED (state %u)",
			 sock, hf_back_state(h));
		goto err_close;
	}
	for (q = 0; q < h->nq; q++) {
		const struct pvio_region_queue *d = &h->info.queues[q];

		if (pvio_prod_attach(&h->reqs[q], (struct pvio_ring_shared *)
				     (h->mem + d->req_ring_off), d->req_entries,
				     sizeof(struct pvio_blk_req)) ||
		    pvio_cons_attach(&h->rsps[q], (struct pvio_ring_shared *)
				     (h->mem + d->rsp_ring_off), d->rsp_entries,
				     sizeof(struct pvio_blk_rsp))) {
			snprintf(err, errlen, "%s: attaching the rings of queue %u",
				 sock, q);
			ret = -EPROTO;
			goto err_close;
		}
	}
	hf_select(h, 0);
	pvio_store_release(&h->hdr->front.state,
			   pvio_cpu_to_le32(PVIO_STATE_CONNECTED));
	return 0;

err_close:
	pvio_ivshmem_client_close(h->cl);
	h->cl = NULL;
	return ret;
}

static void hf_connect(struct hf *h, const char *sock)
{
	char err[256];

	if (hf_try_connect(h, sock, err, sizeof(err)))
		fail("%s", err);
}

static void hf_close(struct hf *h, bool orderly)
{
	if (orderly) {
		pvio_store_release(&h->hdr->front.state,
				   pvio_cpu_to_le32(PVIO_STATE_CLOSING));
		pvio_ivshmem_client_notify(h->cl, 0, PVIO_VECTOR_CONTROL);
		if (hf_wait_back(h, PVIO_STATE_CLOSED, HF_TIMEOUT_MS))
			fail("backend did not answer CLOSING with CLOSED");
		pvio_store_release(&h->hdr->front.state,
				   pvio_cpu_to_le32(PVIO_STATE_CLOSED));
	}
	pvio_ivshmem_client_close(h->cl);
	h->cl = NULL;
}

static void hf_put(struct hf *h, const struct pvio_blk_req *r)
{
	int ret = pvio_prod_put(h->req, r, sizeof(*r));

	if (ret)
		fail("request ring put: %s", strerror(-ret));
}

static void hf_kick(struct hf *h)
{
	if (pvio_prod_publish(h->req))
		pvio_ivshmem_client_notify(h->cl, 0, h->qvec);
}

/* Next response, sleeping on our queue doorbell; -ETIMEDOUT, -EPIPE. */
static int hf_get_rsp(struct hf *h, struct pvio_blk_rsp *out, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	struct pollfd p[2];
	uint64_t cnt;
	int n;

	for (;;) {
		n = pvio_cons_avail(h->rsp);
		if (n < 0)
			return n;
		if (n > 0) {
			pvio_cons_get(h->rsp, out, sizeof(*out));
			pvio_cons_release(h->rsp);
			return 0;
		}
		n = pvio_cons_arm(h->rsp, 0);
		if (n < 0)
			return n;
		if (n > 0)
			continue;
		if (now_ms() > end)
			return -ETIMEDOUT;
		p[0].fd = pvio_ivshmem_client_vector_fd(h->cl, h->qvec);
		p[0].events = POLLIN;
		p[1].fd = pvio_ivshmem_client_fd(h->cl);
		p[1].events = POLLIN;
		if (poll(p, 2, 50) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && read(p[0].fd, &cnt, sizeof(cnt)) < 0)
			cnt = 0;
		if ((p[1].revents & (POLLIN | POLLHUP)) &&
		    pvio_ivshmem_client_handle(h->cl) < 0)
			return -EPIPE;
	}
}

static struct pvio_blk_req mkreq(uint32_t id, uint16_t op, uint64_t sector,
				 uint32_t nr_sectors)
{
	struct pvio_blk_req r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(id);
	r.op = pvio_cpu_to_le16(op);
	r.sector = pvio_cpu_to_le64(sector);
	r.nr_sectors = pvio_cpu_to_le32(nr_sectors);
	return r;
}

static void addseg(struct pvio_blk_req *r, uint32_t off, uint32_t len)
{
	uint16_t n = pvio_le16_to_cpu(r->nr_segs);

	r->seg[n].offset = pvio_cpu_to_le32(off);
	r->seg[n].len = pvio_cpu_to_le32(len);
	r->nr_segs = pvio_cpu_to_le16((uint16_t)(n + 1));
}

/* Send one request, wait for its answer, check status; returns len. */
static uint32_t hf_do(struct hf *h, const char *what, struct pvio_blk_req r,
		      unsigned int want)
{
	struct pvio_blk_rsp rsp;
	int ret;

	hf_put(h, &r);
	hf_kick(h);
	ret = hf_get_rsp(h, &rsp, HF_TIMEOUT_MS);
	if (ret)
		fail("%s: no answer: %s", what, strerror(-ret));
	if (rsp.id != r.id)
		fail("%s: answer for id %u, sent %u", what, pvio_le32_to_cpu(rsp.id),
		     pvio_le32_to_cpu(r.id));
	if (pvio_le16_to_cpu(rsp.status) != want)
		fail("%s: status %u, want %u", what, pvio_le16_to_cpu(rsp.status), want);
	note("ok: %s: status %u", what, want);
	return pvio_le32_to_cpu(rsp.len);
}

static void pattern(unsigned char *buf, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)((i * 131 + seed * 7 + (i >> 9)) ^ (seed >> 3));
}

/* Write @len bytes of pattern @seed at @sector through one or two inline
 * segments and read them back through another split. */
static void hf_write_read(struct hf *h, uint32_t id, uint64_t sector,
			  uint32_t len, uint32_t seed, uint16_t flags)
{
	unsigned char *want = malloc(len);
	struct pvio_blk_req r;

	pattern(want, len, seed);
	memcpy(h->data, want, len);
	r = mkreq(id, PVIO_BLK_OP_WRITE, sector, len / 512);
	r.flags = pvio_cpu_to_le16(flags);
	if (len >= 1024) {
		addseg(&r, 0, len / 2);
		addseg(&r, len / 2, len - len / 2);
	} else {
		addseg(&r, 0, len);
	}
	hf_do(h, flags & PVIO_BLK_REQ_F_FUA ? "write FUA" : "write", r, PVIO_BLK_S_OK);
	memset(h->data + 131072, 0xee, len);
	r = mkreq(id + 1, PVIO_BLK_OP_READ, sector, len / 512);
	addseg(&r, 131072, 512);
	if (len > 512)
		addseg(&r, 131072 + 512, len - 512);
	if (hf_do(h, "read back", r, PVIO_BLK_S_OK) != len)
		fail("read back: wrong length");
	if (memcmp(h->data + 131072, want, len))
		fail("read back: data differs from what was written");
	note("ok: %u bytes at sector %" PRIu64 " read back intact", len, sector);
	free(want);
}

static void hf_expect_zeroes(struct hf *h, uint32_t id, uint64_t sector,
			     uint32_t len, const char *what)
{
	struct pvio_blk_req r = mkreq(id, PVIO_BLK_OP_READ, sector, len / 512);
	uint32_t i;

	memset(h->data, 0xaa, len);
	addseg(&r, 0, len);
	hf_do(h, "read after discard/write-zeroes", r, PVIO_BLK_S_OK);
	for (i = 0; i < len; i++)
		if (h->data[i])
			fail("%s: byte %u is %#x, want 0", what, i, h->data[i]);
	note("ok: %s reads back as zeroes", what);
}

static void hf_read_ok(struct hf *h, uint32_t id)
{
	struct pvio_blk_req r = mkreq(id, PVIO_BLK_OP_READ, 0, 8);

	addseg(&r, 0, 4096);
	hf_do(h, "valid read after the bad request", r, PVIO_BLK_S_OK);
}

/* A case that must be answered with @want; the device keeps working. */
static void hostile_status(const char *sock, const char *name,
			   struct pvio_blk_req r, unsigned int want)
{
	struct hf h;

	hf_connect(&h, sock);
	hf_do(&h, name, r, want);
	hf_read_ok(&h, 1000);
	hf_close(&h, true);
}

/* A case that must break the device: back.state goes CLOSED. */
static void hostile_broken_wait(struct hf *h, const char *name)
{
	if (hf_wait_back(h, PVIO_STATE_CLOSED, HF_TIMEOUT_MS))
		fail("%s: device not closed by the backend (state %u)", name,
		     hf_back_state(h));
	note("ok: %s: backend closed the device", name);
	hf_close(h, false);
}

static int mode_hostile(const char *sock, const char *ro_sock)
{
	struct pvio_blk_req r;
	struct pvio_blk_seg *tab;
	struct hf h;
	uint32_t gen;
	unsigned int i;

	r = mkreq(1, 9, 0, 8);
	addseg(&r, 0, 4096);
	hostile_status(sock, "unknown op", r, PVIO_BLK_S_UNSUPP);

	hf_connect(&h, sock);
	r = mkreq(2, PVIO_BLK_OP_READ, h.capacity - 4, 8);
	addseg(&r, 0, 4096);
	hf_close(&h, true);
	hostile_status(sock, "sector past end", r, PVIO_BLK_S_RANGE);

	hf_connect(&h, sock);
	r = mkreq(3, PVIO_BLK_OP_READ, 0, 8);
	addseg(&r, (uint32_t)h.data_size, 4096);
	hf_close(&h, true);
	hostile_status(sock, "segment outside the data area", r, PVIO_BLK_S_INVAL);
	r = mkreq(3, PVIO_BLK_OP_WRITE, 0, 16);
	addseg(&r, (uint32_t)h.data_size - 4096, 8192);
	hostile_status(sock, "segment straddling the data area's end", r,
		       PVIO_BLK_S_INVAL);

	r = mkreq(4, PVIO_BLK_OP_READ, 0, 40);
	for (i = 0; i < 4; i++)
		addseg(&r, i * 4096, 4096);
	r.nr_segs = pvio_cpu_to_le16(5);
	hostile_status(sock, "too many inline segments", r, PVIO_BLK_S_INVAL);

	/* 33 indirect segments: more than max_segments. */
	hf_connect(&h, sock);
	tab = (struct pvio_blk_seg *)(h.data + 65536);
	for (i = 0; i < 33; i++) {
		tab[i].offset = pvio_cpu_to_le32(i * 512);
		tab[i].len = pvio_cpu_to_le32(512);
	}
	r = mkreq(5, PVIO_BLK_OP_READ, 0, 33);
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_INDIRECT);
	r.nr_segs = pvio_cpu_to_le16(33);
	r.seg[0].offset = pvio_cpu_to_le32(65536);
	r.seg[0].len = pvio_cpu_to_le32(33 * 8);
	hf_do(&h, "too many indirect segments", r, PVIO_BLK_S_INVAL);
	hf_read_ok(&h, 1001);
	hf_close(&h, true);

	r = mkreq(6, PVIO_BLK_OP_READ, 0, 8);
	addseg(&r, 0, 4096);
	r.reserved0 = pvio_cpu_to_le16(1);
	hostile_status(sock, "reserved field set", r, PVIO_BLK_S_INVAL);
	r.reserved0 = 0;
	r.flags = pvio_cpu_to_le16(0x100);
	hostile_status(sock, "reserved flag bit set", r, PVIO_BLK_S_INVAL);

	r = mkreq(7, PVIO_BLK_OP_WRITE, 0, 8);
	addseg(&r, 100, 4096);
	hostile_status(sock, "unaligned buffer", r, PVIO_BLK_S_INVAL);

	r = mkreq(8, PVIO_BLK_OP_WRITE, 0, 8);
	addseg(&r, 0, 4096);
	hostile_status(ro_sock, "write to a read-only device", r, PVIO_BLK_S_ROFS);

	/* Two requests with one id, published together: the second is taken
	 * while the first is still in flight. */
	hf_connect(&h, sock);
	gen = h.gen;
	r = mkreq(77, PVIO_BLK_OP_READ, 0, 256);
	addseg(&r, 0, 131072);
	hf_put(&h, &r);
	r.seg[0].offset = pvio_cpu_to_le32(131072);
	hf_put(&h, &r);
	hf_kick(&h);
	hostile_broken_wait(&h, "duplicate in-flight id");

	/* A producer index more than a ring ahead of the consumer. */
	hf_connect(&h, sock);
	if (h.gen <= gen)
		fail("generation %u after the broken device, was %u", h.gen, gen);
	note("ok: fresh layout after the broken device (generation %u -> %u)",
	     gen, h.gen);
	pvio_store_release(&h.req_sh->prod,
			   pvio_cpu_to_le32(h.info.queues[0].req_entries + 5));
	pvio_ivshmem_client_notify(h.cl, 0, h.qvec);
	hostile_broken_wait(&h, "producer index past the ring size");

	/* And the device serves again once that frontend left. */
	hf_connect(&h, sock);
	hf_read_ok(&h, 1002);
	hf_close(&h, true);
	return 0;
}

/* Many bad requests at once: all answered; the daemon's log of them is
 * rate-limited (checked by the calling script). */
static int mode_flood(const char *sock)
{
	struct pvio_blk_rsp rsp;
	struct pvio_blk_req r;
	struct timespec pause = { .tv_sec = 1, .tv_nsec = 200000000 };
	struct hf h;
	unsigned int i;
	int ret;

	hf_connect(&h, sock);
	for (i = 0; i < 40; i++) {
		r = mkreq(500 + i, 9, 0, 0);
		hf_put(&h, &r);
	}
	hf_kick(&h);
	for (i = 0; i < 40; i++) {
		ret = hf_get_rsp(&h, &rsp, HF_TIMEOUT_MS);
		if (ret)
			fail("flood answer %u: %s", i, strerror(-ret));
		if (pvio_le16_to_cpu(rsp.status) != PVIO_BLK_S_UNSUPP)
			fail("flood answer %u: status %u", i, pvio_le16_to_cpu(rsp.status));
	}
	note("ok: 40 bad requests answered UNSUPP");
	nanosleep(&pause, NULL);
	r = mkreq(600, 9, 0, 0);
	hf_do(&h, "bad request after the flood", r, PVIO_BLK_S_UNSUPP);
	hf_read_ok(&h, 601);
	hf_close(&h, true);
	return 0;
}

/* Every queue of a multi-queue device: IO on each, all queues busy at
 * once, each answer on the queue that got the request. */
static int mode_mq(const char *sock)
{
	struct pvio_blk_rsp rsp;
	struct pvio_blk_req r;
	unsigned int q;
	struct hf h;
	int ret;

	hf_connect(&h, sock);
	for (q = 0; q < h.nq; q++) {
		hf_select(&h, q);
		hf_write_read(&h, 10 + q, 1024 + q * 256, 65536, 20 + q, 0);
	}
	for (q = 0; q < h.nq; q++) {
		hf_select(&h, q);
		memset(h.data, 0, 65536);
		r = mkreq(100 + q, PVIO_BLK_OP_READ, 1024 + q * 256, 128);
		addseg(&r, 0, 65536);
		hf_put(&h, &r);
		hf_kick(&h);
	}
	for (q = 0; q < h.nq; q++) {
		unsigned char want[65536];

		hf_select(&h, q);
		ret = hf_get_rsp(&h, &rsp, HF_TIMEOUT_MS);
		if (ret || pvio_le32_to_cpu(rsp.id) != 100 + q || rsp.status)
			fail("queue %u: concurrent read: %s, id %u, status %u", q,
			     strerror(-ret), pvio_le32_to_cpu(rsp.id),
			     pvio_le16_to_cpu(rsp.status));
		pattern(want, sizeof(want), 20 + q);
		if (memcmp(h.data, want, sizeof(want)))
			fail("queue %u: concurrent read returned wrong data", q);
	}
	note("ok: %u queues served concurrently", h.nq);
	hf_close(&h, true);
	return 0;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		fail("writing %s", path);
	return 0;
}

static int mode_good(const char *sock, const char *expect)
{
	unsigned char want[131072], idbuf[PVIO_BLK_ID_BYTES + 1];
	struct pvio_blk_seg *tab;
	struct pvio_blk_req r;
	struct hf h;
	uint32_t i, len;

	hf_connect(&h, sock);
	hf_write_read(&h, 10, 100, 4096, 1, 0);
	hf_write_read(&h, 12, 300, 65536, 2, PVIO_BLK_REQ_F_FUA);

	/* Indirect: 32 segments of 4 KiB, scattered in reverse order. */
	pattern(want, sizeof(want), 3);
	tab = (struct pvio_blk_seg *)(h.data + 4 * 131072);
	for (i = 0; i < 32; i++) {
		uint32_t off = (31 - i) * 4096;

		memcpy(h.data + off, want + i * 4096, 4096);
		tab[i].offset = pvio_cpu_to_le32(off);
		tab[i].len = pvio_cpu_to_le32(4096);
	}
	r = mkreq(20, PVIO_BLK_OP_WRITE, 2048, 256);
	r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_INDIRECT);
	r.nr_segs = pvio_cpu_to_le16(32);
	r.seg[0].offset = pvio_cpu_to_le32(4 * 131072);
	r.seg[0].len = pvio_cpu_to_le32(32 * 8);
	hf_do(&h, "indirect write of 32 segments", r, PVIO_BLK_S_OK);
	memset(h.data + 131072, 0, 131072);
	r = mkreq(21, PVIO_BLK_OP_READ, 2048, 256);
	addseg(&r, 131072, 131072);
	hf_do(&h, "read of the indirect write", r, PVIO_BLK_S_OK);
	if (memcmp(h.data + 131072, want, sizeof(want)))
		fail("indirect write read back differs");
	write_file(expect, want, sizeof(want));

	r = mkreq(22, PVIO_BLK_OP_FLUSH, 0, 0);
	hf_do(&h, "flush", r, PVIO_BLK_S_OK);

	hf_write_read(&h, 30, 4096, 65536, 4, 0);
	r = mkreq(32, PVIO_BLK_OP_DISCARD, 4096, 128);
	hf_do(&h, "discard", r, PVIO_BLK_S_OK);
	hf_expect_zeroes(&h, 33, 4096, 65536, "discarded range");

	hf_write_read(&h, 40, 6144, 65536, 5, 0);
	r = mkreq(42, PVIO_BLK_OP_WRITE_ZEROES, 6144, 128);
	hf_do(&h, "write-zeroes", r, PVIO_BLK_S_OK);
	hf_expect_zeroes(&h, 43, 6144, 65536, "write-zeroed range");

	memset(h.data + 8192, 0xff, 64);
	r = mkreq(50, PVIO_BLK_OP_GET_ID, 0, 0);
	addseg(&r, 8192, 64);
	len = hf_do(&h, "GET_ID", r, PVIO_BLK_S_OK);
	if (len == 0 || len > PVIO_BLK_ID_BYTES)
		fail("GET_ID length %u", len);
	memcpy(idbuf, h.data + 8192, PVIO_BLK_ID_BYTES);
	idbuf[PVIO_BLK_ID_BYTES] = 0;
	if (strlen((char *)idbuf) == 0)
		fail("GET_ID returned an empty id");
	note("ok: device id \"%s\"", idbuf);

	r = mkreq(60, PVIO_BLK_OP_READ, h.capacity, 8);
	addseg(&r, 0, 4096);
	hf_do(&h, "read past the end", r, PVIO_BLK_S_RANGE);
	r = mkreq(61, PVIO_BLK_OP_WRITE, h.capacity - 8, 16);
	addseg(&r, 0, 8192);
	hf_do(&h, "write across the end", r, PVIO_BLK_S_RANGE);

	hf_write_read(&h, 70, h.capacity - 8, 4096, 6, 0);
	hf_close(&h, true);
	return 0;
}

static int mode_ro(const char *sock)
{
	struct pvio_blk_req r;
	struct hf h;

	hf_connect(&h, sock);
	hf_read_ok(&h, 1);
	r = mkreq(2, PVIO_BLK_OP_WRITE, 0, 8);
	memset(h.data, 0x5a, 4096);
	addseg(&r, 0, 4096);
	hf_do(&h, "write to the read-only device", r, PVIO_BLK_S_ROFS);
	r = mkreq(3, PVIO_BLK_OP_DISCARD, 0, 8);
	hf_do(&h, "discard on the read-only device", r, PVIO_BLK_S_UNSUPP);
	r = mkreq(4, PVIO_BLK_OP_FLUSH, 0, 0);
	hf_do(&h, "flush on the read-only device", r, PVIO_BLK_S_OK);
	hf_close(&h, true);
	return 0;
}

static int mode_twofront(const char *sock)
{
	struct hf a, b, c;
	uint32_t g1;
	int ret;

	hf_connect(&a, sock);
	hf_write_read(&a, 1, 512, 8192, 9, 0);
	ret = hf_open(&b, sock);
	if (ret == 0)
		fail("second frontend was accepted");
	note("ok: second frontend refused: %s", strerror(-ret));
	hf_write_read(&a, 3, 1024, 8192, 10, 0);
	g1 = a.gen;
	hf_close(&a, true);

	hf_connect(&c, sock);
	if (c.gen <= g1)
		fail("generation %u after an orderly close, was %u", c.gen, g1);
	note("ok: new frontend after an orderly close, generation %u -> %u", g1, c.gen);
	hf_write_read(&c, 5, 512, 8192, 11, 0);
	g1 = c.gen;
	hf_close(&c, false); /* vanish without closing */

	hf_connect(&c, sock);
	if (c.gen <= g1)
		fail("generation %u after a vanished frontend, was %u", c.gen, g1);
	note("ok: new frontend after one vanished, generation %u -> %u", g1, c.gen);
	hf_write_read(&c, 7, 512, 8192, 12, 0);
	hf_close(&c, true);
	return 0;
}

/* Does @needle (@n bytes) occur in @hay (@len bytes)? */
static bool contains(const unsigned char *hay, uint64_t len,
		     const unsigned char *needle, size_t n)
{
	uint64_t i;

	for (i = 0; i + n <= len; i += 512)
		if (!memcmp(hay + i, needle, n))
			return true;
	return false;
}

static int mode_revoke(const char *sock)
{
	static unsigned char want[8192];
	struct pvio_region_hdr *oh;
	unsigned char *old;
	struct pvio_blk_req r;
	struct pvio_ring_shared *osh;
	struct hf a, b;
	uint32_t oldgen;
	unsigned int i;

	hf_connect(&a, sock);
	hf_write_read(&a, 1, 512, 8192, 21, 0);
	/* A second mapping of the same pages, which closing the client does
	 * not undo: what a peer that kept its memfd would have. */
	old = mremap(a.mem, 0, a.size, MREMAP_MAYMOVE);
	if (old == MAP_FAILED)
		fail("mremap: %s", strerror(errno));
	oh = (struct pvio_region_hdr *)old;
	oldgen = pvio_le32_to_cpu(oh->back.generation);
	hf_close(&a, false); /* vanish */

	hf_connect(&b, sock);
	note("next frontend connected, generation %u (the old mapping says %u)",
	     b.gen, oldgen);
	/* The next frontend's data: a pattern the old mapping must not see,
	 * in the buffer and on disk. */
	hf_write_read(&b, 3, 4096, 8192, 22, 0);
	{
		uint64_t x = 0x9e3779b97f4a7c15ull;

		for (i = 0; i < sizeof(want); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			want[i] = (unsigned char)x;
		}
	}
	memcpy(b.data, want, sizeof(want));
	if (contains(old, a.size, want, 512))
		fail("the old mapping sees the next frontend's data");
	if (pvio_le32_to_cpu(oh->back.generation) != oldgen)
		fail("the old mapping sees the next frontend's header (generation %u)",
		     pvio_le32_to_cpu(oh->back.generation));
	note("ok: the old mapping sees nothing of the next frontend");

	/* Forge through the old mapping: requests on queue 0 with a big
	 * producer index, and a CLOSING state. The next frontend's device
	 * must not notice. */
	osh = (struct pvio_ring_shared *)(old + a.info.queues[0].req_ring_off);
	for (i = 0; i < 4; i++) {
		r = mkreq(40 + i, PVIO_BLK_OP_WRITE, 4096, 16);
		addseg(&r, 0, 8192);
		memcpy(old + a.info.queues[0].req_ring_off + PVIO_RING_ENTRIES_OFFSET +
		       i * sizeof(r), &r, sizeof(r));
	}
	memset(old + a.info.queues[0].data_off, 0x5a, 8192);
	pvio_store_release(&osh->prod, pvio_cpu_to_le32(1000));
	pvio_store_release(&oh->front.state, pvio_cpu_to_le32(PVIO_STATE_CLOSING));
	usleep(300 * 1000);
	if (hf_back_state(&b) != PVIO_STATE_CONNECTED)
		fail("the next frontend's device left CONNECTED (state %u)",
		     hf_back_state(&b));
	hf_write_read(&b, 5, 4096, 8192, 23, 0);
	note("ok: forged requests and state in the old mapping reached nothing");
	munmap(old, a.size);
	hf_close(&b, true);
	return 0;
}

static int mode_stream(const char *sock, const char *expect)
{
	static unsigned char want[4 * 131072];
	struct pvio_blk_rsp rsp;
	struct pvio_blk_req r;
	unsigned int i, nfree = 0, sent = 0, done = 0;
	uint32_t free_ids[16];
	struct hf h;
	int ret;

	hf_connect(&h, sock);
	pattern(want, sizeof(want), 42);
	memcpy(h.data, want, sizeof(want));
	for (i = 0; i < 4; i++) {
		r = mkreq(i, PVIO_BLK_OP_WRITE, i * 256, 256);
		addseg(&r, i * 131072, 131072);
		hf_put(&h, &r);
	}
	hf_kick(&h);
	for (i = 0; i < 4; i++) {
		ret = hf_get_rsp(&h, &rsp, HF_TIMEOUT_MS);
		if (ret || rsp.status)
			fail("phase 1 write: %s, status %u", strerror(-ret),
			     pvio_le16_to_cpu(rsp.status));
	}
	write_file(expect, want, sizeof(want));
	note("phase1 done");

	/* Keep 16 writes of 128 KiB in flight until the backend leaves; an
	 * id (and its buffer) is reused only once its answer came back. */
	for (i = 0; i < 16; i++)
		free_ids[nfree++] = 104 + i;
	for (;;) {
		while (nfree) {
			uint32_t id = free_ids[--nfree];

			r = mkreq(id, PVIO_BLK_OP_WRITE,
				  8192 + (uint64_t)(sent % 256) * 256, 256);
			addseg(&r, (id - 100) * 131072, 131072);
			hf_put(&h, &r);
			sent++;
		}
		hf_kick(&h);
		ret = hf_get_rsp(&h, &rsp, 20000);
		if (ret == -EPIPE) {
			note("backend went away after %u writes answered", done);
			hf_close(&h, false);
			return 0;
		}
		if (ret)
			fail("stream: %s", strerror(-ret));
		if (rsp.status)
			fail("stream write: status %u", pvio_le16_to_cpu(rsp.status));
		if (pvio_le32_to_cpu(rsp.id) < 104 || pvio_le32_to_cpu(rsp.id) >= 120)
			fail("stream: answer for unknown id %u", pvio_le32_to_cpu(rsp.id));
		free_ids[nfree++] = pvio_le32_to_cpu(rsp.id);
		done++;
	}
}

/* Connect/leave cycles: every one costs the backend a session. */
static int mode_cycle(const char *sock, long long ms)
{
	long long end = now_ms() + ms;
	unsigned long n = 0;
	struct hf h;

	while (now_ms() < end) {
		hf_connect(&h, sock);
		hf_close(&h, n % 2 == 0);
		n++;
	}
	printf("cycles %lu\n", n);
	return 0;
}

/* Ring one doorbell in a tight loop; the device must keep working. */
static int mode_ring_flood(const char *sock, long long ms, bool control)
{
	long long end = now_ms() + ms;
	unsigned long n = 0;
	struct hf h;
	int ret;

	hf_connect(&h, sock);
	while (now_ms() < end) {
		unsigned int i;

		for (i = 0; i < 256; i++) {
			ret = pvio_ivshmem_client_notify(h.cl, 0, control ?
							 PVIO_VECTOR_CONTROL : h.qvec);
			if (ret)
				fail("ringing: %s", strerror(-ret));
		}
		n += i;
	}
	printf("rings %lu\n", n);
	hf_read_ok(&h, 700);
	hf_close(&h, true);
	return 0;
}

/* Reads of 4 KiB at queue depth 1, counted. */
static int mode_iops(const char *sock, long long ms)
{
	long long end = now_ms() + ms;
	struct pvio_blk_rsp rsp;
	unsigned long n = 0;
	struct hf h;
	int ret;

	hf_connect(&h, sock);
	while (now_ms() < end) {
		struct pvio_blk_req r = mkreq((uint32_t)(n % 64), PVIO_BLK_OP_READ,
					      (n * 8) % 2048, 8);

		addseg(&r, 0, 4096);
		hf_put(&h, &r);
		hf_kick(&h);
		ret = hf_get_rsp(&h, &rsp, HF_TIMEOUT_MS);
		if (ret)
			fail("iops read %lu: %s", n, strerror(-ret));
		if (rsp.status)
			fail("iops read %lu: status %u", n, pvio_le16_to_cpu(rsp.status));
		n++;
	}
	printf("iops %lu\n", n * 1000 / (unsigned long)ms);
	hf_close(&h, true);
	return 0;
}

/*
 * Scribble mode: IO with several requests in flight while random bytes of
 * everything the backend reads from this side are rewritten under it: the
 * frontend's half of the header (now and then any header byte), the block
 * config, the request ring's indices and entries (mostly the ones just
 * published), the response ring's consumer line, the indirect tables and
 * the payloads; and now and then a burst of doorbells. What the backend
 * answers is counted, never checked. A session ends when the backend
 * closes the device, drops the connection, breaks a ring from this side's
 * point of view or leaves requests unanswered for SC_STALL_MS; then the
 * next session starts, until the time is up.
 */
#define SC_SLOTS 8u            /* requests in flight at most */
#define SC_MAX_SLOT 131072u    /* data bytes per request at most */
#define SC_TABLE 512u          /* bytes of indirect table per slot */
#define SC_STALL_MS 3000
#define SC_RECONNECT_MS 10000

struct sc_stats {
	unsigned long sent, answered, errors, stray, sessions, scribbles;
	unsigned long bursts, closed, dropped, broken, rsp_broken, stalled;
	unsigned long reconnect_failed;
};

struct sc_sess {
	struct hf h;
	uint32_t slot_bytes;          /* data bytes of each slot */
	uint64_t tab_off;             /* data-area offset of the tables */
	uint32_t inflight[SC_SLOTS];  /* id + 1 of the slot's request, 0 free */
	unsigned int busy;
	uint32_t seq;
	unsigned long sent, answered; /* this session's */
	long long last_progress;
};

static uint64_t sc_x;

/* xorshift64*: a seed replays the same run. */
static uint32_t sc_rand(void)
{
	sc_x ^= sc_x >> 12;
	sc_x ^= sc_x << 25;
	sc_x ^= sc_x >> 27;
	return (uint32_t)((sc_x * 0x2545f4914f6cdd1dull) >> 32);
}

static uint64_t sc_rand64(void)
{
	return (uint64_t)sc_rand() << 32 | sc_rand();
}

/* Lay the session's slots out in the data area of queue 0. */
static void sc_layout(struct sc_sess *s)
{
	uint64_t per = (s->h.data_size - SC_SLOTS * SC_TABLE) / SC_SLOTS;

	if (per > SC_MAX_SLOT)
		per = SC_MAX_SLOT;
	s->slot_bytes = (uint32_t)(per & ~4095ull);
	s->tab_off = (uint64_t)SC_SLOTS * s->slot_bytes;
	memset(s->inflight, 0, sizeof(s->inflight));
	s->busy = 0;
	s->sent = 0;
	s->answered = 0;
	s->last_progress = now_ms();
}

/* One random request into a free slot; returns pvio_prod_put()'s value. */
static int sc_submit(struct sc_sess *s, struct sc_stats *st)
{
	struct hf *h = &s->h;
	uint32_t max_sectors = s->slot_bytes / 512, sectors, id, k, i;
	unsigned int slot, nseg;
	uint64_t base, sector;
	struct pvio_blk_seg *tab;
	struct pvio_blk_req r;
	uint16_t op;
	int ret;

	for (slot = 0; slot < SC_SLOTS && s->inflight[slot]; slot++)
		;
	if (slot == SC_SLOTS || !max_sectors)
		return -ENOSPC;
	id = s->seq++ * SC_SLOTS + slot;
	base = (uint64_t)slot * s->slot_bytes;
	sectors = 1 + sc_rand() % max_sectors;
	if (sc_rand() % 20 == 0 || h->capacity <= sectors)
		sector = h->capacity - sc_rand() % 16; /* at or past the end */
	else
		sector = sc_rand64() % (h->capacity - sectors + 1);
	k = sc_rand() % 100;
	op = k < 45 ? PVIO_BLK_OP_READ : k < 85 ? PVIO_BLK_OP_WRITE :
	     k < 90 ? PVIO_BLK_OP_FLUSH : k < 94 ? PVIO_BLK_OP_DISCARD :
	     k < 97 ? PVIO_BLK_OP_WRITE_ZEROES : PVIO_BLK_OP_GET_ID;
	r = mkreq(id, op, sector, sectors);
	switch (op) {
	case PVIO_BLK_OP_READ:
	case PVIO_BLK_OP_WRITE:
		if (op == PVIO_BLK_OP_WRITE) {
			memset(h->data + base, (int)(id & 0xff), (size_t)sectors * 512);
			if (sc_rand() % 4 == 0)
				r.flags = pvio_cpu_to_le16(PVIO_BLK_REQ_F_FUA);
		}
		nseg = 1 + sc_rand() % 32;
		if (nseg > sectors)
			nseg = sectors;
		if (nseg <= PVIO_BLK_INLINE_SEGS && sc_rand() % 2) {
			tab = r.seg;
		} else {
			tab = (struct pvio_blk_seg *)(h->data + s->tab_off +
						      (uint64_t)slot * SC_TABLE);
			r.flags |= pvio_cpu_to_le16(PVIO_BLK_REQ_F_INDIRECT);
			r.seg[0].offset = pvio_cpu_to_le32((uint32_t)
				(s->tab_off + (uint64_t)slot * SC_TABLE));
			r.seg[0].len = pvio_cpu_to_le32(nseg * 8);
		}
		for (i = 0, k = 0; i < nseg; i++) {
			uint32_t n = sectors / nseg + (i < sectors % nseg);

			tab[i].offset = pvio_cpu_to_le32((uint32_t)(base + k * 512ull));
			tab[i].len = pvio_cpu_to_le32(n * 512);
			k += n;
		}
		r.nr_segs = pvio_cpu_to_le16((uint16_t)nseg);
		break;
	case PVIO_BLK_OP_FLUSH:
		r.sector = 0;
		r.nr_sectors = 0;
		break;
	case PVIO_BLK_OP_GET_ID:
		r.sector = 0;
		r.nr_sectors = 0;
		addseg(&r, (uint32_t)base, 512);
		break;
	default: /* discard, write-zeroes: a range and no data */
		break;
	}
	ret = pvio_prod_put(h->req, &r, sizeof(r));
	if (ret)
		return ret;
	s->inflight[slot] = id + 1;
	s->busy++;
	s->sent++;
	st->sent++;
	return 0;
}

/* Take every answer there is; returns 0 or the ring's error. Only the
 * backend writes the response ring's producer line and entries, and this
 * side never scribbles them, so an error here is the backend's. */
static int sc_reap(struct sc_sess *s, struct sc_stats *st)
{
	struct pvio_blk_rsp rsp;
	uint32_t id, slot;
	int n;

	for (;;) {
		n = pvio_cons_avail(s->h.rsp);
		if (n <= 0)
			return n;
		while (n-- > 0) {
			if (pvio_cons_get(s->h.rsp, &rsp, sizeof(rsp)))
				return -EPROTO;
			st->answered++;
			s->answered++;
			if (rsp.status)
				st->errors++;
			id = pvio_le32_to_cpu(rsp.id);
			slot = id % SC_SLOTS;
			if (s->inflight[slot] == id + 1) {
				s->inflight[slot] = 0;
				s->busy--;
			} else {
				st->stray++;
			}
		}
		pvio_cons_release(s->h.rsp);
		s->last_progress = now_ms();
		/* An answer under a scribbled id frees no slot; once there are
		 * as many answers as requests, every slot is free. */
		if (s->answered >= s->sent) {
			memset(s->inflight, 0, sizeof(s->inflight));
			s->busy = 0;
		}
	}
}

/* A few random bytes somewhere the backend reads from this side. */
static void sc_scribble(struct sc_sess *s, struct sc_stats *st)
{
	struct hf *h = &s->h;
	const struct pvio_region_queue *d = &h->info.queues[0];
	unsigned int n = 1 + sc_rand() % 4, k;
	unsigned char *p;
	uint64_t span;

	while (n--) {
		k = sc_rand() % 100;
		if (k < 20) {         /* the frontend's side: state, features, ... */
			p = (unsigned char *)&h->hdr->front;
			span = sizeof(h->hdr->front);
		} else if (k < 25) {  /* anywhere in the header */
			p = h->mem;
			span = PVIO_REGION_HDR_SIZE;
		} else if (k < 33) {  /* the class config */
			p = h->hdr->config;
			span = PVIO_CONFIG_SIZE;
		} else if (k < 43) {  /* request ring: prod/cons_event or cons/prod_event */
			p = h->mem + d->req_ring_off + (sc_rand() % 2) * PVIO_CACHELINE;
			span = 8;
		} else if (k < 58) {  /* the entries just published */
			p = h->mem + d->req_ring_off + PVIO_RING_ENTRIES_OFFSET +
			    (uint64_t)((h->req->pub - 1 - sc_rand() % 4) & h->req->mask) *
			    d->req_entry_size;
			span = d->req_entry_size;
		} else if (k < 65) {  /* any request entry */
			p = h->mem + d->req_ring_off + PVIO_RING_ENTRIES_OFFSET;
			span = (uint64_t)d->req_entries * d->req_entry_size;
		} else if (k < 70) {  /* response ring: the consumer's line */
			p = h->mem + d->rsp_ring_off + PVIO_CACHELINE;
			span = 8;
		} else if (k < 82) {  /* indirect tables */
			p = h->data + s->tab_off;
			span = (uint64_t)SC_SLOTS * SC_TABLE;
		} else {              /* payloads */
			p = h->data;
			span = (uint64_t)SC_SLOTS * s->slot_bytes;
		}
		if (!span)
			continue;
		PVIO_WRITE_ONCE(p[sc_rand64() % span], (unsigned char)sc_rand());
		st->scribbles++;
	}
}

/* Ring doorbells in a burst; returns -EPIPE if the backend is gone. */
static int sc_burst(struct sc_sess *s, struct sc_stats *st)
{
	unsigned int n = 16 + sc_rand() % 256;

	st->bursts++;
	while (n--)
		if (pvio_ivshmem_client_notify(s->h.cl, 0, sc_rand() % (s->h.nq + 1)))
			return -EPIPE;
	return 0;
}

/* Leave the session, orderly now and then, never waiting long. */
static void sc_leave(struct sc_sess *s, bool connected)
{
	struct hf *h = &s->h;

	if (connected && sc_rand() % 2) {
		pvio_store_release(&h->hdr->front.state,
				   pvio_cpu_to_le32(PVIO_STATE_CLOSING));
		pvio_ivshmem_client_notify(h->cl, 0, PVIO_VECTOR_CONTROL);
		if (!hf_wait_back(h, PVIO_STATE_CLOSED, 2000))
			pvio_store_release(&h->hdr->front.state,
					   pvio_cpu_to_le32(PVIO_STATE_CLOSED));
	}
	pvio_ivshmem_client_close(h->cl);
	h->cl = NULL;
}

/* One session's IO until it ends or @end passes. */
static void sc_session(struct sc_sess *s, struct sc_stats *st, long long end)
{
	struct hf *h = &s->h;
	bool connected = true;
	struct pollfd p[2];
	uint64_t cnt;
	int ret;

	sc_layout(s);
	while (now_ms() < end) {
		if (hf_back_state(h) != PVIO_STATE_CONNECTED) {
			st->closed++;
			connected = false;
			break;
		}
		if (sc_reap(s, st)) {
			st->rsp_broken++;
			break;
		}
		ret = 0;
		while (s->busy < SC_SLOTS && !(ret = sc_submit(s, st)))
			;
		if (ret == -EPROTO) {
			st->broken++;
			break;
		}
		if (pvio_prod_publish(h->req) &&
		    pvio_ivshmem_client_notify(h->cl, 0, h->qvec)) {
			st->dropped++;
			connected = false;
			break;
		}
		if (sc_rand() % 4 == 0)
			sc_scribble(s, st);
		if (sc_rand() % 128 == 0 && sc_burst(s, st)) {
			st->dropped++;
			connected = false;
			break;
		}
		if (s->busy && now_ms() - s->last_progress > SC_STALL_MS) {
			st->stalled++;
			break;
		}
		ret = pvio_cons_arm(h->rsp, 0);
		if (ret < 0) {
			st->rsp_broken++;
			break;
		}
		if (ret > 0)
			continue;
		p[0].fd = pvio_ivshmem_client_vector_fd(h->cl, h->qvec);
		p[0].events = POLLIN;
		p[1].fd = pvio_ivshmem_client_fd(h->cl);
		p[1].events = POLLIN;
		if (poll(p, 2, 5) <= 0)
			continue;
		if ((p[0].revents & POLLIN) && read(p[0].fd, &cnt, sizeof(cnt)) < 0)
			cnt = 0;
		if ((p[1].revents & (POLLIN | POLLHUP)) &&
		    pvio_ivshmem_client_handle(h->cl) < 0) {
			st->dropped++;
			connected = false;
			break;
		}
	}
	sc_leave(s, connected);
}

static int mode_scribble(const char *sock, long long seconds, uint64_t seed)
{
	long long end = now_ms() + seconds * 1000, give_up;
	static struct sc_sess s;
	struct sc_stats st;
	char err[256];

	memset(&st, 0, sizeof(st));
	sc_x = seed ? seed : 1;
	hf_connect(&s.h, sock); /* the first session must work */
	hf_mute = true;
	note("scribbling on %s for %lld s, seed %" PRIu64, sock, seconds, seed);
	for (;;) {
		st.sessions++;
		sc_session(&s, &st, end);
		if (now_ms() >= end)
			break;
		/* The backend may need a moment to notice that we left. */
		give_up = now_ms() + SC_RECONNECT_MS;
		while (hf_try_connect(&s.h, sock, err, sizeof(err))) {
			if (now_ms() > give_up) {
				st.reconnect_failed++;
				note("reconnecting: %s", err);
				break;
			}
			usleep(20 * 1000);
		}
		if (!s.h.cl)
			break;
	}
	printf("scribble: sessions %lu sent %lu answered %lu errors %lu stray %lu "
	       "scribbles %lu bursts %lu closed %lu dropped %lu broken %lu "
	       "rsp-broken %lu stalled %lu reconnect-failed %lu seed %" PRIu64 "\n",
	       st.sessions, st.sent, st.answered, st.errors, st.stray,
	       st.scribbles, st.bursts, st.closed, st.dropped, st.broken,
	       st.rsp_broken, st.stalled, st.reconnect_failed, seed);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "hostile"))
		return mode_hostile(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "good"))
		return mode_good(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "mq")) {
		hf_vectors = (unsigned int)atoi(argv[3]) + 1;
		if (hf_vectors < 2 || hf_vectors > HF_MAX_QUEUES + 1)
			return 2;
		return mode_mq(argv[2]);
	}
	if (argc == 3 && !strcmp(argv[1], "flood"))
		return mode_flood(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "ro"))
		return mode_ro(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "twofront"))
		return mode_twofront(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "revoke"))
		return mode_revoke(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "stream"))
		return mode_stream(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "cycle"))
		return mode_cycle(argv[2], atoll(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "ctlflood"))
		return mode_ring_flood(argv[2], atoll(argv[3]), true);
	if (argc == 4 && !strcmp(argv[1], "qflood"))
		return mode_ring_flood(argv[2], atoll(argv[3]), false);
	if (argc == 4 && !strcmp(argv[1], "iops") && atoll(argv[3]) > 0)
		return mode_iops(argv[2], atoll(argv[3]));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "scribble") &&
	    atoll(argv[3]) > 0)
		return mode_scribble(argv[2], atoll(argv[3]), argc == 5 ?
				     strtoull(argv[4], NULL, 0) :
				     (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20);
	fprintf(stderr, "usage: %s hostile RW_SOCK RO_SOCK | good SOCK EXPECT | mq SOCK QUEUES | flood SOCK | ro SOCK | twofront SOCK | revoke SOCK | stream SOCK EXPECT | cycle SOCK MS | ctlflood SOCK MS | qflood SOCK MS | iops SOCK MS | scribble SOCK SECONDS [SEED]\n",
		argv[0]);
	return 2;
}
