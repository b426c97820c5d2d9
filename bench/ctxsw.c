/* ctxsw: does an idle watcher sleep? Its context switches while nothing
 * happens.
 *
 *   ctxsw [--seconds S] LINE COMMAND...
 *
 * Runs COMMAND (stdout on /dev/null, stderr on a pipe) and waits for LINE on
 * its stderr. Then it waits until the watcher is asleep (state S in
 * /proc/PID/stat, checked every millisecond, for at most 2 s) and for
 * another 100 ms, so that what follows the line (a last flush, the way into
 * poll()) is not counted. Then it reads voluntary_ctxt_switches and
 * nonvoluntary_ctxt_switches from /proc/PID/status, sleeps S seconds
 * (default 10), reads them again, stops the watcher and prints:
 *
 *   VOLUNTARY NONVOLUNTARY SECONDS
 *
 * the two differences. A watcher that sleeps in the kernel until an event
 * comes makes 0 and 0; each timer tick or busy poll wakes it and counts one
 * voluntary switch at least. Nothing must touch the watched files meanwhile.
 *
 * Errors: a message, exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "ctxsw"
#include "msg.h"
#include "args.h"
#include "child.h"
#include "proc.h"

int main(int argc, char **argv)
{
	double seconds = 10;
	int i = 1;
	if (i < argc && strcmp(argv[i], "--help") == 0) {
		puts("usage: ctxsw [--seconds S] LINE COMMAND...\n"
		     "Start COMMAND, wait for LINE on its stderr and for it to sleep; print the\n"
		     "context switches it makes in S seconds (default 10): VOLUNTARY NONVOLUNTARY SECONDS.");
		return 0;
	}
	if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0) {
		if (parse_seconds(argv[i + 1], "--seconds", &seconds) < 0)
			return 1;
		i += 2;
	}
	if (argc - i < 2) {
		msg("usage: ctxsw [--seconds S] LINE COMMAND... (try 'ctxsw --help')");
		return 1;
	}
	child_catch_signals();
	struct child c;
	if (child_start(&c, argv + i + 1, "/dev/null") < 0)
		return 1;
	if (child_wait_line(&c, argv[i], 600, NULL) < 0)
		goto fail;
	for (int ms = 0; proc_state(c.pid) != 'S'; ms++) {
		if (ms == 2000 || got_signal) {
			msg("'%s' did not go to sleep within 2 s of '%s'", c.name, argv[i]);
			goto fail;
		}
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
	long v0 = proc_status(c.pid, "voluntary_ctxt_switches");
	long n0 = proc_status(c.pid, "nonvoluntary_ctxt_switches");
	long long end = now_ns() + (long long)(seconds * 1e9);
	for (long long left; !got_signal && (left = end - now_ns()) > 0;)
		nanosleep(&(struct timespec){(time_t)(left / 1000000000), (long)(left % 1000000000)}, NULL);
	if (got_signal)
		goto fail;
	long v1 = proc_status(c.pid, "voluntary_ctxt_switches");
	long n1 = proc_status(c.pid, "nonvoluntary_ctxt_switches");
	if (v0 < 0 || n0 < 0 || v1 < 0 || n1 < 0) {
		msg("cannot read the context switches of '%s' (did it exit?)", c.name);
		child_repeat(&c);
		goto fail;
	}
	child_close(&c);
	printf("%ld %ld %g\n", v1 - v0, n1 - n0, seconds);
	return 0;
fail:
	child_close(&c);
	return 1;
}
