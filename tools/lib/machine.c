// SPDX-License-Identifier: MIT
/*
 * The machine object of the measuring programs' JSON output (machine.h):
 * CPU, memory, kernel, OS, pvio version and the date, read from /proc,
 * uname(2) and /etc/os-release.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "machine.h"

#ifndef PVIO_VERSION
#define PVIO_VERSION "unknown"
#endif

/* A JSON string, or null for NULL: quotes, backslashes and control bytes escaped. */
static void machine_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/*
 * The value of the first line of @path that starts with @key, after the
 * separator (':' or '=') and blanks, without quotes and newline.
 */
static bool machine_field(const char *path, const char *key, char *out, size_t len)
{
	char line[512];
	size_t klen = strlen(key);
	bool found = false;
	FILE *fp = fopen(path, "r");

	if (!fp)
		return false;
	while (!found && fgets(line, sizeof(line), fp)) {
		char *v = line + klen, *end;

		if (strncmp(line, key, klen))
			continue;
		v += strspn(v, " \t");
		if (*v != ':' && *v != '=')
			continue;
		v++;
		v += strspn(v, " \t\"");
		end = v + strcspn(v, "\"\n");
		*end = 0;
		snprintf(out, len, "%s", v);
		found = true;
	}
	fclose(fp);
	return found;
}

void pvio_machine_json(FILE *f)
{
	char cpu[256], os[256], mem[64], date[32];
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;
	unsigned long kib = 0;
	bool have_mem;

	have_mem = machine_field("/proc/meminfo", "MemTotal", mem, sizeof(mem)) &&
		   sscanf(mem, "%lu", &kib) == 1;
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));

	fputs("{\"cpu_model\":", f);
	machine_str(f, machine_field("/proc/cpuinfo", "model name", cpu, sizeof(cpu)) ? cpu : NULL);
	fprintf(f, ",\"cores\":%ld,\"memory_mib\":", sysconf(_SC_NPROCESSORS_ONLN));
	if (have_mem)
		fprintf(f, "%lu", kib / 1024);
	else
		fputs("null", f);
	fputs(",\"kernel\":", f);
	machine_str(f, uname(&u) ? NULL : u.release);
	fputs(",\"os\":", f);
	machine_str(f, machine_field("/etc/os-release", "PRETTY_NAME", os, sizeof(os)) ? os : NULL);
	fputs(",\"qemu\":null,\"accel\":\"none\",\"pvio_version\":", f);
	machine_str(f, PVIO_VERSION);
	fputs(",\"pvio_git\":", f);
#ifdef PVIO_GIT
	machine_str(f, PVIO_GIT);
#else
	machine_str(f, NULL);
#endif
	fputs(",\"date_utc\":", f);
	machine_str(f, date);
	fputc('}', f);
}
