/* The messages vigil publishes about files, and those it reads back. See
 * mqtt.h. The reader takes only what it needs of a JSON text from the
 * network, and refuses the rest in one word: no recursion without a
 * bound, no number parsed, nothing kept that it does not return. */
#include "mqtt.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "vigil.h"

const char *mqtt_hostname(void)
{
	static char name[HOST_NAME_MAX + 1];
	if (!name[0] && (gethostname(name, sizeof(name) - 1) < 0 || !name[0]))
		strcpy(name, "localhost");
	return name;
}

void mqtt_file_json(FILE *f, const struct mqtt_file *file, const char *host, const char *rule)
{
	fputs("{\"path\":", f);
	json_string(f, file->path, file->path_len);
	fputs(",\"events\":", f);
	json_events(f, file->events);
	if (file->from) {
		fputs(",\"from\":", f);
		json_string(f, file->from, file->from_len);
	}
	if (file->has_stat) {
		struct tm tm;
		char ts[64];
		time_t t = file->mtime.tv_sec;
		fprintf(f, ",\"size\":%lld", (long long)file->size);
		if (gmtime_r(&t, &tm) && strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm))
			fprintf(f, ",\"mtime\":\"%s.%09ldZ\"", ts, file->mtime.tv_nsec);
	}
	if (host) {
		fputs(",\"host\":", f);
		json_string(f, host, strlen(host));
	}
	if (rule) {
		fputs(",\"rule\":", f);
		json_string(f, rule, strlen(rule));
	}
	putc('}', f);
}

/* --- reading ---------------------------------------------------------------- */

#define MAX_FILES 100000
#define MAX_DEPTH 32

struct reader {
	const char *p, *end;
	char *out;            /* where the next decoded string goes */
	const char *why;
	struct mqtt_file *files;
	size_t n, cap;
};

static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int fail(struct reader *r, const char *why)
{
	if (!r->why)
		r->why = why;
	return -EINVAL;
}

static int hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* A string at r->p (its opening quote): decoded into r->out, NUL-ended;
 * *RET and *RET_LEN say where (with KEEP; else it is only passed over).
 * A decoded string is never longer than its text with its quotes, so
 * r->out, as long as the message, always has room. */
static int string(struct reader *r, bool keep, const char **ret, size_t *ret_len)
{
	if (r->p >= r->end || *r->p != '"')
		return fail(r, "a string expected");
	r->p++;
	char *start = r->out, *o = r->out;
	while (r->p < r->end && *r->p != '"') {
		unsigned char c = (unsigned char)*r->p++;
		if (c < 0x20)
			return fail(r, "a control character in a string");
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		if (r->p >= r->end)
			break;
		c = (unsigned char)*r->p++;
		switch (c) {
		case '"': case '\\': case '/': *o++ = (char)c; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (r->end - r->p < 4 || hex4(r->p, &cp) < 0)
				return fail(r, "a bad \\u escape");
			r->p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && r->end - r->p >= 6 && r->p[0] == '\\' &&
			    r->p[1] == 'u' && hex4(r->p + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
				r->p += 6;
				o = put_utf8(o, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
			} else if (cp >= 0xdc80 && cp <= 0xdcff) {
				*o++ = (char)(cp - 0xdc00); /* a byte that is not UTF-8 */
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				return fail(r, "a lone surrogate in a string");
			} else {
				o = put_utf8(o, cp);
			}
			break;
		}
		default:
			return fail(r, "a bad escape in a string");
		}
	}
	if (r->p >= r->end)
		return fail(r, "a string not closed");
	r->p++;
	if (!keep)
		return 0;
	*o++ = '\0';
	r->out = o;
	*ret = start;
	*ret_len = (size_t)(o - start - 1);
	return 0;
}

/* Pass over any value. */
static int skip_value(struct reader *r, int depth)
{
	skip_ws(r);
	if (r->p >= r->end)
		return fail(r, "a value expected");
	if (depth > MAX_DEPTH)
		return fail(r, "nested too deep");
	char c = *r->p;
	if (c == '"')
		return string(r, false, NULL, NULL);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		r->p++;
		skip_ws(r);
		if (r->p < r->end && *r->p == close) {
			r->p++;
			return 0;
		}
		for (;;) {
			if (c == '{') {
				skip_ws(r);
				if (string(r, false, NULL, NULL) < 0)
					return -EINVAL;
				skip_ws(r);
				if (r->p >= r->end || *r->p++ != ':')
					return fail(r, "':' expected");
			}
			if (skip_value(r, depth + 1) < 0)
				return -EINVAL;
			skip_ws(r);
			if (r->p < r->end && *r->p == ',') {
				r->p++;
				continue;
			}
			if (r->p < r->end && *r->p == close) {
				r->p++;
				return 0;
			}
			return fail(r, "',' or a closing bracket expected");
		}
	}
	/* a number, true, false, null: its characters, not checked further */
	const char *start = r->p;
	while (r->p < r->end && *r->p && strchr("+-.0123456789eEtruefalsn", *r->p))
		r->p++;
	return r->p > start ? 0 : fail(r, "not JSON");
}

