// SPDX-License-Identifier: MIT
/*
 * stamp - write self-describing 4 KiB blocks and check them afterwards, to
 * test that acknowledged writes survive backend restarts.
 *
 *   stamp write --dev PATH --blocks N (--count M | --seconds T) [--seed S]
 *               [--fua] [--log FILE] [--stall-ms MS]
 *   stamp write --pvio SOCKET --blocks N (--count M | --seconds T) [--seed S] [--fua]
 *               [--log FILE] [--qd Q] [--reconnect-ms MS]
 *               [--io-timeout-ms MS] [--keep-going]
 *   stamp verify --dev IMAGE --log FILE
 *
 * write: M writes (or as many as T seconds allow), sequence numbers 1..M; write number q goes to block
 * stamp_block(S, q) in [0, N), a function of the seed and the sequence
 * number only. Each block holds a header (magic, block number, sequence
 * number, seed, a checksum over the whole block taken with the checksum
 * field zero) and, after it, bytes generated from (seed, sequence number).
 * --dev writes a block device or a file with O_DIRECT, one write at a
 * time (O_DSYNC with --fua). --pvio writes through libpvio with up to Q
 * (default 8) writes in flight (PVIO_BLK_REQ_F_FUA with --fua), half of
 * them from caller memory and half zero-copy; it never has two writes to
 * one block in flight (it waits for the first to complete), as the block
 * layer does not either. The log starts with "STAMP seed S blocks N";
 * after a write succeeded, "ACK <block> <seq>" is appended and flushed; a
 * failed one is logged "ERR <block> <seq> <errno>" (and with --keep-going
 * the writer goes on; otherwise it stops at the first error). Exits 0, or
 * 1 with "stamp: K errors" on stderr. Progress goes to stderr every second;
 * with --pvio, the last line gives the library's reconnect and replay
 * counts and the longest time one write took ("... max-latency-ms L").
 * --dev prints "stamp: stall <seq> <ms>" on stderr for every write that
 * took longer than --stall-ms (default 50): one write at a time, so that
 * is the longest gap in the IO around a backend restart. SIGTERM or
 * SIGINT ends a run as --seconds does: no new write, those in flight are
 * finished and logged.
 *
 * verify: for each block B in the log's ACK lines let A be the highest
 * sequence number ACKed for B. B must hold a valid stamp (magic, checksum,
 * block number B, the log's seed) whose sequence number T satisfies
 * T == A, or T > A with T <= the highest sequence number in the log
 * plus Q_MAX (1024) and stamp_block(seed, T) == B: a write issued for B
 * after the last ACK, whose result was lost with the writer or reported
 * as an error (a failed write may have landed before the failure was
 * reported). T < A is a lost acknowledged write. Blocks without an ACK
 * are not checked. Prints "verified K blocks, 0 bad", or one line per bad
 * block and "verified K blocks, J bad" with exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libpvio/pvio_front.h"

#define STAMP_BS 4096u
#define STAMP_MAGIC 0x504d4154534f4950ull /* "PVIOSTMP" */
#define STAMP_QD_MAX 1024u

struct stamp_hdr {
	uint64_t magic;
	uint64_t block;
	uint64_t seq;
	uint64_t seed;
	uint64_t csum;
};

struct stamp_opts {
	const char *dev, *sock, *log;
	uint64_t blocks, count, seed;
	unsigned int seconds, stall_ms;
	unsigned int qd;
	int reconnect_ms, io_timeout_ms;
	bool fua, keep_going;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t stamp_block(uint64_t seed, uint64_t seq, uint64_t blocks)
{
	return mix64(seed * 0x9e3779b97f4a7c15ull + seq) % blocks;
}

static uint64_t stamp_csum(const unsigned char *b)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned int i;

	/* FNV-1a over the block, the checksum field read as zero. */
	for (i = 0; i < STAMP_BS; i++) {
		unsigned char c = b[i];

		if (i >= offsetof(struct stamp_hdr, csum) &&
		    i < offsetof(struct stamp_hdr, csum) + 8)
			c = 0;
		h = (h ^ c) * 0x100000001b3ull;
	}
	return h;
}

static void stamp_fill(unsigned char *b, uint64_t seed, uint64_t block,
		       uint64_t seq)
{
	struct stamp_hdr h = { STAMP_MAGIC, block, seq, seed, 0 };
	uint64_t x = mix64(seed ^ (seq << 20));
	unsigned int i;

	for (i = sizeof(h); i + 8 <= STAMP_BS; i += 8) {
		x = mix64(x + i);
		memcpy(b + i, &x, 8);
	}
	memcpy(b, &h, sizeof(h));
	h.csum = stamp_csum(b);
	memcpy(b, &h, sizeof(h));
}

