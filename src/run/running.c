/* Jobs in flight: started on paths the store hands out, stopped, timed,
 * and ended, their paths recorded and handed back. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "linger.h"
#include "journal.h"
#include "run.h"

/* Remember the files of job J as they are at its start: a re-crawl after
 * an overflow does not queue them again while it runs. */
static void record_paths(struct rrule *rr, const struct job *j)
{
	for (size_t i = 0; i < j->n_paths; i++) {
		struct stat st;
		const char *p = j->paths[i].path;
		store_record(rr->store, p, lstat(p, &st) == 0 ? &st : NULL);
	}
}

/* How job J of RR ended, with wait STATUS, for its paths. */
static enum outcome outcome_of(const struct rrule *rr, const struct job *j, int status)
{
	if (j->stop == STOP_SHUTDOWN)
		return OUTCOME_STOPPED;
	if (j->stop == STOP_RESTART)
		return OUTCOME_REPLACED;
	/* one that ran past its --timeout failed, whatever its status */
	return j->stop != STOP_TIMEOUT && rule_success(&rr->r, status) ? OUTCOME_OK :
									    OUTCOME_FAILED;
}

/* The paths of job J are done with (OUTCOME, wait STATUS): each file is
 * recorded as it is now (a change the job made itself does not count as
 * new), and each path may go to another job; a failed one may wait for a
 * retry, or be kept as failed. */
static void finish_paths(struct run *run, struct rrule *rr, const struct job *j,
			 enum outcome outcome, int status, uint64_t now)
{
	for (size_t i = 0; i < j->n_paths; i++) {
		struct stat st;
		const char *p = j->paths[i].path;
		struct finish f;
		if (store_finish(rr->store, p, lstat(p, &st) == 0 ? &st : NULL, outcome, status,
				 now, &f) < 0)
			rule_say(run, rr, "out of memory: '%s' is not kept track of", p);
		bool say = rr->r.retry || rr->journal;
		if (f.what == FINISHED_RETRY && say) {
			rule_say(run, rr, "'%s' failed (attempt %u); retry %u of %u in %.3fs", p,
				 j->paths[i].attempt, f.retry, rr->r.retry,
				 (double)(f.due - now) / 1e9);
		} else if (f.what == FINISHED_FAILED && say) {
			rr->n_gave_up++;
			if (rr->journal)
				rule_say(run, rr, "'%s' failed after %u attempt%s; kept as failed in "
					 "'%s' (--retry-failed queues it again)", p,
					 j->paths[i].attempt, j->paths[i].attempt == 1 ? "" : "s",
					 journal_dir(rr->journal));
			else
				rule_say(run, rr, "'%s' failed after %u attempt%s; given up", p,
					 j->paths[i].attempt, j->paths[i].attempt == 1 ? "" : "s");
		}
	}
}

/* A job without a pidfd (a kernel without pidfd_open(), or no fd left for
 * one) ends with a SIGCHLD only: from now on the signalfd reads it. Until
 * then SIGCHLD, blocked, stays pending unread, and the loop is not woken
 * twice for each job's end. */
static void watch_sigchld(struct run *run)
{
	if (sigismember(&run->sig.mask, SIGCHLD))
		return;
	sigaddset(&run->sig.mask, SIGCHLD);
	if (signalfd(run->sig.fd, &run->sig.mask, 0) < 0)
		sigdelset(&run->sig.mask, SIGCHLD); /* cannot be: the fd is ours */
}

/* Start job RJ of RR (its paths in RJ->j, taken): the command runs, or,
 * when it cannot, the paths count as failed. */
