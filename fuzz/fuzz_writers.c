/* --csv and --json: whatever the event, each line reads back to it.
 * CSV is inotifywait's (a field quoted when it holds '"', ',' or a newline,
 * or starts or ends with a space; '"' doubled): read back as three fields,
 * dir, events, name. JSON is checked against the grammar of RFC 8259 by a
 * strict reader here (strings valid UTF-8, no raw control characters), and
 * its strings decoded, \udc80..\udcff giving back the one invalid byte
 * each stands for, must be the event's bytes.
 * Input: a flags byte, then the event (fuzz_event.h). */
#include "fuzz_event.h"

struct text {
	const char *p, *end;
};

/* ---- CSV ---- */

static char *csv_field(struct text *t, size_t *len)
{
	char *v = malloc((size_t)(t->end - t->p) + 1);
	size_t n = 0;
	if (!v)
		abort();
	if (t->p < t->end && *t->p == '"') {
		for (t->p++;; t->p++) {
			fuzz_assert(t->p < t->end, "CSV: an unclosed quote");
			if (*t->p == '"') {
				if (t->p + 1 < t->end && t->p[1] == '"') {
					v[n++] = '"';
					t->p++;
					continue;
				}
				t->p++;
				break;
			}
			v[n++] = *t->p;
		}
	} else {
		while (t->p < t->end && *t->p != ',' && *t->p != '\n') {
			fuzz_assert(*t->p != '"', "CSV: a quote in an unquoted field");
			v[n++] = *t->p++;
		}
		fuzz_assert(!n || (v[0] != ' ' && v[n - 1] != ' '),
			    "CSV: an unquoted field starts or ends with a space");
	}
	v[n] = '\0';
	*len = n;
	return v;
}

static void check_field(const char *what, const char *got, size_t got_len,
			const char *want, size_t want_len)
{
	fuzz_assert(got_len == want_len && memcmp(got, want, got_len) == 0,
		    "%s: read back %zu bytes '%s', want %zu '%.*s'", what, got_len, got,
		    want_len, (int)want_len, want);
}

static void check_csv(const struct vigil_event *ev)
{
	struct out o = {.kind = OUT_CSV};
	size_t len, n[3];
	char *text = fuzz_event_write(&o, ev, &len);
	struct text t = {text, text + len};
	char *f[3], events[512];
	for (int i = 0; i < 3; i++) {
		f[i] = csv_field(&t, &n[i]);
		fuzz_assert(t.p < t.end && *t.p == (i < 2 ? ',' : '\n'),
			    "CSV: field %d ends at offset %td of '%s'", i, t.p - text, text);
		t.p++;
	}
	fuzz_assert(t.p == t.end, "CSV: more than one line: '%s'", text);
	size_t en = vigil_mask_format(ev->mask, ',', events, sizeof(events));
	check_field("CSV dir", f[0], n[0], ev->dir, ev->dir_len);
	check_field("CSV events", f[1], n[1], events, en);
	check_field("CSV name", f[2], n[2], ev->name, ev->name_len);
	for (int i = 0; i < 3; i++)
		free(f[i]);
	free(text);
}

/* ---- JSON ---- */

