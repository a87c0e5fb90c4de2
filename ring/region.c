// SPDX-License-Identifier: MIT
/*
 * pvio region: layout (backend) and check (frontend) of a shared region's
 * header, for every device class; see region.h and include/pvio/region.h.
 */
#include "pvio_compat.h"
#include "region.h"
#include "pvio_ring.h"

static bool rg_is_pow2(__u64 v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static __u64 rg_align(__u64 v, __u64 a)
{
	return (v + a - 1) & ~(a - 1);
}

static bool rg_class_known(__u32 dev_class)
{
	return dev_class == PVIO_CLASS_BLK || dev_class == PVIO_CLASS_NET;
}

/* Where queue @idx's pieces go, starting at @start; returns the end of
 * its data area. */
static __u64 rg_place(const struct pvio_region_params *p, unsigned int idx,
		      __u64 start, struct pvio_region_queue *q)
{
	bool odd = (idx & 1) && p->req_entry_size_odd;

	q->req_entries = p->ring_entries;
	q->rsp_entries = p->ring_entries;
	q->req_entry_size = odd ? p->req_entry_size_odd : p->req_entry_size;
	q->rsp_entry_size = odd ? p->rsp_entry_size_odd : p->rsp_entry_size;
	q->req_ring_off = rg_align(start, PVIO_CACHELINE);
	q->rsp_ring_off = rg_align(q->req_ring_off +
				   PVIO_RING_BYTES(q->req_entries,
						   q->req_entry_size),
				   PVIO_CACHELINE);
	q->data_off = rg_align(q->rsp_ring_off +
			       PVIO_RING_BYTES(q->rsp_entries,
					       q->rsp_entry_size),
			       PVIO_DATA_ALIGN);
	q->data_size = p->data_size;
	return q->data_off + q->data_size;
}

/* Everything of @p but the region size, which only the layout needs. */
static int rg_check_params(const struct pvio_region_params *p)
{
	if (!rg_class_known(p->dev_class))
		return -EINVAL;
	if (p->num_queues == 0 || p->num_queues > PVIO_MAX_QUEUES)
		return -EINVAL;
	if (pvio_ring_geometry_valid(p->ring_entries, p->req_entry_size) ||
	    pvio_ring_geometry_valid(p->ring_entries, p->rsp_entry_size))
		return -EINVAL;
	/* Both odd sizes or neither. */
	if (!p->req_entry_size_odd != !p->rsp_entry_size_odd)
		return -EINVAL;
	if (p->req_entry_size_odd &&
	    (pvio_ring_geometry_valid(p->ring_entries, p->req_entry_size_odd) ||
	     pvio_ring_geometry_valid(p->ring_entries, p->rsp_entry_size_odd)))
		return -EINVAL;
	/* Bounded so that the sums in rg_place() cannot wrap. */
	if (p->data_size == 0 || p->data_size % PVIO_DATA_ALIGN ||
	    p->data_size > (1ull << 40))
		return -EINVAL;
	/* Revision 1 defines no transport bits. */
	if (p->features & ~PVIO_F_CLASS_MASK)
		return -EINVAL;
	if (!p->config)
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
__u64 pvio_region_layout_size(const struct pvio_region_params *p)
{
	struct pvio_region_queue q;
	__u64 end = PVIO_REGION_HDR_SIZE;
	unsigned int i;

	if (rg_check_params(p))
		return 0;
	for (i = 0; i < p->num_queues; i++)
		end = rg_place(p, i, end, &q);
	return end;
}

static void rg_put_queue(struct pvio_queue_desc *d,
			 const struct pvio_region_queue *q)
{
	d->req_ring_off = pvio_cpu_to_le64(q->req_ring_off);
	d->rsp_ring_off = pvio_cpu_to_le64(q->rsp_ring_off);
	d->data_off = pvio_cpu_to_le64(q->data_off);
	d->data_size = pvio_cpu_to_le64(q->data_size);
	d->req_entries = pvio_cpu_to_le32(q->req_entries);
	d->rsp_entries = pvio_cpu_to_le32(q->rsp_entries);
	d->req_entry_size = pvio_cpu_to_le32(q->req_entry_size);
	d->rsp_entry_size = pvio_cpu_to_le32(q->rsp_entry_size);
	d->vector = pvio_cpu_to_le32(q->vector);
}

/**
 * pvio_region_layout() - lay out a region for one device.
 * @mem: the region, @p->region_size bytes, mapped read-write
 * @p: layout parameters; the class's config must already be checked by
 *     the class protocol (e.g. pvio_blk_limits_from_config())
 * @out: if not NULL, the layout as written (what pvio_region_check() of
 *       the same memory would return, back_state INITWAIT)
 *
 * Writes the whole header (zeroing the frontend's side and every reserved
 * byte), initialises every ring's control block, zeroes the data areas if
 * @p->clear_data, and publishes back.state = INITWAIT last, so that a
 * frontend that sees INITWAIT sees the complete layout.
 *
 * Context: any; no frontend may be using the region.
 * Return: 0; -EINVAL for invalid parameters (size not a power of two or
 * below the minimum, unknown class, queue count, ring geometry, data size,
 * transport feature bits, no config); -ENOSPC if the queues do not fit.
 */
int pvio_region_layout(void *mem, const struct pvio_region_params *p,
		       struct pvio_region_layout *out)
{
	struct pvio_region_hdr *hdr = mem;
	struct pvio_region_queue q;
	__u64 end = PVIO_REGION_HDR_SIZE;
	unsigned int i;
	__u32 max_vector = 0;
	int ret;

	ret = rg_check_params(p);
	if (ret)
		return ret;
	if (!rg_is_pow2(p->region_size) ||
	    p->region_size < PVIO_REGION_MIN_SIZE)
		return -EINVAL;
	if (pvio_region_layout_size(p) > p->region_size)
		return -ENOSPC;

	/* Everything zero, back.state included (UNKNOWN, "not ready") until
	 * INITWAIT is published at the end; but not magic and abi_rev. A
	 * frontend may check the header while it is laid out (again, or
	 * for the first time over a parked one): it must see "not ready"
	 * (-EAGAIN) and wait, never a foreign region (magic zero) or
	 * another ABI (abi_rev zero), which it refuses for good. */
	memset((unsigned char *)hdr + sizeof(hdr->magic) + sizeof(hdr->abi_rev),
	       0, sizeof(*hdr) - sizeof(hdr->magic) - sizeof(hdr->abi_rev));
	PVIO_WRITE_ONCE(hdr->abi_rev, pvio_cpu_to_le32(PVIO_ABI_REV));
	/* Release: a frontend that finds the magic of a region that was
	 * zero finds the revision too (it reads magic first). */
	pvio_store_release(&hdr->magic, pvio_cpu_to_le64(PVIO_REGION_MAGIC));
	hdr->hdr_size = pvio_cpu_to_le32(PVIO_REGION_HDR_SIZE);
	hdr->dev_class = pvio_cpu_to_le32(p->dev_class);
	hdr->num_queues = pvio_cpu_to_le32(p->num_queues);
	hdr->region_size = pvio_cpu_to_le64(p->region_size);
	hdr->back.generation = pvio_cpu_to_le32(p->generation);
	hdr->back.features = pvio_cpu_to_le64(p->features);
	memcpy(hdr->config, p->config, PVIO_CONFIG_SIZE);
	if (out) {
		memset(out, 0, sizeof(*out));
		out->region_size = p->region_size;
		out->dev_class = p->dev_class;
		out->num_queues = p->num_queues;
		out->back_state = PVIO_STATE_INITWAIT;
		out->back_generation = p->generation;
		out->back_features = p->features;
		memcpy(out->config, p->config, PVIO_CONFIG_SIZE);
	}

	for (i = 0; i < p->num_queues; i++) {
		/* Straight into @out when given: it was zeroed, padding too. */
		struct pvio_region_queue *qp = out ? &out->queues[i] : &q;
		unsigned char *base = mem;

		end = rg_place(p, i, end, qp);
		qp->vector = i + 1;
		max_vector = qp->vector;
		rg_put_queue(&hdr->queues[i], qp);
		pvio_ring_shared_init((struct pvio_ring_shared *)
				      (base + qp->req_ring_off));
		pvio_ring_shared_init((struct pvio_ring_shared *)
				      (base + qp->rsp_ring_off));
		if (p->clear_data)
			memset(base + qp->data_off, 0, qp->data_size);
	}
	if (out)
		out->nr_vectors = max_vector + 1;
	/* Release: every header field, ring control block and data area
	 * written above is visible before INITWAIT; pairs with the
	 * frontend's acquire of back.state (pvio_region_check(),
	 * pvio_hs_front_offer()). Without it a frontend could see INITWAIT
	 * and read a half-written queue table. */
	pvio_store_release(&hdr->back.state,
			   pvio_cpu_to_le32(PVIO_STATE_INITWAIT));
	return 0;
}

#define RG_FAIL(err, why)        \
	do {                     \
		*reason = (why); \
		return (err);    \
	} while (0)

/*
 * Copy @n reserved bytes out of shared memory (once, in chunks, so no large
 * buffer lands on a kernel stack) and say whether they are all zero.
 */
static bool rg_shared_zero(const void *shared, size_t n)
{
	const unsigned char *s = shared;
	__u64 chunk[8];
	size_t len;

	while (n) {
		len = n < sizeof(chunk) ? n : sizeof(chunk);
		pvio_copy_from_shared(chunk, s, len);
		if (!pvio_all_zero(chunk, len))
			return false;
		s += len;
		n -= len;
	}
	return true;
}

/* [off, off + len) inside a region of @size bytes, without wrapping. */
static bool rg_inside(__u64 off, __u64 len, __u64 size)
{
	return off <= size && len <= size - off;
}

/* Span @k (0: request ring, 1: response ring, 2: data area) of @q. */
static void rg_span(const struct pvio_region_queue *q, unsigned int k,
		    __u64 *start, __u64 *end)
{
	switch (k) {
	case 0:
		*start = q->req_ring_off;
		*end = *start + PVIO_RING_BYTES(q->req_entries,
						q->req_entry_size);
		break;
	case 1:
		*start = q->rsp_ring_off;
		*end = *start + PVIO_RING_BYTES(q->rsp_entries,
						q->rsp_entry_size);
		break;
	default:
		*start = q->data_off;
		*end = *start + q->data_size;
		break;
	}
}

/* One queue descriptor, already copied to private memory. */
static int rg_check_queue(const struct pvio_queue_desc *d,
			  struct pvio_region_queue *q, __u64 size,
			  const char **reason)
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

	if (!pvio_all_zero(d->reserved, sizeof(d->reserved)))
		RG_FAIL(-EPROTO, "queue reserved bytes not zero");
	if (pvio_ring_geometry_valid(q->req_entries, q->req_entry_size) ||
	    pvio_ring_geometry_valid(q->rsp_entries, q->rsp_entry_size))
		RG_FAIL(-EPROTO, "queue ring geometry invalid");
	if (q->vector == PVIO_VECTOR_CONTROL || q->vector >= PVIO_MAX_VECTORS)
		RG_FAIL(-EPROTO, "queue vector outside 1..255");
	if (q->req_ring_off % PVIO_CACHELINE || q->rsp_ring_off % PVIO_CACHELINE)
		RG_FAIL(-EPROTO, "ring not cache-line aligned");
	if (q->data_off % PVIO_DATA_ALIGN)
		RG_FAIL(-EPROTO, "data area not 4096-aligned");
	if (q->data_size == 0)
		RG_FAIL(-EPROTO, "empty data area");
	if (!rg_inside(q->req_ring_off,
		       PVIO_RING_BYTES(q->req_entries, q->req_entry_size), size) ||
	    !rg_inside(q->rsp_ring_off,
		       PVIO_RING_BYTES(q->rsp_entries, q->rsp_entry_size), size))
		RG_FAIL(-EPROTO, "ring outside the region");
	if (!rg_inside(q->data_off, q->data_size, size))
		RG_FAIL(-EPROTO, "data area outside the region");
	if (q->req_ring_off < PVIO_REGION_HDR_SIZE ||
	    q->rsp_ring_off < PVIO_REGION_HDR_SIZE ||
	    q->data_off < PVIO_REGION_HDR_SIZE)
		RG_FAIL(-EPROTO, "rings or data areas overlap");
	return 0;
}

/* No two of the spans of queues 0..@n-1 overlap (each is inside the
 * region, so the ends cannot wrap). */
static bool rg_disjoint(const struct pvio_region_layout *l, unsigned int n)
{
	unsigned int i, j, a, b;
	__u64 s1, e1, s2, e2;

	for (i = 0; i < n * 3; i++) {
		rg_span(&l->queues[i / 3], i % 3, &s1, &e1);
		for (j = i + 1; j < n * 3; j++) {
			a = j / 3;
			b = j % 3;
			rg_span(&l->queues[a], b, &s2, &e2);
			if (s1 < e2 && s2 < e1)
				return false;
		}
	}
	return true;
}

/**
 * pvio_region_park() - the header of a region no backend serves yet.
 * @mem: the region (at least PVIO_REGION_HDR_SIZE bytes)
 * @generation: the generation of the last backend instance, which the
 *              next one continues (a frontend tells a new instance by a
 *              new generation); 0 for a fresh region
 *
 * A frontend that checks a parked region (pvio_region_check()) is told
 * -EAGAIN, "not ready", and waits; a zero region would read as a foreign
 * one (-ENODEV) and be refused. A region server parks every fresh region
 * before a frontend sees it, a backend the region it stops serving.
 *
 * Context: any; no backend serves the region.
 */
void pvio_region_park(void *mem, __u32 generation)
{
	struct pvio_region_hdr *hdr = mem;

	/* First, so that a frontend's next check waits. No ordering needed
	 * against what follows: those fields are either already so (the
	 * same values as the last session's) or read by nobody yet (a
	 * zero region before the first frontend). */
	PVIO_WRITE_ONCE(hdr->back.state, pvio_cpu_to_le32(PVIO_STATE_INITIALISING));
	PVIO_WRITE_ONCE(hdr->magic, pvio_cpu_to_le64(PVIO_REGION_MAGIC));
	PVIO_WRITE_ONCE(hdr->abi_rev, pvio_cpu_to_le32(PVIO_ABI_REV));
	PVIO_WRITE_ONCE(hdr->back.generation, pvio_cpu_to_le32(generation));
}

/**
 * pvio_region_check() - check a region header found in shared memory.
 * @mem: the mapped region
 * @mem_size: bytes mapped
 * @out: the checked header, host-endian (config raw); use it, never the
 *       shared header. Zeroed first, partly filled on failure.
 * @reason: a short description of the first broken rule ("ok" if none)
 *
 * Every byte of the header the check looks at is copied out of shared
 * memory once (pvio_copy_from_shared), piece by piece so that no 4 KiB
 * copy lands on a kernel stack, and only the copy is checked: magic and
 * abi_rev first, then back.state (read with acquire, at least INITWAIT),
 * header size, class (known, not NONE), region size, queue count, every
 * reserved byte, the offered features (class bits only), and every queue
 * (ring geometry, vectors 1..255 and distinct, alignment, inside the
 * region, no overlaps); unused queue descriptors must be zero. The class's
 * own rules (entry sizes, config) are its protocol's (pvio_blk_check_layout()
 * for blocks). The frontend's own side is not read: it is the caller's.
 *
 * Context: any; does not sleep.
 * Return: 0; -ENODEV for a wrong magic; -EPROTONOSUPPORT for another ABI
 * revision; -EAGAIN if the backend has not published INITWAIT or later;
 * -EPROTO for anything else the backend got wrong.
 */
int pvio_region_check(const void *mem, __u64 mem_size,
		      struct pvio_region_layout *out, const char **reason)
{
	const struct pvio_region_hdr *shared = mem;
	__u64 vec_used[PVIO_MAX_VECTORS / 64] = { 0 };
	struct pvio_queue_desc d;
	struct pvio_side back;
	__le64 magic, region_size;
	__le32 abi_rev, hdr_size, dev_class, num_queues;
	__u32 state, max_vector = 0;
	unsigned int i;
	int ret;

	*reason = "ok";
	memset(out, 0, sizeof(*out));
	if (mem_size < PVIO_REGION_HDR_SIZE)
		RG_FAIL(-EPROTO, "mapping smaller than the header");

	pvio_copy_from_shared(&magic, &shared->magic, sizeof(magic));
	if (pvio_le64_to_cpu(magic) != PVIO_REGION_MAGIC)
		RG_FAIL(-ENODEV, "bad magic");
	pvio_copy_from_shared(&abi_rev, &shared->abi_rev, sizeof(abi_rev));
	if (pvio_le32_to_cpu(abi_rev) != PVIO_ABI_REV)
		RG_FAIL(-EPROTONOSUPPORT, "unsupported ABI revision");

	/* Acquire: pairs with the release of INITWAIT in
	 * pvio_region_layout(); everything copied below is what the backend
	 * published before it. */
	state = pvio_le32_to_cpu(pvio_load_acquire(&shared->back.state));
	if (state < PVIO_STATE_INITWAIT)
		RG_FAIL(-EAGAIN, "backend not ready");
	if (state > PVIO_STATE_CLOSED)
		RG_FAIL(-EPROTO, "unknown backend state");
	out->back_state = state;

	pvio_copy_from_shared(&hdr_size, &shared->hdr_size, sizeof(hdr_size));
	if (pvio_le32_to_cpu(hdr_size) != PVIO_REGION_HDR_SIZE)
		RG_FAIL(-EPROTO, "bad header size");
	pvio_copy_from_shared(&dev_class, &shared->dev_class, sizeof(dev_class));
	out->dev_class = pvio_le32_to_cpu(dev_class);
	if (out->dev_class == PVIO_CLASS_NONE)
		RG_FAIL(-EPROTO, "no device class");
	if (!rg_class_known(out->dev_class))
		RG_FAIL(-EPROTO, "unknown device class");
	pvio_copy_from_shared(&region_size, &shared->region_size,
			      sizeof(region_size));
	out->region_size = pvio_le64_to_cpu(region_size);
	if (!rg_is_pow2(out->region_size) ||
	    out->region_size < PVIO_REGION_MIN_SIZE)
		RG_FAIL(-EPROTO, "region size not a power of two of at least 64 KiB");
	if (out->region_size != mem_size)
		RG_FAIL(-EPROTO, "region size differs from the mapping");
	pvio_copy_from_shared(&num_queues, &shared->num_queues,
			      sizeof(num_queues));
	out->num_queues = pvio_le32_to_cpu(num_queues);
	if (out->num_queues == 0 || out->num_queues > PVIO_MAX_QUEUES)
		RG_FAIL(-EPROTO, "queue count outside 1..32");

	/* back.state was read above, with acquire; the copy's is ignored. */
	pvio_copy_from_shared(&back, &shared->back, sizeof(back));
	if (!rg_shared_zero(shared->reserved0, sizeof(shared->reserved0)) ||
	    !rg_shared_zero(shared->reserved1, sizeof(shared->reserved1)) ||
	    !rg_shared_zero(shared->reserved2, sizeof(shared->reserved2)) ||
	    !pvio_all_zero(back.reserved, sizeof(back.reserved)))
		RG_FAIL(-EPROTO, "reserved bytes not zero");
	out->back_generation = pvio_le32_to_cpu(back.generation);
	out->back_features = pvio_le64_to_cpu(back.features);
	if (out->back_features & ~PVIO_F_CLASS_MASK)
		RG_FAIL(-EPROTO, "transport feature bits offered");
	pvio_copy_from_shared(out->config, shared->config, sizeof(out->config));

	for (i = 0; i < out->num_queues; i++) {
		struct pvio_region_queue *q = &out->queues[i];

		pvio_copy_from_shared(&d, &shared->queues[i], sizeof(d));
		ret = rg_check_queue(&d, q, out->region_size, reason);
		if (ret)
			return ret;
		if (vec_used[q->vector / 64] & (1ull << (q->vector % 64)))
			RG_FAIL(-EPROTO, "two queues share a vector");
		vec_used[q->vector / 64] |= 1ull << (q->vector % 64);
		if (q->vector > max_vector)
			max_vector = q->vector;
	}
	for (; i < PVIO_MAX_QUEUES; i++)
		if (!rg_shared_zero(&shared->queues[i], sizeof(shared->queues[i])))
			RG_FAIL(-EPROTO, "unused queue descriptor not zero");
	if (!rg_disjoint(out, out->num_queues))
		RG_FAIL(-EPROTO, "rings or data areas overlap");
	out->nr_vectors = max_vector + 1;
	return 0;
}

/**
 * pvio_region_same_geometry() - may a frontend go on over a new layout?
 * @was: the checked layout the frontend was set up with
 * @now: the checked layout of a new backend instance
 * @reason: set to a short description of the first difference
 *
 * The rule of include/pvio/region.h, "Backend restart": the new layout
 * must place everything where the old one did -- region size, class,
 * queue count and vectors, and for each queue its rings (offsets, entry
 * counts and sizes), its data area and its doorbell -- so that ring ends
 * and buffers the frontend holds stay valid. The class config is the
 * class's to compare.
 *
 * Context: any.
 * Return: 0 if the same, -EPROTO if not.
 */
int pvio_region_same_geometry(const struct pvio_region_layout *was,
			      const struct pvio_region_layout *now,
			      const char **reason)
{
	unsigned int i;

	if (now->region_size != was->region_size ||
	    now->dev_class != was->dev_class ||
	    now->num_queues != was->num_queues ||
	    now->nr_vectors != was->nr_vectors) {
		*reason = "region size, class, queue or vector count changed";
		return -EPROTO;
	}
	for (i = 0; i < now->num_queues; i++) {
		const struct pvio_region_queue *a = &now->queues[i];
		const struct pvio_region_queue *b = &was->queues[i];

		if (a->req_ring_off != b->req_ring_off ||
		    a->rsp_ring_off != b->rsp_ring_off ||
		    a->data_off != b->data_off || a->data_size != b->data_size ||
		    a->req_entries != b->req_entries ||
		    a->rsp_entries != b->rsp_entries ||
		    a->req_entry_size != b->req_entry_size ||
		    a->rsp_entry_size != b->rsp_entry_size ||
		    a->vector != b->vector) {
			*reason = "a queue's rings, data area or doorbell moved";
			return -EPROTO;
		}
	}
	return 0;
}
