// SPDX-License-Identifier: MIT
/*
 * pvio region layout (backend) and header validation (frontend); see
 * region_layout.h and include/pvio/region.h.
 */
#include "region_layout.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "blk_validate.h"
#include "pvio_ring.h"

static bool rl_is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static uint64_t rl_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Where queue @q's pieces go; returns the end of its data area. */
static uint64_t rl_place(const struct pvio_region_layout_params *p,
			 uint64_t start, struct pvio_region_queue *q)
{
	q->req_entries = q->rsp_entries = p->ring_entries;
	q->req_entry_size = sizeof(struct pvio_blk_req);
	q->rsp_entry_size = sizeof(struct pvio_blk_rsp);
	q->req_ring_off = rl_align(start, PVIO_CACHELINE);
	q->rsp_ring_off = rl_align(q->req_ring_off +
				   PVIO_RING_BYTES(q->req_entries, q->req_entry_size),
				   PVIO_CACHELINE);
	q->data_off = rl_align(q->rsp_ring_off +
			       PVIO_RING_BYTES(q->rsp_entries, q->rsp_entry_size),
			       PVIO_DATA_ALIGN);
	q->data_size = p->data_size;
	return q->data_off + q->data_size;
}

static int rl_check_params(const struct pvio_region_layout_params *p)
{
	struct pvio_blk_limits lim;

	if (!rl_is_pow2(p->region_size) || p->region_size < PVIO_REGION_MIN_SIZE)
		return -EINVAL;
	if (p->num_queues == 0 || p->num_queues > PVIO_MAX_QUEUES)
		return -EINVAL;
	if (pvio_ring_geometry_valid(p->ring_entries, sizeof(struct pvio_blk_req)) ||
	    pvio_ring_geometry_valid(p->ring_entries, sizeof(struct pvio_blk_rsp)))
		return -EINVAL;
	/* Bounded so that the sums below cannot wrap. */
	if (p->data_size == 0 || p->data_size % PVIO_DATA_ALIGN ||
	    p->data_size > (1ull << 40))
		return -EINVAL;
	if (p->features & ~PVIO_BLK_F_ALL)
		return -EINVAL;
	if (!p->config || pvio_blk_limits_from_config(p->config, &lim))
		return -EINVAL;
	return 0;
}

/**
 * pvio_region_layout_size() - bytes a layout needs.
 * @p: layout parameters (region_size is not looked at)
 *
 * Context: any.
 * Return: the end of the last data area, or 0 if @p is invalid.
 */
uint64_t pvio_region_layout_size(const struct pvio_region_layout_params *p)
{
	struct pvio_region_layout_params probe = *p;
	struct pvio_region_queue q;
	uint64_t end = PVIO_REGION_HDR_SIZE;
	unsigned int i;

	probe.region_size = PVIO_REGION_MIN_SIZE;
	if (rl_check_params(&probe))
		return 0;
	for (i = 0; i < p->num_queues; i++)
		end = rl_place(p, end, &q);
	return end;
}

/**
 * pvio_region_layout_blk() - lay out a block device's region.
 * @mem: the region, @p->region_size bytes, mapped read-write
 * @p: layout parameters
 *
 * Writes the whole header (zeroing the frontend's side and every reserved
 * byte), initialises every ring's control block, and publishes
 * back.state = INITWAIT last, so that a frontend that sees INITWAIT sees
 * the complete layout. Data areas are left as they are.
 *
 * Context: any; no frontend may be using the region.
 * Return: 0; -EINVAL for invalid parameters (size not a power of two or
 * below the minimum, queue count, ring geometry, data size, unknown feature
 * bits, inconsistent config); -ENOSPC if the queues do not fit.
 */
