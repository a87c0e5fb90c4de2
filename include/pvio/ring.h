/* SPDX-License-Identifier: MIT */
/*
 * pvio ring: wire layout of one single-producer, single-consumer, one-way
 * ring in the shared region.
 *
 * A ring is a 256-byte control block followed immediately by `count`
 * entries of `entry_size` bytes each; count is a power of two, entry_size a
 * multiple of 8. Both are fixed by the backend when it lays out the region
 * (struct pvio_queue_desc) and never change while the region is connected.
 *
 * Indices are free-running 32-bit counters: they are never reduced modulo
 * count, they wrap at 2^32, and entry i lives in slot (i & (count - 1)).
 * Entries [cons, prod) hold data the consumer has not yet released; a valid
 * ring always has 0 <= prod - cons <= count (unsigned 32-bit arithmetic).
 *
 * Notification suppression (event indices): a side rings the peer's doorbell
 * only when the peer asked for it. The consumer writes prod_event = E to ask
 * for a doorbell once the producer publishes entry E (that is, once prod
 * moves from at most E to beyond E); the producer writes cons_event = E to
 * ask for a doorbell once the consumer releases entry E (used by a producer
 * waiting for space). A stale event index costs at worst one extra or one
 * late-checked doorbell; it never loses a wakeup provided the waiter
 * re-checks the index after publishing its event (see ring/pvio_ring.h).
 *
 * Each side's fields sit on their own PVIO_CACHELINE-sized line, so the
 * producer's stores never invalidate the line the consumer writes, and the
 * reverse.
 */
#ifndef PVIO_RING_ABI_H
#define PVIO_RING_ABI_H

#include "abi.h"

/* Byte offset of entry 0 from the start of the ring control block. */
#define PVIO_RING_ENTRIES_OFFSET 256u
/* Limits on a ring's geometry; a layout outside them is refused. */
#define PVIO_RING_MIN_ENTRIES 2u
#define PVIO_RING_MAX_ENTRIES 32768u
#define PVIO_RING_MAX_ENTRY_SIZE 4096u

struct pvio_ring_shared {
	/* Line 0: written by the producer only, read by the consumer. */
	__le32 prod;       /* next index the producer publishes; entries < prod are valid */
	__le32 cons_event; /* producer wants a doorbell when the consumer releases this index */
	__u8 reserved0[PVIO_CACHELINE - 8]; /* zero */

	/* Line 1: written by the consumer only, read by the producer. */
	__le32 cons;       /* next index the consumer reads; entries < cons are free */
	__le32 prod_event; /* consumer wants a doorbell when the producer publishes this index */
	__u8 reserved1[PVIO_CACHELINE - 8]; /* zero */
};
PVIO_ABI_SIZE(struct pvio_ring_shared, PVIO_RING_ENTRIES_OFFSET);
PVIO_ABI_OFFSET(struct pvio_ring_shared, prod, 0);
PVIO_ABI_OFFSET(struct pvio_ring_shared, cons_event, 4);
PVIO_ABI_OFFSET(struct pvio_ring_shared, cons, 128);
PVIO_ABI_OFFSET(struct pvio_ring_shared, prod_event, 132);

/* Bytes a ring with `count` entries of `entry_size` bytes occupies. */
#define PVIO_RING_BYTES(count, entry_size) \
	(PVIO_RING_ENTRIES_OFFSET + (__u64)(count) * (__u64)(entry_size))

#endif /* PVIO_RING_ABI_H */
