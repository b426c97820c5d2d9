/* The engine: the public calls, the event loop, and what each kernel record
 * does to the tree (DESIGN.md, "normalize"). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/fanotify.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blind.h"
#include "engine.h"

/* --- the roots' directories ------------------------------------------------ */

/* A recursive root's directory is opened once, by the path given, and new
 * directories below it are opened from that descriptor, never by full path
 * (the README's Security section). Held open, it pins the directory:
 * deleted, it is gone for good (and its watch says DELETE_SELF) only once
 * closed. So where the kernel lets us reopen it from a file handle
 * (open_by_handle_at() needs CAP_DAC_READ_SEARCH), it is open only while
 * events are processed, and closed whenever the queue is dry; elsewhere it
 * stays pinned, and a deleted root's DELETE_SELF waits for vigil_remove()
 * or vigil_free(). */

static void root_close(struct root *r)
{
	if (r->fd >= 0)
		close(r->fd);
	if (r->mount_fd >= 0)
		close(r->mount_fd);
	free(r->fh);
	r->fd = r->mount_fd = -1;
	r->fh = NULL;
}

/* Once R's first walk is over: keep a handle of its directory instead of
 * the descriptor, if the handle opens it again (the same mount as its
 * parent, which stays open to give the mount; the privilege). */
static void root_unpin(struct root *r)
{
	static bool refused; /* no privilege: not tried again */
	if (refused || r->fd < 0 || r->fh)
		return;
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	struct file_handle *pfh = malloc(sizeof(*pfh) + MAX_HANDLE_SZ);
	int mnt, pmnt, pfd = -1, fd = -1;
	if (!fh || !pfh)
		goto keep;
	fh->handle_bytes = pfh->handle_bytes = MAX_HANDLE_SZ;
	/* the parent open for reading: open_by_handle_at() refuses O_PATH */
	pfd = openat(r->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || name_to_handle_at(r->fd, "", fh, &mnt, AT_EMPTY_PATH) < 0 ||
	    name_to_handle_at(pfd, "", pfh, &pmnt, AT_EMPTY_PATH) < 0 || mnt != pmnt)
		goto keep; /* no handles here, or a mount point (never deleted) */
	fd = open_by_handle_at(pfd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		refused = errno == EPERM;
		goto keep;
	}
	struct stat a, b;
	if (fstat(fd, &a) < 0 || fstat(r->fd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		goto keep;
	close(fd);
	close(r->fd);
	free(pfh);
	r->fd = -1;
	r->fh = fh;
	r->mount_fd = pfd;
	return;
keep:
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	free(fh);
	free(pfh);
}

int engine_root_fd(struct vigil *v, uint32_t ri)
{
	struct root *r = &v->roots[ri];
	if (r->fd >= 0)
		return r->fd;
	if (!r->fh)
		return -ENOENT; /* not a recursive directory, or its watch is gone */
	int fd = open_by_handle_at(r->mount_fd, r->fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ESTALE ? -ENOENT : -errno; /* deleted */
	return r->fd = fd;
}

/* The queue is dry: the roots that need not be pinned are let go. */
static void release_roots(struct vigil *v)
{
	for (size_t i = 0; i < v->n_roots; i++) {
		struct root *r = &v->roots[i];
		if (r->fh && r->fd >= 0) {
			close(r->fd);
			r->fd = -1;
		}
	}
}

void engine_root_gone(struct vigil *v, uint32_t ri)
{
	struct root *r = &v->roots[ri];
	r->node = NODE_NONE;
	root_close(r);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The backend flags of vigil_new(), VIGIL_MARK_* implying fanotify. */
#define BACKENDS (VIGIL_BACKEND_INOTIFY | VIGIL_BACKEND_POLL | VIGIL_BACKEND_FANOTIFY)
#define MARKS (VIGIL_MARK_FILESYSTEM | VIGIL_MARK_MOUNT)

static bool fanotify(const struct vigil *v)
{
	return v->flags & (VIGIL_BACKEND_FANOTIFY | MARKS);
}

int vigil_new(unsigned flags, vigil **ret)
{
	unsigned b = flags & BACKENDS;
	if ((flags & ~(unsigned)(VIGIL_PAIR_MOVES | BACKENDS | MARKS | VIGIL_NO_NAMES)) || (b & (b - 1)) ||
	    ((flags & MARKS) && (b & ~(unsigned)VIGIL_BACKEND_FANOTIFY)) ||
	    (flags & MARKS) == MARKS)
		return -EINVAL;
	struct vigil *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->flags = flags;
	v->dir_cache_node = NODE_NONE;
	tree_init(&v->tree);
	held_init(&v->held);
	v->rbuf = malloc(READ_BUF_SIZE);
	if (!v->rbuf) {
		free(v);
		return -ENOMEM;
	}
	int r;
	if (fanotify(v))
		r = source_fanotify_open((flags & VIGIL_MARK_FILESYSTEM) ? FAN_MARK_FILESYSTEM :
					 (flags & VIGIL_MARK_MOUNT) ? FAN_MARK_MOUNT : 0, &v->src);
	else
		r = source_mux_open((flags & VIGIL_BACKEND_POLL) ? BACKEND_POLL :
				    (flags & VIGIL_BACKEND_INOTIFY) ? BACKEND_INOTIFY : BACKEND_AUTO,
				    0, &v->src);
	if (r == 0 && (flags & MARKS) && !(v->learn = calloc(1, sizeof(*v->learn)))) {
		v->src.ops->close(&v->src);
		r = -ENOMEM;
	}
	if (r < 0) {
		free(v->rbuf);
		free(v);
		return r;
	}
	*ret = v;
	return 0;
}

vigil *vigil_free(vigil *v)
{
	if (!v)
		return NULL;
	v->src.ops->close(&v->src);
	if (v->learn) {
		learn_fini(v->learn);
		free(v->learn);
	}
	tree_fini(&v->tree);
	filter_fini(&v->filter);
	moves_fini(&v->moves);
	seen_fini(&v->seen);
	held_fini(&v->held);
	equeue_fini(&v->q);
	for (size_t i = 0; i < v->n_roots; i++) {
		free(v->roots[i].path);
		root_close(&v->roots[i]);
	}
	free(v->roots);
	free(v->rbuf);
	buf_free(&v->dir_cache);
	buf_free(&v->scratch);
	buf_free(&v->deferred);
	for (size_t i = 0; i < v->n_retries; i++)
		free(v->retries[i].name);
	free(v->retries);
	free(v->orphans);
	free(v);
	return NULL;
}

int vigil_filter_add(vigil *v, enum vigil_filter_kind kind, const char *pattern,
		     unsigned flags)
{
	if (!pattern || (flags & ~(unsigned)VIGIL_FILTER_ICASE))
		return -EINVAL;
	switch (kind) {
	case VIGIL_FILTER_EXCLUDE:
	case VIGIL_FILTER_INCLUDE:
		return filter_add_regex(&v->filter, kind == VIGIL_FILTER_INCLUDE,
					pattern, flags & VIGIL_FILTER_ICASE);
	case VIGIL_FILTER_EXCLUDE_PATH:
		return filter_add_path(&v->filter, pattern);
	}
	return -EINVAL;
}

int vigil_fd(const vigil *v)
{
	return v->src.fd;
}

int vigil_set_poll_interval(vigil *v, unsigned ms)
{
	if (!ms)
		return -EINVAL;
	if (fanotify(v))
		return 0; /* nothing is polled */
	return source_mux_set_interval(&v->src, (uint64_t)ms * 1000000u);
}

int vigil_mount(vigil *v, size_t i, struct vigil_mount *ret)
{
	struct source_mount m;
	if (fanotify(v))
		return 0; /* blind mounts are not told apart */
	int r = source_mux_mount(&v->src, i, &m);
	if (r <= 0)
		return r;
	*ret = (struct vigil_mount){
		.path = m.point, .fstype = m.fstype, .source = m.source,
		.polled = m.polled, .unmounted = m.gone, .dirs = m.polled_count,
	};
	return 1;
}

int vigil_fstype_blind(const char *fstype)
{
	return fstype && blind_fstype(fstype);
}

uint32_t engine_polled(const struct vigil *v, uint32_t node)
{
	const struct source *s = &v->src;
	return node != NODE_NONE && node < v->tree.nodes_len && s->ops->polled &&
	       s->ops->polled(s, tree_node(&v->tree, node)->wd) ? VIGIL_EVENT_POLLED : 0;
}

size_t vigil_watch_count(const vigil *v)
{
	return v->tree.count;
}

size_t vigil_queued(const vigil *v)
{
	return v->q.len;
}

int vigil_pending(vigil *v, size_t *ret_bytes)
{
	size_t k = 0;
	int r = v->src.ops->pending(&v->src, &k);
	if (r < 0)
		return r;
	*ret_bytes = k + (v->rbuf_len > v->rbuf_off ? v->rbuf_len - v->rbuf_off : 0);
	return 0;
}

void engine_orphan(struct vigil *v, uint32_t node)
{
	struct node *x = tree_node(&v->tree, node);
	if (x->parent != NODE_NONE)
		engine_orphan_at(v, node, x->parent, NULL, 0);
}

void engine_orphan_at(struct vigil *v, uint32_t node, uint32_t parent,
		      const char *name, size_t len)
{
	struct tree *t = &v->tree;
	if (name && tree_rename(t, node, NODE_NONE, name, len) < 0) {
		/* cannot name it: it will not be found again */
		tree_remove(t, node, engine_unwatch, v);
		return;
	}
	struct node *x = tree_node(t, node);
	if (v->n_orphans == v->cap_orphans) {
		/* drop the entries of orphans freed since */
		size_t k = 0;
		for (size_t i = 0; i < v->n_orphans; i++) {
			const struct orphan *o = &v->orphans[i];
			if (tree_node(t, o->node)->used && tree_node(t, o->node)->serial == o->serial)
				v->orphans[k++] = *o;
		}
		v->n_orphans = k;
	}
	if (array_grow((void **)&v->orphans, &v->cap_orphans, v->n_orphans,
		       sizeof(*v->orphans), 8) < 0) {
		/* cannot remember it: it will not be found again */
		tree_remove(t, node, engine_unwatch, v);
		return;
	}
	v->orphans[v->n_orphans++] = (struct orphan){
		.node = node, .serial = x->serial,
		.parent = parent, .parent_serial = tree_node(t, parent)->serial,
	};
	tree_detach(t, node);
}

/* The index in v->orphans of the orphan that was NAME under PARENT, or
 * v->n_orphans. */
static size_t find_orphan(const struct vigil *v, uint32_t parent, const char *name,
			  size_t len)
{
	const struct tree *t = &v->tree;
	size_t i = 0;
	for (; i < v->n_orphans; i++) {
		const struct orphan *o = &v->orphans[i];
		const struct node *x = tree_node(t, o->node);
		if (o->parent == parent && tree_node(t, parent)->serial == o->parent_serial &&
		    x->used && x->serial == o->serial && x->parent == NODE_NONE &&
		    x->name_len == len && memcmp(tree_name(t, o->node), name, len) == 0)
			break;
	}
	return i;
}

uint32_t engine_take_orphan(struct vigil *v, uint32_t parent, const char *name,
			    size_t len)
{
	size_t i = find_orphan(v, parent, name, len);
	if (i == v->n_orphans)
		return NODE_NONE;
	uint32_t n = v->orphans[i].node;
	v->orphans[i] = v->orphans[--v->n_orphans];
	return n;
}

int vigil_foreach_watch(vigil *v, vigil_watch_fn fn, void *ctx)
{
	struct buf b = {0};
	int r = 0;
	for (uint32_t n = 0; n < v->tree.nodes_len && r == 0; n++) {
		const struct node *x = tree_node(&v->tree, n);
		if (!x->used || x->wd <= 0)
			continue;
		buf_clear(&b);
		if ((r = tree_path(&v->tree, n, &b)) == 0)
			r = fn(ctx, x->wd, b.data);
	}
	buf_free(&b);
	return r;
}

/* LEN without the trailing slashes of PATH ("/" keeps its own). */
static size_t trim_slashes(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] == '/')
		len--;
	return len;
}

int vigil_watch_wd(vigil *v, const char *path, size_t len)
{
	if (!path)
		return -EINVAL;
	len = trim_slashes(path, len);
	const struct tree *t = &v->tree;
	for (size_t i = 0; i < v->n_roots; i++) {
		const struct root *r = &v->roots[i];
		if (r->node == NODE_NONE)
			continue;
		size_t rl = trim_slashes(r->path, strlen(r->path));
		if (rl > len || memcmp(r->path, path, rl) != 0)
			continue;
		if (rl < len && r->path[rl - 1] != '/' && path[rl] != '/')
			continue; /* "/a/bc" is not below "/a/b" */
		uint32_t n = r->node;
		for (size_t at = rl; at < len && n != NODE_NONE;) {
			while (at < len && path[at] == '/')
				at++;
			size_t end = at;
			while (end < len && path[end] != '/')
				end++;
			if (end > at)
				n = tree_find_child(t, n, path + at, end - at);
			at = end;
		}
		if (n != NODE_NONE && tree_node(t, n)->wd > 0)
			return tree_node(t, n)->wd;
	}
	return -ENOENT;
}

static bool same_root_path(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

int vigil_add(vigil *v, const char *path, uint32_t mask, unsigned flags)
{
	if (!path || !*path ||
	    (flags & ~(unsigned)(VIGIL_RECURSIVE | VIGIL_NOFOLLOW | VIGIL_ONLYDIR | VIGIL_ONESHOT)))
		return -EINVAL;
	if (filter_excludes(&v->filter, path, strlen(path)))
		return 0;
	bool nofollow = flags & VIGIL_NOFOLLOW;
	struct stat st;
	if ((nofollow ? lstat(path, &st) : stat(path, &st)) < 0)
		return -errno;
	struct root *roots = realloc(v->roots, (v->n_roots + 1) * sizeof(*roots));
	if (!roots)
		return -ENOMEM;
	v->roots = roots;
	uint32_t ri = (uint32_t)v->n_roots;
	struct root *r = &v->roots[ri];
	*r = (struct root){.node = NODE_NONE, .mask = mask, .flags = flags, .fd = -1,
			   .mount_fd = -1, .is_dir = S_ISDIR(st.st_mode)};
	if (!(r->path = strdup(path)))
		return -ENOMEM;

	uint32_t extra = ((flags & VIGIL_ONLYDIR) ? IN_ONLYDIR : 0) |
			 ((flags & VIGIL_ONESHOT) ? IN_ONESHOT : 0);
	bool crawl = r->is_dir && (flags & VIGIL_RECURSIVE);
	r->names = crawl && (mask & NAMES_ASKED) && !(v->flags & VIGIL_NO_NAMES);
	int wd, err;
	if (crawl) {
		/* Pinned before the watch exists, so opening it is no event.
		 * Nothing else is opened by path from here on. */
		r->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
		if (r->fd < 0) {
			err = -errno;
			goto fail;
		}
		err = v->src.ops->add_fd(&v->src, r->fd, (v->learn ? engine_kernel_mask(v, r)
								  : crawl_quiet_mask(v, r)) | extra,
					 &wd);
	} else {
		/* no open at all: watching is not an event */
		err = v->src.ops->add_path(&v->src, path, engine_kernel_mask(v, r) | extra |
					   (nofollow ? IN_DONT_FOLLOW : 0), &wd);
	}
	if (err < 0)
		goto fail;
	uint32_t existing = tree_find_wd(&v->tree, wd);
	if (existing != NODE_NONE) {
		/* already watched through another path: widen what it reports */
		uint32_t owner = engine_root_index(v, existing);
		if (owner != NODE_NONE)
			v->roots[owner].mask |= mask;
		if (r->fd >= 0)
			close(r->fd);
		free(r->path);
		return 0;
	}
	uint32_t node = tree_add_root(&v->tree, path, strlen(path), wd, ri);
	if (node == NODE_NONE) {
		v->src.ops->remove(&v->src, wd);
		err = -ENOMEM;
		goto fail;
	}
	r->node = node;
	v->n_roots++;
	if (!crawl)
		return 1;
	if (v->learn) {
		/* the filesystem is marked: its directories are learnt from
		 * the events that name them, none is walked */
		root_unpin(r);
		return 1;
	}
	err = crawl_root(v, ri, CRAWL_INITIAL);
	root_unpin(r);
	return err < 0 ? err : err + 1;
fail:
	root_close(r);
	free(r->path);
	return err;
}

int vigil_remove(vigil *v, const char *path)
{
	for (size_t i = 0; i < v->n_roots; i++) {
		struct root *r = &v->roots[i];
		if (r->node == NODE_NONE || !same_root_path(r->path, path))
			continue;
		tree_remove(&v->tree, r->node, engine_unwatch, v);
		r->node = NODE_NONE;
		root_close(r);
		v->tree_gen++;
		return 0;
	}
	return -ENOENT;
}

/* --- what each record does --------------------------------------------- */

static int process(struct vigil *v, const struct source_record *rec, uint64_t pos);

/* Whether the held node of a half is still the directory it named. */
static bool half_node_valid(const struct vigil *v, const struct move_half *h)
{
	if (h->node == NODE_NONE || h->node >= v->tree.nodes_len)
		return false;
	const struct node *x = tree_node(&v->tree, h->node);
	return x->used && x->serial == h->node_serial;
}

/* Whether NODE lies below a directory whose rename is not resolved yet. */
static bool below_held_move(const struct vigil *v, uint32_t node)
{
	for (size_t i = 0; i < v->moves.len; i++) {
		const struct move_half *h = &v->moves.v[i];
		if (half_node_valid(v, h) && tree_is_ancestor(&v->tree, h->node, node))
			return true;
	}
	return false;
}

/* The directory above NODE (or NODE) whose MOVED_FROM was delivered on its
 * own, its partner still to come, or NODE_NONE. */
static uint32_t below_delivered_move(const struct vigil *v, uint32_t node)
{
	for (size_t i = 0; i < v->moves.len; i++) {
		const struct move_half *h = &v->moves.v[i];
		if (h->delivered && half_node_valid(v, h) && tree_is_ancestor(&v->tree, h->node, node))
			return h->node;
	}
	return NODE_NONE;
}

/* Whether a held half is the rename of directory NODE itself; its cookie. */
static bool held_half_of(const struct vigil *v, uint32_t node, uint32_t *cookie)
{
	for (size_t i = 0; i < v->moves.len; i++) {
		const struct move_half *h = &v->moves.v[i];
		if (h->node == node && half_node_valid(v, h)) {
			*cookie = h->cookie;
			return true;
		}
	}
	return false;
}

static int defer(struct vigil *v, const struct source_record *rec)
{
	struct inotify_event h = {
		.wd = rec->wd, .mask = rec->mask, .cookie = rec->cookie,
		.len = rec->name_len ? (uint32_t)rec->name_len + 1 : 0,
	};
	int r = buf_append(&v->deferred, (const char *)&h, sizeof(h));
	if (r == 0 && h.len)
		r = buf_append(&v->deferred, rec->name, rec->name_len + 1);
	return r;
}

/* Drop the records held back on NODE's subtree (BELOW), or those on the
 * entries of NODE itself (a name in it). */
static void drop_deferred(struct vigil *v, uint32_t node, bool below)
{
	struct buf *b = &v->deferred;
	size_t keep = 0, off = 0;
	struct source_record rec;
	while (off < b->len) {
		if (source_inotify_parse(b->data + off, b->len - off, &rec) <= 0) {
			memmove(b->data + keep, b->data + off, b->len - off);
			keep += b->len - off;
			break;
		}
		uint32_t n = tree_find_wd(&v->tree, rec.wd);
		size_t size = rec.size;
		if (n == NODE_NONE || (below ? !tree_is_ancestor(&v->tree, node, n)
					     : n != node || !rec.name_len)) {
			memmove(b->data + keep, b->data + off, size);
			keep += size;
		}
		off += size;
	}
	b->len = keep;
}

void engine_drop_deferred_below(struct vigil *v, uint32_t node)
{
	drop_deferred(v, node, true);
}

void engine_drop_deferred_in(struct vigil *v, uint32_t node)
{
	if (v->deferred.len)
		drop_deferred(v, node, false);
}

/* A rename was resolved: what waited on it goes through again, now that its
 * path is known (or its watch is gone, and it is dropped). */
static int replay_deferred(struct vigil *v)
{
	if (!v->deferred.len)
		return 0;
	struct buf b = v->deferred;
	v->deferred = (struct buf){0};
	int r = 0;
	bool mute = v->mute; /* each record is judged for itself */
	v->mute = false;
	struct source_record rec;
	for (size_t off = 0; r >= 0 && off < b.len; off += rec.size) {
		if (source_inotify_parse(b.data + off, b.len - off, &rec) <= 0)
			break;
		r = process(v, &rec, v->stream_read);
	}
	v->mute = mute;
	buf_free(&b);
	return r;
}

/* Whether root R wants an event with MASK delivered. */
static bool wanted(const struct root *r, uint32_t mask)
{
	return (mask & r->mask & IN_ALL_EVENTS) != 0;
}

static int emit_record(struct vigil *v, uint32_t node, const char *name,
		       size_t name_len, uint32_t mask, uint32_t cookie)
{
	return engine_emit_at(v, node, name, name_len, mask, cookie, engine_polled(v, node));
}

/* A directory that left the trees: its own MOVE_SELF (SELF, or else one
 * held back with the rest of what happened below it) is still true under
 * the old path, the last it had here, and inotifywait prints it so.
 * Whatever else was held back for it happened outside and is dropped with
 * its watch. */
static int emit_own_move_self(struct vigil *v, uint32_t node,
			      const struct source_record *self)
{
	int wd = tree_node(&v->tree, node)->wd;
	uint32_t ri = engine_root_index(v, node);
	if (wd < 0 || ri == NODE_NONE || !wanted(&v->roots[ri], IN_MOVE_SELF))
		return 0;
	if (self)
		return emit_record(v, node, "", 0, self->mask, self->cookie);
	struct source_record rec;
	for (size_t off = 0; off < v->deferred.len; off += rec.size) {
		if (source_inotify_parse(v->deferred.data + off,
					 v->deferred.len - off, &rec) <= 0)
			break;
		if (rec.wd == wd && (rec.mask & IN_MOVE_SELF))
			return emit_record(v, node, "", 0, rec.mask, rec.cookie);
	}
	return 0;
}

/* Whether a directory NAME under NODE is to be watched: below a recursive
 * root, and not excluded. */
static bool dir_watchable(struct vigil *v, uint32_t ri, uint32_t node,
			  const char *name, size_t len)
{
	if (!(v->roots[ri].flags & VIGIL_RECURSIVE))
		return false;
	if (!filter_active(&v->filter) || engine_entry_path(v, node, name, len, &v->scratch) < 0)
		return true;
	return !filter_excludes(&v->filter, v->scratch.data, v->scratch.len);
}

int engine_retry(struct vigil *v, uint32_t ri, uint32_t parent, const char *name,
		 size_t len, unsigned how, enum crawl_mode mode)
{
	if (array_grow((void **)&v->retries, &v->cap_retries, v->n_retries,
		       sizeof(*v->retries), 8) < 0)
		return -ENOMEM;
	char *copy = strndup(name, len);
	if (!copy)
		return -ENOMEM;
	v->retries[v->n_retries++] = (struct retry){
		.root = ri, .parent = parent,
		.parent_serial = tree_node(&v->tree, parent)->serial,
		.name = copy, .len = len, .how = how, .mode = mode,
		.node = NODE_NONE,
	};
	return 0;
}

/* A listing of NODE to retry (crawl_relist(), or crawl_recheck() when
 * RECHECK). */
static int retry_listing(struct vigil *v, uint32_t ri, uint32_t node, bool report, bool recheck)
{
	uint32_t serial = tree_node(&v->tree, node)->serial;
	for (size_t i = 0; i < v->n_retries; i++) {
		struct retry *r = &v->retries[i];
		if (!r->name && r->node == node && r->node_serial == serial &&
		    r->recheck == recheck) {
			r->report |= report; /* one listing does for both */
			return 0;
		}
	}
	if (array_grow((void **)&v->retries, &v->cap_retries, v->n_retries,
		       sizeof(*v->retries), 8) < 0)
		return -ENOMEM;
	v->retries[v->n_retries++] = (struct retry){
		.root = ri, .parent = NODE_NONE, .node = node,
		.node_serial = serial, .report = report, .recheck = recheck,
	};
	return 0;
}

int engine_retry_relist(struct vigil *v, uint32_t ri, uint32_t node, bool report)
{
	return retry_listing(v, ri, node, report, false);
}

bool engine_listing_owed(struct vigil *v, uint32_t node)
{
	struct tree *t = &v->tree;
	for (size_t i = 0; i < v->n_retries; i++) {
		const struct retry *r = &v->retries[i];
		uint32_t x;
		if (r->name) {
			/* a directory moved in, not listed yet: the tree may
			 * have it meanwhile, learnt from an event inside it */
			if (!(r->how & CRAWL_MOVED_IN) || r->parent >= t->nodes_len ||
			    !tree_node(t, r->parent)->used ||
			    tree_node(t, r->parent)->serial != r->parent_serial)
				continue;
			x = tree_find_child(t, r->parent, r->name, r->len);
		} else {
			if (!r->report || r->recheck || r->node >= t->nodes_len ||
			    !tree_node(t, r->node)->used ||
			    tree_node(t, r->node)->serial != r->node_serial)
				continue;
			x = r->node;
		}
		if (x != NODE_NONE && tree_is_ancestor(t, x, node))
			return true;
	}
	return false;
}

bool engine_caught_up(struct vigil *v)
{
	size_t pending = 0;
	v->src.ops->pending(&v->src, &pending);
	return v->rbuf_off >= v->rbuf_len && !pending && !v->moves.len;
}

/* A directory appeared under NODE (created, or moved in: from outside
 * the trees if HOW has CRAWL_MOVED_IN): watch and list it, and everything
 * in it. MODE: CRAWL_NEW, or a retry's (struct retry); EXPECT as for
 * crawl_new(). */
static int dir_appeared(struct vigil *v, uint32_t ri, uint32_t node,
			const char *name, size_t len, unsigned how,
			enum crawl_mode mode, uint32_t expect)
{
	if (!dir_watchable(v, ri, node, name, len))
		return 0;
	/* a directory found ahead of its own rename events waits for them,
	 * once */
	unsigned wait = mode == CRAWL_NEW && !(how & CRAWL_WAS_AHEAD) ? CRAWL_WAIT_AHEAD : 0;
	int n = crawl_new(v, ri, node, name, len, how | wait, mode, expect);
	if (n == -EINPROGRESS)
		return engine_retry(v, ri, node, name, len, how | CRAWL_WAS_AHEAD, mode);
	if (n == -ESTALE) {
		/* The parent is not where the tree has it: it or an ancestor
		 * was renamed, and the path we built is stale. With records
		 * still to read, or a rename half still waiting for its
		 * partner, the tree may not have caught up yet: try again
		 * then. */
		if (engine_caught_up(v))
			return 0;
		return engine_retry(v, ri, node, name, len, how, mode);
	}
	if (n >= 0 || n == -ENOENT || n == -ENOTDIR || n == -ELOOP || n == -ENOSPC)
		return 0; /* done, or gone already, or not a directory now, or
			     each directory left out at the limit said already */
	if (n == -ENOMEM)
		return n;
	if (engine_entry_path(v, node, name, len, &v->scratch) == 0)
		return engine_emit_error(v, v->scratch.data, v->scratch.len, n);
	return 0;
}

static int ended_say(struct vigil *v, uint32_t below);

/* The queue is dry: every rename read so far is in the tree, so the
 * directories whose path was stale, or whose walk lost its way to them, can
 * be found now. */
static int retry_crawls(struct vigil *v)
{
	struct retry *list = v->retries;
	size_t n = v->n_retries;
	v->retries = NULL;
	v->n_retries = v->cap_retries = 0;
	int e = 0;
	for (size_t i = 0; i < n; i++) {
		struct retry *r = &list[i];
		uint32_t x = r->name ? r->parent : r->node;
		const struct node *p = x < v->tree.nodes_len ? tree_node(&v->tree, x) : NULL;
		if (e < 0 || !p || !p->used ||
		    p->serial != (r->name ? r->parent_serial : r->node_serial) ||
		    engine_root_index(v, x) != r->root) {
			/* gone, or out of the trees, meanwhile */
		} else if (r->name) {
			e = dir_appeared(v, r->root, r->parent, r->name, r->len,
					 r->how, r->mode, NODE_NONE);
		} else if (r->recheck) {
			/* listed only once every rename read is in the tree:
			 * ahead of the events, a listing is taken back by them */
			e = !engine_caught_up(v) ? -ESTALE : ended_say(v, r->node);
			if (e >= 0)
				e = crawl_recheck(v, r->root, r->node);
			if (e == -ESTALE)
				e = engine_caught_up(v) ? 0 : retry_listing(v, r->root, r->node, false, true);
			else if (e != -ENOMEM)
				e = 0;
		} else {
			e = crawl_relist(v, r->root, r->node, r->report);
			if (e == -ESTALE)
				e = engine_caught_up(v) ? 0 : engine_retry_relist(v, r->root, r->node, r->report);
		}
		free(r->name);
	}
	free(list);
	return e;
}

void engine_new_generation(struct vigil *v)
{
	size_t pending = 0;
	v->src.ops->pending(&v->src, &pending);
	/* 0 is no listing's: a node placed by the events (follow_half()) */
	if (!++v->generation)
		v->generation = 1;
	v->observed[v->generation % OBSERVED_LEN] = (struct observed){
		.generation = v->generation, .pos = v->stream_read + pending,
	};
	v->seen.generation = v->generation;
}

/* Whether a listing found NODE where it is after the record at POS was
 * queued (as far as the last OBSERVED_LEN listings tell). */
static bool seen_after(const struct vigil *v, uint32_t node, uint64_t pos)
{
	uint32_t g = tree_node(&v->tree, node)->mark;
	if (!g)
		return false; /* where it is, the events put it */
	const struct observed *o = &v->observed[g % OBSERVED_LEN];
	if (o->generation == g)
		return pos < o->pos;
	/* Older than the listings kept: it began no later than the oldest
	 * kept, so a record at or past that one's start came after it. One
	 * before cannot be told, and is taken as preceding the finding: the
	 * half then guesses no node, rather than perhaps the wrong one. */
	const struct observed *oldest = &v->observed[(v->generation + 1) % OBSERVED_LEN];
	return oldest->generation == v->generation + 1 - OBSERVED_LEN && pos < oldest->pos;
}

/* Which node a MOVED_FROM (at POS in the stream) of NAME under PARENT most
 * likely moves: the one the tree has there, unless an earlier half already
 * took it away, or a listing found it there after this record was queued
 * (it came back since, or it is a later directory a listing that ran ahead
 * put there, and the one that moved was never watched); or one put aside
 * from there (an orphan, not held either), when the tree has none such.
 * An orphan was there before the directory a listing found in its place,
 * so its way out is read first. It is a guess: it only decides what is
 * held back meanwhile and what a move out is checked against. Where the
 * directory lands is found by identity (crawl_new). */
static uint32_t moving_node(struct vigil *v, uint32_t parent, const char *name,
			    size_t len, uint64_t pos)
{
	const struct tree *t = &v->tree;
	uint32_t n = tree_find_child(t, parent, name, len);
	if (n != NODE_NONE && (moves_holds(&v->moves, n, tree_node(t, n)->serial) ||
			       seen_after(v, n, pos)))
		n = NODE_NONE;
	size_t i = n == NODE_NONE && v->n_orphans ? find_orphan(v, parent, name, len)
						  : v->n_orphans;
	if (i < v->n_orphans && !moves_holds(&v->moves, v->orphans[i].node,
					     tree_node(t, v->orphans[i].node)->serial))
		return v->orphans[i].node;
	return n;
}

/* A reader was told NODE's path is gone (or has forgotten it): what NODE
 * holds is owed a listing where it is found next (crawl_new()), and the
 * path is not said gone again then (say_gone()), whatever an arrival
 * under it said before (named): a reader may have something else there
 * by then. */
static void forgotten(struct vigil *v, uint32_t node)
{
	struct node *x = tree_node(&v->tree, node);
	x->owed = true;
	x->named = false;
}

/* A MOVED_FROM (at POS) of NAME under PARENT, where the tree has a
 * directory that a listing found there after the record was queued: a
 * later arrival under that name, whose own arrival is still to be read.
 * If that listing reported what it holds (a rename's far end, or a
 * creation, whose directory had gone on), a reader has it under this
 * path, mixed with what is leaving, and would take it along with the move
 * to where that lands, where it is not. So a reader is told to forget the
 * path first (a synthetic DELETE), and both directories are owed a listing,
 * reported whole: the one leaving where it lands (MOVER, if known), the
 * one there when its arrival is read. */
static int forget_ahead(struct vigil *v, uint32_t ri, uint32_t parent, const char *name,
			size_t len, uint64_t pos, uint32_t mover)
{
	struct tree *t = &v->tree;
	uint32_t here = tree_find_child(t, parent, name, len);
	if (here == NODE_NONE || here == mover ||
	    moves_holds(&v->moves, here, tree_node(t, here)->serial) || !seen_after(v, here, pos))
		return 0;
	forgotten(v, here);
	if (mover != NODE_NONE)
		tree_node(t, mover)->owed = true;
	if (!wanted(&v->roots[ri], IN_DELETE))
		return 0;
	return engine_emit_at(v, parent, name, len, IN_DELETE | IN_ISDIR, 0,
			      VIGIL_EVENT_SYNTHETIC);
}

static int moved_from(struct vigil *v, uint32_t ri, uint32_t node,
		      const struct source_record *rec, uint64_t pos)
{
	const struct root *r = &v->roots[ri];
	bool is_dir = rec->mask & IN_ISDIR;
	bool pair = v->flags & VIGIL_PAIR_MOVES;
	int e;
	if (!pair && !(is_dir && (r->flags & VIGIL_RECURSIVE))) {
		/* nothing to hold it for; but a file's name may be a directory
		 * a listing found since, which a reader has under it */
		if (!is_dir && (e = forget_ahead(v, ri, node, rec->name, rec->name_len, pos,
						 NODE_NONE)) < 0)
			return e;
		return wanted(r, rec->mask) ?
			emit_record(v, node, rec->name, rec->name_len, rec->mask, rec->cookie) : 0;
	}
	struct move_half h = {
		.cookie = rec->cookie, .mask = rec->mask, .dir_node = node,
		.node = is_dir ? moving_node(v, node, rec->name, rec->name_len, pos) : NODE_NONE,
		.time = v->read_time, .pid = rec->pid,
		.news = is_dir && below_held_move(v, node),
	};
	if (h.node != NODE_NONE)
		h.node_serial = tree_node(&v->tree, h.node)->serial;
	if ((e = forget_ahead(v, ri, node, rec->name, rec->name_len, pos, h.node)) < 0)
		return e;
	const char *dir;
	size_t dir_len;
	if ((e = engine_node_dir(v, node, &dir, &dir_len)) < 0)
		return e;
	h.dir = strndup(dir, dir_len);
	h.name = strndup(rec->name, rec->name_len);
	h.path = malloc(dir_len + rec->name_len + 1);
	if (!h.dir || !h.name || !h.path) {
		move_half_free(&h);
		return -ENOMEM;
	}
	memcpy(h.path, dir, dir_len);
	memcpy(h.path + dir_len, rec->name, rec->name_len + 1);
	h.dir_len = dir_len;
	h.name_len = rec->name_len;
	h.path_len = dir_len + rec->name_len;
	if (!pair && wanted(r, rec->mask)) {
		if ((e = emit_record(v, node, rec->name, rec->name_len, rec->mask, rec->cookie)) < 0) {
			move_half_free(&h);
			return e;
		}
		h.delivered = true;
	}
	return moves_add(&v->moves, &h);
}


/* Drop the orphans whose place (their parent by the events) has left the
 * tree, removed with what went out of the trees: by the events they went
 * with it, and none of their own will come to say so, as a rename sends
 * nothing to the watches below the directory it moves. Left, each would
 * hold its watches on a directory outside the trees. */
static void drop_stranded_orphans(struct vigil *v)
{
	struct tree *t = &v->tree;
	for (size_t i = 0; i < v->n_orphans;) {
		const struct orphan *o = &v->orphans[i];
		const struct node *x = tree_node(t, o->node);
		const struct node *p = tree_node(t, o->parent);
		bool aside = x->used && x->serial == o->serial && x->parent == NODE_NONE;
		if (aside && p->used && p->serial == o->parent_serial) {
			i++;
			continue;
		}
		uint32_t n = o->node;
		v->orphans[i] = v->orphans[--v->n_orphans];
		if (aside) {
			tree_remove(t, n, engine_unwatch, v);
			v->tree_gen++;
		}
	}
}

/* A half that never met its partner: the entry left the watched trees.
 * Which directory left is checked by identity before its watches go: the
 * node the half guessed, if it is no longer where the tree has it, or else
 * the directory a listing had put aside from that place. SELF is the
 * directory's MOVE_SELF when that is what told, or NULL. */
static int moved_out(struct vigil *v, struct move_half *h,
		     const struct source_record *self)
{
	int e = 0;
	bool dir_alive = h->dir_node < v->tree.nodes_len &&
			 tree_node(&v->tree, h->dir_node)->used;
	uint32_t gone = NODE_NONE;
	if (half_node_valid(v, h) && !crawl_node_present(v, h->node))
		gone = h->node;
	else if (h->mask & IN_ISDIR && dir_alive)
		gone = engine_take_orphan(v, h->dir_node, h->name, h->name_len);
	if (!h->delivered && dir_alive) {
		uint32_t ri = engine_root_index(v, h->dir_node);
		if (ri != NODE_NONE && wanted(&v->roots[ri], h->mask)) {
			struct timespec t = v->read_time;
			int pid = v->cur_pid;
			v->read_time = h->time;
			v->cur_pid = h->pid;
			e = engine_emit(v, h->dir, h->dir_len, h->name, h->name_len,
					h->mask, h->cookie, engine_polled(v, h->dir_node), 0, NULL);
			v->read_time = t;
			v->cur_pid = pid;
		}
	}
	if (gone != NODE_NONE) {
		if (e >= 0)
			e = emit_own_move_self(v, gone, self);
		const struct node *g = tree_node(&v->tree, gone);
		if (e >= 0 && g->named && g->parent != NODE_NONE) {
			/* a reader has an arrival under its name that the
			 * listing found to be this one, gone now (crawl_new()):
			 * held, so that the next listing there tells it gone */
			uint32_t ri = engine_root_index(v, g->parent);
			if (ri != NODE_NONE && v->roots[ri].names)
				e = held_add(&v->held, g->parent, tree_node(&v->tree, g->parent)->serial,
					     tree_name(&v->tree, gone), g->name_len);
		}
		tree_remove(&v->tree, gone, engine_unwatch, v);
		v->tree_gen++;
		drop_stranded_orphans(v);
	}
	move_half_free(h);
	return e < 0 ? e : replay_deferred(v);
}

/* The far end of a rename, NAME under PARENT, where its directory is not
 * now (nothing there, a file, or another directory that came after it):
 * it went on (renamed again, deleted) before this was read. The tree
 * follows the events and puts it here: what happened in it from here on is
 * then reported where a reader of the events has it, and its next events
 * move it on. Left where it was, the node would go on taking the events of
 * a directory that is elsewhere, or out of the trees, under a path it no
 * longer has. That holds even when the directory is back where the tree
 * has it (renamed there again since): what happened in it in between is
 * still to be read, and a reader has it here. With NEWS (it came from a
 * path a reader has given up), what it holds is owed to a reader where it
 * is found next. */
static int follow_half(struct vigil *v, const struct move_half *h,
		       uint32_t parent, const char *name, size_t len, bool news)
{
	struct tree *t = &v->tree;
	/* where the listing found it */
	if (!half_node_valid(v, h) || tree_find_child(t, parent, name, len) == h->node)
		return 0;
	if (tree_is_ancestor(t, h->node, parent)) {
		/* Into what the tree has below it: a directory between left
		 * it first, its rename still held. It is taken out of the
		 * tree with what goes into it; where that half lands (or that
		 * it left the trees) settles where both are. */
		uint32_t x = NODE_NONE;
		for (uint32_t n = parent; n != h->node; n = tree_node(t, n)->parent)
			if (moves_holds(&v->moves, n, tree_node(t, n)->serial))
				x = n;
		if (x == NODE_NONE)
			return 0;
		tree_detach(t, x);
	}
	uint32_t child = tree_find_child(t, parent, name, len);
	v->tree_gen++;
	if (child != NODE_NONE && crawl_node_present(v, child)) {
		/* the directory there now came after it, and the listing
		 * that put it there ran ahead of its arrival (which is then
		 * not said again): it stays, and this one waits aside, known
		 * by this place, for its own next event. A reader has this
		 * one here (its MOVED_TO carried what it held), not the one
		 * the tree has: that one is owed a listing, and its path said
		 * gone where it is found next, as its DELETE would (read, its
		 * next event forgets the one here: forgotten()). Lost with an
		 * overflow, that event took nothing from a reader, and the
		 * re-scan found the tree's directory where the tree has it,
		 * said nothing, and a reader kept what this one held (seed
		 * 60203: './n5/n2' stale, n6 renamed over n5 found ahead,
		 * then deleted with n2 in the gap). */
		engine_orphan_at(v, h->node, parent, name, len);
		tree_node(t, child)->owed = tree_node(t, child)->named = true;
		return 0;
	}
	/* Out of the trees until now (put aside, its name taken), the events
	 * in it were dropped: what it holds is to be listed again, reported,
	 * where it is found next. */
	bool was_aside = engine_root_index(v, h->node) == NODE_NONE;
	/* one the events put there earlier and gone on too waits aside */
	tree_detach(t, h->node);
	if (child != NODE_NONE)
		engine_orphan(v, child);
	int e = tree_rename(t, h->node, parent, name, len);
	if (e < 0) { /* nowhere to put it: its watches go */
		tree_remove(t, h->node, engine_unwatch, v);
		return e == -ENOMEM ? e : 0;
	}
	/* Here by the events, not by the listing that last found it
	 * (elsewhere): a MOVED_FROM of this place read later is its own, not
	 * a record queued before a listing found it here (seen_after()).
	 * Taken for that, its half guessed no node, the directory stayed here
	 * in the tree after leaving, and what happened in it was said under
	 * this path, its MOVED_FROM delivered (test_catchup.c). */
	tree_node(t, h->node)->mark = 0;
	if (news || was_aside) /* what it holds is new to a reader, and not listed here */
		tree_node(t, h->node)->owed = true;
	return 0;
}

static int moved_to(struct vigil *v, uint32_t ri, uint32_t node,
		    const struct source_record *rec)
{
	const struct root *r = &v->roots[ri];
	bool is_dir = rec->mask & IN_ISDIR;
	struct move_half h;
	bool paired = moves_take(&v->moves, rec->cookie, &h);
	int e = 0;
	if (paired && (v->flags & VIGIL_PAIR_MOVES)) {
		if (wanted(r, rec->mask | h.mask)) {
			const char *dir;
			size_t dir_len;
			if ((e = engine_node_dir(v, node, &dir, &dir_len)) < 0)
				goto out;
			e = engine_emit(v, dir, dir_len, rec->name, rec->name_len,
					rec->mask | IN_MOVED_FROM, rec->cookie,
					engine_polled(v, node), 0, &h);
		}
	} else if (wanted(r, rec->mask)) {
		e = emit_record(v, node, rec->name, rec->name_len, rec->mask, rec->cookie);
	}
	if (e < 0 || !is_dir)
		goto out;
	/* Where the directory landed is found by who is there: a directory
	 * already watched moves in the tree (whatever the half guessed),
	 * a new one is watched and listed. */
	if (dir_watchable(v, ri, node, rec->name, rec->name_len)) {
		/* From inside a directory whose own MOVED_FROM is still
		 * unresolved, it comes from a path a reader has given up
		 * (dropped, or moved along with that directory), as if
		 * from outside: what it holds is news. */
		e = dir_appeared(v, ri, node, rec->name, rec->name_len,
				 !paired || h.news ? CRAWL_MOVED_IN : CRAWL_CARRIED, CRAWL_NEW,
				 paired && half_node_valid(v, &h) ? h.node : NODE_NONE);
		if (e >= 0 && paired)
			e = follow_half(v, &h, node, rec->name, rec->name_len, h.news);
	} else if (paired && half_node_valid(v, &h)) {
		/* moved where it is not to be watched */
		tree_remove(&v->tree, h.node, engine_unwatch, v);
		v->tree_gen++;
	}
out:
	if (paired)
		move_half_free(&h);
	return e < 0 ? e : replay_deferred(v);
}

/* Directory NODE's watch ended: keep its place until its DELETE is read
 * (struct vigil's ended). */
static void ended_add(struct vigil *v, uint32_t node)
{
	const struct node *x = tree_node(&v->tree, node);
	if (x->parent == NODE_NONE || x->name_len > NAME_MAX)
		return;
	if (v->n_ended == ENDED_LEN)
		memmove(v->ended, v->ended + 1, --v->n_ended * sizeof(*v->ended));
	struct ended *d = &v->ended[v->n_ended++];
	d->parent = x->parent;
	d->serial = tree_node(&v->tree, x->parent)->serial;
	d->len = x->name_len;
	memcpy(d->name, tree_name(&v->tree, node), x->name_len);
}

/* A DELETE of NAME under NODE was read: not to be said again. */
static void ended_read(struct vigil *v, uint32_t node, const char *name, size_t len)
{
	for (size_t i = 0; i < v->n_ended; i++) {
		const struct ended *d = &v->ended[i];
		if (d->parent == node && d->len == len && memcmp(d->name, name, len) == 0) {
			memmove(v->ended + i, v->ended + i + 1,
				(v->n_ended - i - 1) * sizeof(*v->ended));
			v->n_ended--;
			return;
		}
	}
}

/* At an overflow: each directory whose watch ended and whose DELETE was
 * not read (lost with the queue) is said gone, where a reader has it;
 * unless the tree or the names held have something else there now, which
 * a reader has instead. With BELOW (else NODE_NONE), only those in its
 * subtree, before it is listed again (a recheck, once caught up: a
 * DELETE not read by then is not coming, as when a directory renamed over
 * it ended it). */
static int ended_say(struct vigil *v, uint32_t below)
{
	int e = 0;
	size_t kept = 0;
	for (size_t i = 0; i < v->n_ended; i++) {
		const struct ended *d = &v->ended[i];
		const struct node *p = d->parent < v->tree.nodes_len ? tree_node(&v->tree, d->parent)
								     : NULL;
		if (!p || !p->used || p->serial != d->serial)
			continue;
		if (e < 0 || (below != NODE_NONE && d->parent != below &&
			      !tree_is_ancestor(&v->tree, below, d->parent))) {
			v->ended[kept++] = *d;
			continue;
		}
		uint32_t ri = engine_root_index(v, d->parent);
		if (ri == NODE_NONE || !v->roots[ri].names || !wanted(&v->roots[ri], IN_DELETE) ||
		    tree_find_child(&v->tree, d->parent, d->name, d->len) != NODE_NONE ||
		    held_has(&v->held, d->parent, d->serial, d->name, d->len))
			continue;
		const char *dir;
		size_t dir_len;
		if ((e = engine_node_dir(v, d->parent, &dir, &dir_len)) >= 0)
			e = engine_emit(v, dir, dir_len, d->name, d->len, IN_DELETE | IN_ISDIR, 0,
					VIGIL_EVENT_SYNTHETIC, 0, NULL);
	}
	v->n_ended = below == NODE_NONE ? 0 : kept;
	return e;
}

/* After an overflow: every root is walked again. Directories already
 * watched are found under the same wd (and moved if renamed in the gap),
 * new ones are watched and reported, and those not seen are dropped. */
static int rescan(struct vigil *v)
{
	struct move_half h;
	/* the partners of held halves may be lost; the walk settles the tree */
	while (v->moves.len) {
		h = v->moves.v[0];
		/* A reader has its MOVED_FROM (or has it now, from moved_out()),
		 * and has forgotten the path: where the walk finds the directory
		 * (back under that name in the gap, its MOVED_TO lost), what it
		 * holds is reported, as for one never seen (said gone from
		 * there first: list_frame()). The tree still has it there, and
		 * without this the walk would say nothing. */
		if ((h.mask & IN_ISDIR) && half_node_valid(v, &h))
			forgotten(v, h.node);
		h.node = NODE_NONE;
		memmove(v->moves.v, v->moves.v + 1, (v->moves.len - 1) * sizeof(h));
		v->moves.len--;
		int e = moved_out(v, &h, NULL);
		if (e < 0)
			return e;
	}
	int e = ended_say(v, NODE_NONE);
	if (e < 0)
		return e;
	engine_new_generation(v);
	bool complete = true;
	for (size_t i = 0; i < v->n_roots; i++) {
		struct root *r = &v->roots[i];
		if (r->node == NODE_NONE)
			continue;
		tree_node(&v->tree, r->node)->mark = v->generation;
		if (!r->is_dir || !(r->flags & VIGIL_RECURSIVE))
			continue;
		int e = crawl_root(v, (uint32_t)i, CRAWL_RESCAN);
		if (e == -ENOSPC) {
			complete = false; /* each directory left out is said */
		} else if (e == -ENOMEM) {
			return e;
		}
	}
	/* sweep what the walk did not find (unless it stopped short) */
	e = complete ? engine_sweep(v, true, true) : 0;
	v->tree_gen++;
	return e;
}

int engine_held_record(struct vigil *v, const struct root *r, uint32_t node,
		       const char *name, size_t len, uint32_t mask)
{
	(void)r;
	uint32_t serial = tree_node(&v->tree, node)->serial;
	if (mask & (IN_CREATE | IN_MOVED_TO))
		return held_add(&v->held, node, serial, name, len);
	held_del(&v->held, node, serial, name, len);
	return 0;
}

int engine_sweep(struct vigil *v, bool orphans, bool tell)
{
	struct tree *t = &v->tree;
	int e = 0;
	for (uint32_t n = 0; n < t->nodes_len; n++) {
		struct node *x = tree_node(t, n);
		if (!x->used || x->mark == v->generation || x->root != NODE_NONE)
			continue;
		/* remove the topmost unseen node of each unseen subtree: an
		 * unseen child of a seen directory, or an orphan (the top of
		 * its own) if ORPHANS */
		if (x->parent == NODE_NONE ? !orphans
					   : tree_node(t, x->parent)->mark != v->generation)
			continue;
		uint32_t ri = x->parent == NODE_NONE ? NODE_NONE : engine_root_index(v, n);
		if (tell && ri != NODE_NONE && v->roots[ri].names &&
		    wanted(&v->roots[ri], IN_DELETE) && e >= 0) {
			/* gone in the gap: a reader has it where the tree has it */
			const char *dir;
			size_t dir_len;
			if ((e = engine_node_dir(v, x->parent, &dir, &dir_len)) >= 0)
				e = engine_emit(v, dir, dir_len, tree_name(t, n), x->name_len,
						IN_DELETE | IN_ISDIR, 0, VIGIL_EVENT_SYNTHETIC, 0, NULL);
		}
		tree_remove(t, n, engine_unwatch, v);
	}
	return e;
}

static int process_record(struct vigil *v, const struct source_record *rec, uint64_t pos);

/* What REC says, with its pid on the events it makes. */
static int process(struct vigil *v, const struct source_record *rec, uint64_t pos)
{
	int pid = v->cur_pid;
	v->cur_pid = rec->pid;
	int r = v->learn ? learn_process(v, rec, pos) : process_record(v, rec, pos);
	v->cur_pid = pid;
	return r;
}

static int process_record(struct vigil *v, const struct source_record *rec, uint64_t pos)
{
	if ((rec->mask & IN_Q_OVERFLOW) && rec->wd > 0) {
		/* the source's word that what the events said of this
		 * directory may be short (source.h): it is listed, and what a
		 * reader was not told is said, once the queue is dry and every
		 * rename read is in the tree */
		uint32_t node = tree_find_wd(&v->tree, rec->wd);
		uint32_t ri = node == NODE_NONE ? NODE_NONE : engine_root_index(v, node);
		return ri == NODE_NONE ? 0 : retry_listing(v, ri, node, false, true);
	}
	if (rec->mask & IN_Q_OVERFLOW) {
		int e = engine_emit(v, "", 0, "", 0, IN_Q_OVERFLOW, 0,
				    VIGIL_EVENT_OVERFLOW, 0, NULL);
		return e < 0 ? e : rescan(v);
	}
	uint32_t node = tree_find_wd(&v->tree, rec->wd);
	if (node == NODE_NONE)
		return 0; /* a watch we already dropped */
	uint32_t ri = engine_root_index(v, node);
	struct root *r = ri == NODE_NONE ? NULL : &v->roots[ri];

	if (rec->mask & IN_IGNORED) {
		/* the kernel dropped the watch: deleted, unmounted, or one-shot;
		 * said for a root always, and for a directory below it if asked */
		int e = 0;
		if (r && (r->node == node || (r->mask & IN_IGNORED)))
			e = emit_record(v, node, "", 0, IN_IGNORED, 0);
		if (r && r->node == node)
			engine_root_gone(v, ri);
		else if (r && r->names)
			ended_add(v, node);
		tree_remove(&v->tree, node, engine_unwatch, v);
		v->tree_gen++;
		return e;
	}
	if (!r)
		return 0; /* a detached directory, about to be dropped */
	if (v->n_ended && (rec->mask & IN_DELETE))
		ended_read(v, node, rec->name, rec->name_len);
	/* What happens below a directory that may have left is held back
	 * until that is known, so that it is reported under the right path, or
	 * not at all. What changes the tree goes through at once: held back,
	 * it would be replayed against a tree that has moved on. */
	bool changes_tree = (rec->mask & IN_ISDIR) && (rec->mask & (IN_MOVE | IN_CREATE));
	if ((rec->mask & IN_MOVE_SELF) && v->moves.len && !v->deferred.len) {
		/* The kernel sends a directory's MOVE_SELF after both halves of
		 * its rename. Its MOVED_FROM still waiting, with no MOVED_TO held
		 * back either, means the other half is not coming: the directory
		 * left the trees, and need not wait for the deadline. */
		uint32_t cookie;
		struct move_half h;
		if (held_half_of(v, node, &cookie) && moves_take(&v->moves, cookie, &h))
			return moved_out(v, &h, rec);
	}
	if (v->moves.len && !changes_tree && below_held_move(v, node))
		return defer(v, rec);
	if (rec->name_len && seen_absorb(&v->seen, rec->wd, rec->name,
					 rec->name_len, rec->mask, pos))
		return 0; /* the listing reported it already */
	/* a directory's name is held only while the listing its arrival
	 * asked for could not find it (crawl_new()): its way out ends that */
	uint32_t held_mask = (rec->mask & IN_ISDIR) ? IN_DELETE | IN_MOVED_FROM
						    : IN_CREATE | IN_DELETE | IN_MOVE;
	if (r->names && rec->name_len && (rec->mask & held_mask)) {
		int e = engine_held_record(v, r, node, rec->name, rec->name_len, rec->mask);
		if (e < 0)
			return e;
	}
	/* A change to the tree inside a directory whose MOVED_FROM a reader
	 * has had, its MOVED_TO not come: it left the trees (or went where
	 * nothing is watched yet), and no path a reader has leads there. The
	 * tree follows, and nothing is said: what it holds is reported
	 * whole where it comes back (owed), or never, if it stays out. */
	uint32_t left = changes_tree && v->moves.len ? below_delivered_move(v, node) : NODE_NONE;
	if (left != NODE_NONE) {
		tree_node(&v->tree, left)->owed = true;
		v->mute = true;
	}
	int e = 0;
	if (rec->mask & IN_MOVED_FROM) {
		e = moved_from(v, ri, node, rec, pos);
	} else if (rec->mask & IN_MOVED_TO) {
		e = moved_to(v, ri, node, rec);
	} else {
		if ((rec->mask & (IN_DELETE | IN_ISDIR)) == (IN_DELETE | IN_ISDIR)) {
			/* A reader drops the path and all below it. A directory
			 * the tree still has there (a later one, found by a
			 * listing ahead of this) is owed a listing: when its
			 * own arrival is read, or a re-scan finds it. */
			uint32_t here = tree_find_child(&v->tree, node, rec->name, rec->name_len);
			if (here != NODE_NONE)
				forgotten(v, here);
		}
		bool arrival = (rec->mask & (IN_CREATE | IN_ISDIR)) == (IN_CREATE | IN_ISDIR);
		if (arrival && wanted(r, rec->mask) && wanted(r, IN_DELETE)) {
			/* The arrival of a directory owed a listing (a reader
			 * was told its path is gone: forget_ahead()): events
			 * inside it read since, queued before this, were
			 * delivered under that path, and a CREATE replaces
			 * nothing in a reader's model. Cleared first; the
			 * arrival's listing reports what it holds (bench/churn.sh
			 * --writers 3 --ops 1500, a queue of 64 emulated: seeds
			 * 12287, 13039, 13062, 1 stale each) */
			uint32_t here = tree_find_child(&v->tree, node, rec->name, rec->name_len);
			if (here != NODE_NONE && tree_node(&v->tree, here)->owed)
				e = engine_emit_at(v, node, rec->name, rec->name_len,
						   IN_DELETE | IN_ISDIR, 0, VIGIL_EVENT_SYNTHETIC);
		}
		if (e >= 0 && (wanted(r, rec->mask) || (rec->mask & IN_UNMOUNT)))
			e = emit_record(v, node, rec->name, rec->name_len, rec->mask, rec->cookie);
		if (e >= 0 && arrival)
			e = dir_appeared(v, ri, node, rec->name, rec->name_len, 0, CRAWL_NEW,
					 NODE_NONE);
	}
	v->mute = false;
	return e;
}

/* --- the loop ------------------------------------------------------------ */

static void pop_event(struct vigil *v, const struct vigil_event **ret)
{
	struct equeue *q = &v->q;
	const struct qevent *e = &q->v[q->head];
	const char *t = q->text.data;
	struct vigil_event *ev = &v->ev;
	ev->dir = t + e->dir;
	ev->name = t + e->name;
	ev->path = t + e->path;
	ev->dir_len = e->dir_len;
	ev->name_len = e->name_len;
	ev->path_len = e->path_len;
	if (e->has_from) {
		ev->from_dir = t + e->from_dir;
		ev->from_name = t + e->from_name;
		ev->from_path = t + e->from_path;
		ev->from_path_len = e->from_path_len;
	} else {
		ev->from_dir = ev->from_name = ev->from_path = NULL;
		ev->from_path_len = 0;
	}
	ev->mask = e->mask;
	ev->cookie = e->cookie;
	ev->flags = e->flags;
	ev->error = e->error;
	ev->dirs = e->dirs;
	ev->time = e->time;
	ev->pid = e->pid;
	ev->comm = e->comm == SIZE_MAX ? NULL : t + e->comm;
	q->head++;
	q->len--;
	*ret = ev;
}

int vigil_next_deadline_ms(const vigil *v)
{
	uint64_t d = moves_next_deadline(&v->moves);
	if (!d) {
		/* halves not armed yet are armed on the next dry read */
		return v->moves.len ? (int)(MOVE_WAIT_NS / 1000000) + 1 : -1;
	}
	uint64_t now = now_ns();
	return d <= now ? 0 : (int)((d - now + 999999) / 1000000);
}

int vigil_next(vigil *v, int timeout_ms, const struct vigil_event **ret_event)
{
	uint64_t until = 0; /* the deadline, reckoned only when about to wait */
	for (;;) {
		if (v->q.len) {
			pop_event(v, ret_event);
			return 1;
		}
		v->q.head = 0;
		buf_clear(&v->q.text);

		if (v->rbuf_off < v->rbuf_len) {
			struct source_record rec;
			uint64_t pos = v->stream_read - (v->rbuf_len - v->rbuf_off);
			int r = v->src.ops->parse(v->rbuf + v->rbuf_off,
						  v->rbuf_len - v->rbuf_off, &rec);
			if (r <= 0) {
				v->rbuf_off = v->rbuf_len; /* drop the malformed rest */
				continue;
			}
			v->rbuf_off += rec.size;
			r = process(v, &rec, pos);
			if (r < 0)
				return r;
			continue;
		}
		seen_expire(&v->seen, v->stream_read);

		/* after a read that emptied the queue, another would only say
		 * EAGAIN: go to waiting (poll says when there is more). Without
		 * a wait (timeout 0, a caller polling vigil_fd itself), read:
		 * the caller was told the fd is readable. With crawls to retry,
		 * read too: they go again only once the queue is truly dry. */
		bool skip = v->drained && timeout_ms != 0 && !v->n_retries;
		ssize_t n = skip ? -EAGAIN : v->src.ops->read(&v->src, v->rbuf, READ_BUF_SIZE);
		if (n > 0) {
			v->drained = (size_t)n < READ_DRAINED;
			v->rbuf_len = (size_t)n;
			v->rbuf_off = 0;
			v->stream_read += (uint64_t)n;
			v->last_read_ns = now_ns();
			clock_gettime(CLOCK_REALTIME, &v->read_time);
			continue;
		}
		if (n == 0 || (n < 0 && n != -EAGAIN))
			return n == 0 ? -EIO : (int)n;
		v->drained = true;

		/* the queue is dry: crawls that met a stale path go again, and
		 * halves still alone may now wait for good */
		if (v->n_retries && (v->stream_read != v->retried_at || !v->moves.len)) {
			/* once per batch read, and once more when every rename
			 * is settled: not in a loop while one is pending */
			v->retried_at = v->stream_read;
			int e = retry_crawls(v);
			if (e < 0)
				return e;
			continue;
		}
		uint64_t now = now_ns();
		moves_arm(&v->moves, now + MOVE_WAIT_NS);
		struct move_half h;
		if (moves_take_expired(&v->moves, now, &h)) {
			int e = moved_out(v, &h, NULL);
			if (e < 0)
				return e;
			continue;
		}
		release_roots(v);
		if (!until)
			until = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000ull;
		uint64_t wake = until;
		uint64_t md = moves_next_deadline(&v->moves);
		if (md && md < wake)
			wake = md;
		if (wake <= now) {
			if (until <= now)
				return 0;
			continue;
		}
		int ms = wake == UINT64_MAX ? -1 : (int)((wake - now + 999999) / 1000000);
		struct pollfd p = {.fd = v->src.fd, .events = POLLIN};
		int pr = poll(&p, 1, ms);
		if (pr < 0) {
			if (errno == EINTR)
				return -EINTR;
			return -errno;
		}
		if (pr > 0) {
			v->drained = false;
			/* a storm: let the queue fill a little (see BURST_PAUSE_NS) */
			now = now_ns();
			if (now - v->last_read_ns < BURST_GAP_NS && now + BURST_PAUSE_NS < until) {
				struct timespec ts = {0, BURST_PAUSE_NS};
				nanosleep(&ts, NULL);
			}
		}
	}
}
