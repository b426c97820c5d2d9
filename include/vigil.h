/* libvigil: see every change to a tree of files, correctly and cheaply.
 *
 * One vigil handle owns one kernel notification source (an inotify
 * instance), a poller for the filesystems where inotify is blind (see
 * VIGIL_BACKEND_*), and a tree of the directories it watches. Events come out of
 * vigil_next() one at a time, with full paths, and with the tree already
 * brought up to date: a directory created inside a recursive watch is watched
 * before its event is returned, a renamed directory is renamed in place, one
 * moved or deleted away is forgotten.
 *
 * Conventions:
 *  - Calls that can fail return a negative errno (-ENOENT, -ENOSPC, ...);
 *    0 or a positive value means success. errno itself is not meaningful.
 *  - Out-parameters come last, are named ret_*, and are written only on
 *    success.
 *  - The library never prints and never exits.
 *  - A handle is not thread-safe; use one per thread or lock around it.
 *  - Every descriptor the library opens is close-on-exec.
 *  - A walk of a whole tree (vigil_add() with VIGIL_RECURSIVE, the re-crawl
 *    after an overflow) runs in a thread of the library's own, with every
 *    signal blocked and a working directory of its own, while the calling
 *    thread waits for it; the process's working directory never changes.
 *    Where no thread can be made, the walk runs in the calling thread.
 *
 * Masks are the IN_* bits of <sys/inotify.h>.
 */
#ifndef VIGIL_H
#define VIGIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VIGIL_API __attribute__((visibility("default")))
#else
#define VIGIL_API
#endif

/* The release this header is from (meson.build's project version; the
 * build checks that they agree). vigil_version() is the library's own,
 * which says more: in a build from a git checkout, the commit too. */
#define VIGIL_VERSION "0.1.0"

typedef struct vigil vigil;

