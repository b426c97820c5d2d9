/* vigil stats: inotifywatch. Count events per watch for a while, then print
 * a table (or JSON) sorted as inotifywatch sorts it.
 *
 * A row is one watch, named as inotifywatch names it (%w): a directory with
 * its trailing '/', or a watched file's path. Rows follow directories
 * renamed inside the tree and stay, with what they counted, after their
 * directory is gone. Ties sort by the order inotifywatch would have set the
 * watches in: each FILE in turn, and below a directory given with -r, the
 * subdirectories before the directory (it watches on the way back up).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "watchargs.h"
#include "vigil.h"

static const char stats_help[] =
	"Usage: %s [OPTION]... FILE...\n"
	"Count filesystem events on FILEs until interrupted or for a time, then\n"
	"print a table of events per watched directory or file. Options and\n"
	"output are those of inotifywatch.\n"
	"\n"
	"  -h, --help              show this help and exit\n"
	"  -v, --verbose           say more while setting up the watches\n"
	"  @FILE                   exclude FILE (and, if a directory, all below it)\n"
	"      --fromfile FILE     read the FILEs to watch from FILE, one per line\n"
	"                          ('-' for stdin; a line starting with @ excludes)\n"
	"  -r, --recursive         watch directories recursively, including ones\n"
	"                          created or moved in later\n"
	"      --keep-going        when a FILE, or directories below one, cannot be\n"
	"                          watched (the watch limit), say which and count\n"
	"                          in the rest instead of exiting\n"
	"  -P, --no-dereference    do not follow a symbolic link given as FILE\n"
	"  -e, --event EVENT[,..]  count these events only (repeatable)\n"
	"  -t, --timeout SECONDS   count for SECONDS, then print the table (0, the\n"
	"                          default: until SIGINT, SIGTERM or SIGHUP)\n"
	"  -z, --zero              also print the rows and columns that are all 0\n"
	"  -a, --ascending EVENT   sort by EVENT (or 'total'), smallest first\n"
	"  -d, --descending EVENT  sort by EVENT (or 'total'), largest first\n"
	"                          (default: -d total)\n"
	"      --exclude REGEX     do not count, and do not watch, paths matching\n"
	"                          the POSIX extended REGEX (repeatable: all apply)\n"
	"      --excludei REGEX    like --exclude, case-insensitive\n"
	"      --include REGEX     count only paths matching REGEX (repeatable)\n"
	"      --includei REGEX    like --include, case-insensitive\n"
	"      --json              print the counts as one JSON object\n"
	WATCHARGS_BACKEND_HELP
	"\n"
	"SIGUSR1 prints the table so far and goes on counting.\n"
	"\n"
	"Events: access modify attrib close_write close_nowrite close open moved_to\n"
	"moved_from move move_self create delete delete_self unmount (default: all).\n"
	"\n"
	"Exit status: 0 the table was printed (or there was nothing to count);\n"
	"1 an error; 141 the reader of the pipe on standard output went away.\n";

enum { OPT_JSON = OPT_WATCHARGS_END };

static const struct option stats_options[] = {
	{"help", no_argument, NULL, 'h'},
	{"verbose", no_argument, NULL, 'v'},
	{"zero", no_argument, NULL, 'z'},
	{"ascending", required_argument, NULL, 'a'},
	{"descending", required_argument, NULL, 'd'},
	{"timeout", required_argument, NULL, 't'},
	{"json", no_argument, NULL, OPT_JSON},
	WATCHARGS_LONG_OPTIONS,
	{0},
};

/* The columns, in inotifywatch's order; each is as wide as its name. */
static const struct kind {
	uint32_t bit;
	const char *name;
} kinds[] = {
	{IN_ACCESS, "access"},
	{IN_MODIFY, "modify"},
	{IN_ATTRIB, "attrib"},
	{IN_CLOSE_WRITE, "close_write"},
	{IN_CLOSE_NOWRITE, "close_nowrite"},
	{IN_OPEN, "open"},
	{IN_MOVED_FROM, "moved_from"},
	{IN_MOVED_TO, "moved_to"},
	{IN_MOVE_SELF, "move_self"},
	{IN_CREATE, "create"},
	{IN_DELETE, "delete"},
	{IN_DELETE_SELF, "delete_self"},
	{IN_UNMOUNT, "unmount"},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))
#define KIND_BITS (IN_ALL_EVENTS | IN_UNMOUNT)
#define SORT_TOTAL (-1)

