// SPDX-License-Identifier: MIT
/*
 * test_backend - a small block backend serving a disk held in memory, with
 * hostile modes for testing the frontend library.
 *
 * Usage: test_backend --socket SOCK [--size BYTES] [--queues N] [--depth D]
 *                     [--ro] [--mode MODE] [--after N] [--seed N]
 *                     [--every N] [--restart-delay-ms MS] [--dump FILE]
 *                     [--cfg-max-segs N] [--cfg-max-seg-size N]
 *                     [--data-size BYTES] [--max-transfer SECTORS]
 *                     [--max-segs N] [--max-seg-size BYTES] [--drain-ms MS]
 *                     [--hold N]
 *
 * Prints "test_backend: ready" once the socket listens; runs until SIGTERM,
 * then writes the disk to FILE if --dump is given. --max-segs (default 32,
 * at most 32) and --max-seg-size (default 131072) are the segment limits
 * the backend both announces and validates every request against, as is
 * --max-transfer (sectors per request, default 256). --depth is at most
 * 10240, blk-mq's largest queue depth. --hold N keeps the answers back
 * until N requests are unanswered, no request came for 100 ms, or the
 * oldest was kept back for 10 s (below the frontend's io_timeout): the
 * frontend then has that many requests, and as many of its tags, in
 * flight at once.
 * MODE (default "good") misbehaves from the (N+1)th request on (--after):
 *   bad-id      answers with an id no request has
 *   dup-id      answers every request twice
 *   bad-status  answers with an unknown status
 *   reserved    answers with a non-zero reserved field
 *   bad-len     answers a READ/WRITE with a length it did not transfer
 *   prod-jump   publishes a response producer index past the ring size
 *   silent      never answers (requests stay outstanding)
 *   garbage     answers one request in twenty with 16 random bytes, and
 *               now and then publishes a random producer index (--seed)
 *   restart     every N requests taken (--every, default 100) behaves as an
 *               engine that dies and is started again on the same server
 *               and memory: the request that makes N is executed or not
 *               (a coin toss, --seed: a write may land with its answer
 *               lost), the answers of that batch are never published, and
 *               everything taken and not answered is forgotten; then,
 *               after --restart-delay-ms (default 0; meanwhile nothing is
 *               served and the header is left as the dead engine left it),
 *               the region is laid out again with a new generation and
 *               the data areas left as they are (include/pvio/region.h,
 *               "Backend restart"), and the frontend's control vector is
 *               rung. Prints "test_backend: restart K generation G" on
 *               stderr each time. Modes count --after from the start; this
 *               one ignores it.
 *   flood       serves correctly, and once --after requests are served
 *               rings every vector of the frontend (control included) in
 *               a loop for as long as it runs: 20000 rounds a second,
 *               more than QEMU's ivshmem delivers, without taking a host
 *               CPU from the guest under test
 *   scribble    serves, and once --after requests are served keeps
 *               writing random bytes (--seed) over the region header, the
 *               class config, the ring indices and entries and the
 *               responses it publishes, about every millisecond
 *   drain       serves correctly until a WRITE covering the disk's last
 *               sector is served (the frontend's trigger), then keeps
 *               serving for --drain-ms (default 6000) and from then on
 *               never answers again; prints "test_backend: drain armed"
 *               and "test_backend: drain silent" on stderr
 * and these break the region or the handshake from the start:
 *   bad-magic, bad-abi, overlap (two rings of queue 0 at one offset),
 *   refuse (answers INITIALISED with CLOSED),
 *   mute (lays the region out, INITWAIT, and never answers INITIALISED:
 *   a frontend's connect must time out).
 * --cfg-max-segs and --cfg-max-seg-size write that max_segments or
 * max_segment_size into the block config the frontend reads, whatever it
 * is (the backend itself serves with its own sane limits); --data-size
 * gives each queue a data area of BYTES (a multiple of 4096; the region
 * memfd is sparse, so a data area of several GiB costs only what is used).
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
#include <time.h>
#include <unistd.h>

#include "blk_proto.h"
#include "ivshmem_server.h"
#include "pvio_ring.h"
#include "region.h"

#define TB_MAX_SEGS 32u
#define TB_FEATURES (PVIO_BLK_F_FLUSH | PVIO_BLK_F_FUA | PVIO_BLK_F_DISCARD | \
		     PVIO_BLK_F_WRITE_ZEROES | PVIO_BLK_F_INDIRECT | \
		     PVIO_BLK_F_GET_ID)

enum tb_mode {
	TB_GOOD, TB_BAD_ID, TB_DUP_ID, TB_BAD_STATUS, TB_RESERVED, TB_BAD_LEN,
	TB_PROD_JUMP, TB_SILENT, TB_BAD_MAGIC, TB_BAD_ABI, TB_OVERLAP, TB_REFUSE,
	TB_GARBAGE, TB_MUTE, TB_RESTART, TB_FLOOD, TB_SCRIBBLE, TB_DRAIN,
};

static const char *const tb_mode_names[] = {
	"good", "bad-id", "dup-id", "bad-status", "reserved", "bad-len",
	"prod-jump", "silent", "bad-magic", "bad-abi", "overlap", "refuse",
	"garbage", "mute", "restart", "flood", "scribble", "drain",
};

struct tb_queue {
	struct pvio_cons req;
	struct pvio_prod rsp;
	struct pvio_region_queue d;
};

struct tb {
	struct pvio_ivshmem_server *srv;
	unsigned char *mem;
	struct pvio_region_params par;
	struct pvio_blk_config cfg;
	struct pvio_blk_limits lim;
	unsigned char *disk;
	uint64_t disk_size;
	unsigned int nq;
	struct tb_queue q[PVIO_MAX_QUEUES];
	enum tb_mode mode;
	unsigned long after;
	unsigned long served;
	uint64_t features;
	int peer;          /* the frontend's id, or -1 */
	bool connected;
	bool relayout;     /* the frontend left: lay out again */
	bool jump;         /* prod-jump: publish a bad index after this batch */
	uint32_t generation;
	uint64_t rng;      /* garbage and restart modes */
	unsigned long every;    /* restart: requests taken per life */
	unsigned long taken;    /* restart: taken in this life */
	unsigned long restarts;
	unsigned int restart_delay_ms;
	long long away_until;   /* restart: dead until then (ms), or 0 */
	unsigned int drain_ms;  /* drain: answers given after the trigger */
	long long silent_at;    /* drain: no answers from then on (ms), or 0 */
	bool silent_said;
	unsigned int hold;      /* answers kept back until this many */
	unsigned int held;      /* answers kept back, in held_rsp[] */
	struct pvio_blk_rsp *held_rsp;
	struct tb_queue *held_q; /* the queue they are for (one queue) */
	long long held_since;   /* ms: the last request taken while holding */
	long long held_first;   /* ms: the oldest answer kept back */
};

