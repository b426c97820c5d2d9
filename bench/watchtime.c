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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pid_t child = -1;
static volatile sig_atomic_t got_signal;

#define PROG "watchtime"
#include "msg.h"

static void on_signal(int sig)
{
	got_signal = sig;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The value in kB of "Key:" in /proc/PID/status, or -1. */
static long status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	size_t klen = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* The number of inotify watches PID holds, over all its inotify fds, or -1. */
static long count_watches(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long n = 0;
	char *line = NULL;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char link[PATH_MAX], target[64];
		snprintf(link, sizeof(link), "/proc/%d/fd/%s", (int)pid, e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, "anon_inode:inotify") != 0)
			continue;
		snprintf(link, sizeof(link), "/proc/%d/fdinfo/%s", (int)pid, e->d_name);
		FILE *f = fopen(link, "re");
		if (!f)
			continue;
		while (getline(&line, &cap, f) > 0)
			if (strncmp(line, "inotify wd:", 11) == 0)
				n++;
		fclose(f);
	}
	free(line);
	closedir(d);
	return n;
}

/* Stop the child and reap it; its wait status, or -1. */
static int stop_child(void)
{
	int status = 0;
	kill(child, SIGTERM);
	for (int i = 0; i < 10000; i++) { /* 10 s in 1 ms steps */
		pid_t r = waitpid(child, &status, WNOHANG);
		if (r == child || (r < 0 && errno != EINTR))
			goto reaped;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	kill(child, SIGKILL);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
reaped:
	child = -1;
	return status;
}

static void describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "stopped");
}

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
	char **cmd = argv + i + 1;
	size_t wlen = strlen(want);

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		msg("cannot make a pipe: %s", errstr(errno));
		return 1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	/* The child gets the default signal actions and an empty mask. */
	posix_spawnattr_init(&attr);
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

	long long t0 = now_ns();
	int err = posix_spawnp(&child, cmd[0], &fa, &attr, cmd, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(p[1]);
	if (err) {
		child = -1;
		msg("cannot run '%s': %s", cmd[0], errstr(err));
		return 1;
	}

	/* Read stderr until `want` is a whole line in it. Keep everything, for
	 * the error message if it never comes (set-up messages are short). */
	size_t len = 0, cap = 4096, scanned = 0;
	char *buf = malloc(cap);
	long long deadline = t0 + (long long)(timeout * 1e9), t1 = -1;
	const char *why = NULL;
	while (buf && t1 < 0) {
		if (got_signal) {
			why = "was interrupted";
			break;
		}
		long long left = deadline - now_ns();
		if (left <= 0) {
			why = "timed out";
			break;
		}
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int pr = poll(&pfd, 1, left / 1000000 > INT_MAX ? INT_MAX : (int)(left / 1000000) + 1);
		if (pr < 0 && errno != EINTR) {
			why = "could not be waited for";
			break;
		}
		if (pr <= 0)
			continue;
		if (len + 1024 > cap) {
			char *n = realloc(buf, cap *= 2);
			if (!n) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = n;
		}
		ssize_t r = read(p[0], buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			why = "closed its stderr"; /* usually: exited; see below */
			break;
		}
		long long t = now_ns();
		len += (size_t)r;
		buf[len] = '\0';
		/* Look at each complete line not yet looked at. */
		char *nl;
		while ((nl = memchr(buf + scanned, '\n', len - scanned))) {
			char *line = buf + scanned;
			scanned = (size_t)(nl - buf) + 1;
			if ((size_t)(nl - line) == wlen && memcmp(line, want, wlen) == 0) {
				t1 = t;
				break;
			}
		}
	}
	if (!buf) {
		msg("out of memory");
		stop_child();
		return 1;
	}

	if (t1 < 0) {
		char how[128];
		if (strcmp(why, "closed its stderr") == 0) {
			int status = stop_child();
			describe_exit(status, how, sizeof(how));
			why = how;
		} else {
			stop_child();
		}
		msg("'%s' %s before printing '%s'%s", cmd[0], why, want, len ? "; it said:" : "");
		fwrite(buf, 1, len, stderr);
		if (len && buf[len - 1] != '\n')
			fputc('\n', stderr);
		free(buf);
		return 1;
	}
	free(buf);

	long hwm = status_kib(child, "VmHWM");
	long rss = status_kib(child, "VmRSS");
	long watches = count_watches(child);
	int status = stop_child();
	if (hwm < 0 || rss < 0 || watches < 0) {
		char how[128];
		describe_exit(status, how, sizeof(how));
		msg("cannot read /proc of '%s' (it %s after printing '%s')", cmd[0], how, want);
		return 1;
	}
	printf("%lld %ld %ld %ld\n", (t1 - t0 + 500) / 1000, hwm, rss, watches);
	return got_signal ? 1 : 0;
}
