/* Unit tests for src/lib/fan_handles.c (the file handles a fanotify source
 * has met, with their ids) and the fanotify record decoder. */
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

#include "fan_handles.h"
#include "source.h"

static void key(unsigned n, unsigned char out[8])
{
	memcpy(out, &n, sizeof(n));
	memcpy(out + 4, "gen!", 4);
}

static void ids_are_stable_unique_and_found_both_ways(void **state)
{
	(void)state;
	struct fan_handles h;
	fan_handles_init(&h);
	enum { N = 5000 };
	int ids[N];
	unsigned char k[8];
	for (unsigned i = 0; i < N; i++) {
		key(i, k);
		uint32_t e = fan_handles_add(&h, 42, 1, k, sizeof(k), FAN_MET);
		assert_int_not_equal(e, FAN_NONE);
		ids[i] = h.v[e].id;
		assert_true(ids[i] > 0);
		for (unsigned j = 0; j < i && j < 3; j++)
			assert_int_not_equal(ids[j], ids[i]);
	}
	for (unsigned i = 0; i < N; i++) {
		key(i, k);
		uint32_t e = fan_handles_find(&h, 42, 1, k, sizeof(k));
		assert_int_not_equal(e, FAN_NONE);
		assert_int_equal(h.v[e].id, ids[i]);
		assert_int_equal(fan_handles_by_id(&h, ids[i]), e);
		/* the same bytes on another filesystem, or of another type, differ */
		assert_int_equal(fan_handles_find(&h, 43, 1, k, sizeof(k)), FAN_NONE);
		assert_int_equal(fan_handles_find(&h, 42, 2, k, sizeof(k)), FAN_NONE);
	}
	assert_int_equal(h.count, N);
	fan_handles_fini(&h);
}

static void deleting_keeps_the_others_findable(void **state)
{
	(void)state;
	struct fan_handles h;
	fan_handles_init(&h);
	enum { N = 3000 };
	int ids[N];
	unsigned char k[8];
	for (unsigned i = 0; i < N; i++) {
		key(i, k);
		uint32_t e = fan_handles_add(&h, 7, 1, k, sizeof(k), FAN_MET);
		ids[i] = h.v[e].id; /* (the add may move h.v: read it after) */
	}
	/* every third, then a fresh add reuses the slots with new ids */
	for (unsigned i = 0; i < N; i += 3)
		fan_handles_del(&h, fan_handles_by_id(&h, ids[i]));
	for (unsigned i = 0; i < N; i++) {
		key(i, k);
		uint32_t e = fan_handles_find(&h, 7, 1, k, sizeof(k));
		if (i % 3 == 0) {
			assert_int_equal(e, FAN_NONE);
			assert_int_equal(fan_handles_by_id(&h, ids[i]), FAN_NONE);
		} else {
			assert_int_not_equal(e, FAN_NONE);
			assert_int_equal(h.v[e].id, ids[i]);
		}
	}
	key(0, k);
	uint32_t e = fan_handles_add(&h, 7, 1, k, sizeof(k), FAN_MET);
	assert_true(h.v[e].id > ids[N - 1]); /* never an id handed out before */
	fan_handles_fini(&h);
}

static void long_handles_and_dropping_a_state(void **state)
{
	(void)state;
	struct fan_handles h;
	fan_handles_init(&h);
	unsigned char big[100];
	memset(big, 0xab, sizeof(big));
	uint32_t a = fan_handles_add(&h, 1, 1, big, sizeof(big), FAN_OUTSIDE);
	big[99] = 0xcd;
	uint32_t b = fan_handles_add(&h, 1, 1, big, sizeof(big), FAN_WATCHED);
	assert_int_not_equal(a, FAN_NONE);
	assert_int_not_equal(b, FAN_NONE);
	assert_int_equal(fan_handles_find(&h, 1, 1, big, sizeof(big)), b);
	int ida = h.v[a].id;
	fan_handles_drop(&h, FAN_OUTSIDE);
	assert_int_equal(fan_handles_by_id(&h, ida), FAN_NONE);
	assert_int_equal(fan_handles_find(&h, 1, 1, big, sizeof(big)), b);
	unsigned char huge[200] = {0};
	assert_int_equal(fan_handles_add(&h, 1, 1, huge, sizeof(huge), FAN_MET), FAN_NONE);
	fan_handles_fini(&h);
}

/* The decoder refuses what does not fit. */
static void records_decode_and_malformed_ones_are_refused(void **state)
{
	(void)state;
	struct {
		int32_t wd;
		uint32_t mask, cookie;
		int32_t pid, child;
		uint32_t len;
		char name[8];
	} r = {.wd = 3, .mask = IN_CREATE | IN_ISDIR, .cookie = 0, .pid = 77, .child = 9, .len = 8};
	memcpy(r.name, "dir\0\0\0\0", 8);
	struct source_record rec;
	assert_int_equal(source_fanotify_parse(&r, sizeof(r), &rec), 1);
	assert_int_equal(rec.wd, 3);
	assert_int_equal(rec.pid, 77);
	assert_int_equal(rec.child, 9);
	assert_string_equal(rec.name, "dir");
	assert_int_equal(rec.size, sizeof(r));
	assert_int_equal(source_fanotify_parse(&r, 0, &rec), 0);
	assert_int_equal(source_fanotify_parse(&r, 10, &rec), -EBADMSG);
	assert_int_equal(source_fanotify_parse(&r, sizeof(r) - 1, &rec), -EBADMSG);
	memcpy(r.name, "12345678", 8); /* no NUL in its field */
	assert_int_equal(source_fanotify_parse(&r, sizeof(r), &rec), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_are_stable_unique_and_found_both_ways),
		cmocka_unit_test(deleting_keeps_the_others_findable),
		cmocka_unit_test(long_handles_and_dropping_a_state),
		cmocka_unit_test(records_decode_and_malformed_ones_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
