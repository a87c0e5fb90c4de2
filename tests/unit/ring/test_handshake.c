// SPDX-License-Identifier: MIT
/*
 * Tests of ring/handshake.c: both roles' state machines over one header,
 * step by step, with refused and required features, a peer that changes
 * generation, and each state a hostile peer can publish.
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

#define OFFERED (PVIO_BLK_F_FLUSH | PVIO_BLK_F_FUA | PVIO_BLK_F_INDIRECT)

static struct pvio_region_hdr *hdr;
static struct pvio_hs_front fr;
static struct pvio_hs_back bk;
static const char *why;

/* What pvio_region_layout() leaves: front side zero, back INITWAIT. */
static int setup(void **state)
{
	(void)state;
	hdr = calloc(1, sizeof(*hdr));
	if (!hdr)
		return -1;
	hdr->back.generation = pvio_cpu_to_le32(7);
	hdr->back.features = pvio_cpu_to_le64(OFFERED);
	hdr->back.state = pvio_cpu_to_le32(PVIO_STATE_INITWAIT);
	pvio_hs_back_init(&bk, hdr, OFFERED);
	memset(&fr, 0, sizeof(fr));
	fr.hdr = hdr;
	fr.wanted = PVIO_BLK_F_FLUSH | (1ull << 9);
	fr.required = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(hdr);
	return 0;
}

static __u32 front_state(void)
{
	return pvio_le32_to_cpu(hdr->front.state);
}

static __u32 back_state(void)
{
	return pvio_le32_to_cpu(hdr->back.state);
}

static void test_full_handshake_and_orderly_close(void **state)
{
	(void)state;
	assert_int_equal(bk.state, PVIO_STATE_INITWAIT);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_NONE);

	/* Step 2. */
	assert_int_equal(pvio_hs_front_offer(&fr, &why), 0);
	assert_string_equal(why, "ok");
	assert_int_equal(front_state(), PVIO_STATE_INITIALISED);
	assert_int_equal(fr.state, PVIO_STATE_INITIALISED);
	assert_int_equal(fr.features, PVIO_BLK_F_FLUSH);
	assert_int_equal(pvio_le64_to_cpu(hdr->front.features), PVIO_BLK_F_FLUSH);
	assert_int_equal(pvio_le32_to_cpu(hdr->front.generation), 1);
	assert_int_equal(fr.back_generation, 7);
	assert_int_equal(pvio_hs_front_poll(&fr, &why), -EAGAIN);

	/* Step 3. */
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_CONNECT);
	assert_int_equal(bk.accepted, PVIO_BLK_F_FLUSH);
	assert_int_equal(bk.front_generation, 1);
	assert_int_equal(back_state(), PVIO_STATE_INITWAIT); /* caller's to set */
	pvio_hs_back_set_state(&bk, PVIO_STATE_CONNECTED);
	assert_int_equal(back_state(), PVIO_STATE_CONNECTED);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_NONE);

	/* Step 4. */
	assert_int_equal(pvio_hs_front_poll(&fr, &why), 0);
	pvio_hs_front_set_state(&fr, PVIO_STATE_CONNECTED);
	assert_int_equal(front_state(), PVIO_STATE_CONNECTED);
	assert_int_equal(pvio_hs_front_backend_alive(&fr), 1);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_NONE);

	/* Orderly close. */
	pvio_hs_front_set_state(&fr, PVIO_STATE_CLOSING);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_CLOSE);
	pvio_hs_back_set_state(&bk, PVIO_STATE_CLOSED);
	assert_int_equal(pvio_hs_front_backend_alive(&fr), 0);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_NONE);
	pvio_hs_front_set_state(&fr, PVIO_STATE_CLOSED);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_RELAYOUT);
}

static void test_second_offer_bumps_front_generation(void **state)
{
	(void)state;
	hdr->front.generation = pvio_cpu_to_le32(41);
	assert_int_equal(pvio_hs_front_offer(&fr, &why), 0);
	assert_int_equal(pvio_le32_to_cpu(hdr->front.generation), 42);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_CONNECT);
	assert_int_equal(bk.front_generation, 42);
}

static void test_offer_needs_backend_in_initwait(void **state)
{
	static const __u32 not_ready[] = {
		PVIO_STATE_UNKNOWN, PVIO_STATE_INITIALISING,
		PVIO_STATE_INITIALISED, PVIO_STATE_CONNECTED,
		PVIO_STATE_CLOSING, PVIO_STATE_CLOSED, 99,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(not_ready) / sizeof(not_ready[0]); i++) {
		hdr->back.state = pvio_cpu_to_le32(not_ready[i]);
		assert_int_equal(pvio_hs_front_offer(&fr, &why), -EAGAIN);
		/* Nothing written on the frontend's side. */
		assert_int_equal(front_state(), 0);
		assert_int_equal(hdr->front.generation, 0);
	}
}

