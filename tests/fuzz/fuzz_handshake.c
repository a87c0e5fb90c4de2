// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the connection handshake state machines (ring/handshake.c),
 * both roles, each against a hostile peer: the fuzzer writes the peer's
 * side of the header between any two steps.
 *
 * Two headers: on one the frontend machine runs and the fuzzer plays the
 * backend (writes hdr->back); on the other the backend machine runs and
 * the fuzzer plays the frontend (writes hdr->front).
 *
 * Input (little-endian; missing bytes read as zero):
 *   24 B  frontend's wanted and required features, backend's offer
 *   then  operations, one byte each followed by its operands (see below)
 *
 * Checked after every step: a machine never writes the peer's side of the
 * header, nor anything but its own state, generation and features; what it
 * publishes is what it says it published; features accepted are within
 * the offer; every return value is one its kernel-doc allows, and the
 * backend's action is the one the protocol table (include/pvio/region.h)
 * gives for its state and the frontend state it read.
 */
#include "fuzz_common.h"
#include "handshake.h"

static struct pvio_region_hdr hdr_f, hdr_b;

/* The fuzzer's write of a peer side: state (small values mostly, so the
 * known states come up often), generation, features. */
static void peer_write(struct fz *f, struct pvio_side *side)
{
	__u8 what = fz_u8(f);

	if (what & 1) {
		__u32 st = fz_u8(f);

		side->state = pvio_cpu_to_le32(st < 0xf0 ? st % 8 : st << 24);
	}
	if (what & 2)
		side->generation = pvio_cpu_to_le32(fz_u32(f));
	if (what & 4)
		side->features = pvio_cpu_to_le64(fz_u64(f));
	if (what & 8)
		fz_bytes(f, side->reserved, sizeof(side->reserved));
}

static void front_step(struct fz *f, struct pvio_hs_front *hs, __u8 op)
{
	struct pvio_side back = hdr_f.back, front = hdr_f.front;
	const char *reason = NULL;
	__u64 offered = pvio_le64_to_cpu(back.features);
	int ret;

	switch (op % 4) {
	case 0:
		ret = pvio_hs_front_offer(hs, &reason);
		FZ_ASSERT(reason != NULL);
		if (ret == 0) {
			FZ_ASSERT(pvio_le32_to_cpu(back.state) == PVIO_STATE_INITWAIT);
			FZ_ASSERT((offered & hs->required) == hs->required);
			FZ_ASSERT(hs->features == (offered & hs->wanted));
			FZ_ASSERT(hs->back_generation ==
				  pvio_le32_to_cpu(back.generation));
			FZ_ASSERT(pvio_le64_to_cpu(hdr_f.front.features) == hs->features);
			FZ_ASSERT(pvio_le32_to_cpu(hdr_f.front.generation) ==
				  pvio_le32_to_cpu(front.generation) + 1);
			FZ_ASSERT(pvio_le32_to_cpu(hdr_f.front.state) ==
				  PVIO_STATE_INITIALISED);
			FZ_ASSERT(hs->state == PVIO_STATE_INITIALISED);
		} else {
			FZ_ASSERT(ret == -EAGAIN || ret == -EOPNOTSUPP);
			FZ_ASSERT(memcmp(&front, &hdr_f.front, sizeof(front)) == 0);
		}
		break;
	case 1:
		ret = pvio_hs_front_poll(hs, &reason);
		FZ_ASSERT(reason != NULL);
		if (pvio_le32_to_cpu(back.generation) != hs->back_generation)
			FZ_ASSERT(ret == -EPROTO);
		else if (pvio_le32_to_cpu(back.state) == PVIO_STATE_CONNECTED)
			FZ_ASSERT(ret == 0);
		else
			FZ_ASSERT(ret == -EAGAIN || ret == -ECONNREFUSED ||
				  ret == -EPROTO);
		FZ_ASSERT(memcmp(&front, &hdr_f.front, sizeof(front)) == 0);
		break;
	case 2: {
		static const __u32 st[] = { PVIO_STATE_CONNECTED,
					    PVIO_STATE_CLOSING,
					    PVIO_STATE_CLOSED };
		__u32 s = st[fz_u8(f) % 3];

		pvio_hs_front_set_state(hs, s);
		FZ_ASSERT(pvio_le32_to_cpu(hdr_f.front.state) == s && hs->state == s);
		FZ_ASSERT(hdr_f.front.generation == front.generation &&
			  hdr_f.front.features == front.features);
		break;
	}
	default:
		ret = pvio_hs_front_backend_alive(hs);
		FZ_ASSERT(ret == (pvio_le32_to_cpu(back.state) == PVIO_STATE_CONNECTED &&
				  pvio_le32_to_cpu(back.generation) ==
				  hs->back_generation));
		FZ_ASSERT(memcmp(&front, &hdr_f.front, sizeof(front)) == 0);
		break;
	}
	/* The frontend never writes the backend's side. */
	FZ_ASSERT(memcmp(&back, &hdr_f.back, sizeof(back)) == 0);
}

