#include "filter.h"

#include "vigil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* How big glibc's regcomp() makes what a pattern says, in nodes, counted
 * from the text, and capped at REGEX_NODES_MAX + 1. It copies what a
 * repetition repeats: 'x+' is 'xx*', 'x{m,n}' is x written n times, so
 * repetitions of repetitions multiply, and a short pattern ('a' and 24
 * '+') takes 12 GiB and 40 s to compile. Only repetitions are weighed
 * closely; the rest counts one a character, a bracket expression one. */
#define REGEX_NODES_MAX 50000

static size_t cap(size_t n)
{
	return n > REGEX_NODES_MAX ? REGEX_NODES_MAX + 1 : n;
}

/* *P at a '{': the larger bound of a valid interval, advancing *P past
 * it; 0 (and *P untouched) if it is not one (then '{' is a character). */
static size_t interval(const char **p)
{
	const char *s = *p + 1;
	size_t lo = 0, hi = 0;
	bool comma = false, digits = false;
	for (; *s && *s != '}'; s++) {
		if (*s == ',' && !comma) {
			comma = true;
		} else if (*s >= '0' && *s <= '9') {
			size_t *b = comma ? &hi : &lo;
			*b = cap(*b * 10 + (size_t)(*s - '0'));
			digits = true;
		} else {
			return 0;
		}
	}
	if (*s != '}' || !digits)
		return 0;
	*p = s + 1;
	/* {m,} is m copies and a star; {,n} (glibc) is n */
	return comma && hi ? (hi > lo ? hi : lo) : lo + 1;
}

/* A bracket expression from *P ('['), advancing *P past its ']'. */
static void bracket(const char **p)
{
	const char *s = *p + 1;
	if (*s == '^')
		s++;
	if (*s == ']')
		s++; /* a ']' first is a character */
	for (; *s && *s != ']'; s++) {
		if (*s == '[' && (s[1] == ':' || s[1] == '=' || s[1] == '.')) {
			char end = s[1];
			const char *t = s + 2;
			while (*t && !(t[0] == end && t[1] == ']'))
				t++;
			if (!*t)
				break;
			s = t + 1;
		}
	}
	*p = *s ? s + 1 : s;
}

/* The nodes of the alternatives from *P to a ')' at DEPTH > 0, or to the
 * end, advancing *P past them. */
static size_t regex_nodes(const char **p, unsigned depth)
{
	size_t total = 0, piece = 0;
	while (**p) {
		const char *s = *p;
		size_t k;
		switch (*s) {
		case ')':
			if (depth) {
				*p = s + 1;
				return cap(total + piece + 1);
			}
			/* unmatched: glibc takes it for a character */
			total = cap(total + piece);
			piece = 1, (*p)++;
			break;
		case '(':
			*p = s + 1;
			total = cap(total + piece);
			piece = depth < 1000 ? regex_nodes(p, depth + 1) : 1;
			break;
		case '[':
			total = cap(total + piece);
			piece = 1;
			bracket(p);
			break;
		case '\\':
			total = cap(total + piece);
			piece = 1;
			*p = s[1] ? s + 2 : s + 1;
			break;
		case '*':
		case '?':
			piece = cap(piece + 1), (*p)++;
			break;
		case '+':
			piece = cap(2 * piece + 1), (*p)++;
			break;
		case '{':
			if ((k = interval(p))) {
				piece = cap(piece * k + 1);
				break;
			}
			total = cap(total + piece);
			piece = 1, (*p)++;
			break;
		case '|':
			total = cap(total + piece + 1);
			piece = 0, (*p)++;
			break;
		default:
			total = cap(total + piece);
			piece = 1, (*p)++;
			break;
		}
	}
	return cap(total + piece);
}

int vigil_regex_check(const char *pattern)
{
	if (!pattern)
		return -EINVAL;
	const char *p = pattern;
	return regex_nodes(&p, 0) > REGEX_NODES_MAX ? -E2BIG : 0;
}

int filter_add_regex(struct filter *f, bool include, const char *pattern,
		     bool icase)
{
	int e = vigil_regex_check(pattern);
	if (e < 0)
		return e;
	regex_t **list = include ? &f->include : &f->exclude;
	size_t *n = include ? &f->n_include : &f->n_exclude;
	regex_t *v = realloc(*list, (*n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*list = v;
	int flags = REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0);
	int r = regcomp(&v[*n], pattern, flags);
	if (r == REG_ESPACE)
		return -ENOMEM;
	if (r != 0)
		return -EINVAL;
	(*n)++;
	return 0;
}

static size_t trim_slashes(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] == '/')
		len--;
	return len;
}

int filter_add_path(struct filter *f, const char *path)
{
	size_t len = trim_slashes(path, strlen(path));
	if (!len)
		return -EINVAL;
	char **paths = realloc(f->paths, (f->n_paths + 1) * sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	f->paths = paths;
	size_t *lens = realloc(f->path_lens, (f->n_paths + 1) * sizeof(*lens));
	if (!lens)
		return -ENOMEM;
	f->path_lens = lens;
	char *copy = strndup(path, len);
	if (!copy)
		return -ENOMEM;
	f->paths[f->n_paths] = copy;
	f->path_lens[f->n_paths] = len;
	f->n_paths++;
	return 0;
}

bool filter_excludes(const struct filter *f, const char *path, size_t len)
{
	size_t tl = trim_slashes(path, len);
	for (size_t i = 0; i < f->n_paths; i++) {
		size_t pl = f->path_lens[i];
		if (tl >= pl && memcmp(path, f->paths[i], pl) == 0 &&
		    (tl == pl || path[pl] == '/' || f->paths[i][pl - 1] == '/'))
			return true;
	}
	for (size_t i = 0; i < f->n_exclude; i++)
		if (regexec(&f->exclude[i], path, 0, NULL, 0) == 0)
			return true;
	return false;
}

bool filter_delivers(const struct filter *f, const char *path, size_t len)
{
	if (filter_excludes(f, path, len))
		return false;
	if (!f->n_include)
		return true;
	for (size_t i = 0; i < f->n_include; i++)
		if (regexec(&f->include[i], path, 0, NULL, 0) == 0)
			return true;
	return false;
}

void filter_fini(struct filter *f)
{
	for (size_t i = 0; i < f->n_exclude; i++)
		regfree(&f->exclude[i]);
	for (size_t i = 0; i < f->n_include; i++)
		regfree(&f->include[i]);
	for (size_t i = 0; i < f->n_paths; i++)
		free(f->paths[i]);
	free(f->exclude);
	free(f->include);
	free(f->paths);
	free(f->path_lens);
	memset(f, 0, sizeof(*f));
}
