/* The engine's state, shared by vigil.c (the event loop, moves, overflow),
 * crawl.c (listing directories) and emit.c (building delivered events).
 * Nothing outside src/lib sees it. */
#ifndef VIGIL_ENGINE_H
#define VIGIL_ENGINE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "filter.h"
#include "held.h"
#include "learn.h"
#include "moves.h"
#include "seen.h"
#include "source.h"
#include "tree.h"
#include "vigil.h"

/* Bits every directory of a recursive watch needs, whatever was asked: the
 * tree must hear of directories appearing, leaving and being renamed. */
#define TRACK_MASK (IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO)
/* What a root that keeps names (struct root's names) needs too: a file
 * deleted must leave what its directory holds (held.h). */
#define NAMES_MASK IN_DELETE
/* The events a root keeps names for: a reader of these replays paths. */
#define NAMES_ASKED (IN_CREATE | IN_DELETE | IN_MOVE)

/* How long a rename half waits for its partner once the queue is dry. */
#define MOVE_WAIT_NS (5 * 1000 * 1000ull)
/* Listings whose start in the stream is kept (struct vigil's observed),
 * 64 KiB: a record queued before the oldest kept cannot be placed against
 * a listing (seen_after()). Four slow writers on the ASan build ran past
 * 256 in one run of three (103 records so misjudged); 4096, in none of 4
 * (bench/README.md). */
#define OBSERVED_LEN 4096
/* Directories ended and not yet said deleted that are kept (struct
 * vigil's ended): only a re-scan needs them, and their DELETE is next
 * but for what other directories queue meanwhile. */
#define ENDED_LEN 16

#define READ_BUF_SIZE (256 * 1024)
/* A read that leaves this much of the buffer unused emptied the queue:
 * the next record could have fitted (a header and the longest name). */
#define READ_DRAINED (READ_BUF_SIZE - (16 + 256))
/* Reading in a storm (vigil.c): when the queue wakes us again within
 * BURST_GAP_NS of the last read that brought events, events are coming
 * faster than a wake-up per event is worth; waiting BURST_PAUSE_NS first
 * lets one read carry many, for fewer wake-ups on both sides. The first
 * event after a quiet spell (BURST_GAP_NS or more) is read at once; events
 * closer together than that wait at most BURST_PAUSE_NS. */
#define BURST_GAP_NS 1000000
#define BURST_PAUSE_NS 500000


struct root {
	uint32_t node;  /* NODE_NONE once the watch is gone */
	uint32_t mask;  /* events asked for */
	unsigned flags; /* VIGIL_RECURSIVE, ... */
	bool is_dir;
	/* What each directory holds is kept (held.h), so that a re-scan
	 * after an overflow reports what appeared and what vanished: a
	 * recursive root that asks for NAMES_ASKED, unless VIGIL_NO_NAMES */
	bool names;
	int fd;         /* a recursive root's directory (O_PATH): new
			   directories are opened from it, never by full path.
			   Pinned; or, with FH, open only while events are
			   processed (engine_root_fd()) */
	struct file_handle *fh; /* the directory's, once it need not be pinned */
	int mount_fd;   /* with FH: its parent's, for open_by_handle_at() */
	char *path;     /* as given */
};

/* A delivered event waiting in the queue; strings live in equeue.text. */
struct qevent {
	uint32_t mask, cookie, flags;
	int error;
	int pid;
	size_t comm;    /* offset of its command name, or SIZE_MAX */
	size_t dirs;
	struct timespec time;
	size_t dir, name, path, from_dir, from_name, from_path; /* offsets */
	size_t dir_len, name_len, path_len, from_path_len;
	bool has_from;
};

struct equeue {
	struct qevent *v;
	size_t head, len, cap;
	struct buf text;
};

enum crawl_mode {
	CRAWL_INITIAL, /* vigil_add: what is there is not news */
	CRAWL_NEW,     /* a directory appeared: everything in it is news */
	CRAWL_RESCAN,  /* after an overflow: only directories not watched yet are news */
};

