/* What the subcommands share. The CLI talks to the engine only through
 * include/vigil.h. */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* The name messages start with: "vigil wait", or "inotifywait" when vigil
 * was invoked under that name. */
extern const char *cli_prog;

/* Invoked as inotifywait or inotifywatch, vigil is that tool, down to the
 * wording of its messages, for scripts that read them. */
enum cli_compat { CLI_NATIVE, CLI_INOTIFYWAIT, CLI_INOTIFYWATCH };
extern enum cli_compat cli_compat;
/* Invoked as fsnotifywait or fsnotifywatch (inotify-tools 4.x's names for
 * the same tools over fanotify): fanotify is the default. */
extern bool cli_fsnotify;
/* The vigil_new() backend flags in use (VIGIL_BACKEND_*, VIGIL_MARK_*), so
 * that messages name the right limits. */
extern unsigned cli_backend;

/* "PROG: message\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "message\n" on stderr, as inotify-tools print theirs. */
void cli_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One message in the words of the tool vigil is acting as: each argument is
 * a parenthesised printf argument list, e.g.
 *   cli_say(("No files specified to watch!"), ("no files; see '%s'", x)); */
#define cli_say(compat, native) \
	(cli_compat != CLI_NATIVE ? cli_raw compat : cli_error native)

/* From now on, send messages to syslog (LOG_DAEMON, LOG_INFO, under the
 * name vigil acts as) instead of stderr: -s and -d. */
void cli_use_syslog(void);

/* strerror(ERR) without the capital letter, as our messages are written. */
const char *cli_strerror(int err);

/* One line explaining why PATH could not be watched (ERR negative errno),
 * naming the sysctl to raise when a limit was hit. */
void cli_watch_error(const char *path, int err);
/* The same for an error event (VIGIL_EVENT_ERROR), saying how many
 * directories the watch limit left out with it. */
struct vigil_event;
void cli_event_error(const struct vigil_event *ev);
/* The watch limit left LEFT of the TOTAL directories in PATH unwatched. */
void cli_left_out_error(const char *path, size_t left, size_t total);
/* The same for creating the instance. */
void cli_instance_error(int err);

/* The exit status when standard output was a pipe whose reader went away:
 * what a shell reports for a program killed by SIGPIPE. */
#define CLI_READER_GONE (128 + 13)

/* Flush F, where WHAT goes ("events"), to the file NAME (NULL: standard
 * output): 0, or the exit status for a failure, said once (once failed,
 * F is not written again): CLI_READER_GONE, said not at all, or 1. */
int cli_flush(FILE *f, const char *what, const char *name);

/* Parse a number of seconds (fractions and a sign allowed: wait's -t -1
 * is a probe); false if it is not a finite number. */
bool cli_parse_seconds(const char *s, double *ret);

/* What has been said of a handle's blind mounts (vigil_mount()). */
struct cli_mounts {
	size_t said;     /* mounts met and said */
	bool *gone_said; /* per mount: its unmounting said */
};
/* The next line to say of V's blind mounts, into TEXT (SIZE bytes): a
 * polled one met ("polling 'P' (TYPE from SOURCE) every 2s: ..."; not when
 * QUIET), one watched with inotify anyway (a warning), a polled one gone
 * (*RET_GONE true). POLL_MS: the interval asked for, 0 for the default.
 * 1 with a line, 0 when there is nothing more to say. */
struct vigil;
int cli_mounts_next(struct vigil *v, struct cli_mounts *m, unsigned poll_ms, bool quiet,
		    char *text, size_t size, bool *ret_gone);
void cli_mounts_free(struct cli_mounts *m);

int cmd_wait(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_usage(int argc, char **argv);

#endif
