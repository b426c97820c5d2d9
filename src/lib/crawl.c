/* Listing directories, race-free (DESIGN.md, promise 1).
 *
 * Each directory is opened without following links, watched through that
 * very descriptor, and only then listed: whatever was created before the
 * watch is in the listing, whatever came after is in the kernel queue, and
 * seen.c keeps the overlap from being reported twice.
 *
 * Listing a directory is itself an event (open, access, close) on it and on
 * its parent. When those events are asked for, a crawl watches each
 * directory without them ("quiet") until it has left it and closed it, then
 * widens the watch: otherwise a crawl of a big tree would fill the kernel
 * queue with its own footsteps, and the re-crawl after the overflow would do
 * it again, for ever. The parent's watch is not narrowed: a new directory
 * shows its listing there (OPEN, ACCESS, CLOSE_NOWRITE with ISDIR), as
 * inotifywait's own listing does, and the side-by-side tests expect it.
 *
 * inotify_add_watch() takes a path, never a descriptor: watching the very
 * directory we hold open goes through /proc/self/fd/N, a lookup in procfs
 * (the magic link of "self", the pid, "fd", N) that costs more than the
 * rest of a watch and twice per directory. So a whole-root crawl runs in a
 * thread of its own with a working directory of its own (unshare(CLONE_FS),
 * as Samba's worker threads do): there, fchdir(fd) and a watch of "." name
 * the same object, race-free as ever, without procfs; and a directory that
 * had no subdirectory is still the working directory when it is widened.
 * The caller waits for the thread, so the engine is touched by one thread
 * at a time; nothing in a crawl calls back into the application. Without
 * a thread or unshare() (a thread limit, a seccomp filter), the crawl runs
 * in the caller's thread through procfs, as a new directory's crawl does.
 *
 * The walk is depth-first with an explicit stack, so depth costs no C stack.
 * A frame keeps its directory open while its subdirectories are visited;
 * past FD_BUDGET open frames the shallowest one is closed and reopened
 * through ".." on the way back up (checked by device and inode; by its path
 * in the tree if the child it is reached from was moved out of it), so a
 * tree deeper than PATH_MAX or the fd limit is still walked whole. If it
 * moved too, neither leads to it: what was left to visit in it is crawled
 * once its rename events are read (vigil.c's retries).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "beneath.h"
#include "bitset.h"
#include "engine.h"

#ifdef __has_include
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2_H 1
#endif
#endif

#define FD_BUDGET 48
#define DENTS_SIZE (32 * 1024)
/* What listing a directory causes. */
#define FOOTSTEPS (IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE)
/* The byte before a subdirectory's name in struct crawl's names: see
 * known_here */
#define KNOWN_HERE 'k'

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct frame {
	uint32_t node;
	int fd;             /* the directory, open for listing */
	bool synth;         /* report what the listing finds */
	bool quiet;         /* watched without FOOTSTEPS until left */
	bool whole;         /* its filesystem lists whole (whole_listing()) */
	size_t name_off;    /* its name, in the parent frame's names */
	dev_t dev;          /* valid while fd is closed by the budget */
	ino_t ino;
	size_t names_start; /* subdirectory names to visit, NUL-separated,
			     * each after a byte: KNOWN_HERE or 0 */
	size_t names_pos;
	size_t names_end;
};

struct crawl {
	struct vigil *v;
	uint32_t root;
	enum crawl_mode mode;
	uint32_t full_mask;  /* the mask each directory ends up with */
	uint32_t quiet_mask; /* the mask while it is being listed */
	bool quiet;          /* FOOTSTEPS are asked for: go quietly */
	struct frame *frames;
	size_t depth, cap;
	size_t open_fds;
	size_t lowest_open;  /* no frame below this index holds an fd */
	struct buf names;
	char *dents;
	int added;
	/* Directories a CRAWL_NEW found again by their watch, listed again
	 * after the walk (relist()), and what they hold reported: after a
	 * time detached from the trees (orphans, and what lay below them),
	 * when the events below them were dropped, so that what the tree
	 * holds there is stale and what happened there meanwhile was never
	 * said; or inside the new directory, moved there before it was
	 * watched (its contents are news). */
	struct stale { uint32_t node, serial; } *stale;
	size_t n_stale, cap_stale;
	bool report;         /* a rescan reporting all it finds (relist()) */
	/* A rescan (CRAWL_RESCAN) of a root that keeps names: each directory
	 * not reported whole is compared with what it held (held.h), and what
	 * changed is reported (list_frame()); a directory found under another
	 * name is reported gone from the old one, and whole at the new. */
	bool diff;
	/* A rescan after an overflow, names kept or not: a directory the tree
	 * does not have where a listing finds it is news (reported, with all
	 * it holds), not only what it holds. */
	bool gap;
	bool relocated;      /* attach() moved a known directory here */
	/* With diff: the directories this walk listed whole (node + 1). A
	 * reader has below them only what those listings reported: each was
	 * said gone first, or lies below one that was (list_frame()). */
	struct bitset whole;
	/* With diff: the directories this walk found (node + 1), where the
	 * tree has them, until found again elsewhere */
	struct bitset found;
	/* With diff: the tree's directories whose names a listing of this
	 * walk reported whole where the tree has them (listed whole, or
	 * reported anew over one owed a listing), and the inode found under
	 * that name (the same directory, or a new one) */
	struct listed { uint32_t node; ino_t ino; } *listed;
	size_t n_listed, cap_listed;
	/* The listing of the directory attach() is called in found the
	 * tree's directory under this name, and did not report it: a reader
	 * has that one there (KNOWN_HERE before the name in names) */
	bool known_here;
	bool own_cwd;        /* this thread's working directory is its own */
	int cwd_fd;          /* the descriptor watch_fd() just moved it to */
	uint32_t cwd_node;   /* the node whose directory it is, or NODE_NONE */
	bool nospace;        /* the watch limit left a directory out */
	int late_err;        /* -ENOMEM from pop_frame(), returned at the end */
	int noatime;         /* O_NOATIME, or 0 once refused (open_listing()) */
	bool whole_ok;       /* every signal blocked: see whole_listing() */
	/* The last attach() took its directory from a rename half waiting for
	 * its partner: a MOVED_FROM a reader has seen, and no MOVED_TO came
	 * for it (it left the trees, and is back by another way). */
	bool released;
	/* attach(): a directory watched elsewhere, with no half waiting for
	 * it, is ahead of its rename events: -EINPROGRESS (CRAWL_WAIT_AHEAD),
	 * unless it is EXPECTED (the one this rename moves) */
	bool wait_ahead;
	uint32_t expected;
	/* walk(): the top of the listings a reader is given whole that
	 * attach() is called in, or NODE_NONE (learn_found_ahead()) */
	uint32_t whole_top;
};

void engine_unwatch(void *ctx, int wd)
{
	struct vigil *v = ctx;
	v->src.ops->remove(&v->src, wd);
}

uint32_t engine_kernel_mask(const struct vigil *v, const struct root *r)
{
	uint32_t m = r->mask & IN_ALL_EVENTS;
	if (r->flags & VIGIL_RECURSIVE)
		m |= TRACK_MASK;
	if (r->names)
		m |= NAMES_MASK;
	if ((v->flags & VIGIL_PAIR_MOVES) && (m & IN_MOVE))
		m |= IN_MOVE;
	return m | IN_MASK_ADD;
}

/* What a listed entry is reported as, given the events asked for (see
 * VIGIL_EVENT_SYNTHETIC in vigil.h). 0: not reported. */
static uint32_t synthetic_mask(uint32_t asked, bool is_dir)
{
	if (asked & IN_CREATE)
		return IN_CREATE | (is_dir ? IN_ISDIR : 0);
	if (is_dir)
		return 0;
	if (asked & IN_CLOSE_WRITE)
		return IN_CLOSE_WRITE;
	if (asked & IN_MOVED_TO)
		return IN_MOVED_TO;
	return 0;
}

/* Report NAME under PARENT as a synthetic MASK (IN_DELETE, or a creation,
 * with IN_ISDIR for a directory), as far as root C->root asks for it. */