int pvio_region_layout_blk(void *mem, const struct pvio_region_layout_params *p)
{
	struct pvio_region_hdr *hdr = mem;
	struct pvio_region_queue q[PVIO_MAX_QUEUES];
	uint64_t end = PVIO_REGION_HDR_SIZE;
	unsigned int i;
	int ret;

	ret = rl_check_params(p);
	if (ret)
		return ret;
	for (i = 0; i < p->num_queues; i++)
		end = rl_place(p, end, &q[i]);
	if (end > p->region_size)
		return -ENOSPC;

	/* Everything zero, back.state included (UNKNOWN, "not ready") until
	 * INITWAIT is published at the end. */
	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = pvio_cpu_to_le64(PVIO_REGION_MAGIC);
	hdr->abi_rev = pvio_cpu_to_le32(PVIO_ABI_REV);
	hdr->hdr_size = pvio_cpu_to_le32(PVIO_REGION_HDR_SIZE);
	hdr->dev_class = pvio_cpu_to_le32(PVIO_CLASS_BLK);
	hdr->num_queues = pvio_cpu_to_le32(p->num_queues);
	hdr->region_size = pvio_cpu_to_le64(p->region_size);
	hdr->back.generation = pvio_cpu_to_le32(p->generation);
	hdr->back.features = pvio_cpu_to_le64(p->features);
	memcpy(hdr->config, p->config, sizeof(*p->config));

	for (i = 0; i < p->num_queues; i++) {
		struct pvio_queue_desc *d = &hdr->queues[i];

		d->req_ring_off = pvio_cpu_to_le64(q[i].req_ring_off);
		d->rsp_ring_off = pvio_cpu_to_le64(q[i].rsp_ring_off);
		d->data_off = pvio_cpu_to_le64(q[i].data_off);
		d->data_size = pvio_cpu_to_le64(q[i].data_size);
		d->req_entries = pvio_cpu_to_le32(q[i].req_entries);
		d->rsp_entries = pvio_cpu_to_le32(q[i].rsp_entries);
		d->req_entry_size = pvio_cpu_to_le32(q[i].req_entry_size);
		d->rsp_entry_size = pvio_cpu_to_le32(q[i].rsp_entry_size);
		d->vector = pvio_cpu_to_le32(i + 1);
		pvio_ring_shared_init((struct pvio_ring_shared *)
				      ((unsigned char *)mem + q[i].req_ring_off));
		pvio_ring_shared_init((struct pvio_ring_shared *)
				      ((unsigned char *)mem + q[i].rsp_ring_off));
	}
	/* Release: every header field and ring control block above is visible
	 * before INITWAIT; pairs with the frontend's acquire of back.state
	 * (pvio_region_validate). Without it a frontend could see INITWAIT
	 * and read a half-written queue table. */
	pvio_store_release(&hdr->back.state, pvio_cpu_to_le32(PVIO_STATE_INITWAIT));
	return 0;
}

#define RL_FAIL(err, why)        \
	do {                     \
		*reason = (why); \
		return (err);    \
	} while (0)

static bool rl_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

struct rl_span {
	uint64_t start, end;
};

