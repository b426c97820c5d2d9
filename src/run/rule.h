/* A rule of `vigil run`: where to watch, which files count and when, and
 * what to run on them. The command line makes one rule; a rules file makes
 * one per section. Both go through rule_set(), so a key in the file and
 * the long option of the same name mean the same thing.
 *
 * Errors come back as one allocated message in vigil's style, without the
 * "vigil: " prefix and without the key (the caller knows which option or
 * line it was): "'5x' is not a valid duration; give 500ms, 2s, 1.5m or 1h".
 * The caller frees it. When memory runs out, -1 comes back with *err NULL:
 * say "out of memory". Nothing here prints or exits. */
#ifndef VIGIL_RULE_H
#define VIGIL_RULE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum on_busy { BUSY_QUEUE, BUSY_SKIP, BUSY_RESTART, BUSY_SIGNAL };
enum stdin_mode { STDIN_NONE, STDIN_PATHS0, STDIN_LINES, STDIN_JSON };
enum kind_only { KIND_ANY, KIND_FILES, KIND_DIRS };

/* A list of strings: V is NULL while LEN is 0; otherwise V[LEN] is NULL,
 * so an argv can go to execvp() as it is. */
struct strv {
	char **v;
	size_t len;
};

/* Every field has the default rule_init() gives until a key sets it:
 *
 *   events  close_write,moved_to   settle      100ms
 *   batch   1                      batch-wait  1s (only when batch > 1)
 *   jobs    1                      min-interval 0 (none)
 *   on-busy queue                  stop-signal SIGTERM, stop-timeout 10s
 *   timeout 0 (none)               loop guard  10 jobs in a row, 1s
 *   state   none                   state-sync  group
 *   retry   0                      retry-delay 10s, retry-max-delay 1h
 *   success-exit-status 0
 *   recursive, hidden, initial: off; files/dirs: both; stdin: none.
 *
 * A duration of 0 means none wherever it is allowed (settle, batch-wait,
 * min-interval, timeout; stop-timeout 0 is SIGKILL right after the stop
 * signal). */
/* Where inotify cannot see other machines' changes: poll there (auto),
 * use inotify anyway, or poll everywhere. */
enum rule_backend {
	RULE_BACKEND_AUTO, RULE_BACKEND_INOTIFY, RULE_BACKEND_POLL,
	RULE_BACKEND_FANOTIFY, RULE_BACKEND_FILESYSTEM, RULE_BACKEND_MOUNT,
};

struct rule {
	char *name;            /* the section name; "run" for the command line */
	struct strv paths;     /* to watch, as given: no ~ or variable expansion */
	bool recursive;
	uint32_t events;       /* inotify mask; default IN_CLOSE_WRITE|IN_MOVED_TO */
	bool events_given;     /* an event key replaced the default; more add */
	struct strv match;     /* globs: the name, or with '/' the relative path */
	struct strv exclude;   /* globs, as match */
	struct strv exclude_re; /* POSIX EREs on the full path, as given */
	regex_t *exclude_rx;   /* the same, compiled (exclude_re.len of them) */
	enum kind_only kind;   /* --files / --dirs */
	bool hidden;           /* also names starting with '.' (and below them) */
	uint64_t settle_ns;    /* quiet time after the last event */
	unsigned batch;        /* paths per job; 1 = one job per path */
	uint64_t batch_wait_ns; /* how long a partial batch waits for more */
	unsigned jobs;         /* jobs of this rule at once */
	uint64_t min_interval_ns; /* between two job starts */
	enum on_busy on_busy;
	int stop_signal;       /* for restart/signal, and to stop jobs */
	uint64_t stop_timeout_ns; /* then SIGKILL */
	uint64_t timeout_ns;   /* per job; 0 = none */
	bool initial;          /* run on the matching files already there */
	enum stdin_mode stdin_mode;
	unsigned loop_burst;   /* loop guard: jobs on a path in a row, each with a
				* change of it while it ran or within
				* loop_window_ns after (store_set_guard()); 0 = off */
	uint64_t loop_window_ns;
	enum rule_backend backend; /* VIGIL_BACKEND_*, VIGIL_MARK_* */
	unsigned poll_ms;      /* poll interval; 0 = the library's (2 s) */
	struct strv argv;      /* the command, with placeholders left as written */
	char *state;           /* the state directory (a journal), or NULL */
	int state_sync;        /* enum jsync: JSYNC_GROUP by default */
	unsigned retry;        /* attempts after a failure */
	uint64_t retry_delay_ns, retry_max_delay_ns;
	/* the exit statuses (0 to 255) and signals (1 to 64) that count as
	 * a job's success: bit N of success_status[N / 64], of
	 * success_signals (N - 1) */
	uint64_t success_status[4];
	uint64_t success_signals;
	bool jobs_given;       /* a jobs key was given (see publish) */