static int say(struct crawl *c, uint32_t parent, const char *name, size_t len,
	       uint32_t mask)
{
	struct vigil *v = c->v;
	uint32_t asked = v->roots[c->root].mask;
	uint32_t m = mask & IN_DELETE ? (asked & IN_DELETE ? mask : 0)
				       : synthetic_mask(asked, mask & IN_ISDIR);
	if (!m)
		return 0;
	return engine_emit_at(v, parent, name, len, m, 0, VIGIL_EVENT_SYNTHETIC);
}

/* NODE's path below its root, into OUT ("" for the root itself). */
static int rel_path(struct vigil *v, uint32_t node, struct buf *out)
{
	buf_clear(out);
	int r = tree_path(&v->tree, node, out);
	if (r < 0)
		return r;
	uint32_t top = tree_root_of(&v->tree, node);
	if (top == NODE_NONE)
		return -ELOOP;
	size_t skip = tree_node(&v->tree, top)->name_len;
	while (skip < out->len && out->data[skip] == '/')
		skip++;
	memmove(out->data, out->data + skip, out->len - skip + 1);
	out->len -= skip;
	return 0;
}

int open_beneath(int dirfd, const char *rel, int mode)
{
#ifdef HAVE_OPENAT2_H
	struct open_how how = {
		.flags = (uint64_t)(mode | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, *rel ? rel : ".", &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno != ENOSYS && errno != ENAMETOOLONG)
		return -errno;
#endif
	/* One component at a time: no length limit, no link followed. The
	 * directories on the way are opened O_PATH, which is no event. */
	int cur = -1;
	const char *p = rel;
	for (;;) {
		while (*p == '/')
			p++;
		const char *slash = strchrnul(p, '/');
		size_t n = (size_t)(slash - p);
		const char *rest = slash;
		while (*rest == '/')
			rest++;
		bool last = !*rest;
		char comp[NAME_MAX + 1];
		if (n > NAME_MAX) {
			if (cur >= 0)
				close(cur);
			return -ENAMETOOLONG;
		}
		memcpy(comp, n ? p : ".", n ? n : 1);
		comp[n ? n : 1] = '\0';
		int flags = O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | (last ? mode : O_PATH);
		int next = openat(cur >= 0 ? cur : dirfd, comp, flags);
		int err = errno;
		if (cur >= 0)
			close(cur);
		if (next < 0)
			return -err;
		cur = next;
		if (last)
			return cur;
		p = rest;
	}
}

/* Open NAME under the watched directory PARENT (NAME NULL: PARENT itself),
 * from its root's pinned descriptor, following no symbolic link on the
 * way. MODE as for open_beneath(). */
static int open_below(struct vigil *v, uint32_t parent, const char *name,
		      size_t len, int mode)
{
	uint32_t ri = engine_root_index(v, parent);
	int rfd = ri == NODE_NONE ? -ENOENT : engine_root_fd(v, ri);
	if (rfd < 0)
		return -ENOENT; /* a detached subtree, or its root is gone */
	int r = rel_path(v, parent, &v->scratch);
	if (r < 0)
		return r;
	if (name && ((v->scratch.len && (r = buf_putc(&v->scratch, '/')) < 0) ||
		     (r = buf_append(&v->scratch, name, len)) < 0))
		return r;
	return open_beneath(rfd, v->scratch.data, mode);
}

/* Watch the directory open at FD with MASK: as "." after fchdir(FD) when
 * the working directory is the crawl's own, else through procfs. */
static int watch_fd(struct crawl *c, int fd, uint32_t mask, int *ret_wd)
{
	struct source *s = &c->v->src;
	c->cwd_node = NODE_NONE;
	c->cwd_fd = -1;
	if (c->own_cwd && fchdir(fd) == 0) {
		c->cwd_fd = fd;
		return s->ops->add_path(s, ".", mask | IN_ONLYDIR, ret_wd);
	}
	return s->ops->add_fd(s, fd, mask, ret_wd);
}

/* Have NODE listed again after this CRAWL_NEW, and what it holds reported
 * (see struct crawl's stale). */
static int stale_add(struct crawl *c, uint32_t node)
{
	if (c->n_stale && c->stale[c->n_stale - 1].node == node)
		return 0;
	if (array_grow((void **)&c->stale, &c->cap_stale, c->n_stale, sizeof(*c->stale), 4) < 0)
		return -ENOMEM;
	c->stale[c->n_stale++] = (struct stale){node, tree_node(&c->v->tree, node)->serial};
	return 0;
}

/* A reader is told that NODE is gone from where the tree has it, if a
 * reader has it there: not when it or a directory above it is held by a
 * rename half (a reader has had its MOVED_FROM) or owed a listing (a
 * reader was told to forget it, or never had it; but NODE's own path a
 * reader has if an arrival under its name was reported, named); nor when a listing
 * reported something else under that path since (a reader has that there
 * now: a DELETE would take it away). A directory that listing reported
 * that is NODE itself (NODE's mark is the listing's generation: its walk
 * put it there; or the entry has FD's inode) is no other: a reader has
 * NODE there, and is told. The inode, as a listing that finds NODE there
 * again since (its own MOVED_TO read, ahead_here) marks it with its own
 * generation, and the one that reported it is not told from another
 * (churn.bats, ./b2_4995 stale; test_catchup.c); the mark still, where
 * d_ino is not st_ino (overlayfs without xino). */
static int say_gone(struct crawl *c, uint32_t node, int fd)
{
	struct vigil *v = c->v;
	const struct node *x = tree_node(&v->tree, node);
	if (x->parent == NODE_NONE)
		return 0;
	for (uint32_t n = node; n != NODE_NONE; n = tree_node(&v->tree, n)->parent) {
		const struct node *y = tree_node(&v->tree, n);
		if ((y->owed && !(n == node && y->named)) || moves_holds(&v->moves, n, y->serial))
			return 0;
	}
	/* Asked at the next record to process, not at v->stream_read: a
	 * listing sealed with the queue dry has its mark at v->stream_read,
	 * and its entries still tell (a DELETE here took away a file this very
	 * walk had just reported under the name; test_catchup.c). */
	uint64_t next = v->stream_read - (v->rbuf_len - v->rbuf_off);
	const char *old = tree_name(&v->tree, node);
	const struct seen_entry *e = seen_listed(&v->seen, tree_node(&v->tree, x->parent)->wd,
						 old, x->name_len, next);
	if (e) {
		struct stat st;
		bool self = (e->mask & IN_ISDIR) &&
			    ((x->mark && e->generation == x->mark) ||
			     (e->ino && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == e->ino));
		if (!self)
			return 0;
	}
	char nm[NAME_MAX + 1];
	size_t ol = x->name_len < sizeof(nm) ? x->name_len : sizeof(nm) - 1;
	memcpy(nm, old, ol);
	return say(c, x->parent, nm, ol, IN_DELETE | IN_ISDIR);
}

/* A rescan that keeps names: the directory the tree had under NAME in
 * PARENT when PARENT was listed (not reported then: a reader had it) was
 * found elsewhere since by the walk, which said it gone from here
 * (diff_moved()); the one here now is news to a reader, reported as the
 * listing reports one (what it holds is reported whole: it is new to the
 * tree, or relocated). */
static int say_vacated(struct crawl *c, uint32_t parent, const char *name, size_t len)
{
	int e = say(c, parent, name, len, IN_CREATE | IN_ISDIR);
	if (e < 0)
		return e;
	return seen_add(&c->v->seen, tree_node(&c->v->tree, parent)->wd, name, len,
			IN_CREATE | IN_ISDIR);
}

/* Whether a listing of this walk reported the tree's directory NODE where
 * the tree has it, as the directory of inode INO (found elsewhere now). */
static bool listed_there(const struct crawl *c, uint32_t node, ino_t ino)
{
	for (size_t i = c->n_listed; i-- > 0;)
		if (c->listed[i].node == node)
			return c->listed[i].ino == ino;
	return false;
}

/* Whether a listing of this walk reported whole the name the tree has
 * NODE under, where the tree has it (a reader has there what it found). */
static bool reported_over(const struct crawl *c, uint32_t node)
{
	for (size_t i = c->n_listed; i-- > 0;)
		if (c->listed[i].node == node)
			return true;
	return false;
}

/* A rescan that keeps names found the known directory EXISTING (open at
 * FD) under NAME in PARENT: a reader has it where the tree has it, and is
 * told it is gone from there (unless this walk listed the tree's parent of
 * it whole and did not find it there: a reader has there what that
 * listing found, a new directory under the old name or nothing; or one
 * of its listings reported another directory whole under that name, over
 * this one, owed: seed 3191); and if the tree has another directory
 * (CHILD) under NAME, a reader has that one here, and is told it is gone,
 * and this one new. What it holds is reported whole (c->relocated). */
static int diff_moved(struct crawl *c, uint32_t existing, int fd, uint32_t parent,
		      const char *name, size_t len, uint32_t child)
{
	struct vigil *v = c->v;
	const struct node *x = tree_node(&v->tree, existing);
	int e = 0;
	struct stat st;
	if (x->parent != NODE_NONE && engine_root_index(v, existing) != NODE_NONE &&
	    (bitset_has(&c->found, (int)existing + 1) || fstat(fd, &st) < 0 ||
	     listed_there(c, existing, st.st_ino) ||
	     (!bitset_has(&c->whole, (int)x->parent + 1) && !reported_over(c, existing)))) {
		char old[NAME_MAX + 1];
		size_t ol = x->name_len < sizeof(old) ? x->name_len : sizeof(old) - 1;
		memcpy(old, tree_name(&v->tree, existing), ol);
		e = say(c, x->parent, old, ol, IN_DELETE | IN_ISDIR);
	}
	if (e >= 0 && child != NODE_NONE &&
	    (e = say(c, parent, name, len, IN_DELETE | IN_ISDIR)) >= 0)
		e = say(c, parent, name, len, IN_CREATE | IN_ISDIR);
	else if (e >= 0 && child == NODE_NONE && c->known_here)
		e = say_vacated(c, parent, name, len);
	c->relocated = true;
	return e;
}

/* A listing ahead of the events moves the known directory NODE here:
 * a reader has here only what listings report (reported whole, or not
 * yet: its MOVED_TO lists it again); where the tree had it, nothing (said
 * gone, or never had it, or taken away with its MOVED_FROM). A directory
 * the tree has below it that no listing finds here (one this walk found
 * where it was, then moved out of it before it moved here: its rename
 * still in the queue) is with a reader nowhere: owed a listing where it
 * is found next (crawl_new(), its MOVED_TO), and not said gone
 * (say_gone()). One a listing finds here and reports whole owes nothing
 * (walk()). Without this its rename's halves, read later, moved an empty
 * name for a reader (churn.bats, three fast writers, 2 files missing:
 * after an overflow, diff_moved(); test_catchup.c, in a relist too). */
static void owe_below(struct vigil *v, uint32_t node)
{
	for (uint32_t n = tree_node(&v->tree, node)->first_child; n != NODE_NONE;
	     n = tree_node(&v->tree, n)->next_sibling) {
		struct node *y = tree_node(&v->tree, n);
		y->owed = true;
		y->named = false;
	}
}

/* Watch the directory at FD as NAME under PARENT. Returns its node, or
 * NODE_NONE to skip it (*ret_err says whether that is fatal). */
static uint32_t attach(struct crawl *c, uint32_t parent, const char *name,
		       size_t len, int fd, bool *ret_fresh, int *ret_err)
{
	struct vigil *v = c->v;
	int wd;
	*ret_err = 0;
	*ret_fresh = false;
	c->released = false;
	c->relocated = false;
	int e = watch_fd(c, fd, c->quiet ? c->quiet_mask : c->full_mask, &wd);
	if (e < 0) {
		/* -ENOSPC: the caller says what the limit left out */
		if (e == -ENOSPC || e == -ENOMEM)
			*ret_err = e;
		else if (engine_entry_path(v, parent, name, len, &v->scratch) == 0)
			engine_emit_error(v, v->scratch.data, v->scratch.len, e);
		return NODE_NONE;
	}
	struct tree *t = &v->tree;
	uint32_t existing = tree_find_wd(t, wd);
	uint32_t child = tree_find_child(t, parent, name, len);
	/* A listing that finds a directory marks it with its generation, so
	 * that a rename read later but queued before the finding is not taken
	 * for this directory's (seen_after()). The directory a rename's far
	 * end expects is placed by that rename's events, not found ahead of
	 * them: its next rename, queued before this, is its own. */
	bool by_events = existing != NODE_NONE && existing == c->expected;
	/* with a filesystem mark, a listing may run ahead of the rename
	 * events that bring a directory here (learn.h): they place it */
	if ((existing == NODE_NONE || existing != child) && !by_events &&
	    learn_found_ahead(v, wd, parent, name, len, c->whole_top))
		return NODE_NONE;
	if (existing != NODE_NONE) {
		if (existing == child) {
			/* left and came back under the same name: it stays */
			c->released = moves_release_node(&v->moves, existing,
							 tree_node(t, existing)->serial);
			if (!by_events)
				tree_node(t, existing)->mark = v->generation;
			return existing;
		}
		/* The same directory under another name: renamed here, and the
		 * listing is the latest word on where it is. Its rename events
		 * may be still to read (or lost to an overflow, or half of them
		 * never sent, as when this directory was not watched yet when
		 * it moved in): move the node here, and let a half that holds
		 * it go, so that the half ending does not take its watches. A
		 * directory that would become its own ancestor (a bind mount
		 * loop) is watched once, where it is. */
		if (tree_is_ancestor(t, existing, parent))
			return NODE_NONE;
		uint32_t serial = tree_node(t, existing)->serial;
		if (c->wait_ahead && existing != c->expected &&
		    engine_root_index(v, existing) != NODE_NONE &&
		    !moves_holds(&v->moves, existing, serial) && !engine_caught_up(v)) {
			/* In its place in the trees, and nothing says it left:
			 * its rename is in the queue, and what happens in it
			 * until then is to be reported where it was. */
			*ret_err = -EINPROGRESS;
			return NODE_NONE;
		}
		c->released = moves_release_node(&v->moves, existing, serial);
		/* A listing ahead of the events moves it here from where a
		 * reader has it: its old path, with what a reader has below
		 * it, is gone (a synthetic DELETE), as nothing else will say
		 * so (its MOVED_FROM, when read, names a path a reader no
		 * longer has; its MOVED_TO finds it here, listed again). */
		if (!c->diff && !c->gap && c->mode != CRAWL_INITIAL && !c->released && !by_events &&
		    engine_root_index(v, existing) != NODE_NONE &&
		    (*ret_err = say_gone(c, existing, fd)) < 0)
			return NODE_NONE;
		if (c->mode == CRAWL_NEW && engine_root_index(v, existing) == NODE_NONE &&
		    (*ret_err = stale_add(c, existing)) < 0)
			return NODE_NONE;
		if (c->diff && (*ret_err = diff_moved(c, existing, fd, parent, name, len, child)) < 0)
			return NODE_NONE;
		if (!by_events && c->mode != CRAWL_INITIAL && (c->diff || !c->gap))
			owe_below(v, existing);
		/* it may lie below the node it replaces: take it out first */
		tree_detach(t, existing);
		if (child != NODE_NONE)
			engine_orphan(v, child);
		if (tree_rename(t, existing, parent, name, len) < 0)
			return NODE_NONE;
		v->tree_gen++;
		if (!by_events)
			tree_node(t, existing)->mark = v->generation;
		return existing;
	}
	if (child != NODE_NONE) {
		/* a new directory under an old name: the old one was renamed
		 * or deleted, and its events will tell which (after an
		 * overflow, a reader is told that one is gone, and this new) */
		if (c->diff && ((*ret_err = say(c, parent, name, len, IN_DELETE | IN_ISDIR)) < 0 ||
				(*ret_err = say(c, parent, name, len, IN_CREATE | IN_ISDIR)) < 0))
			return NODE_NONE;
		engine_orphan(v, child);
		v->tree_gen++;
	} else if (c->diff && c->known_here &&
		   (*ret_err = say_vacated(c, parent, name, len)) < 0) {
		v->src.ops->remove(&v->src, wd);
		return NODE_NONE;
	}
	uint32_t n = tree_add_child(t, parent, name, len, wd);
	if (n == NODE_NONE) {
		v->src.ops->remove(&v->src, wd);
		*ret_err = -ENOMEM;
		return NODE_NONE;
	}
	tree_node(t, n)->mark = v->generation;
	*ret_fresh = true;
	c->added++;
	return n;
}

/* Give a quietly watched directory its full mask, now that the crawl has
 * closed it. PARENT is the frame below it, or NULL. */
static void widen(struct crawl *c, uint32_t node, struct frame *parent,
		  const char *name)
{
	struct vigil *v = c->v;
	const struct root *r = &v->roots[c->root];
	int rfd = engine_root_fd(v, c->root); /* open while the crawl runs */
	int wd = -1, e;
	if (node == c->cwd_node)
		e = v->src.ops->add_path(&v->src, ".", c->full_mask | IN_ONLYDIR, &wd);
	else if (rfd < 0)
		e = rfd; /* the root is gone */
	else if (node == r->node)
		e = v->src.ops->add_fd(&v->src, rfd, c->full_mask, &wd);
	else if (parent && parent->fd >= 0)
		e = v->src.ops->add_at(&v->src, parent->fd, name,
				       c->full_mask | IN_DONT_FOLLOW | IN_ONLYDIR, &wd);
	else if ((e = rel_path(v, node, &v->scratch)) == 0)
		e = v->src.ops->add_at(&v->src, rfd, v->scratch.data,
				       c->full_mask | IN_DONT_FOLLOW | IN_ONLYDIR, &wd);
	/* renamed or replaced meanwhile: we widened something else */
	if (e == 0 && wd != tree_node(&v->tree, node)->wd &&
	    tree_find_wd(&v->tree, wd) == NODE_NONE)
		v->src.ops->remove(&v->src, wd);
}

static int entry_type(int dirfd, const char *name, unsigned char d_type)
{
	if (d_type != DT_UNKNOWN)
		return d_type;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
}

/* Whether a getdents64() on FD that leaves room in the buffer has reached
 * the end, so that the call that would return 0 can be spared (a directory
 * in two calls, not three or two: 5% of a 100,000-directory set-up).
 *
 * The kernel fills the buffer until an entry does not fit or the filesystem
 * has no more, and these filesystems give all they have in one call; FUSE,
 * NFS and others may stop at a page or a reply, so they are not trusted.
 * filldir64() also stops early when a signal is pending for the thread,
 * which is why the hint is only taken where every signal is blocked (the
 * crawl thread); a filesystem mounted below one that is trusted is found
 * by RESOLVE_NO_XDEV (open_listing()) and asked for itself. */
#define WHOLE_SLACK (sizeof(struct linux_dirent64) + NAME_MAX + 1 + 8)
static bool whole_listing(int fd)
{
	struct statfs fs;
	if (fstatfs(fd, &fs) < 0)
		return false;
	switch ((unsigned long)fs.f_type) {
	case TMPFS_MAGIC:
	case EXT4_SUPER_MAGIC: /* ext2 and ext3 too */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}

/* After a rescan's listing of frame F (at DIR): each name F's directory
 * held that is not there now vanished in the gap, and a reader is told
 * (a synthetic DELETE); a name that is a directory now is the tree's. (A
 * name the listing found a directory under is held no longer: list_frame()
 * ended its hold.) */
static int diff_gone(struct crawl *c, struct frame *f, const char *dir, size_t dir_len)
{
	struct vigil *v = c->v;
	uint32_t serial = tree_node(&v->tree, f->node)->serial;
	bool asked = v->roots[c->root].mask & IN_DELETE;
	char nm[NAME_MAX + 1];
	for (uint32_t i = held_first(&v->held, f->node, serial), next; i != HELD_NONE; i = next) {
		next = held_next(&v->held, i);
		size_t nl;
		const char *name = held_name(&v->held, i, &nl);
		if (nl > NAME_MAX)
			continue;
		memcpy(nm, name, nl);
		nm[nl] = '\0';
		struct stat st;
		int r = fstatat(f->fd, nm, &st, AT_SYMLINK_NOFOLLOW);
		bool gone = r < 0 && (errno == ENOENT || errno == ENOTDIR);
		if ((r == 0 && !S_ISDIR(st.st_mode)) || (r < 0 && !gone))
			continue; /* there still (or cannot tell) */
		held_del(&v->held, f->node, serial, nm, nl);
		int e;
		if (gone && asked &&
		    (e = engine_emit(v, dir, dir_len, nm, nl, IN_DELETE, 0,
				     VIGIL_EVENT_SYNTHETIC, 0, NULL)) < 0)
			return e;
	}
	return 0;
}

/* A listing reported whole the directory of inode INO as NAME in PARENT:
 * if the tree has one there, note which was found under its name. */
static int listed_add(struct crawl *c, uint32_t parent, const char *name, size_t len,
		      ino_t ino)
{
	uint32_t x = tree_find_child(&c->v->tree, parent, name, len);
	if (x == NODE_NONE)
		return 0;
	if (array_grow((void **)&c->listed, &c->cap_listed, c->n_listed, sizeof(*c->listed), 16) < 0)
		return -ENOMEM;
	c->listed[c->n_listed++] = (struct listed){x, ino};
	return 0;
}

/* List the directory of frame F: report entries if F->synth, and queue its
 * subdirectories for the walk. */
static int list_frame(struct crawl *c, struct frame *f)
{
	struct vigil *v = c->v;
	const struct root *r = &v->roots[c->root];
	const char *dir = NULL;
	size_t dir_len = 0;
	int wd = tree_node(&v->tree, f->node)->wd;
	bool filtering = filter_active(&v->filter);
	bool names = r->names;
	bool diff = c->diff && !f->synth;
	bool gap = c->gap && !f->synth;
	uint32_t serial = tree_node(&v->tree, f->node)->serial;
	int err = 0;
	if ((f->synth || filtering || gap) &&
	    (err = engine_node_dir(v, f->node, &dir, &dir_len)) < 0)
		return err;
	/* reported whole: a reader has only what this listing says */
	if (names && f->synth)
		held_clear(&v->held, f->node, serial);
	/* What was held back on its entries (below a rename still to settle)
	 * was queued before this listing began, and the listing says better.
	 * Replayed after it, at the stream's end, such a record is past the
	 * listing's mark and no longer taken for what it reported (seen.h): a
	 * file's DELETE there took from a reader the directory this listing
	 * reports under that name. relist_at() drops what waited below its
	 * top; this is for a known directory the walk finds below that, moved
	 * there while its own rename was held (bench/churn.sh, ASan build,
	 * three writers: './back-322/n2/n3' missing). */
	if (f->synth)
		engine_drop_deferred_in(v, f->node);
	if (c->diff && f->synth && (err = bitset_put(&c->whole, (int)f->node + 1, true)) < 0)
		return err;

	/* where the stream stands as the listing begins: every kernel event
	 * queued so far precedes what it finds */
	uint64_t began = 0;
	if (gap) {
		size_t pending = 0;
		v->src.ops->pending(&v->src, &pending);
		began = v->stream_read + pending;
	}
	f->names_start = f->names_pos = c->names.len;
	for (;;) {
		long n = syscall(SYS_getdents64, f->fd, c->dents, DENTS_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* a directory deleted under us reads as ENOENT */
			if (errno != ENOENT) {
				int e = -errno;
				if (engine_node_dir(v, f->node, &dir, &dir_len) == 0)
					engine_emit_error(v, dir, dir_len, e);
			}
			break;
		}
		if (n == 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (void *)(c->dents + off);
			off += d->d_reclen;
			const char *nm = d->d_name;
			if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
				continue;
			size_t nl = strlen(nm);
			bool is_dir = entry_type(f->fd, nm, d->d_type) == DT_DIR;
			if (filtering) {
				buf_clear(&v->scratch);
				if ((err = buf_append(&v->scratch, dir, dir_len)) < 0 ||
				    (err = buf_append(&v->scratch, nm, nl)) < 0)
					goto out;
				if (filter_excludes(&v->filter, v->scratch.data, v->scratch.len))
					continue;
			}
			/* with a filesystem mark, a file found where the tree
			 * has a directory that events still to read take
			 * away: the listing is ahead, and both are left to
			 * those events (learn.h) */
			if (!is_dir && learn_file_ahead(v, f->node, nm, nl))
				continue;
			/* After an overflow, a file name held here that the
			 * listing finds a directory under is no file a reader
			 * has: it has that directory there (reported below, or
			 * known). The hold ends now, without a word. Left to
			 * diff_gone(), whose check comes after the listing, it
			 * was said gone if the directory had left by then, and
			 * the DELETE took from a reader the directory this
			 * listing reported (churn.bats's queue case with slow
			 * writers, seed 50044: './n3' missing; test_catchup.c).
			 * Where the directory went, its events tell. */
			if (diff && is_dir && names)
				held_del(&v->held, f->node, serial, nm, nl);
			/* reported: all when whole; after an overflow, what a
			 * reader was not told of (a directory the tree does
			 * not have here, or owes a listing, or a name it does
			 * not hold) */
			bool news = f->synth;
			char known_here = 0;
			if (news && c->diff && !is_dir) {
				/* Reported whole after an overflow, a file has the
				 * name of a directory the tree has here (gone in
				 * the gap, or moved away): a reader has the file
				 * from this listing, not that directory. Put aside,
				 * so that neither the sweep after the walk nor the
				 * walk finding it elsewhere says this path gone,
				 * taking the file with it. */
				uint32_t x = tree_find_child(&v->tree, f->node, nm, nl);
				if (x != NODE_NONE) {
					engine_orphan(v, x);
					v->tree_gen++;
					if ((err = engine_node_dir(v, f->node, &dir, &dir_len)) < 0)
						goto out;
				}
			}
			if (!news && gap && is_dir) {
				uint32_t x = tree_find_child(&v->tree, f->node, nm, nl);
				news = x == NODE_NONE || tree_node(&v->tree, x)->owed;
				known_here = news ? 0 : KNOWN_HERE;
				/* Not reported: a reader has it. A file's events
				 * under this name queued before this listing
				 * (the directory out and back in the gap, its
				 * own events lost) are of a file before it, and
				 * its DELETE would take the directory away from
				 * a reader (seed 3121): dropped, as for one
				 * reported (seen.h). */
				if (!news && (err = seen_found_dir(&v->seen, wd, nm, nl,
								   v->stream_read, began)) < 0)
					goto out;
				/* Reported whole here, it replaces whatever a
				 * reader may still have under this path (what a
				 * listing or events put there, whose way out was
				 * lost with the queue): a CREATE replaces nothing
				 * in a reader's model, so a DELETE first. */
				if (news && c->diff &&
				    (err = say(c, f->node, nm, nl, IN_DELETE | IN_ISDIR)) < 0)
					goto out;
				/* over the tree's directory (owed): a reader has
				 * this one under the name now, whichever it is */
				if (news && c->diff && x != NODE_NONE &&
				    (err = listed_add(c, f->node, nm, nl, d->d_ino)) < 0)
					goto out;
			} else if (!news && diff) {
				uint32_t x = tree_find_child(&v->tree, f->node, nm, nl);
				if (x != NODE_NONE) {
					/* The directory the tree has here went in the
					 * gap, and a file has its name: a reader is told
					 * now, before the file (the sweep after the walk
					 * would say it after, and take the file with
					 * it). Put aside, it is not said again; one
					 * below it found elsewhere is new there. */
					if ((err = say(c, f->node, nm, nl, IN_DELETE | IN_ISDIR)) < 0)
						goto out;
					engine_orphan(v, x);
					v->tree_gen++;
					if ((err = engine_node_dir(v, f->node, &dir, &dir_len)) < 0)
						goto out;
					news = true;
				} else {
					news = !held_has(&v->held, f->node, serial, nm, nl);
				}
			}
			if (news) {
				uint32_t m = synthetic_mask(r->mask, is_dir);
				if (m && (err = engine_emit(v, dir, dir_len, nm, nl, m, 0,
							    VIGIL_EVENT_SYNTHETIC |
							    engine_polled(v, f->node), 0, NULL)) < 0)
					goto out;
				uint32_t absorb = IN_CREATE | (m & ~(uint32_t)IN_MOVED_TO) |
						  (is_dir ? IN_ISDIR : 0);
				if ((err = seen_add(&v->seen, wd, nm, nl, absorb)) < 0)
					goto out;
				if (is_dir)
					seen_set_ino(&v->seen, d->d_ino);
			}
			if (names && !is_dir &&
			    (err = held_add(&v->held, f->node, serial, nm, nl)) < 0)
				goto out;
			if (is_dir && f->synth && c->diff &&
			    (err = listed_add(c, f->node, nm, nl, d->d_ino)) < 0)
				goto out;
			if (is_dir && ((err = buf_putc(&c->names, known_here)) < 0 ||
				       (err = buf_append(&c->names, nm, nl + 1)) < 0))
				goto out;
		}
		/* room left for the longest entry: the end (whole_listing()) */
		if (f->whole && (size_t)n + WHOLE_SLACK <= DENTS_SIZE)
			break;
	}
	if (diff && err >= 0)
		err = diff_gone(c, f, dir, dir_len);
out:
	f->names_end = c->names.len;
	if (f->synth || gap) {
		/* every kernel event queued so far precedes this mark */
		size_t pending = 0;
		v->src.ops->pending(&v->src, &pending);
		seen_seal(&v->seen, v->stream_read + pending);
	}
	return err;
}

static int push_frame(struct crawl *c, uint32_t node, int fd, bool synth,
		      size_t name_off, bool whole)
{
	if (array_grow((void **)&c->frames, &c->cap, c->depth, sizeof(*c->frames), 16) < 0) {
		close(fd);
		if (c->quiet)
			widen(c, node, c->depth ? &c->frames[c->depth - 1] : NULL,
			      c->names.data ? c->names.data + name_off : "");
		return -ENOMEM;
	}
	struct frame *f = &c->frames[c->depth++];
	*f = (struct frame){.node = node, .fd = fd, .synth = synth,
			    .quiet = c->quiet, .name_off = name_off, .whole = whole};
	c->open_fds++;
	if (c->open_fds > FD_BUDGET) {
		while (c->frames[c->lowest_open].fd < 0)
			c->lowest_open++;
		struct frame *low = &c->frames[c->lowest_open];
		struct stat st;
		if (fstat(low->fd, &st) == 0) {
			low->dev = st.st_dev;
			low->ino = st.st_ino;
		}
		close(low->fd);
		low->fd = -1;
		c->open_fds--;
	}
	return list_frame(c, f);
}

/* Whether the directory open at FD is frame P's (by device and inode). */
static bool frame_is(int fd, const struct frame *p)
{
	struct stat st;
	return fstat(fd, &st) == 0 && st.st_dev == p->dev && st.st_ino == p->ino;
}

/* Open again frame P, closed by the budget, on the way up from its child F:
 * through F's "..", or, if F was moved out of P meanwhile, by P's path in
 * the tree (F's rename events will tell where F went, not what is left to
 * visit in P). -1 if neither leads to P: it moved too. */
static int reopen_frame(struct crawl *c, const struct frame *f, const struct frame *p)
{
	int fd = f->fd < 0 ? -1 : openat(f->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && frame_is(fd, p))
		return fd;
	if (fd >= 0)
		close(fd);
	fd = open_below(c->v, p->node, NULL, 0, O_RDONLY);
	if (fd >= 0 && frame_is(fd, p))
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Leave the top frame: reopen its parent if the budget closed it, close it,
 * and widen its watch. The parent is reopened even with nothing left to
 * visit in it: the way up to the frames below it goes through it. */
static void pop_frame(struct crawl *c)
{
	struct frame *f = &c->frames[--c->depth];
	struct frame *p = c->depth ? &c->frames[c->depth - 1] : NULL;
	if (p && p->fd < 0) {
		int fd = reopen_frame(c, f, p);
		if (fd < 0) {
			/* It moved too. Its rename events, still to read, will
			 * move it in the tree but not list it: what is left to
			 * visit in it is visited once they are read (a retry,
			 * in vigil.c), where they put it. */
			while (p->names_pos < p->names_end) {
				const char *nm = c->names.data + p->names_pos + 1;
				size_t nl = strlen(nm);
				p->names_pos += nl + 2;
				int e = engine_retry(c->v, c->root, p->node, nm, nl, 0, c->mode);
				if (e < 0)
					c->late_err = e;
			}
		} else {
			p->fd = fd;
			c->open_fds++;
			if (c->depth - 1 < c->lowest_open)
				c->lowest_open = c->depth - 1;
		}
	}
	if (f->fd >= 0) {
		/* widened as ".": exactly what was listed, not what has its name now */
		if (f->quiet && c->own_cwd && c->cwd_node != f->node && fchdir(f->fd) == 0)
			c->cwd_node = f->node;
		close(f->fd);
		c->open_fds--;
	}
	if (f->quiet)
		widen(c, f->node, p, c->names.data ? c->names.data + f->name_off : "");
	c->names.len = f->names_start;
	if (c->lowest_open > c->depth)
		c->lowest_open = c->depth;
}

/* How many directories are below the one open at FD (closed here), whose
 * path is in PATH, excluded ones left out. Nothing there is watched, so
 * listing it is no event. A level that cannot be opened (descriptors run
 * out past a depth of about the fd limit) is not counted. */
static size_t count_below(struct vigil *v, int fd, struct buf *path)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	bool filtering = filter_active(&v->filter);
	size_t n = 0, len = path->len;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *nm = e->d_name;
		if ((nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2]))) ||
		    (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		path->len = len;
		if (buf_putc(path, '/') < 0 || buf_append(path, nm, strlen(nm)) < 0)
			break;
		if (filtering && filter_excludes(&v->filter, path->data, path->len))
			continue;
		int sub = openat(dirfd(d), nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0)
			n += 1 + count_below(v, sub, path);
	}
	path->len = len;
	buf_terminate(path);
	closedir(d);
	return n;
}

