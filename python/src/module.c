/* vigil._vigil: the module, its constants, and masks as names. */
#include "module.h"

#include <errno.h>
#include <string.h>

/* Every bit a mask can carry, by value: IN_* event bits, then what the
 * kernel sends on its own, then the flags. */
static const struct {
	uint32_t bit;
	const char *name;
} bits[] = {
	{IN_ACCESS, "IN_ACCESS"},
	{IN_MODIFY, "IN_MODIFY"},
	{IN_ATTRIB, "IN_ATTRIB"},
	{IN_CLOSE_WRITE, "IN_CLOSE_WRITE"},
	{IN_CLOSE_NOWRITE, "IN_CLOSE_NOWRITE"},
	{IN_OPEN, "IN_OPEN"},
	{IN_MOVED_FROM, "IN_MOVED_FROM"},
	{IN_MOVED_TO, "IN_MOVED_TO"},
	{IN_CREATE, "IN_CREATE"},
	{IN_DELETE, "IN_DELETE"},
	{IN_DELETE_SELF, "IN_DELETE_SELF"},
	{IN_MOVE_SELF, "IN_MOVE_SELF"},
	{IN_UNMOUNT, "IN_UNMOUNT"},
	{IN_Q_OVERFLOW, "IN_Q_OVERFLOW"},
	{IN_IGNORED, "IN_IGNORED"},
	{IN_ONLYDIR, "IN_ONLYDIR"},
	{IN_DONT_FOLLOW, "IN_DONT_FOLLOW"},
	{IN_EXCL_UNLINK, "IN_EXCL_UNLINK"},
	{IN_MASK_ADD, "IN_MASK_ADD"},
	{IN_ISDIR, "IN_ISDIR"},
	{IN_ONESHOT, "IN_ONESHOT"},
};

/* The names of every mask seen so far, by mask: events come with a handful
 * of masks, and a list of them is then a copy. */
static PyObject *names_cache;

PyObject *mask_names(uint32_t mask)
{
	PyObject *key = PyLong_FromUnsignedLong(mask);
	if (!key)
		return NULL;
	PyObject *cached = PyDict_GetItemWithError(names_cache, key);
	if (cached) {
		Py_DECREF(key);
		return PyList_GetSlice(cached, 0, PyList_GET_SIZE(cached));
	}
	PyObject *list = PyErr_Occurred() ? NULL : PyList_New(0);
	for (size_t i = 0; list && i < sizeof(bits) / sizeof(*bits); i++) {
		if (!(mask & bits[i].bit))
			continue;
		PyObject *s = PyUnicode_InternFromString(bits[i].name);
		if (!s || PyList_Append(list, s) < 0)
			Py_CLEAR(list);
		Py_XDECREF(s);
	}
	if (list && PyDict_GET_SIZE(names_cache) < 4096 &&
	    PyDict_SetItem(names_cache, key, list) < 0)
		Py_CLEAR(list);
	Py_DECREF(key);
	if (!list)
		return NULL;
	PyObject *copy = PyList_GetSlice(list, 0, PyList_GET_SIZE(list));
	Py_DECREF(list);
	return copy;
}

static PyObject *py_mask_names(PyObject *self, PyObject *arg)
{
	(void)self;
	unsigned long mask = PyLong_AsUnsignedLong(arg);
	if (mask == (unsigned long)-1 && PyErr_Occurred())
		return NULL;
	if (mask > UINT32_MAX) {
		PyErr_Format(PyExc_ValueError, "%R is not a 32-bit event mask", arg);
		return NULL;
	}
	return mask_names((uint32_t)mask);
}

