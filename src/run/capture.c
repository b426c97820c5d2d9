/* The jobs' output streams that go into the log (--capture): a pipe per
 * stream, read as it comes, a log line per line. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cli.h"
#include "run.h"

struct output_ctx {
	struct run *run;
	const struct output *out;
};

static void output_line(void *ctx, const char *s, size_t len)
{
	struct output_ctx *c = ctx;
	log_output(c->run, c->out, s, len);
}

static void output_free(struct run *run, struct output *out)
{
	for (struct output **p = &run->outputs; *p; p = &(*p)->next) {
		if (*p == out) {
			*p = out->next;
			break;
		}
	}
	if (out->job)
		out->job->out[out->stream] = NULL;
	if (out->o.fd >= 0)
		epoll_ctl(run->epfd, EPOLL_CTL_DEL, out->o.fd, NULL);
	job_out_fini(&out->o);
	free(out->rule);
	free(out);
}

/* Log what captured stream OUT has (with DRAIN, then close it); once it
 * has ended, it goes. */
void read_output(struct run *run, struct output *out, bool drain)
{
	struct output_ctx ctx = {run, out};
	/* at its end it is closed, which takes it out of epoll: vigil holds
	 * the only copy */
	if (job_out_read(&out->o, drain, output_line, &ctx) == 1)
		output_free(run, out);
}

/* The captured streams of job RJ, just started (FDS from job_start()): into
 * the loop. One that cannot be kept is closed (the job's writes to it fail). */
void add_outputs(struct run *run, struct rjob *rj)
{
	for (int k = 0; k < 2; k++) {
		int fd = rj->j.out_fd[k];
		if (fd < 0)
			continue;
		rj->j.out_fd[k] = -1;
		struct output *out = calloc(1, sizeof(*out));
		char *rule = strdup(rj->rule->r.name);
		if (!out || !rule) {
			free(out);
			free(rule);
			close(fd);
			rule_say(run, rj->rule, "out of memory: pid %d's %s is not logged",
				 (int)rj->j.pid, k == JOB_STDOUT ? "stdout" : "stderr");
			continue;
		}
		*out = (struct output){.kind = SRC_OUTPUT, .o = {.fd = fd}, .job = rj,
				       .rule = rule, .pid = rj->j.pid, .stream = k,
				       .next = run->outputs};
		run->outputs = out;
		rj->out[k] = out;
		epoll_add(run, fd, EPOLLIN, out);
	}
}
