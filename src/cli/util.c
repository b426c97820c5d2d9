#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vigil.h"

const char *cli_prog = "vigil";
enum cli_compat cli_compat = CLI_NATIVE;
bool cli_fsnotify;
unsigned cli_backend;

static bool fanotify_in_use(void)
{
	return cli_backend & (VIGIL_BACKEND_FANOTIFY | VIGIL_MARK_FILESYSTEM | VIGIL_MARK_MOUNT);
}

static bool to_syslog;

void cli_use_syslog(void)
{
	const char *ident = cli_compat == CLI_INOTIFYWAIT ? "inotifywait" :
			    cli_compat == CLI_INOTIFYWATCH ? "inotifywatch" : "vigil";
	openlog(ident, LOG_CONS | LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = true;
}

/* One message line, to syslog or to stderr with PREFIX (or none). */
static void say(bool prefix, const char *fmt, va_list ap)
{
	if (to_syslog) {
		vsyslog(LOG_INFO, fmt, ap);
		return;
	}
	fflush(stdout);
	if (prefix)
		fprintf(stderr, "%s: ", cli_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(true, fmt, ap);
	va_end(ap);
}

void cli_raw(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(false, fmt, ap);
	va_end(ap);
}

const char *cli_strerror(int err)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* WHAT: LIMIT reached, the sysctl named (vigil_limit_text()). NEED: how
 * many more are known to be needed (0: not known). */
static void limit_error(const char *what, enum vigil_limit limit, size_t need)
{
	char text[512];
	vigil_limit_text(limit, need, text, sizeof(text));
	cli_error("%s: %s", what, text);
}

/* PATH could not be watched, or LEFT (when not 0) of the TOTAL directories
 * in it; or PATH and BELOW directories below it. */
static void watch_error(const char *path, int err, size_t below, size_t left,
			size_t total)
{
	bool whole = cli_backend & (VIGIL_MARK_FILESYSTEM | VIGIL_MARK_MOUNT);
	const char *scope = (cli_backend & VIGIL_MARK_MOUNT) ? "mount" : "filesystem";
	if (cli_compat != CLI_NATIVE) {
		if (err == -ENOSPC && fanotify_in_use()) {
			cli_raw("Failed to watch %s; upper limit on fanotify marks reached!", path);
			cli_raw("Please increase the amount of fanotify marks allowed per "
				"user via `/proc/sys/fs/fanotify/max_user_marks'.");
		} else if (err == -ENOSPC) {
			cli_raw("Failed to watch %s; upper limit on inotify watches reached!", path);
			cli_raw("Please increase the amount of inotify watches allowed per "
				"user via `/proc/sys/fs/inotify/max_user_watches'.");
		} else if (whole) {
			cli_raw("Couldn't add %s watch %s: %s", scope, path, strerror(-err));
		} else {
			cli_raw(cli_compat == CLI_INOTIFYWAIT ? "Couldn't watch %s: %s"
							      : "Failed to watch %s: %s",
				path, strerror(-err));
		}
		return;
	}
	/* built whole: a path may be longer than PATH_MAX */
	char *what = NULL;
	int n = left ? asprintf(&what, "cannot watch %zu of the %zu directories in '%s'",
				left, total, path) :
		below ? asprintf(&what, "cannot watch '%s' and the %zu %s below it", path,
				 below, below == 1 ? "directory" : "directories") :
			asprintf(&what, "cannot watch '%s'", path);
	if (n < 0)
		cli_error("out of memory");
	else if (err == -ENOSPC && fanotify_in_use())
		limit_error(what, VIGIL_LIMIT_FANOTIFY_MARKS, left ? left : below + 1);
	else if (err == -ENOSPC)
		limit_error(what, VIGIL_LIMIT_INOTIFY_WATCHES, left ? left : below + 1);
	else if (whole && err == -EPERM)
		cli_error("cannot mark the %s of '%s': marking a whole %s needs "
			  "CAP_SYS_ADMIN; run as root, or leave out '--%s' to mark each "
			  "directory (which needs no privilege)", scope, path, scope, scope);
	else if (whole && (err == -EOPNOTSUPP || err == -ENODEV || err == -EXDEV))
		cli_error("cannot mark the %s of '%s': fanotify cannot report file "
			  "handles there (%s); give '--backend auto' to watch it with "
			  "inotify, or poll it", scope, path, cli_strerror(-err));
	else if (fanotify_in_use() && (err == -EOPNOTSUPP || err == -ENODEV || err == -EXDEV))
		cli_error("%s: fanotify cannot report file handles there (%s); give "
			  "'--backend auto' to watch it with inotify, or poll it", what,
			  cli_strerror(-err));
	else
		cli_error("%s: %s", what, cli_strerror(-err));
	free(n < 0 ? NULL : what);
}

void cli_watch_error(const char *path, int err)
{
	watch_error(path, err, 0, 0, 0);
}

void cli_event_error(const struct vigil_event *ev)
{
	size_t below = ev->error == -ENOSPC && ev->dirs > 1 ? ev->dirs - 1 : 0;
	watch_error(ev->path, ev->error, below, 0, 0);
}

void cli_left_out_error(const char *path, size_t left, size_t total)
{
	watch_error(path, -ENOSPC, 0, left, total);
}

void cli_instance_error(int err)
{
	bool fan = fanotify_in_use();
	const char *what = fan ? "cannot create a fanotify group" : "cannot create an inotify instance";
	if (cli_compat != CLI_NATIVE) {
		cli_raw("Couldn't initialize %s: %s", fan ? "fanotify" : "inotify", strerror(-err));
		if (err == -EMFILE)
			cli_raw(fan ? "Try increasing the value of /proc/sys/fs/fanotify/max_user_groups"
				    : "Try increasing the value of "
				      "/proc/sys/fs/inotify/max_user_instances");
		return;
	}
	if (fan && err == -ENOSYS) {
		cli_error("%s: this kernel has no fanotify with file handles and names "
			  "(Linux 5.17 or later is needed); give '--backend inotify'", what);
		return;
	}
	if (fan && err == -EPERM) {
		cli_error("%s: not permitted (fanotify needs Linux 5.13 or later without "
			  "privilege); give '--backend inotify'", what);
		return;
	}
	if (err == -EMFILE) {
		/* EMFILE is also the per-process descriptor limit: tell which */
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			limit_error(what, fan ? VIGIL_LIMIT_FANOTIFY_GROUPS
					      : VIGIL_LIMIT_INOTIFY_INSTANCES, 0);
			return;
		}
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			cli_error("%s: too many open files (ulimit -n = %llu)", what,
				  (unsigned long long)rl.rlim_cur);
			return;
		}
	}
	cli_error("%s: %s", what, cli_strerror(-err));
}

