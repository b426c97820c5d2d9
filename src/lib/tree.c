#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_MIN 64
#define NAMES_MIN 4096

static uint32_t hash_name(uint32_t parent, const char *s, size_t len)
{
	uint32_t h = 2166136261u ^ (parent * 0x9e3779b1u);
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	return h;
}

static uint32_t hash_wd(int wd)
{
	uint32_t h = (uint32_t)wd * 0x9e3779b1u;
	return h ^ (h >> 16);
}

void tree_init(struct tree *t)
{
	memset(t, 0, sizeof(*t));
	t->free_head = NODE_NONE;
}

void tree_fini(struct tree *t)
{
	free(t->nodes);
	free(t->names);
	free(t->wds.slot);
	free(t->children.slot);
	tree_init(t);
}

/* --- names ------------------------------------------------------------------- */

/* Copy NAME (LEN bytes, then a NUL) to the end of the names; *RET_OFF is
 * where. NAME may lie in the names themselves. */
static int names_put(struct tree *t, const char *name, size_t len, uint32_t *ret_off)
{
	uint64_t need = (uint64_t)t->names_len + len + 1;
	if (need > UINT32_MAX)
		return -ENOMEM;
	if (need > t->names_cap) {
		uint64_t cap = t->names_cap ? t->names_cap : NAMES_MIN;
		while (cap < need)
			cap *= 2;
		if (cap > UINT32_MAX)
			cap = UINT32_MAX;
		bool inside = t->names && name >= t->names && name < t->names + t->names_len;
		size_t from = inside ? (size_t)(name - t->names) : 0;
		char *p = realloc(t->names, (size_t)cap);
		if (!p)
			return -ENOMEM;
		if (inside)
			name = p + from;
		t->names = p;
		t->names_cap = (uint32_t)cap;
	}
	memcpy(t->names + t->names_len, name, len);
	t->names[t->names_len + len] = '\0';
	*ret_off = t->names_len;
	t->names_len += (uint32_t)len + 1;
	return 0;
}

/* Copy the live names into a buffer of their size once the dead ones are
 * more than half: the cost is paid by as many bytes freed, and a failed
 * allocation only leaves the names as they are. */
static void names_squeeze(struct tree *t)
{
	if (t->names_dead <= t->names_len / 2 || t->names_dead < NAMES_MIN)
		return;
	uint32_t live = t->names_len - t->names_dead, cap = NAMES_MIN;
	while (cap < live)
		cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
	char *p = malloc(cap);
	if (!p)
		return;
	uint32_t len = 0;
	for (uint32_t n = 0; n < t->nodes_len; n++) {
		struct node *x = &t->nodes[n];
		if (!x->used)
			continue;
		memcpy(p + len, t->names + x->name_off, (size_t)x->name_len + 1);
		x->name_off = len;
		len += x->name_len + 1;
	}
	free(t->names);
	t->names = p;
	t->names_len = len;
	t->names_cap = cap;
	t->names_dead = 0;
}

/* --- the two indexes ------------------------------------------------------------ */

/* Slot J of CAP for hash H: the high bits of H, scaled, so that CAP need
 * not be a power of two. */
static uint32_t index_home(uint32_t h, uint32_t cap)
{
	return (uint32_t)(((uint64_t)h * cap) >> 32);
}

static uint32_t index_next(uint32_t j, uint32_t cap)
{
	return j + 1 == cap ? 0 : j + 1;
}

/* How far J lies after I, around the ring of CAP slots. */
static uint32_t index_dist(uint32_t i, uint32_t j, uint32_t cap)
{
	return j >= i ? j - i : j + cap - i;
}

/* The hash node N is filed under in IX. */
static uint32_t node_key(const struct tree *t, const struct node_index *ix, uint32_t n)
{
	const struct node *x = &t->nodes[n];
	if (ix == &t->wds)
		return hash_wd(x->wd);
	return hash_name(x->parent, t->names + x->name_off, x->name_len);
}

