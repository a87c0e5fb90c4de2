/* SPDX-License-Identifier: MIT */
/*
 * pvio ABI basics shared by every protocol header.
 *
 * Every structure that crosses the shared region is made of fixed-width
 * little-endian fields (__le16/__le32/__le64) or single bytes, has explicit
 * reserved fields that the writer sets to zero and the reader rejects when
 * non-zero, and has its size and field offsets asserted at compile time next
 * to its definition. There are no packed structures and no per-architecture
 * variants: the natural alignment of every field already equals its size.
 *
 * This header, like every header in include/pvio/, compiles alone as C99, as
 * C++ and inside a Linux kernel module.
 */
#ifndef PVIO_ABI_H
#define PVIO_ABI_H

#include <linux/types.h>

#ifdef __KERNEL__
#include <linux/stddef.h>
#else
#include <stddef.h>
#endif

#ifdef __cplusplus
#define PVIO_ABI_ASSERT(expr, msg) static_assert(expr, msg)
#else
#define PVIO_ABI_ASSERT(expr, msg) __extension__ _Static_assert(expr, msg)
#endif

/* Assert the byte offset of a field; used next to every ABI structure. */
#define PVIO_ABI_OFFSET(type, field, off) \
	PVIO_ABI_ASSERT(offsetof(type, field) == (off), #type "." #field " offset")
#define PVIO_ABI_SIZE(type, size) \
	PVIO_ABI_ASSERT(sizeof(type) == (size), #type " size")

/* Cache-line distance that keeps one side's fields away from the other's.
 * 128 rather than 64 bytes: x86's adjacent-line prefetcher pulls lines in
 * pairs, which would otherwise make two 64-byte lines false-share. */
#define PVIO_CACHELINE 128u

#endif /* PVIO_ABI_H */
