/* The inotify source. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int inotify_add_path(struct source *s, const char *path, uint32_t mask,
			    int *ret_wd)
{
	int wd = inotify_add_watch(s->fd, path, mask);
	if (wd < 0)
		return -errno;
	*ret_wd = wd;
	return 0;
}

/* inotify_add_watch() takes a path; /proc/self/fd/N names the very object we
 * hold open, so a directory renamed or replaced since we opened it cannot
 * make us watch something else, and depth is no issue (a path longer than
 * PATH_MAX could not be passed at all). */
static int inotify_add_fd(struct source *s, int fd, uint32_t mask, int *ret_wd)
{
	char proc[32];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int wd = inotify_add_watch(s->fd, proc, mask & ~(uint32_t)IN_DONT_FOLLOW);
	if (wd < 0)
		return -errno;
	*ret_wd = wd;
	return 0;
}

static int inotify_add_at(struct source *s, int dirfd, const char *name,
			  uint32_t mask, int *ret_wd)
{
	char proc[32];
	int n = snprintf(proc, sizeof(proc), "/proc/self/fd/%d/", dirfd);
	size_t len = strlen(name);
	if (len > 4096 - (size_t)n - 1)
		return -ENAMETOOLONG;
	char path[4096];
	memcpy(path, proc, (size_t)n);
	memcpy(path + n, name, len + 1);
	int wd = inotify_add_watch(s->fd, path, mask);
	if (wd < 0)
		return -errno;
	*ret_wd = wd;
	return 0;
}

static int inotify_remove(struct source *s, int wd)
{
	/* EINVAL: the kernel already dropped it (deleted, unmounted) */
	if (inotify_rm_watch(s->fd, wd) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

static ssize_t inotify_read_batch(struct source *s, void *buf, size_t size)
{
	for (;;) {
		ssize_t n = read(s->fd, buf, size);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static int inotify_pending(struct source *s, size_t *ret_bytes)
{
	int n = 0;
	if (ioctl(s->fd, FIONREAD, &n) < 0)
		return -errno;
	*ret_bytes = n > 0 ? (size_t)n : 0;
	return 0;
}

int source_inotify_parse(const void *buf, size_t size,
			 struct source_record *ret)
{
	struct inotify_event h;
	if (size == 0)
		return 0;
	/* read() never splits a record, so a short one is malformed */
	if (size < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.len > size - sizeof(h))
		return -EBADMSG;
	const char *name = (const char *)buf + sizeof(h);
	/* the kernel pads the name with NULs; the length is up to the first */
	size_t name_len = h.len ? strnlen(name, h.len) : 0;
	if (h.len && name_len == h.len)
		return -EBADMSG; /* not NUL-terminated */
	ret->wd = h.wd;
	ret->mask = h.mask;
	ret->cookie = h.cookie;
	ret->name = h.len ? name : "";
	ret->name_len = name_len;
	ret->size = sizeof(h) + h.len;
	ret->pid = 0; /* inotify never says who */
	ret->child = 0;
	return 1;
}

static void inotify_close(struct source *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static const struct source_ops inotify_ops = {
	.name = "inotify",
	.add_fd = inotify_add_fd,
	.add_at = inotify_add_at,
	.add_path = inotify_add_path,
	.remove = inotify_remove,
	.read = inotify_read_batch,
	.pending = inotify_pending,
	.parse = source_inotify_parse,
	.close = inotify_close,
};

int source_inotify_open(struct source *ret)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret->ops = &inotify_ops;
	ret->fd = fd;
	return 0;
}
