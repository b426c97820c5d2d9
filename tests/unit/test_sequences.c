/* Random short sequences of changes, made while vigil does not read.
 *
 * The catch-up shapes of test_catchup.c were found one by one with
 * bench/churn.sh, several writers over minutes, a miss in hundreds of runs
 * and hard to trace. Here each run is small and replayable: a few
 * directories and files named a, b and c, at most four deep, in the tree
 * and in a place outside it; a seeded sequence of mkdir, create, rmdir,
 * unlink and rename (within the tree, out, in, over an empty directory or a
 * file), in rounds (up to 3 of up to 8 changes; for odd seeds up to 5 of up
 * to 12), with vigil reading nothing, part of the queue, or all of it
 * between rounds. Then a reader replaying the events must know every
 * path on disk and no path that is not there, and every directory must be
 * watched where vigil believes, nothing else (catchup.c, diverged()). A
 * run that diverges is printed as the calls of a test_catchup.c test;
 * VIGIL_TRACE=1 prints the events each replays too.
 *
 * VIGIL_SEQUENCES="FIRST COUNT" runs other seeds, or more of them:
 *   VIGIL_SEQUENCES="1 20000" build/tests/unit/test_sequences */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "catchup.h"

/* --- a seeded sequence ----------------------------------------------------- */

static uint64_t rng;

static unsigned pick(unsigned n)
{
	/* splitmix64: the same sequence for a seed on every libc */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (unsigned)((z ^ (z >> 31)) % n);
}

/* What exists, tree and outside: "a/b", "OUT/c". */
struct entries {
	struct entry {
		char rel[300];
		bool dir;
	} e[256];
	size_t n;
};

static int depth(const char *rel)
{
	int d = 1;
	for (; *rel; rel++)
		d += *rel == '/';
	return d;
}

static void list(const struct fixture *f, struct entries *x, const char *rel)
{
	char p[600];
	at(f, rel, p, sizeof(p));
	DIR *d = opendir(p);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) && x->n < 256) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		struct entry *y = &x->e[x->n++];
		snprintf(y->rel, sizeof(y->rel), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		y->dir = e->d_type == DT_DIR;
		if (y->dir)
			list(f, x, y->rel);
	}
	closedir(d);
}

/* The sequence so far, as the calls of a test. */
struct script {
	char line[400][96];
	size_t n;
};

static void say(struct script *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct script *s, const char *fmt, ...)
{
	if (s->n == 400)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->line[s->n++], sizeof(s->line[0]), fmt, ap);
	va_end(ap);
}

/* A directory to put something in: the tree's top (""), the top outside
 * ("OUT"), or one below either, not at the deepest level. */
static const char *some_dir(const struct entries *x)
{
	const char *c[258];
	size_t n = 0;
	c[n++] = "";
	c[n++] = "OUT";
	for (size_t i = 0; i < x->n; i++)
		if (x->e[i].dir && depth(x->e[i].rel) < 4)
			c[n++] = x->e[i].rel;
	return c[pick((unsigned)n)];
}

static const char *const names[] = {"a", "b", "c"};

/* One change, at random; one that the filesystem refuses (a name taken, a
 * directory not empty) is not made, and not written down. */
static void change(const struct fixture *f, struct script *s)
{
	struct entries *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	list(f, x, "");
	list(f, x, "OUT");
	char rel[160], p[600], q[600];
	const char *dir = some_dir(x);
	snprintf(rel, sizeof(rel), "%s%s%s", dir, *dir ? "/" : "", names[pick(3)]);
	at(f, rel, p, sizeof(p));
	unsigned kind = pick(10);
	if (kind < 3 || x->n == 0) {
		if (pick(3) == 0) {
			int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd >= 0 && close(fd) == 0)
				say(s, "make_file(f, \"%s\");", rel);
		} else if (mkdir(p, 0755) == 0) {
			say(s, "make_dir(f, \"%s\");", rel);
		}
		free(x);
		return;
	}
	const struct entry *y = &x->e[pick((unsigned)x->n)];
	at(f, y->rel, q, sizeof(q));
	if (kind < 5) {
		if (y->dir ? rmdir(q) == 0 : unlink(q) == 0)
			say(s, "remove_%s(f, \"%s\");", y->dir ? "dir" : "file", y->rel);
	} else {
		size_t l = strlen(y->rel);
		bool into_itself = strncmp(rel, y->rel, l) == 0 && (!rel[l] || rel[l] == '/');
		if (!into_itself && rename(q, p) == 0)
			say(s, "move(f, \"%s\", \"%s\");", y->rel, rel);
	}
	free(x);
}

/* One sequence: a tree made before the watch (known to the reader as it is
 * listed), then rounds of changes, each followed by a read of all, part or
 * none of the queue. Returns the number of differences at the end. */
static size_t sequence(struct fixture *f, uint64_t seed, struct script *s)
{
	rng = seed;
	s->n = 0;
	make_dir(f, "OUT");
	for (unsigned i = pick(6); i > 0; i--)
		change(f, s);
	struct known k = {0};
	struct entries *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	list(f, x, "");
	for (size_t i = 0; i < x->n; i++)
		strcpy(k.path[k.n++], x->e[i].rel);
	free(x);
	watch_events(f);
	say(s, "watch_events(f); /* the reader knows what is there */");
	bool longer = seed & 1;
	for (unsigned round = 1 + pick(longer ? 5 : 3); round > 0; round--) {
		for (unsigned i = 1 + pick(longer ? 12 : 8); i > 0; i--)
			change(f, s);
		long max = pick(4) ? -1 : (long)pick(5);
		size_t got = replay_some(f, &k, max);
		say(s, "replay_some(f, &k, %ld); /* %zu read */", max, got);
	}
	replay(f, &k);
	return diverged(f, &k, stdout);
}

static void every_path_reported_and_watched(void **state)
{
	struct fixture *f = *state;
	unsigned long first = 1, count = 2000;
	const char *env = getenv("VIGIL_SEQUENCES");
	if (env && sscanf(env, "%lu %lu", &first, &count) != 2)
		fail_msg("VIGIL_SEQUENCES: '%s' is not \"FIRST COUNT\"", env);
	struct script *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	unsigned long bad = 0;
	for (unsigned long seed = first; seed < first + count; seed++) {
		size_t n = sequence(f, seed, s);
		if (n) {
			printf("# seed %lu: %zu differences, after:\n", seed, n);
			for (size_t i = 0; i < s->n; i++)
				printf("#\t%s\n", s->line[i]);
			if (++bad == 3)
				break;
		}
		fixture_reset(f);
	}
	free(s);
	if (bad)
		fail_msg("%lu of the sequences diverged", bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_path_reported_and_watched, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
