/* The journal in SQLite: see journal.h. One database per state directory,
 * DIR/vigil.db, in WAL mode (readers never wait for the writer); DIR/lock,
 * held with a POSIX record lock by the service and holding its pid. */
#include "journal.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 'vigl': PRAGMA application_id, so that another program's database in
 * the directory is not taken for ours. */
#define APP_ID 0x7669676c
/* PRAGMA user_version: the format of the database. 1 is the first; each
 * later one has a step in migrate(). */
#define FORMAT 2

/* How long a write waits for another writer (--retry-failed, briefly). */
#define BUSY_MS 10000

struct journal {
	char *dir;
	sqlite3 *db;
	int lock_fd;
	unsigned flags;
	enum jsync sync;
	bool in_tx;
	bool unsynced;        /* committed, not yet asked on disk */
	/* The WAL's own fd, for fdatasync(): the loop's (JSYNC_FULL), or a
	 * thread's, which syncs behind it (JSYNC_GROUP) */
	int wal_fd;
	struct {
		pthread_t thread;
		pthread_mutex_t lock;
		pthread_cond_t wake, done_cv;
		uint64_t asked, done; /* flushes asked, and covered */
		int error;            /* errno of a failed fdatasync, or 0 */
		bool started, stop;
	} group;
	int failed;           /* the first error, negative errno; 0 */
	char *error;          /* its line */
	sqlite3_stmt *put, *forget, *rule_find, *rule_add, *rule_rename, *rule_define;
};

static int fail_sync(struct journal *j, int e);
static void group_wait(struct journal *j);

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

__attribute__((format(printf, 2, 3)))
static char *format(char **dst, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(*dst);
	*dst = vformat(fmt, ap);
	va_end(ap);
	return *dst;
}

/* An SQLite result code as a negative errno. */
static int sql_errno(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH: {
		/* what the kernel said last, where it says why: SQLite opens
		 * a file it may not write read-only, and fails the write */
		int e = db ? sqlite3_system_errno(db) : 0;
		if (e == EPERM || e == EACCES)
			return -EACCES;
		if ((rc & 0xff) == SQLITE_CANTOPEN)
			return e ? -e : -EIO;
		return e == ENOSPC ? -ENOSPC : -EROFS;
	}
	case SQLITE_IOERR: {
		int e = db ? sqlite3_system_errno(db) : 0;
		return e == ENOSPC || e == EROFS || e == EDQUOT || e == EACCES ? -e : -EIO;
	}
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return -EUCLEAN;
	case SQLITE_NOMEM: return -ENOMEM;
	default: return -EIO;
	}
}

/* The words for errno E in a line of ours. */
static const char *reason(int e)
{
	switch (e) {
	case ENOSPC: return "no space left on device";
	case EDQUOT: return "disk quota exceeded";
	case EROFS: return "read-only file system";
	case EACCES: return "permission denied";
	case EIO: return "input/output error";
	case ENOMEM: return "out of memory";
	case EBUSY: return "another process held the database too long";
	case EUCLEAN: return "the database is corrupt";
	case ENOENT: return "no such file or directory";
	case ENOTDIR: return "not a directory";
	case ELOOP: return "a symbolic link where a directory or file should be";
	default: {
		/* strerror() without its capital, as our messages go */
		static __thread char buf[128];
		snprintf(buf, sizeof(buf), "%s", strerror(e));
		if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
			buf[0] = (char)(buf[0] - 'A' + 'a');
		return buf;
	}
	}
}

/* Fail J for good with R (negative errno) from SQLite's RC in WHAT. */
static int fail(struct journal *j, int rc, const char *what)
{
	int r = sql_errno(j->db, rc);
	if (!j->failed) {
		j->failed = r;
		const char *detail = j->db ? sqlite3_errmsg(j->db) : "";
		if (r == -EUCLEAN)
			format(&j->error, "the state in '%s' is corrupt (%s: %s); it is left as it is",
			       j->dir, what, detail);
		else
			format(&j->error, "cannot write the state in '%s': %s", j->dir, reason(-r));
	}
	return r;
}

static int exec(struct journal *j, const char *sql)
{
	int rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail(j, rc, sql);
}

