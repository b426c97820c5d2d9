/* Unit tests for src/lib/tree.c: the tree of watched directories. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "tree.h"

#include "check.h"

#define S(lit) lit, sizeof(lit) - 1

struct fix {
	struct tree t;
	struct buf path;
	int *wds;       /* collected by the tree_remove callback */
	size_t nwds, capwds;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	tree_init(&f->t);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	alloc_fail_off(); /* in case a failed test left it armed */
	struct fix *f = *state;
	tree_fini(&f->t);
	buf_free(&f->path);
	free(f->wds);
	free(f);
	return 0;
}

static void collect_wd(void *ctx, int wd)
{
	struct fix *f = ctx;
	if (f->nwds == f->capwds) {
		f->capwds = f->capwds ? f->capwds * 2 : 16;
		f->wds = realloc(f->wds, f->capwds * sizeof(*f->wds));
		assert_non_null(f->wds);
	}
	f->wds[f->nwds++] = wd;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* The wds the callback saw, sorted, must be exactly WANT (sorted). */
static void check_removed_wds(struct fix *f, const int *want, size_t n)
{
	qsort(f->wds, f->nwds, sizeof(*f->wds), cmp_int);
	char got[256] = "", exp[256] = "";
	size_t gl = 0, el = 0;
	for (size_t i = 0; i < f->nwds && gl < sizeof(got) - 16; i++)
		gl += (size_t)snprintf(got + gl, sizeof(got) - gl, "%d ", f->wds[i]);
	for (size_t i = 0; i < n && el < sizeof(exp) - 16; i++)
		el += (size_t)snprintf(exp + el, sizeof(exp) - el, "%d ", want[i]);
	if (f->nwds != n || memcmp(f->wds, want, n * sizeof(*want)) != 0)
		fail_msg("callback wds: expected [ %s], got [ %s]", exp, got);
}

/* Build NODE's path afresh and compare it with WANT. */
static void check_path(struct fix *f, uint32_t node, const char *want)
{
	buf_clear(&f->path);
	check_eq(tree_path(&f->t, node, &f->path), 0);
	assert_string_equal(f->path.data, want);
	check_eq(f->path.len, strlen(want));
}

/* The children of PARENT, by walking its sibling list, as a count. Also
 * checks that the prev links mirror the next links. */
static size_t child_count(const struct tree *t, uint32_t parent)
{
	size_t n = 0;
	uint32_t prev = NODE_NONE;
	for (uint32_t c = tree_node(t, parent)->first_child; c != NODE_NONE;
	     c = tree_node(t, c)->next_sibling) {
		check_eq(tree_node(t, c)->prev_sibling, prev);
		check_eq(tree_node(t, c)->parent, parent);
		prev = c;
		n++;
	}
	return n;
}

static bool has_child(const struct tree *t, uint32_t parent, uint32_t child)
{
	for (uint32_t c = tree_node(t, parent)->first_child; c != NODE_NONE;
	     c = tree_node(t, c)->next_sibling)
		if (c == child)
			return true;
	return false;
}

/* /w (wd 1) with a/b/c (wd 2, 3, 4) and x (wd 5): the shape most tests use. */
struct shape {
	uint32_t root, a, b, c, x;
};

static struct shape make_shape(struct fix *f)
{
	struct shape s;
	s.root = tree_add_root(&f->t, S("/w"), 1, 7);
	assert_int_not_equal(s.root, NODE_NONE);
	s.a = tree_add_child(&f->t, s.root, S("a"), 2);
	s.b = tree_add_child(&f->t, s.a, S("b"), 3);
	s.c = tree_add_child(&f->t, s.b, S("c"), 4);
	s.x = tree_add_child(&f->t, s.root, S("x"), 5);
	assert_int_not_equal(s.a, NODE_NONE);
	assert_int_not_equal(s.b, NODE_NONE);
	assert_int_not_equal(s.c, NODE_NONE);
	assert_int_not_equal(s.x, NODE_NONE);
	check_eq(f->t.count, 5);
	return s;
}

/* --- lookups --------------------------------------------------------------- */

static void empty_tree_finds_nothing(void **state)
{
	struct fix *f = *state;
	check_eq(f->t.count, 0);
	check_eq(tree_find_wd(&f->t, 1), NODE_NONE);
	check_eq(tree_find_wd(&f->t, 0), NODE_NONE);
	check_eq(tree_find_wd(&f->t, -1), NODE_NONE);
	check_eq(tree_find_child(&f->t, 0, S("a")), NODE_NONE);
}

static void add_root_is_found_by_wd(void **state)
{
	struct fix *f = *state;
	char path[] = "/some/where";
	uint32_t r = tree_add_root(&f->t, path, strlen(path), 42, 3);
	assert_int_not_equal(r, NODE_NONE);
	path[1] = 'X'; /* the tree must hold its own copy */
	check_eq(f->t.count, 1);
	check_eq(tree_find_wd(&f->t, 42), r);
	check_eq(tree_find_wd(&f->t, 43), NODE_NONE);
	const struct node *x = tree_node(&f->t, r);
	assert_true(x->used);
	check_eq(x->parent, NODE_NONE);
	check_eq(x->first_child, NODE_NONE);
	check_eq(x->wd, 42);
	check_eq(x->root, 3);
	check_eq(x->name_len, strlen("/some/where"));
	assert_string_equal(tree_name(&f->t, r), "/some/where");
	check_eq(tree_root_of(&f->t, r), r);
	check_path(f, r, "/some/where");
}

static void several_roots_are_independent(void **state)
{
	struct fix *f = *state;
	uint32_t r1 = tree_add_root(&f->t, S("/one"), 1, 0);
	uint32_t r2 = tree_add_root(&f->t, S("/two"), 2, 1);
	uint32_t a1 = tree_add_child(&f->t, r1, S("a"), 3);
	uint32_t a2 = tree_add_child(&f->t, r2, S("a"), 4);
	assert_int_not_equal(a1, a2);
	check_eq(tree_find_child(&f->t, r1, S("a")), a1);
	check_eq(tree_find_child(&f->t, r2, S("a")), a2);
	check_eq(tree_root_of(&f->t, a1), r1);
	check_eq(tree_root_of(&f->t, a2), r2);
	check_eq(tree_node(&f->t, r2)->root, 1);
	check_path(f, a1, "/one/a");
	check_path(f, a2, "/two/a");
}

static void add_child_found_by_wd_and_name(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	check_eq(tree_find_wd(&f->t, 1), s.root);
	check_eq(tree_find_wd(&f->t, 2), s.a);
	check_eq(tree_find_wd(&f->t, 3), s.b);
	check_eq(tree_find_wd(&f->t, 4), s.c);
	check_eq(tree_find_wd(&f->t, 5), s.x);
	check_eq(tree_find_child(&f->t, s.root, S("a")), s.a);
	check_eq(tree_find_child(&f->t, s.a, S("b")), s.b);
	check_eq(tree_find_child(&f->t, s.b, S("c")), s.c);
	check_eq(tree_find_child(&f->t, s.root, S("x")), s.x);
	/* wrong parent, wrong name, prefix and extension of a name */
	check_eq(tree_find_child(&f->t, s.a, S("a")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.root, S("b")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.root, S("ab")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.root, S("")), NODE_NONE);
	check_eq(tree_node(&f->t, s.b)->parent, s.a);
	check_eq(child_count(&f->t, s.root), 2);
	check_eq(child_count(&f->t, s.a), 1);
	check_eq(child_count(&f->t, s.c), 0);
}

static void names_are_length_delimited(void **state)
{
	struct fix *f = *state;
	uint32_t r = tree_add_root(&f->t, S("/w"), 1, 0);
	/* a name taken from a longer buffer, as records hand them out */
	const char rec[] = "abcdef";
	uint32_t abc = tree_add_child(&f->t, r, rec, 3, 2);
	uint32_t ab = tree_add_child(&f->t, r, rec, 2, 3);
	assert_string_equal(tree_name(&f->t, abc), "abc");
	assert_string_equal(tree_name(&f->t, ab), "ab");
	check_eq(tree_find_child(&f->t, r, "abcXYZ", 3), abc);
	check_eq(tree_find_child(&f->t, r, "abZ", 2), ab);
	check_eq(tree_find_child(&f->t, r, rec, 4), NODE_NONE);
	/* names may hold any byte but '/' and NUL */
	uint32_t odd = tree_add_child(&f->t, r, S("sp ace\n\xff"), 4);
	check_eq(tree_find_child(&f->t, r, S("sp ace\n\xff")), odd);
	check_path(f, odd, "/w/sp ace\n\xff");
}

static void child_without_wd_not_in_wd_table(void **state)
{
	struct fix *f = *state;
	uint32_t r = tree_add_root(&f->t, S("/w"), 1, 0);
	uint32_t a = tree_add_child(&f->t, r, S("a"), 0);
	assert_int_not_equal(a, NODE_NONE);
	check_eq(tree_node(&f->t, a)->wd, 0);
	check_eq(tree_find_wd(&f->t, 0), NODE_NONE);
	check_eq(tree_find_child(&f->t, r, S("a")), a);
	check_eq(f->t.wds.len, 1);
}

/* --- paths ----------------------------------------------------------------- */

static void path_of_nested_nodes(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	check_path(f, s.root, "/w");
	check_path(f, s.a, "/w/a");
	check_path(f, s.b, "/w/a/b");
	check_path(f, s.c, "/w/a/b/c");
	check_path(f, s.x, "/w/x");
}

static void path_of_root_ending_in_slash(void **state)
{
	struct fix *f = *state;
	uint32_t slash = tree_add_root(&f->t, S("/"), 1, 0);
	uint32_t etc = tree_add_child(&f->t, slash, S("etc"), 2);
	uint32_t d = tree_add_child(&f->t, etc, S("d"), 3);
	check_path(f, slash, "/");
	check_path(f, etc, "/etc");
	check_path(f, d, "/etc/d");

	uint32_t tmp = tree_add_root(&f->t, S("/tmp/"), 4, 1);
	uint32_t a = tree_add_child(&f->t, tmp, S("a"), 5);
	uint32_t b = tree_add_child(&f->t, a, S("b"), 6);
	check_path(f, tmp, "/tmp/");
	check_path(f, a, "/tmp/a");
	check_path(f, b, "/tmp/a/b");

	uint32_t rel = tree_add_root(&f->t, S("rel/"), 7, 2);
	uint32_t c = tree_add_child(&f->t, rel, S("c"), 8);
	check_path(f, c, "rel/c");
}

static void path_appends_to_buffer(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	check_eq(buf_append(&f->path, S("prefix:")), 0);
	check_eq(tree_path(&f->t, s.c, &f->path), 0);
	assert_string_equal(f->path.data, "prefix:/w/a/b/c");
	check_eq(f->path.len, strlen("prefix:/w/a/b/c"));
	/* and again: the buffer grows, stays terminated */
	check_eq(buf_putc(&f->path, ' '), 0);
	check_eq(tree_path(&f->t, s.x, &f->path), 0);
	assert_string_equal(f->path.data, "prefix:/w/a/b/c /w/x");
}

static void path_of_deep_tree(void **state)
{
	struct fix *f = *state;
	/* deeper than any stack would like, longer than PATH_MAX */
	enum { DEPTH = 5000 };
	uint32_t n = tree_add_root(&f->t, S("/r"), 1, 0);
	for (int i = 0; i < DEPTH; i++) {
		n = tree_add_child(&f->t, n, S("dd"), i + 2);
		assert_int_not_equal(n, NODE_NONE);
	}
	buf_clear(&f->path);
	check_eq(tree_path(&f->t, n, &f->path), 0);
	check_eq(f->path.len, 2 + DEPTH * 3);
	assert_memory_equal(f->path.data, "/r/dd/dd/", 9);
	assert_string_equal(f->path.data + f->path.len - 6, "/dd/dd");
	check_eq(strlen(f->path.data), f->path.len);
}

static void root_of_and_is_ancestor(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	check_eq(tree_root_of(&f->t, s.c), s.root);
	check_eq(tree_root_of(&f->t, s.x), s.root);
	assert_true(tree_is_ancestor(&f->t, s.root, s.c));
	assert_true(tree_is_ancestor(&f->t, s.a, s.c));
	assert_true(tree_is_ancestor(&f->t, s.c, s.c));
	assert_false(tree_is_ancestor(&f->t, s.c, s.a));
	assert_false(tree_is_ancestor(&f->t, s.x, s.c));
	assert_false(tree_is_ancestor(&f->t, s.a, s.x));
}

/* --- rename ---------------------------------------------------------------- */

static void rename_in_place_descendants_follow(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	check_eq(tree_rename(&f->t, s.a, s.root, S("renamed")), 0);
	check_eq(tree_find_child(&f->t, s.root, S("a")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.root, S("renamed")), s.a);
	/* the node keeps its index, wd and children */
	check_eq(tree_find_wd(&f->t, 2), s.a);
	check_eq(tree_find_child(&f->t, s.a, S("b")), s.b);
	check_eq(tree_find_child(&f->t, s.b, S("c")), s.c);
	check_path(f, s.a, "/w/renamed");
	check_path(f, s.b, "/w/renamed/b");
	check_path(f, s.c, "/w/renamed/b/c");
	check_path(f, s.x, "/w/x");
	check_eq(child_count(&f->t, s.root), 2);
	check_eq(f->t.count, 5);
}

static void rename_to_other_parent(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	/* /w/a/b -> /w/x/b2 */
	check_eq(tree_rename(&f->t, s.b, s.x, S("b2")), 0);
	check_eq(tree_find_child(&f->t, s.a, S("b")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.x, S("b2")), s.b);
	check_eq(tree_node(&f->t, s.b)->parent, s.x);
	assert_false(has_child(&f->t, s.a, s.b));
	assert_true(has_child(&f->t, s.x, s.b));
	check_eq(child_count(&f->t, s.a), 0);
	check_eq(child_count(&f->t, s.x), 1);
	check_path(f, s.b, "/w/x/b2");
	check_path(f, s.c, "/w/x/b2/c");
	check_path(f, s.a, "/w/a");
	/* keeping the name while changing the parent works too */
	check_eq(tree_rename(&f->t, s.b, s.root, S("b2")), 0);
	check_eq(tree_find_child(&f->t, s.x, S("b2")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.root, S("b2")), s.b);
	check_path(f, s.c, "/w/b2/c");
	check_eq(child_count(&f->t, s.root), 3);
}

static void rename_to_other_root(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	uint32_t r2 = tree_add_root(&f->t, S("/other/"), 9, 1);
	check_eq(tree_rename(&f->t, s.a, r2, S("moved")), 0);
	check_eq(tree_root_of(&f->t, s.c), r2);
	check_path(f, s.c, "/other/moved/b/c");
	check_eq(tree_find_child(&f->t, r2, S("moved")), s.a);
	check_eq(tree_find_child(&f->t, s.root, S("a")), NODE_NONE);
	check_eq(child_count(&f->t, s.root), 1);
}

static void rename_same_name_same_parent(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	check_eq(tree_rename(&f->t, s.b, s.a, S("b")), 0);
	check_eq(tree_find_child(&f->t, s.a, S("b")), s.b);
	check_eq(child_count(&f->t, s.a), 1);
	check_path(f, s.c, "/w/a/b/c");
	check_eq(f->t.children.len, 4);
}

static void rename_refuses_cycle(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	/* under itself, under its child, under its grandchild */
	check_eq(tree_rename(&f->t, s.a, s.a, S("loop")), -ELOOP);
	check_eq(tree_rename(&f->t, s.a, s.b, S("loop")), -ELOOP);
	check_eq(tree_rename(&f->t, s.a, s.c, S("loop")), -ELOOP);
	check_eq(tree_rename(&f->t, s.root, s.c, S("loop")), -ELOOP);
	/* nothing changed */
	check_eq(tree_find_child(&f->t, s.root, S("a")), s.a);
	check_eq(tree_find_child(&f->t, s.b, S("loop")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.c, S("loop")), NODE_NONE);
	assert_string_equal(tree_name(&f->t, s.a), "a");
	check_path(f, s.c, "/w/a/b/c");
	check_eq(child_count(&f->t, s.root), 2);
	check_eq(f->t.children.len, 4);
	/* a sibling subtree is fine */
	check_eq(tree_rename(&f->t, s.x, s.c, S("x")), 0);
	check_path(f, s.x, "/w/a/b/c/x");
}

static void rename_many_times_keeps_table_consistent(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	char name[32];
	for (int i = 0; i < 2000; i++) {
		uint32_t to = (i & 1) ? s.root : s.x;
		int len = snprintf(name, sizeof(name), "n%d", i);
		check_eq(tree_rename(&f->t, s.a, to, name, (size_t)len), 0);
	}
	/* last one: i = 1999, odd: under the root */
	check_eq(tree_find_child(&f->t, s.root, S("n1999")), s.a);
	check_eq(tree_find_child(&f->t, s.x, S("n1998")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.root, S("a")), NODE_NONE);
	check_path(f, s.c, "/w/n1999/b/c");
	check_eq(f->t.children.len, 4);
	check_eq(child_count(&f->t, s.root), 2);
	check_eq(child_count(&f->t, s.x), 0);
}

/* Renamed without a parent: it stays out, under its new name, with what is
 * below it; its old name is free, and it goes back in by another rename. */
static void rename_detached_stays_out(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	tree_detach(&f->t, s.b);
	check_eq(tree_rename(&f->t, s.b, NODE_NONE, S("longer-name")), 0);
	assert_string_equal(tree_name(&f->t, s.b), "longer-name");
	check_eq(tree_node(&f->t, s.b)->parent, NODE_NONE);
	check_eq(tree_find_child(&f->t, s.a, S("b")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.a, S("longer-name")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.b, S("c")), s.c);
	check_eq(f->t.children.len, 3);
	/* an attached one is taken out on the way */
	check_eq(tree_rename(&f->t, s.x, NODE_NONE, S("y")), 0);
	check_eq(tree_find_child(&f->t, s.root, S("x")), NODE_NONE);
	check_eq(f->t.children.len, 2);
	check_eq(tree_rename(&f->t, s.b, s.root, S("b")), 0);
	check_path(f, s.c, "/w/b/c");
	check_eq(f->t.children.len, 3);
}

/* --- remove ---------------------------------------------------------------- */

static void remove_subtree_calls_back_once_per_wd(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	uint32_t b2 = tree_add_child(&f->t, s.a, S("b2"), 6);
	uint32_t d = tree_add_child(&f->t, s.b, S("d"), 7);
	assert_int_not_equal(b2, NODE_NONE);
	assert_int_not_equal(d, NODE_NONE);
	check_eq(f->t.count, 7);

	tree_remove(&f->t, s.a, collect_wd, f);
	static const int want[] = {2, 3, 4, 6, 7};
	check_removed_wds(f, want, 5);
	check_eq(f->t.count, 2);
	for (int wd = 2; wd <= 7; wd++)
		if (wd != 5)
			check_eq(tree_find_wd(&f->t, wd), NODE_NONE);
	check_eq(tree_find_wd(&f->t, 1), s.root);
	check_eq(tree_find_wd(&f->t, 5), s.x);
	check_eq(tree_find_child(&f->t, s.root, S("a")), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.root, S("x")), s.x);
	check_eq(child_count(&f->t, s.root), 1);
	assert_false(tree_node(&f->t, s.a)->used);
	assert_false(tree_node(&f->t, s.c)->used);
	check_eq(f->t.wds.len, 2);
	check_eq(f->t.children.len, 1);
	check_path(f, s.x, "/w/x");
}

