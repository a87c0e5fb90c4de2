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
 *   hostile_frontend stream SOCK EXPECT_FILE
 *       writes sectors 0..1023 and waits for the answers, writes their
 *       bytes to EXPECT_FILE, prints "phase1 done", then keeps writes in
 *       flight until the backend goes away; exit 0 if it did
 *
 * Devices have one queue (two vectors), except in mq mode. Exit 0 on success, 1 on
 * a failed check (with a "FAIL:" line), 2 on bad usage.
 */
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

static void hf_quiet(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
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

/* The handshake of include/pvio/region.h, by hand. */
static void hf_connect(struct hf *h, const char *sock)
{
	struct pvio_blk_config cfg;
	const char *why = "";
	unsigned int q;
	int ret;

	ret = hf_open(h, sock);
	if (ret)
		fail("connecting to %s: %s", sock, strerror(-ret));
	h->mem = pvio_ivshmem_client_mem(h->cl);
	h->hdr = (struct pvio_region_hdr *)h->mem;
	h->size = pvio_ivshmem_client_mem_size(h->cl);
	if (hf_wait_back(h, PVIO_STATE_INITWAIT, HF_TIMEOUT_MS))
		fail("%s: backend never reached INITWAIT (state %u)", sock,
		     hf_back_state(h));
	ret = pvio_region_check(h->mem, h->size, &h->info, &why);
	if (!ret)
		ret = pvio_blk_check_layout(&h->info, &why);
	if (ret)
		fail("%s: region invalid: %s", sock, why);
	if (h->info.num_queues != hf_vectors - 1)
		fail("%s: %u queues, this run expects %u", sock, h->info.num_queues,
		     hf_vectors - 1);
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
	if (hf_wait_back(h, PVIO_STATE_CONNECTED, HF_TIMEOUT_MS))
		fail("%s: backend never reached CONNECTED (state %u)", sock,
		     hf_back_state(h));
	for (q = 0; q < h->nq; q++) {
		const struct pvio_region_queue *d = &h->info.queues[q];

		if (pvio_prod_attach(&h->reqs[q], (struct pvio_ring_shared *)
				     (h->mem + d->req_ring_off), d->req_entries,
				     sizeof(struct pvio_blk_req)) ||
		    pvio_cons_attach(&h->rsps[q], (struct pvio_ring_shared *)
				     (h->mem + d->rsp_ring_off), d->rsp_entries,
				     sizeof(struct pvio_blk_rsp)))
			fail("%s: attaching the rings of queue %u", sock, q);
	}
	hf_select(h, 0);
	pvio_store_release(&h->hdr->front.state,
			   pvio_cpu_to_le32(PVIO_STATE_CONNECTED));
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
	if (argc == 4 && !strcmp(argv[1], "stream"))
		return mode_stream(argv[2], argv[3]);
	fprintf(stderr, "usage: %s hostile RW_SOCK RO_SOCK | good SOCK EXPECT | mq SOCK QUEUES | flood SOCK | ro SOCK | twofront SOCK | stream SOCK EXPECT\n",
		argv[0]);
	return 2;
}