/* "create,close_write": the mask, as inotifywait reads -e. */
static PyObject *py_parse_events(PyObject *self, PyObject *arg)
{
	(void)self;
	const char *s = PyUnicode_AsUTF8(arg);
	if (!s)
		return NULL;
	uint32_t mask;
	size_t bad;
	if (vigil_mask_parse(s, &mask, &bad) < 0) {
		size_t end = bad;
		while (s[end] && s[end] != ',')
			end++;
		PyObject *word = PyUnicode_FromStringAndSize(s + bad, (Py_ssize_t)(end - bad));
		if (word) {
			PyErr_Format(PyExc_ValueError, "%R is not an event name (access, modify, "
				     "attrib, close_write, close_nowrite, close, open, moved_to, "
				     "moved_from, move, move_self, create, delete, delete_self, "
				     "unmount, all_events)", word);
			Py_DECREF(word);
		}
		return NULL;
	}
	return PyLong_FromUnsignedLong(mask);
}

static PyMethodDef module_methods[] = {
	{"mask_names", py_mask_names, METH_O,
	 "mask_names(mask) -> list of str\n\n"
	 "The names of MASK's bits, lowest first: ['IN_CREATE', 'IN_ISDIR']."},
	{"parse_events", py_parse_events, METH_O,
	 "parse_events(text) -> int\n\n"
	 "A comma-separated list of event names as inotifywait's -e takes them\n"
	 "('create,close_write'), as a mask. ValueError names an unknown one."},
	{NULL, NULL, 0, NULL},
};

static int module_exec(PyObject *m)
{
	if (PyType_Ready(&Event_Type) < 0 || PyType_Ready(&Watcher_Type) < 0)
		return -1;
	Py_INCREF(&Event_Type);
	if (PyModule_AddObject(m, "Event", (PyObject *)&Event_Type) < 0) {
		Py_DECREF(&Event_Type);
		return -1;
	}
	Py_INCREF(&Watcher_Type);
	if (PyModule_AddObject(m, "Watcher", (PyObject *)&Watcher_Type) < 0) {
		Py_DECREF(&Watcher_Type);
		return -1;
	}
	if (!names_cache && !(names_cache = PyDict_New()))
		return -1;
	for (size_t i = 0; i < sizeof(bits) / sizeof(*bits); i++)
		if (PyModule_AddIntConstant(m, bits[i].name, (long)bits[i].bit) < 0)
			return -1;
	const struct {
		const char *name;
		long value;
	} consts[] = {
		{"IN_CLOSE", IN_CLOSE},
		{"IN_MOVE", IN_MOVE},
		{"IN_ALL_EVENTS", IN_ALL_EVENTS},
		{"EVENT_SYNTHETIC", VIGIL_EVENT_SYNTHETIC},
		{"EVENT_PAIRED", VIGIL_EVENT_PAIRED},
		{"EVENT_OVERFLOW", VIGIL_EVENT_OVERFLOW},
		{"EVENT_ERROR", VIGIL_EVENT_ERROR},
		{"_RECURSIVE", VIGIL_RECURSIVE},
		{"_NOFOLLOW", VIGIL_NOFOLLOW},
		{"_ONLYDIR", VIGIL_ONLYDIR},
		{"_ONESHOT", VIGIL_ONESHOT},
		{"_FILTER_EXCLUDE", VIGIL_FILTER_EXCLUDE},
		{"_FILTER_INCLUDE", VIGIL_FILTER_INCLUDE},
		{"_FILTER_EXCLUDE_PATH", VIGIL_FILTER_EXCLUDE_PATH},
	};
	for (size_t i = 0; i < sizeof(consts) / sizeof(*consts); i++)
		if (PyModule_AddIntConstant(m, consts[i].name, consts[i].value) < 0)
			return -1;
	return PyModule_AddStringConstant(m, "LIBVIGIL_VERSION", vigil_version());
}

static PyModuleDef_Slot module_slots[] = {
	{Py_mod_exec, (void *)module_exec},
	{0, NULL},
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "vigil._vigil",
	.m_doc = "The C core of the vigil package, on libvigil (include/vigil.h).\n"
		 "Use the vigil package; this module is its implementation.",
	.m_size = 0,
	.m_methods = module_methods,
	.m_slots = module_slots,
};

PyMODINIT_FUNC PyInit__vigil(void)
{
	return PyModuleDef_Init(&module_def);
}