static void spawn_job(struct run *run, struct rrule *rr, struct rjob *rj, uint64_t now)
{
	struct store_path *paths = rj->j.paths;
	size_t n = rj->j.n_paths;
	const char *what = "the command";
	rj->pending = false;
	int r = 0;
	if (rr->r.argv.len)
		r = job_start(&rj->j, &rr->r, paths, n, run->capture, now, &what);
	else
		rj->j.started = now; /* a message only */
	if (r < 0) {
		rr->n_failed++;
		rr->n_run++;
		rule_say(run, rr, "cannot run '%s': %s", strcmp(what, "the command") == 0 ?
			 rr->r.argv.v[0] : what, cli_strerror(-r));
		/* as a shell has it: 127, the command could not be run */
		struct job failed = {.paths = paths, .n_paths = n};
		finish_paths(run, rr, &failed, OUTCOME_FAILED, 127 << 8, now);
		for (size_t i = 0; i < rr->n_jobs; i++) {
			if (rr->jobs[i] == rj) {
				rr->jobs[i] = rr->jobs[--rr->n_jobs];
				break;
			}
		}
		for (size_t i = 0; i < n; i++)
			store_path_fini(&paths[i]);
		free(paths);
		free(rj);
		return;
	}
	record_paths(rr, &rj->j);
	if (rj->j.pid > 0) {
		if (rj->j.pidfd >= 0)
			epoll_add(run, rj->j.pidfd, EPOLLIN, rj);
		else
			watch_sigchld(run);
		if (rj->j.stdin_fd >= 0 && job_feed(&rj->j) == 0)
			epoll_add(run, rj->j.stdin_fd, EPOLLOUT, &rj->in);
		add_outputs(run, rj);
		log_start(run, rj);
	}
	/* last: a message that cannot be sent ends a job without a command */
	if (rr->pub)
		broker_send(run, rr, rj, now);
}

/* Start a job on up to N ready paths: false when none could be taken
 * (each is in a running job) or memory ran out. With a journal, the job
 * takes its slot now and starts in spawn_pending(), once the journal says
 * that it runs. */
bool start_job(struct run *run, struct rrule *rr, size_t n, uint64_t now)
{
	struct store_path *paths = calloc(n, sizeof(*paths));
	struct rjob *rj = calloc(1, sizeof(*rj));
	if (!paths || !rj ||
	    grow((void **)&rr->jobs, &rr->cap_jobs, rr->n_jobs, sizeof(*rr->jobs)) < 0) {
		free(paths);
		free(rj);
		rule_say(run, rr, "out of memory: cannot start a job");
		return false;
	}
	/* one path is taken whatever its length */
	n = store_take(rr->store, n, n > 1 ? job_arg_budget() : SIZE_MAX, now, paths);
	char *looping;
	while ((looping = store_tripped(rr->store))) {
		rule_say(run, rr, "'%s' changed again while or right after each of its last %u "
			 "jobs ran: its own jobs may be writing it; each next job on it waits "
			 "longer, from %.3gs up to 60s (see --loop-burst)", looping,
			 rr->r.loop_burst, (double)rr->r.loop_window_ns / 1e9);
		free(looping);
	}
	if (!n) { /* every ready path is in a running job, or held back */
		free(paths);
		free(rj);
		return false;
	}
	rj->kind = SRC_JOB;
	rj->rule = rr;
	rj->in.kind = SRC_STDIN;
	rj->in.job = rj;
	rj->j = (struct job){.pid = -1, .pidfd = -1, .stdin_fd = -1, .out_fd = {-1, -1},
			     .paths = paths, .n_paths = n};
	rj->mid = -1;
	rr->jobs[rr->n_jobs++] = rj;
	rr->next_start = now + rr->r.min_interval_ns;
	if (rr->journal) {
		rj->pending = true;
		run->pending = true;
		return true;
	}
	spawn_job(run, rr, rj, now);
	return true;
}

bool spawn_pending(struct run *run, uint64_t now)
{
	if (!run->pending)
		return true;
	run->pending = false;
	/* committed (and with --state-sync full, on disk) before they start */
	for (size_t i = 0; i < run->n_journals; i++) {
		struct journal *j = run->journals[i]->j;
		if (journal_commit(j) < 0 || journal_flush(j) < 0) {
			state_failed(run, j);
			return false;
		}
	}
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		/* a failed start takes its job out of the list */
		for (size_t k = rr->n_jobs; k-- > 0;)
			if (k < rr->n_jobs && rr->jobs[k]->pending)
				spawn_job(run, rr, rr->jobs[k], now);
	}
	return true;
}

