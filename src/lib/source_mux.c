/* inotify and the poller behind one source (source.h).
 *
 * Each watch is routed by the filesystem of what it watches: decided once
 * per mount (by its mount ID; statfs()'s magic number, then the type in
 * /proc/self/mountinfo, blind.c) and looked up by one statx() per watch.
 * BACKEND_AUTO polls where inotify is blind and uses inotify elsewhere;
 * BACKEND_INOTIFY uses inotify everywhere, remembering the blind mounts it
 * met so that the caller can warn; BACKEND_POLL polls everything.
 *
 * One epoll descriptor is the source's fd: it holds the inotify fd, a
 * timerfd armed only while something is polled (one shot at the poll
 * source's next deadline: a tick each interval / POLL_SLICES, or less
 * often with fewer directories, and a file settling in between), an
 * eventfd that says records are waiting in memory, and
 * /proc/self/mountinfo, whose POLLPRI says the mount table changed: a
 * polled mount unmounted (even lazily, which a descriptor held open would
 * otherwise hide) ends its watches as the kernel ends inotify's (UNMOUNT,
 * IGNORED), and a mount made over a watched directory, or one gone from
 * over it, is a new directory there (CREATE), which the engine lists.
 * Nothing ticks while nothing is polled.
 *
 * The stream's order keeps the engine's stream positions (seen.c) true:
 * what is read is the poller's records queued before, then the kernel's,
 * then what this read's tick found, so nothing made after a listing's
 * mark is read before something made before it. A directory newly polled
 * is listed again when the engine asks where the stream stands
 * (pending(), right after its own listing): what appeared in between is
 * queued then, before the engine's mark, as the kernel's would be. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bitset.h"
#include "blind.h"
#include "buf.h"
#include "source.h"
#include "source_poll.h"

struct mount_rec {
	int id;
	dev_t dev;
	bool blind, polled, gone, listed;
	char *point, *fstype, *source;
	int census_fd;       /* in the epoll set, never ready: see census() */
	size_t census;       /* the count it shows */
};

/* How many directories a process polls on each mount is visible to
 * others (vigil usage) without asking it: each polled mount has a
 * descriptor (a dup of the eventfd) in the epoll set, asking for no
 * events, whose user data, which /proc/PID/fdinfo of the epoll fd shows,
 * says CENSUS_MAGIC, the mount ID and the count. */
#define CENSUS_MAGIC 0x5647ull /* "VG" */
#define CENSUS_DATA(id, n) ((CENSUS_MAGIC << 48) | ((uint64_t)((id) & 0xffffff) << 24) | \
			    ((n) > 0xffffff ? 0xffffffu : (uint64_t)(n)))

struct mux {
	struct source ino;
	struct poll_src *poll;
	enum source_backend backend;
	int timer_fd, event_fd;
	int minfo_wake;      /* in the epoll set: wakes it */
	int minfo_check;     /* polled here only: says whether it changed */
	bool event_set;
	uint64_t armed_at;   /* the timer's deadline, CLOCK_MONOTONIC ns; 0 none */
	struct mount_rec *mounts;
	size_t n_mounts, cap_mounts;
	size_t *blind;       /* the blind mounts, in the order met */
	size_t n_blind, cap_blind;
	int *ids;            /* every mount's ID at the last look */
	size_t n_ids;
	struct bitset wds;   /* inotify wds handed out */
	struct buf synth;    /* records of the mount table's changes */
};

static struct mux *mux_of(const struct source *s)
{
	return s->impl;
}

/* --- the timer and the eventfd ---------------------------------------------- */