/* The directory NAME under PARENT, open at FD (taken), was left out at the
 * watch limit: an error event says so, and how many directories that
 * leaves unwatched. Its parent is watched quietly, or it is new and its
 * listing is expected there: opening it again is no news. */
static int left_out(struct crawl *c, uint32_t parent, const char *name,
		    size_t len, int fd)
{
	struct vigil *v = c->v;
	struct buf path = {0};
	c->nospace = true;
	int r = engine_entry_path(v, parent, name, len, &path);
	if (r == 0) {
		int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		size_t dirs = 1 + (dfd >= 0 ? count_below(v, dfd, &path) : 0);
		r = engine_emit_left_out(v, path.data, path.len, dirs);
	}
	close(fd);
	buf_free(&path);
	return r;
}

/* openat() for open_listing(), through openat2() with RESOLVE (if not 0);
 * with O_NOATIME until refused. */
static int open_dir(struct crawl *c, int dirfd, const char *nm, uint64_t resolve)
{
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	for (;;) {
		int fd;
#ifdef HAVE_OPENAT2_H
		if (resolve) {
			struct open_how how = {.flags = (uint64_t)(flags | c->noatime),
					       .resolve = resolve};
			fd = (int)syscall(SYS_openat2, dirfd, nm, &how, sizeof(how));
		} else
#endif
		{
			(void)resolve;
			fd = openat(dirfd, nm, flags | c->noatime);
		}
		if (fd >= 0 || errno != EPERM || !c->noatime)
			return fd;
		c->noatime = 0;
	}
}