/* How crawl_new() takes what it finds (flags). */
enum {
	/* it came by a move whose other half was not in the trees */
	CRAWL_MOVED_IN = 1,
	/* a directory watched elsewhere in the trees, no rename half waiting
	 * for it, is ahead of its own rename events, still to read (there is
	 * more to read): leave it where the tree has it until they are read
	 * (-EINPROGRESS) */
	CRAWL_WAIT_AHEAD = 2,
	/* a retry after -EINPROGRESS: a directory watched here already was
	 * put here by its own rename events, which a reader followed */
	CRAWL_WAS_AHEAD = 4,
	/* it came by a rename a reader followed (its MOVED_FROM paired, from
	 * a path a reader has): a reader carried here what it had there */
	CRAWL_CARRIED = 8,
};

/* A directory to crawl once the queue is dry, when every rename read so far
 * is in the tree: one that appeared while the path to it was stale (an
 * ancestor renamed, the rename not read yet), or one a walk could not come
 * back to visit (its parent moved meanwhile; crawl.c, pop_frame()). Or,
 * with NAME NULL, a watched directory NODE whose subtree was to be listed
 * again (crawl_relist()) when the path to it was stale. */
struct retry {
	uint32_t root, parent, parent_serial;
	char *name;
	size_t len;
	unsigned how;         /* CRAWL_MOVED_IN, CRAWL_WAS_AHEAD */
	enum crawl_mode mode; /* CRAWL_NEW, or the walk's that skipped it */
	uint32_t node, node_serial;
	bool report;          /* as for crawl_relist() */
	bool recheck;         /* crawl_recheck() instead, once caught up */
};

/* A directory node put out of its place by a listing that found another
 * directory under its name. Its own events (a rename away, a delete) may
 * still be in the queue; until then it waits here, known by where it was. */
struct orphan {
	uint32_t node, serial;
	uint32_t parent, parent_serial;
};

struct vigil {
	struct source src;
	struct tree tree;
	struct filter filter;
	struct moves moves;
	struct seen seen;
	struct held held;       /* what each directory holds (root's names) */
	struct equeue q;
	struct root *roots;
	size_t n_roots;
	unsigned flags;

	char *rbuf;             /* raw records as read */
	size_t rbuf_len, rbuf_off;
	uint64_t stream_read;   /* bytes read from the source, ever */
	struct timespec read_time;
	bool drained;           /* the last read emptied the kernel queue */
	uint64_t last_read_ns;  /* when the last read returned events (monotonic) */

	uint32_t generation;    /* re-crawl mark: each listing's own */
	/* Where the stream stood as each recent generation's listing began
	 * (engine_new_generation()): a record before that was queued before
	 * the listing found what it marked. */
	struct observed { uint32_t generation; uint64_t pos; } observed[OBSERVED_LEN];
	uint64_t tree_gen;      /* bumped when a path may have changed */
	uint32_t dir_cache_node;
	uint64_t dir_cache_gen;
	struct buf dir_cache;   /* the last node's dir string */
	struct buf scratch;
	/* Records on directories below a rename half still waiting for its
	 * partner: their path depends on how it ends (inotify_event layout). */
	struct buf deferred;
	struct retry *retries;
	size_t n_retries, cap_retries;
	uint64_t retried_at;    /* stream_read at the last retry pass */
	struct orphan *orphans;
	size_t n_orphans, cap_orphans;
	/* Directories whose watch ended (IN_IGNORED) with their DELETE still
	 * to be read: the kernel queues the IN_IGNORED first, and the
	 * parent's DELETE after it, so an overflow between the two loses the
	 * DELETE, and nothing else would tell a reader (the node is gone, and
	 * a directory's name is not held). Said by the re-scan (rescan());
	 * the latest ENDED_LEN. */
	struct ended {
		uint32_t parent, serial;
		size_t len;
		char name[NAME_MAX + 1];
	} ended[ENDED_LEN];
	size_t n_ended;
	/* What is processed now happens inside a directory whose MOVED_FROM a
	 * reader has had, and no MOVED_TO yet: no path a reader has names it,
	 * so nothing is delivered (engine_emit()) but errors. */
	bool mute;