static void back_step(struct fz *f, struct pvio_hs_back *hs, __u8 op)
{
	struct pvio_side back = hdr_b.back, front = hdr_b.front;
	__u32 fs = pvio_le32_to_cpu(front.state), was = hs->state;
	__u64 feats = pvio_le64_to_cpu(front.features);
	enum pvio_hs_back_action a;
	const char *reason = NULL;

	switch (op % 3) {
	case 0:
		a = pvio_hs_back_step(hs, &reason);
		FZ_ASSERT(reason != NULL);
		switch (was) {
		case PVIO_STATE_INITWAIT:
			if (fs != PVIO_STATE_INITIALISED) {
				FZ_ASSERT(a == PVIO_HS_BACK_NONE);
			} else if (feats & ~hs->offered) {
				FZ_ASSERT(a == PVIO_HS_BACK_REFUSED);
				FZ_ASSERT(hs->state == PVIO_STATE_CLOSED);
				FZ_ASSERT(pvio_le32_to_cpu(hdr_b.back.state) ==
					  PVIO_STATE_CLOSED);
			} else {
				FZ_ASSERT(a == PVIO_HS_BACK_CONNECT);
				FZ_ASSERT(hs->accepted == feats);
				FZ_ASSERT(!(hs->accepted & ~hs->offered));
				FZ_ASSERT(hs->front_generation ==
					  pvio_le32_to_cpu(front.generation));
			}
			break;
		case PVIO_STATE_CONNECTED:
			FZ_ASSERT(a == ((fs == PVIO_STATE_CLOSING ||
					 fs == PVIO_STATE_CLOSED) ?
					PVIO_HS_BACK_CLOSE : PVIO_HS_BACK_NONE));
			break;
		case PVIO_STATE_CLOSED:
			FZ_ASSERT(a == (fs == PVIO_STATE_CLOSED ?
					PVIO_HS_BACK_RELAYOUT : PVIO_HS_BACK_NONE));
			break;
		default:
			FZ_ASSERT(a == PVIO_HS_BACK_NONE);
		}
		if (a != PVIO_HS_BACK_REFUSED) {
			FZ_ASSERT(hs->state == was);
			FZ_ASSERT(memcmp(&back, &hdr_b.back, sizeof(back)) == 0);
		}
		break;
	case 1: {
		__u32 s = fz_u8(f) & 1 ? PVIO_STATE_CONNECTED : PVIO_STATE_CLOSED;

		pvio_hs_back_set_state(hs, s);
		FZ_ASSERT(pvio_le32_to_cpu(hdr_b.back.state) == s && hs->state == s);
		FZ_ASSERT(hdr_b.back.generation == back.generation &&
			  hdr_b.back.features == back.features);
		break;
	}
	default:
		/* A re-layout (step 1 again): INITWAIT with a new offer. */
		hs->offered = fz_u64(f) & PVIO_F_CLASS_MASK;
		hdr_b.back.features = pvio_cpu_to_le64(hs->offered);
		hdr_b.back.generation =
			pvio_cpu_to_le32(pvio_le32_to_cpu(hdr_b.back.generation) + 1);
		hdr_b.back.state = pvio_cpu_to_le32(PVIO_STATE_INITWAIT);
		pvio_hs_back_init(hs, &hdr_b, hs->offered);
		FZ_ASSERT(hs->state == PVIO_STATE_INITWAIT && hs->accepted == 0);
		back = hdr_b.back;
		break;
	}
	/* The backend never writes the frontend's side. */
	FZ_ASSERT(memcmp(&front, &hdr_b.front, sizeof(front)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * LLVMFuzzerTestOneInput() - run one input (libFuzzer's entry point).
 * @data: the input, in the format described at the top of this file
 * @size: its length
 *
 * Context: process; libFuzzer calls it once per input, one at a time.
 * Return: 0 (a broken invariant aborts instead).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvio_hs_front hf;
	struct pvio_hs_back hb;
	unsigned int steps = 0;
	__u64 offered;
	struct fz f;

	fz_init(&f, data, size);
	memset(&hdr_f, 0, sizeof(hdr_f));
	memset(&hdr_b, 0, sizeof(hdr_b));
	memset(&hf, 0, sizeof(hf));
	hf.hdr = &hdr_f;
	hf.wanted = fz_u64(&f);
	hf.required = fz_u64(&f) & hf.wanted;
	offered = fz_u64(&f) & PVIO_F_CLASS_MASK;
	/* Step 1 on the backend's header, as pvio_region_layout() ends. */
	hdr_b.back.features = pvio_cpu_to_le64(offered);
	hdr_b.back.state = pvio_cpu_to_le32(PVIO_STATE_INITWAIT);
	pvio_hs_back_init(&hb, &hdr_b, offered);

	while (fz_left(&f) && steps++ < 1024) {
		__u8 op = fz_u8(&f);

		switch (op % 4) {
		case 0:
			peer_write(&f, &hdr_f.back);
			break;
		case 1:
			front_step(&f, &hf, op >> 2);
			break;
		case 2:
			peer_write(&f, &hdr_b.front);
			break;
		default:
			back_step(&f, &hb, op >> 2);
			break;
		}
	}
	return 0;
}
