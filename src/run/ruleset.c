/* The rules in force: each with its watches and its store; SIGHUP reads
 * the rules file again and hands what waited over to the new rules. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "cli.h"
#include "journal.h"
#include "linger.h"
#include "run.h"

void rrule_free(struct rrule *rr)
{
	if (!rr)
		return;
	broker_free(rr);
	vigil_free(rr->v);
	store_free(rr->store);
	free(rr->jobs);
	cli_mounts_free(&rr->mounts);
	rule_fini(&rr->r);
	free(rr);
}

void say_mounts(struct run *run, struct rrule *rr)
{
	char text[1024];
	bool gone;
	while (rr->v && cli_mounts_next(rr->v, &rr->mounts, rr->r.poll_ms, run->quiet, text,
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

/* Whether rule RR (CTX) sees PATH now, by its roots and filters: what a
 * row of the journal names is checked before it is run on. */
static bool sees(void *ctx, const char *path)
{
	return wants(ctx, path, false) || wants(ctx, path, true) || broker_takes(ctx, path);
}

/* Whether directories A and B are one. */
static bool same_dir(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return true;
	char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
	bool same = ra && rb && strcmp(ra, rb) == 0;
	free(ra);
	free(rb);
	return same;
}

/* The journal of R's state directory, opened once for all the rules that
 * keep their state there (its lock taken), and watched for the requests
 * of --retry-failed: NULL after an error (said). */
static struct journal *use_journal(struct run *run, const struct rule *r)
{
	for (size_t i = 0; i < run->n_journals; i++) {
		struct journal *j = run->journals[i]->j;
		if (same_dir(journal_dir(j), r->state)) {
			journal_sync(j, (enum jsync)r->state_sync);
			return j;
		}
	}
	struct state *st = calloc(1, sizeof(*st));
	char *err = NULL;
	int e;
	if (!st || grow((void **)&run->journals, &run->cap_journals, run->n_journals,
			sizeof(*run->journals)) < 0) {
		free(st);
		cli_error("out of memory");
		return NULL;
	}
	st->kind = SRC_STATE;
	e = journal_open(r->state, JOURNAL_OWN, (enum jsync)r->state_sync, &st->j, &err);
	if (e < 0) {
		cli_error("%s", err ? err : "out of memory");
		free(err);
		free(st);
		return NULL;
	}
	/* DIR/wake, closed after a write: a request waits in the journal */
	if ((e = vigil_new(0, &st->v)) < 0 ||
	    (e = vigil_add(st->v, r->state, IN_CLOSE_WRITE | IN_MOVED_TO, VIGIL_ONLYDIR)) < 0 ||
	    (e = epoll_add(run, vigil_fd(st->v), EPOLLIN, st)) < 0) {
		cli_error("cannot watch the state directory '%s': %s", r->state, cli_strerror(-e));
		vigil_free(st->v);
		journal_close(st->j);
		free(st);
		return NULL;
	}
	run->journals[run->n_journals++] = st;
	return st->j;
}

void state_woken(struct run *run, struct state *st, uint64_t now)
{
	const struct vigil_event *ev;
	bool asked = false;
	while (vigil_next(st->v, 0, &ev) > 0)
		asked |= ev->name_len == 4 && memcmp(ev->name, "wake", 4) == 0;
	if (!asked)
		return;
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		if (rr->retired || rr->journal != st->j)
			continue;
		long n = store_requests(rr->store, now, sees, rr);
		if (n < 0)
			state_failed(run, st->j);
		else if (n > 0)
			rule_say(run, rr, "%ld failed path%s queued again (--retry-failed)", n,
				 n == 1 ? "" : "s");
	}
}

/* What makes a rule the same one under another name: its paths, its
 * command. Each word as its length, ':', its bytes. */