/* The integer that SQL (one row, one column) gives, in *RET. */
static int query_int(sqlite3 *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*ret = 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* --- the lock ------------------------------------------------------------ */

int journal_holder(const char *dir)
{
	char *path;
	if (asprintf(&path, "%s/lock", dir) < 0)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return 0;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int pid = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK ? fl.l_pid : 0;
	close(fd);
	return pid;
}

/* Take DIR's lock, or say who holds it. A POSIX record lock: the kernel
 * drops it when its holder dies, however it dies, and F_GETLK names it. */
static int take_lock(struct journal *j, char **err)
{
	char *path;
	if (asprintf(&path, "%s/lock", j->dir) < 0)
		return -ENOMEM;
	j->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (j->lock_fd < 0) {
		int e = errno;
		format(err, "cannot use '%s' as a state directory: %s", j->dir, reason(e));
		return -e;
	}
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(j->lock_fd, F_SETLK, &fl) < 0) {
		int e = errno;
		struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if ((e == EAGAIN || e == EACCES) && fcntl(j->lock_fd, F_GETLK, &who) == 0 &&
		    who.l_type != F_UNLCK) {
			format(err, "the state in '%s' is in use by pid %d; one vigil at a time "
			       "keeps a state", j->dir, (int)who.l_pid);
			return -EBUSY;
		}
		format(err, "cannot lock the state in '%s': %s", j->dir, reason(e));
		return -e;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	/* the pid is for people; the lock itself is what counts */
	if (ftruncate(j->lock_fd, 0) < 0 || pwrite(j->lock_fd, pid, (size_t)n, 0) != n) {
		int e = errno ? errno : EIO;
		format(err, "cannot write the state in '%s': %s", j->dir, reason(e));
		return -e;
	}
	return 0;
}

/* --- the format ---------------------------------------------------------- */

/* The format as of FORMAT. A path is a BLOB: its bytes, whatever they are. */
static const char schema[] =
	"CREATE TABLE rules("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  definition TEXT);"
	"CREATE TABLE paths("
	"  rule INTEGER NOT NULL,"
	"  path BLOB NOT NULL,"
	"  state INTEGER NOT NULL,"      /* enum jstate */
	"  events INTEGER NOT NULL DEFAULT 0,"
	"  origin BLOB,"                 /* the path it was renamed from */
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  status INTEGER,"              /* wait status of the last job */
	"  time INTEGER,"                /* realtime ns of the last change */
	"  retry_at INTEGER,"
	"  requested INTEGER NOT NULL DEFAULT 0,"
	"  dev INTEGER, ino INTEGER, size INTEGER, mtime INTEGER, ctime INTEGER,"
	"  PRIMARY KEY(rule, path)) WITHOUT ROWID;";

/* From format N to N + 1, for each N below FORMAT. */
static const char *const migrate[] = {
	NULL, /* 0: no format; made whole by schema[] */
	/* 1 -> 2: a rule keeps its definition (its paths and command), so
	 * that a rule renamed in the rules file keeps its state */
	"ALTER TABLE rules ADD COLUMN definition TEXT;",
};

/* Make the database of J the FORMAT of this vigil: create it when empty,
 * migrate it when older; refuse it when it is not ours or newer. */
