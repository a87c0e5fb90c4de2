// SPDX-License-Identifier: MIT
/*
 * pvio connection handshake, both roles; see handshake.h and the steps in
 * include/pvio/region.h. Each call reads the peer's fields once, into
 * locals, and decides on those.
 */
#include "pvio_compat.h"
#include "handshake.h"

static __u32 hs_load_state(const struct pvio_side *side)
{
	/* Acquire: pairs with the peer's release of its state; what the peer
	 * wrote before publishing it (features, generation, a layout, its
	 * last answers) is read after it. */
	return pvio_le32_to_cpu(pvio_load_acquire(&side->state));
}

static void hs_store_state(struct pvio_side *side, __u32 state)
{
	/* Release: everything this side wrote before (features, generation,
	 * ring attach, last answers) is visible before the new state; pairs
	 * with the peer's acquire in hs_load_state(). */
	pvio_store_release(&side->state, pvio_cpu_to_le32(state));
}

/**
 * pvio_hs_front_offer() - step 2: accept features and say INITIALISED.
 * @hs: frontend state; @hs->hdr, @hs->wanted and @hs->required set
 * @reason: a short description of why not ("ok" on success)
 *
 * Reads back.state (acquire), then back.features and back.generation once;
 * accepts back.features & @hs->wanted, bumps front.generation and
 * publishes front.state = INITIALISED last (release). The caller rings
 * the backend's vector 0 on success, then waits with pvio_hs_front_poll().
 *
 * Context: any; does not sleep.
 * Return: 0; -EAGAIN if back.state is not INITWAIT (not ready yet, or not
 * for us: retry after a doorbell or a bounded wait); -EOPNOTSUPP if the
 * backend lacks a feature of @hs->required (nothing written).
 */
int pvio_hs_front_offer(struct pvio_hs_front *hs, const char **reason)
{
	struct pvio_region_hdr *hdr = hs->hdr;
	__u64 offered;
	__u32 gen;

	*reason = "ok";
	if (hs_load_state(&hdr->back) != PVIO_STATE_INITWAIT) {
		*reason = "backend not in INITWAIT";
		return -EAGAIN;
	}
	offered = pvio_le64_to_cpu(PVIO_READ_ONCE(hdr->back.features));
	if ((offered & hs->required) != hs->required) {
		*reason = "backend lacks required features";
		return -EOPNOTSUPP;
	}
	hs->back_generation =
		pvio_le32_to_cpu(PVIO_READ_ONCE(hdr->back.generation));
	hs->features = offered & hs->wanted;
	gen = pvio_le32_to_cpu(PVIO_READ_ONCE(hdr->front.generation));
	PVIO_WRITE_ONCE(hdr->front.features, pvio_cpu_to_le64(hs->features));
	PVIO_WRITE_ONCE(hdr->front.generation, pvio_cpu_to_le32(gen + 1));
	hs_store_state(&hdr->front, PVIO_STATE_INITIALISED);
	hs->state = PVIO_STATE_INITIALISED;
	return 0;
}

/**
 * pvio_hs_front_poll() - has the backend answered step 2?
 * @hs: frontend state, after pvio_hs_front_offer()
 * @reason: a short description of a failure ("ok" otherwise)
 *
 * Context: any; does not sleep.
 * Return: 0 when back.state is CONNECTED (attach the rings, then
 * pvio_hs_front_set_state(CONNECTED)); -EAGAIN while it is still INITWAIT;
 * -ECONNREFUSED if the backend refused (CLOSING or CLOSED); -EPROTO if
 * back.generation changed (another backend instance, or a new layout) or
 * back.state is anything else.
 */
int pvio_hs_front_poll(struct pvio_hs_front *hs, const char **reason)
{
	struct pvio_region_hdr *hdr = hs->hdr;
	__u32 state = hs_load_state(&hdr->back);
	__u32 gen = pvio_le32_to_cpu(PVIO_READ_ONCE(hdr->back.generation));

	*reason = "ok";
	if (gen != hs->back_generation) {
		*reason = "backend generation changed";
		return -EPROTO;
	}
	switch (state) {
	case PVIO_STATE_CONNECTED:
		return 0;
	case PVIO_STATE_INITWAIT:
		return -EAGAIN;
	case PVIO_STATE_CLOSING:
	case PVIO_STATE_CLOSED:
		*reason = "backend refused the connection";
		return -ECONNREFUSED;
	default:
		*reason = "backend in unexpected state";
		return -EPROTO;
	}
}

/**
 * pvio_hs_front_set_state() - publish front.state.
 * @hs: frontend state
 * @state: PVIO_STATE_CONNECTED (step 4), CLOSING or CLOSED
 *
 * Release store: what the frontend wrote before is visible first. The
 * caller rings vector 0 when the backend must act (CLOSING).
 *
 * Context: any; does not sleep.
 */
void pvio_hs_front_set_state(struct pvio_hs_front *hs, __u32 state)
{
	hs_store_state(&hs->hdr->front, state);
	hs->state = state;
}

