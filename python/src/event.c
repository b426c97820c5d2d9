/* vigil._vigil.Event: what a Watcher yields. Its strings are made once,
 * when the event is read; the rest is computed when asked for. */
#include "module.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <structmember.h>

PyObject *path_object(enum path_mode mode, const char *s, size_t len)
{
	if (mode == MODE_BYTES)
		return PyBytes_FromStringAndSize(s, (Py_ssize_t)len);
	/* surrogateescape: a name in any encoding round-trips through
	 * os.fsencode() */
	return PyUnicode_DecodeFSDefaultAndSize(s, (Py_ssize_t)len);
}

size_t raw_event_size(const struct vigil_event *ev)
{
	size_t from = ev->from_path ? ev->from_path_len + 1 : 0;
	size_t size = sizeof(struct raw_event) + ev->path_len + 1 + ev->dir_len + 1 +
		      ev->name_len + 1 + from;
	return (size + 7) & ~(size_t)7;
}

void raw_event_fill(struct raw_event *r, const struct vigil_event *ev)
{
	r->size = (uint32_t)raw_event_size(ev);
	r->mask = ev->mask;
	r->cookie = ev->cookie;
	r->flags = ev->flags;
	r->error = ev->error;
	r->dirs = ev->dirs;
	r->time = ev->time;
	r->path_len = (uint32_t)ev->path_len;
	r->dir_len = (uint32_t)ev->dir_len;
	r->name_len = (uint32_t)ev->name_len;
	r->from_len = (uint32_t)(ev->from_path ? ev->from_path_len : 0);
	r->has_from = ev->from_path != NULL;
	char *p = r->data;
	memcpy(p, ev->path, ev->path_len + 1);
	p += ev->path_len + 1;
	memcpy(p, ev->dir, ev->dir_len + 1);
	p += ev->dir_len + 1;
	memcpy(p, ev->name, ev->name_len + 1);
	p += ev->name_len + 1;
	if (ev->from_path)
		memcpy(p, ev->from_path, ev->from_path_len + 1);
}

static const char *raw_path(const struct raw_event *r)
{
	return r->data;
}

static const char *raw_dir(const struct raw_event *r)
{
	return r->data + r->path_len + 1;
}

static const char *raw_name(const struct raw_event *r)
{
	return raw_dir(r) + r->dir_len + 1;
}

static const char *raw_from(const struct raw_event *r)
{
	return raw_name(r) + r->name_len + 1;
}

/* Where an Event's record starts: after its fields, 8-aligned. */
#define EVENT_HEAD ((sizeof(EventObject) + 7) & ~(size_t)7)

PyObject *event_new(const struct raw_event *raw, enum path_mode mode)
{
	/* one allocation (Python's small-object allocator for most) */
	EventObject *e = PyObject_NewVar(EventObject, &Event_Type,
					 (Py_ssize_t)(EVENT_HEAD - sizeof(EventObject) + raw->size));
	if (!e)
		return NULL;
	e->raw = (struct raw_event *)((char *)e + EVENT_HEAD);
	memcpy(e->raw, raw, raw->size);
	e->path = e->dir = e->name = e->from_path = e->error = NULL;
	e->mask = raw->mask;
	e->cookie = raw->cookie;
	e->flags = raw->flags;
	e->time = (double)raw->time.tv_sec + (double)raw->time.tv_nsec * 1e-9;
	e->mode = mode == MODE_BYTES ? MODE_BYTES : MODE_STR;
	return (PyObject *)e;
}

static void event_dealloc(EventObject *e)
{
	Py_XDECREF(e->path);
	Py_XDECREF(e->dir);
	Py_XDECREF(e->name);
	Py_XDECREF(e->from_path);
	Py_XDECREF(e->error);
	PyObject_Free(e);
}

static PyObject *event_path(EventObject *e, void *closure)
{
	(void)closure;
	if (!e->path && !(e->path = path_object(e->mode, raw_path(e->raw), e->raw->path_len)))
		return NULL;
	Py_INCREF(e->path);
	return e->path;
}

static PyObject *event_dir(EventObject *e, void *closure)
{
	(void)closure;
	if (!e->dir) {
		size_t len = e->raw->dir_len;
		const char *d = raw_dir(e->raw);
		if (len > 1 && d[len - 1] == '/')
			len--;
		if (!(e->dir = path_object(e->mode, d, len)))
			return NULL;
	}
	Py_INCREF(e->dir);
	return e->dir;
}

static PyObject *event_name(EventObject *e, void *closure)
{
	(void)closure;
	if (!e->name && !(e->name = path_object(e->mode, raw_name(e->raw), e->raw->name_len)))
		return NULL;
	Py_INCREF(e->name);
	return e->name;
}

static PyObject *event_from_path(EventObject *e, void *closure)
{
	(void)closure;
	if (!e->raw->has_from)
		Py_RETURN_NONE;
	if (!e->from_path &&
	    !(e->from_path = path_object(e->mode, raw_from(e->raw), e->raw->from_len)))
		return NULL;
	Py_INCREF(e->from_path);
	return e->from_path;
}

static PyObject *event_error(EventObject *e, void *closure)
{
	(void)closure;
	if (!(e->flags & VIGIL_EVENT_ERROR))
		Py_RETURN_NONE;
	if (!e->error) {
		PyObject *path = event_path(e, NULL);
		if (!path)
			return NULL;
		size_t below = e->raw->error == -ENOSPC && e->raw->dirs > 1 ? e->raw->dirs - 1 : 0;
		e->error = error_new(e->raw->error, path, below);
		Py_DECREF(path);
		if (!e->error)
			return NULL;
	}
	Py_INCREF(e->error);
	return e->error;
}

