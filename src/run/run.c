/* vigil run: on each file that is complete (settled), run a command on it,
 * once, safely. One epoll loop holds everything: each rule's inotify fd, a
 * signalfd, one pidfd per job, the stdin pipes being fed, and one timeout,
 * the earliest deadline. Nothing wakes while nothing happens. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "job.h"
#include "linger.h"
#include "rule.h"
#include "store.h"
#include "vigil.h"

#define NS 1000000000ull

enum src_kind { SRC_RULE, SRC_JOB, SRC_STDIN, SRC_OUTPUT, SRC_SIGNAL, SRC_LINGER };

struct rjob;

struct rrule {
	enum src_kind kind; /* SRC_RULE: first, for epoll's data.ptr */
	struct rule r;
	vigil *v;
	struct store *store;
	struct rjob **jobs; /* running */
	size_t n_jobs, cap_jobs;
	uint64_t next_start;  /* --min-interval */
	uint64_t ready_since; /* since when a path is ready: a partial batch,
			       * or a restart, waits from then */
	uint64_t *starts;     /* loop guard: the last loop_burst starts */
	size_t n_starts, starts_pos;
	bool throttled;
	bool rescan;          /* after an overflow */
	bool retired;         /* replaced by a reload; freed once idle */
	uint64_t n_run, n_failed, n_paths, n_skipped;
};

/* A stream of a job captured into the log (--capture). It lives until its
 * writers are all gone, which may be after the job: what the job left
 * running in its group still writes there, and must not get SIGPIPE. */
struct output {
	enum src_kind kind;   /* SRC_OUTPUT */
	struct job_out o;
	struct rjob *job;     /* NULL once the job has ended */
	char *rule;
	pid_t pid;
	int stream;           /* JOB_STDOUT, JOB_STDERR */
	struct output *next;  /* in run->outputs */
};

struct rjob {
	enum src_kind kind; /* SRC_JOB */
	struct rrule *rule;
	struct job j;
	struct {
		enum src_kind kind; /* SRC_STDIN */
		struct rjob *job;
	} in;
	struct output *out[2]; /* JOB_STDOUT, JOB_STDERR, when captured */
	uint64_t shutdown_at; /* while stopping: stop it then */
};

struct run {
	struct rrule **rules;
	size_t n_rules;
	const char *rules_file;
	int epfd;
	struct {
		enum src_kind kind; /* SRC_SIGNAL */
		int fd;
		sigset_t mask; /* what it reads: SIGCHLD only once needed */
	} sig;
	bool quiet, json_log;
	unsigned capture;     /* CAPTURE_*: the jobs' streams that go to the log */
	int stopping;         /* 0, 1 after the first signal, 2 after another */
	struct timespec start; /* CLOCK_REALTIME before the first watch */
	int notify_fd;
	struct sockaddr_un notify_addr;
	socklen_t notify_len;
	uint64_t status_due;
	struct linger_list *linger; /* process groups jobs left behind */
	struct output *outputs;     /* the captured streams still open */
	enum src_kind linger_kind; /* SRC_LINGER, for its fd */
	char log[PIPE_BUF];   /* whole log lines not yet written (log_close) */
	size_t log_len;
	char *line;           /* the line being made (log_open) */
	size_t line_len;
};