static long long tb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t tb_rand(struct tb *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

static struct pvio_region_hdr *tb_hdr(struct tb *b)
{
	return (struct pvio_region_hdr *)b->mem;
}

static void tb_layout(struct tb *b)
{
	struct pvio_region_hdr *h = tb_hdr(b);
	unsigned int i;
	struct pvio_region_layout info;

	b->par.generation = ++b->generation;
	if (pvio_region_layout(b->mem, &b->par, &info)) {
		fprintf(stderr, "test_backend: layout failed\n");
		exit(1);
	}
	for (i = 0; i < b->nq; i++)
		b->q[i].d = info.queues[i];
	b->connected = false;
	/* Hostile layouts are written after the valid one; a frontend only
	 * attaches after "ready", by which time they are in place. */
	switch (b->mode) {
	case TB_BAD_MAGIC:
		h->magic ^= pvio_cpu_to_le64(1);
		break;
	case TB_BAD_ABI:
		h->abi_rev = pvio_cpu_to_le32(PVIO_ABI_REV + 1);
		break;
	case TB_OVERLAP:
		h->queues[0].rsp_ring_off = h->queues[0].req_ring_off;
		break;
	default:
		break;
	}
}

static void tb_ring(struct tb *b, unsigned int vector)
{
	if (b->peer >= 0)
		pvio_ivshmem_server_notify(b->srv, b->peer, vector);
}

static void tb_on_peer(void *opaque, int id, bool joined)
{
	struct tb *b = opaque;

	if (joined) {
		b->peer = id;
		tb_ring(b, PVIO_VECTOR_CONTROL);
	} else if (id == b->peer) {
		b->peer = -1;
		b->relayout = true;
	}
}

/* Restart mode: a new engine lays the region out again (clear_data is 0:
 * the data areas stay) and tells the frontend. */
static void tb_come_back(struct tb *b)
{
	b->away_until = 0;
	tb_layout(b);
	fprintf(stderr, "test_backend: restart %lu generation %u\n",
		b->restarts, b->generation);
	tb_ring(b, PVIO_VECTOR_CONTROL);
}

/* Restart mode: the engine dies; what it took unanswered is forgotten. */
static void tb_die(struct tb *b)
{
	b->connected = false;
	b->taken = 0;
	b->restarts++;
	if (b->restart_delay_ms)
		b->away_until = tb_now_ms() + b->restart_delay_ms;
	else
		tb_come_back(b);
}

static void tb_control(struct tb *b)
{
	struct pvio_region_hdr *h = tb_hdr(b);
	uint32_t st = pvio_le32_to_cpu(pvio_load_acquire(&h->front.state));
	uint32_t back = pvio_le32_to_cpu(PVIO_READ_ONCE(h->back.state));
	unsigned int i;

	if (b->mode == TB_MUTE)
		return;
	if (st == PVIO_STATE_INITIALISED && back == PVIO_STATE_INITWAIT) {
		b->features = pvio_le64_to_cpu(PVIO_READ_ONCE(h->front.features));
		if (b->mode == TB_REFUSE || (b->features & ~b->par.features)) {
			pvio_store_release(&h->back.state,
					   pvio_cpu_to_le32(PVIO_STATE_CLOSED));
			tb_ring(b, PVIO_VECTOR_CONTROL);
			return;
		}
		for (i = 0; i < b->nq; i++) {
			struct tb_queue *q = &b->q[i];

			pvio_cons_attach(&q->req, (struct pvio_ring_shared *)
					 (b->mem + q->d.req_ring_off),
					 q->d.req_entries, q->d.req_entry_size);
			pvio_prod_attach(&q->rsp, (struct pvio_ring_shared *)
					 (b->mem + q->d.rsp_ring_off),
					 q->d.rsp_entries, q->d.rsp_entry_size);
		}
		b->connected = true;
		/* Release: ring attach done before CONNECTED is seen. */
		pvio_store_release(&h->back.state,
				   pvio_cpu_to_le32(PVIO_STATE_CONNECTED));
		tb_ring(b, PVIO_VECTOR_CONTROL);
	} else if (st == PVIO_STATE_CLOSING && back == PVIO_STATE_CONNECTED) {
		b->connected = false;
		pvio_store_release(&h->back.state,
				   pvio_cpu_to_le32(PVIO_STATE_CLOSED));
		tb_ring(b, PVIO_VECTOR_CONTROL);
	}
}

static unsigned int tb_exec(struct tb *b, struct tb_queue *q,
			    const struct pvio_blk_vreq *v, uint32_t *len)
{
	unsigned char *data = b->mem + q->d.data_off;
	uint64_t pos = v->sector * PVIO_BLK_SECTOR_SIZE;
	static const char id[PVIO_BLK_ID_BYTES] = "pvio-test-backend";
	uint32_t i;

	*len = 0;
	switch (v->op) {
	case PVIO_BLK_OP_READ:
	case PVIO_BLK_OP_WRITE:
		for (i = 0; i < v->nr_segs; i++) {
			if (v->op == PVIO_BLK_OP_READ)
				memcpy(data + v->segs[i].offset, b->disk + pos, v->segs[i].len);
			else
				memcpy(b->disk + pos, data + v->segs[i].offset, v->segs[i].len);
			pos += v->segs[i].len;
			*len += v->segs[i].len;
		}
		break;
	case PVIO_BLK_OP_DISCARD:
	case PVIO_BLK_OP_WRITE_ZEROES:
		memset(b->disk + pos, 0, (size_t)v->nr_sectors * PVIO_BLK_SECTOR_SIZE);
		break;
	case PVIO_BLK_OP_GET_ID:
		memcpy(data + v->segs[0].offset, id, sizeof(id));
		*len = PVIO_BLK_ID_BYTES;
		break;
	default:
		break;
	}
	return PVIO_BLK_S_OK;
}

static void tb_answer(struct tb *b, struct tb_queue *q, struct pvio_blk_rsp *r)
{
	bool hostile = b->served++ >= b->after;

	if (hostile) {
		switch (b->mode) {
		case TB_BAD_ID:
			r->id = pvio_cpu_to_le32(pvio_le32_to_cpu(r->id) + 100000);
			break;
		case TB_BAD_STATUS:
			r->status = pvio_cpu_to_le16(PVIO_BLK_S_MAX + 3);
			break;
		case TB_RESERVED:
			r->reserved1 = pvio_cpu_to_le32(0xdead);
			break;
		case TB_BAD_LEN:
			r->len = pvio_cpu_to_le32(pvio_le32_to_cpu(r->len) + 512);
			break;
		case TB_SILENT:
			return;
		case TB_DRAIN:
			if (b->silent_at && tb_now_ms() >= b->silent_at) {
				if (!b->silent_said)
					fprintf(stderr, "test_backend: drain silent\n");
				b->silent_said = true;
				return;
			}
			break;
		case TB_GARBAGE:
			if (tb_rand(b) % 20 == 0) {
				uint64_t w[2] = { tb_rand(b), tb_rand(b) };

				memcpy(r, w, sizeof(*r));
			}
			if (tb_rand(b) % 50 == 0)
				b->jump = true;
			break;
		default:
			break;
		}
	}
	pvio_prod_put(&q->rsp, r, sizeof(*r));
	if (hostile && b->mode == TB_DUP_ID)
		pvio_prod_put(&q->rsp, r, sizeof(*r));
	if (hostile && b->mode == TB_PROD_JUMP)
		b->jump = true;
}

/* --hold: publish the answers kept back. */
static void tb_release(struct tb *b)
{
	struct tb_queue *q = b->held_q;
	unsigned int i;

	if (!b->held)
		return;
	for (i = 0; i < b->held; i++)
		pvio_prod_put(&q->rsp, &b->held_rsp[i], sizeof(b->held_rsp[i]));
	b->held = 0;
	if (pvio_prod_publish(&q->rsp))
		tb_ring(b, q->d.vector);
}

static void tb_serve_queue(struct tb *b, unsigned int qi)
{
	struct tb_queue *q = &b->q[qi];
	struct pvio_blk_vseg segs[TB_MAX_SEGS];
	struct pvio_blk_req req;
	struct pvio_blk_vreq v;
	struct pvio_blk_rsp r;
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
			unsigned int st;
			uint32_t len = 0;

			st = pvio_blk_req_validate(&req, &b->lim, b->features,
						   b->mem + q->d.data_off,
						   q->d.data_size, &v, segs,
						   TB_MAX_SEGS, &why);
			if (b->mode == TB_RESTART && ++b->taken >= b->every) {
				/* Dies with this request perhaps executed,
				 * and this batch's answers unpublished. */
				if (st == PVIO_BLK_S_OK && (tb_rand(b) & 1))
					tb_exec(b, q, &v, &len);
				tb_die(b);
				return;
			}
			if (st == PVIO_BLK_S_OK)
				st = tb_exec(b, q, &v, &len);
			if (b->mode == TB_DRAIN && !b->silent_at &&
			    st == PVIO_BLK_S_OK && v.op == PVIO_BLK_OP_WRITE &&
			    (v.sector + v.nr_sectors) * PVIO_BLK_SECTOR_SIZE ==
			    b->disk_size) {
				b->silent_at = tb_now_ms() + b->drain_ms;
				fprintf(stderr, "test_backend: drain armed\n");
			}
			memset(&r, 0, sizeof(r));
			r.id = pvio_cpu_to_le32(v.id);
			r.status = pvio_cpu_to_le16((uint16_t)st);
			r.len = pvio_cpu_to_le32(len);
			if (b->hold) {
				b->held_q = q;
				b->held_since = tb_now_ms();
				if (!b->held)
					b->held_first = b->held_since;
				b->held_rsp[b->held++] = r;
				if (b->held >= b->hold)
					tb_release(b);
				continue;
			}
			tb_answer(b, q, &r);
		}
		pvio_cons_release(&q->req);
		if (!b->jump && pvio_prod_publish(&q->rsp))
			tb_ring(b, q->d.vector);
		if (b->jump) {
			/* Instead of the batch, an index the frontend must
			 * refuse. */
			uint32_t bad = q->rsp.prod + q->d.rsp_entries + 3;

			if (b->mode == TB_GARBAGE)
				bad = (uint32_t)tb_rand(b);
			pvio_store_release(&q->rsp.sh->prod, pvio_cpu_to_le32(bad));
			tb_ring(b, q->d.vector);
			b->jump = false;
		}
	}
}

