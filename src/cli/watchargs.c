#include "watchargs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rule.h" /* parse_duration() */

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

/* "@path" excludes, anything else is watched. */
static int add_operand(struct watchargs *a, const char *s, size_t n)
{
	int r = s[0] == '@' ? pathlist_add(&a->exclude, s + 1, n - 1)
			    : pathlist_add(&a->watch, s, n);
	if (r < 0)
		cli_error("out of memory");
	return r;
}

/* -S or -M (SCOPE): 1, or -1 when the other was given (said). */
static int take_scope(struct watchargs *a, char scope)
{
	if (a->scope && a->scope != scope) {
		cli_say(("Please specify -S or -M once only!"),
			("'--filesystem' and '--mount' cannot both be given"));
		return -1;
	}
	a->scope = scope;
	a->recursive = true; /* the whole tree below each FILE, as in fsnotifywait */
	return 1;
}

int watchargs_option(struct watchargs *a, int opt, const char *arg)
{
	switch (opt) {
	case 'r':
		a->recursive = true;
		return 1;
	case 'P':
		a->nofollow = true;
		return 1;
	case 'e': {
		uint32_t m;
		size_t bad;
		if (vigil_mask_parse(arg, &m, &bad) < 0) {
			const char *end = strchrnul(arg + bad, ',');
			cli_say(("'%s' is not a valid event!  Run with the '--help' "
				 "option to see a list of events.", arg),
				("'%.*s' is not a valid event; see '%s --help'",
				 (int)(end - arg - bad), arg + bad, cli_prog));
			return -1;
		}
		a->mask |= m;
		return 1;
	}
	case OPT_EXCLUDE:
	case OPT_EXCLUDEI:
	case OPT_INCLUDE:
	case OPT_INCLUDEI: {
		void *p = realloc(a->filters, (a->n_filters + 1) * sizeof(*a->filters));
		if (!p) {
			cli_error("out of memory");
			return -1;
		}
		a->filters = p;
		a->filters[a->n_filters++] = (struct filter_arg){
			.kind = (opt == OPT_INCLUDE || opt == OPT_INCLUDEI) ?
				VIGIL_FILTER_INCLUDE : VIGIL_FILTER_EXCLUDE,
			.flags = (opt == OPT_EXCLUDEI || opt == OPT_INCLUDEI) ?
				VIGIL_FILTER_ICASE : 0,
			.re = arg,
		};
		return 1;
	}
	case OPT_KEEP_GOING:
		a->keep_going = true;
		return 1;
	case OPT_BACKEND:
		if (!strcmp(arg, "filesystem") || !strcmp(arg, "mount")) {
			/* -S and -M, as vigil run spells them */
			a->backend = "fanotify";
			return take_scope(a, arg[0] == 'f' ? 'S' : 'M');
		}
		if (strcmp(arg, "auto") && strcmp(arg, "inotify") && strcmp(arg, "poll") &&
		    strcmp(arg, "fanotify")) {
			cli_error("'%s' is not a backend; give auto, inotify, poll, fanotify, "
				  "filesystem or mount", arg);
			return -1;
		}
		a->backend = arg;
		return 1;
	case 'S':
	case 'M':
		return take_scope(a, (char)opt);
	case 'I':
		a->backend = "inotify";
		return 1;
	case 'F':
		a->backend = "fanotify";
		return 1;
	case OPT_POLL_INTERVAL: {
		uint64_t ns;
		if (arg[0] == '-') {
			cli_error("'--poll-interval': '%s' is negative; give a positive duration "
				  "such as 2s or 500ms", arg);
			return -1;
		}
		if (parse_duration(arg, &ns) < 0) {
			cli_error("'--poll-interval': '%s' is not a valid duration; give 500ms, "
				  "2s, 1.5m or 1h", arg);
			return -1;
		}
		if (ns < 1000000 || ns / 1000000 > UINT32_MAX) {
			cli_error("'--poll-interval': '%s' is %s; give 1ms or more, such as 2s",
				  arg, ns < 1000000 ? (ns ? "under a millisecond" : "zero")
						    : "too long");
			return -1;
		}
		a->poll_ms = (unsigned)(ns / 1000000);
		return 1;
	}
	case OPT_FROMFILE:
		if (a->fromfile) {
			cli_say(("Multiple --fromfile options given."),
				("'--fromfile' given twice; give one list"));
			return -1;
		}
		a->fromfile = arg;
		return 1;
	}
	return 0;
}

