/* The engine of a handle that marks whole filesystems (VIGIL_MARK_FILESYSTEM,
 * VIGIL_MARK_MOUNT): nothing is walked, and a directory enters the tree
 * when an event first names it.
 *
 * The source (source_fanotify.c) gives every directory met an id. A
 * directory created or renamed is placed from the event itself (its id is
 * the record's child); one that was there before is placed by asking the
 * source where it was at that point of the stream (resolve()), up to a
 * directory the tree knows, once. What lies outside the paths added (or
 * is excluded, or below a root added without VIGIL_RECURSIVE) is told to
 * the source, which drops its records from then on. The tree follows
 * renames (the two halves come together, one after the other) and
 * deletes, so paths stay right at any depth without a lookup per event.
 *
 * The kernel merges an event into an identical one still queued, so that
 * a reader who lags may lose a change (a directory moved back where it
 * was moved from before); the source says which directories may have
 * lost one, and those are listed again (recheck()).
 *
 * After an overflow nothing is walked: the places learnt may be stale, so
 * each directory is looked up again from its handle when an event next
 * names it, and one that is gone is reported where it was last known,
 * flagged VIGIL_EVENT_UNRESOLVED.
 */
#ifndef VIGIL_LEARN_H
#define VIGIL_LEARN_H

#include <stdbool.h>
#include <stdint.h>

#include "bitset.h"
#include "buf.h"
#include "held.h"
#include "moves.h"
#include "source.h"

struct vigil;

struct learn {
	struct move_half from;  /* a MOVED_FROM; its MOVED_TO is the next record */
	bool has_from;
	uint32_t from_flags;    /* VIGIL_EVENT_* its events carry */
	uint32_t gen;           /* overflows so far */
	uint32_t *checked;      /* per node: the gen its place was last known in;
				   LEARN_GONE set: not found again */
	uint32_t checked_cap;
	uint64_t pos;           /* of the record being processed */
	struct buf name;
	struct buf chain;       /* resolve()'s answers, while climbing */
	/* A bit per directory id: moved out of the trees by an event, and
	 * not back by one since. Found in them again by its handle (the move
	 * back was lost: merged by the kernel into an earlier one), it is
	 * owed a listing (tree.h): a reader has not had it there. */
	struct bitset left;
	/* The directories the source asked to list again (recheck()), held
	 * until the last of a run of such records. */
	int *recheck;
	size_t n_recheck, cap_recheck;
	/* Directories a listing reported (a reader has their names) but
	 * could not open to list, by parent node and name: renamed (or
	 * deleted) between the listing of the parent and the descent into
	 * them. The first event that takes such a name away ends its entry;
	 * a rename that does is a move in (what it holds is listed where it
	 * lands), as for inotify, where such a directory was never watched. */
	struct held unlisted;
	bool unlisted_ready;
	bool from_unlisted;     /* the held MOVED_FROM took such a name */
	/* A bit per directory id: found ahead of its rename by a listing a
	 * reader is given whole, from where that listing had not reached
	 * (learn_found_ahead()); its rename lists it where it lands. */
	struct bitset ahead;
	bool listing_new;       /* moved_in()'s listing runs: a reader has
				   nothing below what it reports */
	/* The listings of directories moved in (moved_in()), whose reports
	 * a reader is given whole: the directory, and where in the stream
	 * the listing began. One a rename queued before that took out of
	 * it was not found by it: a reader has nothing of it, and it is
	 * listed where it lands. Kept until the stream is read that far. */
	struct learn_whole { uint32_t node, serial; uint64_t pos; } *whole;
	size_t n_whole, cap_whole;
	uint64_t from_pos;      /* the held MOVED_FROM's stream position */
};

#define LEARN_GONE 0x80000000u

void learn_fini(struct learn *l);
/* What record REC (at stream position POS) says, on a handle with
 * whole-filesystem marks: events queued, the tree kept. 0, or -ENOMEM. */
int learn_process(struct vigil *v, const struct source_record *rec, uint64_t pos);
/* A listing (for what the kernel may have merged, recheck(); or of a
 * directory moved in from outside) found the directory WD (its id: known
 * to the tree elsewhere, or not at all) as NAME under PARENT: whether the
 * events still to read put it elsewhere than that as of the record being
 * processed (a rename made while the listing ran, queued before the
 * listing saw its result), or make it (a mkdir made then: nowhere as of
 * the record). If so, the listing is ahead of the stream there, and WD is
 * left to those events:
 * not placed by the listing, nor listed. What the tree has of it stays,
 * marked found with all below it (engine_sweep() keeps it), and so does
 * the directory the tree has under NAME, if any, if events still to read
 * take it away (else that way out was merged by the kernel into an
 * earlier event, and the sweep says it gone). Placed by the listing, what
 * happened in it before that rename would be said under its later path,
 * and the rename, when read, would take back from a reader what the
 * listing reported there. */
/* WHOLE: the top of the listings a reader is given whole that found it,
 * or NODE_NONE. Where the events put WD as of the record lies in WHOLE's
 * subtree (moved within it while the listing ran), and that listing is of
 * a directory moved in (a reader has nothing below it), a reader was
 * never given what WD holds: its rename, when read, lists it where it
 * lands, as for a directory moved in from outside. */
bool learn_found_ahead(struct vigil *v, int wd, uint32_t parent, const char *name, size_t len,
		       uint32_t whole);
/* The same for a file such a listing found as NAME under PARENT, where
 * the tree has a directory that the events still to read take away (a
 * rename or delete made while the listing ran; the file was made after
 * it): whether that directory is still there as of the record being
 * processed. If so, it is kept, marked found with all below it, and the
 * file is left to its CREATE, still to read: said gone by the listing,
 * the directory's rename, when read, would bring a reader nothing of
 * what it held. */
bool learn_file_ahead(struct vigil *v, uint32_t parent, const char *name, size_t len);
/* The same for what such a listing did not find: a directory the tree
 * has that the events still to read take away (a rename or delete made
 * while the listing ran) is still where the tree has it as of the record
 * being processed. It is kept, marked found with all below it, for those
 * events: swept now, it would be said gone, and a reader, told so before
 * its rename, would lose what it holds. Called before engine_sweep(). */
void learn_keep_unfound(struct vigil *v);
/* A listing reported the directory NAME under PARENT, and the walk could
 * not open it to list it (gone on: ENOENT, ENOTDIR). With whole-filesystem
 * marks, its events place it later without a listing (its rename within
 * the trees moves it as known, with nothing below it): it is owed one,
 * where its rename puts it, if the listing is of a directory moved in (a
 * reader has nothing below it). 0, or -ENOMEM; 0 without such marks. */
int learn_unlisted(struct vigil *v, uint32_t parent, const char *name, size_t len);

#endif
