/* SPDX-License-Identifier: MIT */
/*
 * pvio_ids: the ids of the requests a backend has taken off a queue and
 * not answered yet, for every backend (pvio-backd, pvblkback), kernel and
 * userspace.
 *
 * The protocol rule it carries: an id names at most one outstanding
 * request (include/pvio/blk.h); a frontend that sends an id already in
 * flight breaks the queue. pvio_ids_add() is the one check of that rule.
 *
 * Open addressing with linear probing over 2 * entries cells (entries: the
 * queue's ring size, which bounds what is in flight), so a probe chain
 * stays short and the table never fills. The caller allocates the two
 * arrays; nothing here allocates, locks or sleeps. One user at a time (the
 * queue's worker).
 *
 * Sees only pvio_compat.h.
 */
#ifndef PVIO_RING_IDS_H
#define PVIO_RING_IDS_H

#include "pvio_compat.h"

struct pvio_ids {
	__u32 *key;  /* 2 * entries: the id in each used cell */
	__s32 *slot; /* 2 * entries: the caller's slot for it, -1 when free */
	__u32 mask;  /* 2 * entries - 1 */
};

/**
 * pvio_ids_init() - an empty table.
 * @t: the table
 * @key: 2 * @entries cells
 * @slot: 2 * @entries cells
 * @entries: most ids in flight at once; a power of two (a ring's size)
 *
 * Context: any.
 */
static inline void pvio_ids_init(struct pvio_ids *t, __u32 *key, __s32 *slot,
				 __u32 entries)
{
	__u32 i;

	t->key = key;
	t->slot = slot;
	t->mask = 2 * entries - 1;
	for (i = 0; i <= t->mask; i++)
		t->slot[i] = -1;
}

static inline __u32 pvio_ids_home(const struct pvio_ids *t, __u32 id)
{
	return (id * 0x9e3779b1u) & t->mask;
}

/* The cell holding @id, or -1. */
static inline int pvio_ids_cell(const struct pvio_ids *t, __u32 id)
{
	__u32 i;

	for (i = pvio_ids_home(t, id); t->slot[i] >= 0; i = (i + 1) & t->mask)
		if (t->key[i] == id)
			return (int)i;
	return -1;
}

/**
 * pvio_ids_add() - record that request @id is in flight in @slot.
 * @t: the table
 * @id: the frontend's id
 * @slot: the caller's slot for the request, >= 0
 *
 * Context: any.
 * Return: 0; -EEXIST when @id is in flight already (the frontend broke
 * the queue; nothing is recorded).
 */
static inline int pvio_ids_add(struct pvio_ids *t, __u32 id, __s32 slot)
{
	__u32 i;

	if (pvio_ids_cell(t, id) >= 0)
		return -EEXIST;
	for (i = pvio_ids_home(t, id); t->slot[i] >= 0; i = (i + 1) & t->mask)
		;
	t->key[i] = id;
	t->slot[i] = slot;
	return 0;
}

/**
 * pvio_ids_del() - request @id is answered.
 * @t: the table
 * @id: an id recorded with pvio_ids_add(); others are ignored
 *
 * Backward-shift deletion keeps every probe chain unbroken.
 *
 * Context: any.
 */
static inline void pvio_ids_del(struct pvio_ids *t, __u32 id)
{
	int cell = pvio_ids_cell(t, id);
	__u32 i, j, k;

	if (cell < 0)
		return;
	i = j = (__u32)cell;
	t->slot[i] = -1;
	for (;;) {
		j = (j + 1) & t->mask;
		if (t->slot[j] < 0)
			return;
		k = pvio_ids_home(t, t->key[j]);
		/* Entry j stays if its home k lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->key[i] = t->key[j];
		t->slot[i] = t->slot[j];
		t->slot[j] = -1;
		i = j;
	}
}

#endif /* PVIO_RING_IDS_H */
