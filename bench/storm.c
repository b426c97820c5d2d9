/* storm: an event storm, for benchmarks.
 *
 *   storm [--size BYTES] DIR NFILES
 *
 * For each of NFILES files in turn, in DIR (which must exist): create it,
 * write BYTES bytes (default 1) in one write(), close it, delete it. A
 * watcher of DIR with the default events sees 5 of them per file (CREATE,
 * OPEN, MODIFY, CLOSE_WRITE, DELETE; 4 with --size 0, which writes nothing):
 * 200,000 files make 1,000,000 events. No two events in a row are alike, so
 * the kernel merges none of them. The names are s0, s1, ...: distinct, so a
 * reader can tell them apart.
 *
 * It goes as fast as it can, from one thread: that is what a build, an
 * unpacked archive or a test suite does to a watcher. It prints one line on
 * stdout:
 *
 *   FILES EVENTS WALL_US CPU_US
 *
 * EVENTS is what a watcher asking for every event must report; WALL_US the
 * time the storm took; CPU_US the storm's own user + system time, which
 * includes what the kernel spends queueing each event for every watcher.
 *
 * Errors: one line on stderr naming the file, exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PROG "storm"
#include "msg.h"
#include "args.h"

static void usage(FILE *f)
{
	fputs("usage: storm [--size BYTES] DIR NFILES\n"
	      "Create, write BYTES (default 1), close and delete NFILES files in DIR,\n"
	      "one after the other; print FILES EVENTS WALL_US CPU_US.\n",
	      f);
}

static long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
	const char *pos[2];
	int npos = 0, opts = 1;
	uint64_t size = 1, nfiles;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts && strcmp(a, "--") == 0) {
			opts = 0;
		} else if (opts && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
			usage(stdout);
			return 0;
		} else if (opts && strcmp(a, "--size") == 0) {
			if (++i == argc) {
				msg("option '--size' needs a number");
				return 1;
			}
			if (parse_count(argv[i], "--size", 0, &size) < 0)
				return 1;
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			msg("unknown option '%s' (try 'storm --help')", a);
			return 1;
		} else if (npos == 2) {
			msg("too many arguments (try 'storm --help')");
			return 1;
		} else {
			pos[npos++] = a;
		}
	}
	if (npos < 2) {
		msg("missing %s (try 'storm --help')", npos == 0 ? "DIR and NFILES" : "NFILES");
		return 1;
	}
	if (parse_count(pos[1], "NFILES", 0, &nfiles) < 0)
		return 1;
	if (size > (1 << 30)) {
		msg("--size must be at most 1 GiB");
		return 1;
	}
	char *data = malloc(size ? size : 1);
	if (!data) {
		msg("out of memory");
		return 1;
	}
	memset(data, 'x', size);
	int dfd = open(pos[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		msg("cannot open '%s': %s", pos[0], errstr(errno));
		return 1;
	}

	long long t0 = mono_ns(), c0 = cpu_us();
	char name[32];
	for (uint64_t i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "s%" PRIu64, i);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			msg("cannot create '%s/%s': %s", pos[0], name, errstr(errno));
			return 1;
		}
		if (size) {
			ssize_t w = write(fd, data, size);
			if (w != (ssize_t)size) {
				msg("cannot write '%s/%s': %s", pos[0], name,
				    w < 0 ? errstr(errno) : "short write");
				return 1;
			}
		}
		if (close(fd) < 0) {
			msg("cannot close '%s/%s': %s", pos[0], name, errstr(errno));
			return 1;
		}
		if (unlinkat(dfd, name, 0) < 0) {
			msg("cannot delete '%s/%s': %s", pos[0], name, errstr(errno));
			return 1;
		}
	}
	long long t1 = mono_ns(), c1 = cpu_us();
	close(dfd);
	free(data);
	printf("%" PRIu64 " %" PRIu64 " %lld %lld\n", nfiles, nfiles * (size ? 5 : 4),
	       (t1 - t0 + 500) / 1000, c1 - c0);
	return 0;
}
