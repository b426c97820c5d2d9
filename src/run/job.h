/* One job of `vigil run`: a command started on one path or a batch of them,
 * in a process group of its own, watched through a pidfd.
 *
 * File names reach the command only as whole argv words, environment
 * values or stdin records: never through a shell, never re-parsed. */
#ifndef VIGIL_JOB_H
#define VIGIL_JOB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rule.h"
#include "store.h"

enum job_stop { STOP_NONE, STOP_TIMEOUT, STOP_RESTART, STOP_SHUTDOWN };

/* Which of a job's output streams go to vigil's log instead of being
 * inherited (--capture). */
enum { CAPTURE_STDOUT = 1u << 0, CAPTURE_STDERR = 1u << 1 };
enum { JOB_STDOUT, JOB_STDERR };

/* A captured stream: the read end of its pipe, and a line not yet ended.
 * It may outlive its job: what the job left running may still write. */
struct job_out {
	int fd;               /* -1 once at its end */
	char *line;
	size_t len;
};

struct job {
	pid_t pid;            /* also its process group */
	int pidfd;            /* -1 where pidfds are missing: reaped on SIGCHLD */
	struct store_path *paths;
	size_t n_paths;
	uint64_t started;     /* monotonic ns */
	uint64_t timeout_at;  /* 0: none */
	uint64_t kill_at;     /* after the stop signal: SIGKILL then; 0 */
	enum job_stop stop;   /* why it is being stopped */
	int stdin_fd;         /* what is left to write to its stdin, or -1 */
	char *in;
	size_t in_len, in_off;
	int out_fd[2];        /* JOB_STDOUT, JOB_STDERR: the read ends of the
			       * captured streams (for the caller to take), or -1 */
};

/* The longest line of captured output: longer ones are cut in pieces. */
#define JOB_LINE_MAX 4096

/* Start RULE's command on PATHS (N of them, which the job takes over; on
 * failure they stay the caller's), with the streams in CAPTURE (CAPTURE_*)
 * going to pipes, whose read ends are in OUT_FD. Returns 0, or a negative
 * errno with *ERR_WORD set to what could not be run (the command, "stdin"
 * or "a pipe"). */
int job_start(struct job *j, const struct rule *rule, struct store_path *paths,
	      size_t n, unsigned capture, uint64_t now, const char **err_word);
/* Read what captured stream O (FD non-blocking) has for now, and hand each
 * whole line to LINE (without its newline; a line longer than JOB_LINE_MAX
 * comes in pieces). Returns 0 while the stream may have more, 1 once it has
 * ended (its writers all closed it, or with DRAIN, nothing more is there
 * now): the last line, even without a newline, has then been handed over
 * and the pipe closed. */
int job_out_read(struct job_out *o, bool drain,
		 void (*line)(void *ctx, const char *s, size_t len), void *ctx);
void job_out_fini(struct job_out *o);
/* Write more of its stdin (when the pipe is writable): 0 while some is
 * left, 1 when done (stdin_fd closed). A reader that went away is done. */
int job_feed(struct job *j);
/* Send SIG to its process group. */
void job_signal(struct job *j, int sig);
/* Reap it once its pidfd is readable (or, without one, on SIGCHLD): *status
 * as wait(2) gives it. Returns 0, 1 when it has not ended (no pidfd), or a
 * negative errno. */
int job_reap(struct job *j, int *status);
void job_fini(struct job *j);

/* The most bytes of path text one job gets, so that its argv and
 * environment fit in ARG_MAX with room to spare. */
size_t job_arg_budget(void);

#endif
