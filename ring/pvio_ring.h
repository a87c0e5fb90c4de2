/* SPDX-License-Identifier: MIT */
/*
 * pvio ring: single-producer, single-consumer, one-way ring of fixed-size
 * entries in shared memory. The same header serves kernel and userspace; it
 * allocates nothing, locks nothing and knows no transport.
 *
 * Contract
 * --------
 * - Exactly one producer and one consumer per ring, possibly in different
 *   protection domains that do not trust each other. Each side keeps its
 *   own private indices (struct pvio_prod / struct pvio_cons) and only
 *   publishes them; it never reads its own index back from shared memory.
 * - The producer fills slots privately (pvio_prod_put), then publishes the
 *   whole batch with one store (pvio_prod_publish). The consumer learns how
 *   many entries are there (pvio_cons_avail), copies each out once
 *   (pvio_cons_get) and frees the batch with one store (pvio_cons_release).
 * - Every index read from the peer is validated before use: the consumer
 *   accepts a producer index only in [last seen, cons + size], the producer
 *   a consumer index only in [last seen, published prod]. A violation makes
 *   the ring broken for good: every later call returns -EPROTO, nothing is
 *   read or written through the ring again, and the caller decides what to
 *   tell the user. No call can crash, loop or touch memory outside the ring
 *   whatever the peer writes.
 * - Notifications (see include/pvio/ring.h): pvio_prod_publish() returns
 *   true when the consumer asked for a doorbell for one of the entries just
 *   published. A consumer about to sleep calls pvio_cons_arm() and sleeps
 *   only if it returns 0; the full fences on both sides guarantee that
 *   either the producer sees the armed event index (and rings) or the
 *   consumer sees the new entries (and does not sleep).
 *
 * Return values are negative errno values; userspace and kernel alike.
 */
#ifndef PVIO_RING_IMPL_H
#define PVIO_RING_IMPL_H

#include "pvio_compat.h"
#include <pvio/ring.h>

/* Producer side of one ring; private memory, never shared. */
struct pvio_prod {
	struct pvio_ring_shared *sh; /* shared control block */
	__u8 *entries;               /* shared entries, right after sh */
	__u32 mask;                  /* entries - 1 */
	__u32 esize;                 /* bytes per entry */
	__u32 prod;                  /* next slot to fill (not yet published) */
	__u32 pub;                   /* last index stored to sh->prod */
	__u32 cons_seen;             /* last validated consumer index */
	int err;                     /* 0, or -EPROTO once the peer broke the ring */
};

/* Consumer side of one ring; private memory, never shared. */
struct pvio_cons {
	struct pvio_ring_shared *sh;
	__u8 *entries;
	__u32 mask;
	__u32 esize;
	__u32 cons;      /* next slot to read (not yet released) */
	__u32 pub;       /* last index stored to sh->cons */
	__u32 prod_seen; /* last validated producer index */
	int err;
};

/**
 * pvio_ring_geometry_valid() - check a ring's entry count and entry size.
 * @count: number of entries
 * @esize: bytes per entry
 *
 * Context: any.
 * Return: 0 when @count is a power of two within the ABI limits and @esize a
 * non-zero multiple of 8 up to PVIO_RING_MAX_ENTRY_SIZE; -EINVAL otherwise.
 */
static inline int pvio_ring_geometry_valid(__u32 count, __u32 esize)
{
	if (count < PVIO_RING_MIN_ENTRIES || count > PVIO_RING_MAX_ENTRIES ||
	    (count & (count - 1)) != 0)
		return -EINVAL;
	if (esize == 0 || esize > PVIO_RING_MAX_ENTRY_SIZE || (esize & 7) != 0)
		return -EINVAL;
	return 0;
}

/**
 * pvio_ring_shared_init() - reset a ring's shared control block.
 * @sh: the control block, in the shared region
 *
 * Done once by whoever lays out the region, before either side attaches.
 * Indices and event indices start at 0, so the first entry published
 * rings the consumer.
 *
 * Context: any; no peer may be using the ring.
 */
static inline void pvio_ring_shared_init(struct pvio_ring_shared *sh)
{
	memset(sh, 0, sizeof(*sh));
}