/* One shot, at the poll source's next deadline (none: disarmed). */
static void rearm(struct mux *m)
{
	uint64_t at = m->poll ? poll_src_deadline(m->poll) : 0;
	if (at == m->armed_at)
		return;
	struct itimerspec its = {0};
	its.it_value.tv_sec = (time_t)(at / 1000000000u);
	its.it_value.tv_nsec = (long)(at % 1000000000u);
	if (timerfd_settime(m->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		m->armed_at = at;
}

/* Keep the epoll fd readable while records wait in memory. */
static void signal_queued(struct mux *m)
{
	bool want = (m->poll && poll_src_queued(m->poll)) || m->synth.len;
	if (want == m->event_set)
		return;
	uint64_t one = 1;
	if (want ? write(m->event_fd, &one, sizeof(one)) == sizeof(one)
		 : read(m->event_fd, &one, sizeof(one)) == sizeof(one))
		m->event_set = want;
}

/* --- mounts ---------------------------------------------------------------- */

static struct mount_rec *mount_by(struct mux *m, int id, dev_t dev, size_t *ret_i)
{
	for (size_t i = 0; i < m->n_mounts; i++) {
		struct mount_rec *r = &m->mounts[i];
		if (!r->gone && (id >= 0 ? r->id == id : r->dev == dev)) {
			*ret_i = i;
			return r;
		}
	}
	return NULL;
}

/* The mount of the object at (DIRFD, PATH, FLAGS), met before or now: its
 * index, or a negative errno. */
static int mount_of(struct mux *m, int dirfd, const char *path, int flags, size_t *ret)
{
	struct statx sx;
	if (statx(dirfd, path, flags | AT_NO_AUTOMOUNT, STATX_MNT_ID | STATX_INO, &sx) < 0)
		return -errno;
	int id = (sx.stx_mask & STATX_MNT_ID) ? (int)sx.stx_mnt_id : -1;
	dev_t dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	if (mount_by(m, id, dev, ret))
		return 0;

	/* first met: what is it? */
	struct statfs fs;
	if (!*path && (flags & AT_EMPTY_PATH)) {
		if (fstatfs(dirfd, &fs) < 0)
			return -errno;
	} else {
		int ofd = openat(dirfd, path, O_PATH | O_CLOEXEC |
				 ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0));
		if (ofd < 0)
			return -errno;
		int e = fstatfs(ofd, &fs) < 0 ? -errno : 0;
		close(ofd);
		if (e < 0)
			return e;
	}
	int verdict = blind_magic((unsigned long)fs.f_type);
	struct mount_entry me = {0};
	bool found = false;
	if (verdict != 0) {
		found = mount_find(m->minfo_check, id, dev, &me) == 0;
		if (verdict < 0)
			verdict = found ? blind_fstype(me.fstype)
					: (unsigned long)fs.f_type == 0x65735546UL;
	}
	if (array_grow((void **)&m->mounts, &m->cap_mounts, m->n_mounts, sizeof(*m->mounts), 8) < 0) {
		mount_entry_free(&me);
		return -ENOMEM;
	}
	struct mount_rec *r = &m->mounts[m->n_mounts];
	*r = (struct mount_rec){.id = id, .dev = dev, .blind = verdict == 1, .census_fd = -1};
	if (r->blind) {
		r->point = found ? me.point : strdup("?");
		r->fstype = found ? me.fstype : strdup("?");
		r->source = found ? me.source : strdup("?");
		if (!r->point || !r->fstype || !r->source) {
			free(r->point);
			free(r->fstype);
			free(r->source);
			return -ENOMEM;
		}
	} else {
		mount_entry_free(&me);
	}
	*ret = m->n_mounts++;
	return 0;
}

/* Whether mount I is polled; the first time a blind one is, it is listed
 * for source_mux_mount(). */
static int choose(struct mux *m, size_t i, bool *ret_poll)
{
	struct mount_rec *r = &m->mounts[i];
	bool poll = m->backend == BACKEND_POLL || (m->backend == BACKEND_AUTO && r->blind);
	if (poll && !m->poll) {
		int e = poll_src_new(0, &m->poll);
		if (e < 0)
			return e;
	}
	r->polled |= poll;
	if (r->blind && !r->listed) {
		if (array_grow((void **)&m->blind, &m->cap_blind, m->n_blind, sizeof(*m->blind), 4) < 0)
			return -ENOMEM;
		m->blind[m->n_blind++] = i;
		r->listed = true;
	}
	*ret_poll = poll;
	return 0;
}

/* --- the ops ----------------------------------------------------------------- */

static int ino_result(struct mux *m, int e, int *ret_wd)
{
	if (e < 0)
		return e;
	if (*ret_wd >= POLL_WD_BASE) {
		/* a billion watches into this instance: wds would collide */
		m->ino.ops->remove(&m->ino, *ret_wd);
		return -ENOSPC;
	}
	/* out of memory: only a mount made later would not be found */
	(void)bitset_put(&m->wds, *ret_wd, true);
	return 0;
}

static int poll_add(struct mux *m, int fd, uint32_t mask, size_t mount, int *ret_wd)
{
	int e = poll_src_add(m->poll, fd, mask, (int)mount, ret_wd);
	rearm(m);
	return e;
}

/* Watch the object at (DIRFD, NAME) (AT_FDCWD: NAME a path; NAME "" with
 * AT_EMPTY_PATH in FLAGS: DIRFD itself) where it belongs. inotify is asked
 * first: a wd it had handed out already is an object routed before (a
 * watch widened, found again), with no look at its mount; only a new one
 * is looked at, and let go if the object is to be polled. */
static int add_where(struct source *s, int dirfd, const char *name, int flags,
		     uint32_t mask, int *ret_wd)
{
	struct mux *m = mux_of(s);
	int wd = -1, ie = -ENOENT;
	if (m->backend != BACKEND_POLL) {
		ie = (flags & AT_EMPTY_PATH) ? m->ino.ops->add_fd(&m->ino, dirfd, mask, &wd)
		     : dirfd == AT_FDCWD ? m->ino.ops->add_path(&m->ino, name, mask, &wd)
					 : m->ino.ops->add_at(&m->ino, dirfd, name, mask, &wd);
		if (ie == 0 && bitset_has(&m->wds, wd)) {
			*ret_wd = wd;
			return 0;
		}
	}
	size_t mi;
	bool poll = false;
	int e = mount_of(m, dirfd, name, flags, &mi);
	if (e == 0)
		e = choose(m, mi, &poll);
	if (!poll) {
		if (ie < 0)
			return ie;
		*ret_wd = wd;
		return ino_result(m, 0, ret_wd);
	}
	if (ie == 0)
		m->ino.ops->remove(&m->ino, wd); /* new, and not ours: it is polled */
	int fd = (flags & AT_EMPTY_PATH) ? dirfd
		 : openat(dirfd, name, O_PATH | O_CLOEXEC |
			  ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0));
	if (fd < 0)
		return -errno;
	e = poll_add(m, fd, mask, mi, ret_wd);
	if (fd != dirfd)
		close(fd);
	return e;
}

