/* Include and exclude filters: POSIX extended regexes on the full path, as
 * inotifywait has them, and excluded subtrees by path. An excluded directory
 * is never watched, not merely hidden. */
#ifndef VIGIL_FILTER_H
#define VIGIL_FILTER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

struct filter {
	regex_t *exclude;
	size_t n_exclude;
	regex_t *include;
	size_t n_include;
	char **paths;     /* excluded subtrees, without trailing slashes */
	size_t *path_lens;
	size_t n_paths;
};

int filter_add_regex(struct filter *f, bool include, const char *pattern,
		     bool icase);
int filter_add_path(struct filter *f, const char *path);

/* Whether anything is configured: the callers skip building paths if not. */
static inline bool filter_active(const struct filter *f)
{
	return f->n_exclude || f->n_include || f->n_paths;
}

/* Whether PATH (NUL-terminated) is excluded: not to be watched or reported. */
bool filter_excludes(const struct filter *f, const char *path, size_t len);
/* Whether an event on PATH is to be delivered: not excluded and, when
 * include filters exist, matching one. */
bool filter_delivers(const struct filter *f, const char *path, size_t len);
void filter_fini(struct filter *f);

#endif
