/* The watcher under measurement, as a child process: start it, wait for a
 * line on its stderr ("Watches established."), let it exit or stop it, and
 * reap it with its resource usage. Shared by the bench helpers that run a
 * watcher; each defines PROG and includes msg.h first.
 *
 * The child gets stdin on /dev/null, stdout where the caller says (a file,
 * /dev/null, or a pipe the caller reads), stderr on a pipe read here, the
 * default signal actions and an empty signal mask. Nothing in between: no
 * shell, no polling in the timed paths.
 *
 * The caller installs child_on_signal() for SIGINT, SIGTERM and SIGHUP
 * (child_catch_signals()), so that Ctrl-C stops the child before the
 * helper exits: a watcher left behind would hold its watches and skew the
 * next run. */
#ifndef BENCH_CHILD_H
#define BENCH_CHILD_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t got_signal;

static inline void child_on_signal(int sig)
{
	got_signal = sig;
}

/* At exit after a signal: die of it, with the default action, so that the
 * shell that ran us sees the signal and stops, rather than a plain failure
 * it would carry on after. */
static inline void child_reraise(void)
{
	if (got_signal) {
		signal(got_signal, SIG_DFL);
		raise(got_signal);
	}
}

/* SIGINT, SIGTERM, SIGHUP set got_signal (no SA_RESTART: a blocking call
 * returns EINTR), and the helper, once it has stopped its child, dies of
 * it at exit; SIGPIPE is ignored (a child that died under us). */
