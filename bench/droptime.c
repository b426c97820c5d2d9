/* droptime: how long a handler takes to handle N files dropped into an inbox.
 *
 *   droptime [--timeout SECONDS] DIR N -- COMMAND...
 *   droptime [--timeout SECONDS] --pipe STOP DIR N -- WATCHER... -- READER...
 *
 * DIR (which must exist, empty) is the inbox. The drop: N files, f00000,
 * f00001, ... (as many digits as N - 1 needs, at least 5), each created,
 * written (one byte) and closed in DIR, one after the other, as fast as one
 * process can (a child of ours, forked, so the handler's output is read
 * meanwhile): one CLOSE_WRITE each. The wall time runs from just before the
 * first file is created to the moment the last one has been handled.
 *
 * The first form is for `vigil run DIR -- ...`: COMMAND's stderr is its text
 * log, read here line by line. It is ready at its "vigil run: watching:"
 * line; then the drop. Each end line "exited 0 after ... on 'PATH'" is one
 * file handled, "... on K paths" (a batch) K files; an end line with
 * another status, "killed by", or "cannot run" counts as failed. The last
 * file is handled at the read() that brings the end line making N (once
 * the drop is over, the log is read at most every 2 ms, so the end
 * is known to 2 ms: reading each line as it comes would wake us
 * twice a job, on the CPUs the jobs need). Then
 * COMMAND is stopped (SIGTERM), what it says up to its exit is read too (a
 * job it ran twice, its "stopped:" summary, whose "P paths seen" is kept).
 *
 * The second form is for a pipeline such as
 *   inotifywait -m -e close_write --format '%w%f' DIR | while read f ...
 * made here as the shell makes it: WATCHER's stdout on a pipe that is
 * READER's stdin. WATCHER is ready at its "Watches established." line on
 * stderr; the drop is then N files and, last, DIR/STOP, which READER must
 * stop at (READER gets no arguments from here: give it STOP's path in its
 * own words). The last file is handled when READER exits (EOF on its stdout,
 * a pipe read here; it must not leave a process behind holding it).
 * WATCHER's stdout is not read here: the bytes it wrote (/proc/PID/io
 * "wchar", from ready to READER's exit) must be those of N + 1 lines
 * "DIR/NAME" exactly, or the run does not count every file (a different
 * count is estimated from the average line). WATCHER is then stopped.
 *
 * It prints one line on stdout:
 *
 *   WALL_US DROP_US HANDLED JOBS FAILED TWICE SELF_CPU_US ALL_CPU_US SEEN
 *
 * DROP_US is the drop's own time (its last close()); HANDLED the files
 * handled (end lines' counts; for a pipe, lines READER was given); JOBS the
 * end lines (0 for a pipe); FAILED the jobs that failed (for a pipe, 1 if
 * READER did not exit 0); TWICE the files named in more than one end line of
 * one path (0 for a pipe, and for batches, whose end lines name no path);
 * SELF_CPU_US the CPU time of COMMAND itself (or WATCHER + READER) up to
 * the end, from /proc/PID/schedstat; ALL_CPU_US the same with the children
 * they reaped (the jobs), from wait4(), start-up and stop included; SEEN the
 * "paths seen" of vigil's summary, -1 for a pipe or none.
 *
 * Errors (a command cannot run or ends early, the drop fails, the whole
 * takes more than SECONDS, default 600): a message, exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "droptime"
#include "msg.h"
#include "args.h"
#include "child.h"
#include "proc.h"

static void usage(FILE *f)
{
	fputs("usage: droptime [--timeout SECONDS] DIR N -- COMMAND...\n"
	      "       droptime [--timeout SECONDS] --pipe STOP DIR N -- WATCHER... -- READER...\n"
	      "Drop N files into DIR (create, write a byte, close) once the handler is ready, and time\n"
	      "it from the first file to the last handled (vigil run's log; or READER's exit, after\n"
	      "DIR/STOP); print WALL_US DROP_US HANDLED JOBS FAILED TWICE SELF_CPU_US ALL_CPU_US SEEN.\n",
	      f);
}

static const char *dir;
static int width;

static void file_name(char *buf, size_t size, uint64_t i)
{
	snprintf(buf, size, "f%0*" PRIu64, width, i);
}

/* The drop, in a child of ours: N files, then STOP if any. It writes
 * "T0_NS T1_NS\n" on FD (its first create, its last close) and exits 0, or
 * says what failed and exits 1. */
