/* stamp: the remote job of bench/mqtt.sh, as cheap as a job can be.
 *
 *   stamp LOG ARG...
 *
 * Appends "NS ARG\n" for each ARG to LOG, NS the CLOCK_REALTIME at the
 * job's start, in nanoseconds: each line in one write(2) of a file opened
 * with O_APPEND, so that the lines of jobs running at once never mix. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs("usage: stamp LOG ARG...\n"
		      "appends \"NS ARG\" to LOG for each ARG, NS the CLOCK_REALTIME at its start\n",
		      argc < 2 ? stderr : stdout);
		return argc < 2;
	}
	int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		char line[8192];
		int n = snprintf(line, sizeof(line), "%lld %s\n",
				 (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, argv[i]);
		if (n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) != n)
			return 1;
	}
	return 0;
}
