/* The loop: one epoll set for every fd, one timeout for the earliest
 * deadline; and the signals, read from a signalfd. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "linger.h"
#include "journal.h"
#include "run.h"

int epoll_add(struct run *run, int fd, uint32_t events, void *ptr)
{
	struct epoll_event e = {.events = events, .data.ptr = ptr};
	return epoll_ctl(run->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static void print_counts(struct run *run, const char *what)
{
	for (size_t i = 0; i < run->n_rules; i++) {
		const struct rrule *rr = run->rules[i];
		if (rr->retired)
			continue;
		rule_say(run, rr, "%s%llu jobs run, %llu failed, %llu paths seen, "
			 "%llu skipped; %zu running, %zu waiting", what,
			 (unsigned long long)rr->n_run, (unsigned long long)rr->n_failed,
			 (unsigned long long)rr->n_paths, (unsigned long long)rr->n_skipped,
			 rr->n_jobs, rr->store ? store_waiting(rr->store) : 0);
	}
}

void begin_stop(struct run *run, uint64_t now)
{
	run->stopping++;
	notify(run, "STOPPING=1");
	/* what jobs left behind has no work to finish: stopped at once */
	linger_stop(run->linger, NULL, now);
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		for (size_t k = 0; k < rr->n_jobs; k++) {
			struct rjob *rj = rr->jobs[k];
			if (run->stopping > 1) /* asked twice: now */
				stop_job(rr, rj, STOP_SHUTDOWN, now);
			else if (!rj->shutdown_at)
				rj->shutdown_at = now + rr->r.stop_timeout_ns;
		}
	}
}

void state_failed(struct run *run, struct journal *j)
{
	if (!run->state_error) {
		run->state_error = true;
		rule_say(run, NULL, "%s; stopping, as the state is what makes sure that no "
			 "file is lost or done twice", journal_error(j));
		begin_stop(run, mono());
	}
	/* what was to start does not: the journal cannot say it ran */
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		for (size_t k = rr->n_jobs; k-- > 0;) {
			struct rjob *rj = rr->jobs[k];
			if (!rj->pending)
				continue;
			for (size_t p = 0; p < rj->j.n_paths; p++)
				store_done(rr->store, rj->j.paths[p].path);
			rr->jobs[k] = rr->jobs[--rr->n_jobs];
			job_fini(&rj->j);
			free(rj);
		}
	}
	run->pending = false;
}

void commit_state(struct run *run)
{
	for (size_t i = 0; i < run->n_journals; i++) {
		struct journal *j = run->journals[i]->j;
		if (journal_dirty(j) && (journal_commit(j) < 0 || journal_flush(j) < 0))
			state_failed(run, j);
	}
}

static bool on_signal(struct run *run, uint64_t now)
{
	struct signalfd_siginfo si;
	while (read(run->sig.fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGINT:
		case SIGTERM:
			begin_stop(run, now);
			break;
		case SIGHUP:
			reload(run);
			break;
		case SIGUSR1:
			print_counts(run, "");
			break;
		case SIGCHLD:
			reap_children(run, now);
			break;
		}
	}
	return true;
}

int loop(struct run *run)
{
	struct epoll_event evs[64];
	for (;;) {
		uint64_t now = mono();
		/* first, so that a restart sees the groups just gone */
		uint64_t next = linger_check(run->linger, now);
		for (size_t i = 0; i < run->n_rules; i++) {
			struct rrule *rr = run->rules[i];
			if (rr->v) {
				const struct vigil_event *ev;
				int r;
				while ((r = vigil_next(rr->v, 0, &ev)) > 0)
					on_event(run, rr, ev, now);
				if (r < 0 && r != -EINTR)
					rule_say(run, rr, "cannot read events: %s", cli_strerror(-r));
				int ms = vigil_next_deadline_ms(rr->v);
				if (ms >= 0)
					next = min_deadline(next, now + (uint64_t)ms * 1000000 + 1);
			}
			if (rr->rescan) {
				if (walk(run, rr, queue_found) < 0)
					rule_say(run, rr, "out of memory while looking for changed files");
				rr->rescan = false;
			}
			next = min_deadline(next, schedule(run, rr, now));
			if (rr->store && !run->stopping)
				next = min_deadline(next, store_next_due(rr->store));
		}
		/* With a journal, the jobs just scheduled start once it says so
		 * (one commit for the wake-up: what changed, what ended, what
		 * starts); a journal that cannot be written stops vigil. */
		spawn_pending(run, now);
		/* after scheduling, so that the jobs just started count */
		next = min_deadline(next, job_timers(run, now));
		next = min_deadline(next, linger_check(run->linger, now));
		drop_retired(run);
		if (run->status_due && now >= run->status_due) {
			notify_status(run);
			run->status_due = 0;
		}
		next = min_deadline(next, run->status_due);
		if (run->stopping) {
			size_t running = linger_count(run->linger, NULL);
			for (size_t i = 0; i < run->n_rules; i++)
				running += run->rules[i]->n_jobs;
			if (!running)
				return 0;
		}
		/* what changed with no job to start is committed too, before
		 * vigil sleeps, and the commits go to disk (--state-sync) */
		commit_state(run);
		log_flush(run);
		int timeout = -1;
		if (next) {
			now = mono();
			timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
		}
		int n = epoll_wait(run->epfd, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			log_flush(run);
			cli_error("cannot wait for events: %s", cli_strerror(errno));
			return -1;
		}
		now = mono();
		/* pipes first: a job's end (SRC_JOB, or SIGCHLD) frees it,
		 * and its pipes' events may be in the same batch; so the
		 * kinds are read before anything is freed */
		enum src_kind kinds[64];
		for (int i = 0; i < n; i++) {
			enum src_kind *kind = evs[i].data.ptr;
			kinds[i] = *kind;
			if (*kind == SRC_STDIN) {
				struct rjob *rj = ((struct rjob *)((char *)kind - offsetof(struct rjob, in)));
				int fd = rj->j.stdin_fd;
				if (job_feed(&rj->j) != 0)
					epoll_ctl(run->epfd, EPOLL_CTL_DEL, fd, NULL);
			} else if (*kind == SRC_OUTPUT) {
				read_output(run, (struct output *)kind, false);
			}
		}
		struct rjob *ended[64];
		size_t n_ended = 0;
		for (int i = 0; i < n; i++) {
			if (kinds[i] == SRC_SIGNAL)
				on_signal(run, now);
			else if (kinds[i] == SRC_JOB && reap_job(run, evs[i].data.ptr, now))
				ended[n_ended++] = evs[i].data.ptr; /* with a pidfd */
			else if (kinds[i] == SRC_LINGER)
				linger_event(run->linger);
			else if (kinds[i] == SRC_STATE)
				state_woken(run, evs[i].data.ptr, now);
			/* SRC_RULE: read at the top of the loop */
		}
		/* A slot just freed takes its next job first, and the ended
		 * ones are done with after: with every CPU busy, the one a job
		 * left stays idle until the next job starts, as the loop was
		 * most likely woken on another. */
		for (size_t k = 0; k < n_ended; k++)
			if (k == 0 || ended[k]->rule != ended[k - 1]->rule)
				schedule(run, ended[k]->rule, now);
		for (size_t k = 0; k < n_ended; k++)
			finish_job(run, ended[k]);
	}
}