static void drop(uint64_t n, const char *stop, int fd)
{
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		msg("cannot open '%s': %s", dir, errstr(errno));
		_exit(1);
	}
	char name[64];
	long long t0 = now_ns();
	for (uint64_t i = 0; i <= n; i++) {
		if (i == n && !stop)
			break;
		if (i < n)
			file_name(name, sizeof(name), i);
		else
			snprintf(name, sizeof(name), "%s", stop);
		int f = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (f < 0 || write(f, "x", 1) != 1 || close(f) < 0) {
			msg("cannot write '%s/%s': %s", dir, name, errstr(errno));
			_exit(1);
		}
	}
	long long t1 = now_ns();
	char line[64];
	int len = snprintf(line, sizeof(line), "%lld %lld\n", t0, t1);
	if (write(fd, line, (size_t)len) != len)
		_exit(1);
	_exit(0);
}

struct dropper {
	pid_t pid;
	int fd; /* its line, or -1 once read */
	char said[64];
	size_t len;
};

static int drop_start(struct dropper *d, uint64_t n, const char *stop)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		msg("cannot make a pipe: %s", errstr(errno));
		return -1;
	}
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		msg("cannot fork: %s", errstr(errno));
		return -1;
	}
	if (d->pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		close(p[0]);
		drop(n, stop, p[1]);
	}
	close(p[1]);
	d->fd = p[0];
	d->len = 0;
	return 0;
}

/* Read what the drop says (call when its fd is readable): 1 at its end. */
static int drop_read(struct dropper *d)
{
	ssize_t r = read(d->fd, d->said + d->len, sizeof(d->said) - 1 - d->len);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r > 0) {
		d->len += (size_t)r;
		return 0;
	}
	d->said[d->len] = '\0';
	close(d->fd);
	d->fd = -1;
	return 1;
}

/* Reap the drop; 0 and its times, or -1 with a message. */
static int drop_end(struct dropper *d, long long *t0, long long *t1)
{
	int status = 0;
	while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
		if (got_signal) {
			kill(d->pid, SIGKILL);
		}
	d->pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || sscanf(d->said, "%lld %lld", t0, t1) != 2) {
		char how[128];
		child_describe(status, how, sizeof(how));
		msg("the drop %s", how);
		return -1;
	}
	return 0;
}

static void drop_kill(struct dropper *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
			;
		d->pid = -1;
	}
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* The CPU time the kernel has charged PID with (its own), in ns, or 0. */
static long long self_cpu_ns(pid_t pid)
{
	long long ns = proc_runtime_ns(pid);
	return ns < 0 ? 0 : ns;
}

static long long ru_us(const struct rusage *ru)
{
	return (long long)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000 +
	       ru->ru_utime.tv_usec + ru->ru_stime.tv_usec;
}

/* poll() P until DEADLINE (now_ns()): the number of fds ready, 0 (nothing
 * yet, or a signal that is not ours: poll again), or -1 with *WHY set (we
 * were interrupted, the deadline passed, or poll failed). */
static int poll_until(struct pollfd *p, nfds_t n, long long deadline, const char **why)
{
	if (got_signal) {
		*why = "was interrupted";
		return -1;
	}
	long long left = deadline - now_ns();
	if (left <= 0) {
		*why = "timed out";
		return -1;
	}
	int pr = poll(p, n, left / 1000000 > INT_MAX ? INT_MAX : (int)(left / 1000000) + 1);
	if (pr < 0 && errno != EINTR) {
		*why = "could not be waited for";
		return -1;
	}
	return pr < 0 ? 0 : pr;
}

/* --- vigil run's log ------------------------------------------------------------ */

struct tally {
	uint64_t n, handled, jobs, failed, failed_files, twice;
	long long seen;
	unsigned char *once; /* per file: named in an end line of one path */
	size_t prefix_len;   /* "'DIR/f" */
	char prefix[PATH_MAX];
};

