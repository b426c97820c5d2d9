#include "filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int filter_add_regex(struct filter *f, bool include, const char *pattern,
		     bool icase)
{
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