static inline int pvio_ring_fail(int *err)
{
	*err = -EPROTO;
	return -EPROTO;
}

/* Need a doorbell? The peer asked for one at index @event; indices
 * [@old, @new) have just become visible to it. */
static inline bool pvio_ring_need_event(__u32 event, __u32 new_idx, __u32 old_idx)
{
	return (__u32)(new_idx - event - 1) < (__u32)(new_idx - old_idx);
}

/**
 * pvio_prod_attach() - take the producer side of a ring.
 * @p: private producer state to fill
 * @sh: shared control block; entries follow at PVIO_RING_ENTRIES_OFFSET
 * @count: number of entries (power of two)
 * @esize: bytes per entry
 *
 * Starts from the indices found in shared memory, so a side that attaches
 * to a ring already in use (a restarted peer) continues where it stopped.
 *
 * Context: any.
 * Return: 0, -EINVAL for a bad geometry, -EPROTO if the indices found are
 * inconsistent (consumer ahead of producer or more than @count behind).
 */
static inline int pvio_prod_attach(struct pvio_prod *p,
				   struct pvio_ring_shared *sh, __u32 count,
				   __u32 esize)
{
	__u32 prod, cons;
	int ret = pvio_ring_geometry_valid(count, esize);

	if (ret)
		return ret;
	p->sh = sh;
	p->entries = (__u8 *)sh + PVIO_RING_ENTRIES_OFFSET;
	p->mask = count - 1;
	p->esize = esize;
	p->err = 0;
	prod = pvio_le32_to_cpu(PVIO_READ_ONCE(sh->prod));
	/* Acquire: pairs with the consumer's release in pvio_cons_release(),
	 * so that slots it freed are not overwritten before it read them. */
	cons = pvio_le32_to_cpu(pvio_load_acquire(&sh->cons));
	p->prod = p->pub = prod;
	p->cons_seen = cons;
	if (prod - cons > count)
		return pvio_ring_fail(&p->err);
	return 0;
}

/**
 * pvio_prod_reset() - take the producer side of a ring laid out anew.
 * @p: private producer state to fill
 * @sh: shared control block
 * @count: number of entries (power of two)
 * @esize: bytes per entry
 *
 * For a frontend whose backend restarted and laid the region out again
 * (include/pvio/region.h, "Backend restart"): the new layout zeroed the
 * ring, but this side may have published into it before it noticed the
 * new generation. Writing its own line back to zero undoes that, so the
 * new consumer starts from an empty ring. The caller must have stopped
 * producing, and must publish its state (a release store) only after
 * this, before the peer attaches its end.
 *
 * Context: any; the peer must not have attached its end yet.
 * Return: as pvio_prod_attach().
 */
static inline int pvio_prod_reset(struct pvio_prod *p,
				  struct pvio_ring_shared *sh, __u32 count,
				  __u32 esize)
{
	PVIO_WRITE_ONCE(sh->prod, 0);
	PVIO_WRITE_ONCE(sh->cons_event, 0);
	return pvio_prod_attach(p, sh, count, esize);
}

/**
 * pvio_prod_space() - free slots, refreshing the consumer index if needed.
 * @p: producer
 * @want: slots the caller would like; the consumer index is read from
 *        shared memory only when fewer than @want are known to be free
 *
 * Context: any; producer side only.
 * Return: free slots (0..count), or -EPROTO if the ring is broken (now or
 * earlier) because the consumer published an index outside
 * [last seen, published producer index].
 */
static inline int pvio_prod_space(struct pvio_prod *p, __u32 want)
{
	__u32 size = p->mask + 1;
	__u32 cons;

	if (pvio_unlikely(p->err))
		return p->err;
	if (size - (p->prod - p->cons_seen) >= want)
		return (int)(size - (p->prod - p->cons_seen));
	/* Acquire: pairs with the release store in pvio_cons_release(); the
	 * consumer's copies out of the slots it freed happen before we refill
	 * them. Without it a slot could be overwritten while still read. */
	cons = pvio_le32_to_cpu(pvio_load_acquire(&p->sh->cons));
	if (pvio_unlikely(cons - p->cons_seen > p->pub - p->cons_seen))
		return pvio_ring_fail(&p->err);
	p->cons_seen = cons;
	return (int)(size - (p->prod - cons));
}

