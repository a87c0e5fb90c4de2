/* SPDX-License-Identifier: MIT */
/*
 * pvio-backd: a backing store on an NBD export (store_nbd.c). The store
 * half (open, describe, flush, close) runs in process context; the queue
 * half (submit, poll, notify, reap) on each queue's own thread, one libnbd
 * handle per queue.
 */
#ifndef BACKD_STORE_NBD_H
#define BACKD_STORE_NBD_H

#include <stdbool.h>
#include <stdint.h>

#include "backd.h"

struct backd_nbd_conn;

bool backd_store_is_nbd(const char *path);
int backd_nbd_open(struct backd_store *st, const char *name, bool ro,
		   unsigned int conns);
int backd_nbd_flush(struct backd_store *st);
void backd_nbd_close(struct backd_store *st);

struct backd_nbd_conn *backd_nbd_conn(struct backd_store *st, unsigned int idx,
				      unsigned int depth, unsigned int max_cmds);
int backd_nbd_submit(struct backd_nbd_conn *c, unsigned int op, void *buf,
		     uint32_t len, uint64_t off, unsigned int flags, uint64_t ud);
int backd_nbd_fd(struct backd_nbd_conn *c);
unsigned int backd_nbd_events(struct backd_nbd_conn *c);
void backd_nbd_notify(struct backd_nbd_conn *c, unsigned int revents);
unsigned int backd_nbd_reap(struct backd_nbd_conn *c,
			    void (*fn)(void *opaque, uint64_t ud, int res),
			    void *opaque);

#endif /* BACKD_STORE_NBD_H */
