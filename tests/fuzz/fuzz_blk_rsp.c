// SPDX-License-Identifier: MIT
/*
 * Fuzz target: responses and completion bookkeeping, frontend view
 * (pvio_blk_rsp_check() in ring/blk_proto.c and the id table of
 * ring/pvio_ids.h): a stream of requests sent and responses received
 * against a set of outstanding ids.
 *
 * Input (little-endian; missing bytes read as zero):
 *    1 B  ring size: 2 << (b % 8) entries, the most ids in flight
 *   then  operations, one byte each followed by its operands:
 *         op % 3 == 0: send a request: 4 B id, 4 B most bytes it moves;
 *                      skipped while the ring is full (a frontend never
 *                      has more in flight than the ring holds)
 *         op % 3 == 1: a response arrives: the 16-byte struct pvio_blk_rsp
 *         op % 3 == 2: a response to the request sent (op / 3)-th
 *                      most recently, status and length from 4 B
 *
 * The table is compared with a plain list of what is in flight after
 * every step: an id is found exactly when it is outstanding, with the slot
 * it was added with; a duplicate id is refused; a response passes the
 * check only with a known status, zero reserved fields and a length within
 * its request's.
 */
#include "fuzz_common.h"
#include "blk_proto.h"
#include "pvio_ids.h"

#define RSP_MAX_ENTRIES 256u

struct inflight {
	__u32 id;
	__u32 max_len;
	bool used;
};

static struct inflight slots[RSP_MAX_ENTRIES];
static __u32 order[RSP_MAX_ENTRIES]; /* slots in the order they were sent */
static unsigned int nr_order;

static int model_find(__u32 id, unsigned int entries)
{
	unsigned int i;

	for (i = 0; i < entries; i++)
		if (slots[i].used && slots[i].id == id)
			return (int)i;
	return -1;
}

static void model_forget(unsigned int slot)
{
	unsigned int i;

	slots[slot].used = false;
	for (i = 0; i < nr_order; i++) {
		if (order[i] == slot) {
			memmove(&order[i], &order[i + 1],
				(nr_order - i - 1) * sizeof(order[0]));
			nr_order--;
			return;
		}
	}
	FZ_ASSERT(0);
}

static void check_table(const struct pvio_ids *t, unsigned int entries)
{
	unsigned int i, used = 0;
	int cell;

	for (i = 0; i < entries; i++) {
		if (!slots[i].used)
			continue;
		used++;
		cell = pvio_ids_cell(t, slots[i].id);
		FZ_ASSERT(cell >= 0);
		FZ_ASSERT(t->slot[cell] == (__s32)i);
	}
	for (i = 0; i <= t->mask; i++)
		if (t->slot[i] >= 0)
			used--;
	FZ_ASSERT(used == 0);
	FZ_ASSERT(nr_order <= entries);
}

static void receive(struct pvio_ids *t, unsigned int entries,
		    const struct pvio_blk_rsp *rsp)
{
	struct pvio_blk_vrsp v;
	const char *reason = NULL;
	__u32 id = pvio_le32_to_cpu(rsp->id);
	int cell = pvio_ids_cell(t, id);
	int m = model_find(id, entries);
	__u32 max_len;
	int ret;

	FZ_ASSERT((cell >= 0) == (m >= 0));
	/* An unknown id breaks the queue; the frontend still checks the
	 * entry itself first, as a real one logs both. */
	max_len = m >= 0 ? slots[m].max_len : 0;
	ret = pvio_blk_rsp_check(rsp, max_len, &v, &reason);
	FZ_ASSERT(reason != NULL);
	FZ_ASSERT(v.id == id);
	if (ret) {
		FZ_ASSERT(ret == -EPROTO);
		return;
	}
	FZ_ASSERT(v.status <= PVIO_BLK_S_MAX);
	FZ_ASSERT(v.len <= max_len);
	FZ_ASSERT(!rsp->reserved0 && !rsp->reserved1);
	if (m < 0)
		return;
	FZ_ASSERT(t->slot[cell] == m);
	pvio_ids_del(t, id);
	FZ_ASSERT(pvio_ids_cell(t, id) < 0);
	model_forget((unsigned int)m);
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
	static __u32 key[2 * RSP_MAX_ENTRIES];
	static __s32 cslot[2 * RSP_MAX_ENTRIES];
	unsigned int entries, i, steps = 0;
	struct pvio_ids t;
	struct fz f;

	fz_init(&f, data, size);
	entries = 2u << (fz_u8(&f) % 8);
	memset(slots, 0, sizeof(slots));
	nr_order = 0;
	pvio_ids_init(&t, key, cslot, entries);

	while (fz_left(&f) && steps++ < 4096) {
		__u8 op = fz_u8(&f);
		struct pvio_blk_rsp rsp;

		switch (op % 3) {
		case 0: {
			__u32 id = fz_u32(&f), max_len = fz_u32(&f);
			int exist = model_find(id, entries);
			int ret;

			if (nr_order == entries)
				break;
			for (i = 0; i < entries && slots[i].used; i++)
				;
			FZ_ASSERT(i < entries);
			ret = pvio_ids_add(&t, id, (__s32)i);
			if (exist >= 0) {
				FZ_ASSERT(ret == -EEXIST);
				break;
			}
			FZ_ASSERT(ret == 0);
			slots[i].id = id;
			slots[i].max_len = max_len;
			slots[i].used = true;
			order[nr_order++] = i;
			break;
		}
		case 1:
			fz_bytes(&f, &rsp, sizeof(rsp));
			receive(&t, entries, &rsp);
			break;
		default: {
			__u32 w = fz_u32(&f);
			unsigned int back = op / 3;

			if (!nr_order)
				break;
			memset(&rsp, 0, sizeof(rsp));
			i = order[nr_order - 1 - back % nr_order];
			rsp.id = pvio_cpu_to_le32(slots[i].id);
			rsp.status = pvio_cpu_to_le16((__u16)(w % 8));
			rsp.len = pvio_cpu_to_le32(w & 1 ? slots[i].max_len :
						   (w >> 3) % (slots[i].max_len + 1ull));
			receive(&t, entries, &rsp);
			break;
		}
		}
		/* The whole table now and then (and at the end): a full
		 * comparison after every step would dominate the run. */
		if (!(steps & 31))
			check_table(&t, entries);
	}
	check_table(&t, entries);
	return 0;
}