/* Room for one more in *V (LEN used of *CAP, elements of SIZE). */
static int grow(void **v, size_t *cap, size_t len, size_t size)
{
	if (len < *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 8;
	void *p = reallocarray(*v, n, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* --- logs ------------------------------------------------------------------ */

/* A log line is made whole in memory (log_open() gives where to print it,
 * log_close() takes it), and lines leave in as few write()s as keep them
 * whole: when vigil is about to wait (log_flush()), or before PIPE_BUF bytes
 * would be waiting. A job's end line and the next one's start line go out
 * together, and as a write of up to PIPE_BUF bytes to a pipe is atomic, the
 * jobs that share vigil's stderr never cut into a line that fits in one. */
static void log_flush(struct run *run)
{
	fflush(stdout);
	if (run->log_len)
		fwrite(run->log, 1, run->log_len, stderr);
	run->log_len = 0;
	fflush(stderr);
}

static FILE *log_open(struct run *run)
{
	FILE *f = open_memstream(&run->line, &run->line_len);
	if (!f) {
		/* out of memory: straight out, after what is waiting */
		log_flush(run);
		return stderr;
	}
	return f;
}

static void log_close(struct run *run, FILE *f)
{
	if (f == stderr) {
		fflush(stderr);
		return;
	}
	if (fclose(f) == 0) {
		if (run->log_len + run->line_len > sizeof(run->log))
			log_flush(run);
		if (run->line_len > sizeof(run->log)) {
			fwrite(run->line, 1, run->line_len, stderr);
			fflush(stderr);
		} else {
			memcpy(run->log + run->log_len, run->line, run->line_len);
			run->log_len += run->line_len;
		}
	}
	free(run->line);
	run->line = NULL;
}

/* Text in a text log line: control characters, backslashes and quotes
 * escaped, so that one line of the log is one line whatever it holds. */
static void put_escaped(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '\'')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			putc(c, f);
	}
}

/* A path in a text log line, quoted and escaped. */
static void put_text_path(FILE *f, const char *s)
{
	putc('\'', f);
	put_escaped(f, s, strlen(s));
	putc('\'', f);
}

/* The "time" of a JSON log line: now, or AT (monotonic ns, not 0), the
 * instant the loop acted on. A job's start line carries the instant the
 * job was started at, the one --min-interval counts from, so that the gaps
 * between start lines are the gaps vigil kept, however long the fork took
 * on a busy machine. */
static void log_time_json(FILE *f, uint64_t at)
{
	struct timespec ts;
	struct tm tm;
	char buf[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = mono();
	if (at && at < now) {
		uint64_t real = (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec - (now - at);
		ts.tv_sec = (time_t)(real / NS);
		ts.tv_nsec = (long)(real % NS);
	}
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "{\"time\":\"%s.%03ldZ\"", buf, ts.tv_nsec / 1000000);
}

static void log_paths(FILE *f, const struct job *j, bool json)
{
	if (json) {
		fputs(",\"paths\":[", f);
		for (size_t i = 0; i < j->n_paths; i++) {
			if (i)
				putc(',', f);
			json_string(f, j->paths[i].path, strlen(j->paths[i].path));
		}
		putc(']', f);
	} else if (j->n_paths == 1) {
		put_text_path(f, j->paths[0].path);
	} else {
		fprintf(f, "%zu paths", j->n_paths);
	}
}

/* The start of a JSON log line about job RJ: time, rule, WHAT, pid, paths. */
static void log_job_json(FILE *f, const struct rjob *rj, const char *what)
{
	log_time_json(f, strcmp(what, "start") == 0 ? rj->j.started : 0);
	fputs(",\"rule\":", f);
	json_string(f, rj->rule->r.name, strlen(rj->rule->r.name));
	fprintf(f, ",\"job\":\"%s\",\"pid\":%d,\"count\":%zu", what, (int)rj->j.pid,
		rj->j.n_paths);
	log_paths(f, &rj->j, true);
}

static void log_start(struct run *run, struct rjob *rj)
{
	if (run->quiet)
		return;
	FILE *f = log_open(run);
	if (run->json_log) {
		log_job_json(f, rj, "start");
		fputs("}\n", f);
	} else {
		fprintf(f, "%s: [%s] pid %d started on ", cli_prog, rj->rule->r.name, (int)rj->j.pid);
		log_paths(f, &rj->j, false);
		putc('\n', f);
	}
	log_close(run, f);
}

static const char *stop_reason(enum job_stop s)
{
	switch (s) {
	case STOP_TIMEOUT: return "timeout";
	case STOP_RESTART: return "restart";
	case STOP_SHUTDOWN: return "shutdown";
	default: return NULL;
	}
}

static void log_end(struct run *run, struct rjob *rj, int status, uint64_t now)
{
	bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	if (run->quiet && !failed)
		return;
	double secs = (double)(now - rj->j.started) / 1e9;
	const char *why = stop_reason(rj->j.stop);
	const char *sig = WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;
	FILE *f = log_open(run);
	if (run->json_log) {
		log_job_json(f, rj, "end");
		if (WIFEXITED(status))
			fprintf(f, ",\"status\":%d", WEXITSTATUS(status));
		else
			fprintf(f, ",\"signal\":\"SIG%s\"", sig ? sig : "?");
		if (why)
			fprintf(f, ",\"stopped\":\"%s\"", why);
		fprintf(f, ",\"seconds\":%.3f}\n", secs);
	} else {
		fprintf(f, "%s: [%s] pid %d ", cli_prog, rj->rule->r.name, (int)rj->j.pid);
		if (WIFEXITED(status))
			fprintf(f, "exited %d", WEXITSTATUS(status));
		else
			fprintf(f, "killed by SIG%s", sig ? sig : "?");
		if (why)
			fprintf(f, " (%s)", why);
		fprintf(f, " after %.3fs on ", secs);
		log_paths(f, &rj->j, false);
		putc('\n', f);
	}
	log_close(run, f);
}

/* A line a job wrote on a captured stream: "PROG: [rule] pid N stderr:
 * LINE", control characters escaped, or a JSON line with "stream" and
 * "line". */
static void log_output(struct run *run, const struct output *out, const char *s,
		       size_t len)
{
	const char *stream = out->stream == JOB_STDOUT ? "stdout" : "stderr";
	FILE *f = log_open(run);
	if (run->json_log) {
		log_time_json(f, 0);
		fputs(",\"rule\":", f);
		json_string(f, out->rule, strlen(out->rule));
		fprintf(f, ",\"pid\":%d,\"stream\":\"%s\",\"line\":", (int)out->pid, stream);
		json_string(f, s, len);
		fputs("}\n", f);
	} else {
		fprintf(f, "%s: [%s] pid %d %s: ", cli_prog, out->rule, (int)out->pid, stream);
		put_escaped(f, s, len);
		putc('\n', f);
	}
	log_close(run, f);
}

struct output_ctx {
	struct run *run;
	const struct output *out;
};

static void output_line(void *ctx, const char *s, size_t len)
{
	struct output_ctx *c = ctx;
	log_output(c->run, c->out, s, len);
}

static void output_free(struct run *run, struct output *out)
{
	for (struct output **p = &run->outputs; *p; p = &(*p)->next) {
		if (*p == out) {
			*p = out->next;
			break;
		}
	}
	if (out->job)
		out->job->out[out->stream] = NULL;
	if (out->o.fd >= 0)
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, out->o.fd, NULL);
	job_out_fini(&out->o);
	free(out->rule);
	free(out);
}

/* Log what captured stream OUT has (with DRAIN, then close it); once it
 * has ended, it goes. */
static void read_output(struct run *run, struct output *out, bool drain)
{
	struct output_ctx ctx = {run, out};
	/* at its end it is closed, which takes it out of epoll: vigil holds
	 * the only copy */
	if (job_out_read(&out->o, drain, output_line, &ctx) == 1)
		output_free(run, out);
}

/* A message about a rule, "PROG: [rule] ..." (or JSON with "message"). */
static void rule_say(struct run *run, const struct rrule *rr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void rule_say(struct run *run, const struct rrule *rr, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	FILE *f = log_open(run);
	if (run->json_log) {
		log_time_json(f, 0);
		if (rr) {
			fputs(",\"rule\":", f);
			json_string(f, rr->r.name, strlen(rr->r.name));
		}
		fputs(",\"message\":", f);
		json_string(f, msg, strlen(msg));
		fputs("}\n", f);
	} else if (rr) {
		fprintf(f, "%s: [%s] %s\n", cli_prog, rr->r.name, msg);
	} else {
		fprintf(f, "%s: %s\n", cli_prog, msg);
	}
	log_close(run, f);
}

/* --- systemd ------------------------------------------------------------- */

static void notify_init(struct run *run)
{
	run->notify_fd = -1;
	const char *sock = getenv("NOTIFY_SOCKET");
	if (!sock || !*sock || strlen(sock) >= sizeof(run->notify_addr.sun_path))
		return;
	if (sock[0] != '/' && sock[0] != '@')
		return;
	run->notify_addr.sun_family = AF_UNIX;
	size_t len = strlen(sock);
	memcpy(run->notify_addr.sun_path, sock, len);
	if (sock[0] == '@')
		run->notify_addr.sun_path[0] = '\0'; /* the abstract namespace */
	run->notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	run->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static void notify(struct run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void notify(struct run *run, const char *fmt, ...)
{
	if (run->notify_fd < 0)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0)
		sendto(run->notify_fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1,
		       MSG_NOSIGNAL, (struct sockaddr *)&run->notify_addr, run->notify_len);
}

static void counts(const struct run *run, uint64_t *ran, uint64_t *failed,
		   uint64_t *paths, size_t *waiting, size_t *running)
{
	*ran = *failed = *paths = 0;
	*waiting = *running = 0;
	for (size_t i = 0; i < run->n_rules; i++) {
		const struct rrule *rr = run->rules[i];
		*ran += rr->n_run;
		*failed += rr->n_failed;
		*paths += rr->n_paths;
		*waiting += rr->store ? store_waiting(rr->store) : 0;
		*running += rr->n_jobs;
	}
}

static void notify_status(struct run *run)
{
	uint64_t ran, failed, paths;
	size_t waiting, running;
	counts(run, &ran, &failed, &paths, &waiting, &running);
	notify(run, "STATUS=%llu jobs run, %llu failed, %llu paths seen; %zu running, %zu waiting",
	       (unsigned long long)ran, (unsigned long long)failed,
	       (unsigned long long)paths, running, waiting);
}

/* --- paths ------------------------------------------------------------------- */

/* PATH relative to the root of RR it lies in, or NULL. */
static const char *relative(const struct rrule *rr, const char *path)
{
	for (size_t i = 0; i < rr->r.paths.len; i++) {
		const char *root = rr->r.paths.v[i];
		size_t n = strlen(root);
		while (n > 1 && root[n - 1] == '/')
			n--;
		if (strncmp(path, root, n) != 0)
			continue;
		if (path[n] == '/')
			return path + n + 1;
		if (path[n] == '\0') /* the root itself: a file watched directly */
			return strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		if (n == 1 && root[0] == '/')
			return path + 1;
	}
	return NULL;
}

static bool wants(const struct rrule *rr, const char *path, bool is_dir)
{
	const char *rel = relative(rr, path);
	return rel && rule_wants(&rr->r, rel, path, is_dir);
}

/* Whether a walk goes below directory PATH: not hidden (unless asked) and
 * not excluded. --match does not stop it: what is below may match. */
static bool descend(const struct rrule *rr, const char *path)
{
	const char *rel = relative(rr, path);
	return rel && rule_descends(&rr->r, rel, path);
}

/* --- the walk (--initial, and after an overflow) --------------------------- */

struct walk_item {
	char *path;
};

/* Every entry below RR's roots the rule would see, without following a
 * symlink, one directory open at a time. FN gets each path and its lstat. */
static int walk(struct run *run, struct rrule *rr,
		void (*fn)(struct run *, struct rrule *, const char *, const struct stat *))
{
	struct walk_item *stack = NULL;
	size_t len = 0, cap = 0;
	int r = 0;
	for (size_t i = 0; i < rr->r.paths.len && r >= 0; i++) {
		struct stat st;
		if (lstat(rr->r.paths.v[i], &st) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			fn(run, rr, rr->r.paths.v[i], &st);
			continue;
		}
		char *p = strdup(rr->r.paths.v[i]);
		if (!p || grow((void **)&stack, &cap, len, sizeof(*stack)) < 0) {
			free(p);
			r = -ENOMEM;
			break;
		}
		stack[len++].path = p;
		while (len && r >= 0) {
			char *dir = stack[--len].path;
			int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
			if (!d) {
				if (fd >= 0)
					close(fd);
				free(dir);
				continue; /* vanished or unreadable: nothing to queue */
			}
			size_t dl = strlen(dir);
			bool slash = dl && dir[dl - 1] == '/';
			struct dirent *de;
			while ((de = readdir(d)) && r >= 0) {
				if (de->d_name[0] == '.' && (!de->d_name[1] ||
				    (de->d_name[1] == '.' && !de->d_name[2])))
					continue;
				char *child;
				if (asprintf(&child, "%s%s%s", dir, slash ? "" : "/", de->d_name) < 0) {
					r = -ENOMEM;
					break;
				}
				struct stat cst;
				if (fstatat(dirfd(d), de->d_name, &cst, AT_SYMLINK_NOFOLLOW) < 0) {
					free(child);
					continue;
				}
				fn(run, rr, child, &cst);
				if (S_ISDIR(cst.st_mode) && rr->r.recursive && descend(rr, child)) {
					if (grow((void **)&stack, &cap, len, sizeof(*stack)) < 0) {
						free(child);
						r = -ENOMEM;
						break;
					}
					stack[len++].path = child;
				} else {
					free(child);
				}
			}
			closedir(d);
			free(dir);
		}
	}
	while (len)
		free(stack[--len].path);
	free(stack);
	return r;
}

static uint32_t initial_events(const struct rule *r)
{
	if (r->events & IN_CLOSE_WRITE)
		return IN_CLOSE_WRITE;
	if (r->events & IN_MOVED_TO)
		return IN_MOVED_TO;
	return r->events & (r->events ? -r->events : 0); /* the lowest one asked */
}

static void queue_found(struct run *run, struct rrule *rr, const char *path,
			const struct stat *st)
{
	bool is_dir = S_ISDIR(st->st_mode);
	/* a complete file is a regular one; directories only when asked for
	 * (--dirs), symlinks and devices never */
	if (rr->r.kind == KIND_DIRS ? !is_dir : !S_ISREG(st->st_mode))
		return;
	if (!wants(rr, path, is_dir))
		return;
	if (rr->rescan && !store_changed(rr->store, path, st, &run->start))
		return;
	uint32_t ev = initial_events(&rr->r) | (is_dir ? IN_ISDIR : 0);
	if (store_touch(rr->store, path, ev, NULL, mono() + rr->r.settle_ns) < 0)
		rule_say(run, rr, "out of memory: cannot queue '%s'", path);
	else
		rr->n_paths++;
}

/* --- events ---------------------------------------------------------------- */

static void touch(struct run *run, struct rrule *rr, const char *path,
		  uint32_t events, const char *from, uint64_t now)
{
	bool had = store_has(rr->store, path);
	if (store_touch(rr->store, path, events, from, now + rr->r.settle_ns) < 0)
		rule_say(run, rr, "out of memory: cannot queue '%s'", path);
	else if (!had)
		rr->n_paths++;
}

/* An error event: what could not be watched, and why. */
static void say_unwatched(struct run *run, const struct rrule *rr,
			  const struct vigil_event *ev)
{
	rule_say(run, rr, "cannot watch '%s': %s", ev->path, cli_strerror(-ev->error));
}

static void on_event(struct run *run, struct rrule *rr, const struct vigil_event *ev,
		     uint64_t now)
{
	uint32_t m = ev->mask;
	if (ev->flags & VIGIL_EVENT_OVERFLOW) {
		rule_say(run, rr, "the kernel event queue overflowed; looking for files "
			 "changed meanwhile");
		rr->rescan = true;
		return;
	}
	if (ev->flags & VIGIL_EVENT_ERROR) {
		say_unwatched(run, rr, ev);
		return;
	}
	if (m & (IN_IGNORED | IN_UNMOUNT)) {
		if (m & IN_IGNORED)
			rule_say(run, rr, "'%s' is gone; no longer watched", ev->path);
		return;
	}
	bool is_dir = m & IN_ISDIR;
	if ((m & IN_MOVED_FROM) && (m & IN_MOVED_TO)) { /* a rename, paired */
		char *from = NULL;
		bool was = store_forget(rr->store, ev->from_path, &from);
		free(from);
		/* what waited below a renamed directory waits under its new path */
		if (is_dir && store_move_below(rr->store, ev->from_path, ev->path) < 0)
			rule_say(run, rr, "out of memory: cannot follow the rename of '%s'",
				 ev->from_path);
		if (wants(rr, ev->path, is_dir) && (was || (rr->r.events & IN_MOVED_TO)))
			touch(run, rr, ev->path, IN_MOVED_TO | (m & IN_ISDIR), ev->from_path, now);
		return;
	}
	if (m & (IN_MOVED_FROM | IN_DELETE)) {
		/* gone from here: a path that waited is not to be run on, nor
		 * anything that waited below it */
		store_forget(rr->store, ev->path, NULL);
		if (is_dir)
			store_move_below(rr->store, ev->path, NULL);
		/* unless going away is what the rule is about */
		if ((m & rr->r.events) && wants(rr, ev->path, is_dir))
			touch(run, rr, ev->path, (m & rr->r.events) | (m & IN_ISDIR), NULL, now);
		return;
	}
	if (m & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		/* a watched directory's own: its parent's event says it all (and
		 * a renamed one is already under its new path); a file watched
		 * by itself is gone from where it was */
		bool watched_dir = ev->dir_len && ev->dir[ev->dir_len - 1] == '/';
		if (!watched_dir)
			store_forget(rr->store, ev->path, NULL);
		return;
	}
	if (!wants(rr, ev->path, is_dir))
		return;
	if (m & rr->r.events)
		touch(run, rr, ev->path, (m & rr->r.events) | (m & IN_ISDIR), NULL, now);
	else if (rr->r.settle_ns && store_has(rr->store, ev->path))
		touch(run, rr, ev->path, 0, NULL, now); /* still changing: wait on */
}

/* --- jobs -------------------------------------------------------------------- */

static int epoll_add(struct run *run, int fd, uint32_t events, void *ptr)
{
	struct epoll_event e = {.events = events, .data.ptr = ptr};
	return epoll_ctl(run->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static bool guard_allows(struct run *run, struct rrule *rr, uint64_t now, uint64_t *until)
{
	if (!rr->r.loop_burst || rr->n_starts < rr->r.loop_burst)
		return true;
	uint64_t oldest = rr->starts[rr->starts_pos]; /* the ring is full */
	if (now - oldest >= rr->r.loop_window_ns) {
		rr->throttled = false;
		return true;
	}
	*until = oldest + rr->r.loop_window_ns;
	if (!rr->throttled) {
		rr->throttled = true;
		rule_say(run, rr, "%u jobs started within %.3gs: its own jobs may be "
			 "triggering it again; throttled to %u per %.3gs (see --loop-burst)",
			 rr->r.loop_burst, (double)rr->r.loop_window_ns / 1e9,
			 rr->r.loop_burst, (double)rr->r.loop_window_ns / 1e9);
	}
	return false;
}

static void note_start(struct rrule *rr, uint64_t now)
{
	if (!rr->r.loop_burst || !rr->starts)
		return;
	rr->starts[rr->starts_pos] = now;
	rr->starts_pos = (rr->starts_pos + 1) % rr->r.loop_burst;
	if (rr->n_starts < rr->r.loop_burst)
		rr->n_starts++;
}

/* Remember the files of job J as they are, at its start (a re-crawl after
 * an overflow does not queue them again while it runs) and at its end (a
 * change the job made itself does not count as new). */
static void record_paths(struct rrule *rr, const struct job *j)
{
	for (size_t i = 0; i < j->n_paths; i++) {
		struct stat st;
		const char *p = j->paths[i].path;
		store_record(rr->store, p, lstat(p, &st) == 0 ? &st : NULL);
	}
}

/* The job on PATHS (N) is over, or never started: they may go to another. */
static void release_paths(struct rrule *rr, const struct store_path *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_done(rr->store, paths[i].path);
}

/* The captured streams of job RJ, just started (FDS from job_start()): into
 * the loop. One that cannot be kept is closed (the job's writes to it fail). */
static void add_outputs(struct run *run, struct rjob *rj)
{
	for (int k = 0; k < 2; k++) {
		int fd = rj->j.out_fd[k];
		if (fd < 0)
			continue;
		rj->j.out_fd[k] = -1;
		struct output *out = calloc(1, sizeof(*out));
		char *rule = strdup(rj->rule->r.name);
		if (!out || !rule) {
			free(out);
			free(rule);
			close(fd);
			rule_say(run, rj->rule, "out of memory: pid %d's %s is not logged",
				 (int)rj->j.pid, k == JOB_STDOUT ? "stdout" : "stderr");
			continue;
		}
		*out = (struct output){.kind = SRC_OUTPUT, .o = {.fd = fd}, .job = rj,
				       .rule = rule, .pid = rj->j.pid, .stream = k,
				       .next = run->outputs};
		run->outputs = out;
		rj->out[k] = out;
		epoll_add(run, fd, EPOLLIN, out);
	}
}

/* A job without a pidfd (a kernel without pidfd_open(), or no fd left for
 * one) ends with a SIGCHLD only: from now on the signalfd reads it. Until
 * then SIGCHLD, blocked, stays pending unread, and the loop is not woken
 * twice for each job's end. */
static void watch_sigchld(struct run *run)
{
	if (sigismember(&run->sig.mask, SIGCHLD))
		return;
	sigaddset(&run->sig.mask, SIGCHLD);
	if (signalfd(run->sig.fd, &run->sig.mask, 0) < 0)
		sigdelset(&run->sig.mask, SIGCHLD); /* cannot be: the fd is ours */
}

/* Start a job on up to N ready paths: false when none could be taken
 * (each is in a running job) or memory ran out. */
static bool start_job(struct run *run, struct rrule *rr, size_t n, uint64_t now)
{
	struct store_path *paths = calloc(n, sizeof(*paths));
	struct rjob *rj = calloc(1, sizeof(*rj));
	if (!paths || !rj ||
	    grow((void **)&rr->jobs, &rr->cap_jobs, rr->n_jobs, sizeof(*rr->jobs)) < 0) {
		free(paths);
		free(rj);
		rule_say(run, rr, "out of memory: cannot start a job");
		return false;
	}
	/* one path is taken whatever its length */
	n = store_take(rr->store, n, n > 1 ? job_arg_budget() : SIZE_MAX, paths);
	if (!n) { /* every ready path is still in a running job */
		free(paths);
		free(rj);
		return false;
	}
	rj->kind = SRC_JOB;
	rj->rule = rr;
	rj->in.kind = SRC_STDIN;
	rj->in.job = rj;
	const char *what;
	int r = job_start(&rj->j, &rr->r, paths, n, run->capture, now, &what);
	note_start(rr, now);
	rr->next_start = now + rr->r.min_interval_ns;
	if (r < 0) {
		rr->n_failed++;
		rr->n_run++;
		rule_say(run, rr, "cannot run '%s': %s", strcmp(what, "the command") == 0 ?
			 rr->r.argv.v[0] : what, cli_strerror(-r));
		release_paths(rr, paths, n);
		for (size_t i = 0; i < n; i++)
			store_path_fini(&paths[i]);
		free(paths);
		free(rj);
		return true;
	}
	rr->jobs[rr->n_jobs++] = rj;
	record_paths(rr, &rj->j);
	if (rj->j.pidfd >= 0)
		epoll_add(run, rj->j.pidfd, EPOLLIN, rj);
	else
		watch_sigchld(run);
	if (rj->j.stdin_fd >= 0 && job_feed(&rj->j) == 0)
		epoll_add(run, rj->j.stdin_fd, EPOLLOUT, &rj->in);
	add_outputs(run, rj);
	log_start(run, rj);
	return true;
}

static void stop_job(struct rrule *rr, struct rjob *rj, enum job_stop why, uint64_t now)
{
	if (rj->j.stop != STOP_NONE && why != STOP_SHUTDOWN)
		return;
	if (rj->j.kill_at)
		return; /* already on its way */
	rj->j.stop = why;
	job_signal(&rj->j, rr->r.stop_signal);
	rj->j.kill_at = now + (rr->r.stop_timeout_ns ? rr->r.stop_timeout_ns : 1);
}

static void drop_ready(struct run *run, struct rrule *rr, const char *why)
{
	size_t n = store_ready(rr->store), k;
	struct store_path p;
	for (k = 0; k < n && store_pop(rr->store, &p); k++)
		store_path_fini(&p);
	rr->n_skipped += k;
	if (k)
		rule_say(run, rr, "%zu path%s skipped: %s", k, k == 1 ? "" : "s", why);
}

static uint64_t min_deadline(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* Start what can start; the earliest time something more can, or 0. */
static uint64_t schedule(struct run *run, struct rrule *rr, uint64_t now)
{
	uint64_t next = 0;
	if (rr->retired || run->stopping)
		return 0;
	store_settle(rr->store, now);
	while (store_ready(rr->store)) {
		size_t ready = store_ready(rr->store);
		if (!rr->ready_since)
			rr->ready_since = now;
		if (rr->r.on_busy == BUSY_RESTART) {
			/* a burst of saves is one restart: wait while others
			 * still settle, but not past one more settle time, so
			 * that a file written without end cannot hold it off */
			uint64_t due = store_next_due(rr->store);
			uint64_t cap = rr->ready_since + rr->r.settle_ns;
			if (due && now < cap)
				return min_deadline(next, due < cap ? due : cap);
		}
		/* a restart also waits for what the last job left running */
		bool leftovers = rr->r.on_busy == BUSY_RESTART &&
				 linger_count(run->linger, rr->r.name);
		if (rr->n_jobs >= rr->r.jobs || leftovers) {
			switch (rr->r.on_busy) {
			case BUSY_QUEUE:
				break;
			case BUSY_SKIP:
				drop_ready(run, rr, "a job is still running (--on-busy skip)");
				break;
			case BUSY_SIGNAL:
				for (size_t i = 0; i < rr->n_jobs; i++)
					job_signal(&rr->jobs[i]->j, rr->r.stop_signal);
				drop_ready(run, rr, "the running job was signalled (--on-busy signal)");
				break;
			case BUSY_RESTART:
				for (size_t i = 0; i < rr->n_jobs; i++)
					stop_job(rr, rr->jobs[i], STOP_RESTART, now);
				linger_stop(run->linger, rr->r.name, now);
				break; /* the new one starts once they are gone */
			}
			return next;
		}
		if (rr->next_start > now)
			return min_deadline(next, rr->next_start);
		uint64_t until;
		if (!guard_allows(run, rr, now, &until))
			return min_deadline(next, until);
		if (rr->r.batch > 1 && ready < rr->r.batch &&
		    now < rr->ready_since + rr->r.batch_wait_ns)
			return min_deadline(next, rr->ready_since + rr->r.batch_wait_ns);
		rr->ready_since = 0;
		/* a restart's job takes everything ready: it starts after
		 * all of it changed */
		size_t take = rr->r.on_busy == BUSY_RESTART ? ready :
			      rr->r.batch > 1 ? rr->r.batch : 1;
		if (!start_job(run, rr, take, now))
			break;
	}
	rr->ready_since = 0;
	return next;
}

/* Job RJ's first process has ended: if others still run in its process
 * group, they are remembered, to be stopped at the rule's next restart
 * and at vigil's stop (now, if those have begun for the job). */
static void keep_leftovers(struct run *run, struct rjob *rj, uint64_t now)
{
	struct rrule *rr = rj->rule;
	uint64_t kill_at = rj->j.kill_at; /* being stopped: the same deadline */
	int r = linger_add(run->linger, rj->j.pid, rr->r.name, rr->r.stop_signal,
			   rr->r.stop_timeout_ns, kill_at);
	if (r == 0)
		return;
	if (r < 0) {
		rule_say(run, rr, "cannot keep track of what pid %d left running: %s",
			 (int)rj->j.pid, cli_strerror(-r));
		return;
	}
	rule_say(run, rr, "pid %d left processes running in its process group; %s",
		 (int)rj->j.pid, kill_at || run->stopping ? "they are being stopped" :
		 rr->r.on_busy == BUSY_RESTART ? "they are stopped at the next restart "
		 "or at the stop of vigil" : "they are stopped at the stop of vigil");
	if (run->stopping)
		linger_stop(run->linger, rr->r.name, now);
}

/* Job RJ ended (or, without a pidfd, may have): false if it has not. Its
 * slot is free once this returns true; finish_job() does the rest. */
static bool reap_job(struct run *run, struct rjob *rj, uint64_t now)
{
	struct rrule *rr = rj->rule;
	int status = 0;
	int r = job_reap(&rj->j, &status);
	if (r == 1)
		return false;
	if (r < 0)
		status = 0x7f; /* cannot tell: counted as failed */
	/* what it wrote comes before its end line; what it left running may
	 * write more, which is read as it comes */
	for (int k = 0; k < 2; k++) {
		if (rj->out[k])
			read_output(run, rj->out[k], false);
		if (rj->out[k])
			rj->out[k]->job = NULL;
		rj->out[k] = NULL;
	}
	log_end(run, rj, status, now);
	if (r == 0)
		keep_leftovers(run, rj, now);
	rr->n_run++;
	/* a job vigil stopped (restart, shutdown) did not fail; one that ran
	 * past its --timeout did */
	if ((!WIFEXITED(status) || WEXITSTATUS(status) != 0) &&
	    rj->j.stop != STOP_RESTART && rj->j.stop != STOP_SHUTDOWN)
		rr->n_failed++;
	for (size_t i = 0; i < rr->n_jobs; i++) {
		if (rr->jobs[i] == rj) {
			rr->jobs[i] = rr->jobs[--rr->n_jobs];
			break;
		}
	}
	if (run->status_due == 0)
		run->status_due = now + NS;
	return true;
}

/* The rest of ended job RJ: its paths are recorded and free for another
 * job (until then a path of it that changed again waits), and it goes. */
static void finish_job(struct run *run, struct rjob *rj)
{
	struct rrule *rr = rj->rule;
	record_paths(rr, &rj->j);
	release_paths(rr, rj->j.paths, rj->j.n_paths);
	if (rj->j.pidfd >= 0)
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, rj->j.pidfd, NULL);
	if (rj->j.stdin_fd >= 0)
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, rj->j.stdin_fd, NULL);
	job_fini(&rj->j);
	free(rj);
}

static bool end_job(struct run *run, struct rjob *rj, uint64_t now)
{
	if (!reap_job(run, rj, now))
		return false;
	finish_job(run, rj);
	return true;
}

/* SIGCHLD: the jobs without a pidfd that have ended. */
static void reap_children(struct run *run, uint64_t now)
{
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		for (size_t k = 0; k < rr->n_jobs;) {
			struct rjob *rj = rr->jobs[k];
			if (rj->j.pidfd < 0 && end_job(run, rj, now))
				continue; /* the last one moved into slot k */
			k++;
		}
	}
}

/* --- rules in force -------------------------------------------------------- */

static void rrule_free(struct rrule *rr)
{
	if (!rr)
		return;
	vigil_free(rr->v);
	store_free(rr->store);
	free(rr->starts);
	free(rr->jobs);
	rule_fini(&rr->r);
	free(rr);
}

/* An ERE for a path below ROOT whose relative part matches the ERE TAIL
 * (anchored at both ends by the caller's TAIL). */
static char *below_root_regex(const char *root, const char *tail)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	putc('^', f);
	for (size_t i = 0; i < n; i++) {
		if (strchr("\\^$.[]|()*+?{}", root[i]))
			putc('\\', f);
		putc(root[i], f);
	}
	if (!(n == 1 && root[0] == '/'))
		putc('/', f);
	fputs(tail, f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Directories the rule refuses are not even watched: hidden ones (unless
 * --hidden), and those its exclude globs (as far as they translate, see
 * glob_exclude_ere()) or regexes exclude. */
static int add_exclude_filters(struct rrule *rr)
{
	char *re = NULL;
	for (size_t i = 0; i < rr->r.exclude_re.len; i++)
		if (vigil_filter_add(rr->v, VIGIL_FILTER_EXCLUDE, rr->r.exclude_re.v[i], 0) < 0)
			return -1;
	for (size_t i = 0; i < rr->r.paths.len; i++) {
		const char *root = rr->r.paths.v[i];
		if (!rr->r.hidden) {
			if (!(re = below_root_regex(root, "(.*/)?\\.")) ||
			    vigil_filter_add(rr->v, VIGIL_FILTER_EXCLUDE, re, 0) < 0)
				goto fail;
			free(re);
			re = NULL;
		}
		for (size_t k = 0; k < rr->r.exclude.len; k++) {
			char *tail;
			int r = glob_exclude_ere(rr->r.exclude.v[k], &tail);
			if (r < 0)
				goto fail;
			if (r == 0)
				continue; /* excluded all the same, but watched */
			re = below_root_regex(root, tail);
			free(tail);
			if (!re || vigil_filter_add(rr->v, VIGIL_FILTER_EXCLUDE, re, 0) < 0)
				goto fail;
			free(re);
			re = NULL;
		}
	}
	return 0;
fail:
	free(re);
	return -1;
}

/* The kernel is asked for what the rule needs: its events, the deletes
 * and renames that take a waiting path away, and with --settle the writes
 * that mean a file is still changing. */
static uint32_t kernel_mask(const struct rule *r)
{
	uint32_t m = r->events | IN_DELETE | IN_DELETE_SELF | IN_MOVE | IN_MOVE_SELF;
	if (r->settle_ns)
		m |= IN_MODIFY | IN_CLOSE_WRITE;
	return m;
}

/* Set RULE up (taking it over): its watches, its store. */
static int rrule_new(struct run *run, struct rule *rule, struct rrule **ret)
{
	log_flush(run); /* what it may say comes after what was said */
	struct rrule *rr = calloc(1, sizeof(*rr));
	if (!rr) {
		rule_fini(rule);
		cli_error("out of memory");
		return -1;
	}
	rr->kind = SRC_RULE;
	rr->r = *rule;
	memset(rule, 0, sizeof(*rule));
	int r;
	if ((r = store_new(&rr->store)) < 0 ||
	    (rr->r.loop_burst && !(rr->starts = calloc(rr->r.loop_burst, sizeof(*rr->starts))))) {
		cli_error("out of memory");
		goto fail;
	}
	if ((r = vigil_new(VIGIL_PAIR_MOVES, &rr->v)) < 0) {
		cli_instance_error(r);
		goto fail;
	}
	if (add_exclude_filters(rr) < 0)
		goto nomem;
	for (size_t i = 0; i < rr->r.paths.len; i++) {
		r = vigil_add(rr->v, rr->r.paths.v[i], kernel_mask(&rr->r),
			      rr->r.recursive ? VIGIL_RECURSIVE : 0);
		if (r < 0) {
			cli_watch_error(rr->r.paths.v[i], r);
			goto fail;
		}
		/* what the walk could not watch (denied, say) is said now, in
		 * the order of the set-up; nothing else is queued by it */
		const struct vigil_event *ev;
		while (vigil_queued(rr->v) && vigil_next(rr->v, 0, &ev) == 1)
			if (ev->flags & VIGIL_EVENT_ERROR)
				say_unwatched(run, rr, ev);
	}
	if ((r = epoll_add(run, vigil_fd(rr->v), EPOLLIN, rr)) < 0) {
		cli_error("cannot poll: %s", cli_strerror(-r));
		goto fail;
	}
	*ret = rr;
	return 0;
nomem:
	cli_error("out of memory");
fail:
	rrule_free(rr);
	return -1;
}

static int load_rules(struct run *run, struct rule *rules, size_t n,
		      struct rrule ***ret, size_t *ret_n)
{
	log_flush(run);
	struct rrule **v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;
	if (!v) {
		cli_error("out of memory");
		goto fail;
	}
	for (; k < n; k++) {
		if (rrule_new(run, &rules[k], &v[k]) < 0)
			goto fail;
	}
	*ret = v;
	*ret_n = n;
	return 0;
fail:
	for (size_t i = 0; i < k; i++) {
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, vigil_fd(v[i]->v), NULL);
		rrule_free(v[i]);
	}
	for (size_t i = k; i < n; i++)
		rule_fini(&rules[i]);
	free(v);
	return -1;
}

static void initial(struct run *run, struct rrule **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->r.initial && walk(run, v[i], queue_found) < 0)
			rule_say(run, v[i], "out of memory during --initial");
}

/* SIGHUP: read the rules file again. A file that does not load leaves the
 * rules in force as they are. A rule of the same name takes over what the
 * old one had waiting (after reading what its queue still held), and its
 * counters; a rule that is new gets its --initial walk. Running jobs
 * finish under the old rule, except long-running ones (on-busy restart:
 * a server), which are stopped so that the new rule's takes over. */
static void reload(struct run *run)
{
	struct rule *rules;
	size_t n;
	char *err = NULL;
	struct rrule **nv;
	size_t nn;
	notify(run, "RELOADING=1");
	if (!run->rules_file) {
		rule_say(run, NULL, "SIGHUP: no rules file to read again (rules from the "
			 "command line)");
		goto ready;
	}
	if (rules_load(run->rules_file, &rules, &n, &err) < 0) {
		rule_say(run, NULL, "cannot reload: %s; the rules in force stay", err);
		free(err);
		goto ready;
	}
	if (load_rules(run, rules, n, &nv, &nn) < 0) {
		free(rules);
		rule_say(run, NULL, "cannot reload '%s' (said above); the rules in force stay",
			 run->rules_file);
		goto ready;
	}
	free(rules);
	struct rrule **all = realloc(nv, (nn + run->n_rules) * sizeof(*all));
	if (!all) {
		for (size_t k = 0; k < nn; k++) {
			epoll_ctl(run->epfd, EPOLL_CTL_DEL, vigil_fd(nv[k]->v), NULL);
			rrule_free(nv[k]);
		}
		free(nv);
		rule_say(run, NULL, "out of memory while reloading; the rules in force stay");
		goto ready;
	}
	nv = all;
	uint64_t now = mono();
	bool *fresh = calloc(nn ? nn : 1, sizeof(*fresh));
	for (size_t k = 0; fresh && k < nn; k++)
		fresh[k] = true;
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *old = run->rules[i];
		nv[nn + i] = old;
		if (old->retired)
			continue;
		struct rrule *same = NULL;
		for (size_t k = 0; k < nn && !same; k++) {
			if (strcmp(nv[k]->r.name, old->r.name) == 0) {
				same = nv[k];
				if (fresh)
					fresh[k] = false;
			}
		}
		const struct vigil_event *ev;
		while (vigil_next(old->v, 0, &ev) > 0)
			on_event(run, old, ev, now);
		store_settle(old->store, UINT64_MAX);
		struct store_path p;
		size_t dropped = 0;
		while (store_pop(old->store, &p)) {
			if (same)
				touch(run, same, p.path, p.events, p.from, now);
			else
				dropped++;
			store_path_fini(&p);
		}
		if (dropped)
			rule_say(run, old, "no longer in '%s': %zu waiting path%s dropped",
				 run->rules_file, dropped, dropped == 1 ? "" : "s");
		if (same) {
			same->n_run += old->n_run;
			same->n_failed += old->n_failed;
			same->n_paths += old->n_paths;
			same->n_skipped += old->n_skipped;
			old->n_run = old->n_failed = old->n_paths = old->n_skipped = 0;
		}
		if (old->r.on_busy == BUSY_RESTART) {
			for (size_t k = 0; k < old->n_jobs; k++)
				stop_job(old, old->jobs[k], STOP_RESTART, now);
			linger_stop(run->linger, old->r.name, now);
		}
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, vigil_fd(old->v), NULL);
		vigil_free(old->v);
		old->v = NULL;
		old->retired = true;
	}
	for (size_t k = 0; k < nn; k++)
		if (nv[k]->r.initial && (!fresh || fresh[k]) && walk(run, nv[k], queue_found) < 0)
			rule_say(run, nv[k], "out of memory during --initial");
	free(fresh);
	free(run->rules);
	run->rules = nv;
	run->n_rules += nn; /* the retired stay listed until their last job ends */
	rule_say(run, NULL, "reloaded '%s'", run->rules_file);
ready:
	notify(run, "READY=1");
}

