/* Unit tests for src/run/store.c: the queue of one rule of vigil run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "store.h"

#include "check.h"

static void take_names(struct store *s, size_t n, const char *want)
{
	struct store_path p[8];
	char got[256] = "";
	size_t k = store_take(s, n, SIZE_MAX, 0, p);
	for (size_t i = 0; i < k; i++) {
		strcat(got, i ? " " : "");
		strcat(got, p[i].path);
		store_path_fini(&p[i]);
	}
	assert_string_equal(got, want);
}

/* A path waits once; settled paths go in the order they settled. */
static void settle_order(void **state)
{
	(void)state;
	struct store *s;
	assert_int_equal(store_new(&s), 0);
	assert_int_equal(store_touch(s, "a", 1, NULL, 10), 0);
	assert_int_equal(store_touch(s, "b", 1, NULL, 20), 0);
	assert_int_equal(store_touch(s, "a", 2, NULL, 30), 0); /* waits again */
	check_eq(store_waiting(s), 2);
	check_eq(store_next_due(s), 20);
	store_settle(s, 25);
	check_eq(store_ready(s), 1);
	store_settle(s, 30);
	take_names(s, 8, "b a");
	check_eq(store_waiting(s), 0);
	store_free(s);
}

/* A path in a job waits for it: never in two jobs at once. */
static void in_a_job(void **state)
{
	(void)state;
	struct store *s;
	assert_int_equal(store_new(&s), 0);
	store_touch(s, "a", 1, NULL, 0);
	store_touch(s, "b", 1, NULL, 0);
	store_settle(s, 0);
	take_names(s, 1, "a");
	store_touch(s, "a", 1, NULL, 0); /* changed while its job runs */
	store_settle(s, 0);
	take_names(s, 8, "b"); /* a waits for its job */
	check_eq(store_ready(s), 1);
	take_names(s, 8, "");
	store_done(s, "a");
	take_names(s, 8, "a");
	store_done(s, "a");
	store_done(s, "b");
	store_done(s, "never taken");
	store_free(s);
}

/* store_pop takes a ready path, in a job or not, and marks nothing. */
static void pop(void **state)
{
	(void)state;
	struct store *s;
	struct store_path p;
	assert_int_equal(store_new(&s), 0);
	store_touch(s, "a", 1, "old", 0);
	store_settle(s, 0);
	take_names(s, 1, "a");
	store_touch(s, "a", 4, NULL, 0);
	store_settle(s, 0);
	assert_true(store_pop(s, &p));
	assert_string_equal(p.path, "a");
	check_eq(p.events, 4);
	store_path_fini(&p);
	assert_false(store_pop(s, &p));
	store_free(s); /* still in a job: freed with the store */
}

/* The files jobs ran on: changed or not, forgotten when gone. */
static void records(void **state)
{
	(void)state;
	struct store *s;
	struct stat st = {.st_dev = 1, .st_ino = 2, .st_size = 3};
	struct timespec since = {100, 0};
	assert_int_equal(store_new(&s), 0);
	for (int i = 0; i < 100; i++) { /* past the first growth */
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(store_record(s, name, &st), 0);
	}
	assert_false(store_changed(s, "f7", &st, &since));
	st.st_size = 4;
	assert_true(store_changed(s, "f7", &st, &since));
	assert_int_equal(store_record(s, "f7", NULL), 0);
	st.st_ctim.tv_sec = 50; /* not recorded: new if changed since */
	assert_false(store_changed(s, "f7", &st, &since));
	st.st_ctim.tv_sec = 150;
	assert_true(store_changed(s, "f7", &st, &since));
	assert_int_equal(store_record(s, "f7", &st), 0); /* the freed slot again */
	assert_false(store_changed(s, "f7", &st, &since));
	store_free(s);
}

/* A change of kind K on PATH (FROM), wanted, with EVENTS, at time 0, each
 * path settling after 10. */
static int apply(struct store *s, enum change_kind k, const char *path, const char *from,
		 uint32_t events, bool is_dir)
{
	struct change c = {.kind = k, .path = path, .from = from, .events = events,
			   .is_dir = is_dir, .wanted = true, .now = 0, .settle_ns = 10};
	return store_apply(s, &c);
}

/* One event, one call: renames carry what waited (below a directory too),
 * what goes away is forgotten, a write the rule does not run on only
 * keeps a waiting path waiting. */
