/* Unit tests for src/lib/moves.c: rename halves waiting for their partner. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "moves.h"
#include "tree.h" /* NODE_NONE */

#include "check.h"

/* uint64_t deadlines: printed unsigned */
#define check_u64(actual, expected)                                          \
	do {                                                                 \
		unsigned long long a_ = (actual), e_ = (expected);           \
		if (a_ != e_)                                                \
			fail_msg("%s: expected %llu, got %llu", #actual, e_, a_); \
	} while (0)

static char *dup_str(const char *s)
{
	char *p = strdup(s);
	assert_non_null(p);
	return p;
}

/* A FROM half for "/w/NAME" as the engine builds one. */
static struct move_half make_half(uint32_t cookie, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "/w/%s", name);
	struct move_half h = {
		.cookie = cookie,
		.mask = IN_MOVED_FROM,
		.dir_node = 1,
		.node = NODE_NONE,
		.dir = dup_str("/w/"),
		.name = dup_str(name),
		.path = dup_str(path),
		.dir_len = 3,
		.name_len = strlen(name),
		.path_len = strlen(path),
		.time = {.tv_sec = cookie, .tv_nsec = 0},
	};
	return h;
}

static int setup(void **state)
{
	struct moves *m = calloc(1, sizeof(*m));
	if (!m)
		return -1;
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	alloc_fail_off(); /* in case a failed test left it armed */
	struct moves *m = *state;
	moves_fini(m);
	free(m);
	return 0;
}

static void add(struct moves *m, uint32_t cookie, const char *name)
{
	struct move_half h = make_half(cookie, name);
	check_eq(moves_add(m, &h), 0);
}

/* Take COOKIE, check it is NAME, free it. */
static void take_expect(struct moves *m, uint32_t cookie, const char *name)
{
	struct move_half h;
	memset(&h, 0xa5, sizeof(h));
	if (!moves_take(m, cookie, &h))
		fail_msg("cookie %u: expected half '%s', got none", cookie, name);
	check_eq(h.cookie, cookie);
	assert_string_equal(h.name, name);
	move_half_free(&h);
}

/* Take the oldest expired half at NOW, check it is COOKIE, free it. */
static void expire_expect(struct moves *m, uint64_t now, uint32_t cookie)
{
	struct move_half h;
	if (!moves_take_expired(m, now, &h))
		fail_msg("at %llu: expected cookie %u to expire, got none",
			 (unsigned long long)now, cookie);
	check_eq(h.cookie, cookie);
	move_half_free(&h);
}

static void empty_has_nothing(void **state)
{
	struct moves *m = *state;
	struct move_half h = {.cookie = 77};
	assert_false(moves_take(m, 1, &h));
	assert_false(moves_take_expired(m, UINT64_MAX, &h));
	check_eq(h.cookie, 77); /* untouched */
	check_u64(moves_next_deadline(m), 0);
	moves_arm(m, 100); /* nothing to arm */
	check_u64(moves_next_deadline(m), 0);
	check_eq(m->len, 0);
}

static void add_then_take_by_cookie(void **state)
{
	struct moves *m = *state;
	struct move_half in = make_half(1234, "file");
	in.mask = IN_MOVED_FROM | IN_ISDIR;
	in.node = 9;
	in.delivered = true;
	char *name = in.name;
	check_eq(moves_add(m, &in), 0);
	check_eq(m->len, 1);

	struct move_half out;
	assert_true(moves_take(m, 1234, &out));
	check_eq(m->len, 0);
	/* every field comes back, the strings themselves (ownership moves) */
	check_eq(out.cookie, 1234);
	check_eq(out.mask, IN_MOVED_FROM | IN_ISDIR);
	check_eq(out.dir_node, 1);
	check_eq(out.node, 9);
	assert_true(out.delivered);
	assert_ptr_equal(out.name, name);
	assert_string_equal(out.dir, "/w/");
	assert_string_equal(out.name, "file");
	assert_string_equal(out.path, "/w/file");
	check_eq(out.dir_len, 3);
	check_eq(out.name_len, 4);
	check_eq(out.path_len, 7);
	check_eq(out.time.tv_sec, 1234);
	check_u64(out.deadline, 0);
	move_half_free(&out);
	assert_null(out.name);
	assert_null(out.dir);
	assert_null(out.path);

	/* gone now */
	assert_false(moves_take(m, 1234, &out));
}