static int check_format(struct journal *j, char **err)
{
	int64_t app = 0, version = 0, tables = 0;
	int rc = query_int(j->db, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK)
		rc = query_int(j->db, "PRAGMA user_version", &version);
	if (rc == SQLITE_OK)
		rc = query_int(j->db, "SELECT count(*) FROM sqlite_schema", &tables);
	if (rc != SQLITE_OK) {
		int r = sql_errno(j->db, rc);
		if (r == -EUCLEAN)
			format(err, "'%s/vigil.db' is not a vigil state, or is corrupt (%s); it is "
			       "left as it is", j->dir, sqlite3_errmsg(j->db));
		else
			format(err, "cannot %s the state in '%s': %s",
			       r == -ENOSPC || r == -EROFS || r == -EDQUOT ? "write" : "read", j->dir,
			       reason(-r));
		return r;
	}
	if (tables && app != APP_ID) {
		format(err, "'%s/vigil.db' is not a vigil state (another program's database); "
		       "it is left as it is", j->dir);
		return -EUCLEAN;
	}
	if (version > FORMAT) {
		format(err, "the state in '%s' is of a newer format (%lld) than this vigil "
		       "reads (%d); run a newer vigil, or give another --state", j->dir,
		       (long long)version, FORMAT);
		return -EPROTO;
	}
	if (tables && version == FORMAT)
		return 0;
	if (j->flags & JOURNAL_READ) {
		format(err, "the state in '%s' %s; start the service once to %s it", j->dir,
		       tables ? "is of an older format" : "is empty", tables ? "migrate" : "create");
		return -EPROTO;
	}
	/* one transaction: a crash in the middle leaves the old format */
	char *sql = NULL;
	if (!tables) {
		if (asprintf(&sql, "BEGIN IMMEDIATE; %s PRAGMA application_id = %d; "
			     "PRAGMA user_version = %d; COMMIT;", schema, APP_ID, FORMAT) < 0)
			return -ENOMEM;
	} else {
		char *steps = strdup("");
		for (int64_t v = version; steps && v < FORMAT; v++) {
			char *more = NULL;
			if (asprintf(&more, "%s%s", steps, v >= 1 ? migrate[v] : "") < 0)
				more = NULL;
			free(steps);
			steps = more;
		}
		if (!steps || asprintf(&sql, "BEGIN IMMEDIATE; %s PRAGMA user_version = %d; COMMIT;",
				       steps, FORMAT) < 0)
			sql = NULL;
		free(steps);
		if (!sql)
			return -ENOMEM;
	}
	char *msg = NULL;
	rc = sqlite3_exec(j->db, sql, NULL, NULL, &msg);
	free(sql);
	if (rc != SQLITE_OK) {
		int r = sql_errno(j->db, rc);
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		format(err, "cannot %s the state in '%s': %s", tables ? "migrate" : "create",
		       j->dir, r == -EIO && msg ? msg : reason(-r));
		sqlite3_free(msg);
		return r;
	}
	return 0;
}

/* --- open and close ------------------------------------------------------ */

