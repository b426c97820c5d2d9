/* What `vigil run` must not lose, for one rule: the paths waiting to settle,
 * the paths settled and waiting for a job, the paths a job is running on,
 * and the state of the files jobs have run on (so that after a queue
 * overflow, a re-crawl can tell which files are new or changed).
 * Everything that a restart should keep lives here, behind this interface,
 * so that it can be made persistent; the caller keeps none of it.
 *
 * A path waits at most once: an event on a path already waiting restarts
 * its settle timer instead of queueing it twice. A path handed to a job
 * leaves the queue and is in that job until store_done(); an event after
 * it was taken queues it again, and it waits until the job is done, so
 * that one path is never in two jobs at once.
 */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct store;

/* A path handed to a job. */
struct store_path {
	char *path;
	char *from;      /* the old path of the rename that brought it, or NULL */
	uint32_t events; /* every event seen while it waited */
};

int store_new(struct store **ret);
void store_free(struct store *s);

/* An event on PATH: queue it to settle at DUE (monotonic ns), or, if it
 * is already waiting, OR in EVENTS and start its wait again (a path that
 * was settled goes back to settling). FROM, when not NULL, is kept as the
 * path it was renamed from. Returns 0 or -ENOMEM. */
int store_touch(struct store *s, const char *path, uint32_t events,
		const char *from, uint64_t due);
/* Whether PATH waits (settling or settled). */
bool store_has(const struct store *s, const char *path);

/* A change to a path, as a rule makes it out from an event (events.c) or
 * from a walk: the store takes it whole, in one call. */
enum change_kind {
	/* PATH changed: queued with EVENTS (with IN_ISDIR for a directory);
	 * with EVENTS 0 (a write the rule does not run on), a path that
	 * waits waits on from now, if the rule settles */
	CHANGE_TOUCH,
	/* PATH went away (deleted, or moved out or apart): it is no longer
	 * to be run on, nor what waited below it (a directory); unless the
	 * rule runs on that (EVENTS, such as IN_DELETE) */
	CHANGE_GONE,
	/* FROM was renamed to PATH: what waited as FROM, or below it, waits
	 * under the new path; PATH is queued (IN_MOVED_TO, FROM kept) if
	 * FROM waited or EVENTS says the rule runs on arrivals */
	CHANGE_RENAME,
	/* a file watched by itself is gone from where it was: forgotten */
	CHANGE_LEFT,
};

struct change {
	enum change_kind kind;
	const char *path;
	const char *from;   /* CHANGE_RENAME: the old path; CHANGE_TOUCH: a
			     * rename it came by, or NULL */
	uint32_t events;    /* see each kind; IN_ISDIR is added for a directory */
	bool is_dir;
	bool wanted;        /* the rule runs on PATH (its filters pass) */
	uint64_t now;       /* monotonic ns: it settles at NOW + SETTLE_NS */
	uint64_t settle_ns;
};

/* Take change C. Returns 1 when PATH waits now and did not before, 0, or
 * -ENOMEM (what could be done is done). */
int store_apply(struct store *s, const struct change *c);

/* The earliest settle deadline, or 0 when nothing settles. */
uint64_t store_next_due(const struct store *s);
/* Move every path whose deadline is at or before NOW to the ready queue,
 * in the order they settled. */
void store_settle(struct store *s, uint64_t now);
size_t store_waiting(const struct store *s); /* settling + ready */
size_t store_ready(const struct store *s);
/* Take up to N ready paths for a job, oldest first, that take at most
 * BYTES as argv words (text, NUL and pointer; at least one is taken), into
 * RET (room for N). A path that is in a job already stays ready for later.
 * Each path taken is in a job until store_done(). Returns how many (fewer
 * when memory runs out); the caller frees each with store_path_fini(). */
size_t store_take(struct store *s, size_t n, size_t bytes, struct store_path *ret);
/* The job that had PATH is over: the path may go to another. */
void store_done(struct store *s, const char *path);
/* The job that had PATH is over, and the file is now as ST says (from
 * lstat; NULL: it is gone): store_record() and store_done() at once.
 * Returns 0 or -ENOMEM. */
int store_finish(struct store *s, const char *path, const struct stat *st);
/* Take the oldest ready path out of the queue, not for a job (to drop it,
 * or to hand it to another store): false when none is ready. */
bool store_pop(struct store *s, struct store_path *ret);
void store_path_fini(struct store_path *p);

/* A job ran on PATH: remember the file as it is now (ST from lstat), or,
 * with ST NULL (it is gone), forget it. Returns 0 or -ENOMEM. */
int store_record(struct store *s, const char *path, const struct stat *st);
/* After an overflow, a file found by a re-crawl: whether it is new or
 * changed since a job last ran on it. A file no job has run on counts as
 * new when its inode changed (ctime) at or after SINCE, vigil's start. */
bool store_changed(const struct store *s, const char *path,
		   const struct stat *st, const struct timespec *since);

#endif