static PyObject *event_names(EventObject *e, void *closure)
{
	(void)closure;
	return mask_names(e->mask);
}

static PyObject *event_is_dir(EventObject *e, void *closure)
{
	(void)closure;
	return PyBool_FromLong(e->mask & IN_ISDIR);
}

static PyObject *event_synthetic(EventObject *e, void *closure)
{
	(void)closure;
	return PyBool_FromLong(e->flags & VIGIL_EVENT_SYNTHETIC);
}

static PyObject *event_overflow(EventObject *e, void *closure)
{
	(void)closure;
	return PyBool_FromLong(e->flags & VIGIL_EVENT_OVERFLOW);
}

static PyObject *event_repr(EventObject *e)
{
	PyObject *names = mask_names(e->mask);
	if (!names)
		return NULL;
	PyObject *bar = PyUnicode_FromString("|");
	PyObject *joined = bar ? PyUnicode_Join(bar, names) : NULL;
	Py_XDECREF(bar);
	Py_DECREF(names);
	PyObject *path = joined ? event_path(e, NULL) : NULL;
	PyObject *r = NULL;
	if (path) {
		if (e->flags & VIGIL_EVENT_ERROR) {
			PyObject *error = event_error(e, NULL);
			if (error)
				r = PyUnicode_FromFormat("<vigil.Event error %R>", error);
			Py_XDECREF(error);
		} else if (e->raw->has_from) {
			PyObject *from = event_from_path(e, NULL);
			if (from)
				r = PyUnicode_FromFormat("<vigil.Event %U %R -> %R>", joined, from, path);
			Py_XDECREF(from);
		} else {
			r = PyUnicode_FromFormat("<vigil.Event %U %R%s>", joined, path,
						 (e->flags & VIGIL_EVENT_SYNTHETIC) ? " synthetic" : "");
		}
		Py_DECREF(path);
	}
	Py_XDECREF(joined);
	return r;
}

static PyMemberDef event_members[] = {
	{"mask", T_UINT, offsetof(EventObject, mask), READONLY,
	 "The IN_* bits (vigil.IN_CREATE, ...), IN_ISDIR for a directory;\n"
	 "IN_MOVED_FROM|IN_MOVED_TO for a paired rename."},
	{"cookie", T_UINT, offsetof(EventObject, cookie), READONLY,
	 "The kernel's cookie tying a rename's two halves, or 0."},
	{"flags", T_UINT, offsetof(EventObject, flags), READONLY,
	 "vigil's EVENT_* bits: EVENT_SYNTHETIC, EVENT_PAIRED, EVENT_OVERFLOW,\n"
	 "EVENT_ERROR."},
	{"time", T_DOUBLE, offsetof(EventObject, time), READONLY,
	 "When the event was read, in seconds since the epoch (as time.time())."},
	{NULL, 0, 0, 0, NULL},
};

static PyGetSetDef event_getset[] = {
	{"path", (getter)event_path, NULL,
	 "The full path: dir and name joined; for an event on a watched\n"
	 "directory or file itself, its own path. '' for an overflow.", NULL},
	{"dir", (getter)event_dir, NULL,
	 "The watched directory the event happened in (no trailing slash),\n"
	 "or a watched file's path for an event on the file itself.", NULL},
	{"name", (getter)event_name, NULL,
	 "The entry in dir the event is about; '' for dir itself.", NULL},
	{"from_path", (getter)event_from_path, NULL,
	 "For a rename paired into one event (pair_moves=True): the old path.\n"
	 "None otherwise.", NULL},
	{"error", (getter)event_error, NULL,
	 "For an error event (mask 0): an OSError saying what could not be\n"
	 "watched and why (error.filename is the path); the rest is watched.\n"
	 "None for every other event.", NULL},
	{"names", (getter)event_names, NULL,
	 "The names of the bits in mask, as a list: ['IN_CREATE', 'IN_ISDIR'].", NULL},
	{"is_dir", (getter)event_is_dir, NULL,
	 "Whether the event is about a directory (IN_ISDIR).", NULL},
	{"synthetic", (getter)event_synthetic, NULL,
	 "Whether vigil found this by listing a directory rather than hearing\n"
	 "it from the kernel: what a new (or moved-in) directory already held\n"
	 "when its watch was set, or what an overflow's re-scan found. Each\n"
	 "path is reported once, synthetic or not.", NULL},
	{"overflow", (getter)event_overflow, NULL,
	 "Whether this is the kernel queue's overflow (mask IN_Q_OVERFLOW):\n"
	 "events were lost. vigil re-scans every tree at once after it;\n"
	 "directories made in the gap come as synthetic events.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject Event_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "vigil.Event",
	.tp_basicsize = sizeof(EventObject),
	.tp_itemsize = 1, /* the record, after the fields */
	.tp_dealloc = (destructor)event_dealloc,
	.tp_repr = (reprfunc)event_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "One change, as a Watcher yields it.\n\n"
		  "Paths are str (decoded as os.fsdecode() does, so os.fsencode()\n"
		  "gives the bytes back) or bytes, as the watcher was given.\n"
		  "Events are made by watchers only.",
	.tp_members = event_members,
	.tp_getset = event_getset,
};