/* Flags for vigil_new(). */
enum {
	/* Deliver a rename inside the watched trees as one event: mask has both
	 * IN_MOVED_FROM and IN_MOVED_TO, path is the new path and from_path the
	 * old one. Without it both halves are delivered as the kernel sends them
	 * (the tree follows the rename either way). A half whose partner never
	 * comes (moved in from, or out to, an unwatched place) is delivered alone.
	 */
	VIGIL_PAIR_MOVES = 1u << 0,
	/* Where inotify is blind: on NFS, SMB/CIFS, 9p, virtiofs, Ceph, AFS,
	 * Lustre, GPFS, every FUSE filesystem but fuseblk (sshfs, rclone, s3fs,
	 * bindfs, ...) and the other network and cluster filesystems, inotify
	 * reports what this machine does there and nothing another machine
	 * (or the host of a virtual machine) writes. Without either flag
	 * ("auto"), each directory is watched with inotify where it sees
	 * everything and polled where it is blind, decided as each directory
	 * is met (a tree may cross into such a mount and back, and a mount made
	 * over a watched directory later is met then); vigil_mount() lists the
	 * blind mounts met. A polled directory's events are flagged
	 * VIGIL_EVENT_POLLED; see there for what polling can and cannot tell.
	 * VIGIL_BACKEND_INOTIFY: inotify everywhere, blind mounts too (what
	 * inotifywait does); vigil_mount() still lists them, unpolled.
	 * VIGIL_BACKEND_POLL: poll every directory, local ones too.
	 * VIGIL_BACKEND_FANOTIFY: fanotify instead of inotify (Linux 5.13 and
	 * later unprivileged), see below. At most one VIGIL_BACKEND_* may be
	 * given (-EINVAL). */
	VIGIL_BACKEND_INOTIFY = 1u << 1,
	VIGIL_BACKEND_POLL = 1u << 2,
	/* Do not keep the names each watched directory holds. By default a
	 * recursive watch that asks for IN_CREATE, IN_DELETE or IN_MOVE keeps
	 * them (and so also asks the kernel for IN_DELETE), so that the
	 * re-scan after an overflow reports what appeared in and vanished
	 * from each directory in the gap (VIGIL_EVENT_OVERFLOW). That costs
	 * memory: about 31 bytes and the name for each file (measured: see
	 * vigil-wait(1), NOTES); without it an overflow's re-scan reports
	 * only what directories new in the gap hold. */
	VIGIL_NO_NAMES = 1u << 6,
	/* fanotify (fanotify(7)) with file handles and names: every event
	 * says which process made it (vigil_event.pid, .comm; the kernel
	 * tells inotify nothing of the kind).
	 * - Alone, each directory gets a mark of its own (an inode mark),
	 *   found by the same walk as inotify's watches, with the same
	 *   promises; it needs no privilege, counts against
	 *   fs.fanotify.max_user_marks (not inotify's limits), and the
	 *   kernel hides from an unprivileged process the pids of the
	 *   others (pid 0).
	 * - With VIGIL_MARK_FILESYSTEM, vigil_add() marks the whole
	 *   filesystem PATH is on, in one call and without a walk, whatever
	 *   the size of the tree; events outside the paths added are
	 *   dropped. A directory is learnt when an event first names it: from
	 *   the event itself when it was created or moved (the kernel gives
	 *   its file handle), else by opening its handle once
	 *   (open_by_handle_at()) and taking its name and parent as they were
	 *   at that point of the event stream. The tree follows every rename
	 *   and delete from then on, at any depth, with no lookup per event.
	 *   Needs CAP_SYS_ADMIN: without it vigil_add() fails with -EPERM.
	 * - With VIGIL_MARK_MOUNT, the same, but open, access, modify,
	 *   close_write and close_nowrite are asked of PATH's mount only
	 *   (events made through another mount of that filesystem, a bind
	 *   mount or another namespace's, are not seen); the kernel gives the
	 *   others (create, delete, moves, attrib, *_self) only for a whole
	 *   filesystem, so those still come from a filesystem mark.
	 * What does not map: IN_UNMOUNT never comes (fanotify drops its marks
	 * silently when a filesystem goes), and IN_IGNORED is vigil's own,
	 * after IN_DELETE_SELF or vigil_remove(). fanotify merges an event
	 * with one of the same kind on the same file by the same process
	 * still queued (two writes are one IN_MODIFY), and reports an event
	 * on a directory once, on the directory itself (inotify also reports
	 * open, access, attrib and close of a directory in its parent; vigil
	 * does so for fanotify too, below the paths added). Blind mounts
	 * (see above) are not polled. Filesystems that cannot give file
	 * handles (FUSE, many network filesystems) fail with -EOPNOTSUPP,
	 * -ENODEV or -EXDEV. */
	VIGIL_BACKEND_FANOTIFY = 1u << 3,
	/* With VIGIL_BACKEND_FANOTIFY (implied): see there. Not both. */
	VIGIL_MARK_FILESYSTEM = 1u << 4,
	VIGIL_MARK_MOUNT = 1u << 5,
};

/* Flags for vigil_add(). */
enum {
	/* Watch every directory below PATH too, and every directory that
	 * appears there later (created, or moved in). Symbolic links met during
	 * the recursion are never followed. */
	VIGIL_RECURSIVE = 1u << 0,
	/* Do not follow PATH itself if it is a symbolic link (IN_DONT_FOLLOW). */
	VIGIL_NOFOLLOW = 1u << 1,
	/* Fail with -ENOTDIR unless PATH is a directory (IN_ONLYDIR). */
	VIGIL_ONLYDIR = 1u << 2,
	/* Remove each watch after its first event (IN_ONESHOT). */
	VIGIL_ONESHOT = 1u << 3,
};

