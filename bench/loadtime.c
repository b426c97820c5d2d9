/* loadtime: what a watcher spends on a workload of events.
 *
 *   loadtime [--out FILE] [--line TEXT | --watches N] [--settle MS]
 *            [--timeout SECONDS] WORKLOAD... -- COMMAND...
 *
 * Runs COMMAND (the watcher) with its stdout on FILE (default /dev/null) and
 * its stderr on a pipe, and waits until it is ready: until TEXT is a line on
 * its stderr (default "Watches established.", which vigil, inotifywait and
 * floor_read print), or, for a watcher that says nothing (fswatch), until
 * it holds N inotify watches (/proc/PID/fdinfo, looked at every
 * millisecond). Then it runs WORKLOAD (a generator such as storm or burst) to its end,
 * waits until the watcher has caught up, stops it (SIGTERM), reaps it, and
 * prints one line on stdout:
 *
 *   USER_US SYS_US LINES OUT_BYTES STATUS WORKLOAD_OUTPUT
 *
 * USER_US and SYS_US are the watcher's CPU time from wait4(): all of it,
 * start-up and set-up included (small next to a storm; measure set-up with
 * watchtime). LINES counts the lines in FILE (0 for /dev/null). OUT_BYTES
 * is what the watcher wrote (all its write() calls, /proc/PID/io "wchar")
 * from the moment it was ready to the moment it was stopped, which tells
 * whether it reported everything even when its output went to /dev/null;
 * -1 if it exited by itself.
 * STATUS is "ok" when the watcher was stopped as planned (or exited 0 by
 * itself, as floor_read --count does), and "exit:N" or "signal:N" when it
 * ended on its own under the workload (fswatch exits with 5 when the kernel
 * queue overflows): a result, not an error. WORKLOAD_OUTPUT is the first
 * line the workload printed on its stdout.
 *
 * "Caught up" means: the workload has exited, and the watcher has been
 * asleep, charged (/proc/PID/schedstat) less than 1% of the time, for MS
 * milliseconds in a row (default 300). A watcher that still has events
 * queued is runnable or running, so it cannot look idle that long; one
 * with a timer of its own (fswatch wakes every --latency seconds) needs MS
 * above that period. vigil, inotifywait and floor_read write out what they
 * have before they go to sleep, so nothing is left in their buffers when
 * they are stopped.
 *
 * What COMMAND says on stderr after it is ready (vigil's overflow warning,
 * say) is passed on to ours. Errors (COMMAND or WORKLOAD cannot run, the
 * workload fails, or the whole takes more than SECONDS, default 600): a
 * message, exit status 1.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "loadtime"
#include "msg.h"
#include "args.h"
#include "child.h"
#include "proc.h"

static void usage(FILE *f)
{
	fputs("usage: loadtime [--out FILE] [--line TEXT | --watches N] [--settle MS]\n"
	      "                [--timeout SECONDS] WORKLOAD... -- COMMAND...\n"
	      "Start the watcher COMMAND, wait for TEXT on its stderr (or N watches), run WORKLOAD, wait\n"
	      "until the watcher is idle, stop it; print USER_US SYS_US LINES OUT_BYTES STATUS and what\n"
	      "WORKLOAD printed.\n",
	      f);
}

/* Wait until the child holds at least N inotify watches (looked at every
 * millisecond: only for watchers that do not say when they are ready), for
 * at most TIMEOUT seconds since its start. 0, or -1 (child stopped, message
 * printed). */
static int child_wait_watches(struct child *c, long n, double timeout)
{
	long long deadline = c->started + (long long)(timeout * 1e9);
	for (;;) {
		long have = proc_inotify_watches(c->pid, NULL, NULL);
		if (have >= n)
			return 0;
		int status;
		const char *why = got_signal ? "was interrupted" : now_ns() > deadline ? "timed out" : NULL;
		if (!why && child_reap(c, 0, &status, NULL) == 1)
			why = "exited";
		if (why) {
			child_stop(c, NULL);
			child_pass_stderr(c);
			msg("'%s' %s before holding %ld inotify watches", c->name, why, n);
			return -1;
		}
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
}

static long long lines_in(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	static char buf[1 << 16];
	long long n = 0;
	size_t r;
	while ((r = fread(buf, 1, sizeof(buf), f)) > 0)
		for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + r - p))); p++)
			n++;
	fclose(f);
	return n;
}

