/* The rules in force: each with its watches and its store; SIGHUP reads
 * the rules file again and hands what waited over to the new rules. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "cli.h"
#include "linger.h"
#include "run.h"

void rrule_free(struct rrule *rr)
{
	if (!rr)
		return;
	vigil_free(rr->v);
	store_free(rr->store);
	free(rr->starts);
	free(rr->jobs);
	cli_mounts_free(&rr->mounts);
	rule_fini(&rr->r);
	free(rr);
}

void say_mounts(struct run *run, struct rrule *rr)
{
	char text[1024];
	bool gone;
	while (cli_mounts_next(rr->v, &rr->mounts, rr->r.poll_ms, run->quiet, text,
			       sizeof(text), &gone))
		rule_say(run, rr, "%s", text);
}

/* An ERE for a path below ROOT whose relative part matches the ERE TAIL
 * (anchored at both ends by the caller's TAIL). */
static char *below_root_regex(const char *root, const char *tail)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	putc('^', f);
	for (size_t i = 0; i < n; i++) {
		if (strchr("\\^$.[]|()*+?{}", root[i]))
			putc('\\', f);
		putc(root[i], f);
	}
	if (!(n == 1 && root[0] == '/'))
		putc('/', f);
	fputs(tail, f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Directories the rule refuses are not even watched: hidden ones (unless
 * --hidden), and those its exclude globs (as far as they translate, see
 * glob_exclude_ere()) or regexes exclude. */
static int add_exclude_filters(struct rrule *rr)
{
	char *re = NULL;
	for (size_t i = 0; i < rr->r.exclude_re.len; i++)
		if (vigil_filter_add(rr->v, VIGIL_FILTER_EXCLUDE, rr->r.exclude_re.v[i], 0) < 0)
			return -1;
	for (size_t i = 0; i < rr->r.paths.len; i++) {
		const char *root = rr->r.paths.v[i];
		if (!rr->r.hidden) {
			if (!(re = below_root_regex(root, "(.*/)?\\.")) ||
			    vigil_filter_add(rr->v, VIGIL_FILTER_EXCLUDE, re, 0) < 0)
				goto fail;
			free(re);
			re = NULL;
		}
		for (size_t k = 0; k < rr->r.exclude.len; k++) {
			char *tail;
			int r = glob_exclude_ere(rr->r.exclude.v[k], &tail);
			if (r < 0)
				goto fail;
			if (r == 0)
				continue; /* excluded all the same, but watched */
			re = below_root_regex(root, tail);
			free(tail);
			if (!re || vigil_filter_add(rr->v, VIGIL_FILTER_EXCLUDE, re, 0) < 0)
				goto fail;
			free(re);
			re = NULL;
		}
	}
	return 0;
fail:
	free(re);
	return -1;
}

/* The kernel is asked for what the rule needs: its events, the deletes
 * and renames that take a waiting path away, and with --settle the writes
 * that mean a file is still changing. */
static uint32_t kernel_mask(const struct rule *r)
{
	uint32_t m = r->events | IN_DELETE | IN_DELETE_SELF | IN_MOVE | IN_MOVE_SELF;
	if (r->settle_ns)
		m |= IN_MODIFY | IN_CLOSE_WRITE;
	return m;
}

/* Set RULE up (taking it over): its watches, its store. */
static int rrule_new(struct run *run, struct rule *rule, struct rrule **ret)
{
	log_flush(run); /* what it may say comes after what was said */
	struct rrule *rr = calloc(1, sizeof(*rr));
	if (!rr) {
		rule_fini(rule);
		cli_error("out of memory");
		return -1;
	}
	rr->kind = SRC_RULE;
	rr->r = *rule;
	memset(rule, 0, sizeof(*rule));
	int r;
	if ((r = store_new(&rr->store)) < 0 ||
	    (rr->r.loop_burst && !(rr->starts = calloc(rr->r.loop_burst, sizeof(*rr->starts))))) {
		cli_error("out of memory");
		goto fail;
	}
	unsigned backend = rr->r.backend == RULE_BACKEND_INOTIFY ? VIGIL_BACKEND_INOTIFY :
			   rr->r.backend == RULE_BACKEND_POLL ? VIGIL_BACKEND_POLL :
			   rr->r.backend == RULE_BACKEND_FANOTIFY ? VIGIL_BACKEND_FANOTIFY :
			   rr->r.backend == RULE_BACKEND_FILESYSTEM ? VIGIL_MARK_FILESYSTEM :
			   rr->r.backend == RULE_BACKEND_MOUNT ? VIGIL_MARK_MOUNT : 0;
	cli_backend = backend; /* for the messages that name limits */
	if ((r = vigil_new(VIGIL_PAIR_MOVES | backend, &rr->v)) < 0) {
		cli_instance_error(r);
		goto fail;
	}
	if (rr->r.poll_ms && (r = vigil_set_poll_interval(rr->v, rr->r.poll_ms)) < 0) {
		cli_error("cannot set the poll interval: %s", cli_strerror(-r));
		goto fail;
	}
	if (add_exclude_filters(rr) < 0)
		goto nomem;
	for (size_t i = 0; i < rr->r.paths.len; i++) {
		r = vigil_add(rr->v, rr->r.paths.v[i], kernel_mask(&rr->r),
			      rr->r.recursive ? VIGIL_RECURSIVE : 0);
		if (r < 0) {
			cli_watch_error(rr->r.paths.v[i], r);
			goto fail;
		}
		/* what the walk could not watch (denied, say) is said now, in
		 * the order of the set-up; nothing else is queued by it */
		const struct vigil_event *ev;
		while (vigil_queued(rr->v) && vigil_next(rr->v, 0, &ev) == 1)
			if (ev->flags & VIGIL_EVENT_ERROR)
				say_unwatched(run, rr, ev);
	}
	say_mounts(run, rr);
	if ((r = epoll_add(run, vigil_fd(rr->v), EPOLLIN, rr)) < 0) {
		cli_error("cannot poll: %s", cli_strerror(-r));
		goto fail;
	}
	*ret = rr;
	return 0;
nomem:
	cli_error("out of memory");
fail:
	rrule_free(rr);
	return -1;
}

int load_rules(struct run *run, struct rule *rules, size_t n,
	       struct rrule ***ret, size_t *ret_n)
{
	log_flush(run);
	struct rrule **v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;
	if (!v) {
		cli_error("out of memory");
		goto fail;
	}
	for (; k < n; k++) {
		if (rrule_new(run, &rules[k], &v[k]) < 0)
			goto fail;
	}
	*ret = v;
	*ret_n = n;
	return 0;
fail:
	for (size_t i = 0; i < k; i++) {
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, vigil_fd(v[i]->v), NULL);
		rrule_free(v[i]);
	}
	for (size_t i = k; i < n; i++)
		rule_fini(&rules[i]);
	free(v);
	return -1;
}

