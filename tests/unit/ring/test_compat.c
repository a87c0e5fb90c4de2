// SPDX-License-Identifier: MIT
/*
 * Tests of ring/pvio_compat.h: pvio_copy_from_shared() copies exactly the
 * bytes asked for, whatever the alignment of either side and the length,
 * and touches nothing around them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pvio_compat.h"

#define BUF 96

static void fill(unsigned char *b, size_t n, unsigned char seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (unsigned char)(seed + i * 7);
}

static void test_copy_from_shared_every_length_and_alignment(void **state)
{
	_Alignas(8) unsigned char src[BUF + 16];
	_Alignas(8) unsigned char dst[BUF + 16];
	size_t so, doff, n;

	(void)state;
	fill(src, sizeof(src), 3);
	for (so = 0; so < 8; so++) {
		for (doff = 0; doff < 8; doff++) {
			for (n = 0; n <= BUF; n++) {
				memset(dst, 0xcc, sizeof(dst));
				pvio_copy_from_shared(dst + doff, src + so, n);
				if (memcmp(dst + doff, src + so, n))
					fail_msg("src+%zu dst+%zu n %zu: wrong bytes",
						 so, doff, n);
				/* Nothing written before or after. */
				for (size_t i = 0; i < doff; i++)
					assert_int_equal(dst[i], 0xcc);
				for (size_t i = doff + n; i < sizeof(dst); i++)
					assert_int_equal(dst[i], 0xcc);
			}
		}
	}
}

static void test_copy_from_shared_ring_entry_sizes(void **state)
{
	_Alignas(8) unsigned char src[4096];
	_Alignas(8) unsigned char dst[4096];
	static const size_t sizes[] = { 8, 16, 24, 64, 256, 4096 };
	size_t i;

	(void)state;
	fill(src, sizeof(src), 11);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(dst, 0, sizeof(dst));
		pvio_copy_from_shared(dst, src, sizes[i]);
		assert_memory_equal(dst, src, sizes[i]);
		if (sizes[i] < sizeof(dst))
			assert_int_equal(dst[sizes[i]], 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_from_shared_every_length_and_alignment),
		cmocka_unit_test(test_copy_from_shared_ring_entry_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
