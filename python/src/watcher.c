/* vigil._vigil.Watcher: one vigil handle, safe to share between threads.
 *
 * The handle is not thread-safe, so a lock guards it. Nobody holds the lock
 * while waiting: a thread waits in poll() on the handle's descriptor and an
 * eventfd of the watcher's own, without the lock and without the GIL, so
 * that other threads run meanwhile and may add(), remove(), wakeup() or
 * close() the watcher. vigil_next() is called with a timeout of 0 only, and
 * with the GIL released.
 *
 * Reading ahead: what vigil_next() has is copied into a queue of the
 * watcher's own, all of it at once (the kernel's queue emptied), and handed
 * out from there, taking in more whenever a millisecond has passed since the
 * last time. A Python program handles an event in microseconds where vigil
 * reads it in a fraction of one; without this, a storm would fill the
 * kernel's queue (16,384 events by default) while Python works through what
 * it read last, and overflow it. The queue stops growing at READ_AHEAD_MAX
 * events: past that, the kernel's queue fills and overflows, and the
 * overflow is an event and is repaired, as it would be without this. */
#include "module.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* A storm (see vigil_next() in vigil.h): woken again this soon after the
 * last events, wait a little first so that one read carries many. Each
 * wake-up costs more here than in the library (the GIL, reading ahead), so
 * the pause is longer than its 0.5 ms: with 2 ms, bench/python.sh's storm
 * cost the native API 0.39 us of CPU an event against 0.44 us (4 rounds
 * each, on a loaded 2-core VM); 2 ms of events is far from filling the
 * kernel's queue, and the first event after a quiet spell has no pause. */
#define BURST_GAP_NS 1000000ull
#define BURST_PAUSE_NS 2000000ull
/* read() hands out at most this many events a call (unless told fewer), so
 * that a storm that never ends cannot keep it reading for ever. */
#define READ_MAX 65536
/* Reading ahead (see above): take in what vigil has when the queue is empty
 * or this long after the last time; at most READ_AHEAD_BATCH events a time,
 * and at most READ_AHEAD_MAX waiting. */
#define READ_AHEAD_EVERY_NS 1000000ull
#define READ_AHEAD_BATCH 65536
#define READ_AHEAD_MAX (1u << 20)
/* Reading the clock costs as much as handing out an event where it is not
 * in the vDSO's reach (some virtual machines): the time is looked at once
 * every READ_AHEAD_CHECK events handed out. */
#define READ_AHEAD_CHECK 16

/* Records (struct raw_event) end to end: read from READ, written at USED. */
struct block {
	struct block *next;
	size_t read, used, cap;
	char data[];
};
#define BLOCK_SIZE (256 * 1024)

typedef struct {
	PyObject_HEAD
	vigil *v;                /* NULL once closed */
	/* guards v. A mutex of our own: CPython's lock reads the clock on
	 * every acquire (glibc's sem_clockwait() takes a deadline), which cost
	 * as much as handing out an event on a VM whose clock is not in the
	 * vDSO's reach */
	pthread_mutex_t lock;
	bool lock_made;
	int wake_fd;             /* eventfd: wakeup() and close() */
	enum path_mode mode;
	/* read ahead: events copied from vigil, oldest first, end to end in
	 * blocks (head is read, tail is written) */
	struct block *ahead, *ahead_tail;
	size_t ahead_len;
	uint64_t ahead_at;       /* monotonic: when it last took in more */
	unsigned ahead_taken;    /* events handed out since the clock was read */
	int ahead_error;         /* a failure met while reading ahead, for later */
	uint64_t last_events_ns; /* monotonic: when events were last handed out */
	/* _read_raw()'s last dir, raw and made: events in a row mostly share it */
	char *dir_raw;
	size_t dir_len, dir_cap;
	PyObject *dir_obj;
	PyObject *weakrefs;
} WatcherObject;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static PyObject *closed_error(void)
{
	PyErr_SetString(PyExc_ValueError, "the watcher is closed");
	return NULL;
}

/* Take the handle's lock, letting other threads run while it is busy.
 * Fails (ValueError, lock not held) when the watcher is closed. */