static int prepare(struct journal *j, sqlite3_stmt **st, const char *sql)
{
	int rc = sqlite3_prepare_v3(j->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	return rc == SQLITE_OK ? 0 : fail(j, rc, "prepare");
}

/* SQLite's own syncing. A commit goes to the kernel at once; journal_flush()
 * puts it on disk (JSYNC_FULL) or has a thread do it (JSYNC_GROUP).
 * SQLite's NORMAL keeps the database whole through a power cut (its
 * checkpoints sync) and syncs nothing at a commit; OFF syncs nothing. */
static const char *sync_pragma(enum jsync s)
{
	return s == JSYNC_OFF ? "PRAGMA synchronous = OFF" : "PRAGMA synchronous = NORMAL";
}

int journal_open(const char *dir, unsigned flags, enum jsync sync, struct journal **ret,
		 char **err)
{
	*err = NULL;
	struct journal *j = calloc(1, sizeof(*j));
	if (!j || !(j->dir = strdup(dir))) {
		free(j);
		return -ENOMEM;
	}
	j->lock_fd = -1;
	j->wal_fd = -1;
	j->flags = flags;
	j->sync = sync;
	pthread_mutex_init(&j->group.lock, NULL);
	pthread_cond_init(&j->group.wake, NULL);
	pthread_cond_init(&j->group.done_cv, NULL);
	int r;
	char *path = NULL;
	if (flags & JOURNAL_OWN) {
		if (mkdir(dir, 0700) == 0) {
			/* the new directory's name on disk too, before anything
			 * is promised in it (SQLite syncs its files and theirs) */
			char *parent = strdup(dir);
			if (parent) {
				char *slash = strrchr(parent, '/');
				const char *p = !slash ? "." : slash == parent ? "/" : parent;
				if (slash && slash != parent)
					*slash = '\0';
				int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (fd >= 0) {
					fsync(fd);
					close(fd);
				}
				free(parent);
			}
		} else if (errno != EEXIST) {
			r = -errno;
			format(err, "cannot make the state directory '%s': %s", dir, reason(-r));
			goto fail;
		}
		if ((r = take_lock(j, err)) < 0)
			goto fail;
	}
	if (asprintf(&path, "%s/vigil.db", dir) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		r = -EUCLEAN;
		format(err, "'%s' is not a regular file; a state is a file of its own, never "
		       "followed elsewhere", path);
		goto fail;
	}
	if ((flags & JOURNAL_OWN) == 0 && stat(path, &st) < 0) {
		r = -errno;
		format(err, "no state in '%s': %s", dir, reason(-r));
		goto fail;
	}
	int oflags = flags & JOURNAL_READ ? SQLITE_OPEN_READONLY :
		     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int rc = sqlite3_open_v2(path, &j->db, oflags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
				 NULL);
	if (rc != SQLITE_OK) {
		r = sql_errno(j->db, rc);
		format(err, "cannot open the state in '%s': %s", dir, reason(-r));
		goto fail;
	}
	sqlite3_extended_result_codes(j->db, 1);
	sqlite3_busy_timeout(j->db, BUSY_MS);
	/* SQLite opens a file it cannot write read-only, without a word: a
	 * state that cannot be kept is refused here, not at the first job */
	if (!(flags & JOURNAL_READ) && sqlite3_db_readonly(j->db, "main") == 1) {
		r = -EROFS;
		format(err, "cannot write the state in '%s': %s", dir,
			access(path, W_OK) < 0 && errno == EROFS ? reason(EROFS) : reason(EACCES));
		goto fail;
	}
	if ((r = check_format(j, err)) < 0)
		goto fail;
	if (!(flags & JOURNAL_READ)) {
		int64_t ignored;
		/* WAL: readers (--list) never wait for the service, nor it
		 * for them */
		sqlite3_stmt *wal;
		rc = sqlite3_prepare_v2(j->db, "PRAGMA journal_mode = WAL", -1, &wal, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(wal);
			if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(wal, 0),
						       "wal") != 0)
				rc = SQLITE_CANTOPEN;
			else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
				rc = SQLITE_OK;
			sqlite3_finalize(wal);
		}
		if (rc == SQLITE_OK)
			rc = query_int(j->db, sync_pragma(sync), &ignored);
		if (rc != SQLITE_OK) {
			r = sql_errno(j->db, rc);
			format(err, "cannot write the state in '%s': %s", dir, reason(-r));
			goto fail;
		}
	}
	if (flags & JOURNAL_OWN) {
		/* a corrupt page is found now, not in the middle of the work */
		sqlite3_stmt *qc;
		rc = sqlite3_prepare_v2(j->db, "PRAGMA quick_check", -1, &qc, NULL);
		const char *res = NULL;
		if (rc == SQLITE_OK && (rc = sqlite3_step(qc)) == SQLITE_ROW)
			res = (const char *)sqlite3_column_text(qc, 0);
		if (rc != SQLITE_ROW || !res || strcmp(res, "ok") != 0) {
			/* its first finding, on one line */
			char why[160];
			const char *w = res ? res : sqlite3_errmsg(j->db);
			if (strncmp(w, "*** in database main ***\n", 25) == 0)
				w += 25;
			snprintf(why, sizeof(why), "%s", w);
			why[strcspn(why, "\n")] = '\0';
			format(err, "the state in '%s' is corrupt (%s); it is left as it is", dir, why);
			sqlite3_finalize(qc);
			r = -EUCLEAN;
			goto fail;
		}
		sqlite3_finalize(qc);
	}
	if (!(flags & JOURNAL_READ) &&
	    ((r = prepare(j, &j->put,
			  "INSERT OR REPLACE INTO paths(rule, path, state, events, origin, "
			  "attempts, failures, status, time, retry_at, requested, dev, ino, "
			  "size, mtime, ctime) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
			  "?11, ?12, ?13, ?14, ?15, ?16)")) < 0 ||
	     (r = prepare(j, &j->forget, "DELETE FROM paths WHERE rule = ?1 AND path = ?2")) < 0 ||
	     (r = prepare(j, &j->rule_find, "SELECT id FROM rules WHERE name = ?1")) < 0 ||
	     (r = prepare(j, &j->rule_add, "INSERT INTO rules(name) VALUES(?1)")) < 0 ||
	     (r = prepare(j, &j->rule_rename, "UPDATE rules SET name = ?2 WHERE id = ?1")) < 0 ||
	     (r = prepare(j, &j->rule_define,
			  "UPDATE rules SET definition = ?2 WHERE id = ?1")) < 0)) {
		format(err, "%s", j->error ? j->error : "out of memory");
		goto fail;
	}
	free(path);
	*ret = j;
	return 0;
fail:
	free(path);
	journal_close(j);
	return r;
}