/**
 * pvio_prod_put() - copy one privately built entry into the next free slot.
 * @p: producer
 * @entry: the entry
 * @size: bytes of @entry, at most the ring's entry size (pass a sizeof so
 *        the copy is inlined)
 *
 * The entry is not visible to the consumer until pvio_prod_publish().
 *
 * Context: any; producer side only.
 * Return: 0, -ENOSPC when the ring is full, -EINVAL if @size is too big,
 * -EPROTO if the ring is broken.
 */
static inline int pvio_prod_put(struct pvio_prod *p, const void *entry,
				__u32 size)
{
	int space = pvio_prod_space(p, 1);

	if (pvio_unlikely(space <= 0))
		return space < 0 ? space : -ENOSPC;
	if (pvio_unlikely(size > p->esize))
		return -EINVAL;
	memcpy(p->entries + (size_t)(p->prod & p->mask) * p->esize, entry, size);
	p->prod++;
	return 0;
}

/**
 * pvio_prod_publish() - make every entry put so far visible to the consumer.
 * @p: producer
 *
 * One store publishes the whole batch.
 *
 * Context: any; producer side only.
 * Return: true if the consumer asked for a doorbell for one of the entries
 * just published (the caller rings it), false otherwise or if nothing was
 * pending or the ring is broken.
 */
static inline bool pvio_prod_publish(struct pvio_prod *p)
{
	__u32 old = p->pub, event;

	if (p->prod == old || p->err)
		return false;
	/* Release: the entries written by pvio_prod_put() are visible before
	 * the new index; pairs with the acquire in pvio_cons_avail(). Without
	 * it the consumer could read a slot before its contents. */
	pvio_store_release(&p->sh->prod, pvio_cpu_to_le32(p->prod));
	p->pub = p->prod;
	/* Full fence: the index store above is ordered before the event-index
	 * load below; pairs with the fence in pvio_cons_arm() (store event,
	 * fence, load prod). Without it both sides could read stale values:
	 * we skip the doorbell while the consumer goes to sleep. */
	pvio_mb();
	event = pvio_le32_to_cpu(PVIO_READ_ONCE(p->sh->prod_event));
	return pvio_ring_need_event(event, p->pub, old);
}

/**
 * pvio_prod_arm_space() - ask for a doorbell once @want slots are free.
 * @p: producer
 * @want: free slots wanted, 1..count
 *
 * Context: any; producer side only; the consumer must release with
 * pvio_cons_release_check() for the doorbell to come.
 * Return: free slots if at least @want are free already (do not sleep), 0
 * when armed (sleep until the doorbell), -EINVAL or -EPROTO.
 */
static inline int pvio_prod_arm_space(struct pvio_prod *p, __u32 want)
{
	__u32 size = p->mask + 1;
	int space;

	if (want == 0 || want > size)
		return -EINVAL;
	if (p->err)
		return p->err;
	/* Doorbell when cons passes prod - size + want - 1, i.e. once at least
	 * @want slots are free. */
	PVIO_WRITE_ONCE(p->sh->cons_event,
			pvio_cpu_to_le32(p->prod - size + want - 1));
	/* Full fence: event store before the re-read of cons; pairs with the
	 * fence in pvio_cons_release_check(). */
	pvio_mb();
	space = pvio_prod_space(p, size + 1); /* force a fresh read */
	if (space < 0)
		return space;
	return (__u32)space >= want ? space : 0;
}

/**
 * pvio_cons_attach() - take the consumer side of a ring.
 * @c: private consumer state to fill
 * @sh: shared control block
 * @count: number of entries (power of two)
 * @esize: bytes per entry
 *
 * Context: any.
 * Return: 0, -EINVAL for a bad geometry, -EPROTO for inconsistent indices.
 */