/* Flood mode: every vector of the frontend, once. */
static void tb_flood(struct tb *b)
{
	unsigned int v;

	for (v = 0; v <= b->nq; v++)
		tb_ring(b, v);
}

/* Scribble mode: a few random bytes somewhere the frontend reads. */
static void tb_scribble(struct tb *b)
{
	struct pvio_region_hdr *h = tb_hdr(b);
	unsigned int n;

	for (n = 0; n < 4; n++) {
		struct tb_queue *q = &b->q[tb_rand(b) % b->nq];
		unsigned char *p;
		size_t span;

		switch (tb_rand(b) % 5) {
		case 0: /* header: sides, sizes, queue table */
			p = b->mem;
			span = sizeof(*h);
			break;
		case 1: /* class config */
			p = h->config;
			span = sizeof(b->cfg);
			break;
		case 2: /* request ring: indices and entries */
			p = b->mem + q->d.req_ring_off;
			span = 64 + (size_t)q->d.req_entries * q->d.req_entry_size;
			break;
		default: /* response ring: indices and published answers */
			p = b->mem + q->d.rsp_ring_off;
			span = 64 + (size_t)q->d.rsp_entries * q->d.rsp_entry_size;
			break;
		}
		p[tb_rand(b) % span] = (unsigned char)tb_rand(b);
	}
	tb_ring(b, (unsigned int)(tb_rand(b) % (b->nq + 1)));
}