int journal_close(struct journal *j)
{
	if (!j)
		return 0;
	int r = j->in_tx && !j->failed ? journal_commit(j) : j->failed;
	if (r == 0)
		r = journal_flush(j);
	if (j->group.started) {
		/* what was asked is on disk before vigil goes */
		group_wait(j);
		pthread_mutex_lock(&j->group.lock);
		j->group.stop = true;
		pthread_cond_signal(&j->group.wake);
		int e = j->group.error;
		pthread_mutex_unlock(&j->group.lock);
		pthread_join(j->group.thread, NULL);
		if (e && r == 0)
			r = fail_sync(j, e);
	}
	pthread_mutex_destroy(&j->group.lock);
	pthread_cond_destroy(&j->group.wake);
	pthread_cond_destroy(&j->group.done_cv);
	if (j->wal_fd >= 0)
		close(j->wal_fd);
	sqlite3_finalize(j->put);
	sqlite3_finalize(j->forget);
	sqlite3_finalize(j->rule_find);
	sqlite3_finalize(j->rule_add);
	sqlite3_finalize(j->rule_rename);
	sqlite3_finalize(j->rule_define);
	if (j->in_tx)
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(j->db);
	if (j->lock_fd >= 0)
		close(j->lock_fd); /* the lock goes with it */
	free(j->error);
	free(j->dir);
	free(j);
	return r;
}

const char *journal_dir(const struct journal *j)
{
	return j->dir;
}

const char *journal_error(const struct journal *j)
{
	return j->error ? j->error : "out of memory";
}

void journal_sync(struct journal *j, enum jsync sync)
{
	if (sync <= j->sync)
		return;
	j->sync = sync;
	int64_t ignored;
	query_int(j->db, sync_pragma(sync), &ignored);
}

/* --- writes -------------------------------------------------------------- */

static int begin(struct journal *j)
{
	if (j->failed)
		return j->failed;
	if (j->in_tx)
		return 0;
	int r = exec(j, "BEGIN IMMEDIATE");
	if (r == 0)
		j->in_tx = true;
	return r;
}

/* Run ST (bound) to its end, and reset it. */
static int step(struct journal *j, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(j, rc, what);
}

