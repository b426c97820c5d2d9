/* The fanotify source (source.h).
 *
 * One fanotify group reporting file handles and names
 * (FAN_REPORT_DFID_NAME_TARGET): each event names the directory by its
 * handle, the entry by name, and, for a directory created, deleted or
 * renamed, the directory itself by its handle. Handles become ids
 * (fan_handles.h), so that the engine sees what inotify would give: a
 * record (id, IN_* mask, cookie, name), plus the pid of the process that
 * made the change.
 *
 * Marks:
 *  - inode marks (mark 0): one per directory the engine watches, through
 *    add_*, as inotify's watches; unprivileged since Linux 5.13. The
 *    kernel drops a mark only with its inode, and removing one needs a
 *    path; where a handle can be opened again (CAP_DAC_READ_SEARCH) a
 *    watch removed is unmarked, elsewhere its mark stays until the
 *    directory goes, and what it reports is dropped here.
 *  - a filesystem mark (FAN_MARK_FILESYSTEM): add_fd() of a directory
 *    marks its filesystem once. Every directory met in an event gets an
 *    id (FAN_MET) and its records go out; the engine places it with
 *    resolve() or says it is outside(), and an outside directory's
 *    records are dropped here, before anything else is done with them.
 *  - a mount mark (FAN_MARK_MOUNT) for the events the kernel gives on a
 *    mount (open, access, modify, close), beside a filesystem mark for
 *    the rest.
 *
 * Where a directory was: resolve() answers as of a position in the
 * stream, not as of now, since the events read and not yet processed may
 * have moved it on. Every rename and delete of a directory that goes out
 * is logged with the parent and name it had before, and every create as
 * one; a directory's place at position P is that of the first logged
 * event on it after P (nowhere, if that is its create), or,
 * when there is none, where it is now (open_by_handle_at(), then ".."
 * and the name /proc/self/fd gives, checked). The log is drained of what
 * the kernel holds first, and trimmed as the engine's position moves on.
 *
 * A fanotify event may carry several IN_* bits (the kernel merges events
 * on one file by one process while they wait); each becomes a record of
 * its own, in the order they can happen.
 *
 * The source's fd is an epoll set of the fanotify fd and an eventfd that
 * is kept readable while translated records wait here (pending() reads
 * the kernel dry to count what is queued).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "buf.h"
#include "fan_handles.h"
#include "source.h"

/* The record layout handed to the engine. */
struct fan_rec {
	int32_t wd;
	uint32_t mask;
	uint32_t cookie;
	int32_t pid;
	int32_t child;
	uint32_t len; /* bytes of name that follow, NUL and padding included */
};

#define KBUF_SIZE (128 * 1024)
/* The longest event: its metadata and three file handles with names
 * (a rename's old and new directory and the file), each at most
 * MAX_HANDLE_SZ bytes and a NAME_MAX name, with room to spare. */
#define EV_MAX 2048
_Static_assert(EV_MAX >= FAN_EVENT_METADATA_LEN +
			 3 * (sizeof(struct fanotify_event_info_fid) +
			      sizeof(struct file_handle) + MAX_HANDLE_SZ + NAME_MAX + 1 + 4),
	       "EV_MAX holds the longest event");
#define COMMS 8

struct fan_fs {
	uint64_t fsid;
	int fd;            /* a directory there, open for open_by_handle_at() */
	uint64_t fs_mask;  /* the filesystem mark's */
	int mnt_id;        /* the mount marked (FAN_MARK_MOUNT), or -1 */
	uint64_t mnt_mask;
};

/* A rename or delete of a directory, with where it was before; or its
 * create (born: it was nowhere before). */
struct fan_log {
	uint64_t pos;
	uint64_t fsid, pfsid;
	int type, ptype;
	uint32_t len, plen, name_len;
	bool born;
	size_t off; /* child key, parent key, name, in log_bytes */
};

/* An entry renamed while the queue was not empty (merge_note()). */
#define SEEN_DIRS 6
struct fan_seen {
	uint64_t hash;  /* its handle's; 0: a free slot */
	uint64_t left;  /* the places it was renamed from, as
			   two bits each of 64 (a false match costs a listing) */
	int dir[SEEN_DIRS]; /* the directories of its changes (ids) */
	uint8_t n_dir;
	bool many;      /* in more directories than dir[] holds */
	bool back;      /* it came back to a place it had left */
};

/* A process's command name (comm_note()). */
struct fan_comm {
	int pid;
	int fd;      /* its /proc/PID/comm, or -1 */
	bool ok;
	uint32_t batch;
	char comm[16];
};

struct fan {
	int fan_fd, event_fd;
	unsigned mark;         /* 0, FAN_MARK_FILESYSTEM or FAN_MARK_MOUNT */
	pid_t self;
	struct fan_handles h;
	struct fan_fs *fs;
	size_t n_fs, cap_fs;
	struct buf out;        /* translated records not handed out yet */
	/* A DELETE_SELF the kernel merged into an earlier event of the same
	 * process on the same object (an rm -r: opened, read, closed, then
	 * deleted once what it held is) stands where that event was queued,
	 * ahead of what happened in between. It goes here, and out after
	 * everything queued when it was read. */
	struct buf late;
	size_t out_off;
	bool event_set;
	uint64_t handed;       /* bytes handed out, ever: the engine's position */
	uint64_t batch_start;  /* where the last batch handed out began */
	uint32_t cookie;
	char *kbuf;
	/* the event being translated, copied out of kbuf: the kernel aligns
	 * events to 4 bytes only (its info records are padded so), and the
	 * metadata's 64-bit mask wants 8 */
	union {
		struct fanotify_event_metadata m;
		unsigned char bytes[EV_MAX];
	} ev;
	struct fan_log *log;
	size_t log_head, log_len, log_cap;
	struct buf log_bytes;
	struct fan_comm comms[COMMS];
	uint32_t batch;
	size_t comm_next;
	size_t files;          /* entries of files asked for themselves */
	uint64_t moved_in;     /* where the last directory that came in from
				  outside stands in the stream (outside()) */
	/* Entries renamed since the kernel's queue was last found empty
	 * (merge_note()), by the handle of the file or directory they name,
	 * and the directories to list again when it next is. */
	struct fan_seen *seen;
	uint32_t seen_cap, seen_len, seen_back;
	int *recheck;
	size_t n_recheck, cap_recheck;
	uint64_t merged_until; /* entries marked merged are not said outside
				  as of a position before this (fan_outside()) */
	bool recheck_lost;     /* out of memory for that: an overflow instead */
	bool late_drain;       /* read_kernel() drains for what went late */
};

static struct fan *fan_of(const struct source *s)
{
	return s->impl;
}

/* --- the eventfd ------------------------------------------------------------ */

