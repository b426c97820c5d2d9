/* Unit tests for src/lib/names.c: event names <-> masks, as inotifywait
 * spells and orders them (public API, include/vigil.h). */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil.h"

#include "check.h"

#define check_mask(actual, expected)                                         \
	do {                                                                 \
		unsigned a_ = (actual), e_ = (expected);                     \
		if (a_ != e_)                                                \
			fail_msg("%s: expected %#x, got %#x", #actual, e_, a_); \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Every name -e accepts (inotifywait's list, plus "move" and "all_events"). */
static const struct {
	const char *name;
	uint32_t mask;
} names[] = {
	{"access", IN_ACCESS},
	{"modify", IN_MODIFY},
	{"attrib", IN_ATTRIB},
	{"close_write", IN_CLOSE_WRITE},
	{"close_nowrite", IN_CLOSE_NOWRITE},
	{"open", IN_OPEN},
	{"moved_from", IN_MOVED_FROM},
	{"moved_to", IN_MOVED_TO},
	{"create", IN_CREATE},
	{"delete", IN_DELETE},
	{"delete_self", IN_DELETE_SELF},
	{"unmount", IN_UNMOUNT},
	{"q_overflow", IN_Q_OVERFLOW},
	{"ignored", IN_IGNORED},
	{"close", IN_CLOSE},
	{"move_self", IN_MOVE_SELF},
	{"move", IN_MOVE},
	{"isdir", IN_ISDIR},
	{"oneshot", IN_ONESHOT},
	{"all_events", IN_ALL_EVENTS},
};

/* --- vigil_mask_from_name -------------------------------------------------- */

static void from_name_every_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		uint32_t m = vigil_mask_from_name(names[i].name, strlen(names[i].name));
		if (m != names[i].mask)
			fail_msg("'%s': expected %#x, got %#x", names[i].name,
				 names[i].mask, m);
	}
}

static void from_name_ignores_case(void **state)
{
	(void)state;
	char up[32], mixed[32];
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		size_t n = strlen(names[i].name);
		assert_true(n < sizeof(up));
		for (size_t k = 0; k <= n; k++) {
			up[k] = (char)toupper((unsigned char)names[i].name[k]);
			mixed[k] = k % 2 ? up[k] : names[i].name[k];
		}
		uint32_t mu = vigil_mask_from_name(up, n);
		uint32_t mm = vigil_mask_from_name(mixed, n);
		if (mu != names[i].mask || mm != names[i].mask)
			fail_msg("'%s' / '%s': expected %#x, got %#x / %#x", up, mixed,
				 names[i].mask, mu, mm);
	}
}

static void from_name_unknown_is_zero(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", "foo", "clos", "close_", "closex", "close write", " close",
		"close ", "in_close", "IN_CLOSE_WRITE", "all", "moved", "dir",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		uint32_t m = vigil_mask_from_name(bad[i], strlen(bad[i]));
		if (m)
			fail_msg("'%s': expected 0 (unknown), got %#x", bad[i], m);
	}
}

static void from_name_uses_len_not_nul(void **state)
{
	(void)state;
	/* names come out of a comma list: only LEN bytes count */
	check_mask(vigil_mask_from_name("close_write", 5), IN_CLOSE);
	check_mask(vigil_mask_from_name("move_self", 4), IN_MOVE);
	check_mask(vigil_mask_from_name("modify,access", 6), IN_MODIFY);
	check_mask(vigil_mask_from_name("access", 0), 0);
	check_mask(vigil_mask_from_name("open", 3), 0);
}

/* --- vigil_mask_parse ------------------------------------------------------ */

static void parse_single_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		uint32_t m = 0xdeadbeef;
		size_t bad = 999;
		int r = vigil_mask_parse(names[i].name, &m, &bad);
		if (r != 0 || m != names[i].mask)
			fail_msg("'%s': expected 0 and %#x, got %d and %#x",
				 names[i].name, names[i].mask, r, m);
		check_eq(bad, 999); /* only written on failure */
	}
}

static void parse_list_ors_masks(void **state)
{
	(void)state;
	uint32_t m = 0;
	check_eq(vigil_mask_parse("modify,access", &m, NULL), 0);
	check_mask(m, IN_MODIFY | IN_ACCESS);
	check_eq(vigil_mask_parse("CREATE,Delete,moved_to,moved_from,isdir", &m, NULL), 0);
	check_mask(m, IN_CREATE | IN_DELETE | IN_MOVE | IN_ISDIR);
	check_eq(vigil_mask_parse("close_write,close", &m, NULL), 0);
	check_mask(m, IN_CLOSE);
	check_eq(vigil_mask_parse("modify,modify", &m, NULL), 0);
	check_mask(m, IN_MODIFY);
	check_eq(vigil_mask_parse("all_events,oneshot", &m, NULL), 0);
	check_mask(m, IN_ALL_EVENTS | IN_ONESHOT);
}