/* vigil_event.flags */
enum {
	/* Found by listing a directory, not reported by the kernel: the entry
	 * appeared in a directory before its watch was in place (a directory
	 * created or moved in, or a re-crawl after an overflow). mask is
	 * IN_CREATE (with IN_ISDIR for directories) when the watch asked for
	 * IN_CREATE; otherwise IN_CLOSE_WRITE, or IN_MOVED_TO, whichever the
	 * watch asked for, so that a consumer of complete files hears of it.
	 * Also IN_DELETE | IN_ISDIR (when IN_DELETE was asked for): forget
	 * this path and what is below it. A listing that ran ahead of the
	 * events reported what a later directory holds under a path whose
	 * earlier directory or file is about to move away (its IN_MOVED_FROM
	 * comes next); a reader replaying the events would take that along.
	 * What each directory holds is then reported again, where its own
	 * events put it. Or a listing found a known directory under another path,
	 * ahead of its rename events: its old path is gone (what a reader has
	 * below it may have moved on meanwhile); it is reported where it was
	 * found, and whole again when its rename is read. A directory reported
	 * whole where a rename a reader followed (its IN_MOVED_TO paired with
	 * an IN_MOVED_FROM) put it comes after a synthetic IN_DELETE |
	 * IN_ISDIR and IN_CREATE | IN_ISDIR of its path: what the rename
	 * carried there for a reader may not be what is there now. */
	VIGIL_EVENT_SYNTHETIC = 1u << 0,
	/* A paired rename (VIGIL_PAIR_MOVES): from_path, from_dir, from_name
	 * hold the old location. */
	VIGIL_EVENT_PAIRED = 1u << 1,
	/* The kernel queue overflowed (mask IN_Q_OVERFLOW, empty path): events
	 * were lost. The library re-crawls every watched tree right after it:
	 * directories that appeared in the gap are watched and their contents
	 * reported as synthetic events, directories that vanished are dropped.
	 * Where names are kept (see VIGIL_NO_NAMES), each directory's listing
	 * is compared with what a reader was told it holds: what appeared is
	 * reported as a synthetic IN_CREATE (or as for any listing, above),
	 * what vanished as a synthetic IN_DELETE (if asked for), and a
	 * directory found under another path as a synthetic IN_DELETE of the
	 * old one and an IN_CREATE of the new one, with all it holds (a
	 * directory reported whole there, new or found elsewhere, comes after
	 * a synthetic IN_DELETE | IN_ISDIR of its own path, if asked for, so
	 * that whatever a reader still has under it goes): a reader
	 * replaying the events has the tree on disk again, as far as names go.
	 * Changes to the contents of files that already existed cannot be
	 * recovered; consumers that need them keep their own snapshot.
	 * With VIGIL_MARK_FILESYSTEM or VIGIL_MARK_MOUNT nothing was left
	 * unwatched and nothing is walked: the directories learnt are looked
	 * up again from their file handles, each when an event next names
	 * it (see VIGIL_EVENT_UNRESOLVED). */
	VIGIL_EVENT_OVERFLOW = 1u << 2,
	/* Something could not be watched (error is a negative errno, path says
	 * what): a directory that appeared, or that vigil_add()'s walk found,
	 * could not be watched or listed. The rest goes on. With -ENOSPC (the
	 * watch limit), dirs says how many directories that leaves unwatched:
	 * PATH and all below it. Those also come from vigil_add() when it
	 * returns -ENOSPC, one for each directory it left out. */
	VIGIL_EVENT_ERROR = 1u << 3,
	/* Found by polling a directory where inotify is blind (VIGIL_BACKEND_*),
	 * not reported by the kernel. Each polled directory is looked at once
	 * an interval (vigil_set_poll_interval(), 2 s by default), the work
	 * spread over the interval: listed when its own mtime moved, and each
	 * entry stat'ed. A new name is IN_CREATE (and IN_MODIFY if the file
	 * holds data); a name gone is IN_DELETE (a polled directory's whole
	 * subtree, as rm -r would say it); a name gone and another appeared with
	 * the same inode, in any polled directory of that filesystem, is an
	 * IN_MOVED_FROM and IN_MOVED_TO pair with one cookie; a new size or mtime
	 * is IN_MODIFY, a new ctime alone IN_ATTRIB; IN_CLOSE_WRITE comes once a
	 * file that changed has not changed for one interval (a poll cannot see
	 * a close). A poll cannot see IN_OPEN, IN_ACCESS or IN_CLOSE_NOWRITE, a
	 * change undone within an interval, or a write that keeps both size and
	 * mtime; a file moved out of the polled tree is a delete; and it sees
	 * what the filesystem's attribute cache lets it see (NFS's may hold
	 * sizes and times back for up to a minute; FUSE's for a second). When a
	 * polled mount goes away (even lazily), each of its watches ends with
	 * IN_UNMOUNT and IN_IGNORED, as the kernel ends inotify's. */
	VIGIL_EVENT_POLLED = 1u << 4,
	/* With VIGIL_MARK_FILESYSTEM or VIGIL_MARK_MOUNT, after an overflow:
	 * the directory of the event could not be found again from its file
	 * handle (it is gone), so it is reported at the last path the handle
	 * knew, which the lost events may have made stale. (Without an
	 * overflow every path is followed exactly; a directory never met
	 * before that is gone by the time its first event is read cannot be
	 * placed at all, and its events are dropped.) */
	VIGIL_EVENT_UNRESOLVED = 1u << 5,
};

