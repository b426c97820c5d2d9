/* vigil._vigil.Event: what a Watcher yields. Its strings are made once,
 * when the event is read; the rest is computed when asked for. */
#include "module.h"

#include <errno.h>
#include <structmember.h>

PyObject *path_object(enum path_mode mode, const char *s, size_t len)
{
	if (mode == MODE_BYTES)
		return PyBytes_FromStringAndSize(s, (Py_ssize_t)len);
	/* surrogateescape: a name in any encoding round-trips through
	 * os.fsencode() */
	return PyUnicode_DecodeFSDefaultAndSize(s, (Py_ssize_t)len);
}

PyObject *event_new(const struct vigil_event *ev, enum path_mode mode, PyObject *dir)
{
	EventObject *e = PyObject_New(EventObject, &Event_Type);
	if (!e)
		return NULL;
	e->path = e->dir = e->name = e->from_path = e->error = NULL;
	e->mask = ev->mask;
	e->cookie = ev->cookie;
	e->flags = ev->flags;
	e->time = (double)ev->time.tv_sec + (double)ev->time.tv_nsec * 1e-9;
	if (!(e->path = path_object(mode, ev->path, ev->path_len)) ||
	    !(e->name = path_object(mode, ev->name, ev->name_len)))
		goto fail;
	if (dir) {
		Py_INCREF(dir);
		e->dir = dir;
	} else {
		size_t len = ev->dir_len;
		if (len > 1 && ev->dir[len - 1] == '/')
			len--;
		if (!(e->dir = path_object(mode, ev->dir, len)))
			goto fail;
	}
	if (ev->from_path) {
		if (!(e->from_path = path_object(mode, ev->from_path, ev->from_path_len)))
			goto fail;
	} else {
		Py_INCREF(Py_None);
		e->from_path = Py_None;
	}
	if (ev->flags & VIGIL_EVENT_ERROR) {
		size_t below = ev->error == -ENOSPC && ev->dirs > 1 ? ev->dirs - 1 : 0;
		if (!(e->error = error_new(ev->error, e->path, below)))
			goto fail;
	} else {
		Py_INCREF(Py_None);
		e->error = Py_None;
	}
	return (PyObject *)e;
fail:
	Py_DECREF(e);
	return NULL;
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
	if (!joined)
		return NULL;
	PyObject *r;
	if (e->error != Py_None)
		r = PyUnicode_FromFormat("<vigil.Event error %R>", e->error);
	else if (e->from_path != Py_None)
		r = PyUnicode_FromFormat("<vigil.Event %U %R -> %R>", joined, e->from_path,
					 e->path);
	else
		r = PyUnicode_FromFormat("<vigil.Event %U %R%s>", joined, e->path,
					 (e->flags & VIGIL_EVENT_SYNTHETIC) ? " synthetic" : "");
	Py_DECREF(joined);
	return r;
}

static PyMemberDef event_members[] = {
	{"path", T_OBJECT, offsetof(EventObject, path), READONLY,
	 "The full path: dir and name joined; for an event on a watched\n"
	 "directory or file itself, its own path. '' for an overflow."},
	{"dir", T_OBJECT, offsetof(EventObject, dir), READONLY,
	 "The watched directory the event happened in (no trailing slash),\n"
	 "or a watched file's path for an event on the file itself."},
	{"name", T_OBJECT, offsetof(EventObject, name), READONLY,
	 "The entry in dir the event is about; '' for dir itself."},
	{"from_path", T_OBJECT, offsetof(EventObject, from_path), READONLY,
	 "For a rename paired into one event (pair_moves=True): the old path.\n"
	 "None otherwise."},
	{"error", T_OBJECT, offsetof(EventObject, error), READONLY,
	 "For an error event (mask 0): an OSError saying what could not be\n"
	 "watched and why (error.filename is the path); the rest is watched.\n"
	 "None for every other event."},
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
