#include "linger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Without pidfds, how often a group is looked at. */
#define LOOK_NS 20000000ull

struct group {
	pid_t pgid;
	char *rule;
	int stop_signal;
	uint64_t stop_timeout_ns;
	uint64_t kill_at;   /* 0 while left alone; once stopped, SIGKILL then;
			     * UINT64_MAX once it had SIGKILL */
	struct member {
		struct group *g;
		int fd;     /* its pidfd, -1 once it ended */
	} *m;               /* the members found when last looked */
	size_t n_m, live;
	bool polled;        /* no pidfds: looked at every LOOK_NS */
};

struct linger_list {
	int epfd;
	struct group **v;
	size_t len, cap;
};

int linger_new(struct linger_list **ret)
{
	struct linger_list *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

static void drop_members(struct group *g)
{
	for (size_t i = 0; i < g->n_m; i++)
		if (g->m[i].fd >= 0)
			close(g->m[i].fd); /* which takes it out of the epoll set */
	free(g->m);
	g->m = NULL;
	g->n_m = g->live = 0;
}

static void group_free(struct group *g)
{
	drop_members(g);
	free(g->rule);
	free(g);
}

void linger_free(struct linger_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->len; i++)
		group_free(l->v[i]);
	free(l->v);
	close(l->epfd);
	free(l);
}

int linger_fd(const struct linger_list *l)
{
	return l->epfd;
}

/* The members of group PGID that are alive (not zombies), from /proc: into
 * *RET (*N of them), or with RET NULL only counted. 0 or -ENOMEM. */
static int members(pid_t pgid, pid_t **ret, size_t *n)
{
	DIR *d = opendir("/proc");
	size_t cap = 0;
	*n = 0;
	if (ret)
		*ret = NULL;
	if (!d)
		return 0; /* no /proc: nothing known to be left */
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[64], buf[512], *end;
		long pid = strtol(de->d_name, &end, 10);
		if (pid <= 0 || *end)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t got = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (got <= 0)
			continue;
		buf[got] = '\0';
		/* "pid (comm) state ppid pgrp ...": comm may hold anything */
		const char *p = strrchr(buf, ')');
		char state;
		int ppid, pgrp;
		if (!p || sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3)
			continue;
		if (pgrp != pgid || state == 'Z' || state == 'X')
			continue;
		if (ret) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 8;
				pid_t *v = reallocarray(*ret, cap, sizeof(*v));
				if (!v) {
					closedir(d);
					free(*ret);
					*ret = NULL;
					return -ENOMEM;
				}
				*ret = v;
			}
			(*ret)[*n] = (pid_t)pid;
		}
		(*n)++;
	}
	closedir(d);
	return 0;
}

/* Watch G's members as they are now: a pidfd each (none when polled).
 * Returns how many are watched (found, when polled), or a negative errno. */
static long watch_once(struct linger_list *l, struct group *g)
{
	pid_t *pids;
	size_t n;
	int r = members(g->pgid, &pids, &n);
	if (r < 0)
		return r;
	drop_members(g);
	if (!n || g->polled) {
		free(pids);
		return (long)n;
	}
	if (!(g->m = calloc(n, sizeof(*g->m)))) {
		free(pids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
		if (fd < 0 && errno != ESRCH) { /* ENOSYS: look every LOOK_NS */
			g->polled = true;
			break;
		}
		if (fd < 0)
			continue; /* it ended meanwhile */
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		struct member *m = &g->m[g->n_m];
		*m = (struct member){g, fd};
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = m};
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			close(fd);
			g->polled = true;
			break;
		}
		g->n_m++;
		g->live++;
	}
	free(pids);
	if (g->polled)
		drop_members(g);
	return g->polled ? (long)n : (long)g->live;
}

/* As watch_once(); when every member found ended before it could be
 * watched, once more, for those they may have forked meanwhile. */
static long watch_members(struct linger_list *l, struct group *g)
{
	long n = 0;
	for (int tries = 0; tries < 3 && n == 0; tries++) {
		n = watch_once(l, g);
		if (n == 0 && (kill(-g->pgid, 0) < 0 && errno == ESRCH))
			break; /* nothing there at all */
	}
	return n;
}

int linger_add(struct linger_list *l, pid_t pgid, const char *rule, int sig,
	       uint64_t stop_timeout_ns, uint64_t kill_at)
{
	if (kill(-pgid, 0) < 0 && errno == ESRCH)
		return 0; /* nothing left: the usual case, cheap */
	struct group *g = calloc(1, sizeof(*g));
	if (!g || !(g->rule = strdup(rule))) {
		free(g);
		return -ENOMEM;
	}
	g->pgid = pgid;
	g->stop_signal = sig;
	g->stop_timeout_ns = stop_timeout_ns;
	g->kill_at = kill_at;
	long n = watch_members(l, g);
	if (n <= 0) {
		group_free(g);
		return (int)n;
	}
	if (l->len == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct group **v = reallocarray(l->v, cap, sizeof(*v));
		if (!v) {
			group_free(g);
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->len++] = g;
	return 1;
}

static bool of_rule(const struct group *g, const char *rule)
{
	return !rule || strcmp(g->rule, rule) == 0;
}

void linger_stop(struct linger_list *l, const char *rule, uint64_t now)
{
	for (size_t i = 0; i < l->len; i++) {
		struct group *g = l->v[i];
		if (g->kill_at || !of_rule(g, rule))
			continue;
		kill(-g->pgid, g->stop_signal);
		g->kill_at = now + (g->stop_timeout_ns ? g->stop_timeout_ns : 1);
	}
}

/* Look at G again, its known members all ended (or, polled, it is time):
 * false when nothing is left of it (or it cannot be told). */
static bool still_there(struct linger_list *l, struct group *g)
{
	if (g->polled) {
		size_t n;
		return members(g->pgid, NULL, &n) == 0 && n;
	}
	return watch_members(l, g) > 0;
}

static void forget(struct linger_list *l, size_t i)
{
	group_free(l->v[i]);
	l->v[i] = l->v[--l->len];
}

void linger_event(struct linger_list *l)
{
	/* one at a time: forgetting a group closes its pidfds, and so takes
	 * them out of what the next epoll_wait() can return */
	struct epoll_event e;
	while (epoll_wait(l->epfd, &e, 1, 0) == 1) {
		struct member *m = e.data.ptr;
		struct group *g = m->g;
		close(m->fd);
		m->fd = -1;
		if (--g->live)
			continue;
		if (still_there(l, g))
			continue;
		for (size_t i = 0; i < l->len; i++)
			if (l->v[i] == g)
				forget(l, i);
	}
}

uint64_t linger_check(struct linger_list *l, uint64_t now)
{
	uint64_t next = 0;
	for (size_t i = 0; i < l->len;) {
		struct group *g = l->v[i];
		if (g->polled && !still_there(l, g)) {
			forget(l, i);
			continue;
		}
		if (g->kill_at && g->kill_at != UINT64_MAX && now >= g->kill_at) {
			kill(-g->pgid, SIGKILL);
			g->kill_at = UINT64_MAX;
		}
		uint64_t at = g->kill_at && g->kill_at != UINT64_MAX ? g->kill_at : 0;
		if (g->polled && (!at || now + LOOK_NS < at))
			at = now + LOOK_NS;
		if (at && (!next || at < next))
			next = at;
		i++;
	}
	return next;
}

size_t linger_count(const struct linger_list *l, const char *rule)
{
	size_t n = 0;
	for (size_t i = 0; i < l->len; i++)
		n += of_rule(l->v[i], rule);
	return n;
}
