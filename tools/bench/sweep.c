// SPDX-License-Identifier: MIT
/*
 * pvio-bench --sweep: the same job at a list of queue depths (one engine,
 * or pvio and native with --compare), a table of IOPS and p99 latency per
 * depth, a JSON list of the runs' objects with --json, and with --plot a
 * picture of both curves drawn by gnuplot.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define SWEEP_GNUPLOT_TIMEOUT_S 30

extern char **environ;

/**
 * bench_sweep_parse() - parse the argument of --sweep.
 * @arg: "iodepth=N[,N...]"
 * @sw: the depths, in the order given
 *
 * Context: any.
 * Return: 0, or -EINVAL: another parameter than iodepth, an empty list, a
 * value outside 1..BENCH_MAX_DEPTH, a repeated value or more than
 * BENCH_SWEEP_MAX values.
 */
int bench_sweep_parse(const char *arg, struct bench_sweep *sw)
{
	const char *p;
	unsigned int i;

	if (strncmp(arg, "iodepth=", 8))
		return -EINVAL;
	sw->n = 0;
	for (p = arg + 8;; p++) {
		char *end;
		unsigned long v;

		if (*p < '0' || *p > '9' || sw->n == BENCH_SWEEP_MAX)
			return -EINVAL;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || v < 1 || v > BENCH_MAX_DEPTH || (*end && *end != ','))
			return -EINVAL;
		for (i = 0; i < sw->n; i++)
			if (sw->depth[i] == v)
				return -EINVAL;
		sw->depth[sw->n++] = (unsigned int)v;
		p = end;
		if (!*p)
			return 0;
	}
}

static unsigned int sweep_max(const struct bench_sweep *sw)
{
	unsigned int i, m = 0;

	for (i = 0; i < sw->n; i++)
		if (sw->depth[i] > m)
			m = sw->depth[i];
	return m;
}

/* "svg" or "png" from the file name's suffix, NULL for anything else. */
static const char *plot_kind(const char *file)
{
	const char *dot = strrchr(file, '.');

	if (dot && !strcmp(dot, ".svg"))
		return "svg";
	if (dot && !strcmp(dot, ".png"))
		return "png";
	return NULL;
}

/*
 * Runs gnuplot with @argv[1..] (no input, its messages on our stderr),
 * waits at most SWEEP_GNUPLOT_TIMEOUT_S. Returns its exit status, 127 if
 * it could not be started, 124 if it had to be killed.
 */