static char *definition(const struct rule *r)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < r->paths.len; i++)
		fprintf(f, "%zu:%s", strlen(r->paths.v[i]), r->paths.v[i]);
	putc('|', f);
	for (size_t i = 0; i < r->argv.len; i++)
		fprintf(f, "%zu:%s", strlen(r->argv.v[i]), r->argv.v[i]);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
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
	if ((r = store_new(&rr->store)) < 0) {
		cli_error("out of memory");
		goto fail;
	}
	store_set_retry(rr->store, rr->r.retry, rr->r.retry_delay_ns, rr->r.retry_max_delay_ns);
	store_set_guard(rr->store, rr->r.loop_burst, rr->r.loop_window_ns);
	if (rr->r.state && !(rr->journal = use_journal(run, &rr->r)))
		goto fail;
	/* a rule of a subscription alone watches nothing here */
	if (!rr->r.paths.len)
		goto brokers;
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
brokers:
	if (broker_setup(run, rr) < 0) {
		log_flush(run);
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
		if (v[i]->v)
			epoll_ctl(run->epfd, EPOLL_CTL_DEL, vigil_fd(v[i]->v), NULL);
		rrule_free(v[i]);
	}
	for (size_t i = k; i < n; i++)
		rule_fini(&rules[i]);
	free(v);
	return -1;
}

/* RR keeps its state in its journal: its rule there (one renamed in the
 * rules file keeps its own, see journal_rule(); IN_USE, N: the names of
 * the rules now), what it says read back, and the files changed or come
 * while vigil was down queued. 0, or -1 (said). */
static int keep_state(struct run *run, struct rrule *rr, char *const *in_use, size_t n)
{
	char *def = definition(&rr->r), *was = NULL;
	if (!def) {
		rule_say(run, rr, "out of memory");
		return -1;
	}
	if (journal_rule(rr->journal, rr->r.name, def, in_use, n, &rr->jrule, &was) < 0) {
		free(def);
		state_failed(run, rr->journal);
		return -1;
	}
	free(def);
	if (was && !run->quiet)
		rule_say(run, rr, "the rule [%s] of '%s' renamed: its state carries over", was,
			 journal_dir(rr->journal));
	free(was);
	store_journal(rr->store, rr->journal, rr->jrule);
	long before = store_load(rr->store, mono(), rr->r.settle_ns);
	if (before == -ENOMEM) {
		rule_say(run, rr, "out of memory");
		return -1;
	}
	if (before < 0) {
		state_failed(run, rr->journal);
		return -1;
	}
	uint64_t seen = rr->n_paths;
	if (walk(run, rr, catch_up_found) < 0) {
		rule_say(run, rr, "out of memory while catching up");
		return -1;
	}
	size_t gone = store_forget_unfound(rr->store, sees, rr);
	if (!run->quiet)
		rule_say(run, rr, "caught up with '%s': %llu path%s new or changed, %ld waiting "
			 "from before, %zu failed, %zu gone", journal_dir(rr->journal),
			 (unsigned long long)(rr->n_paths - seen), rr->n_paths - seen == 1 ? "" : "s",
			 before, store_failed(rr->store), gone);
	return 0;
}

/* The names of the N rules V. */
static char **names_of(struct rrule **v, size_t n)
{
	char **names = calloc(n ? n : 1, sizeof(*names));
	for (size_t i = 0; names && i < n; i++)
		names[i] = v[i]->r.name;
	return names;
}

