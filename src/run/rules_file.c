/* Rules files: INI-like sections, one rule each, read into struct rule
 * through rule_set() so that a key means what its long option means.
 * vigil-rules(5) is the user's side of this file. */
#include "rule.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A key = value line of [defaults], kept to be applied to every rule. */
struct entry {
	char *key;
	char *value;        /* NULL for a bare flag */
	unsigned line;
};

/* The keys a section has set so far: for "given twice" and for letting a
 * section's key replace what [defaults] said. Fewer than 48 keys exist. */
struct seen {
	char key[48][24];   /* the longest is "success-exit-status" */
	unsigned line[48];
	size_t n;
};

struct loader {
	const char *path;
	char **err;

	struct entry *defaults;
	size_t n_defaults;
	struct rule defaults_rule; /* [defaults] applied, to check its values */
	struct seen defaults_keys, defaults_slots;
	bool in_defaults, had_defaults;

	struct rule *rules;
	size_t n, cap;
	struct rule *cur;          /* the section being read, rules[n - 1] */
	struct seen keys;          /* its keys, by canonical() name */
	struct seen slots;         /* and by slot() */
};

__attribute__((format(printf, 2, 3)))
static int fail(struct loader *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = n < 0 ? NULL : malloc((size_t)n + 1);
	if (s) {
		va_start(ap, fmt);
		vsnprintf(s, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	free(*l->err);
	*l->err = s;
	return -1;
}

/* Memory ran out: -1 with *err NULL, as rule.h has it. */
static int fail_nomem(struct loader *l)
{
	free(*l->err);
	*l->err = NULL;
	return -1;
}

/* MSG, from rule.c (NULL when memory ran out), after "FILE:LINE: 'key': "
 * or "FILE:LINE: [rule]: ": WHAT between OPEN and CLOSE. */
static int fail_rule(struct loader *l, unsigned line, const char *open,
		     const char *what, const char *close, char *msg)
{
	if (!msg)
		return fail_nomem(l);
	fail(l, "%s:%u: %s%s%s: %s", l->path, line, open, what, close, msg);
	free(msg);
	return -1;
}

static char *copy_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	return d ? memcpy(d, s, n) : NULL;
}

static const char *strerror_lower(int e, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

static int fail_errno(struct loader *l, const char *what, const char *path,
		      int e)
{
	char buf[128];
	return fail(l, "cannot %s '%s': %s", what, path,
		    strerror_lower(e, buf, sizeof(buf)));
}

/* ---- the root check ------------------------------------------------- */

/* Whether someone other than root could change what ST describes: its
 * owner, or a group or others with write permission (POSIX ACLs show
 * their mask in the group bits). A directory with the sticky bit, such as
 * /tmp, may be writable by all: no one else can rename or remove what root
 * put there. */
static bool others_can_write(const struct stat *st)
{
	if (st->st_uid != 0)
		return true;
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return false;
	return !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX));
}

static int fail_unsafe(struct loader *l, const char *name,
		       const struct stat *st)
{
	if (st->st_uid != 0)
		return fail(l, "'%s' is owned by uid %u; a root rules file must be writable only by root",
			    name, (unsigned)st->st_uid);
	return fail(l, "'%s' is writable by others; a root rules file must be writable only by root",
		    name);
}

/* Open PATH for root, as sudo does its sudoers and ssh its keys: resolve
 * every symlink first, check each directory from / down, then open the
 * very path checked with O_NOFOLLOW and check the file by its descriptor.
 * As the directories were found safe, no one but root can swap a component
 * between the checks and the open. */
static int open_as_root(struct loader *l, int *ret_fd)
{
	char *real = realpath(l->path, NULL);
	if (!real)
		return fail_errno(l, "open", l->path, errno);
	struct stat st;
	int rc = -1;
	/* "/", then each directory down to the file's: realpath() gives no
	 * doubled or trailing slash. */
	for (size_t i = 0, len = strlen(real); i < len; i++) {
		if (real[i] != '/')
			continue;
		char keep = real[i + !i];
		real[i + !i] = '\0';
		if (lstat(real, &st) < 0) {
			fail_errno(l, "open", real, errno);
			goto out;
		}
		if (others_can_write(&st)) {
			fail_unsafe(l, real, &st);
			goto out;
		}
		real[i + !i] = keep;
	}
	int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		fail_errno(l, "open", l->path, errno);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		fail_errno(l, "open", l->path, errno);
		close(fd);
		goto out;
	}
	if (others_can_write(&st)) {
		fail_unsafe(l, l->path, &st);
		close(fd);
		goto out;
	}
	*ret_fd = fd;
	rc = 0;
