#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "format.h"
#include "vigil.h"

extern char **environ;

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

size_t job_arg_budget(void)
{
	long max = sysconf(_SC_ARG_MAX);
	if (max <= 0)
		max = 128 * 1024;
	size_t env = 0;
	for (char **e = environ; *e; e++)
		env += strlen(*e) + 1 + sizeof(char *);
	/* half of what is left, for the command's own words, the VIGIL_*
	 * variables and whatever the command adds when it runs others */
	size_t left = (size_t)max > env ? (size_t)max - env : 0;
	return left / 2 > 4096 ? left / 2 : 4096;
}

/* --- the words ------------------------------------------------------------ */

struct words {
	char **v;
	size_t len, cap;
};

static int words_add(struct words *w, char *s)
{
	if (!s)
		return -ENOMEM;
	if (w->len + 2 > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		char **v = realloc(w->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			return -ENOMEM;
		}
		w->v = v;
		w->cap = cap;
	}
	w->v[w->len++] = s;
	w->v[w->len] = NULL;
	return 0;
}

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->len; i++)
		free(w->v[i]);
	free(w->v);
}

/* The directory part of PATH, without a trailing slash ("." when none). */
static size_t dir_len(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return 0;
	size_t n = (size_t)(slash - path);
	return n ? n : 1; /* "/x": "/" */
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

/* Write the value of placeholder KEY (between the braces) for P: true,
 * or false when KEY is not a placeholder (it is then copied as written). */
static bool put_value(FILE *f, const char *key, size_t klen,
		      const struct rule *rule, const struct store_path *p)
{
#define IS(s) (klen == sizeof(s) - 1 && memcmp(key, s, klen) == 0)
	if (klen == 0 || IS("path")) {
		fputs(p->path, f);
	} else if (IS("dir")) {
		size_t n = dir_len(p->path);
		if (n)
			fwrite(p->path, 1, n, f);
		else
			putc('.', f);
	} else if (IS("name")) {
		fputs(base_name(p->path), f);
	} else if (IS("event")) {
		char ev[256];
		size_t n = vigil_mask_format(p->events, ',', ev, sizeof(ev));
		fwrite(ev, 1, n < sizeof(ev) ? n : sizeof(ev) - 1, f);
	} else if (IS("from")) {
		if (p->from)
			fputs(p->from, f);
	} else if (IS("rule")) {
		fputs(rule->name, f);
	} else {
		return false;
	}
	return true;
#undef IS
}

/* WORD with its placeholders replaced for P. A word that starts with a
 * placeholder and comes out starting with '-' (a file named "-rf") gets
 * "./" in front, so that no command takes a file name for an option. */
static char *expand_word(const char *word, const struct rule *rule,
			 const struct store_path *p)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	for (const char *s = word; *s;) {
		const char *close = s[0] == '{' ? strchr(s + 1, '}') : NULL;
		if (close && put_value(f, s + 1, (size_t)(close - s - 1), rule, p)) {
			s = close + 1;
			continue;
		}
		putc(*s++, f);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	if (word[0] == '{' && strncmp(word, "{rule}", 6) != 0 && out[0] == '-') {
		char *dotted;
		if (asprintf(&dotted, "./%s", out) < 0)
			dotted = NULL;
		free(out);
		out = dotted;
	}
	return out;
}

static bool lone_path(const char *w)
{
	return strcmp(w, "{}") == 0 || strcmp(w, "{path}") == 0;
}

static int build_argv(struct words *w, const struct rule *rule,
		      const struct store_path *paths, size_t n)
{
	int r = 0;
	for (size_t i = 0; r >= 0 && i < rule->argv.len; i++) {
		const char *t = rule->argv.v[i];
		if (rule->batch > 1 && lone_path(t)) {
			for (size_t k = 0; r >= 0 && k < n; k++)
				r = words_add(w, expand_word(t, rule, &paths[k]));
		} else {
			r = words_add(w, expand_word(t, rule, &paths[0]));
		}
	}
	return r;
}

static int env_add(struct words *env, const char *name, const char *value)
{
	char *s;
	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -ENOMEM;
	return words_add(env, s);
}

/* The environment: ours, less any VIGIL_* of ours and systemd's
 * NOTIFY_SOCKET (a job that speaks sd_notify must not speak for vigil),
 * plus the job's. */
static int build_env(struct words *env, const struct rule *rule,
		     const struct store_path *paths, size_t n)
{
	int r = 0;
	for (char **e = environ; r >= 0 && *e; e++)
		if (strncmp(*e, "VIGIL_", 6) != 0 && strncmp(*e, "NOTIFY_SOCKET=", 14) != 0)
			r = words_add(env, strdup(*e));
	char count[32], attempt[32];
	uint32_t most = 1;
	for (size_t i = 0; i < n; i++)
		most = paths[i].attempt > most ? paths[i].attempt : most;
	snprintf(count, sizeof(count), "%zu", n);
	snprintf(attempt, sizeof(attempt), "%u", (unsigned)most);
	if (r >= 0)
		r = env_add(env, "VIGIL_RULE", rule->name);
	if (r >= 0)
		r = env_add(env, "VIGIL_COUNT", count);
	if (r >= 0)
		r = env_add(env, "VIGIL_ATTEMPT", attempt);
	if (r >= 0 && rule->batch <= 1) {
		const struct store_path *p = &paths[0];
		char ev[256];
		size_t len = vigil_mask_format(p->events, ',', ev, sizeof(ev));
		ev[len < sizeof(ev) ? len : sizeof(ev) - 1] = '\0';
		char *dir = strndup(p->path, dir_len(p->path));
		if (!dir)
			return -ENOMEM;
		r = env_add(env, "VIGIL_PATH", p->path);
		if (r >= 0)
			r = env_add(env, "VIGIL_DIR", dir[0] ? dir : ".");
		if (r >= 0)
			r = env_add(env, "VIGIL_NAME", base_name(p->path));
		if (r >= 0)
			r = env_add(env, "VIGIL_EVENT", ev);
		if (r >= 0)
			r = env_add(env, "VIGIL_FROM", p->from ? p->from : "");
		/* who made the last change: known with fanotify only */
		char pid[16] = "";
		if (p->pid > 0)
			snprintf(pid, sizeof(pid), "%d", p->pid);
		if (r >= 0)
			r = env_add(env, "VIGIL_PID", pid);
		if (r >= 0)
			r = env_add(env, "VIGIL_COMM", p->comm);
		free(dir);
	}
	return r;
}

/* What --stdin feeds the job, in *RET (*RET_LEN bytes). */
static int build_stdin(char **ret, size_t *ret_len, const struct rule *rule,
		       const struct store_path *paths, size_t n)
{
	FILE *f = open_memstream(ret, ret_len);
	if (!f)
		return -ENOMEM;
	if (rule->stdin_mode == STDIN_JSON) {
		for (size_t i = 0; i < n; i++) {
			char ev[256];
			size_t len = vigil_mask_format(paths[i].events, ',', ev, sizeof(ev));
			fputs("{\"path\":", f);
			json_string(f, paths[i].path, strlen(paths[i].path));
			fputs(",\"events\":", f);
			json_string(f, ev, len < sizeof(ev) ? len : sizeof(ev) - 1);
			if (paths[i].from) {
				fputs(",\"from\":", f);
				json_string(f, paths[i].from, strlen(paths[i].from));
			}
			if (paths[i].pid > 0) { /* fanotify: who made the last change */
				fprintf(f, ",\"pid\":%d,\"comm\":", paths[i].pid);
				json_string(f, paths[i].comm, strlen(paths[i].comm));
			}
			fputs(",\"rule\":", f);
			json_string(f, rule->name, strlen(rule->name));
			fprintf(f, ",\"attempt\":%u}\n", (unsigned)(paths[i].attempt ? paths[i].attempt : 1));
		}
	} else {
		char end = rule->stdin_mode == STDIN_PATHS0 ? '\0' : '\n';
		for (size_t i = 0; i < n; i++) {
			fputs(paths[i].path, f);
			putc(end, f);
		}
	}
	if (fclose(f) != 0) {
		free(*ret);
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void free_paths(struct store_path *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_path_fini(&paths[i]);
	free(paths);
}

/* --- the spawn ------------------------------------------------------------ */

/* A job's process is made with vfork(), not posix_spawnp(): glibc's child
 * resets each of the 64 signals in turn (two system calls apiece), and the
 * parent maps a stack for it and asks for two limits, which together cost
 * 80 to 100 us a job on a 2-CPU VM (bench/run.sh); with a command as short
 * as true(1), whose whole run costs 0.9 ms there, that is a tenth. Here the
 * child resets only the signals that are not at their default, and runs on
 * the parent's stack while the parent is suspended, as vfork() does. */

struct spawn {
	char **argv, **envp;
	int in_fd;     /* to be its stdin (/dev/null when none is given) */
	int out_fd[2]; /* to be its stdout and stderr, or -1: inherited */
	char **paths;  /* where to look for argv[0], NULL-terminated */
	/* What the child says, in memory it shares with us under vfork():
	 * that it ran, and the errno that stopped it before execve() */
	volatile int ran, err;
	sigset_t ignored; /* the signals ignored here, to be reset there */
	int report;    /* where vfork() is fork() (valgrind): the write end of a
			* close-on-exec pipe for that errno; else -1 */
};

/* Where to look for the command NAME, as execvp() looks: NAME itself when
 * it has a slash, else in each directory of $PATH (an empty one being the
 * current directory). One allocation, freed with free(). */
static char **search_paths(const char *name)
{
	bool slash = strchr(name, '/') != NULL;
	const char *path = slash ? "" : getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin"; /* what glibc's execvp() uses then */
	size_t n = 1, len = 0, nlen = strlen(name);
	for (const char *c = path; *c; c++)
		n += *c == ':';
	len = strlen(path) + n * (nlen + 2);
	char **v = malloc((n + 1) * sizeof(*v) + len);
	if (!v)
		return NULL;
	char *out = (char *)(v + n + 1);
	size_t k = 0;
	for (const char *dir = path;; dir++) {
		size_t dlen = strcspn(dir, ":");
		v[k++] = out;
		if (slash) {
			memcpy(out, name, nlen + 1);
		} else {
			memcpy(out, dir, dlen);
			out += dlen;
			if (dlen)
				*out++ = '/';
			memcpy(out, name, nlen + 1);
		}
		out += strlen(out) + 1;
		dir += dlen;
		if (!*dir)
			break;
	}
	v[k] = NULL;
	return v;
}

/* FD becomes TARGET in the child (dup2(), or, when it already is TARGET,
 * its close-on-exec flag cleared). */
static int child_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

/* The child, between vfork() and execve(): async-signal-safe calls only,
 * on memory the parent prepared; it writes nothing of the parent's but
 * errno. */
static _Noreturn void spawn_child(struct spawn *s)
{
	/* what is ignored goes back to the default (a handler would not
	 * outlive execve(), and vigil run installs none); then nothing is
	 * blocked */
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	s->ran = 1;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&s->ignored, sig) == 1)
			sigaction(sig, &dfl, NULL);
	if (setpgid(0, 0) < 0 || child_fd(s->in_fd, STDIN_FILENO) < 0)
		goto fail;
	for (int k = 0; k < 2; k++)
		if (s->out_fd[k] >= 0 &&
		    child_fd(s->out_fd[k], k == JOB_STDOUT ? STDOUT_FILENO : STDERR_FILENO) < 0)
			goto fail;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* execvp()'s search, but without its fallback of running a file
	 * that has no #! line with /bin/sh (posix_spawnp() has none either) */
	bool eacces = false;
	for (char **p = s->paths; *p; p++) {
		execve(*p, s->argv, s->envp);
		if (errno == EACCES)
			eacces = true;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE &&
			 errno != ENODEV && errno != ETIMEDOUT)
			goto fail;
	}
	errno = eacces ? EACCES : ENOENT;
fail:
	s->err = errno ? errno : EIO;
	if (s->report >= 0) {
		int err = s->err;
		while (write(s->report, &err, sizeof(err)) < 0 && errno == EINTR)
			;
	}
	_exit(127);
}