static void remove_skips_nodes_without_wd(void **state)
{
	struct fix *f = *state;
	uint32_t r = tree_add_root(&f->t, S("/w"), 1, 0);
	uint32_t a = tree_add_child(&f->t, r, S("a"), 0);
	tree_add_child(&f->t, a, S("b"), 8);
	tree_add_child(&f->t, a, S("c"), 0);
	tree_remove(&f->t, a, collect_wd, f);
	static const int want[] = {8};
	check_removed_wds(f, want, 1);
	check_eq(f->t.count, 1);
}

static void remove_leaf_without_callback(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	tree_remove(&f->t, s.c, NULL, NULL);
	check_eq(f->t.count, 4);
	check_eq(tree_find_wd(&f->t, 4), NODE_NONE);
	check_eq(tree_find_child(&f->t, s.b, S("c")), NODE_NONE);
	check_eq(tree_node(&f->t, s.b)->first_child, NODE_NONE);
	check_path(f, s.b, "/w/a/b");
}

static void remove_root_empties_tree(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	tree_remove(&f->t, s.root, collect_wd, f);
	static const int want[] = {1, 2, 3, 4, 5};
	check_removed_wds(f, want, 5);
	check_eq(f->t.count, 0);
	check_eq(f->t.wds.len, 0);
	check_eq(f->t.children.len, 0);
	for (int wd = 1; wd <= 5; wd++)
		check_eq(tree_find_wd(&f->t, wd), NODE_NONE);
}