static void drop_retired(struct run *run)
{
	size_t k = 0;
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		if (rr->retired && !rr->n_jobs)
			rrule_free(rr);
		else
			run->rules[k++] = rr;
	}
	run->n_rules = k;
}

/* --- the loop ---------------------------------------------------------------- */

static void print_counts(struct run *run, const char *what)
{
	for (size_t i = 0; i < run->n_rules; i++) {
		const struct rrule *rr = run->rules[i];
		if (rr->retired)
			continue;
		rule_say(run, rr, "%s%llu jobs run, %llu failed, %llu paths seen, "
			 "%llu skipped; %zu running, %zu waiting", what,
			 (unsigned long long)rr->n_run, (unsigned long long)rr->n_failed,
			 (unsigned long long)rr->n_paths, (unsigned long long)rr->n_skipped,
			 rr->n_jobs, rr->store ? store_waiting(rr->store) : 0);
	}
}

static void begin_stop(struct run *run, uint64_t now)
{
	run->stopping++;
	notify(run, "STOPPING=1");
	/* what jobs left behind has no work to finish: stopped at once */
	linger_stop(run->linger, NULL, now);
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		for (size_t k = 0; k < rr->n_jobs; k++) {
			struct rjob *rj = rr->jobs[k];
			if (run->stopping > 1) /* asked twice: now */
				stop_job(rr, rj, STOP_SHUTDOWN, now);
			else if (!rj->shutdown_at)
				rj->shutdown_at = now + rr->r.stop_timeout_ns;
		}
	}
}

