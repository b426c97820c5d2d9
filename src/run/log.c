/* vigil run's log: job start and end lines, the jobs' captured lines and
 * vigil's own messages, in text or JSON, on stderr. */
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "run.h"

/* A log line is made whole in memory (log_open() gives where to print it,
 * log_close() takes it), and lines leave in as few write()s as keep them
 * whole: when vigil is about to wait (log_flush()), or before PIPE_BUF bytes
 * would be waiting. A job's end line and the next one's start line go out
 * together, and as a write of up to PIPE_BUF bytes to a pipe is atomic, the
 * jobs that share vigil's stderr never cut into a line that fits in one. */
void log_flush(struct run *run)
{
	fflush(stdout);
	if (run->log_len)
		fwrite(run->log, 1, run->log_len, stderr);
	run->log_len = 0;
	fflush(stderr);
}

FILE *log_open(struct run *run)
{
	FILE *f = open_memstream(&run->line, &run->line_len);
	if (!f) {
		/* out of memory: straight out, after what is waiting */
		log_flush(run);
		return stderr;
	}
	return f;
}

void log_close(struct run *run, FILE *f)
{
	if (f == stderr) {
		fflush(stderr);
		return;
	}
	if (fclose(f) == 0) {
		if (run->log_len + run->line_len > sizeof(run->log))
			log_flush(run);
		if (run->line_len > sizeof(run->log)) {
			fwrite(run->line, 1, run->line_len, stderr);
			fflush(stderr);
		} else {
			memcpy(run->log + run->log_len, run->line, run->line_len);
			run->log_len += run->line_len;
		}
	}
	free(run->line);
	run->line = NULL;
}

/* Text in a text log line: control characters, backslashes and quotes
 * escaped, so that one line of the log is one line whatever it holds. */
static void put_escaped(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '\'')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			putc(c, f);
	}
}

void put_text_bytes(FILE *f, const char *s, size_t len)
{
	putc('\'', f);
	put_escaped(f, s, len);
	putc('\'', f);
}

/* A path in a text log line, quoted and escaped. */
static void put_text_path(FILE *f, const char *s)
{
	put_text_bytes(f, s, strlen(s));
}

void put_time(FILE *f, int64_t ns)
{
	struct tm tm;
	char buf[32];
	time_t sec = (time_t)(ns / 1000000000);
	gmtime_r(&sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "%s.%03dZ", buf, (int)(ns % 1000000000 / 1000000));
}

/* The "time" of a JSON log line: now, or AT (monotonic ns, not 0), the
 * instant the loop acted on. A job's start line carries the instant the
 * job was started at, the one --min-interval counts from, so that the gaps
 * between start lines are the gaps vigil kept, however long the fork took
 * on a busy machine. */