int start_rules(struct run *run, struct rrule **v, size_t n, const bool *fresh)
{
	char **names = names_of(v, n);
	if (!names) {
		cli_error("out of memory");
		return -1;
	}
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (fresh && !fresh[i])
			continue;
		if (v[i]->journal)
			r = keep_state(run, v[i], names, n);
		else if (v[i]->r.initial && walk(run, v[i], queue_found) < 0)
			rule_say(run, v[i], "out of memory during --initial");
	}
	free(names);
	/* before the first job: what the catch-up found, and the rules'
	 * names, are in the state */
	commit_state(run);
	return run->state_error ? -1 : r;
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
	/* fresh: a new rule, to catch up (or walk, with initial); named:
	 * one that an old rule of its name hands over to */
	bool *fresh = calloc(nn ? nn : 1, sizeof(*fresh));
	bool *named = calloc(nn ? nn : 1, sizeof(*named));
	if (all)
		nv = all;
	if (!all || !fresh || !named) {
		free(fresh);
		free(named);
		for (size_t k = 0; k < nn; k++) {
			if (nv[k]->v)
				epoll_ctl(run->epfd, EPOLL_CTL_DEL, vigil_fd(nv[k]->v), NULL);
			rrule_free(nv[k]);
		}
		free(nv);
		rule_say(run, NULL, "out of memory while reloading; the rules in force stay");
		goto ready;
	}
	uint64_t now = mono();
	for (size_t k = 0; k < nn; k++) {
		fresh[k] = true;
		for (size_t i = 0; i < run->n_rules; i++)
			if (!run->rules[i]->retired && strcmp(nv[k]->r.name, run->rules[i]->r.name) == 0)
				named[k] = true;
	}
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *old = run->rules[i];
		nv[nn + i] = old;
		if (old->retired)
			continue;
		struct rrule *heir = NULL;
		bool renamed = false;
		size_t k;
		for (k = 0; k < nn && !heir; k++)
			if (strcmp(nv[k]->r.name, old->r.name) == 0)
				heir = nv[k];
		/* renamed in the file: a new name, the same state, paths and
		 * command */
		char *def = old->journal && !heir ? definition(&old->r) : NULL;
		for (k = 0; def && k < nn && !heir; k++) {
			char *other = named[k] || !fresh[k] || nv[k]->journal != old->journal ? NULL :
				      definition(&nv[k]->r);
			if (other && strcmp(other, def) == 0) {
				heir = nv[k];
				renamed = true;
			}
			free(other);
		}
		free(def);
		if (heir)
			for (k = 0; nv[k] != heir; k++)
				;
		const struct vigil_event *ev;
		while (old->v && vigil_next(old->v, 0, &ev) > 0)
			on_event(run, old, ev, now);
		/* its broker connections close before the heir's connect
		 * (which is sent after this, as the loop flushes): a
		 * subscription of the same client id would take the session
		 * from it, and it back. What it received is committed first,
		 * and its messages not yet the broker's wait again */
		commit_state(run);
		broker_retire(run, old, !run->state_error, now);
		if (heir && heir->journal == old->journal) {
			/* the store goes over whole: what waits, what runs (its
			 * end is recorded there, and a path of it waits for it),
			 * what is known of the files, and their state */
			store_free(heir->store);
			heir->store = store_ref(old->store);
			/* what settles does so under the heir's settle time */
			store_resettle(heir->store, old->r.settle_ns, heir->r.settle_ns);
			store_set_retry(heir->store, heir->r.retry, heir->r.retry_delay_ns,
					heir->r.retry_max_delay_ns);
			store_set_guard(heir->store, heir->r.loop_burst, heir->r.loop_window_ns);
			heir->jrule = old->jrule;
			fresh[k] = false;
			if (renamed) {
				if (journal_rename_rule(old->journal, old->jrule, heir->r.name) < 0)
					state_failed(run, old->journal);
				else if (!run->quiet)
					rule_say(run, heir, "renamed from [%s]: its state carries over",
						 old->r.name);
			}
		} else if (!heir && old->journal) {
			/* what waited stays in the state, for the rule's return */
			size_t kept = store_waiting(old->store);
			if (kept)
				rule_say(run, old, "no longer in '%s': %zu waiting path%s kept in '%s'",
					 run->rules_file, kept, kept == 1 ? "" : "s",
					 journal_dir(old->journal));
		} else {
			store_settle(old->store, UINT64_MAX);
			struct store_path p;
			size_t dropped = 0;
			while (store_pop(old->store, &p)) {
				if (heir)
					touch(run, heir, p.path, p.events, p.from, now);
				else
					dropped++;
				store_path_fini(&p);
			}
			if (dropped)
				rule_say(run, old, "no longer in '%s': %zu waiting path%s dropped",
					 run->rules_file, dropped, dropped == 1 ? "" : "s");
		}
		if (heir) {
			heir->n_run += old->n_run;
			heir->n_failed += old->n_failed;
			heir->n_paths += old->n_paths;
			heir->n_skipped += old->n_skipped;
			heir->n_gave_up += old->n_gave_up;
			old->n_run = old->n_failed = old->n_paths = old->n_skipped = 0;
			old->n_gave_up = 0;
		}
		if (old->r.on_busy == BUSY_RESTART) {
			for (size_t j = 0; j < old->n_jobs; j++)
				stop_job(old, old->jobs[j], STOP_RESTART, now);
			linger_stop(run->linger, old->r.name, now);
		}
		if (old->v)
			epoll_ctl(run->epfd, EPOLL_CTL_DEL, vigil_fd(old->v), NULL);
		vigil_free(old->v);
		old->v = NULL;
		old->retired = true;
	}
	free(named);
	start_rules(run, nv, nn, fresh);
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