static bool on_signal(struct run *run, uint64_t now)
{
	struct signalfd_siginfo si;
	while (read(run->sig.fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGINT:
		case SIGTERM:
			begin_stop(run, now);
			break;
		case SIGHUP:
			reload(run);
			break;
		case SIGUSR1:
			print_counts(run, "");
			break;
		case SIGCHLD:
			reap_children(run, now);
			break;
		}
	}
	return true;
}

/* Timers: job timeouts, kills after the stop signal, the shutdown grace. */
static uint64_t job_timers(struct run *run, uint64_t now)
{
	uint64_t next = 0;
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		for (size_t k = 0; k < rr->n_jobs; k++) {
			struct rjob *rj = rr->jobs[k];
			struct job *j = &rj->j;
			if (j->timeout_at && now >= j->timeout_at && j->stop == STOP_NONE)
				stop_job(rr, rj, STOP_TIMEOUT, now);
			if (rj->shutdown_at && now >= rj->shutdown_at && !j->kill_at) {
				/* the grace is over: no second wait */
				j->stop = STOP_SHUTDOWN;
				job_signal(j, SIGKILL);
				j->kill_at = UINT64_MAX;
			}
			if (j->kill_at && now >= j->kill_at) {
				job_signal(j, SIGKILL);
				j->kill_at = UINT64_MAX; /* once */
			}
			if (j->stop == STOP_NONE)
				next = min_deadline(next, j->timeout_at);
			if (!j->kill_at)
				next = min_deadline(next, rj->shutdown_at);
			if (j->kill_at != UINT64_MAX)
				next = min_deadline(next, j->kill_at);
		}
	}
	return next;
}

