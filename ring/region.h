/* SPDX-License-Identifier: MIT */
/*
 * pvio region: the one layout (backend) and the one check (frontend) of a
 * shared region's header, for every device class, in kernel and userspace.
 *
 * The backend describes what it wants in struct pvio_region_params and
 * pvio_region_layout() writes the whole header and every ring control
 * block, publishing back.state = INITWAIT last. The frontend calls
 * pvio_region_check() on the mapping: the header is copied out of shared
 * memory once (pvio_copy_from_shared) and every rule is checked on the
 * copy; the result, struct pvio_region_layout, is the only description of
 * the region a frontend uses afterwards. While no backend serves a
 * region, pvio_region_park() leaves the header a frontend waits at. The
 * class's own rules (entry
 * sizes, config) are the class protocol's (blk_proto.h): the check here
 * knows no class.
 *
 * Placement chosen by the backend: the header page, then per queue its
 * request ring and response ring (each PVIO_CACHELINE-aligned) and its
 * data area (PVIO_DATA_ALIGN-aligned), queue after queue; queue q rings on
 * vector q + 1 (vector 0 is the control channel).
 *
 * Sees only pvio_compat.h.
 */
#ifndef PVIO_RING_REGION_H
#define PVIO_RING_REGION_H

#include "pvio_compat.h"
#include <pvio/region.h>

/* One queue of a checked layout, host-endian. */
struct pvio_region_queue {
	__u64 req_ring_off; /* bytes from the region start */
	__u64 rsp_ring_off;
	__u64 data_off;
	__u64 data_size;
	__u32 req_entries;    /* power of two, within the ring ABI limits */
	__u32 rsp_entries;
	__u32 req_entry_size; /* multiple of 8; the class checks its value */
	__u32 rsp_entry_size;
	__u32 vector;         /* 1..255, distinct per queue */
};

/*
 * A region header as laid out or as checked: private memory, host-endian
 * except @config, which is the class config exactly as found (its class
 * protocol converts and checks it).
 */
struct pvio_region_layout {
	__u64 region_size;     /* power of two, >= PVIO_REGION_MIN_SIZE */
	__u32 dev_class;       /* PVIO_CLASS_*, not NONE */
	__u32 num_queues;      /* 1..PVIO_MAX_QUEUES */
	__u32 nr_vectors;      /* highest queue vector + 1 */
	__u32 back_state;      /* PVIO_STATE_*, as seen by the check */
	__u32 back_generation;
	__u32 reserved;
	__u64 back_features;   /* offered */
	__u8 config[PVIO_CONFIG_SIZE];
	struct pvio_region_queue queues[PVIO_MAX_QUEUES];
};

/* What a backend asks of pvio_region_layout(). */
struct pvio_region_params {
	__u64 region_size;     /* bytes mapped; power of two, >= PVIO_REGION_MIN_SIZE */
	__u32 dev_class;       /* PVIO_CLASS_* */
	__u32 num_queues;      /* 1..PVIO_MAX_QUEUES */
	__u32 ring_entries;    /* per ring, power of two, ring ABI limits */
	__u32 req_entry_size;  /* class's request entry size */
	__u32 rsp_entry_size;  /* class's response entry size */
	/* Queues 1, 3, 5, ... when a class's queues come in pairs of two
	 * kinds (net.h: TX, RX); both 0 (the default): the sizes above. */
	__u32 req_entry_size_odd;
	__u32 rsp_entry_size_odd;
	__u32 generation;      /* back.generation to publish */
	__u64 data_size;       /* per queue, non-zero multiple of PVIO_DATA_ALIGN */
	__u64 features;        /* offered; class bits only in revision 1 */
	const void *config;    /* PVIO_CONFIG_SIZE bytes, copied into the header */
	int clear_data;        /* non-zero: zero every data area too */
};

__u64 pvio_region_layout_size(const struct pvio_region_params *p);
int pvio_region_layout(void *mem, const struct pvio_region_params *p,
		       struct pvio_region_layout *out);
void pvio_region_park(void *mem, __u32 generation);
int pvio_region_check(const void *mem, __u64 mem_size,
		      struct pvio_region_layout *out, const char **reason);
int pvio_region_same_geometry(const struct pvio_region_layout *was,
			      const struct pvio_region_layout *now,
			      const char **reason);

#endif /* PVIO_RING_REGION_H */