/* Whether vfork() shares our memory with the child, as it does but under
 * valgrind (which makes it fork()): unknown (-1) until the first spawn, which
 * also has the pipe that serves when it does not. */
static int vfork_shares = -1;

/* What every spawn needs, found once: /dev/null open (close-on-exec), and
 * the signals vigil does not leave at their default: those it ignores
 * (SIGPIPE; SIGINT and SIGQUIT when a shell started it in the background;
 * SIGHUP under nohup), which a job starts with at their default, as from
 * a shell; and any it handles (none in vigil run, but a sanitizer's), which
 * must not run in the child while it shares our memory. */
static int null_fd = -1;
static sigset_t ignored; /* and handled */

static int spawn_init(void)
{
	if (null_fd >= 0)
		return 0;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	sigemptyset(&ignored);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_DFL)
			sigaddset(&ignored, sig);
	}
	null_fd = fd;
	return 0;
}

/* Start S's command in a process group of its own: 0 with *PID set, or a
 * negative errno (the command could not be run; no process is left). */
static int spawn(pid_t *pid, struct spawn *s)
{
	int report[2] = {-1, -1};
	int r = spawn_init();
	if (r < 0)
		return r;
	if (!s->argv[0][0])
		return -ENOENT;
	if (s->in_fd < 0)
		s->in_fd = null_fd;
	s->ignored = ignored;
	if (!(s->paths = search_paths(s->argv[0])))
		return -ENOMEM;
	if (vfork_shares != 1 && pipe2(report, O_CLOEXEC) < 0) {
		int r = -errno;
		free(s->paths);
		return r;
	}
	s->report = report[1];
	s->ran = s->err = 0;
	/* no signal is handled in the child while it shares our memory */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t p = vfork();
	if (p == 0)
		spawn_child(s);
	r = p < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(s->paths);
	s->paths = NULL;
	if (report[1] >= 0)
		close(report[1]);
	if (r == 0 && vfork_shares == -1)
		vfork_shares = s->ran;
	if (r == 0 && vfork_shares == 1) {
		/* the child has run execve() or exited by now; if it failed,
		 * it said why here */
		r = -s->err;
	} else if (r == 0) {
		/* a fork(): the pipe, closed on exec, says nothing if it ran */
		int err = 0;
		ssize_t got;
		while ((got = read(report[0], &err, sizeof(err))) < 0 && errno == EINTR)
			;
		r = got == (ssize_t)sizeof(err) ? -(err ? err : EIO) : 0;
	}
	if (report[0] >= 0)
		close(report[0]);
	if (r < 0 && p > 0)
		waitpid(p, NULL, 0);
	else if (r == 0)
		*pid = p;
	return r;
}

