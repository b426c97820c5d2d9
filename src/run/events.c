/* What an event means to a rule: which paths it sees, and what each event
 * does to what waits in its store. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run.h"

/* PATH relative to the root of RR it lies in, or NULL. */
static const char *relative(const struct rrule *rr, const char *path)
{
	for (size_t i = 0; i < rr->r.paths.len; i++) {
		const char *root = rr->r.paths.v[i];
		size_t n = strlen(root);
		while (n > 1 && root[n - 1] == '/')
			n--;
		if (strncmp(path, root, n) != 0)
			continue;
		if (path[n] == '/')
			return path + n + 1;
		if (path[n] == '\0') /* the root itself: a file watched directly */
			return strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		if (n == 1 && root[0] == '/')
			return path + 1;
	}
	return NULL;
}

bool wants(const struct rrule *rr, const char *path, bool is_dir)
{
	const char *rel = relative(rr, path);
	return rel && rule_wants(&rr->r, rel, path, is_dir);
}

/* Whether a walk goes below directory PATH: not hidden (unless asked) and
 * not excluded. --match does not stop it: what is below may match. */
bool descend(const struct rrule *rr, const char *path)
{
	const char *rel = relative(rr, path);
	return rel && rule_descends(&rr->r, rel, path);
}

void apply_change(struct run *run, struct rrule *rr, const struct change *c)
{
	int r = store_apply(rr->store, c);
	if (r < 0)
		rule_say(run, rr, "out of memory: cannot queue '%s'", c->path);
	else if (r > 0)
		rr->n_paths++;
}

void touch(struct run *run, struct rrule *rr, const char *path, uint32_t events,
	   const char *from, uint64_t now)
{
	struct change c = {.kind = CHANGE_TOUCH, .path = path, .from = from,
			   .events = events, .wanted = true, .now = now,
			   .settle_ns = rr->r.settle_ns};
	apply_change(run, rr, &c);
}

/* An error event: what could not be watched, and why. */
void say_unwatched(struct run *run, const struct rrule *rr,
		   const struct vigil_event *ev)
{
	rule_say(run, rr, "cannot watch '%s': %s", ev->path, cli_strerror(-ev->error));
}

void on_event(struct run *run, struct rrule *rr, const struct vigil_event *ev,
	      uint64_t now)
{
	uint32_t m = ev->mask;
	if (ev->flags & VIGIL_EVENT_POLLED)
		say_mounts(run, rr); /* a polled mount gone, or a new one met */
	if (ev->flags & VIGIL_EVENT_OVERFLOW) {
		rule_say(run, rr, "the kernel event queue overflowed; looking for files "
			 "changed meanwhile");
		rr->rescan = true;
		return;
	}
	if (ev->flags & VIGIL_EVENT_ERROR) {
		say_unwatched(run, rr, ev);
		return;
	}
	if (m & (IN_IGNORED | IN_UNMOUNT)) {
		if (m & IN_IGNORED)
			rule_say(run, rr, "'%s' is gone; no longer watched", ev->path);
		return;
	}
	bool is_dir = m & IN_ISDIR;
	struct change c = {.kind = CHANGE_TOUCH, .path = ev->path, .is_dir = is_dir,
			   .events = m & rr->r.events, .now = now,
			   .settle_ns = rr->r.settle_ns};
	if ((m & IN_MOVED_FROM) && (m & IN_MOVED_TO)) { /* a rename, paired */
		c.kind = CHANGE_RENAME;
		c.from = ev->from_path;
		c.events = rr->r.events & IN_MOVED_TO;
	} else if (m & (IN_MOVED_FROM | IN_DELETE)) {
		c.kind = CHANGE_GONE;
	} else if (m & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		/* a watched directory's own: its parent's event says it all (and
		 * a renamed one is already under its new path); a file watched
		 * by itself is gone from where it was */
		bool watched_dir = ev->dir_len && ev->dir[ev->dir_len - 1] == '/';
		if (watched_dir)
			return;
		c.kind = CHANGE_LEFT;
	}
	/* the filters are asked only when they matter */
	c.wanted = c.kind != CHANGE_LEFT && (c.kind != CHANGE_GONE || c.events) &&
		   wants(rr, ev->path, is_dir);
	apply_change(run, rr, &c);
	/* its job is told who made the change (VIGIL_PID): the path waits now,
	 * or this does nothing */
	if (c.wanted)
		store_who(rr->store, c.path, ev->pid, ev->comm);
}
