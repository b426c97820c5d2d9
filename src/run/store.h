/* What `vigil run` must not lose, for one rule: the paths waiting to settle,
 * the paths settled and waiting for a job, the paths a job is running on,
 * and what it knows of each path jobs have run on: the file as it was at
 * the end of its last job (so that a re-crawl, after an overflow or at a
 * start, can tell which files are new or changed), its attempts and its
 * last result. Everything that a restart should keep lives here, behind
 * this interface; the caller keeps none of it. With a journal
 * (store_journal()), every change of a path's state is written through to
 * it, and a start reads it back (store_load()).
 *
 * A path waits at most once: an event on a path already waiting restarts
 * its settle timer instead of queueing it twice. A path handed to a job
 * leaves the queue and is in that job until store_finish() (or
 * store_done()); an event after it was taken queues it again, and it
 * waits until the job is done, so that one path is never in two jobs at
 * once.
 */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct store;
struct journal;

/* A path handed to a job. */
struct store_path {
	char *path;
	char *from;       /* the old path of the rename that brought it, or NULL */
	uint32_t events;  /* every event seen while it waited */
	uint32_t attempt; /* which attempt this is: 1, 2 after a failure or
			   * after a job on it was cut short (a crash) */
	int pid;          /* who made its last change (vigil_event.pid), or 0 */
	char comm[16];    /* and its command name, or "" */
};

int store_new(struct store **ret);
/* One more owner of S (a rule reloaded under the same name, while the
 * old one's jobs finish): store_free() frees it with the last. */
struct store *store_ref(struct store *s);
void store_free(struct store *s);

/* Keep S in journal J as rule RULE (journal_rule()): from now on, every
 * change of a path's state is written to J. The caller commits. */
void store_journal(struct store *s, struct journal *j, int64_t rule);

/* Retries (--retry): a failed job's paths wait again, RETRIES times at
 * most, the Nth time for DELAY_NS * 2^(N-1) (at most MAX_DELAY_NS), of
 * which a random part of up to a half is taken off (jitter), so that
 * paths that failed together do not retry together. */
void store_set_retry(struct store *s, unsigned retries, uint64_t delay_ns,
		     uint64_t max_delay_ns);

/* An event on PATH: queue it to settle at DUE (monotonic ns), or, if it
 * is already waiting, OR in EVENTS and start its wait again (a path that
 * was settled goes back to settling). FROM, when not NULL, is kept as the
 * path it was renamed from. With EVENTS, the file is new or changed: its
 * attempts start again from the first. Returns 0 or -ENOMEM. */
int store_touch(struct store *s, const char *path, uint32_t events,
		const char *from, uint64_t due);
/* The last change to PATH, waiting, was made by PID (COMM, or NULL):
 * handed to its job (store_path). */
void store_who(struct store *s, const char *path, int pid, const char *comm);
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
	 * to be run on, nor what waited below it (a directory), and what is
	 * known of it is forgotten; unless the rule runs on that (EVENTS,
	 * such as IN_DELETE) */
	CHANGE_GONE,
	/* FROM was renamed to PATH: what waited as FROM, or below it, waits
	 * under the new path, and what is known of it goes with it; PATH is
	 * queued (IN_MOVED_TO, FROM kept) if FROM waited or EVENTS says the
	 * rule runs on arrivals */
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
	bool remote;        /* a broker's message named PATH (--subscribe): a
			     * start's walk does not look for it (see
			     * store_forget_unfound()) */
};

/* Take change C. Returns 1 when PATH waits now and did not before, 0, or
 * -ENOMEM (what could be done is done). */
int store_apply(struct store *s, const struct change *c);

/* The earliest settle deadline, or 0 when nothing settles. */
uint64_t store_next_due(const struct store *s);
/* Move every path whose deadline is at or before NOW to the ready queue,
 * in the order they settled. */
void store_settle(struct store *s, uint64_t now);
/* The rule's settle time went from OLD_NS to NEW_NS (a reload): each path
 * still settling is due as if its last change had been taken under NEW_NS
 * (a retry's delay moves by as much). */
void store_resettle(struct store *s, uint64_t old_ns, uint64_t new_ns);
size_t store_waiting(const struct store *s); /* settling + ready */
size_t store_ready(const struct store *s);
/* Take up to N ready paths for a job, oldest first, that take at most
 * BYTES as argv words (text, NUL and pointer; at least one is taken), into
 * RET (room for N). A path that is in a job already stays ready for later.
 * Each path taken is in a job until store_finish() or store_done(), and
 * counts an attempt. A path the loop guard holds back stays (see below). Returns how many (fewer when memory runs out); the
 * caller frees each with store_path_fini(). */
size_t store_take(struct store *s, size_t n, size_t bytes, uint64_t now,
		  struct store_path *ret);
