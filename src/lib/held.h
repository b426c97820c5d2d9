/* What each watched directory holds, as far as names go: the entries that
 * are not watched directories themselves (those are tree nodes). Kept from
 * the listings and from the kernel's creates, deletes and moves, it is what
 * a reader of the events was told each directory holds; a re-scan after an
 * overflow compares each listing with it, and reports what appeared and
 * what vanished in the gap (vigil.h, VIGIL_EVENT_OVERFLOW).
 *
 * An entry is 24 bytes, plus its name in one buffer of names (squeezed
 * like the tree's), plus a slot of 4 bytes in a table filled to at most a
 * half; each directory node has a chain head (8 bytes). Entries
 * are filed under the node's index and serial, so that a node freed and
 * its slot reused does not inherit them: the old chain is dropped when
 * the new node is first used.
 */
#ifndef VIGIL_HELD_H
#define VIGIL_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HELD_NONE UINT32_MAX

struct held_entry {
	uint32_t node;     /* the directory node's index */
	uint32_t next;     /* the next entry of that node, or HELD_NONE; links
			      the free list too */
	uint32_t prev;     /* the previous one, or HELD_NONE */
	uint32_t name_off; /* in names; HELD_NONE for a free entry */
	uint32_t name_len;
	uint32_t hash;     /* of node and name: the table moves entries by it */
};

struct held_dir {
	uint32_t first;  /* the node's first entry, or HELD_NONE */
	uint32_t serial; /* of the node the chain belongs to */
};

struct held {
	struct held_entry *v;
	uint32_t len, cap, free_head, count;
	uint32_t *table;    /* entry indices, HELD_NONE for empty; a power of two */
	uint32_t table_cap;
	struct held_dir *dirs;
	uint32_t dirs_cap;
	char *names;
	uint32_t names_len, names_cap, names_dead;
};

void held_init(struct held *h);
void held_fini(struct held *h);

/* Whether directory NODE (SERIAL) holds NAME. */
bool held_has(struct held *h, uint32_t node, uint32_t serial, const char *name,
	      size_t len);
/* NODE holds NAME (again): 0, or -ENOMEM. */
int held_add(struct held *h, uint32_t node, uint32_t serial, const char *name,
	     size_t len);
/* NODE no longer holds NAME (if it did). */
void held_del(struct held *h, uint32_t node, uint32_t serial, const char *name,
	      size_t len);
/* Forget all NODE holds. */
void held_clear(struct held *h, uint32_t node, uint32_t serial);

/* NODE's entries, one after the other: the first (HELD_NONE when none),
 * and the next after I. Deleting I does not disturb the walk when its next
 * was taken before. */
uint32_t held_first(struct held *h, uint32_t node, uint32_t serial);
static inline uint32_t held_next(const struct held *h, uint32_t i)
{
	return h->v[i].next;
}
static inline const char *held_name(const struct held *h, uint32_t i, size_t *ret_len)
{
	*ret_len = h->v[i].name_len;
	return h->names + h->v[i].name_off;
}
/* Bytes held, for the man page's figures. */
size_t held_bytes(const struct held *h);

#endif
