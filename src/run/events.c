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

void touch(struct run *run, struct rrule *rr, const char *path,
	   uint32_t events, const char *from, uint64_t now)
{
	bool had = store_has(rr->store, path);
	if (store_touch(rr->store, path, events, from, now + rr->r.settle_ns) < 0)
		rule_say(run, rr, "out of memory: cannot queue '%s'", path);
	else if (!had)
		rr->n_paths++;
}

/* touch(), for event EV: its job is told who made the change (VIGIL_PID). */
static void touch_ev(struct run *run, struct rrule *rr, const struct vigil_event *ev,
		     const char *path, uint32_t events, const char *from, uint64_t now)
{
	touch(run, rr, path, events, from, now);
	store_who(rr->store, path, ev->pid, ev->comm);
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
	if ((m & IN_MOVED_FROM) && (m & IN_MOVED_TO)) { /* a rename, paired */
		char *from = NULL;
		bool was = store_forget(rr->store, ev->from_path, &from);
		free(from);
		/* what waited below a renamed directory waits under its new path */
		if (is_dir && store_move_below(rr->store, ev->from_path, ev->path) < 0)
			rule_say(run, rr, "out of memory: cannot follow the rename of '%s'",
				 ev->from_path);
		if (wants(rr, ev->path, is_dir) && (was || (rr->r.events & IN_MOVED_TO)))
			touch_ev(run, rr, ev, ev->path, IN_MOVED_TO | (m & IN_ISDIR), ev->from_path, now);
		return;
	}
	if (m & (IN_MOVED_FROM | IN_DELETE)) {
		/* gone from here: a path that waited is not to be run on, nor
		 * anything that waited below it */
		store_forget(rr->store, ev->path, NULL);
		if (is_dir)
			store_move_below(rr->store, ev->path, NULL);
		/* unless going away is what the rule is about */
		if ((m & rr->r.events) && wants(rr, ev->path, is_dir))
			touch_ev(run, rr, ev, ev->path, (m & rr->r.events) | (m & IN_ISDIR), NULL, now);
		return;
	}
	if (m & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		/* a watched directory's own: its parent's event says it all (and
		 * a renamed one is already under its new path); a file watched
		 * by itself is gone from where it was */
		bool watched_dir = ev->dir_len && ev->dir[ev->dir_len - 1] == '/';
		if (!watched_dir)
			store_forget(rr->store, ev->path, NULL);
		return;
	}
	if (!wants(rr, ev->path, is_dir))
		return;
	if (m & rr->r.events)
		touch_ev(run, rr, ev, ev->path, (m & rr->r.events) | (m & IN_ISDIR), NULL, now);
	else if (rr->r.settle_ns && store_has(rr->store, ev->path))
		touch_ev(run, rr, ev, ev->path, 0, NULL, now); /* still changing: wait on */
}