static int lock_handle(WatcherObject *w)
{
	if (!w->lock_made)
		return closed_error(), -1;
	if (pthread_mutex_trylock(&w->lock) != 0) {
		Py_BEGIN_ALLOW_THREADS
		pthread_mutex_lock(&w->lock);
		Py_END_ALLOW_THREADS
	}
	if (!w->v) {
		pthread_mutex_unlock(&w->lock);
		closed_error();
		return -1;
	}
	return 0;
}

static void unlock_handle(WatcherObject *w)
{
	pthread_mutex_unlock(&w->lock);
}

/* A timeout argument: None waits for ever (UINT64_MAX), a number of
 * seconds until that monotonic time (negative: no wait). */
static int parse_timeout(PyObject *arg, uint64_t *ret_until)
{
	if (arg == NULL || arg == Py_None) {
		*ret_until = UINT64_MAX;
		return 0;
	}
	double s = PyFloat_AsDouble(arg);
	if (s == -1.0 && PyErr_Occurred())
		return -1;
	if (s != s) {
		PyErr_SetString(PyExc_ValueError, "timeout must be a number of seconds, not NaN");
		return -1;
	}
	uint64_t now = now_ns();
	if (s <= 0)
		*ret_until = now;
	else if (s > 1e9)
		*ret_until = UINT64_MAX;
	else
		*ret_until = now + (uint64_t)(s * 1e9);
	return 0;
}

/* PATH (str, bytes or os.PathLike) as bytes; sets *ret_mode to how it came. */
static PyObject *path_bytes(PyObject *path, enum path_mode *ret_mode)
{
	PyObject *p = PyOS_FSPath(path);
	if (!p)
		return NULL;
	if (ret_mode)
		*ret_mode = PyBytes_Check(p) ? MODE_BYTES : MODE_STR;
	PyObject *b = NULL;
	if (!PyUnicode_FSConverter(p, &b))
		b = NULL;
	Py_DECREF(p);
	return b;
}

/* Room for SIZE bytes at the end of the queue: its last block, or a new
 * one; NULL when out of memory. No GIL needed (the lock is held). */
static struct block *ahead_room(WatcherObject *w, size_t size)
{
	struct block *b = w->ahead_tail;
	if (b && b->cap - b->used >= size)
		return b;
	size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
	struct block *n = malloc(sizeof(*n) + cap);
	if (!n)
		return NULL;
	n->next = NULL;
	n->read = n->used = 0;
	n->cap = cap;
	if (b)
		b->next = n;
	else
		w->ahead = n;
	w->ahead_tail = n;
	return n;
}

/* Take in what vigil has, with the lock held (see "Reading ahead"). */
static void read_ahead(WatcherObject *w)
{
	int r = 0;
	size_t n = 0, room = READ_AHEAD_MAX - w->ahead_len;
	if (room > READ_AHEAD_BATCH)
		room = READ_AHEAD_BATCH;
	vigil *v = w->v;
	/* it may read, and walk new directories: let others run */
	Py_BEGIN_ALLOW_THREADS
	while (n < room) {
		const struct vigil_event *ev = NULL;
		if ((r = vigil_next(v, 0, &ev)) != 1)
			break;
		size_t size = raw_event_size(ev);
		struct block *b = ahead_room(w, size);
		if (!b) {
			r = -ENOMEM;
			break;
		}
		raw_event_fill((struct raw_event *)(b->data + b->used), ev);
		b->used += size;
		n++;
	}
	Py_END_ALLOW_THREADS
	w->ahead_len += n;
	if (r < 0 && r != -EINTR && !w->ahead_error)
		w->ahead_error = r;
	w->ahead_at = now_ns();
	w->ahead_taken = 0;
	if (n)
		w->last_events_ns = w->ahead_at;
}

static void free_ahead(WatcherObject *w)
{
	while (w->ahead) {
		struct block *b = w->ahead;
		w->ahead = b->next;
		free(b);
	}
	w->ahead_tail = NULL;
	w->ahead_len = 0;
}

typedef PyObject *(*make_fn)(WatcherObject *w, const struct raw_event *e);

static PyObject *make_event(WatcherObject *w, const struct raw_event *e)
{
	return event_new(e, w->mode);
}

/* _read_raw()'s item: (mask, cookie, dir, name, flags, error), dir made
 * once for events in a row in the same directory. */