void stop_job(struct rrule *rr, struct rjob *rj, enum job_stop why, uint64_t now)
{
	if (rj->pending)
		return; /* not started yet: a restart is what it is */
	if (rj->j.stop != STOP_NONE && why != STOP_SHUTDOWN)
		return;
	if (rj->j.kill_at)
		return; /* already on its way */
	rj->j.stop = why;
	job_signal(&rj->j, rr->r.stop_signal);
	rj->j.kill_at = now + (rr->r.stop_timeout_ns ? rr->r.stop_timeout_ns : 1);
}

/* Job RJ's first process has ended: if others still run in its process
 * group, they are remembered, to be stopped at the rule's next restart
 * and at vigil's stop (now, if those have begun for the job). */
static void keep_leftovers(struct run *run, struct rjob *rj, uint64_t now)
{
	struct rrule *rr = rj->rule;
	uint64_t kill_at = rj->j.kill_at; /* being stopped: the same deadline */
	int r = linger_add(run->linger, rj->j.pid, rr->r.name, rr->r.stop_signal,
			   rr->r.stop_timeout_ns, kill_at);
	if (r == 0)
		return;
	if (r < 0) {
		rule_say(run, rr, "cannot keep track of what pid %d left running: %s",
			 (int)rj->j.pid, cli_strerror(-r));
		return;
	}
	rule_say(run, rr, "pid %d left processes running in its process group; %s",
		 (int)rj->j.pid, kill_at || run->stopping ? "they are being stopped" :
		 rr->r.on_busy == BUSY_RESTART ? "they are stopped at the next restart "
		 "or at the stop of vigil" : "they are stopped at the stop of vigil");
	if (run->stopping)
		linger_stop(run->linger, rr->r.name, now);
}

/* Job RJ's command ended (or, without a pidfd, may have): false if it has
 * not, or if the job waits on for its message. Its slot is free once this
 * returns true; finish_job() does the rest. */
bool reap_job(struct run *run, struct rjob *rj, uint64_t now)
{
	struct rrule *rr = rj->rule;
	int status = 0;
	int r = job_reap(&rj->j, &status);
	if (r == 1)
		return false;
	if (r < 0)
		status = 0x7f; /* cannot tell: counted as failed */
	/* what it wrote comes before its end line; what it left running may
	 * write more, which is read as it comes */
	for (int k = 0; k < 2; k++) {
		if (rj->out[k])
			read_output(run, rj->out[k], false);
		if (rj->out[k])
			rj->out[k]->job = NULL;
		rj->out[k] = NULL;
	}
	enum outcome outcome = outcome_of(rr, &rj->j, status);
	log_end(run, rj, status, outcome == OUTCOME_FAILED, now);
	if (r == 0)
		keep_leftovers(run, rj, now);
	if (rj->msg == MSG_WAIT || rj->msg == MSG_SENT) {
		/* its message is not yet the broker's: the job ends with that */
		rj->proc_over = true;
		rj->status = status;
		if (rj->j.pidfd >= 0) {
			epoll_ctl(run->epfd, EPOLL_CTL_DEL, rj->j.pidfd, NULL);
			close(rj->j.pidfd);
			rj->j.pidfd = -1;
		}
		return false;
	}
	job_done(run, rj, status, now);
	return true;
}

