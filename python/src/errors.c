/* OSError for a negative errno, with the path, and the limits explained as
 * the command explains them (vigil_limit_text()): which sysctl, its value,
 * and how to raise it. */
#include "module.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

PyObject *error_new(int err, PyObject *path, size_t dirs_below)
{
	char text[512];
	int e = err < 0 ? -err : err;
	if (e == ENOSPC) {
		vigil_limit_text(VIGIL_LIMIT_INOTIFY_WATCHES, dirs_below + 1, text, sizeof(text));
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
			vigil_limit_text(VIGIL_LIMIT_INOTIFY_INSTANCES, 0, text, sizeof(text));
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