static PyObject *make_tuple(WatcherObject *w, const struct raw_event *e)
{
	enum path_mode mode = w->mode == MODE_BYTES ? MODE_BYTES : MODE_STR;
	const char *dir = e->data + e->path_len + 1;
	const char *name = dir + e->dir_len + 1;
	if (!w->dir_obj || w->dir_len != e->dir_len || memcmp(w->dir_raw, dir, e->dir_len) != 0) {
		size_t len = e->dir_len;
		if (len > 1 && dir[len - 1] == '/')
			len--;
		PyObject *d = path_object(mode, dir, len);
		if (!d)
			return NULL;
		if (e->dir_len > w->dir_cap) {
			char *raw = PyMem_Realloc(w->dir_raw, e->dir_len);
			if (!raw) {
				Py_DECREF(d);
				return PyErr_NoMemory();
			}
			w->dir_raw = raw;
			w->dir_cap = e->dir_len;
		}
		memcpy(w->dir_raw, dir, e->dir_len);
		w->dir_len = e->dir_len;
		Py_XSETREF(w->dir_obj, d);
	}
	PyObject *n = path_object(mode, name, e->name_len);
	if (!n)
		return NULL;
	PyObject *error = Py_None;
	Py_INCREF(error);
	if (e->flags & VIGIL_EVENT_ERROR) {
		PyObject *path = path_object(mode, e->data, e->path_len);
		size_t below = e->error == -ENOSPC && e->dirs > 1 ? e->dirs - 1 : 0;
		Py_SETREF(error, path ? error_new(e->error, path, below) : NULL);
		Py_XDECREF(path);
		if (!error) {
			Py_DECREF(n);
			return NULL;
		}
	}
	return Py_BuildValue("(IIONIN)", e->mask, e->cookie, w->dir_obj, n, e->flags, error);
}

/* The next event into *RET (made by MAKE), with the lock held: 1, 0 when
 * none is ready now, or -1 with a Python error set. */
static int take_event(WatcherObject *w, PyObject **ret, make_fn make)
{
	if (!w->ahead_len || (++w->ahead_taken >= READ_AHEAD_CHECK &&
			      (w->ahead_taken = 0, now_ns() - w->ahead_at >= READ_AHEAD_EVERY_NS)))
		read_ahead(w);
	if (!w->ahead_len) {
		int err = w->ahead_error;
		if (!err)
			return 0;
		w->ahead_error = 0;
		error_raise(err, NULL);
		return -1;
	}
	struct block *b = w->ahead;
	const struct raw_event *e = (const struct raw_event *)(b->data + b->read);
	*ret = make(w, e);
	if (!*ret)
		return -1;
	b->read += e->size;
	w->ahead_len--;
	if (b->read == b->used) {
		if (b->next) {
			w->ahead = b->next;
			free(b);
		} else {
			b->read = b->used = 0; /* the last: written again */
		}
	}
	return 1;
}

enum wait_result { WAIT_ERROR = -1, WAIT_TIMEOUT, WAIT_WORK, WAIT_WOKEN };

/* Wait, with neither the lock nor the GIL, until the handle has work (its
 * descriptor is readable, or its deadline DEADLINE_MS passed), wakeup() or
 * close() was called, or UNTIL passed. FD is the handle's descriptor. */
static enum wait_result wait_for_work(WatcherObject *w, int fd, int deadline_ms,
				      uint64_t until)
{
	uint64_t start = now_ns();
	uint64_t due = deadline_ms < 0 ? UINT64_MAX : start + (uint64_t)deadline_ms * 1000000ull;
	for (bool once = false;; once = true) {
		uint64_t now = now_ns();
		if (due <= now)
			return WAIT_WORK;
		uint64_t wake = due < until ? due : until;
		/* the descriptors are looked at once even with no time to wait:
		 * wait(0) says whether there is something to read */
		if (wake <= now && once)
			return WAIT_TIMEOUT;
		int ms = wake == UINT64_MAX ? -1 : wake <= now ? 0 :
			 (int)((wake - now + 999999) / 1000000);
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = w->wake_fd, .events = POLLIN}};
		int n;
		Py_BEGIN_ALLOW_THREADS
		n = poll(p, 2, ms);
		Py_END_ALLOW_THREADS
		if (n < 0) {
			if (errno != EINTR) {
				PyErr_SetFromErrno(PyExc_OSError);
				return WAIT_ERROR;
			}
			/* Ctrl-C and other signals: their handlers run here */
			if (PyErr_CheckSignals() < 0)
				return WAIT_ERROR;
			continue;
		}
		if (p[1].revents) {
			if (!w->v)
				return WAIT_WOKEN; /* closed: stays readable for all */
			uint64_t count;
			if (read(w->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN) {
				PyErr_SetFromErrno(PyExc_OSError);
				return WAIT_ERROR;
			}
			return WAIT_WOKEN;
		}
		if (p[0].revents) {
			now = now_ns();
			if (now - w->last_events_ns < BURST_GAP_NS && now + BURST_PAUSE_NS < until) {
				struct timespec ts = {0, (long)BURST_PAUSE_NS};
				Py_BEGIN_ALLOW_THREADS
				nanosleep(&ts, NULL);
				Py_END_ALLOW_THREADS
			}
			return WAIT_WORK;
		}
	}
}

