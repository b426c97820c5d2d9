/* What /proc says about a running watcher: memory and context switches
 * (/proc/PID/status), its CPU time (/proc/PID/schedstat), its I/O counts
 * (/proc/PID/io), whether it sleeps (/proc/PID/stat), and the inotify
 * watches it holds with their masks (/proc/PID/fdinfo). Reading these costs
 * the watcher nothing: it is not woken. Shared by the bench helpers. */
#ifndef BENCH_PROC_H
#define BENCH_PROC_H

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The number after "KEY:" in /proc/PID/status (kB for the Vm* keys, a
 * count for voluntary_ctxt_switches and nonvoluntary_ctxt_switches), or
 * -1 if there is no such process or key. */
static inline long proc_status(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	size_t klen = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* The CPU time the kernel has charged PID with, in ns, or -1. */
static inline long long proc_runtime_ns(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long long ns = -1;
	if (fscanf(f, "%lld", &ns) != 1)
		ns = -1;
	fclose(f);
	return ns;
}

/* The number after "KEY:" in /proc/PID/io (bytes or calls), or -1. */
static inline long long proc_io(pid_t pid, const char *key)
{
	char path[64], l[128];
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long long v = -1;
	size_t klen = strlen(key);
	while (fgets(l, sizeof(l), f))
		if (strncmp(l, key, klen) == 0 && l[klen] == ':') {
			v = strtoll(l + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Its scheduler state ('R' running, 'S' sleeping, ...), or 0. */
static inline char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "PID (COMM) S ...": COMM may hold anything, so from the last ')' */
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* One watch, as the kernel holds it. */
struct proc_watch {
	int wd;
	uint32_t mask;   /* the events asked for (IN_* bits, hex in fdinfo) */
	uint64_t ino;
};

/* Call FN for every "inotify wd:" line of every inotify fd PID holds. The
 * number of watches, or -1 if PID's fds cannot be read. */
static inline long proc_inotify_watches(pid_t pid, void (*fn)(void *ctx, const struct proc_watch *w),
				 void *ctx)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long n = 0;
	char *line = NULL;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char link[PATH_MAX], target[64];
		snprintf(link, sizeof(link), "/proc/%d/fd/%s", (int)pid, e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, "anon_inode:inotify") != 0)
			continue;
		snprintf(link, sizeof(link), "/proc/%d/fdinfo/%s", (int)pid, e->d_name);
		FILE *f = fopen(link, "re");
		if (!f)
			continue;
		while (getline(&line, &cap, f) > 0) {
			if (strncmp(line, "inotify wd:", 11) != 0)
				continue;
			n++;
			if (!fn)
				continue;
			/* inotify wd:1 ino:a7c29e sdev:fe00000 mask:1c8 ignored_mask:0 ... */
			struct proc_watch w = {.wd = (int)strtol(line + 11, NULL, 16)};
			const char *p = strstr(line, " ino:");
			if (p)
				w.ino = strtoull(p + 5, NULL, 16);
			p = strstr(line, " mask:");
			if (p)
				w.mask = (uint32_t)strtoul(p + 6, NULL, 16);
			fn(ctx, &w);
		}
		fclose(f);
	}
	free(line);
	closedir(d);
	return n;
}

#endif
