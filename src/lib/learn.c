/* The engine of a handle that marks whole filesystems (learn.h). */
#include "learn.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

void learn_fini(struct learn *l)
{
	move_half_free(&l->from);
	free(l->checked);
	bitset_free(&l->left);
	bitset_free(&l->ahead);
	free(l->recheck);
	free(l->whole);
	buf_free(&l->name);
	buf_free(&l->chain);
	if (l->unlisted_ready)
		held_fini(&l->unlisted);
	memset(l, 0, sizeof(*l));
}

static bool wanted(const struct root *r, uint32_t mask)
{
	return (mask & r->mask & IN_ALL_EVENTS) != 0;
}

/* Note that NODE's place is known as of this generation (or, GONE, that
 * it cannot be found again). */
static void set_checked(struct vigil *v, uint32_t node, bool gone)
{
	struct learn *l = v->learn;
	if (node >= l->checked_cap) {
		uint32_t cap = l->checked_cap ? l->checked_cap : 64;
		while (cap <= node)
			cap *= 2;
		uint32_t *c = realloc(l->checked, (size_t)cap * sizeof(*c));
		if (!c)
			return; /* looked up again when next met: no harm */
		memset(c + l->checked_cap, 0, (size_t)(cap - l->checked_cap) * sizeof(*c));
		l->checked = c;
		l->checked_cap = cap;
	}
	l->checked[node] = l->gen | (gone ? LEARN_GONE : 0);
}

static bool is_checked(const struct vigil *v, uint32_t node, bool *ret_gone)
{
	const struct learn *l = v->learn;
	uint32_t c = node < l->checked_cap ? l->checked[node] : 0;
	*ret_gone = c & LEARN_GONE;
	return !l->gen || (c & ~LEARN_GONE) == l->gen;
}

/* Whether NAME under NODE is a directory to have in the tree: below a
 * recursive root, and not excluded. */
static bool watchable(struct vigil *v, uint32_t node, const char *name, size_t len)
{
	uint32_t ri = engine_root_index(v, node);
	if (ri == NODE_NONE || !(v->roots[ri].flags & VIGIL_RECURSIVE))
		return false;
	if (!filter_active(&v->filter) || engine_entry_path(v, node, name, len, &v->scratch) < 0)
		return true;
	return !filter_excludes(&v->filter, v->scratch.data, v->scratch.len);
}

/* Put directory WD, NAME under PARENT, into the tree: its node, or
 * NODE_NONE when it is not to be watched (said to the source). */
static uint32_t place(struct vigil *v, uint32_t parent, int wd, const char *name, size_t len)
{
	struct tree *t = &v->tree;
	if (!watchable(v, parent, name, len)) {
		v->src.ops->outside(&v->src, wd, v->learn->pos);
		return NODE_NONE;
	}
	uint32_t n = tree_find_wd(t, wd);
	uint32_t there = tree_find_child(t, parent, name, len);
	if (there != NODE_NONE && there != n) {
		/* a place the events have not cleared: what was there is gone */
		tree_remove(t, there, engine_unwatch, v);
	}
	if (n != NODE_NONE) {
		if (tree_node(t, n)->root != NODE_NONE || there == n)
			return n; /* a root keeps the path it was given */
		if (tree_rename(t, n, parent, name, len) < 0) {
			tree_remove(t, n, engine_unwatch, v);
			return NODE_NONE;
		}
	} else if ((n = tree_add_child(t, parent, name, len, wd)) == NODE_NONE) {
		return NODE_NONE;
	}
	v->tree_gen++;
	set_checked(v, n, false);
	return n;
}

/* Directory WD, first met at stream position POS: climb to a directory
 * the tree knows, asking the source where each one was, then place what
 * was climbed from the top down. Its node, or NODE_NONE. */