out:
	free(real);
	return rc;
}

/* The whole file, NUL-terminated, in *RET (*LEN bytes before the NUL). */
static int read_file(struct loader *l, char **ret, size_t *len)
{
	int fd = -1;
	if (geteuid() == 0) {
		if (open_as_root(l, &fd) < 0)
			return -1;
	} else {
		fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return fail_errno(l, "open", l->path, errno);
	}
	size_t n = 0, cap = 4096;
	char *buf = malloc(cap);
	if (!buf)
		goto nomem;
	for (;;) {
		if (cap - n < 2) {
			char *b = realloc(buf, cap * 2);
			if (!b)
				goto nomem;
			buf = b;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fail_errno(l, "read", l->path, errno);
			free(buf);
			close(fd);
			return -1;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	buf[n] = '\0';
	*ret = buf;
	*len = n;
	return 0;
nomem:
	free(buf);
	close(fd);
	return fail_nomem(l);
}

/* ---- sections and keys ---------------------------------------------- */

/* The name two spellings of one key share: "events" is "event". */
static const char *canonical(const char *key)
{
	return strcmp(key, "events") == 0 ? "event" : key;
}

/* What a section's key replaces from [defaults]: "dirs" replaces "files"
 * (and the reverse), since both set the one kind filter. */
static const char *slot(const char *key)
{
	key = canonical(key);
	return strcmp(key, "dirs") == 0 ? "files" : key;
}

static const unsigned *seen_find(const struct seen *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->key[i], key) == 0)
			return &s->line[i];
	return NULL;
}

static void seen_add(struct seen *s, const char *key, unsigned line)
{
	if (s->n < sizeof(s->key) / sizeof(*s->key) &&
	    strlen(key) < sizeof(*s->key) && !seen_find(s, key)) {
		memcpy(s->key[s->n], key, strlen(key) + 1);
		s->line[s->n++] = line;
	}
}

/* KEY = VALUE on R, VALUE unquoted and split here: a list key takes each
 * word (none empties it), "command" its words as its argv, and any other
 * key one word. */
static int apply(struct loader *l, struct rule *r, const char *key,
		 const char *value, unsigned line)
{
	char *msg = NULL;
	struct strv words = { 0 };
	int rc = 0;
	if (!value) {
		if (rule_key_takes_value(key) == 1)
			return fail(l, "%s:%u: '%s' needs a value", l->path,
				    line, key);
		rc = rule_set(r, key, NULL, &msg);
		goto out;
	}
	if (strcmp(key, "command") == 0) {
		rc = rule_set(r, key, value, &msg);
		goto out;
	}
	rc = split_words(value, &words, &msg);
	if (rc < 0)
		goto out;
	if (rule_key_repeats(key) == 1) {
		if (!words.len)
			rule_unset(r, key);
		for (size_t i = 0; i < words.len && rc == 0; i++)
			rc = rule_set(r, key, words.v[i], &msg);
	} else if (words.len == 1) {
		rc = rule_set(r, key, words.v[0], &msg);
	} else if (!words.len) {
		strv_free(&words);
		return fail(l, "%s:%u: '%s' needs a value", l->path, line, key);
	} else {
		size_t n = words.len;
		strv_free(&words);
		return fail(l, "%s:%u: '%s' takes one value, not %zu words (quote a value with spaces; a comment takes a line of its own)",
			    l->path, line, key, n);
	}
out:
	strv_free(&words);
	return rc < 0 ? fail_rule(l, line, "'", key, "'", msg) : 0;
}