/* One event. Every pointer stays valid until the next call on the handle. */
struct vigil_event {
	const char *path;      /* dir + name; for an event on a watched
				  directory itself, that directory without its
				  trailing slash */
	const char *dir;       /* the watched directory with a trailing '/', or
				  a watched file's path (inotifywait's %w) */
	const char *name;      /* the entry in dir, "" for the watch itself (%f) */
	const char *from_path; /* with VIGIL_EVENT_PAIRED: the old path, else NULL */
	const char *from_dir;  /* with VIGIL_EVENT_PAIRED, else NULL */
	const char *from_name; /* with VIGIL_EVENT_PAIRED, else NULL */
	size_t path_len, dir_len, name_len, from_path_len;
	uint32_t mask;         /* IN_* bits, IN_ISDIR for directories */
	uint32_t cookie;       /* the kernel's rename cookie, or 0 */
	uint32_t flags;        /* VIGIL_EVENT_* */
	int error;             /* with VIGIL_EVENT_ERROR: a negative errno */
	struct timespec time;  /* CLOCK_REALTIME when the event was read */
	size_t dirs;           /* with error -ENOSPC: directories not watched */
	/* Who made the change (VIGIL_BACKEND_FANOTIFY): the process ID, or 0
	 * when not known: always with inotify and polling (the kernel does
	 * not say), for synthetic, overflow and error events, for a half of
	 * a rename held back, and for other processes' events when the
	 * fanotify group is unprivileged (the kernel hides them). */
	int pid;
	/* Its command name (/proc/PID/comm, at most 15 bytes), read when the
	 * event was read; NULL when pid is 0 or the process had gone. */
	const char *comm;
};

/* Filter kinds for vigil_filter_add(). */
enum vigil_filter_kind {
	/* POSIX extended regex matched against the full path (dir + name):
	 * events on matching paths are not delivered, and matching directories
	 * are not watched at all (no watch is spent on them). All exclude
	 * filters apply. */
	VIGIL_FILTER_EXCLUDE,
	/* POSIX extended regex: only events on matching paths are delivered,
	 * directories' included, as inotifywait filters them. Directories are
	 * watched whether they match or not, since what they hold may match.
	 * With several, a path matching any is delivered. */
	VIGIL_FILTER_INCLUDE,
	/* A path: that file or directory and everything below it is neither
	 * watched nor reported. Compared after removing trailing slashes. */
	VIGIL_FILTER_EXCLUDE_PATH,
};

/* Flags for vigil_filter_add(). */
enum {
	VIGIL_FILTER_ICASE = 1u << 0, /* case-insensitive regex */
};

/* The version of the library running: VIGIL_VERSION for a release (a
 * tarball), and in a build from a git checkout the commit after a '+', as
 * "0.1.0+g1a2b3c4d5e6f" (".dirty" after it when the tree had changes).
 * The same string as `vigil --version` and Python's vigil.__version__. */
VIGIL_API const char *vigil_version(void);

