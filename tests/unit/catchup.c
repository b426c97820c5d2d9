/* What the catch-up tests share: see catchup.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "catchup.h"

int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/vigil-catchup.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->out, sizeof(f->out), "%s.out", f->dir);
	if (vigil_new(0, &f->v) < 0)
		return -1;
	*state = f;
	return 0;
}

static int remove_both(const struct fixture *f)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->dir, f->out);
	return system(cmd) == 0 ? 0 : -1;
}

int teardown(void **state)
{
	struct fixture *f = *state;
	vigil_free(f->v);
	if (remove_both(f) < 0)
		return -1;
	free(f);
	return 0;
}

void fixture_reset(struct fixture *f)
{
	f->v = vigil_free(f->v);
	assert_int_equal(remove_both(f), 0);
	if (mkdir(f->dir, 0700) < 0)
		fail_msg("mkdir '%s': %s", f->dir, strerror(errno));
	assert_int_equal(vigil_new(0, &f->v), 0);
}

void at(const struct fixture *f, const char *rel, char *p, size_t size)
{
	if (strncmp(rel, "OUT", 3) == 0)
		snprintf(p, size, "%s%s", f->out, rel + 3);
	else
		snprintf(p, size, "%s/%s", f->dir, rel);
}

void make_dir(const struct fixture *f, const char *rel)
{
	char p[600];
	at(f, rel, p, sizeof(p));
	if (mkdir(p, 0755) < 0)
		fail_msg("mkdir '%s': %s", p, strerror(errno));
}

void make_file(const struct fixture *f, const char *rel)
{
	char p[600];
	at(f, rel, p, sizeof(p));
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("create '%s': %s", p, strerror(errno));
	close(fd);
}

void move(const struct fixture *f, const char *from, const char *to)
{
	char a[600], b[600];
	at(f, from, a, sizeof(a));
	at(f, to, b, sizeof(b));
	if (rename(a, b) < 0)
		fail_msg("rename '%s' '%s': %s", a, b, strerror(errno));
}

void remove_dir(const struct fixture *f, const char *rel)
{
	char p[600];
	at(f, rel, p, sizeof(p));
	if (rmdir(p) < 0)
		fail_msg("rmdir '%s': %s", p, strerror(errno));
}

void remove_file(const struct fixture *f, const char *rel)
{
	char p[600];
	at(f, rel, p, sizeof(p));
	if (unlink(p) < 0)
		fail_msg("unlink '%s': %s", p, strerror(errno));
}

static void make_va(const struct fixture *f, va_list ap)
{
	for (const char *rel; (rel = va_arg(ap, const char *));) {
		size_t len = strlen(rel);
		if (len && rel[len - 1] == '/') {
			char d[600];
			snprintf(d, sizeof(d), "%.*s", (int)len - 1, rel);
			make_dir(f, d);
		} else {
			make_file(f, rel);
		}
	}
}

void make(const struct fixture *f, ...)
{
	va_list ap;
	va_start(ap, f);
	make_va(f, ap);
	va_end(ap);
}

void start_known(struct fixture *f, struct known *k, ...)
{
	watch_events(f);
	memset(k, 0, sizeof(*k));
	va_list ap;
	va_start(ap, k);
	make_va(f, ap);
	va_end(ap);
	replay(f, k);
}

void watch(struct fixture *f)
{
	assert_true(vigil_add(f->v, f->dir, IN_CREATE, VIGIL_RECURSIVE) >= 1);
}

void watch_events(struct fixture *f)
{
	assert_true(vigil_add(f->v, f->dir, IN_CREATE | IN_DELETE | IN_MOVE, VIGIL_RECURSIVE) >= 1);
}

void drain(vigil *v)
{
	const struct vigil_event *ev;
	int r;
	while ((r = vigil_next(v, 300, &ev)) == 1)
		;
	assert_int_equal(r, 0);
}

/* --- the reader ------------------------------------------------------------ */

static void known_add(struct known *k, const char *p)
{
	size_t l = strlen(p);
	assert_true(k->n < KNOWN_MAX && l < KNOWN_PATH);
	memcpy(k->path[k->n++], p, l + 1);
}

/* Drop P and what is below it; with TAKE, keep what was below it there,
 * relative to P. */
static void known_drop(struct known *k, const char *p, struct known_half *take)
{
	size_t l = strlen(p);
	for (size_t i = 0; i < k->n;) {
		if (strncmp(k->path[i], p, l) == 0 && (!k->path[i][l] || k->path[i][l] == '/')) {
			if (take && k->path[i][l] && take->n < 64)
				memcpy(take->below[take->n++], k->path[i] + l, strlen(k->path[i] + l) + 1);
			memcpy(k->path[i], k->path[--k->n], sizeof(k->path[0]));
		} else {
			i++;
		}
	}
}