void job_done(struct run *run, struct rjob *rj, int status, uint64_t now)
{
	struct rrule *rr = rj->rule;
	enum outcome outcome = outcome_of(rr, &rj->j, status);
	if (rj->msg == MSG_FAILED && outcome != OUTCOME_STOPPED)
		outcome = OUTCOME_FAILED;
	if (rj->msg == MSG_LOST)
		outcome = OUTCOME_STOPPED;
	rr->n_run++;
	/* a job vigil stopped (restart, shutdown) did not fail */
	if (outcome == OUTCOME_FAILED)
		rr->n_failed++;
	/* What the job changed before it ended is in the rule's queue by
	 * now: read before its paths are recorded, so that a change of its
	 * own input is seen as made while it ran (the loop guard), and so
	 * that the journal never holds the job's end without it. (A job
	 * that only published changed nothing: what came meanwhile is read
	 * at the loop's next turn, as any change.) */
	if (rr->v && rj->j.pid > 0) {
		const struct vigil_event *ev;
		while (vigil_next(rr->v, 0, &ev) > 0)
			on_event(run, rr, ev, now);
	}
	finish_paths(run, rr, &rj->j, outcome, status, now);
	for (size_t i = 0; i < rr->n_jobs; i++) {
		if (rr->jobs[i] == rj) {
			rr->jobs[i] = rr->jobs[--rr->n_jobs];
			break;
		}
	}
	if (run->status_due == 0)
		run->status_due = now + NS;
}

/* The rest of ended job RJ: it goes. */
void finish_job(struct run *run, struct rjob *rj)
{
	if (rj->j.pidfd >= 0)
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, rj->j.pidfd, NULL);
	if (rj->j.stdin_fd >= 0)
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, rj->j.stdin_fd, NULL);
	job_fini(&rj->j);
	free(rj->topic);
	free(rj);
}

static bool end_job(struct run *run, struct rjob *rj, uint64_t now)
{
	if (!reap_job(run, rj, now))
		return false;
	finish_job(run, rj);
	return true;
}

/* SIGCHLD: the jobs without a pidfd that have ended. */
void reap_children(struct run *run, uint64_t now)
{
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		for (size_t k = 0; k < rr->n_jobs;) {
			struct rjob *rj = rr->jobs[k];
			if (!rj->pending && rj->j.pid > 0 && !rj->proc_over && rj->j.pidfd < 0 &&
			    end_job(run, rj, now))
				continue; /* the last one moved into slot k */
			k++;
		}
	}
}

/* Timers: job timeouts, kills after the stop signal, the shutdown grace. */
uint64_t job_timers(struct run *run, uint64_t now)
{
	uint64_t next = 0;
	for (size_t i = 0; i < run->n_rules; i++) {
		struct rrule *rr = run->rules[i];
		/* a message waiting for its broker: at a stop, one not sent yet
		 * goes back at once, one sent waits for its acknowledgement up
		 * to the stop timeout; either runs again at the next start */
		for (size_t k = rr->n_jobs; run->stopping && k-- > 0;) {
			if (k >= rr->n_jobs)
				continue;
			struct rjob *rj = rr->jobs[k];
			bool live = rj->j.pid > 0 && !rj->proc_over;
			if (rj->pending || live || (rj->msg != MSG_WAIT && rj->msg != MSG_SENT))
				continue;
			if (rj->msg == MSG_WAIT || run->stopping > 1 ||
			    (rj->shutdown_at && now >= rj->shutdown_at)) {
				rj->j.stop = STOP_SHUTDOWN;
				rj->msg = MSG_LOST;
				job_done(run, rj, rj->proc_over ? rj->status : 0, now);
				finish_job(run, rj);
			}
		}
		for (size_t k = 0; k < rr->n_jobs; k++) {
			struct rjob *rj = rr->jobs[k];
			struct job *j = &rj->j;
			if (j->timeout_at && now >= j->timeout_at && j->stop == STOP_NONE)
				stop_job(rr, rj, STOP_TIMEOUT, now);
			if (rj->shutdown_at && now >= rj->shutdown_at && !j->kill_at) {
				/* the grace is over: no second wait */
				j->stop = STOP_SHUTDOWN;
				job_signal(j, SIGKILL);
				j->kill_at = UINT64_MAX;
			}
			if (j->kill_at && now >= j->kill_at) {
				job_signal(j, SIGKILL);
				j->kill_at = UINT64_MAX; /* once */
			}
			if (j->stop == STOP_NONE)
				next = min_deadline(next, j->timeout_at);
			if (!j->kill_at)
				next = min_deadline(next, rj->shutdown_at);
			if (j->kill_at != UINT64_MAX)
				next = min_deadline(next, j->kill_at);
		}
	}
	return next;
}