int journal_rule(struct journal *j, const char *name, const char *definition,
		 char *const *in_use, size_t n_in_use, int64_t *ret_id, char **ret_was)
{
	*ret_was = NULL;
	if (j->failed)
		return j->failed;
	int64_t id = 0;
	sqlite3_bind_text(j->rule_find, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(j->rule_find);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(j->rule_find, 0);
	sqlite3_reset(j->rule_find);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(j, rc, "find a rule");
	int r = begin(j);
	if (r < 0)
		return r;
	if (!id && definition) {
		/* a rule renamed in the rules file: one of the same definition
		 * whose name is no longer in use keeps its state */
		sqlite3_stmt *st;
		rc = sqlite3_prepare_v2(j->db, "SELECT id, name FROM rules WHERE definition = ?1 "
					"ORDER BY id", -1, &st, NULL);
		if (rc != SQLITE_OK)
			return fail(j, rc, "find a rule");
		sqlite3_bind_text(st, 1, definition, -1, SQLITE_STATIC);
		while (!id && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *was = (const char *)sqlite3_column_text(st, 1);
			bool used = false;
			for (size_t i = 0; was && i < n_in_use && !used; i++)
				used = strcmp(in_use[i], was) == 0;
			if (was && !used) {
				id = sqlite3_column_int64(st, 0);
				if (!(*ret_was = strdup(was))) {
					sqlite3_finalize(st);
					return -ENOMEM;
				}
			}
		}
		sqlite3_finalize(st);
		if (id && (r = journal_rename_rule(j, id, name)) < 0)
			return r;
	}
	if (!id) {
		sqlite3_bind_text(j->rule_add, 1, name, -1, SQLITE_STATIC);
		if ((r = step(j, j->rule_add, "add a rule")) < 0)
			return r;
		id = sqlite3_last_insert_rowid(j->db);
	}
	if (definition) {
		sqlite3_bind_int64(j->rule_define, 1, id);
		sqlite3_bind_text(j->rule_define, 2, definition, -1, SQLITE_STATIC);
		if ((r = step(j, j->rule_define, "define a rule")) < 0)
			return r;
	}
	*ret_id = id;
	return 0;
}

int journal_rename_rule(struct journal *j, int64_t id, const char *name)
{
	int r = begin(j);
	if (r < 0)
		return r;
	sqlite3_bind_int64(j->rule_rename, 1, id);
	sqlite3_bind_text(j->rule_rename, 2, name, -1, SQLITE_STATIC);
	return step(j, j->rule_rename, "rename a rule");
}

static void bind_opt(sqlite3_stmt *st, int i, bool has, int64_t v)
{
	if (has)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

int journal_put(struct journal *j, int64_t rule, const struct jrow *row)
{
	int r = begin(j);
	if (r < 0)
		return r;
	sqlite3_stmt *st = j->put;
	sqlite3_bind_int64(st, 1, rule);
	sqlite3_bind_blob(st, 2, row->path, (int)row->path_len, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, row->state);
	sqlite3_bind_int64(st, 4, row->events);
	if (row->from)
		sqlite3_bind_blob(st, 5, row->from, (int)row->from_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, row->attempts);
	sqlite3_bind_int64(st, 7, row->failures);
	bind_opt(st, 8, row->status >= 0, row->status);
	bind_opt(st, 9, row->time != 0, row->time);
	bind_opt(st, 10, row->retry_at != 0, row->retry_at);
	sqlite3_bind_int(st, 11, row->requested);
	bind_opt(st, 12, row->has_file, (int64_t)row->dev);
	bind_opt(st, 13, row->has_file, (int64_t)row->ino);
	bind_opt(st, 14, row->has_file, row->size);
	bind_opt(st, 15, row->has_file, row->mtime);
	bind_opt(st, 16, row->has_file, row->ctime);
	return step(j, st, "write a path");
}

int journal_forget(struct journal *j, int64_t rule, const char *path, size_t len)
{
	int r = begin(j);
	if (r < 0)
		return r;
	sqlite3_bind_int64(j->forget, 1, rule);
	sqlite3_bind_blob(j->forget, 2, path, (int)len, SQLITE_STATIC);
	return step(j, j->forget, "forget a path");
}

int journal_commit(struct journal *j)
{
	if (j->failed)
		return j->failed;
	if (!j->in_tx)
		return 0;
	int rc = sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = fail(j, rc, "commit");
		/* nothing of it is kept: the promise is broken, and said so */
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		j->in_tx = false;
		return r;
	}
	j->in_tx = false;
	j->unsynced = true;
	return 0;
}

/* Fail J for good with errno E of an fsync. */
static int fail_sync(struct journal *j, int e)
{
	if (!j->failed) {
		j->failed = -e;
		format(&j->error, "cannot write the state in '%s': %s", j->dir, reason(e));
	}
	return j->failed;
}

/* The WAL's fd, opened once it is there (after the first commit), and the
 * directory synced then, so that its name is on disk too. */
static int wal_fd(struct journal *j)
{
	if (j->wal_fd >= 0)
		return 0;
	char *path;
	if (asprintf(&path, "%s/vigil.db-wal", j->dir) < 0)
		return fail_sync(j, ENOMEM);
	j->wal_fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	int dir = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = j->wal_fd < 0 ? errno : dir < 0 || fsync(dir) < 0 ? errno : 0;
	if (dir >= 0)
		close(dir);
	return e ? fail_sync(j, e) : 0;
}

/* JSYNC_GROUP: fdatasync the WAL as often as commits come, each covering
 * every commit before it, so that the loop never waits for the disk. */
static void *group_sync(void *arg)
{
	struct journal *j = arg;
	pthread_mutex_lock(&j->group.lock);
	for (;;) {
		while (j->group.done == j->group.asked && !j->group.stop)
			pthread_cond_wait(&j->group.wake, &j->group.lock);
		if (j->group.done == j->group.asked)
			break; /* stopping, and all is synced */
		uint64_t upto = j->group.asked;
		pthread_mutex_unlock(&j->group.lock);
		int e = fdatasync(j->wal_fd) < 0 ? errno : 0;
		pthread_mutex_lock(&j->group.lock);
		if (e && !j->group.error)
			j->group.error = e;
		j->group.done = upto;
		pthread_cond_broadcast(&j->group.done_cv);
	}
	pthread_mutex_unlock(&j->group.lock);
	return NULL;
}

/* Wait until the thread has synced all that was asked. */
static void group_wait(struct journal *j)
{
	pthread_mutex_lock(&j->group.lock);
	while (j->group.done != j->group.asked)
		pthread_cond_wait(&j->group.done_cv, &j->group.lock);
	pthread_mutex_unlock(&j->group.lock);
}

int journal_flush(struct journal *j)
{
	if (j->failed)
		return j->failed;
	int e = 0;
	if (j->group.started) {
		pthread_mutex_lock(&j->group.lock);
		e = j->group.error;
		pthread_mutex_unlock(&j->group.lock);
	}
	if (e)
		return fail_sync(j, e);
	if (!j->unsynced || j->sync < JSYNC_GROUP)
		return 0;
	if (wal_fd(j) < 0)
		return j->failed;
	if (j->sync == JSYNC_FULL) {
		if (fdatasync(j->wal_fd) < 0)
			return fail_sync(j, errno);
	} else {
		if (!j->group.started) {
			int r = pthread_create(&j->group.thread, NULL, group_sync, j);
			if (r != 0)
				return fail_sync(j, r);
			j->group.started = true;
		}
		pthread_mutex_lock(&j->group.lock);
		j->group.asked++;
		pthread_cond_signal(&j->group.wake);
		pthread_mutex_unlock(&j->group.lock);
	}
	j->unsynced = false;
	return 0;
}

bool journal_dirty(const struct journal *j)
{
	return j->in_tx || j->unsynced;
}

/* --- reads --------------------------------------------------------------- */

static void column_row(sqlite3_stmt *st, struct jrow *row)
{
	*row = (struct jrow){
		.rule = (const char *)sqlite3_column_text(st, 0),
		.path = sqlite3_column_blob(st, 1),
		.path_len = (size_t)sqlite3_column_bytes(st, 1),
		.state = (enum jstate)sqlite3_column_int(st, 2),
		.events = (uint32_t)sqlite3_column_int64(st, 3),
		.attempts = (uint32_t)sqlite3_column_int64(st, 5),
		.failures = (uint32_t)sqlite3_column_int64(st, 6),
		.status = sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 :
			  sqlite3_column_int(st, 7),
		.time = sqlite3_column_int64(st, 8),
		.retry_at = sqlite3_column_int64(st, 9),
		.requested = sqlite3_column_int(st, 10) != 0,
		.has_file = sqlite3_column_type(st, 11) != SQLITE_NULL,
		.dev = (uint64_t)sqlite3_column_int64(st, 11),
		.ino = (uint64_t)sqlite3_column_int64(st, 12),
		.size = sqlite3_column_int64(st, 13),
		.mtime = sqlite3_column_int64(st, 14),
		.ctime = sqlite3_column_int64(st, 15),
	};
	if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
		row->from = sqlite3_column_blob(st, 4);
		row->from_len = (size_t)sqlite3_column_bytes(st, 4);
		if (!row->from)
			row->from = "";
	}
	if (!row->path)
		row->path = "";
}