static void parse_skips_empty_entries(void **state)
{
	(void)state;
	uint32_t m = 0;
	check_eq(vigil_mask_parse(",modify,,access,", &m, NULL), 0);
	check_mask(m, IN_MODIFY | IN_ACCESS);
	m = 0xdeadbeef;
	check_eq(vigil_mask_parse("", &m, NULL), 0);
	check_mask(m, 0);
	m = 0xdeadbeef;
	check_eq(vigil_mask_parse(",,,", &m, NULL), 0);
	check_mask(m, 0);
}

static void parse_unknown_name_reports_offset(void **state)
{
	(void)state;
	static const struct {
		const char *list;
		size_t offset;
	} cases[] = {
		{"bogus", 0},
		{"modify,bogus", 7},
		{"modify,,bogus,access", 8},
		{"modify,access,closewrite", 14},
		{"modify, access", 7},      /* no spaces allowed */
		{",,x", 2},
		{"close_write,close_", 12},
		{"modify,access,create,delete,nope", 28},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		uint32_t m = 0x5a5a5a5a;
		size_t bad = 999;
		int r = vigil_mask_parse(cases[i].list, &m, &bad);
		if (r != -EINVAL || bad != cases[i].offset)
			fail_msg("'%s': expected -EINVAL at %zu, got %d at %zu",
				 cases[i].list, cases[i].offset, r, bad);
		check_mask(m, 0x5a5a5a5a); /* ret_mask only written on success */
	}
}

static void parse_bad_offset_may_be_null(void **state)
{
	(void)state;
	uint32_t m = 7;
	check_eq(vigil_mask_parse("modify,nope", &m, NULL), -EINVAL);
	check_mask(m, 7);
}

/* --- vigil_mask_format ----------------------------------------------------- */

static void check_format(uint32_t mask, char sep, const char *want)
{
	char buf[256];
	memset(buf, 'Z', sizeof(buf));
	size_t n = vigil_mask_format(mask, sep, buf, sizeof(buf));
	if (n != strlen(want) || strcmp(buf, want) != 0)
		fail_msg("mask %#x: expected \"%s\" (%zu), got \"%s\" (%zu)", mask,
			 want, strlen(want), buf, n);
}