/* Open directory NM in frame P, without following a link, for listing;
 * *WHOLE says whether its filesystem lists whole (whole_listing()): as P's
 * unless it is a mount point. With O_NOATIME: a watcher's listing is not
 * a read anyone asked for (what cleans up by atime, tmpreaper say, would
 * take every directory for used), and each would be an inode update.
 * Refused (EPERM: not the owner, and no CAP_FOWNER), the crawl stops
 * asking. */
static int open_listing(struct crawl *c, const struct frame *p, const char *nm, bool *whole)
{
	*whole = false;
#ifdef HAVE_OPENAT2_H
	if (p->whole && c->whole_ok) {
		int fd = open_dir(c, p->fd, nm, RESOLVE_NO_XDEV);
		if (fd >= 0) {
			*whole = true;
			return fd;
		}
		if (errno == ENOSYS)
			c->whole_ok = false; /* no openat2(): no mount is seen */
		else if (errno != EXDEV)
			return -1;
	}
#endif
	int fd = open_dir(c, p->fd, nm, 0);
	if (fd >= 0 && p->whole && c->whole_ok)
		*whole = whole_listing(fd); /* a mount point: what is there */
	return fd;
}

static int walk(struct crawl *c)
{
	struct vigil *v = c->v;
	int err = 0;
	while (c->depth) {
		struct frame *f = &c->frames[c->depth - 1];
		if (f->names_pos >= f->names_end || f->fd < 0) {
			pop_frame(c);
			continue;
		}
		bool known_here = c->names.data[f->names_pos] == KNOWN_HERE;
		size_t name_off = f->names_pos + 1;
		const char *nm = c->names.data + name_off;
		size_t nl = strlen(nm);
		f->names_pos = name_off + nl + 1;
		bool narrowed = false;
		if (c->quiet && c->mode == CRAWL_RESCAN &&
		    tree_find_child(&v->tree, f->node, nm, nl) != NODE_NONE) {
			/* already watched with its full mask: narrow it first */
			int wd;
			narrowed = v->src.ops->add_at(&v->src, f->fd, nm,
						      (c->quiet_mask & ~(uint32_t)IN_MASK_ADD) |
						      IN_DONT_FOLLOW | IN_ONLYDIR, &wd) == 0;
		}
		bool whole;
		int fd = open_listing(c, f, nm, &whole);
		if (fd < 0) {
			/* vanished, or replaced by a non-directory: nothing to watch */
			int e = -errno;
			if (e != -ENOENT && e != -ENOTDIR && e != -ELOOP &&
			    engine_entry_path(v, f->node, nm, nl, &v->scratch) == 0)
				engine_emit_error(v, v->scratch.data, v->scratch.len, e);
			/* Reported by the listing (whole, or new after an
			 * overflow), and gone before it was watched: a reader has
			 * its name, which the tree has not. Held, as crawl_new()
			 * does, so that the next re-scan tells it gone if its own
			 * way out is lost with the queue too. Not one the
			 * listing found where the tree had a directory (not
			 * reported: a reader had that one), which this walk
			 * found elsewhere and said gone from here: a reader
			 * has nothing here, and a file found here later is
			 * news (seed 3623). Nor one the tree has here, after an
			 * overflow: its sweep says it gone. Outside a re-scan,
			 * one the tree has here that a listing reported (relisted
			 * whole) is held too: the sweep after that listing drops
			 * it without a word (its events will tell, but an
			 * overflow may take them; test_catchup.c). */
			if ((e == -ENOENT || e == -ENOTDIR) && (f->synth || c->gap) &&
			    !known_here && v->roots[c->root].names &&
			    (tree_find_child(&v->tree, f->node, nm, nl) == NODE_NONE ||
			     (f->synth && !c->diff)) &&
			    (err = held_add(&v->held, f->node, tree_node(&v->tree, f->node)->serial,
					    nm, nl)) < 0)
				break;
			/* reported, and never listed: with a filesystem mark,
			 * owed a listing where its rename puts it (learn.h) */
			if ((e == -ENOENT || e == -ENOTDIR) && f->synth &&
			    (err = learn_unlisted(v, f->node, nm, nl)) < 0)
				break;
			continue;
		}
		bool fresh;
		c->known_here = known_here;
		c->whole_top = NODE_NONE;
		for (size_t i = c->depth; i-- > 0 && c->frames[i].synth;)
			c->whole_top = c->frames[i].node;
		/* nm lives in c->names, which attach() does not touch */
		uint32_t node = attach(c, f->node, nm, nl, fd, &fresh, &err);
		c->whole_top = NODE_NONE;
		if (node != NODE_NONE && c->diff && err >= 0 &&
		    (err = bitset_put(&c->found, (int)node + 1, true)) < 0) {
			close(fd);
			break;
		}
		c->cwd_node = node != NODE_NONE && c->cwd_fd == fd ? node : NODE_NONE;
		c->cwd_fd = -1;
		if (err == -ENOSPC) {
			/* said, and the walk goes on: every directory the
			 * limit leaves out is said, none silently */
			err = left_out(c, f->node, nm, nl, fd);
			if (err)
				break;
			continue;
		}
		/* Already watched, inside a directory new to the trees: it was
		 * moved in before that one was watched, so its MOVED_TO never
		 * came. To a reader it is new: after the walk, what it holds is
		 * reported (and checked, as it may have changed meanwhile). */
		if (node != NODE_NONE && c->mode == CRAWL_NEW && !fresh &&
		    (err = stale_add(c, node)) < 0) {
			close(fd);
			break;
		}
		if (node == NODE_NONE || (c->mode == CRAWL_NEW && !fresh)) {
			/* skipped, or already watched (listed after the walk) */
			close(fd);
			int wd;
			if (narrowed)
				v->src.ops->add_at(&v->src, f->fd, nm, c->full_mask |
						   IN_DONT_FOLLOW | IN_ONLYDIR, &wd);
			if (err)
				break;
			continue;
		}
		/* below a directory reported whole, a reader has nothing; one
		 * owed a listing (what it holds was taken back from a reader)
		 * gets it now: after an overflow, or in a listing reported
		 * whole (as its parent's is) */
		bool owed = (c->diff || f->synth) && tree_node(&v->tree, node)->owed;
		if (owed)
			tree_node(&v->tree, node)->owed = tree_node(&v->tree, node)->named = false;
		bool synth = c->mode == CRAWL_NEW ||
			     (c->mode == CRAWL_RESCAN &&
			      (fresh || c->report || f->synth || c->relocated || owed));
		if ((err = push_frame(c, node, fd, synth, name_off, whole)) < 0)
			break;
	}
	while (c->depth)
		pop_frame(c);
	return err;
}