	struct vigil_event ev;
	int cur_pid;            /* the pid of the record being processed */
	struct learn *learn;    /* whole-filesystem marks (learn.h), or NULL */
};

/* vigil.c */
/* Crawl NAME under PARENT (root RI) once the queue is dry (see struct
 * retry): 0 or -ENOMEM. */
int engine_retry(struct vigil *v, uint32_t ri, uint32_t parent, const char *name,
		 size_t len, unsigned how, enum crawl_mode mode);
/* The same for crawl_relist(V, RI, NODE, REPORT). */
int engine_retry_relist(struct vigil *v, uint32_t ri, uint32_t node, bool report);
/* Whether NODE, or a directory above it, waits for a listing that reports
 * all it holds (a retry of one put off, struct retry): a reader has none of
 * what it holds yet, but what that listing will still find there. */
bool engine_listing_owed(struct vigil *v, uint32_t node);
/* Forget the records held back (below a rename not resolved yet) on NODE's
 * subtree: a listing of it that reports all it holds is newer. */
void engine_drop_deferred_below(struct vigil *v, uint32_t node);
/* The same for the records on NODE's entries only (a name in it): a
 * listing of NODE that reports all it holds is newer than each of them. */
void engine_drop_deferred_in(struct vigil *v, uint32_t node);
/* Whether every record read so far is processed and no rename half waits:
 * the tree has caught up with what the kernel said, and a path still stale
 * will stay so until more comes. */
bool engine_caught_up(struct vigil *v);
/* Recursive root RI's directory, open (O_PATH), until
 * engine_release_roots() when it is not pinned; -ENOENT once it is gone. */
int engine_root_fd(struct vigil *v, uint32_t ri);

/* Root RI's watch is over (its directory deleted or unmounted). */
void engine_root_gone(struct vigil *v, uint32_t ri);

/* VIGIL_EVENT_POLLED if NODE's watch is polled, else 0. */
uint32_t engine_polled(const struct vigil *v, uint32_t node);

/* emit.c */
uint32_t engine_root_index(const struct vigil *v, uint32_t node);
/* NODE's %w: its path with a trailing '/', or a watched file's path. The
 * returned string is valid until the tree or the cache changes. */
int engine_node_dir(struct vigil *v, uint32_t node, const char **ret_dir,
		    size_t *ret_len);
/* The path of entry NAME in the watched directory NODE (%w%f), into OUT. */
int engine_entry_path(struct vigil *v, uint32_t node, const char *name,
		      size_t len, struct buf *out);
/* Queue an event for delivery if the filters let it through. HALF, when not
 * NULL, gives the old location of a paired move. */
int engine_emit(struct vigil *v, const char *dir, size_t dir_len,
		const char *name, size_t name_len, uint32_t mask,
		uint32_t cookie, uint32_t flags, int error,
		const struct move_half *half);
/* engine_emit() of NAME in the watched directory NODE (at NODE's %w). */
int engine_emit_at(struct vigil *v, uint32_t node, const char *name, size_t len,
		   uint32_t mask, uint32_t cookie, uint32_t flags);
int engine_emit_error(struct vigil *v, const char *path, size_t len, int error);
/* The directory PATH and DIRS - 1 below it are not watched: the watch
 * limit (an -ENOSPC error event). */
int engine_emit_left_out(struct vigil *v, const char *path, size_t len,
			 size_t dirs);
void equeue_fini(struct equeue *q);

/* crawl.c */
/* Walk root ROOT (its node watched already, with crawl_quiet_mask()) and
 * watch every directory below it. Returns the number of watches added, or
 * -ENOMEM (the crawl stops there; what is watched stays watched), or
 * -ENOSPC: the watch limit left directories out, each reported as an
 * error event (in every mode), and the rest was walked. Other failures
 * skip what they concern, each reported as an error event too (a directory
 * that denies access at vigil_add() is as unwatched as one that appears
 * later). */
