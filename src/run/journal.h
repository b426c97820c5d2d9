/* The journal: what a store must not lose across a crash, a restart or a
 * reboot, in a SQLite database in a state directory (--state DIR). The
 * store writes through to it (store.c); nothing else writes its rows.
 *
 * One row per path a rule knows: its state (waiting, running, done,
 * failed), the events it waits with, its attempts and last result, and the
 * file as it was when its last job ended (device, inode, size, mtime and
 * ctime in nanoseconds), which is how a start tells a file changed while
 * vigil was down from one already handled. A row's key is its rule and its
 * path, taken as bytes: a name that is not UTF-8 is kept as it is. Rows
 * need not be files: an input other than a watched tree keys its items
 * the same way, without the file's state.
 *
 * Writes gather in one transaction until journal_commit(): the caller
 * commits once per wake-up of its loop, before it acts on what it wrote
 * (a job starts only once the row that says it runs is committed). After a
 * failed write the journal stays failed: every later call fails the same.
 *
 * Failures come back as negative errno values, with journal_error() the
 * one line to say: -ENOSPC (disk full), -EROFS (read-only), -EIO, -EBUSY
 * (another vigil, or a writer that held the database too long),
 * -EUCLEAN (corrupt, or not a vigil state), -EPROTO (a newer format),
 * -ENOMEM, -ENOTSUP (built without SQLite).
 *
 * Another process may read the database while a service writes it (WAL):
 * `vigil run --state DIR --list` does; `--retry-failed` writes a request
 * (journal_request()) that the service picks up. */
#ifndef VIGIL_JOURNAL_H
#define VIGIL_JOURNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct journal;

enum jstate { J_WAITING, J_RUNNING, J_DONE, J_FAILED };
#define J_ALL ((1u << J_WAITING) | (1u << J_RUNNING) | (1u << J_DONE) | (1u << J_FAILED))

/* What a commit is worth (--state-sync). In every mode it is in the
 * kernel's hands when journal_commit() returns, so that a crash of vigil
 * (SIGKILL, the OOM killer) loses nothing committed. Then, against a power
 * cut or a crash of the system:
 *   full    on disk when journal_flush() returns (an fdatasync of the
 *           WAL): the loop flushes before the jobs of a commit start, so
 *           nothing committed is ever lost; an fsync per wake-up, on the
 *           loop's path
 *   group   (the default) on disk within an fsync's time: a thread
 *           fdatasyncs the WAL behind the loop, each fsync covering every
 *           commit before it, and the loop never waits for the disk; a
 *           power cut loses at most the last milliseconds of commits
 *   normal  on disk at SQLite's checkpoints (every 1000 pages): a power
 *           cut may lose the commits since, never the database
 *   off     no fsync at all; the database may not survive a power cut */
enum jsync { JSYNC_OFF, JSYNC_NORMAL, JSYNC_GROUP, JSYNC_FULL };

/* journal_open()'s flags. */
enum {
	/* a service: take DIR's lock (one vigil per state), create what is
	 * missing; without it, share the database with a service */
	JOURNAL_OWN = 1u << 0,
	/* only read (--list) */
	JOURNAL_READ = 1u << 1,
};

/* A row. Strings are not NUL-terminated: PATH_LEN and FROM_LEN bytes. */
struct jrow {
	const char *rule;      /* journal_each() only */
	const char *path;
	size_t path_len;
	const char *from;      /* NULL: none */
	size_t from_len;
	enum jstate state;
	uint32_t events;       /* waiting with, or the last job's */
	uint32_t attempts;     /* jobs started on it (interrupted ones too) */
	uint32_t failures;     /* of those, failed, in a row */
	int status;            /* the last job's wait status, or -1 */
	int64_t time;          /* CLOCK_REALTIME ns: when it last changed state */
	int64_t retry_at;      /* waiting for a retry until then (realtime ns), or 0 */
	bool requested;        /* queued again by --retry-failed, not yet taken */
	bool has_file;         /* the five below hold the file at the end of
				* its last job */
	uint64_t dev, ino;
	int64_t size, mtime, ctime; /* ns since the epoch */
};

#ifdef VIGIL_SQLITE

/* Open the state in DIR: with JOURNAL_OWN, create DIR (0700) and the
 * database if missing and take the lock, refusing when another process
 * holds it; migrate a database of an older format; refuse a corrupt one
 * or one of a newer format, and never reset it. 0 with *RET, or a
 * negative errno with *ERR the line to say (to be freed; NULL when memory
 * ran out). */
int journal_open(const char *dir, unsigned flags, enum jsync sync, struct journal **ret,
		 char **err);
