/* When a rule starts a job: free slots, batches, --min-interval and
 * --on-busy. */
#include <stdlib.h>

#include "linger.h"
#include "run.h"

static void drop_ready(struct run *run, struct rrule *rr, const char *why)
{
	size_t n = store_ready(rr->store), k;
	struct store_path p;
	for (k = 0; k < n && store_pop(rr->store, &p); k++)
		store_path_fini(&p);
	rr->n_skipped += k;
	if (k)
		rule_say(run, rr, "%zu path%s skipped: %s", k, k == 1 ? "" : "s", why);
}

/* Start what can start; the earliest time something more can, or 0. */
uint64_t schedule(struct run *run, struct rrule *rr, uint64_t now)
{
	uint64_t next = 0;
	if (rr->retired || run->stopping)
		return 0;
	store_settle(rr->store, now);
	while (store_ready(rr->store)) {
		size_t ready = store_ready(rr->store);
		if (!rr->ready_since)
			rr->ready_since = now;
		if (rr->r.on_busy == BUSY_RESTART) {
			/* a burst of saves is one restart: wait while others
			 * still settle, but not past one more settle time, so
			 * that a file written without end cannot hold it off */
			uint64_t due = store_next_due(rr->store);
			uint64_t cap = rr->ready_since + rr->r.settle_ns;
			if (due && now < cap)
				return min_deadline(next, due < cap ? due : cap);
		}
		/* a restart also waits for what the last job left running */
		bool leftovers = rr->r.on_busy == BUSY_RESTART &&
				 linger_count(run->linger, rr->r.name);
		if (rr->n_jobs >= rr->r.jobs || leftovers) {
			switch (rr->r.on_busy) {
			case BUSY_QUEUE:
				break;
			case BUSY_SKIP:
				drop_ready(run, rr, "a job is still running (--on-busy skip)");
				break;
			case BUSY_SIGNAL:
				for (size_t i = 0; i < rr->n_jobs; i++)
					job_signal(&rr->jobs[i]->j, rr->r.stop_signal);
				drop_ready(run, rr, "the running job was signalled (--on-busy signal)");
				break;
			case BUSY_RESTART:
				for (size_t i = 0; i < rr->n_jobs; i++)
					stop_job(rr, rr->jobs[i], STOP_RESTART, now);
				linger_stop(run->linger, rr->r.name, now);
				break; /* the new one starts once they are gone */
			}
			return next;
		}
		if (rr->next_start > now)
			return min_deadline(next, rr->next_start);
		if (rr->r.batch > 1 && ready < rr->r.batch &&
		    now < rr->ready_since + rr->r.batch_wait_ns)
			return min_deadline(next, rr->ready_since + rr->r.batch_wait_ns);
		rr->ready_since = 0;
		/* a restart's job takes everything ready: it starts after
		 * all of it changed */
		size_t take = rr->r.on_busy == BUSY_RESTART ? ready :
			      rr->r.batch > 1 ? rr->r.batch : 1;
		if (!start_job(run, rr, take, now)) {
			/* each ready path is in a job, or held back by the loop
			 * guard until then */
			next = min_deadline(next, store_held_until(rr->store));
			break;
		}
	}
	rr->ready_since = 0;
	return next;
}