static void changes(void **state)
{
	(void)state;
	struct store *s;
	struct store_path p;
	assert_int_equal(store_new(&s), 0);
	check_eq(apply(s, CHANGE_TOUCH, "d/a", NULL, IN_CLOSE_WRITE, false), 1);
	check_eq(apply(s, CHANGE_TOUCH, "d/a", NULL, IN_CLOSE_WRITE, false), 0); /* waits once */
	check_eq(apply(s, CHANGE_TOUCH, "d/b", NULL, 0, false), 0); /* a write alone */
	check_eq(apply(s, CHANGE_TOUCH, "x", NULL, IN_CLOSE_WRITE, false), 1);
	/* the directory renamed: d/a waits as e/a */
	check_eq(apply(s, CHANGE_RENAME, "e", "d", 0, true), 0);
	assert_false(store_has(s, "d/a"));
	assert_true(store_has(s, "e/a"));
	/* x renamed: it waits as y, from x, even where arrivals do not count */
	check_eq(apply(s, CHANGE_RENAME, "y", "x", 0, false), 1);
	/* a rename into place that counts, of a path that did not wait */
	check_eq(apply(s, CHANGE_RENAME, "z", "tmp", IN_MOVED_TO, false), 1);
	check_eq(store_waiting(s), 3);
	/* e goes, and e/a with it; z is deleted */
	check_eq(apply(s, CHANGE_GONE, "e", NULL, 0, true), 0);
	check_eq(apply(s, CHANGE_GONE, "z", NULL, 0, false), 0);
	/* a rule on deletes queues the delete */
	check_eq(apply(s, CHANGE_GONE, "w", NULL, IN_DELETE, false), 1);
	check_eq(apply(s, CHANGE_LEFT, "w", NULL, 0, false), 0);
	check_eq(store_waiting(s), 1);
	store_settle(s, 10);
	assert_true(store_pop(s, &p));
	assert_string_equal(p.path, "y");
	assert_string_equal(p.from, "x");
	check_eq(p.events, IN_MOVED_TO); /* what it waited with went with x */
	store_path_fini(&p);
	/* not wanted: nothing */
	struct change c = {.kind = CHANGE_TOUCH, .path = "q", .events = IN_CLOSE_WRITE};
	check_eq(store_apply(s, &c), 0);
	check_eq(store_waiting(s), 0);
	store_free(s);
}

/* A failed job's path waits for a retry, each delay within its half of
 * DELAY * 2^(N-1) and the cap; after the last, it is failed; a change
 * starts its count again. */
static void retries(void **state)
{
	(void)state;
	struct store *s;
	struct store_path p[1];
	struct finish f;
	assert_int_equal(store_new(&s), 0);
	store_set_retry(s, 3, 1000, 3000);
	store_touch(s, "a", IN_CLOSE_WRITE, NULL, 0);
	uint64_t now = 0;
	static const uint64_t full[] = {1000, 2000, 3000};
	for (int i = 0; i < 3; i++) {
		store_settle(s, UINT64_MAX);
		check_eq(store_take(s, 1, SIZE_MAX, now, p), 1);
		check_eq(p[0].attempt, i + 1);
		store_path_fini(&p[0]);
		assert_int_equal(store_finish(s, "a", NULL, OUTCOME_FAILED, 1 << 8, now, &f), 0);
		check_eq(f.what, FINISHED_RETRY);
		check_eq(f.retry, i + 1);
		if (f.due - now < full[i] / 2 || f.due - now > full[i])
			fail_msg("retry %d: in %llu, not within [%llu, %llu]", i + 1,
				 (unsigned long long)(f.due - now), (unsigned long long)full[i] / 2,
				 (unsigned long long)full[i]);
		check_eq(store_next_due(s), f.due);
		now = f.due;
	}
	store_settle(s, now);
	check_eq(store_take(s, 1, SIZE_MAX, now, p), 1);
	check_eq(p[0].attempt, 4);
	store_path_fini(&p[0]);
	store_finish(s, "a", NULL, OUTCOME_FAILED, 1 << 8, now, &f);
	check_eq(f.what, FINISHED_FAILED);
	check_eq(store_failed(s), 1);
	check_eq(store_waiting(s), 0);
	/* a new version of the file: from its first attempt again */
	store_touch(s, "a", IN_CLOSE_WRITE, NULL, now);
	check_eq(store_failed(s), 0);
	store_settle(s, now);
	check_eq(store_take(s, 1, SIZE_MAX, now, p), 1);
	check_eq(p[0].attempt, 1);
	store_path_fini(&p[0]);
	/* stopped by vigil: it waits to run again, the attempt counted */
	store_finish(s, "a", NULL, OUTCOME_STOPPED, 15, now, &f);
	check_eq(f.what, FINISHED_AGAIN);
	store_settle(s, now);
	check_eq(store_take(s, 1, SIZE_MAX, now, p), 1);
	check_eq(p[0].attempt, 2);
	store_path_fini(&p[0]);
	store_finish(s, "a", NULL, OUTCOME_OK, 0, now, &f);
	check_eq(f.what, FINISHED_DONE);
	check_eq(store_waiting(s), 0);
	store_free(s);
}

/* The loop guard: a path changed while its job runs, BURST jobs in a row,
 * is held back after the next end, and said once; another path never. */