int watchargs_read_list(struct watchargs *a, FILE *f, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		if (n > 0 && (r = add_operand(a, line, (size_t)n)) < 0)
			break;
	}
	if (r == 0 && ferror(f)) {
		cli_say(("Couldn't read %s: %s", name, strerror(errno)),
			("cannot read '%s': %s", name, cli_strerror(errno)));
		r = -1;
	}
	free(line);
	return r;
}

static int read_fromfile(struct watchargs *a, const char *name)
{
	FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "re");
	if (!f) {
		cli_say(("Couldn't open %s: %s", name, strerror(errno)),
			("cannot read '%s': %s", name, cli_strerror(errno)));
		return -1;
	}
	int r = watchargs_read_list(a, f, name);
	if (f != stdin)
		fclose(f);
	return r;
}

int watchargs_finish(struct watchargs *a, int argc, char **argv, int first)
{
	for (int i = first; i < argc; i++)
		if (add_operand(a, argv[i], strlen(argv[i])) < 0)
			return -1;
	if (a->fromfile && read_fromfile(a, a->fromfile) < 0)
		return -1;
	if (!a->watch.len) {
		cli_say(("No files specified to watch!"),
			("no files specified to watch; see '%s --help'", cli_prog));
		return -1;
	}
	return 0;
}

int watchargs_backend(const struct watchargs *a, unsigned *ret)
{
	const char *b = a->backend;
	if (!b) /* inotifywait and inotifywatch see what inotify sees */
		b = a->scope || cli_fsnotify ? "fanotify" :
		    cli_compat == CLI_NATIVE ? "auto" : "inotify";
	if (a->scope && strcmp(b, "fanotify")) {
		cli_say(("-%c needs fanotify; it cannot be used with -I", a->scope),
			("'--%s' marks with fanotify; it cannot be used with '--backend %s'",
			 a->scope == 'S' ? "filesystem" : "mount", b));
		return -1;
	}
	*ret = strcmp(b, "inotify") == 0 ? VIGIL_BACKEND_INOTIFY :
	       strcmp(b, "poll") == 0 ? VIGIL_BACKEND_POLL :
	       a->scope == 'S' ? VIGIL_MARK_FILESYSTEM :
	       a->scope == 'M' ? VIGIL_MARK_MOUNT :
	       strcmp(b, "fanotify") == 0 ? VIGIL_BACKEND_FANOTIFY : 0;
	cli_backend = *ret;
	return 0;
}

const char *watchargs_setting_up(const struct watchargs *a)
{
	if (a->scope)
		return a->scope == 'S' ? "Setting up filesystem watches."
				       : "Setting up mount watches.";
	return a->recursive ? "Setting up watches.  Beware: since -r was given, "
			      "this may take a while!"
			    : "Setting up watches.";
}

int watchargs_poll_setup(const struct watchargs *a, vigil *v)
{
	int r = a->poll_ms ? vigil_set_poll_interval(v, a->poll_ms) : 0;
	if (r < 0)
		cli_error("cannot set the poll interval: %s", cli_strerror(-r));
	return r < 0 ? -1 : 0;
}

size_t watchargs_mounts(struct watchargs *a, vigil *v, bool quiet)
{
	char text[1024];
	bool gone;
	size_t n = 0;
	while (cli_mounts_next(v, &a->mounts, a->poll_ms, quiet, text, sizeof(text), &gone)) {
		cli_error("%s", text);
		n += gone;
	}
	return n;
}

