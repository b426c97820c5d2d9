/* Unit tests for src/lib/seen.c: dedupe between a directory listing and the
 * kernel's events (DESIGN.md, promise 1). Marks and positions are stream
 * offsets: an event read at POS < mark was queued before the listing ended. */
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
#include "seen.h"

#include "check.h"

#define S(lit) lit, sizeof(lit) - 1

static int setup(void **state)
{
	struct seen *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	alloc_fail_off(); /* in case a failed test left it armed */
	struct seen *s = *state;
	seen_fini(s);
	free(s);
	return 0;
}

/* Whether the kernel event is dropped, with a message naming it if not as
 * expected. */
static void absorb_expect(struct seen *s, int wd, const char *name, uint32_t mask,
			  uint64_t pos, bool want)
{
	bool got = seen_absorb(s, wd, name, strlen(name), mask, pos);
	if (got != want)
		fail_msg("absorb(wd %d, '%s', mask %#x, pos %llu): expected %s, got %s",
			 wd, name, mask, (unsigned long long)pos,
			 want ? "dropped" : "delivered", got ? "dropped" : "delivered");
}

#define ABSORBED(s, wd, name, mask, pos) absorb_expect(s, wd, name, mask, pos, true)
#define DELIVERED(s, wd, name, mask, pos) absorb_expect(s, wd, name, mask, pos, false)

static void empty_absorbs_nothing(void **state)
{
	struct seen *s = *state;
	assert_true(seen_empty(s));
	DELIVERED(s, 1, "a", IN_CREATE, 0);
	seen_expire(s, 0);
	seen_expire(s, UINT64_MAX);
	assert_true(seen_empty(s));
}

static void add_makes_nonempty(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	assert_false(seen_empty(s));
	check_eq(s->len, 1);
}

static void unsealed_entry_absorbs(void **state)
{
	struct seen *s = *state;
	/* the listing is still running: no mark yet, so any position is
	 * before it */
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	ABSORBED(s, 1, "a", IN_CREATE, 1u << 30);
}

static void absorbs_before_mark_once(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	seen_seal(s, 100);
	ABSORBED(s, 1, "a", IN_CREATE, 0);
	/* a second CREATE of the same name is a new appearance */
	DELIVERED(s, 1, "a", IN_CREATE, 50);
	DELIVERED(s, 1, "a", IN_CREATE, 99);
}

static void not_absorbed_at_or_after_mark(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	seen_seal(s, 100);
	DELIVERED(s, 1, "a", IN_CREATE, 100);
	DELIVERED(s, 1, "a", IN_CREATE, 101);
	DELIVERED(s, 1, "a", IN_CREATE, UINT64_MAX);
	/* the entry is still alive for an event before the mark */
	ABSORBED(s, 1, "a", IN_CREATE, 99);
}

static void other_wd_name_or_event_not_absorbed(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("name"), IN_CREATE), 0);
	seen_seal(s, 100);
	DELIVERED(s, 2, "name", IN_CREATE, 10);   /* other directory */
	DELIVERED(s, 1, "nam", IN_CREATE, 10);    /* prefix */
	DELIVERED(s, 1, "names", IN_CREATE, 10);  /* extension */
	DELIVERED(s, 1, "NAME", IN_CREATE, 10);   /* names are bytes */
	DELIVERED(s, 1, "name", IN_MODIFY, 10);   /* not what was listed */
	DELIVERED(s, 1, "name", IN_CLOSE_WRITE, 10);
	/* none of those used it up */
	ABSORBED(s, 1, "name", IN_CREATE, 10);
}

static void names_are_length_delimited(void **state)
{
	struct seen *s = *state;
	const char rec[] = "abcdef";
	check_eq(seen_add(s, 1, rec, 3, IN_CREATE), 0); /* "abc" */
	seen_seal(s, 100);
	assert_false(seen_absorb(s, 1, rec, 4, IN_CREATE, 10));
	assert_false(seen_absorb(s, 1, rec, 2, IN_CREATE, 10));
	assert_true(seen_absorb(s, 1, "abcXYZ", 3, IN_CREATE, 10));
}