static long long tv_us(struct timeval tv)
{
	return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

int main(int argc, char **argv)
{
	const char *out = "/dev/null", *line = "Watches established.";
	uint64_t settle_ms = 300, watches = 0;
	double timeout = 600;
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (i + 1 == argc) {
			msg("option '%s' needs a value", a);
			return 1;
		}
		if (strcmp(a, "--out") == 0) {
			out = argv[++i];
		} else if (strcmp(a, "--line") == 0) {
			line = argv[++i];
		} else if (strcmp(a, "--watches") == 0) {
			if (parse_count(argv[++i], "--watches", 1, &watches) < 0)
				return 1;
		} else if (strcmp(a, "--settle") == 0) {
			if (parse_count(argv[++i], "--settle", 1, &settle_ms) < 0)
				return 1;
		} else if (strcmp(a, "--timeout") == 0) {
			if (parse_seconds(argv[++i], "--timeout", &timeout) < 0)
				return 1;
		} else {
			msg("unknown option '%s' (try 'loadtime --help')", a);
			return 1;
		}
	}
	int sep = i;
	while (sep < argc && strcmp(argv[sep], "--") != 0)
		sep++;
	if (sep == i || sep >= argc - 1) {
		msg("usage: loadtime [OPTION]... WORKLOAD... -- COMMAND... (try 'loadtime --help')");
		return 1;
	}
	char **workload = argv + i;
	char **command = argv + sep + 1;
	argv[sep] = NULL;
	child_catch_signals();

	struct child w, g;
	if (child_start(&w, command, out) < 0)
		return 1;
	if ((watches ? child_wait_watches(&w, (long)watches, timeout)
		     : child_wait_line(&w, line, timeout, NULL)) < 0) {
		child_close(&w);
		return 1;
	}
	long long wchar0 = proc_io(w.pid, "wchar"), wchar1 = -1;
	long long deadline = w.started + (long long)(timeout * 1e9);

	/* The workload, to its end; its one line of figures comes through a
	 * pipe, its messages go to our stderr. */
	if (child_start(&g, workload, CHILD_OUT_PIPE) < 0) {
		child_close(&w);
		return 1;
	}
	char said[512];
	size_t slen = 0;
	int status = 0, r;
	for (;;) {
		/* the watcher's stderr too: a chatty one must not block on it */
		struct pollfd p[2] = {{.fd = g.out, .events = POLLIN}, {.fd = w.err, .events = POLLIN}};
		if (poll(p, 2, 100) < 0 && errno != EINTR)
			break;
		if (got_signal || now_ns() > deadline)
			break;
		if (p[1].revents)
			child_pass_stderr(&w);
		if (!p[0].revents)
			continue;
		char buf[512];
		ssize_t n = read(g.out, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t keep = (size_t)n < sizeof(said) - 1 - slen ? (size_t)n : sizeof(said) - 1 - slen;
		memcpy(said + slen, buf, keep);
		slen += keep;
	}
	said[slen] = '\0';
	said[strcspn(said, "\n")] = '\0';
	while ((r = child_reap(&g, 100, &status, NULL)) == 0) {
		child_pass_stderr(&w);
		if (now_ns() > deadline)
			break;
	}
	child_pass_stderr(&g);
	if (r != 1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char how[128];
		if (r == 1)
			child_describe(status, how, sizeof(how));
		else
			snprintf(how, sizeof(how), r == 0 ? "timed out" : "was interrupted");
		msg("the workload '%s' %s", workload[0], how);
		child_close(&g);
		child_close(&w);
		return 1;
	}
	child_close(&g);

	/* Caught up: asleep, and charged less than 1% of the time for
	 * settle_ms (a watcher with a timer of its own, such as fswatch's,
	 * wakes now and then for nothing), or exited by itself. */
	struct rusage ru = {0};
	long long settle_ns = (long long)settle_ms * 1000000;
	long long start = proc_runtime_ns(w.pid), since = now_ns();
	bool exited = false;
	for (;;) {
		child_pass_stderr(&w);
		if (child_reap(&w, 0, &status, &ru) == 1) {
			exited = true;
			break;
		}
		if (got_signal || now_ns() > deadline) {
			msg("the watcher '%s' %s", command[0],
			    got_signal ? "was interrupted" : "did not go idle in time");
			child_close(&w);
			return 1;
		}
		nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
		long long t = proc_runtime_ns(w.pid), now = now_ns();
		if (t < 0)
			continue; /* exited: reaped above next time */
		if (t - start > settle_ns / 100 || proc_state(w.pid) != 'S') {
			start = t;
			since = now;
		} else if (now - since >= settle_ns) {
			wchar1 = proc_io(w.pid, "wchar");
			child_stop(&w, &ru);
			break;
		}
	}
	child_pass_stderr(&w);
	child_close(&w);
	char how[32] = "ok";
	if (exited && WIFEXITED(status))
		snprintf(how, sizeof(how), "exit:%d", WEXITSTATUS(status));
	else if (exited && WIFSIGNALED(status))
		snprintf(how, sizeof(how), "signal:%d", WTERMSIG(status));
	if (exited && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		strcpy(how, "ok");
	long long lines = strcmp(out, "/dev/null") == 0 ? 0 : lines_in(out);
	if (lines < 0) {
		msg("cannot read '%s': %s", out, errstr(errno));
		return 1;
	}
	long long written = wchar0 >= 0 && wchar1 >= 0 ? wchar1 - wchar0 : -1;
	printf("%lld %lld %lld %lld %s %s\n", tv_us(ru.ru_utime), tv_us(ru.ru_stime), lines,
	       written, how, said);
	return 0;
}
