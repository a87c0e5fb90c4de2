// SPDX-License-Identifier: MIT
/*
 * Unit tests of ring/pvio_ring.h: one test per behaviour of the SPSC ring,
 * both sides driven from one thread so every step is deterministic.
 *
 * The peer is simulated by writing the shared control block directly where
 * a test needs an index or event index no well-behaved peer would produce.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pvio_ring.h"

#define T_COUNT 8u
#define T_ESIZE 16u

struct t_entry {
	__u64 seq;
	__u64 check;
};

/* A ring of T_COUNT entries, laid out as in the shared region. */
struct t_ring {
	struct pvio_ring_shared sh;
	__u8 slots[T_COUNT * T_ESIZE];
} __attribute__((aligned(PVIO_CACHELINE)));

struct t_fix {
	struct t_ring r;
	struct pvio_prod p;
	struct pvio_cons c;
};

static __u32 sh_prod(const struct t_fix *f)
{
	return pvio_le32_to_cpu(f->r.sh.prod);
}

static __u32 sh_cons(const struct t_fix *f)
{
	return pvio_le32_to_cpu(f->r.sh.cons);
}

static __u32 sh_prod_event(const struct t_fix *f)
{
	return pvio_le32_to_cpu(f->r.sh.prod_event);
}

/* The shared block as a ring in use would leave it: both indices and both
 * event indices at @start. */
static void fix_init(struct t_fix *f, __u32 start)
{
	memset(f, 0, sizeof(*f));
	pvio_ring_shared_init(&f->r.sh);
	f->r.sh.prod = pvio_cpu_to_le32(start);
	f->r.sh.cons = pvio_cpu_to_le32(start);
	f->r.sh.prod_event = pvio_cpu_to_le32(start);
	f->r.sh.cons_event = pvio_cpu_to_le32(start);
	assert_int_equal(pvio_prod_attach(&f->p, &f->r.sh, T_COUNT, T_ESIZE), 0);
	assert_int_equal(pvio_cons_attach(&f->c, &f->r.sh, T_COUNT, T_ESIZE), 0);
}

static struct t_entry mk(__u64 seq)
{
	struct t_entry e = { seq, ~seq * 0x9e3779b97f4a7c15ull };

	return e;
}

static void put_n(struct t_fix *f, __u64 first, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct t_entry e = mk(first + i);

		assert_int_equal(pvio_prod_put(&f->p, &e, sizeof(e)), 0);
	}
}

/* Get @n entries and check they are first, first + 1, ... */
static void get_n(struct t_fix *f, __u64 first, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct t_entry e = { 0 }, want = mk(first + i);

		assert_int_equal(pvio_cons_get(&f->c, &e, sizeof(e)), 0);
		assert_int_equal(e.seq, want.seq);
		assert_int_equal(e.check, want.check);
	}
}

/* ---- empty and full ---- */

static void test_empty_ring_has_nothing_available(void **state)
{
	struct t_fix f;
	struct t_entry e;

	(void)state;
	fix_init(&f, 0);
	assert_int_equal(pvio_cons_avail(&f.c), 0);
	assert_int_equal(pvio_cons_get(&f.c, &e, sizeof(e)), -EAGAIN);
	assert_int_equal(pvio_prod_space(&f.p, 1), T_COUNT);
}

static void test_get_needs_avail_to_see_published_entries(void **state)
{
	struct t_fix f;
	struct t_entry e;

	(void)state;
	fix_init(&f, 0);
	put_n(&f, 0, 1);
	pvio_prod_publish(&f.p);
	/* get never reads the shared index itself */
	assert_int_equal(pvio_cons_get(&f.c, &e, sizeof(e)), -EAGAIN);
	assert_int_equal(pvio_cons_avail(&f.c), 1);
	get_n(&f, 0, 1);
	assert_int_equal(pvio_cons_get(&f.c, &e, sizeof(e)), -EAGAIN);
}