/* What next(), read() and wait() share: the handle's descriptor and
 * deadline, read with the lock held. */
static void handle_state(WatcherObject *w, int *ret_fd, int *ret_deadline)
{
	*ret_fd = vigil_fd(w->v);
	*ret_deadline = vigil_next_deadline_ms(w->v);
}

/* next(): STOP says how closing ends it (StopIteration for __next__). */
static PyObject *next_event(WatcherObject *w, PyObject *timeout, bool stop)
{
	uint64_t until;
	if (parse_timeout(timeout, &until) < 0)
		return NULL;
	for (;;) {
		if (stop && !w->v)
			return NULL;
		if (lock_handle(w) < 0)
			return NULL;
		PyObject *ev = NULL;
		int r = take_event(w, &ev, make_event);
		int fd = -1, deadline = -1;
		if (r == 0)
			handle_state(w, &fd, &deadline);
		unlock_handle(w);
		if (r < 0)
			return NULL;
		if (r > 0)
			return ev;
		switch (wait_for_work(w, fd, deadline, until)) {
		case WAIT_ERROR:
			return NULL;
		case WAIT_TIMEOUT:
			Py_RETURN_NONE;
		case WAIT_WOKEN:
			if (!w->v)
				return stop ? NULL : closed_error();
			Py_RETURN_NONE;
		case WAIT_WORK:
			break;
		}
	}
}

static char *kw_timeout[] = {"timeout", NULL};

static PyObject *watcher_next(WatcherObject *w, PyObject *args, PyObject *kwds)
{
	PyObject *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:next", kw_timeout, &timeout))
		return NULL;
	return next_event(w, timeout, false);
}

static PyObject *watcher_iternext(WatcherObject *w)
{
	return next_event(w, Py_None, true);
}

static PyObject *read_events(WatcherObject *w, PyObject *args, PyObject *kwds, make_fn make)
{
	static char *kw[] = {"timeout", "max_events", NULL};
	PyObject *timeout = Py_None;
	Py_ssize_t max = READ_MAX;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|On:read", kw, &timeout, &max))
		return NULL;
	if (max < 1) {
		PyErr_Format(PyExc_ValueError, "max_events must be at least 1, not %zd", max);
		return NULL;
	}
	uint64_t until;
	if (parse_timeout(timeout, &until) < 0)
		return NULL;
	PyObject *list = PyList_New(0);
	if (!list)
		return NULL;
	for (;;) {
		if (lock_handle(w) < 0)
			goto fail;
		int r = 0;
		while (PyList_GET_SIZE(list) < max) {
			PyObject *ev = NULL;
			if ((r = take_event(w, &ev, make)) <= 0)
				break;
			int e = PyList_Append(list, ev);
			Py_DECREF(ev);
			if (e < 0) {
				r = -1;
				break;
			}
		}
		int fd, deadline;
		handle_state(w, &fd, &deadline);
		unlock_handle(w);
		if (r < 0)
			goto fail;
		if (PyList_GET_SIZE(list))
			return list;
		switch (wait_for_work(w, fd, deadline, until)) {
		case WAIT_ERROR:
			goto fail;
		case WAIT_WOKEN:
			if (!w->v) {
				closed_error();
				goto fail;
			}
			return list;
		case WAIT_TIMEOUT:
			return list;
		case WAIT_WORK:
			break;
		}
	}
fail:
	Py_DECREF(list);
	return NULL;
}

static PyObject *watcher_read(WatcherObject *w, PyObject *args, PyObject *kwds)
{
	return read_events(w, args, kwds, make_event);
}

