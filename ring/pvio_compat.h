/* SPDX-License-Identifier: MIT */
/*
 * The one compatibility header that code shared by kernel and userspace
 * sees: shared-memory access with explicit ordering, byte order, branch
 * hints and error numbers. Nothing else differs between the two builds.
 *
 * Ordering primitives:
 *   pvio_load_acquire(p)     later loads/stores stay after this load
 *   pvio_store_release(p, v) earlier loads/stores stay before this store
 *   pvio_mb()                full fence: orders earlier stores before later
 *                            loads (the store->load case acquire/release
 *                            cannot give, needed by event-index re-checks)
 *   PVIO_READ_ONCE/WRITE_ONCE a single, untorn access with no ordering
 *   pvio_copy_from_shared()  a copy out of shared memory, each byte read once
 *   pvio_all_zero()          whether a private copy's bytes are all zero
 * Userspace maps them to C11 atomics (through the GCC/Clang builtins), so
 * ThreadSanitizer sees every pairing; the kernel maps them to its own.
 */
#ifndef PVIO_COMPAT_H
#define PVIO_COMPAT_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <asm/barrier.h>
#include <asm/byteorder.h>

#define pvio_load_acquire(p) smp_load_acquire(p)
#define pvio_store_release(p, v) smp_store_release(p, v)
#define pvio_mb() smp_mb()
#define PVIO_READ_ONCE(x) READ_ONCE(x)
#define PVIO_WRITE_ONCE(x, v) WRITE_ONCE(x, v)
#define pvio_likely(x) likely(x)
#define pvio_unlikely(x) unlikely(x)

#define pvio_le16_to_cpu(x) le16_to_cpu(x)
#define pvio_le32_to_cpu(x) le32_to_cpu(x)
#define pvio_le64_to_cpu(x) le64_to_cpu(x)
#define pvio_cpu_to_le16(x) cpu_to_le16(x)
#define pvio_cpu_to_le32(x) cpu_to_le32(x)
#define pvio_cpu_to_le64(x) cpu_to_le64(x)

#else /* userspace */

#include <linux/types.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define pvio_load_acquire(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define pvio_store_release(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)
#if defined(PVIO_UNDER_TSAN) || defined(__SANITIZE_THREAD__)
/* ThreadSanitizer does not model standalone fences and GCC rejects them
 * under -fsanitize=thread (-Werror=tsan). A sequentially consistent
 * read-modify-write is still a full fence in hardware (a locked instruction
 * on x86, a fully ordered atomic on arm64), so the store->load ordering the
 * event-index re-checks need is kept in sanitizer builds too. */
static inline void pvio_mb_rmw(void)
{
	int fence = 0;

	__atomic_fetch_add(&fence, 0, __ATOMIC_SEQ_CST);
}
#define pvio_mb() pvio_mb_rmw()
#else
#define pvio_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#define PVIO_READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define PVIO_WRITE_ONCE(x, v) __atomic_store_n(&(x), v, __ATOMIC_RELAXED)
#define pvio_likely(x) __builtin_expect(!!(x), 1)
#define pvio_unlikely(x) __builtin_expect(!!(x), 0)

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PVIO_BSWAP_LE(bits, x) ((__u##bits)(x))
#else
#define PVIO_BSWAP_LE(bits, x) ((__u##bits)__builtin_bswap##bits(x))
#endif
static inline __u16 pvio_le16_to_cpu(__le16 x) { return PVIO_BSWAP_LE(16, x); }
static inline __u32 pvio_le32_to_cpu(__le32 x) { return PVIO_BSWAP_LE(32, x); }
static inline __u64 pvio_le64_to_cpu(__le64 x) { return PVIO_BSWAP_LE(64, x); }
static inline __le16 pvio_cpu_to_le16(__u16 x) { return (__le16)PVIO_BSWAP_LE(16, x); }
static inline __le32 pvio_cpu_to_le32(__u32 x) { return (__le32)PVIO_BSWAP_LE(32, x); }
static inline __le64 pvio_cpu_to_le64(__u64 x) { return (__le64)PVIO_BSWAP_LE(64, x); }

#endif /* __KERNEL__ */

/**
 * pvio_copy_from_shared() - copy @n bytes out of memory the peer can write.
 * @dst: private memory
 * @src: shared memory
 * @n: bytes
 *
 * A plain memcpy() from shared memory is not one read: the compiler may
 * drop the private copy and read the shared bytes again wherever the copy
 * is used later (it assumes nothing else writes ordinary memory), so a
 * value checked on the copy could differ from the value used. Every shared
 * byte here goes through one PVIO_READ_ONCE, which the compiler must
 * perform exactly once, into private memory; the checks and uses that
 * follow see only that memory. An 8-aligned source is read in 8-byte words
 * (ring entries and header fields are 8-byte multiples, 8-aligned) and its
 * tail in bytes; an unaligned one in bytes. With a constant @n this inlines
 * to one alignment test and a run of loads. No ordering: pair it with an
 * acquire where the peer publishes what is copied.
 *
 * Context: any.
 */
static inline void pvio_copy_from_shared(void *dst, const void *src, size_t n)
{
	unsigned char *d = (unsigned char *)dst;
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0;

	if (((unsigned long)s & 7) == 0) {
		for (; i + 8 <= n; i += 8) {
			__u64 w = PVIO_READ_ONCE(*(const __u64 *)(s + i));

			memcpy(d + i, &w, sizeof(w));
		}
	}
	for (; i < n; i++)
		d[i] = PVIO_READ_ONCE(s[i]);
}

/**
 * pvio_all_zero() - are @n bytes of private memory all zero?
 * @p: a private copy (reserved fields, unused entries)
 * @n: bytes
 *
 * Context: any.
 * Return: true if every byte is zero (also for @n == 0).
 */
static inline bool pvio_all_zero(const void *p, size_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

#endif /* PVIO_COMPAT_H */
