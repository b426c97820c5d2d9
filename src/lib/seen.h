/* Names a directory listing reported, so the kernel's report of the same
 * entry is not delivered twice (DESIGN.md, promise 1).
 *
 * A listing runs after the watch is added, so an entry created in between is
 * seen both ways. Each listed name is remembered with the events it was
 * reported as, and with a mark: the stream offset up to which kernel events
 * were queued before the listing ended (bytes read so far plus FIONREAD).
 * A kernel event for that name before its mark is the same appearance and is
 * dropped once; a delete or move-out of the name ends the entry, since from
 * then on the kernel tells its story. An event without IN_ISDIR for a name
 * listed as a directory, before the mark, is of a file that had the name
 * before that directory: dropped, and the entry stays. So it is for a
 * directory a re-scan's listing found where the tree has it, and does not
 * report (seen_found_dir()): an entry with IN_ISDIR alone, which absorbs
 * nothing else, marked where the stream stood as the listing began.
 * Past the mark an entry means nothing, and once every mark is passed the
 * set empties. Each entry keeps the generation of the listing that added
 * it (struct seen's generation then), and, for a directory, its inode
 * (seen_set_ino()): which tells whether a directory the tree has under that
 * name is the one it reported (seen_listed()).
 */
#ifndef VIGIL_SEEN_H
#define VIGIL_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct seen_entry {
	int wd;
	uint32_t mask;   /* events still to absorb; 0: dead */
	uint64_t mark;   /* UINT64_MAX until sealed */
	uint64_t ino;    /* the directory it reported, if known (seen_set_ino());
			  * 0 if not */
	uint32_t generation; /* the listing's that added it */
	uint32_t hash;
	uint32_t name_len;
	size_t name_off; /* in names */
};

struct seen {
	struct seen_entry *v;
	size_t len, cap;
	size_t sealed;   /* entries below this have their mark */
	uint32_t *table; /* open addressing: entry index + 1, 0 empty */
	size_t table_cap;
	struct buf names;
	uint64_t max_mark;
	uint32_t generation; /* the listing's that adds entries now (the
				engine's, engine_new_generation()) */
};

int seen_add(struct seen *s, int wd, const char *name, size_t len,
	     uint32_t mask);
/* A re-scan's listing found NAME in WD's directory a directory the tree
 * has there, and reports nothing (a reader has it): unless an entry a
 * listing reported is live (its mark not passed by POS), an entry that
 * drops a file's events queued before MARK, where the stream stood as the
 * listing began (not as it ended: a file made there as the directory left
 * during the listing is news), and nothing else; it is no listed entry
 * (seen_listed()). */
int seen_found_dir(struct seen *s, int wd, const char *name, size_t len, uint64_t pos,
		   uint64_t mark);
/* The entry added last reported the directory of inode INO (its listing's
 * d_ino), which tells it from another directory under that name later
 * (seen_listed()), whatever listings found it since. */
void seen_set_ino(struct seen *s, uint64_t ino);
/* Give every entry added since the last seal the mark MARK. */
void seen_seal(struct seen *s, uint64_t mark);
/* Whether the kernel event (WD, NAME, MASK) read at stream offset POS repeats
 * a listed entry and must be dropped; updates the entry. */
bool seen_absorb(struct seen *s, int wd, const char *name, size_t len,
		 uint32_t mask, uint64_t pos);
/* The entry, if a listing reported NAME in WD's directory and the kernel
 * has not told of it since (no delete or move-out of it read, its mark not
 * passed by POS, the stream offset of the next record to process): a
 * reader has the listing's entry under that path. NULL if none; valid
 * until the next change to S. */
const struct seen_entry *seen_listed(struct seen *s, int wd, const char *name, size_t len,
				     uint64_t pos);
/* Forget everything once POS is past every mark. */
void seen_expire(struct seen *s, uint64_t pos);
static inline bool seen_empty(const struct seen *s) { return s->len == 0; }
void seen_fini(struct seen *s);

#endif
