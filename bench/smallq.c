/* bench/smallq.c: an LD_PRELOAD library that gives the inotify queues of
 * the process it is loaded into room for SMALLQ events (default 64), as if
 * fs.inotify.max_queued_events were SMALLQ, without changing that sysctl for
 * the whole machine (bench/churn.sh --emulate-queue N).
 *
 * Each read() or FIONREAD of an inotify descriptor first moves what the
 * kernel queued since into an emulated queue, by the kernel's rules
 * (fs/notify/notification.c, inotify_merge()): a full queue takes one
 * IN_Q_OVERFLOW and drops the rest until it is read; an event equal to the
 * last one queued (mask, wd, name) is merged into it. The reader then gets
 * what a kernel queue of SMALLQ events would have held at that moment:
 * events only ever leave the emulated queue through the reader. poll() on
 * such a descriptor says it is readable while events are held.
 *
 * SMALLQ_LOG=FILE writes each event queued, merged or dropped, each read,
 * and each watch added (with the path it lands on), for tracing a run.
 * Built by bench/churn.sh: cc -shared -fPIC -o smallq.so smallq.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAXFD 1024
#define EV_MAX (sizeof(struct inotify_event) + 256)

struct q {
	int on;
	char *buf; /* cap bytes */
	size_t len, n, tail; /* bytes, events, offset of the last */
	int overflowed;
};
static struct q qs[MAXFD];
static size_t limit;
static FILE *trace; /* SMALLQ_LOG */
static void lg_ev(const char *what, const struct inotify_event *ev)
{
	if (trace)
		fprintf(trace, "%s wd=%d mask=%x cookie=%x name=%.*s\n", what, ev->wd, ev->mask,
			ev->cookie, (int)(ev->len ? strnlen(ev->name, ev->len) : 0), ev->name);
}

static ssize_t (*real_read)(int, void *, size_t);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_init1)(int);
static int (*real_close)(int);

static void init(void)
{
	if (real_read)
		return;
	real_read = dlsym(RTLD_NEXT, "read");
	real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	real_poll = dlsym(RTLD_NEXT, "poll");
	real_init1 = dlsym(RTLD_NEXT, "inotify_init1");
	real_close = dlsym(RTLD_NEXT, "close");
	const char *e = getenv("SMALLQ");
	limit = e ? strtoul(e, NULL, 10) : 64;
	if (!limit)
		limit = 64;
	const char *l = getenv("SMALLQ_LOG");
	if (l) {
		trace = fopen(l, "w");
		if (trace)
			setvbuf(trace, NULL, _IOLBF, 0);
	}
}

static void add(struct q *q, const struct inotify_event *ev)
{
	size_t sz = sizeof(*ev) + ev->len;
	if (q->n >= limit) {
		lg_ev("drop", ev);
		if (q->overflowed)
			return;
		struct inotify_event o = {.wd = -1, .mask = IN_Q_OVERFLOW};
		q->tail = q->len;
		memcpy(q->buf + q->len, &o, sizeof(o));
		q->len += sizeof(o);
		q->n++;
		q->overflowed = 1;
		return;
	}
	if (q->n) {
		const struct inotify_event *t = (const void *)(q->buf + q->tail);
		if (!(t->mask & IN_IGNORED) && t->mask == ev->mask && t->wd == ev->wd &&
		    strnlen(t->name, t->len) == strnlen(ev->name, ev->len) &&
		    (!ev->len || !strncmp(t->name, ev->name, ev->len))) {
			lg_ev("merge", ev);
			return;
		}
	}
	lg_ev("queue", ev);
	q->tail = q->len;
	memcpy(q->buf + q->len, ev, sz);
	q->len += sz;
	q->n++;
}

/* what the kernel holds, into the emulated queue */
static int drain(int fd, struct q *q)
{
	static char tmp[1 << 18];
	for (;;) {
		ssize_t n = real_read(fd, tmp, sizeof(tmp));
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *ev = (const void *)(tmp + off);
			add(q, ev);
			off += (ssize_t)(sizeof(*ev) + ev->len);
		}
	}
}