static uint32_t learn_dir(struct vigil *v, int wd, uint64_t pos)
{
	struct learn *l = v->learn;
	struct buf *c = &l->chain; /* (wd, name length, name) from WD up */
	buf_clear(c);
	uint32_t top = NODE_NONE;
	for (int w = wd, depth = 0; depth < 4096; depth++) {
		int p;
		int e = v->src.ops->resolve(&v->src, w, pos, &p, &l->name);
		if (e == -EXDEV) {
			/* outside: so is everything climbed */
			v->src.ops->outside(&v->src, w, v->learn->pos);
			for (size_t off = 0; off < c->len;) {
				int x;
				size_t n;
				memcpy(&x, c->data + off, sizeof(x));
				memcpy(&n, c->data + off + sizeof(x), sizeof(n));
				v->src.ops->outside(&v->src, x, v->learn->pos);
				off += sizeof(x) + sizeof(n) + n;
			}
			return NODE_NONE;
		}
		if (e == -EAGAIN)
			return NODE_NONE; /* made later: its CREATE places it */
		if (e < 0) {
			/* gone (its events are the last): nothing to place
			 * it by. Learnt again if it comes back. */
			v->src.ops->remove(&v->src, w);
			return NODE_NONE;
		}
		size_t n = l->name.len;
		if (buf_append(c, (const char *)&w, sizeof(w)) < 0 ||
		    buf_append(c, (const char *)&n, sizeof(n)) < 0 ||
		    buf_append(c, l->name.data, n) < 0)
			return NODE_NONE;
		if ((top = tree_find_wd(&v->tree, p)) != NODE_NONE)
			break;
		w = p;
	}
	if (top == NODE_NONE)
		return NODE_NONE;
	/* from the top down: the chain is bottom-up, so walk it backwards */
	size_t count = 0;
	for (size_t off = 0; off < c->len; count++) {
		size_t n;
		memcpy(&n, c->data + off + sizeof(int), sizeof(n));
		off += sizeof(int) + sizeof(n) + n;
	}
	uint32_t node = top;
	for (size_t k = count; k-- > 0 && node != NODE_NONE;) {
		size_t off = 0;
		for (size_t j = 0; j < k; j++) {
			size_t n;
			memcpy(&n, c->data + off + sizeof(int), sizeof(n));
			off += sizeof(int) + sizeof(n) + n;
		}
		int w;
		size_t n;
		memcpy(&w, c->data + off, sizeof(w));
		memcpy(&n, c->data + off + sizeof(w), sizeof(n));
		node = place(v, node, w, c->data + off + sizeof(w) + sizeof(n), n);
		if (node != NODE_NONE && bitset_has(&l->left, w)) {
			/* back with no event a reader had: see learn.h */
			tree_node(&v->tree, node)->owed = true;
			bitset_put(&l->left, w, false);
		}
	}
	return node;
}

/* After an overflow, where NODE is now (as of POS): moved in the tree if
 * it moved, dropped if it left, flagged if it cannot be found. */
static uint32_t check_place(struct vigil *v, uint32_t node, uint64_t pos, uint32_t *flags)
{
	struct tree *t = &v->tree;
	struct node *x = tree_node(t, node);
	if (x->root != NODE_NONE || x->parent == NODE_NONE) {
		set_checked(v, node, false);
		return node;
	}
	bool gone;
	if (is_checked(v, node, &gone)) {
		if (gone)
			*flags |= VIGIL_EVENT_UNRESOLVED;
		return node;
	}
	struct learn *l = v->learn;
	int p;
	int wd = x->wd;
	int e = v->src.ops->resolve(&v->src, wd, pos, &p, &l->name);
	char *name = e == 0 ? strndup(l->name.data, l->name.len) : NULL;
	if ((e == 0 && !name) || e == -EAGAIN)
		return node; /* (made later: never expected of a node) */
	if (e == -ESTALE || e == -ENOENT) {
		set_checked(v, node, true);
		*flags |= VIGIL_EVENT_UNRESOLVED;
		return node;
	}
	if (e < 0) {
		tree_remove(t, node, engine_unwatch, v);
		v->tree_gen++;
		if (e == -EXDEV)
			v->src.ops->outside(&v->src, wd, v->learn->pos);
		return NODE_NONE;
	}
	uint32_t pn = tree_find_wd(t, p);
	if (pn != NODE_NONE)
		pn = check_place(v, pn, pos, flags);
	else
		pn = learn_dir(v, p, pos);
	if (pn == NODE_NONE || tree_is_ancestor(t, node, pn)) {
		free(name);
		tree_remove(t, node, engine_unwatch, v);
		v->tree_gen++;
		return NODE_NONE;
	}
	uint32_t n = place(v, pn, wd, name, strlen(name));
	free(name);
	return n;
}

/* Put the detached node N (a listing took its place: crawl.c) back where
 * its directory was at POS, or drop it. */