int watchargs_filters(const struct watchargs *a, vigil *v)
{
	for (size_t i = 0; i < a->n_filters; i++) {
		const struct filter_arg *f = &a->filters[i];
		int r = vigil_filter_add(v, f->kind, f->re, f->flags);
		if (r == -E2BIG && cli_compat == CLI_NATIVE) {
			cli_error("'%s' is too complex a regular expression: %s", f->re,
				  VIGIL_REGEX_TOO_COMPLEX);
			return -1;
		}
		if (r < 0) {
			cli_say(("Error in `%s' regular expression.",
				 f->kind == VIGIL_FILTER_INCLUDE ? "include" : "exclude"),
				("'%s' is not a valid regular expression", f->re));
			return -1;
		}
	}
	for (size_t i = 0; i < a->exclude.len; i++) {
		int r = vigil_filter_add(v, VIGIL_FILTER_EXCLUDE_PATH, a->exclude.v[i], 0);
		if (r < 0) {
			cli_error("cannot exclude '%s': %s", a->exclude.v[i], cli_strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* How many directories are named when the watch limit left some out. */
#define LEFT_OUT_NAMED 5

/* What vigil_add() of a path queued: the directories its walk could not
 * watch. Those the watch limit left out are counted (DIRS in all, TOPS
 * error events, the first LEFT_OUT_NAMED written to NAMED); any other
 * (denied, say) is said at once in a line of its own, as the rest goes
 * on without it. inotifywait says nothing of those at set-up, so under
 * its names neither does vigil. */
struct left_out {
	size_t dirs, tops;
	FILE *named;
};

static void take_queued(vigil *v, struct left_out *lo)
{
	const struct vigil_event *ev;
	while (vigil_queued(v) && vigil_next(v, 0, &ev) == 1) {
		if (!(ev->flags & VIGIL_EVENT_ERROR))
			continue; /* none is queued during vigil_add() */
		if (ev->error != -ENOSPC) {
			if (cli_compat == CLI_NATIVE)
				cli_event_error(ev);
			continue;
		}
		lo->dirs += ev->dirs;
		if (lo->named && lo->tops < LEFT_OUT_NAMED) {
			fprintf(lo->named, "%s'%s'", lo->tops ? ", " : "", ev->path);
			if (ev->dirs > 1)
				fprintf(lo->named, " (%zu directories)", ev->dirs);
		}
		lo->tops++;
	}
}

/* The watch limit left directories below PATH out (WATCHED were watched):
 * take the error events vigil_add() queued for them, and say how many,
 * and with --keep-going, which. */
static void say_left_out(const struct watchargs *a, vigil *v, const char *path,
			 size_t watched)
{
	char *list = NULL;
	size_t list_len = 0;
	struct left_out lo = {
		.named = a->keep_going ? open_memstream(&list, &list_len) : NULL};
	take_queued(v, &lo);
	if (lo.named) {
		if (lo.tops > LEFT_OUT_NAMED)
			fprintf(lo.named, " and %zu more", lo.tops - LEFT_OUT_NAMED);
		fclose(lo.named);
	}
	if (!lo.tops) /* PATH itself could not be watched */
		cli_watch_error(path, -ENOSPC);
	else
		cli_left_out_error(path, lo.dirs, watched + lo.dirs);
	if (lo.tops && a->keep_going)
		cli_error("'%s': watching %zu of %zu directories; not watched: %s",
			  path, watched, watched + lo.dirs, list ? list : "");
	else if (lo.tops && cli_compat == CLI_NATIVE)
		cli_error("'%s': give '--keep-going' to watch the %zu that could be "
			  "and go on", path, watched);
	free(list);
}

int watchargs_watch_one(const struct watchargs *a, vigil *v, uint32_t mask,
			const char *path)
{
	unsigned flags = (a->recursive ? VIGIL_RECURSIVE : 0) |
			 (a->nofollow ? VIGIL_NOFOLLOW : 0);
	size_t before = vigil_watch_count(v);
	int r = vigil_add(v, path, mask, flags);
	if (r >= 0) {
		struct left_out lo = {0};
		take_queued(v, &lo);
		return 0;
	}
	if (r == -ENOSPC)
		say_left_out(a, v, path, vigil_watch_count(v) - before);
	else
		cli_watch_error(path, r);
	return a->keep_going && r != -ENOMEM ? 0 : -1;
}

int watchargs_watching(const struct watchargs *a, vigil *v)
{
	if (!a->keep_going || vigil_watch_count(v))
		return 0;
	cli_say(("No files could be watched."), ("nothing could be watched"));
	return -1;
}

int watchargs_watch(const struct watchargs *a, vigil *v, uint32_t mask)
{
	for (size_t i = 0; i < a->watch.len; i++)
		if (watchargs_watch_one(a, v, mask, a->watch.v[i]) < 0)
			return -1;
	return watchargs_watching(a, v);
}

void watchargs_free(struct watchargs *a)
{
	cli_mounts_free(&a->mounts);
	pathlist_free(&a->watch);
	pathlist_free(&a->exclude);
	free(a->filters);
}