static void crawl_init(struct crawl *c, struct vigil *v, uint32_t root,
		       enum crawl_mode mode)
{
	*c = (struct crawl){.v = v, .root = root, .mode = mode, .cwd_fd = -1,
			    .cwd_node = NODE_NONE, .noatime = O_NOATIME,
			    .expected = NODE_NONE, .whole_top = NODE_NONE};
	c->full_mask = engine_kernel_mask(v, &v->roots[root]);
	c->gap = mode == CRAWL_RESCAN;
	c->diff = c->gap && v->roots[root].names;
	c->quiet = (c->full_mask & FOOTSTEPS) != 0;
	c->quiet_mask = c->full_mask & ~(uint32_t)FOOTSTEPS;
}

/* Walk from NODE, already watched (quietly if c->quiet), open at FD. */
static int crawl_run(struct crawl *c, uint32_t node, int fd, bool synth,
		     size_t name_off)
{
	int err = -ENOMEM;
	c->dents = malloc(DENTS_SIZE);
	if (c->dents) {
		err = push_frame(c, node, fd, synth, name_off,
				 c->whole_ok && whole_listing(fd));
		if (err >= 0)
			err = walk(c);
	} else {
		close(fd);
		if (c->quiet)
			widen(c, node, NULL, "");
	}
	while (c->depth)
		pop_frame(c);
	free(c->dents);
	free(c->frames);
	buf_free(&c->names);
	bitset_free(&c->whole);
	bitset_free(&c->found);
	free(c->listed);
	if (err == 0 && c->late_err)
		err = c->late_err;
	if (err == 0 && c->nospace)
		err = -ENOSPC;
	return err < 0 ? err : c->added;
}