/* Create a handle. flags: VIGIL_PAIR_MOVES, one of VIGIL_BACKEND_INOTIFY,
 * VIGIL_BACKEND_POLL or VIGIL_BACKEND_FANOTIFY (with VIGIL_MARK_FILESYSTEM
 * or VIGIL_MARK_MOUNT), or 0.
 * Fails with -EMFILE when the per-user inotify instance limit
 * (fs.inotify.max_user_instances, or fs.fanotify.max_user_groups) is
 * reached, -ENOSYS when the kernel has no fanotify, -ENOMEM, -EINVAL. */
VIGIL_API int vigil_new(unsigned flags, vigil **ret);

/* Free a handle, its watches and its descriptor. Accepts NULL; returns NULL. */
VIGIL_API vigil *vigil_free(vigil *v);

/* Add a filter. Filters apply to watches added after them, and to every
 * directory that appears later. Returns 0, -EINVAL for a bad regex or kind,
 * -E2BIG for a regex too costly to compile (vigil_regex_check()), -ENOMEM. */
VIGIL_API int vigil_filter_add(vigil *v, enum vigil_filter_kind kind,
			       const char *pattern, unsigned flags);

/* Whether PATTERN, a POSIX extended regular expression, is cheap enough to
 * compile: 0, or -E2BIG. glibc's regcomp() copies what a repetition
 * repeats ('x+' is 'xx*', 'x{m,n}' is x n times), so repetitions of
 * repetitions multiply ('a' and 24 '+' take 12 GiB and 40 s); chains of
 * optional pieces cost the square of their length in memory and recursion
 * ('(a*){1,120}{1,120}': 4.8 GiB), anchors in them more ('$()?{20,275}':
 * 3.5 GiB), and a repetition of what can match nothing ('(){0,}{2,3}{1,51}')
 * ran for minutes. The cost is estimated from the text, generously; a
 * pattern whose compiling would pass tens of MiB or milliseconds by that
 * estimate, or that nests parentheses 500 deep, is refused. What people
 * write to match names passes ('^.{0,255}$', '(/[^/]{1,255}){0,20}',
 * '(a*)*'). vigil_filter_add() checks this itself; a program compiling
 * patterns of its own from untrusted text can ask first. Validity is
 * regcomp()'s to say. */
VIGIL_API int vigil_regex_check(const char *pattern);

/* The reason to give for a pattern vigil_regex_check() refuses, after
 * "'PATTERN' is too complex a regular expression: ". */
#define VIGIL_REGEX_TOO_COMPLEX "compiling it would take too much memory or time"

/* Watch PATH for the events in MASK (IN_* event bits; IN_ALL_EVENTS for all).
 * PATH's own IN_IGNORED (its watch is gone) is always reported; with
 * IN_IGNORED in MASK, so is each directory's below it as its watch goes
 * (deleted, unmounted), as inotifywait's -e ignored prints them.
 * With VIGIL_RECURSIVE, every directory below it too: each directory is
 * opened without following links, watched, then listed, so nothing created
 * meanwhile is missed. Directories that vanish during the walk are
 * skipped; one that cannot be watched or listed (it denies access, or was
 * made to deny it mid-walk) is skipped with what is below it, and is an
 * error event waiting in vigil_queued() when vigil_add() returns. Returns
 * the number of watches added (>= 1), or
 * -ENOENT, -EACCES, -ENOTDIR (VIGIL_ONLYDIR), -ENOSPC (the per-user watch
 * limit fs.inotify.max_user_watches is reached: when PATH itself could be
 * watched, it stays watched with what else could be, and each directory
 * left out is an error event waiting in vigil_queued(); with fanotify,
 * fs.fanotify.max_user_marks), -ENOMEM. With VIGIL_MARK_FILESYSTEM or
 * VIGIL_MARK_MOUNT: no walk, and 1; -EPERM without CAP_SYS_ADMIN;
 * -EOPNOTSUPP, -ENODEV, -EXDEV where the filesystem gives no file
 * handles. */
VIGIL_API int vigil_add(vigil *v, const char *path, uint32_t mask,
			unsigned flags);

