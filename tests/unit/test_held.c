/* Unit tests for src/lib/held.c: the names each watched directory holds,
 * which an overflow's re-scan compares its listings with. */
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
#include "held.h"

#define S(lit) lit, sizeof(lit) - 1

static int setup(void **state)
{
	struct held *h = malloc(sizeof(*h));
	if (!h)
		return -1;
	held_init(h);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	alloc_fail_off();
	struct held *h = *state;
	held_fini(h);
	free(h);
	return 0;
}

static size_t chain_len(struct held *h, uint32_t node, uint32_t serial)
{
	size_t n = 0;
	for (uint32_t i = held_first(h, node, serial); i != HELD_NONE; i = held_next(h, i))
		n++;
	return n;
}

static void added_names_are_held_by_their_directory_only(void **state)
{
	struct held *h = *state;
	assert_int_equal(held_add(h, 3, 1, S("a")), 0);
	assert_int_equal(held_add(h, 3, 1, S("b")), 0);
	assert_int_equal(held_add(h, 3, 1, S("a")), 0); /* again: once */
	assert_int_equal(held_add(h, 7, 2, S("a")), 0);
	assert_true(held_has(h, 3, 1, S("a")));
	assert_true(held_has(h, 3, 1, S("b")));
	assert_true(held_has(h, 7, 2, S("a")));
	assert_false(held_has(h, 7, 2, S("b")));
	assert_false(held_has(h, 3, 1, S("ab")));
	assert_int_equal(chain_len(h, 3, 1), 2);
	held_del(h, 3, 1, S("a"));
	assert_false(held_has(h, 3, 1, S("a")));
	assert_true(held_has(h, 7, 2, S("a")));
	assert_int_equal(chain_len(h, 3, 1), 1);
	held_del(h, 3, 1, S("nothing")); /* not held: nothing happens */
	held_clear(h, 3, 1);
	assert_int_equal(chain_len(h, 3, 1), 0);
	assert_false(held_has(h, 3, 1, S("b")));
	assert_true(held_has(h, 7, 2, S("a")));
}

/* A node freed and its slot given to another (a new serial) starts with
 * nothing: the old one's names are not inherited. */
static void a_reused_node_slot_holds_nothing(void **state)
{
	struct held *h = *state;
	assert_int_equal(held_add(h, 5, 10, S("old")), 0);
	assert_false(held_has(h, 5, 11, S("old")));
	assert_int_equal(held_first(h, 5, 11), HELD_NONE);
	assert_int_equal(held_add(h, 5, 11, S("new")), 0);
	assert_true(held_has(h, 5, 11, S("new")));
	assert_false(held_has(h, 5, 11, S("old")));
	assert_false(held_has(h, 5, 10, S("old")));
	assert_int_equal(chain_len(h, 5, 11), 1);
}

/* Many names, added and deleted at random, against a plain list: the table
 * grows, moves entries back on deletes, and squeezes the names. */
static void many_names_agree_with_a_plain_list(void **state)
{
	struct held *h = *state;
	enum { N = 4000, NODES = 7 };
	static bool in[NODES][N];
	memset(in, 0, sizeof(in));
	uint64_t rng = 42;
	for (int step = 0; step < 200000; step++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t node = (uint32_t)(rng >> 33) % NODES, k = (uint32_t)(rng >> 40) % N;
		char name[32];
		int len = snprintf(name, sizeof(name), "name-%u%s", k, k % 3 ? "" : "-longer-than-sixteen");
		if ((rng >> 20) & 1) {
			assert_int_equal(held_add(h, node, node + 100, name, (size_t)len), 0);
			in[node][k] = true;
		} else {
			held_del(h, node, node + 100, name, (size_t)len);
			in[node][k] = false;
		}
	}
	for (uint32_t node = 0; node < NODES; node++) {
		size_t want = 0;
		for (uint32_t k = 0; k < N; k++) {
			char name[32];
			int len = snprintf(name, sizeof(name), "name-%u%s", k, k % 3 ? "" : "-longer-than-sixteen");
			assert_int_equal(held_has(h, node, node + 100, name, (size_t)len), in[node][k]);
			want += in[node][k];
		}
		assert_int_equal(chain_len(h, node, node + 100), want);
		for (uint32_t i = held_first(h, node, node + 100); i != HELD_NONE; i = held_next(h, i)) {
			size_t len;
			const char *name = held_name(h, i, &len);
			assert_true(held_has(h, node, node + 100, name, len));
		}
	}
}

static void out_of_memory_leaves_it_as_it_was(void **state)
{
	struct held *h = *state;
	assert_int_equal(held_add(h, 1, 1, S("kept")), 0);
	for (int nth = 0; nth < 8; nth++) {
		alloc_fail_after(nth);
		int r = held_add(h, 2, 1, S("maybe"));
		alloc_fail_off();
		assert_true(r == 0 || r == -ENOMEM);
		assert_int_equal(held_has(h, 2, 1, S("maybe")), r == 0);
		assert_true(held_has(h, 1, 1, S("kept")));
		held_del(h, 2, 1, S("maybe"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(added_names_are_held_by_their_directory_only, setup, teardown),
		cmocka_unit_test_setup_teardown(a_reused_node_slot_holds_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(many_names_agree_with_a_plain_list, setup, teardown),
		cmocka_unit_test_setup_teardown(out_of_memory_leaves_it_as_it_was, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
