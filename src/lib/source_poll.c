/* The poll source (source_poll.h): snapshots compared, records made.
 *
 * Each polled directory keeps a snapshot of its entries: name, inode,
 * device, type, size, mtime and ctime in nanoseconds, and a hash of mode,
 * owner and group. Once an interval, spread over POLL_SLICES ticks, each
 * directory is opened again and
 *  - listed only if its own mtime moved since it was last listed (or that
 *    listing found it moving: a change in the same timestamp tick as the
 *    listing would leave the mtime as it was), the names compared: what
 *    appeared and what left go to the tick's pool;
 *  - every entry is stat'ed: a new size or mtime is MODIFY, a new ctime
 *    alone is ATTRIB, an entry changed at the last poll and not since is
 *    CLOSE_WRITE (a file stopped changing for an interval; a poll cannot
 *    see a close), a new inode under the same name left and appeared.
 *  A file found changed is stat'ed again on its own once an interval has
 *  gone by since its mtime (settle_due()): its CLOSE_WRITE comes about an
 *  interval after its last write, not up to two (the directory's next
 *  turn, an interval after the poll that saw the write).
 * At the end of the tick the pool is resolved: what left and appeared with
 * the same inode is a rename (MOVED_FROM and MOVED_TO, one cookie), what
 * left is DELETE (a directory's whole polled subtree goes as rm -r would
 * say it, then DELETE_SELF and IGNORED on its own wd), what appeared is
 * CREATE (and MODIFY when it holds data). Before that, when something in
 * the pool has no partner, every other directory on that device is
 * checked at once (its mtime, past the attribute cache), and the moved
 * ones listed, so that a rename between two directories polled in
 * different ticks is one rename, not a delete and a create.
 *
 * What a poll cannot see: a change undone within an interval, a write
 * that keeps size and mtime, a file moved out of the tree (a delete),
 * OPEN, ACCESS and CLOSE_NOWRITE. */
#include "source_poll.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "buf.h"

#define NONE UINT32_MAX
#define DENTS_SIZE (32 * 1024)
/* Directories listed again by poll_src_recheck(), at most. */
#define FRESH_MAX 64
/* Files waiting to be stat'ed again on their own, at most: past this, a
 * file's CLOSE_WRITE waits for its directory's turn. */
#define SETTLE_MAX 4096

#define STATX_WANT (STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_INO | \
		    STATX_SIZE | STATX_MTIME | STATX_CTIME | STATX_NLINK)

enum { E_WRITING = 1, E_SEEN = 2, E_NEW = 4 };

/* One entry of a snapshot. */
struct pentry {
	uint64_t ino, dev;
	int64_t size, mtime, ctime; /* nanoseconds */
	uint32_t name_off;          /* in the directory's names, NUL-terminated */
	uint32_t attr;              /* mode, owner and group, hashed */
	uint16_t name_len;
	uint8_t type;               /* S_IFMT >> 12 */
	uint8_t flags;              /* E_* */
};

/* A polled directory, or a polled file (a top with no entries). */
struct pdir {
	int wd;              /* 0: a free slot */
	uint32_t mask;
	uint32_t serial;     /* bumped when the slot is freed */
	int mount;
	uint64_t dev, ino;
	int64_t mtime;       /* a directory's, at its last listing */
	int64_t size, ctime; /* a file's */
	uint32_t attr;
	bool is_dir, unsettled, oneshot, writing;
	int fd;              /* tops: the object, O_PATH; else -1 */
	uint32_t parent;     /* the polled directory it is reached from */
	uint32_t children;   /* polled directories reached from it */
	char *name;          /* its name there */
	struct pentry *ents;
	uint32_t n, cap;
	struct buf names;
	size_t names_dead;   /* bytes of names no entry uses */
	uint32_t *table;     /* entry index + 1 by name hash; 0 empty */
	uint32_t table_cap;
	uint64_t scanned;    /* the tick it was last polled in */
	uint64_t listed;     /* the tick a sweep last listed it in */
};

/* Something that left or appeared, waiting for its tick's end. */
struct item {
	uint32_t dir, dir_serial;
	uint64_t ino, dev;
	int64_t size, mtime;
	char *name;
	uint16_t len;
	uint8_t type;
	bool departure, writing, done;
	uint32_t partner;    /* the matching item, or NONE */
};

/* A file that changed, to be stat'ed again on its own at DUE. */
struct settle {
	uint32_t dir, dir_serial;
	uint64_t due;        /* CLOCK_MONOTONIC ns */
	char *name;          /* NULL for a polled file (a top) */
	uint16_t len;
};

/* Slots holding an index + 1, by a hash of what they index. */
struct index {
	uint32_t *slot;
	size_t cap, len;
};

struct poll_src {
	struct pdir *dirs;
	uint32_t n_dirs;
	size_t cap_dirs;
	uint32_t live;       /* slots in use */
	uint32_t free_head;  /* free slots, linked through their parent */
	struct index by_id;  /* (dev, ino) */
	struct index by_wd;
	int next_wd;
	uint32_t next_cookie;
	uint64_t interval_ns;
	uint64_t tick;       /* ticks done */
	uint32_t cursor;     /* the next slot to poll */
	struct item *pool;
	size_t n_pool, cap_pool;
	struct buf queue;    /* records, inotify_event layout */
	size_t queue_off;
	struct buf path;     /* scratch */
	char *dents;
	struct { uint32_t dir, serial; } fresh[FRESH_MAX];
	size_t n_fresh;
	size_t *per_mount;   /* watches on each mount */
	size_t n_mounts;
	uint64_t last_tick, last_sweep; /* CLOCK_MONOTONIC ns */
	double owed;         /* directories owed to the interval's work */
	struct settle *settle;
	size_t n_settle, cap_settle;
};

/* --- small things ------------------------------------------------------- */

static uint32_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return (uint32_t)k;
}

static uint32_t hash_id(uint64_t dev, uint64_t ino)
{
	return hash64(ino * 0x9e3779b97f4a7c15ull ^ dev);
}

