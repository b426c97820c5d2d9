/* vigil wait: inotifywait, with a sound engine underneath. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "vigil.h"

static const char wait_help[] =
	"Usage: %s [OPTION]... FILE...\n"
	"Print filesystem events on FILEs as they happen (-m), or wait for one.\n"
	"Options and output are those of inotifywait.\n"
	"\n"
	"  -h, --help              show this help and exit\n"
	"  @FILE                   exclude FILE (and, if a directory, all below it)\n"
	"      --fromfile FILE     read the FILEs to watch from FILE, one per line\n"
	"                          ('-' for stdin; a line starting with @ excludes)\n"
	"  -m, --monitor           keep printing events instead of exiting after one\n"
	"  -r, --recursive         watch directories recursively, including ones\n"
	"                          created or moved in later (none is missed)\n"
	"  -P, --no-dereference    do not follow a symbolic link given as FILE\n"
	"  -e, --event EVENT[,..]  listen for these events only (repeatable)\n"
	"  -t, --timeout SECONDS   exit with status 2 after SECONDS without an event\n"
	"                          (0: never; negative: set up the watches and exit)\n"
	"      --exclude REGEX     do not report, and do not watch, paths matching\n"
	"                          the POSIX extended REGEX (repeatable: all apply)\n"
	"      --excludei REGEX    like --exclude, case-insensitive\n"
	"      --include REGEX     report only files matching REGEX (repeatable)\n"
	"      --includei REGEX    like --include, case-insensitive\n"
	"  -q, --quiet             do not print the set-up messages; twice: print\n"
	"                          no events either\n"
	"  -o, --outfile FILE      write events to FILE instead of stdout\n"
	"  -c, --csv               print events as CSV: watched,EVENTS,name\n"
	"      --format FMT        print events as FMT: %%w watched directory, %%f\n"
	"                          name, %%e events, %%Xe events separated by X, %%T\n"
	"                          time (see --timefmt), %%c cookie, %%F old path of\n"
	"                          a paired move, %%0 NUL, %%n newline, %%%% a %%\n"
	"      --no-newline        do not end each --format line with a newline\n"
	"      --timefmt FMT       strftime(3) format for %%T\n"
	"      --json              print one JSON object per event (path, dir, name,\n"
	"                          events, cookie, from, synthetic, time)\n"
	"      --pair-moves        report a rename as one MOVE event; its old path is\n"
	"                          %%F, or \"from\" in --json\n"
	"\n"
	"Debugging:\n"
	"      --debug-watches     on exit, print every watch held, one per line as\n"
	"                          'WD PATH', on stderr (to check vigil's view of the\n"
	"                          tree against the disk)\n"
	"\n"
	"Events: access modify attrib close_write close_nowrite close open moved_to\n"
	"moved_from move move_self create delete delete_self unmount (default: all).\n"
	"Entries found in a new directory before its watch was in place are reported\n"
	"as CREATE (or as CLOSE_WRITE or MOVED_TO when only those were asked for).\n"
	"\n"
	"Exit status: 0 an event was received; 1 an event not asked for (such as\n"
	"the watched file's removal) or an error; 2 the timeout passed.\n";

enum {
	OPT_EXCLUDE = 256, OPT_EXCLUDEI, OPT_INCLUDE, OPT_INCLUDEI, OPT_FORMAT,
	OPT_TIMEFMT, OPT_NO_NEWLINE, OPT_JSON, OPT_PAIR, OPT_FROMFILE,
	OPT_DEBUG_WATCHES,
};

static const struct option wait_options[] = {
	{"help", no_argument, NULL, 'h'},
	{"monitor", no_argument, NULL, 'm'},
	{"recursive", no_argument, NULL, 'r'},
	{"no-dereference", no_argument, NULL, 'P'},
	{"event", required_argument, NULL, 'e'},
	{"timeout", required_argument, NULL, 't'},
	{"quiet", no_argument, NULL, 'q'},
	{"outfile", required_argument, NULL, 'o'},
	{"csv", no_argument, NULL, 'c'},
	{"exclude", required_argument, NULL, OPT_EXCLUDE},
	{"excludei", required_argument, NULL, OPT_EXCLUDEI},
	{"include", required_argument, NULL, OPT_INCLUDE},
	{"includei", required_argument, NULL, OPT_INCLUDEI},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"timefmt", required_argument, NULL, OPT_TIMEFMT},
	{"no-newline", no_argument, NULL, OPT_NO_NEWLINE},
	{"json", no_argument, NULL, OPT_JSON},
	{"pair-moves", no_argument, NULL, OPT_PAIR},
	{"fromfile", required_argument, NULL, OPT_FROMFILE},
	{"debug-watches", no_argument, NULL, OPT_DEBUG_WATCHES},
	{0},
};

struct pathlist {
	char **v;
	size_t len, cap;
};

static int pathlist_add(struct pathlist *l, const char *s, size_t n)
{
	if (l->len == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->len] = strndup(s, n)))
		return -ENOMEM;
	l->len++;
	return 0;
}

static void pathlist_free(struct pathlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->v[i]);
	free(l->v);
}

/* --fromfile: one path per line; "@path" excludes. */
static int read_fromfile(const char *name, struct pathlist *watch,
			 struct pathlist *exclude)
{
	FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "re");
	if (!f) {
		cli_error("cannot read '%s': %s", name, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		if (n == 0)
			continue;
		r = line[0] == '@' ? pathlist_add(exclude, line + 1, (size_t)n - 1)
				   : pathlist_add(watch, line, (size_t)n);
		if (r < 0)
			break;
	}
	if (r == 0 && ferror(f)) {
		cli_error("cannot read '%s': %s", name, strerror(errno));
		r = -1;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return r;
}

static int print_watch(void *ctx, int wd, const char *path)
{
	fprintf(ctx, "%d %s\n", wd, path);
	return 0;
}

static bool flush_out(FILE *f)
{
	if (fflush(f) == 0 && !ferror(f))
		return true;
	if (errno != EPIPE)
		cli_error("cannot write events: %s", strerror(errno));
	return false;
}

int cmd_wait(int argc, char **argv)
{
	bool monitor = false, recursive = false, nofollow = false, pair = false;
	bool debug_watches = false;
	int quiet = 0;
	double timeout = 0;
	uint32_t mask = 0;
	const char *outfile = NULL, *format = NULL, *timefmt = NULL;
	struct out out = {.kind = OUT_NATIVE, .newline = true};
	struct pathlist watch = {0}, exclude = {0};
	struct {
		int kind;
		unsigned flags;
		const char *re;
	} *filters = NULL;
	size_t n_filters = 0;
	vigil *v = NULL;
	int status = 1, opt, r;

	argv[0] = (char *)cli_prog; /* getopt's messages */
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "+hmrPe:t:qo:c", wait_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf(wait_help, cli_prog);
			status = 0;
			goto out;
		case 'm':
			monitor = true;
			break;
		case 'r':
			recursive = true;
			break;
		case 'P':
			nofollow = true;
			break;
		case 'e': {
			uint32_t m;
			size_t bad;
			if (vigil_mask_parse(optarg, &m, &bad) < 0) {
				const char *end = strchrnul(optarg + bad, ',');
				cli_error("'%.*s' is not a valid event; see '%s --help'",
					  (int)(end - optarg - bad), optarg + bad, cli_prog);
				goto out;
			}
			mask |= m;
			break;
		}
		case 't':
			if (!cli_parse_seconds(optarg, &timeout)) {
				cli_error("'%s' is not a valid timeout; give seconds", optarg);
				goto out;
			}
			break;
		case 'q':
			quiet++;
			break;
		case 'o':
			outfile = optarg;
			break;
		case 'c':
			out.kind = OUT_CSV;
			break;
		case OPT_EXCLUDE:
		case OPT_EXCLUDEI:
		case OPT_INCLUDE:
		case OPT_INCLUDEI: {
			void *p = realloc(filters, (n_filters + 1) * sizeof(*filters));
			if (!p) {
				cli_error("out of memory");
				goto out;
			}
			filters = p;
			filters[n_filters].kind = (opt == OPT_INCLUDE || opt == OPT_INCLUDEI) ?
				VIGIL_FILTER_INCLUDE : VIGIL_FILTER_EXCLUDE;
			filters[n_filters].flags = (opt == OPT_EXCLUDEI || opt == OPT_INCLUDEI) ?
				VIGIL_FILTER_ICASE : 0;
			filters[n_filters].re = optarg;
			n_filters++;
			break;
		}
		case OPT_FORMAT:
			format = optarg;
			out.kind = OUT_FORMAT;
			break;
		case OPT_TIMEFMT:
			timefmt = optarg;
			break;
		case OPT_NO_NEWLINE:
			out.newline = false;
			break;
		case OPT_JSON:
			out.kind = OUT_JSON;
			break;
		case OPT_PAIR:
			pair = true;
			break;
		case OPT_FROMFILE:
			if (read_fromfile(optarg, &watch, &exclude) < 0)
				goto out;
			break;
		case OPT_DEBUG_WATCHES:
			debug_watches = true;
			break;
		default:
			goto out; /* getopt said why */
		}
	}
	for (int i = optind; i < argc; i++) {
		const char *a = argv[i];
		r = a[0] == '@' ? pathlist_add(&exclude, a + 1, strlen(a + 1))
				: pathlist_add(&watch, a, strlen(a));
		if (r < 0) {
			cli_error("out of memory");
			goto out;
		}
	}
	if (!watch.len) {
		cli_error("no files specified to watch; see '%s --help'", cli_prog);
		goto out;
	}
	if (format && !format_check(format, timefmt))
		goto out;
	out.format = format;
	out.timefmt = timefmt;
	if (!mask)
		mask = IN_ALL_EVENTS;

	out.f = stdout;
	if (outfile && !(out.f = fopen(outfile, "ae"))) {
		cli_error("cannot open '%s': %s", outfile, strerror(errno));
		goto out;
	}
	static char obuf[64 * 1024];
	setvbuf(out.f, obuf, _IOFBF, sizeof(obuf));

	if ((r = vigil_new(pair ? VIGIL_PAIR_MOVES : 0, &v)) < 0) {
		cli_instance_error(r);
		goto out;
	}
	for (size_t i = 0; i < n_filters; i++) {
		if (vigil_filter_add(v, filters[i].kind, filters[i].re, filters[i].flags) < 0) {
			cli_error("'%s' is not a valid regular expression", filters[i].re);
			goto out;
		}
	}
	for (size_t i = 0; i < exclude.len; i++) {
		if (vigil_filter_add(v, VIGIL_FILTER_EXCLUDE_PATH, exclude.v[i], 0) < 0) {
			cli_error("cannot exclude '%s'", exclude.v[i]);
			goto out;
		}
	}

	if (!quiet)
		fprintf(stderr, recursive ? "Setting up watches.  Beware: since -r was given, this may take a while!\n"
					  : "Setting up watches.\n");
	unsigned flags = (recursive ? VIGIL_RECURSIVE : 0) | (nofollow ? VIGIL_NOFOLLOW : 0);
	for (size_t i = 0; i < watch.len; i++) {
		if ((r = vigil_add(v, watch.v[i], mask, flags)) < 0) {
			cli_watch_error(watch.v[i], r);
			goto out;
		}
	}
	if (!quiet)
		fprintf(stderr, "Watches established.\n");
	if (timeout < 0) {
		status = 0;
		goto out;
	}

	int wait_ms = timeout > 0 ? (timeout * 1000 > INT_MAX ? INT_MAX : (int)(timeout * 1000 + 0.5)) : -1;
	for (;;) {
		const struct vigil_event *ev;
		r = vigil_next(v, 0, &ev);
		if (r == 0) {
			if (!flush_out(out.f))
				goto out;
			r = vigil_next(v, wait_ms, &ev);
		}
		if (r == -EINTR)
			continue;
		if (r < 0) {
			cli_error("cannot read events: %s", strerror(-r));
			goto out;
		}
		if (r == 0) {
			status = 2;
			goto out;
		}
		if (ev->flags & VIGIL_EVENT_ERROR) {
			cli_watch_error(ev->path, ev->error);
			continue;
		}
		if (ev->flags & VIGIL_EVENT_OVERFLOW) {
			if (quiet < 2)
				cli_error("the kernel event queue overflowed and events were lost; "
					  "re-scanned the watched trees");
			if (!(mask & IN_Q_OVERFLOW))
				continue;
		}
		bool asked = (ev->mask & mask & (IN_ALL_EVENTS | IN_Q_OVERFLOW)) != 0;
		if (!(ev->mask & IN_IGNORED) && quiet < 2)
			out_event(&out, ev);
		if (!monitor) {
			status = asked ? 0 : 1;
			flush_out(out.f);
			goto out;
		}
	}
out:
	if (v && debug_watches)
		vigil_foreach_watch(v, print_watch, stderr);
	if (out.f && !flush_out(out.f) && status == 0)
		status = 1;
	if (out.f && out.f != stdout)
		fclose(out.f);
	vigil_free(v);
	pathlist_free(&watch);
	pathlist_free(&exclude);
	free(filters);
	return status;
}