static void signal_queued(struct fan *f)
{
	bool want = f->out_off < f->out.len;
	if (want == f->event_set)
		return;
	uint64_t one = 1;
	if (want ? write(f->event_fd, &one, sizeof(one)) == sizeof(one)
		 : read(f->event_fd, &one, sizeof(one)) == sizeof(one))
		f->event_set = want;
}

/* --- command names ------------------------------------------------------------ */

/* Read PID's command name, once per batch. Each of the last COMMS pids
 * keeps its /proc/PID/comm open: the next batch reads it again with one
 * pread() (a process may rename itself, or exec), where an open, a read
 * and a close cost three syscalls and a lookup in /proc. An open file of
 * /proc/PID is bound to that process, not to the number: once it has
 * gone the read fails (ESRCH), even when the pid is someone's again, and
 * the name is then opened afresh. */
static void comm_note(struct fan *f, int pid)
{
	if (pid <= 0)
		return;
	struct fan_comm *c = NULL;
	for (size_t i = 0; i < COMMS && !c; i++)
		if (f->comms[i].pid == pid)
			c = &f->comms[i];
	if (c && c->batch == f->batch)
		return;
	if (!c) {
		c = &f->comms[f->comm_next++ % COMMS];
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		c->pid = pid;
	}
	c->batch = f->batch;
	c->ok = false;
	for (int fresh = c->fd < 0; fresh < 2; fresh++) {
		if (fresh) {
			char p[40];
			if (c->fd >= 0)
				close(c->fd);
			snprintf(p, sizeof(p), "/proc/%d/comm", pid);
			if ((c->fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
				return; /* gone already */
		}
		ssize_t n = pread(c->fd, c->comm, sizeof(c->comm) - 1, 0);
		if (n > 0) {
			if (c->comm[n - 1] == '\n')
				n--;
			c->comm[n] = '\0';
			c->ok = true;
			return;
		}
	}
}

static const char *fan_comm(struct source *s, int pid)
{
	struct fan *f = fan_of(s);
	for (size_t i = 0; i < COMMS; i++)
		if (f->comms[i].pid == pid && pid > 0)
			return f->comms[i].ok ? f->comms[i].comm : NULL;
	return NULL;
}

/* --- records ------------------------------------------------------------------ */

static uint64_t out_pos(const struct fan *f)
{
	return f->handed + (f->out.len - f->out_off);
}

static int put_to(struct buf *b, int wd, uint32_t mask, uint32_t cookie, int pid, int child,
		  const char *name, size_t name_len)
{
	size_t padded = name_len ? (name_len + 1 + 7) & ~(size_t)7 : 0;
	struct fan_rec r = {.wd = wd, .mask = mask, .cookie = cookie, .pid = pid,
			    .child = child, .len = (uint32_t)padded};
	int e = buf_reserve(b, sizeof(r) + padded);
	if (e < 0)
		return e;
	/* the record, its name, and NULs to the padded length */
	char *p = b->data + b->len;
	memcpy(p, &r, sizeof(r));
	if (padded) {
		memcpy(p + sizeof(r), name, name_len);
		memset(p + sizeof(r) + name_len, 0, padded - name_len);
	}
	b->len += sizeof(r) + padded;
	return 0;
}

static int put(struct fan *f, int wd, uint32_t mask, uint32_t cookie, int pid, int child,
	       const char *name, size_t name_len)
{
	return put_to(&f->out, wd, mask, cookie, pid, child, name, name_len);
}

/* A record that may have been merged ahead of its place (struct fan's
 * late): BITS is the whole event's. */
static int put_self(struct fan *f, uint32_t bits, int wd, uint32_t mask, int pid)
{
	bool merged = bits & ~(uint32_t)(IN_DELETE_SELF | IN_MOVE_SELF);
	return put_to(merged ? &f->late : &f->out, wd, mask, 0, pid, 0, "", 0);
}

int source_fanotify_parse(const void *buf, size_t size, struct source_record *ret)
{
	struct fan_rec r;
	if (size == 0)
		return 0;
	if (size < sizeof(r))
		return -EBADMSG;
	memcpy(&r, buf, sizeof(r));
	if (r.len > size - sizeof(r))
		return -EBADMSG;
	const char *name = (const char *)buf + sizeof(r);
	size_t name_len = r.len ? strnlen(name, r.len) : 0;
	if (r.len && name_len == r.len)
		return -EBADMSG;
	*ret = (struct source_record){
		.wd = r.wd, .mask = r.mask, .cookie = r.cookie, .pid = r.pid,
		.child = r.child, .name = r.len ? name : "", .name_len = name_len,
		.size = sizeof(r) + r.len,
	};
	return 1;
}

/* --- handles -------------------------------------------------------------------- */

struct key {
	uint64_t fsid;
	int type;
	size_t len;
	const unsigned char *bytes;
};

static uint64_t fsid_of(const __kernel_fsid_t *k)
{
	uint64_t a, b;
	memcpy(&a, &k->val[0], 4);
	memcpy(&b, &k->val[1], 4);
	return (a & 0xffffffffu) | (b << 32);
}

static uint64_t fsid_statfs(const struct statfs *st)
{
	return fsid_of((const __kernel_fsid_t *)&st->f_fsid);
}

/* The key of the object open at FD (AT_EMPTY_PATH): 0, or a negative errno. */
static int key_of_fd(int fd, struct file_handle *fh, struct key *ret, int *ret_mnt)
{
	struct statfs st;
	int mnt;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", fh, &mnt, AT_EMPTY_PATH) < 0)
		return errno == EOVERFLOW ? -EOPNOTSUPP : -errno;
	if (fstatfs(fd, &st) < 0)
		return -errno;
	*ret = (struct key){.fsid = fsid_statfs(&st), .type = fh->handle_type,
			    .len = fh->handle_bytes, .bytes = fh->f_handle};
	if (ret_mnt)
		*ret_mnt = mnt;
	return 0;
}

static uint32_t find(const struct fan *f, const struct key *k)
{
	return fan_handles_find(&f->h, k->fsid, k->type, k->bytes, k->len);
}

/* The id records on directory K go under: -1 when dropped (outside, or
 * not ours). With inode marks only what was asked for has one; with a
 * filesystem mark, what is met for the first time gets one. */
static int wd_of(struct fan *f, const struct key *k, bool add)
{
	uint32_t i = find(f, k);
	if (i != FAN_NONE)
		return f->h.v[i].state == FAN_OUTSIDE ? -1 : f->h.v[i].id;
	if (!f->mark || !add)
		return -1;
	i = fan_handles_add(&f->h, k->fsid, k->type, k->bytes, k->len, FAN_MET);
	return i == FAN_NONE ? -1 : f->h.v[i].id;
}

static struct fan_fs *fs_of(struct fan *f, uint64_t fsid)
{
	for (size_t i = 0; i < f->n_fs; i++)
		if (f->fs[i].fsid == fsid)
			return &f->fs[i];
	return NULL;
}

/* --- the log of directories' creates, renames and deletes ------------------------ */

/* Log CHILD's rename or delete, with the PARENT and NAME it had before; or,
 * PARENT NULL, its create. */
static void log_add(struct fan *f, const struct key *child, const struct key *parent,
		    const char *name, size_t name_len)
{
	if (f->log_head && f->log_head * 2 >= f->log_len) {
		/* squeeze out what was trimmed */
		size_t base = f->log[f->log_head].off;
		if (f->log_head < f->log_len) {
			memmove(f->log_bytes.data, f->log_bytes.data + base, f->log_bytes.len - base);
			f->log_bytes.len -= base;
		} else {
			f->log_bytes.len = 0;
		}
		f->log_len -= f->log_head;
		memmove(f->log, f->log + f->log_head, f->log_len * sizeof(*f->log));
		for (size_t i = 0; i < f->log_len; i++)
			f->log[i].off -= base;
		f->log_head = 0;
	}
	if (array_grow((void **)&f->log, &f->log_cap, f->log_len, sizeof(*f->log), 16) < 0)
		return; /* the place is then taken as it is now */
	size_t plen = parent ? parent->len : 0;
	name_len = parent ? name_len : 0;
	struct fan_log *l = &f->log[f->log_len];
	*l = (struct fan_log){
		.pos = out_pos(f), .fsid = child->fsid, .pfsid = parent ? parent->fsid : 0,
		.type = child->type, .ptype = parent ? parent->type : 0,
		.len = (uint32_t)child->len, .plen = (uint32_t)plen, .name_len = (uint32_t)name_len,
		.born = !parent, .off = f->log_bytes.len,
	};
	/* (one reserve for the three: a storm of mkdirs logs each) */
	struct buf *b = &f->log_bytes;
	if (buf_reserve(b, child->len + plen + name_len) < 0)
		return;
	memcpy(b->data + b->len, child->bytes, child->len);
	if (parent) {
		memcpy(b->data + b->len + child->len, parent->bytes, plen);
		memcpy(b->data + b->len + child->len + plen, name, name_len);
	}
	b->len += child->len + plen + name_len;
	f->log_len++;
}

static void log_trim(struct fan *f, uint64_t pos)
{
	while (f->log_head < f->log_len && f->log[f->log_head].pos < pos)
		f->log_head++;
	if (f->log_head == f->log_len) {
		f->log_head = f->log_len = 0;
		f->log_bytes.len = 0;
	}
}

/* --- changes the kernel may have merged ------------------------------------------ */

/* The kernel merges an event into an identical one still queued (the same
 * process, directories, names and file handle). A directory renamed
 * a -> b, back to a, and to b again by one process while the reader lags
 * reads as a -> b, b -> a: the last move is lost. An event repeats an
 * earlier one only if what it changes was back where that one took it
 * from; the first time anything comes back to a place it left, the change
 * that brings it is read (it repeats nothing: had it, the place it came
 * back from would have been left twice, and come back to before). So the
 * sign is a file or directory renamed into a place (directory and name)
 * it was renamed from, with no moment in between when the queue was found
 * empty (merge_note()): the directories of all its renames since are then
 * listed again (a record with IN_Q_OVERFLOW on each, source.h) once it
 * is, and the listing tells what the events did not. A file or directory
 * renamed on (a -> b -> c) while the reader lags is no sign; nor is a
 * create or a delete, as what is deleted does not come back, and what is
 * created is new (its handle never met). Not seen: a hard link made,
 * removed and made again under one name by one process, which the kernel
 * may merge into one event with both bits. */

/* The most slots the table of changed entries keeps across an empty
 * queue (48 bytes each): a larger one is freed then. */
#define SEEN_KEEP 512

static uint64_t key_hash(const struct key *k)
{
	/* eight bytes at a time (ext4's directory handles are 8 or 12) */
	uint64_t h = (k->fsid ^ ((uint64_t)(uint32_t)k->type << 32)) * UINT64_C(0x9e3779b97f4a7c15);
	size_t i = 0;
	for (; i + 8 <= k->len; i += 8) {
		uint64_t w;
		memcpy(&w, k->bytes + i, sizeof(w));
		h = (h ^ w) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 29;
	}
	for (; i < k->len; i++)
		h = (h ^ k->bytes[i]) * UINT64_C(1099511628211);
	h ^= h >> 32;
	return h ? h : 1;
}

/* A place: the directory with key DIR, and NAME in it. */
struct place {
	const struct key *dir;
	const char *name;
};

/* PLACE as two bits of 64 (struct fan_seen's left). */
static uint64_t place_bits(const struct place *p)
{
	uint64_t h = key_hash(p->dir);
	for (const unsigned char *c = (const unsigned char *)p->name; *c; c++)
		h = (h ^ *c) * UINT64_C(1099511628211);
	h ^= h >> 29;
	return (UINT64_C(1) << (h & 63)) | (UINT64_C(1) << ((h >> 6) & 63));
}

static void recheck_add(struct fan *f, int dir)
{
	uint32_t i = dir > 0 ? fan_handles_by_id(&f->h, dir) : FAN_NONE;
	if (i == FAN_NONE || f->h.v[i].recheck)
		return;
	if (array_grow((void **)&f->recheck, &f->cap_recheck, f->n_recheck,
		       sizeof(*f->recheck), 16) < 0) {
		f->recheck_lost = true;
		return;
	}
	f->h.v[i].recheck = true;
	f->recheck[f->n_recheck++] = dir;
}

static void seen_dir(struct fan_seen *x, int dir)
{
	if (dir <= 0)
		return;
	for (uint8_t j = 0; j < x->n_dir; j++)
		if (x->dir[j] == dir)
			return;
	if (x->n_dir < SEEN_DIRS)
		x->dir[x->n_dir++] = dir;
	else
		x->many = true;
}

/* The file or directory with handle K was renamed from FROM to TO (either
 * NULL when the event does not say), in directories A and B (ids, or 0 or
 * -1 when not watched). */
static void merge_note(struct fan *f, const struct key *k, const struct place *from,
		       const struct place *to, int a, int b)
{
	if (f->seen_len * 2 >= f->seen_cap) {
		uint32_t cap = f->seen_cap ? f->seen_cap * 2 : 64;
		struct fan_seen *t = calloc(cap, sizeof(*t));
		if (!t) {
			f->recheck_lost = true;
			return;
		}
		for (uint32_t j = 0; j < f->seen_cap; j++) {
			if (!f->seen[j].hash)
				continue;
			uint32_t x = (uint32_t)f->seen[j].hash & (cap - 1);
			while (t[x].hash)
				x = (x + 1) & (cap - 1);
			t[x] = f->seen[j];
		}
		free(f->seen);
		f->seen = t;
		f->seen_cap = cap;
	}
	uint64_t h = key_hash(k);
	uint32_t i = (uint32_t)h & (f->seen_cap - 1);
	while (f->seen[i].hash && f->seen[i].hash != h)
		i = (i + 1) & (f->seen_cap - 1);
	struct fan_seen *x = &f->seen[i];
	if (!x->hash) {
		x->hash = h;
		f->seen_len++;
	} else if (to && !x->back && (x->left & place_bits(to)) == place_bits(to)) {
		/* back where it was: any of its changes since may stand for
		 * two */
		x->back = true;
		f->seen_back++;
		uint32_t e = find(f, k);
		if (e != FAN_NONE) {
			f->h.v[e].merged = true;
			f->merged_until = UINT64_MAX; /* until the queue is empty */
		}
	}
	if (from)
		x->left |= place_bits(from);
	seen_dir(x, a);
	seen_dir(x, b);
}

/* The kernel's queue was found empty: what was merged, if anything, is
 * all read. The directories to list again go out, after every record. */
static int merge_settle(struct fan *f)
{
	if (f->merged_until == UINT64_MAX)
		f->merged_until = out_pos(f); /* the listings asked for come after */
	for (uint32_t j = 0; f->seen_back && j < f->seen_cap; j++) {
		struct fan_seen *x = &f->seen[j];
		if (!x->hash || !x->back)
			continue;
		f->seen_back--;
		if (x->many)
			f->recheck_lost = true;
		for (uint8_t d = 0; d < x->n_dir; d++)
			recheck_add(f, x->dir[d]);
	}
	f->seen_back = 0;
	if (f->seen_cap > SEEN_KEEP) {
		/* grown by a storm that kept the queue from emptying: given
		 * back, not cleared whole at every later batch */
		free(f->seen);
		f->seen = NULL;
		f->seen_cap = 0;
	} else if (f->seen_len) {
		/* (SEEN_KEEP slots at most: 24 KiB) */
		memset(f->seen, 0, (size_t)f->seen_cap * sizeof(*f->seen));
	}
	f->seen_len = 0;
	int e = 0;
	if (f->recheck_lost) {
		/* a change not noted may stand for two: as after an overflow */
		f->recheck_lost = false;
		fan_handles_drop(&f->h, FAN_OUTSIDE);
		e = put(f, -1, IN_Q_OVERFLOW, 0, 0, 0, "", 0);
	}
	for (size_t i = 0; i < f->n_recheck; i++) {
		uint32_t j = fan_handles_by_id(&f->h, f->recheck[i]);
		if (j == FAN_NONE)
			continue;
		f->h.v[j].recheck = false;
		if (e == 0 && f->h.v[j].state != FAN_OUTSIDE)
			e = put(f, f->recheck[i], IN_Q_OVERFLOW, 0, 0, 0, "", 0);
	}
	f->n_recheck = 0;
	return e;
}

/* --- translating events --------------------------------------------------------- */

struct info {
	const struct fanotify_event_info_fid *dfid, *old, *new, *fid;
	const char *name, *old_name, *new_name;
};

static void key_of_info(const struct fanotify_event_info_fid *i, struct key *k)
{
	const struct file_handle *fh = (const struct file_handle *)i->handle;
	*k = (struct key){.fsid = fsid_of(&i->fsid), .type = fh->handle_type,
			  .len = fh->handle_bytes, .bytes = fh->f_handle};
}

static const char *name_of_info(const struct fanotify_event_info_fid *i, const char *end)
{
	const struct file_handle *fh = (const struct file_handle *)i->handle;
	const char *n = (const char *)fh->f_handle + fh->handle_bytes;
	return n < end && memchr(n, '\0', (size_t)(end - n)) ? n : NULL;
}

/* Whether the info records of event M are sound: 0 and *ret, or -EBADMSG. */
static int parse_info(const struct fanotify_event_metadata *m, struct info *ret)
{
	*ret = (struct info){0};
	const char *p = (const char *)m + m->metadata_len, *end = (const char *)m + m->event_len;
	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *h = (const void *)p;
		if (h->len < sizeof(*h) || h->len > (size_t)(end - p))
			return -EBADMSG;
		const char *iend = p + h->len;
		const struct fanotify_event_info_fid *i = (const void *)p;
		bool fid = h->info_type == FAN_EVENT_INFO_TYPE_FID ||
			   h->info_type == FAN_EVENT_INFO_TYPE_DFID ||
			   h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
			   h->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
			   h->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME;
		if (fid && (size_t)h->len < sizeof(*i) + sizeof(struct file_handle))
			return -EBADMSG;
		if (fid && ((const struct file_handle *)i->handle)->handle_bytes >
			   (size_t)h->len - sizeof(*i) - sizeof(struct file_handle))
			return -EBADMSG;
		switch (h->info_type) {
		case FAN_EVENT_INFO_TYPE_FID:
			ret->fid = i;
			break;
		case FAN_EVENT_INFO_TYPE_DFID:
			ret->dfid = i;
			break;
		case FAN_EVENT_INFO_TYPE_DFID_NAME:
			ret->dfid = i;
			if (!(ret->name = name_of_info(i, iend)))
				return -EBADMSG;
			break;
		case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
			ret->old = i;
			if (!(ret->old_name = name_of_info(i, iend)))
				return -EBADMSG;
			break;
		case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
			ret->new = i;
			if (!(ret->new_name = name_of_info(i, iend)))
				return -EBADMSG;
			break;
		}
		p = iend;
	}
	return 0;
}

/* The bits of an event, in the order they can happen on one file. */
static const uint32_t order[] = {
	IN_CREATE, IN_OPEN, IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE,
	IN_CLOSE_NOWRITE, IN_DELETE, IN_MOVE_SELF, IN_DELETE_SELF,
};

static int translate_rename(struct fan *f, const struct fanotify_event_metadata *m,
			    const struct info *in, uint32_t isdir)
{
	struct key ko, kn, kc;
	int wo = -1, wn = -1, child = 0;
	if (in->old) {
		key_of_info(in->old, &ko);
		wo = wd_of(f, &ko, true);
	}
	if (in->new) {
		key_of_info(in->new, &kn);
		wn = wd_of(f, &kn, true);
	}
	if (isdir && in->fid) {
		key_of_info(in->fid, &kc);
		if (f->mark && in->old)
			log_add(f, &kc, &ko, in->old_name, strlen(in->old_name));
		uint32_t i = find(f, &kc);
		if (f->mark && wo <= 0 && wn > 0)
			f->moved_in = out_pos(f) + 1;
		if (f->mark && i != FAN_NONE && f->h.v[i].state == FAN_OUTSIDE && wn > 0) {
			/* from outside to where it may be watched: what was
			 * below it, outside too, may be watched now */
			fan_handles_drop(&f->h, FAN_OUTSIDE);
			i = FAN_NONE;
			wo = in->old ? wd_of(f, &ko, true) : -1;
		}
		if (i == FAN_NONE && f->mark)
			i = fan_handles_add(&f->h, kc.fsid, kc.type, kc.bytes, kc.len, FAN_MET);
		if (i != FAN_NONE && f->h.v[i].state != FAN_OUTSIDE)
			child = f->h.v[i].id;
	}
	if (wo <= 0 && wn <= 0)
		return 0;
	if (in->fid) {
		key_of_info(in->fid, &kc);
		struct place from = {&ko, in->old_name}, to = {&kn, in->new_name};
		merge_note(f, &kc, in->old ? &from : NULL, in->new ? &to : NULL, wo, wn);
	}
	if (!++f->cookie)
		f->cookie = 1;
	int e = 0;
	/* With a filesystem mark both halves go out, an outside one as -1, so
	 * that the engine knows at once that the other is not coming. */
	if (wo > 0 || f->mark)
		e = put(f, wo, IN_MOVED_FROM | isdir, f->cookie, m->pid, child,
			in->old_name ? in->old_name : "", in->old_name ? strlen(in->old_name) : 0);
	if (e == 0 && (wn > 0 || f->mark))
		e = put(f, wn, IN_MOVED_TO | isdir, f->cookie, m->pid, child,
			in->new_name ? in->new_name : "", in->new_name ? strlen(in->new_name) : 0);
	return e;
}

/* Records of a watched file's own (the file asked for itself). */
static int translate_file(struct fan *f, const struct fanotify_event_metadata *m,
			  const struct info *in, uint32_t bits)
{
	struct key k;
	key_of_info(in->fid, &k);
	uint32_t i = find(f, &k);
	if (i == FAN_NONE || !f->h.v[i].file || f->h.v[i].state != FAN_WATCHED)
		return 0;
	int id = f->h.v[i].id;
	int e = 0;
	for (size_t b = 0; b < sizeof(order) / sizeof(order[0]) && e == 0; b++)
		if (bits & order[b] & ~(uint32_t)(IN_CREATE | IN_DELETE))
			e = (order[b] & (IN_DELETE_SELF | IN_MOVE_SELF))
				? put_self(f, bits, id, order[b], m->pid)
				: put(f, id, order[b], 0, m->pid, 0, "", 0);
	if (e == 0 && (bits & IN_DELETE_SELF || f->h.v[i].oneshot))
		e = put_self(f, bits, id, IN_IGNORED, 0);
	return e;
}

static int translate(struct fan *f, const struct fanotify_event_metadata *m)
{
	if (m->fd >= 0)
		close(m->fd); /* not asked for; never expected with handles */
	if (m->mask & FAN_Q_OVERFLOW) {
		/* what was dropped as outside may have moved in meanwhile */
		fan_handles_drop(&f->h, FAN_OUTSIDE);
		return put(f, -1, IN_Q_OVERFLOW, 0, 0, 0, "", 0);
	}
	struct info in;
	if (parse_info(m, &in) < 0)
		return 0; /* malformed: nothing to go by */
	uint32_t isdir = (m->mask & FAN_ONDIR) ? IN_ISDIR : 0;
	uint32_t bits = (uint32_t)m->mask & (IN_ALL_EVENTS & ~(uint32_t)IN_MOVE);
	/* vigil's own listing of a directory (a crawl) is no news */
	if (m->pid == f->self && isdir && f->mark &&
	    !(bits & ~(uint32_t)(IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE)))
		return 0;
	comm_note(f, m->pid);
	if (m->mask & FAN_RENAME)
		return translate_rename(f, m, &in, isdir);
	int e = 0;
	if (in.fid && !isdir && f->files)
		e = translate_file(f, m, &in, bits);
	if (!in.dfid || e < 0)
		return e;
	struct key kd;
	key_of_info(in.dfid, &kd);
	bool self = !in.name || strcmp(in.name, ".") == 0;
	int wd = wd_of(f, &kd, true);
	if (wd <= 0)
		return 0;
	int child = 0;
	if (isdir && in.fid && (bits & (IN_CREATE | IN_DELETE))) {
		struct key kc;
		key_of_info(in.fid, &kc);
		/* (both, when the kernel merged a mkdir and its rmdir: made
		 * first, so nowhere before) */
		if (f->mark && (bits & IN_CREATE))
			log_add(f, &kc, NULL, NULL, 0);
		if (f->mark && (bits & IN_DELETE))
			log_add(f, &kc, &kd, in.name, strlen(in.name));
		uint32_t i = find(f, &kc);
		if (i == FAN_NONE && f->mark && (bits & IN_CREATE))
			i = fan_handles_add(&f->h, kc.fsid, kc.type, kc.bytes, kc.len, FAN_MET);
		if (i != FAN_NONE && f->h.v[i].state != FAN_OUTSIDE)
			child = f->h.v[i].id;
	}
	const char *name = self ? "" : in.name;
	size_t name_len = self ? 0 : strlen(in.name);
	if (self && (bits & IN_DELETE_SELF)) {
		uint32_t i = fan_handles_by_id(&f->h, wd);
		if (i != FAN_NONE)
			f->h.v[i].gone = true;
	}
	for (size_t b = 0; b < sizeof(order) / sizeof(order[0]) && e == 0; b++) {
		if (!(bits & order[b]))
			continue;
		if (self && (order[b] & (IN_DELETE_SELF | IN_MOVE_SELF)))
			e = put_self(f, bits, wd, order[b] | isdir, m->pid);
		else
			e = put(f, wd, order[b] | isdir, 0, m->pid,
				(order[b] & (IN_CREATE | IN_DELETE)) ? child : 0, name, name_len);
	}
	if (e == 0 && self && !f->mark) {
		/* the kernel drops an inode mark with its inode; a one-shot
		 * watch ends after its first event */
		uint32_t i = fan_handles_by_id(&f->h, wd);
		if (i != FAN_NONE && ((bits & IN_DELETE_SELF) || f->h.v[i].oneshot))
			e = put_self(f, bits, wd, IN_IGNORED, 0);
	}
	return e;
}

/* Read one batch from the kernel and translate it: 1 when something was
 * read, 0 when the queue was dry, or a negative errno. */
static int read_kernel(struct fan *f)
{
	ssize_t n;
	do
		n = read(f->fan_fd, f->kbuf, KBUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN)
		return -errno;
	if (n <= 0) {
		/* the queue is empty (what went late waits for this too) */
		int e = f->late_drain ? 0 : merge_settle(f);
		return e < 0 ? e : 0;
	}
	if (f->out_off == f->out.len)
		f->out.len = f->out_off = 0;
	f->batch++;
	size_t len = (size_t)n, off = 0;
	int e = 0;
	while (e == 0 && len - off >= FAN_EVENT_METADATA_LEN) {
		struct fanotify_event_metadata h;
		memcpy(&h, f->kbuf + off, sizeof(h));
		if (h.event_len < FAN_EVENT_METADATA_LEN || h.event_len > len - off)
			break; /* malformed: the rest cannot be told apart */
		if (h.vers == FANOTIFY_METADATA_VERSION && h.event_len <= sizeof(f->ev)) {
			memcpy(f->ev.bytes, f->kbuf + off, h.event_len);
			e = translate(f, &f->ev.m);
		} else if (h.vers == FANOTIFY_METADATA_VERSION && h.fd >= 0) {
			close(h.fd); /* too long to be ours (never seen) */
		}
		off += h.event_len;
	}
	if (e == 0 && f->late.len) {
		/* what was merged ahead goes after all that is queued */
		struct buf late = f->late;
		f->late = (struct buf){0};
		int r;
		f->late_drain = true;
		while ((r = read_kernel(f)) > 0)
			;
		f->late_drain = false;
		if (r < 0)
			e = r;
		if (e == 0)
			e = buf_append(&f->out, late.data, late.len);
		buf_free(&late);
		if (e == 0 && r == 0)
			e = merge_settle(f);
	}
	return e < 0 ? e : 1;
}

/* --- the ops -------------------------------------------------------------------- */

static uint64_t kernel_mask(uint32_t mask)
{
	uint64_t k = mask & (IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE |
			     IN_OPEN | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF);
	if (mask & IN_MOVE)
		k |= FAN_RENAME;
	return k;
}

#define MOUNT_EVENTS (FAN_OPEN | FAN_ACCESS | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE)

/* Mark what FD is on (FAN_MARK_FILESYSTEM or _MOUNT) for MASK, once per
 * filesystem, and keep a directory there to open handles from. */
static int mark_whole(struct fan *f, int fd, const struct key *k, int mnt, uint32_t mask,
		      bool is_dir)
{
	char proc[40];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	struct fan_fs *fs = fs_of(f, k->fsid);
	if (!fs) {
		if (array_grow((void **)&f->fs, &f->cap_fs, f->n_fs, sizeof(*f->fs), 2) < 0)
			return -ENOMEM;
		fs = &f->fs[f->n_fs++];
		*fs = (struct fan_fs){.fsid = k->fsid, .fd = -1, .mnt_id = -1};
	}
	if (fs->fd < 0 && is_dir)
		fs->fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* the tree follows directories by these, whatever was asked */
	uint64_t want = kernel_mask(mask) | FAN_CREATE | FAN_DELETE | FAN_RENAME |
			FAN_DELETE_SELF | FAN_ONDIR;
	uint64_t mnt_want = 0;
	if (f->mark == FAN_MARK_MOUNT) {
		mnt_want = want & MOUNT_EVENTS;
		want &= ~(uint64_t)MOUNT_EVENTS;
		if (fs->mnt_id >= 0 && fs->mnt_id != mnt)
			return -EXDEV; /* another mount of the same filesystem */
	}
	if ((want & ~fs->fs_mask) &&
	    fanotify_mark(f->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, want & ~fs->fs_mask,
			  AT_FDCWD, proc) < 0)
		return -errno;
	fs->fs_mask |= want;
	if ((mnt_want & ~fs->mnt_mask) &&
	    fanotify_mark(f->fan_fd, FAN_MARK_ADD | FAN_MARK_MOUNT, mnt_want & ~fs->mnt_mask,
			  AT_FDCWD, proc) < 0)
		return -errno;
	if (mnt_want) {
		fs->mnt_id = mnt;
		fs->mnt_mask |= mnt_want;
	}
	return 0;
}

/* Set entry I's inode mark on the object at FD to MASK (IN_MASK_ADD: add). */
static int mark_inode(struct fan *f, int fd, uint32_t i, uint32_t mask, bool is_dir)
{
	char proc[40];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	uint64_t want = kernel_mask(mask) | FAN_DELETE_SELF;
	if (is_dir)
		want |= FAN_ONDIR | FAN_EVENT_ON_CHILD;
	struct fan_entry *e = &f->h.v[i];
	if (mask & IN_MASK_ADD)
		want |= e->kmask;
	uint64_t drop = e->kmask & ~want;
	if (drop && fanotify_mark(f->fan_fd, FAN_MARK_REMOVE, drop, AT_FDCWD, proc) < 0 &&
	    errno != ENOENT)
		return -errno;
	if ((want & ~(uint64_t)e->kmask) &&
	    fanotify_mark(f->fan_fd, FAN_MARK_ADD, want, AT_FDCWD, proc) < 0)
		return -errno;
	e->kmask = (uint32_t)want;
	return 0;
}

static int fan_add_fd(struct source *s, int fd, uint32_t mask, int *ret_wd)
{
	struct fan *f = fan_of(s);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	bool is_dir = S_ISDIR(st.st_mode);
	if ((mask & IN_ONLYDIR) && !is_dir)
		return -ENOTDIR;
	char fhbuf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	struct file_handle *fh = (struct file_handle *)fhbuf;
	struct key k;
	int mnt;
	int e = key_of_fd(fd, fh, &k, &mnt);
	if (e < 0)
		return e;
	uint32_t i = find(f, &k);
	bool fresh = i == FAN_NONE;
	if (!fresh && (mask & IN_MASK_CREATE) && f->h.v[i].state == FAN_WATCHED)
		return -EEXIST;
	if (fresh && (i = fan_handles_add(&f->h, k.fsid, k.type, k.bytes, k.len, FAN_WATCHED)) ==
			     FAN_NONE)
		return -ENOMEM;
	if (f->mark) {
		e = mark_whole(f, fd, &k, mnt, mask, is_dir);
	} else {
		e = mark_inode(f, fd, i, mask, is_dir);
		if (e == 0 && !fs_of(f, k.fsid) && is_dir &&
		    array_grow((void **)&f->fs, &f->cap_fs, f->n_fs, sizeof(*f->fs), 2) == 0) {
			/* to unmark by handle later, where that is allowed */
			char proc[40];
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			f->fs[f->n_fs++] = (struct fan_fs){
				.fsid = k.fsid, .mnt_id = -1,
				.fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
		}
	}
	if (e < 0) {
		if (fresh)
			fan_handles_del(&f->h, i);
		return e == -EINVAL && f->mark ? -EOPNOTSUPP : e;
	}
	struct fan_entry *x = &f->h.v[i];
	x->state = FAN_WATCHED;
	if (!is_dir && !x->file)
		f->files++;
	x->file = !is_dir;
	x->oneshot = (mask & IN_ONESHOT) != 0;
	*ret_wd = x->id;
	return 0;
}

static int add_named(struct source *s, int dirfd, const char *name, uint32_t mask, int *ret_wd)
{
	int fd = openat(dirfd, name, O_PATH | O_CLOEXEC |
			((mask & IN_DONT_FOLLOW) ? O_NOFOLLOW : 0));
	if (fd < 0)
		return -errno;
	int e = fan_add_fd(s, fd, mask, ret_wd);
	close(fd);
	return e;
}

static int fan_add_at(struct source *s, int dirfd, const char *name, uint32_t mask,
		      int *ret_wd)
{
	return add_named(s, dirfd, name, mask, ret_wd);
}

static int fan_add_path(struct source *s, const char *path, uint32_t mask, int *ret_wd)
{
	return add_named(s, AT_FDCWD, path, mask, ret_wd);
}

/* Open entry I's object by its handle (O_PATH): an fd or a negative errno. */
static int open_entry(struct fan *f, uint32_t i)
{
	const struct fan_entry *x = &f->h.v[i];
	struct fan_fs *fs = fs_of(f, x->fsid);
	if (!fs || fs->fd < 0)
		return -ENOENT;
	char fhbuf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	struct file_handle *fh = (struct file_handle *)fhbuf;
	fh->handle_bytes = x->len;
	fh->handle_type = x->type;
	memcpy(fh->f_handle, fan_key(x), x->len);
	int fd = open_by_handle_at(fs->fd, fh, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int fan_remove(struct source *s, int wd)
{
	struct fan *f = fan_of(s);
	uint32_t i = fan_handles_by_id(&f->h, wd);
	if (i == FAN_NONE)
		return 0;
	if (!f->mark && f->h.v[i].kmask) {
		int fd = open_entry(f, i);
		if (fd >= 0) {
			char proc[40];
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			fanotify_mark(f->fan_fd, FAN_MARK_REMOVE, f->h.v[i].kmask, AT_FDCWD, proc);
			close(fd);
		}
		/* else its mark stays until the directory goes: its records
		 * are dropped, as its id is no more */
	}
	if (f->mark && !f->h.v[i].gone) {
		/* Not watched any more, but records on it may still be queued
		 * (this is also how the engine lets go of a directory a listing
		 * found in the place of another): it keeps its id, and is
		 * placed again if an event names it. */
		f->h.v[i].state = FAN_MET;
		return 0;
	}
	if (f->h.v[i].file)
		f->files--;
	fan_handles_del(&f->h, i);
	return 0;
}

/* Whether the log has a rename or delete of entry I's directory translated
 * after position POS. */
static bool logged_after(const struct fan *f, uint32_t i, uint64_t pos)
{
	const struct fan_entry *x = &f->h.v[i];
	for (size_t j = f->log_head; j < f->log_len; j++) {
		const struct fan_log *l = &f->log[j];
		if (l->pos > pos && !l->born && l->fsid == x->fsid && l->type == x->type &&
		    l->len == x->len && memcmp(f->log_bytes.data + l->off, fan_key(x), x->len) == 0)
			return true;
	}
	return false;
}

static void fan_outside(struct source *s, int wd, uint64_t pos)
{
	struct fan *f = fan_of(s);
	uint32_t i = fan_handles_by_id(&f->h, wd);
	/* what is translated already is past POS: a directory that came in
	 * from outside since may have brought this one; and this one may
	 * have been renamed since, back in (from a directory met for the
	 * first time there, which moved_in does not count, as it was not
	 * known to be outside): its records, translated from now on, are to
	 * go out, for the engine to place it where that rename put it */
	if (i == FAN_NONE || !f->mark || f->moved_in > pos || logged_after(f, i, pos))
		return;
	/* nor one whose rename back in may have been merged by the kernel
	 * into an earlier one (moved out, in, out and in again while the
	 * reader lagged: the stream says it went out), before the listings
	 * that merge asks for have placed it again; dropped as outside, its
	 * records until then would be lost, and a directory renamed into it
	 * found by those listings left to a rename that never comes */
	if (f->h.v[i].merged && pos < f->merged_until)
		return;
	f->h.v[i].merged = false;
	f->h.v[i].state = FAN_OUTSIDE;
}

static void fan_recheck(struct source *s, int wd)
{
	struct fan *f = fan_of(s);
	if (put(f, wd, IN_Q_OVERFLOW, 0, 0, 0, "", 0) < 0)
		f->recheck_lost = true;
	signal_queued(f);
}

static ssize_t fan_read(struct source *s, void *buf, size_t size)
{
	struct fan *f = fan_of(s);
	/* a batch of the kernel's translates to fewer bytes: take another
	 * while there is room, so that a read here carries as much */
	while (f->out.len - f->out_off < size / 2) {
		int r = read_kernel(f);
		if (r < 0 && f->out_off == f->out.len)
			return r;
		if (r <= 0)
			break;
	}
	/* whole records, as many as fit (put_to() made them: sound) */
	size_t n = 0, avail = f->out.len - f->out_off;
	while (avail - n >= sizeof(struct fan_rec)) {
		uint32_t len;
		memcpy(&len, f->out.data + f->out_off + n + offsetof(struct fan_rec, len),
		       sizeof(len));
		if (len > avail - n - sizeof(struct fan_rec) || n + sizeof(struct fan_rec) + len > size)
			break;
		n += sizeof(struct fan_rec) + len;
	}
	if (n) { /* (out.data is NULL before the first record) */
		memcpy(buf, f->out.data + f->out_off, n);
		/* the engine asks where a directory was as of a record of
		 * the last batch at the earliest (a listing it retries, after
		 * the batch): the log before it goes, or a storm of mkdirs
		 * or deletes with nothing to place would grow it for ever */
		log_trim(f, f->batch_start);
		f->batch_start = f->handed;
	}
	f->out_off += n;
	f->handed += n;
	if (f->out_off == f->out.len)
		f->out.len = f->out_off = 0;
	signal_queued(f);
	return n ? (ssize_t)n : -EAGAIN;
}

/* Read the kernel dry into the records waiting here. */
static int drain(struct fan *f)
{
	int r;
	while ((r = read_kernel(f)) > 0)
		;
	signal_queued(f);
	return r;
}

static int fan_pending(struct source *s, size_t *ret_bytes)
{
	struct fan *f = fan_of(s);
	int r = drain(f);
	*ret_bytes = f->out.len - f->out_off;
	return r < 0 && r != -ENOMEM ? 0 : r;
}

/* The parent and name at position POS of entry I's directory, from the
 * log: 1 and *ret, or 0 when the log says nothing of it. */
static int place_logged(struct fan *f, uint32_t i, const struct fan_log **ret)
{
	const struct fan_entry *x = &f->h.v[i];
	for (size_t j = f->log_head; j < f->log_len; j++) {
		const struct fan_log *l = &f->log[j];
		if (l->fsid == x->fsid && l->type == x->type && l->len == x->len &&
		    memcmp(f->log_bytes.data + l->off, fan_key(x), x->len) == 0) {
			*ret = l;
			return 1;
		}
	}
	return 0;
}

/* The id of the directory with key K, which the engine is to place: -EXDEV
 * when it is outside. */
static int parent_id(struct fan *f, const struct key *k)
{
	uint32_t p = find(f, k);
	if (p == FAN_NONE)
		p = fan_handles_add(&f->h, k->fsid, k->type, k->bytes, k->len, FAN_MET);
	if (p == FAN_NONE)
		return -ENOMEM;
	return f->h.v[p].state == FAN_OUTSIDE ? -EXDEV : f->h.v[p].id;
}

/* Where entry I's directory is now: its parent's id and its name. */
static int place_now(struct fan *f, uint32_t i, int *ret_parent, struct buf *name)
{
	int fd = open_entry(f, i);
	if (fd < 0)
		return fd == -ENOENT || fd == -ESTALE ? -ESTALE : fd;
	int e = -ESTALE;
	for (int attempt = 0; attempt < 3 && e == -ESTALE; attempt++) {
		char proc[40], path[PATH_MAX];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(proc, path, sizeof(path) - 1);
		int pfd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct stat a, b, c;
		if (n <= 0 || pfd < 0 || fstat(fd, &a) < 0 || fstat(pfd, &b) < 0) {
			e = errno == ENOMEM ? -ENOMEM : -ESTALE;
			if (pfd >= 0)
				close(pfd);
			break;
		}
		path[n] = '\0';
		if (a.st_dev != b.st_dev || a.st_ino == b.st_ino) {
			e = -EXDEV; /* the top of its filesystem: outside */
			close(pfd);
			break;
		}
		const char *base = strrchr(path, '/');
		base = base ? base + 1 : path;
		if (a.st_nlink == 0 || !*base) {
			close(pfd);
			break; /* deleted: its events are on their way */
		}
		/* the name the path gives, if it is still this directory's */
		if (fstatat(pfd, base, &c, AT_SYMLINK_NOFOLLOW) == 0 && c.st_ino == a.st_ino &&
		    c.st_dev == a.st_dev) {
			char fhbuf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
			struct key k;
			e = key_of_fd(pfd, (struct file_handle *)fhbuf, &k, NULL);
			if (e == 0 && (e = parent_id(f, &k)) > 0) {
				*ret_parent = e;
				buf_clear(name);
				e = buf_append(name, base, strlen(base));
			}
		}
		close(pfd);
	}
	close(fd);
	return e;
}

static int fan_resolve(struct source *s, int wd, uint64_t pos, int *ret_parent, struct buf *name)
{
	struct fan *f = fan_of(s);
	uint32_t i = fan_handles_by_id(&f->h, wd);
	if (i == FAN_NONE)
		return -ENOENT;
	if (f->h.v[i].state == FAN_OUTSIDE)
		return -EXDEV;
	log_trim(f, pos);
	drain(f); /* every rename the kernel holds is in the log */
	for (int attempt = 0; attempt < 3; attempt++) {
		const struct fan_log *l;
		if (place_logged(f, i, &l)) {
			if (l->born)
				return -EAGAIN; /* made after POS */
			struct key k = {.fsid = l->pfsid, .type = l->ptype, .len = l->plen,
					.bytes = (const unsigned char *)f->log_bytes.data + l->off +
						 l->len};
			const char *nm = f->log_bytes.data + l->off + l->len + l->plen;
			size_t nl = l->name_len;
			int p = parent_id(f, &k);
			if (p < 0)
				return p;
			*ret_parent = p;
			buf_clear(name);
			return buf_append(name, nm, nl);
		}
		int e = place_now(f, i, ret_parent, name);
		/* renamed or deleted while it was looked at: that event is in
		 * the queue now, and says where it was before */
		drain(f);
		if (place_logged(f, i, &l))
			continue;
		if (e != -ESTALE)
			return e < 0 ? e : 0;
	}
	return -ESTALE;
}

static bool fan_moves_later(struct source *s, int wd, uint64_t pos)
{
	struct fan *f = fan_of(s);
	uint32_t i = fan_handles_by_id(&f->h, wd);
	if (i == FAN_NONE || f->h.v[i].state == FAN_OUTSIDE)
		return false;
	log_trim(f, pos);
	drain(f);
	const struct fan_log *l;
	return place_logged(f, i, &l);
}

static void fan_close(struct source *s)
{
	struct fan *f = fan_of(s);
	if (f) {
		if (f->fan_fd >= 0)
			close(f->fan_fd);
		if (f->event_fd >= 0)
			close(f->event_fd);
		for (size_t i = 0; i < f->n_fs; i++)
			if (f->fs[i].fd >= 0)
				close(f->fs[i].fd);
		for (size_t i = 0; i < COMMS; i++)
			if (f->comms[i].fd >= 0)
				close(f->comms[i].fd);
		free(f->fs);
		fan_handles_fini(&f->h);
		buf_free(&f->out);
		buf_free(&f->late);
		buf_free(&f->log_bytes);
		free(f->log);
		free(f->seen);
		free(f->recheck);
		free(f->kbuf);
		free(f);
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->impl = NULL;
}

static const struct source_ops fan_ops = {
	.name = "fanotify",
	.add_fd = fan_add_fd,
	.add_at = fan_add_at,
	.add_path = fan_add_path,
	.remove = fan_remove,
	.read = fan_read,
	.pending = fan_pending,
	.parse = source_fanotify_parse,
	.close = fan_close,
	.resolve = fan_resolve,
	.moves_later = fan_moves_later,
	.outside = fan_outside,
	.recheck = fan_recheck,
	.comm = fan_comm,
};

int source_fanotify_open(unsigned mark, struct source *ret)
{
	struct fan *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fan_fd = f->event_fd = -1;
	for (size_t i = 0; i < COMMS; i++)
		f->comms[i].fd = -1;
	f->mark = mark;
	f->self = getpid();
	fan_handles_init(&f->h);
	struct source s = {.ops = &fan_ops, .fd = -1, .impl = f};
	int e;
	f->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
				  FAN_REPORT_DFID_NAME_TARGET,
				  O_RDONLY | O_CLOEXEC | O_LARGEFILE);
	if (f->fan_fd < 0) {
		/* EINVAL: a kernel before 5.17 (no FAN_REPORT_TARGET_FID) */
		e = errno == EINVAL ? -ENOSYS : -errno;
		goto fail;
	}
	if (!(f->kbuf = malloc(KBUF_SIZE))) {
		e = -ENOMEM;
		goto fail;
	}
	s.fd = epoll_create1(EPOLL_CLOEXEC);
	f->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s.fd < 0 || f->event_fd < 0) {
		e = -errno;
		goto fail;
	}
	struct epoll_event ev = {.events = EPOLLIN};
	if (epoll_ctl(s.fd, EPOLL_CTL_ADD, f->fan_fd, &ev) < 0 ||
	    epoll_ctl(s.fd, EPOLL_CTL_ADD, f->event_fd, &ev) < 0) {
		e = -errno;
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	fan_close(&s);
	return e;
}