static int loop(struct run *run)
{
	struct epoll_event evs[64];
	for (;;) {
		uint64_t now = mono();
		/* first, so that a restart sees the groups just gone */
		uint64_t next = linger_check(run->linger, now);
		for (size_t i = 0; i < run->n_rules; i++) {
			struct rrule *rr = run->rules[i];
			if (rr->v) {
				const struct vigil_event *ev;
				int r;
				while ((r = vigil_next(rr->v, 0, &ev)) > 0)
					on_event(run, rr, ev, now);
				if (r < 0 && r != -EINTR)
					rule_say(run, rr, "cannot read events: %s", cli_strerror(-r));
				int ms = vigil_next_deadline_ms(rr->v);
				if (ms >= 0)
					next = min_deadline(next, now + (uint64_t)ms * 1000000 + 1);
			}
			if (rr->rescan) {
				if (walk(run, rr, queue_found) < 0)
					rule_say(run, rr, "out of memory while looking for changed files");
				rr->rescan = false;
			}
			next = min_deadline(next, schedule(run, rr, now));
			if (rr->store && !run->stopping)
				next = min_deadline(next, store_next_due(rr->store));
		}
		/* after scheduling, so that the jobs just started count */
		next = min_deadline(next, job_timers(run, now));
		next = min_deadline(next, linger_check(run->linger, now));
		drop_retired(run);
		if (run->status_due && now >= run->status_due) {
			notify_status(run);
			run->status_due = 0;
		}
		next = min_deadline(next, run->status_due);
		if (run->stopping) {
			size_t running = linger_count(run->linger, NULL);
			for (size_t i = 0; i < run->n_rules; i++)
				running += run->rules[i]->n_jobs;
			if (!running)
				return 0;
		}
		log_flush(run);
		int timeout = -1;
		if (next) {
			now = mono();
			timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
		}
		int n = epoll_wait(run->epfd, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			log_flush(run);
			cli_error("cannot wait for events: %s", cli_strerror(errno));
			return -1;
		}
		now = mono();
		/* pipes first: a job's end (SRC_JOB, or SIGCHLD) frees it,
		 * and its pipes' events may be in the same batch; so the
		 * kinds are read before anything is freed */
		enum src_kind kinds[64];
		for (int i = 0; i < n; i++) {
			enum src_kind *kind = evs[i].data.ptr;
			kinds[i] = *kind;
			if (*kind == SRC_STDIN) {
				struct rjob *rj = ((struct rjob *)((char *)kind - offsetof(struct rjob, in)));
				int fd = rj->j.stdin_fd;
				if (job_feed(&rj->j) != 0)
					epoll_ctl(run->epfd, EPOLL_CTL_DEL, fd, NULL);
			} else if (*kind == SRC_OUTPUT) {
				read_output(run, (struct output *)kind, false);
			}
		}
		struct rjob *ended[64];
		size_t n_ended = 0;
		for (int i = 0; i < n; i++) {
			if (kinds[i] == SRC_SIGNAL)
				on_signal(run, now);
			else if (kinds[i] == SRC_JOB && reap_job(run, evs[i].data.ptr, now))
				ended[n_ended++] = evs[i].data.ptr; /* with a pidfd */
			else if (kinds[i] == SRC_LINGER)
				linger_event(run->linger);
			/* SRC_RULE: read at the top of the loop */
		}
		/* A slot just freed takes its next job first, and the ended
		 * ones are done with after: with every CPU busy, the one a job
		 * left stays idle until the next job starts, as the loop was
		 * most likely woken on another. */
		for (size_t k = 0; k < n_ended; k++)
			if (k == 0 || ended[k]->rule != ended[k - 1]->rule)
				schedule(run, ended[k]->rule, now);
		for (size_t k = 0; k < n_ended; k++)
			finish_job(run, ended[k]);
	}
}