static void test_put_on_full_ring_returns_enospc(void **state)
{
	struct t_fix f;
	struct t_entry e = mk(99);

	(void)state;
	fix_init(&f, 0);
	put_n(&f, 0, T_COUNT);
	assert_int_equal(pvio_prod_space(&f.p, 1), 0);
	assert_int_equal(pvio_prod_put(&f.p, &e, sizeof(e)), -ENOSPC);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_prod_put(&f.p, &e, sizeof(e)), -ENOSPC);
	assert_int_equal(pvio_prod_space(&f.p, 1), 0);
	assert_int_equal(pvio_cons_avail(&f.c), T_COUNT);
	get_n(&f, 0, T_COUNT);
}

static void test_release_gives_space_back_to_producer(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	put_n(&f, 0, T_COUNT);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_avail(&f.c), T_COUNT);
	get_n(&f, 0, 3);
	/* read but not released: still owned by the consumer */
	assert_int_equal(pvio_prod_space(&f.p, 1), 0);
	pvio_cons_release(&f.c);
	assert_int_equal(pvio_prod_space(&f.p, 1), 3);
	put_n(&f, T_COUNT, 3);
	assert_int_equal(pvio_prod_space(&f.p, 1), 0);
}

/* ---- wrap-around ---- */

static void test_indices_wrap_across_uint32_max_in_order(void **state)
{
	static const unsigned int batches[] = { 1, 3, 8, 5, 2, 7, 4, 6, 8, 1 };
	struct t_fix f;
	const __u32 start = 0xffffffffu - 5;
	__u64 sent = 0, got = 0;
	unsigned int b = 0;

	(void)state;
	fix_init(&f, start);
	/* five ring-fulls, in uneven batches, across the wrap */
	while (got < 5 * T_COUNT) {
		unsigned int n = batches[b++ % 10];
		int avail;

		if (n > T_COUNT - (sent - got))
			n = T_COUNT - (unsigned int)(sent - got);
		if (sent + n > 5 * T_COUNT)
			n = (unsigned int)(5 * T_COUNT - sent);
		put_n(&f, sent, n);
		sent += n;
		pvio_prod_publish(&f.p);
		assert_int_equal(sh_prod(&f), (__u32)(start + sent));
		avail = pvio_cons_avail(&f.c);
		assert_int_equal(avail, sent - got);
		/* leave some entries behind to keep the ring partly full */
		if (avail > 2 && sent < 5 * T_COUNT)
			avail -= 2;
		get_n(&f, got, (unsigned int)avail);
		got += (unsigned int)avail;
		pvio_cons_release(&f.c);
		assert_int_equal(sh_cons(&f), (__u32)(start + got));
	}
	assert_int_equal(sh_prod(&f), start + 5 * T_COUNT);
	assert_true(sh_prod(&f) < start); /* it did wrap */
	assert_int_equal(pvio_cons_avail(&f.c), 0);
	assert_int_equal(pvio_prod_space(&f.p, T_COUNT), T_COUNT);
}

static void test_full_ring_across_wrap_returns_enospc(void **state)
{
	struct t_fix f;
	struct t_entry e = mk(0);

	(void)state;
	fix_init(&f, 0xfffffffcu);
	put_n(&f, 0, T_COUNT);
	pvio_prod_publish(&f.p);
	assert_int_equal(sh_prod(&f), 4);
	assert_int_equal(pvio_prod_put(&f.p, &e, sizeof(e)), -ENOSPC);
	assert_int_equal(pvio_cons_avail(&f.c), T_COUNT);
	get_n(&f, 0, T_COUNT);
}

/* ---- batches ---- */

static void test_puts_are_invisible_until_publish(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 100);
	put_n(&f, 0, 5);
	assert_int_equal(sh_prod(&f), 100);
	assert_int_equal(pvio_cons_avail(&f.c), 0);
	pvio_prod_publish(&f.p);
	assert_int_equal(sh_prod(&f), 105);
	assert_int_equal(pvio_cons_avail(&f.c), 5);
}