/* [off, off + len) inside a region of @size bytes, without wrapping. */
static bool rl_inside(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int rl_check_queue(const struct pvio_queue_desc *d,
			  struct pvio_region_queue *q, uint64_t size,
			  struct rl_span *spans, const char **reason)
{
	q->req_ring_off = pvio_le64_to_cpu(d->req_ring_off);
	q->rsp_ring_off = pvio_le64_to_cpu(d->rsp_ring_off);
	q->data_off = pvio_le64_to_cpu(d->data_off);
	q->data_size = pvio_le64_to_cpu(d->data_size);
	q->req_entries = pvio_le32_to_cpu(d->req_entries);
	q->rsp_entries = pvio_le32_to_cpu(d->rsp_entries);
	q->req_entry_size = pvio_le32_to_cpu(d->req_entry_size);
	q->rsp_entry_size = pvio_le32_to_cpu(d->rsp_entry_size);
	q->vector = pvio_le32_to_cpu(d->vector);

	if (!rl_zero(d->reserved, sizeof(d->reserved)))
		RL_FAIL(-EPROTO, "queue reserved bytes not zero");
	if (q->req_entry_size != sizeof(struct pvio_blk_req) ||
	    q->rsp_entry_size != sizeof(struct pvio_blk_rsp))
		RL_FAIL(-EPROTO, "queue entry size is not the block protocol's");
	if (pvio_ring_geometry_valid(q->req_entries, q->req_entry_size) ||
	    pvio_ring_geometry_valid(q->rsp_entries, q->rsp_entry_size))
		RL_FAIL(-EPROTO, "queue ring geometry invalid");
	if (q->vector == PVIO_VECTOR_CONTROL || q->vector >= PVIO_MAX_VECTORS)
		RL_FAIL(-EPROTO, "queue vector outside 1..255");
	if (q->req_ring_off % PVIO_CACHELINE || q->rsp_ring_off % PVIO_CACHELINE)
		RL_FAIL(-EPROTO, "ring not cache-line aligned");
	if (q->data_off % PVIO_DATA_ALIGN)
		RL_FAIL(-EPROTO, "data area not 4096-aligned");
	if (q->data_size == 0)
		RL_FAIL(-EPROTO, "empty data area");
	if (!rl_inside(q->req_ring_off,
		       PVIO_RING_BYTES(q->req_entries, q->req_entry_size), size) ||
	    !rl_inside(q->rsp_ring_off,
		       PVIO_RING_BYTES(q->rsp_entries, q->rsp_entry_size), size))
		RL_FAIL(-EPROTO, "ring outside the region");
	if (!rl_inside(q->data_off, q->data_size, size))
		RL_FAIL(-EPROTO, "data area outside the region");
	spans[0] = (struct rl_span){ q->req_ring_off, q->req_ring_off +
		PVIO_RING_BYTES(q->req_entries, q->req_entry_size) };
	spans[1] = (struct rl_span){ q->rsp_ring_off, q->rsp_ring_off +
		PVIO_RING_BYTES(q->rsp_entries, q->rsp_entry_size) };
	spans[2] = (struct rl_span){ q->data_off, q->data_off + q->data_size };
	return 0;
}

/**
 * pvio_region_validate() - check a region header found in shared memory.
 * @mem: the mapped region
 * @mem_size: bytes mapped
 * @expected_class: the class the caller drives (only PVIO_CLASS_BLK so far)
 * @info: the validated header, host-endian; use it, never the shared header
 * @reason: a short description of the first broken rule ("ok" if none)
 *
 * Copies the header out of shared memory once and checks only the copy:
 * magic and abi_rev first, then class, sizes, back side, config, and every
 * queue (entry sizes, ring geometry, alignment, inside the region, no
 * overlaps, distinct vectors in 1..255), and all reserved bytes. The
 * frontend's own side is not checked: it is the caller's to write.
 *
 * Context: any.
 * Return: 0; -ENODEV for a wrong magic; -EPROTONOSUPPORT for another ABI
 * revision; -EAGAIN if the backend has not published INITWAIT or later;
 * -EPROTO for anything else the backend got wrong.
 */
int pvio_region_validate(const void *mem, uint64_t mem_size,
			 uint32_t expected_class, struct pvio_region_info *info,
			 const char **reason)
{
	const struct pvio_region_hdr *shared = mem;
	struct rl_span spans[3 * PVIO_MAX_QUEUES + 1];
	bool vec_used[PVIO_MAX_VECTORS] = { false };
	struct pvio_region_hdr hdr;
	struct pvio_blk_limits lim;
	unsigned int i, k, n;
	uint64_t size;

	*reason = "ok";
	memset(info, 0, sizeof(*info));
	if (mem_size < PVIO_REGION_HDR_SIZE)
		RL_FAIL(-EPROTO, "mapping smaller than the header");
	/* Acquire: pairs with the release of INITWAIT in the layout; the
	 * header copied below is the one the backend published. */
	info->back_state = pvio_le32_to_cpu(pvio_load_acquire(&shared->back.state));
	/* The one read of the header; a backend rewriting it concurrently can
	 * only make this copy inconsistent, which the checks below catch. */
	memcpy(&hdr, shared, sizeof(hdr));

	if (pvio_le64_to_cpu(hdr.magic) != PVIO_REGION_MAGIC)
		RL_FAIL(-ENODEV, "bad magic");
	if (pvio_le32_to_cpu(hdr.abi_rev) != PVIO_ABI_REV)
		RL_FAIL(-EPROTONOSUPPORT, "unsupported ABI revision");
	if (info->back_state < PVIO_STATE_INITWAIT ||
	    pvio_le32_to_cpu(hdr.back.state) < PVIO_STATE_INITWAIT)
		RL_FAIL(-EAGAIN, "backend not ready");
	info->back_state = pvio_le32_to_cpu(hdr.back.state);
	if (info->back_state > PVIO_STATE_CLOSED)
		RL_FAIL(-EPROTO, "unknown backend state");
	if (pvio_le32_to_cpu(hdr.hdr_size) != PVIO_REGION_HDR_SIZE)
		RL_FAIL(-EPROTO, "bad header size");
	info->dev_class = pvio_le32_to_cpu(hdr.dev_class);
	if (info->dev_class != expected_class)
		RL_FAIL(-EPROTO, "unexpected device class");
	if (expected_class != PVIO_CLASS_BLK)
		RL_FAIL(-EPROTO, "device class not supported");
	size = pvio_le64_to_cpu(hdr.region_size);
	info->region_size = size;
	if (!rl_is_pow2(size) || size < PVIO_REGION_MIN_SIZE)
		RL_FAIL(-EPROTO, "region size not a power of two of at least 64 KiB");
	if (size != mem_size)
		RL_FAIL(-EPROTO, "region size differs from the mapping");
	info->num_queues = pvio_le32_to_cpu(hdr.num_queues);
	if (info->num_queues == 0 || info->num_queues > PVIO_MAX_QUEUES)
		RL_FAIL(-EPROTO, "queue count outside 1..32");
	if (!rl_zero(hdr.reserved0, sizeof(hdr.reserved0)) ||
	    !rl_zero(hdr.reserved1, sizeof(hdr.reserved1)) ||
	    !rl_zero(hdr.reserved2, sizeof(hdr.reserved2)) ||
	    !rl_zero(hdr.back.reserved, sizeof(hdr.back.reserved)))
		RL_FAIL(-EPROTO, "reserved bytes not zero");
	info->back_generation = pvio_le32_to_cpu(hdr.back.generation);
	info->back_features = pvio_le64_to_cpu(hdr.back.features);
	if (info->back_features & ~PVIO_BLK_F_ALL)
		RL_FAIL(-EPROTO, "unknown feature bits offered");
	memcpy(&info->blk_config, hdr.config, sizeof(info->blk_config));
	if (pvio_blk_limits_from_config(&info->blk_config, &lim))
		RL_FAIL(-EPROTO, "block config inconsistent");

	spans[0] = (struct rl_span){ 0, PVIO_REGION_HDR_SIZE };
	n = 1;
	for (i = 0; i < info->num_queues; i++) {
		int ret = rl_check_queue(&hdr.queues[i], &info->queues[i], size,
					 &spans[n], reason);

		if (ret)
			return ret;
		n += 3;
		if (vec_used[info->queues[i].vector])
			RL_FAIL(-EPROTO, "two queues share a vector");
		vec_used[info->queues[i].vector] = true;
	}
	for (; i < PVIO_MAX_QUEUES; i++)
		if (!rl_zero(&hdr.queues[i], sizeof(hdr.queues[i])))
			RL_FAIL(-EPROTO, "unused queue descriptor not zero");
	for (i = 0; i < n; i++)
		for (k = i + 1; k < n; k++)
			if (spans[i].start < spans[k].end &&
			    spans[k].start < spans[i].end)
				RL_FAIL(-EPROTO, "rings or data areas overlap");
	return 0;
}