static void directory_entry_absorbs_isdir_event(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("d"), IN_CREATE | IN_ISDIR), 0);
	seen_seal(s, 100);
	ABSORBED(s, 1, "d", IN_CREATE | IN_ISDIR, 10);
	/* ISDIR alone is not an event to absorb: the entry is used up */
	DELIVERED(s, 1, "d", IN_CREATE | IN_ISDIR, 20);
	DELIVERED(s, 1, "d", IN_ISDIR, 20);
}

static void each_listed_event_absorbed_once(void **state)
{
	struct seen *s = *state;
	/* a file listed as created and written */
	check_eq(seen_add(s, 1, S("f"), IN_CREATE | IN_CLOSE_WRITE), 0);
	seen_seal(s, 100);
	DELIVERED(s, 1, "f", IN_MODIFY, 5); /* not listed: the kernel's */
	ABSORBED(s, 1, "f", IN_CREATE, 10);
	DELIVERED(s, 1, "f", IN_CREATE, 11);
	ABSORBED(s, 1, "f", IN_CLOSE_WRITE, 20);
	DELIVERED(s, 1, "f", IN_CLOSE_WRITE, 21);
}

static void delete_ends_entry(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("f"), IN_CREATE | IN_CLOSE_WRITE), 0);
	seen_seal(s, 100);
	ABSORBED(s, 1, "f", IN_CREATE, 10);
	/* the delete itself is delivered, and from then on the kernel tells
	 * the story: a new CREATE or CLOSE_WRITE before the mark is real */
	DELIVERED(s, 1, "f", IN_DELETE, 20);
	DELIVERED(s, 1, "f", IN_CREATE, 30);
	DELIVERED(s, 1, "f", IN_CLOSE_WRITE, 40);
}

static void delete_before_absorbing_ends_entry(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("d"), IN_CREATE | IN_ISDIR), 0);
	seen_seal(s, 100);
	DELIVERED(s, 1, "d", IN_DELETE | IN_ISDIR, 10);
	DELIVERED(s, 1, "d", IN_CREATE | IN_ISDIR, 20);
}

/* A file made and deleted under a name, then a directory under it, listed
 * before the file's events are read: they are the file's, not the
 * directory's. Its DELETE delivered took away the directory a reader had
 * from the listing (bench/churn.sh --writers 3 --ops 1500 with a queue of
 * 64, seed 3005: the listed n1/n3 and 13 paths below it missing). */
static void file_before_a_listed_directory_is_not_its(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("d"), IN_CREATE | IN_ISDIR), 0);
	seen_seal(s, 100);
	ABSORBED(s, 1, "d", IN_CREATE, 10);
	ABSORBED(s, 1, "d", IN_MODIFY, 11);
	ABSORBED(s, 1, "d", IN_DELETE, 12);
	ABSORBED(s, 1, "d", IN_MOVED_FROM, 13);
	/* the entry stays: the directory's own arrival is absorbed once */
	assert_true(seen_listed(s, 1, S("d"), 14));
	ABSORBED(s, 1, "d", IN_CREATE | IN_ISDIR, 15);
	/* past the mark, a file's events are the kernel's to tell */
	DELIVERED(s, 1, "d", IN_DELETE, 100);
}

/* A directory a re-scan found and did not report (seen_found_dir()): a
 * file's events before the mark it is given (where the listing began) are
 * dropped, the directory's own delivered; it is not a listed entry; the
 * seal after leaves its mark; and a live entry a listing reported stays
 * the one that tells. */
static void found_directory_drops_only_a_files_events_before_its_mark(void **state)
{
	struct seen *s = *state;
	check_eq(seen_found_dir(s, 1, S("d"), 0, 50), 0);
	seen_seal(s, 100);
	assert_false(seen_listed(s, 1, S("d"), 10));
	ABSORBED(s, 1, "d", IN_CREATE, 10);
	ABSORBED(s, 1, "d", IN_DELETE, 11);
	DELIVERED(s, 1, "d", IN_CREATE | IN_ISDIR, 12);
	/* past its own mark, not the seal's, a file's events are news */
	DELIVERED(s, 1, "d", IN_CREATE, 60);
	DELIVERED(s, 1, "d", IN_DELETE | IN_ISDIR, 13);
	DELIVERED(s, 1, "d", IN_CREATE, 14); /* the directory's way out ended it */
	check_eq(seen_add(s, 1, S("e"), IN_CREATE | IN_ISDIR), 0);
	seen_seal(s, 200);
	check_eq(seen_found_dir(s, 1, S("e"), 150, 180), 0);
	assert_true(seen_listed(s, 1, S("e"), 150));
	ABSORBED(s, 1, "e", IN_CREATE | IN_ISDIR, 160);
}