static int mux_add_fd(struct source *s, int fd, uint32_t mask, int *ret_wd)
{
	return add_where(s, fd, "", AT_EMPTY_PATH, mask, ret_wd);
}

/* Watch NAME under DIRFD (AT_FDCWD: a path) where it belongs. */
static int add_named(struct source *s, int dirfd, const char *name, uint32_t mask,
		     int *ret_wd)
{
	return add_where(s, dirfd, name, (mask & IN_DONT_FOLLOW) ? AT_SYMLINK_NOFOLLOW : 0,
			 mask, ret_wd);
}

static int mux_add_at(struct source *s, int dirfd, const char *name, uint32_t mask,
		      int *ret_wd)
{
	return add_named(s, dirfd, name, mask, ret_wd);
}

static int mux_add_path(struct source *s, const char *path, uint32_t mask, int *ret_wd)
{
	return add_named(s, AT_FDCWD, path, mask, ret_wd);
}

static int mux_remove(struct source *s, int wd)
{
	struct mux *m = mux_of(s);
	if (wd >= POLL_WD_BASE) {
		if (m->poll)
			poll_src_remove(m->poll, wd);
		rearm(m);
		return 0;
	}
	bitset_put(&m->wds, wd, false);
	return m->ino.ops->remove(&m->ino, wd);
}

/* The parent of mount point POINT, if inotify watches it here, hears of a
 * new directory under its name: the engine lists what is there now. */
static int mount_point_changed(struct mux *m, const char *point)
{
	const char *slash = strrchr(point, '/');
	if (!slash || !slash[1])
		return 0;
	size_t plen = slash == point ? 1 : (size_t)(slash - point);
	char *parent = strndup(point, plen);
	if (!parent)
		return -ENOMEM;
	/* IN_MASK_ADD with what every recursive watch asks already: a watch
	 * of ours comes back unchanged, under its wd */
	int wd = inotify_add_watch(m->ino.fd, parent,
				   IN_MASK_ADD | IN_CREATE | IN_ONLYDIR | IN_DONT_FOLLOW);
	free(parent);
	if (wd < 0)
		return 0;
	if (!bitset_has(&m->wds, wd)) {
		inotify_rm_watch(m->ino.fd, wd);
		return 0;
	}
	const char *name = slash + 1;
	size_t len = strlen(name), padded = (len + 1 + 15) & ~(size_t)15;
	struct inotify_event h = {.wd = wd, .mask = IN_CREATE | IN_ISDIR, .len = (uint32_t)padded};
	static const char zeros[16];
	int r = buf_append(&m->synth, (const char *)&h, sizeof(h));
	if (r == 0)
		r = buf_append(&m->synth, name, len);
	if (r == 0)
		r = buf_append(&m->synth, zeros, padded - len);
	return r;
}

static bool has_id(const int *ids, size_t n, int id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ids[mid] == id)
			return true;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The mount table changed: polled mounts gone end their watches; mounts
 * made or gone over a watched directory make it new. */