/* The section being read is complete: it must make a whole rule. */
static int end_section(struct loader *l)
{
	if (!l->cur)
		return 0;
	char *msg;
	if (rule_check(l->cur, &msg) < 0)
		return fail_rule(l, l->cur->line, "[", l->cur->name, "]", msg);
	l->cur = NULL;
	return 0;
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

static int begin_section(struct loader *l, const char *name, unsigned line)
{
	if (end_section(l) < 0)
		return -1;
	if (!valid_name(name))
		return fail(l, "%s:%u: '%s': a rule name may hold only letters, digits, '-', '_' and '.'",
			    l->path, line, name);
	if (strcmp(name, "defaults") == 0) {
		if (l->had_defaults)
			return fail(l, "%s:%u: [defaults] is given twice",
				    l->path, line);
		if (l->n)
			return fail(l, "%s:%u: [defaults] must come before the first rule",
				    l->path, line);
		l->in_defaults = l->had_defaults = true;
		return rule_init(&l->defaults_rule, name) < 0 ?
			fail_nomem(l) : 0;
	}
	l->in_defaults = false;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->rules[i].name, name) == 0)
			return fail(l, "%s:%u: [%s] is given twice (first on line %u)",
				    l->path, line, name, l->rules[i].line);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct rule *v = realloc(l->rules, cap * sizeof(*v));
		if (!v)
			return fail_nomem(l);
		l->rules = v;
		l->cap = cap;
	}
	struct rule *r = &l->rules[l->n];
	if (rule_init(r, name) < 0) {
		rule_fini(r);
		return fail_nomem(l);
	}
	l->n++;
	r->file = l->path;
	r->line = line;
	l->cur = r;
	l->keys.n = l->slots.n = 0;
	for (size_t i = 0; i < l->n_defaults; i++) {
		const struct entry *e = &l->defaults[i];
		if (apply(l, r, e->key, e->value, e->line) < 0)
			return -1;
	}
	return 0;
}