static void remove_middle_sibling_keeps_list(void **state)
{
	struct fix *f = *state;
	uint32_t r = tree_add_root(&f->t, S("/w"), 1, 0);
	uint32_t k[5];
	char name[2] = "0";
	for (int i = 0; i < 5; i++) {
		name[0] = (char)('0' + i);
		k[i] = tree_add_child(&f->t, r, name, 1, i + 2);
	}
	/* first, middle, last of the list */
	tree_remove(&f->t, k[4], NULL, NULL); /* list head */
	tree_remove(&f->t, k[2], NULL, NULL);
	tree_remove(&f->t, k[0], NULL, NULL); /* list tail */
	check_eq(child_count(&f->t, r), 2);
	assert_true(has_child(&f->t, r, k[1]));
	assert_true(has_child(&f->t, r, k[3]));
	check_eq(tree_find_child(&f->t, r, S("1")), k[1]);
	check_eq(tree_find_child(&f->t, r, S("3")), k[3]);
	check_eq(tree_find_child(&f->t, r, S("0")), NODE_NONE);
	check_eq(tree_find_child(&f->t, r, S("2")), NODE_NONE);
	check_eq(tree_find_child(&f->t, r, S("4")), NODE_NONE);
}

static void removed_slots_are_reused(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	uint32_t len_before = f->t.nodes_len;
	tree_remove(&f->t, s.a, NULL, NULL); /* frees a, b, c */
	uint32_t n[3];
	n[0] = tree_add_child(&f->t, s.x, S("p"), 20);
	n[1] = tree_add_child(&f->t, n[0], S("q"), 21);
	n[2] = tree_add_child(&f->t, s.root, S("a"), 22);
	check_eq(f->t.nodes_len, len_before);
	for (int i = 0; i < 3; i++) {
		bool reused = n[i] == s.a || n[i] == s.b || n[i] == s.c;
		if (!reused)
			fail_msg("node %u is not one of the freed slots %u %u %u",
				 n[i], s.a, s.b, s.c);
		assert_true(tree_node(&f->t, n[i])->used);
	}
	check_eq(f->t.count, 5);
	check_eq(tree_find_wd(&f->t, 2), NODE_NONE); /* the old wds stay gone */
	check_eq(tree_find_wd(&f->t, 20), n[0]);
	check_eq(tree_find_wd(&f->t, 22), n[2]);
	check_eq(tree_node(&f->t, n[2])->first_child, NODE_NONE);
	check_eq(tree_find_child(&f->t, s.root, S("a")), n[2]);
	check_path(f, n[1], "/w/x/p/q");
	check_path(f, n[2], "/w/a");
}

