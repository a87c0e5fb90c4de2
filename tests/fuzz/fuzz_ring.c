// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the ring consumer and producer (ring/pvio_ring.h) against a
 * peer that writes anything into the shared control blocks and entries
 * between operations.
 *
 * Two rings, as on a backend queue: the request ring, consumed here
 * (struct pvio_cons), and the response ring, produced here
 * (struct pvio_prod); the fuzzer is the other end of both.
 *
 * Input (little-endian; missing bytes read as zero):
 *    1 B  geometry: 2 << (b % 6) entries, entry size 8 << (b >> 6 & 3)
 *    16 B initial control words of both rings (prod, cons, events), so
 *         the attach sees a ring a previous peer left behind
 *    1 B  bit 0: attach with pvio_*_reset() instead of pvio_*_attach()
 *   then  operations, one byte each followed by its operands (see step()).
 *
 * Invariants checked after every step: indices never leave the window the
 * contract gives them (prod - cons_seen <= size for the producer, cons <=
 * prod_seen <= cons + size for the consumer), returned counts stay within
 * the ring, a broken ring stays broken and never again moves its indices,
 * and entries copied out are the slot's bytes. Both rings are allocated
 * with exactly PVIO_RING_BYTES(), so a slot outside is an AddressSanitizer
 * report.
 */
#include "fuzz_common.h"
#include "pvio_ring.h"

struct ring_fz {
	struct pvio_cons c;    /* request ring, consumed here */
	struct pvio_prod p;    /* response ring, produced here */
	struct pvio_ring_shared *req_sh, *rsp_sh;
	__u32 count, esize;
	__u32 owed;
};

static void check_cons(const struct pvio_cons *c, __u32 count)
{
	FZ_ASSERT(c->mask == count - 1);
	FZ_ASSERT(c->prod_seen - c->cons <= count);
	/* The window is relative to what was read, not to what was
	 * released (the contract's [last seen, cons + size]): every entry
	 * is copied out before its slot is reused, so a producer running
	 * ahead of the releases gains nothing. Only read <= seen holds. */
	FZ_ASSERT(c->cons - c->pub <= c->prod_seen - c->pub);
}

static void check_prod(const struct pvio_prod *p, __u32 count)
{
	FZ_ASSERT(p->mask == count - 1);
	FZ_ASSERT(p->prod - p->cons_seen <= count);
	FZ_ASSERT(p->prod - p->pub <= count);
	FZ_ASSERT(p->pub - p->cons_seen <= count);
}

/* Write @len fuzzer bytes at an offset of one of the rings. */
static void poke(struct fz *f, struct ring_fz *r)
{
	__u8 which = fz_u8(f);
	__u16 off = fz_u16(f);
	__u64 bytes = PVIO_RING_BYTES(r->count, r->esize);
	__u8 *base = (__u8 *)(which & 1 ? r->rsp_sh : r->req_sh);
	__u8 len = 1 + (which >> 1) % 8;

	/* Control words most of the time: that is where the damage is. */
	if (which & 0x80)
		off %= bytes;
	else
		off = (off % 4) * 4 + (off & 4 ? 128 : 0);
	if (off + len > bytes)
		len = (__u8)(bytes - off);
	fz_bytes(f, base + off, len);
}