int journal_each(struct journal *j, int64_t rule, unsigned states, bool requested,
		 int (*fn)(void *ctx, const struct jrow *row), void *ctx)
{
	if (j->failed)
		return j->failed;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(j->db,
		"SELECT r.name, p.path, p.state, p.events, p.origin, p.attempts, p.failures, "
		"p.status, p.time, p.retry_at, p.requested, p.dev, p.ino, p.size, p.mtime, "
		"p.ctime FROM paths p JOIN rules r ON r.id = p.rule "
		"WHERE (?1 < 0 OR p.rule = ?1) AND (?2 >> p.state) & 1 AND (?3 = 0 OR p.requested) "
		"ORDER BY r.name, p.path", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(j, rc, "read the paths");
	sqlite3_bind_int64(st, 1, rule);
	sqlite3_bind_int64(st, 2, states);
	sqlite3_bind_int(st, 3, requested);
	int r = 0;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct jrow row;
		column_row(st, &row);
		r = fn(ctx, &row);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = fail(j, rc, "read the paths");
	sqlite3_finalize(st);
	return r;
}

int journal_request(struct journal *j, const char *path, size_t *ret_n)
{
	*ret_n = 0;
	int r = begin(j);
	if (r < 0)
		return r;
	sqlite3_stmt *st;
	/* waiting again, from its first attempt; no delay */
	int rc = sqlite3_prepare_v2(j->db,
		"UPDATE paths SET state = 0, requested = 1, failures = 0, retry_at = NULL "
		"WHERE state = 3 AND (?1 IS NULL OR path = ?1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(j, rc, "queue failed paths");
	if (path)
		sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = fail(j, rc, "queue failed paths");
	else
		*ret_n = (size_t)sqlite3_changes(j->db);
	sqlite3_finalize(st);
	return r;
}