static uint32_t reattach(struct vigil *v, uint32_t n, uint64_t pos)
{
	struct learn *l = v->learn;
	int wd = tree_node(&v->tree, n)->wd, p;
	int e = v->src.ops->resolve(&v->src, wd, pos, &p, &l->name);
	char *name = e == 0 ? strndup(l->name.data, l->name.len) : NULL;
	uint32_t pn = NODE_NONE;
	if (name && (pn = tree_find_wd(&v->tree, p)) == NODE_NONE)
		pn = learn_dir(v, p, pos);
	if (pn == NODE_NONE || engine_root_index(v, pn) == NODE_NONE ||
	    tree_is_ancestor(&v->tree, n, pn)) {
		free(name);
		tree_remove(&v->tree, n, engine_unwatch, v);
		v->tree_gen++;
		return NODE_NONE;
	}
	uint32_t r = place(v, pn, wd, name, strlen(name));
	free(name);
	return r;
}

/* The listing of a directory moved in may find, under a name, another
 * directory than the tree has there: the engine then puts the node aside
 * (an orphan, which its own rename events find again, without a
 * filesystem mark). Here the events place directories by their handles:
 * an orphan is dropped, and learnt again where an event next names it. */
static void drop_orphans(struct vigil *v)
{
	struct tree *t = &v->tree;
	for (size_t i = 0; i < v->n_orphans; i++) {
		const struct orphan *o = &v->orphans[i];
		struct node *x = tree_node(t, o->node);
		if (x->used && x->serial == o->serial && x->parent == NODE_NONE &&
		    x->root == NODE_NONE) {
			tree_remove(t, o->node, engine_unwatch, v);
			v->tree_gen++;
		}
	}
	v->n_orphans = 0;
}

/* The node of the directory WD, learnt now if it is new. */
static uint32_t node_of(struct vigil *v, int wd, uint64_t pos, uint32_t *flags)
{
	if (wd <= 0)
		return NODE_NONE;
	uint32_t n = tree_find_wd(&v->tree, wd);
	if (n == NODE_NONE)
		return learn_dir(v, wd, pos);
	if (engine_root_index(v, n) == NODE_NONE)
		return reattach(v, n, pos);
	if (v->learn->gen)
		n = check_place(v, n, pos, flags);
	return n;
}

/* The watch on NODE is over (its directory deleted): said for a root, and
 * for a directory below one when asked, as inotify's IN_IGNORED. */
static int watch_over(struct vigil *v, uint32_t node, uint32_t flags)
{
	uint32_t ri = engine_root_index(v, node);
	int e = 0;
	if (ri != NODE_NONE) {
		struct root *r = &v->roots[ri];
		if (r->node == node || (r->mask & IN_IGNORED))
			e = engine_emit_at(v, node, "", 0, IN_IGNORED, 0, flags);
		if (r->node == node)
			engine_root_gone(v, ri);
	}
	tree_remove(&v->tree, node, engine_unwatch, v);
	v->tree_gen++;
	return e;
}

int learn_unlisted(struct vigil *v, uint32_t parent, const char *name, size_t len)
{
	struct learn *l = v->learn;
	if (!l || !l->listing_new)
		return 0;
	if (!l->unlisted_ready) {
		held_init(&l->unlisted);
		l->unlisted_ready = true;
	}
	return held_add(&l->unlisted, parent, tree_node(&v->tree, parent)->serial, name, len);
}

/* Whether NAME under NODE was reported by a listing and never listed
 * (learn_unlisted()); the entry ends here, as an event takes the name. */
static bool take_unlisted(struct vigil *v, uint32_t node, const char *name, size_t len)
{
	struct learn *l = v->learn;
	if (!l->unlisted_ready || node == NODE_NONE)
		return false;
	uint32_t serial = tree_node(&v->tree, node)->serial;
	if (!held_has(&l->unlisted, node, serial, name, len))
		return false;
	held_del(&l->unlisted, node, serial, name, len);
	return true;
}

/* NODE was just listed whole for a reader, by a listing that began after
 * generation G0 (moved_in()): note where in the stream it began. */
