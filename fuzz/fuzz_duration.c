/* vigil run's small values: parse_duration() against an exact model,
 * parse_signal() and signal_name() read back, and split_words() against
 * quoting the words it gave and splitting them again.
 * Input: the first byte picks which; the rest is the text. */
#include <signal.h>
#include <strings.h>

#include "fuzz.h"
#include "rule.h"

#define SEC 1000000000ull
#define MAX_NS ((uint64_t)INT64_MAX / 2)

/* The grammar, [0-9]+(\.[0-9]+)?(ms|s|m|h|d)?, and the value: whole *
 * unit + floor(unit * 0.fraction), computed in 128 bits. A fraction past
 * 24 digits is cut there: what is left adds less than a nanosecond, so the
 * floor may be 1 more. Returns -1 when not valid. */
static int model(const char *s, uint64_t *lo, uint64_t *hi)
{
	size_t i = 0, f0, f1;
	unsigned __int128 whole = 0, frac = 0, scale = 1;
	while (s[i] >= '0' && s[i] <= '9') {
		if (whole <= MAX_NS)
			whole = whole * 10 + (unsigned)(s[i] - '0');
		i++;
	}
	if (i == 0)
		return -1;
	f0 = f1 = i;
	if (s[i] == '.') {
		f0 = ++i;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
		f1 = i;
		if (f1 == f0)
			return -1;
	}
	uint64_t unit;
	const char *u = s + i;
	if (!*u || !strcmp(u, "s"))
		unit = SEC;
	else if (!strcmp(u, "ms"))
		unit = SEC / 1000;
	else if (!strcmp(u, "m"))
		unit = 60 * SEC;
	else if (!strcmp(u, "h"))
		unit = 3600 * SEC;
	else if (!strcmp(u, "d"))
		unit = 86400 * SEC;
	else
		return -1;
	bool cut = false;
	for (size_t k = f0; k < f1; k++) {
		if (k - f0 == 24) {
			cut = true;
			break;
		}
		frac = frac * 10 + (unsigned)(s[k] - '0');
		scale *= 10;
	}
	unsigned __int128 total = whole * unit + frac * unit / scale;
	if (total > MAX_NS)
		return -1; /* may be MAX_NS + 1 cut to MAX_NS: see the caller */
	*lo = (uint64_t)total;
	*hi = (uint64_t)total + cut;
	return 0;
}

static void check_duration(const char *s)
{
	uint64_t ns = 0xdead, lo = 0, hi = 0;
	int r = parse_duration(s, &ns);
	int m = model(s, &lo, &hi);
	bool fuzzy = lo != hi;
	if (m == 0 && hi > MAX_NS)
		hi = MAX_NS; /* the cut-off fraction may just reach past the top */
	if (r == 0)
		fuzz_assert(m == 0 && ns >= lo && ns <= hi,
			    "'%s': %llu ns, model %d [%llu, %llu]", s,
			    (unsigned long long)ns, m, (unsigned long long)lo,
			    (unsigned long long)hi);
	else
		fuzz_assert(m < 0 || fuzzy, "'%s' refused, model %llu ns", s,
			    (unsigned long long)lo);
	if (r < 0)
		fuzz_assert(ns == 0xdead, "'%s': written on failure", s);
}

static void check_signal(const char *s)
{
	int sig = -1;
	if (parse_signal(s, &sig) < 0) {
		fuzz_assert(sig == -1, "'%s': written on failure", s);
		return;
	}
	fuzz_assert(sig >= 1 && sig <= SIGRTMAX, "'%s': signal %d", s, sig);
	const char *name = signal_name(sig);
	if (s[0] >= '0' && s[0] <= '9')
		return;
	const char *bare = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	fuzz_assert(name && (strcasecmp(name, bare) == 0 || strcasecmp(name, s) == 0),
		    "'%s' is %d, named '%s'", s, sig, name ? name : "(none)");
	int again;
	fuzz_assert(parse_signal(name, &again) == 0 && again == sig, "'%s' does not read back", name);
}

/* Each word in single quotes (a quote itself as '\'' outside them). */
static char *quote_words(const struct strv *w)
{
	size_t n = 1;
	for (size_t i = 0; i < w->len; i++)
		n += strlen(w->v[i]) * 4 + 3;
	char *s = malloc(n), *p = s;
	if (!s)
		abort();
	for (size_t i = 0; i < w->len; i++) {
		*p++ = '\'';
		for (const char *c = w->v[i]; *c; c++) {
			if (*c == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else {
				*p++ = *c;
			}
		}
		*p++ = '\'';
		*p++ = ' ';
	}
	*p = '\0';
	return s;
}

static void check_words(const char *s)
{
	struct strv w = {0}, again = {0};
	char *err = NULL;
	if (split_words(s, &w, &err) < 0) {
		fuzz_assert(err, "'%s': no message", s);
		free(err);
		return;
	}
	fuzz_assert(!err, "'%s': a message on success", s);
	fuzz_assert(w.len ? w.v && !w.v[w.len] : !w.v, "'%s': not a NULL-terminated list", s);
	char *q = quote_words(&w);
	fuzz_assert(split_words(q, &again, &err) == 0, "'%s' requoted as '%s': %s", s, q, err);
	fuzz_assert(again.len == w.len, "'%s': %zu words, requoted %zu", s, w.len, again.len);
	for (size_t i = 0; i < w.len; i++)
		fuzz_assert(strcmp(w.v[i], again.v[i]) == 0, "'%s': word %zu '%s' came back '%s'",
			    s, i, w.v[i], again.v[i]);
	free(q);
	strv_free(&w);
	strv_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t which = fuzz_u8(&in);
	size_t len;
	char *s = fuzz_rest(&in, &len);
	switch (which % 3) {
	case 0:
		check_duration(s);
		break;
	case 1:
		check_signal(s);
		break;
	case 2:
		check_words(s);
		break;
	}
	free(s);
	return 0;
}