int job_start(struct job *j, const struct rule *rule, struct store_path *paths,
	      size_t n, unsigned capture, uint64_t now, const char **err_word)
{
	struct words argv = {0}, env = {0};
	char *in = NULL;
	size_t in_len = 0;
	int pipefd[2] = {-1, -1};
	int outfd[2][2] = {{-1, -1}, {-1, -1}};
	int r;
	*j = (struct job){.pid = -1, .pidfd = -1, .stdin_fd = -1, .paths = paths,
			  .n_paths = n, .started = now, .out_fd = {-1, -1}};
	*err_word = "the command";

	if ((r = build_argv(&argv, rule, paths, n)) < 0 ||
	    (r = build_env(&env, rule, paths, n)) < 0)
		goto out;
	if (rule->stdin_mode != STDIN_NONE) {
		if ((r = build_stdin(&in, &in_len, rule, paths, n)) < 0)
			goto out;
		if (pipe2(pipefd, O_CLOEXEC) < 0) {
			r = -errno;
			*err_word = "stdin";
			goto out;
		}
		fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
	}
	for (int k = 0; k < 2; k++) {
		if (!(capture & (k == JOB_STDOUT ? CAPTURE_STDOUT : CAPTURE_STDERR)))
			continue;
		if (pipe2(outfd[k], O_CLOEXEC) < 0) {
			r = -errno;
			*err_word = "a pipe";
			goto out;
		}
		fcntl(outfd[k][0], F_SETFL, O_NONBLOCK);
	}
	r = spawn(&j->pid, &(struct spawn){.argv = argv.v, .envp = env.v, .in_fd = pipefd[0],
					   .out_fd = {outfd[JOB_STDOUT][1], outfd[JOB_STDERR][1]}});
	if (r < 0) {
		j->pid = -1;
		goto out;
	}
	j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	if (j->pidfd < 0 && errno == ENOSYS) {
		/* before Linux 5.3, or under valgrind: the loop reaps it on
		 * SIGCHLD instead */
	} else if (j->pidfd < 0) {
		/* cannot happen for our own unreaped child short of ENOMEM/EMFILE;
		 * without it the job could not be waited for in the loop */
		r = -errno;
		*err_word = "a pidfd";
		kill(-j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
		j->pid = -1;
		goto out;
	}
	if (rule->timeout_ns)
		j->timeout_at = now + rule->timeout_ns;
	if (pipefd[1] >= 0) {
		j->stdin_fd = pipefd[1];
		pipefd[1] = -1;
		j->in = in;
		j->in_len = in_len;
		in = NULL;
	}
	for (int k = 0; k < 2; k++) {
		j->out_fd[k] = outfd[k][0];
		outfd[k][0] = -1;
	}
	r = 0;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	for (int k = 0; k < 2; k++)
		for (int e = 0; e < 2; e++)
			if (outfd[k][e] >= 0)
				close(outfd[k][e]);
	free(in);
	words_free(&argv);
	words_free(&env);
	if (r < 0) {
		j->paths = NULL;
		j->n_paths = 0;
	}
	return r;
}

int job_feed(struct job *j)
{
	while (j->stdin_fd >= 0 && j->in_off < j->in_len) {
		ssize_t w = write(j->stdin_fd, j->in + j->in_off, j->in_len - j->in_off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w < 0)
			break; /* EPIPE: it does not read its stdin; its business */
		j->in_off += (size_t)w;
	}
	if (j->stdin_fd >= 0)
		close(j->stdin_fd);
	j->stdin_fd = -1;
	free(j->in);
	j->in = NULL;
	return 1;
}

int job_out_read(struct job_out *o, bool drain,
		 void (*line)(void *ctx, const char *s, size_t len), void *ctx)
{
	char buf[16384];
	bool end = false;
	if (o->fd < 0)
		return 1;
	if (!o->line && !(o->line = malloc(JOB_LINE_MAX)))
		end = true; /* out of memory: no more of it is read */
	/* a bounded number of reads, so that a job that writes without end
	 * does not keep the loop from everything else */
	for (int reads = 0; !end && reads < 16; reads++) {
		ssize_t got = read(o->fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			break;
		if (got <= 0) {
			end = true;
			break;
		}
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] == '\n') {
				line(ctx, o->line, o->len);
				o->len = 0;
				continue;
			}
			if (o->len == JOB_LINE_MAX) {
				line(ctx, o->line, o->len);
				o->len = 0;
			}
			o->line[o->len++] = buf[i];
		}
	}
	if (!end && !drain)
		return 0;
	if (o->len)
		line(ctx, o->line, o->len);
	job_out_fini(o);
	return 1;
}