/* One line of the log. */
static void tally_line(struct tally *t, const char *l, size_t len)
{
	char line[PATH_MAX + 256];
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	memcpy(line, l, len);
	line[len] = '\0';
	const char *p;
	if ((p = strstr(line, "stopped: ")) && strncmp(line, "vigil run: stopped: ", 20) == 0) {
		const char *s = strstr(p, " failed, ");
		if (s)
			t->seen = strtoll(s + 9, NULL, 10);
		return;
	}
	if (strstr(line, "] cannot run '")) {
		t->failed++;
		t->failed_files++; /* a batch's count is not said: at least one */
		t->jobs++;
		return;
	}
	p = strstr(line, "] pid ");
	if (!p)
		return;
	p = strchr(p + 6, ' ');
	if (!p)
		return;
	p++;
	bool ok;
	if (strncmp(p, "exited 0 after ", 15) == 0)
		ok = true;
	else if (strncmp(p, "exited ", 7) == 0 || strncmp(p, "killed by ", 10) == 0)
		ok = false;
	else
		return; /* started */
	t->jobs++;
	const char *on = strstr(p, " on ");
	uint64_t k = 1;
	bool one = true;
	if (on && on[4] != '\'') {
		k = strtoull(on + 4, NULL, 10);
		one = false;
	}
	if (!ok) {
		t->failed++;
		t->failed_files += k;
		return;
	}
	t->handled += k;
	if (one && on && strncmp(on + 4, t->prefix, t->prefix_len) == 0) {
		char *end;
		uint64_t i = strtoull(on + 4 + t->prefix_len, &end, 10);
		if (*end == '\'' && i < t->n && t->once[i]++)
			t->twice++;
	}
}

/* Split what came on C's stderr into lines, for the tally. */
static void tally_feed(struct tally *t, struct child *c)
{
	char *nl;
	while ((nl = memchr(c->said + c->scanned, '\n', c->len - c->scanned))) {
		char *l = c->said + c->scanned;
		tally_line(t, l, (size_t)(nl - l));
		c->scanned = (size_t)(nl - c->said) + 1;
	}
	/* keep only what is not a whole line yet */
	if (c->scanned > 1 << 16) {
		memmove(c->said, c->said + c->scanned, c->len - c->scanned);
		c->len -= c->scanned;
		c->scanned = 0;
	}
}

/* Read C's stderr once (it is readable): 1 on EOF, 0, or -1 (memory). */
static int stderr_read(struct child *c)
{
	if (c->len + 4096 > c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1 << 16;
		char *n = realloc(c->said, cap);
		if (!n) {
			msg("out of memory");
			return -1;
		}
		c->said = n;
		c->cap = cap;
	}
	ssize_t r = read(c->err, c->said + c->len, c->cap - c->len - 1);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0)
		return 1;
	c->len += (size_t)r;
	c->said[c->len] = '\0';
	return 0;
}

