/* latency: from a writer's close() to the watcher's line, at idle.
 *
 *   latency [--probes N] [--gap MS] [--timeout SECONDS] FILE LINE COMMAND...
 *
 * Runs COMMAND (a watcher of FILE's directory, asking for CLOSE_WRITE only,
 * such as `vigil wait -m -e close_write DIR`) with its stdout on a pipe read
 * here, and waits for LINE on its stderr. Then N times (default 1000): sleep
 * MS milliseconds (default 2), so that the watcher is asleep again; open
 * FILE (created or truncated), write one byte, take the time, close() it, and
 * read the pipe until a whole line has come; take the time. The line must end
 * with FILE's name. It prints one line on stdout:
 *
 *   PROBES P50_US P99_US MAX_US
 *
 * each the time from just before close() to the read() that returned the
 * line, CLOCK_MONOTONIC; percentiles by nearest rank. That covers the
 * kernel queueing the event and waking the watcher, the watcher reading,
 * formatting and writing it, and the pipe waking us: what a script reading
 * `vigil wait -m` sees.
 *
 * Errors (COMMAND fails, a line does not come within SECONDS, default 5, or
 * is not about FILE): a message, exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "latency"
#include "msg.h"
#include "args.h"
#include "child.h"

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least P of them at or below. */
static double percentile(const long long *sorted, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)sorted[k - 1] / 1000.0;
}

int main(int argc, char **argv)
{
	uint64_t probes = 1000, gap_ms = 2;
	double timeout = 5;
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0) {
			puts("usage: latency [--probes N] [--gap MS] [--timeout SECONDS] FILE LINE COMMAND...\n"
			     "Write and close FILE N times, MS apart; time each close() to the line\n"
			     "COMMAND prints on stdout; print PROBES P50_US P99_US MAX_US.");
			return 0;
		}
		if (i + 1 == argc) {
			msg("option '%s' needs a value", a);
			return 1;
		}
		if (strcmp(a, "--probes") == 0) {
			if (parse_count(argv[++i], "--probes", 1, &probes) < 0)
				return 1;
		} else if (strcmp(a, "--gap") == 0) {
			if (parse_count(argv[++i], "--gap", 0, &gap_ms) < 0)
				return 1;
		} else if (strcmp(a, "--timeout") == 0) {
			if (parse_seconds(argv[++i], "--timeout", &timeout) < 0)
				return 1;
		} else {
			msg("unknown option '%s' (try 'latency --help')", a);
			return 1;
		}
	}
	if (argc - i < 3) {
		msg("usage: latency [OPTION]... FILE LINE COMMAND... (try 'latency --help')");
		return 1;
	}
	const char *file = argv[i], *line = argv[i + 1];
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t blen = strlen(base);
	long long *lat = malloc(probes * sizeof(*lat));
	if (!lat) {
		msg("out of memory");
		return 1;
	}
	child_catch_signals();

	struct child c;
	if (child_start(&c, argv + i + 2, CHILD_OUT_PIPE) < 0)
		return 1;
	if (child_wait_line(&c, line, 600, NULL) < 0)
		goto fail;

	char buf[4096];
	size_t len = 0;
	for (uint64_t k = 0; k < probes; k++) {
		if (gap_ms)
			nanosleep(&(struct timespec){(time_t)(gap_ms / 1000), (long)(gap_ms % 1000) * 1000000}, NULL);
		if (got_signal)
			goto fail;
		/* after the gap, nothing may be waiting: one line per probe */
		struct pollfd idle = {.fd = c.out, .events = POLLIN};
		if (k && poll(&idle, 1, 0) > 0) {
			msg("'%s' printed more than one line for probe %llu", c.name,
			    (unsigned long long)k);
			goto fail;
		}
		int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, "x", 1) != 1) {
			msg("cannot write '%s': %s", file, errstr(errno));
			goto fail;
		}
		long long t0 = now_ns();
		close(fd);
		char *nl;
		while (!(nl = memchr(buf, '\n', len))) {
			struct pollfd p = {.fd = c.out, .events = POLLIN};
			int pr = poll(&p, 1, (int)(timeout * 1000));
			if (pr == 0 || got_signal) {
				msg("no line from '%s' within %g s of probe %llu", c.name, timeout,
				    (unsigned long long)k + 1);
				goto fail;
			}
			ssize_t r = pr < 0 ? -1 : read(c.out, buf + len, sizeof(buf) - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				msg("'%s' closed its stdout", c.name);
				goto fail;
			}
			len += (size_t)r;
			if (len == sizeof(buf) && !memchr(buf, '\n', len)) {
				msg("a line from '%s' is too long", c.name);
				goto fail;
			}
		}
		lat[k] = now_ns() - t0;
		size_t l = (size_t)(nl - buf);
		if (l < blen || memcmp(nl - blen, base, blen) != 0) {
			msg("'%s' printed a line not about '%s': %.*s", c.name, base, (int)l, buf);
			goto fail;
		}
		if (nl + 1 != buf + len) {
			msg("'%s' printed more than one line for probe %llu: %.*s", c.name,
			    (unsigned long long)k + 1, (int)(buf + len - nl - 1), nl + 1);
			goto fail;
		}
		len = 0;
	}
	child_close(&c);
	qsort(lat, probes, sizeof(*lat), cmp_ll);
	printf("%llu %.1f %.1f %.1f\n", (unsigned long long)probes, percentile(lat, probes, 0.50),
	       percentile(lat, probes, 0.99), (double)lat[probes - 1] / 1000.0);
	free(lat);
	return 0;
fail:
	child_close(&c);
	free(lat);
	return 1;
}