static uint32_t hash_name(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t ts_ns(struct statx_timestamp t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint32_t attr_hash(const struct statx *sx)
{
	return hash64(((uint64_t)sx->stx_mode << 48) ^ ((uint64_t)sx->stx_uid << 24) ^ sx->stx_gid);
}

static uint64_t sx_dev(const struct statx *sx)
{
	return ((uint64_t)sx->stx_dev_major << 32) | sx->stx_dev_minor;
}

static int do_statx(int dirfd, const char *name, int flags, struct statx *ret)
{
	if (statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW, STATX_WANT, ret) < 0)
		return -errno;
	return 0;
}

static struct pdir *dir_at(struct poll_src *p, uint32_t i)
{
	return &p->dirs[i];
}

static const char *ent_name(const struct pdir *d, const struct pentry *e)
{
	return d->names.data + e->name_off;
}

/* --- the two indexes of directories -------------------------------------- */

static uint32_t slot_hash(const struct poll_src *p, const struct index *ix, uint32_t i)
{
	const struct pdir *d = &p->dirs[i];
	return ix == &p->by_wd ? hash64((uint64_t)d->wd) : hash_id(d->dev, d->ino);
}

static int index_put(struct poll_src *p, struct index *ix, uint32_t i)
{
	if ((ix->len + 1) * 2 > ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 64;
		uint32_t *s = calloc(cap, sizeof(*s));
		if (!s)
			return -ENOMEM;
		for (size_t j = 0; j < ix->cap; j++) {
			if (!ix->slot[j])
				continue;
			size_t k = slot_hash(p, ix, ix->slot[j] - 1) & (cap - 1);
			while (s[k])
				k = (k + 1) & (cap - 1);
			s[k] = ix->slot[j];
		}
		free(ix->slot);
		ix->slot = s;
		ix->cap = cap;
	}
	size_t k = slot_hash(p, ix, i) & (ix->cap - 1);
	while (ix->slot[k])
		k = (k + 1) & (ix->cap - 1);
	ix->slot[k] = i + 1;
	ix->len++;
	return 0;
}

/* Backward-shift deletion: no tombstones. */
static void index_del(struct poll_src *p, struct index *ix, uint32_t i)
{
	if (!ix->cap)
		return;
	size_t mask = ix->cap - 1, k = slot_hash(p, ix, i) & mask;
	while (ix->slot[k] && ix->slot[k] != i + 1)
		k = (k + 1) & mask;
	if (!ix->slot[k])
		return;
	ix->slot[k] = 0;
	ix->len--;
	for (size_t j = (k + 1) & mask; ix->slot[j]; j = (j + 1) & mask) {
		size_t home = slot_hash(p, ix, ix->slot[j] - 1) & mask;
		/* move it back if its home is not in (k, j] */
		if ((j > k && (home <= k || home > j)) || (j < k && home <= k && home > j)) {
			ix->slot[k] = ix->slot[j];
			ix->slot[j] = 0;
			k = j;
		}
	}
}

static uint32_t find_id(const struct poll_src *p, uint64_t dev, uint64_t ino)
{
	const struct index *ix = &p->by_id;
	if (!ix->cap)
		return NONE;
	for (size_t k = hash_id(dev, ino) & (ix->cap - 1); ix->slot[k]; k = (k + 1) & (ix->cap - 1)) {
		const struct pdir *d = &p->dirs[ix->slot[k] - 1];
		if (d->dev == dev && d->ino == ino)
			return ix->slot[k] - 1;
	}
	return NONE;
}

static uint32_t find_wd(const struct poll_src *p, int wd)
{
	const struct index *ix = &p->by_wd;
	if (!ix->cap || wd < POLL_WD_BASE)
		return NONE;
	for (size_t k = hash64((uint64_t)wd) & (ix->cap - 1); ix->slot[k]; k = (k + 1) & (ix->cap - 1))
		if (p->dirs[ix->slot[k] - 1].wd == wd)
			return ix->slot[k] - 1;
	return NONE;
}

/* --- a directory's entries ------------------------------------------------- */

static int table_build(struct pdir *d)
{
	uint32_t cap = 16;
	while (cap < (d->n + 1) * 2)
		cap *= 2;
	if (cap != d->table_cap) {
		uint32_t *t = realloc(d->table, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		d->table = t;
		d->table_cap = cap;
	}
	memset(d->table, 0, cap * sizeof(*d->table));
	for (uint32_t i = 0; i < d->n; i++) {
		const struct pentry *e = &d->ents[i];
		uint32_t k = hash_name(ent_name(d, e), e->name_len) & (cap - 1);
		while (d->table[k])
			k = (k + 1) & (cap - 1);
		d->table[k] = i + 1;
	}
	return 0;
}

static uint32_t ent_find(const struct pdir *d, const char *name, size_t len)
{
	if (!d->table_cap)
		return NONE;
	uint32_t mask = d->table_cap - 1;
	for (uint32_t k = hash_name(name, len) & mask; d->table[k]; k = (k + 1) & mask) {
		const struct pentry *e = &d->ents[d->table[k] - 1];
		if (e->name_len == len && memcmp(ent_name(d, e), name, len) == 0)
			return d->table[k] - 1;
	}
	return NONE;
}

static void ent_set(struct pentry *e, const struct statx *sx)
{
	e->ino = sx->stx_ino;
	e->dev = sx_dev(sx);
	e->size = (int64_t)sx->stx_size;
	e->mtime = ts_ns(sx->stx_mtime);
	e->ctime = ts_ns(sx->stx_ctime);
	e->attr = attr_hash(sx);
	e->type = (uint8_t)((sx->stx_mode & S_IFMT) >> 12);
}

static bool type_dir(uint8_t type)
{
	return ((unsigned)type << 12) == S_IFDIR;
}

static bool type_reg(uint8_t type)
{
	return ((unsigned)type << 12) == S_IFREG;
}

/* Add NAME with SX to D's snapshot: its index, or NONE (no memory). */
static uint32_t ent_add(struct pdir *d, const char *name, size_t len, const struct statx *sx,
			uint8_t flags)
{
	if (len > UINT16_MAX || d->names.len > UINT32_MAX - len - 1)
		return NONE;
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 16;
		struct pentry *g = realloc(d->ents, cap * sizeof(*g));
		if (!g)
			return NONE;
		d->ents = g;
		d->cap = cap;
	}
	size_t off = d->names.len;
	if (buf_append(&d->names, name, len) < 0 || buf_putc(&d->names, '\0') < 0) {
		d->names.len = off;
		return NONE;
	}
	struct pentry *e = &d->ents[d->n];
	memset(e, 0, sizeof(*e));
	ent_set(e, sx);
	e->name_off = (uint32_t)off;
	e->name_len = (uint16_t)len;
	e->flags = flags;
	uint32_t i = d->n++;
	if ((d->n + 1) * 2 > d->table_cap) {
		if (table_build(d) < 0) {
			d->n--;
			return NONE;
		}
	} else {
		uint32_t mask = d->table_cap - 1, k = hash_name(name, len) & mask;
		while (d->table[k])
			k = (k + 1) & mask;
		d->table[k] = i + 1;
	}
	return i;
}

/* Drop the entries without E_SEEN (after a listing), or the one at DROP. */
static void ent_compact(struct pdir *d, uint32_t drop)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < d->n; i++) {
		bool keep = drop == NONE ? (d->ents[i].flags & E_SEEN) : i != drop;
		if (keep)
			d->ents[k++] = d->ents[i];
		else
			d->names_dead += d->ents[i].name_len + 1u;
	}
	if (k == d->n)
		return;
	d->n = k;
	if (d->names_dead > d->names.len / 2) {
		struct buf fresh = {0};
		for (uint32_t i = 0; i < d->n; i++) {
			struct pentry *e = &d->ents[i];
			size_t off = fresh.len;
			if (buf_append(&fresh, ent_name(d, e), e->name_len + 1u) < 0) {
				buf_free(&fresh);
				goto table;
			}
			e->name_off = (uint32_t)off;
		}
		buf_free(&d->names);
		d->names = fresh;
		d->names_dead = 0;
	}
table:
	table_build(d); /* a smaller one: failing keeps the old size, rebuilt */
}

/* --- records ---------------------------------------------------------------- */