int cli_flush(FILE *f, const char *what, const char *name)
{
	static int failed;
	if (!failed && fflush(f) == 0 && !ferror(f))
		return 0;
	if (!failed) {
		/* a reader that left is no error to speak of: it is how
		 * `vigil wait -m | head -1` ends when SIGPIPE is ignored */
		failed = errno == EPIPE ? CLI_READER_GONE : 1;
		if (failed == 1 && name)
			cli_error("cannot write %s to '%s': %s", what, name, cli_strerror(errno));
		else if (failed == 1)
			cli_error("cannot write %s: %s", what, cli_strerror(errno));
	}
	return failed;
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

/* MS as a duration a user would write: "2s", "1.5s", "500ms". */
static const char *interval_text(unsigned ms, char *buf, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(buf, size, "%us", ms / 1000);
	else if (ms > 1000 && ms % 100 == 0)
		snprintf(buf, size, "%u.%us", ms / 1000, ms % 1000 / 100);
	else
		snprintf(buf, size, "%ums", ms);
	return buf;
}

int cli_mounts_next(vigil *v, struct cli_mounts *s, unsigned poll_ms, bool quiet,
		    char *text, size_t size, bool *ret_gone)
{
	struct vigil_mount m;
	char iv[32];
	*ret_gone = false;
	for (size_t i = 0; vigil_mount(v, i, &m) == 1; i++) {
		if (i >= s->said) {
			bool *g = realloc(s->gone_said, (i + 1) * sizeof(*g));
			if (!g)
				return 0;
			s->gone_said = g;
			g[i] = false;
			s->said = i + 1;
			if (m.polled && !quiet) {
				snprintf(text, size, "polling '%s' (%s from %s) every %s: inotify "
					 "cannot see what other machines change there", m.path,
					 m.fstype, m.source,
					 interval_text(poll_ms ? poll_ms : 2000, iv, sizeof(iv)));
				return 1;
			}
			if (!m.polled) {
				snprintf(text, size, "warning: '%s' is a %s mount (from %s): inotify "
					 "cannot see what other machines change there%s", m.path,
					 m.fstype, m.source, cli_compat == CLI_NATIVE
					 ? "; give '--backend auto' to poll it" : "");
				return 1;
			}
		}
		if (m.unmounted && m.polled && !s->gone_said[i]) {
			s->gone_said[i] = true;
			*ret_gone = true;
			snprintf(text, size, "'%s' was unmounted while polled; its watches are gone",
				 m.path);
			return 1;
		}
	}
	return 0;
}

void cli_mounts_free(struct cli_mounts *s)
{
	free(s->gone_said);
	*s = (struct cli_mounts){0};
}
