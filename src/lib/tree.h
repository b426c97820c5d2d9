/* The tree of watched directories.
 *
 * A node is one watch: a parent index and its own name, never a full path.
 * Paths are built on demand by walking up, so renaming a directory is O(1)
 * whatever lies below it. Two hash tables find nodes: by watch descriptor,
 * and by (parent, name). Nodes live in one array and are named by index, which
 * keeps a node small (no pointers) and lets freed slots be reused.
 */
#ifndef VIGIL_TREE_H
#define VIGIL_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define NODE_NONE UINT32_MAX

struct node {
	char *name;            /* own name; a root's is its path as given */
	uint32_t name_len;
	uint32_t hash;         /* of (parent, name): slot key in the child table */
	uint32_t parent;       /* NODE_NONE for a root or a detached node */
	uint32_t first_child;
	uint32_t next_sibling; /* also links the free list */
	uint32_t prev_sibling;
	int wd;                /* watch descriptor; 0 for a free slot */
	uint32_t root;         /* for a root node: the engine's root index */
	uint32_t mark;         /* re-crawl generation that last saw it */
	uint32_t serial;       /* unique per allocation: tells a node from a
				  later one reusing its slot */
	bool used;
};

struct wd_slot {
	int wd;                /* 0: empty */
	uint32_t node;
};

struct tree {
	struct node *nodes;
	uint32_t nodes_len, nodes_cap;
	uint32_t free_head;
	uint32_t count;        /* nodes in use */
	uint32_t serial;       /* the last serial handed out */
	struct wd_slot *wds;   /* open addressing, power-of-two size */
	uint32_t wds_cap, wds_len;
	uint32_t *children;    /* open addressing of node indices */
	uint32_t children_cap, children_len;
};

void tree_init(struct tree *t);
void tree_fini(struct tree *t);

static inline struct node *tree_node(const struct tree *t, uint32_t n)
{
	return &t->nodes[n];
}

/* Add a root (no parent) or a child of PARENT. The wd must not be in the
 * tree yet, nor a child of that name under PARENT. Return the new node's
 * index, or NODE_NONE when out of memory. */
uint32_t tree_add_root(struct tree *t, const char *path, size_t len, int wd,
		       uint32_t root);
uint32_t tree_add_child(struct tree *t, uint32_t parent, const char *name,
			size_t len, int wd);

uint32_t tree_find_wd(const struct tree *t, int wd);
uint32_t tree_find_child(const struct tree *t, uint32_t parent,
			 const char *name, size_t len);

/* Give NODE a new watch descriptor (after a re-crawl found its directory
 * under a new wd). Returns 0 or -ENOMEM. */
int tree_set_wd(struct tree *t, uint32_t node, int wd);

/* Move NODE under NEW_PARENT with a new name, in O(1) plus a walk up from
 * NEW_PARENT that refuses to make a node its own ancestor (-ELOOP). The name
 * must be free under NEW_PARENT. Returns 0, -ELOOP or -ENOMEM. */
int tree_rename(struct tree *t, uint32_t node, uint32_t new_parent,
		const char *name, size_t len);

/* Unhook NODE from its parent and the name table, keeping it and its subtree
 * (it becomes a root-less orphan until removed). */
void tree_detach(struct tree *t, uint32_t node);

/* Free NODE and everything below it, calling FN(CTX, wd) for each wd freed. */
void tree_remove(struct tree *t, uint32_t node, void (*fn)(void *ctx, int wd),
		 void *ctx);

/* Append NODE's path (root path, then each name, '/'-separated) to OUT.
 * Returns 0 or -ENOMEM. */
int tree_path(const struct tree *t, uint32_t node, struct buf *out);

/* The root node above NODE (NODE itself for a root). */
uint32_t tree_root_of(const struct tree *t, uint32_t node);

/* Whether ANC is NODE or one of its ancestors. */
bool tree_is_ancestor(const struct tree *t, uint32_t anc, uint32_t node);

#endif
