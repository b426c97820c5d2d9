/* Where raw events come from: one small interface so that other kernel
 * sources (fanotify for whole filesystems, a poller for network
 * filesystems) can stand behind it without the tree, crawl or move logic
 * changing. A source hands out records of (wd, mask, cookie, name) with
 * inotify's meaning for each field. */
#ifndef VIGIL_SOURCE_H
#define VIGIL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

struct source_record {
	int wd;
	/* IN_Q_OVERFLOW on a directory's WD (fanotify only): what the records
	 * said of it may be short of what happened there, and it is to be
	 * listed again, as after an overflow */
	uint32_t mask;
	uint32_t cookie;
	const char *name; /* NUL-terminated, "" when none */
	size_t name_len;
	size_t size;      /* bytes the record takes in the stream */
	int pid;          /* who made it, 0 when the source cannot tell */
	int child;        /* fanotify: the watch id of the directory a CREATE,
			     DELETE or MOVED_* is about, when it has one, else 0 */
};

struct source;

struct source_ops {
	const char *name;
	/* Watch the object open at FD (a directory opened without following
	 * links), so that what is watched is exactly what will be listed. */
	int (*add_fd)(struct source *s, int fd, uint32_t mask, int *ret_wd);
	/* Watch NAME (a relative path) under the directory open at DIRFD;
	 * IN_DONT_FOLLOW applies to its last component. */
	int (*add_at)(struct source *s, int dirfd, const char *name,
		      uint32_t mask, int *ret_wd);
	/* Watch PATH (follows a final symlink unless IN_DONT_FOLLOW). */
	int (*add_path)(struct source *s, const char *path, uint32_t mask,
			int *ret_wd);
	int (*remove)(struct source *s, int wd);
	/* Read a batch without blocking: bytes read, -EAGAIN when none. */
	ssize_t (*read)(struct source *s, void *buf, size_t size);
	/* Bytes queued in the kernel and not read yet. */
	int (*pending)(struct source *s, size_t *ret_bytes);
	/* Decode the record at BUF (SIZE bytes left, as read() returned them):
	 * 1 and *ret, 0 when SIZE is 0, -EBADMSG when malformed. */
	int (*parse)(const void *buf, size_t size, struct source_record *ret);
	void (*close)(struct source *s);
	/* Whether records on WD come from polling (NULL: never). */
	bool (*polled)(const struct source *s, int wd);
	/* Sources that mark whole filesystems (source_fanotify.c; NULL
	 * elsewhere) hand out records on directories nobody asked to watch,
	 * each under an id of its own. Where the directory WD was at stream
	 * position POS: its parent's id and its name, into NAME. -EXDEV when
	 * the parent is outside everything watched (the filesystem's root
	 * reached, or a directory said to be outside()), -ESTALE when it is
	 * gone, -EAGAIN when it was made after POS (its CREATE is still to
	 * read), -ENOENT for an id not handed out. */
	int (*resolve)(struct source *s, int wd, uint64_t pos, int *ret_parent,
		       struct buf *name);
	/* Whether an event after stream position POS makes, renames or
	 * deletes the directory WD (the kernel read dry first, so that what
	 * was done before now is in): where it was at POS is then not where
	 * it is now. The same sources as resolve. */
	bool (*moves_later)(struct source *s, int wd, uint64_t pos);
	/* The directory WD was not watched at stream position POS: drop its
	 * records from now on (and those of what is below it) until it is
	 * watched again, unless a directory came in from outside since POS
	 * (it may have come with it), or a rename of WD itself was read since
	 * POS, or a rename of it may have been merged by the kernel and the
	 * listings that merge asks for are not read yet. */
	void (*outside)(struct source *s, int wd, uint64_t pos);
	/* Hand out a record with IN_Q_OVERFLOW on directory WD again, after
	 * all that is queued now (source_fanotify.c; NULL elsewhere): the
	 * engine lists it once it has caught up with the kernel. */
	void (*recheck)(struct source *s, int wd);
	/* PID's command name as read with the last batch, or NULL. */
	const char *(*comm)(struct source *s, int pid);
};

struct source {
	const struct source_ops *ops;
	int fd; /* pollable */
	void *impl; /* the source's own state, if it has more than fd */
};

/* Open an inotify source (IN_NONBLOCK | IN_CLOEXEC). -EMFILE at the
 * per-user instance limit. */
int source_inotify_open(struct source *ret);

/* The inotify record decoder, exposed for tests and fuzzing. */
int source_inotify_parse(const void *buf, size_t size,
			 struct source_record *ret);

/* A fanotify source (fanotify(7)): with MARK 0, an inode mark per
 * directory watched (add_*), which works unprivileged since Linux 5.13;
 * with FAN_MARK_FILESYSTEM or FAN_MARK_MOUNT, add_fd() of a directory
 * marks its filesystem (or mount), and every directory met there gets an
 * id (see resolve). Records carry the pid. -ENOSYS without fanotify,
 * -EMFILE at fs.fanotify.max_user_groups, -ENOMEM. */
int source_fanotify_open(unsigned mark, struct source *ret);
/* The decoder of its records, for tests and fuzzing. */
int source_fanotify_parse(const void *buf, size_t size, struct source_record *ret);

/* inotify where it sees everything, the poller (source_poll.h) where it
 * is blind (blind.h), behind one source (source_mux.c). */
enum source_backend { BACKEND_AUTO, BACKEND_INOTIFY, BACKEND_POLL };
/* -EMFILE as for inotify, -ENOMEM. */
int source_mux_open(enum source_backend backend, uint64_t interval_ns, struct source *ret);
int source_mux_set_interval(struct source *s, uint64_t ns);
/* The blind mounts met so far, in order: 1 and *ret for the I-th, 0 past
 * the last. The strings stay valid until the source is closed. */
struct source_mount {
	const char *point, *fstype, *source;
	bool polled;    /* else watched with inotify, blind to other machines */
	bool gone;      /* unmounted since */
	size_t polled_count; /* directories and files polled there now */
};
int source_mux_mount(struct source *s, size_t i, struct source_mount *ret);

#endif