static inline int pvio_cons_attach(struct pvio_cons *c,
				   struct pvio_ring_shared *sh, __u32 count,
				   __u32 esize)
{
	__u32 prod, cons;
	int ret = pvio_ring_geometry_valid(count, esize);

	if (ret)
		return ret;
	c->sh = sh;
	c->entries = (__u8 *)sh + PVIO_RING_ENTRIES_OFFSET;
	c->mask = count - 1;
	c->esize = esize;
	c->err = 0;
	cons = pvio_le32_to_cpu(PVIO_READ_ONCE(sh->cons));
	/* Acquire: pairs with pvio_prod_publish(); entries below prod are
	 * complete before we read them. */
	prod = pvio_le32_to_cpu(pvio_load_acquire(&sh->prod));
	c->cons = c->pub = cons;
	c->prod_seen = cons;
	if (prod - cons > count)
		return pvio_ring_fail(&c->err);
	c->prod_seen = prod;
	return 0;
}

/**
 * pvio_cons_reset() - take the consumer side of a ring laid out anew.
 * @c: private consumer state to fill
 * @sh: shared control block
 * @count: number of entries (power of two)
 * @esize: bytes per entry
 *
 * The consumer's counterpart of pvio_prod_reset(): writes this side's line
 * (cons, prod_event) back to zero, then attaches.
 *
 * Context: any; the peer must not have attached its end yet.
 * Return: as pvio_cons_attach().
 */
static inline int pvio_cons_reset(struct pvio_cons *c,
				  struct pvio_ring_shared *sh, __u32 count,
				  __u32 esize)
{
	PVIO_WRITE_ONCE(sh->cons, 0);
	PVIO_WRITE_ONCE(sh->prod_event, 0);
	return pvio_cons_attach(c, sh, count, esize);
}

/**
 * pvio_cons_avail() - entries ready to be read.
 * @c: consumer
 *
 * Reads the producer index once and validates it: it may not go back and
 * may not be more than the ring size ahead of the consumer.
 *
 * Context: any; consumer side only.
 * Return: entries available (0..count), or -EPROTO if the ring is broken.
 */
static inline int pvio_cons_avail(struct pvio_cons *c)
{
	__u32 prod;

	if (pvio_unlikely(c->err))
		return c->err;
	/* Acquire: pairs with the release in pvio_prod_publish(); the entries'
	 * contents are read only after the index that published them. */
	prod = pvio_le32_to_cpu(pvio_load_acquire(&c->sh->prod));
	if (pvio_unlikely(prod - c->prod_seen >
			  c->cons + c->mask + 1 - c->prod_seen))
		return pvio_ring_fail(&c->err);
	c->prod_seen = prod;
	return (int)(prod - c->cons);
}

/**
 * pvio_cons_get() - copy the next entry out of the ring, once.
 * @c: consumer
 * @out: private buffer for the entry; validate this copy, never the slot
 * @size: bytes to copy, at most the ring's entry size (pass a sizeof)
 *
 * The slot stays owned by the consumer until pvio_cons_release().
 *
 * Context: any; consumer side only.
 * Return: 0, -EAGAIN if no entry is known to be available (call
 * pvio_cons_avail() first), -EINVAL if @size is too big, -EPROTO if broken.
 */
static inline int pvio_cons_get(struct pvio_cons *c, void *out, __u32 size)
{
	if (pvio_unlikely(c->err))
		return c->err;
	if (c->cons == c->prod_seen)
		return -EAGAIN;
	if (pvio_unlikely(size > c->esize))
		return -EINVAL;
	/* Each shared word read once (pvio_copy_from_shared): with a plain
	 * memcpy the compiler could read the slot again where the caller
	 * uses the copy, after the caller validated it. Slots are 8-aligned
	 * and entries multiples of 8 bytes, so with a constant @size the
	 * copy is one alignment test and an unrolled run of 8-byte loads. */
	pvio_copy_from_shared(out, c->entries + (size_t)(c->cons & c->mask) *
			      c->esize, size);
	c->cons++;
	return 0;
}

/**
 * pvio_cons_release() - give every slot read so far back to the producer.
 * @c: consumer
 *
 * One store frees the whole batch. No doorbell check: for rings whose
 * producer never waits for space (see pvio_cons_release_check()).
 *
 * Context: any; consumer side only.
 */
static inline void pvio_cons_release(struct pvio_cons *c)
{
	if (c->cons == c->pub || c->err)
		return;
	/* Release: our copies out of the slots are complete before the
	 * producer can see them free; pairs with the acquire in
	 * pvio_prod_space(). Without it a slot could be refilled mid-copy. */
	pvio_store_release(&c->sh->cons, pvio_cpu_to_le32(c->cons));
	c->pub = c->cons;
}

