/* vigil run: what its rooms share. One epoll loop (loop.c) holds
 * everything: each rule's inotify fd, a signalfd, one pidfd per job, the
 * stdin pipes being fed, the captured output streams, and one timeout, the
 * earliest deadline. Nothing wakes while nothing happens.
 *
 * The rooms, in the order an event goes through them:
 *   options.c   the command line, into rules
 *   ruleset.c   the rules in force: their watches and stores; SIGHUP
 *   walk.c      the files already there (--initial, after an overflow)
 *   events.c    what an event means to a rule, handed to its store whole
 *   schedule.c  when a rule starts a job: slots, batches, on-busy
 *   running.c   jobs in flight: start, stop, timers, their end
 *   capture.c   the jobs' output streams, into the log
 *   log.c       the log: job lines, messages, text or JSON
 *   service.c   systemd's notification protocol
 *   loop.c      the loop, and signals
 *   run.c       cmd_run(): set up, loop, tear down
 */
#ifndef VIGIL_RUN_H
#define VIGIL_RUN_H

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "cli.h"
#include "job.h"
#include "rule.h"
#include "store.h"
#include "vigil.h"

#define NS 1000000000ull

/* What an epoll event's data.ptr points at: each of these starts with one. */
enum src_kind { SRC_RULE, SRC_JOB, SRC_STDIN, SRC_OUTPUT, SRC_SIGNAL, SRC_LINGER, SRC_STATE };

struct rjob;
struct linger_list;
struct journal;

/* A rule in force. */
struct rrule {
	enum src_kind kind; /* SRC_RULE: first, for epoll's data.ptr */
	struct rule r;
	vigil *v;
	struct store *store;
	struct rjob **jobs; /* running */
	size_t n_jobs, cap_jobs;
	uint64_t next_start;  /* --min-interval */
	uint64_t ready_since; /* since when a path is ready: a partial batch,
			       * or a restart, waits from then */
	bool rescan;          /* after an overflow */
	bool retired;         /* replaced by a reload; freed once idle */
	struct cli_mounts mounts; /* what has been said of its blind mounts */
	struct journal *journal; /* its state (run->journals'), or NULL */
	int64_t jrule;        /* its id there */
	uint64_t n_run, n_failed, n_paths, n_skipped, n_gave_up;
};

/* A stream of a job captured into the log (--capture). It lives until its
 * writers are all gone, which may be after the job: what the job left
 * running in its group still writes there, and must not get SIGPIPE. */
struct output {
	enum src_kind kind;   /* SRC_OUTPUT */
	struct job_out o;
	struct rjob *job;     /* NULL once the job has ended */
	char *rule;
	pid_t pid;
	int stream;           /* JOB_STDOUT, JOB_STDERR */
	struct output *next;  /* in run->outputs */
};

/* A job in flight. */
struct rjob {
	enum src_kind kind; /* SRC_JOB */
	struct rrule *rule;
	struct job j;
	struct {
		enum src_kind kind; /* SRC_STDIN */
		struct rjob *job;
	} in;
	struct output *out[2]; /* JOB_STDOUT, JOB_STDERR, when captured */
	uint64_t shutdown_at; /* while stopping: stop it then */
	bool pending;         /* taken its paths and its slot; starts once
			       * the journal has said so (spawn_pending()) */
};

/* A state directory in use: its journal, and a watch on it, for the
 * requests of another vigil (--retry-failed), which wake this one. */
struct state {
	enum src_kind kind;   /* SRC_STATE */
	struct journal *j;
	vigil *v;
};

enum run_mode { MODE_RUN, MODE_LIST, MODE_RETRY };