struct crawl_job {
	struct crawl *c;
	uint32_t node;
	int fd;
	int result;
};

static void *crawl_thread(void *arg)
{
	struct crawl_job *j = arg;
	j->c->own_cwd = unshare(CLONE_FS) == 0;
#ifdef HAVE_OPENAT2_H
	j->c->whole_ok = true; /* made with every signal blocked */
#endif
	j->result = crawl_run(j->c, j->node, j->fd, false, 0);
	return NULL;
}

/* crawl_run() in a thread with its own working directory (see the top of
 * this file), or in this one if there can be no such thread. Signals stay
 * with the caller's threads: the crawl thread blocks them all. */
static int crawl_run_apart(struct crawl *c, uint32_t node, int fd)
{
	struct crawl_job j = {.c = c, .node = node, .fd = fd};
	sigset_t all, old;
	sigfillset(&all);
	pthread_t th;
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&th, NULL, crawl_thread, &j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0)
		return crawl_run(c, node, fd, false, 0);
	pthread_join(th, NULL);
	return j.result;
}

uint32_t crawl_quiet_mask(const struct vigil *v, const struct root *r)
{
	return engine_kernel_mask(v, r) & ~(uint32_t)FOOTSTEPS;
}

int crawl_root(struct vigil *v, uint32_t root, enum crawl_mode mode)
{
	struct root *r = &v->roots[root];
	int rfd = engine_root_fd(v, root);
	if (rfd < 0)
		return rfd; /* gone: its DELETE_SELF is on its way */
	struct crawl c;
	crawl_init(&c, v, root, mode);
	if (c.quiet && mode == CRAWL_RESCAN) {
		int wd;
		v->src.ops->add_fd(&v->src, rfd, c.quiet_mask & ~(uint32_t)IN_MASK_ADD, &wd);
	}
	tree_node(&v->tree, r->node)->mark = v->generation;
	int fd = openat(rfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		if (c.quiet)
			widen(&c, r->node, NULL, "");
		return e;
	}
	return crawl_run_apart(&c, r->node, fd);
}

