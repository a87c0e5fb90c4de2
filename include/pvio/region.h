/* SPDX-License-Identifier: MIT */
/*
 * pvio region: the header at the start of every shared region.
 *
 * One region per device. Its size is a power of two (QEMU's ivshmem refuses
 * anything else) and its first PVIO_REGION_HDR_SIZE bytes are this header.
 * The rest holds, for each queue, a request ring (frontend -> backend), a
 * response ring (backend -> frontend) and a data area; the queue table below
 * gives their offsets. The backend lays the region out; the frontend checks
 * every offset and size against region_size before it touches anything.
 *
 * Who writes what:
 *   backend  : magic, abi_rev, hdr_size, dev_class, num_queues, region_size,
 *              back (state, generation, features = offered), config, queues
 *   frontend : front (state, generation, features = accepted)
 * Each side reads the other's fields once, into a private copy, and checks
 * the copy (DESIGN.md, rule 1).
 *
 * Connection handshake (states are those of Xen's split drivers). "Ring
 * vector 0" means the control doorbell of the peer: over ivshmem the
 * backend is peer 0 and the frontend the peer id the server gave it.
 *   1. backend lays out the region (rings and states zero, front zero),
 *      bumps back.generation, and last sets back.state = INITWAIT with a
 *      release store; it rings vector 0 of the frontend if one is attached;
 *   2. frontend checks magic and abi_rev first, then the whole layout,
 *      waits for back.state == INITWAIT, writes front.features (a subset of
 *      back.features), bumps front.generation, then sets
 *      front.state = INITIALISED (release) and rings vector 0;
 *   3. backend checks front.features against what it offered and attaches
 *      its ring ends, sets back.state = CONNECTED and rings vector 0;
 *      features it cannot accept get back.state = CLOSED instead (and a log
 *      line); the frontend then fails to connect;
 *   4. frontend attaches its ring ends and sets front.state = CONNECTED.
 *      Requests may flow once both sides are CONNECTED.
 * Orderly close: the frontend sets front.state = CLOSING and rings vector 0;
 * the backend answers every request it took, sets back.state = CLOSED and
 * rings; the frontend sets CLOSED and leaves. A frontend that vanishes
 * (its ivshmem peer leaves) is treated the same, its answers dropped. After
 * either, the backend lays the region out again (step 1) for the next
 * frontend. A backend that restarts bumps back.generation, so a frontend
 * can tell a new backend instance from the one it negotiated with.
 *
 * Backend restart: a backend instance that takes over a region whose
 * frontend is still there (a restarted engine, a rebooted driver VM) lays
 * it out again (step 1) with a new generation and leaves the data areas as
 * they are; what the old instance took is never answered. The frontend,
 * seeing back.state leave CONNECTED or back.generation change (or an IO
 * go unanswered too long), stops producing, waits for INITWAIT with a
 * generation other than the one it connected to, checks the new layout
 * (it must match the old one), writes its own ring lines back to zero
 * (its stale publishes are undone) and runs steps 2-4 again; then it
 * submits every request it still holds again, in the order first sent.
 * Execution is thus at-least-once; each class says which of its
 * operations may be repeated (blk.h). Only a new frontend session (a new
 * ivshmem peer) gets cleared data areas, or a region of its own.
 *
 * Queue doorbells: after publishing requests on queue q, the frontend rings
 * the backend's vector queues[q].vector when pvio_prod_publish() says so;
 * the backend rings the frontend's same vector after publishing responses.
 * The data area belongs to the frontend, which decides which buffers each
 * request uses; the backend only checks that they lie inside it.
 */
#ifndef PVIO_REGION_H
#define PVIO_REGION_H

#include "abi.h"

/* "PVIOREGN" read as a little-endian 64-bit number. */
#define PVIO_REGION_MAGIC 0x4e4745524f495650ull
/* Revision of this header and of the ring layout; a reader refuses others. */
#define PVIO_ABI_REV 1u

#define PVIO_REGION_HDR_SIZE 4096u
#define PVIO_REGION_MIN_SIZE 65536ull /* 64 KiB */
#define PVIO_CONFIG_SIZE 256u
/* Alignment of every queue's data area (a page, so either side can map or
 * do direct IO on a buffer at a multiple of the logical block size). */
#define PVIO_DATA_ALIGN 4096u
/* Over ivshmem the backend is peer 0; frontends get the ids the server
 * hands out after it. */
#define PVIO_BACKEND_PEER 0u
#define PVIO_MAX_QUEUES 32u
/* Doorbell vectors: 0 is the control channel, queues use 1..255 (ivshmem
 * carries only the low 8 bits of a vector). */
#define PVIO_VECTOR_CONTROL 0u
#define PVIO_MAX_VECTORS 256u

/* Device classes (dev_class). */
#define PVIO_CLASS_NONE 0u
#define PVIO_CLASS_BLK 1u
#define PVIO_CLASS_NET 2u

/* Per-side connection state (pvio_side.state); values match Xen's. */
#define PVIO_STATE_UNKNOWN 0u
#define PVIO_STATE_INITIALISING 1u
#define PVIO_STATE_INITWAIT 2u
#define PVIO_STATE_INITIALISED 3u
#define PVIO_STATE_CONNECTED 4u
#define PVIO_STATE_CLOSING 5u
#define PVIO_STATE_CLOSED 6u