static void test_publish_stores_whole_batch_once(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 7);
	for (unsigned int i = 0; i < 6; i++) {
		put_n(&f, i, 1);
		assert_int_equal(sh_prod(&f), 7);
	}
	pvio_prod_publish(&f.p);
	assert_int_equal(sh_prod(&f), 13);
	/* nothing new: publish stores nothing and asks for no doorbell */
	f.r.sh.prod_event = pvio_cpu_to_le32(12);
	assert_false(pvio_prod_publish(&f.p));
	assert_int_equal(sh_prod(&f), 13);
}

static void test_consumer_releases_batch_once(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 7);
	put_n(&f, 0, 6);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_avail(&f.c), 6);
	for (unsigned int i = 0; i < 6; i++) {
		get_n(&f, i, 1);
		assert_int_equal(sh_cons(&f), 7);
	}
	pvio_cons_release(&f.c);
	assert_int_equal(sh_cons(&f), 13);
	pvio_cons_release(&f.c);
	assert_int_equal(sh_cons(&f), 13);
}

/* ---- producer's doorbell decision ---- */

/* Publish a batch of @n at @start with the consumer's prod_event at @event;
 * return whether publish asks for a doorbell. */
static bool publish_with_event(__u32 start, unsigned int n, __u32 event)
{
	struct t_fix f;
	bool ring;

	fix_init(&f, start);
	f.r.sh.prod_event = pvio_cpu_to_le32(event);
	put_n(&f, 0, n);
	ring = pvio_prod_publish(&f.p);
	assert_int_equal(sh_prod(&f), (__u32)(start + n));
	return ring;
}

static void test_publish_no_doorbell_when_event_before_batch(void **state)
{
	(void)state;
	assert_false(publish_with_event(100, 5, 99));
	assert_false(publish_with_event(100, 5, 50));
}

static void test_publish_doorbell_when_event_at_first_entry(void **state)
{
	(void)state;
	assert_true(publish_with_event(100, 5, 100));
}

static void test_publish_doorbell_when_event_inside_batch(void **state)
{
	(void)state;
	assert_true(publish_with_event(100, 5, 102));
}

static void test_publish_doorbell_when_event_at_last_entry(void **state)
{
	(void)state;
	assert_true(publish_with_event(100, 5, 104));
}

static void test_publish_no_doorbell_when_event_after_batch(void **state)
{
	(void)state;
	assert_false(publish_with_event(100, 5, 105));
	assert_false(publish_with_event(100, 5, 200));
}

static void test_publish_event_checks_survive_index_wrap(void **state)
{
	const __u32 start = 0xfffffffeu; /* batch is ...fe, ...ff, 0, 1, 2 */

	(void)state;
	assert_true(publish_with_event(start, 5, 0xfffffffeu));
	assert_true(publish_with_event(start, 5, 0));
	assert_true(publish_with_event(start, 5, 2));
	assert_false(publish_with_event(start, 5, 3));
	assert_false(publish_with_event(start, 5, 0xfffffffdu));
}

static void test_publish_ignores_stale_event_from_before_wrap(void **state)
{
	(void)state;
	/* armed long ago, far behind: the batch does not reach it again */
	assert_false(publish_with_event(0xfffffffeu, 5, 0xffff0000u));
	assert_false(publish_with_event(3, 5, 0x80000000u));
	assert_false(publish_with_event(3, 5, 0xfffffff0u));
}

static void test_publish_rings_once_per_arm(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	assert_int_equal(pvio_cons_arm(&f.c, 0), 0);
	put_n(&f, 0, 2);
	assert_true(pvio_prod_publish(&f.p));
	put_n(&f, 2, 2);
	/* the consumer has not re-armed: no second doorbell */
	assert_false(pvio_prod_publish(&f.p));
}

/* ---- consumer arm ---- */

