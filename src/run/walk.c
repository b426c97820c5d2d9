/* The walk: every file already below a rule's roots, for --initial, for
 * the catch-up of a rule with a state, and after an overflow (the files
 * changed in the gap). */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

struct walk_item {
	char *path;
};

/* Every entry below RR's roots the rule would see, without following a
 * symlink, one directory open at a time. FN gets each path and its lstat. */
int walk(struct run *run, struct rrule *rr,
	 void (*fn)(struct run *, struct rrule *, const char *, const struct stat *))
{
	struct walk_item *stack = NULL;
	size_t len = 0, cap = 0;
	int r = 0;
	for (size_t i = 0; i < rr->r.paths.len && r >= 0; i++) {
		struct stat st;
		if (lstat(rr->r.paths.v[i], &st) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			fn(run, rr, rr->r.paths.v[i], &st);
			continue;
		}
		char *p = strdup(rr->r.paths.v[i]);
		if (!p || grow((void **)&stack, &cap, len, sizeof(*stack)) < 0) {
			free(p);
			r = -ENOMEM;
			break;
		}
		stack[len++].path = p;
		while (len && r >= 0) {
			char *dir = stack[--len].path;
			int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
			if (!d) {
				if (fd >= 0)
					close(fd);
				free(dir);
				continue; /* vanished or unreadable: nothing to queue */
			}
			size_t dl = strlen(dir);
			bool slash = dl && dir[dl - 1] == '/';
			struct dirent *de;
			while ((de = readdir(d)) && r >= 0) {
				if (de->d_name[0] == '.' && (!de->d_name[1] ||
				    (de->d_name[1] == '.' && !de->d_name[2])))
					continue;
				char *child;
				if (asprintf(&child, "%s%s%s", dir, slash ? "" : "/", de->d_name) < 0) {
					r = -ENOMEM;
					break;
				}
				struct stat cst;
				if (fstatat(dirfd(d), de->d_name, &cst, AT_SYMLINK_NOFOLLOW) < 0) {
					free(child);
					continue;
				}
				fn(run, rr, child, &cst);
				if (S_ISDIR(cst.st_mode) && rr->r.recursive && descend(rr, child)) {
					if (grow((void **)&stack, &cap, len, sizeof(*stack)) < 0) {
						free(child);
						r = -ENOMEM;
						break;
					}
					stack[len++].path = child;
				} else {
					free(child);
				}
			}
			closedir(d);
			free(dir);
		}
	}
	while (len)
		free(stack[--len].path);
	free(stack);
	return r;
}

static uint32_t initial_events(const struct rule *r)
{
	if (r->events & IN_CLOSE_WRITE)
		return IN_CLOSE_WRITE;
	if (r->events & IN_MOVED_TO)
		return IN_MOVED_TO;
	return r->events & (r->events ? -r->events : 0); /* the lowest one asked */
}

/* A file found by a walk: queued (after an overflow, if it changed). A
 * complete file is a regular one; directories only when asked for
 * (--dirs), symlinks and devices never. */
void queue_found(struct run *run, struct rrule *rr, const char *path,
		 const struct stat *st)
{
	bool is_dir = S_ISDIR(st->st_mode);
	if (rr->r.kind == KIND_DIRS ? !is_dir : !S_ISREG(st->st_mode))
		return;
	if (!wants(rr, path, is_dir))
		return;
	if (rr->rescan && !store_changed(rr->store, path, st, &run->start))
		return;
	struct change c = {.kind = CHANGE_TOUCH, .path = path, .is_dir = is_dir,
			   .events = initial_events(&rr->r), .wanted = true, .now = mono(),
			   .settle_ns = rr->r.settle_ns};
	apply_change(run, rr, &c);
}

void catch_up_found(struct run *run, struct rrule *rr, const char *path,
		    const struct stat *st)
{
	bool is_dir = S_ISDIR(st->st_mode);
	if (rr->r.kind == KIND_DIRS ? !is_dir : !S_ISREG(st->st_mode))
		return;
	if (!wants(rr, path, is_dir) || !store_catch_up(rr->store, path, st))
		return;
	struct change c = {.kind = CHANGE_TOUCH, .path = path, .is_dir = is_dir,
			   .events = initial_events(&rr->r), .wanted = true, .now = mono(),
			   .settle_ns = rr->r.settle_ns};
	apply_change(run, rr, &c);
}

