// SPDX-License-Identifier: MIT
/*
 * Writes the seed corpus of every fuzz target (tests/fuzz/corpus/NAME/),
 * each seed a well-formed input of its target's format (see the comment
 * at the top of each fuzz_NAME.c): valid requests, headers laid out by
 * pvio_region_layout(), configs from pvio_blk_config_from_limits(), a
 * complete ivshmem handshake stream, a full connection handshake, ...
 * Mutations of valid inputs reach deep checks that random bytes do not.
 *
 * Usage: gen_corpus DIR   (DIR/NAME/seed-N files; existing ones replaced)
 */
#include "blk_proto.h"
#include "net_proto.h"
#include "region.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *outdir;

struct buf {
	unsigned char b[8192];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > sizeof(b->b)) {
		fprintf(stderr, "gen_corpus: seed too long\n");
		exit(1);
	}
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put8(struct buf *b, unsigned int v)
{
	unsigned char c = (unsigned char)v;

	put(b, &c, 1);
}

static void put16(struct buf *b, unsigned int v)
{
	put8(b, v);
	put8(b, v >> 8);
}

static void put32(struct buf *b, __u32 v)
{
	put16(b, v & 0xffff);
	put16(b, v >> 16);
}

static void put64(struct buf *b, __u64 v)
{
	put32(b, (__u32)v);
	put32(b, (__u32)(v >> 32));
}