static inline void child_catch_signals(void)
{
	atexit(child_reraise);
	struct sigaction sa = {.sa_handler = child_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static inline long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct child {
	pid_t pid;       /* -1 when none runs */
	const char *name; /* argv[0], for messages */
	int err;         /* read end of its stderr, or -1 */
	int out;         /* read end of its stdout when it is a pipe, or -1 */
	char *said;      /* what it wrote on stderr up to the line waited for */
	size_t len, cap, scanned;
	long long started; /* CLOCK_MONOTONIC ns just before the spawn */
};

#define CHILD_OUT_PIPE ((const char *)1)

/* Spawn attributes for a child of ours: the default signal actions and an
 * empty signal mask, whatever ours are. Destroy with posix_spawnattr_destroy. */
static inline void child_spawnattr_init(posix_spawnattr_t *attr)
{
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_init(attr);
	posix_spawnattr_setsigdefault(attr, &all);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
}

/* Start ARGV (searched in PATH). OUT: a file to create or truncate for its
 * stdout, "/dev/null", or CHILD_OUT_PIPE for a pipe left in c->out.
 * 0, or -1 with a message. */
static inline int child_start(struct child *c, char **argv, const char *out)
{
	*c = (struct child){.pid = -1, .name = argv[0], .err = -1, .out = -1};
	int ep[2], op[2] = {-1, -1};
	if (pipe2(ep, O_CLOEXEC) < 0) {
		msg("cannot make a pipe: %s", errstr(errno));
		return -1;
	}
	if (out == CHILD_OUT_PIPE && pipe2(op, O_CLOEXEC) < 0) {
		msg("cannot make a pipe: %s", errstr(errno));
		close(ep[0]);
		close(ep[1]);
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out == CHILD_OUT_PIPE)
		posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	child_spawnattr_init(&attr);

	c->started = now_ns();
	int err = posix_spawnp(&c->pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(ep[1]);
	if (op[1] >= 0)
		close(op[1]);
	c->err = ep[0];
	c->out = op[0];
	if (err) {
		c->pid = -1;
		msg("cannot run '%s': %s", argv[0], errstr(err));
		return -1;
	}
	return 0;
}

static inline void child_describe(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "stopped");
}

/* Reap the child, waiting at most TIMEOUT_MS (-1: for ever). 1 and its
 * status and usage when reaped, 0 when it still runs, -1 on a signal to us. */
static inline int child_reap(struct child *c, int timeout_ms, int *ret_status, struct rusage *ret_ru)
{
	long long until = timeout_ms < 0 ? -1 : now_ns() + timeout_ms * 1000000LL;
	for (;;) {
		int status;
		struct rusage ru;
		pid_t r = wait4(c->pid, &status, WNOHANG, &ru);
		if (r == c->pid) {
			c->pid = -1;
			if (ret_status)
				*ret_status = status;
			if (ret_ru)
				*ret_ru = ru;
			return 1;
		}
		if (r < 0 && errno != EINTR) {
			c->pid = -1; /* not ours any more */
			return 1;
		}
		if (got_signal)
			return -1;
		if (until >= 0 && now_ns() >= until)
			return 0;
		/* 1 ms steps: only ever after the figures are taken */
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
}

/* Stop it (SIGTERM; SIGKILL 10 s later) and reap it. Its wait status. */
static inline int child_stop(struct child *c, struct rusage *ret_ru)
{
	int status = 0;
	if (c->pid > 0) {
		sig_atomic_t saved = got_signal;
		got_signal = 0; /* reap even when interrupted */
		kill(c->pid, SIGTERM);
		if (child_reap(c, 10000, &status, ret_ru) != 1) {
			kill(c->pid, SIGKILL);
			got_signal = 0;
			child_reap(c, -1, &status, ret_ru);
		}
		got_signal = saved;
	}
	return status;
}

static inline void child_close(struct child *c)
{
	child_stop(c, NULL);
	if (c->err >= 0)
		close(c->err);
	if (c->out >= 0)
		close(c->out);
	free(c->said);
	c->err = c->out = -1;
	c->said = NULL;
}

/* Repeat on our stderr what the child said there (after a failure). */
static inline void child_repeat(const struct child *c)
{
	if (!c->len)
		return;
	fwrite(c->said, 1, c->len, stderr);
	if (c->said[c->len - 1] != '\n')
		fputc('\n', stderr);
}

/* Wait until LINE is a whole line on the child's stderr (with PREFIX, the
 * start of one), for at most TIMEOUT seconds since the start. 0 and in
 * *ret_ns the CLOCK_MONOTONIC time of the read() that returned it; -1 (the
 * child stopped and reaped, a message printed with what it said) if it
 * exits, times out or we are interrupted first. */
static inline int child_wait_text(struct child *c, const char *line, bool prefix, double timeout,
				  long long *ret_ns)
{
	size_t want = strlen(line);
	long long deadline = c->started + (long long)(timeout * 1e9);
	const char *why = NULL;
	char how[128];
	for (;;) {
		if (got_signal) {
			why = "was interrupted";
			break;
		}
		long long left = deadline - now_ns();
		if (left <= 0) {
			why = "timed out";
			break;
		}
		struct pollfd p = {.fd = c->err, .events = POLLIN};
		int pr = poll(&p, 1, left / 1000000 > INT_MAX ? INT_MAX : (int)(left / 1000000) + 1);
		if (pr < 0 && errno != EINTR) {
			why = "could not be waited for";
			break;
		}
		if (pr <= 0)
			continue;
		if (c->len + 1024 > c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 4096;
			char *n = realloc(c->said, cap);
			if (!n) {
				why = "could not be followed (out of memory)";
				break;
			}
			c->said = n;
			c->cap = cap;
		}
		ssize_t r = read(c->err, c->said + c->len, c->cap - c->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			why = "closed its stderr"; /* usually: exited; see below */
			break;
		}
		long long t = now_ns();
		c->len += (size_t)r;
		c->said[c->len] = '\0';
		char *nl;
		while ((nl = memchr(c->said + c->scanned, '\n', c->len - c->scanned))) {
			char *l = c->said + c->scanned;
			c->scanned = (size_t)(nl - c->said) + 1;
			size_t len = (size_t)(nl - l);
			if ((len == want || (prefix && len > want)) && memcmp(l, line, want) == 0) {
				if (ret_ns)
					*ret_ns = t;
				return 0;
			}
		}
	}
	int status = child_stop(c, NULL);
	if (strcmp(why, "closed its stderr") == 0) {
		child_describe(status, how, sizeof(how));
		why = how;
	}
	msg("'%s' %s before printing '%s%s'%s", c->name, why, line, prefix ? "..." : "",
	    c->len ? "; it said:" : "");
	child_repeat(c);
	return -1;
}

static inline int child_wait_line(struct child *c, const char *line, double timeout, long long *ret_ns)
{
	return child_wait_text(c, line, false, timeout, ret_ns);
}

/* Copy what the child writes on stderr from now on to ours, without
 * blocking; call it while waiting, so that a chatty child never fills the
 * pipe. At the end of it (the child exited), c->err is closed and -1, which
 * poll() skips. */
static inline void child_pass_stderr(struct child *c)
{
	char buf[4096];
	ssize_t r;
	if (c->err < 0)
		return;
	int fl = fcntl(c->err, F_GETFL);
	if (!(fl & O_NONBLOCK))
		fcntl(c->err, F_SETFL, fl | O_NONBLOCK);
	while ((r = read(c->err, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)r, stderr);
	if (r == 0) {
		close(c->err);
		c->err = -1;
	}
}

#endif
