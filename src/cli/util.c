#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_prog = "vigil";

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "%s: ", cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long read_sysctl(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/fs/inotify/%s", name);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* strerror() capitalises; our messages do not. */
static void lower_strerror(int err, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

static void limit_error(const char *what, const char *sysctl, const char *problem)
{
	long cur = read_sysctl(sysctl);
	if (cur > 0)
		cli_error("%s: %s (fs.inotify.%s = %ld); raise it with "
			  "'sysctl -w fs.inotify.%s=%ld', or for good in /etc/sysctl.d/",
			  what, problem, sysctl, cur, sysctl, cur * 2);
	else
		cli_error("%s: %s (fs.inotify.%s); raise it with 'sysctl -w fs.inotify.%s=N'",
			  what, problem, sysctl, sysctl);
}

void cli_watch_error(const char *path, int err)
{
	char what[64 + 4096];
	snprintf(what, sizeof(what), "cannot watch '%s'", path);
	if (err == -ENOSPC) {
		limit_error(what, "max_user_watches", "inotify watch limit reached");
		return;
	}
	char msg[128];
	lower_strerror(-err, msg, sizeof(msg));
	cli_error("%s: %s", what, msg);
}

void cli_instance_error(int err)
{
	if (err == -EMFILE) {
		limit_error("cannot create an inotify instance", "max_user_instances",
			    "too many inotify instances (or open files)");
		return;
	}
	char msg[128];
	lower_strerror(-err, msg, sizeof(msg));
	cli_error("cannot create an inotify instance: %s", msg);
}

bool cli_parse_seconds(const char *s, double *ret)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(d))
		return false;
	*ret = d;
	return true;
}
