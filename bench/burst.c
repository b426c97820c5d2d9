/* burst: nested creates, the race a recursive watcher must win.
 *
 *   burst DIR N
 *
 * N times, in DIR (which must exist): mkdir bI, bI/a, bI/a/b, bI/a/b/c, then
 * create and close the empty file bI/a/b/c/file, as `mkdir -p` and a copy
 * do, as fast as it can. Each directory is made before the watcher can have
 * watched its parent, so a watcher that adds the watch and does not list the
 * new directory misses what was created in it meanwhile. A recursive
 * watcher asking for CREATE must report 5 paths per burst, each once.
 * It prints one line on stdout:
 *
 *   BURSTS PATHS WALL_US CPU_US
 *
 * Errors: one line on stderr naming the path, exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "burst"
#include "msg.h"
#include "args.h"

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
	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		puts("usage: burst DIR N\n"
		     "N times: mkdir bI/a/b/c one level at a time, and create bI/a/b/c/file;\n"
		     "print BURSTS PATHS WALL_US CPU_US.");
		return 0;
	}
	if (argc != 3) {
		msg("usage: burst DIR N (try 'burst --help')");
		return 1;
	}
	uint64_t n;
	if (parse_count(argv[2], "N", 0, &n) < 0)
		return 1;
	int dfd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		msg("cannot open '%s': %s", argv[1], errstr(errno));
		return 1;
	}
	static const char *const below[] = {"", "/a", "/a/b", "/a/b/c"};
	long long t0 = mono_ns(), c0 = cpu_us();
	char path[96];
	for (uint64_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sizeof(below) / sizeof(below[0]); k++) {
			snprintf(path, sizeof(path), "b%" PRIu64 "%s", i, below[k]);
			if (mkdirat(dfd, path, 0755) < 0) {
				msg("cannot create '%s/%s': %s", argv[1], path, errstr(errno));
				return 1;
			}
		}
		snprintf(path, sizeof(path), "b%" PRIu64 "/a/b/c/file", i);
		int fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || close(fd) < 0) {
			msg("cannot create '%s/%s': %s", argv[1], path, errstr(errno));
			return 1;
		}
	}
	long long t1 = mono_ns(), c1 = cpu_us();
	close(dfd);
	printf("%" PRIu64 " %" PRIu64 " %lld %lld\n", n, 5 * n, (t1 - t0 + 500) / 1000, c1 - c0);
	return 0;
}
