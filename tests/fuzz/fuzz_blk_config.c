// SPDX-License-Identifier: MIT
/*
 * Fuzz target: block config parsing (pvio_blk_limits_from_config() in
 * ring/blk_proto.c), which a frontend runs on the config it copied out of
 * the region header and a backend on the config it is about to publish.
 *
 * Input: the 256-byte struct pvio_blk_config (shorter inputs are padded
 * with zeros). An accepted config must satisfy every rule of
 * include/pvio/blk.h, checked again here, and must come back byte for
 * byte from pvio_blk_config_from_limits() (nothing dropped or invented).
 */
#include "fuzz_common.h"
#include "blk_proto.h"

static bool pow2(__u64 v)
{
	return v && !(v & (v - 1));
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
	struct pvio_blk_config cfg, back;
	struct pvio_blk_limits lim;
	const char *reason = NULL;
	struct fz f;
	int ret;

	fz_init(&f, data, size);
	fz_bytes(&f, &cfg, sizeof(cfg));
	ret = pvio_blk_limits_from_config(&cfg, &lim, &reason);
	FZ_ASSERT(reason != NULL);
	FZ_ASSERT(ret == 0 || ret == -EINVAL);
	if (ret)
		return 0;
	FZ_ASSERT(lim.capacity >= 1 && lim.capacity <= (~0ull >> 9));
	FZ_ASSERT(pow2(lim.logical_block_size) &&
		  lim.logical_block_size >= 512 &&
		  lim.logical_block_size <= 4096);
	FZ_ASSERT(pow2(lim.physical_block_size) &&
		  lim.physical_block_size >= lim.logical_block_size);
	FZ_ASSERT(lim.max_segments >= 1);
	FZ_ASSERT(lim.max_segment_size >= lim.logical_block_size);
	FZ_ASSERT((__u64)lim.max_transfer_sectors * 512 >=
		  lim.logical_block_size);
	FZ_ASSERT(lim.discard_granularity == 0 ||
		  (pow2(lim.discard_granularity) &&
		   lim.discard_granularity >= lim.logical_block_size));
	FZ_ASSERT(!(lim.attrs & ~PVIO_BLK_ATTR_MASK));
	FZ_ASSERT(lim.queue_depth >= 1);
	pvio_blk_config_from_limits(&lim, &back);
	FZ_ASSERT(memcmp(&cfg, &back, sizeof(cfg)) == 0);
	return 0;
}