static void step(struct fz *f, struct ring_fz *r)
{
	__u8 op = fz_u8(f);
	__u8 entry[512], slot[512];
	const char *why = NULL;
	int c_err = r->c.err, p_err = r->p.err;
	__u32 c_cons = r->c.cons, p_prod = r->p.prod;
	int ret;

	switch (op % 12) {
	case 0:
		poke(f, r);
		break;
	case 1:
		ret = pvio_cons_avail(&r->c);
		FZ_ASSERT(ret == -EPROTO || (ret >= 0 && (__u32)ret <= r->count));
		break;
	case 2: {
		__u32 sz = r->esize >> (op >> 4 & 3);
		__u8 *src = (__u8 *)r->req_sh + PVIO_RING_ENTRIES_OFFSET +
			    (size_t)(r->c.cons & r->c.mask) * r->esize;

		memcpy(slot, src, sz);
		ret = pvio_cons_get(&r->c, entry, sz);
		FZ_ASSERT(ret == 0 || ret == -EAGAIN || ret == -EPROTO);
		if (ret == 0) {
			FZ_ASSERT(memcmp(entry, slot, sz) == 0);
			FZ_ASSERT(r->c.cons == c_cons + 1);
		} else {
			FZ_ASSERT(r->c.cons == c_cons);
		}
		break;
	}
	case 3:
		pvio_cons_release(&r->c);
		break;
	case 4:
		(void)pvio_cons_release_check(&r->c);
		break;
	case 5:
		ret = pvio_cons_arm(&r->c, fz_u8(f) % (r->count + 1));
		FZ_ASSERT(ret == -EPROTO || ret == -EINVAL ||
			  (ret >= 0 && (__u32)ret <= r->count));
		break;
	case 6:
		ret = pvio_prod_space(&r->p, fz_u8(f) % (r->count + 2));
		FZ_ASSERT(ret == -EPROTO || (ret >= 0 && (__u32)ret <= r->count));
		break;
	case 7:
		memset(entry, op, sizeof(entry));
		ret = pvio_prod_put(&r->p, entry, r->esize);
		FZ_ASSERT(ret == 0 || ret == -ENOSPC || ret == -EPROTO);
		FZ_ASSERT(r->p.prod == p_prod + (ret == 0));
		if (ret == 0)
			FZ_ASSERT(memcmp((__u8 *)r->rsp_sh + PVIO_RING_ENTRIES_OFFSET +
					 (size_t)(p_prod & r->p.mask) * r->esize,
					 entry, r->esize) == 0);
		break;
	case 8:
		(void)pvio_prod_publish(&r->p);
		if (!r->p.err)
			FZ_ASSERT(r->p.pub == r->p.prod);
		break;
	case 9:
		ret = pvio_prod_arm_space(&r->p, fz_u8(f) % (r->count + 2));
		FZ_ASSERT(ret == -EPROTO || ret == -EINVAL ||
			  (ret >= 0 && (__u32)ret <= r->count));
		break;
	case 10:
		ret = pvio_ring_take(&r->c, &r->p, r->owed, entry, r->esize, &why);
		FZ_ASSERT(ret == 1 || ret == 0 || ret == -ENOSPC || ret == -EPROTO);
		if (ret == -EPROTO)
			FZ_ASSERT(why != NULL);
		if (ret == 1 && r->owed < r->count)
			r->owed++;
		break;
	default:
		/* Answer one owed request. */
		if (r->owed && pvio_prod_put(&r->p, entry, 8) == 0)
			r->owed--;
		break;
	}
	/* A broken ring stays broken, and its indices stay where they were. */
	if (c_err)
		FZ_ASSERT(r->c.err == c_err && r->c.cons == c_cons);
	if (p_err)
		FZ_ASSERT(r->p.err == p_err && r->p.prod == p_prod);
	check_cons(&r->c, r->count);
	check_prod(&r->p, r->count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * LLVMFuzzerTestOneInput() - run one input (libFuzzer's entry point).
 * @data: the input, in the format described at the top of this file
 * @size: its length
 *
 * Context: process; libFuzzer calls it once per input, one at a time.
 * Return: 0 (a broken invariant aborts instead).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static __u8 req_mem[PVIO_RING_ENTRIES_OFFSET + 64 * 64];
	static __u8 rsp_mem[PVIO_RING_ENTRIES_OFFSET + 64 * 64];
	struct ring_fz r;
	unsigned int steps = 0;
	__u8 g, mode;
	__u64 bytes;
	struct fz f;
	int ret;

	fz_init(&f, data, size);
	g = fz_u8(&f);
	memset(&r, 0, sizeof(r));
	r.count = 2u << (g % 6);
	r.esize = 8u << (g >> 6 & 3);
	bytes = PVIO_RING_BYTES(r.count, r.esize);
	/* Each ring ends where its buffer ends (redzone right after). */
	r.req_sh = (struct pvio_ring_shared *)(req_mem + sizeof(req_mem) - bytes);
	r.rsp_sh = (struct pvio_ring_shared *)(rsp_mem + sizeof(rsp_mem) - bytes);
	memset(r.req_sh, 0, bytes);
	memset(r.rsp_sh, 0, bytes);
	r.req_sh->prod = fz_u32(&f);
	r.req_sh->cons = fz_u32(&f);
	r.rsp_sh->prod = fz_u32(&f);
	r.rsp_sh->cons = fz_u32(&f);
	mode = fz_u8(&f);

	if (mode & 1) {
		ret = pvio_cons_reset(&r.c, r.req_sh, r.count, r.esize);
		FZ_ASSERT(ret == 0 || ret == -EPROTO);
		ret = pvio_prod_reset(&r.p, r.rsp_sh, r.count, r.esize);
		FZ_ASSERT(ret == 0 || ret == -EPROTO);
	} else {
		ret = pvio_cons_attach(&r.c, r.req_sh, r.count, r.esize);
		FZ_ASSERT(ret == 0 || ret == -EPROTO);
		ret = pvio_prod_attach(&r.p, r.rsp_sh, r.count, r.esize);
		FZ_ASSERT(ret == 0 || ret == -EPROTO);
	}
	if (!r.c.err)
		check_cons(&r.c, r.count);
	if (!r.p.err)
		check_prod(&r.p, r.count);
	/* A ring that failed its attach is never used: the caller gives up. */
	if (r.c.err || r.p.err)
		return 0;
	FZ_ASSERT(pvio_ring_geometry_valid(r.count, r.esize) == 0);
	while (fz_left(&f) && steps++ < 2048)
		step(&f, &r);
	return 0;
}