/**
 * pvio_cons_release_check() - release, and say whether the producer waits.
 * @c: consumer
 *
 * Context: any; consumer side only.
 * Return: true if the producer armed a space doorbell (pvio_prod_arm_space)
 * that this release satisfies; the caller rings it.
 */
static inline bool pvio_cons_release_check(struct pvio_cons *c)
{
	__u32 old = c->pub, event;

	if (c->cons == old || c->err)
		return false;
	pvio_cons_release(c);
	/* Full fence: cons store before the event load; pairs with the fence
	 * in pvio_prod_arm_space(). */
	pvio_mb();
	event = pvio_le32_to_cpu(PVIO_READ_ONCE(c->sh->cons_event));
	return pvio_ring_need_event(event, c->pub, old);
}

/**
 * pvio_cons_arm() - ask for a doorbell before sleeping, and re-check.
 * @c: consumer
 * @ahead: 0 to be woken by the next entry; n > 0 to be woken only once more
 *         than n entries are waiting (interrupt coalescing; only safe when
 *         the caller knows that many more will come, e.g. responses to
 *         requests it has outstanding)
 *
 * Context: any; consumer side only.
 * Return: 0 if armed and the caller may sleep until the doorbell; the number
 * of entries available (> @ahead) if it must not sleep; -EINVAL if @ahead is
 * not below the ring size (no doorbell could ever come); -EPROTO if broken.
 */
static inline int pvio_cons_arm(struct pvio_cons *c, __u32 ahead)
{
	int avail;

	if (pvio_unlikely(c->err))
		return c->err;
	if (pvio_unlikely(ahead > c->mask))
		return -EINVAL;
	PVIO_WRITE_ONCE(c->sh->prod_event, pvio_cpu_to_le32(c->cons + ahead));
	/* Full fence: the event store is ordered before the re-read of prod;
	 * pairs with the fence in pvio_prod_publish(). Without it the producer
	 * could miss the event while we miss its entries: a lost wakeup. */
	pvio_mb();
	avail = pvio_cons_avail(c);
	if (avail < 0)
		return avail;
	return (__u32)avail > ahead ? avail : 0;
}

/**
 * pvio_ring_take() - a server takes the next request only if it can answer.
 * @req: consumer side of the request ring
 * @rsp: producer side of the response ring
 * @owed: requests taken earlier and not yet answered
 * @out: private buffer for the request; validate this copy, never the slot
 * @size: bytes to copy (pass a sizeof)
 * @why: set to which ring broke, when this returns -EPROTO
 *
 * The rule every backend follows: a request is taken off the request ring
 * only while the response ring has room for its answer and for every
 * answer still owed, so that no answer ever waits for ring space the
 * frontend may never free. The caller releases what it took with
 * pvio_cons_release() once per batch.
 *
 * Context: any; the server's side of both rings.
 * Return: 1 with a request in @out; 0 when none is waiting; -ENOSPC when
 * one is waiting but the response ring lacks room (ask for a doorbell when
 * the frontend frees some, pvio_prod_arm_space()); -EPROTO when the
 * frontend broke either ring.
 */
static inline int pvio_ring_take(struct pvio_cons *req, struct pvio_prod *rsp,
				 __u32 owed, void *out, __u32 size,
				 const char **why)
{
	int avail, space;

	avail = pvio_cons_avail(req);
	if (pvio_unlikely(avail < 0)) {
		*why = "request ring producer index out of range";
		return avail;
	}
	if (avail == 0)
		return 0;
	/* Blocked only with a request waiting: a frontend whose every id is
	 * in flight or answered has filled the response ring's reserve
	 * legitimately, and must not be left without a doorbell until the
	 * next look. */
	space = pvio_prod_space(rsp, owed + 1);
	if (pvio_unlikely(space < 0)) {
		*why = "response ring consumer index out of range";
		return space;
	}
	if ((__u32)space < owed + 1)
		return -ENOSPC;
	if (pvio_cons_get(req, out, size))
		return 0;
	return 1;
}

#endif /* PVIO_RING_IMPL_H */