	/* MQTT (a broker URL each, as given, checked by rule_set()): */
	char *publish;         /* each settled file or batch, a message */
	char *subscribe;       /* events published elsewhere: an input */
	char *share;           /* the shared subscription's group, or NULL */
	struct strv map;       /* "REMOTE=LOCAL" prefixes, as given */
	char *mqtt_auth, *mqtt_ca, *mqtt_cert, *mqtt_key, *mqtt_client_id;
	int mqtt_version;      /* 0: 5, or 3.1.1 where the broker asks; 5; 4 */

	/* Where it was defined, for messages: the PATH given to rules_load()
	 * and the line of the section; NULL and 0 on the command line. */
	const char *file;
	unsigned line;
};

/* Set every field to its default (above); NAME is copied. 0, or -ENOMEM
 * (and R is then safe to rule_fini()). */
int rule_init(struct rule *r, const char *name);
/* Free everything R holds; R may be all zeros. */
void rule_fini(struct rule *r);

/* Set KEY (a long option name without "--", e.g. "settle", "match",
 * "on-busy") to VALUE, used as one whole value: no quotes or splitting
 * (the rules file does those before it calls here), except for "command",
 * which is split into words as a rules file line is (see split_words()).
 * Flags ("recursive", "files", "dirs", "hidden", "initial") take NULL, or
 * yes/no/true/false/1/0.
 * Repeatable keys (path, match, exclude, exclude-regex, event) add; the
 * first event key replaces the default events. Other keys replace what
 * was there; "files" and "dirs" together are an error.
 * Returns 0, or -1 with *ERR set as said at the top. "events" is a synonym
 * of "event". */
int rule_set(struct rule *r, const char *key, const char *value, char **err);
/* Whether KEY takes a value: 1, 0 for flags, -1 when KEY is unknown. */
int rule_key_takes_value(const char *key);
/* Whether KEY may be given more than once, each adding: 1, 0, -1 unknown. */
int rule_key_repeats(const char *key);

/* Put KEY back to its default ("files" and "dirs" both mean the kind
 * filter; a list becomes empty). 0, or -1 for an unknown KEY. */
int rule_unset(struct rule *r, const char *key);

/* The command of the command line: a copy of ARGV (N words, which
 * replace any command R had). 0 or -ENOMEM. */
int rule_set_argv(struct rule *r, char *const *argv, size_t n);

/* Check a finished rule: at least one path (or a subscription), a
 * command (or a broker to publish to), and no values that
 * contradict each other (with batch > 1, only a lone {} or {path} word
 * and {rule} may stand in the command, since {name} and the others have
 * no single value for a batch). 0, or -1 with *ERR as above. */
int rule_check(const struct rule *r, char **err);

/* Whether a job that ended with wait STATUS succeeded, by R's
 * success-exit-status. */
bool rule_success(const struct rule *r, int status);

/* "500ms", "2s", "1.5m", "1h", "2d", or a plain number of seconds (digits,
 * optionally '.' and more digits; no sign, no spaces), into nanoseconds,
 * at most INT64_MAX / 2 of them (about 146 years). Fractions finer than a
 * nanosecond are dropped. Returns 0 or -1. */
int parse_duration(const char *s, uint64_t *ns);

/* A signal: "TERM", "SIGTERM", "term" or "15" (1 to SIGRTMAX). 0 or -1. */
int parse_signal(const char *s, int *ret_sig);
/* "TERM" for SIGTERM; NULL for a signal without a name (real-time ones). */
const char *signal_name(int sig);