static void pdir_free(struct poll_src *p, uint32_t i);
static int poll_open_dir(struct poll_src *p, uint32_t di, int mode);

/* Queue a record on D's wd, if its mask asks for MASK (IGNORED, UNMOUNT:
 * always), as the kernel would. */
static int emit(struct poll_src *p, uint32_t di, uint32_t mask, uint32_t cookie,
		const char *name, size_t len)
{
	struct pdir *d = dir_at(p, di);
	uint32_t ev = mask & ~(uint32_t)IN_ISDIR;
	if (!(ev & (IN_IGNORED | IN_UNMOUNT)) && !(ev & d->mask))
		return 0;
	size_t padded = len ? (len + 1 + 15) & ~(size_t)15 : 0;
	struct inotify_event h = {.wd = d->wd, .mask = mask, .cookie = cookie,
				  .len = (uint32_t)padded};
	static const char zeros[16];
	int r = buf_append(&p->queue, (const char *)&h, sizeof(h));
	if (r == 0 && padded && (r = buf_append(&p->queue, name, len)) == 0)
		r = buf_append(&p->queue, zeros, padded - len);
	if (r == 0 && d->oneshot && !(ev & IN_IGNORED)) {
		/* IN_ONESHOT: its first event ends it */
		struct inotify_event g = {.wd = d->wd, .mask = IN_IGNORED};
		r = buf_append(&p->queue, (const char *)&g, sizeof(g));
		pdir_free(p, di);
	}
	return r;
}

/* File NAME (LEN bytes; none: DI is a polled file) of DI changed, its
 * mtime now MTIME: stat it again on its own once an interval has gone by
 * since then, for its CLOSE_WRITE (settle_due()). Past SETTLE_MAX, or out
 * of memory, its directory's next turn says it instead. */
static void settle_add(struct poll_src *p, uint32_t di, const char *name, size_t len,
		       int64_t mtime)
{
	const struct pdir *d = dir_at(p, di);
	if (!d->wd || !(d->mask & IN_CLOSE_WRITE) || p->n_settle == SETTLE_MAX)
		return;
	if (p->n_settle == p->cap_settle) {
		size_t cap = p->cap_settle ? p->cap_settle * 2 : 16;
		struct settle *v = realloc(p->settle, cap * sizeof(*v));
		if (!v)
			return;
		p->settle = v;
		p->cap_settle = cap;
	}
	char *copy = NULL;
	if (len && !(copy = malloc(len)))
		return;
	if (len)
		memcpy(copy, name, len);
	/* an mtime ahead of this clock (another machine's) or long past:
	 * clamped to an interval from now, and to now */
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	int64_t now_rt = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
	int64_t wait = mtime + (int64_t)p->interval_ns - now_rt;
	if (wait < 0)
		wait = 0;
	if (wait > (int64_t)p->interval_ns)
		wait = (int64_t)p->interval_ns;
	p->settle[p->n_settle++] = (struct settle){
		.dir = di, .dir_serial = d->serial, .due = mono_ns() + (uint64_t)wait,
		.name = copy, .len = (uint16_t)len,
	};
}

/* --- directories ------------------------------------------------------------- */

static int fresh_add(struct poll_src *p, uint32_t di)
{
	if (p->n_fresh == FRESH_MAX)
		memmove(p->fresh, p->fresh + 1, --p->n_fresh * sizeof(*p->fresh));
	p->fresh[p->n_fresh].dir = di;
	p->fresh[p->n_fresh].serial = p->dirs[di].serial;
	p->n_fresh++;
	return 0;
}

