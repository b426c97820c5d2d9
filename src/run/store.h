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
	int pid;         /* who made its last change (vigil_event.pid), or 0 */
	char comm[16];   /* and its command name, or "" */
};

int store_new(struct store **ret);
void store_free(struct store *s);

/* An event on PATH: queue it to settle at DUE (monotonic ns), or, if it
 * is already waiting, OR in EVENTS and start its wait again (a path that
 * was settled goes back to settling). FROM, when not NULL, is kept as the
 * path it was renamed from. Returns 0 or -ENOMEM. */
int store_touch(struct store *s, const char *path, uint32_t events,
		const char *from, uint64_t due);
/* The last change to PATH, waiting, was made by PID (COMM, or NULL):
 * handed to its job (store_path). */
void store_who(struct store *s, const char *path, int pid, const char *comm);
/* Whether PATH waits (settling or settled). */
bool store_has(const struct store *s, const char *path);
/* PATH went away (deleted, or renamed): forget it if it waits. Returns
 * whether it did; *RET_FROM (if not NULL) gets its 'from', to be freed. */
bool store_forget(struct store *s, const char *path, char **ret_from);

/* Directory OLD was renamed to NEW: every waiting path below OLD moves
 * below NEW (keeping its place and deadline). With NEW NULL the directory
 * left: they are forgotten. Returns how many, or -ENOMEM. */
long store_move_below(struct store *s, const char *old, const char *new);

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