/* --- detach, set_wd -------------------------------------------------------- */

static void detach_unhooks_but_keeps_subtree(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	tree_detach(&f->t, s.a);
	check_eq(tree_node(&f->t, s.a)->parent, NODE_NONE);
	check_eq(tree_find_child(&f->t, s.root, S("a")), NODE_NONE);
	assert_false(has_child(&f->t, s.root, s.a));
	check_eq(child_count(&f->t, s.root), 1);
	/* still there, still found by wd, children still attached to it */
	check_eq(f->t.count, 5);
	assert_true(tree_node(&f->t, s.a)->used);
	check_eq(tree_find_wd(&f->t, 2), s.a);
	check_eq(tree_find_child(&f->t, s.a, S("b")), s.b);
	check_eq(tree_root_of(&f->t, s.c), s.a);
	check_path(f, s.c, "a/b/c");
	/* a free name now: another directory can take it */
	uint32_t a2 = tree_add_child(&f->t, s.root, S("a"), 9);
	check_eq(tree_find_child(&f->t, s.root, S("a")), a2);
	/* detaching twice, or a root, does nothing */
	tree_detach(&f->t, s.a);
	tree_detach(&f->t, s.root);
	check_eq(tree_find_child(&f->t, s.root, S("a")), a2);
	check_eq(tree_find_wd(&f->t, 1), s.root);
	/* and the orphan goes with its whole subtree */
	tree_remove(&f->t, s.a, collect_wd, f);
	static const int want[] = {2, 3, 4};
	check_removed_wds(f, want, 3);
	check_eq(f->t.count, 3);
	check_eq(tree_find_child(&f->t, s.root, S("a")), a2);
	check_path(f, a2, "/w/a");
}

static void detached_node_can_be_renamed_back(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	tree_detach(&f->t, s.b);
	check_eq(tree_rename(&f->t, s.b, s.x, S("back")), 0);
	check_eq(tree_find_child(&f->t, s.x, S("back")), s.b);
	check_path(f, s.c, "/w/x/back/c");
	check_eq(f->t.children.len, 4);
}

static void set_wd_moves_wd_lookup(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	check_eq(tree_set_wd(&f->t, s.b, 100), 0);
	check_eq(tree_node(&f->t, s.b)->wd, 100);
	check_eq(tree_find_wd(&f->t, 100), s.b);
	check_eq(tree_find_wd(&f->t, 3), NODE_NONE);
	check_eq(f->t.wds.len, 5);
	/* the same wd again: nothing to do */
	check_eq(tree_set_wd(&f->t, s.b, 100), 0);
	check_eq(tree_find_wd(&f->t, 100), s.b);
	check_eq(f->t.wds.len, 5);
	/* wd 0: no watch any more */
	check_eq(tree_set_wd(&f->t, s.b, 0), 0);
	check_eq(tree_node(&f->t, s.b)->wd, 0);
	check_eq(tree_find_wd(&f->t, 100), NODE_NONE);
	check_eq(f->t.wds.len, 4);
	/* and a watch again */
	check_eq(tree_set_wd(&f->t, s.b, 3), 0);
	check_eq(tree_find_wd(&f->t, 3), s.b);
	/* a freed old wd can go to another node */
	check_eq(tree_set_wd(&f->t, s.c, 100), 0);
	check_eq(tree_find_wd(&f->t, 100), s.c);
	check_eq(tree_find_wd(&f->t, 4), NODE_NONE);
	/* remove reports the current wds, not the old ones */
	tree_remove(&f->t, s.b, collect_wd, f);
	static const int want[] = {3, 100};
	check_removed_wds(f, want, 2);
}

static void set_wd_across_table_growth(void **state)
{
	struct fix *f = *state;
	uint32_t r = tree_add_root(&f->t, S("/w"), 1, 0);
	uint32_t a = tree_add_child(&f->t, r, S("a"), 2);
	/* fill the wd table right up to its growth point, then renumber */
	uint32_t cap = f->t.wds.cap;
	char name[16];
	int added = 0;
	for (; tree_index_fits(f->t.wds.len + 1, cap); added++) {
		int len = snprintf(name, sizeof(name), "f%d", added);
		assert_int_not_equal(tree_add_child(&f->t, r, name, (size_t)len, 1000 + added),
				     NODE_NONE);
	}
	check_eq(f->t.wds.cap, cap);
	check_eq(tree_set_wd(&f->t, a, 5000), 0);
	assert_true(f->t.wds.cap > cap);
	check_eq(tree_find_wd(&f->t, 5000), a);
	check_eq(tree_find_wd(&f->t, 2), NODE_NONE);
	check_eq(tree_node(&f->t, a)->wd, 5000);
	for (int i = 0; i < added; i++)
		check_eq(tree_node(&f->t, tree_find_wd(&f->t, 1000 + i))->wd, 1000 + i);
}

/* --- out of memory --------------------------------------------------------- */

/* Every allocation an add makes, made to fail in turn, across the growth
 * points of the node array, the names and both tables: a failed add
 * returns NODE_NONE and leaves no trace. */