/* --- the command line ------------------------------------------------------ */

static const char run_help[] =
	"Usage: %s [OPTION]... PATH... -- COMMAND [ARG]...\n"
	"       %s --rules FILE [OPTION]...\n"
	"       %s --check FILE\n"
	"Run COMMAND on each file under PATH once it is complete, safely: file names\n"
	"reach it as whole arguments, never through a shell.\n"
	"\n"
	"What and where:\n"
	"  -r, --recursive          watch the directories below PATH too\n"
	"  -e, --events EVENT[,..]  events that make a file count (default:\n"
	"                           close_write,moved_to: a file that is complete)\n"
	"      --match GLOB         only names matching GLOB (repeatable; with a '/',\n"
	"                           the path below PATH, '**' any depth)\n"
	"      --exclude GLOB       not these (repeatable)\n"
	"      --exclude-regex RE   not paths matching the extended regex RE\n"
	"      --files, --dirs      only files, only directories\n"
	"      --hidden             also names starting with '.' (and what is below)\n"
	"When:\n"
	"      --settle DURATION    count a path once it has been quiet that long\n"
	"      --initial            also run on the matching files already there\n"
	"How many:\n"
	"      --batch N            up to N paths per job ('{}' alone: one argument each)\n"
	"      --batch-wait DURATION  how long a batch waits to fill\n"
	"      --jobs N             jobs at once (default 1)\n"
	"      --min-interval DURATION  at most one job start per DURATION\n"
	"      --on-busy queue|skip|restart|signal  when the jobs are all running\n"
	"      --stop-signal SIG    how a job is stopped (default TERM); --stop-timeout\n"
	"                           DURATION before SIGKILL (default 10s)\n"
	"      --timeout DURATION   stop a job that runs longer\n"
	"      --loop-burst N, --loop-window DURATION  throttle a rule that starts N\n"
	"                           jobs within DURATION (its jobs may trigger it)\n"
	"How the paths reach COMMAND:\n"
	"      {} {path} {dir} {name} {event} {from} {rule} in its arguments, the same\n"
	"      in VIGIL_PATH, VIGIL_DIR, ... (VIGIL_COUNT in batches), and\n"
	"      --stdin paths0|lines|json\n"
	"Running:\n"
	"      --rules FILE         the rules in FILE (see vigil-rules(5)); SIGHUP\n"
	"                           reads it again\n"
	"      --check FILE         check FILE and exit\n"
	"      --log-format text|json  job start and end lines on stderr\n"
	"      --capture none|stderr|all  the jobs' output streams that go into the\n"
	"                           log, a line each (default: stderr with json)\n"
	"  -q, --quiet              log only failures\n"
	"  -h, --help               show this help and exit\n"
	"Durations: 500ms, 2s, 1.5m, 1h. SIGTERM or SIGINT: no new jobs, running ones\n"
	"finish (up to --stop-timeout), a summary, exit 0. SIGUSR1: the counters.\n";

