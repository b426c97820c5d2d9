/* --list and --retry-failed: a state directory looked at and acted on
 * from outside, while a service may be running on it. Reading never
 * waits for the service (WAL); a request is written in one short
 * transaction, and the service is woken by DIR/wake, which it watches. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "journal.h"
#include "run.h"

#ifdef VIGIL_SQLITE

static const char *const state_names[] = {"waiting", "running", "done", "failed"};

struct listing {
	struct run *run;
	const struct strv *paths;
	size_t *found;        /* per path given: how many rows it had */
	size_t rows;
};

static bool given(struct listing *l, const struct jrow *row)
{
	if (!l->paths || !l->paths->len)
		return true;
	for (size_t i = 0; i < l->paths->len; i++) {
		const char *p = l->paths->v[i];
		if (strlen(p) == row->path_len && memcmp(p, row->path, row->path_len) == 0) {
			l->found[i]++;
			return true;
		}
	}
	return false;
}

/* "exited 2", "killed by SIGKILL", JSON's "status":2 or "signal":"SIGKILL". */
static void put_status(FILE *f, int status, bool json)
{
	if (status < 0)
		return;
	if (WIFEXITED(status)) {
		fprintf(f, json ? ",\"status\":%d" : ", exited %d", WEXITSTATUS(status));
	} else {
		const char *sig = WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;
		fprintf(f, json ? ",\"signal\":\"SIG%s\"" : ", killed by SIG%s", sig ? sig : "?");
	}
}

static int list_row(void *ctx, const struct jrow *row)
{
	struct listing *l = ctx;
	if (!given(l, row))
		return 0;
	l->rows++;
	FILE *f = stdout;
	const char *state = row->state <= J_FAILED ? state_names[row->state] : "?";
	if (l->run->list_json) {
		fprintf(f, "{\"state\":\"%s\",\"rule\":", state);
		json_string(f, row->rule ? row->rule : "", row->rule ? strlen(row->rule) : 0);
		fputs(",\"path\":", f);
		json_string(f, row->path, row->path_len);
		if (row->from) {
			fputs(",\"from\":", f);
			json_string(f, row->from, row->from_len);
		}
		fprintf(f, ",\"attempts\":%u,\"failures\":%u", row->attempts, row->failures);
		put_status(f, row->status, true);
		if (row->time) {
			fputs(",\"time\":\"", f);
			put_time(f, row->time);
			putc('"', f);
		}
		if (row->retry_at) {
			fputs(",\"retry_at\":\"", f);
			put_time(f, row->retry_at);
			putc('"', f);
		}
		fputs("}\n", f);
		return 0;
	}
	fprintf(f, "%-7s [%s] ", state, row->rule ? row->rule : "?");
	put_text_bytes(f, row->path, row->path_len);
	fprintf(f, ": %u attempt%s", row->attempts, row->attempts == 1 ? "" : "s");
	put_status(f, row->status, false);
	if (row->retry_at) {
		fputs(", retry at ", f);
		put_time(f, row->retry_at);
	}
	if (row->time) {
		fputs(row->state == J_RUNNING ? ", since " : row->state == J_WAITING ? ", since " :
										       ", at ", f);
		put_time(f, row->time);
	}
	putc('\n', f);
	return 0;
}

/* Tell the service on DIR, if one runs, that a request waits. */
static void wake(const char *dir)
{
	char *path;
	if (asprintf(&path, "%s/wake", dir) < 0)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	free(path);
	if (fd >= 0)
		close(fd); /* IN_CLOSE_WRITE: what it waits for */
}

/* --list or --retry-failed on the state in DIR. */
static int on_state(struct run *run, const char *dir, const struct strv *paths)
{
	struct journal *j;
	char *err = NULL;
	bool list = run->mode == MODE_LIST;
	int r = journal_open(dir, list ? JOURNAL_READ : 0, JSYNC_FULL, &j, &err);
	if (r < 0) {
		cli_error("%s", err ? err : "out of memory");
		free(err);
		return 1;
	}
	size_t n = paths ? paths->len : 0;
	size_t *found = calloc(n ? n : 1, sizeof(*found));
	int status = 0;
	if (!found) {
		journal_close(j);
		cli_error("out of memory");
		return 1;
	}
	if (list) {
		struct listing l = {.run = run, .paths = paths, .found = found};
		r = journal_each(j, -1, run->list_states, false, list_row, &l);
		if (fflush(stdout) != 0)
			status = 1;
	} else {
		size_t total = 0;
		for (size_t i = 0; r == 0 && i < (n ? n : 1); i++) {
			r = journal_request(j, n ? paths->v[i] : NULL, &found[i]);
			total += found[i];
		}
		if (r == 0)
			r = journal_commit(j);
		if (r == 0) {
			int pid = journal_holder(dir);
			if (total)
				wake(dir);
			if (!run->quiet)
				cli_error("%zu failed path%s queued again in '%s'; %s", total,
					  total == 1 ? "" : "s", dir, !total ? "nothing to do" :
					  pid ? "the running vigil takes them now" :
					  "they run at the next start of vigil run on it");
		}
	}
	if (r < 0) {
		cli_error("%s", journal_error(j));
		status = 1;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (!found[i]) {
			cli_error("'%s': %s in '%s'", paths->v[i],
				  list ? "no such path" : "not a failed path", dir);
			status = 1;
		}
	}
	free(found);
	journal_close(j);
	return status;
}

int state_command(struct run *run, const struct rule *rules, size_t n,
		  const struct strv *paths)
{
	int status = 0;
	size_t done = 0;
	for (size_t i = 0; i < n; i++) {
		const char *dir = rules[i].state;
		bool seen = !dir;
		for (size_t k = 0; k < i && !seen; k++)
			seen = rules[k].state && strcmp(rules[k].state, dir) == 0;
		if (seen)
			continue;
		if (on_state(run, dir, paths) != 0)
			status = 1;
		done++;
	}
	if (!done) {
		cli_error("no rule of '%s' keeps a state (the key 'state')", run->rules_file);
		return 1;
	}
	return status;
}

#else

int state_command(struct run *run, const struct rule *rules, size_t n,
		  const struct strv *paths)
{
	(void)run, (void)rules, (void)n, (void)paths;
	cli_error("'--%s': this vigil was built without SQLite, which keeps the state; build "
		  "it with libsqlite3-dev (meson -Dsqlite=enabled)",
		  run->mode == MODE_LIST ? "list" : "retry-failed");
	return 1;
}

#endif