/* The directory listed, then gone and a file in its place, all before the
 * mark: its way out ends the entry, and the file's events are delivered. */
static void file_after_a_listed_directory_left_is_delivered(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("d"), IN_CREATE | IN_ISDIR), 0);
	seen_seal(s, 100);
	DELIVERED(s, 1, "d", IN_DELETE | IN_ISDIR, 10);
	DELIVERED(s, 1, "d", IN_CREATE, 11);
	DELIVERED(s, 1, "d", IN_DELETE, 12);
}

static void moved_from_ends_entry(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("f"), IN_CREATE), 0);
	seen_seal(s, 100);
	DELIVERED(s, 1, "f", IN_MOVED_FROM, 10);
	DELIVERED(s, 1, "f", IN_CREATE, 20);
}

static void unlisted_event_delivered_entry_kept(void **state)
{
	struct seen *s = *state;
	/* the engine lists a name as CREATE only (a MOVED_TO must stay
	 * visible to be paired): a MOVED_TO of it is delivered, and does not
	 * use up the CREATE */
	check_eq(seen_add(s, 1, S("m"), IN_CREATE), 0);
	seen_seal(s, 100);
	DELIVERED(s, 1, "m", IN_MOVED_TO, 10);
	ABSORBED(s, 1, "m", IN_CREATE, 11);
	/* and an entry that does list MOVED_TO absorbs it once */
	check_eq(seen_add(s, 1, S("n"), IN_CREATE | IN_MOVED_TO), 0);
	seen_seal(s, 100);
	ABSORBED(s, 1, "n", IN_MOVED_TO, 10);
	DELIVERED(s, 1, "n", IN_MOVED_TO, 11);
}

static void seal_marks_only_new_entries(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	seen_seal(s, 100);
	check_eq(seen_add(s, 2, S("b"), IN_CREATE), 0);
	seen_seal(s, 200);
	check_eq(s->v[0].mark, 100);
	check_eq(s->v[1].mark, 200);
	DELIVERED(s, 1, "a", IN_CREATE, 150); /* past a's mark */
	ABSORBED(s, 2, "b", IN_CREATE, 150);  /* before b's */
}

static void expire_waits_for_every_mark(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	seen_seal(s, 100);
	check_eq(seen_add(s, 2, S("b"), IN_CREATE), 0);
	seen_seal(s, 200);
	seen_expire(s, 150);
	assert_false(seen_empty(s));
	ABSORBED(s, 2, "b", IN_CREATE, 150);
	seen_expire(s, 199);
	assert_false(seen_empty(s));
	seen_expire(s, 200);
	assert_true(seen_empty(s));
	check_eq(s->len, 0);
	check_eq(s->sealed, 0);
}

static void expire_keeps_unsealed(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	seen_seal(s, 100);
	/* a listing still in progress: its entries have no mark yet */
	check_eq(seen_add(s, 2, S("b"), IN_CREATE), 0);
	seen_expire(s, 1000);
	assert_false(seen_empty(s));
	ABSORBED(s, 2, "b", IN_CREATE, 1000);
	seen_seal(s, 1200);
	seen_expire(s, 1100);
	assert_false(seen_empty(s));
	seen_expire(s, 1200);
	assert_true(seen_empty(s));
}

static void expired_set_forgets_and_is_reusable(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	seen_seal(s, 100);
	seen_expire(s, 100);
	assert_true(seen_empty(s));
	DELIVERED(s, 1, "a", IN_CREATE, 0);
	/* a new listing after that works as the first one did */
	check_eq(seen_add(s, 1, S("b"), IN_CREATE), 0);
	seen_seal(s, 300);
	DELIVERED(s, 1, "a", IN_CREATE, 250);
	ABSORBED(s, 1, "b", IN_CREATE, 250);
	check_eq(s->v[0].mark, 300);
	seen_expire(s, 300);
	assert_true(seen_empty(s));
}