static void test_offer_refuses_missing_required_features(void **state)
{
	(void)state;
	fr.required = PVIO_BLK_F_FLUSH | PVIO_BLK_F_GET_ID;
	assert_int_equal(pvio_hs_front_offer(&fr, &why), -EOPNOTSUPP);
	assert_string_equal(why, "backend lacks required features");
	assert_int_equal(front_state(), 0);
	assert_int_equal(hdr->front.features, 0);

	/* Required but not wanted still connects; only wanted is accepted. */
	fr.required = PVIO_BLK_F_FUA;
	assert_int_equal(pvio_hs_front_offer(&fr, &why), 0);
	assert_int_equal(fr.features, PVIO_BLK_F_FLUSH);
}

static void test_backend_refuses_features_never_offered(void **state)
{
	(void)state;
	assert_int_equal(pvio_hs_front_offer(&fr, &why), 0);
	/* A hostile frontend rewrites its accepted set after the offer. */
	hdr->front.features = pvio_cpu_to_le64(OFFERED | (1ull << 20));
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_REFUSED);
	assert_string_equal(why, "frontend accepted features beyond those offered");
	assert_int_equal(back_state(), PVIO_STATE_CLOSED);
	assert_int_equal(bk.state, PVIO_STATE_CLOSED);
	/* The frontend sees the refusal. */
	assert_int_equal(pvio_hs_front_poll(&fr, &why), -ECONNREFUSED);
	assert_string_equal(why, "backend refused the connection");
	/* And once it acknowledges, the backend lays out again. */
	pvio_hs_front_set_state(&fr, PVIO_STATE_CLOSED);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_RELAYOUT);
}

static void test_front_poll_maps_every_backend_state(void **state)
{
	static const struct {
		__u32 st;
		int ret;
	} map[] = {
		{ PVIO_STATE_CONNECTED, 0 },
		{ PVIO_STATE_INITWAIT, -EAGAIN },
		{ PVIO_STATE_CLOSING, -ECONNREFUSED },
		{ PVIO_STATE_CLOSED, -ECONNREFUSED },
		{ PVIO_STATE_UNKNOWN, -EPROTO },
		{ PVIO_STATE_INITIALISING, -EPROTO },
		{ PVIO_STATE_INITIALISED, -EPROTO },
		{ 7, -EPROTO },
		{ 0xffffffffu, -EPROTO },
	};
	size_t i;

	(void)state;
	assert_int_equal(pvio_hs_front_offer(&fr, &why), 0);
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		hdr->back.state = pvio_cpu_to_le32(map[i].st);
		if (pvio_hs_front_poll(&fr, &why) != map[i].ret)
			fail_msg("back.state %u: %d, expected %d", map[i].st,
				 pvio_hs_front_poll(&fr, &why), map[i].ret);
	}
}

static void test_front_poll_detects_generation_change(void **state)
{
	(void)state;
	assert_int_equal(pvio_hs_front_offer(&fr, &why), 0);
	/* A new backend instance laid the region out again and connected. */
	hdr->back.generation = pvio_cpu_to_le32(8);
	hdr->back.state = pvio_cpu_to_le32(PVIO_STATE_CONNECTED);
	assert_int_equal(pvio_hs_front_poll(&fr, &why), -EPROTO);
	assert_string_equal(why, "backend generation changed");
	/* Even in INITWAIT: waiting would be for another instance. */
	hdr->back.state = pvio_cpu_to_le32(PVIO_STATE_INITWAIT);
	assert_int_equal(pvio_hs_front_poll(&fr, &why), -EPROTO);
}

static void test_backend_alive_needs_connected_and_same_generation(void **state)
{
	(void)state;
	assert_int_equal(pvio_hs_front_offer(&fr, &why), 0);
	hdr->back.state = pvio_cpu_to_le32(PVIO_STATE_CONNECTED);
	assert_int_equal(pvio_hs_front_backend_alive(&fr), 1);
	hdr->back.generation = pvio_cpu_to_le32(6);
	assert_int_equal(pvio_hs_front_backend_alive(&fr), 0);
	hdr->back.generation = pvio_cpu_to_le32(7);
	hdr->back.state = pvio_cpu_to_le32(PVIO_STATE_INITWAIT);
	assert_int_equal(pvio_hs_front_backend_alive(&fr), 0);
}

