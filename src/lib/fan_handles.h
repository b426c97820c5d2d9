/* The file handles a fanotify source has met, each with an id.
 *
 * fanotify names a directory by its file handle (the filesystem's ID and
 * an opaque key, about 8 to 20 bytes), where inotify gives a watch
 * descriptor. The engine keeps its tree by watch descriptor, so every
 * handle the source hands out gets an id of its own, the same for as long
 * as it is known, never reused. Two hash tables find an entry: by handle
 * and by id (open addressing of entry indices, as the tree's tables).
 * Handles up to FAN_INLINE bytes live in the entry (ext4's and xfs's for
 * directories do); longer ones are allocated.
 */
#ifndef VIGIL_FAN_HANDLES_H
#define VIGIL_FAN_HANDLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAN_NONE UINT32_MAX
#define FAN_INLINE 24

enum fan_state {
	FAN_MET = 1,     /* handed out; the engine has not placed it yet */
	FAN_WATCHED,     /* watched: asked for (add_*), or placed by the engine */
	FAN_OUTSIDE,     /* not watched: its records are dropped */
};

struct fan_entry {
	uint64_t fsid;
	int32_t id;       /* 0 for a free slot */
	int32_t type;     /* the handle's type */
	uint32_t hash;
	uint32_t kmask;   /* inode marks: the kernel mask set */
	uint8_t len;      /* the handle's bytes */
	uint8_t state;    /* enum fan_state */
	bool file;        /* a file asked for itself, not a directory */
	bool oneshot;     /* IN_ONESHOT: unwatched after its first event */
	bool gone;        /* deleted (its DELETE_SELF was read) */
	bool recheck;     /* to be listed again (source_fanotify.c, merge_note()) */
	bool merged;      /* a rename of it may have been merged (merge_note()) */
	uint32_t next_free;
	union {
		unsigned char inl[FAN_INLINE];
		unsigned char *ext;
	} key;
};

struct fan_index {
	uint32_t *slot;
	uint32_t cap, len;
};

struct fan_handles {
	struct fan_entry *v;
	uint32_t len, cap, count;
	uint32_t free_head;
	int32_t last_id;
	struct fan_index by_key, by_id;
};

static inline const unsigned char *fan_key(const struct fan_entry *e)
{
	return e->len > FAN_INLINE ? e->key.ext : e->key.inl;
}

void fan_handles_init(struct fan_handles *h);
void fan_handles_fini(struct fan_handles *h);
/* The entry of the handle (TYPE, BYTES, LEN) on filesystem FSID, or
 * FAN_NONE. */
uint32_t fan_handles_find(const struct fan_handles *h, uint64_t fsid, int type,
			  const unsigned char *bytes, size_t len);
/* Add it (not there yet) with a new id: its index, or FAN_NONE when out of
 * memory or LEN is over MAX_HANDLE_SZ. The pointer to any entry may move. */
uint32_t fan_handles_add(struct fan_handles *h, uint64_t fsid, int type,
			 const unsigned char *bytes, size_t len, enum fan_state state);
uint32_t fan_handles_by_id(const struct fan_handles *h, int id);
void fan_handles_del(struct fan_handles *h, uint32_t i);
/* Forget every entry in STATE. */
void fan_handles_drop(struct fan_handles *h, enum fan_state state);

#endif
