// SPDX-License-Identifier: MIT
/*
 * Tests of a backend restart at the ring level (include/pvio/region.h,
 * "Backend restart"; pvio_prod_reset()/pvio_cons_reset()): a region laid
 * out, a frontend connected with requests in the ring, the backend laid
 * out again with a new generation (data kept), the frontend's stale
 * publishes into the new rings, the reset that undoes them, the indices
 * the new backend finds, and the replayed requests, one of which the
 * backend thus sees twice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pvio/blk.h>

#include "handshake.h"
#include "pvio_ring.h"
#include "region.h"

#define RSIZE (256u * 1024u)
#define ENTRIES 8u
#define FEATS (PVIO_BLK_F_FLUSH | PVIO_BLK_F_FUA)

struct rc_fix {
	unsigned char *mem;
	struct pvio_region_params par;
	struct pvio_region_layout lay;
	unsigned char cfg[PVIO_CONFIG_SIZE];
	/* frontend */
	struct pvio_hs_front fhs;
	struct pvio_prod freq;
	struct pvio_cons frsp;
	/* backend */
	struct pvio_hs_back bhs;
	struct pvio_cons breq;
	struct pvio_prod brsp;
	unsigned int seen[16]; /* times the backend took each id */
};

static struct pvio_ring_shared *ring_at(struct rc_fix *x, __u64 off)
{
	return (struct pvio_ring_shared *)(x->mem + off);
}

static struct pvio_region_hdr *hdr_of(struct rc_fix *x)
{
	return (struct pvio_region_hdr *)x->mem;
}

static void back_layout(struct rc_fix *x, __u32 generation)
{
	x->par.generation = generation;
	assert_int_equal(pvio_region_layout(x->mem, &x->par, &x->lay), 0);
	pvio_hs_back_init(&x->bhs, hdr_of(x), FEATS);
}

/* Steps 2-4; @reset: the frontend's ring ends were used before. */
static void handshake(struct rc_fix *x, bool reset)
{
	const struct pvio_region_queue *d = &x->lay.queues[0];
	struct pvio_region_layout chk;
	const char *why;

	assert_int_equal(pvio_region_check(x->mem, RSIZE, &chk, &why), 0);
	assert_int_equal(chk.back_state, PVIO_STATE_INITWAIT);
	if (reset) {
		assert_int_equal(pvio_prod_reset(&x->freq, ring_at(x, d->req_ring_off),
						 d->req_entries, d->req_entry_size), 0);
		assert_int_equal(pvio_cons_reset(&x->frsp, ring_at(x, d->rsp_ring_off),
						 d->rsp_entries, d->rsp_entry_size), 0);
	}
	assert_int_equal(pvio_hs_front_offer(&x->fhs, &why), 0);
	assert_int_equal(pvio_hs_back_step(&x->bhs, &why), PVIO_HS_BACK_CONNECT);
	assert_int_equal(pvio_cons_attach(&x->breq, ring_at(x, d->req_ring_off),
					  d->req_entries, d->req_entry_size), 0);
	assert_int_equal(pvio_prod_attach(&x->brsp, ring_at(x, d->rsp_ring_off),
					  d->rsp_entries, d->rsp_entry_size), 0);
	pvio_hs_back_set_state(&x->bhs, PVIO_STATE_CONNECTED);
	assert_int_equal(pvio_hs_front_poll(&x->fhs, &why), 0);
	if (!reset) {
		assert_int_equal(pvio_prod_attach(&x->freq, ring_at(x, d->req_ring_off),
						  d->req_entries, d->req_entry_size), 0);
		assert_int_equal(pvio_cons_attach(&x->frsp, ring_at(x, d->rsp_ring_off),
						  d->rsp_entries, d->rsp_entry_size), 0);
	}
	pvio_hs_front_set_state(&x->fhs, PVIO_STATE_CONNECTED);
	assert_int_equal(pvio_hs_front_backend_alive(&x->fhs), 1);
}

static void front_put(struct rc_fix *x, __u32 id)
{
	struct pvio_blk_req r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(id);
	r.op = pvio_cpu_to_le16(PVIO_BLK_OP_FLUSH);
	assert_int_equal(pvio_prod_put(&x->freq, &r, sizeof(r)), 0);
}

