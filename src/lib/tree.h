/* The tree of watched directories.
 *
 * A node is one watch: a parent index and its own name, never a full path.
 * Paths are built on demand by walking up, so renaming a directory is O(1)
 * whatever lies below it. Two hash tables find nodes: by watch descriptor,
 * and by (parent, name). Nodes live in one array and are named by index, which
 * keeps a node small (no pointers) and lets freed slots be reused.
 *
 * Memory is what a big tree costs (100,000 directories: about 4 MB of
 * nodes, 0.6 MB for each table, then the names): a node is 40 bytes; the
 * names are kept end to end in one buffer, addressed by 32-bit offsets,
 * whose dead bytes (names of removed or renamed nodes) are squeezed out
 * once they are more than the live ones (and 4 KiB); the tables hold node
 * indices only (the key is read from the node) and are filled to three
 * quarters, with sizes growing by half, not doubling, so that no table is
 * more than twice what its entries need.
 */
#ifndef VIGIL_TREE_H
#define VIGIL_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define NODE_NONE UINT32_MAX

struct node {
	uint32_t name_off;     /* own name in the tree's names, NUL-terminated;
				  a root's is its path as given */
	uint32_t name_len : 29;
	uint32_t used : 1;
	uint32_t owed : 1;     /* the engine's: what it holds was taken back
				  from a reader, to be listed again where it
				  is next found (crawl_new()) */
	uint32_t named : 1;    /* the engine's, with owed: a reader has the
				  path itself, as an arrival under its name
				  reported it (crawl_new()); cleared when a
				  reader is told the path is gone */
	uint32_t parent;       /* NODE_NONE for a root or a detached node */
	uint32_t first_child;
	uint32_t next_sibling; /* also links the free list */
	uint32_t prev_sibling;
	int wd;                /* watch descriptor; 0 for a free slot */
	uint32_t root;         /* for a root node: the engine's root index */
	uint32_t mark;         /* re-crawl generation that last saw it */
	uint32_t serial;       /* unique per allocation: tells a node from a
				  later one reusing its slot */
};

/* Open addressing (linear probing, backward-shift deletion) of node
 * indices, NODE_NONE for an empty slot. */
struct node_index {
	uint32_t *slot;
	uint32_t cap, len;
};

struct tree {
	struct node *nodes;
	uint32_t nodes_len, nodes_cap;
	uint32_t free_head;
	uint32_t count;        /* nodes in use */
	uint32_t serial;       /* the last serial handed out */
	char *names;           /* every node's name, end to end */
	uint32_t names_len, names_cap;
	uint32_t names_dead;   /* bytes of names no node has any more */
	struct node_index wds;      /* by wd */
	struct node_index children; /* by (parent, name) */
};

/* Whether a table of CAP slots may hold LEN entries (three quarters). */
static inline bool tree_index_fits(uint32_t len, uint32_t cap)
{
	return (uint64_t)len * 4 <= (uint64_t)cap * 3;
}

void tree_init(struct tree *t);
void tree_fini(struct tree *t);

static inline struct node *tree_node(const struct tree *t, uint32_t n)
{
	return &t->nodes[n];
}

/* NODE's own name (name_len bytes and a NUL). Valid until the next call
 * that adds, renames or removes a node. */
static inline const char *tree_name(const struct tree *t, uint32_t n)
{
	return t->names + t->nodes[n].name_off;
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
 * must be free under NEW_PARENT; it may be another node's tree_name(). With
 * NEW_PARENT NODE_NONE, NODE is only renamed, and left detached (see
 * tree_detach()). Returns 0, or -ELOOP or -ENOMEM with nothing changed. */
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