static void note_whole(struct vigil *v, uint32_t node, uint32_t g0)
{
	struct learn *l = v->learn;
	uint32_t g = g0 + 1 ? g0 + 1 : 1;
	const struct observed *o = &v->observed[g % OBSERVED_LEN];
	if (node == NODE_NONE || o->generation != g || o->pos <= l->pos)
		return; /* nothing queued before it is still to read */
	/* out of memory: such a move is taken as known, as before */
	if (array_grow((void **)&l->whole, &l->cap_whole, l->n_whole, sizeof(*l->whole), 8) < 0)
		return;
	l->whole[l->n_whole++] = (struct learn_whole){
		.node = node, .serial = tree_node(&v->tree, node)->serial, .pos = o->pos,
	};
}

/* Whether a rename queued at POS out of directory NODE came before the
 * listing that gave a reader NODE, or a directory above it, whole: that
 * listing did not find what it moved. The entries that no record still to
 * read comes before are dropped. */
static bool left_before_listing(struct vigil *v, uint32_t node, uint64_t pos)
{
	struct learn *l = v->learn;
	struct tree *t = &v->tree;
	bool before = false;
	size_t k = 0;
	for (size_t i = 0; i < l->n_whole; i++) {
		const struct learn_whole *w = &l->whole[i];
		if (w->pos <= l->pos)
			continue;
		l->whole[k++] = *w;
		if (!before && pos < w->pos && w->node < t->nodes_len &&
		    tree_node(t, w->node)->used && tree_node(t, w->node)->serial == w->serial &&
		    tree_is_ancestor(t, w->node, node))
			before = true;
	}
	l->n_whole = k;
	return before;
}

/* A MOVED_FROM: held until its MOVED_TO, the next record. */
static int moved_from(struct vigil *v, const struct source_record *rec, uint64_t pos)
{
	struct learn *l = v->learn;
	uint32_t flags = 0;
	uint32_t node = node_of(v, rec->wd, pos, &flags);
	struct move_half *h = &l->from;
	*h = (struct move_half){
		.cookie = rec->cookie, .mask = rec->mask, .dir_node = node, .node = NODE_NONE,
		.time = v->read_time, .pid = rec->pid,
	};
	l->has_from = true;
	l->from_unlisted = false;
	l->from_pos = pos;
	if (node == NODE_NONE)
		return 0; /* from outside */
	l->from_unlisted = take_unlisted(v, node, rec->name, rec->name_len) &&
			   (rec->mask & IN_ISDIR);
	const char *dir;
	size_t dir_len;
	int e = engine_node_dir(v, node, &dir, &dir_len);
	if (e < 0)
		return e;
	h->dir = strndup(dir, dir_len);
	h->name = strndup(rec->name, rec->name_len);
	h->path = malloc(dir_len + rec->name_len + 1);
	if (!h->dir || !h->name || !h->path) {
		move_half_free(h);
		h->dir_node = NODE_NONE;
		return -ENOMEM;
	}
	memcpy(h->path, dir, dir_len);
	memcpy(h->path + dir_len, rec->name, rec->name_len + 1);
	h->dir_len = dir_len;
	h->name_len = rec->name_len;
	h->path_len = dir_len + rec->name_len;
	l->from_flags = flags;
	return 0;
}

/* A directory came in from outside (MOVED_TO alone) as NAME under NODE:
 * what it holds is listed and reported, as for inotify. By its handle
 * (CHILD) when the event gave it: placed at once, and listed where the
 * tree has it, which is checked by identity (the directory may have moved
 * on since; the listing then waits until the queue is dry, when the tree
 * has caught up). */
static int moved_in(struct vigil *v, uint32_t node, const char *name, size_t len, int child)
{
	uint32_t ri = engine_root_index(v, node);
	if (child > 0) {
		uint32_t c = place(v, node, child, name, len);
		if (c == NODE_NONE)
			return 0;
		v->learn->listing_new = true;
		uint32_t g0 = v->generation;
		int e = crawl_relist(v, ri, c, true);
		if (e >= 0)
			note_whole(v, c, g0);
		v->learn->listing_new = false;
		drop_orphans(v);
		if (e == -ESTALE)
			return engine_retry_relist(v, ri, c, true);
		return e == -ENOMEM ? e : 0;
	}
	v->learn->listing_new = true;
	uint32_t g0 = v->generation;
	int n = crawl_new(v, ri, node, name, len, CRAWL_MOVED_IN, CRAWL_NEW, NODE_NONE);
	if (n >= 0)
		note_whole(v, tree_find_child(&v->tree, node, name, len), g0);
	v->learn->listing_new = false;
	drop_orphans(v);
	if (n == -EINPROGRESS || (n == -ESTALE && !engine_caught_up(v)))
		return engine_retry(v, ri, node, name, len, CRAWL_MOVED_IN, CRAWL_NEW);
	if (n >= 0 || n == -ENOENT || n == -ENOTDIR || n == -ELOOP || n == -ENOSPC ||
	    n == -ESTALE)
		return 0;
	if (n == -ENOMEM)
		return n;
	if (engine_entry_path(v, node, name, len, &v->scratch) == 0)
		return engine_emit_error(v, v->scratch.data, v->scratch.len, n);
	return 0;
}