/*
 * Feature bits (pvio_side.features). Bits 0-31 belong to the device class
 * (see blk.h), bits 32-63 to the transport and are common to every class.
 * A bit, once given a meaning, is never reused for another.
 */
#define PVIO_F_CLASS_MASK 0x00000000ffffffffull
/* Transport bits (32-63): none defined in revision 1. */
#define PVIO_F_TRANSPORT_MASK 0xffffffff00000000ull

/* One side's status; 64 bytes, so each side owns its own cache line. */
struct pvio_side {
	__le32 state;      /* PVIO_STATE_*, written by this side */
	__le32 generation; /* bumped by this side at every (re)connect */
	__le64 features;   /* backend: offered; frontend: accepted (subset) */
	__u8 reserved[48]; /* zero */
};
PVIO_ABI_SIZE(struct pvio_side, 64);
PVIO_ABI_OFFSET(struct pvio_side, state, 0);
PVIO_ABI_OFFSET(struct pvio_side, generation, 4);
PVIO_ABI_OFFSET(struct pvio_side, features, 8);

/*
 * One queue: its rings, its data area and its doorbell. Written by the
 * backend at layout time, read-only afterwards. Offsets are bytes from the
 * start of the region; the rings are PVIO_CACHELINE-aligned, the data area
 * 4096-aligned, and no two of a region's rings and data areas overlap.
 */
struct pvio_queue_desc {
	__le64 req_ring_off;  /* request ring (frontend produces) */
	__le64 rsp_ring_off;  /* response ring (backend produces) */
	__le64 data_off;      /* data area: buffers named by (offset, length) */
	__le64 data_size;     /* bytes in the data area */
	__le32 req_entries;   /* request ring entries, power of two */
	__le32 rsp_entries;   /* response ring entries, power of two */
	__le32 req_entry_size; /* bytes per request entry (class-defined) */
	__le32 rsp_entry_size; /* bytes per response entry (class-defined) */
	__le32 vector;        /* doorbell vector for this queue, 1..255 */
	__u8 reserved[12];    /* zero */
};
PVIO_ABI_SIZE(struct pvio_queue_desc, 64);
PVIO_ABI_OFFSET(struct pvio_queue_desc, req_ring_off, 0);
PVIO_ABI_OFFSET(struct pvio_queue_desc, rsp_ring_off, 8);
PVIO_ABI_OFFSET(struct pvio_queue_desc, data_off, 16);
PVIO_ABI_OFFSET(struct pvio_queue_desc, data_size, 24);
PVIO_ABI_OFFSET(struct pvio_queue_desc, req_entries, 32);
PVIO_ABI_OFFSET(struct pvio_queue_desc, rsp_entries, 36);
PVIO_ABI_OFFSET(struct pvio_queue_desc, req_entry_size, 40);
PVIO_ABI_OFFSET(struct pvio_queue_desc, rsp_entry_size, 44);
PVIO_ABI_OFFSET(struct pvio_queue_desc, vector, 48);

struct pvio_region_hdr {
	__le64 magic;       /* PVIO_REGION_MAGIC; checked before anything else */
	__le32 abi_rev;     /* PVIO_ABI_REV */
	__le32 hdr_size;    /* PVIO_REGION_HDR_SIZE */
	__le32 dev_class;   /* PVIO_CLASS_* */
	__le32 num_queues;  /* entries used in queues[], 1..PVIO_MAX_QUEUES */
	__le64 region_size; /* bytes, power of two, >= PVIO_REGION_MIN_SIZE */
	__u8 reserved0[32]; /* zero */

	struct pvio_side back;  /* offset 64: written by the backend */
	struct pvio_side front; /* offset 128: written by the frontend */

	__u8 config[PVIO_CONFIG_SIZE]; /* offset 192: class config, backend */
	__u8 reserved1[64];            /* zero */

	struct pvio_queue_desc queues[PVIO_MAX_QUEUES]; /* offset 512 */
	__u8 reserved2[PVIO_REGION_HDR_SIZE - 512 - 64 * PVIO_MAX_QUEUES];
};
PVIO_ABI_SIZE(struct pvio_region_hdr, PVIO_REGION_HDR_SIZE);
PVIO_ABI_OFFSET(struct pvio_region_hdr, magic, 0);
PVIO_ABI_OFFSET(struct pvio_region_hdr, abi_rev, 8);
PVIO_ABI_OFFSET(struct pvio_region_hdr, hdr_size, 12);
PVIO_ABI_OFFSET(struct pvio_region_hdr, dev_class, 16);
PVIO_ABI_OFFSET(struct pvio_region_hdr, num_queues, 20);
PVIO_ABI_OFFSET(struct pvio_region_hdr, region_size, 24);
PVIO_ABI_OFFSET(struct pvio_region_hdr, back, 64);
PVIO_ABI_OFFSET(struct pvio_region_hdr, front, 128);
PVIO_ABI_OFFSET(struct pvio_region_hdr, config, 192);
PVIO_ABI_OFFSET(struct pvio_region_hdr, queues, 512);

#endif /* PVIO_REGION_H */