struct run {
	enum run_mode mode;   /* --list, --retry-failed: not a service */
	unsigned list_states; /* --list: 1 << J_* */
	bool list_json;       /* --json */
	struct rrule **rules;
	size_t n_rules;
	const char *rules_file;
	int epfd;
	struct {
		enum src_kind kind; /* SRC_SIGNAL */
		int fd;
		sigset_t mask; /* what it reads: SIGCHLD only once needed */
	} sig;
	bool quiet, json_log;
	unsigned capture;     /* CAPTURE_*: the jobs' streams that go to the log */
	int stopping;         /* 0, 1 after the first signal, 2 after another */
	struct timespec start; /* CLOCK_REALTIME before the first watch */
	int notify_fd;
	struct sockaddr_un notify_addr;
	socklen_t notify_len;
	uint64_t status_due;
	struct linger_list *linger; /* process groups jobs left behind */
	struct output *outputs;     /* the captured streams still open */
	enum src_kind linger_kind; /* SRC_LINGER, for its fd */
	char log[PIPE_BUF];   /* whole log lines not yet written (log_close) */
	size_t log_len;
	char *line;           /* the line being made (log_open) */
	size_t line_len;
	struct state **journals; /* the state directories in use */
	size_t n_journals, cap_journals;
	bool pending;         /* jobs wait for spawn_pending() */
	bool state_error;     /* a journal failed: stopping, then exit 1 */
};