static int moved_to(struct vigil *v, const struct source_record *rec, uint64_t pos)
{
	struct learn *l = v->learn;
	struct tree *t = &v->tree;
	bool paired = l->has_from && l->from.cookie == rec->cookie;
	bool unlisted = paired && l->from_unlisted;
	l->from_unlisted = false;
	if (rec->child > 0 && bitset_has(&l->ahead, rec->child)) {
		unlisted = true;
		bitset_put(&l->ahead, rec->child, false);
	}
	struct move_half h = paired ? l->from : (struct move_half){.dir_node = NODE_NONE};
	l->from = (struct move_half){0};
	l->has_from = false;
	uint32_t flags = 0;
	uint32_t to = node_of(v, rec->wd, pos, &flags);
	bool from_in = h.dir_node != NODE_NONE && tree_node(t, h.dir_node)->used;
	/* what it holds was in the trees already: not news where it lands
	 * (unless a listing reported it and could not list it: a reader has
	 * its name alone, learn_unlisted(); or it leaves a directory whose
	 * listing was put off, which will not find it now: a reader has
	 * nothing of it, and it is listed where it lands, as if from
	 * outside) */
	bool known = from_in && (rec->mask & IN_ISDIR) && !unlisted &&
		     watchable(v, h.dir_node, h.name, h.name_len) &&
		     !engine_listing_owed(v, h.dir_node) &&
		     !left_before_listing(v, h.dir_node, l->from_pos);
	int e = 0;
	uint32_t ri = to != NODE_NONE ? engine_root_index(v, to) : NODE_NONE;
	uint32_t fri = from_in ? engine_root_index(v, h.dir_node) : NODE_NONE;
	if (ri != NODE_NONE && fri != NODE_NONE && (v->flags & VIGIL_PAIR_MOVES)) {
		if (wanted(&v->roots[ri], rec->mask | h.mask)) {
			const char *dir;
			size_t dir_len;
			if ((e = engine_node_dir(v, to, &dir, &dir_len)) == 0)
				e = engine_emit(v, dir, dir_len, rec->name, rec->name_len,
						rec->mask | IN_MOVED_FROM, rec->cookie, flags, 0, &h);
		}
	} else {
		/* a file moved from a name where the tree has a directory: a
		 * listing that ran ahead found there one that came after the
		 * file left. Its halves go unpaired, so that a reader drops what
		 * it has under the old name and carries nothing to the new one
		 * (the directory's own way there, read later, lists it again) */
		uint32_t cookie = rec->cookie;
		if (!(rec->mask & IN_ISDIR) && from_in &&
		    tree_find_child(t, h.dir_node, h.name, h.name_len) != NODE_NONE)
			cookie = 0;
		if (fri != NODE_NONE && wanted(&v->roots[fri], h.mask))
			e = engine_emit(v, h.dir, h.dir_len, h.name, h.name_len, h.mask, cookie,
					l->from_flags, 0, NULL);
		if (e == 0 && ri != NODE_NONE && wanted(&v->roots[ri], rec->mask))
			e = engine_emit_at(v, to, rec->name, rec->name_len, rec->mask,
					   cookie, flags);
	}
	move_half_free(&h);
	if (e < 0 || !(rec->mask & IN_ISDIR))
		return e;
	/* the tree follows the directory, by the handle the event gave */
	uint32_t c = rec->child > 0 ? tree_find_wd(t, rec->child) : NODE_NONE;
	if (c != NODE_NONE && tree_node(t, c)->root != NODE_NONE)
		return 0; /* a root renamed keeps the path it was given */
	if (c != NODE_NONE && !from_in && tree_node(t, c)->parent != NODE_NONE &&
	    tree_node(t, c)->root == NODE_NONE && engine_root_index(v, c) != NODE_NONE &&
	    (tree_node(t, c)->parent != to ||
	     tree_find_child(t, to, rec->name, rec->name_len) != c)) {
		/* in from outside by the event, and in the trees by the tree:
		 * its way out was lost (merged by the kernel into an earlier
		 * one, learn.h), and a reader has it where the tree has it */
		char old[NAME_MAX + 1];
		const struct node *x = tree_node(t, c);
		size_t ol = x->name_len < sizeof(old) ? x->name_len : sizeof(old) - 1;
		memcpy(old, tree_name(t, c), ol);
		uint32_t p = x->parent, pri = engine_root_index(v, p);
		if (pri != NODE_NONE && wanted(&v->roots[pri], IN_DELETE) &&
		    (e = engine_emit_at(v, p, old, ol, IN_DELETE | IN_ISDIR, 0,
					VIGIL_EVENT_SYNTHETIC)) < 0)
			return e;
	}
	if (to != NODE_NONE && watchable(v, to, rec->name, rec->name_len)) {
		bitset_put(&l->left, rec->child, false);
		if (!known)
			return moved_in(v, to, rec->name, rec->name_len, rec->child);
		if (rec->child > 0)
			place(v, to, rec->child, rec->name, rec->name_len);
		return 0;
	}
	if (c != NODE_NONE) {
		/* out of the trees, or to where it is not watched */
		tree_remove(t, c, engine_unwatch, v);
		v->tree_gen++;
		/* out of memory: a move back lost meanwhile goes unsaid */
		(void)bitset_put(&l->left, rec->child, true);
	}
	if (rec->child > 0 && to == NODE_NONE)
		v->src.ops->outside(&v->src, rec->child, v->learn->pos);
	return 0;
}

