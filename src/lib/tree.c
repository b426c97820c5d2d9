#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	for (uint32_t i = 0; i < t->nodes_len; i++)
		free(t->nodes[i].name);
	free(t->nodes);
	free(t->wds);
	free(t->children);
	tree_init(t);
}

/* --- wd table ------------------------------------------------------------ */

static int wds_grow(struct tree *t)
{
	uint32_t cap = t->wds_cap ? t->wds_cap * 2 : 64;
	struct wd_slot *s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->wds_cap; i++) {
		if (!t->wds[i].wd)
			continue;
		uint32_t j = hash_wd(t->wds[i].wd) & (cap - 1);
		while (s[j].wd)
			j = (j + 1) & (cap - 1);
		s[j] = t->wds[i];
	}
	free(t->wds);
	t->wds = s;
	t->wds_cap = cap;
	return 0;
}

static int wds_insert(struct tree *t, int wd, uint32_t node)
{
	if ((t->wds_len + 1) * 2 > t->wds_cap && wds_grow(t) < 0)
		return -ENOMEM;
	uint32_t mask = t->wds_cap - 1, j = hash_wd(wd) & mask;
	while (t->wds[j].wd)
		j = (j + 1) & mask;
	t->wds[j].wd = wd;
	t->wds[j].node = node;
	t->wds_len++;
	return 0;
}

static uint32_t wds_slot(const struct tree *t, int wd)
{
	if (!t->wds_cap || wd <= 0)
		return NODE_NONE;
	uint32_t mask = t->wds_cap - 1, j = hash_wd(wd) & mask;
	while (t->wds[j].wd) {
		if (t->wds[j].wd == wd)
			return j;
		j = (j + 1) & mask;
	}
	return NODE_NONE;
}

/* Linear probing with backward-shift deletion: no tombstones, so lookups
 * stay short however long the process runs. */
static void wds_delete(struct tree *t, int wd)
{
	uint32_t i = wds_slot(t, wd);
	if (i == NODE_NONE)
		return;
	uint32_t mask = t->wds_cap - 1, j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!t->wds[j].wd)
			break;
		uint32_t home = hash_wd(t->wds[j].wd) & mask;
		/* move j back to i unless its home lies cyclically in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->wds[i] = t->wds[j];
			i = j;
		}
	}
	t->wds[i].wd = 0;
	t->wds_len--;
}

uint32_t tree_find_wd(const struct tree *t, int wd)
{
	uint32_t j = wds_slot(t, wd);
	return j == NODE_NONE ? NODE_NONE : t->wds[j].node;
}

/* --- child table ----------------------------------------------------------- */

static int children_grow(struct tree *t)
{
	uint32_t cap = t->children_cap ? t->children_cap * 2 : 64;
	uint32_t *s = malloc(cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0xff, cap * sizeof(*s));
	for (uint32_t i = 0; i < t->children_cap; i++) {
		uint32_t n = t->children[i];
		if (n == NODE_NONE)
			continue;
		uint32_t j = t->nodes[n].hash & (cap - 1);
		while (s[j] != NODE_NONE)
			j = (j + 1) & (cap - 1);
		s[j] = n;
	}
	free(t->children);
	t->children = s;
	t->children_cap = cap;
	return 0;
}

static int children_insert(struct tree *t, uint32_t n)
{
	if ((t->children_len + 1) * 2 > t->children_cap && children_grow(t) < 0)
		return -ENOMEM;
	uint32_t mask = t->children_cap - 1, j = t->nodes[n].hash & mask;
	while (t->children[j] != NODE_NONE)
		j = (j + 1) & mask;
	t->children[j] = n;
	t->children_len++;
	return 0;
}

static uint32_t children_slot_of(const struct tree *t, uint32_t n)
{
	if (!t->children_cap)
		return NODE_NONE;
	uint32_t mask = t->children_cap - 1, j = t->nodes[n].hash & mask;
	while (t->children[j] != NODE_NONE) {
		if (t->children[j] == n)
			return j;
		j = (j + 1) & mask;
	}
	return NODE_NONE;
}