static void test_cons_arm_returns_avail_when_entries_arrived(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 40);
	put_n(&f, 0, 3);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_arm(&f.c, 0), 3);
	get_n(&f, 0, 3);
}

static void test_cons_arm_returns_zero_when_empty_and_next_publish_rings(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 40);
	put_n(&f, 0, 2);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_avail(&f.c), 2);
	get_n(&f, 0, 2);
	pvio_cons_release(&f.c);
	assert_int_equal(pvio_cons_arm(&f.c, 0), 0);
	assert_int_equal(sh_prod_event(&f), 42);
	put_n(&f, 2, 1);
	assert_true(pvio_prod_publish(&f.p));
	assert_int_equal(pvio_cons_avail(&f.c), 1);
}

static void test_cons_arm_ahead_waits_for_more_than_ahead(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0xfffffffeu);
	assert_int_equal(pvio_cons_arm(&f.c, 2), 0);
	assert_int_equal(sh_prod_event(&f), 0);
	put_n(&f, 0, 2);
	assert_false(pvio_prod_publish(&f.p));
	/* two waiting is not more than two: still may sleep */
	assert_int_equal(pvio_cons_arm(&f.c, 2), 0);
	put_n(&f, 2, 1);
	assert_true(pvio_prod_publish(&f.p));
	assert_int_equal(pvio_cons_arm(&f.c, 2), 3);
	get_n(&f, 0, 3);
}

static void test_cons_arm_rejects_ahead_of_ring_size_or_more(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	/* no more than a ring's worth can wait: such a doorbell never comes */
	assert_int_equal(pvio_cons_arm(&f.c, f.c.mask + 1), -EINVAL);
	assert_int_equal(pvio_cons_arm(&f.c, f.c.mask), 0);
}

/* ---- producer waiting for space ---- */

static void test_prod_arm_space_returns_space_when_free(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	assert_int_equal(pvio_prod_arm_space(&f.p, 1), T_COUNT);
	assert_int_equal(pvio_prod_arm_space(&f.p, T_COUNT), T_COUNT);
	put_n(&f, 0, 3);
	assert_int_equal(pvio_prod_arm_space(&f.p, 5), 5);
	assert_int_equal(pvio_prod_arm_space(&f.p, 6), 0);
}

static void test_prod_arm_space_rejects_bad_want(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	assert_int_equal(pvio_prod_arm_space(&f.p, 0), -EINVAL);
	assert_int_equal(pvio_prod_arm_space(&f.p, T_COUNT + 1), -EINVAL);
}

static void test_release_check_rings_when_armed_space_is_free(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0xfffffffau);
	put_n(&f, 0, T_COUNT);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_prod_arm_space(&f.p, 3), 0);
	assert_int_equal(pvio_cons_avail(&f.c), T_COUNT);
	get_n(&f, 0, 2);
	assert_false(pvio_cons_release_check(&f.c));
	get_n(&f, 2, 1);
	assert_true(pvio_cons_release_check(&f.c));
	get_n(&f, 3, 1);
	/* the producer has not re-armed: no second doorbell */
	assert_false(pvio_cons_release_check(&f.c));
	assert_int_equal(pvio_prod_space(&f.p, T_COUNT), 4);
}

static void test_release_check_silent_when_producer_not_waiting(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	put_n(&f, 0, 4);
	pvio_prod_publish(&f.p);
	/* space available: arm_space does not arm, its event is behind */
	assert_true(pvio_prod_arm_space(&f.p, 2) > 0);
	assert_int_equal(pvio_cons_avail(&f.c), 4);
	get_n(&f, 0, 4);
	assert_false(pvio_cons_release_check(&f.c));
	assert_false(pvio_cons_release_check(&f.c));
}

/* ---- hostile producer index ---- */

static void test_consume_accepts_prod_exactly_size_ahead(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0xfffffffcu);
	f.r.sh.prod = pvio_cpu_to_le32(0xfffffffcu + T_COUNT);
	assert_int_equal(pvio_cons_avail(&f.c), T_COUNT);
}

