/* mktree: build a balanced directory tree quickly, for benchmarks.
 *
 *   mktree [--files N] DIR NDIRS [FANOUT]
 *
 * Creates NDIRS directories below DIR (DIR itself is created if missing and
 * not counted). The tree is balanced and filled breadth-first: number DIR 0
 * and the new directories 1..NDIRS in breadth-first order; directory i holds
 * directories i*FANOUT+1 .. i*FANOUT+FANOUT (those that are <= NDIRS), named
 * d0, d1, ... With --files N, DIR and every new directory also get N empty
 * files f0, f1, ...
 *
 * The walk is depth-first with one open directory fd at a time: mkdirat() and
 * mknodat() relative to the parent, openat() to go down, openat("..") to come
 * back up. So no path is ever resolved from the root, no fd table fills up
 * however deep the tree is (FANOUT 1 makes a chain), and nothing is forked.
 *
 * Errors: one line on stderr naming the path, exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;
static uint64_t ndirs, fanout = 10, nfiles;

static void usage(FILE *f)
{
	fputs("usage: mktree [--files N] DIR NDIRS [FANOUT]\n"
	      "Create NDIRS directories below DIR as a balanced tree, breadth-first,\n"
	      "each directory holding up to FANOUT (default 10) of them; with --files,\n"
	      "also N empty files in DIR and in every directory created.\n",
	      f);
}

#define PROG "mktree"
#include "msg.h"
#include "args.h"

/* Index of directory `node` (>= 1) among its parent's subdirectories. */
static uint64_t child_index(uint64_t node) { return (node - 1) % fanout; }
static uint64_t parent_of(uint64_t node) { return (node - 1) / fanout; }

/* Print the path of directory `node`, then "/name" if name is given. Only
 * used for messages, so it may be slow: it walks up to the root (without
 * recursion: with FANOUT 1 the tree is as deep as it is large). */
static void print_path(FILE *f, uint64_t node, const char *name)
{
	fputs(root, f);
	size_t depth = 0;
	for (uint64_t n = node; n != 0; n = parent_of(n))
		depth++;
	uint64_t *idx = depth ? malloc(depth * sizeof(*idx)) : NULL;
	if (depth && !idx) {
		fputs("/...", f);
	} else {
		size_t i = depth;
		for (uint64_t n = node; n != 0; n = parent_of(n))
			idx[--i] = child_index(n);
		for (i = 0; i < depth; i++)
			fprintf(f, "/d%" PRIu64, idx[i]);
	}
	free(idx);
	if (name)
		fprintf(f, "/%s", name);
}

static int fail(const char *what, uint64_t node, const char *name, int err)
{
	fprintf(stderr, "mktree: cannot %s '", what);
	print_path(stderr, node, name);
	fprintf(stderr, "': %s\n", errstr(err));
	return -1;
}

/* Does directory `node` have subdirectories? (node*fanout + 1 <= ndirs,
 * written so that it cannot overflow.) */
static int has_children(uint64_t node)
{
	return ndirs > 0 && node <= (ndirs - 1) / fanout;
}

static uint64_t first_child(uint64_t node) { return node * fanout + 1; }

/* Fill directory `node`, open as fd: its files, then its subdirectories. */
static int fill(int fd, uint64_t node)
{
	char name[32];
	for (uint64_t i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%" PRIu64, i);
		if (mknodat(fd, name, S_IFREG | 0644, 0) < 0)
			return fail("create", node, name, errno);
	}
	if (!has_children(node))
		return 0;
	uint64_t first = first_child(node);
	for (uint64_t k = 0; k < fanout && first + k <= ndirs; k++) {
		snprintf(name, sizeof(name), "d%" PRIu64, k);
		if (mkdirat(fd, name, 0755) < 0)
			return fail("create", node, name, errno);
	}
	return 0;
}

/* Must we go into directory `node` (to create something inside)? */
static int must_visit(uint64_t node) { return nfiles > 0 || has_children(node); }

static int build(void)
{
	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		return fail("create", 0, NULL, errno);
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail("open", 0, NULL, errno);

	/* next[depth]: the next subdirectory index to visit at that depth. */
	size_t cap = 64, depth = 0;
	uint64_t *next = malloc(cap * sizeof(*next));
	if (!next) {
		msg("out of memory");
		close(fd);
		return -1;
	}
	uint64_t node = 0;
	int r = fill(fd, node);
	next[0] = 0;
	while (r == 0) {
		/* Find the next subdirectory of `node` that needs a visit. */
		uint64_t k = next[depth], child = 0;
		int down = 0;
		if (has_children(node)) {
			for (; k < fanout && first_child(node) + k <= ndirs; k++) {
				child = first_child(node) + k;
				if (must_visit(child)) {
					down = 1;
					break;
				}
			}
		}
		if (down) {
			char name[32];
			snprintf(name, sizeof(name), "d%" PRIu64, k);
			int cfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0) {
				r = fail("open", node, name, errno);
				break;
			}
			close(fd);
			fd = cfd;
			next[depth] = k + 1;
			if (++depth == cap) {
				uint64_t *n = realloc(next, 2 * cap * sizeof(*next));
				if (!n) {
					msg("out of memory");
					r = -1;
					break;
				}
				next = n;
				cap *= 2;
			}
			next[depth] = 0;
			node = child;
			r = fill(fd, node);
			continue;
		}
		if (depth == 0)
			break; /* DIR is done, and so is the tree */
		int pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0) {
			r = fail("open", node, "..", errno);
			break;
		}
		close(fd);
		fd = pfd;
		depth--;
		node = parent_of(node);
	}
	free(next);
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	const char *pos[3];
	int npos = 0, opts = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts && strcmp(a, "--") == 0) {
			opts = 0;
		} else if (opts && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
			usage(stdout);
			return 0;
		} else if (opts && strcmp(a, "--files") == 0) {
			if (++i == argc) {
				msg("option '--files' needs a number");
				return 1;
			}
			if (parse_count(argv[i], "--files", 0, &nfiles) < 0)
				return 1;
		} else if (opts && strncmp(a, "--files=", 8) == 0) {
			if (parse_count(a + 8, "--files", 0, &nfiles) < 0)
				return 1;
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			msg("unknown option '%s' (try 'mktree --help')", a);
			return 1;
		} else if (npos == 3) {
			msg("too many arguments (try 'mktree --help')");
			return 1;
		} else {
			pos[npos++] = a;
		}
	}
	if (npos < 2) {
		msg("missing %s (try 'mktree --help')", npos == 0 ? "DIR and NDIRS" : "NDIRS");
		return 1;
	}
	root = pos[0];
	if (root[0] == '\0') {
		msg("DIR must not be empty");
		return 1;
	}
	if (parse_count(pos[1], "NDIRS", 0, &ndirs) < 0)
		return 1;
	if (npos == 3 && parse_count(pos[2], "FANOUT", 1, &fanout) < 0)
		return 1;
	return build() < 0 ? 1 : 0;
}