static void test_next_backend_is_a_new_instance_in_initwait(void **state)
{
	struct pvio_region_layout l = { .back_state = PVIO_STATE_INITWAIT,
					.back_generation = 7 };
	bool closed = true;

	(void)state;
	fr.back_generation = 7;
	/* The instance that went away, laid out as it was: wait. */
	assert_int_equal(pvio_hs_front_next_backend(&fr, &l, false, 7, &closed), -EAGAIN);
	assert_false(closed);
	/* A new generation, not yet in INITWAIT: wait. */
	l.back_generation = 8;
	l.back_state = PVIO_STATE_INITIALISING;
	assert_int_equal(pvio_hs_front_next_backend(&fr, &l, false, 7, &closed), -EAGAIN);
	l.back_state = PVIO_STATE_INITWAIT;
	assert_int_equal(pvio_hs_front_next_backend(&fr, &l, false, 7, &closed), 0);
	/* Offered to generation 8: still it, whatever its state... */
	fr.back_generation = 8;
	l.back_state = PVIO_STATE_CONNECTED;
	assert_int_equal(pvio_hs_front_next_backend(&fr, &l, true, 7, &closed), 0);
	/* ...until another instance lays the region out. */
	l.back_generation = 9;
	assert_int_equal(pvio_hs_front_next_backend(&fr, &l, true, 7, &closed), -EAGAIN);
	/* A closed backend waits for our CLOSED. */
	l.back_state = PVIO_STATE_CLOSED;
	l.back_generation = 7;
	assert_int_equal(pvio_hs_front_next_backend(&fr, &l, false, 7, &closed), -EAGAIN);
	assert_true(closed);
}

static void test_back_step_ignores_other_frontend_states(void **state)
{
	static const __u32 front[] = {
		PVIO_STATE_UNKNOWN, PVIO_STATE_INITIALISING, PVIO_STATE_INITWAIT,
		PVIO_STATE_CONNECTED, PVIO_STATE_CLOSING, PVIO_STATE_CLOSED, 1234,
	};
	size_t i;

	(void)state;
	/* INITWAIT: only INITIALISED moves the backend. */
	for (i = 0; i < sizeof(front) / sizeof(front[0]); i++) {
		hdr->front.state = pvio_cpu_to_le32(front[i]);
		assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_NONE);
		assert_int_equal(back_state(), PVIO_STATE_INITWAIT);
	}
	/* CONNECTED: only CLOSING/CLOSED close. */
	pvio_hs_back_set_state(&bk, PVIO_STATE_CONNECTED);
	hdr->front.state = pvio_cpu_to_le32(PVIO_STATE_INITIALISED);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_NONE);
	hdr->front.state = pvio_cpu_to_le32(99);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_NONE);
	hdr->front.state = pvio_cpu_to_le32(PVIO_STATE_CLOSED);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_CLOSE);
	/* CLOSED: waits for the frontend's CLOSED. */
	pvio_hs_back_set_state(&bk, PVIO_STATE_CLOSED);
	hdr->front.state = pvio_cpu_to_le32(PVIO_STATE_CONNECTED);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_NONE);
	hdr->front.state = pvio_cpu_to_le32(PVIO_STATE_CLOSING);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_NONE);
}

static void test_back_init_resets_after_relayout(void **state)
{
	(void)state;
	assert_int_equal(pvio_hs_front_offer(&fr, &why), 0);
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_CONNECT);
	pvio_hs_back_set_state(&bk, PVIO_STATE_CLOSED);
	pvio_hs_back_init(&bk, hdr, PVIO_BLK_F_FUA);
	assert_int_equal(bk.state, PVIO_STATE_INITWAIT);
	assert_int_equal(bk.accepted, 0);
	/* The new offer is what counts: FLUSH is no longer acceptable. */
	assert_int_equal(pvio_hs_back_step(&bk, &why), PVIO_HS_BACK_REFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_full_handshake_and_orderly_close),
		T(test_second_offer_bumps_front_generation),
		T(test_offer_needs_backend_in_initwait),
		T(test_offer_refuses_missing_required_features),
		T(test_backend_refuses_features_never_offered),
		T(test_front_poll_maps_every_backend_state),
		T(test_front_poll_detects_generation_change),
		T(test_backend_alive_needs_connected_and_same_generation),
		T(test_next_backend_is_a_new_instance_in_initwait),
		T(test_back_step_ignores_other_frontend_states),
		T(test_back_init_resets_after_relayout),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