static void add_out_of_memory_leaves_no_trace(void **state)
{
	struct fix *f = *state;
	enum { N = 300 };
	uint32_t node[N];
	uint32_t root = NODE_NONE;
	char name[48];
	long failures = 0;
	uint32_t names_cap = f->t.names_cap;
	int names_growths = 0;
	for (int i = -1; i < N; i++) {
		int len = snprintf(name, sizeof(name), "child-with-a-long-name-%d", i);
		for (long budget = 0;; budget++) {
			uint32_t count = f->t.count, wl = f->t.wds.len, cl = f->t.children.len;
			alloc_fail_after(budget);
			uint32_t n = i < 0 ? tree_add_root(&f->t, S("/w"), 1, 0)
					   : tree_add_child(&f->t, root, name, (size_t)len, 2 + i);
			long refused = alloc_fail_refused();
			alloc_fail_off();
			if (n != NODE_NONE) {
				if (i < 0)
					root = n;
				else
					node[i] = n;
				names_growths += f->t.names_cap != names_cap;
				names_cap = f->t.names_cap;
				break;
			}
			failures++;
			if (!refused)
				fail_msg("add %d failed with no allocation refused", i);
			check_eq(f->t.count, count);
			check_eq(f->t.wds.len, wl);
			check_eq(f->t.children.len, cl);
			check_eq(tree_find_wd(&f->t, i < 0 ? 1 : 2 + i), NODE_NONE);
			if (i >= 0)
				check_eq(tree_find_child(&f->t, root, name, (size_t)len), NODE_NONE);
			assert_true(budget < 8);
		}
	}
	/* one per growth: the array (64 to 512), the names (9 KB) and the
	 * tables; no add needs more than one */
	assert_true(names_growths >= 2);
	assert_true(failures >= 4 + names_growths);
	check_eq(f->t.count, N + 1);
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "child-with-a-long-name-%d", i);
		check_eq(tree_find_wd(&f->t, 2 + i), node[i]);
		check_eq(tree_find_child(&f->t, root, name, (size_t)len), node[i]);
	}
	check_eq(child_count(&f->t, root), N);
	check_path(f, node[N - 1], "/w/child-with-a-long-name-299");
}

static void set_wd_out_of_memory_keeps_old_wd(void **state)
{
	struct fix *f = *state;
	uint32_t r = tree_add_root(&f->t, S("/w"), 1, 0);
	uint32_t a = tree_add_child(&f->t, r, S("a"), 2);
	char name[16];
	for (int i = 0; tree_index_fits(f->t.wds.len + 1, f->t.wds.cap); i++) {
		int len = snprintf(name, sizeof(name), "f%d", i);
		tree_add_child(&f->t, r, name, (size_t)len, 1000 + i);
	}
	uint32_t wl = f->t.wds.len;
	alloc_fail_after(0);
	int ret = tree_set_wd(&f->t, a, 5000);
	alloc_fail_off();
	check_eq(ret, -ENOMEM);
	check_eq(tree_node(&f->t, a)->wd, 2);
	check_eq(tree_find_wd(&f->t, 2), a);
	check_eq(tree_find_wd(&f->t, 5000), NODE_NONE);
	check_eq(f->t.wds.len, wl);
	/* dropping a wd needs no memory */
	alloc_fail_after(0);
	ret = tree_set_wd(&f->t, a, 0);
	alloc_fail_off();
	check_eq(ret, 0);
	check_eq(tree_find_wd(&f->t, 2), NODE_NONE);
}

/* Add children to PARENT until the names have less than 16 bytes free. */
static void fill_names(struct fix *f, uint32_t parent)
{
	char name[16];
	for (int i = 0; f->t.names_cap - f->t.names_len >= 16; i++) {
		int len = snprintf(name, sizeof(name), "%d", i);
		assert_int_not_equal(tree_add_child(&f->t, parent, name, (size_t)len, 0),
				     NODE_NONE);
	}
}

static void rename_out_of_memory_changes_nothing(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	fill_names(f, s.c);
	/* a longer name than "a", and no room left for it */
	alloc_fail_after(0);
	int ret = tree_rename(&f->t, s.a, s.x, S("a-much-longer-new-name"));
	alloc_fail_off();
	check_eq(ret, -ENOMEM);
	check_eq(tree_find_child(&f->t, s.root, S("a")), s.a);
	check_eq(tree_find_child(&f->t, s.x, S("a-much-longer-new-name")), NODE_NONE);
	check_path(f, s.c, "/w/a/b/c");
	check_eq(child_count(&f->t, s.root), 2);
	check_eq(child_count(&f->t, s.x), 0);
	/* the loop check comes first and needs no memory */
	alloc_fail_after(0);
	ret = tree_rename(&f->t, s.a, s.c, S("new-name"));
	alloc_fail_off();
	check_eq(ret, -ELOOP);
	/* keeping the name needs no copy: it succeeds with no memory */
	alloc_fail_after(0);
	ret = tree_rename(&f->t, s.a, s.x, S("a"));
	alloc_fail_off();
	check_eq(ret, 0);
	check_path(f, s.c, "/w/x/a/b/c");
	/* nor does a shorter one, written over the old */
	alloc_fail_after(0);
	ret = tree_rename(&f->t, s.b, s.a, S(""));
	alloc_fail_off();
	check_eq(ret, 0);
	check_eq(tree_find_child(&f->t, s.a, S("")), s.b);
}

static void rename_detached_out_of_memory_stays_reachable_by_wd(void **state)
{
	struct fix *f = *state;
	uint32_t r = tree_add_root(&f->t, S("/w"), 1, 0);
	uint32_t d = tree_add_child(&f->t, r, S("d"), 2);
	tree_detach(&f->t, d);
	/* fill the child table to the point where one more insert grows it */
	char name[16];
	for (int i = 0; tree_index_fits(f->t.children.len + 1, f->t.children.cap); i++) {
		int len = snprintf(name, sizeof(name), "f%d", i);
		tree_add_child(&f->t, r, name, (size_t)len, 1000 + i);
	}
	uint32_t cl = f->t.children.len;
	alloc_fail_after(0);
	int ret = tree_rename(&f->t, d, r, S("d"));
	alloc_fail_off();
	check_eq(ret, -ENOMEM);
	check_eq(tree_find_wd(&f->t, 2), d);
	check_eq(tree_node(&f->t, d)->parent, NODE_NONE);
	check_eq(tree_find_child(&f->t, r, S("d")), NODE_NONE);
	check_eq(f->t.children.len, cl);
	/* and with memory it goes in */
	check_eq(tree_rename(&f->t, d, r, S("d")), 0);
	check_eq(tree_find_child(&f->t, r, S("d")), d);
	check_path(f, d, "/w/d");
}

static void path_out_of_memory_leaves_buffer(void **state)
{
	struct fix *f = *state;
	struct shape s = make_shape(f);
	alloc_fail_after(0);
	int ret = tree_path(&f->t, s.c, &f->path);
	alloc_fail_off();
	check_eq(ret, -ENOMEM);
	check_eq(f->path.len, 0);
	check_path(f, s.c, "/w/a/b/c");
}

/* --- names ------------------------------------------------------------------ */

/* A root "/w" (wd 1) with N children named by FMT (its one %d the index)
 * into NODE[], with wds from 2 on. Returns the root. */
static uint32_t numbered_tree(struct fix *f, const char *fmt, int n, uint32_t *node)
{
	uint32_t r = tree_add_root(&f->t, S("/w"), 1, 0);
	char name[64];
	for (int i = 0; i < n; i++) {
		int len = snprintf(name, sizeof(name), fmt, i);
		node[i] = tree_add_child(&f->t, r, name, (size_t)len, 2 + i);
		if (node[i] == NODE_NONE)
			fail_msg("add '%s' failed", name);
	}
	return r;
}

/* The names buffer grows under the nodes: every name and path stays right
 * across each growth, and a name handed in from the buffer itself (another
 * node's tree_name()) is copied before the buffer moves. */