void job_out_fini(struct job_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	free(o->line);
	*o = (struct job_out){.fd = -1};
}

void job_signal(struct job *j, int sig)
{
	if (j->pid > 0 && kill(-j->pid, sig) < 0 && errno == ESRCH)
		kill(j->pid, sig); /* it left its group: at least the leader */
}

int job_reap(struct job *j, int *status)
{
	siginfo_t si = {0};
	if (j->pidfd < 0) {
		pid_t p = waitpid(j->pid, status, WNOHANG);
		return p == j->pid ? 0 : p == 0 ? 1 : -errno;
	}
	if (waitid((idtype_t)P_PIDFD, (id_t)j->pidfd, &si, WEXITED) < 0)
		return -errno;
	/* folded back into a wait(2) status, for WIFEXITED and friends */
	*status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
					   : (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
	return 0;
}

void job_fini(struct job *j)
{
	if (j->pidfd >= 0)
		close(j->pidfd);
	if (j->stdin_fd >= 0)
		close(j->stdin_fd);
	for (int k = 0; k < 2; k++)
		if (j->out_fd[k] >= 0)
			close(j->out_fd[k]);
	free(j->in);
	free_paths(j->paths, j->n_paths);
	*j = (struct job){.pid = -1, .pidfd = -1, .stdin_fd = -1, .out_fd = {-1, -1}};
}