/* Room for one more in *V (LEN used of *CAP, elements of SIZE). */
static inline int grow(void **v, size_t *cap, size_t len, size_t size)
{
	if (len < *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 8;
	void *p = reallocarray(*v, n, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}

static inline uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* The earlier of two deadlines, where 0 is none. */
static inline uint64_t min_deadline(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* --- options.c ----------------------------------------------------------- */

/* Read ARGV into RUN (its log settings, its rules file) and the rules to
 * run, in *RET (*RET_N of them). Returns -1 to go on, or the status to
 * exit with: 0 after --help and --check, 1 after an error (said). */
int run_options(struct run *run, int argc, char **argv, struct rule **ret, size_t *ret_n);

/* --- state_cmd.c ---------------------------------------------------------- */

/* --list and --retry-failed on the state directories of the N RULES
 * (each once), about PATHS (all when NULL or empty), beside a service
 * that may be running on them. Returns the exit status. */
int state_command(struct run *run, const struct rule *rules, size_t n,
		  const struct strv *paths);

/* --- log.c --------------------------------------------------------------- */

/* A log line is made whole in memory: log_open() gives where to print it,
 * log_close() takes it, log_flush() writes what is waiting. */
void log_flush(struct run *run);
FILE *log_open(struct run *run);
void log_close(struct run *run, FILE *f);
void log_start(struct run *run, struct rjob *rj);
void log_end(struct run *run, struct rjob *rj, int status, bool failed, uint64_t now);
void log_output(struct run *run, const struct output *out, const char *s, size_t len);
/* A message about a rule (RR NULL: about vigil), "PROG: [rule] ...". */
void rule_say(struct run *run, const struct rrule *rr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* S (LEN bytes) in a text line, quoted, control characters, backslashes
 * and quotes escaped: one line, whatever it holds. */
void put_text_bytes(FILE *f, const char *s, size_t len);
/* CLOCK_REALTIME ns as "2026-11-21T10:00:01.123Z". */
void put_time(FILE *f, int64_t ns);

/* --- capture.c ----------------------------------------------------------- */

/* The captured streams of job RJ, just started: into the loop. */
void add_outputs(struct run *run, struct rjob *rj);
/* Log what captured stream OUT has (with DRAIN, then close it); once it
 * has ended, it goes. */
void read_output(struct run *run, struct output *out, bool drain);

/* --- service.c ----------------------------------------------------------- */

void notify_init(struct run *run);
void notify(struct run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void notify_status(struct run *run);
void counts(const struct run *run, uint64_t *ran, uint64_t *failed, uint64_t *paths,
	    size_t *waiting, size_t *running);

/* --- events.c ------------------------------------------------------------ */

/* Whether RR runs on PATH (a directory: IS_DIR), by its filters. */
bool wants(const struct rrule *rr, const char *path, bool is_dir);
/* Whether a walk goes below directory PATH. */
bool descend(const struct rrule *rr, const char *path);
void on_event(struct run *run, struct rrule *rr, const struct vigil_event *ev, uint64_t now);
/* Hand change C to RR's store, whole: the path counts as seen when it is
 * new in the queue. */
void apply_change(struct run *run, struct rrule *rr, const struct change *c);
void say_unwatched(struct run *run, const struct rrule *rr, const struct vigil_event *ev);
void touch(struct run *run, struct rrule *rr, const char *path, uint32_t events,
	   const char *from, uint64_t now);

/* --- walk.c -------------------------------------------------------------- */

/* Every entry below RR's roots the rule would see, without following a
 * symlink, one directory open at a time. FN gets each path and its lstat. */
int walk(struct run *run, struct rrule *rr,
	 void (*fn)(struct run *, struct rrule *, const char *, const struct stat *));
/* A file found by a walk: queued (after an overflow, if it changed). */
void queue_found(struct run *run, struct rrule *rr, const char *path, const struct stat *st);
/* A file found by the catch-up of a rule with a state: queued if it is
 * new or changed since its last job (store_catch_up()). */
void catch_up_found(struct run *run, struct rrule *rr, const char *path,
		    const struct stat *st);

/* --- schedule.c ---------------------------------------------------------- */

/* Start what can start; the earliest time something more can, or 0. */
uint64_t schedule(struct run *run, struct rrule *rr, uint64_t now);

/* --- running.c ----------------------------------------------------------- */

/* Start a job on up to N ready paths: false when none could be taken. */
bool start_job(struct run *run, struct rrule *rr, size_t n, uint64_t now);
void stop_job(struct rrule *rr, struct rjob *rj, enum job_stop why, uint64_t now);
/* Commit the journals, then start the jobs that wait for it. False when
 * a journal cannot be written (said; vigil stops). */
bool spawn_pending(struct run *run, uint64_t now);
/* Job RJ ended (or, without a pidfd, may have): false if it has not. */
bool reap_job(struct run *run, struct rjob *rj, uint64_t now);
/* The rest of ended job RJ: its paths recorded and freed, and it goes. */
void finish_job(struct run *run, struct rjob *rj);
/* SIGCHLD: the jobs without a pidfd that have ended. */
void reap_children(struct run *run, uint64_t now);
/* Job timeouts, kills after the stop signal, the shutdown grace: the next
 * deadline, or 0. */
uint64_t job_timers(struct run *run, uint64_t now);

/* --- ruleset.c ----------------------------------------------------------- */

/* Set up the N RULES (taking them over): their watches and stores, in
 * *RET (*RET_N). 0, or -1 (said). */
int load_rules(struct run *run, struct rule *rules, size_t n, struct rrule ***ret,
	       size_t *ret_n);
/* Say what is new of RR's blind mounts (cli_mounts_next()). */
void say_mounts(struct run *run, struct rrule *rr);
void rrule_free(struct rrule *rr);
/* The first steps of the N rules V (those FRESH says, all when NULL): a
 * rule with a state catches up (its journal read, the files changed
 * meanwhile queued), one with --initial walks its files; then the
 * journals are committed. 0, or -1 (said; with a state that cannot be
 * kept, vigil is stopping). */
int start_rules(struct run *run, struct rrule **v, size_t n, const bool *fresh);
/* SIGHUP: read the rules file again. */
void reload(struct run *run);
/* Free the retired rules whose last job has ended. */
void drop_retired(struct run *run);

/* --- loop.c -------------------------------------------------------------- */

int epoll_add(struct run *run, int fd, uint32_t events, void *ptr);
/* SIGTERM's: no new jobs; running ones finish, up to their stop-timeout. */
void begin_stop(struct run *run, uint64_t now);
/* Journal J cannot be written: said once, and vigil stops, exit 1. */
void state_failed(struct run *run, struct journal *j);
/* The state in directory ST was asked for something (--retry-failed). */
void state_woken(struct run *run, struct state *st, uint64_t now);
/* Commit what the journals hold (said and stopping if one cannot). */
void commit_state(struct run *run);
/* Until stopped: 0 after a stop by signal, -1 after an error (said). */
int loop(struct run *run);

#endif
