/* vigil's CPython extension, vigil._vigil: what its files share.
 *
 * It sits on include/vigil.h only. The pure-Python package around it
 * (python/vigil/) adds what is easier said in Python: event names in masks,
 * asyncio, and the two drop-ins. */
#ifndef VIGIL_PY_MODULE_H
#define VIGIL_PY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "vigil.h"

/* vigil._vigil.Event: one event, its strings decoded once. */
typedef struct {
	PyObject_HEAD
	PyObject *path, *dir, *name; /* str, or bytes for a bytes watcher */
	PyObject *from_path;         /* a paired move's old path, else None */
	PyObject *error;             /* an OSError for an error event, else None */
	unsigned int mask, cookie, flags;
	double time;                 /* seconds since the epoch, as time.time() */
} EventObject;

extern PyTypeObject Event_Type;
extern PyTypeObject Watcher_Type;

/* How a watcher hands out paths: decided by the first path it is given. */
enum path_mode { MODE_UNSET, MODE_STR, MODE_BYTES };

/* A str (os.fsdecode()) or bytes object for LEN bytes at S. */
PyObject *path_object(enum path_mode mode, const char *s, size_t len);

/* A new Event for EV; DIR, when not NULL, is its dir object already made
 * (the caller's cache of the last one). */
PyObject *event_new(const struct vigil_event *ev, enum path_mode mode, PyObject *dir);

/* The names of MASK's bits, as a new list of str ("IN_CREATE", "IN_ISDIR"). */
PyObject *mask_names(uint32_t mask);

/* A new OSError (the subclass errno calls for: FileNotFoundError, ...) for
 * the negative errno ERR about PATH (an object, or NULL). ENOSPC names the
 * watch limit's sysctl, its value and how to raise it; so does EMFILE when
 * it is the instance limit; DIRS_BELOW, with ENOSPC, how many directories
 * below PATH that leaves unwatched too. */
PyObject *error_new(int err, PyObject *path, size_t dirs_below);
/* The same, raised: returns NULL. */
PyObject *error_raise(int err, PyObject *path);

#endif