/* "events": an array of names, into *MASK. */
static int events(struct reader *r, uint32_t *mask)
{
	skip_ws(r);
	if (r->p >= r->end || *r->p != '[')
		return fail(r, "\"events\" is not an array");
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return 0;
	}
	for (;;) {
		skip_ws(r);
		char *mark = r->out;
		const char *name;
		size_t len;
		if (string(r, true, &name, &len) < 0)
			return -EINVAL;
		/* "CLOSE" says only that one of the two closes is there, which
		 * is named too */
		if (!(len == 5 && memcmp(name, "CLOSE", 5) == 0)) {
			uint32_t m = vigil_mask_from_name(name, len);
			if (!m)
				return fail(r, "an event name not known");
			*mask |= m;
		}
		r->out = mark; /* not kept */
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == ']') {
			r->p++;
			return 0;
		}
		return fail(r, "',' or ']' expected in \"events\"");
	}
}

static int file_object(struct reader *r, int depth, bool top);

/* "files": an array of file objects. */
static int files(struct reader *r, int depth)
{
	skip_ws(r);
	if (r->p >= r->end || *r->p != '[')
		return fail(r, "\"files\" is not an array");
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return 0;
	}
	for (;;) {
		if (file_object(r, depth + 1, false) < 0)
			return -EINVAL;
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == ']') {
			r->p++;
			return 0;
		}
		return fail(r, "',' or ']' expected in \"files\"");
	}
}

static bool key_is(const char *k, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(k, name, len) == 0;
}

/* An object: a file ("path", "events", "from"), or at the TOP a batch
 * ("files"). */
static int file_object(struct reader *r, int depth, bool top)
{
	struct mqtt_file f = {0};
	bool batch = false;
	skip_ws(r);
	if (r->p >= r->end || *r->p != '{')
		return fail(r, top ? "not a JSON object" : "a file is not a JSON object");
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		goto end;
	}
	for (;;) {
		skip_ws(r);
		char *mark = r->out;
		const char *key;
		size_t klen;
		if (string(r, true, &key, &klen) < 0)
			return -EINVAL;
		r->out = mark; /* keys are not kept */
		skip_ws(r);
		if (r->p >= r->end || *r->p++ != ':')
			return fail(r, "':' expected");
		skip_ws(r);
		int e;
		if (key_is(key, klen, "path")) {
			if (f.path)
				return fail(r, "\"path\" twice");
			e = string(r, true, &f.path, &f.path_len);
		} else if (key_is(key, klen, "from")) {
			if (f.from)
				return fail(r, "\"from\" twice");
			e = r->p < r->end && *r->p == 'n' ? skip_value(r, depth + 1) :
			    string(r, true, &f.from, &f.from_len);
		} else if (key_is(key, klen, "events")) {
			e = events(r, &f.events);
		} else if (top && key_is(key, klen, "files")) {
			batch = true;
			e = files(r, depth);
		} else {
			e = skip_value(r, depth + 1);
		}
		if (e < 0)
			return -EINVAL;
		skip_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == '}') {
			r->p++;
			break;
		}
		return fail(r, "',' or '}' expected");
	}
end:
	if (batch && !f.path)
		return 0;
	if (!f.path)
		return fail(r, "no \"path\"");
	if (!f.path_len || memchr(f.path, '\0', f.path_len) ||
	    (f.from && (!f.from_len || memchr(f.from, '\0', f.from_len))))
		return fail(r, "an empty path, or one holding a NUL");
	if (r->n == r->cap) {
		if (r->n >= MAX_FILES)
			return fail(r, "too many files");
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct mqtt_file *v = reallocarray(r->files, cap, sizeof(*v));
		if (!v) {
			r->why = "out of memory";
			return -ENOMEM;
		}
		r->files = v;
		r->cap = cap;
	}
	r->files[r->n++] = f;
	return 0;
}

int mqtt_read(const char *msg, size_t len, struct mqtt_read *ret, const char **why)
{
	struct reader r = {.p = msg, .end = msg + len};
	char *buf = malloc(len + 1);
	*why = NULL;
	if (!buf)
		return -ENOMEM;
	r.out = buf;
	int e = file_object(&r, 0, true);
	if (e == 0) {
		skip_ws(&r);
		if (r.p != r.end)
			e = fail(&r, "more after the JSON object");
		else if (!r.n)
			e = fail(&r, "no \"path\"");
	}
	if (e < 0) {
		*why = r.why ? r.why : "not JSON";
		free(buf);
		free(r.files);
		return e == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	*ret = (struct mqtt_read){.files = r.files, .n = r.n, .buf = buf};
	return 0;
}

void mqtt_read_fini(struct mqtt_read *r)
{
	free(r->files);
	free(r->buf);
	*r = (struct mqtt_read){0};
}