/* The source's word that what the events say of directory WD may be short
 * of what happened there (the kernel merged a change into an identical one
 * queued before it: source_fanotify.c): it is listed again, and what a
 * reader was not told is reported. The source sends such records in a run,
 * after all else; they are listed together at the last of the run, once
 * the engine has caught up with the kernel. Before that, a listing would
 * run ahead of the events, which would then take back what it reported (a
 * rename read after it moves what it found already moved): the run goes
 * back to the source, to come again after what is queued now. */
static int recheck(struct vigil *v, int wd, uint64_t pos)
{
	struct learn *l = v->learn;
	if (array_grow((void **)&l->recheck, &l->cap_recheck, l->n_recheck,
		       sizeof(*l->recheck), 16) < 0)
		return -ENOMEM;
	l->recheck[l->n_recheck++] = wd;
	if (v->rbuf_off < v->rbuf_len)
		return 0; /* more of the run, or more events, read already */
	if (!engine_caught_up(v)) {
		for (size_t i = 0; i < l->n_recheck; i++)
			v->src.ops->recheck(&v->src, l->recheck[i]);
		l->n_recheck = 0;
		return 0;
	}
	int e = 0;
	for (size_t i = 0; i < l->n_recheck && e == 0; i++) {
		uint32_t flags = 0;
		uint32_t node = node_of(v, l->recheck[i], pos, &flags);
		uint32_t ri = node == NODE_NONE ? NODE_NONE : engine_root_index(v, node);
		if (ri == NODE_NONE)
			continue;
		/* what vanished, compared with what the tree and the names
		 * held say; then all it holds, as for a directory new to the
		 * trees: a reader may have had less than the tree says (what
		 * a move brought, when the move before it was lost) */
		e = crawl_recheck(v, ri, node);
		drop_orphans(v);
		if (e == 0 && tree_node(&v->tree, node)->used)
			e = crawl_relist(v, ri, node, true);
		drop_orphans(v);
		if (e == -ESTALE)
			e = engine_retry_relist(v, ri, node, true);
		else if (e != -ENOMEM)
			e = 0;
	}
	l->n_recheck = 0;
	return e;
}

/* Mark NODE and all below it found by this generation's listing: its
 * subtree, in pre-order, by the sibling links. */
