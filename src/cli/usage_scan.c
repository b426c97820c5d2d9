/* vigil usage: read who holds inotify instances from /proc.
 *
 * Every process is read through a descriptor of its /proc/PID directory,
 * so that a pid reused while we read cannot mix two processes: once the
 * process is gone, everything below that descriptor fails with ENOENT or
 * ESRCH, and the process is skipped as if it had never been there. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "usage.h"

/* Read all of DIRFD/NAME into a NUL-terminated buffer the caller frees. */
static int read_all(int dirfd, const char *name, char **ret, size_t *ret_len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int r = 0;
	for (;;) {
		if (!buf) {
			r = -ENOMEM;
			break;
		}
		if (cap - len < 2) {
			char *grown = realloc(buf, cap * 2);
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static uint64_t fnv(uint64_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One field of an "inotify" line: every number there is hexadecimal. */
static bool hex_field(const char *v, size_t len, uint64_t *ret)
{
	uint64_t n = 0;
	if (len == 0 || len > 16)
		return false;
	for (size_t i = 0; i < len; i++) {
		int d = hexval(v[i]);
		if (d < 0)
			return false;
		n = n << 4 | (uint64_t)d;
	}
	*ret = n;
	return true;
}

/* "inotify wd:2 ino:510007 sdev:fe00000 mask:2 ignored_mask:0
 *  fhandle-bytes:8 fhandle-type:1 f_handle:07005100005f5d0c"
 * (fs/notify/fdinfo.c; the handle is there when the filesystem can encode
 * one). An unknown field is skipped, a bad one drops the handle only. */
static int parse_watch(const char *line, size_t len, struct usage_watch *w)
{
	uint64_t v, sdev = 0, bytes = 0;
	const char *handle = NULL;
	size_t handle_len = 0;
	*w = (struct usage_watch){.handle_type = -1};
	const char *p = line, *end = line + len;
	while (p < end) {
		const char *tok_end = memchr(p, ' ', (size_t)(end - p));
		if (!tok_end)
			tok_end = end;
		const char *colon = memchr(p, ':', (size_t)(tok_end - p));
		if (colon) {
			size_t klen = (size_t)(colon - p), vlen = (size_t)(tok_end - colon - 1);
			const char *val = colon + 1;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(p, k, klen) == 0)
			if (KEY("f_handle")) {
				handle = val;
				handle_len = vlen;
			} else if (hex_field(val, vlen, &v)) {
				if (KEY("wd"))
					w->wd = (int)v;
				else if (KEY("ino"))
					w->ino = v;
				else if (KEY("sdev"))
					sdev = v;
				else if (KEY("mask"))
					w->mask = (uint32_t)v;
				else if (KEY("fhandle-bytes"))
					bytes = v;
				else if (KEY("fhandle-type"))
					w->handle_type = (int)v;
			}
#undef KEY
		}
		p = tok_end + 1;
	}
	/* s_dev is the kernel's own encoding, MKDEV(major, minor) =
	 * major << 20 | minor, not the one stat() gives */
	w->dev = makedev((unsigned)(sdev >> 20), (unsigned)(sdev & 0xfffff));
	if (handle && bytes > 0 && bytes <= 128 && handle_len == bytes * 2 &&
	    w->handle_type >= 0) {
		w->handle = malloc(bytes);
		if (!w->handle)
			return -ENOMEM;
		for (size_t i = 0; i < bytes; i++) {
			int hi = hexval(handle[2 * i]), lo = hexval(handle[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				free(w->handle);
				w->handle = NULL;
				return 0;
			}
			w->handle[i] = (unsigned char)(hi << 4 | lo);
		}
		w->handle_bytes = (unsigned)bytes;
	}
	return 0;
}

/* Count one more on (DEV, MNT_ID) in *FS (*N of them). */
static int fs_tally(struct usage_fs **fs, size_t *n, dev_t dev, int mnt_id, size_t add)
{
	for (size_t i = 0; i < *n; i++) {
		if ((*fs)[i].dev == dev && (*fs)[i].mnt_id == mnt_id) {
			(*fs)[i].n += add;
			return 0;
		}
	}
	struct usage_fs *g = realloc(*fs, (*n + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	g[*n] = (struct usage_fs){.dev = dev, .mnt_id = mnt_id, .n = add};
	*fs = g;
	(*n)++;
	return 0;
}

/* The sdev of an inotify fdinfo line (after "inotify "), as makedev()
 * encodes it; 0 when it has none. */
static dev_t line_sdev(const char *s, size_t n)
{
	for (size_t i = 0; i + 5 < n; i++) {
		if (memcmp(s + i, "sdev:", 5) == 0 && (i == 0 || s[i - 1] == ' ')) {
			unsigned long long v = strtoull(s + i + 5, NULL, 16);
			return makedev((unsigned)(v >> 20), (unsigned)(v & 0xfffff));
		}
	}
	return 0;
}

int usage_parse_fdinfo(const char *text, size_t len, bool details,
		       struct usage_instance *inst)
{
	size_t cap = 0;
	int r = 0;
	uint64_t h = 14695981039346656037ull;
	for (const char *line = text; line < text + len;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		if (n > 6 && memcmp(line, "flags:", 6) == 0) {
			/* close-on-exec belongs to the fd, not to the open file */
			unsigned long flags = strtoul(line + 6, NULL, 8) & ~(unsigned long)O_CLOEXEC;
			h = fnv(h, (const char *)&flags, sizeof(flags));
		} else if (n > 8 && memcmp(line, "inotify ", 8) == 0) {
			h = fnv(h, line, n + 1);
			if ((r = fs_tally(&inst->fs, &inst->n_fs, line_sdev(line + 8, n - 8), -1, 1)) < 0)
				break;
			if (details) {
				if (inst->n_watches == cap) {
					size_t ncap = cap ? cap * 2 : 8;
					void *grown = realloc(inst->watches, ncap * sizeof(*inst->watches));
					if (!grown) {
						r = -ENOMEM;
						break;
					}
					inst->watches = grown;
					cap = ncap;
				}
				r = parse_watch(line + 8, n - 8, &inst->watches[inst->n_watches]);
				if (r < 0)
					break;
			}
			inst->n_watches++;
		}
		line += n + 1;
	}
	inst->fingerprint = h;
	if (r < 0) {
		for (size_t i = 0; i < inst->n_watches && i < cap; i++)
			free(inst->watches[i].handle);
		free(inst->watches);
		free(inst->fs);
		inst->fs = NULL;
		inst->n_fs = 0;
	}
	return r;
}

/* An epoll fd of vigil's: the directories it polls on each mount, from
 * the census its poller keeps in the set (src/lib/source_mux.c: user data
 * "VG", the mount ID, the count). Another program's epoll set is read for
 * nothing. */
#define CENSUS_MAGIC 0x5647ull
static int read_census(int pid_dir, int fd, struct usage_proc *p)
{
	char name[32], *text;
	size_t len;
	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	int r = read_all(pid_dir, name, &text, &len);
	if (r < 0)
		return r == -ENOENT || r == -EACCES ? 0 : r;
	for (const char *line = text; line && *line && r == 0;) {
		int tfd;
		unsigned events;
		unsigned long long data;
		if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3 &&
		    data >> 48 == CENSUS_MAGIC && (data & 0xffffff))
			r = fs_tally(&p->polled, &p->n_polled, 0, (int)((data >> 24) & 0xffffff),
				     (size_t)(data & 0xffffff));
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	free(text);
	return r;
}

void usage_parse_fanotify(const char *text, struct usage_proc *p)
{
	p->fan_groups++;
	for (const char *line = text; line && *line;) {
		if (strncmp(line, "fanotify ino:", 13) == 0)
			p->fan_inode++;
		else if (strncmp(line, "fanotify mnt_id:", 16) == 0)
			p->fan_mount++;
		else if (strncmp(line, "fanotify sdev:", 14) == 0)
			p->fan_fs++;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
}

static int read_fanotify(int pid_dir, int fd, struct usage_proc *p)
{
	char name[32], *text;
	size_t len;
	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	int r = read_all(pid_dir, name, &text, &len);
	if (r < 0)
		return r == -ENOENT || r == -EACCES ? 0 : r;
	usage_parse_fanotify(text, p);
	free(text);
	return 0;
}

/* Read one inotify fd's fdinfo: its watches (or their number only). */
static int read_instance(int pid_dir, pid_t pid, int fd, bool details,
			 struct usage_instance *inst)
{
	char name[32], *text;
	size_t len;
	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	int r = read_all(pid_dir, name, &text, &len);
	if (r < 0)
		return r;
	*inst = (struct usage_instance){.fd = fd, .pid = pid, .canon_pid = pid, .canon_fd = fd};
	r = usage_parse_fdinfo(text, len, details, inst);
	free(text);
	return r;
}

static void free_proc(struct usage_proc *p)
{
	for (size_t i = 0; i < p->n_inst; i++) {
		for (size_t k = 0; k < p->inst[i].n_watches && p->inst[i].watches; k++)
			free(p->inst[i].watches[k].handle);
		free(p->inst[i].watches);
		free(p->inst[i].fs);
	}
	free(p->inst);
	free(p->polled);
	free(p->cmdline);
}

static int read_uid(int pid_dir, uid_t *ret)
{
	char *text;
	size_t len;
	int r = read_all(pid_dir, "status", &text, &len);
	if (r < 0)
		return r;
	const char *u = strstr(text, "\nUid:");
	unsigned long real, eff;
	r = u && sscanf(u + 5, "%lu %lu", &real, &eff) == 2 ? 0 : -ENOENT;
	if (r == 0)
		*ret = (uid_t)eff;
	free(text);
	return r;
}

/* The command line, or "[comm]" as ps shows a process without one (a
 * kernel thread, a zombie). */
static int read_cmdline(int pid_dir, struct usage_proc *p)
{
	char *text;
	size_t len;
	int r = read_all(pid_dir, "cmdline", &text, &len);
	if (r < 0)
		return r;
	if (len > 0) {
		if (text[len - 1] != '\0') /* it rewrote its argv area */
			len++;
		p->cmdline = text;
		p->cmdline_len = len - 1;
		for (size_t i = 0; i < len; i++)
			p->argc += text[i] == '\0';
		return 0;
	}
	free(text);
	if ((r = read_all(pid_dir, "comm", &text, &len)) < 0)
		return r;
	if (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	p->cmdline = malloc(len + 3);
	if (!p->cmdline) {
		free(text);
		return -ENOMEM;
	}
	p->cmdline_len = (size_t)snprintf(p->cmdline, len + 3, "[%s]", text);
	free(text);
	return 0;
}

static bool has_uid(const uid_t *v, size_t n, uid_t uid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == uid)
			return true;
	return false;
}

static bool has_pid(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

/* A /proc or fd directory entry's number, or -1 for any other name. */
static int entry_number(const char *s)
{
	long n = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > INT_MAX / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n <= INT_MAX ? (int)n : -1;
}

/* Read process PID into s->procs when it holds an instance (or was asked
 * for). 0 when done or skipped, -ENOENT when it is gone, -EACCES when it
 * cannot be read. COUNTED: the users whose processes count (NULL: all). */
static int scan_proc(struct usage_scan *s, int proc_dir, pid_t pid, bool asked,
		     const uid_t *counted, size_t n_counted)
{
	char name[16];
	struct usage_proc p = {.pid = pid};
	DIR *fds = NULL;
	int r, pid_dir, fd_dir;

	snprintf(name, sizeof(name), "%d", pid);
	if ((pid_dir = openat(proc_dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if ((r = read_uid(pid_dir, &p.uid)) < 0)
		goto out;
	if (!asked && counted && !has_uid(counted, n_counted, p.uid))
		goto out;
	p.shown = (asked || s->n_pids == 0) &&
		  (s->n_uids == 0 || has_uid(s->uids, s->n_uids, p.uid));

	fd_dir = openat(pid_dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd_dir < 0 || !(fds = fdopendir(fd_dir))) {
		r = -errno;
		if (fd_dir >= 0)
			close(fd_dir);
		goto out;
	}
	size_t cap = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(fds))) {
		char link[32];
		int fd = entry_number(de->d_name);
		if (fd < 0)
			continue;
		ssize_t n = readlinkat(dirfd(fds), de->d_name, link, sizeof(link) - 1);
		if (n < 0) {
			if (errno == ENOENT) /* closed meanwhile */
				continue;
			r = -errno;
			goto out;
		}
		link[n] = '\0';
		if (strcmp(link, "anon_inode:[eventpoll]") == 0) {
			if ((r = read_census(pid_dir, fd, &p)) < 0)
				goto out;
			continue;
		}
		if (strcmp(link, "anon_inode:[fanotify]") == 0) {
			if ((r = read_fanotify(pid_dir, fd, &p)) < 0)
				goto out;
			continue;
		}
		if (strcmp(link, "anon_inode:inotify") != 0)
			continue;
		if (p.n_inst == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			void *grown = realloc(p.inst, ncap * sizeof(*p.inst));
			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			p.inst = grown;
			cap = ncap;
		}
		r = read_instance(pid_dir, pid, fd, s->details && p.shown, &p.inst[p.n_inst]);
		if (r == -ENOENT) { /* closed meanwhile */
			r = 0;
			continue;
		}
		if (r < 0)
			goto out;
		p.n_inst++;
	}
	if (errno) {
		r = -errno;
		goto out;
	}
	if (p.n_inst == 0 && !p.fan_groups && !asked)
		goto out;
	if (p.shown && (r = read_cmdline(pid_dir, &p)) < 0)
		goto out;
	if (s->n_procs == s->cap_procs) {
		size_t ncap = s->cap_procs ? s->cap_procs * 2 : 16;
		void *grown = realloc(s->procs, ncap * sizeof(*s->procs));
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		s->procs = grown;
		s->cap_procs = ncap;
	}
	s->procs[s->n_procs++] = p;
	p = (struct usage_proc){0};
out:
	if (fds)
		closedir(fds);
	close(pid_dir);
	free_proc(&p);
	/* a process reading its own exit sees ESRCH; fdinfo of a closed fd,
	 * or a directory read as the process exits, ENOENT */
	if (r == -ESRCH)
		r = -ENOENT;
	if (r == -EPERM)
		r = -EACCES;
	return r;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct usage_instance *x = *(struct usage_instance *const *)a;
	const struct usage_instance *y = *(struct usage_instance *const *)b;
	if (x->fingerprint != y->fingerprint)
		return x->fingerprint < y->fingerprint ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

static bool is_canon(const struct usage_instance *x)
{
	return x->canon_pid == x->pid && x->canon_fd == x->fd;
}

/* An inotify instance shared by several fds (dup, fork, SCM_RIGHTS) is one
 * instance to the kernel. Only fds whose fdinfo reads the same can hold the
 * same open file, and kcmp() says whether they do. Where kcmp is missing or
 * not allowed, every fd counts as an instance of its own. */
static int find_shared(struct usage_scan *s)
{
	size_t n = 0, k = 0;
	for (size_t i = 0; i < s->n_procs; i++)
		n += s->procs[i].n_inst;
	if (n < 2)
		return 0;
	struct usage_instance **refs = malloc(n * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_procs; i++)
		for (size_t j = 0; j < s->procs[i].n_inst; j++)
			refs[k++] = &s->procs[i].inst[j];
	qsort(refs, n, sizeof(*refs), cmp_ref);
	for (size_t i = 0; i < n; i++) {
		struct usage_instance *a = refs[i];
		if (!is_canon(a))
			continue; /* the same file as an earlier one */
		for (size_t j = i + 1; j < n && refs[j]->fingerprint == a->fingerprint; j++) {
			struct usage_instance *b = refs[j];
			if (!is_canon(b))
				continue;
			long r = syscall(SYS_kcmp, (long)a->pid, (long)b->pid, (long)KCMP_FILE,
					 (long)a->fd, (long)b->fd);
			if (r < 0 && errno == ENOSYS)
				goto out;
			if (r == 0) {
				b->canon_pid = a->pid;
				b->canon_fd = a->fd;
			}
		}
	}
out:
	free(refs);
	return 0;
}

/* A process's own figures: each open file once, however many fds hold it. */
static void count_proc(struct usage_proc *p)
{
	p->instances = p->watches = 0;
	for (size_t j = 0; j < p->n_inst; j++) {
		bool again = false;
		for (size_t k = 0; k < j && !again; k++)
			again = p->inst[k].canon_pid == p->inst[j].canon_pid &&
				p->inst[k].canon_fd == p->inst[j].canon_fd;
		if (!again) {
			p->instances++;
			p->watches += p->inst[j].n_watches;
		}
	}
}

static long read_long(const char *path)
{
	int dir = AT_FDCWD;
	char *text;
	size_t len;
	if (read_all(dir, path, &text, &len) < 0)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || v < 0)
		v = -1;
	free(text);
	return v;
}

/* The limit in force is the lower of the system-wide sysctl and the one of
 * this user namespace (they differ in containers): name whichever it is. */
static void read_limit(struct usage_limit *l, const char *fs_name, const char *user_name)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/sys/fs/inotify/%s", fs_name);
	long fs = read_long(path);
	snprintf(path, sizeof(path), "/proc/sys/user/%s", user_name);
	long user = read_long(path);
	l->fs_value = fs;
	snprintf(l->fs_sysctl, sizeof(l->fs_sysctl), "fs.inotify.%s", fs_name);
	if (user >= 0 && (fs < 0 || user < fs)) {
		l->value = user;
		snprintf(l->sysctl, sizeof(l->sysctl), "user.%s", user_name);
	} else {
		l->value = fs;
		snprintf(l->sysctl, sizeof(l->sysctl), "fs.inotify.%s", fs_name);
	}
}

static int add_uid(uid_t **v, size_t *n, uid_t uid)
{
	if (has_uid(*v, *n, uid))
		return 0;
	uid_t *grown = realloc(*v, (*n + 1) * sizeof(**v));
	if (!grown)
		return -ENOMEM;
	grown[(*n)++] = uid;
	*v = grown;
	return 0;
}

int usage_scan_run(struct usage_scan *s, pid_t *ret_bad)
{
	uid_t *counted = NULL;
	size_t n_counted = 0;
	DIR *proc = NULL;
	int r = 0;

	read_limit(&s->instances, "max_user_instances", "max_inotify_instances");
	read_limit(&s->watches, "max_user_watches", "max_inotify_watches");
	/* per instance, and not a ucount: there is no user.* one */
	s->fan_groups_max = read_long("/proc/sys/fs/fanotify/max_user_groups");
	s->fan_marks_max = read_long("/proc/sys/fs/fanotify/max_user_marks");
	long queued = read_long("/proc/sys/fs/inotify/max_queued_events");
	s->queued = (struct usage_limit){.value = queued, .fs_value = queued,
					 .sysctl = "fs.inotify.max_queued_events",
					 .fs_sysctl = "fs.inotify.max_queued_events"};

	if (!(proc = opendir("/proc")))
		return -errno;
	/* the processes asked for first: whose users they are says whose
	 * processes count towards the totals */
	for (size_t i = 0; i < s->n_pids; i++) {
		r = scan_proc(s, dirfd(proc), s->pids[i], true, NULL, 0);
		if (r < 0) {
			*ret_bad = s->pids[i];
			goto out;
		}
	}
	if (s->n_uids) {
		for (size_t i = 0; i < s->n_uids; i++)
			if ((r = add_uid(&counted, &n_counted, s->uids[i])) < 0)
				goto out;
	} else if (s->n_pids) {
		for (size_t i = 0; i < s->n_procs; i++)
			if ((r = add_uid(&counted, &n_counted, s->procs[i].uid)) < 0)
				goto out;
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(proc))) {
		int pid = entry_number(de->d_name);
		if (pid <= 0 || has_pid(s->pids, s->n_pids, pid))
			continue;
		r = scan_proc(s, dirfd(proc), pid, false,
			      s->n_uids || s->n_pids ? counted : NULL, n_counted);
		if (r == -EACCES)
			s->denied++;
		else if (r < 0 && r != -ENOENT)
			goto out;
		r = 0;
	}
	if (errno) {
		r = -errno;
		goto out;
	}
	if ((r = find_shared(s)) < 0)
		goto out;
	for (size_t i = 0; i < s->n_procs; i++)
		count_proc(&s->procs[i]);
out:
	if (proc)
		closedir(proc);
	free(counted);
	return r;
}

void usage_scan_free(struct usage_scan *s)
{
	for (size_t i = 0; i < s->n_procs; i++)
		free_proc(&s->procs[i]);
	free(s->procs);
	for (size_t i = 0; i < s->n_targets; i++)
		free(s->targets[i].path);
	free(s->targets);
	s->procs = NULL;
	s->targets = NULL;
	s->n_procs = s->n_targets = 0;
}