/* Split S into words the way a rules file's values are, and no further:
 * whitespace separates words; single quotes keep everything literally;
 * double quotes keep everything but take \" and \\ as escapes; a backslash
 * outside quotes makes the next byte literal. No variable, glob, tilde or
 * command expansion, ever. The words go in *RET (freed with strv_free);
 * -1 with *ERR ("unbalanced ' quote", "a trailing backslash escapes
 * nothing") or NULL for out of memory. */
int split_words(const char *s, struct strv *ret, char **err);
void strv_free(struct strv *s);

/* Whether REL (the path relative to the watched root) and its last
 * component NAME match GLOB: a glob without '/' matches NAME as fnmatch(3)
 * without flags would ('*' also matches a leading '.'); one with '/'
 * matches REL component by component, where a '**' component matches any
 * number of whole components: zero or more, but one or more as the last
 * component, which so matches everything below a directory and not the
 * directory itself. Empty components (a leading, trailing or doubled
 * '/') are ignored: "/x" matches x at the top only. Characters are UTF-8;
 * an invalid byte is a character of its own. The time taken grows at most
 * with the glob's length times REL's: no backtracking blow-up. */
bool glob_match(const char *glob, const char *rel, const char *name);
/* The same on the first LEN bytes of REL, its last component being NAME. */
bool glob_match_len(const char *glob, const char *rel, size_t len);
/* False for a glob that can never match, as glibc's fnmatch() fails it: an
 * unknown class ("[[:foo:]]"), a collating element of more than one
 * character ("[[.ab.]]") or an unclosed one ("[[.a]"). */
bool glob_valid(const char *glob);

/* An --exclude GLOB as a POSIX ERE for the part of a path below its root
 * (to be preceded by the root and a '/'): it matches, in the C locale, a
 * path the glob or a directory above it matches (what the rule excludes),
 * and what is below it, so that the engine need not watch it. It never
 * matches more than that; it matches less only for names that are not
 * UTF-8 where the glob has a '?' or a bracket. Returns 1 with *RET (to be
 * freed), 0 for a glob that cannot be translated exactly (a byte that is
 * not UTF-8, a bracket with a character that is not ASCII, "** / **", a
 * trailing backslash; or one that never matches), or -ENOMEM. */
int glob_exclude_ere(const char *glob, char **ret);

/* Whether a path passes the rule's filters. REL is relative to the root
 * (no leading '/'), FULL the whole path (root + '/' + REL).
 *  - hidden off: a component of REL starting with '.' refuses it;
 *  - exclude and exclude-regex refuse a path they match, and any path
 *    below a directory they match (as the engine never watches below an
 *    excluded directory): "node_modules" excludes node_modules/a/b.js;
 *  - match, when given, must accept the path itself (any one of them);
 *  - files: not a directory; dirs: a directory.
 * When memory runs out while checking an exclude-regex below the root, the
 * path is refused. */
bool rule_wants(const struct rule *r, const char *rel, const char *full,
		bool is_dir);
/* Whether anything below the directory REL (FULL) can be wanted: false when
 * it is hidden (and hidden is off) or excluded. The loop need not watch
 * a directory for which this is false. */
bool rule_descends(const struct rule *r, const char *rel, const char *full);

/* A rules file (see vigil-rules(5)): the rules in *RET (count *N, at least
 * one), each passed by rule_check(), with file pointing at PATH (which must
 * outlive them) and line at its section. Or -1 with *ERR naming the file,
 * the line and the key ("rules.ini:12: 'settle': '5x' is not a valid
 * duration; ..."), and nothing left allocated.
 * When the process runs as root, PATH (after symlinks) and every directory
 * above it must belong to root and be writable by nobody else (a directory
 * with the sticky bit, such as /tmp, may be writable by others). */
int rules_load(const char *path, struct rule **ret, size_t *n, char **err);
/* The same on the LEN bytes of TEXT already read (no file is opened and
 * no ownership checked): what rules_load() does after reading PATH. */
int rules_parse(const char *path, const char *text, size_t len,
		struct rule **ret, size_t *n, char **err);
void rules_free(struct rule *v, size_t n);

#endif