/* Set KEY from the command line; a bad value is one line naming the
 * option ("'--settle': '5x' is not a valid duration; ..."). */
static int set_or_say(struct rule *r, const char *key, const char *value)
{
	char *err = NULL;
	if (rule_set(r, key, value, &err) == 0)
		return 0;
	if (!err)
		cli_error("out of memory");
	else if (strcmp(key, "path") == 0)
		cli_error("%s", err);
	else
		cli_error("'--%s': %s", key, err);
	free(err);
	return -1;
}

/* The short options in ARGV[*I], combined as getopt(3) has them: "-rq",
 * and -e takes the rest of the word or the next one ("-reclose_write",
 * "-re close_write"). 0, 1 after -h (the help is printed), -1 after an
 * error (said). *RULE_SET becomes true when one sets the rule. */
static int short_options(struct run *run, struct rule *cli, int argc, char **argv,
			 int *i, bool *rule_set)
{
	const char *a = argv[*i];
	for (const char *p = a + 1; *p; p++) {
		switch (*p) {
		case 'h':
			printf(run_help, cli_prog, cli_prog, cli_prog);
			return 1;
		case 'q':
			run->quiet = true;
			break;
		case 'r':
			if (set_or_say(cli, "recursive", NULL) < 0)
				return -1;
			*rule_set = true;
			break;
		case 'e': {
			const char *value = p[1] ? p + 1 : *i + 1 < argc ? argv[++*i] : NULL;
			if (!value) {
				cli_error("option requires an argument -- 'e'");
				return -1;
			}
			if (set_or_say(cli, "events", value) < 0)
				return -1;
			*rule_set = true;
			return 0;
		}
		default:
			cli_error("invalid option -- '%c'; see '%s --help'", *p, cli_prog);
			return -1;
		}
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run run = {.epfd = -1, .sig = {.kind = SRC_SIGNAL, .fd = -1}, .notify_fd = -1};
	struct rule cli = {0};
	bool cli_used = false, have_cli = false;
	const char *rules_file = NULL, *check_file = NULL;
	struct rule *rules = NULL;
	size_t n_rules = 0;
	int status = 1;
	int capture = -1; /* by default: stderr with a JSON log, else none */

	/* The log leaves through log_flush() (see there) in one write() of
	 * whole lines, not a write per character as on an unbuffered
	 * stderr; 64 KiB holds a long JSON line of a batch whole. What
	 * cli_error() says leaves with it, before vigil waits, or at exit. */
	static char log_buf[1 << 16];
	setvbuf(stderr, log_buf, _IOFBF, sizeof(log_buf));
	/* Started with 0, 1 or 2 closed, the first pipe or watch would take
	 * its number, and the jobs, which inherit 1 and 2 and are given their
	 * 0, would read or write it: each gets /dev/null instead. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
			break;

	if (rule_init(&cli, "run") < 0) {
		cli_error("out of memory");
		return 1;
	}
	have_cli = true;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			if (rule_set_argv(&cli, argv + i + 1, (size_t)(argc - i - 1)) < 0)
				goto nomem;
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (set_or_say(&cli, "path", a) < 0)
				goto out;
			cli_used = true;
			continue;
		}
		if (strcmp(a, "--help") == 0) {
			printf(run_help, cli_prog, cli_prog, cli_prog);
			status = 0;
			goto out;
		}
		if (strcmp(a, "--quiet") == 0) {
			run.quiet = true;
			continue;
		}
		if (a[1] != '-') {
			int r = short_options(&run, &cli, argc, argv, &i, &cli_used);
			if (r < 0)
				goto out;
			if (r > 0) {
				status = 0;
				goto out;
			}
			continue;
		}
		char key[64];
		const char *value = NULL;
		const char *eq = strchr(a + 2, '=');
		size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (kl >= sizeof(key)) {
			cli_error("unrecognized option '%s'; see '%s --help'", a, cli_prog);
			goto out;
		}
		memcpy(key, a + 2, kl);
		key[kl] = '\0';
		value = eq ? eq + 1 : NULL;
		bool run_opt = strcmp(key, "rules") == 0 || strcmp(key, "check") == 0 ||
			       strcmp(key, "log-format") == 0 || strcmp(key, "capture") == 0;
		int takes = run_opt ? 1 : rule_key_takes_value(key);
		if (takes < 0 || strcmp(key, "command") == 0 || strcmp(key, "path") == 0) {
			cli_error("unrecognized option '--%s'; see '%s --help'", key, cli_prog);
			goto out;
		}
		if (takes && !value) {
			if (i + 1 >= argc) {
				cli_error("option '--%s' requires an argument", key);
				goto out;
			}
			value = argv[++i];
		} else if (!takes && value) {
			cli_error("option '--%s' takes no argument", key);
			goto out;
		}
		if (strcmp(key, "rules") == 0) {
			rules_file = value;
		} else if (strcmp(key, "check") == 0) {
			check_file = value;
		} else if (strcmp(key, "log-format") == 0) {
			if (strcmp(value, "json") == 0) {
				run.json_log = true;
			} else if (strcmp(value, "text") != 0) {
				cli_error("'%s' is not a log format; give text or json", value);
				goto out;
			}
		} else if (strcmp(key, "capture") == 0) {
			if (strcmp(value, "none") == 0)
				capture = 0;
			else if (strcmp(value, "stderr") == 0)
				capture = CAPTURE_STDERR;
			else if (strcmp(value, "all") == 0)
				capture = CAPTURE_STDOUT | CAPTURE_STDERR;
			else {
				cli_error("'%s' is not what --capture takes; give none, stderr or all",
					  value);
				goto out;
			}
		} else {
			if (set_or_say(&cli, key, value) < 0)
				goto out;
			cli_used = true;
		}
	}

	run.capture = capture >= 0 ? (unsigned)capture : run.json_log ? CAPTURE_STDERR : 0;
	if (check_file || rules_file) {
		const char *file = check_file ? check_file : rules_file;
		if (cli_used || cli.argv.len) {
			cli_error("rules come from '%s' or from the command line, not both", file);
			goto out;
		}
		char *err = NULL;
		if (rules_load(file, &rules, &n_rules, &err) < 0) {
			cli_error("%s", err ? err : "out of memory");
			free(err);
			goto out;
		}
		for (size_t k = 0; k < n_rules; k++) {
			if (rule_check(&rules[k], &err) < 0) {
				if (err)
					cli_error("%s:%u: %s", file, rules[k].line, err);
				free(err);
				goto out;
			}
		}
		if (check_file) {
			printf("%s: %zu rule%s, all valid\n", file, n_rules, n_rules == 1 ? "" : "s");
			status = 0;
			goto out;
		}
		run.rules_file = rules_file;
	} else {
		char *err = NULL;
		if (!cli.paths.len && !cli.argv.len) {
			cli_error("nothing to watch and nothing to run; see '%s --help'", cli_prog);
			goto out;
		}
		if (!cli.argv.len) {
			cli_error("no command given; put it after '--', as in "
				  "'%s DIR -- COMMAND {}'", cli_prog);
			goto out;
		}
		if (rule_check(&cli, &err) < 0) {
			cli_error("%s", err ? err : "out of memory");
			free(err);
			goto out;
		}
		rules = malloc(sizeof(*rules));
		if (!rules)
			goto nomem;
		rules[0] = cli;
		have_cli = false;
		n_rules = 1;
	}

	/* signals arrive through the loop, never in a handler */
	sigset_t *mask = &run.sig.mask;
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGUSR1);
	sigaddset(mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, mask, NULL);
	sigdelset(mask, SIGCHLD); /* read once a job has no pidfd */
	signal(SIGPIPE, SIG_IGN);
	run.epfd = epoll_create1(EPOLL_CLOEXEC);
	run.sig.fd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (run.epfd < 0 || run.sig.fd < 0 || epoll_add(&run, run.sig.fd, EPOLLIN, &run.sig) < 0) {
		cli_error("cannot set up the event loop: %s", cli_strerror(errno));
		goto out;
	}
	run.linger_kind = SRC_LINGER;
	int r = linger_new(&run.linger);
	if (r < 0 || (r = epoll_add(&run, linger_fd(run.linger), EPOLLIN, &run.linger_kind)) < 0) {
		cli_error("cannot set up the event loop: %s", cli_strerror(-r));
		goto out;
	}
	notify_init(&run);
	clock_gettime(CLOCK_REALTIME, &run.start);
	struct rule *taken = rules;
	rules = NULL;
	size_t n_taken = n_rules;
	n_rules = 0;
	if (load_rules(&run, taken, n_taken, &run.rules, &run.n_rules) < 0) {
		free(taken);
		goto out;
	}
	free(taken);
	initial(&run, run.rules, run.n_rules);
	if (!run.quiet)
		rule_say(&run, NULL, "watching: %zu rule%s", run.n_rules, run.n_rules == 1 ? "" : "s");
	notify(&run, "READY=1");
	notify_status(&run);
	if (loop(&run) == 0) {
		uint64_t ran, failed, paths;
		size_t waiting, running;
		counts(&run, &ran, &failed, &paths, &waiting, &running);
		rule_say(&run, NULL, "stopped: %llu jobs run, %llu failed, %llu paths seen, "
			 "%zu left waiting", (unsigned long long)ran, (unsigned long long)failed,
			 (unsigned long long)paths, waiting);
		status = 0;
	}
	goto out;
nomem:
	log_flush(&run);
	cli_error("out of memory");
out:
	for (size_t k = 0; k < run.n_rules; k++) {
		struct rrule *rr = run.rules[k];
		for (size_t j = 0; j < rr->n_jobs; j++) {
			job_fini(&rr->jobs[j]->j);
			free(rr->jobs[j]);
		}
		rrule_free(rr);
	}
	free(run.rules);
	while (run.outputs) /* what is there now, and no more */
		read_output(&run, run.outputs, true);
	linger_free(run.linger);
	if (rules)
		rules_free(rules, n_rules);
	if (have_cli)
		rule_fini(&cli);
	if (run.sig.fd >= 0)
		close(run.sig.fd);
	if (run.epfd >= 0)
		close(run.epfd);
	if (run.notify_fd >= 0)
		close(run.notify_fd);
	log_flush(&run);
	return status;
}
