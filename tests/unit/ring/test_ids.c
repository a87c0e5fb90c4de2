// SPDX-License-Identifier: MIT
/*
 * Tests of ring/pvio_ids.h, the backends' table of request ids in flight:
 * an id in flight is refused a second time, ids whose probe chains
 * collide are found and deleted without losing each other, and a table
 * of a ring's size holds a ring's worth of ids under any churn.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pvio_ids.h"

#define ENTRIES 64u

struct fixture {
	struct pvio_ids t;
	__u32 key[2 * ENTRIES];
	__s32 slot[2 * ENTRIES];
};

static void fx_init(struct fixture *f)
{
	pvio_ids_init(&f->t, f->key, f->slot, ENTRIES);
}

/* The slot recorded for @id, or -1. */
static int slot_of(const struct fixture *f, __u32 id)
{
	int cell = pvio_ids_cell(&f->t, id);

	return cell < 0 ? -1 : f->slot[cell];
}

static void test_add_refuses_an_id_in_flight(void **state)
{
	struct fixture f;

	(void)state;
	fx_init(&f);
	assert_int_equal(pvio_ids_add(&f.t, 7, 0), 0);
	assert_int_equal(pvio_ids_add(&f.t, 7, 1), -EEXIST);
	assert_int_equal(slot_of(&f, 7), 0);
	pvio_ids_del(&f.t, 7);
	assert_int_equal(slot_of(&f, 7), -1);
	assert_int_equal(pvio_ids_add(&f.t, 7, 1), 0);
	assert_int_equal(slot_of(&f, 7), 1);
}

static void test_del_of_unknown_id_changes_nothing(void **state)
{
	struct fixture f;

	(void)state;
	fx_init(&f);
	assert_int_equal(pvio_ids_add(&f.t, 1, 3), 0);
	pvio_ids_del(&f.t, 2);
	assert_int_equal(slot_of(&f, 1), 3);
}

/* Ids that share a home cell: 128 cells, so ids 128 apart collide. */
static void test_colliding_ids_survive_deletes_in_any_order(void **state)
{
	struct fixture f;
	__u32 ids[6], i, k;

	(void)state;
	fx_init(&f);
	for (i = 0; i < 6; i++) {
		ids[i] = 5 + i * 2 * ENTRIES;
		assert_int_equal(pvio_ids_home(&f.t, ids[i]), pvio_ids_home(&f.t, ids[0]));
		assert_int_equal(pvio_ids_add(&f.t, ids[i], (__s32)i), 0);
	}
	for (k = 0; k < 6; k += 2) {
		pvio_ids_del(&f.t, ids[k]);
		for (i = 0; i < 6; i++)
			assert_int_equal(slot_of(&f, ids[i]),
					 (i <= k && i % 2 == 0) ? -1 : (int)i);
	}
}

static void test_a_ring_of_ids_under_churn(void **state)
{
	struct fixture f;
	__u32 live[ENTRIES], next = 0, rng = 12345, i, round;

	(void)state;
	fx_init(&f);
	for (i = 0; i < ENTRIES; i++) {
		live[i] = next++ * 2654435761u;
		assert_int_equal(pvio_ids_add(&f.t, live[i], (__s32)i), 0);
	}
	for (round = 0; round < 20000; round++) {
		rng = rng * 1103515245u + 12345u;
		i = (rng >> 8) % ENTRIES;
		pvio_ids_del(&f.t, live[i]);
		assert_int_equal(slot_of(&f, live[i]), -1);
		live[i] = next++ * 2654435761u;
		assert_int_equal(pvio_ids_add(&f.t, live[i], (__s32)i), 0);
	}
	for (i = 0; i < ENTRIES; i++)
		assert_int_equal(slot_of(&f, live[i]), (int)i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_refuses_an_id_in_flight),
		cmocka_unit_test(test_del_of_unknown_id_changes_nothing),
		cmocka_unit_test(test_colliding_ids_survive_deletes_in_any_order),
		cmocka_unit_test(test_a_ring_of_ids_under_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
