// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the region header check and layout (ring/region.c), the
 * frontend's first look at a region the backend controls.
 *
 * Input (little-endian; missing bytes read as zero):
 *    1 B  mode and mapping size: bit 0 selects the mode, bits 1-2 the
 *         mapping, 64 KiB << (b >> 1 & 3)
 *   mode 0: the whole 4 KiB header as found in shared memory (the rest
 *         of the mapping is zero). pvio_region_check() judges it; an
 *         accepted header is checked again here (every span inside the
 *         mapping, aligned, disjoint, vectors distinct), and the
 *         parameters it describes are laid out afresh with
 *         pvio_region_layout(): when that succeeds, checking the new
 *         header must give exactly the layout it reported.
 *   mode 1: layout parameters (class, queues, ring entries, entry sizes,
 *         generation, data size, features, then the 256-byte config).
 *         pvio_region_layout() either refuses them or lays out a header
 *         that pvio_region_check() accepts with the same result.
 *
 * Each mapping ends where a static buffer ends, so every access past it
 * lands in the buffer's AddressSanitizer redzone. Neither function reads
 * past the header, which every input rewrites whole, so what earlier
 * inputs left further on changes nothing.
 */
#include "fuzz_common.h"
#include "region.h"
#include "blk_proto.h"
#include "pvio_ring.h"

#define REGION_MAX (PVIO_REGION_MIN_SIZE << 3)
static __u8 map_in[REGION_MAX], map_out[REGION_MAX];

static void span(const struct pvio_region_queue *q, unsigned int k,
		 __u64 *s, __u64 *e)
{
	if (k == 0) {
		*s = q->req_ring_off;
		*e = *s + PVIO_RING_BYTES(q->req_entries, q->req_entry_size);
	} else if (k == 1) {
		*s = q->rsp_ring_off;
		*e = *s + PVIO_RING_BYTES(q->rsp_entries, q->rsp_entry_size);
	} else {
		*s = q->data_off;
		*e = *s + q->data_size;
	}
}

static void check_layout(const struct pvio_region_layout *l, __u64 mem_size)
{
	unsigned int i, j, max_vec = 0;
	__u64 s1, e1, s2, e2;

	FZ_ASSERT(l->region_size == mem_size);
	FZ_ASSERT(l->num_queues >= 1 && l->num_queues <= PVIO_MAX_QUEUES);
	FZ_ASSERT(l->dev_class == PVIO_CLASS_BLK || l->dev_class == PVIO_CLASS_NET);
	FZ_ASSERT(l->back_state >= PVIO_STATE_INITWAIT &&
		  l->back_state <= PVIO_STATE_CLOSED);
	FZ_ASSERT(!(l->back_features & ~PVIO_F_CLASS_MASK));
	for (i = 0; i < l->num_queues; i++) {
		const struct pvio_region_queue *q = &l->queues[i];

		FZ_ASSERT(pvio_ring_geometry_valid(q->req_entries, q->req_entry_size) == 0);
		FZ_ASSERT(pvio_ring_geometry_valid(q->rsp_entries, q->rsp_entry_size) == 0);
		FZ_ASSERT(q->vector >= 1 && q->vector < PVIO_MAX_VECTORS);
		FZ_ASSERT(q->req_ring_off % PVIO_CACHELINE == 0);
		FZ_ASSERT(q->rsp_ring_off % PVIO_CACHELINE == 0);
		FZ_ASSERT(q->data_off % PVIO_DATA_ALIGN == 0 && q->data_size);
		if (q->vector > max_vec)
			max_vec = q->vector;
		for (j = 0; j < 3; j++) {
			span(q, j, &s1, &e1);
			FZ_ASSERT(s1 >= PVIO_REGION_HDR_SIZE);
			FZ_ASSERT(s1 < e1 && e1 <= mem_size);
		}
	}
	FZ_ASSERT(l->nr_vectors == max_vec + 1);
	for (i = 0; i < 3 * l->num_queues; i++) {
		span(&l->queues[i / 3], i % 3, &s1, &e1);
		for (j = i + 1; j < 3 * l->num_queues; j++) {
			span(&l->queues[j / 3], j % 3, &s2, &e2);
			FZ_ASSERT(e1 <= s2 || e2 <= s1);
			if (i % 3 == 0 && j % 3 == 0)
				FZ_ASSERT(l->queues[i / 3].vector !=
					  l->queues[j / 3].vector);
		}
	}
}

