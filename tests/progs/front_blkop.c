// SPDX-License-Identifier: MIT
/*
 * front_blkop - issue single block requests through the frontend library,
 * for integration tests against pvio-backd.
 *
 * Usage: front_blkop SOCK OP [ARGS] [OP [ARGS] ...]
 *   read SECTOR BYTES       prints "read: STATUS zero|nonzero"
 *   write SECTOR BYTES VAL  fills with byte VAL; prints "write: STATUS"
 *   flush | discard SECTOR BYTES | wzeroes SECTOR BYTES | getid
 *   info                    prints capacity, features, attrs
 * STATUS is OK, IOERR, UNSUPP, INVAL, RANGE, ROFS or NOSPC. Exit 0 when
 * every request got an answer (whatever its status), 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpvio/pvio_front.h"

static const char *const st_names[] = {
	"OK", "IOERR", "UNSUPP", "INVAL", "RANGE", "ROFS", "NOSPC",
};

static unsigned char buf[1 << 20];

int main(int argc, char **argv)
{
	struct pvio_front_opts fo = { .features_wanted = PVIO_BLK_F_ALL };
	struct pvio_front_queue *q;
	struct pvio_front *f;
	int i, ret;

	if (argc < 3) {
		fprintf(stderr, "usage: front_blkop SOCK OP [ARGS] ...\n");
		return 2;
	}
	fo.socket_path = argv[1];
	ret = pvio_front_connect(&fo, &f);
	if (ret) {
		fprintf(stderr, "front_blkop: connect: %s\n", strerror(-ret));
		return 1;
	}
	q = pvio_front_queue(f, 0);
	for (i = 2; i < argc;) {
		const char *op = argv[i++];
		struct pvio_front_req r = { 0 };
		struct pvio_front_cqe c;
		bool nonzero = false;
		size_t k;

		if (!strcmp(op, "info")) {
			struct pvio_front_info in;

			pvio_front_info(f, &in);
			printf("info: capacity %" PRIu64 " features %#" PRIx64 " attrs %#x\n",
			       in.capacity, in.features, in.attrs);
			continue;
		}
		if (!strcmp(op, "read") || !strcmp(op, "write") ||
		    !strcmp(op, "discard") || !strcmp(op, "wzeroes")) {
			if (i + 2 > argc)
				goto usage;
			r.sector = strtoull(argv[i++], NULL, 0);
			r.len = (uint32_t)strtoul(argv[i++], NULL, 0);
		}
		if (!strcmp(op, "read")) {
			r.op = PVIO_BLK_OP_READ;
			r.buf = buf;
		} else if (!strcmp(op, "write")) {
			if (i >= argc)
				goto usage;
			r.op = PVIO_BLK_OP_WRITE;
			memset(buf, (int)strtoul(argv[i++], NULL, 0), r.len);
			r.buf = buf;
		} else if (!strcmp(op, "flush")) {
			r.op = PVIO_BLK_OP_FLUSH;
		} else if (!strcmp(op, "discard")) {
			r.op = PVIO_BLK_OP_DISCARD;
		} else if (!strcmp(op, "wzeroes")) {
			r.op = PVIO_BLK_OP_WRITE_ZEROES;
		} else if (!strcmp(op, "getid")) {
			r.op = PVIO_BLK_OP_GET_ID;
			r.len = 512;
			r.buf = buf;
			memset(buf, 0, 512);
		} else {
			goto usage;
		}
		if (r.len > sizeof(buf))
			goto usage;
		ret = pvio_front_run(q, &r, 10000, &c);
		if (ret) {
			fprintf(stderr, "front_blkop: %s: %s\n", op, strerror(-ret));
			pvio_front_close(f);
			return 1;
		}
		if (c.status < 0 || c.status > (int)PVIO_BLK_S_MAX) {
			fprintf(stderr, "front_blkop: %s: failed: %s\n", op, strerror(-c.status));
			pvio_front_close(f);
			return 1;
		}
		if (r.op == PVIO_BLK_OP_READ) {
			for (k = 0; k < r.len; k++)
				nonzero |= buf[k] != 0;
			printf("read: %s %s\n", st_names[c.status],
			       c.status ? "-" : nonzero ? "nonzero" : "zero");
		} else if (r.op == PVIO_BLK_OP_GET_ID) {
			printf("getid: %s %.20s\n", st_names[c.status], (char *)buf);
		} else {
			printf("%s: %s\n", op, st_names[c.status]);
		}
	}
	ret = pvio_front_close(f);
	return ret ? 1 : 0;

usage:
	fprintf(stderr, "front_blkop: bad request arguments\n");
	pvio_front_close(f);
	return 2;
}