static uint64_t tb_pow2(uint64_t v)
{
	uint64_t p = PVIO_REGION_MIN_SIZE;

	while (p < v)
		p <<= 1;
	return p;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'S' },
		{ "queues", required_argument, NULL, 'q' },
		{ "depth", required_argument, NULL, 'd' },
		{ "ro", no_argument, NULL, 'r' },
		{ "mode", required_argument, NULL, 'm' },
		{ "after", required_argument, NULL, 'a' },
		{ "seed", required_argument, NULL, 'x' },
		{ "every", required_argument, NULL, 'e' },
		{ "restart-delay-ms", required_argument, NULL, 'D' },
		{ "dump", required_argument, NULL, 'o' },
		{ "cfg-max-segs", required_argument, NULL, 'M' },
		{ "cfg-max-seg-size", required_argument, NULL, 'Z' },
		{ "data-size", required_argument, NULL, 'A' },
		{ "max-segs", required_argument, NULL, 1001 },
		{ "max-seg-size", required_argument, NULL, 1002 },
		{ "max-transfer", required_argument, NULL, 1003 },
		{ "drain-ms", required_argument, NULL, 1004 },
		{ "hold", required_argument, NULL, 1005 },
		{ NULL, 0, NULL, 0 },
	};
	struct pvio_ivshmem_server_opts so = { .max_clients = 1 };
	struct tb b = { .peer = -1, .nq = 1, .every = 100, .drain_ms = 6000 };
	const char *dump = NULL;
	unsigned int depth = 64, ring = 2, i, c;
	unsigned int max_segs = TB_MAX_SEGS, max_seg_size = 128 * 1024;
	unsigned int max_transfer = 256;
	uint64_t cfg_max_segs = 0, cfg_max_seg_size = 0, data_size = 0;
	struct pollfd pfd[2 + PVIO_MAX_QUEUES + 1];
	sigset_t sigs;
	const char *why;
	int opt, sfd, ret;

	b.disk_size = 64ull << 20;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's': so.socket_path = optarg; break;
		case 'S': b.disk_size = strtoull(optarg, NULL, 0); break;
		case 'q': b.nq = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'd': depth = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'r': b.cfg.attrs |= pvio_cpu_to_le32(PVIO_BLK_ATTR_RO); break;
		case 'a': b.after = strtoul(optarg, NULL, 0); break;
		case 'x': b.rng = strtoull(optarg, NULL, 0); break;
		case 'e': b.every = strtoul(optarg, NULL, 0); break;
		case 'D': b.restart_delay_ms = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'o': dump = optarg; break;
		case 'M': cfg_max_segs = strtoull(optarg, NULL, 0); break;
		case 'Z': cfg_max_seg_size = strtoull(optarg, NULL, 0); break;
		case 'A': data_size = strtoull(optarg, NULL, 0); break;
		case 1001: max_segs = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 1002: max_seg_size = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 1003: max_transfer = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 1004: b.drain_ms = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 1005: b.hold = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'm':
			for (c = 0; c < sizeof(tb_mode_names) / sizeof(tb_mode_names[0]); c++)
				if (!strcmp(optarg, tb_mode_names[c]))
					break;
			if (c == sizeof(tb_mode_names) / sizeof(tb_mode_names[0])) {
				fprintf(stderr, "test_backend: unknown mode %s\n", optarg);
				return 2;
			}
			b.mode = (enum tb_mode)c;
			break;
		default:
			return 2;
		}
	}
	if (!so.socket_path || !b.nq || b.nq > PVIO_MAX_QUEUES || !depth ||
	    depth > 10240 || !b.disk_size || b.disk_size % 4096 || !b.every ||
	    data_size % 4096 || cfg_max_segs > UINT32_MAX ||
	    cfg_max_seg_size > UINT32_MAX || !max_segs ||
	    max_segs > TB_MAX_SEGS || max_seg_size < 512 || !max_transfer ||
	    max_transfer > (1u << 16) || b.hold > depth ||
	    (b.hold && (b.nq != 1 || b.mode != TB_GOOD))) {
		fprintf(stderr, "usage: test_backend --socket SOCK [--size BYTES] [--queues N] [--depth D] [--ro] [--mode MODE] [--after N] [--seed N] [--every N] [--restart-delay-ms MS] [--dump FILE] [--cfg-max-segs N] [--cfg-max-seg-size N] [--data-size BYTES] [--max-transfer SECTORS] [--max-segs N] [--max-seg-size BYTES] [--drain-ms MS] [--hold N]\n");
		return 2;
	}
	while (ring < depth)
		ring <<= 1;
	b.rng = b.rng * 0x9e3779b97f4a7c15ull + 1;
	b.disk = calloc(1, b.disk_size);
	if (!b.disk)
		return 1;
	if (b.hold) {
		b.held_rsp = calloc(depth, sizeof(*b.held_rsp));
		if (!b.held_rsp)
			return 1;
	}

	b.cfg.capacity = pvio_cpu_to_le64(b.disk_size / PVIO_BLK_SECTOR_SIZE);
	b.cfg.logical_block_size = pvio_cpu_to_le32(512);
	b.cfg.physical_block_size = pvio_cpu_to_le32(4096);
	b.cfg.max_segments = pvio_cpu_to_le32(max_segs);
	b.cfg.max_segment_size = pvio_cpu_to_le32(max_seg_size);
	b.cfg.max_transfer_sectors = pvio_cpu_to_le32(max_transfer);
	b.cfg.discard_granularity = pvio_cpu_to_le32(512);
	b.cfg.max_discard_sectors = pvio_cpu_to_le32(1u << 20);
	b.cfg.max_write_zeroes_sectors = pvio_cpu_to_le32(1u << 20);
	b.cfg.queue_depth = pvio_cpu_to_le32(depth);
	if (pvio_blk_limits_from_config(&b.cfg, &b.lim, &why)) {
		fprintf(stderr, "test_backend: config: %s\n", why);
		return 1;
	}
	b.par = (struct pvio_region_params){
		.dev_class = PVIO_CLASS_BLK,
		.num_queues = b.nq,
		.ring_entries = ring,
		.req_entry_size = sizeof(struct pvio_blk_req),
		.rsp_entry_size = sizeof(struct pvio_blk_rsp),
		.data_size = ((uint64_t)depth * (128 * 1024 + TB_MAX_SEGS * 8) + 4095) & ~4095ull,
		.features = TB_FEATURES,
		.config = &b.cfg,
	};
	if (data_size)
		b.par.data_size = data_size;
	/* What the frontend is told, after our own limits were taken. */
	if (cfg_max_segs)
		b.cfg.max_segments = pvio_cpu_to_le32((uint32_t)cfg_max_segs);
	if (cfg_max_seg_size)
		b.cfg.max_segment_size = pvio_cpu_to_le32((uint32_t)cfg_max_seg_size);
	b.par.region_size = tb_pow2(pvio_region_layout_size(&b.par));

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

	so.region_size = b.par.region_size;
	so.vectors = b.nq + 1;
	so.on_peer = tb_on_peer;
	so.opaque = &b;
	ret = pvio_ivshmem_server_create(&so, &b.srv);
	if (ret) {
		fprintf(stderr, "test_backend: %s\n", strerror(-ret));
		return 1;
	}
	b.mem = pvio_ivshmem_server_mem(b.srv);
	tb_layout(&b);
	printf("test_backend: ready\n");
	fflush(stdout);

	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = pvio_ivshmem_server_fd(b.srv), .events = POLLIN };
	for (i = 0; i <= b.nq; i++)
		pfd[2 + i] = (struct pollfd){
			.fd = pvio_ivshmem_server_vector_fd(b.srv, i), .events = POLLIN };
	for (;;) {
		/* flood and scribble: once --after requests are served, the
		 * loop no longer sleeps between its rounds of mischief. */
		bool storm = (b.mode == TB_FLOOD || b.mode == TB_SCRIBBLE) &&
			     b.connected && b.served >= b.after;
		int wait_ms = !storm ? 20 : b.mode == TB_FLOOD ? 0 : 1;

		if (storm && b.mode == TB_FLOOD) {
			struct timespec gap = { .tv_nsec = 50000 };

			nanosleep(&gap, NULL);
		}

		if (poll(pfd, 3 + b.nq, wait_ms) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents)
			pvio_ivshmem_server_handle(b.srv);
		for (i = 0; i <= b.nq; i++) {
			uint64_t v;

			if (pfd[2 + i].revents & POLLIN)
				(void)!read(pfd[2 + i].fd, &v, sizeof(v));
		}
		if (b.away_until) {
			/* Dead: the server lives on, nothing is served. */
			if (tb_now_ms() < b.away_until)
				continue;
			tb_come_back(&b);
		}
		if (b.relayout) {
			b.relayout = false;
			b.held = 0;
			tb_layout(&b);
		}
		if (b.held && (tb_now_ms() - b.held_since >= 100 ||
			       tb_now_ms() - b.held_first >= 10000))
			tb_release(&b);
		tb_control(&b);
		for (i = 0; i < b.nq && b.connected; i++)
			tb_serve_queue(&b, i);
		if (storm && b.mode == TB_FLOOD)
			tb_flood(&b);
		else if (storm)
			tb_scribble(&b);
	}
	pvio_ivshmem_server_destroy(b.srv);
	ret = 0;
	if (dump) {
		FILE *fp = fopen(dump, "wb");

		if (!fp || fwrite(b.disk, 1, b.disk_size, fp) != b.disk_size ||
		    fclose(fp)) {
			fprintf(stderr, "test_backend: cannot write %s\n", dump);
			ret = 1;
		}
	}
	free(b.held_rsp);
	free(b.disk);
	return ret;
}