static void pdir_free(struct poll_src *p, uint32_t i)
{
	struct pdir *d = &p->dirs[i];
	if (!d->wd)
		return;
	if (d->children) {
		/* reached from it no longer: each becomes a top, held open */
		for (uint32_t j = 0; j < p->n_dirs && d->children; j++) {
			struct pdir *c = &p->dirs[j];
			if (!c->wd || c->parent != i)
				continue;
			buf_clear(&p->path);
			c->fd = -1;
			if (buf_append(&p->path, c->name, strlen(c->name)) == 0) {
				/* its parent's path is still good: open it through that */
				int pfd = poll_open_dir(p, i, O_PATH);
				if (pfd >= 0) {
					c->fd = openat(pfd, c->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
					close(pfd);
				}
			}
			c->parent = NONE;
			d->children--;
		}
	}
	if (d->parent != NONE && p->dirs[d->parent].wd)
		p->dirs[d->parent].children--;
	if (d->mount >= 0 && (size_t)d->mount < p->n_mounts)
		p->per_mount[d->mount]--;
	index_del(p, &p->by_id, i);
	index_del(p, &p->by_wd, i);
	if (d->fd >= 0)
		close(d->fd);
	free(d->name);
	free(d->ents);
	free(d->table);
	buf_free(&d->names);
	uint32_t serial = d->serial + 1;
	memset(d, 0, sizeof(*d));
	d->serial = serial;
	d->fd = -1;
	d->parent = p->free_head;
	p->free_head = i;
	p->live--;
}

/* D's path below its top, into p->path; the top's index in *RET_TOP. */
static int rel_path(struct poll_src *p, uint32_t di, uint32_t *ret_top)
{
	buf_clear(&p->path);
	buf_putc(&p->path, '\0');
	p->path.len = 0;
	uint32_t steps = 0, cur = di;
	size_t total = 0;
	for (; p->dirs[cur].parent != NONE; cur = p->dirs[cur].parent) {
		if (++steps > p->n_dirs)
			return -ELOOP;
		total += strlen(p->dirs[cur].name) + 1;
	}
	*ret_top = cur;
	if (!total)
		return 0;
	if (buf_reserve(&p->path, total) < 0)
		return -ENOMEM;
	size_t end = total - 1;
	p->path.len = end;
	p->path.data[end] = '\0';
	for (cur = di; p->dirs[cur].parent != NONE; cur = p->dirs[cur].parent) {
		const char *n = p->dirs[cur].name;
		size_t l = strlen(n);
		end -= l;
		memcpy(p->path.data + end, n, l);
		if (end) 
			p->path.data[--end] = '/';
	}
	return 0;
}

/* Open polled directory DI (MODE O_RDONLY or O_PATH), following no link:
 * a descriptor, or a negative errno. Not checked to be DI's. */
static int poll_open_dir(struct poll_src *p, uint32_t di, int mode)
{
	uint32_t top;
	int r = rel_path(p, di, &top);
	if (r < 0)
		return r;
	const struct pdir *t = &p->dirs[top];
	if (t->fd < 0)
		return -ENOENT;
	if (!p->path.len) {
		int fd = openat(t->fd, ".", mode | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	return open_beneath(t->fd, p->path.data, mode);
}

/* --- the pool ------------------------------------------------------------------ */

static int pool_add(struct poll_src *p, uint32_t di, bool departure, const char *name,
		    size_t len, uint64_t dev, uint64_t ino, uint8_t type, int64_t size,
		    int64_t mtime, bool writing)
{
	if (array_grow((void **)&p->pool, &p->cap_pool, p->n_pool, sizeof(*p->pool), 16) < 0)
		return -ENOMEM;
	char *copy = strndup(name, len);
	if (!copy)
		return -ENOMEM;
	p->pool[p->n_pool++] = (struct item){
		.dir = di, .dir_serial = p->dirs[di].serial, .ino = ino, .dev = dev,
		.size = size, .mtime = mtime, .name = copy, .len = (uint16_t)len, .type = type,
		.departure = departure, .writing = writing, .partner = NONE,
	};
	return 0;
}

static bool item_dir_alive(const struct poll_src *p, const struct item *it)
{
	const struct pdir *d = &p->dirs[it->dir];
	return d->wd && d->serial == it->dir_serial;
}

static int gone(struct poll_src *p, uint32_t di);

/* What left DI is deleted: said, and a polled directory's subtree goes. */
static int say_deleted(struct poll_src *p, uint32_t di, const char *name, size_t len,
		       uint64_t dev, uint64_t ino, uint8_t type)
{
	int r = 0;
	if (type_dir(type)) {
		uint32_t c = find_id(p, dev, ino);
		if (c != NONE && p->dirs[c].parent == di)
			r = gone(p, c);
	}
	if (r == 0 && p->dirs[di].wd)
		r = emit(p, di, IN_DELETE | (type_dir(type) ? IN_ISDIR : 0), 0, name, len);
	return r;
}

/* Polled directory DI is gone: what it held is deleted, as rm -r says it,
 * then it is (DELETE_SELF, IGNORED), and its slot freed. */
static int gone(struct poll_src *p, uint32_t di)
{
	int r = 0;
	/* what a listing of it this tick found gone goes first */
	for (size_t i = 0; i < p->n_pool && r == 0; i++) {
		struct item *it = &p->pool[i];
		if (it->done || !it->departure || it->partner != NONE || it->dir != di ||
		    !item_dir_alive(p, it))
			continue;
		it->done = true;
		r = say_deleted(p, di, it->name, it->len, it->dev, it->ino, it->type);
	}
	struct pdir *d = dir_at(p, di);
	while (r == 0 && d->wd && d->n) {
		struct pentry e = d->ents[d->n - 1];
		char name[NAME_MAX + 1];
		size_t len = e.name_len > NAME_MAX ? NAME_MAX : e.name_len;
		memcpy(name, ent_name(d, &d->ents[d->n - 1]), len);
		d->n--;
		r = say_deleted(p, di, name, len, e.dev, e.ino, e.type);
		d = dir_at(p, di);
	}
	if (r == 0 && d->wd)
		r = emit(p, di, IN_DELETE_SELF, 0, "", 0);
	if (r == 0 && d->wd)
		r = emit(p, di, IN_IGNORED, 0, "", 0);
	pdir_free(p, di);
	return r;
}

/* Directory C, moved to A's place: reached from there from now on. */
static int relink(struct poll_src *p, uint32_t c, const struct item *a)
{
	struct pdir *cd = dir_at(p, c);
	char *n = strndup(a->name, a->len);
	if (!n)
		return -ENOMEM;
	if (cd->parent != NONE && p->dirs[cd->parent].wd)
		p->dirs[cd->parent].children--;
	if (cd->fd >= 0) {
		close(cd->fd);
		cd->fd = -1;
	}
	free(cd->name);
	cd->name = n;
	cd->parent = a->dir;
	p->dirs[a->dir].children++;
	return 0;
}

/* Pair what left with what appeared, by inode. A directory that moved is
 * reached from its new place at once: the sweep opens directories by
 * those paths. */
static int pair_up(struct poll_src *p)
{
	for (size_t i = 0; i < p->n_pool; i++) {
		struct item *d = &p->pool[i];
		if (!d->departure || d->partner != NONE)
			continue;
		for (size_t j = 0; j < p->n_pool; j++) {
			struct item *a = &p->pool[j];
			if (a->departure || a->partner != NONE || a->ino != d->ino ||
			    a->dev != d->dev || type_dir(a->type) != type_dir(d->type))
				continue;
			a->partner = (uint32_t)i;
			d->partner = (uint32_t)j;
			uint32_t c = type_dir(a->type) ? find_id(p, a->dev, a->ino) : NONE;
			if (c != NONE && item_dir_alive(p, a) && c != a->dir) {
				int r = relink(p, c, a);
				if (r < 0)
					return r;
			}
			break;
		}
	}
	return 0;
}

/* Whether something in the pool has no partner. */
static bool pool_unpaired(const struct poll_src *p)
{
	for (size_t i = 0; i < p->n_pool; i++)
		if (p->pool[i].partner == NONE)
			return true;
	return false;
}

/* The end of a tick (after pair_up()): say it all. */
static int resolve(struct poll_src *p)
{
	int r = 0;
	/* gone first: a name taken by a rename over it is free again */
	for (size_t i = 0; i < p->n_pool && r == 0; i++) {
		struct item *it = &p->pool[i];
		if (!it->departure || it->partner != NONE || it->done)
			continue;
		it->done = true;
		if (item_dir_alive(p, it))
			r = say_deleted(p, it->dir, it->name, it->len, it->dev, it->ino, it->type);
	}
	for (size_t i = 0; i < p->n_pool && r == 0; i++) {
		struct item *a = &p->pool[i];
		if (a->departure || a->done)
			continue;
		a->done = true;
		if (!item_dir_alive(p, a))
			continue;
		uint32_t isdir = type_dir(a->type) ? IN_ISDIR : 0;
		struct pdir *to = dir_at(p, a->dir);
		uint32_t e = ent_find(to, a->name, a->len);
		if (a->partner != NONE) {
			struct item *d = &p->pool[a->partner];
			uint32_t cookie = 0x80000000u | (++p->next_cookie & 0x7fffffffu);
			if (item_dir_alive(p, d))
				r = emit(p, d->dir, IN_MOVED_FROM | isdir, cookie, d->name, d->len);
			if (r == 0 && dir_at(p, a->dir)->wd)
				r = emit(p, a->dir, IN_MOVED_TO | isdir, cookie, a->name, a->len);
			to = dir_at(p, a->dir);
			bool written = type_reg(a->type) && (a->size != d->size || a->mtime != d->mtime);
			if (r == 0 && written && to->wd)
				r = emit(p, a->dir, IN_MODIFY, 0, a->name, a->len);
			to = dir_at(p, a->dir);
			if (e != NONE && to->wd && (d->writing || written)) {
				to->ents[e].flags |= E_WRITING;
				settle_add(p, a->dir, a->name, a->len, to->ents[e].mtime);
			}
			uint32_t c = isdir ? find_id(p, a->dev, a->ino) : NONE;
			if (r == 0 && c != NONE && dir_at(p, a->dir)->wd)
				r = emit(p, c, IN_MOVE_SELF, 0, "", 0);
			continue;
		}
		r = emit(p, a->dir, IN_CREATE | isdir, 0, a->name, a->len);
		to = dir_at(p, a->dir);
		if (r == 0 && e != NONE && type_reg(a->type)) {
			to->ents[e].flags |= E_WRITING; /* CLOSE_WRITE once it settles */
			settle_add(p, a->dir, a->name, a->len, to->ents[e].mtime);
			if (a->size > 0)
				r = emit(p, a->dir, IN_MODIFY, 0, a->name, a->len);
		}
		uint32_t c = isdir ? find_id(p, a->dev, a->ino) : NONE;
		if (r == 0 && c != NONE && p->dirs[c].parent == NONE && p->dirs[c].fd >= 0 &&
		    c != a->dir && dir_at(p, a->dir)->wd)
			r = relink(p, c, a); /* a top found below a polled directory */
	}
	for (size_t i = 0; i < p->n_pool; i++)
		free(p->pool[i].name);
	p->n_pool = 0;
	return r;
}

/* --- polling ------------------------------------------------------------------ */

/* List DI (open at FD) and compare: what left and appeared go to the pool. */
static int list_dir(struct poll_src *p, uint32_t di, int fd)
{
	struct pdir *d = dir_at(p, di);
	for (uint32_t i = 0; i < d->n; i++)
		d->ents[i].flags &= (uint8_t)~E_SEEN;
	int r = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, p->dents, DENTS_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno == ENOENT ? 0 : -errno; /* deleted under us: empty */
			if (r)
				return r; /* not listed: nothing is taken for gone */
			break;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen;
				 unsigned char type; char name[]; } *de = (void *)(p->dents + off);
			off += de->reclen;
			const char *nm = de->name;
			if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
				continue;
			size_t len = strlen(nm);
			d = dir_at(p, di);
			uint32_t e = ent_find(d, nm, len);
			if (e != NONE) {
				d->ents[e].flags |= E_SEEN;
				continue;
			}
			struct statx sx;
			if (do_statx(fd, nm, AT_STATX_SYNC_AS_STAT, &sx) < 0)
				continue; /* gone already */
			if (ent_add(d, nm, len, &sx, E_SEEN | E_NEW) == NONE)
				return -ENOMEM;
			if ((r = pool_add(p, di, false, nm, len, sx_dev(&sx), sx.stx_ino,
					  (uint8_t)((sx.stx_mode & S_IFMT) >> 12),
					  (int64_t)sx.stx_size, ts_ns(sx.stx_mtime), false)) < 0)
				return r;
		}
	}
	d = dir_at(p, di);
	bool gone_some = false;
	for (uint32_t i = 0; i < d->n; i++) {
		const struct pentry *e = &d->ents[i];
		if (e->flags & E_SEEN)
			continue;
		gone_some = true;
		if ((r = pool_add(p, di, true, ent_name(d, e), e->name_len, e->dev, e->ino,
				  e->type, e->size, e->mtime, e->flags & E_WRITING)) < 0)
			return r;
	}
	if (gone_some)
		ent_compact(d, NONE);
	return 0;
}