static void format_each_bit(void **state)
{
	(void)state;
	static const struct {
		uint32_t mask;
		const char *want;
	} cases[] = {
		{IN_ACCESS, "ACCESS"},
		{IN_MODIFY, "MODIFY"},
		{IN_ATTRIB, "ATTRIB"},
		{IN_CLOSE_WRITE, "CLOSE_WRITE,CLOSE"},
		{IN_CLOSE_NOWRITE, "CLOSE_NOWRITE,CLOSE"},
		{IN_OPEN, "OPEN"},
		{IN_MOVED_FROM, "MOVED_FROM"},
		{IN_MOVED_TO, "MOVED_TO"},
		{IN_CREATE, "CREATE"},
		{IN_DELETE, "DELETE"},
		{IN_DELETE_SELF, "DELETE_SELF"},
		{IN_MOVE_SELF, "MOVE_SELF"},
		{IN_UNMOUNT, "UNMOUNT"},
		{IN_Q_OVERFLOW, "Q_OVERFLOW"},
		{IN_IGNORED, "IGNORED"},
		{IN_ISDIR, "ISDIR"},
		{IN_ONESHOT, "ONESHOT"},
		{0, ""},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		check_format(cases[i].mask, ',', cases[i].want);
}

static void format_like_inotifywait(void **state)
{
	(void)state;
	check_format(IN_CREATE | IN_ISDIR, ',', "CREATE,ISDIR");
	check_format(IN_DELETE | IN_ISDIR, ',', "DELETE,ISDIR");
	check_format(IN_CLOSE_NOWRITE | IN_ISDIR, ',', "CLOSE_NOWRITE,CLOSE,ISDIR");
	check_format(IN_OPEN | IN_ISDIR, ',', "OPEN,ISDIR");
	check_format(IN_MOVED_TO | IN_ISDIR, ',', "MOVED_TO,ISDIR");
	check_format(IN_DELETE_SELF | IN_IGNORED, ',', "DELETE_SELF,IGNORED");
	/* the order is inotifywait's, not the order of the bits asked for */
	check_format(IN_ISDIR | IN_DELETE | IN_ACCESS, ',', "ACCESS,DELETE,ISDIR");
	check_format(IN_MOVE_SELF | IN_IGNORED, ',', "IGNORED,MOVE_SELF");
	check_format(IN_CLOSE_WRITE | IN_CLOSE_NOWRITE, ',',
		     "CLOSE_WRITE,CLOSE_NOWRITE,CLOSE");
}

static void format_paired_move(void **state)
{
	(void)state;
	check_format(IN_MOVED_FROM | IN_MOVED_TO, ',', "MOVE");
	check_format(IN_MOVED_FROM | IN_MOVED_TO | IN_ISDIR, ',', "MOVE,ISDIR");
	/* half a move stays half a move */
	check_format(IN_MOVED_FROM | IN_ISDIR, ',', "MOVED_FROM,ISDIR");
	/* MOVE_SELF is not part of a pair */
	check_format(IN_MOVED_FROM | IN_MOVED_TO | IN_MOVE_SELF, ',', "MOVE,MOVE_SELF");
}

static void format_custom_separator(void **state)
{
	(void)state;
	check_format(IN_CLOSE_WRITE, ' ', "CLOSE_WRITE CLOSE");
	check_format(IN_CLOSE_NOWRITE | IN_ISDIR, ':', "CLOSE_NOWRITE:CLOSE:ISDIR");
	check_format(IN_MODIFY, ':', "MODIFY");
	check_format(IN_MOVE | IN_ISDIR, '|', "MOVE|ISDIR");
}

static void format_ignores_unnamed_bits(void **state)
{
	(void)state;
	/* bits that are not events (request flags) print nothing */
	check_format(IN_MODIFY | IN_EXCL_UNLINK | IN_MASK_ADD | IN_DONT_FOLLOW |
			     IN_ONLYDIR,
		     ',', "MODIFY");
}

static void format_truncates_like_snprintf(void **state)
{
	(void)state;
	const char *full = "CLOSE_NOWRITE,CLOSE,ISDIR";
	size_t full_len = strlen(full);
	uint32_t mask = IN_CLOSE_NOWRITE | IN_ISDIR;
	for (size_t size = 1; size <= full_len + 1; size++) {
		char buf[64];
		memset(buf, 'Z', sizeof(buf));
		size_t n = vigil_mask_format(mask, ',', buf, size);
		if (n != full_len)
			fail_msg("size %zu: expected length %zu, got %zu", size, full_len, n);
		/* the first size-1 bytes, then a NUL, and nothing past size */
		if (strlen(buf) != size - 1 || memcmp(buf, full, size - 1) != 0)
			fail_msg("size %zu: expected \"%.*s\", got \"%s\"", size,
				 (int)(size - 1), full, buf);
		for (size_t k = size; k < sizeof(buf); k++)
			if (buf[k] != 'Z')
				fail_msg("size %zu: byte %zu written past the buffer", size, k);
	}
}

static void format_size_zero_writes_nothing(void **state)
{
	(void)state;
	check_eq(vigil_mask_format(IN_CREATE | IN_ISDIR, ',', NULL, 0),
		 strlen("CREATE,ISDIR"));
	char c = 'Z';
	check_eq(vigil_mask_format(IN_MODIFY, ',', &c, 0), strlen("MODIFY"));
	check_eq(c, 'Z');
	/* size 1: just the NUL */
	check_eq(vigil_mask_format(IN_MODIFY, ',', &c, 1), strlen("MODIFY"));
	check_eq(c, '\0');
}

static void format_every_event_fits_and_parses_back(void **state)
{
	(void)state;
	uint32_t all = IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED |
		       IN_ISDIR | IN_ONESHOT;
	size_t need = vigil_mask_format(all, ',', NULL, 0);
	char *buf = malloc(need + 1);
	assert_non_null(buf);
	check_eq(vigil_mask_format(all, ',', buf, need + 1), need);
	check_eq(strlen(buf), need);
	/* "MOVE" and "CLOSE" cover their halves: parsing the text gives the
	 * mask back */
	uint32_t m = 0;
	size_t bad = 0;
	int r = vigil_mask_parse(buf, &m, &bad);
	if (r != 0)
		fail_msg("\"%s\" does not parse: %d at %zu", buf, r, bad);
	check_mask(m, all);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(from_name_every_name),
		cmocka_unit_test(from_name_ignores_case),
		cmocka_unit_test(from_name_unknown_is_zero),
		cmocka_unit_test(from_name_uses_len_not_nul),
		cmocka_unit_test(parse_single_name),
		cmocka_unit_test(parse_list_ors_masks),
		cmocka_unit_test(parse_skips_empty_entries),
		cmocka_unit_test(parse_unknown_name_reports_offset),
		cmocka_unit_test(parse_bad_offset_may_be_null),
		cmocka_unit_test(format_each_bit),
		cmocka_unit_test(format_like_inotifywait),
		cmocka_unit_test(format_paired_move),
		cmocka_unit_test(format_custom_separator),
		cmocka_unit_test(format_ignores_unnamed_bits),
		cmocka_unit_test(format_truncates_like_snprintf),
		cmocka_unit_test(format_size_zero_writes_nothing),
		cmocka_unit_test(format_every_event_fits_and_parses_back),
	};
	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