/**
 * pvio_hs_front_next_backend() - after the backend went away, is the
 * region now one to connect to (include/pvio/region.h, "Backend restart")?
 * @hs: frontend state
 * @l: what pvio_region_check() just returned for the region
 * @offered: our offer already went to the instance of generation
 *           hs->back_generation, which we wait for
 * @gone_gen: without @offered, the generation of the instance that went
 *            away
 * @closed: set when the backend sits in CLOSED: it lays the region out
 *          again only once the frontend says CLOSED too (orderly close),
 *          so the caller publishes CLOSED unless it already did
 *
 * Context: any; does not sleep.
 * Return: 0 if @l is the instance to offer to (INITWAIT with another
 * generation than @gone_gen) or, with @offered, still the one offered to;
 * -EAGAIN if not, or not yet: the old instance, a layout under way, a
 * closed backend.
 */
int pvio_hs_front_next_backend(const struct pvio_hs_front *hs,
			       const struct pvio_region_layout *l,
			       bool offered, __u32 gone_gen, bool *closed)
{
	*closed = false;
	if (offered ? l->back_generation == hs->back_generation :
	    l->back_state == PVIO_STATE_INITWAIT &&
	    l->back_generation != gone_gen)
		return 0;
	*closed = l->back_state == PVIO_STATE_CLOSED;
	return -EAGAIN;
}

/**
 * pvio_hs_front_backend_alive() - still the backend negotiated with?
 * @hs: frontend state, connected
 *
 * Context: any; does not sleep.
 * Return: 1 if back.state is CONNECTED and back.generation is the one
 * negotiated with, 0 otherwise (the backend closed, restarted or laid the
 * region out again).
 */
int pvio_hs_front_backend_alive(const struct pvio_hs_front *hs)
{
	const struct pvio_region_hdr *hdr = hs->hdr;
	__u32 state = hs_load_state(&hdr->back);
	__u32 gen = pvio_le32_to_cpu(PVIO_READ_ONCE(hdr->back.generation));

	return state == PVIO_STATE_CONNECTED && gen == hs->back_generation;
}

/**
 * pvio_hs_back_init() - start the backend's machine after step 1.
 * @hs: backend state to fill
 * @hdr: the shared header, just laid out (back.state INITWAIT)
 * @offered: the features published in back.features
 *
 * Called after every pvio_region_layout(), including a re-layout.
 *
 * Context: any.
 */
void pvio_hs_back_init(struct pvio_hs_back *hs, struct pvio_region_hdr *hdr,
		       __u64 offered)
{
	hs->hdr = hdr;
	hs->offered = offered;
	hs->accepted = 0;
	hs->state = PVIO_STATE_INITWAIT;
	hs->front_generation = 0;
}

/**
 * pvio_hs_back_step() - what the frontend's state asks of the backend.
 * @hs: backend state
 * @reason: why, for PVIO_HS_BACK_REFUSED ("ok" otherwise)
 *
 * Reads front.state once (acquire) and, at INITIALISED, front.features and
 * front.generation once. Only REFUSED changes the header (back.state =
 * CLOSED); the caller rings vector 0 after it, and after its own
 * pvio_hs_back_set_state() for the other actions.
 *
 * Context: any; does not sleep.
 * Return: PVIO_HS_BACK_CONNECT in INITWAIT with the frontend INITIALISED
 * and features within the offer (@hs->accepted set); PVIO_HS_BACK_REFUSED
 * when it accepted features never offered; PVIO_HS_BACK_CLOSE in CONNECTED
 * with the frontend CLOSING or CLOSED; PVIO_HS_BACK_RELAYOUT in CLOSED with
 * the frontend CLOSED; PVIO_HS_BACK_NONE otherwise.
 */
enum pvio_hs_back_action pvio_hs_back_step(struct pvio_hs_back *hs,
					   const char **reason)
{
	struct pvio_region_hdr *hdr = hs->hdr;
	__u32 front = hs_load_state(&hdr->front);
	__u64 feats;

	*reason = "ok";
	switch (hs->state) {
	case PVIO_STATE_INITWAIT:
		if (front != PVIO_STATE_INITIALISED)
			return PVIO_HS_BACK_NONE;
		feats = pvio_le64_to_cpu(PVIO_READ_ONCE(hdr->front.features));
		if (feats & ~hs->offered) {
			hs->accepted = feats;
			*reason = "frontend accepted features beyond those offered";
			pvio_hs_back_set_state(hs, PVIO_STATE_CLOSED);
			return PVIO_HS_BACK_REFUSED;
		}
		hs->accepted = feats;
		hs->front_generation =
			pvio_le32_to_cpu(PVIO_READ_ONCE(hdr->front.generation));
		return PVIO_HS_BACK_CONNECT;
	case PVIO_STATE_CONNECTED:
		if (front == PVIO_STATE_CLOSING || front == PVIO_STATE_CLOSED)
			return PVIO_HS_BACK_CLOSE;
		return PVIO_HS_BACK_NONE;
	case PVIO_STATE_CLOSED:
		if (front == PVIO_STATE_CLOSED)
			return PVIO_HS_BACK_RELAYOUT;
		return PVIO_HS_BACK_NONE;
	default:
		return PVIO_HS_BACK_NONE;
	}
}

/**
 * pvio_hs_back_set_state() - publish back.state.
 * @hs: backend state
 * @state: PVIO_STATE_CONNECTED (step 3) or PVIO_STATE_CLOSED
 *
 * Release store: the ring attach or the last answers are visible first.
 * The caller rings vector 0.
 *
 * Context: any; does not sleep.
 */
void pvio_hs_back_set_state(struct pvio_hs_back *hs, __u32 state)
{
	hs_store_state(&hs->hdr->back, state);
	hs->state = state;
}