/* Stat entry I of DI (open at FD) and say what changed. 0 or a negative
 * errno. */
static int stat_entry(struct poll_src *p, uint32_t di, int fd, uint32_t i)
{
	struct pdir *d = dir_at(p, di);
	struct pentry *e = &d->ents[i];
	const char *nm = ent_name(d, e);
	struct statx sx;
	if (do_statx(fd, nm, AT_STATX_SYNC_AS_STAT, &sx) < 0) {
		d->unsettled = true; /* gone: the next listing says so */
		return 0;
	}
	int r = 0;
	uint8_t type = (uint8_t)((sx.stx_mode & S_IFMT) >> 12);
	if (sx.stx_ino != e->ino || sx_dev(&sx) != e->dev || type != e->type) {
		/* another file under the same name */
		if ((r = pool_add(p, di, true, nm, e->name_len, e->dev, e->ino, e->type,
				  e->size, e->mtime, e->flags & E_WRITING)) < 0 ||
		    (r = pool_add(p, di, false, nm, e->name_len, sx_dev(&sx), sx.stx_ino,
				  type, (int64_t)sx.stx_size, ts_ns(sx.stx_mtime), false)) < 0)
			return r;
		d = dir_at(p, di);
		e = &d->ents[i];
		ent_set(e, &sx);
		e->flags &= (uint8_t)~E_WRITING;
		d->unsettled = true;
		return 0;
	}
	uint32_t attr = attr_hash(&sx);
	int64_t size = (int64_t)sx.stx_size, mt = ts_ns(sx.stx_mtime), ct = ts_ns(sx.stx_ctime);
	bool written = false;
	if (type_dir(type)) {
		/* its mtime and ctime move with what it holds: only its
		 * mode and owner are its own */
		if (attr != e->attr)
			r = emit(p, di, IN_ATTRIB | IN_ISDIR, 0, nm, e->name_len);
	} else if (size != e->size || mt != e->mtime) {
		r = emit(p, di, IN_MODIFY, 0, nm, e->name_len);
		written = type_reg(type);
	} else if (ct != e->ctime || attr != e->attr) {
		r = emit(p, di, IN_ATTRIB, 0, nm, e->name_len);
	} else if (e->flags & E_WRITING) {
		e->flags &= (uint8_t)~E_WRITING;
		r = emit(p, di, IN_CLOSE_WRITE, 0, nm, e->name_len);
	}
	d = dir_at(p, di);
	if (!d->wd)
		return r; /* one-shot, and done */
	e = &d->ents[i];
	e->size = size;
	e->mtime = mt;
	e->ctime = ct;
	e->attr = attr;
	if (written) {
		e->flags |= E_WRITING;
		settle_add(p, di, ent_name(d, e), e->name_len, mt);
	}
	return r;
}

/* Stat every entry of DI (open at FD) not new this tick, and say what
 * changed. */
static int stat_entries(struct poll_src *p, uint32_t di, int fd)
{
	int r = 0;
	for (uint32_t i = 0; i < dir_at(p, di)->n && r == 0; i++) {
		struct pentry *e = &dir_at(p, di)->ents[i];
		if (e->flags & E_NEW) {
			e->flags &= (uint8_t)~E_NEW;
			continue;
		}
		r = stat_entry(p, di, fd, i);
		if (!dir_at(p, di)->wd)
			break; /* one-shot, and done */
	}
	return r;
}

/* A polled file (a top): its own changes, on its wd with no name. */
static int poll_file(struct poll_src *p, uint32_t di)
{
	struct pdir *d = dir_at(p, di);
	struct statx sx;
	int e = do_statx(d->fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, &sx);
	if (e < 0 || sx.stx_nlink == 0) {
		if (e == -ENOTCONN || e == -ENODEV || e == -EIO)
			return poll_src_unmount(p, d->mount);
		int r = emit(p, di, IN_DELETE_SELF, 0, "", 0);
		if (r == 0 && dir_at(p, di)->wd)
			r = emit(p, di, IN_IGNORED, 0, "", 0);
		pdir_free(p, di);
		return r;
	}
	int64_t size = (int64_t)sx.stx_size, mt = ts_ns(sx.stx_mtime), ct = ts_ns(sx.stx_ctime);
	uint32_t attr = attr_hash(&sx);
	int r = 0;
	bool written = false;
	if (size != d->size || mt != d->mtime) {
		d->writing = written = true;
		r = emit(p, di, IN_MODIFY, 0, "", 0);
	} else if (ct != d->ctime || attr != d->attr) {
		r = emit(p, di, IN_ATTRIB, 0, "", 0);
	} else if (d->writing) {
		d->writing = false;
		r = emit(p, di, IN_CLOSE_WRITE, 0, "", 0);
	}
	d = dir_at(p, di);
	if (d->wd) {
		d->size = size;
		d->mtime = mt;
		d->ctime = ct;
		d->attr = attr;
		if (written)
			settle_add(p, di, NULL, 0, mt);
	}
	return r;
}