static int mounts_changed(struct mux *m)
{
	int *ids;
	size_t n;
	int e = mount_ids(m->minfo_check, &ids, &n);
	if (e < 0)
		return e == -ENOMEM ? e : 0;
	for (size_t i = 0; i < m->n_mounts && e == 0; i++) {
		struct mount_rec *r = &m->mounts[i];
		if (r->gone || r->id < 0 || has_id(ids, n, r->id))
			continue;
		r->gone = true;
		if (r->polled && m->poll)
			e = poll_src_unmount(m->poll, (int)i);
	}
	/* made or gone: their mount points, as mountinfo says them */
	for (size_t i = 0; i < n && e == 0; i++) {
		if (has_id(m->ids, m->n_ids, ids[i]))
			continue;
		struct mount_entry me;
		if (mount_find(m->minfo_check, ids[i], 0, &me) == 0) {
			e = mount_point_changed(m, me.point);
			mount_entry_free(&me);
		}
	}
	for (size_t i = 0; i < m->n_mounts && e == 0; i++) {
		struct mount_rec *r = &m->mounts[i];
		if (r->gone && r->point && r->id >= 0 && has_id(m->ids, m->n_ids, r->id) &&
		    !has_id(ids, n, r->id))
			e = mount_point_changed(m, r->point);
	}
	free(m->ids);
	m->ids = ids;
	m->n_ids = n;
	rearm(m);
	return e;
}

/* Bring each polled mount's census (above) up to date. */
static void census(struct source *s, struct mux *m)
{
	if (!m->poll)
		return;
	for (size_t i = 0; i < m->n_mounts; i++) {
		struct mount_rec *r = &m->mounts[i];
		size_t n = r->polled && !r->gone ? poll_src_count(m->poll, (int)i) : 0;
		if (n == r->census || r->id < 0)
			continue;
		struct epoll_event ev = {.events = 0, .data.u64 = CENSUS_DATA(r->id, n)};
		if (r->census_fd < 0) {
			int fd = fcntl(m->event_fd, F_DUPFD_CLOEXEC, 3);
			if (fd < 0)
				continue;
			if (epoll_ctl(s->fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
				close(fd);
				continue;
			}
			r->census_fd = fd;
		} else if (epoll_ctl(s->fd, EPOLL_CTL_MOD, r->census_fd, &ev) < 0) {
			continue;
		}
		r->census = n;
	}
}

/* Whether the mount table changed since we last asked (POLLPRI comes once
 * per change to each open of mountinfo; this one is ours alone). */
static bool mounts_moved(struct mux *m)
{
	struct pollfd p = {.fd = m->minfo_check, .events = POLLPRI};
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLPRI | POLLERR));
}

static ssize_t mux_read(struct source *s, void *buf, size_t size)
{
	struct mux *m = mux_of(s);
	char *out = buf;
	size_t n = 0;
	/* what the poller queued before this read */
	if (m->poll)
		n += poll_src_take(m->poll, out, size);
	if (size - n >= sizeof(struct inotify_event) + 256) {
		ssize_t r = m->ino.ops->read(&m->ino, out + n, size - n);
		if (r < 0 && r != -EAGAIN && !n)
			return r;
		if (r > 0) {
			/* the kernel's own IN_IGNORED: those wds are free again */
			struct source_record rec;
			for (size_t off = 0; off < (size_t)r; off += rec.size) {
				if (source_inotify_parse(out + n + off, (size_t)r - off, &rec) <= 0)
					break;
				if (rec.mask & IN_IGNORED)
					bitset_put(&m->wds, rec.wd, false);
			}
			n += (size_t)r;
		}
	}
	int e = 0;
	if (m->synth.len && size - n >= m->synth.len) {
		memcpy(out + n, m->synth.data, m->synth.len);
		n += m->synth.len;
		m->synth.len = 0;
	}
	/* then what this read finds: after everything queued before it */
	if (mounts_moved(m))
		e = mounts_changed(m);
	uint64_t ticks = 0;
	if (e == 0 && m->armed_at && read(m->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks) &&
	    ticks && m->poll) {
		e = poll_src_tick(m->poll); /* one, however many were missed */
		m->armed_at = UINT64_MAX; /* spent: armed again, whatever the deadline */
	}
	rearm(m);
	if (m->poll)
		n += poll_src_take(m->poll, out + n, size - n);
	if (m->synth.len && size - n >= m->synth.len) {
		memcpy(out + n, m->synth.data, m->synth.len);
		n += m->synth.len;
		m->synth.len = 0;
	}
	signal_queued(m);
	census(s, m);
	if (e < 0 && !n)
		return e;
	return n ? (ssize_t)n : -EAGAIN;
}

