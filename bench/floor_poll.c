/* floor_poll: the least a polling watcher pays per pass, for benchmarks.
 *
 *   floor_poll DIR INTERVAL_S
 *
 * Lists DIR and every directory below it once, keeping each directory's
 * path and its entries' names. Then, once an interval, one pass: each
 * directory opened with O_PATH (no open call reaches the filesystem), and
 * one statx() of each of its entries by name, relative to it; the pass
 * over, it sleeps until the next interval starts (a pass longer than an
 * interval is followed by the next at once). No listing again, no
 * comparison, no memory of what a stat said: the stat calls alone, which
 * every poller must make to see a file change on a filesystem that tells
 * nothing (on FUSE without READDIRPLUS, each is a round trip to the
 * server once the kernel's attribute cache has expired).
 *
 * It says "Watches established." on stderr once the listing is done, and
 * runs until a signal. It prints nothing else: a benchmark measures its
 * CPU and counts its stat calls from outside (bench/poll.sh).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PROG "floor_poll"
#include "msg.h"
#include "args.h"

/* A directory: its path, and its entries' names, NUL-separated. */
struct pdir {
	char *path;
	char *names;
	size_t len;
};

static struct pdir *dirs;
static size_t n_dirs, cap_dirs;

static int add_dir(const char *path)
{
	if (n_dirs == cap_dirs) {
		size_t cap = cap_dirs ? cap_dirs * 2 : 1024;
		struct pdir *g = realloc(dirs, cap * sizeof(*g));
		if (!g)
			return -1;
		dirs = g;
		cap_dirs = cap;
	}
	dirs[n_dirs] = (struct pdir){.path = strdup(path)};
	if (!dirs[n_dirs].path)
		return -1;
	n_dirs++;
	return 0;
}

/* List every directory, breadth-first (dirs grows as it goes). */
static int list_all(const char *top)
{
	if (add_dir(top) < 0)
		return -1;
	for (size_t i = 0; i < n_dirs; i++) {
		DIR *d = opendir(dirs[i].path);
		if (!d) {
			msg("cannot list '%s': %s", dirs[i].path, errstr(errno));
			return -1;
		}
		size_t cap = 0;
		struct dirent *de;
		while ((de = readdir(d))) {
			const char *nm = de->d_name;
			if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
				continue;
			size_t l = strlen(nm) + 1;
			if (dirs[i].len + l > cap) {
				cap = (dirs[i].len + l) * 2;
				char *g = realloc(dirs[i].names, cap);
				if (!g) {
					closedir(d);
					return -1;
				}
				dirs[i].names = g;
			}
			memcpy(dirs[i].names + dirs[i].len, nm, l);
			dirs[i].len += l;
			if (de->d_type == DT_DIR) {
				size_t pl = strlen(dirs[i].path);
				char *sub = malloc(pl + l + 1);
				if (!sub) {
					closedir(d);
					return -1;
				}
				memcpy(sub, dirs[i].path, pl);
				sub[pl] = '/';
				memcpy(sub + pl + 1, nm, l);
				int r = add_dir(sub);
				free(sub);
				if (r < 0) {
					closedir(d);
					return -1;
				}
			}
		}
		closedir(d);
	}
	return 0;
}

static void pass(void)
{
	for (size_t i = 0; i < n_dirs; i++) {
		int fd = open(dirs[i].path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue; /* gone: a floor does not care */
		struct statx sx;
		for (size_t off = 0; off < dirs[i].len; off += strlen(dirs[i].names + off) + 1)
			statx(fd, dirs[i].names + off, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx);
		close(fd);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: floor_poll DIR INTERVAL_S\n"
		       "One statx() per entry below DIR once an interval, names from one listing:\n"
		       "the stat calls a poller cannot do without, and nothing else.\n");
		return 0;
	}
	if (argc != 3) {
		msg("usage: floor_poll DIR INTERVAL_S (try --help)");
		return 1;
	}
	double interval;
	if (parse_seconds(argv[2], "INTERVAL_S", &interval) < 0)
		return 1;
	if (list_all(argv[1]) < 0)
		return 1;
	fprintf(stderr, "Watches established.\n");
	uint64_t step = (uint64_t)(interval * 1e9), next = now_ns();
	for (;;) {
		pass();
		next += step;
		uint64_t now = now_ns();
		if (next <= now) {
			next = now; /* behind: the next pass at once */
			continue;
		}
		struct timespec ts = {.tv_sec = (time_t)((next - now) / 1000000000u),
				      .tv_nsec = (long)((next - now) % 1000000000u)};
		nanosleep(&ts, NULL);
	}
}