/* Open DI (MODE O_RDONLY, for listing, or O_PATH) and check that it is
 * DI's directory: the descriptor, or -1 when it is not there (its parent's
 * listing will say where it went; a top that is gone is said gone here).
 * *RET_SX: its attributes, asked of the server (O_RDONLY) or as stat()
 * would (O_PATH: on FUSE and NFS the attribute cache, which the path walk
 * of the open has just refreshed unless it is younger than its timeout;
 * once an interval the sweep asks the server anyway). */
static int open_checked(struct poll_src *p, uint32_t di, int mode, struct statx *ret_sx,
			int *ret_err)
{
	*ret_err = 0;
	int fd = poll_open_dir(p, di, mode);
	struct pdir *d = dir_at(p, di);
	if (fd < 0) {
		if (d->parent != NONE)
			return -1;
		if (fd == -ENOTCONN || fd == -ENODEV || fd == -EIO)
			*ret_err = poll_src_unmount(p, d->mount);
		else if (fd == -ENOENT || fd == -ESTALE)
			*ret_err = gone(p, di);
		return -1;
	}
	int sync = mode == O_PATH ? AT_STATX_SYNC_AS_STAT : AT_STATX_FORCE_SYNC;
	int e = do_statx(fd, "", AT_EMPTY_PATH | sync, ret_sx);
	if (e < 0 || sx_dev(ret_sx) != d->dev || ret_sx->stx_ino != d->ino ||
	    (d->parent == NONE && ret_sx->stx_nlink == 0)) {
		close(fd);
		if (d->parent == NONE && (e == -ENOENT || e == -ESTALE ||
					  (e == 0 && ret_sx->stx_nlink == 0)))
			*ret_err = gone(p, di);
		else if (d->parent == NONE && (e == -ENOTCONN || e == -ENODEV || e == -EIO))
			*ret_err = poll_src_unmount(p, d->mount);
		return -1;
	}
	return fd;
}

static int poll_dir(struct poll_src *p, uint32_t di)
{
	struct statx sx;
	int err;
	/* O_PATH: the files are stat'ed through it, and opened for reading
	 * (on FUSE an OPENDIR and a RELEASEDIR to the daemon) only to list */
	int fd = open_checked(p, di, O_PATH, &sx, &err);
	if (fd < 0)
		return err;
	struct pdir *d = dir_at(p, di);
	int64_t mt = ts_ns(sx.stx_mtime);
	int r = 0;
	if (d->unsettled || mt != d->mtime) {
		int lfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lfd < 0) {
			close(fd); /* gone or shut meanwhile: as if not there */
			return 0;
		}
		bool moved = mt != d->mtime;
		r = list_dir(p, di, lfd);
		close(lfd);
		d = dir_at(p, di);
		if (r == 0) {
			d->unsettled = moved;
			d->mtime = mt;
		}
	}
	if (r == 0 && (d->mask & (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE | IN_CREATE |
				  IN_MOVE)))
		r = stat_entries(p, di, fd);
	close(fd);
	return r;
}

static int poll_one(struct poll_src *p, uint32_t di)
{
	p->dirs[di].scanned = p->tick;
	return p->dirs[di].is_dir ? poll_dir(p, di) : poll_file(p, di);
}

/* Look at directory I's own mtime, past the attribute cache, without
 * opening it (by its path from its top), and list it if it moved. Not
 * there (renamed, gone): its parent's listing says where it went. 0, or a
 * negative errno (-ENOMEM). */
static int check_dir(struct poll_src *p, uint32_t i)
{
	uint32_t top;
	int e = rel_path(p, i, &top);
	if (e < 0)
		return e == -ENOMEM ? e : 0;
	const struct pdir *t = dir_at(p, top);
	if (t->fd < 0)
		return 0;
	struct statx sx;
	int flags = (p->path.len ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH) | AT_STATX_FORCE_SYNC;
	if (statx(t->fd, p->path.len ? p->path.data : "", flags, STATX_WANT, &sx) < 0)
		return 0;
	struct pdir *d = dir_at(p, i);
	if (sx_dev(&sx) != d->dev || sx.stx_ino != d->ino || ts_ns(sx.stx_mtime) == d->mtime)
		return 0;
	int err;
	int fd = open_checked(p, i, O_RDONLY, &sx, &err);
	if (fd < 0)
		return err;
	int r = list_dir(p, i, fd);
	close(fd);
	d = dir_at(p, i);
	if (r == 0) {
		/* listed again in its turn: a change in the same tick as this
		 * listing leaves the mtime as it was */
		d->unsettled = true;
		d->mtime = ts_ns(sx.stx_mtime);
		d->listed = p->tick;
	}
	return r;
}

/* Once an interval, every directory's mtime is looked at, and those that
 * moved listed: what appears, leaves or is renamed is seen within an
 * interval, however long the stat'ing of every file takes. And when
 * something in the pool has no partner, the same at once for the
 * directories on its device not listed this tick, so that a rename
 * between two directories polled in different ticks is one rename, not a
 * delete and a create. ALL: the first; else the second. */
static int sweep(struct poll_src *p, bool all_dirs)
{
	uint64_t devs[8];
	size_t n_devs = 0;
	bool all = all_dirs;
	for (size_t i = 0; i < p->n_pool && !all; i++) {
		const struct item *it = &p->pool[i];
		if (it->partner != NONE)
			continue;
		bool known = false;
		for (size_t k = 0; k < n_devs && !known; k++)
			known = devs[k] == it->dev;
		if (!known) {
			if (n_devs == sizeof(devs) / sizeof(*devs))
				all = true;
			else
				devs[n_devs++] = it->dev;
		}
	}
	if (!n_devs && !all)
		return 0;
	int r = 0;
	for (uint32_t i = 0; i < p->n_dirs && r == 0; i++) {
		struct pdir *d = dir_at(p, i);
		if (!d->wd || !d->is_dir || d->scanned == p->tick || d->listed == p->tick)
			continue;
		bool on = all;
		for (size_t k = 0; k < n_devs && !on; k++)
			on = devs[k] == d->dev;
		if (on)
			r = check_dir(p, i);
	}
	return r;
}

/* File S, stat'ed again on its own: CLOSE_WRITE if it has not changed
 * since, MODIFY (and another wait) if it has. Gone, or seen meanwhile by
 * its directory's turn: nothing. 0, or a negative errno (-ENOMEM). */
static int settle_one(struct poll_src *p, const struct settle *s)
{
	if (s->dir >= p->n_dirs)
		return 0;
	struct pdir *d = dir_at(p, s->dir);
	if (!d->wd || d->serial != s->dir_serial)
		return 0;
	if (!d->is_dir)
		return d->writing ? poll_file(p, s->dir) : 0;
	uint32_t i = ent_find(d, s->name, s->len);
	if (i == NONE || (d->ents[i].flags & (E_WRITING | E_NEW)) != E_WRITING)
		return 0;
	struct statx sx;
	int err;
	int fd = open_checked(p, s->dir, O_PATH, &sx, &err);
	if (fd < 0)
		return err;
	int r = stat_entry(p, s->dir, fd, i);
	close(fd);
	return r;
}