static void names_survive_growth(void **state)
{
	struct fix *f = *state;
	enum { N = 2000 };
	static uint32_t node[N];
	uint32_t r = numbered_tree(f, "a-name-of-forty-bytes-or-so-number-%05d", N, node);
	char name[64];
	/* 80 KB: from 4 KB, five growths */
	assert_true(f->t.names_cap >= 64 * 1024);
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "a-name-of-forty-bytes-or-so-number-%05d", i);
		assert_string_equal(tree_name(&f->t, node[i]), name);
		check_eq(tree_find_child(&f->t, r, name, (size_t)len), node[i]);
	}
	/* rename node 0, under a new parent each time, to the name of LG
	 * (longer than its own, so it goes at the end), handed in from the
	 * buffer, until one such rename makes the buffer move */
	uint32_t lg = tree_add_child(&f->t, r, S("a-long-name-of-sixty-bytes-for-the-renames-to-take"), 0);
	assert_int_not_equal(lg, NODE_NONE);
	bool moved = false;
	for (int i = 0; i < 10 * N && !moved; i++) {
		int len = snprintf(name, sizeof(name), "dir%d", i);
		uint32_t to = tree_add_child(&f->t, r, name, (size_t)len, 0);
		assert_int_not_equal(to, NODE_NONE);
		check_eq(tree_rename(&f->t, node[0], r, S("a")), 0);
		uint32_t cap = f->t.names_cap;
		const char *from = tree_name(&f->t, lg);
		check_eq(tree_rename(&f->t, node[0], to, from, tree_node(&f->t, lg)->name_len), 0);
		moved = f->t.names_cap != cap;
	}
	assert_true(moved);
	assert_string_equal(tree_name(&f->t, node[0]), tree_name(&f->t, lg));
	check_path(f, node[1], "/w/a-name-of-forty-bytes-or-so-number-00001");
}

/* Removed and renamed nodes leave dead bytes; once they are more than the
 * live ones the live names are packed again, and every name, lookup and
 * path is as before. */
static void dead_names_are_squeezed_out(void **state)
{
	struct fix *f = *state;
	enum { N = 3000 };
	static uint32_t node[N];
	uint32_t r = numbered_tree(f, "entry-%d-with-some-length", N, node);
	char name[64];
	uint32_t full = f->t.names_len;
	/* remove three in four: the dead outgrow the live on the way */
	bool squeezed = false;
	for (int i = 0; i < N; i++) {
		if (i % 4 == 0)
			continue;
		uint32_t before = f->t.names_len;
		tree_remove(&f->t, node[i], NULL, NULL);
		squeezed |= f->t.names_len < before;
		assert_true(f->t.names_dead <= f->t.names_len / 2 || f->t.names_dead < 4096);
	}
	assert_true(squeezed);
	assert_true(f->t.names_len < full / 2);
	/* a rename to a longer name leaves its old one dead */
	uint32_t dead = f->t.names_dead;
	check_eq(tree_rename(&f->t, node[0], r, S("entry-0-with-some-length-and-more")), 0);
	assert_true(f->t.names_dead == dead + sizeof("entry-0-with-some-length") ||
		    f->t.names_dead == 0);
	/* a shorter one takes the old one's room */
	uint32_t len_before = f->t.names_len;
	check_eq(tree_rename(&f->t, node[4], r, S("e4")), 0);
	check_eq(f->t.names_len, len_before);
	for (int i = 0; i < N; i += 4) {
		int len = i == 0 ? snprintf(name, sizeof(name), "entry-0-with-some-length-and-more")
			: i == 4 ? snprintf(name, sizeof(name), "e4")
			: snprintf(name, sizeof(name), "entry-%d-with-some-length", i);
		check_eq(tree_find_child(&f->t, r, name, (size_t)len), node[i]);
		check_eq(tree_find_wd(&f->t, 2 + i), node[i]);
		assert_string_equal(tree_name(&f->t, node[i]), name);
	}
	/* freed slots and room are used again */
	uint32_t nodes_len = f->t.nodes_len;
	for (int i = 1; i < N; i++) {
		if (i % 4 == 0)
			continue;
		int len = snprintf(name, sizeof(name), "again-%d", i);
		node[i] = tree_add_child(&f->t, node[0], name, (size_t)len, 10000 + i);
		assert_int_not_equal(node[i], NODE_NONE);
	}
	check_eq(f->t.nodes_len, nodes_len);
	check_path(f, node[7], "/w/entry-0-with-some-length-and-more/again-7");
	/* everything goes: the names are squeezed to nothing but the root's */
	tree_remove(&f->t, node[0], NULL, NULL);
	for (int i = 4; i < N; i += 4)
		tree_remove(&f->t, node[i], NULL, NULL);
	check_eq(f->t.count, 1);
	check_eq(f->t.names_len - f->t.names_dead, sizeof("/w"));
	check_path(f, r, "/w");
}

/* What a node and a table slot cost, the figure tree.h gives. */
static void storage_stays_small(void **state)
{
	struct fix *f = *state;
	enum { N = 100000 };
	check_eq(sizeof(struct node), 40);
	uint32_t r = tree_add_root(&f->t, S("/w"), 1, 0);
	char name[16];
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "%d", i % 10);
		uint32_t parent = i < 10 ? r : (uint32_t)(1 + (i - 10) / 10);
		assert_int_not_equal(tree_add_child(&f->t, parent, name, (size_t)len, 2 + i),
				     NODE_NONE);
		/* never more than three quarters full */
		assert_true(tree_index_fits(f->t.wds.len, f->t.wds.cap));
		assert_true(tree_index_fits(f->t.children.len, f->t.children.cap));
	}
	/* and never more than twice what the entries need */
	assert_true(f->t.wds.cap <= 2 * f->t.wds.len);
	assert_true(f->t.children.cap <= 2 * f->t.children.len);
	/* two bytes a name, none lost */
	check_eq(f->t.names_len, sizeof("/w") + 2 * N);
	check_eq(tree_find_wd(&f->t, N + 1), N);
	check_path(f, 4321, "/w/3/2/1/0");
}

/* --- scale ----------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure replays */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

enum { MANY = 100000, PARENTS = 16 };

static int name_of(int i, char *out, size_t size)
{
	return snprintf(out, size, "entry-%d", i);
}

/* Every live node is found by its wd and by (parent, name); every dead one
 * by neither. */
static void check_all(struct fix *f, const uint32_t *node, const bool *live,
		      const uint32_t *parent_of)
{
	char name[32];
	for (int i = 0; i < MANY; i++) {
		int wd = PARENTS + 1 + i;
		int len = name_of(i, name, sizeof(name));
		uint32_t by_wd = tree_find_wd(&f->t, wd);
		uint32_t by_name = tree_find_child(&f->t, parent_of[i], name, (size_t)len);
		if (live[i]) {
			if (by_wd != node[i] || by_name != node[i])
				fail_msg("entry %d: expected node %u, by wd %u, by name %u",
					 i, node[i], by_wd, by_name);
		} else if (by_wd != NODE_NONE || by_name != NODE_NONE) {
			fail_msg("entry %d removed: by wd %u, by name %u", i, by_wd, by_name);
		}
	}
}