static int run_log(uint64_t n, char **command, double timeout)
{
	struct child v;
	struct tally t = {.n = n, .seen = -1};
	t.once = calloc(n ? n : 1, 1);
	if (!t.once) {
		msg("out of memory");
		return 1;
	}
	t.prefix_len = (size_t)snprintf(t.prefix, sizeof(t.prefix), "'%s/f", dir);
	if (child_start(&v, command, "/dev/null") < 0)
		return 1;
	if (child_wait_text(&v, "vigil run: watching:", true, timeout, NULL) < 0) {
		child_close(&v);
		return 1;
	}
	/* from here on, the log is tallied, not kept */
	t.handled = t.jobs = t.failed = t.failed_files = 0;
	tally_feed(&t, &v);
	long long deadline = v.started + (long long)(timeout * 1e9);
	struct dropper d;
	if (drop_start(&d, n, NULL) < 0) {
		child_close(&v);
		return 1;
	}
	long long t0 = 0, t1 = 0, end = -1, self = 0;
	bool dropped = false, eof = false;
	const char *why = NULL;
	while (!dropped || end < 0) {
		struct pollfd p[2] = {{.fd = v.err, .events = POLLIN}, {.fd = d.fd, .events = POLLIN}};
		int pr = poll_until(p, 2, deadline, &why);
		if (pr < 0)
			break;
		if (pr == 0)
			continue;
		if (p[0].revents) {
			int r = stderr_read(&v);
			if (r < 0) {
				why = "could not be followed";
				break;
			}
			if (r > 0) {
				eof = true;
				why = "ended";
				break;
			}
			tally_feed(&t, &v);
			if (end < 0 && t.handled + t.failed_files >= n) {
				end = now_ns();
				self = self_cpu_ns(v.pid);
			} else if (dropped) {
				/* the log is read every 2 ms at most, not
				 * at each line: a reader woken twice a job would
				 * take the CPU the jobs need, which the loops'
				 * reader is not charged */
				nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
			}
		}
		if (p[1].revents && drop_read(&d)) {
			if (drop_end(&d, &t0, &t1) < 0) {
				child_close(&v);
				return 1;
			}
			dropped = true;
		}
	}
	if (why) {
		drop_kill(&d);
		int status = child_stop(&v, NULL);
		char how[128];
		if (eof) {
			child_describe(status, how, sizeof(how));
			why = how;
		}
		msg("'%s' %s with %" PRIu64 " of %" PRIu64 " files handled", command[0], why, t.handled, n);
		child_close(&v);
		return 1;
	}
	/* Stop it, and read the rest of its log: a late job, the summary. */
	kill(v.pid, SIGTERM);
	for (;;) {
		struct pollfd p = {.fd = v.err, .events = POLLIN};
		int pr = poll(&p, 1, 10000);
		if (pr == 0 || (pr < 0 && errno != EINTR) || got_signal)
			break;
		if (pr > 0 && stderr_read(&v))
			break;
		tally_feed(&t, &v);
	}
	struct rusage ru = {0};
	child_stop(&v, &ru);
	child_close(&v);
	free(t.once);
	printf("%lld %lld %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %lld %lld %lld\n",
	       (end - t0 + 500) / 1000, (t1 - t0 + 500) / 1000, t.handled, t.jobs, t.failed, t.twice,
	       self / 1000, ru_us(&ru), t.seen);
	return 0;
}

/* --- a pipeline ------------------------------------------------------------------- */