static void test_consume_rejects_prod_beyond_size(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0xfffffffcu);
	f.r.sh.prod = pvio_cpu_to_le32(0xfffffffcu + T_COUNT + 1);
	assert_int_equal(pvio_cons_avail(&f.c), -EPROTO);
}

static void test_consume_rejects_prod_going_backwards(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 1);
	put_n(&f, 0, 4);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_avail(&f.c), 4);
	get_n(&f, 0, 1);
	pvio_cons_release(&f.c);
	/* still ahead of cons, but behind what was already seen */
	f.r.sh.prod = pvio_cpu_to_le32(4);
	assert_int_equal(pvio_cons_avail(&f.c), -EPROTO);
}

static void test_consumer_error_is_sticky_and_writes_nothing(void **state)
{
	struct t_fix f;
	struct t_ring snap;
	struct t_entry e;

	(void)state;
	fix_init(&f, 0xfffffff0u);
	put_n(&f, 0, 4);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_avail(&f.c), 4);
	get_n(&f, 0, 2); /* read, not yet released */
	f.r.sh.prod = pvio_cpu_to_le32(0x12345678u);
	assert_int_equal(pvio_cons_avail(&f.c), -EPROTO);
	/* even a peer that repairs the index gets no second chance */
	f.r.sh.prod = pvio_cpu_to_le32(0xfffffff4u);
	memcpy(&snap, &f.r, sizeof(snap));
	assert_int_equal(pvio_cons_avail(&f.c), -EPROTO);
	assert_int_equal(pvio_cons_get(&f.c, &e, sizeof(e)), -EPROTO);
	assert_int_equal(pvio_cons_arm(&f.c, 0), -EPROTO);
	assert_int_equal(pvio_cons_arm(&f.c, 3), -EPROTO);
	pvio_cons_release(&f.c);
	assert_false(pvio_cons_release_check(&f.c));
	assert_memory_equal(&snap, &f.r, sizeof(snap));
}

/* ---- hostile consumer index ---- */

static void test_produce_rejects_cons_beyond_published_prod(void **state)
{
	struct t_fix f;
	struct t_entry e = mk(0);

	(void)state;
	fix_init(&f, 0xfffffffeu);
	put_n(&f, 0, 4);
	pvio_prod_publish(&f.p);
	put_n(&f, 4, T_COUNT - 4); /* full, half of it unpublished */
	/* within what was put, but not what was published */
	f.r.sh.cons = pvio_cpu_to_le32(0xfffffffeu + 5);
	assert_int_equal(pvio_prod_put(&f.p, &e, sizeof(e)), -EPROTO);
}

static void test_produce_accepts_cons_equal_to_published_prod(void **state)
{
	struct t_fix f;
	struct t_entry e = mk(0);

	(void)state;
	fix_init(&f, 0xfffffffeu);
	put_n(&f, 0, 4);
	pvio_prod_publish(&f.p);
	put_n(&f, 4, T_COUNT - 4);
	f.r.sh.cons = pvio_cpu_to_le32(0xfffffffeu + 4);
	assert_int_equal(pvio_prod_put(&f.p, &e, sizeof(e)), 0);
	assert_int_equal(pvio_prod_space(&f.p, 1), 3);
}

static void test_produce_rejects_cons_going_backwards(void **state)
{
	struct t_fix f;
	struct t_entry e = mk(0);

	(void)state;
	fix_init(&f, 10);
	put_n(&f, 0, T_COUNT);
	pvio_prod_publish(&f.p);
	f.r.sh.cons = pvio_cpu_to_le32(14);
	put_n(&f, T_COUNT, 4); /* reads cons = 14; full again */
	f.r.sh.cons = pvio_cpu_to_le32(12);
	assert_int_equal(pvio_prod_put(&f.p, &e, sizeof(e)), -EPROTO);
}