/* Whether the directory at FD is NODE's: watched with MASK, it comes back
 * under NODE's wd if so (adding a watch this instance holds already makes
 * none). A watch made meanwhile on a stranger is let go; with RESTORE, a
 * watch of another node's is given RESTORE back. 1, 0, or a negative errno
 * (-ENOSPC also means a stranger: watching our own again costs nothing). */
static int watches_node(struct vigil *v, int fd, uint32_t mask, uint32_t node,
			uint32_t restore)
{
	int wd = -1;
	int e = v->src.ops->add_fd(&v->src, fd, mask, &wd);
	if (e < 0)
		return e;
	if (wd == tree_node(&v->tree, node)->wd)
		return 1;
	if (tree_find_wd(&v->tree, wd) == NODE_NONE)
		v->src.ops->remove(&v->src, wd);
	else if (restore)
		v->src.ops->add_fd(&v->src, fd, restore, &wd);
	return 0;
}

/* List NODE's subtree again, as after an overflow but there only: what
 * appeared is watched (and reported, as a rescan reports it), what left is
 * dropped, what moved within is moved. With REPORT, everything in it is
 * reported (synthetic), as for a directory new to the trees. NODE is
 * attached and watched. */
static int relist_at(struct vigil *v, uint32_t root, uint32_t node, bool report, bool diff);

int crawl_relist(struct vigil *v, uint32_t root, uint32_t node, bool report)
{
	return relist_at(v, root, node, report, false);
}

int crawl_recheck(struct vigil *v, uint32_t root, uint32_t node)
{
	return relist_at(v, root, node, false, true);
}

static int relist_at(struct vigil *v, uint32_t root, uint32_t node, bool report, bool diff)
{
	struct tree *t = &v->tree;
	engine_new_generation(v); /* before it is opened: see crawl_new() */
	int fd = open_below(v, node, NULL, 0, 0);
	if (fd < 0)
		return fd == -ENOMEM ? fd : -ESTALE; /* moved, or gone: its events will tell */
	struct crawl c;
	crawl_init(&c, v, root, CRAWL_RESCAN);
	/* no events were lost here: they tell what changed, not this walk;
	 * unless the kernel merged some away (crawl_recheck()) */
	if (!diff)
		c.diff = c.gap = false;
	int e = watches_node(v, fd, (c.quiet ? c.quiet_mask : c.full_mask) & ~(uint32_t)IN_MASK_ADD,
			     node, c.quiet ? c.full_mask : 0);
	if (e <= 0) {
		/* not the directory the tree has there: a rename on its way */
		close(fd);
		return e == -ENOMEM ? e : -ESTALE;
	}
	/* reporting all it holds, the listing says better what was held
	 * back below it, all of which happened before */
	if (report)
		engine_drop_deferred_below(v, node);
	tree_node(t, node)->mark = v->generation;
	c.report = report;
	e = crawl_run(&c, node, fd, report, 0);
	if (e < 0)
		return e;
	/* drop what the listing did not find below it (orphans are not its),
	 * said when events may have been lost; but not, with a filesystem
	 * mark, what events still to read take away (learn.h) */
	learn_keep_unfound(v);
	e = engine_sweep(v, false, diff);
	v->tree_gen++;
	return e < 0 ? e : 0;
}