/* The loop guard: a path that changes while its job runs, or within
 * WINDOW_NS after its end (maybe by the job), BURST jobs in a row, is
 * looping: store_take() holds it back, its next job waiting WINDOW_NS
 * after the last one's end, then twice that each time, up to a minute,
 * until a change comes that is not of its job's making. BURST 0: off. */
void store_set_guard(struct store *s, unsigned burst, uint64_t window_ns);
/* After store_take(): a path it found looping (to be said and freed),
 * one at a time; NULL when none. */
char *store_tripped(struct store *s);
/* After store_take(): when the earliest path it held back may go, or 0. */
uint64_t store_held_until(const struct store *s);
/* The job that had PATH never started: the path may go to another. */
void store_done(struct store *s, const char *path);
/* Take the oldest ready path out of the queue, not for a job (to drop it,
 * or to hand it to another store): false when none is ready. */
bool store_pop(struct store *s, struct store_path *ret);
void store_path_fini(struct store_path *p);

/* How a job ended, for each of its paths. */
enum outcome {
	OUTCOME_OK,       /* it succeeded */
	OUTCOME_FAILED,   /* it failed (exit status, signal, timeout) */
	OUTCOME_STOPPED,  /* vigil stopped it before its end (vigil's own
			   * stop): it is to run again */
	OUTCOME_REPLACED, /* stopped for a newer job (--on-busy restart) */
};
/* What became of a path at the end of its job. */
enum finished {
	FINISHED_DONE,    /* handled */
	FINISHED_RETRY,   /* failed; waits for another attempt */
	FINISHED_FAILED,  /* failed, with no attempt left: kept as failed */
	FINISHED_AGAIN,   /* waits to run again (stopped) */
};
/* A job ran on PATH: remember the file as it is now (ST from lstat), or,
 * with ST NULL (it is gone), forget it. Returns 0 or -ENOMEM. */
int store_record(struct store *s, const char *path, const struct stat *st);
struct finish {
	enum finished what;
	uint64_t due;         /* FINISHED_RETRY: when (monotonic ns) */
	uint32_t retry;       /* FINISHED_RETRY: which retry, from 1 */
};
/* The job that had PATH is over (OUTCOME, with wait STATUS, at NOW), and
 * the file is now as ST says (NULL: gone): recorded, and the path may go
 * to another job. What became of it in *RET (may be NULL). Returns 0 or
 * -ENOMEM. */
int store_finish(struct store *s, const char *path, const struct stat *st,
		 enum outcome outcome, int status, uint64_t now, struct finish *ret);
/* Whether PATH was handled, does not wait, and is as ST says it is now,
 * as at the end of its last job: a message about it sent again (QoS 1
 * sends one again after a loss) is not run again. */
bool store_unchanged(const struct store *s, const char *path, const struct stat *st);
/* After an overflow, a file found by a re-crawl: whether it is new or
 * changed since a job last ran on it. A file no job has run on counts as
 * new when its inode changed (ctime) at or after SINCE, vigil's start. */
bool store_changed(const struct store *s, const char *path,
		   const struct stat *st, const struct timespec *since);

/* --- a start with a journal (catch-up) ----------------------------------- */

/* Read the journal's rows back: what waited waits again (settling at NOW
 * + SETTLE_NS; a retry at its time), what was running waits to run again
 * (its attempts kept: VIGIL_ATTEMPT tells the job), what was done or
 * failed is known again. Returns how many wait, or a negative errno (the
 * journal's). */
long store_load(struct store *s, uint64_t now, uint64_t settle_ns);
/* A file a catch-up walk found: whether it is new or changed since its
 * last job ended (not already waiting). Marks it as found either way. */
bool store_catch_up(struct store *s, const char *path, const struct stat *st);
/* After the catch-up walk: forget what is known of the paths it did not
 * find (deleted while vigil was down, or no longer the rule's), and what
 * waited on them, unless what waited is a deletion the rule runs on and
 * WANTED(CTX, path) says the rule wants the path. Remote paths (a
 * broker's, change.remote) are not the walk's to find: what waits of them
 * waits still, and what is known of them is kept while the file is there,
 * if WANTED says the rule takes them now. Returns how many were
 * forgotten. */
size_t store_forget_unfound(struct store *s, bool (*wanted)(void *ctx, const char *path),
			    void *ctx);
/* --retry-failed, from another process: the failed paths it queued again
 * (journal_request()) and WANTED(CTX, path) says the rule wants wait
 * again, from their first attempt. Returns how many, or a negative errno
 * (the journal's). */
long store_requests(struct store *s, uint64_t now,
		    bool (*wanted)(void *ctx, const char *path), void *ctx);

/* What --list shows of a path, and a failed path's count: counters. */
size_t store_failed(const struct store *s);

#endif