static void test_producer_error_is_sticky_and_writes_nothing(void **state)
{
	struct t_fix f;
	struct t_ring snap;
	struct t_entry e = mk(0);

	(void)state;
	fix_init(&f, 10);
	put_n(&f, 0, T_COUNT);
	pvio_prod_publish(&f.p);
	f.r.sh.cons = pvio_cpu_to_le32(9);
	assert_int_equal(pvio_prod_space(&f.p, 1), -EPROTO);
	f.r.sh.cons = pvio_cpu_to_le32(10 + T_COUNT);
	memcpy(&snap, &f.r, sizeof(snap));
	assert_int_equal(pvio_prod_space(&f.p, 1), -EPROTO);
	assert_int_equal(pvio_prod_put(&f.p, &e, sizeof(e)), -EPROTO);
	assert_false(pvio_prod_publish(&f.p));
	assert_int_equal(pvio_prod_arm_space(&f.p, 1), -EPROTO);
	assert_memory_equal(&snap, &f.r, sizeof(snap));
}

static void test_unpublished_entries_stay_unpublished_when_broken(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 10);
	put_n(&f, 0, 3);
	pvio_prod_publish(&f.p);
	put_n(&f, 3, T_COUNT - 3);
	f.r.sh.cons = pvio_cpu_to_le32(20);
	assert_int_equal(pvio_prod_space(&f.p, 1), -EPROTO);
	assert_false(pvio_prod_publish(&f.p));
	assert_int_equal(sh_prod(&f), 13);
}

/* ---- attach ---- */

static void attach_both_expect(struct pvio_ring_shared *sh, __u32 count,
			       __u32 esize, int want)
{
	struct pvio_prod p;
	struct pvio_cons c;

	assert_int_equal(pvio_prod_attach(&p, sh, count, esize), want);
	assert_int_equal(pvio_cons_attach(&c, sh, count, esize), want);
}

static void test_attach_rejects_count_not_power_of_two(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	attach_both_expect(&f.r.sh, 6, 16, -EINVAL);
	attach_both_expect(&f.r.sh, 3, 16, -EINVAL);
	attach_both_expect(&f.r.sh, 0xffffffffu, 16, -EINVAL);
}

static void test_attach_rejects_zero_or_one_entry(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	attach_both_expect(&f.r.sh, 0, 16, -EINVAL);
	attach_both_expect(&f.r.sh, 1, 16, -EINVAL);
}

static void test_attach_rejects_too_many_entries(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	attach_both_expect(&f.r.sh, PVIO_RING_MAX_ENTRIES * 2, 16, -EINVAL);
	attach_both_expect(&f.r.sh, 0x80000000u, 16, -EINVAL);
}

static void test_attach_rejects_bad_entry_size(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	attach_both_expect(&f.r.sh, 8, 0, -EINVAL);
	attach_both_expect(&f.r.sh, 8, 12, -EINVAL);
	attach_both_expect(&f.r.sh, 8, 4, -EINVAL);
	attach_both_expect(&f.r.sh, 8, PVIO_RING_MAX_ENTRY_SIZE + 8, -EINVAL);
}

static void test_attach_accepts_geometry_limits(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0);
	attach_both_expect(&f.r.sh, PVIO_RING_MIN_ENTRIES, 8, 0);
	attach_both_expect(&f.r.sh, PVIO_RING_MAX_ENTRIES,
			   PVIO_RING_MAX_ENTRY_SIZE, 0);
}

static void test_attach_rejects_prod_more_than_size_ahead(void **state)
{
	struct t_fix f;
	struct pvio_cons c;

	(void)state;
	fix_init(&f, 0);
	f.r.sh.prod = pvio_cpu_to_le32(T_COUNT + 1);
	attach_both_expect(&f.r.sh, T_COUNT, T_ESIZE, -EPROTO);
	/* and the consumer stays broken */
	assert_int_equal(pvio_cons_attach(&c, &f.r.sh, T_COUNT, T_ESIZE), -EPROTO);
	f.r.sh.prod = pvio_cpu_to_le32(1);
	assert_int_equal(pvio_cons_avail(&c), -EPROTO);
}