static int mux_pending(struct source *s, size_t *ret_bytes)
{
	struct mux *m = mux_of(s);
	size_t k = 0;
	int e = m->ino.ops->pending(&m->ino, &k);
	if (e < 0)
		return e;
	if (m->poll) {
		/* directories polled since the last ask: their listing by the
		 * caller is over, and what appeared since their snapshot goes
		 * before the mark the caller takes now */
		poll_src_recheck(m->poll);
		k += poll_src_queued(m->poll);
		signal_queued(m);
	}
	*ret_bytes = k + m->synth.len;
	return 0;
}

static bool mux_polled(const struct source *s, int wd)
{
	(void)s;
	return wd >= POLL_WD_BASE;
}

static void mux_close(struct source *s)
{
	struct mux *m = mux_of(s);
	if (!m)
		return;
	m->ino.ops->close(&m->ino);
	poll_src_free(m->poll);
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	if (m->event_fd >= 0)
		close(m->event_fd);
	if (m->minfo_wake >= 0)
		close(m->minfo_wake);
	if (m->minfo_check >= 0)
		close(m->minfo_check);
	for (size_t i = 0; i < m->n_mounts; i++) {
		if (m->mounts[i].census_fd >= 0)
			close(m->mounts[i].census_fd);
		free(m->mounts[i].point);
		free(m->mounts[i].fstype);
		free(m->mounts[i].source);
	}
	free(m->mounts);
	free(m->blind);
	free(m->ids);
	bitset_free(&m->wds);
	buf_free(&m->synth);
	free(m);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->impl = NULL;
}

static const struct source_ops mux_ops = {
	.name = "auto",
	.add_fd = mux_add_fd,
	.add_at = mux_add_at,
	.add_path = mux_add_path,
	.remove = mux_remove,
	.read = mux_read,
	.pending = mux_pending,
	.parse = source_inotify_parse,
	.close = mux_close,
	.polled = mux_polled,
};

static int epoll_add(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int source_mux_open(enum source_backend backend, uint64_t interval_ns, struct source *ret)
{
	struct mux *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->backend = backend;
	m->timer_fd = m->event_fd = m->minfo_wake = m->minfo_check = -1;
	struct source s = {.ops = &mux_ops, .fd = -1, .impl = m};
	int e = source_inotify_open(&m->ino);
	if (e < 0) {
		free(m);
		return e;
	}
	s.fd = epoll_create1(EPOLL_CLOEXEC);
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	m->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	m->minfo_wake = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	m->minfo_check = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (s.fd < 0 || m->timer_fd < 0 || m->event_fd < 0) {
		e = -errno;
		goto fail;
	}
	if ((e = epoll_add(s.fd, m->ino.fd, EPOLLIN)) < 0 ||
	    (e = epoll_add(s.fd, m->timer_fd, EPOLLIN)) < 0 ||
	    (e = epoll_add(s.fd, m->event_fd, EPOLLIN)) < 0)
		goto fail;
	/* without /proc, mounts made or gone later are not followed */
	if (m->minfo_wake >= 0 && m->minfo_check >= 0 &&
	    epoll_add(s.fd, m->minfo_wake, EPOLLPRI) == 0) {
		mounts_moved(m); /* from now on */
		if (mount_ids(m->minfo_check, &m->ids, &m->n_ids) < 0)
			m->n_ids = 0;
	}
	if (interval_ns && (e = poll_src_new(interval_ns, &m->poll)) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	mux_close(&s);
	return e;
}

int source_mux_set_interval(struct source *s, uint64_t ns)
{
	struct mux *m = mux_of(s);
	if (!m->poll) {
		int e = poll_src_new(ns, &m->poll);
		if (e < 0)
			return e;
	}
	poll_src_set_interval(m->poll, ns);
	m->armed_at = UINT64_MAX; /* re-arm with the new period */
	rearm(m);
	return 0;
}

int source_mux_mount(struct source *s, size_t i, struct source_mount *ret)
{
	struct mux *m = mux_of(s);
	if (i >= m->n_blind)
		return 0;
	const struct mount_rec *r = &m->mounts[m->blind[i]];
	*ret = (struct source_mount){
		.point = r->point, .fstype = r->fstype, .source = r->source,
		.polled = r->polled, .gone = r->gone,
		.polled_count = m->poll && r->polled ? poll_src_count(m->poll, (int)m->blind[i]) : 0,
	};
	return 1;
}