/* Make room in IX for one more entry. */
static int index_reserve(struct tree *t, struct node_index *ix)
{
	if (tree_index_fits(ix->len + 1, ix->cap))
		return 0;
	uint64_t cap = ix->cap < INDEX_MIN ? INDEX_MIN : (uint64_t)ix->cap + ix->cap / 2;
	if (cap > UINT32_MAX)
		return -ENOMEM;
	uint32_t *s = malloc((size_t)cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0xff, (size_t)cap * sizeof(*s));
	for (uint32_t i = 0; i < ix->cap; i++) {
		uint32_t n = ix->slot[i];
		if (n == NODE_NONE)
			continue;
		uint32_t j = index_home(node_key(t, ix, n), (uint32_t)cap);
		while (s[j] != NODE_NONE)
			j = index_next(j, (uint32_t)cap);
		s[j] = n;
	}
	free(ix->slot);
	ix->slot = s;
	ix->cap = (uint32_t)cap;
	return 0;
}

/* File node N, whose key fields are set, in IX (room made beforehand). */
static void index_add(struct tree *t, struct node_index *ix, uint32_t n)
{
	uint32_t j = index_home(node_key(t, ix, n), ix->cap);
	while (ix->slot[j] != NODE_NONE)
		j = index_next(j, ix->cap);
	ix->slot[j] = n;
	ix->len++;
}

/* Take node N out of IX, its key fields as they were when it was filed.
 * Backward-shift deletion: no tombstones, so lookups stay short however
 * long the process runs. */
static void index_delete(struct tree *t, struct node_index *ix, uint32_t n)
{
	if (!ix->cap)
		return;
	uint32_t cap = ix->cap, i = index_home(node_key(t, ix, n), cap);
	while (ix->slot[i] != n) {
		if (ix->slot[i] == NODE_NONE)
			return;
		i = index_next(i, cap);
	}
	for (uint32_t j = i;;) {
		j = index_next(j, cap);
		uint32_t m = ix->slot[j];
		if (m == NODE_NONE)
			break;
		uint32_t home = index_home(node_key(t, ix, m), cap);
		/* move j back to i unless its home lies cyclically in (i, j] */
		if (index_dist(home, j, cap) >= index_dist(i, j, cap)) {
			ix->slot[i] = m;
			i = j;
		}
	}
	ix->slot[i] = NODE_NONE;
	ix->len--;
}

uint32_t tree_find_wd(const struct tree *t, int wd)
{
	const struct node_index *ix = &t->wds;
	if (!ix->cap || wd <= 0)
		return NODE_NONE;
	for (uint32_t n, j = index_home(hash_wd(wd), ix->cap);
	     (n = ix->slot[j]) != NODE_NONE; j = index_next(j, ix->cap))
		if (t->nodes[n].wd == wd)
			return n;
	return NODE_NONE;
}

uint32_t tree_find_child(const struct tree *t, uint32_t parent,
			 const char *name, size_t len)
{
	const struct node_index *ix = &t->children;
	if (!ix->cap)
		return NODE_NONE;
	for (uint32_t n, j = index_home(hash_name(parent, name, len), ix->cap);
	     (n = ix->slot[j]) != NODE_NONE; j = index_next(j, ix->cap)) {
		const struct node *x = &t->nodes[n];
		if (x->parent == parent && x->name_len == len &&
		    memcmp(t->names + x->name_off, name, len) == 0)
			return n;
	}
	return NODE_NONE;
}

/* --- nodes ----------------------------------------------------------------- */

static uint32_t node_alloc(struct tree *t)
{
	uint32_t n;
	if (t->free_head != NODE_NONE) {
		n = t->free_head;
		t->free_head = t->nodes[n].next_sibling;
	} else {
		if (t->nodes_len == t->nodes_cap) {
			uint32_t cap = t->nodes_cap ? t->nodes_cap * 2 : 64;
			if (cap >= NODE_NONE)
				return NODE_NONE;
			struct node *p = realloc(t->nodes, (size_t)cap * sizeof(*p));
			if (!p)
				return NODE_NONE;
			t->nodes = p;
			t->nodes_cap = cap;
		}
		n = t->nodes_len++;
	}
	memset(&t->nodes[n], 0, sizeof(t->nodes[n]));
	t->nodes[n].parent = t->nodes[n].first_child = NODE_NONE;
	t->nodes[n].next_sibling = t->nodes[n].prev_sibling = NODE_NONE;
	t->nodes[n].root = NODE_NONE;
	t->nodes[n].used = true;
	if (++t->serial == 0)
		++t->serial;
	t->nodes[n].serial = t->serial;
	t->count++;
	return n;
}