static void mark_found(struct vigil *v, uint32_t node)
{
	struct tree *t = &v->tree;
	if (node == NODE_NONE)
		return;
	for (uint32_t n = node;;) {
		struct node *x = tree_node(t, n);
		x->mark = v->generation;
		if (x->first_child != NODE_NONE) {
			n = x->first_child;
			continue;
		}
		while (n != node && tree_node(t, n)->next_sibling == NODE_NONE)
			n = tree_node(t, n)->parent;
		if (n == node)
			return;
		n = tree_node(t, n)->next_sibling;
	}
}

bool learn_found_ahead(struct vigil *v, int wd, uint32_t parent, const char *name, size_t len,
		       uint32_t whole)
{
	struct learn *l = v->learn;
	if (!l)
		return false;
	struct tree *t = &v->tree;
	int p;
	/* (the source reads the kernel dry first: every rename queued until
	 * now, the listing's included, is in its log; with none, the place
	 * as of the record is where it is now, where the listing found it) */
	if (!v->src.ops->moves_later(&v->src, wd, l->pos))
		return false;
	int e = v->src.ops->resolve(&v->src, wd, l->pos, &p, &l->name);
	if ((e < 0 && e != -EAGAIN) ||
	    (e == 0 && p == tree_node(t, parent)->wd && l->name.len == len &&
	     memcmp(l->name.data, name, len) == 0))
		return false; /* where the events put it, or cannot tell */
	/* elsewhere, or nowhere yet (made after the record: its CREATE,
	 * still to read, places it); and the one the tree has under NAME
	 * stays if its way out is queued too, before what brings WD there.
	 * If not, that way out was merged by the kernel into an earlier
	 * event (a directory moved out, in and out again): it is gone, and
	 * the listing's sweep says so */
	uint32_t node = tree_find_wd(t, wd);
	uint32_t there = tree_find_child(t, parent, name, len);
	uint32_t was = e == 0 && whole != NODE_NONE && l->listing_new ? tree_find_wd(t, p)
									 : NODE_NONE;
	/* out of memory: listed where it lands only if it moves in from
	 * elsewhere */
	if (was != NODE_NONE && (was == whole || tree_is_ancestor(t, whole, was)))
		(void)bitset_put(&l->ahead, wd, true);
	mark_found(v, node);
	if (there != NODE_NONE && there != node &&
	    v->src.ops->moves_later(&v->src, tree_node(t, there)->wd, l->pos))
		mark_found(v, there);
	return true;
}

bool learn_file_ahead(struct vigil *v, uint32_t parent, const char *name, size_t len)
{
	struct learn *l = v->learn;
	if (!l)
		return false;
	struct tree *t = &v->tree;
	uint32_t x = tree_find_child(t, parent, name, len);
	if (x == NODE_NONE || tree_node(t, x)->root != NODE_NONE)
		return false;
	int wd = tree_node(t, x)->wd, p;
	if (!v->src.ops->moves_later(&v->src, wd, l->pos) ||
	    v->src.ops->resolve(&v->src, wd, l->pos, &p, &l->name) < 0 ||
	    p != tree_node(t, parent)->wd || l->name.len != len ||
	    memcmp(l->name.data, name, len) != 0)
		return false;
	mark_found(v, x);
	return true;
}

void learn_keep_unfound(struct vigil *v)
{
	struct learn *l = v->learn;
	if (!l)
		return;
	struct tree *t = &v->tree;
	for (uint32_t n = 0; n < t->nodes_len; n++) {
		const struct node *x = tree_node(t, n);
		if (!x->used || x->mark == v->generation || x->root != NODE_NONE ||
		    x->parent == NODE_NONE || tree_node(t, x->parent)->mark != v->generation)
			continue;
		int p;
		if (v->src.ops->resolve(&v->src, x->wd, l->pos, &p, &l->name) == 0 &&
		    p == tree_node(t, x->parent)->wd && l->name.len == x->name_len &&
		    memcmp(l->name.data, tree_name(t, n), x->name_len) == 0)
			mark_found(v, n);
	}
}

