/* Event names: vigil_mask_parse() (-e, a rules file's event =) against a
 * plain model of what it accepts, and vigil_mask_format() (%e, the default
 * line, --csv, --json) read back by it, in every buffer size.
 * Input: a comma-separated list of names, or (first byte 0xfe) a mask. */
#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "fuzz.h"
#include "vigil.h"

static const struct {
	const char *name;
	uint32_t mask;
} names[] = {
	{"access", IN_ACCESS}, {"modify", IN_MODIFY}, {"attrib", IN_ATTRIB},
	{"close_write", IN_CLOSE_WRITE}, {"close_nowrite", IN_CLOSE_NOWRITE},
	{"open", IN_OPEN}, {"moved_from", IN_MOVED_FROM}, {"moved_to", IN_MOVED_TO},
	{"create", IN_CREATE}, {"delete", IN_DELETE}, {"delete_self", IN_DELETE_SELF},
	{"unmount", IN_UNMOUNT}, {"q_overflow", IN_Q_OVERFLOW}, {"ignored", IN_IGNORED},
	{"close", IN_CLOSE}, {"move_self", IN_MOVE_SELF}, {"move", IN_MOVE},
	{"isdir", IN_ISDIR}, {"oneshot", IN_ONESHOT}, {"all_events", IN_ALL_EVENTS},
};

/* The bits vigil_mask_format() has a name for. */
#define NAMED (IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED | IN_ISDIR | IN_ONESHOT)

static uint32_t model_name(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (strlen(names[i].name) == len && strncasecmp(names[i].name, s, len) == 0)
			return names[i].mask;
	return 0;
}

static void check_parse(const char *list)
{
	uint32_t mask = 0xdeadbeef, want = 0;
	size_t bad = (size_t)-1, want_bad = (size_t)-1;
	for (const char *p = list;;) {
		const char *end = strchrnul(p, ',');
		if (end > p) {
			uint32_t m = model_name(p, (size_t)(end - p));
			if (!m) {
				want_bad = (size_t)(p - list);
				break;
			}
			want |= m;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	int r = vigil_mask_parse(list, &mask, &bad);
	if (want_bad != (size_t)-1) {
		fuzz_assert(r == -EINVAL, "'%s': %d, want -EINVAL", list, r);
		fuzz_assert(bad == want_bad, "'%s': bad at %zu, want %zu", list, bad, want_bad);
		fuzz_assert(mask == 0xdeadbeef, "'%s': *ret_mask written on failure", list);
	} else {
		fuzz_assert(r == 0, "'%s': %d", list, r);
		fuzz_assert(mask == want, "'%s': %#x, want %#x", list, mask, want);
	}
}

static void check_format(uint32_t mask, char sep)
{
	char full[512];
	size_t n = vigil_mask_format(mask, sep, full, sizeof(full));
	fuzz_assert(n < sizeof(full), "%#x: %zu bytes", mask, n);
	fuzz_assert(strlen(full) == n, "%#x: length %zu, text '%s'", mask, n, full);
	/* every size writes the same prefix, NUL-terminated, never past it */
	for (size_t size = 0; size <= n + 1; size++) {
		char buf[sizeof(full) + 1];
		memset(buf, 'X', sizeof(buf));
		size_t m = vigil_mask_format(mask, sep, buf, size);
		fuzz_assert(m == n, "%#x in %zu: %zu, want %zu", mask, size, m, n);
		fuzz_assert(buf[size] == 'X', "%#x in %zu: written past the end", mask, size);
		if (size) {
			size_t k = size - 1 < n ? size - 1 : n;
			fuzz_assert(memcmp(buf, full, k) == 0 && buf[k] == '\0',
				    "%#x in %zu: '%s', not a prefix of '%s'", mask, size, buf, full);
		}
	}
	/* what inotifywait prints reads back as the mask: CLOSE stands for
	 * both close bits, MOVE (a paired move) for both moved ones */
	if (sep != ',')
		return;
	char lower[sizeof(full)];
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)full[i]);
	uint32_t back = 0;
	size_t bad = 0;
	fuzz_assert(vigil_mask_parse(lower, &back, &bad) == 0, "%#x: '%s' does not parse back at %zu",
		    mask, full, bad);
	uint32_t want = mask & NAMED;
	if (mask & IN_CLOSE)
		want |= IN_CLOSE;
	fuzz_assert(back == want, "%#x: '%s' reads back as %#x, want %#x", mask, full, back, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	if (size && data[0] == 0xfe) {
		fuzz_u8(&in);
		uint32_t mask = fuzz_u32(&in);
		char sep = (char)fuzz_u8(&in);
		check_format(mask, ',');
		if (sep && sep != ',')
			check_format(mask, sep);
		return 0;
	}
	size_t len;
	char *list = fuzz_rest(&in, &len);
	check_parse(list);
	uint32_t m;
	if (vigil_mask_parse(list, &m, NULL) == 0)
		check_format(m, ',');
	free(list);
	return 0;
}