static void take_unknown_cookie_fails(void **state)
{
	struct moves *m = *state;
	add(m, 1, "a");
	add(m, 2, "b");
	struct move_half h = {.cookie = 55};
	assert_false(moves_take(m, 3, &h));
	assert_false(moves_take(m, 0, &h));
	check_eq(h.cookie, 55);
	check_eq(m->len, 2);
}

static void take_from_middle_keeps_order(void **state)
{
	struct moves *m = *state;
	add(m, 10, "a");
	add(m, 20, "b");
	add(m, 30, "c");
	add(m, 40, "d");
	take_expect(m, 30, "c");
	check_eq(m->len, 3);
	check_eq(m->v[0].cookie, 10);
	check_eq(m->v[1].cookie, 20);
	check_eq(m->v[2].cookie, 40);
	take_expect(m, 10, "a"); /* the head */
	take_expect(m, 40, "d"); /* the tail */
	take_expect(m, 20, "b");
	check_eq(m->len, 0);
}

static void same_cookie_taken_oldest_first(void **state)
{
	struct moves *m = *state;
	add(m, 5, "first");
	add(m, 5, "second");
	take_expect(m, 5, "first");
	take_expect(m, 5, "second");
}

static void arm_sets_only_unarmed(void **state)
{
	struct moves *m = *state;
	add(m, 1, "a");
	add(m, 2, "b");
	moves_arm(m, 1000);
	add(m, 3, "c");
	moves_arm(m, 2000);
	check_u64(m->v[0].deadline, 1000);
	check_u64(m->v[1].deadline, 1000);
	check_u64(m->v[2].deadline, 2000);
	/* arming again moves nobody's deadline */
	moves_arm(m, 500);
	check_u64(m->v[0].deadline, 1000);
	check_u64(m->v[2].deadline, 2000);
}

static void next_deadline_is_earliest_armed(void **state)
{
	struct moves *m = *state;
	add(m, 1, "a");
	check_u64(moves_next_deadline(m), 0); /* nothing armed */
	moves_arm(m, 3000);
	check_u64(moves_next_deadline(m), 3000);
	add(m, 2, "b");
	check_u64(moves_next_deadline(m), 3000); /* b is not armed */
	moves_arm(m, 5000);
	check_u64(moves_next_deadline(m), 3000);
	take_expect(m, 1, "a");
	check_u64(moves_next_deadline(m), 5000);
	take_expect(m, 2, "b");
	check_u64(moves_next_deadline(m), 0);
}

static void next_deadline_not_by_position(void **state)
{
	struct moves *m = *state;
	/* a later arrival can carry an earlier deadline if the caller armed
	 * it so; the earliest is still found */
	add(m, 1, "a");
	m->v[0].deadline = 900;
	add(m, 2, "b");
	m->v[1].deadline = 400;
	add(m, 3, "c");
	check_u64(moves_next_deadline(m), 400);
}

static void nothing_expires_before_deadline(void **state)
{
	struct moves *m = *state;
	add(m, 1, "a");
	struct move_half h;
	/* unarmed: never expires, whatever the time */
	assert_false(moves_take_expired(m, UINT64_MAX, &h));
	moves_arm(m, 1000);
	assert_false(moves_take_expired(m, 0, &h));
	assert_false(moves_take_expired(m, 999, &h));
	check_eq(m->len, 1);
	/* at the deadline exactly: expired */
	expire_expect(m, 1000, 1);
	check_eq(m->len, 0);
	assert_false(moves_take_expired(m, 5000, &h));
}

static void expired_come_oldest_first(void **state)
{
	struct moves *m = *state;
	add(m, 1, "a");
	add(m, 2, "b");
	moves_arm(m, 100);
	add(m, 3, "c");
	moves_arm(m, 200);
	add(m, 4, "d"); /* never armed */

	struct move_half h;
	assert_false(moves_take_expired(m, 99, &h));
	expire_expect(m, 150, 1);
	expire_expect(m, 150, 2);
	assert_false(moves_take_expired(m, 150, &h));
	expire_expect(m, 10000, 3);
	assert_false(moves_take_expired(m, UINT64_MAX, &h));
	check_eq(m->len, 1);
	check_eq(m->v[0].cookie, 4);
	check_u64(moves_next_deadline(m), 0);
}