/* Commit what is pending (an error if it cannot be), and close. NULL is
 * fine. */
int journal_close(struct journal *j);
/* The directory, as given. */
const char *journal_dir(const struct journal *j);
/* The one line to say after a failure: "cannot write the state in 'DIR':
 * no space left on device". */
const char *journal_error(const struct journal *j);
/* The strictest sync asked by those who share it. */
void journal_sync(struct journal *j, enum jsync sync);

/* The id of rule NAME in *RET_ID, kept with its DEFINITION (its paths and
 * command, as text). A rule the state does not know by that name takes
 * over the rows of one of the same definition whose name is not among
 * the N_IN_USE names IN_USE (a rule renamed in the rules file): its old
 * name in *RET_WAS (to be freed), else NULL. 0 or a negative errno. */
int journal_rule(struct journal *j, const char *name, const char *definition,
		 char *const *in_use, size_t n_in_use, int64_t *ret_id, char **ret_was);
/* Rule ID is now called NAME (its rows go with it). */
int journal_rename_rule(struct journal *j, int64_t id, const char *name);

/* Write ROW of rule RULE (its rule field is not used), replacing any. */
int journal_put(struct journal *j, int64_t rule, const struct jrow *row);
/* Forget the row of PATH (PATH_LEN bytes). */
int journal_forget(struct journal *j, int64_t rule, const char *path, size_t path_len);
/* Commit what was written since the last commit, in one transaction. */
int journal_commit(struct journal *j);
/* What was committed, on disk (JSYNC_FULL), or asked to be (JSYNC_GROUP;
 * a failure of an earlier one comes back here). */
int journal_flush(struct journal *j);
/* Whether something waits to be committed, or flushed. */
bool journal_dirty(const struct journal *j);

/* FN on each row of rule RULE (every rule: -1) whose state is in STATES
 * (a mask of 1 << J_*), in the order of rule and path; FN returns 0 to go
 * on, anything else to stop with that. With REQUESTED, only the rows
 * journal_request() marked. */
int journal_each(struct journal *j, int64_t rule, unsigned states, bool requested,
		 int (*fn)(void *ctx, const struct jrow *row), void *ctx);

/* --retry-failed: queue the failed row of PATH (every failed row: NULL)
 * again, marked as requested, for the service to pick up (or for the next
 * start); *RET_N: how many. The caller commits. */
int journal_request(struct journal *j, const char *path, size_t *ret_n);
/* The pid that holds DIR's lock (a service), 0 when none. */
int journal_holder(const char *dir);

#else /* built without SQLite: rule_check() refuses --state, so that no
       * journal is ever opened; these only stand in for the calls */

static inline int journal_open(const char *dir, unsigned flags, enum jsync sync,
			       struct journal **ret, char **err)
{
	(void)dir, (void)flags, (void)sync, (void)ret;
	*err = NULL;
	return -ENOTSUP;
}
static inline int journal_close(struct journal *j) { (void)j; return 0; }
static inline const char *journal_dir(const struct journal *j) { (void)j; return ""; }
static inline const char *journal_error(const struct journal *j)
{
	(void)j;
	return "this vigil was built without SQLite";
}
static inline void journal_sync(struct journal *j, enum jsync sync) { (void)j, (void)sync; }
static inline int journal_rule(struct journal *j, const char *name, const char *definition,
			       char *const *in_use, size_t n_in_use, int64_t *ret_id,
			       char **ret_was)
{
	(void)j, (void)name, (void)definition, (void)in_use, (void)n_in_use, (void)ret_id;
	*ret_was = NULL;
	return -ENOTSUP;
}
static inline int journal_rename_rule(struct journal *j, int64_t id, const char *name)
{
	(void)j, (void)id, (void)name;
	return -ENOTSUP;
}
static inline int journal_put(struct journal *j, int64_t rule, const struct jrow *row)
{
	(void)j, (void)rule, (void)row;
	return -ENOTSUP;
}
static inline int journal_forget(struct journal *j, int64_t rule, const char *path,
				 size_t len)
{
	(void)j, (void)rule, (void)path, (void)len;
	return -ENOTSUP;
}
static inline int journal_commit(struct journal *j) { (void)j; return 0; }
static inline int journal_flush(struct journal *j) { (void)j; return 0; }
static inline bool journal_dirty(const struct journal *j) { (void)j; return false; }
static inline int journal_each(struct journal *j, int64_t rule, unsigned states,
			       bool requested, int (*fn)(void *ctx, const struct jrow *row),
			       void *ctx)
{
	(void)j, (void)rule, (void)states, (void)requested, (void)fn, (void)ctx;
	return -ENOTSUP;
}

#endif

#endif