/* Lay out @p in a fresh mapping and check it: the two must agree. */
static void round_trip(const struct pvio_region_params *p)
{
	static struct pvio_region_layout laid, checked;
	const char *reason = NULL;
	__u64 need = pvio_region_layout_size(p);
	void *mem;
	int ret;

	if (p->region_size < PVIO_REGION_MIN_SIZE ||
	    p->region_size > REGION_MAX ||
	    (p->region_size & (p->region_size - 1)))
		return;
	mem = map_out + sizeof(map_out) - p->region_size;
	ret = pvio_region_layout(mem, p, &laid);
	if (ret) {
		FZ_ASSERT(ret == -EINVAL || ret == -ENOSPC);
		FZ_ASSERT(ret != -ENOSPC || need > p->region_size);
		return;
	}
	FZ_ASSERT(need && need <= p->region_size);
	ret = pvio_region_check(mem, p->region_size, &checked, &reason);
	if (ret)
		fprintf(stderr, "laid-out header refused: %s\n", reason);
	FZ_ASSERT(ret == 0);
	FZ_ASSERT(memcmp(&laid, &checked, sizeof(laid)) == 0);
	check_layout(&checked, p->region_size);
	if (p->dev_class == PVIO_CLASS_BLK &&
	    p->req_entry_size == sizeof(struct pvio_blk_req) &&
	    p->rsp_entry_size == sizeof(struct pvio_blk_rsp))
		FZ_ASSERT(pvio_blk_check_layout(&checked, &reason) == 0);
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
	static struct pvio_region_layout l;
	static __u8 config[PVIO_CONFIG_SIZE];
	struct pvio_region_params p;
	const char *reason = NULL;
	__u8 sel;
	__u64 mem_size;
	void *mem;
	struct fz f;
	int ret;

	fz_init(&f, data, size);
	sel = fz_u8(&f);
	mem_size = PVIO_REGION_MIN_SIZE << (sel >> 1 & 3);

	if (sel & 1) {
		memset(&p, 0, sizeof(p));
		p.region_size = mem_size;
		p.dev_class = fz_u32(&f);
		p.num_queues = fz_u32(&f);
		p.ring_entries = fz_u32(&f);
		p.req_entry_size = fz_u32(&f);
		p.rsp_entry_size = fz_u32(&f);
		p.generation = fz_u32(&f);
		p.data_size = fz_u64(&f);
		p.features = fz_u64(&f);
		fz_bytes(&f, config, sizeof(config));
		p.config = config;
		round_trip(&p);
		return 0;
	}

	mem = map_in + sizeof(map_in) - mem_size;
	fz_bytes(&f, mem, PVIO_REGION_HDR_SIZE);
	ret = pvio_region_check(mem, mem_size, &l, &reason);
	FZ_ASSERT(reason != NULL);
	FZ_ASSERT(ret == 0 || ret == -ENODEV || ret == -EPROTONOSUPPORT ||
		  ret == -EAGAIN || ret == -EPROTO);
	if (ret == 0) {
		check_layout(&l, mem_size);
		/* What a backend would have asked for to get this header. */
		memset(&p, 0, sizeof(p));
		p.region_size = l.region_size;
		p.dev_class = l.dev_class;
		p.num_queues = l.num_queues;
		p.ring_entries = l.queues[0].req_entries;
		p.req_entry_size = l.queues[0].req_entry_size;
		p.rsp_entry_size = l.queues[0].rsp_entry_size;
		p.generation = l.back_generation;
		p.data_size = l.queues[0].data_size;
		p.features = l.back_features;
		memcpy(config, l.config, sizeof(config));
		p.config = config;
		round_trip(&p);
	}
	return 0;
}
