/* floor_run: the least a handler can do to run a command on each file
 * dropped into an inbox, for bench/run.sh.
 *
 *   floor_run [--jobs N] DIR -- COMMAND [ARG]...
 *
 * Watches DIR for CLOSE_WRITE and MOVED_TO (vigil run's default events),
 * and runs COMMAND once per event, with each ARG that is exactly "{}"
 * replaced by the file's path (DIR/NAME); at most N (default 1) at a time,
 * in the order the events came. COMMAND is looked up in PATH once, at the
 * start. Each job is started with vfork() and execve() and nothing else:
 * no settling, no state, no process group, no signal reset, no pidfd; the
 * loop waits for a job's end in a blocking waitpid() (which the kernel
 * wakes on the CPU the job ended on), and reads the inotify queue only
 * between jobs, so it is a floor for a job at a time or N at a time, not a
 * handler to use: a file event that comes while N jobs run waits in the
 * kernel's queue, which overflows past max_queued_events.
 *
 * It speaks vigil run's log, as bench/droptime reads it: on stderr,
 * "vigil run: watching: DIR" once the watch is set, then, for each job that
 * ended, "floor_run: [floor] pid PID exited STATUS after 0s on 'PATH'" (or
 * "killed by signal N"), the lines of one wake-up in one write(). SIGTERM
 * ends it (the default action).
 *
 * Errors (DIR cannot be watched, COMMAND not found, a queue overflow): a
 * message, exit status 1.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG "floor_run"
#include "msg.h"
#include "args.h"

extern char **environ;

/* The paths waiting for a job: a ring of strdup()ed strings. */
struct queue {
	char **v;
	size_t head, len, cap;
};

static int push(struct queue *q, char *path)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 1024;
		char **v = malloc(cap * sizeof(*v));
		if (!v)
			return -1;
		for (size_t i = 0; i < q->len; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->len++) % q->cap] = path;
	return 0;
}

static char *pop(struct queue *q)
{
	char *p = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return p;
}

/* The jobs running: their pids and paths, unordered. */
struct job {
	pid_t pid;
	char *path;
};

/* The log lines not yet written. */
static char out[PIPE_BUF];
static size_t out_len;

static void flush(void)
{
	size_t off = 0;
	while (off < out_len) {
		ssize_t w = write(STDERR_FILENO, out + off, out_len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* nobody reads: the jobs go on */
		off += (size_t)w;
	}
	out_len = 0;
}

static void say_end(pid_t pid, int status, const char *path)
{
	char line[PATH_MAX + 128];
	int n;
	if (WIFEXITED(status))
		n = snprintf(line, sizeof(line), "floor_run: [floor] pid %d exited %d after 0s on '%s'\n",
			     (int)pid, WEXITSTATUS(status), path);
	else
		n = snprintf(line, sizeof(line), "floor_run: [floor] pid %d killed by signal %d after 0s on '%s'\n",
			     (int)pid, WTERMSIG(status), path);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if (out_len + len > sizeof(out))
		flush();
	memcpy(out + out_len, line, len);
	out_len += len;
}

/* COMMAND's file: itself with a '/', else the first executable in PATH. */
static char *lookup(const char *cmd)
{
	if (strchr(cmd, '/'))
		return strdup(cmd);
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		char *f;
		if (asprintf(&f, "%.*s%s%s", (int)len, path, len ? "/" : "", cmd) < 0)
			return NULL;
		struct stat st;
		if (stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0)
			return f;
		free(f);
		path += len + (path[len] == ':');
	}
	return NULL;
}

/* FILE with WORDS, started; its pid, or -1. A function of its own, so that
 * vfork() returns twice into a frame that holds nothing else. */
static pid_t spawn(const char *file, char **words)
{
	pid_t pid = vfork();
	if (pid == 0) {
		execve(file, words, environ);
		_exit(127);
	}
	return pid;
}

/* Read what the inotify fd has: 0, or -1 with a message (an overflow). */
static int read_events(int fd, const char *dir, struct queue *q)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			msg("cannot read events: %s", n < 0 ? errstr(errno) : "end of file");
			return -1;
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				msg("the event queue overflowed: files were missed");
				return -1;
			}
			char *path;
			if (!ev->len || (ev->mask & IN_ISDIR))
				continue;
			if (asprintf(&path, "%s/%s", dir, ev->name) < 0 || push(q, path) < 0) {
				msg("out of memory");
				return -1;
			}
		}
	}
}

int main(int argc, char **argv)
{
	uint64_t jobs = 1;
	int i = 1;
	if (i + 1 < argc && strcmp(argv[i], "--jobs") == 0) {
		if (parse_count(argv[i + 1], "--jobs", 1, &jobs) < 0)
			return 1;
		i += 2;
	}
	if (argc - i < 3 || strcmp(argv[i + 1], "--") != 0) {
		fputs("usage: floor_run [--jobs N] DIR -- COMMAND [ARG]...\n"
		      "Run COMMAND on each file written into DIR, '{}' its path, N at a time, doing\n"
		      "nothing else: a floor for bench/run.sh. Logs as vigil run does.\n", stderr);
		return 1;
	}
	const char *dir = argv[i];
	char **cmd = argv + i + 2;
	int ncmd = argc - i - 2;
	char *file = lookup(cmd[0]);
	if (!file) {
		msg("cannot run '%s': not found in PATH", cmd[0]);
		return 1;
	}
	/* the words, "{}" at PLACES, filled in per job in the child's copy */
	char **words = calloc((size_t)ncmd + 1, sizeof(*words));
	struct job *run = calloc(jobs, sizeof(*run));
	if (!words || !run) {
		msg("out of memory");
		return 1;
	}
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0 || inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
		msg("cannot watch '%s': %s", dir, errstr(errno));
		return 1;
	}
	fprintf(stderr, "vigil run: watching: %s\n", dir);

	struct queue q = {0};
	size_t running = 0;
	for (;;) {
		if (read_events(fd, dir, &q) < 0)
			return 1;
		while (running < jobs && q.len) {
			char *path = pop(&q);
			for (int k = 0; k < ncmd; k++)
				words[k] = strcmp(cmd[k], "{}") == 0 ? path : cmd[k];
			pid_t pid = spawn(file, words);
			if (pid < 0) {
				msg("cannot start a job: %s", errstr(errno));
				return 1;
			}
			size_t k = 0;
			while (run[k].pid)
				k++;
			run[k] = (struct job){.pid = pid, .path = path};
			running++;
		}
		flush();
		if (!running) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, -1) < 0 && errno != EINTR) {
				msg("cannot wait for events: %s", errstr(errno));
				return 1;
			}
			continue;
		}
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			msg("cannot wait for a job: %s", errstr(errno));
			return 1;
		}
		for (size_t k = 0; k < jobs; k++) {
			if (run[k].pid == pid) {
				say_end(pid, status, run[k].path);
				free(run[k].path);
				run[k] = (struct job){0};
				running--;
				break;
			}
		}
	}
}