/* SIGHUP: read the rules file again. A file that does not load leaves the
 * rules in force as they are. A rule of the same name takes over what the
 * old one had waiting (after reading what its queue still held), and its
 * counters; a rule that is new gets its --initial walk. Running jobs
 * finish under the old rule, except long-running ones (on-busy restart:
 * a server), which are stopped so that the new rule's takes over. */
void reload(struct run *run)
{
	struct rule *rules;
	size_t n;
	char *err = NULL;
	struct rrule **nv;
	size_t nn;
	notify(run, "RELOADING=1");
	if (!run->rules_file) {
		rule_say(run, NULL, "SIGHUP: no rules file to read again (rules from the "
			 "command line)");
		goto ready;
	}
	if (rules_load(run->rules_file, &rules, &n, &err) < 0) {
		rule_say(run, NULL, "cannot reload: %s; the rules in force stay", err);
		free(err);
		goto ready;
	}
	if (load_rules(run, rules, n, &nv, &nn) < 0) {
		free(rules);
		rule_say(run, NULL, "cannot reload '%s' (said above); the rules in force stay",
			 run->rules_file);
		goto ready;
	}
	free(rules);
	struct rrule **all = realloc(nv, (nn + run->n_rules) * sizeof(*all));
	if (!all) {
		for (size_t k = 0; k < nn; k++) {
			epoll_ctl(run->epfd, EPOLL_CTL_DEL, vigil_fd(nv[k]->v), NULL);
			rrule_free(nv[k]);
		}
		free(nv);
		rule_say(run, NULL, "out of memory while reloading; the rules in force stay");
		goto ready;
	}
	nv = all;
	uint64_t now = mono();
	bool *fresh = calloc(nn ? nn : 1, sizeof(*fresh));
	for (size_t k = 0; fresh && k < nn; k++)
		fresh[k] = true;
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *old = run->rules[i];
		nv[nn + i] = old;
		if (old->retired)
			continue;
		struct rrule *same = NULL;
		for (size_t k = 0; k < nn && !same; k++) {
			if (strcmp(nv[k]->r.name, old->r.name) == 0) {
				same = nv[k];
				if (fresh)
					fresh[k] = false;
			}
		}
		const struct vigil_event *ev;
		while (vigil_next(old->v, 0, &ev) > 0)
			on_event(run, old, ev, now);
		store_settle(old->store, UINT64_MAX);
		struct store_path p;
		size_t dropped = 0;
		while (store_pop(old->store, &p)) {
			if (same)
				touch(run, same, p.path, p.events, p.from, now);
			else
				dropped++;
			store_path_fini(&p);
		}
		if (dropped)
			rule_say(run, old, "no longer in '%s': %zu waiting path%s dropped",
				 run->rules_file, dropped, dropped == 1 ? "" : "s");
		if (same) {
			same->n_run += old->n_run;
			same->n_failed += old->n_failed;
			same->n_paths += old->n_paths;
			same->n_skipped += old->n_skipped;
			old->n_run = old->n_failed = old->n_paths = old->n_skipped = 0;
		}
		if (old->r.on_busy == BUSY_RESTART) {
			for (size_t k = 0; k < old->n_jobs; k++)
				stop_job(old, old->jobs[k], STOP_RESTART, now);
			linger_stop(run->linger, old->r.name, now);
		}
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, vigil_fd(old->v), NULL);
		vigil_free(old->v);
		old->v = NULL;
		old->retired = true;
	}
	for (size_t k = 0; k < nn; k++)
		if (nv[k]->r.initial && (!fresh || fresh[k]) && walk(run, nv[k], queue_found) < 0)
			rule_say(run, nv[k], "out of memory during --initial");
	free(fresh);
	free(run->rules);
	run->rules = nv;
	run->n_rules += nn; /* the retired stay listed until their last job ends */
	rule_say(run, NULL, "reloaded '%s'", run->rules_file);
ready:
	notify(run, "READY=1");
}

void drop_retired(struct run *run)
{
	size_t k = 0;
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		if (rr->retired && !rr->n_jobs)
			rrule_free(rr);
		else
			run->rules[k++] = rr;
	}
	run->n_rules = k;
}