/* Stop watching PATH (as given to vigil_add) and everything below it.
 * Returns 0 or -ENOENT when PATH is not watched. */
VIGIL_API int vigil_remove(vigil *v, const char *path);

/* The descriptor to poll for readability, for use in another event loop.
 * Readable means vigil_next() has work to do; vigil_next() may still return
 * 0 (everything read was filtered away). When vigil_next() returned 0 with a
 * timeout of 0, also honour vigil_next_deadline_ms(). */
VIGIL_API int vigil_fd(const vigil *v);

/* Milliseconds until vigil_next() has something to do without the fd
 * becoming readable (a rename half waiting for its partner), or -1. */
VIGIL_API int vigil_next_deadline_ms(const vigil *v);

/* Wait up to TIMEOUT_MS milliseconds (-1 forever, 0 not at all) for the next
 * event. Returns 1 and sets *ret_event, 0 on timeout, -EINTR when a signal
 * interrupted the wait, or another negative errno on failure. The event is
 * valid until the next call on the handle. In a storm (woken again less
 * than 1 ms after the last read that brought events) it waits 0.5 ms before
 * reading, so that one read carries many events; the first event after a
 * quiet spell is read at once, and a TIMEOUT_MS of 0 never waits. */
VIGIL_API int vigil_next(vigil *v, int timeout_ms,
			 const struct vigil_event **ret_event);

/* How often each polled directory is looked at (VIGIL_EVENT_POLLED), in
 * milliseconds; 2000 by default. 0 is -EINVAL. Applies at once, to what
 * is polled already too. */
VIGIL_API int vigil_set_poll_interval(vigil *v, unsigned ms);

/* A mount where inotify is blind, met under a watch. */
struct vigil_mount {
	const char *path;    /* where it is mounted */
	const char *fstype;  /* as /proc/self/mountinfo names it: "nfs4",
				"fuse.sshfs", "cifs" */
	const char *source;  /* "server:/export", "user@host:dir", ... */
	int polled;          /* 1: polled; 0: watched with inotify only
				(VIGIL_BACKEND_INOTIFY), blind to other machines */
	int unmounted;       /* 1 once it is gone from the mount table */
	size_t dirs;         /* directories and files polled there now */
};

/* The I-th blind mount the handle has met (0, 1, ... in the order met):
 * 1 and *ret, or 0 past the last. A caller that says which mounts are
 * polled asks after vigil_add() and after events, from where it stopped.
 * The strings stay valid until vigil_free(). */
VIGIL_API int vigil_mount(vigil *v, size_t i, struct vigil_mount *ret);

/* Whether a filesystem of type FSTYPE, as /proc/self/mountinfo names it
 * ("nfs4", "fuse.sshfs", "cifs", "ext4"), is one where inotify is blind to
 * other machines' changes, as the handle decides (VIGIL_BACKEND_*): 1 or 0.
 * (The handle also goes by the magic number fstatfs() gives.) */
VIGIL_API int vigil_fstype_blind(const char *fstype);

/* How many watches (directories and files) the handle holds. */
VIGIL_API size_t vigil_watch_count(const vigil *v);

/* How many events wait in the handle: vigil_next() returns them without
 * reading anything. After vigil_add(), these are the error events of what
 * its walk could not watch (and, when it returned -ENOSPC, what the limit
 * left out); no other event is queued by vigil_add(). */
VIGIL_API size_t vigil_queued(const vigil *v);

/* How many bytes of records wait to be made into events: queued in the
 * kernel (inotify's FIONREAD, which vigil_fd() cannot answer: it is an
 * epoll descriptor), found by polling, or read and not yet taken, as
 * inotify's records (16 bytes and the padded name each; with
 * VIGIL_BACKEND_FANOTIFY, the records its events are read into, 24 bytes
 * and the padded name each, the kernel's queue read first). What a binding
 * that speaks in inotify's terms (pyinotify's read threshold) asks. 0 and
 * *RET_BYTES, or a negative errno. */
VIGIL_API int vigil_pending(vigil *v, size_t *ret_bytes);