/* crawl_relist(), or, where the path to NODE is stale, the same once the
 * renames still to read are in the tree (a retry, in vigil.c): a listing
 * that has to report what NODE holds cannot just give up, or a reader
 * never learns of it. */
static int relist(struct vigil *v, uint32_t root, uint32_t node, bool report)
{
	int e = crawl_relist(v, root, node, report);
	return e == -ESTALE ? engine_retry_relist(v, root, node, report) : e;
}

/* After a CRAWL_NEW: list again, reporting what they hold, the directories
 * it found that had been detached, or found inside a new directory. */
static int relist_stale(struct crawl *c, int err)
{
	struct vigil *v = c->v;
	/* what the watch limit left out is said: the rest goes on */
	for (size_t i = 0; i < c->n_stale && (err >= 0 || err == -ENOSPC); i++) {
		uint32_t n = c->stale[i].node;
		const struct node *x = tree_node(&v->tree, n);
		if (!x->used || x->serial != c->stale[i].serial ||
		    engine_root_index(v, n) == NODE_NONE)
			continue;
		int e = relist(v, c->root, n, true);
		if (e < 0)
			err = e;
	}
	free(c->stale);
	c->stale = NULL;
	c->n_stale = 0;
	return err;
}

int crawl_new(struct vigil *v, uint32_t root, uint32_t parent,
	      const char *name, size_t len, unsigned how, enum crawl_mode mode,
	      uint32_t expect)
{
	bool moved_in = how & CRAWL_MOVED_IN;
	/* The parent first, by its path in the tree, checked by identity (its
	 * watch): with a rename of it or above it still in the queue, that
	 * path is stale, and leads nowhere, to a file, or to another
	 * directory. The caller tries again once the tree has caught up. */
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	char nm[NAME_MAX + 1];
	memcpy(nm, name, len);
	nm[len] = '\0';
	int dfd = open_below(v, parent, NULL, 0, O_PATH);
	if (dfd < 0)
		return dfd == -ENOMEM ? dfd : -ESTALE;
	int err = watches_node(v, dfd, engine_kernel_mask(v, &v->roots[root]), parent, 0);
	if (err <= 0) {
		close(dfd);
		return err == -ENOMEM ? err : -ESTALE;
	}
	/* Then who it is (O_PATH: no event), and a listing only if new: a
	 * directory already watched elsewhere just moves here. Where it is
	 * found is marked with where the stream stood before it was opened
	 * (every record queued until then precedes the finding; taken after,
	 * a rename of it between the two would seem to precede its finding
	 * there, as if it were another directory than the one that moved). */
	engine_new_generation(v);
	int pfd = openat(dfd, nm, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	err = -errno;
	close(dfd);
	uint32_t here = tree_find_child(&v->tree, parent, name, len);
	if (pfd < 0) {
		/* Gone on already. The directory the tree has here, unless it
		 * is the one this rename brings, had what it holds taken back
		 * from a reader by this event (a new arrival under its name):
		 * where it is found next, that is listed again, reported. */
		if (here != NODE_NONE && here != expect) {
			tree_node(&v->tree, here)->owed = true;
			/* the arrival a reader had under this name is still
			 * there: its path is said gone where it is found next */
			tree_node(&v->tree, here)->named = true;
		}
		/* A reader has its name, which the tree has not: held, so that
		 * an overflow's re-scan can tell it gone, its own way out (the
		 * events that would say so) lost with the queue. */
		if (here == NODE_NONE && v->roots[root].names &&
		    held_add(&v->held, parent, tree_node(&v->tree, parent)->serial, name, len) < 0)
			return -ENOMEM;
		return err;
	}
	struct crawl c;
	crawl_init(&c, v, root, mode);
	bool fresh;
	c.wait_ahead = how & CRAWL_WAIT_AHEAD;
	c.expected = expect;
	uint32_t node = attach(&c, parent, name, len, pfd, &fresh, &err);
	c.wait_ahead = false;
	c.expected = NODE_NONE; /* for the top only (attach()) */
	if (err == -EINPROGRESS) {
		/* Found here is another directory, known elsewhere, whose
		 * rename is still to read. The one the tree has here lost
		 * to a reader what a listing reported of it, as above (the
		 * pfd < 0 case): owed where its own rename puts it (seed
		 * 3105). */
		if (here != NODE_NONE && here != expect)
			tree_node(&v->tree, here)->owed = tree_node(&v->tree, here)->named = true;
		close(pfd);
		return err;
	}
	if (err == -ENOSPC) {
		err = left_out(&c, parent, name, len, pfd);
		return relist_stale(&c, err < 0 ? err : -ENOSPC);
	}
	bool owed = node != NODE_NONE && tree_node(&v->tree, node)->owed;
	if (owed)
		tree_node(&v->tree, node)->owed = tree_node(&v->tree, node)->named = false;
	if (node != NODE_NONE && !fresh && mode != CRAWL_NEW) {
		/* skipped by a walk, and watched since: list it again, as
		 * that walk would have */
		close(pfd);
		return relist(v, root, node, owed);
	}
	bool ahead_here = node == here && !(how & CRAWL_WAS_AHEAD);
	if (node != NODE_NONE && !fresh && (moved_in || ahead_here || c.released || owed)) {
		/* Known, and back from outside the trees: its way out was
		 * reported as a move out, and it came back by a move with no
		 * other half (MOVED_IN), or by one whose other half is where
		 * that move left it (it was gone from there when that was
		 * read), with its MOVED_FROM still waiting for a partner that
		 * will not come (c.released). Or known here already, put here
		 * by a listing that ran ahead of this event, and what that
		 * listing reported of it may have been taken back since, to a
		 * reader, by the events of an earlier directory of this name
		 * (a delete, a move away) read after it. Or owed a listing
		 * (above). Either way, to a reader it is as new as a directory
		 * never seen, so what it holds is reported. */
		close(pfd);
		c.n_stale = 0;
		/* Come by a rename a reader followed (CRAWL_CARRIED), a reader
		 * has here what it had under the old path: another directory's
		 * (the one that moved went on, and this one was found here
		 * ahead), or this one's as it was. A listing reported whole adds
		 * to that and takes nothing away (a CREATE replaces nothing in a
		 * reader's model), so the path is said gone, and new, first
		 * (issue 17, a queue of 64 emulated, slow writers: a file
		 * reported over a directory carried here, 2 paths stale) */
		if ((how & CRAWL_CARRIED) &&
		    ((err = say(&c, parent, name, len, IN_DELETE | IN_ISDIR)) < 0 ||
		     (err = say(&c, parent, name, len, IN_CREATE | IN_ISDIR)) < 0))
			return relist_stale(&c, err);
		err = relist(v, root, node, true);
		return relist_stale(&c, err);
	}
	if (node == NODE_NONE || !fresh) {
		close(pfd);
		return relist_stale(&c, err);
	}
	int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = -errno;
	close(pfd);
	if (fd < 0) {
		if (c.quiet)
			widen(&c, node, NULL, "");
		return relist_stale(&c, err);
	}
	err = crawl_run(&c, node, fd, mode != CRAWL_INITIAL, 0);
	return relist_stale(&c, err);
}

bool crawl_node_present(struct vigil *v, uint32_t node)
{
	if (tree_node(&v->tree, node)->parent == NODE_NONE)
		return false; /* an orphan is out of its place by definition */
	int fd = open_below(v, node, NULL, 0, O_PATH);
	if (fd < 0)
		return false;
	uint32_t ri = engine_root_index(v, node);
	int e = watches_node(v, fd, engine_kernel_mask(v, &v->roots[ri]), node, 0);
	close(fd);
	return e == 1;
}