/* The files whose wait is over by NOW (settle_add()). 0, or a negative
 * errno (-ENOMEM). */
static int settle_due(struct poll_src *p, uint64_t now)
{
	size_t n_due = 0;
	for (size_t k = 0; k < p->n_settle; k++)
		n_due += p->settle[k].due <= now;
	if (!n_due)
		return 0;
	/* taken out first: settle_one() may add to the list */
	struct settle *due = malloc(n_due * sizeof(*due));
	if (!due)
		return -ENOMEM;
	size_t keep = 0, j = 0;
	for (size_t k = 0; k < p->n_settle; k++) {
		if (p->settle[k].due <= now)
			due[j++] = p->settle[k];
		else
			p->settle[keep++] = p->settle[k];
	}
	p->n_settle = keep;
	int r = 0;
	for (size_t k = 0; k < n_due; k++) {
		if (r == 0)
			r = settle_one(p, &due[k]);
		free(due[k].name);
	}
	free(due);
	return r;
}

/* --- the interface ---------------------------------------------------------- */

int poll_src_new(uint64_t interval_ns, struct poll_src **ret)
{
	struct poll_src *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dents = malloc(DENTS_SIZE);
	if (!p->dents) {
		free(p);
		return -ENOMEM;
	}
	p->interval_ns = interval_ns ? interval_ns : POLL_INTERVAL_NS;
	p->next_wd = POLL_WD_BASE;
	p->free_head = NONE;
	*ret = p;
	return 0;
}

void poll_src_free(struct poll_src *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->n_dirs; i++) {
		struct pdir *d = &p->dirs[i];
		if (!d->wd)
			continue;
		if (d->fd >= 0)
			close(d->fd);
		free(d->name);
		free(d->ents);
		free(d->table);
		buf_free(&d->names);
	}
	for (size_t i = 0; i < p->n_pool; i++)
		free(p->pool[i].name);
	free(p->pool);
	for (size_t i = 0; i < p->n_settle; i++)
		free(p->settle[i].name);
	free(p->settle);
	free(p->per_mount);
	free(p->dirs);
	free(p->by_id.slot);
	free(p->by_wd.slot);
	buf_free(&p->queue);
	buf_free(&p->path);
	free(p->dents);
	free(p);
}

/* Where the directory open at FD (with attributes SX) is reached from: the
 * polled directory its ".." is, if that one's snapshot names it. */
static uint32_t find_parent(struct poll_src *p, int fd, const struct statx *sx,
			    const char **ret_name, size_t *ret_len)
{
	struct statx up;
	if (statx(fd, "..", AT_SYMLINK_NOFOLLOW, STATX_INO, &up) < 0)
		return NONE;
	uint32_t pi = find_id(p, sx_dev(&up), up.stx_ino);
	if (pi == NONE || pi == NONE - 1)
		return NONE;
	const struct pdir *d = dir_at(p, pi);
	if (!d->is_dir)
		return NONE;
	for (uint32_t i = 0; i < d->n; i++) {
		const struct pentry *e = &d->ents[i];
		if (e->ino == sx->stx_ino && e->dev == sx_dev(sx) && type_dir(e->type)) {
			*ret_name = ent_name(d, e);
			*ret_len = e->name_len;
			return pi;
		}
	}
	return NONE;
}

/* List DI (open at FD) as its first snapshot: nothing is news. */
static int snapshot(struct poll_src *p, uint32_t di, int fd)
{
	for (;;) {
		long n = syscall(SYS_getdents64, fd, p->dents, DENTS_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (long off = 0; off < n;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen;
				 unsigned char type; char name[]; } *de = (void *)(p->dents + off);
			off += de->reclen;
			const char *nm = de->name;
			if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
				continue;
			struct statx sx;
			if (do_statx(fd, nm, AT_STATX_SYNC_AS_STAT, &sx) < 0)
				continue;
			if (ent_add(dir_at(p, di), nm, strlen(nm), &sx, 0) == NONE)
				return -ENOMEM;
		}
	}
}

int poll_src_add(struct poll_src *p, int fd, uint32_t mask, int mount, int *ret_wd)
{
	struct statx sx;
	int r = do_statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, &sx);
	if (r < 0)
		return r;
	bool is_dir = S_ISDIR(sx.stx_mode);
	if ((mask & IN_ONLYDIR) && !is_dir)
		return -ENOTDIR;
	uint32_t events = mask & (IN_ALL_EVENTS | IN_EXCL_UNLINK);
	uint32_t i = find_id(p, sx_dev(&sx), sx.stx_ino);
	if (i != NONE) {
		struct pdir *d = dir_at(p, i);
		d->mask = (mask & IN_MASK_ADD) ? d->mask | events : events;
		d->oneshot = mask & IN_ONESHOT;
		*ret_wd = d->wd;
		return 0;
	}
	if (p->next_wd == INT_MAX)
		return -ENOSPC;
	if (mount >= 0 && (size_t)mount >= p->n_mounts) {
		size_t n = (size_t)mount + 8;
		size_t *g = realloc(p->per_mount, n * sizeof(*g));
		if (!g)
			return -ENOMEM;
		memset(g + p->n_mounts, 0, (n - p->n_mounts) * sizeof(*g));
		p->per_mount = g;
		p->n_mounts = n;
	}
	if (p->free_head != NONE && p->free_head < p->n_dirs && p->live < p->n_dirs) {
		i = p->free_head;
	} else {
		if (p->n_dirs >= NONE - 2 ||
		    array_grow((void **)&p->dirs, &p->cap_dirs, p->n_dirs, sizeof(*p->dirs), 16) < 0)
			return -ENOMEM;
		i = p->n_dirs;
		p->dirs[i] = (struct pdir){.fd = -1, .parent = NONE};
	}
	/* the top's descriptor, or where it is reached from */
	const char *name = NULL;
	size_t len = 0;
	uint32_t parent = is_dir ? find_parent(p, fd, &sx, &name, &len) : NONE;
	int top = -1, lfd = -1;
	char *copy = NULL;
	if (parent != NONE) {
		if (!(copy = strndup(name, len)))
			return -ENOMEM;
	} else {
		top = is_dir ? openat(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)
			     : fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (top < 0)
			return -errno;
	}
	if (is_dir && (lfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = -errno;
		goto fail;
	}
	if (i != p->n_dirs)
		p->free_head = p->dirs[i].parent;
	else
		p->n_dirs++;
	struct pdir *d = &p->dirs[i];
	*d = (struct pdir){
		.wd = p->next_wd++, .mask = events, .serial = d->serial, .mount = mount,
		.dev = sx_dev(&sx), .ino = sx.stx_ino, .mtime = ts_ns(sx.stx_mtime),
		.size = (int64_t)sx.stx_size, .ctime = ts_ns(sx.stx_ctime),
		.attr = attr_hash(&sx), .is_dir = is_dir, .unsettled = true,
		.oneshot = mask & IN_ONESHOT, .fd = top, .parent = parent, .name = copy,
		.scanned = p->tick,
	};
	if (!p->live++)
		p->last_tick = mono_ns(); /* the first tick a tick from now */
	if (mount >= 0)
		p->per_mount[mount]++;
	if (parent != NONE)
		p->dirs[parent].children++;
	if (index_put(p, &p->by_id, i) < 0 || index_put(p, &p->by_wd, i) < 0 ||
	    (is_dir && table_build(d) < 0)) {
		close(lfd);
		pdir_free(p, i);
		return -ENOMEM;
	}
	if (is_dir) {
		r = snapshot(p, i, lfd);
		close(lfd);
		if (r < 0) {
			pdir_free(p, i);
			return r;
		}
		fresh_add(p, i);
	}
	*ret_wd = p->dirs[i].wd;
	return 0;
fail:
	if (top >= 0)
		close(top);
	free(copy);
	return r;
}