static void track(int fd)
{
	if (fd >= 0 && fd < MAXFD) {
		struct q *q = &qs[fd];
		free(q->buf);
		*q = (struct q){.on = 1, .buf = malloc((limit + 1) * EV_MAX)};
		if (!q->buf)
			q->on = 0;
	}
}

int inotify_init(void)
{
	init();
	int fd = real_init1(0);
	track(fd);
	return fd;
}

int inotify_init1(int flags)
{
	init();
	int fd = real_init1(flags);
	track(fd);
	return fd;
}

int close(int fd)
{
	init();
	if (fd >= 0 && fd < MAXFD && qs[fd].on) {
		free(qs[fd].buf);
		qs[fd] = (struct q){0};
	}
	return real_close(fd);
}

ssize_t read(int fd, void *buf, size_t size)
{
	init();
	if (fd < 0 || fd >= MAXFD || !qs[fd].on)
		return real_read(fd, buf, size);
	struct q *q = &qs[fd];
	if (drain(fd, q) < 0 && !q->n)
		return -1;
	if (!q->n) {
		errno = EAGAIN;
		return -1;
	}
	size_t out = 0, k = 0;
	while (out < q->len) {
		const struct inotify_event *ev = (const void *)(q->buf + out);
		size_t sz = sizeof(*ev) + ev->len;
		if (out + sz > size)
			break;
		out += sz;
		k++;
	}
	if (!out) {
		errno = EINVAL;
		return -1;
	}
	if (trace)
		fprintf(trace, "read %zu events %zu bytes\n", k, out);
	memcpy(buf, q->buf, out);
	memmove(q->buf, q->buf + out, q->len - out);
	q->len -= out;
	q->n -= k;
	q->tail = q->tail >= out ? q->tail - out : 0;
	/* the overflow event left the queue: another may come */
	if (q->overflowed) {
		int still = 0;
		for (size_t o = 0; o < q->len;) {
			const struct inotify_event *ev = (const void *)(q->buf + o);
			if (ev->mask & IN_Q_OVERFLOW && ev->wd == -1)
				still = 1;
			o += sizeof(*ev) + ev->len;
		}
		q->overflowed = still;
	}
	return (ssize_t)out;
}

int ioctl(int fd, unsigned long req, ...)
{
	init();
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (req == FIONREAD && fd >= 0 && fd < MAXFD && qs[fd].on) {
		drain(fd, &qs[fd]);
		*(int *)arg = (int)qs[fd].len;
		return 0;
	}
	return real_ioctl(fd, req, arg);
}

int poll(struct pollfd *p, nfds_t n, int ms)
{
	init();
	int held = 0;
	for (nfds_t i = 0; i < n; i++)
		if (p[i].fd >= 0 && p[i].fd < MAXFD && qs[p[i].fd].on && qs[p[i].fd].n)
			held = 1;
	int r = real_poll(p, n, held ? 0 : ms);
	if (r < 0 || !held)
		return r;
	r = 0;
	for (nfds_t i = 0; i < n; i++) {
		if (p[i].fd >= 0 && p[i].fd < MAXFD && qs[p[i].fd].on && qs[p[i].fd].n)
			p[i].revents |= POLLIN & p[i].events;
		if (p[i].revents)
			r++;
	}
	return r;
}

int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	static int (*real)(int, const char *, uint32_t);
	if (!real)
		real = dlsym(RTLD_NEXT, "inotify_add_watch");
	int wd = real(fd, path, mask);
	if (trace) {
		char buf[4096], lp[4200];
		ssize_t n;
		if (!strcmp(path, "."))
			n = readlink("/proc/thread-self/cwd", buf, sizeof(buf) - 1);
		else
			n = readlink(path, buf, sizeof(buf) - 1);
		if (n < 0) {
			snprintf(lp, sizeof(lp), "%s", path);
		} else {
			buf[n] = 0;
			snprintf(lp, sizeof(lp), "%s", buf);
		}
		fprintf(trace, "watch wd=%d mask=%x path=%s (%s)\n", wd, mask, lp, path);
	}
	return wd;
}
