/* SPDX-License-Identifier: MIT */
/*
 * pvio connection handshake (include/pvio/region.h, steps 1-4 and the
 * orderly close), one state machine per role, shared by every frontend and
 * backend in kernel and userspace. The machines read the peer's side of
 * the header once per step (acquire), act on that copy, and publish their
 * own state last (release). They never ring doorbells or sleep: the caller
 * rings vector 0 when a call says so and decides how long to wait (every
 * wait is bounded by the caller; DESIGN.md rule 6).
 *
 * Frontend:
 *   pvio_hs_front_offer()   step 2 (back.state must be INITWAIT)
 *   pvio_hs_front_poll()    wait for step 3: CONNECTED, refused, or broken
 *   pvio_hs_front_set_state() step 4 (CONNECTED), CLOSING, CLOSED
 *   pvio_hs_front_backend_alive() while connected: same backend still there?
 *   pvio_hs_front_next_backend() after it went away: a new instance yet?
 * Backend (after pvio_region_layout() published INITWAIT, step 1):
 *   pvio_hs_back_step()     on every control doorbell and periodically
 *   pvio_hs_back_set_state() CONNECTED (step 3) or CLOSED
 *
 * Sees only pvio_compat.h.
 */
#ifndef PVIO_RING_HANDSHAKE_H
#define PVIO_RING_HANDSHAKE_H

#include "pvio_compat.h"
#include "region.h"
#include <pvio/region.h>

struct pvio_hs_front {
	struct pvio_region_hdr *hdr; /* the shared header */
	__u64 wanted;     /* class features the frontend can use */
	__u64 required;   /* features without which it cannot work */
	__u64 features;   /* accepted: offered & wanted (after offer) */
	__u32 back_generation; /* the backend generation negotiated with */
	__u32 state;      /* the state this side last published */
};

/* What pvio_hs_back_step() found the backend must do. */
enum pvio_hs_back_action {
	PVIO_HS_BACK_NONE = 0, /* nothing changed */
	PVIO_HS_BACK_CONNECT,  /* frontend INITIALISED with valid features
				* (in hs->accepted): attach rings, then set
				* CONNECTED */
	PVIO_HS_BACK_REFUSED,  /* frontend accepted features never offered:
				* back.state is now CLOSED; log @reason */
	PVIO_HS_BACK_CLOSE,    /* frontend CLOSING/CLOSED while connected:
				* answer what was taken, stop, set CLOSED */
	PVIO_HS_BACK_RELAYOUT, /* closed and the frontend acknowledged CLOSED:
				* lay the region out again (step 1) */
};

struct pvio_hs_back {
	struct pvio_region_hdr *hdr; /* the shared header */
	__u64 offered;   /* features published in back.features */
	__u64 accepted;  /* front.features, checked (after CONNECT) */
	__u32 state;     /* the state this side last published */
	__u32 front_generation; /* front.generation seen at CONNECT */
};

int pvio_hs_front_offer(struct pvio_hs_front *hs, const char **reason);
int pvio_hs_front_poll(struct pvio_hs_front *hs, const char **reason);
void pvio_hs_front_set_state(struct pvio_hs_front *hs, __u32 state);
int pvio_hs_front_backend_alive(const struct pvio_hs_front *hs);
int pvio_hs_front_next_backend(const struct pvio_hs_front *hs,
			       const struct pvio_region_layout *l,
			       bool offered, __u32 gone_gen, bool *closed);

void pvio_hs_back_init(struct pvio_hs_back *hs, struct pvio_region_hdr *hdr,
		       __u64 offered);
enum pvio_hs_back_action pvio_hs_back_step(struct pvio_hs_back *hs,
					   const char **reason);
void pvio_hs_back_set_state(struct pvio_hs_back *hs, __u32 state);

#endif /* PVIO_RING_HANDSHAKE_H */