static void relisted_name_newest_entry_wins(void **state)
{
	struct seen *s = *state;
	/* listed, absorbed, deleted, then listed again by a later crawl */
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	seen_seal(s, 100);
	ABSORBED(s, 1, "a", IN_CREATE, 10);
	DELIVERED(s, 1, "a", IN_DELETE, 20);
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	seen_seal(s, 200);
	ABSORBED(s, 1, "a", IN_CREATE, 150);
	DELIVERED(s, 1, "a", IN_CREATE, 160);
}

static void many_entries(void **state)
{
	struct seen *s = *state;
	enum { N = 20000, WDS = 7 };
	char name[32];
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "file-%d", i);
		check_eq(seen_add(s, 1 + i % WDS, name, (size_t)len, IN_CREATE), 0);
	}
	check_eq(s->len, N);
	seen_seal(s, 1u << 20);
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "file-%d", i);
		int wd = 1 + i % WDS;
		/* wrong directory first: must not consume it */
		if (seen_absorb(s, wd % WDS + 1, name, (size_t)len, IN_CREATE, 1))
			fail_msg("%s absorbed under wd %d", name, wd % WDS + 1);
		if (!seen_absorb(s, wd, name, (size_t)len, IN_CREATE, 1))
			fail_msg("%s (wd %d) not absorbed", name, wd);
		if (seen_absorb(s, wd, name, (size_t)len, IN_CREATE, 2))
			fail_msg("%s (wd %d) absorbed twice", name, wd);
	}
	seen_expire(s, 1u << 20);
	assert_true(seen_empty(s));
	/* the table is reused at its grown size */
	check_eq(seen_add(s, 1, S("again"), IN_CREATE), 0);
	ABSORBED(s, 1, "again", IN_CREATE, 0);
	DELIVERED(s, 1, "file-0", IN_CREATE, 0);
}

/* Every allocation an add makes, made to fail in turn: a failed add
 * returns -ENOMEM and adds nothing; what was added before still works. */
static void add_out_of_memory_adds_nothing(void **state)
{
	struct seen *s = *state;
	enum { N = 600 };
	char name[32];
	long failures = 0;
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "name-%d", i);
		for (long budget = 0;; budget++) {
			size_t before = s->len;
			alloc_fail_after(budget);
			int ret = seen_add(s, 1, name, (size_t)len, IN_CREATE);
			alloc_fail_off();
			if (ret == 0)
				break;
			failures++;
			check_eq(ret, -ENOMEM);
			check_eq(s->len, before);
			assert_false(seen_absorb(s, 1, name, (size_t)len, IN_CREATE, 0));
			assert_true(budget < 8);
		}
	}
	assert_true(failures > 0);
	seen_seal(s, 100);
	for (int i = 0; i < N; i++) {
		int len = snprintf(name, sizeof(name), "name-%d", i);
		if (!seen_absorb(s, 1, name, (size_t)len, IN_CREATE, 50))
			fail_msg("%s not absorbed after the failures", name);
	}
}

static void fini_resets(void **state)
{
	struct seen *s = *state;
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	seen_fini(s);
	assert_true(seen_empty(s));
	assert_null(s->v);
	assert_null(s->table);
	DELIVERED(s, 1, "a", IN_CREATE, 0);
	check_eq(seen_add(s, 1, S("a"), IN_CREATE), 0);
	ABSORBED(s, 1, "a", IN_CREATE, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(empty_absorbs_nothing),
		T(add_makes_nonempty),
		T(unsealed_entry_absorbs),
		T(absorbs_before_mark_once),
		T(not_absorbed_at_or_after_mark),
		T(other_wd_name_or_event_not_absorbed),
		T(names_are_length_delimited),
		T(directory_entry_absorbs_isdir_event),
		T(each_listed_event_absorbed_once),
		T(delete_ends_entry),
		T(delete_before_absorbing_ends_entry),
		T(file_before_a_listed_directory_is_not_its),
		T(file_after_a_listed_directory_left_is_delivered),
		T(found_directory_drops_only_a_files_events_before_its_mark),
		T(moved_from_ends_entry),
		T(unlisted_event_delivered_entry_kept),
		T(seal_marks_only_new_entries),
		T(expire_waits_for_every_mark),
		T(expire_keeps_unsealed),
		T(expired_set_forgets_and_is_reusable),
		T(relisted_name_newest_entry_wins),
		T(many_entries),
		T(add_out_of_memory_adds_nothing),
		T(fini_resets),
	};
	return cmocka_run_group_tests_name("seen", tests, NULL, NULL);
}
