/* SPDX-License-Identifier: MIT */
/*
 * pvio region layout: the backend writes a block device's region header and
 * ring control blocks (pvio_region_layout_blk); the frontend checks a header
 * it finds in shared memory before it uses any of it (pvio_region_validate).
 *
 * Layout chosen by the backend: the header page, then per queue its request
 * ring and response ring (each PVIO_CACHELINE-aligned) and its data area
 * (4096-aligned), queue after queue; queue q rings on vector q + 1 (vector 0
 * is the control channel).
 */
#ifndef PVIO_REGION_LAYOUT_H
#define PVIO_REGION_LAYOUT_H

#include <stdint.h>
#include <pvio/blk.h>
#include <pvio/region.h>

#define PVIO_DATA_ALIGN 4096u

struct pvio_region_layout_params {
	uint64_t region_size;        /* bytes, power of two, >= PVIO_REGION_MIN_SIZE */
	unsigned int num_queues;     /* 1..PVIO_MAX_QUEUES */
	uint32_t ring_entries;       /* per ring, power of two, ring ABI limits */
	uint64_t data_size;          /* per queue, non-zero multiple of 4096 */
	uint64_t features;           /* offered, within PVIO_BLK_F_ALL */
	uint32_t generation;         /* back.generation to publish */
	const struct pvio_blk_config *config; /* copied into the header */
};

/* A header as the frontend validated it: private, host-endian. */
struct pvio_region_queue {
	uint64_t req_ring_off;
	uint64_t rsp_ring_off;
	uint64_t data_off;
	uint64_t data_size;
	uint32_t req_entries;
	uint32_t rsp_entries;
	uint32_t req_entry_size;
	uint32_t rsp_entry_size;
	uint32_t vector;
};

struct pvio_region_info {
	uint32_t dev_class;
	uint32_t num_queues;
	uint64_t region_size;
	uint32_t back_state;
	uint32_t back_generation;
	uint64_t back_features;
	struct pvio_blk_config blk_config; /* as found, little-endian */
	struct pvio_region_queue queues[PVIO_MAX_QUEUES];
};

uint64_t pvio_region_layout_size(const struct pvio_region_layout_params *p);
int pvio_region_layout_blk(void *mem, const struct pvio_region_layout_params *p);
int pvio_region_validate(const void *mem, uint64_t mem_size,
			 uint32_t expected_class, struct pvio_region_info *info,
			 const char **reason);

#endif /* PVIO_REGION_LAYOUT_H */