static void test_attach_rejects_cons_ahead_of_prod(void **state)
{
	struct t_fix f;
	struct pvio_prod p;
	struct t_entry e = mk(0);

	(void)state;
	fix_init(&f, 0);
	f.r.sh.prod = pvio_cpu_to_le32(0xffffffffu);
	f.r.sh.cons = pvio_cpu_to_le32(0);
	attach_both_expect(&f.r.sh, T_COUNT, T_ESIZE, -EPROTO);
	assert_int_equal(pvio_prod_attach(&p, &f.r.sh, T_COUNT, T_ESIZE), -EPROTO);
	assert_int_equal(pvio_prod_put(&p, &e, sizeof(e)), -EPROTO);
}

static void test_attach_resumes_from_shared_indices(void **state)
{
	struct t_fix f;

	(void)state;
	fix_init(&f, 0xfffffffeu);
	put_n(&f, 0, 5);
	pvio_prod_publish(&f.p);
	/* a restarted consumer and producer pick up where the old ones were */
	assert_int_equal(pvio_cons_attach(&f.c, &f.r.sh, T_COUNT, T_ESIZE), 0);
	assert_int_equal(pvio_prod_attach(&f.p, &f.r.sh, T_COUNT, T_ESIZE), 0);
	assert_int_equal(pvio_cons_avail(&f.c), 5);
	assert_int_equal(pvio_prod_space(&f.p, 1), T_COUNT - 5);
	get_n(&f, 0, 5);
	put_n(&f, 5, 1);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_avail(&f.c), 1);
	get_n(&f, 5, 1);
}

/* ---- entry sizes and copies ---- */

static void test_put_rejects_size_larger_than_entry(void **state)
{
	struct t_fix f;
	__u8 big[T_ESIZE + 8];

	(void)state;
	fix_init(&f, 0);
	memset(big, 0xab, sizeof(big));
	assert_int_equal(pvio_prod_put(&f.p, big, T_ESIZE + 1), -EINVAL);
	assert_int_equal(pvio_prod_put(&f.p, big, T_ESIZE + 8), -EINVAL);
	assert_false(pvio_prod_publish(&f.p));
	assert_int_equal(sh_prod(&f), 0);
	assert_int_equal(pvio_prod_space(&f.p, 1), T_COUNT);
	/* the neighbouring slot was not touched */
	for (unsigned int i = 0; i < sizeof(f.r.slots); i++)
		assert_int_equal(f.r.slots[i], 0);
}

static void test_get_rejects_size_larger_than_entry(void **state)
{
	struct t_fix f;
	__u8 big[T_ESIZE + 8];

	(void)state;
	fix_init(&f, 0);
	put_n(&f, 0, 1);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_avail(&f.c), 1);
	assert_int_equal(pvio_cons_get(&f.c, big, T_ESIZE + 1), -EINVAL);
	get_n(&f, 0, 1);
}

static void test_get_copies_only_size_bytes(void **state)
{
	struct t_fix f;
	__u8 out[T_ESIZE];

	(void)state;
	fix_init(&f, 0);
	put_n(&f, 0x1122334455667788ull, 1);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_avail(&f.c), 1);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(pvio_cons_get(&f.c, out, 8), 0);
	assert_memory_equal(out, f.r.slots, 8);
	for (unsigned int i = 8; i < sizeof(out); i++)
		assert_int_equal(out[i], 0xee);
}