static int run_gnuplot(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	struct timespec ts = { 0, 20000000 };
	unsigned int i;
	pid_t pid;
	int st, err;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	err = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		return 127;
	for (i = 0; i < SWEEP_GNUPLOT_TIMEOUT_S * 50; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 124;
}

/* A gnuplot string in single quotes, in which only ' needs doubling. */
static void gp_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static int write_plot(const struct bench_opts *o, const struct bench_sweep *sw,
		      const struct bench_point *pt, const char *file)
{
	static const char *const eng[2] = { "pvio", "native" };
	char data[] = "/tmp/pvio-bench-sweep.XXXXXX", script[] = "/tmp/pvio-bench-plot.XXXXXX";
	char *argv[] = { "gnuplot", script, NULL };
	unsigned int i, e, ne = o->compare ? 2 : 1;
	int dfd, sfd, rc = -1;
	FILE *d = NULL, *s = NULL;
	const char *first;

	dfd = mkstemp(data);
	sfd = dfd < 0 ? -1 : mkstemp(script);
	if (dfd < 0 || sfd < 0) {
		fprintf(stderr, "pvio-bench: --plot: temporary file: %s\n", strerror(errno));
		goto out;
	}
	d = fdopen(dfd, "w");
	s = fdopen(sfd, "w");
	if (!d || !s)
		goto out;
	dfd = sfd = -1;
	/* Columns: depth, then IOPS and p99 of each engine. */
	for (i = 0; i < sw->n; i++) {
		fprintf(d, "%u", sw->depth[i]);
		for (e = 0; e < ne; e++)
			fprintf(d, " %.1f %.2f", pt[i].iops[e], pt[i].p99_us[e]);
		fputc('\n', d);
	}
	if (!strcmp(plot_kind(file), "svg"))
		fputs("set terminal svg size 900,540 dynamic font 'sans,12' background rgb 'white'\n", s);
	else
		fputs("set terminal png size 900,540\n", s);
	fputs("set output ", s);
	gp_str(s, file);
	fprintf(s, "\nset title 'pvio-bench: %s, bs %u, %u job(s): IOPS and p99 latency by queue depth'\n"
		"set xlabel 'queue depth (iodepth)'\nset ylabel 'IOPS'\n"
		"set y2label 'p99 latency (us)'\nset logscale x 2\nset ytics nomirror\n"
		"set y2tics\nset yrange [0:*]\nset y2range [0:*]\nset grid\n"
		"set key top left\nplot ", bench_rw_names[o->rw], o->bs[0], o->jobs);
	first = "";
	for (e = 0; e < ne; e++) {
		const char *name = o->compare ? eng[e] : eng[o->engine == ENG_NATIVE];

		/* One colour per engine: IOPS solid, p99 dashed. */
		fprintf(s, "%s'%s' using 1:%u axes x1y1 with linespoints lw 2 lc %u pt 7 "
			"title '%s IOPS', '' using 1:%u axes x1y2 with linespoints "
			"dashtype 2 lc %u pt 4 title '%s p99 latency (us)'",
			first, data, 2 + 2 * e, e + 1, name, 3 + 2 * e, e + 1, name);
		first = ", ";
	}
	fputc('\n', s);
	if (fclose(d) | fclose(s)) {
		d = s = NULL;
		fprintf(stderr, "pvio-bench: --plot: cannot write temporary files\n");
		goto out;
	}
	d = s = NULL;
	rc = run_gnuplot(argv);
	if (rc) {
		fprintf(stderr, "pvio-bench: --plot: gnuplot %s for %s\n",
			rc == 127 ? "not found" : rc == 124 ? "timed out" : "failed", file);
		rc = -1;
	}
out:
	if (d)
		fclose(d);
	if (s)
		fclose(s);
	if (dfd >= 0)
		close(dfd);
	if (sfd >= 0)
		close(sfd);
	unlink(data);
	unlink(script);
	return rc;
}

static void print_header(const struct bench_opts *o)
{
	printf("sweep: rw=%s bs=%u jobs=%u, %.1f s per depth and engine%s\n",
	       bench_rw_names[o->rw], o->bs[0], o->jobs, o->runtime,
	       o->compare ? ", pvio and native" : "");
	if (o->compare)
		printf("%7s %12s %12s %12s %12s %11s\n", "iodepth", "pvio IOPS",
		       "pvio p99 us", "native IOPS", "native p99", "pvio/native");
	else
		printf("%7s %12s %12s\n", "iodepth", "IOPS", "p99 us");
	fflush(stdout);
}

static void print_row(const struct bench_opts *o, unsigned int depth,
		      const struct bench_point *pt)
{
	if (o->compare)
		printf("%7u %12.0f %12.1f %12.0f %12.1f %11.3f\n", depth, pt->iops[0],
		       pt->p99_us[0], pt->iops[1], pt->p99_us[1],
		       pt->iops[1] > 0 ? pt->iops[0] / pt->iops[1] : 0);
	else
		printf("%7u %12.0f %12.1f\n", depth, pt->iops[0], pt->p99_us[0]);
	fflush(stdout);
}

/**
 * bench_sweep() - run the job of @o at every depth of @sw.
 * @o: the options; its iodepth is overwritten
 * @sw: the depths
 * @plot: an .svg or .png file to draw IOPS and p99 by depth into, or NULL
 *
 * Prints a table, row by row as the depths are measured, or with --json a
 * JSON list of the objects a single run at each depth prints. --compare
 * starts one pvio-backd for the whole sweep, deep enough for the largest
 * depth. Without --runtime or --size each point runs 2 s.
 *
 * Context: process context.
 * Return: 0, 1 on a runtime error (the rows measured so far are printed,
 * the plot is not drawn), 2 on a usage error.
 */
int bench_sweep(struct bench_opts *o, const struct bench_sweep *sw, const char *plot)
{
	struct bench_point pt[BENCH_SWEEP_MAX];
	struct bench_backd b = { 0 };
	unsigned int i;
	int ret = 0;

	if (plot && !plot_kind(plot)) {
		fprintf(stderr, "pvio-bench: --plot: '%s' does not end in .svg or .png (see --help)\n",
			plot);
		return 2;
	}
	if (plot) {
		char *argv[] = { "gnuplot", "--version", NULL };

		if (run_gnuplot(argv)) {
			fprintf(stderr, "pvio-bench: --plot needs gnuplot (Debian: apt-get install gnuplot-nox)\n");
			return 1;
		}
	}
	if (!o->runtime && !o->size)
		o->runtime = 2;
	if (o->compare) {
		o->iodepth = sweep_max(sw);
		ret = bench_backd_start(o, &b);
		if (ret) {
			bench_backd_stop(&b);
			return 1;
		}
	}
	if (o->json)
		printf("[");
	else
		print_header(o);
	for (i = 0; i < sw->n; i++) {
		o->iodepth = sw->depth[i];
		if (o->json && i)
			printf(",");
		ret = bench_measure(o, &b, &pt[i], false);
		if (ret)
			break;
		if (!o->json)
			print_row(o, sw->depth[i], &pt[i]);
	}
	if (o->json)
		printf("]\n");
	bench_backd_stop(&b);
	if (ret)
		return ret;
	if (plot) {
		if (write_plot(o, sw, pt, plot))
			return 1;
		fprintf(o->json ? stderr : stdout, "plot: %s\n", plot);
	}
	return 0;
}