static void put_utf8(char *v, size_t *n, uint32_t cp)
{
	if (cp < 0x80) {
		v[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		v[(*n)++] = (char)(0xc0 | cp >> 6);
		v[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		v[(*n)++] = (char)(0xe0 | cp >> 12);
		v[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		v[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		v[(*n)++] = (char)(0xf0 | cp >> 18);
		v[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3f));
		v[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
		v[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* The valid UTF-8 sequence at P (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF): its length, 0 when invalid. */
static size_t utf8_valid(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = *p;
	size_t n;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static uint32_t hex4(struct text *t)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++, t->p++) {
		fuzz_assert(t->p < t->end, "JSON: a short \\u escape");
		char c = *t->p;
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		fuzz_assert(d >= 0, "JSON: '%c' in a \\u escape", c);
		v = v << 4 | (uint32_t)d;
	}
	return v;
}

/* A string at t->p, decoded, surrogate escapes giving their bytes. */
static char *json_str(struct text *t, size_t *len)
{
	fuzz_assert(t->p < t->end && *t->p == '"', "JSON: a string expected at '%.20s'", t->p);
	t->p++;
	char *v = malloc((size_t)(t->end - t->p) + 4);
	size_t n = 0;
	if (!v)
		abort();
	for (;;) {
		fuzz_assert(t->p < t->end, "JSON: an unclosed string");
		unsigned char c = (unsigned char)*t->p;
		if (c == '"') {
			t->p++;
			break;
		}
		fuzz_assert(c >= 0x20, "JSON: a raw control character %#x in a string", c);
		if (c != '\\') {
			size_t k = utf8_valid((const unsigned char *)t->p, (const unsigned char *)t->end);
			fuzz_assert(k, "JSON: invalid UTF-8 (%#x) in a string", c);
			memcpy(v + n, t->p, k);
			n += k;
			t->p += k;
			continue;
		}
		t->p++;
		fuzz_assert(t->p < t->end, "JSON: a backslash at the end");
		char e = *t->p++;
		const char *plain = strchr("\"\\/bfnrt", e);
		fuzz_assert((e && plain) || e == 'u', "JSON: the escape \\%c", e);
		if (e != 'u') {
			v[n++] = "\"\\/\b\f\n\r\t"[plain - "\"\\/bfnrt"];
			continue;
		}
		uint32_t cp = hex4(t);
		if (cp >= 0xdc80 && cp <= 0xdcff) {
			v[n++] = (char)(cp - 0xdc00); /* a byte that was not UTF-8 */
			continue;
		}
		if (cp >= 0xd800 && cp <= 0xdbff) {
			fuzz_assert(t->end - t->p >= 6 && t->p[0] == '\\' && t->p[1] == 'u',
				    "JSON: a lone high surrogate");
			t->p += 2;
			uint32_t lo = hex4(t);
			fuzz_assert(lo >= 0xdc00 && lo <= 0xdfff, "JSON: a bad low surrogate");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		fuzz_assert(cp < 0xd800 || cp > 0xdfff, "JSON: the lone surrogate \\u%04x", cp);
		put_utf8(v, &n, cp);
	}
	v[n] = '\0';
	*len = n;
	return v;
}

static bool lit(struct text *t, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(t->end - t->p) < n || memcmp(t->p, s, n) != 0)
		return false;
	t->p += n;
	return true;
}

static unsigned long long json_uint(struct text *t)
{
	/* the only numbers written are whole and not negative */
	fuzz_assert(t->p < t->end && *t->p >= '0' && *t->p <= '9', "JSON: a number expected");
	fuzz_assert(*t->p != '0' || t->p + 1 == t->end || t->p[1] < '0' || t->p[1] > '9',
		    "JSON: a leading zero");
	unsigned long long v = 0;
	while (t->p < t->end && *t->p >= '0' && *t->p <= '9')
		v = v * 10 + (unsigned)(*t->p++ - '0');
	return v;
}

static void check_json(const struct vigil_event *ev)
{
	struct out o = {.kind = OUT_JSON};
	size_t len;
	char *text = fuzz_event_write(&o, ev, &len);
	fuzz_assert(len >= 2 && text[len - 1] == '\n' && memchr(text, '\n', len) == text + len - 1,
		    "JSON: not one line: '%s'", text);
	struct text t = {text, text + len - 1};
	char events[512];
	size_t en = vigil_mask_format(ev->mask, ',', events, sizeof(events));
	bool seen_path = false, seen_dir = false, seen_name = false, seen_events = false,
	     seen_from = false, seen_cookie = false, seen_synthetic = false, seen_pid = false,
	     seen_comm = false;
	fuzz_assert(lit(&t, "{"), "JSON: not an object: '%s'", text);
	for (bool first = true; !lit(&t, "}"); first = false) {
		fuzz_assert(first || lit(&t, ","), "JSON: no ',' between members at '%.20s'", t.p);
		size_t kn, vn;
		char *key = json_str(&t, &kn);
		fuzz_assert(lit(&t, ":"), "JSON: no ':' after \"%s\"", key);
		char *v = NULL;
		if (!strcmp(key, "path") || !strcmp(key, "dir") || !strcmp(key, "name") ||
		    !strcmp(key, "from") || !strcmp(key, "time")) {
			v = json_str(&t, &vn);
			if (!strcmp(key, "path")) {
				check_field("JSON path", v, vn, ev->path, ev->path_len);
				seen_path = true;
			} else if (!strcmp(key, "dir")) {
				check_field("JSON dir", v, vn, ev->dir, ev->dir_len);
				seen_dir = true;
			} else if (!strcmp(key, "name")) {
				check_field("JSON name", v, vn, ev->name, ev->name_len);
				seen_name = true;
			} else if (!strcmp(key, "from")) {
				fuzz_assert(ev->from_path, "JSON: a from without one");
				check_field("JSON from", v, vn, ev->from_path, ev->from_path_len);
				seen_from = true;
			}
		} else if (!strcmp(key, "events")) {
			fuzz_assert(lit(&t, "["), "JSON: events is not an array");
			char joined[512];
			size_t jn = 0;
			for (bool f1 = true; !lit(&t, "]"); f1 = false) {
				fuzz_assert(f1 || lit(&t, ","), "JSON: no ',' in events");
				v = json_str(&t, &vn);
				fuzz_assert(vn && jn + vn + 1 < sizeof(joined), "JSON: an empty or long event name");
				if (!f1)
					joined[jn++] = ',';
				memcpy(joined + jn, v, vn);
				jn += vn;
				free(v);
				v = NULL;
			}
			check_field("JSON events", joined, jn, events, en);
			seen_events = true;
		} else if (!strcmp(key, "cookie")) {
			unsigned long long c = json_uint(&t);
			fuzz_assert(c == ev->cookie, "JSON: cookie %llu, want %u", c, ev->cookie);
			seen_cookie = true;
		} else if (!strcmp(key, "synthetic") || !strcmp(key, "overflow")) {
			bool on = lit(&t, "true");
			fuzz_assert(on || lit(&t, "false"), "JSON: %s is not a boolean", key);
			uint32_t bit = key[0] == 's' ? VIGIL_EVENT_SYNTHETIC : VIGIL_EVENT_OVERFLOW;
			fuzz_assert(on == !!(ev->flags & bit), "JSON: %s is %d", key, on);
			seen_synthetic |= key[0] == 's';
		} else if (!strcmp(key, "pid")) {
			/* who (fanotify): a number, or null when not known */
			if (!lit(&t, "null")) {
				unsigned long long pid = json_uint(&t);
				fuzz_assert(ev->pid > 0 && pid == (unsigned long long)ev->pid,
					    "JSON: pid %llu, want %d", pid, ev->pid);
			} else {
				fuzz_assert(ev->pid <= 0, "JSON: pid null, want %d", ev->pid);
			}
			seen_pid = true;
		} else if (!strcmp(key, "comm")) {
			if (!lit(&t, "null")) {
				v = json_str(&t, &vn);
				fuzz_assert(ev->comm, "JSON: a comm without one");
				check_field("JSON comm", v, vn, ev->comm, strlen(ev->comm));
			} else {
				fuzz_assert(!ev->comm, "JSON: comm null, want '%s'", ev->comm);
			}
			seen_comm = true;
		} else if (!strcmp(key, "polled") || !strcmp(key, "unresolved")) {
			fuzz_assert(lit(&t, "true"), "JSON: %s is not true", key);
			uint32_t bit = key[0] == 'p' ? VIGIL_EVENT_POLLED : VIGIL_EVENT_UNRESOLVED;
			fuzz_assert(ev->flags & bit, "JSON: %s without its flag", key);
		} else {
			fuzz_assert(false, "JSON: an unknown member \"%s\"", key);
		}
		free(key);
		free(v);
	}
	fuzz_assert(t.p == t.end, "JSON: more after the object: '%s'", t.p);
	fuzz_assert(seen_path && seen_dir && seen_name && seen_events && seen_cookie &&
		    seen_synthetic && seen_pid && seen_comm && seen_from == !!ev->from_path,
		    "JSON: a member missing in '%s'", text);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t flags = fuzz_u8(&in);
	struct fuzz_event e;
	fuzz_event_take(&in, flags & 1, &e);
	check_csv(&e.ev);
	check_json(&e.ev);
	fuzz_event_free(&e);
	return 0;
}