int crawl_root(struct vigil *v, uint32_t root, enum crawl_mode mode);
/* NAME appeared under the watched directory PARENT: watch it and everything
 * below it, reporting what it holds as synthetic events. HOW: flags above.
 * CRAWL_MOVED_IN: if it is a directory
 * watched already (it left and came back), what it holds is reported too,
 * as for a new one; so is what a directory holds that a listing had put
 * under NAME already, ahead of the event that calls this. -ESTALE: PARENT is
 * not where the tree has it (a rename still to be read); -ENOENT, -ENOTDIR:
 * NAME is not a directory under PARENT now; -EINPROGRESS: see
 * CRAWL_WAIT_AHEAD; -ENOSPC as for crawl_root():
 * what was left out is reported already. A directory found again after a
 * time detached from the trees (whose events were dropped meanwhile) has its
 * subtree listed again, as after an overflow. MODE is CRAWL_NEW, or, for a
 * directory a walk skipped (struct retry), that walk's: then what it holds
 * is news only as that walk's would have been, and if it is watched
 * already, its subtree is listed again. EXPECT: the directory node a
 * rename half says is coming here (not ahead of its events), or NODE_NONE. */
int crawl_new(struct vigil *v, uint32_t root, uint32_t parent,
	      const char *name, size_t len, unsigned how, enum crawl_mode mode,
	      uint32_t expect);
/* List NODE's subtree again (NODE watched, in root ROOT), as after an
 * overflow but there only; with REPORT, everything in it is reported, as
 * for a directory new to the trees. -ESTALE: NODE is not where the tree
 * has it (a rename still to be read), and nothing was done. */
int crawl_relist(struct vigil *v, uint32_t root, uint32_t node, bool report);
/* The same, as after an overflow: what NODE's subtree holds is compared
 * with what a reader was told, and the difference reported (synthetic
 * CREATE and DELETE), for a source that says its events there may be
 * incomplete (source.h, a record with IN_Q_OVERFLOW on a directory). */
int crawl_recheck(struct vigil *v, uint32_t root, uint32_t node);
/* Whether NODE's directory is still where the tree has it (by identity:
 * what is at its path is watched under its wd). */
bool crawl_node_present(struct vigil *v, uint32_t node);
/* The mask a root directory is watched with until crawl_root() is done. */
uint32_t crawl_quiet_mask(const struct vigil *v, const struct root *r);
/* The kernel mask a directory of root R is watched with. */
uint32_t engine_kernel_mask(const struct vigil *v, const struct root *r);
/* Take NODE out of its place, keeping its watches, until its own events say
 * where it went (see struct orphan). */
void engine_orphan(struct vigil *v, uint32_t node);
/* The same for a node whose place by the events is NAME under PARENT,
 * where the tree has another directory: NODE is known by that place. */
void engine_orphan_at(struct vigil *v, uint32_t node, uint32_t parent,
		      const char *name, size_t len);
/* Start a listing: a new v->generation to mark what it finds with, and
 * where the stream stands (every record queued so far precedes that). */
void engine_new_generation(struct vigil *v);
/* The orphan that was NAME under PARENT, taken off the list, or NODE_NONE. */
uint32_t engine_take_orphan(struct vigil *v, uint32_t parent, const char *name,
			    size_t len);
/* After a walk that marked what it found with v->generation: drop what it
 * did not find below what it listed, and, if ORPHANS, the orphans too.
 * With TELL (after an overflow, whose events are lost) and names kept, a
 * reader is told (a synthetic DELETE) of each directory dropped that it
 * has. */
int engine_sweep(struct vigil *v, bool orphans, bool tell);
/* Keep what NODE of root R holds up to date with a kernel record (a name
 * created, deleted, moved in or out) that is not a directory's. */
int engine_held_record(struct vigil *v, const struct root *r, uint32_t node,
		       const char *name, size_t len, uint32_t mask);
/* Remove the watch (a tree_remove callback; CTX is the vigil). */
void engine_unwatch(void *ctx, int wd);

#endif