static bool is_known(const struct known *k, const char *p)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->path[i], p) == 0)
			return true;
	return false;
}

static void known_event(struct known *k, const char *p, const struct vigil_event *ev)
{
	if (ev->mask & IN_MOVED_FROM) {
		struct known_half *h = &k->half[k->next_half++ % KNOWN_HALVES];
		h->cookie = ev->cookie;
		h->n = 0;
		known_drop(k, p, h);
	} else if (ev->mask & IN_DELETE) {
		known_drop(k, p, NULL);
	} else if (ev->mask & IN_CREATE) {
		/* a create never replaces anything: what the reader knew
		 * below it stays (and is stale, if it is not there) */
		if (!is_known(k, p))
			known_add(k, p);
	} else if (ev->mask & IN_MOVED_TO) {
		/* replaces what was there (a rename over a file or an empty
		 * directory says nothing of it) */
		known_drop(k, p, NULL);
		known_add(k, p);
		for (size_t i = 0; ev->mask & IN_MOVED_TO && ev->cookie && i < KNOWN_HALVES; i++) {
			struct known_half *h = &k->half[i];
			if (h->cookie != ev->cookie)
				continue;
			for (size_t j = 0; j < h->n; j++) {
				char q[2 * KNOWN_PATH];
				snprintf(q, sizeof(q), "%s%s", p, h->below[j]);
				known_add(k, q);
			}
			h->cookie = 0;
			h->n = 0;
		}
	}
}

static size_t replay_at(const struct fixture *f, struct known *k, long max, const char *skip,
			const char *until, size_t *overflows)
{
	const struct vigil_event *ev;
	size_t root = strlen(f->dir), n = 0;
	bool trace = getenv("VIGIL_TRACE"); /* each event, for tracing a shape */
	while (max < 0 || n < (size_t)max) {
		/* everything the changes made is queued already: what is left
		 * to wait for is a rename half's partner */
		int r = vigil_next(f->v, 0, &ev);
		if (r == 0 && max < 0 && vigil_next_deadline_ms(f->v) >= 0)
			r = vigil_next(f->v, vigil_next_deadline_ms(f->v), &ev);
		assert_true(r >= 0);
		if (r == 0) {
			if (max >= 0 || vigil_next_deadline_ms(f->v) < 0)
				break;
			continue;
		}
		n++;
		if (overflows && (ev->flags & VIGIL_EVENT_OVERFLOW)) {
			++*overflows;
			continue;
		}
		assert_false(ev->flags & (VIGIL_EVENT_OVERFLOW | VIGIL_EVENT_ERROR));
		if (strcmp(ev->path, f->dir) == 0)
			continue; /* the root's own */
		assert_true(strncmp(ev->path, f->dir, root) == 0 && ev->path[root] == '/');
		const char *p = ev->path + root + 1;
		if (skip && strncmp(p, skip, strlen(skip)) == 0)
			continue;
		assert_true(strlen(p) < KNOWN_PATH);
		if (trace) {
			char names[128];
			vigil_mask_format(ev->mask, ',', names, sizeof(names));
			printf("#\t\t%s %s %x%s\n", p, names, ev->cookie,
			       ev->flags & VIGIL_EVENT_SYNTHETIC ? " (synthetic)" : "");
		}
		known_event(k, p, ev);
		/* a synthetic DELETE may come first, to clear the path */
		if (until && strcmp(p, until) == 0 && is_known(k, until))
			break;
	}
	return n;
}

size_t replay_some(const struct fixture *f, struct known *k, long max)
{
	return replay_at(f, k, max, NULL, NULL, NULL);
}

void replay(const struct fixture *f, struct known *k)
{
	replay_some(f, k, -1);
}

size_t replay_across(const struct fixture *f, struct known *k, const char *skip)
{
	return replay_until(f, k, skip, NULL);
}

size_t replay_until(const struct fixture *f, struct known *k, const char *skip, const char *until)
{
	size_t overflows = 0;
	replay_at(f, k, -1, skip, until, &overflows);
	return overflows;
}


void expect_known(const struct known *k, const char *p)
{
	if (!is_known(k, p))
		fail_msg("'%s' exists, and no event said so under that path", p);
}

void expect_unknown(const struct known *k, const char *p)
{
	if (is_known(k, p))
		fail_msg("'%s' was reported, and there is no such path", p);
}

/* --- the check ------------------------------------------------------------- */

struct view {
	int wd[KNOWN_MAX];
	char path[KNOWN_MAX][600];
	unsigned long ino[KNOWN_MAX]; /* the kernel's, for wd (kernel_inos()) */
	size_t n;
};