static void node_release(struct tree *t, uint32_t n)
{
	struct node *x = &t->nodes[n];
	if (x->wd)
		index_delete(t, &t->wds, n);
	t->names_dead += x->name_len + 1;
	memset(x, 0, sizeof(*x));
	x->next_sibling = t->free_head;
	t->free_head = n;
	t->count--;
}

static void link_child(struct tree *t, uint32_t parent, uint32_t n)
{
	struct node *p = &t->nodes[parent], *x = &t->nodes[n];
	x->parent = parent;
	x->prev_sibling = NODE_NONE;
	x->next_sibling = p->first_child;
	if (p->first_child != NODE_NONE)
		t->nodes[p->first_child].prev_sibling = n;
	p->first_child = n;
}

static void unlink_child(struct tree *t, uint32_t n)
{
	struct node *x = &t->nodes[n];
	if (x->parent == NODE_NONE)
		return;
	if (x->prev_sibling != NODE_NONE)
		t->nodes[x->prev_sibling].next_sibling = x->next_sibling;
	else
		t->nodes[x->parent].first_child = x->next_sibling;
	if (x->next_sibling != NODE_NONE)
		t->nodes[x->next_sibling].prev_sibling = x->prev_sibling;
	x->parent = x->next_sibling = x->prev_sibling = NODE_NONE;
}

/* A node named NAME, under PARENT (or none) and filed in both indexes,
 * all or nothing: room is made everywhere before anything changes. */
static uint32_t node_new(struct tree *t, uint32_t parent, const char *name,
			 size_t len, int wd)
{
	uint32_t off;
	if (len >= (1u << 29) || (wd > 0 && index_reserve(t, &t->wds) < 0) ||
	    (parent != NODE_NONE && index_reserve(t, &t->children) < 0) ||
	    names_put(t, name, len, &off) < 0)
		return NODE_NONE;
	uint32_t n = node_alloc(t);
	if (n == NODE_NONE) {
		t->names_len = off; /* the name just put is the last one */
		return NODE_NONE;
	}
	struct node *x = &t->nodes[n];
	x->name_off = off;
	x->name_len = (uint32_t)len;
	if (wd > 0) {
		x->wd = wd;
		index_add(t, &t->wds, n);
	}
	if (parent != NODE_NONE) {
		link_child(t, parent, n);
		index_add(t, &t->children, n);
	}
	return n;
}

uint32_t tree_add_root(struct tree *t, const char *path, size_t len, int wd,
		       uint32_t root)
{
	uint32_t n = node_new(t, NODE_NONE, path, len, wd);
	if (n != NODE_NONE)
		t->nodes[n].root = root;
	return n;
}

uint32_t tree_add_child(struct tree *t, uint32_t parent, const char *name,
			size_t len, int wd)
{
	return node_new(t, parent, name, len, wd);
}

int tree_set_wd(struct tree *t, uint32_t n, int wd)
{
	struct node *x = &t->nodes[n];
	if (x->wd == wd)
		return 0;
	if (wd > 0 && index_reserve(t, &t->wds) < 0)
		return -ENOMEM;
	if (x->wd)
		index_delete(t, &t->wds, n);
	x->wd = wd;
	if (wd > 0)
		index_add(t, &t->wds, n);
	return 0;
}

/* Walks up are bounded by the number of nodes, so that a cycle (a bug) is a
 * wrong answer rather than a hang. */
bool tree_is_ancestor(const struct tree *t, uint32_t anc, uint32_t n)
{
	for (uint32_t steps = 0; n != NODE_NONE && steps <= t->nodes_len;
	     n = t->nodes[n].parent, steps++)
		if (n == anc)
			return true;
	return false;
}