static void many_inserts_and_removes(void **state)
{
	struct fix *f = *state;
	uint32_t *node = calloc(MANY, sizeof(*node));
	uint32_t *parent_of = calloc(MANY, sizeof(*parent_of));
	bool *live = calloc(MANY, sizeof(*live));
	int *order = calloc(MANY, sizeof(*order));
	assert_non_null(node);
	assert_non_null(parent_of);
	assert_non_null(live);
	assert_non_null(order);

	uint32_t root = tree_add_root(&f->t, S("/big"), 1, 0);
	uint32_t parents[PARENTS];
	parents[0] = root;
	for (int p = 1; p < PARENTS; p++) {
		char pn[8];
		int len = snprintf(pn, sizeof(pn), "p%d", p);
		parents[p] = tree_add_child(&f->t, parents[p - 1], pn, (size_t)len, p + 1);
		assert_int_not_equal(parents[p], NODE_NONE);
	}

	char name[32];
	for (int i = 0; i < MANY; i++) {
		int len = name_of(i, name, sizeof(name));
		parent_of[i] = parents[i % PARENTS];
		node[i] = tree_add_child(&f->t, parent_of[i], name, (size_t)len,
					 PARENTS + 1 + i);
		if (node[i] == NODE_NONE)
			fail_msg("insert %d failed", i);
		live[i] = true;
		order[i] = i;
	}
	check_eq(f->t.count, PARENTS + MANY);
	check_eq(f->t.wds.len, PARENTS + MANY);
	check_eq(f->t.children.len, PARENTS - 1 + MANY);
	check_all(f, node, live, parent_of);

	/* remove two thirds in random order: backward shifts everywhere */
	for (int i = MANY - 1; i > 0; i--) {
		int j = (int)(rng() % (uint64_t)(i + 1));
		int tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	int removed = 0;
	for (int k = 0; k < MANY * 2 / 3; k++) {
		int i = order[k];
		tree_remove(&f->t, node[i], collect_wd, f);
		live[i] = false;
		removed++;
		if (k % 20000 == 0)
			check_all(f, node, live, parent_of);
	}
	check_eq(f->nwds, removed);
	check_eq(f->t.count, PARENTS + MANY - removed);
	check_eq(f->t.wds.len, PARENTS + MANY - removed);
	check_eq(f->t.children.len, PARENTS - 1 + MANY - removed);
	check_all(f, node, live, parent_of);
	for (int p = 0; p < PARENTS; p++)
		check_eq(tree_find_wd(&f->t, p + 1), parents[p]);

	/* put them back: the freed slots are used before the array grows */
	uint32_t nodes_len = f->t.nodes_len;
	for (int k = 0; k < removed; k++) {
		int i = order[k];
		int len = name_of(i, name, sizeof(name));
		node[i] = tree_add_child(&f->t, parent_of[i], name, (size_t)len,
					 PARENTS + 1 + i);
		assert_int_not_equal(node[i], NODE_NONE);
		live[i] = true;
	}
	check_eq(f->t.nodes_len, nodes_len);
	check_eq(f->t.count, PARENTS + MANY);
	check_all(f, node, live, parent_of);

	/* every path is still right */
	check_path(f, node[PARENTS * 3 + 2], "/big/p1/p2/entry-50");

	/* and everything goes with the root */
	f->nwds = 0;
	tree_remove(&f->t, root, collect_wd, f);
	check_eq(f->nwds, PARENTS + MANY);
	check_eq(f->t.count, 0);
	check_eq(f->t.wds.len, 0);
	check_eq(f->t.children.len, 0);
	for (int i = 0; i < MANY; i++)
		live[i] = false;
	check_all(f, node, live, parent_of);

	free(node);
	free(parent_of);
	free(live);
	free(order);
}

/* Dense sequential wds and names in tables three quarters full: probe runs form,
 * and deleting from the middle of a run must shift the rest back, never
 * leave a hole that cuts a later entry off from its home slot. */
static void wd_clusters_survive_deletes(void **state)
{
	struct fix *f = *state;
	enum { N = 3000 };
	static uint32_t node[N];
	uint32_t r = numbered_tree(f, "%d", N, node);
	char name[16];
	/* delete every third, then check every survivor, then the rest */
	for (int i = 0; i < N; i += 3)
		tree_remove(&f->t, node[i], NULL, NULL);
	for (int i = 0; i < N; i++) {
		uint32_t want = i % 3 ? node[i] : NODE_NONE;
		uint32_t got = tree_find_wd(&f->t, 2 + i);
		if (got != want)
			fail_msg("wd %d: expected node %u, got %u", 2 + i, want, got);
		int len = snprintf(name, sizeof(name), "%d", i);
		got = tree_find_child(&f->t, r, name, (size_t)len);
		if (got != want)
			fail_msg("name %s: expected node %u, got %u", name, want, got);
	}
	for (int i = N - 1; i >= 0; i--)
		if (i % 3)
			tree_remove(&f->t, node[i], NULL, NULL);
	check_eq(f->t.count, 1);
	check_eq(f->t.wds.len, 1);
	check_eq(f->t.children.len, 0);
	check_eq(tree_find_wd(&f->t, 1), r);
}

/* Random adds, renames, moves, detaches, wd changes and subtree removals,
 * checked against a plain model after every few steps: every live node is
 * found by wd and by (parent, name) and has the model's path, every dead one
 * is gone, and the sibling lists hold exactly the model's children. */
enum { MODEL_MAX = 4096 };

struct model {
	bool live[MODEL_MAX];
	uint32_t parent[MODEL_MAX];
	char name[MODEL_MAX][16];
	int wd[MODEL_MAX];
	int next_wd, next_name;
	uint32_t live_count;
};

static bool model_is_ancestor(const struct model *m, uint32_t anc, uint32_t n)
{
	for (; n != NODE_NONE; n = m->parent[n])
		if (n == anc)
			return true;
	return false;
}

/* The model's idea of N's path, written into OUT (SIZE bytes). */
static void model_path(const struct model *m, uint32_t n, char *out, size_t size)
{
	static uint32_t chain[MODEL_MAX];
	size_t depth = 0, len = 0;
	for (uint32_t c = n; c != NODE_NONE; c = m->parent[c])
		chain[depth++] = c;
	while (depth--) {
		const char *nm = m->name[chain[depth]];
		size_t nl = strlen(nm);
		/* a root given as "/r/" does not get a second slash */
		bool slash = len && out[len - 1] != '/';
		assert_true(len + slash + nl < size);
		if (slash)
			out[len++] = '/';
		memcpy(out + len, nm, nl);
		len += nl;
	}
	out[len] = '\0';
}

/* A random live node (a root too if ALLOW_ROOT; never an orphan), or
 * NODE_NONE when there is none. */
static uint32_t model_pick(const struct model *m, bool allow_root)
{
	uint32_t start = (uint32_t)(rng() % MODEL_MAX);
	for (uint32_t i = 0; i < MODEL_MAX; i++) {
		uint32_t n = (start + i) % MODEL_MAX;
		if (m->live[n] && (allow_root || m->parent[n] != NODE_NONE))
			return n;
	}
	return NODE_NONE;
}

static void model_check(struct fix *f, const struct model *m)
{
	static char want[MODEL_MAX * 16];
	static uint32_t kids[MODEL_MAX];
	memset(kids, 0, sizeof(kids));
	for (uint32_t k = 0; k < MODEL_MAX; k++)
		if (m->live[k] && m->parent[k] != NODE_NONE)
			kids[m->parent[k]]++;
	check_eq(f->t.count, m->live_count);
	for (uint32_t n = 0; n < MODEL_MAX; n++) {
		if (!m->live[n]) {
			if (n < f->t.nodes_len && tree_node(&f->t, n)->used)
				fail_msg("node %u should be free", n);
			continue;
		}
		const struct node *x = tree_node(&f->t, n);
		assert_true(x->used);
		check_eq(x->parent, m->parent[n]);
		if (m->wd[n] > 0 && tree_find_wd(&f->t, m->wd[n]) != n)
			fail_msg("node %u: wd %d finds %u", n, m->wd[n],
				 tree_find_wd(&f->t, m->wd[n]));
		if (m->parent[n] != NODE_NONE) {
			uint32_t got = tree_find_child(&f->t, m->parent[n], m->name[n],
						       strlen(m->name[n]));
			if (got != n)
				fail_msg("node %u: (%u, '%s') finds %u", n, m->parent[n],
					 m->name[n], got);
		}
		check_eq(child_count(&f->t, n), kids[n]);
		model_path(m, n, want, sizeof(want));
		check_path(f, n, want);
	}
}

static void random_operations_match_model(void **state)
{
	struct fix *f = *state;
	struct model *m = calloc(1, sizeof(*m));
	assert_non_null(m);
	m->next_wd = 1;
	for (int i = 0; i < 3; i++) {
		char rn[16];
		int len = snprintf(rn, sizeof(rn), i == 2 ? "/r%d/" : "/r%d", i);
		uint32_t r = tree_add_root(&f->t, rn, (size_t)len, m->next_wd, (uint32_t)i);
		assert_true(r < MODEL_MAX);
		m->live[r] = true;
		m->parent[r] = NODE_NONE;
		memcpy(m->name[r], rn, (size_t)len + 1);
		m->wd[r] = m->next_wd++;
		m->live_count++;
	}

	for (int step = 0; step < 20000; step++) {
		unsigned op = (unsigned)(rng() % 100);
		if (op < 45 && m->live_count < MODEL_MAX * 3 / 4) {
			/* add a child, with a wd most of the time */
			uint32_t p = model_pick(m, true);
			char nm[16];
			int len = snprintf(nm, sizeof(nm), "n%d", m->next_name++);
			int wd = rng() % 8 ? m->next_wd++ : 0;
			uint32_t n = tree_add_child(&f->t, p, nm, (size_t)len, wd);
			assert_true(n < MODEL_MAX);
			assert_false(m->live[n]);
			m->live[n] = true;
			m->parent[n] = p;
			memcpy(m->name[n], nm, (size_t)len + 1);
			m->wd[n] = wd;
			m->live_count++;
		} else if (op < 70) {
			/* rename or move, maybe into its own subtree */
			uint32_t n = model_pick(m, false);
			uint32_t p = model_pick(m, true);
			if (n == NODE_NONE)
				continue;
			char nm[16];
			int len = rng() % 4 ? snprintf(nm, sizeof(nm), "n%d", m->next_name++)
					    : snprintf(nm, sizeof(nm), "%s", m->name[n]);
			if (len > 0 && tree_find_child(&f->t, p, nm, (size_t)len) != NODE_NONE &&
			    tree_find_child(&f->t, p, nm, (size_t)len) != n)
				continue; /* the name is taken there */
			int r = tree_rename(&f->t, n, p, nm, (size_t)len);
			if (model_is_ancestor(m, n, p)) {
				check_eq(r, -ELOOP);
			} else {
				check_eq(r, 0);
				m->parent[n] = p;
				memcpy(m->name[n], nm, (size_t)len + 1);
			}
		} else if (op < 85) {
			/* remove a subtree */
			uint32_t n = model_pick(m, false);
			if (n == NODE_NONE)
				continue;
			f->nwds = 0;
			tree_remove(&f->t, n, collect_wd, f);
			int want[MODEL_MAX];
			size_t nw = 0;
			for (uint32_t k = 0; k < MODEL_MAX; k++) {
				if (!m->live[k] || !model_is_ancestor(m, n, k))
					continue;
				if (m->wd[k] > 0)
					want[nw++] = m->wd[k];
			}
			qsort(want, nw, sizeof(*want), cmp_int);
			check_removed_wds(f, want, nw);
			for (uint32_t k = 0; k < MODEL_MAX; k++) {
				if (!m->live[k] || k == n || !model_is_ancestor(m, n, k))
					continue;
				m->live[k] = false;
				m->live_count--;
			}
			m->live[n] = false;
			m->live_count--;
		} else if (op < 92) {
			/* a new wd, or none */
			uint32_t n = model_pick(m, true);
			int wd = rng() % 4 ? m->next_wd++ : 0;
			check_eq(tree_set_wd(&f->t, n, wd), 0);
			m->wd[n] = wd;
		} else {
			/* detach a subtree and drop it, as IN_IGNORED would */
			uint32_t n = model_pick(m, false);
			if (n == NODE_NONE)
				continue;
			tree_detach(&f->t, n);
			uint32_t old_parent = m->parent[n];
			m->parent[n] = NODE_NONE;
			check_eq(tree_node(&f->t, n)->parent, NODE_NONE);
			check_eq(tree_find_child(&f->t, old_parent, m->name[n],
						 strlen(m->name[n])),
				 NODE_NONE);
			assert_false(has_child(&f->t, old_parent, n));
			/* an orphan's path starts at itself */
			check_path(f, n, m->name[n]);
			if (rng() % 8 == 0)
				model_check(f, m);
			tree_remove(&f->t, n, NULL, NULL);
			for (uint32_t k = 0; k < MODEL_MAX; k++) {
				if (!m->live[k] || k == n || !model_is_ancestor(m, n, k))
					continue;
				m->live[k] = false;
				m->live_count--;
			}
			m->live[n] = false;
			m->live_count--;
		}
		if (step % 500 == 0)
			model_check(f, m);
	}
	model_check(f, m);
	free(m);
}

static void fini_then_reuse(void **state)
{
	struct fix *f = *state;
	make_shape(f);
	tree_fini(&f->t);
	check_eq(f->t.count, 0);
	check_eq(tree_find_wd(&f->t, 1), NODE_NONE);
	struct shape s = make_shape(f);
	check_path(f, s.c, "/w/a/b/c");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(empty_tree_finds_nothing),
		T(add_root_is_found_by_wd),
		T(several_roots_are_independent),
		T(add_child_found_by_wd_and_name),
		T(names_are_length_delimited),
		T(child_without_wd_not_in_wd_table),
		T(path_of_nested_nodes),
		T(path_of_root_ending_in_slash),
		T(path_appends_to_buffer),
		T(path_of_deep_tree),
		T(root_of_and_is_ancestor),
		T(rename_in_place_descendants_follow),
		T(rename_to_other_parent),
		T(rename_to_other_root),
		T(rename_same_name_same_parent),
		T(rename_refuses_cycle),
		T(rename_many_times_keeps_table_consistent),
		T(rename_detached_stays_out),
		T(remove_subtree_calls_back_once_per_wd),
		T(remove_skips_nodes_without_wd),
		T(remove_leaf_without_callback),
		T(remove_root_empties_tree),
		T(remove_middle_sibling_keeps_list),
		T(removed_slots_are_reused),
		T(detach_unhooks_but_keeps_subtree),
		T(detached_node_can_be_renamed_back),
		T(set_wd_moves_wd_lookup),
		T(set_wd_across_table_growth),
		T(add_out_of_memory_leaves_no_trace),
		T(set_wd_out_of_memory_keeps_old_wd),
		T(rename_out_of_memory_changes_nothing),
		T(rename_detached_out_of_memory_stays_reachable_by_wd),
		T(path_out_of_memory_leaves_buffer),
		T(names_survive_growth),
		T(dead_names_are_squeezed_out),
		T(storage_stays_small),
		T(many_inserts_and_removes),
		T(wd_clusters_survive_deletes),
		T(random_operations_match_model),
		T(fini_then_reuse),
	};
	return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