static int run_pipe(uint64_t n, const char *stop, char **watcher, char **reader, double timeout)
{
	struct child w;
	if (child_start(&w, watcher, CHILD_OUT_PIPE) < 0)
		return 1;
	if (child_wait_line(&w, "Watches established.", timeout, NULL) < 0) {
		child_close(&w);
		return 1;
	}
	long long deadline = w.started + (long long)(timeout * 1e9);

	/* READER: stdin the watcher's stdout, stdout a pipe to us (its EOF is
	 * the end), stderr ours */
	int op[2];
	if (pipe2(op, O_CLOEXEC) < 0) {
		msg("cannot make a pipe: %s", errstr(errno));
		child_close(&w);
		return 1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, w.out, 0);
	posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	child_spawnattr_init(&attr);
	pid_t rpid;
	int err = posix_spawnp(&rpid, reader[0], &fa, &attr, reader, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(op[1]);
	close(w.out); /* the reader's now, as in a shell's pipeline */
	w.out = -1;
	if (err) {
		msg("cannot run '%s': %s", reader[0], errstr(err));
		close(op[0]);
		child_close(&w);
		return 1;
	}
	long long wchar0 = proc_io(w.pid, "wchar");

	struct dropper d;
	if (drop_start(&d, n, stop) < 0) {
		kill(rpid, SIGKILL);
		waitpid(rpid, NULL, 0);
		child_close(&w);
		return 1;
	}
	long long t0 = 0, t1 = 0, end = -1, self = 0;
	bool dropped = false;
	const char *why = NULL;
	while (!dropped || end < 0) {
		struct pollfd p[3] = {{.fd = end < 0 ? op[0] : -1, .events = POLLIN},
				      {.fd = d.fd, .events = POLLIN},
				      {.fd = w.err, .events = POLLIN}};
		int pr = poll_until(p, 3, deadline, &why);
		if (pr < 0)
			break;
		if (pr == 0)
			continue;
		if (p[0].revents) {
			char buf[4096];
			ssize_t r = read(op[0], buf, sizeof(buf));
			if (r == 0) {
				end = now_ns();
				self = self_cpu_ns(w.pid) + self_cpu_ns(rpid);
			}
		}
		if (p[1].revents && drop_read(&d)) {
			if (drop_end(&d, &t0, &t1) < 0) {
				why = "stopped for the drop";
				break;
			}
			dropped = true;
		}
		if (p[2].revents)
			child_pass_stderr(&w);
	}
	close(op[0]);
	int rstatus = 0;
	struct rusage rru = {0}, wru = {0};
	if (why) {
		drop_kill(&d);
		kill(rpid, SIGKILL);
	}
	while (wait4(rpid, &rstatus, 0, &rru) < 0 && errno == EINTR)
		kill(rpid, SIGKILL);
	long long wchar1 = proc_io(w.pid, "wchar");
	child_stop(&w, &wru);
	child_pass_stderr(&w);
	child_close(&w);
	if (why) {
		msg("'%s' %s", reader[0], why);
		return 1;
	}
	/* what a complete report is, byte for byte: "DIR/NAME\n" per file */
	char name[64];
	file_name(name, sizeof(name), 0);
	long long line = (long long)strlen(dir) + 1 + (long long)strlen(name) + 1;
	long long want = line * (long long)n + (long long)strlen(dir) + 1 + (long long)strlen(stop) + 1;
	long long got = wchar0 >= 0 && wchar1 >= 0 ? wchar1 - wchar0 : -1;
	uint64_t handled = n;
	if (got != want) {
		msg("'%s' wrote %lld bytes, not %lld", watcher[0], got, want);
		handled = got > 0 ? (uint64_t)((double)got / line) : 0;
	}
	int failed = !(WIFEXITED(rstatus) && WEXITSTATUS(rstatus) == 0);
	if (failed) {
		char how[128];
		child_describe(rstatus, how, sizeof(how));
		msg("'%s' %s", reader[0], how);
	}
	printf("%lld %lld %" PRIu64 " 0 %d 0 %lld %lld -1\n", (end - t0 + 500) / 1000,
	       (t1 - t0 + 500) / 1000, handled, failed, self / 1000, ru_us(&rru) + ru_us(&wru));
	return 0;
}

int main(int argc, char **argv)
{
	const char *stop = NULL;
	double timeout = 600;
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2]; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (i + 1 == argc) {
			msg("option '%s' needs a value", a);
			return 1;
		}
		if (strcmp(a, "--pipe") == 0) {
			stop = argv[++i];
			if (!*stop || strchr(stop, '/')) {
				msg("--pipe needs a file name, not '%s'", stop);
				return 1;
			}
		} else if (strcmp(a, "--timeout") == 0) {
			if (parse_seconds(argv[++i], "--timeout", &timeout) < 0)
				return 1;
		} else {
			msg("unknown option '%s' (try 'droptime --help')", a);
			return 1;
		}
	}
	if (argc - i < 4 || strcmp(argv[i + 2], "--") != 0) {
		msg("usage: droptime [OPTION]... DIR N -- COMMAND... (try 'droptime --help')");
		return 1;
	}
	dir = argv[i];
	uint64_t n;
	if (parse_count(argv[i + 1], "N", 1, &n) < 0)
		return 1;
	for (uint64_t m = n - 1; m >= 10; m /= 10)
		width++;
	width = width + 1 < 5 ? 5 : width + 1;
	char **command = argv + i + 3, **reader = NULL;
	if (stop) {
		int sep = i + 3;
		while (sep < argc && strcmp(argv[sep], "--") != 0)
			sep++;
		if (sep == i + 3 || sep >= argc - 1) {
			msg("--pipe needs WATCHER... -- READER... (try 'droptime --help')");
			return 1;
		}
		argv[sep] = NULL;
		reader = argv + sep + 1;
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		msg("'%s' is not a directory", dir);
		return 1;
	}
	child_catch_signals();
	return stop ? run_pipe(n, stop, command, reader, timeout) : run_log(n, command, timeout);
}