/* The backend takes up to @max requests; returns their ids in @ids. */
static int back_take(struct rc_fix *x, __u32 *ids, int max)
{
	struct pvio_blk_req r;
	int n = 0, avail = pvio_cons_avail(&x->breq);

	assert_true(avail >= 0);
	while (n < max && n < avail) {
		assert_int_equal(pvio_cons_get(&x->breq, &r, sizeof(r)), 0);
		ids[n] = pvio_le32_to_cpu(r.id);
		assert_true(ids[n] < 16);
		x->seen[ids[n]]++;
		n++;
	}
	pvio_cons_release(&x->breq);
	return n;
}

static void back_answer(struct rc_fix *x, __u32 id)
{
	struct pvio_blk_rsp r;

	memset(&r, 0, sizeof(r));
	r.id = pvio_cpu_to_le32(id);
	assert_int_equal(pvio_prod_put(&x->brsp, &r, sizeof(r)), 0);
	pvio_prod_publish(&x->brsp);
}

static __u32 front_reap_one(struct rc_fix *x)
{
	struct pvio_blk_rsp r;

	assert_int_equal(pvio_cons_avail(&x->frsp), 1);
	assert_int_equal(pvio_cons_get(&x->frsp, &r, sizeof(r)), 0);
	pvio_cons_release(&x->frsp);
	return pvio_le32_to_cpu(r.id);
}

static int setup(void **state)
{
	struct rc_fix *x = calloc(1, sizeof(*x));

	if (!x || posix_memalign((void **)&x->mem, 4096, RSIZE))
		return -1;
	memset(x->mem, 0xee, RSIZE);
	x->par = (struct pvio_region_params){
		.region_size = RSIZE,
		.dev_class = PVIO_CLASS_BLK,
		.num_queues = 1,
		.ring_entries = ENTRIES,
		.req_entry_size = sizeof(struct pvio_blk_req),
		.rsp_entry_size = sizeof(struct pvio_blk_rsp),
		.data_size = 65536,
		.features = FEATS,
		.config = x->cfg,
		.clear_data = 1,
	};
	back_layout(x, 1);
	x->par.clear_data = 0; /* every later layout is a restart */
	x->fhs.hdr = hdr_of(x);
	x->fhs.wanted = FEATS;
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct rc_fix *x = *state;

	free(x->mem);
	free(x);
	return 0;
}

/* Connected, ids 0-2 sent; the backend took 0 and 1 and answered 0. */
static void connect_and_send(struct rc_fix *x)
{
	__u32 ids[8];

	handshake(x, false);
	front_put(x, 0);
	front_put(x, 1);
	front_put(x, 2);
	pvio_prod_publish(&x->freq);
	assert_int_equal(back_take(x, ids, 2), 2);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 1);
	back_answer(x, 0);
	assert_int_equal(front_reap_one(x), 0);
}

static void test_restart_keeps_data_new_generation(void **state)
{
	struct rc_fix *x = *state;
	const struct pvio_region_queue *d = &x->lay.queues[0];
	struct pvio_region_layout before = x->lay, chk;
	const char *why;

	connect_and_send(x);
	memset(x->mem + d->data_off, 0x5a, 4096); /* a tag buffer's data */
	back_layout(x, 2);
	assert_int_equal(pvio_hs_front_backend_alive(&x->fhs), 0);
	assert_int_equal(pvio_region_check(x->mem, RSIZE, &chk, &why), 0);
	assert_int_equal(chk.back_generation, 2);
	assert_int_equal(chk.num_queues, before.num_queues);
	assert_memory_equal(&chk.queues[0], &before.queues[0], sizeof(chk.queues[0]));
	assert_int_equal(x->mem[d->data_off], 0x5a);
	assert_int_equal(x->mem[d->data_off + 4095], 0x5a);
	/* The rings are laid out empty. */
	assert_int_equal(pvio_le32_to_cpu(ring_at(x, d->req_ring_off)->prod), 0);
	assert_int_equal(pvio_le32_to_cpu(ring_at(x, d->rsp_ring_off)->prod), 0);
}

static void test_old_ends_refuse_the_new_rings(void **state)
{
	struct rc_fix *x = *state;

	connect_and_send(x);
	back_layout(x, 2);
	/* Without a reset the frontend's private indices no longer fit the
	 * rings. The response producer went back from 1 to 0: refused.
	 * The request consumer index reads 0, which is still within what
	 * the stale producer last validated (0), so it goes unnoticed and
	 * the producer believes 5 slots free: it would publish into the new
	 * ring, which is why the frontend resets its ends before step 2. */
	assert_int_equal(pvio_cons_avail(&x->frsp), -EPROTO);
	assert_int_equal(pvio_prod_space(&x->freq, ENTRIES + 1), (int)ENTRIES - 3);
}