int tree_rename(struct tree *t, uint32_t n, uint32_t new_parent,
		const char *name, size_t len)
{
	if (tree_is_ancestor(t, n, new_parent))
		return -ELOOP;
	if (len >= (1u << 29))
		return -ENOMEM;
	struct node *x = &t->nodes[n];
	bool same = len == x->name_len && memcmp(name, t->names + x->name_off, len) == 0;
	uint32_t off = x->name_off;
	/* All the memory first, so that a failure changes nothing: a slot in
	 * the name index (an attached node frees its own on the way), and
	 * room for a longer name at the end (a shorter one goes over the old). */
	if ((x->parent == NODE_NONE && new_parent != NODE_NONE &&
	     index_reserve(t, &t->children) < 0) ||
	    (!same && len > x->name_len && names_put(t, name, len, &off) < 0))
		return -ENOMEM;
	/* named (the engine's) is of its path: kept only where that stays */
	bool named = same && x->parent == new_parent && x->named;
	/* the old key takes it out of the name index */
	tree_detach(t, n);
	x = &t->nodes[n];
	x->named = named;
	if (!same) {
		if (off == x->name_off) {
			memmove(t->names + off, name, len);
			t->names[off + len] = '\0';
			t->names_dead += x->name_len - (uint32_t)len;
		} else {
			t->names_dead += x->name_len + 1;
		}
		x->name_off = off;
		x->name_len = (uint32_t)len;
	}
	if (new_parent != NODE_NONE) {
		link_child(t, new_parent, n);
		index_add(t, &t->children, n);
	}
	if (!same)
		names_squeeze(t);
	return 0;
}

void tree_detach(struct tree *t, uint32_t n)
{
	if (t->nodes[n].parent == NODE_NONE)
		return;
	t->nodes[n].named = 0;
	index_delete(t, &t->children, n);
	unlink_child(t, n);
}

void tree_remove(struct tree *t, uint32_t top, void (*fn)(void *ctx, int wd),
		 void *ctx)
{
	tree_detach(t, top);
	uint32_t cur = top;
	for (;;) {
		while (t->nodes[cur].first_child != NODE_NONE)
			cur = t->nodes[cur].first_child;
		uint32_t parent = t->nodes[cur].parent;
		if (fn && t->nodes[cur].wd > 0)
			fn(ctx, t->nodes[cur].wd);
		if (cur == top) {
			node_release(t, cur);
			break;
		}
		index_delete(t, &t->children, cur);
		unlink_child(t, cur);
		node_release(t, cur);
		cur = parent;
	}
	names_squeeze(t);
}

uint32_t tree_root_of(const struct tree *t, uint32_t n)
{
	for (uint32_t steps = 0; t->nodes[n].parent != NODE_NONE; steps++) {
		if (steps > t->nodes_len)
			return NODE_NONE;
		n = t->nodes[n].parent;
	}
	return n;
}

/* Two walks up: one to size the path, one to fill it in from the end. No
 * stack, however deep the tree. */
int tree_path(const struct tree *t, uint32_t n, struct buf *out)
{
	size_t total = 0;
	uint32_t steps = 0;
	for (uint32_t c = n; c != NODE_NONE; c = t->nodes[c].parent) {
		const struct node *x = &t->nodes[c];
		if (++steps > t->nodes_len + 1)
			return -ELOOP;
		total += x->name_len;
		if (x->parent != NODE_NONE) {
			const struct node *p = &t->nodes[x->parent];
			if (!(p->name_len && t->names[p->name_off + p->name_len - 1] == '/'))
				total++;
		}
	}
	int r = buf_reserve(out, total);
	if (r < 0)
		return r;
	char *end = out->data + out->len + total;
	for (uint32_t c = n; c != NODE_NONE; c = t->nodes[c].parent) {
		const struct node *x = &t->nodes[c];
		end -= x->name_len;
		memcpy(end, t->names + x->name_off, x->name_len);
		if (x->parent != NODE_NONE) {
			const struct node *p = &t->nodes[x->parent];
			if (!(p->name_len && t->names[p->name_off + p->name_len - 1] == '/'))
				*--end = '/';
		}
	}
	out->len += total;
	out->data[out->len] = '\0';
	return 0;
}