struct counts {
	uint64_t total;
	uint64_t n[N_KINDS];
};

struct row {
	char *path;     /* %w */
	size_t len;
	uint64_t rank;  /* inotifywatch's watch order: ties sort by it */
	struct counts c;
	bool detached;  /* its watch is gone: not found by path any more */
};

/* Rows, and a hash of the attached ones by path (open addressing, linear
 * probing; a slot holds a row index + 1, 0 when empty). */
struct table {
	struct row *rows;
	size_t len, cap;
	uint32_t *slots;
	size_t n_slots;   /* a power of two, at least twice the rows */
	uint64_t next_rank;
	struct counts all;
};

struct stats {
	struct table t;
	struct table operands; /* the FILEs given, as a set */
	struct watchargs *args;
	uint32_t mask;    /* the events counted (-e, or all) */
	int sort_kind;    /* index into kinds[], SORT_TOTAL, or -2 - bit for
			     a name -e takes that has no column (isdir...) */
	bool ascending, zero, json, overflow_said;
	bool unmounted;   /* a polled mount went away */
};

static uint64_t hash_path(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/* The slot PATH is in, or the empty slot where it would go. */
static size_t table_slot(const struct table *t, const char *path, size_t len)
{
	size_t i = (size_t)hash_path(path, len) & (t->n_slots - 1);
	for (;; i = (i + 1) & (t->n_slots - 1)) {
		uint32_t s = t->slots[i];
		if (!s)
			return i;
		const struct row *r = &t->rows[s - 1];
		if (r->len == len && memcmp(r->path, path, len) == 0)
			return i;
	}
}

static struct row *table_find(const struct table *t, const char *path, size_t len)
{
	if (!t->n_slots)
		return NULL;
	uint32_t s = t->slots[table_slot(t, path, len)];
	return s ? &t->rows[s - 1] : NULL;
}

/* Index every attached row again, in a table of N_SLOTS. */
static int table_rehash(struct table *t, size_t n_slots)
{
	uint32_t *slots = calloc(n_slots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	free(t->slots);
	t->slots = slots;
	t->n_slots = n_slots;
	for (size_t i = 0; i < t->len; i++) {
		struct row *r = &t->rows[i];
		if (r->detached)
			continue;
		/* no two attached rows share a path (rename_rows() sees to it) */
		t->slots[table_slot(t, r->path, r->len)] = (uint32_t)(i + 1);
	}
	return 0;
}

/* A new attached row for PATH, which must not have one; NULL when out of
 * memory. Its rank is the next one. */
static struct row *table_add(struct table *t, const char *path, size_t len)
{
	if (t->len == UINT32_MAX - 1)
		return NULL;
	if (t->len == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct row *rows = realloc(t->rows, cap * sizeof(*rows));
		if (!rows)
			return NULL;
		t->rows = rows;
		t->cap = cap;
	}
	if ((t->len + 1) * 2 > t->n_slots &&
	    table_rehash(t, t->n_slots ? t->n_slots * 2 : 128) < 0)
		return NULL;
	char *p = malloc(len + 1);
	if (!p)
		return NULL;
	memcpy(p, path, len);
	p[len] = '\0';
	struct row *r = &t->rows[t->len];
	*r = (struct row){.path = p, .len = len, .rank = t->next_rank++};
	t->slots[table_slot(t, path, len)] = (uint32_t)(t->len + 1);
	t->len++;
	return r;
}

/* R's watch is gone: keep the row, but no longer find it by its path
 * (which may be watched again, as a new row). Backward-shift deletion, so
 * that probing needs no tombstones. */
static void table_unlink(struct table *t, struct row *r)
{
	size_t mask = t->n_slots - 1;
	size_t i = table_slot(t, r->path, r->len);
	if (!t->slots[i] || &t->rows[t->slots[i] - 1] != r)
		return;
	r->detached = true;
	t->slots[i] = 0;
	for (size_t j = i;;) {
		j = (j + 1) & mask;
		if (!t->slots[j])
			return;
		const struct row *x = &t->rows[t->slots[j] - 1];
		size_t home = (size_t)hash_path(x->path, x->len) & mask;
		/* it stays if its home is cyclically within (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j] = 0;
		i = j;
	}
}

static struct row *table_get(struct table *t, const char *path, size_t len)
{
	struct row *r = table_find(t, path, len);
	return r ? r : table_add(t, path, len);
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->len; i++)
		free(t->rows[i].path);
	free(t->rows);
	free(t->slots);
}

/* Deep in the counting there is no sensible way on without memory: say so
 * and stop, as git's xmalloc() does. */
static void out_of_memory(void)
{
	cli_error("out of memory");
	exit(1);
}

/* --- rows for the watches, in inotifywatch's order ---------------------- */

/* A watch vigil holds, and where its row goes in the post-order walk. */
struct found {
	char *key;
	int wd;
	bool operand;   /* a FILE given: a walk starts there */
	size_t row;
	size_t first_child, last_child, next_sibling;
};
#define NONE SIZE_MAX

struct found_list {
	const struct stats *s;
	struct found *v;
	size_t len, cap;
};

/* The row name of a watch vigil reports at PATH: every directory with a
 * trailing '/' (vigil's %w); a FILE given may be a file. */
static char *watch_key(const struct stats *s, const char *path, bool *ret_operand)
{
	const struct watchargs *a = s->args;
	size_t len = strlen(path);
	bool dir = true;
	*ret_operand = table_find(&s->operands, path, len) != NULL;
	if (*ret_operand) {
		struct stat st;
		dir = (a->nofollow ? lstat(path, &st) : stat(path, &st)) == 0 &&
		      S_ISDIR(st.st_mode);
	}
	bool slash = dir && !(len && path[len - 1] == '/');
	char *k = malloc(len + 2);
	if (!k)
		return NULL;
	memcpy(k, path, len);
	if (slash)
		k[len++] = '/';
	k[len] = '\0';
	return k;
}

static int collect_watch(void *ctx, int wd, const char *path)
{
	struct found_list *l = ctx;
	bool operand;
	char *key = watch_key(l->s, path, &operand);
	if (!key)
		return -ENOMEM;
	if (table_find(&l->s->t, key, strlen(key))) {
		free(key);
		return 0;
	}
	if (l->len == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct found *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			free(key);
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->len++] = (struct found){.key = key, .wd = wd, .operand = operand};
	return 0;
}

static int by_wd(const void *a, const void *b)
{
	int x = ((const struct found *)a)->wd, y = ((const struct found *)b)->wd;
	return (x > y) - (x < y);
}

/* Give every watch vigil holds that has no row yet a row, ranked as
 * inotifywatch would have set those watches: in the order they were set
 * (the kernel numbers them in that order), each directory after the
 * directories below it. */
static void sync_watch_rows(struct stats *s, vigil *v)
{
	struct found_list l = {.s = s};
	if (vigil_foreach_watch(v, collect_watch, &l) < 0)
		out_of_memory();
	if (l.len) /* l.v is NULL when every watch has a row already */
		qsort(l.v, l.len, sizeof(*l.v), by_wd);
	size_t base = s->t.len;
	for (size_t i = 0; i < l.len; i++) {
		struct found *f = &l.v[i];
		struct row *r = table_get(&s->t, f->key, strlen(f->key));
		if (!r)
			out_of_memory();
		f->row = (size_t)(r - s->t.rows);
		f->first_child = f->last_child = f->next_sibling = NONE;
	}
	/* which watch each new row stands for (two watches on one path, as
	 * with "d" and "d/" both given, make one row) */
	size_t n_new = s->t.len - base;
	size_t *of_row = malloc((n_new + 1) * sizeof(*of_row));
	if (!of_row)
		out_of_memory();
	for (size_t i = 0; i < n_new; i++)
		of_row[i] = NONE;
	for (size_t i = 0; i < l.len; i++)
		if (of_row[l.v[i].row - base] == NONE)
			of_row[l.v[i].row - base] = i;
	/* link each directory under its parent, if that is new too; the
	 * others start walks of their own, in the order they were watched */
	size_t first_top = NONE, last_top = NONE;
	for (size_t i = 0; i < l.len; i++) {
		struct found *f = &l.v[i];
		if (of_row[f->row - base] != i)
			continue;
		size_t parent = NONE;
		/* a FILE given is where inotifywatch starts a walk, never a child */
		if (!f->operand) {
			size_t len = strlen(f->key) - 1; /* without its '/' */
			while (len && f->key[len - 1] != '/')
				len--;
			const struct row *p = len ? table_find(&s->t, f->key, len) : NULL;
			if (p && (size_t)(p - s->t.rows) >= base)
				parent = of_row[p - s->t.rows - base];
		}
		size_t *first = parent == NONE ? &first_top : &l.v[parent].first_child;
		size_t *last = parent == NONE ? &last_top : &l.v[parent].last_child;
		if (*last == NONE)
			*first = i;
		else
			l.v[*last].next_sibling = i;
		*last = i;
	}
	/* post-order: a directory is ranked after everything below it;
	 * first_child serves as each node's next child to visit */
	size_t *stack = malloc((l.len + 1) * sizeof(*stack));
	if (!stack)
		out_of_memory();
	for (size_t top = first_top; top != NONE; top = l.v[top].next_sibling) {
		size_t depth = 0;
		stack[depth++] = top;
		while (depth) {
			struct found *f = &l.v[stack[depth - 1]];
			size_t c = f->first_child;
			if (c != NONE) {
				f->first_child = l.v[c].next_sibling;
				stack[depth++] = c;
			} else {
				s->t.rows[f->row].rank = s->t.next_rank++;
				depth--;
			}
		}
	}
	free(stack);
	free(of_row);
	for (size_t i = 0; i < l.len; i++)
		free(l.v[i].key);
	free(l.v);
}

/* --- counting ------------------------------------------------------------ */

static void count(struct stats *s, const char *dir, size_t dir_len, uint32_t mask)
{
	struct row *r = table_get(&s->t, dir, dir_len);
	if (!r)
		out_of_memory();
	for (size_t k = 0; k < N_KINDS; k++)
		if (mask & kinds[k].bit) {
			r->c.n[k]++;
			s->t.all.n[k]++;
		}
	r->c.total++;
	s->t.all.total++;
}

/* Whether R is attached, and the row of DIR (LEN bytes, no '/') or below. */
static bool below(const struct row *r, const char *dir, size_t len)
{
	return !r->detached && r->len > len && memcmp(r->path, dir, len) == 0 &&
	       r->path[len] == '/';
}

/* A directory's path changed from FROM to TO (both without the trailing
 * '/'): so do the rows of its watch and of every watch below it, as
 * inotifywatch renames its watches. A walk over every row, and the index
 * built again: renames of directories are rare next to events. */
static void rename_rows(struct stats *s, const char *from, size_t from_len,
			const char *to, size_t to_len)
{
	struct table *t = &s->t;
	bool any = false;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < t->len; i++) {
			struct row *r = &t->rows[i];
			if (!below(r, from, from_len))
				continue;
			size_t len = to_len + r->len - from_len;
			char *p = malloc(len + 1);
			if (!p)
				out_of_memory();
			memcpy(p, to, to_len);
			memcpy(p + to_len, r->path + from_len, r->len - from_len + 1);
			if (pass == 0) {
				/* a row at the new path is a watch that is gone (the
				 * kernel renames only over an empty directory) */
				struct row *old = table_find(t, p, len);
				if (old && !below(old, from, from_len))
					table_unlink(t, old);
				free(p);
				continue;
			}
			free(r->path);
			r->path = p;
			r->len = len;
			any = true;
		}
	}
	if (any && table_rehash(t, t->n_slots) < 0)
		out_of_memory();
}

/* The watches at DIR (a directory, with its '/') and below it are gone:
 * see table_unlink(). A walk over every row, as rare as moves out are. */
static void detach_rows(struct stats *s, const char *dir, size_t len)
{
	struct table *t = &s->t;
	for (size_t i = 0; i < t->len; i++) {
		struct row *r = &t->rows[i];
		if (!r->detached && r->len >= len && memcmp(r->path, dir, len) == 0)
			table_unlink(t, r);
	}
}

/* The row name of the directory an event names: PATH with a '/'. */
static char *entry_dir_key(const struct vigil_event *ev)
{
	char *key = malloc(ev->path_len + 2);
	if (!key)
		out_of_memory();
	memcpy(key, ev->path, ev->path_len);
	memcpy(key + ev->path_len, "/", 2);
	return key;
}

static void take_event(struct stats *s, const struct vigil_event *ev)
{
	bool recursive = s->args->recursive;
	if (ev->flags & VIGIL_EVENT_ERROR) {
		if (cli_compat != CLI_NATIVE)
			cli_raw("Couldn't watch new directory %s: %s", ev->path,
				strerror(-ev->error));
		else
			cli_event_error(ev);
		return;
	}
	if (ev->flags & VIGIL_EVENT_OVERFLOW) {
		/* inotifywatch says nothing, and its counts are silently short */
		if (!s->overflow_said)
			cli_error("the kernel event queue overflowed and events were "
				  "lost; the counts are short");
		s->overflow_said = true;
		return;
	}
	/* Only what was asked for counts, and UNMOUNT, which the kernel always
	 * sends and inotifywatch counts. An entry that a listing of a new
	 * directory found (VIGIL_EVENT_SYNTHETIC) was made there before the
	 * watch: with -r, IN_CREATE is always watched for, so it comes as the
	 * CREATE that it was, and counts as one when create is asked for. */
	uint32_t mask = ev->mask & (s->mask | IN_UNMOUNT) & KIND_BITS;
	if (ev->flags & VIGIL_EVENT_PAIRED) {
		/* two kernel events, in two rows as inotifywatch counts them */
		if (mask & IN_MOVED_FROM)
			count(s, ev->from_dir, strlen(ev->from_dir), IN_MOVED_FROM);
		if (mask & IN_MOVED_TO)
			count(s, ev->dir, ev->dir_len, IN_MOVED_TO);
		if ((ev->mask & IN_ISDIR) && recursive)
			rename_rows(s, ev->from_path, ev->from_path_len, ev->path,
				    ev->path_len);
		return;
	}
	if (mask)
		count(s, ev->dir, ev->dir_len, mask);
	if (!ev->name_len && (ev->mask & IN_DELETE_SELF)) {
		/* (what was below it went first, each with its DELETE_SELF) */
		struct row *r = table_find(&s->t, ev->dir, ev->dir_len);
		if (r)
			table_unlink(&s->t, r);
	} else if (recursive && (ev->mask & IN_ISDIR) && ev->name_len &&
		   (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
		/* a directory that appeared is watched now: its row comes
		 * next, as inotifywatch would set its watch next */
		char *key = entry_dir_key(ev);
		if (!table_get(&s->t, key, ev->path_len + 1))
			out_of_memory();
		free(key);
	} else if (recursive && (ev->mask & IN_ISDIR) && (ev->mask & IN_MOVED_FROM)) {
		/* moved out (a rename inside comes paired): its watches are gone */
		char *key = entry_dir_key(ev);
		detach_rows(s, key, ev->path_len + 1);
		free(key);
	}
}

/* --- the table ----------------------------------------------------------- */

static uint64_t sort_value(const struct stats *s, const struct row *r)
{
	return s->sort_kind == SORT_TOTAL ? r->c.total : r->c.n[s->sort_kind];
}

static int by_sort_key(const void *a, const void *b, void *ctx)
{
	const struct stats *s = ctx;
	const struct row *x = *(const struct row *const *)a;
	const struct row *y = *(const struct row *const *)b;
	uint64_t vx = sort_value(s, x), vy = sort_value(s, y);
	if (vx != vy)
		return (vx < vy) == s->ascending ? -1 : 1;
	return (x->rank > y->rank) - (x->rank < y->rank);
}

/* The rows to print, in order; *ret_n of them. */
static const struct row **sorted_rows(struct stats *s, size_t *ret_n)
{
	const struct row **v = malloc((s->t.len + 1) * sizeof(*v));
	if (!v)
		out_of_memory();
	size_t n = 0;
	for (size_t i = 0; i < s->t.len; i++)
		if (s->zero || s->t.rows[i].c.total)
			v[n++] = &s->t.rows[i];
	qsort_r(v, n, sizeof(*v), by_sort_key, s);
	*ret_n = n;
	return v;
}

static void print_table(struct stats *s, FILE *f)
{
	bool show[N_KINDS];
	for (size_t k = 0; k < N_KINDS; k++)
		show[k] = (s->mask & kinds[k].bit) && (s->zero || s->t.all.n[k]);
	fputs("total  ", f);
	for (size_t k = 0; k < N_KINDS; k++)
		if (show[k])
			fprintf(f, "%s  ", kinds[k].name);
	fputs("filename\n", f);
	size_t n;
	const struct row **v = sorted_rows(s, &n);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%-5" PRIu64 "  ", v[i]->c.total);
		for (size_t k = 0; k < N_KINDS; k++)
			if (show[k])
				fprintf(f, "%-*" PRIu64 "  ", (int)strlen(kinds[k].name),
					v[i]->c.n[k]);
		fwrite(v[i]->path, 1, v[i]->len, f);
		putc('\n', f);
	}
	free(v);
}

static void json_counts(const struct stats *s, const struct counts *c, FILE *f)
{
	fprintf(f, "\"total\":%" PRIu64 ",\"events\":{", c->total);
	bool first = true;
	for (size_t k = 0; k < N_KINDS; k++) {
		if (!(s->mask & kinds[k].bit))
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", kinds[k].name, c->n[k]);
		first = false;
	}
	putc('}', f);
}

static void print_json(struct stats *s, FILE *f)
{
	fputs("{\"total\":{", f);
	json_counts(s, &s->t.all, f);
	fputs("},\"files\":[", f);
	size_t n;
	const struct row **v = sorted_rows(s, &n);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{\"path\":" : "{\"path\":", f);
		json_string(f, v[i]->path, v[i]->len);
		putc(',', f);
		json_counts(s, &v[i]->c, f);
		putc('}', f);
	}
	fputs("]}\n", f);
	free(v);
}

/* The table so far, on stdout. AGAIN: more is to come (SIGUSR1), which
 * inotifywatch follows with an empty line. 0, or the exit status of a
 * failure (said). */
static int print_stats(struct stats *s, vigil *v, bool again)
{
	if (s->zero)
		sync_watch_rows(s, v); /* directories that appeared unseen */
	if (!s->t.all.total)
		cli_raw("No events occurred.");
	if (s->json)
		print_json(s, stdout);
	else if (s->t.all.total)
		print_table(s, stdout);
	if (again && !s->json)
		putchar('\n');
	return cli_flush(stdout, "the table", NULL);
}

/* --- options --------------------------------------------------------------- */

/* -a/-d KEY: 0, or -1 when refused (said). */
static int parse_sort_key(struct stats *s, const char *key)
{
	if (strcasecmp(key, "total") == 0) {
		s->sort_kind = SORT_TOTAL;
		return 0;
	}
	if (strcasecmp(key, "move") == 0 || strcasecmp(key, "close") == 0) {
		bool move = key[0] == 'm' || key[0] == 'M';
		cli_say(("Cannot sort by `%s' event; please use `%s' or `%s'.",
			 move ? "move" : "close", move ? "moved_from" : "close_write",
			 move ? "moved_to" : "close_nowrite"),
			("'%s' is two events and cannot be a sort key; give '%s' or '%s'",
			 key, move ? "moved_from" : "close_write",
			 move ? "moved_to" : "close_nowrite"));
		return -1;
	}
	uint32_t m;
	if (vigil_mask_parse(key, &m, NULL) == 0 && m && !(m & (m - 1))) {
		for (size_t k = 0; k < N_KINDS; k++)
			if (kinds[k].bit == m) {
				s->sort_kind = (int)k;
				return 0;
			}
		/* a name -e takes that is no column (isdir, oneshot, ...):
		 * inotifywatch first checks that it is watched for */
		if (cli_compat != CLI_NATIVE) {
			s->sort_kind = -2 - (int)__builtin_ctz(m);
			return 0;
		}
	}
	cli_say(("'%s' is not a valid key for sorting!", key),
		("'%s' is not a valid key for sorting; give an event name or 'total'", key));
	return -1;
}

/* What can only be checked once every option is in. */
static bool check_sort_key(const struct stats *s, const char *key)
{
	if (s->sort_kind == SORT_TOTAL)
		return true;
	uint32_t bit = s->sort_kind >= 0 ? kinds[s->sort_kind].bit
					 : 1u << (-2 - s->sort_kind);
	if (!(bit & s->mask)) {
		cli_say(("Can't sort by an event which isn't being watched for!"),
			("cannot sort by '%s': it is not among the events counted; add it with -e",
			 key));
		return false;
	}
	if (s->sort_kind < 0) {
		cli_say(("'%s' is not a valid key for sorting!", key),
			("'%s' is not a valid key for sorting; give an event name or 'total'", key));
		return false;
	}
	return true;
}

static bool parse_timeout(const char *arg, double *ret)
{
	if (cli_parse_seconds(arg, ret) && *ret >= 0)
		return true;
	cli_say(("'%s' is not a valid timeout value.\n"
		 "Please specify a long int value.", arg),
		("'%s' is not a valid timeout; give seconds (0: until interrupted)", arg));
	return false;
}

/* --- signals --------------------------------------------------------------- */

/* SIGINT while the watches are being set up: inotifywatch warns that
 * nothing has been counted yet, and quits on the second one. */
static char setup_warning[256], setup_quit[256];
static size_t setup_warning_len, setup_quit_len;
static volatile sig_atomic_t setup_interrupted;

static void on_setup_sigint(int sig)
{
	(void)sig;
	ssize_t r;
	if (setup_interrupted) {
		r = write(STDERR_FILENO, setup_quit, setup_quit_len);
		_exit(1);
	}
	setup_interrupted = 1;
	r = write(STDERR_FILENO, setup_warning, setup_warning_len);
	(void)r;
}

static void catch_setup_sigint(void)
{
	if (cli_compat != CLI_NATIVE) {
		snprintf(setup_warning, sizeof(setup_warning),
			 "No statistics have been collected because I haven't finished "
			 "establishing\ninotify watches yet.  If you are sure you want me "
			 "to exit, interrupt me again.\n");
		snprintf(setup_quit, sizeof(setup_quit),
			 "No statistics collected, asked to abort before all watches "
			 "could be established.\n");
	} else {
		snprintf(setup_warning, sizeof(setup_warning),
			 "%s: interrupted while setting up watches, before anything was "
			 "counted; interrupt again to quit\n", cli_prog);
		snprintf(setup_quit, sizeof(setup_quit),
			 "%s: interrupted again before the watches were set up; "
			 "nothing counted\n", cli_prog);
	}
	setup_warning_len = strlen(setup_warning);
	setup_quit_len = strlen(setup_quit);
	struct sigaction sa = {.sa_handler = on_setup_sigint, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

/* --- the loop -------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Count what is ready, at most MAX events: 1 when more may be ready, 0 when
 * none is, or -1 (said). WAIT_HALVES: also wait out the renames whose
 * second half may still come (a few milliseconds), so that everything that
 * happened before now is counted. */
static int drain(struct stats *s, vigil *v, size_t max, bool wait_halves)
{
	for (size_t i = 0; i < max; i++) {
		const struct vigil_event *ev;
		int r = vigil_next(v, 0, &ev);
		if (r == 0 && wait_halves) {
			int ms = vigil_next_deadline_ms(v);
			if (ms < 0)
				return 0;
			r = vigil_next(v, ms, &ev);
			if (r == 0)
				continue;
		}
		if (r == -EINTR)
			continue;
		if (r < 0) {
			cli_say(("%s", strerror(-r)),
				("cannot read events: %s", cli_strerror(-r)));
			return -1;
		}
		if (r == 0)
			return 0;
		take_event(s, ev);
		if (watchargs_mounts(s->args, v, false))
			s->unmounted = true;
		if (s->unmounted && !vigil_watch_count(v)) {
			/* a polled mount went away with everything watched */
			cli_error("nothing left to watch");
			return -2;
		}
	}
	return 1;
}

/* Everything queued before a signal or the timeout, however many. */
#define DRAIN_ALL ((size_t)1 << 22)
/* Between two looks at the signals and the clock. */
#define DRAIN_BATCH 4096

/* Count until a signal or the timeout (TIMEOUT_NS, 0 for none), then print
 * the table: 0, or the exit status of an error (said). */
static int collect(struct stats *s, vigil *v, int sfd, uint64_t timeout_ns)
{
	uint64_t end = timeout_ns ? now_ns() + timeout_ns : 0;
	struct pollfd p[2] = {
		{.fd = sfd, .events = POLLIN},
		{.fd = vigil_fd(v), .events = POLLIN},
	};
	for (;;) {
		int r = drain(s, v, DRAIN_BATCH, false);
		if (r == -2) {
			r = print_stats(s, v, false);
			return r ? r : 1;
		}
		if (r < 0)
			return 1;
		int ms = r ? 0 : vigil_next_deadline_ms(v);
		if (end) {
			uint64_t now = now_ns();
			if (now >= end)
				break;
			uint64_t left = (end - now + 999999) / 1000000;
			if (ms < 0 || (uint64_t)ms > left)
				ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		if (poll(p, 2, ms) < 0 && errno != EINTR) {
			cli_error("cannot wait for events: %s", cli_strerror(errno));
			return 1;
		}
		if (!(p[0].revents & POLLIN))
			continue;
		bool usr1 = false, stop = false;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGUSR1)
				usr1 = true;
			else
				stop = true;
		}
		/* the events that came before the signal count */
		if (drain(s, v, DRAIN_ALL, true) < 0)
			return 1;
		if (stop)
			break;
		if (usr1 && (r = print_stats(s, v, true)) != 0)
			return r;
	}
	if (drain(s, v, DRAIN_ALL, true) < 0)
		return 1;
	return print_stats(s, v, false);
}

/* Watch each FILE, saying so on the way as inotifywatch does. */
static int set_watches(const struct watchargs *args, vigil *v, uint32_t mask,
		       bool verbose)
{
	for (size_t i = 0; i < args->watch.len; i++) {
		/* one FILE at a time, for the messages between them */
		if (args->recursive && verbose)
			cli_raw("Setting up watch(es) on %s", args->watch.v[i]);
		if (watchargs_watch_one(args, v, mask, args->watch.v[i]) < 0)
			return -1;
		if (args->recursive && verbose)
			cli_raw("OK, %s is now being watched.", args->watch.v[i]);
	}
	if (watchargs_watching(args, v) < 0)
		return -1;
	if (verbose)
		cli_raw("Total of %zu watches.", vigil_watch_count(v));
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	struct watchargs args = {0};
	struct stats s = {.args = &args, .sort_kind = SORT_TOTAL};
	const char *sort_arg = NULL;
	bool verbose = false;
	double timeout = 0;
	vigil *v = NULL;
	int sfd = -1, status = 1, opt, r;

	/* SIGUSR1 before the table exists waits for it, rather than killing */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	/* as in inotifywatch, from the start: reading --fromfile is setting up */
	catch_setup_sigint();

	argv[0] = (char *)cli_prog; /* getopt's messages */
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "hvzra:d:Pe:t:IFSM", stats_options, NULL)) != -1) {
		if ((r = watchargs_option(&args, opt, optarg)) != 0) {
			if (r < 0)
				goto out;
			continue;
		}
		switch (opt) {
		case 'h':
			printf(stats_help, cli_prog);
			status = 0;
			goto out;
		case 'v':
			verbose = true;
			break;
		case 'z':
			s.zero = true;
			break;
		case 'a':
		case 'd':
			if (sort_arg) {
				cli_say(("Please specify -a or -d once only!"),
					("'-a' or '-d' given twice; sort by one key"));
				goto out;
			}
			sort_arg = optarg;
			s.ascending = opt == 'a';
			if (parse_sort_key(&s, optarg) < 0)
				goto out;
			break;
		case 't':
			if (!parse_timeout(optarg, &timeout))
				goto out;
			break;
		case OPT_JSON:
			s.json = true;
			break;
		default:
			goto out; /* getopt said why */
		}
	}
	s.mask = args.mask ? args.mask : IN_ALL_EVENTS;
	if (sort_arg && !check_sort_key(&s, sort_arg))
		goto out;
	if (watchargs_finish(&args, argc, argv, optind) < 0)
		goto out;
	for (size_t i = 0; i < args.watch.len; i++) {
		const char *w = args.watch.v[i];
		if (!table_get(&s.operands, w, strlen(w)))
			out_of_memory();
	}
	unsigned backend;
	if (watchargs_backend(&args, &backend) < 0)
		goto out;
	if ((r = vigil_new(VIGIL_PAIR_MOVES | backend, &v)) < 0) {
		cli_instance_error(r);
		goto out;
	}
	if (watchargs_filters(&args, v) < 0 || watchargs_poll_setup(&args, v) < 0)
		goto out;

	/* With -r, rows follow directories that come, go and are renamed:
	 * vigil must hear of that even when those events are not counted. */
	uint32_t watch_mask = s.mask | (args.recursive ? IN_CREATE | IN_MOVE | IN_DELETE_SELF : 0);
	cli_raw("Establishing watches...");
	if (set_watches(&args, v, watch_mask, verbose) < 0)
		goto out;
	watchargs_mounts(&args, v, false);
	sync_watch_rows(&s, v);

	/* From here the signals are read, in turn with the events, from a
	 * signalfd: none is lost and none interrupts anything. */
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGINT, SIG_DFL);
	if ((sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		cli_error("cannot receive signals: %s", cli_strerror(errno));
		goto out;
	}
	cli_raw("Finished establishing watches, now collecting statistics.");
	if (timeout > 0 && verbose) {
		if (timeout < 1e15 && timeout == (double)(long long)timeout)
			cli_raw("Will listen for events for %.0f seconds.", timeout);
		else
			cli_raw("Will listen for events for %g seconds.", timeout);
	}
	static char obuf[64 * 1024];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	uint64_t timeout_ns = timeout > 0 ? (timeout >= 1e9 ? UINT64_C(1000000000) * 1000000000u
							    : (uint64_t)(timeout * 1e9 + 0.5))
					  : 0;
	status = collect(&s, v, sfd, timeout_ns);
out:
	if (sfd >= 0)
		close(sfd);
	vigil_free(v);
	table_free(&s.t);
	table_free(&s.operands);
	watchargs_free(&args);
	return status;
}