int poll_src_remove(struct poll_src *p, int wd)
{
	uint32_t i = find_wd(p, wd);
	if (i == NONE)
		return -EINVAL;
	pdir_free(p, i);
	return 0;
}

bool poll_src_has(const struct poll_src *p, int wd)
{
	return find_wd(p, wd) != NONE;
}

size_t poll_src_count(const struct poll_src *p, int mount)
{
	if (mount < 0)
		return p->live;
	return (size_t)mount < p->n_mounts ? p->per_mount[mount] : 0;
}

void poll_src_set_interval(struct poll_src *p, uint64_t ns)
{
	p->interval_ns = ns;
}

uint64_t poll_src_tick_ns(const struct poll_src *p)
{
	if (!p->live)
		return 0;
	uint32_t slices = p->live < POLL_SLICES ? p->live : POLL_SLICES;
	return p->interval_ns / slices;
}

uint64_t poll_src_deadline(const struct poll_src *p)
{
	if (!p->live)
		return 0;
	uint64_t at = p->last_tick + poll_src_tick_ns(p);
	for (size_t k = 0; k < p->n_settle; k++)
		if (p->settle[k].due < at)
			at = p->settle[k].due;
	return at ? at : 1;
}

static void pool_clear(struct poll_src *p)
{
	for (size_t i = 0; i < p->n_pool; i++)
		free(p->pool[i].name);
	p->n_pool = 0;
}

/* What the pool holds said, when R is 0 (renames paired, then resolved),
 * and the pool emptied whatever R: R, or the error saying it. */
static int pool_finish(struct poll_src *p, int r)
{
	if (r == 0)
		r = pair_up(p);
	if (r == 0)
		r = resolve(p);
	pool_clear(p);
	return r;
}

int poll_src_tick(struct poll_src *p)
{
	p->n_fresh = 0;
	if (!p->live)
		return 0;
	uint64_t now = mono_ns();
	uint64_t tick_ns = poll_src_tick_ns(p);
	int r = settle_due(p, now);
	if (r < 0 || now - p->last_tick + tick_ns / 16 < tick_ns) {
		/* only files settling (poll_src_deadline()): not a tick yet */
		return pool_finish(p, r);
	}
	p->tick++;
	/* By the clock, not by ticks: a tick late (a busy machine) does the
	 * share of the time it covers, up to a whole interval, so that each
	 * directory is still polled once an interval while the CPU allows.
	 * What is owed carries over: an interval polls each directory once,
	 * not once and a tick's rounding more. */
	uint64_t covered = now - p->last_tick;
	if (covered > p->interval_ns)
		covered = p->interval_ns;
	p->last_tick = now;
	p->owed += (double)p->live * (double)covered / (double)p->interval_ns;
	if (p->owed > p->live)
		p->owed = p->live;
	/* (to the nearest: a timer a hair early still does its share) */
	uint32_t quota = p->owed > 0 ? (uint32_t)(p->owed + 0.5) : 0;
	if (p->live > 1 && now - p->last_sweep >= p->interval_ns - tick_ns / 2) {
		/* the start of an interval's work, said at once: what appeared,
		 * left or moved does not wait for the stat'ing of files */
		p->last_sweep = now;
		r = pool_finish(p, sweep(p, true));
		p->tick++;
	}
	/* The files, for at most a tick's time: where stat'ing them all takes
	 * longer than an interval (a slow server, a busy machine), the rest
	 * waits for the next tick rather than holding back what this one
	 * found, the sweep above, and the engine's other sources. */
	uint32_t done = 0;
	for (uint32_t seen = 0; done < quota && seen < p->n_dirs && r == 0; seen++) {
		if (done && mono_ns() - now >= tick_ns)
			break;
		uint32_t i = p->cursor++;
		if (p->cursor >= p->n_dirs)
			p->cursor = 0;
		if (i >= p->n_dirs || !p->dirs[i].wd || p->dirs[i].scanned == p->tick)
			continue;
		r = poll_one(p, i);
		done++;
	}
	p->owed -= done;
	if (r == 0)
		r = pair_up(p);
	if (r == 0 && pool_unpaired(p) && (r = sweep(p, false)) == 0)
		r = pair_up(p);
	if (r == 0)
		r = resolve(p);
	pool_clear(p);
	return r;
}

int poll_src_recheck(struct poll_src *p)
{
	int r = 0;
	for (size_t k = 0; k < p->n_fresh && r == 0; k++) {
		uint32_t i = p->fresh[k].dir;
		if (!p->dirs[i].wd || p->dirs[i].serial != p->fresh[k].serial)
			continue;
		struct statx sx;
		int err;
		int fd = open_checked(p, i, O_RDONLY, &sx, &err);
		if (fd < 0) {
			r = err;
			continue;
		}
		r = list_dir(p, i, fd);
		close(fd);
	}
	p->n_fresh = 0;
	return pool_finish(p, r);
}

int poll_src_unmount(struct poll_src *p, int mount)
{
	int r = 0;
	for (uint32_t i = 0; i < p->n_dirs && r == 0; i++) {
		if (!p->dirs[i].wd || p->dirs[i].mount != mount)
			continue;
		r = emit(p, i, IN_UNMOUNT, 0, "", 0);
		if (r == 0 && p->dirs[i].wd)
			r = emit(p, i, IN_IGNORED, 0, "", 0);
		pdir_free(p, i);
	}
	return r;
}

size_t poll_src_queued(const struct poll_src *p)
{
	return p->queue.len - p->queue_off;
}

size_t poll_src_take(struct poll_src *p, void *buf, size_t size)
{
	if (p->queue_off == p->queue.len)
		return 0; /* (nothing queued ever: no buffer either) */
	size_t n = 0;
	while (p->queue_off + n < p->queue.len) {
		struct inotify_event h;
		memcpy(&h, p->queue.data + p->queue_off + n, sizeof(h));
		size_t rec = sizeof(h) + h.len;
		if (n + rec > size)
			break;
		n += rec;
	}
	memcpy(buf, p->queue.data + p->queue_off, n);
	p->queue_off += n;
	if (p->queue_off == p->queue.len)
		p->queue.len = p->queue_off = 0;
	return n;
}
