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

/* One event as vigil_next() gave it, copied (its pointers are valid only
 * until the next call): this header, then PATH, DIR, NAME and FROM_PATH,
 * each with its NUL, end to end in data. A watcher keeps them end to end in
 * large blocks while they wait; an Event holds a copy of its own. */
struct raw_event {
	uint32_t size;               /* the whole record's, a multiple of 8 */
	uint32_t mask, cookie, flags;
	int error;
	uint32_t path_len, dir_len, name_len, from_len;
	bool has_from;
	size_t dirs;
	struct timespec time;
	char data[];
};

/* How many bytes EV's record takes. */
size_t raw_event_size(const struct vigil_event *ev);
/* Write EV's record at R, which has raw_event_size(EV) bytes. No GIL needed. */
void raw_event_fill(struct raw_event *r, const struct vigil_event *ev);

/* How a watcher hands out paths: decided by the first path it is given. */
enum path_mode { MODE_UNSET, MODE_STR, MODE_BYTES };

/* vigil._vigil.Event: one event. Its strings are made from its record
 * (raw, in the object's own memory, after the fields) when first asked
 * for, once. */
typedef struct {
	PyObject_VAR_HEAD
	PyObject *path, *dir, *name; /* str, or bytes for a bytes watcher; NULL
					until asked for */
	PyObject *from_path;         /* a paired move's old path, NULL until asked */
	PyObject *error;             /* an OSError for an error event, NULL until asked */
	unsigned int mask, cookie, flags;
	enum path_mode mode;
	double time;                 /* seconds since the epoch, as time.time() */
	struct raw_event *raw;       /* the record, copied into this object */
} EventObject;

extern PyTypeObject Event_Type;
extern PyTypeObject Watcher_Type;

/* A str (os.fsdecode()) or bytes object for LEN bytes at S. */
PyObject *path_object(enum path_mode mode, const char *s, size_t len);

/* A new Event for the record RAW (copied). */
PyObject *event_new(const struct raw_event *raw, enum path_mode mode);

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
