/* What `vigil wait` and `vigil stats` share: which paths to watch, for
 * which events, through which filters (the options inotifywait and
 * inotifywatch have in common), and setting the watches up. */
#ifndef VIGIL_WATCHARGS_H
#define VIGIL_WATCHARGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "vigil.h"

enum {
	OPT_EXCLUDE = 256, OPT_EXCLUDEI, OPT_INCLUDE, OPT_INCLUDEI, OPT_FROMFILE,
	OPT_KEEP_GOING, OPT_BACKEND, OPT_POLL_INTERVAL,
	OPT_WATCHARGS_END, /* the subcommands number their own options from here */
};

/* The long options behind the codes above, for a command's option table. */
#define WATCHARGS_LONG_OPTIONS                                                 \
	{"recursive", no_argument, NULL, 'r'},                                 \
	{"no-dereference", no_argument, NULL, 'P'},                            \
	{"event", required_argument, NULL, 'e'},                               \
	{"exclude", required_argument, NULL, OPT_EXCLUDE},                     \
	{"excludei", required_argument, NULL, OPT_EXCLUDEI},                   \
	{"include", required_argument, NULL, OPT_INCLUDE},                     \
	{"includei", required_argument, NULL, OPT_INCLUDEI},                   \
	{"fromfile", required_argument, NULL, OPT_FROMFILE},                   \
	{"keep-going", no_argument, NULL, OPT_KEEP_GOING},                     \
	{"backend", required_argument, NULL, OPT_BACKEND},                     \
	{"inotify", no_argument, NULL, 'I'},                                   \
	{"fanotify", no_argument, NULL, 'F'},                                  \
	{"filesystem", no_argument, NULL, 'S'},                                \
	{"mount", no_argument, NULL, 'M'},                                     \
	{"poll-interval", required_argument, NULL, OPT_POLL_INTERVAL}

struct pathlist {
	char **v;
	size_t len, cap;
};

struct watchargs {
	struct pathlist watch, exclude; /* FILE and @FILE */
	struct filter_arg {
		int kind;       /* enum vigil_filter_kind */
		unsigned flags; /* VIGIL_FILTER_ICASE */
		const char *re;
	} *filters;
	size_t n_filters;
	const char *fromfile;
	uint32_t mask; /* 0 when no -e was given */
	bool recursive, nofollow;
	bool keep_going; /* a FILE, or directories below one, that cannot be
			    watched are said, and the rest is watched */
	const char *backend;  /* --backend: auto, inotify, poll or fanotify
				 (filesystem and mount set scope)
				 (NULL: auto; inotify under the inotifywait
				 names, fanotify under fsnotifywait's) */
	char scope;           /* 'S' (--filesystem), 'M' (--mount), or 0 */
	unsigned poll_ms;     /* --poll-interval, 0 when not given */
	struct cli_mounts mounts; /* what has been said of the blind mounts */
};

/* The help text of --backend and --poll-interval. */
#define WATCHARGS_BACKEND_HELP                                                        \
	"      --backend WHICH     where inotify cannot see other machines' changes\n"    \
	"                          (NFS, SMB, sshfs and every FUSE mount, 9p, ...):\n"    \
	"                          auto polls those and nothing else (the default),\n"    \
	"                          inotify watches them with inotify anyway, with a\n"     \
	"                          warning, poll polls everything; fanotify watches\n"    \
	"                          with fanotify, which says who made each change;\n"    \
	"                          filesystem and mount are -S and -M\n"                  \
	"  -I, --inotify           --backend inotify\n"                                   \
	"  -F, --fanotify          --backend fanotify: a mark per directory (no\n"        \
	"                          privilege needed)\n"                                   \
	"  -S, --filesystem        fanotify, marking the whole filesystem of each FILE\n"  \
	"                          in one call: nothing is walked, however big the\n"    \
	"                          tree (needs CAP_SYS_ADMIN); events outside the\n"     \
	"                          FILEs are dropped\n"                                   \
	"  -M, --mount             like -S, with open, access, modify and close seen\n"  \
	"                          only when made through the FILE's mount\n"            \
	"      --poll-interval DURATION  how often a polled directory is looked at\n"     \
	"                          (default 2s; 500ms, 1.5s, 1m)\n"


/* Take option OPT (as getopt_long returned it) if it is one of the shared
 * ones: 1 when taken, 0 when not ours, -1 when bad (said on stderr). */
int watchargs_option(struct watchargs *a, int opt, const char *arg);
/* Take the operands argv[first..argc-1] ("@PATH" excludes), then read the
 * --fromfile list: 0, or -1 when that failed or nothing is left to watch
 * (said on stderr). */
int watchargs_finish(struct watchargs *a, int argc, char **argv, int first);
/* Read a --fromfile list from F (named NAME in messages): one path per
 * line, "@path" excludes. 0, or -1 when reading failed (said on stderr). */
int watchargs_read_list(struct watchargs *a, FILE *f, const char *name);
/* The vigil_new() flags --backend, -I, -F, -S and -M ask for
 * (VIGIL_BACKEND_*, VIGIL_MARK_*, or 0) into *RET: 0, or -1 when they
 * conflict (said). */
int watchargs_backend(const struct watchargs *a, unsigned *ret);
/* What to say as the watches are being set up, as inotifywait says it. */
const char *watchargs_setting_up(const struct watchargs *a);
/* Set what --poll-interval says in V: 0 or -1 (said). */
int watchargs_poll_setup(const struct watchargs *a, vigil *v);
/* Say what is new of the blind mounts met so far: each newly polled one
 * (unless QUIET), each watched with inotify anyway (a warning), each
 * polled one unmounted since. Returns how many polled mounts were newly
 * found unmounted. */
size_t watchargs_mounts(struct watchargs *a, vigil *v, bool quiet);
/* Install the filters and the excluded paths in V: 0 or -1 (said). */
int watchargs_filters(const struct watchargs *a, vigil *v);
/* Watch PATH for MASK: 0, or -1 after saying why not. When the watch limit
 * leaves directories below PATH out, also say how many of how many are
 * watched. With --keep-going, what cannot be watched is said, and is 0. */
int watchargs_watch_one(const struct watchargs *a, vigil *v, uint32_t mask,
			const char *path);
/* After watchargs_watch_one() on each path: 0, or -1 when --keep-going
 * went on past every path and nothing at all is watched (said). */
int watchargs_watching(const struct watchargs *a, vigil *v);
/* Both, for every path. */
int watchargs_watch(const struct watchargs *a, vigil *v, uint32_t mask);
void watchargs_free(struct watchargs *a);

#endif