static void log_time_json(FILE *f, uint64_t at)
{
	struct timespec ts;
	struct tm tm;
	char buf[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = mono();
	if (at && at < now) {
		uint64_t real = (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec - (now - at);
		ts.tv_sec = (time_t)(real / NS);
		ts.tv_nsec = (long)(real % NS);
	}
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "{\"time\":\"%s.%03ldZ\"", buf, ts.tv_nsec / 1000000);
}

static void log_paths(FILE *f, const struct job *j, bool json)
{
	if (json) {
		fputs(",\"paths\":[", f);
		for (size_t i = 0; i < j->n_paths; i++) {
			if (i)
				putc(',', f);
			json_string(f, j->paths[i].path, strlen(j->paths[i].path));
		}
		putc(']', f);
	} else if (j->n_paths == 1) {
		put_text_path(f, j->paths[0].path);
	} else {
		fprintf(f, "%zu paths", j->n_paths);
	}
}

/* The start of a JSON log line about job RJ: time, rule, WHAT, pid, paths. */
static void log_job_json(FILE *f, const struct rjob *rj, const char *what)
{
	log_time_json(f, strcmp(what, "start") == 0 ? rj->j.started : 0);
	fputs(",\"rule\":", f);
	json_string(f, rj->rule->r.name, strlen(rj->rule->r.name));
	fprintf(f, ",\"job\":\"%s\",\"pid\":%d,\"count\":%zu", what, (int)rj->j.pid,
		rj->j.n_paths);
	log_paths(f, &rj->j, true);
}

void log_start(struct run *run, struct rjob *rj)
{
	if (run->quiet)
		return;
	FILE *f = log_open(run);
	if (run->json_log) {
		log_job_json(f, rj, "start");
		fputs("}\n", f);
	} else {
		fprintf(f, "%s: [%s] pid %d started on ", cli_prog, rj->rule->r.name, (int)rj->j.pid);
		log_paths(f, &rj->j, false);
		putc('\n', f);
	}
	log_close(run, f);
}

static const char *stop_reason(enum job_stop s)
{
	switch (s) {
	case STOP_TIMEOUT: return "timeout";
	case STOP_RESTART: return "restart";
	case STOP_SHUTDOWN: return "shutdown";
	default: return NULL;
	}
}

void log_end(struct run *run, struct rjob *rj, int status, bool failed, uint64_t now)
{
	if (run->quiet && !failed)
		return;
	double secs = (double)(now - rj->j.started) / 1e9;
	const char *why = stop_reason(rj->j.stop);
	const char *sig = WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;
	FILE *f = log_open(run);
	if (run->json_log) {
		log_job_json(f, rj, "end");
		if (WIFEXITED(status))
			fprintf(f, ",\"status\":%d", WEXITSTATUS(status));
		else
			fprintf(f, ",\"signal\":\"SIG%s\"", sig ? sig : "?");
		if (why)
			fprintf(f, ",\"stopped\":\"%s\"", why);
		fprintf(f, ",\"seconds\":%.3f}\n", secs);
	} else {
		fprintf(f, "%s: [%s] pid %d ", cli_prog, rj->rule->r.name, (int)rj->j.pid);
		if (WIFEXITED(status))
			fprintf(f, "exited %d", WEXITSTATUS(status));
		else
			fprintf(f, "killed by SIG%s", sig ? sig : "?");
		if (why)
			fprintf(f, " (%s)", why);
		fprintf(f, " after %.3fs on ", secs);
		log_paths(f, &rj->j, false);
		putc('\n', f);
	}
	log_close(run, f);
}

/* A line a job wrote on a captured stream: "PROG: [rule] pid N stderr:
 * LINE", control characters escaped, or a JSON line with "stream" and
 * "line". */
void log_output(struct run *run, const struct output *out, const char *s,
		size_t len)
{
	const char *stream = out->stream == JOB_STDOUT ? "stdout" : "stderr";
	FILE *f = log_open(run);
	if (run->json_log) {
		log_time_json(f, 0);
		fputs(",\"rule\":", f);
		json_string(f, out->rule, strlen(out->rule));
		fprintf(f, ",\"pid\":%d,\"stream\":\"%s\",\"line\":", (int)out->pid, stream);
		json_string(f, s, len);
		fputs("}\n", f);
	} else {
		fprintf(f, "%s: [%s] pid %d %s: ", cli_prog, out->rule, (int)out->pid, stream);
		put_escaped(f, s, len);
		putc('\n', f);
	}
	log_close(run, f);
}

/* A message about a rule, "PROG: [rule] ..." (or JSON with "message"). */
void rule_say(struct run *run, const struct rrule *rr, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	FILE *f = log_open(run);
	if (run->json_log) {
		log_time_json(f, 0);
		if (rr) {
			fputs(",\"rule\":", f);
			json_string(f, rr->r.name, strlen(rr->r.name));
		}
		fputs(",\"message\":", f);
		json_string(f, msg, strlen(msg));
		fputs("}\n", f);
	} else if (rr) {
		fprintf(f, "%s: [%s] %s\n", cli_prog, rr->r.name, msg);
	} else {
		fprintf(f, "%s: %s\n", cli_prog, msg);
	}
	log_close(run, f);
}

