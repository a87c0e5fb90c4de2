/* SPDX-License-Identifier: MIT */
/*
 * The byte stream of the network tests: net_xfer sends and checks it,
 * pvnet_peer checks and sends it across the same TCP connections, so both
 * must produce the very same bytes for a seed. xorshift64* (Vigna), one
 * 64-bit word every 8 bytes, low byte first.
 */
#ifndef PVIO_TESTS_XFER_STREAM_H
#define PVIO_TESTS_XFER_STREAM_H
#include <stddef.h>
#include <stdint.h>

struct xfer_stream {
	uint64_t state;
	uint64_t word;
	unsigned int left; /* bytes of @word not yet handed out */
};

static inline void xfer_stream_init(struct xfer_stream *s, uint64_t seed)
{
	s->state = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	if (!s->state)
		s->state = 1;
	s->left = 0;
}

static inline uint8_t xfer_stream_byte(struct xfer_stream *s)
{
	uint8_t b;

	if (!s->left) {
		s->state ^= s->state >> 12;
		s->state ^= s->state << 25;
		s->state ^= s->state >> 27;
		s->word = s->state * 0x2545f4914f6cdd1dull;
		s->left = 8;
	}
	b = (uint8_t)s->word;
	s->word >>= 8;
	s->left--;
	return b;
}

static inline void xfer_stream_fill(struct xfer_stream *s, uint8_t *p, size_t n)
{
	while (n--)
		*p++ = xfer_stream_byte(s);
}
#endif /* PVIO_TESTS_XFER_STREAM_H */