static int collect(void *ctx, int wd, const char *path)
{
	struct view *w = ctx;
	if (w->n == KNOWN_MAX)
		return -1;
	w->wd[w->n] = wd;
	snprintf(w->path[w->n], sizeof(w->path[0]), "%s", path);
	/* a directory's path may come with its trailing '/' */
	size_t l = strlen(w->path[w->n]);
	if (l > 1 && w->path[w->n][l - 1] == '/')
		w->path[w->n][l - 1] = '\0';
	w->n++;
	return 0;
}

/* The inotify descriptor in the epoll set vigil_fd() gives (its fdinfo
 * names each descriptor it holds as "tfd: N"), or -1. */
static int inotify_behind(int epfd)
{
	char p[64], line[512], target[64];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", epfd);
	FILE *in = fopen(p, "re");
	assert_non_null(in);
	int found = -1, tfd;
	while (found < 0 && fgets(line, sizeof(line), in)) {
		if (sscanf(line, "tfd: %d", &tfd) != 1)
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", tfd);
		ssize_t n = readlink(p, target, sizeof(target) - 1);
		if (n > 0 && (target[n] = '\0', strcmp(target, "anon_inode:inotify") == 0))
			found = tfd;
	}
	fclose(in);
	return found;
}

/* The inode the kernel's watch is on, for each of W's watches, from our
 * own fdinfo (read once: a line a watch), or 0. */
static void kernel_inos(int epfd, struct view *w)
{
	char p[64], line[512];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", inotify_behind(epfd));
	FILE *in = fopen(p, "re");
	assert_non_null(in);
	while (fgets(line, sizeof(line), in)) {
		int wd;
		unsigned long ino;
		if (sscanf(line, "inotify wd:%x ino:%lx", &wd, &ino) != 2)
			continue;
		for (size_t i = 0; i < w->n; i++)
			if (w->wd[i] == wd)
				w->ino[i] = ino;
	}
	fclose(in);
}

struct walk {
	const struct fixture *f;
	const struct view *w;
	const struct known *k;
	FILE *say;
	size_t dirs, bad;
};

/* PATH, a directory, and everything below it; REL its path below the root
 * ("" for the root). */
static void walk(struct walk *x, const char *path, const char *rel)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	x->dirs++;
	size_t i = 0;
	while (i < x->w->n && strcmp(x->w->path[i], path) != 0)
		i++;
	if (i == x->w->n) {
		fprintf(x->say, "'%s' is not watched (vigil has no watch at that path)\n", path);
		x->bad++;
	} else if (x->w->ino[i] != (unsigned long)st.st_ino) {
		fprintf(x->say, "'%s': vigil's watch %d there is on another inode\n", path,
			x->w->wd[i]);
		x->bad++;
	}
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char sub[600], subrel[600];
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		snprintf(subrel, sizeof(subrel), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		if (x->k && !is_known(x->k, subrel)) {
			fprintf(x->say, "'%s' exists, and no event said so under that path\n", subrel);
			x->bad++;
		}
		if (e->d_type == DT_DIR)
			walk(x, sub, subrel);
	}
	closedir(d);
}

/* The paths K knows of that are not on disk: each one a reader replaying
 * the events would believe in, and that is not there (a stale path). */
static size_t stale(const struct fixture *f, const struct known *k, FILE *say)
{
	size_t bad = 0;
	for (size_t i = 0; i < k->n; i++) {
		char p[600];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", f->dir, k->path[i]);
		if (lstat(p, &st) < 0) {
			fprintf(say, "'%s' was reported, and there is no such path\n", k->path[i]);
			bad++;
		}
	}
	return bad;
}

size_t diverged(const struct fixture *f, const struct known *k, FILE *say)
{
	struct view *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	assert_int_equal(vigil_foreach_watch(f->v, collect, w), 0);
	kernel_inos(vigil_fd(f->v), w);
	struct walk x = {.f = f, .w = w, .k = k, .say = say};
	walk(&x, f->dir, "");
	if (x.dirs != w->n) {
		fprintf(say, "%zu directories on disk, %zu watches\n", x.dirs, w->n);
		x.bad++;
	}
	if (k)
		x.bad += stale(f, k, say);
	free(w);
	return x.bad;
}

void check(const struct fixture *f)
{
	drain(f->v);
	size_t bad = diverged(f, NULL, stderr);
	if (bad)
		fail_msg("%zu differences between vigil's watches and the disk", bad);
}

void check_known(const struct fixture *f, struct known *k)
{
	replay(f, k);
	size_t bad = diverged(f, k, stderr);
	if (bad)
		fail_msg("%zu differences between vigil's view, its reader's and the disk", bad);
}