static void test_stale_publish_undone_by_reset(void **state)
{
	struct rc_fix *x = *state;
	const struct pvio_region_queue *d = &x->lay.queues[0];
	struct pvio_ring_shared *rq = ring_at(x, d->req_ring_off);
	struct pvio_ring_shared *rs = ring_at(x, d->rsp_ring_off);
	struct pvio_cons probe = { 0 };

	connect_and_send(x);
	back_layout(x, 2);
	/* The frontend, not yet aware, publishes id 3 and frees the
	 * response slot again: its old indices land in the new rings. */
	front_put(x, 3);
	pvio_prod_publish(&x->freq);
	assert_int_equal(pvio_le32_to_cpu(rq->prod), 4);
	PVIO_WRITE_ONCE(rs->cons, pvio_cpu_to_le32(1));
	/* A backend attaching now would take four stale entries. */
	assert_int_equal(pvio_cons_attach(&probe, rq, d->req_entries,
					  d->req_entry_size), 0);
	assert_int_equal(pvio_cons_avail(&probe), 4);

	assert_int_equal(pvio_prod_reset(&x->freq, rq, d->req_entries,
					 d->req_entry_size), 0);
	assert_int_equal(pvio_cons_reset(&x->frsp, rs, d->rsp_entries,
					 d->rsp_entry_size), 0);
	assert_int_equal(pvio_le32_to_cpu(rq->prod), 0);
	assert_int_equal(pvio_le32_to_cpu(rq->cons_event), 0);
	assert_int_equal(pvio_le32_to_cpu(rs->cons), 0);
	assert_int_equal(pvio_le32_to_cpu(rs->prod_event), 0);
	assert_int_equal(x->freq.prod, 0);
	assert_int_equal(x->freq.pub, 0);
	assert_int_equal(x->frsp.cons, 0);
	assert_int_equal(pvio_prod_space(&x->freq, ENTRIES + 1), (int)ENTRIES);
	assert_int_equal(pvio_cons_avail(&x->frsp), 0);
}

static void test_replay_after_restart(void **state)
{
	struct rc_fix *x = *state;
	const struct pvio_region_queue *d = &x->lay.queues[0];
	__u32 ids[8], i;

	connect_and_send(x);
	back_layout(x, 2);
	front_put(x, 3); /* stale, as above */
	pvio_prod_publish(&x->freq);
	handshake(x, true);
	/* The new backend found empty rings. */
	assert_int_equal(x->breq.cons, 0);
	assert_int_equal(x->breq.prod_seen, 0);
	assert_int_equal(x->brsp.prod, 0);
	assert_int_equal(x->brsp.cons_seen, 0);
	assert_int_equal(pvio_cons_avail(&x->breq), 0);
	assert_int_equal(x->fhs.back_generation, 2);

	/* Replay what is outstanding (1, 2, 3), in the order first sent. */
	front_put(x, 1);
	front_put(x, 2);
	front_put(x, 3);
	assert_true(pvio_prod_publish(&x->freq));
	assert_int_equal(back_take(x, ids, 8), 3);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 2);
	assert_int_equal(ids[2], 3);
	/* At least once: id 1 reached both backend instances. */
	assert_int_equal(x->seen[0], 1);
	assert_int_equal(x->seen[1], 2);
	assert_int_equal(x->seen[2], 1);
	assert_int_equal(x->seen[3], 1);
	for (i = 0; i < 3; i++) {
		back_answer(x, ids[i]);
		assert_int_equal(front_reap_one(x), ids[i]);
	}
	assert_int_equal(pvio_le32_to_cpu(ring_at(x, d->req_ring_off)->cons), 3);
	assert_int_equal(pvio_le32_to_cpu(ring_at(x, d->rsp_ring_off)->cons), 3);
}

static void test_repeated_restarts(void **state)
{
	struct rc_fix *x = *state;
	__u32 ids[8], gen;

	connect_and_send(x);
	for (gen = 2; gen < 40; gen++) {
		back_layout(x, gen);
		assert_int_equal(pvio_hs_front_backend_alive(&x->fhs), 0);
		handshake(x, true);
		assert_int_equal(x->fhs.back_generation, gen);
		front_put(x, 1);
		front_put(x, 2);
		pvio_prod_publish(&x->freq);
		/* Takes one, answers nothing, dies. */
		assert_int_equal(back_take(x, ids, 1), 1);
		assert_int_equal(ids[0], 1);
	}
	assert_int_equal(x->seen[1], 1 + 38);
	assert_int_equal(x->seen[2], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_restart_keeps_data_new_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_ends_refuse_the_new_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_publish_undone_by_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_restarts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
