/* --fromfile lists through watchargs_read_list(): one path per line, the
 * line's '\n' not part of it, empty lines skipped, "@path" an exclude.
 * Checked against that model. Input: the list. */
#include "fuzz.h"
#include "watchargs.h"

/* What the list should hold: lines, each cut at a NUL as the C string
 * it becomes. */
static void check_list(const uint8_t *data, size_t size, const struct watchargs *a)
{
	size_t w = 0, x = 0;
	for (size_t i = 0; i < size;) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - data) : size;
		const char *line = (const char *)data + i;
		size_t n = end - i;
		i = end + 1;
		if (!n)
			continue;
		bool exclude = line[0] == '@';
		const struct pathlist *l = exclude ? &a->exclude : &a->watch;
		size_t *k = exclude ? &x : &w;
		fuzz_assert(*k < l->len, "line '%.*s' missing", (int)n, line);
		const char *s = line + exclude;
		size_t len = strnlen(s, n - exclude);
		fuzz_assert(strlen(l->v[*k]) == len && memcmp(l->v[*k], s, len) == 0,
			    "line '%.*s' read as '%s'", (int)len, s, l->v[*k]);
		(*k)++;
	}
	fuzz_assert(w == a->watch.len && x == a->exclude.len, "%zu and %zu entries, want %zu and %zu",
		    a->watch.len, a->exclude.len, w, x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	FILE *f = fmemopen((void *)data, size, "r");
	if (!f)
		abort();
	struct watchargs a = {0};
	int r = watchargs_read_list(&a, f, "list");
	fclose(f);
	fuzz_assert(r == 0, "reading from memory failed");
	check_list(data, size, &a);
	watchargs_free(&a);
	return 0;
}
