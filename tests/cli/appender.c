/* appender: the job of the crash test (run-crash.bats), as cheap as a job
 * can be, so that 2,000 files go through vigil run fifty times killed.
 *
 *   appender LOG ARG...
 *
 * Appends each ARG and a newline to LOG, each line in one write(2) to a
 * file opened with O_APPEND: the lines of jobs running at once never mix,
 * and a job killed mid-way leaves whole lines or none. Exit status 0, or
 * 1 with one line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: appender LOG ARG...\n", stderr);
		return 1;
	}
	int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "appender: cannot open '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		size_t n = strlen(argv[i]);
		char *line = malloc(n + 1);
		if (!line)
			return 1;
		memcpy(line, argv[i], n);
		line[n] = '\n';
		if (write(fd, line, n + 1) != (ssize_t)(n + 1)) {
			fprintf(stderr, "appender: cannot write '%s': %s\n", argv[1], strerror(errno));
			return 1;
		}
		free(line);
	}
	return close(fd) == 0 ? 0 : 1;
}