/* 0 and the header if @b is a valid stamp, else a reason. */
static const char *stamp_check(const unsigned char *b, struct stamp_hdr *h)
{
	memcpy(h, b, sizeof(*h));
	if (h->magic != STAMP_MAGIC)
		return "no stamp";
	if (h->csum != stamp_csum(b))
		return "checksum mismatch";
	return NULL;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct writer {
	const struct stamp_opts *o;
	FILE *log;
	uint64_t acks, errs, next;
	long long last_progress, max_lat, end_ms;
};

static volatile sig_atomic_t stamp_stop;

static void stamp_on_term(int sig)
{
	(void)sig;
	stamp_stop = 1;
}

/* --seconds, SIGTERM or SIGINT: no new write, finish those in flight. */
static bool w_time_up(const struct writer *w)
{
	return stamp_stop || (w->end_ms && now_ms() >= w->end_ms);
}

static void w_logged(struct writer *w, uint64_t block, uint64_t seq, int err)
{
	if (err) {
		fprintf(w->log, "ERR %" PRIu64 " %" PRIu64 " %d\n", block, seq, err);
		w->errs++;
	} else {
		fprintf(w->log, "ACK %" PRIu64 " %" PRIu64 "\n", block, seq);
		w->acks++;
	}
	fflush(w->log);
}

static void w_progress(struct writer *w, bool last)
{
	long long t = now_ms();

	if (!last && t - w->last_progress < 1000)
		return;
	w->last_progress = t;
	fprintf(stderr, "stamp: %" PRIu64 " writes done, %" PRIu64 " acked, %" PRIu64 " errors\n",
		w->acks + w->errs, w->acks, w->errs);
}

static int write_dev(struct writer *w)
{
	const struct stamp_opts *o = w->o;
	unsigned char *buf;
	int fd;

	fd = open(o->dev, O_WRONLY | O_DIRECT | (o->fua ? O_DSYNC : 0));
	if (fd < 0) {
		fprintf(stderr, "stamp: %s: %s\n", o->dev, strerror(errno));
		return 2;
	}
	if (posix_memalign((void **)&buf, STAMP_BS, STAMP_BS))
		return 2;
	for (w->next = 1; w->next <= o->count && !w_time_up(w); w->next++) {
		uint64_t blk = stamp_block(o->seed, w->next, o->blocks);
		long long t0, lat;
		ssize_t n;

		stamp_fill(buf, o->seed, blk, w->next);
		t0 = now_ms();
		n = pwrite(fd, buf, STAMP_BS, (off_t)(blk * STAMP_BS));
		lat = now_ms() - t0;
		if (lat > w->max_lat)
			w->max_lat = lat;
		if (lat > (long long)o->stall_ms)
			fprintf(stderr, "stamp: stall %" PRIu64 " %lld\n", w->next, lat);
		w_logged(w, blk, w->next, n == (ssize_t)STAMP_BS ? 0 :
			 n < 0 ? errno : EIO);
		if (n != (ssize_t)STAMP_BS && !o->keep_going)
			break;
		w_progress(w, false);
	}
	free(buf);
	close(fd);
	return 0;
}

struct slot {
	bool busy;
	uint64_t block, seq;
	long long t0;
	unsigned char *ubuf; /* copy mode */
};

static int write_pvio(struct writer *w)
{
	const struct stamp_opts *o = w->o;
	struct pvio_front_opts fo = {
		.socket_path = o->sock,
		.queue_depth = o->qd,
		.features_wanted = PVIO_BLK_F_FUA,
		.features_required = o->fua ? PVIO_BLK_F_FUA : 0,
		.reconnect_ms = o->reconnect_ms,
		.io_timeout_ms = o->io_timeout_ms,
	};
	struct pvio_front_cqe cqe[64];
	struct pvio_front_info info;
	struct pvio_front_queue *q;
	struct pvio_front *f;
	struct slot *slots;
	unsigned int inflight = 0, i;
	bool stop = false;
	int ret, n;

	ret = pvio_front_connect(&fo, &f);
	if (ret) {
		fprintf(stderr, "stamp: connect %s: %s\n", o->sock, strerror(-ret));
		return 2;
	}
	q = pvio_front_queue(f, 0);
	pvio_front_info(f, &info);
	if (info.queue_depth < o->qd)
		fprintf(stderr, "stamp: queue depth %u\n", info.queue_depth);
	slots = calloc(info.queue_depth, sizeof(*slots));
	if (!slots)
		return 2;
	for (i = 0; i < info.queue_depth; i++)
		if (posix_memalign((void **)&slots[i].ubuf, STAMP_BS, STAMP_BS))
			return 2;
	w->next = 1;
	while (!stop || inflight) {
		/* Submit until the window is full or the next block is busy. */
		while (!stop && w->next <= o->count && !w_time_up(w) && inflight < o->qd &&
		       inflight < info.queue_depth) {
			uint64_t blk = stamp_block(o->seed, w->next, o->blocks);
			bool zc = w->next & 1;
			struct pvio_front_req r = {
				.op = PVIO_BLK_OP_WRITE,
				.flags = o->fua ? PVIO_BLK_REQ_F_FUA : 0,
				.sector = blk * (STAMP_BS / 512),
				.len = STAMP_BS,
				.user_data = w->next,
			};
			int tag;

			for (i = 0; i < info.queue_depth; i++)
				if (slots[i].busy && slots[i].block == blk)
					break;
			if (i < info.queue_depth)
				break; /* wait for the write in flight there */
			tag = pvio_front_tag_get(q);
			if (tag < 0)
				break;
			if (zc) {
				stamp_fill(pvio_front_tag_buf(q, tag), o->seed, blk, w->next);
			} else {
				stamp_fill(slots[tag].ubuf, o->seed, blk, w->next);
				r.buf = slots[tag].ubuf;
			}
			ret = pvio_front_submit(q, tag, &r);
			if (ret < 0) {
				pvio_front_tag_put(q, tag);
				w_logged(w, blk, w->next, -ret);
				w->next++;
				if (!o->keep_going)
					stop = true;
				else
					usleep(10000); /* down: do not spin */
				continue;
			}
			slots[tag] = (struct slot){ true, blk, w->next, now_ms(),
						    slots[tag].ubuf };
			inflight++;
			w->next++;
		}
		if (w->next > o->count || w_time_up(w))
			stop = true;
		ret = pvio_front_publish(q);
		if (ret < 0 && ret != -ENOTCONN && ret != -EPROTO) {
			fprintf(stderr, "stamp: publish: %s\n", strerror(-ret));
			break;
		}
		if (!inflight)
			continue;
		ret = pvio_front_wait(q, 1, 1000);
		if (ret < 0 && ret != -EPROTO && ret != -ENOTCONN) {
			fprintf(stderr, "stamp: wait: %s\n", strerror(-ret));
			break;
		}
		n = pvio_front_reap(q, cqe, 64);
		if (n == -EPROTO || (n < 0 && n != -ENOTCONN)) {
			fprintf(stderr, "stamp: reap: %s (%s)\n", strerror(-n),
				pvio_front_error(f));
			break;
		}
		for (i = 0; n > 0 && i < (unsigned int)n; i++) {
			struct slot *s = &slots[cqe[i].tag];
			long long lat = now_ms() - s->t0;
			int err = cqe[i].status < 0 ? -cqe[i].status :
				  cqe[i].status ? EIO : 0;

			if (lat > w->max_lat)
				w->max_lat = lat;
			w_logged(w, s->block, s->seq, err);
			if (err) {
				fprintf(stderr, "stamp: write %" PRIu64 " failed after %lld ms: %s\n",
					s->seq, lat, strerror(err));
				if (!o->keep_going)
					stop = true;
			}
			s->busy = false;
			inflight--;
		}
		w_progress(w, false);
	}
	pvio_front_info(f, &info);
	fprintf(stderr, "stamp: reconnects %" PRIu64 " replayed %" PRIu64 " max-latency-ms %lld\n",
		info.reconnects, info.replayed, w->max_lat);
	ret = pvio_front_close(f);
	if (ret && ret != -ENOTCONN)
		fprintf(stderr, "stamp: close: %s\n", strerror(-ret));
	for (i = 0; i < info.queue_depth; i++)
		free(slots[i].ubuf);
	free(slots);
	return inflight ? 2 : 0;
}

static int do_write(const struct stamp_opts *o)
{
	struct writer w = { .o = o, .last_progress = now_ms() };
	int ret;

	struct sigaction sa = { .sa_handler = stamp_on_term, .sa_flags = SA_RESTART };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (o->seconds)
		w.end_ms = now_ms() + (long long)o->seconds * 1000;
	w.log = o->log ? fopen(o->log, "w") : stdout;
	if (!w.log) {
		fprintf(stderr, "stamp: %s: %s\n", o->log, strerror(errno));
		return 2;
	}
	fprintf(w.log, "STAMP seed %" PRIu64 " blocks %" PRIu64 "\n", o->seed, o->blocks);
	fflush(w.log);
	ret = o->sock ? write_pvio(&w) : write_dev(&w);
	w_progress(&w, true);
	if (!o->sock)
		fprintf(stderr, "stamp: max-latency-ms %lld\n", w.max_lat);
	if (w.log != stdout)
		fclose(w.log);
	if (ret)
		return ret;
	if (w.errs) {
		fprintf(stderr, "stamp: %" PRIu64 " errors\n", w.errs);
		return 1;
	}
	return 0;
}

static int do_verify(const struct stamp_opts *o)
{
	uint64_t seed = 0, blocks = 0, maxseq = 0, b, s, k = 0, bad = 0;
	uint64_t *last;
	unsigned char *buf;
	char line[128];
	FILE *lf;
	int fd;

	lf = fopen(o->log, "r");
	if (!lf || !fgets(line, sizeof(line), lf) ||
	    sscanf(line, "STAMP seed %" SCNu64 " blocks %" SCNu64, &seed, &blocks) != 2 ||
	    !blocks) {
		fprintf(stderr, "stamp: %s: not a stamp log\n", o->log);
		return 2;
	}
	last = calloc(blocks, sizeof(*last));
	if (!last || posix_memalign((void **)&buf, STAMP_BS, STAMP_BS))
		return 2;
	while (fgets(line, sizeof(line), lf)) {
		int e;

		if (sscanf(line, "ACK %" SCNu64 " %" SCNu64, &b, &s) == 2) {
			if (b >= blocks || stamp_block(seed, s, blocks) != b) {
				fprintf(stderr, "stamp: bad log line: %s", line);
				return 2;
			}
			if (s > last[b])
				last[b] = s;
		} else if (sscanf(line, "ERR %" SCNu64 " %" SCNu64 " %d", &b, &s, &e) != 3) {
			fprintf(stderr, "stamp: bad log line: %s", line);
			return 2;
		}
		if (s > maxseq)
			maxseq = s;
	}
	fclose(lf);
	fd = open(o->dev, O_RDONLY | O_DIRECT);
	if (fd < 0)
		fd = open(o->dev, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "stamp: %s: %s\n", o->dev, strerror(errno));
		return 2;
	}
	for (b = 0; b < blocks; b++) {
		struct stamp_hdr h;
		const char *why;

		if (!last[b])
			continue;
		k++;
		if (pread(fd, buf, STAMP_BS, (off_t)(b * STAMP_BS)) != (ssize_t)STAMP_BS)
			why = "short read";
		else if ((why = stamp_check(buf, &h)))
			;
		else if (h.block != b || h.seed != seed)
			why = "stamp of another block or run";
		else if (h.seq < last[b])
			why = "older than the last acknowledged write";
		else if (h.seq > last[b] &&
			 (h.seq > maxseq + STAMP_QD_MAX ||
			  stamp_block(seed, h.seq, blocks) != b))
			why = "a write never issued for this block";
		if (why) {
			printf("bad block %" PRIu64 ": %s (acked seq %" PRIu64 ")\n",
			       b, why, last[b]);
			bad++;
		}
	}
	close(fd);
	free(buf);
	free(last);
	printf("verified %" PRIu64 " blocks, %" PRIu64 " bad\n", k, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "pvio", required_argument, NULL, 'p' },
		{ "blocks", required_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "stall-ms", required_argument, NULL, 'M' },
		{ "seed", required_argument, NULL, 's' },
		{ "fua", no_argument, NULL, 'f' },
		{ "log", required_argument, NULL, 'l' },
		{ "qd", required_argument, NULL, 'q' },
		{ "reconnect-ms", required_argument, NULL, 'r' },
		{ "io-timeout-ms", required_argument, NULL, 't' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct stamp_opts o = { .seed = 1, .qd = 8, .stall_ms = 50 };
	const char *cmd = argc > 1 ? argv[1] : "";
	int opt;

	optind = 2;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'd': o.dev = optarg; break;
		case 'p': o.sock = optarg; break;
		case 'b': o.blocks = strtoull(optarg, NULL, 0); break;
		case 'c': o.count = strtoull(optarg, NULL, 0); break;
		case 'S': o.seconds = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'M': o.stall_ms = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		case 'f': o.fua = true; break;
		case 'l': o.log = optarg; break;
		case 'q': o.qd = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'r': o.reconnect_ms = atoi(optarg); break;
		case 't': o.io_timeout_ms = atoi(optarg); break;
		case 'k': o.keep_going = true; break;
		default: return 2;
		}
	}
	if (o.seconds && !o.count)
		o.count = UINT64_MAX / 2;
	if (!strcmp(cmd, "write") && (!o.dev != !o.sock) && o.blocks && o.count &&
	    o.qd && o.qd <= STAMP_QD_MAX)
		return do_write(&o);
	if (!strcmp(cmd, "verify") && o.dev && o.log)
		return do_verify(&o);
	fprintf(stderr, "usage: stamp write (--dev PATH | --pvio SOCKET) --blocks N (--count M | --seconds T) [--stall-ms MS] [--seed S] [--fua] [--log FILE] [--qd Q] [--reconnect-ms MS] [--io-timeout-ms MS] [--keep-going]\n"
		"       stamp verify --dev IMAGE --log FILE\n");
	return 2;
}
