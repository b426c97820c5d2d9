/* watchtime: how long a watcher takes to set up, and what it holds then.
 *
 *   watchtime [--timeout SECONDS] LINE COMMAND [ARG]...
 *
 * Runs COMMAND (found in PATH) with stdin and stdout on /dev/null and its
 * stderr on a pipe, and waits for LINE to appear there as a whole line (for
 * vigil and inotifywait: "Watches established."). Then, while COMMAND still
 * runs, it reads VmHWM and VmRSS from /proc/PID/status and counts the
 * "inotify wd:" lines in /proc/PID/fdinfo/ of every inotify fd COMMAND holds;
 * then it stops COMMAND (SIGTERM; SIGKILL 10 s later) and reaps it. It prints
 * one line on stdout:
 *
 *   SETUP_US HWM_KIB RSS_KIB WATCHES
 *
 * SETUP_US is CLOCK_MONOTONIC microseconds from just before the spawn to the
 * read() that returned LINE: no polling, no shell in between.
 *
 * Errors (COMMAND cannot run, exits or times out before LINE): one line on
 * stderr, then what COMMAND itself wrote on stderr, and exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "watchtime"
#include "msg.h"
#include "child.h"
#include "proc.h"

int main(int argc, char **argv)
{
	double timeout = 600;
	int i = 1;
	if (i < argc && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)) {
		puts("usage: watchtime [--timeout SECONDS] LINE COMMAND [ARG]...\n"
		     "Run COMMAND until it prints LINE on stderr; print the microseconds\n"
		     "that took, its VmHWM and VmRSS (KiB) and its inotify watch count.");
		return 0;
	}
	if (i < argc && strcmp(argv[i], "--timeout") == 0) {
		char *end;
		if (i + 1 == argc || (timeout = strtod(argv[i + 1], &end), *end) || timeout <= 0) {
			msg("--timeout needs a positive number of seconds");
			return 1;
		}
		i += 2;
	}
	if (argc - i < 2) {
		msg("missing %s (try 'watchtime --help')", argc - i == 0 ? "LINE and COMMAND" : "COMMAND");
		return 1;
	}
	const char *want = argv[i];
	child_catch_signals();

	struct child c;
	long long t1;
	if (child_start(&c, argv + i + 1, "/dev/null") < 0)
		return 1;
	if (child_wait_line(&c, want, timeout, &t1) < 0) {
		child_close(&c);
		return 1;
	}
	long hwm = proc_status(c.pid, "VmHWM");
	long rss = proc_status(c.pid, "VmRSS");
	long watches = proc_inotify_watches(c.pid, NULL, NULL);
	int status = child_stop(&c, NULL);
	child_close(&c);
	if (hwm < 0 || rss < 0 || watches < 0) {
		char how[128];
		child_describe(status, how, sizeof(how));
		msg("cannot read /proc of '%s' (it %s after printing '%s')", argv[i + 1], how, want);
		return 1;
	}
	printf("%lld %ld %ld %ld\n", (t1 - c.started + 500) / 1000, hwm, rss, watches);
	return got_signal ? 1 : 0;
}