static void children_delete(struct tree *t, uint32_t n)
{
	uint32_t i = children_slot_of(t, n);
	if (i == NODE_NONE)
		return;
	uint32_t mask = t->children_cap - 1, j = i;
	for (;;) {
		j = (j + 1) & mask;
		uint32_t m = t->children[j];
		if (m == NODE_NONE)
			break;
		uint32_t home = t->nodes[m].hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->children[i] = m;
			i = j;
		}
	}
	t->children[i] = NODE_NONE;
	t->children_len--;
}

uint32_t tree_find_child(const struct tree *t, uint32_t parent,
			 const char *name, size_t len)
{
	if (!t->children_cap)
		return NODE_NONE;
	uint32_t h = hash_name(parent, name, len);
	uint32_t mask = t->children_cap - 1, j = h & mask;
	for (uint32_t n; (n = t->children[j]) != NODE_NONE; j = (j + 1) & mask) {
		const struct node *x = &t->nodes[n];
		if (x->hash == h && x->parent == parent && x->name_len == len &&
		    memcmp(x->name, name, len) == 0)
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
		wds_delete(t, x->wd);
	free(x->name);
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

static uint32_t node_new(struct tree *t, const char *name, size_t len, int wd)
{
	if (len >= UINT32_MAX)
		return NODE_NONE;
	char *copy = malloc(len + 1);
	if (!copy)
		return NODE_NONE;
	memcpy(copy, name, len);
	copy[len] = '\0';
	uint32_t n = node_alloc(t);
	if (n == NODE_NONE) {
		free(copy);
		return NODE_NONE;
	}
	t->nodes[n].name = copy;
	t->nodes[n].name_len = (uint32_t)len;
	if (wd > 0 && wds_insert(t, wd, n) < 0) {
		node_release(t, n);
		return NODE_NONE;
	}
	t->nodes[n].wd = wd;
	return n;
}

uint32_t tree_add_root(struct tree *t, const char *path, size_t len, int wd,
		       uint32_t root)
{
	uint32_t n = node_new(t, path, len, wd);
	if (n != NODE_NONE)
		t->nodes[n].root = root;
	return n;
}

uint32_t tree_add_child(struct tree *t, uint32_t parent, const char *name,
			size_t len, int wd)
{
	uint32_t n = node_new(t, name, len, wd);
	if (n == NODE_NONE)
		return NODE_NONE;
	t->nodes[n].hash = hash_name(parent, name, len);
	if (children_insert(t, n) < 0) {
		node_release(t, n);
		return NODE_NONE;
	}
	link_child(t, parent, n);
	return n;
}

int tree_set_wd(struct tree *t, uint32_t n, int wd)
{
	struct node *x = &t->nodes[n];
	if (x->wd == wd)
		return 0;
	if (wd > 0 && wds_insert(t, wd, n) < 0)
		return -ENOMEM;
	if (x->wd)
		wds_delete(t, x->wd);
	/* wds_insert may have moved the array, not the nodes */
	t->nodes[n].wd = wd;
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
	struct node *x = &t->nodes[n];
	if (len != x->name_len || memcmp(name, x->name, len) != 0) {
		char *copy = malloc(len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, name, len);
		copy[len] = '\0';
		free(x->name);
		x->name = copy;
		x->name_len = (uint32_t)len;
	}
	tree_detach(t, n);
	x->hash = hash_name(new_parent, name, len);
	if (children_insert(t, n) < 0)
		return -ENOMEM; /* keep it reachable by wd only */
	link_child(t, new_parent, n);
	return 0;
}

void tree_detach(struct tree *t, uint32_t n)
{
	if (t->nodes[n].parent == NODE_NONE)
		return;
	children_delete(t, n);
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
			return;
		}
		children_delete(t, cur);
		unlink_child(t, cur);
		node_release(t, cur);
		cur = parent;
	}
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
			if (!(p->name_len && p->name[p->name_len - 1] == '/'))
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
		memcpy(end, x->name, x->name_len);
		if (x->parent != NODE_NONE) {
			const struct node *p = &t->nodes[x->parent];
			if (!(p->name_len && p->name[p->name_len - 1] == '/'))
				*--end = '/';
		}
	}
	out->len += total;
	out->data[out->len] = '\0';
	return 0;
}