static void test_get_copies_entry_out_once(void **state)
{
	struct t_fix f;
	struct t_entry e, want = mk(42);

	(void)state;
	fix_init(&f, 0);
	put_n(&f, 42, 1);
	pvio_prod_publish(&f.p);
	assert_int_equal(pvio_cons_avail(&f.c), 1);
	assert_int_equal(pvio_cons_get(&f.c, &e, sizeof(e)), 0);
	/* a hostile producer rewrites the slot after the copy */
	memset(f.r.slots, 0x5a, T_ESIZE);
	assert_int_equal(e.seq, want.seq);
	assert_int_equal(e.check, want.check);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_ring_has_nothing_available),
		cmocka_unit_test(test_get_needs_avail_to_see_published_entries),
		cmocka_unit_test(test_put_on_full_ring_returns_enospc),
		cmocka_unit_test(test_release_gives_space_back_to_producer),
		cmocka_unit_test(test_indices_wrap_across_uint32_max_in_order),
		cmocka_unit_test(test_full_ring_across_wrap_returns_enospc),
		cmocka_unit_test(test_puts_are_invisible_until_publish),
		cmocka_unit_test(test_publish_stores_whole_batch_once),
		cmocka_unit_test(test_consumer_releases_batch_once),
		cmocka_unit_test(test_publish_no_doorbell_when_event_before_batch),
		cmocka_unit_test(test_publish_doorbell_when_event_at_first_entry),
		cmocka_unit_test(test_publish_doorbell_when_event_inside_batch),
		cmocka_unit_test(test_publish_doorbell_when_event_at_last_entry),
		cmocka_unit_test(test_publish_no_doorbell_when_event_after_batch),
		cmocka_unit_test(test_publish_event_checks_survive_index_wrap),
		cmocka_unit_test(test_publish_ignores_stale_event_from_before_wrap),
		cmocka_unit_test(test_publish_rings_once_per_arm),
		cmocka_unit_test(test_cons_arm_returns_avail_when_entries_arrived),
		cmocka_unit_test(test_cons_arm_returns_zero_when_empty_and_next_publish_rings),
		cmocka_unit_test(test_cons_arm_ahead_waits_for_more_than_ahead),
		cmocka_unit_test(test_cons_arm_rejects_ahead_of_ring_size_or_more),
		cmocka_unit_test(test_prod_arm_space_returns_space_when_free),
		cmocka_unit_test(test_prod_arm_space_rejects_bad_want),
		cmocka_unit_test(test_release_check_rings_when_armed_space_is_free),
		cmocka_unit_test(test_release_check_silent_when_producer_not_waiting),
		cmocka_unit_test(test_consume_accepts_prod_exactly_size_ahead),
		cmocka_unit_test(test_consume_rejects_prod_beyond_size),
		cmocka_unit_test(test_consume_rejects_prod_going_backwards),
		cmocka_unit_test(test_consumer_error_is_sticky_and_writes_nothing),
		cmocka_unit_test(test_produce_rejects_cons_beyond_published_prod),
		cmocka_unit_test(test_produce_accepts_cons_equal_to_published_prod),
		cmocka_unit_test(test_produce_rejects_cons_going_backwards),
		cmocka_unit_test(test_producer_error_is_sticky_and_writes_nothing),
		cmocka_unit_test(test_unpublished_entries_stay_unpublished_when_broken),
		cmocka_unit_test(test_attach_rejects_count_not_power_of_two),
		cmocka_unit_test(test_attach_rejects_zero_or_one_entry),
		cmocka_unit_test(test_attach_rejects_too_many_entries),
		cmocka_unit_test(test_attach_rejects_bad_entry_size),
		cmocka_unit_test(test_attach_accepts_geometry_limits),
		cmocka_unit_test(test_attach_rejects_prod_more_than_size_ahead),
		cmocka_unit_test(test_attach_rejects_cons_ahead_of_prod),
		cmocka_unit_test(test_attach_resumes_from_shared_indices),
		cmocka_unit_test(test_put_rejects_size_larger_than_entry),
		cmocka_unit_test(test_get_rejects_size_larger_than_entry),
		cmocka_unit_test(test_get_copies_only_size_bytes),
		cmocka_unit_test(test_get_copies_entry_out_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
