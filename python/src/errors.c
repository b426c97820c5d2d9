/* OSError for a negative errno, with the path, and the limits explained as
 * the command explains them (src/cli/util.c): which sysctl, its value, and
 * how to raise it. */
#include "module.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long v = -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* The limit in force is the smaller of the system-wide sysctl and the one
 * of this user namespace (they differ in containers): name whichever it is. */
static void limit_text(char *out, size_t size, const char *problem,
		       const char *fs_name, const char *user_name, size_t need)
{
	char path[128], name[64];
	snprintf(path, sizeof(path), "/proc/sys/fs/inotify/%s", fs_name);
	long cur = read_long(path);
	snprintf(name, sizeof(name), "fs.inotify.%s", fs_name);
	snprintf(path, sizeof(path), "/proc/sys/user/%s", user_name);
	long ns = read_long(path);
	if (ns >= 0 && (cur < 0 || ns < cur)) {
		cur = ns;
		snprintf(name, sizeof(name), "user.%s", user_name);
	}
	long raise = cur > 0 ? cur * 2 : 1024;
	if (cur >= 0 && need > (size_t)(raise - cur))
		raise = cur + (long)need;
	if (cur >= 0)
		snprintf(out, size, "%s (%s = %ld); raise it with 'sysctl -w %s=%ld', "
			 "or for good in /etc/sysctl.d/", problem, name, cur, name, raise);
	else
		snprintf(out, size, "%s (%s); raise it with 'sysctl -w %s=N'", problem,
			 name, name);
}

PyObject *error_new(int err, PyObject *path, size_t dirs_below)
{
	char text[512];
	int e = err < 0 ? -err : err;
	if (e == ENOSPC) {
		limit_text(text, sizeof(text), "inotify watch limit reached",
			   "max_user_watches", "max_inotify_watches", dirs_below + 1);
		if (dirs_below) {
			size_t len = strlen(text);
			snprintf(text + len, sizeof(text) - len,
				 "; the %zu %s below it %s not watched either", dirs_below,
				 dirs_below == 1 ? "directory" : "directories",
				 dirs_below == 1 ? "is" : "are");
		}
	} else if (e == EMFILE && !path) {
		/* EMFILE is also the per-process descriptor limit: tell which */
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		struct rlimit rl;
		if (fd >= 0) {
			close(fd);
			limit_text(text, sizeof(text), "inotify instance limit reached",
				   "max_user_instances", "max_inotify_instances", 0);
		} else if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			snprintf(text, sizeof(text), "too many open files (ulimit -n = %llu)",
				 (unsigned long long)rl.rlim_cur);
		} else {
			snprintf(text, sizeof(text), "%s", strerror(e));
		}
	} else {
		snprintf(text, sizeof(text), "%s", strerror(e));
	}
	/* OSError(errno, ...) makes the subclass: FileNotFoundError, ... */
	return path ? PyObject_CallFunction(PyExc_OSError, "isO", e, text, path)
		    : PyObject_CallFunction(PyExc_OSError, "is", e, text);
}

PyObject *error_raise(int err, PyObject *path)
{
	PyObject *exc = error_new(err, path, 0);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}