static void expired_skips_unexpired_before_it(void **state)
{
	struct moves *m = *state;
	add(m, 1, "a");
	add(m, 2, "b");
	m->v[0].deadline = 500;
	m->v[1].deadline = 100;
	expire_expect(m, 200, 2);
	check_eq(m->len, 1);
	check_eq(m->v[0].cookie, 1);
}

static void many_halves_grow(void **state)
{
	struct moves *m = *state;
	enum { N = 1000 };
	char name[16];
	for (uint32_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		add(m, 1000 + i, name);
	}
	check_eq(m->len, N);
	assert_true(m->cap >= N);
	/* half by cookie, newest first; the rest by expiry, oldest first */
	for (uint32_t i = N; i-- > N / 2;) {
		snprintf(name, sizeof(name), "n%u", i);
		take_expect(m, 1000 + i, name);
	}
	moves_arm(m, 1);
	for (uint32_t i = 0; i < N / 2; i++)
		expire_expect(m, 1, 1000 + i);
	check_eq(m->len, 0);
}

static void add_out_of_memory_frees_strings(void **state)
{
	struct moves *m = *state;
	/* fill to capacity, so the next add must grow */
	char name[16];
	for (uint32_t i = 0; m->len == 0 || m->len < m->cap; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		add(m, i + 1, name);
	}
	size_t len = m->len;
	struct move_half h = make_half(999, "lost");
	alloc_fail_after(0);
	int ret = moves_add(m, &h);
	alloc_fail_off();
	check_eq(ret, -ENOMEM);
	/* the half's strings are freed (valgrind checks) and cleared */
	assert_null(h.dir);
	assert_null(h.name);
	assert_null(h.path);
	check_eq(m->len, len);
	struct move_half out;
	assert_false(moves_take(m, 999, &out));
	take_expect(m, 1, "n0");
}

static void fini_frees_pending(void **state)
{
	struct moves *m = *state;
	add(m, 1, "a");
	add(m, 2, "b");
	moves_fini(m); /* valgrind checks the strings go */
	check_eq(m->len, 0);
	check_eq(m->cap, 0);
	assert_null(m->v);
	/* usable again */
	add(m, 3, "c");
	take_expect(m, 3, "c");
}

/* A directory held by a move-out half that turns up again is let go of:
 * the half stays (its FROM may still be owed) but no longer names it. */
static void release_node_lets_go_of_the_directory(void **state)
{
	struct moves *m = *state;
	struct move_half h = make_half(7, "dir");
	h.node = 42;
	h.node_serial = 5;
	check_eq(moves_add(m, &h), 0);
	add(m, 8, "other");
	assert_false(moves_release_node(m, 41, 5));
	/* the same slot, reused by a later node: not the one held */
	assert_false(moves_release_node(m, 42, 6));
	assert_true(moves_release_node(m, 42, 5));
	assert_false(moves_release_node(m, 42, 5));
	struct move_half out;
	assert_true(moves_take(m, 7, &out));
	check_eq(out.node, NODE_NONE);
	move_half_free(&out);
	take_expect(m, 8, "other");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(empty_has_nothing),
		T(add_then_take_by_cookie),
		T(take_unknown_cookie_fails),
		T(take_from_middle_keeps_order),
		T(same_cookie_taken_oldest_first),
		T(arm_sets_only_unarmed),
		T(next_deadline_is_earliest_armed),
		T(next_deadline_not_by_position),
		T(nothing_expires_before_deadline),
		T(expired_come_oldest_first),
		T(expired_skips_unexpired_before_it),
		T(many_halves_grow),
		T(add_out_of_memory_frees_strings),
		T(fini_frees_pending),
		T(release_node_lets_go_of_the_directory),
	};
	return cmocka_run_group_tests_name("moves", tests, NULL, NULL);
}