static PyObject *watcher_read_raw(WatcherObject *w, PyObject *args, PyObject *kwds)
{
	return read_events(w, args, kwds, make_tuple);
}

static PyObject *watcher_wait(WatcherObject *w, PyObject *args, PyObject *kwds)
{
	PyObject *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:wait", kw_timeout, &timeout))
		return NULL;
	uint64_t until;
	if (parse_timeout(timeout, &until) < 0)
		return NULL;
	if (lock_handle(w) < 0)
		return NULL;
	size_t queued = w->ahead_len + vigil_queued(w->v);
	int fd, deadline;
	handle_state(w, &fd, &deadline);
	unlock_handle(w);
	if (queued)
		Py_RETURN_TRUE;
	switch (wait_for_work(w, fd, deadline, until)) {
	case WAIT_ERROR:
		return NULL;
	case WAIT_WORK:
		Py_RETURN_TRUE;
	case WAIT_WOKEN:
		if (!w->v)
			return closed_error();
		Py_RETURN_FALSE;
	case WAIT_TIMEOUT:
		break;
	}
	Py_RETURN_FALSE;
}

static PyObject *watcher_wakeup(WatcherObject *w, PyObject *unused)
{
	(void)unused;
	uint64_t one = 1;
	if (w->wake_fd >= 0 && write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return PyErr_SetFromErrno(PyExc_OSError);
	Py_RETURN_NONE;
}

static PyObject *watcher_deadline(WatcherObject *w, PyObject *unused)
{
	(void)unused;
	if (lock_handle(w) < 0)
		return NULL;
	int ms = vigil_next_deadline_ms(w->v);
	unlock_handle(w);
	if (ms < 0)
		Py_RETURN_NONE;
	return PyFloat_FromDouble(ms / 1000.0);
}

static int watcher_init(WatcherObject *w, PyObject *args, PyObject *kwds)
{
	static char *kw[] = {"pair_moves", NULL};
	int pair = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$p:Watcher", kw, &pair))
		return -1;
	if (w->v) {
		PyErr_SetString(PyExc_RuntimeError, "the watcher is set up already");
		return -1;
	}
	if (!w->lock_made) {
		int e = pthread_mutex_init(&w->lock, NULL);
		if (e != 0) {
			errno = e;
			PyErr_SetFromErrno(PyExc_OSError);
			return -1;
		}
		w->lock_made = true;
	}
	if (w->wake_fd < 0 && (w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		PyErr_SetFromErrno(PyExc_OSError);
		return -1;
	}
	vigil *v;
	int r = vigil_new(pair ? VIGIL_PAIR_MOVES : 0, &v);
	if (r < 0) {
		error_raise(r, NULL);
		return -1;
	}
	w->v = v;
	w->mode = MODE_UNSET;
	return 0;
}

static PyObject *watcher_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	(void)args;
	(void)kwds;
	WatcherObject *w = (WatcherObject *)type->tp_alloc(type, 0);
	if (w)
		w->wake_fd = -1;
	return (PyObject *)w;
}

/* Free the handle, the lock already taken by the caller; then wake every
 * waiter (the eventfd stays readable for any to come). */
static void close_locked(WatcherObject *w)
{
	vigil *v = w->v;
	w->v = NULL;
	free_ahead(w);
	pthread_mutex_unlock(&w->lock);
	vigil_free(v);
	uint64_t one = 1;
	if (w->wake_fd >= 0 && write(w->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full (2^64 - 2 wake-ups): readable anyway */
	}
}

static PyObject *watcher_close(WatcherObject *w, PyObject *unused)
{
	(void)unused;
	if (!w->lock_made || !w->v)
		Py_RETURN_NONE;
	/* a thread may be inside vigil_next() with the GIL released */
	if (pthread_mutex_trylock(&w->lock) != 0) {
		Py_BEGIN_ALLOW_THREADS
		pthread_mutex_lock(&w->lock);
		Py_END_ALLOW_THREADS
	}
	if (w->v)
		close_locked(w);
	else
		pthread_mutex_unlock(&w->lock);
	Py_RETURN_NONE;
}

static void watcher_dealloc(WatcherObject *w)
{
	if (w->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)w);
	/* no other thread can hold it: nobody else has a reference */
	if (w->lock_made && w->v) {
		pthread_mutex_lock(&w->lock);
		close_locked(w);
	}
	if (w->lock_made)
		pthread_mutex_destroy(&w->lock);
	PyMem_Free(w->dir_raw);
	Py_CLEAR(w->dir_obj);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	Py_TYPE(w)->tp_free((PyObject *)w);
}

/* PATH as bytes, with the handle's lock taken: NULL (lock not held, an
 * error set) when it is not a path or the watcher is closed. */
static PyObject *locked_path(WatcherObject *w, PyObject *path, enum path_mode *ret_mode)
{
	PyObject *b = path_bytes(path, ret_mode);
	if (b && lock_handle(w) < 0)
		Py_CLEAR(b);
	return b;
}

/* _add(path, mask, flags): vigil_add(); the number of watches added. */
static PyObject *watcher_add(WatcherObject *w, PyObject *args)
{
	PyObject *path;
	unsigned int mask, flags;
	if (!PyArg_ParseTuple(args, "OII:_add", &path, &mask, &flags))
		return NULL;
	enum path_mode mode;
	PyObject *b = path_bytes(path, &mode);
	if (!b)
		return NULL;
	if (w->mode != MODE_UNSET && w->mode != mode) {
		PyErr_Format(PyExc_TypeError, "this watcher was given %s paths; a %s path "
			     "cannot be mixed with them", w->mode == MODE_BYTES ? "bytes" : "str",
			     mode == MODE_BYTES ? "bytes" : "str");
		Py_DECREF(b);
		return NULL;
	}
	if (lock_handle(w) < 0) {
		Py_DECREF(b);
		return NULL;
	}
	int r;
	const char *p = PyBytes_AS_STRING(b);
	/* a recursive add walks the tree: let others run */
	Py_BEGIN_ALLOW_THREADS
	r = vigil_add(w->v, p, mask, flags);
	Py_END_ALLOW_THREADS
	unlock_handle(w);
	Py_DECREF(b);
	if (r >= 0 || r == -ENOSPC)
		w->mode = mode; /* with ENOSPC, what could be watched stays */
	if (r < 0) {
		PyObject *shown = PyOS_FSPath(path);
		if (shown) {
			error_raise(r, shown);
			Py_DECREF(shown);
		}
		return NULL;
	}
	return PyLong_FromLong(r);
}

static PyObject *watcher_remove(WatcherObject *w, PyObject *path)
{
	PyObject *b = locked_path(w, path, NULL);
	if (!b)
		return NULL;
	int r = vigil_remove(w->v, PyBytes_AS_STRING(b));
	unlock_handle(w);
	Py_DECREF(b);
	if (r == -ENOENT) {
		PyErr_Format(PyExc_ValueError, "%R is not watched (not a path given to add())",
			     path);
		return NULL;
	}
	if (r < 0)
		return error_raise(r, path);
	Py_RETURN_NONE;
}

/* _filter(kind, pattern, icase): vigil_filter_add(). */
static PyObject *watcher_filter(WatcherObject *w, PyObject *args)
{
	int kind, icase = 0;
	PyObject *pattern;
	if (!PyArg_ParseTuple(args, "iO|p:_filter", &kind, &pattern, &icase))
		return NULL;
	PyObject *b = locked_path(w, pattern, NULL);
	if (!b)
		return NULL;
	int r = vigil_filter_add(w->v, (enum vigil_filter_kind)kind, PyBytes_AS_STRING(b),
				 icase ? VIGIL_FILTER_ICASE : 0);
	unlock_handle(w);
	Py_DECREF(b);
	if (r == -E2BIG) {
		PyErr_Format(PyExc_ValueError, "%R is too complex a regular expression: %s",
			     pattern, VIGIL_REGEX_TOO_COMPLEX);
		return NULL;
	}
	if (r == -EINVAL) {
		PyErr_Format(PyExc_ValueError, "%R is not a valid POSIX extended regular "
			     "expression", pattern);
		return NULL;
	}
	if (r < 0)
		return error_raise(r, NULL);
	Py_RETURN_NONE;
}

static PyObject *watcher_fileno(WatcherObject *w, PyObject *unused)
{
	(void)unused;
	if (!w->v)
		return closed_error();
	return PyLong_FromLong(vigil_fd(w->v));
}

static PyObject *watcher_enter(WatcherObject *w, PyObject *unused)
{
	(void)unused;
	if (!w->v)
		return closed_error();
	Py_INCREF(w);
	return (PyObject *)w;
}

static PyObject *watcher_exit(WatcherObject *w, PyObject *args)
{
	(void)args;
	return PyObject_CallMethod((PyObject *)w, "close", NULL);
}

struct watches_ctx {
	PyObject *dict;
	enum path_mode mode;
};

static int add_watch_entry(void *ctx, int wd, const char *path)
{
	struct watches_ctx *c = ctx;
	PyObject *p = path_object(c->mode, path, strlen(path));
	PyObject *n = p ? PyLong_FromLong(wd) : NULL;
	int r = n ? PyDict_SetItem(c->dict, p, n) : -1;
	Py_XDECREF(p);
	Py_XDECREF(n);
	return r < 0 ? 1 : 0;
}

static PyObject *watcher_pending(WatcherObject *w, PyObject *unused)
{
	(void)unused;
	if (lock_handle(w) < 0)
		return NULL;
	size_t bytes = 0;
	int r = vigil_pending(w->v, &bytes);
	/* what waits as events, here and in the handle: a record's header
	 * each (their names are not counted) */
	size_t events = w->ahead_len + vigil_queued(w->v);
	unlock_handle(w);
	if (r < 0)
		return error_raise(-r, NULL);
	return PyLong_FromSize_t(bytes + 16 * events);
}

static PyObject *watcher_watches(WatcherObject *w, PyObject *unused)
{
	(void)unused;
	struct watches_ctx c = {PyDict_New(), w->mode == MODE_BYTES ? MODE_BYTES : MODE_STR};
	if (!c.dict)
		return NULL;
	if (lock_handle(w) < 0) {
		Py_DECREF(c.dict);
		return NULL;
	}
	int r = vigil_foreach_watch(w->v, add_watch_entry, &c);
	unlock_handle(w);
	if (r != 0) {
		Py_DECREF(c.dict);
		return r < 0 ? error_raise(r, NULL) : NULL;
	}
	return c.dict;
}

static PyObject *watcher_watch_wd(WatcherObject *w, PyObject *path)
{
	PyObject *b = locked_path(w, path, NULL);
	if (!b)
		return NULL;
	int r = vigil_watch_wd(w->v, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
	unlock_handle(w);
	Py_DECREF(b);
	if (r < 0)
		Py_RETURN_NONE;
	return PyLong_FromLong(r);
}

static PyObject *watcher_get_closed(WatcherObject *w, void *closure)
{
	(void)closure;
	return PyBool_FromLong(w->v == NULL);
}

static PyObject *watcher_get_watch_count(WatcherObject *w, void *closure)
{
	(void)closure;
	if (!w->v)
		return PyLong_FromLong(0);
	if (lock_handle(w) < 0)
		return NULL;
	size_t n = vigil_watch_count(w->v);
	unlock_handle(w);
	return PyLong_FromSize_t(n);
}

static PyObject *watcher_get_bytes(WatcherObject *w, void *closure)
{
	(void)closure;
	return PyBool_FromLong(w->mode == MODE_BYTES);
}

static PyObject *watcher_iter(PyObject *w)
{
	Py_INCREF(w);
	return w;
}

static PyMethodDef watcher_methods[] = {
	{"next", (PyCFunction)(void (*)(void))watcher_next, METH_VARARGS | METH_KEYWORDS,
	 "next(timeout=None) -> Event or None\n\n"
	 "The next event, waiting for it up to timeout seconds (None: for ever,\n"
	 "0: not at all); None when the time is up or wakeup() was called.\n"
	 "Other threads run while it waits. Raises ValueError once closed."},
	{"read", (PyCFunction)(void (*)(void))watcher_read, METH_VARARGS | METH_KEYWORDS,
	 "read(timeout=None, max_events=65536) -> list of Event\n\n"
	 "Every event waiting (at most max_events), as a list, waiting up to\n"
	 "timeout seconds for the first: the cheapest way through a storm.\n"
	 "[] when the time is up or wakeup() was called. (While a program works\n"
	 "through a list, nothing reads the kernel's queue: a handler that is\n"
	 "slow asks for fewer at a time.)"},
	{"wait", (PyCFunction)(void (*)(void))watcher_wait, METH_VARARGS | METH_KEYWORDS,
	 "wait(timeout=None) -> bool\n\n"
	 "Wait up to timeout seconds until next() has work to do, without\n"
	 "taking an event: True then (next(0) may still find that what came was\n"
	 "filtered away), False when the time is up or wakeup() was called."},
	{"wakeup", (PyCFunction)watcher_wakeup, METH_NOARGS,
	 "wakeup()\n\n"
	 "Make a next(), read() or wait() blocked in another thread return now\n"
	 "(None, [], False); if none is waiting, the next one to wait returns at\n"
	 "once. Safe to call from any thread, and from a signal handler."},
	{"deadline", (PyCFunction)watcher_deadline, METH_NOARGS,
	 "deadline() -> float or None\n\n"
	 "Seconds until next(0) has something to hand out without the descriptor\n"
	 "becoming readable (a rename half waiting for its partner), or None.\n"
	 "For event loops polling fileno() themselves."},
	{"close", (PyCFunction)watcher_close, METH_NOARGS,
	 "close()\n\n"
	 "Stop watching and free the kernel's resources. A next(), read() or\n"
	 "wait() waiting in another thread returns (iteration ends). Closing\n"
	 "twice is allowed."},
	{"fileno", (PyCFunction)watcher_fileno, METH_NOARGS,
	 "fileno() -> int\n\n"
	 "The descriptor to poll for readability (selectors, loop.add_reader):\n"
	 "readable means next(0) has work to do. Honour deadline() too."},
	{"pending", (PyCFunction)watcher_pending, METH_NOARGS,
	 "pending() -> int\n\n"
	 "About how many bytes of inotify records wait to be read: those queued\n"
	 "in the kernel or found by polling, as inotify's FIONREAD counts them,\n"
	 "plus 16 for each event already read ahead (its name not counted).\n"
	 "fileno() is an epoll descriptor: FIONREAD does not work on it."},
	{"watches", (PyCFunction)watcher_watches, METH_NOARGS,
	 "watches() -> dict\n\n"
	 "Every watched directory and file: {path: watch descriptor}, with the\n"
	 "paths as they are now (renames followed)."},
	{"watch_wd", (PyCFunction)watcher_watch_wd, METH_O,
	 "watch_wd(path) -> int or None\n\n"
	 "The kernel's watch descriptor of what is watched at path now, or None."},
	{"remove", (PyCFunction)watcher_remove, METH_O,
	 "remove(path)\n\n"
	 "Stop watching path (as given to add()) and everything below it.\n"
	 "ValueError when it is not watched."},
	{"_read_raw", (PyCFunction)(void (*)(void))watcher_read_raw, METH_VARARGS | METH_KEYWORDS,
	 "_read_raw(timeout=None, max_events=65536) -> list of tuples\n\n"
	 "read(), each event as (mask, cookie, dir, name, flags, error): what\n"
	 "the drop-ins build their own events from, without an Event each."},
	{"_add", (PyCFunction)watcher_add, METH_VARARGS,
	 "_add(path, mask, flags) -> int: vigil_add(); use add()."},
	{"_filter", (PyCFunction)watcher_filter, METH_VARARGS,
	 "_filter(kind, pattern, icase=False): vigil_filter_add(); use exclude= and include=."},
	{"__enter__", (PyCFunction)watcher_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)watcher_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef watcher_getset[] = {
	{"closed", (getter)watcher_get_closed, NULL, "Whether close() was called.", NULL},
	{"watch_count", (getter)watcher_get_watch_count, NULL,
	 "How many directories and files are watched (one kernel watch each).", NULL},
	{"bytes_paths", (getter)watcher_get_bytes, NULL,
	 "Whether events carry bytes paths (the watcher was given bytes).", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject Watcher_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "vigil._vigil.Watcher",
	.tp_basicsize = sizeof(WatcherObject),
	.tp_dealloc = (destructor)watcher_dealloc,
	/* it holds no object that could be part of a cycle (a subclass with a
	 * __dict__ gets the GC from Python) */
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "The C core of vigil.Watcher (see there): one vigil handle.",
	.tp_weaklistoffset = offsetof(WatcherObject, weakrefs),
	.tp_iter = watcher_iter,
	.tp_iternext = (iternextfunc)watcher_iternext,
	.tp_methods = watcher_methods,
	.tp_getset = watcher_getset,
	.tp_init = (initproc)watcher_init,
	.tp_new = watcher_new,
};