/* Call FN(CTX, wd, path) for every watch the handle holds, in no particular
 * order, with the path the handle believes the watch is at: a view for
 * debugging and for checking the engine against the disk. Stops at the first
 * non-zero return of FN and returns it; 0 when all were visited, -ENOMEM. */
typedef int (*vigil_watch_fn)(void *ctx, int wd, const char *path);
VIGIL_API int vigil_foreach_watch(vigil *v, vigil_watch_fn fn, void *ctx);

/* The watch descriptor of what the handle watches at PATH (LEN bytes), by
 * the tree as it is now: PATH as an event's dir gives it (with or without
 * its trailing '/') or as vigil_foreach_watch() names it. Returns the wd, or
 * -ENOENT when nothing is watched there. For bindings that speak in watch
 * descriptors, as pyinotify's programs do. The tree may have moved on since
 * an event was delivered (its directory renamed or gone, read in the same
 * batch): the answer is then what is watched at that path now. Costs a
 * look-up per path component, after a comparison with each root. */
VIGIL_API int vigil_watch_wd(vigil *v, const char *path, size_t len);

/* The kernel's limits that vigil_new() (-EMFILE) and vigil_add() (-ENOSPC)
 * can reach, for vigil_limit_text(). */
enum vigil_limit {
	VIGIL_LIMIT_INOTIFY_WATCHES,   /* fs.inotify.max_user_watches */
	VIGIL_LIMIT_INOTIFY_INSTANCES, /* fs.inotify.max_user_instances */
	VIGIL_LIMIT_FANOTIFY_MARKS,    /* fs.fanotify.max_user_marks */
	VIGIL_LIMIT_FANOTIFY_GROUPS,   /* fs.fanotify.max_user_groups */
};

/* What to tell a user who reached LIMIT, NUL-terminated into BUF of SIZE
 * bytes (cut short to fit), as `vigil wait` and the Python package say it:
 * "inotify watch limit reached (fs.inotify.max_user_watches = 8192); raise
 * it with 'sysctl -w fs.inotify.max_user_watches=16384', or for good in
 * /etc/sysctl.d/". The sysctl named is the one in force, read from
 * /proc/sys at the call: the smaller of the system-wide one and that of
 * the user namespace ("user.max_inotify_watches"; they differ in
 * containers). The value to raise it to is twice the present one, or NEED
 * more than it where that is more (NEED: how many more are known to be
 * needed, 0 when not known). Where neither sysctl can be read: "inotify
 * watch limit reached (fs.inotify.max_user_watches); raise it with 'sysctl
 * -w fs.inotify.max_user_watches=N'". Returns the length the full text
 * needs, like snprintf, or -EINVAL for an unknown LIMIT. An -EMFILE from
 * vigil_new() may also be the process's own descriptor limit (ulimit -n),
 * which this does not tell apart. */
VIGIL_API int vigil_limit_text(enum vigil_limit limit, size_t need, char *buf,
			       size_t size);

/* Event names, as inotifywait spells them: "access", "close_write", "move",
 * ... (case-insensitive). vigil_mask_parse() takes a comma-separated list
 * and ORs the masks (empty entries are skipped, as inotifywait does);
 * -EINVAL for an unknown name, with
 * *ret_bad_offset (if not NULL) set to where that name starts. */
VIGIL_API uint32_t vigil_mask_from_name(const char *name, size_t len);
VIGIL_API int vigil_mask_parse(const char *list, uint32_t *ret_mask,
			       size_t *ret_bad_offset);

/* Write the names of MASK's bits as inotifywait prints them ("CLOSE_WRITE",
 * SEP, "CLOSE", SEP, "ISDIR"), NUL-terminated, into BUF of SIZE bytes.
 * A paired move (both IN_MOVED_FROM and IN_MOVED_TO) is written as "MOVE".
 * Returns the length the full text needs, like snprintf. */
VIGIL_API size_t vigil_mask_format(uint32_t mask, char sep, char *buf,
				   size_t size);

#ifdef __cplusplus
}
#endif

#endif