static void save(const char *target, int n, const struct buf *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%02d", outdir, target, n);
	f = fopen(path, "wb");
	if (!f || fwrite(b->b, 1, b->n, f) != b->n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* ---- fuzz_blk_req: request, features, limits, segs_cap, data ---- */

/* Limits in fz_limits()'s encoding: 4 KiB logical blocks, 128 segments
 * of up to 64 KiB, 1 MiB transfers, discard and write-zeroes, 1 GiB. */
static void req_limits(struct buf *b, unsigned int lbs_shift, unsigned int attrs)
{
	put8(b, lbs_shift);       /* logical 512 << shift */
	put8(b, 0);               /* physical = logical */
	put16(b, 127);            /* max_segments 128 */
	put32(b, 15);             /* max_segment_size 16 blocks */
	put32(b, 255);            /* max_transfer 256 blocks */
	put8(b, 1);               /* discard granularity: one block */
	put32(b, 1u << 16);       /* max_discard_sectors */
	put32(b, 1u << 16);       /* max_write_zeroes_sectors */
	put8(b, attrs);
	put64(b, (1ull << 21) - 1); /* capacity 2^21 sectors */
	put8(b, 63);              /* queue depth 64 */
}

static void req_seed(int n, __u16 op, __u16 flags, __u64 sector,
		     __u32 nr_sectors, __u16 nr_segs, const __u32 *segs,
		     unsigned int lbs_shift, unsigned int attrs,
		     const __u32 *table, unsigned int table_segs, __u32 table_off)
{
	struct pvio_blk_req r;
	struct buf b = { .n = 0 };
	unsigned char data[4096];
	unsigned int i;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(0x1000u + (unsigned int)n);
	r.op = pvio_cpu_to_le16(op);
	r.flags = pvio_cpu_to_le16(flags);
	r.sector = pvio_cpu_to_le64(sector);
	r.nr_sectors = pvio_cpu_to_le32(nr_sectors);
	r.nr_segs = pvio_cpu_to_le16(nr_segs);
	for (i = 0; segs && i < PVIO_BLK_INLINE_SEGS; i++) {
		r.seg[i].offset = pvio_cpu_to_le32(segs[2 * i]);
		r.seg[i].len = pvio_cpu_to_le32(segs[2 * i + 1]);
	}
	put(&b, &r, sizeof(r));
	put64(&b, PVIO_BLK_F_ALL);
	req_limits(&b, lbs_shift, attrs);
	put16(&b, 255);                 /* segs_cap 256 */
	put32(&b, 64u * 1024u);         /* data area 64 KiB */
	memset(data, 0, sizeof(data));
	for (i = 0; i < table_segs; i++) {
		struct pvio_blk_seg s = {
			.offset = pvio_cpu_to_le32(table[2 * i]),
			.len = pvio_cpu_to_le32(table[2 * i + 1]),
		};

		memcpy(data + table_off + i * sizeof(s), &s, sizeof(s));
	}
	put(&b, data, table_segs ? table_off + table_segs * 8u : 64);
	save("blk_req", n, &b);
}

static void gen_blk_req(void)
{
	static const __u32 one[8] = { 4096, 4096 };
	static const __u32 four[8] = { 0, 4096, 8192, 8192, 16384, 4096,
				       32768, 12288 };
	static __u32 table[16];
	static const __u32 id_seg[8] = { 0, 20 };
	static const __u32 small[8] = { 512, 1024 };
	unsigned int i;

	for (i = 0; i < 8; i++) {
		table[2 * i] = 8192 + 4096 * i;
		table[2 * i + 1] = 4096;
	}
	req_seed(0, PVIO_BLK_OP_READ, 0, 8, 8, 1, one, 3, 0, NULL, 0, 0);
	req_seed(1, PVIO_BLK_OP_WRITE, PVIO_BLK_REQ_F_FUA, 64, 56, 4, four, 3, 0,
		 NULL, 0, 0);
	/* Indirect: 8 segments, table at offset 0 of the data area. */
	{
		__u32 tseg[8] = { 0, 64 };

		req_seed(2, PVIO_BLK_OP_READ, PVIO_BLK_REQ_F_INDIRECT, 0, 64, 8,
			 tseg, 3, 0, table, 8, 0);
	}
	req_seed(3, PVIO_BLK_OP_FLUSH, 0, 0, 0, 0, NULL, 3, 0, NULL, 0, 0);
	req_seed(4, PVIO_BLK_OP_DISCARD, 0, 1024, 2048, 0, NULL, 3, 0, NULL, 0, 0);
	req_seed(5, PVIO_BLK_OP_WRITE_ZEROES, PVIO_BLK_REQ_F_UNMAP, 8, 8, 0, NULL,
		 3, 0, NULL, 0, 0);
	req_seed(6, PVIO_BLK_OP_GET_ID, 0, 0, 0, 1, id_seg, 3, 0, NULL, 0, 0);
	/* 512-byte blocks, a small read; a write to a read-only device. */
	req_seed(7, PVIO_BLK_OP_READ, 0, 1, 2, 1, small, 0, 0, NULL, 0, 0);
	req_seed(8, PVIO_BLK_OP_WRITE, 0, 8, 8, 1, one, 3, PVIO_BLK_ATTR_RO,
		 NULL, 0, 0);
	/* The last sectors of the device. */
	req_seed(9, PVIO_BLK_OP_READ, 0, (1ull << 21) - 8, 8, 1, one, 3, 0,
		 NULL, 0, 0);
}

/* ---- fuzz_blk_config: one config ---- */

static void gen_blk_config(void)
{
	struct pvio_blk_limits lim = {
		.capacity = 1u << 21, .logical_block_size = 512,
		.physical_block_size = 4096, .max_segments = 128,
		.max_segment_size = 65536, .max_transfer_sectors = 2048,
		.discard_granularity = 4096, .max_discard_sectors = 1u << 20,
		.max_write_zeroes_sectors = 1u << 20,
		.attrs = PVIO_BLK_ATTR_WCACHE, .queue_depth = 128,
	};
	struct pvio_blk_config cfg;
	struct buf b;
	int n = 0;

	pvio_blk_config_from_limits(&lim, &cfg);
	b.n = 0;
	put(&b, &cfg, sizeof(cfg));
	save("blk_config", n++, &b);
	lim.logical_block_size = lim.physical_block_size = 4096;
	lim.discard_granularity = 0;
	lim.attrs = PVIO_BLK_ATTR_RO;
	lim.capacity = ~0ull >> 9;
	pvio_blk_config_from_limits(&lim, &cfg);
	b.n = 0;
	put(&b, &cfg, sizeof(cfg));
	save("blk_config", n++, &b);
	lim.max_discard_sectors = lim.max_write_zeroes_sectors = 0;
	lim.max_segments = 1;
	lim.max_segment_size = lim.logical_block_size;
	lim.max_transfer_sectors = 8;
	lim.queue_depth = 1;
	pvio_blk_config_from_limits(&lim, &cfg);
	b.n = 0;
	put(&b, &cfg, sizeof(cfg));
	save("blk_config", n++, &b);
}

/* ---- fuzz_region: headers from pvio_region_layout(), and params ---- */

static void gen_region(void)
{
	static unsigned char mem[4u << 20];
	struct pvio_blk_limits lim = {
		.capacity = 1u << 21, .logical_block_size = 512,
		.physical_block_size = 512, .max_segments = 64,
		.max_segment_size = 65536, .max_transfer_sectors = 1024,
		.attrs = 0, .queue_depth = 64,
	};
	static const struct {
		unsigned int sel, queues, entries, esize_req, esize_rsp;
		__u64 data;
	} v[] = {
		{ 0, 1, 64, 64, 16, 16384 },
		{ 2, 2, 32, 64, 16, 32768 },
		{ 4, 4, 16, 64, 16, 32768 },
		{ 6, 32, 2, 64, 16, 4096 },
		{ 0, 1, 2, 8, 8, 4096 },
	};
	struct pvio_blk_config cfg;
	struct pvio_region_params p;
	unsigned int i;
	int n = 0;

	pvio_blk_config_from_limits(&lim, &cfg);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct buf b = { .n = 0 };

		memset(&p, 0, sizeof(p));
		p.region_size = PVIO_REGION_MIN_SIZE << (v[i].sel >> 1 & 3);
		p.dev_class = i == 4 ? PVIO_CLASS_NET : PVIO_CLASS_BLK;
		p.num_queues = v[i].queues;
		p.ring_entries = v[i].entries;
		p.req_entry_size = v[i].esize_req;
		p.rsp_entry_size = v[i].esize_rsp;
		p.generation = 7 + i;
		p.data_size = v[i].data;
		p.features = PVIO_BLK_F_ALL;
		p.config = &cfg;
		if (pvio_region_layout(mem, &p, NULL)) {
			fprintf(stderr, "gen_corpus: layout %u refused\n", i);
			exit(1);
		}
		/* Mode 0: the header as laid out. */
		put8(&b, v[i].sel);
		put(&b, mem, PVIO_REGION_HDR_SIZE);
		save("region", n++, &b);
		/* Mode 1: the same parameters. */
		b.n = 0;
		put8(&b, v[i].sel | 1);
		put32(&b, p.dev_class);
		put32(&b, p.num_queues);
		put32(&b, p.ring_entries);
		put32(&b, p.req_entry_size);
		put32(&b, p.rsp_entry_size);
		put32(&b, p.generation);
		put64(&b, p.data_size);
		put64(&b, p.features);
		put(&b, &cfg, sizeof(cfg));
		save("region", n++, &b);
	}
}

/* ---- fuzz_blk_rsp: ring size, then send/answer operations ---- */

static void gen_blk_rsp(void)
{
	struct buf b = { .n = 0 };
	unsigned int i;

	put8(&b, 3); /* 16 entries */
	for (i = 0; i < 16; i++) {
		put8(&b, 0);
		put32(&b, 100 + i);
		put32(&b, 4096 * (i + 1));
	}
	for (i = 0; i < 16; i++) {
		put8(&b, 2 + 3 * (i % 5)); /* answer an outstanding one */
		put32(&b, i * 8 + (i & 1));
	}
	save("blk_rsp", 0, &b);

	b.n = 0;
	put8(&b, 1); /* 4 entries: fill, answer with raw responses, reuse */
	for (i = 0; i < 12; i++) {
		struct pvio_blk_rsp r;

		put8(&b, 0);
		put32(&b, i % 6);
		put32(&b, 512);
		memset(&r, 0, sizeof(r));
		r.id = pvio_cpu_to_le32(i % 6);
		r.status = pvio_cpu_to_le16(i % 3);
		r.len = pvio_cpu_to_le32(512);
		put8(&b, 1);
		put(&b, &r, sizeof(r));
	}
	save("blk_rsp", 1, &b);
}

/* ---- fuzz_ring: geometry, indices, operations ---- */

static void gen_ring(void)
{
	struct buf b = { .n = 0 };
	unsigned int i;

	put8(&b, 3 | 1 << 6); /* 16 entries of 16 bytes */
	put32(&b, 0);
	put32(&b, 0);
	put32(&b, 0);
	put32(&b, 0);
	put8(&b, 0);
	for (i = 0; i < 6; i++) {
		/* The peer produces two requests: entries, then prod. */
		put8(&b, 0);
		put8(&b, 0x80 | 7 << 1);
		put16(&b, 256 + 16 * (2 * i));
		put64(&b, 0x1111111111111111ull * i);
		put8(&b, 0);
		put8(&b, 3 << 1);
		put16(&b, 0);
		put32(&b, 2 * i + 2);
		put8(&b, 10);
		put8(&b, 10);
		put8(&b, 1);
		put8(&b, 3);
		put8(&b, 11);
		put8(&b, 11);
		put8(&b, 8);
		put8(&b, 5);
		put8(&b, 0);
		/* The peer consumes the responses. */
		put8(&b, 0);
		put8(&b, 1 | 3 << 1);
		put16(&b, 0);
		put32(&b, 2 * i + 2);
		put8(&b, 6);
		put8(&b, 4);
		put8(&b, 9);
		put8(&b, 8);
	}
	save("ring", 0, &b);

	b.n = 0;
	put8(&b, 1); /* 4 entries of 8 bytes, a ring left half full */
	put32(&b, 7);
	put32(&b, 5);
	put32(&b, 9);
	put32(&b, 6);
	put8(&b, 0);
	for (i = 0; i < 8; i++) {
		put8(&b, 1);
		put8(&b, 2);
		put8(&b, 2);
		put8(&b, 4);
		put8(&b, 7);
		put8(&b, 7);
		put8(&b, 8);
		put8(&b, 0);
		put8(&b, 1 | 3 << 1);
		put16(&b, 0);
		put32(&b, 11 + i);
	}
	save("ring", 1, &b);
}

/* ---- fuzz_handshake: a full connect, close and relayout ---- */

static void gen_handshake(void)
{
	struct buf b = { .n = 0 };

	put64(&b, PVIO_BLK_F_ALL);       /* frontend wants */
	put64(&b, PVIO_BLK_F_FLUSH);     /* and requires */
	put64(&b, PVIO_BLK_F_FLUSH | PVIO_BLK_F_INDIRECT); /* backend offers */
	/* Frontend role: backend side INITWAIT, gen 5, features. */
	put8(&b, 0);
	put8(&b, 1 | 2 | 4);
	put8(&b, PVIO_STATE_INITWAIT);
	put32(&b, 5);
	put64(&b, 0x13);
	put8(&b, 1 | 0 << 2);             /* offer */
	put8(&b, 1 | 1 << 2);             /* poll: INITWAIT */
	put8(&b, 0);
	put8(&b, 1);
	put8(&b, PVIO_STATE_CONNECTED);
	put8(&b, 1 | 1 << 2);             /* poll: CONNECTED */
	/* set CONNECTED */
	put8(&b, 1 | 2 << 2);
	put8(&b, 0);
	put8(&b, 1 | 3 << 2);             /* alive */
	/* generation changes */
	put8(&b, 0);
	put8(&b, 2);
	put32(&b, 6);
	put8(&b, 1 | 3 << 2);
	put8(&b, 1 | 1 << 2);
	/* Backend role: the frontend says INITIALISED with a subset. */
	put8(&b, 2);
	put8(&b, 1 | 2 | 4);
	put8(&b, PVIO_STATE_INITIALISED);
	put32(&b, 1);
	put64(&b, PVIO_BLK_F_FLUSH);
	put8(&b, 3 | 0 << 2);             /* step: CONNECT */
	/* CONNECTED */
	put8(&b, 3 | 1 << 2);
	put8(&b, 1);
	put8(&b, 2);
	put8(&b, 1);
	put8(&b, PVIO_STATE_CLOSING);
	put8(&b, 3 | 0 << 2);             /* step: CLOSE */
	/* CLOSED */
	put8(&b, 3 | 1 << 2);
	put8(&b, 0);
	put8(&b, 2);
	put8(&b, 1);
	put8(&b, PVIO_STATE_CLOSED);
	put8(&b, 3 | 0 << 2);             /* step: RELAYOUT */
	put8(&b, 3 | 2 << 2);
	put64(&b, 0x3);
	put8(&b, 2);
	put8(&b, 1 | 4);
	put8(&b, PVIO_STATE_INITIALISED);
	put64(&b, 0x4);
	put8(&b, 3 | 0 << 2);             /* step: REFUSED */
	save("handshake", 0, &b);
}

/* ---- fuzz_ivshmem_client: the stream a correct server sends ---- */

static void cl_msg(struct buf *b, unsigned int kind, __s64 v)
{
	put8(b, kind);
	put64(b, (__u64)v);
}

static void gen_ivshmem_client(void)
{
	struct buf b = { .n = 0 };
	unsigned int i;

	put8(&b, 1);                      /* 2 vectors */
	cl_msg(&b, 0, 0);                 /* version */
	cl_msg(&b, 0, 3);                 /* our id */
	cl_msg(&b, 3, -1);                /* memory, 64 KiB memfd */
	for (i = 0; i < 2; i++)
		cl_msg(&b, 4 | i << 3, 0);    /* the server's eventfds */
	for (i = 0; i < 2; i++)
		cl_msg(&b, 4 | (2 + i) << 3, 1);  /* peer 1 */
	for (i = 0; i < 2; i++)
		cl_msg(&b, 4 | (4 + i) << 3, 3);  /* our own */
	cl_msg(&b, 0, 1);                 /* peer 1 leaves */
	for (i = 0; i < 2; i++)
		cl_msg(&b, 7 | 8 | (6 + i) << 3, 2); /* peer 2 joins, split */
	save("ivshmem_client", 0, &b);

	b.n = 0;
	put8(&b, 0);                      /* 1 vector, refused */
	cl_msg(&b, 0, -2);
	save("ivshmem_client", 1, &b);

	b.n = 0;
	put8(&b, 0);                      /* 1 vector, 1 MiB region */
	cl_msg(&b, 0, 0);
	cl_msg(&b, 0, 65535);
	cl_msg(&b, 3 | 7 << 3, -1);
	cl_msg(&b, 4, 65535);
	cl_msg(&b, 4, 0);
	save("ivshmem_client", 2, &b);
}

/* ---- fuzz_ivshmem_server: clients joining, babbling, leaving ---- */

static void gen_ivshmem_server(void)
{
	struct buf b = { .n = 0 };

	/* a client joins */
	put8(&b, 0);
	put8(&b, 5);
	/* another */
	put8(&b, 0);
	put8(&b, 5);
	/* the first babbles 16 bytes */
	put8(&b, 1);
	put8(&b, 15);
	put(&b, "0123456789abcdef", 16);
	put8(&b, 5);
	/* the second sends an fd */
	put8(&b, 2 | 1 << 3);
	put8(&b, 'x');
	put8(&b, 5);
	/* over the limit */
	put8(&b, 0);
	put8(&b, 0);
	put8(&b, 0);
	put8(&b, 5);
	/* half-close */
	put8(&b, 3);
	put8(&b, 5);
	/* close */
	put8(&b, 4 | 1 << 3);
	put8(&b, 5);
	put8(&b, 0);
	put8(&b, 5);
	save("ivshmem_server", 0, &b);
}

/* ---- fuzz_net_tx and fuzz_net_rx: features, config, operations ---- */

static void net_head(struct buf *b, __u64 feat, __u16 mtu, __u16 segs)
{
	struct pvio_net_limits lim = {
		.mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
		.mtu = mtu, .max_queue_pairs = 1, .max_tx_segs = segs,
		.status = PVIO_NET_STATUS_LINK_UP, .queue_depth = 256,
	};
	struct pvio_net_config cfg;

	put64(b, feat);
	pvio_net_config_from_limits(&lim, &cfg);
	put(b, &cfg, sizeof(cfg));
}

static void net_tx_req(struct buf *b, __u32 id, __u16 flags, __u16 nr,
		       __u32 len, const struct pvio_net_hdr *h,
		       const __u32 *segs)
{
	struct pvio_net_tx_req r;
	unsigned int i;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(id);
	r.flags = pvio_cpu_to_le16(flags);
	r.nr_segs = pvio_cpu_to_le16(nr);
	r.len = pvio_cpu_to_le32(len);
	if (h)
		r.hdr = *h;
	for (i = 0; segs && i < PVIO_NET_INLINE_SEGS; i++) {
		r.seg[i].offset = pvio_cpu_to_le32(segs[2 * i]);
		r.seg[i].len = pvio_cpu_to_le32(segs[2 * i + 1]);
	}
	put8(b, 0);
	put(b, &r, sizeof(r));
}

static void net_tso4(struct pvio_net_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->flags = PVIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = PVIO_NET_GSO_TCPV4;
	h->hdr_len = pvio_cpu_to_le16(54);
	h->gso_size = pvio_cpu_to_le16(1448);
	h->csum_start = pvio_cpu_to_le16(34);
	h->csum_offset = pvio_cpu_to_le16(16);
}

static void gen_net_tx(void)
{
	static const __u32 one[8] = { 4096, 1514 };
	static const __u32 three[8] = { 8192, 54, 12288, 1448, 16384, 12 };
	struct pvio_net_hdr h;
	struct pvio_net_rx_req q;
	struct buf b = { .n = 0 };
	unsigned char table[8 * 16];
	unsigned int i;

	/* Plain frames inline, RX buffers, no table. */
	net_head(&b, PVIO_NET_F_ALL, 1500, 18);
	put32(&b, 64u * 1024u);
	put16(&b, 0);
	net_tx_req(&b, 1, 0, 1, 1514, NULL, one);
	net_tx_req(&b, 2, 0, 3, 1514, NULL, three);
	for (i = 0; i < 4; i++) {
		memset(&q, 0, sizeof(q));
		q.id = pvio_cpu_to_le32(100 + i);
		q.buf.offset = pvio_cpu_to_le32(32768 + i * 2048);
		q.buf.len = pvio_cpu_to_le32(2048);
		put8(&b, 1);
		put(&b, &q, sizeof(q));
	}
	save("net_tx", 0, &b);

	/* A TSO frame through a segment table of 16 entries at offset 0. */
	b.n = 0;
	net_head(&b, PVIO_NET_F_ALL, 9000, 64);
	put32(&b, 64u * 1024u);
	put16(&b, sizeof(table));
	for (i = 0; i < 16; i++) {
		struct pvio_net_seg sg = {
			.offset = pvio_cpu_to_le32(4096 + i * 2048),
			.len = pvio_cpu_to_le32(2000),
		};

		memcpy(table + i * 8, &sg, 8);
	}
	put(&b, table, sizeof(table));
	net_tso4(&h);
	{
		const __u32 tbl[8] = { 0, sizeof(table) };

		net_tx_req(&b, 3, PVIO_NET_TX_F_INDIRECT, 16, 32000, &h, tbl);
	}
	/* The same frame with checksum offload only, within MTU 9000. */
	memset(&h, 0, sizeof(h));
	h.flags = PVIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = pvio_cpu_to_le16(34);
	h.csum_offset = pvio_cpu_to_le16(16);
	net_tx_req(&b, 4, 0, 1, 1514, &h, one);
	save("net_tx", 1, &b);
}

static void net_rx_rsp(struct buf *b, __u32 id, __u16 status, __u16 flags,
		       __u32 len, const struct pvio_net_hdr *h, __u16 buf_len)
{
	struct pvio_net_rx_rsp r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(id);
	r.status = pvio_cpu_to_le16(status);
	r.flags = pvio_cpu_to_le16(flags);
	r.len = pvio_cpu_to_le32(len);
	if (h)
		r.hdr = *h;
	put8(b, 1);
	put(b, &r, sizeof(r));
	put16(b, buf_len);
}

static void gen_net_rx(void)
{
	struct pvio_net_tx_rsp t;
	struct pvio_net_hdr h;
	struct buf b = { .n = 0 };
	unsigned int i;

	/* Single-buffer frames, an unused buffer, TX completions. */
	net_head(&b, PVIO_NET_F_ALL, 1500, 18);
	net_rx_rsp(&b, 1, PVIO_NET_S_OK, 0, 1514, NULL, 2048);
	memset(&h, 0, sizeof(h));
	h.flags = PVIO_NET_HDR_F_DATA_VALID;
	net_rx_rsp(&b, 2, PVIO_NET_S_OK, 0, 60, &h, 2048);
	net_rx_rsp(&b, 3, PVIO_NET_S_UNUSED, 0, 0, NULL, 2048);
	for (i = 0; i < 4; i++) {
		memset(&t, 0, sizeof(t));
		t.id = pvio_cpu_to_le32(10 + i);
		t.status = pvio_cpu_to_le16(i % 2 ? PVIO_NET_S_DROPPED : PVIO_NET_S_OK);
		put8(&b, 0);
		put(&b, &t, sizeof(t));
	}
	save("net_rx", 0, &b);

	/* A TSO frame over 20 merged buffers, then one abandoned. */
	b.n = 0;
	net_head(&b, PVIO_NET_F_ALL, 1500, 18);
	net_tso4(&h);
	for (i = 0; i < 20; i++)
		net_rx_rsp(&b, 20 + i, PVIO_NET_S_OK, i < 19 ? PVIO_NET_RX_F_MORE : 0,
			   2048, i ? NULL : &h, 2048);
	net_rx_rsp(&b, 50, PVIO_NET_S_OK, PVIO_NET_RX_F_MORE, 2048, &h, 2048);
	put8(&b, 2);
	save("net_rx", 1, &b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) && errno != EEXIST) {
		perror(outdir);
		return 1;
	}
	gen_blk_req();
	gen_blk_config();
	gen_region();
	gen_blk_rsp();
	gen_ring();
	gen_handshake();
	gen_ivshmem_client();
	gen_ivshmem_server();
	gen_net_tx();
	gen_net_rx();
	return 0;
}