/* A key = value line (VALUE NULL for a bare key) in the current section. */
static int key_line(struct loader *l, const char *key, const char *value,
		    unsigned line, bool had_equals)
{
	if (rule_key_takes_value(key) < 0)
		return fail(l, had_equals ? "%s:%u: '%s': no such key" :
			    "%s:%u: '%s': no such key (a setting is key = value)",
			    l->path, line, key);
	if (!l->cur && !l->in_defaults)
		return fail(l, "%s:%u: '%s' comes before any [section]; put it under [defaults] or a [rule]",
			    l->path, line, key);
	struct seen *keys = l->in_defaults ? &l->defaults_keys : &l->keys;
	struct seen *slots = l->in_defaults ? &l->defaults_slots : &l->slots;
	const char *canon = canonical(key);
	const unsigned *first = seen_find(keys, canon);
	if (first && rule_key_repeats(key) != 1)
		return fail(l, "%s:%u: '%s' is given twice (first on line %u)",
			    l->path, line, key, *first);
	if (l->in_defaults) {
		if (apply(l, &l->defaults_rule, key, value, line) < 0)
			return -1;
		struct entry *v = realloc(l->defaults,
					  (l->n_defaults + 1) * sizeof(*v));
		if (!v)
			return fail_nomem(l);
		l->defaults = v;
		struct entry *e = &v[l->n_defaults];
		e->key = copy_str(key);
		e->value = value ? copy_str(value) : NULL;
		e->line = line;
		if (!e->key || (value && !e->value)) {
			free(e->key);
			free(e->value);
			return fail_nomem(l);
		}
		l->n_defaults++;
		seen_add(keys, canon, line);
		seen_add(slots, slot(key), line);
		return 0;
	}
	/* The first time a section sets a key, it replaces what [defaults]
	 * said rather than adding to it. */
	if (!seen_find(slots, slot(key)) &&
	    seen_find(&l->defaults_slots, slot(key)))
		rule_unset(l->cur, key);
	seen_add(keys, canon, line);
	seen_add(slots, slot(key), line);
	return apply(l, l->cur, key, value, line);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* S (a NUL-terminated buffer of our own) trimmed in place. */
static char *trim(char *s)
{
	while (is_blank(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* One logical line (continuations joined), starting on line LINE. */
static int parse_line(struct loader *l, char *text, unsigned line)
{
	char *s = trim(text);
	if (!*s)
		return 0;
	if (*s == '[') {
		size_t n = strlen(s);
		if (s[n - 1] != ']')
			return fail(l, "%s:%u: '%s': a section header ends with ']'",
				    l->path, line, s);
		s[n - 1] = '\0';
		return begin_section(l, trim(s + 1), line);
	}
	char *eq = strchr(s, '=');
	if (!eq)
		return key_line(l, s, NULL, line, false);
	*eq = '\0';
	return key_line(l, trim(s), trim(eq + 1), line, true);
}

static int parse(struct loader *l, const char *buf, size_t len)
{
	const char *nul = memchr(buf, '\0', len);
	char *joined = NULL;
	size_t jlen = 0, jcap = 0;
	unsigned line = 0, start = 0;
	bool continued = false;
	int rc = 0;
	for (const char *p = buf; p < buf + len && rc == 0;) {
		const char *end = memchr(p, '\n', (size_t)(buf + len - p));
		if (!end)
			end = buf + len;
		line++;
		if (nul && nul < end) {
			rc = fail(l, "%s:%u: a NUL byte; a rules file is text",
				  l->path, line);
			break;
		}
		const char *next = end < buf + len ? end + 1 : end;
		if (end > p && end[-1] == '\r')
			end--;
		if (!continued) {
			const char *q = p;
			while (q < end && is_blank(*q))
				q++;
			if (q < end && (*q == '#' || *q == ';')) {
				p = next; /* a comment never continues */
				continue;
			}
			start = line;
			jlen = 0;
		}
		/* An odd run of backslashes at the end: the last one is not
		 * escaped, so it joins the next line. */
		size_t backslashes = 0;
		while (backslashes < (size_t)(end - p) &&
		       end[-1 - (long)backslashes] == '\\')
			backslashes++;
		continued = backslashes % 2 == 1;
		size_t n = (size_t)(end - p) - continued;
		if (jlen + n + 1 > jcap) {
			size_t cap = jcap ? jcap : 256;
			while (cap < jlen + n + 1)
				cap *= 2;
			char *j = realloc(joined, cap);
			if (!j) {
				rc = fail_nomem(l);
				break;
			}
			joined = j;
			jcap = cap;
		}
		memcpy(joined + jlen, p, n);
		jlen += n;
		joined[jlen] = '\0';
		if (!continued)
			rc = parse_line(l, joined, start);
		p = next;
	}
	if (rc == 0 && continued)
		rc = fail(l, "%s:%u: the file ends in a continued line; remove the last backslash",
			  l->path, line);
	free(joined);
	return rc;
}

static void loader_fini(struct loader *l)
{
	for (size_t i = 0; i < l->n_defaults; i++) {
		free(l->defaults[i].key);
		free(l->defaults[i].value);
	}
	free(l->defaults);
	rule_fini(&l->defaults_rule);
}

int rules_load(const char *path, struct rule **ret, size_t *n, char **err)
{
	struct loader l = { .path = path, .err = err };
	char *buf = NULL;
	size_t len = 0;
	*err = NULL;
	if (read_file(&l, &buf, &len) < 0)
		return -1;
	int rc = rules_parse(path, buf, len, ret, n, err);
	free(buf);
	return rc;
}

int rules_parse(const char *path, const char *text, size_t len,
		struct rule **ret, size_t *n, char **err)
{
	struct loader l = { .path = path, .err = err };
	*err = NULL;
	if (parse(&l, text, len) < 0 || end_section(&l) < 0)
		goto fail;
	if (!l.n) {
		fail(&l, "%s: no rules; a rule is a [section] with a 'path' and a 'command'",
		     path);
		goto fail;
	}
	loader_fini(&l);
	*ret = l.rules;
	*n = l.n;
	return 0;
fail:
	loader_fini(&l);
	rules_free(l.rules, l.n);
	return -1;
}

void rules_free(struct rule *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rule_fini(&v[i]);
	free(v);
}