int learn_process(struct vigil *v, const struct source_record *rec, uint64_t pos)
{
	struct learn *l = v->learn;
	l->pos = pos;
	struct tree *t = &v->tree;
	int e = 0;
	if (l->has_from && !((rec->mask & IN_MOVED_TO) && rec->cookie == l->from.cookie)) {
		/* never expected: the halves come together. Out it went. */
		struct source_record out = {.wd = -1, .mask = IN_MOVED_TO | (l->from.mask & IN_ISDIR),
					    .cookie = l->from.cookie, .name = "", .pid = l->from.pid};
		if ((e = moved_to(v, &out, pos)) < 0)
			return e;
	}
	if ((rec->mask & IN_Q_OVERFLOW) && rec->wd > 0)
		return recheck(v, rec->wd, pos);
	if (l->n_recheck) {
		/* events after a run cut short: it comes again after them */
		for (size_t i = 0; i < l->n_recheck; i++)
			v->src.ops->recheck(&v->src, l->recheck[i]);
		l->n_recheck = 0;
	}
	if (rec->mask & IN_Q_OVERFLOW) {
		/* every place learnt is to be looked up again when next used */
		if (!++l->gen)
			l->gen = 1;
		l->gen &= ~LEARN_GONE;
		return engine_emit(v, "", 0, "", 0, IN_Q_OVERFLOW, 0, VIGIL_EVENT_OVERFLOW, 0, NULL);
	}
	if (rec->mask & IN_MOVED_FROM)
		return moved_from(v, rec, pos);
	if (rec->mask & IN_MOVED_TO)
		return moved_to(v, rec, pos);
	uint32_t flags = 0;
	uint32_t node = node_of(v, rec->wd, pos, &flags);
	if (node == NODE_NONE)
		return 0;
	uint32_t ri = engine_root_index(v, node);
	if (ri == NODE_NONE)
		return 0;
	const struct root *r = &v->roots[ri];
	bool is_dir = rec->mask & IN_ISDIR;
	if (rec->mask & IN_IGNORED)
		return watch_over(v, node, flags);
	if (is_dir && (rec->mask & IN_CREATE) && rec->child > 0 && wanted(r, IN_DELETE)) {
		/* made where the tree has another directory, which no event
		 * took away: its way out was merged by the kernel into an
		 * earlier event (moved out, in and out again), and a reader,
		 * who still has it there, is told it is gone before the new
		 * one is made (place() drops it from the tree) */
		uint32_t there = tree_find_child(t, node, rec->name, rec->name_len);
		if (there != NODE_NONE && tree_node(t, there)->wd != rec->child &&
		    tree_node(t, there)->root == NODE_NONE &&
		    (e = engine_emit_at(v, node, rec->name, rec->name_len, IN_DELETE | IN_ISDIR, 0,
					VIGIL_EVENT_SYNTHETIC)) < 0)
			return e;
	}
	if (wanted(r, rec->mask)) {
		struct node *x = tree_node(t, node);
		if (!rec->name_len && is_dir && x->parent != NODE_NONE &&
		    (rec->mask & (IN_OPEN | IN_ACCESS | IN_CLOSE | IN_ATTRIB | IN_MODIFY))) {
			/* inotify says it in the parent too, first */
			char *name = strndup(tree_name(t, node), x->name_len);
			if (!name)
				return -ENOMEM;
			e = engine_emit_at(v, x->parent, name, strlen(name), rec->mask, 0, flags);
			free(name);
		}
		if (e == 0)
			e = engine_emit_at(v, node, rec->name, rec->name_len, rec->mask,
					   rec->cookie, flags);
		if (e < 0)
			return e;
	}
	if ((rec->mask & IN_DELETE) && rec->name_len) {
		take_unlisted(v, node, rec->name, rec->name_len);
		if (rec->child > 0)
			bitset_put(&l->ahead, rec->child, false);
	}
	if (!is_dir)
		return 0;
	if ((rec->mask & IN_DELETE_SELF) && !rec->name_len)
		return watch_over(v, node, flags);
	if ((rec->mask & IN_CREATE) && rec->child > 0)
		place(v, node, rec->child, rec->name, rec->name_len);
	if (rec->mask & IN_DELETE) {
		uint32_t c = rec->child > 0 ? tree_find_wd(t, rec->child) : NODE_NONE;
		if (c == NODE_NONE)
			c = tree_find_child(t, node, rec->name, rec->name_len);
		if (c != NODE_NONE && tree_node(t, c)->root == NODE_NONE) {
			tree_remove(t, c, engine_unwatch, v);
			v->tree_gen++;
		}
	}
	return 0;
}