static void loop_guard(void **state)
{
	(void)state;
	struct store *s;
	struct store_path p[2];
	struct change own = {.kind = CHANGE_TOUCH, .path = "a", .events = IN_CLOSE_WRITE,
			     .wanted = true};
	assert_int_equal(store_new(&s), 0);
	store_set_guard(s, 3, 100);
	uint64_t now = 1000;
	own.now = now;
	store_apply(s, &own);
	for (int job = 1; job <= 4; job++) {
		store_settle(s, UINT64_MAX);
		check_eq(store_take(s, 1, SIZE_MAX, now, p), 1);
		store_path_fini(&p[0]);
		assert_null(store_tripped(s));
		own.now = ++now;
		store_apply(s, &own); /* the job writes its own input */
		store_finish(s, "a", NULL, OUTCOME_OK, 0, ++now, NULL);
	}
	/* a distinct path meanwhile: taken at once */
	struct change other = {.kind = CHANGE_TOUCH, .path = "b", .events = IN_CLOSE_WRITE,
			       .wanted = true, .now = now};
	store_apply(s, &other);
	store_settle(s, UINT64_MAX);
	check_eq(store_take(s, 2, SIZE_MAX, now, p), 1);
	assert_string_equal(p[0].path, "b");
	store_path_fini(&p[0]);
	char *said = store_tripped(s);
	assert_non_null(said);
	assert_string_equal(said, "a");
	free(said);
	assert_null(store_tripped(s));
	check_eq(store_held_until(s), now + 100);
	/* once the hold is over it goes, and the next hold is twice as long */
	check_eq(store_take(s, 1, SIZE_MAX, now + 100, p), 1);
	store_path_fini(&p[0]);
	now += 100;
	own.now = now;
	store_apply(s, &own);
	store_finish(s, "a", NULL, OUTCOME_OK, 0, now, NULL);
	store_settle(s, UINT64_MAX);
	check_eq(store_take(s, 1, SIZE_MAX, now + 100, p), 0);
	check_eq(store_held_until(s), now + 200);
	assert_null(store_tripped(s)); /* said once */
	now += 200;
	check_eq(store_take(s, 1, SIZE_MAX, now, p), 1);
	store_path_fini(&p[0]);
	store_finish(s, "a", NULL, OUTCOME_OK, 0, now, NULL);
	/* a change long after its last job: not its own, the loop broke */
	now += 1000;
	own.now = now;
	store_apply(s, &own);
	store_settle(s, UINT64_MAX);
	check_eq(store_take(s, 1, SIZE_MAX, now, p), 1);
	store_path_fini(&p[0]);
	own.now = ++now;
	store_apply(s, &own); /* its own again, but once only */
	store_finish(s, "a", NULL, OUTCOME_OK, 0, ++now, NULL);
	store_settle(s, UINT64_MAX);
	check_eq(store_take(s, 1, SIZE_MAX, now, p), 1);
	store_path_fini(&p[0]);
	store_finish(s, "a", NULL, OUTCOME_OK, 0, now, NULL);
	store_finish(s, "b", NULL, OUTCOME_OK, 0, now, NULL);
	store_free(s);
}

/* What is known of a file goes with it when it is renamed: a failed one
 * stays failed, and counted once, also when renamed onto a path in a job
 * (that job's end says what it is then). */
static void renamed_known(void **state)
{
	(void)state;
	struct store *s;
	struct store_path p[1];
	struct change ren = {.kind = CHANGE_RENAME, .path = "b", .from = "a", .wanted = true};
	assert_int_equal(store_new(&s), 0);
	store_touch(s, "a", IN_CLOSE_WRITE, NULL, 0);
	store_settle(s, 0);
	check_eq(store_take(s, 1, SIZE_MAX, 0, p), 1);
	store_path_fini(&p[0]);
	store_finish(s, "a", NULL, OUTCOME_FAILED, 1 << 8, 0, NULL);
	check_eq(store_failed(s), 1);
	check_eq(store_apply(s, &ren), 0); /* arrivals do not count here */
	check_eq(store_failed(s), 1);
	/* c is in a job; b is renamed onto it */
	store_touch(s, "c", IN_CLOSE_WRITE, NULL, 0);
	store_settle(s, 0);
	check_eq(store_take(s, 1, SIZE_MAX, 0, p), 1);
	store_path_fini(&p[0]);
	ren.path = "c";
	ren.from = "b";
	store_apply(s, &ren);
	check_eq(store_failed(s), 0);
	store_finish(s, "c", NULL, OUTCOME_OK, 0, 0, NULL);
	check_eq(store_failed(s), 0);
	check_eq(store_waiting(s), 0);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(settle_order),
		cmocka_unit_test(in_a_job),
		cmocka_unit_test(pop),
		cmocka_unit_test(records),
		cmocka_unit_test(changes),
		cmocka_unit_test(retries),
		cmocka_unit_test(loop_guard),
		cmocka_unit_test(renamed_known),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
