"""vigil.pyinotify: pyinotify (0.9.x), as programs use it, on vigil's engine.

A program written for pyinotify changes one line,

    import pyinotify          ->   import vigil.pyinotify as pyinotify

and keeps the rest: WatchManager (add_watch() with rec, auto_add, do_glob,
quiet, exclude_filter; rm_watch, update_watch, get_wd, get_path, watches),
Notifier (loop, check_events, read_events, process_events, stop),
ThreadedNotifier and AsyncioNotifier, ProcessEvent subclasses with my_init()
and process_IN_* methods (by event, by family, then process_default),
PrintAllEvents, ChainIfTrue, Stats, ExcludeFilter, Event (wd, mask,
maskname, cookie, dir, name, path, pathname, and src_pathname on a move),
EventsCodes, ALL_EVENTS and every IN_* constant.

Where pyinotify is right, handlers see the same events with the same
fields. Where it is wrong, vigil's answer stands:

- With rec=True, auto_add=True, nothing in a new directory is missed.
  pyinotify watches a new directory once it has read its IN_CREATE and then
  lists it, faking IN_CREATE events for what it finds; files made in between
  that listing and its watch are lost, and the ones the listing finds may
  come twice (`cp -a` of a tree loses the first files). vigil watches first
  and lists second: each path comes once, as IN_CREATE (with IN_ISDIR for a
  directory), never the IN_MODIFY or IN_CLOSE_WRITE that happened before
  its directory was watched.
- A renamed directory's later events carry its new path, in event.path and
  in watches; pyinotify appends '-unknown-path' when it cannot tell where a
  directory went. A directory moved out of the tree is no longer watched.
- A directory that vanishes while add_watch() walks it is skipped
  (pyinotify's walk may raise, or log errors, and leave it half-watched).
- A name that is not UTF-8 comes decoded as os.fsdecode() does
  (surrogateescape; os.fsencode() gives its bytes back): pyinotify raises
  UnicodeDecodeError inside the notifier and stops.
- An overflow comes as an Event with mask IN_Q_OVERFLOW (handled by
  process_IN_Q_OVERFLOW, which logs a warning by default), as in pyinotify,
  and vigil has re-scanned by then: directories made in the gap come as
  IN_CREATE events. Its path, name and pathname are '' (pyinotify's has none,
  and handlers that read them crash).
- Names the guides use that pyinotify never had work: event.is_dir (for
  event.dir) and event.event_name (for event.maskname), and EventsCodes.IN_*
  (pyinotify 0.7) without compatibility_mode().
- add_watch() errors say what failed: with quiet=True, the log line and a
  negative wd in the returned dict, as pyinotify; with quiet=False,
  WatchManagerError. A mask with bits that are not inotify's or no event
  fails there (EINVAL). The watch limit's message names the sysctl.
- exclude_filter, a Python callable, cannot be asked while vigil walks a
  tree: excluded directories are watched all the same, and their events, and
  those of everything below them, are dropped. (A directory is excluded
  when it or one above it matches; pyinotify's walk, which asks each
  directory alone, would watch a subdirectory of an excluded one that does
  not match itself.)
- rec=False with auto_add=True: directories already there are watched too,
  their events dropped. rm_watch() of a directory below the top of a tree
  drops its events and those below it; its kernel watches go with the tree.
  update_watch() that widens a mask re-adds the watch (changes in between
  are not seen).
- Watch descriptors are the kernel's, as it numbers them; event.wd is the
  one of the directory as it is when the event is handed out.
- The pathname of an event under a watch given as a relative path is made
  absolute with the working directory the program had when it added the
  watch (pyinotify asks for the working directory at each event, a system
  call each time, and names the wrong place once the program changed it).
- Not provided: AsyncNotifier (asyncore is gone from Python 3.12),
  TornadoAsyncNotifier, the command line (python -m pyinotify), and the
  inotify_syscalls module; coalesce_events() is.
"""

import errno
import glob
import locale
import logging
import os
import re
import sys
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from functools import reduce

from vigil import _vigil

__author__ = "vigil (after Sebastien Martini's pyinotify)"
# the pyinotify version this stands in for
__version__ = "0.9.6"

COMPATIBILITY_MODE = False


class PyinotifyError(Exception):
    """Indicates exceptions raised by a Pyinotify class."""


class UnsupportedPythonVersionError(PyinotifyError):
    """Raised on unsupported Python versions."""

    def __init__(self, version):
        PyinotifyError.__init__(self, ('Python %s is unsupported, requires '
                                       'at least Python 3.9') % version)


class InotifyBindingNotFoundError(PyinotifyError):
    """pyinotify raises it when it finds no inotify binding; vigil has one."""

    def __init__(self):
        PyinotifyError.__init__(self, "Couldn't find any inotify binding")


def logger_init():
    """Initialize logger instance."""
    log = logging.getLogger("pyinotify")
    console_handler = logging.StreamHandler()
    console_handler.setFormatter(
        logging.Formatter("[%(asctime)s %(name)s %(levelname)s] %(message)s"))
    log.addHandler(console_handler)
    log.setLevel(20)
    return log


log = logger_init()


class ProcINotify:
    """Read and write inotify's settings in /proc/sys/fs/inotify (writing
    needs root): max_queued_events.value, max_queued_events.value = 42."""

    def __init__(self, attr):
        self._base = "/proc/sys/fs/inotify"
        self._attr = attr

    def get_val(self):
        with open(os.path.join(self._base, self._attr), 'r') as file_obj:
            return int(file_obj.readline())

    def set_val(self, nval):
        with open(os.path.join(self._base, self._attr), 'w') as file_obj:
            file_obj.write(str(nval) + '\n')

    value = property(get_val, set_val)

    def __repr__(self):
        return '<%s=%d>' % (self._attr, self.get_val())


max_queued_events = ProcINotify('max_queued_events')
max_user_instances = ProcINotify('max_user_instances')
max_user_watches = ProcINotify('max_user_watches')


# Every code, by name (EventsCodes has them by group, name and value).
IN_ACCESS = 0x00000001         # read
IN_MODIFY = 0x00000002         # written
IN_ATTRIB = 0x00000004         # metadata changed
IN_CLOSE_WRITE = 0x00000008    # closed after writing
IN_CLOSE_NOWRITE = 0x00000010  # closed, not written
IN_OPEN = 0x00000020           # opened
IN_MOVED_FROM = 0x00000040     # renamed away from here
IN_MOVED_TO = 0x00000080       # renamed to here
IN_CREATE = 0x00000100         # created here
IN_DELETE = 0x00000200         # deleted from here
IN_DELETE_SELF = 0x00000400    # the watched item deleted
IN_MOVE_SELF = 0x00000800      # the watched item renamed
IN_UNMOUNT = 0x00002000        # its file system went away
IN_Q_OVERFLOW = 0x00004000     # the queue overflowed
IN_IGNORED = 0x00008000        # the watch is gone
IN_ONLYDIR = 0x01000000        # watch only a directory
IN_DONT_FOLLOW = 0x02000000    # do not follow a symbolic link
IN_EXCL_UNLINK = 0x04000000    # no events on what was unlinked
IN_MASK_ADD = 0x20000000       # add to an existing watch's mask
IN_ISDIR = 0x40000000          # the event is about a directory
IN_ONESHOT = 0x80000000        # one event, then the watch goes


class EventsCodes:
    """Every event code by name (OP_FLAGS, EVENT_FLAGS, SPECIAL_FLAGS,
    ALL_FLAGS) and every name by value (ALL_VALUES); maskname(mask)."""

    FLAG_COLLECTIONS = {
        'OP_FLAGS': {
            'IN_ACCESS': IN_ACCESS,
            'IN_MODIFY': IN_MODIFY,
            'IN_ATTRIB': IN_ATTRIB,
            'IN_CLOSE_WRITE': IN_CLOSE_WRITE,
            'IN_CLOSE_NOWRITE': IN_CLOSE_NOWRITE,
            'IN_OPEN': IN_OPEN,
            'IN_MOVED_FROM': IN_MOVED_FROM,
            'IN_MOVED_TO': IN_MOVED_TO,
            'IN_CREATE': IN_CREATE,
            'IN_DELETE': IN_DELETE,
            'IN_DELETE_SELF': IN_DELETE_SELF,
            'IN_MOVE_SELF': IN_MOVE_SELF,
        },
        'EVENT_FLAGS': {
            'IN_UNMOUNT': IN_UNMOUNT,
            'IN_Q_OVERFLOW': IN_Q_OVERFLOW,
            'IN_IGNORED': IN_IGNORED,
        },
        'SPECIAL_FLAGS': {
            'IN_ONLYDIR': IN_ONLYDIR,
            'IN_DONT_FOLLOW': IN_DONT_FOLLOW,
            'IN_EXCL_UNLINK': IN_EXCL_UNLINK,
            'IN_MASK_ADD': IN_MASK_ADD,
            'IN_ISDIR': IN_ISDIR,
            'IN_ONESHOT': IN_ONESHOT,
        },
    }

    @staticmethod
    def maskname(mask):
        """The event's name: 'IN_CREATE', or 'IN_CREATE|IN_ISDIR'."""
        ms = mask
        name = '%s'
        if mask & IN_ISDIR:
            ms = mask - IN_ISDIR
            name = '%s|IN_ISDIR'
        return name % EventsCodes.ALL_VALUES[ms]


EventsCodes.ALL_FLAGS = {}
EventsCodes.ALL_VALUES = {}
for _flagc, _valc in EventsCodes.FLAG_COLLECTIONS.items():
    setattr(EventsCodes, _flagc, _valc)
    EventsCodes.ALL_FLAGS.update(_valc)
    for _name, _val in _valc.items():
        EventsCodes.ALL_VALUES[_val] = _name
        # pyinotify 0.7's EventsCodes.IN_CREATE, which the guides use
        setattr(EventsCodes, _name, _val)

ALL_EVENTS = reduce(lambda x, y: x | y, EventsCodes.OP_FLAGS.values())
EventsCodes.ALL_FLAGS['ALL_EVENTS'] = ALL_EVENTS
EventsCodes.ALL_VALUES[ALL_EVENTS] = 'ALL_EVENTS'
EventsCodes.ALL_EVENTS = ALL_EVENTS

# What inotify_add_watch() accepts (IN_MASK_CREATE too); the rest is EINVAL.
_KERNEL_BITS = (reduce(lambda x, y: x | y, EventsCodes.ALL_FLAGS.values()) | 0x10000000)
# Sent whether asked for or not.
_ALWAYS = IN_IGNORED | IN_UNMOUNT | IN_Q_OVERFLOW
# Events after which a directory's path or watch may have changed.
_RESHAPE = IN_DELETE_SELF | IN_MOVE_SELF | _ALWAYS
_RESHAPE_DIR = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO


class _Event:
    """An event's fields as attributes (the base of Event and _RawEvent)."""

    def __init__(self, dict_):
        self.__dict__.update(dict_)

    def __repr__(self):
        s = ''
        for attr, value in sorted(self.__dict__.items(), key=lambda x: x[0]):
            if attr.startswith('_'):
                continue
            if attr == 'mask':
                value = hex(getattr(self, attr))
            elif isinstance(value, str) and not value:
                value = "''"
            s += ' %s%s%s' % (output_format.field_name(attr),
                              output_format.punctuation('='),
                              output_format.field_value(value))

        s = '%s%s%s %s' % (output_format.punctuation('<'),
                           output_format.class_name(self.__class__.__name__),
                           s,
                           output_format.punctuation('>'))
        return s

    def __str__(self):
        return repr(self)


def _debug():
    """Whether pyinotify's logger takes debug lines (asked once a batch, not
    once an event: see Notifier.read_events())."""
    return _debug_now[0]


_debug_now = [False]


class _RawEvent(_Event):
    """An event as read: wd, mask, cookie and name (vigil adds the watched
    directory's path and watch, as private attributes)."""

    def __init__(self, wd, mask, cookie, name, path=None, watch=None):
        self.__dict__.update(_str=None, wd=wd, mask=mask, cookie=cookie, name=name,
                             _path=path, _watch=watch)
        if _debug():
            log.debug(str(self))

    def __str__(self):
        if self._str is None:
            self._str = _Event.__str__(self)
        return self._str


class Event(_Event):
    """What a handler gets. Fields: wd, mask, maskname, path (the watched
    directory), name ('' for the directory itself), pathname (path and name,
    made absolute), dir (a directory?), cookie (moves), src_pathname (on
    IN_MOVED_TO, when the IN_MOVED_FROM was seen). An overflow has mask and
    maskname, and path, name and pathname ''. is_dir and event_name are
    dir's and maskname's other names."""

    # what an overflow lacks, so that handlers reading them do not crash
    path = ''
    name = ''
    pathname = ''
    dir = False

    def __init__(self, raw):
        _Event.__init__(self, raw)
        self.maskname = EventsCodes.maskname(self.mask)
        if COMPATIBILITY_MODE:
            self.event_name = self.maskname
        d = self.__dict__
        if 'path' in d:
            path, name = d['path'], d['name']
            if path[:1] == '/' and '/.' not in path and not path.endswith('/'):
                # normalized and absolute already (a watch's path), and a
                # name is one component: what abspath(join()) would give
                self.pathname = path + '/' + name if name else path
            elif name:
                self.pathname = os.path.abspath(os.path.join(path, name))
            else:
                self.pathname = os.path.abspath(path)

    @property
    def is_dir(self):
        """dir's other name (pyinotify 0.7, and the guides)."""
        return self.dir

    def __getattr__(self, attr):
        if attr == 'event_name':
            return self.maskname
        raise AttributeError("'Event' object has no attribute %r" % (attr,))


def _event(dict_, pathname):
    """Event(dict_), its pathname given (the watch's absolute path and the
    name) rather than made with abspath()."""
    event = Event.__new__(Event)
    d = event.__dict__
    d.update(dict_)
    d['maskname'] = EventsCodes.maskname(dict_['mask'])
    if COMPATIBILITY_MODE:
        d['event_name'] = d['maskname']
    d['pathname'] = pathname
    return event


class ProcessEventError(PyinotifyError):
    """Raised when an event cannot be dispatched."""

    def __init__(self, err):
        PyinotifyError.__init__(self, err)


# mask -> the methods that may take it: process_IN_CLOSE_WRITE, process_IN_CLOSE
_METHOD_NAMES = {}


class _ProcessEvent:
    """Dispatch: process_MASKNAME, then process_FAMILY (process_IN_CLOSE
    for IN_CLOSE_WRITE), then process_default."""

    def __call__(self, event):
        names = _METHOD_NAMES.get(event.mask)
        if names is None:
            stripped_mask = event.mask - (event.mask & IN_ISDIR)
            maskname = EventsCodes.ALL_VALUES.get(stripped_mask)
            if maskname is None:
                raise ProcessEventError("Unknown mask 0x%08x" % stripped_mask)
            names = _METHOD_NAMES[event.mask] = (
                'process_' + maskname, 'process_IN_' + maskname.split('_')[1])
        meth = getattr(self, names[0], None)
        if meth is not None:
            return meth(event)
        meth = getattr(self, names[1], None)
        if meth is not None:
            return meth(event)
        return self.process_default(event)

    def __repr__(self):
        return '<%s>' % self.__class__.__name__


class _SysProcessEvent(_ProcessEvent):
    """Raw events to Events. vigil keeps the watches itself (new
    directories, renames); here moves get their src_pathname and ignored
    watches are forgotten."""

    def __init__(self, wm, notifier):
        self._watch_manager = wm
        self._notifier = notifier
        self._mv_cookie = {}  # cookie -> (src_path, date)
        # what is not process_default, by mask (IN_ISDIR left out)
        self._special = {IN_MOVED_FROM: self.process_IN_MOVED_FROM,
                         IN_MOVED_TO: self.process_IN_MOVED_TO,
                         IN_Q_OVERFLOW: self.process_IN_Q_OVERFLOW,
                         IN_IGNORED: self.process_IN_IGNORED}

    def _dispatch(self, raw_event):
        """self(raw_event), without looking up method names by string."""
        special = self._special.get(raw_event.mask & ~IN_ISDIR)
        if special is not None:
            return special(raw_event)
        return self.process_default(raw_event)

    def cleanup(self):
        """Forget IN_MOVED_FROMs older than a minute."""
        date_cur_ = datetime.now()
        for k in list(self._mv_cookie):
            if (date_cur_ - self._mv_cookie[k][1]) > timedelta(minutes=1):
                log.debug('Cleanup: deleting entry %s', self._mv_cookie[k][0])
                del self._mv_cookie[k]

    def process_IN_MOVED_FROM(self, raw_event):
        src_path = os.path.normpath(os.path.join(raw_event._path, raw_event.name))
        self._mv_cookie[raw_event.cookie] = (src_path, datetime.now())
        return self.process_default(raw_event, {'cookie': raw_event.cookie})

    def process_IN_MOVED_TO(self, raw_event):
        to_append = {'cookie': raw_event.cookie}
        mv_ = self._mv_cookie.pop(raw_event.cookie, None)
        if mv_ is not None:
            to_append['src_pathname'] = mv_[0]
        return self.process_default(raw_event, to_append)

    def process_IN_Q_OVERFLOW(self, raw_event):
        return Event({'mask': raw_event.mask})

    def process_IN_IGNORED(self, raw_event):
        event_ = self.process_default(raw_event)
        self._watch_manager._forget(raw_event.wd)
        return event_

    def process_default(self, raw_event, to_append=None):
        watch_ = raw_event._watch
        if raw_event.mask & (IN_DELETE_SELF | IN_MOVE_SELF):
            dir_ = watch_.dir
        else:
            dir_ = bool(raw_event.mask & IN_ISDIR)
        dict_ = {'wd': raw_event.wd,
                 'mask': raw_event.mask,
                 'path': raw_event._path,
                 'name': raw_event.name,
                 'dir': dir_}
        if COMPATIBILITY_MODE:
            dict_['is_dir'] = dir_
        if to_append is not None:
            dict_.update(to_append)
        name = raw_event.name
        absolute = watch_._abs
        return _event(dict_, (absolute + '/' + name if absolute != '/' else '/' + name)
                      if name else absolute)


class ProcessEvent(_ProcessEvent):
    """Subclass it: define process_IN_CREATE (one event),
    process_IN_CLOSE (a family: IN_CLOSE_WRITE and IN_CLOSE_NOWRITE), and/or
    process_default (the rest). Do not override __init__; define
    my_init(**kwargs), which gets the constructor's keyword arguments.
    ProcessEvent(pevent) chains: pevent(event) runs first, and a true value
    from it stops this one."""

    pevent = None

    def __init__(self, pevent=None, **kargs):
        self.pevent = pevent
        self.my_init(**kargs)

    def my_init(self, **kargs):
        """Called by __init__() with its keyword arguments."""

    def __call__(self, event):
        stop_chaining = False
        if self.pevent is not None:
            stop_chaining = self.pevent(event)
        if not stop_chaining:
            return _ProcessEvent.__call__(self, event)

    def nested_pevent(self):
        return self.pevent

    def process_IN_Q_OVERFLOW(self, event):
        """Logs a warning; override it to do more (vigil has re-scanned the
        trees when it comes)."""
        log.warning('Event queue overflowed.')

    def process_default(self, event):
        """Does nothing; override it."""


class PrintAllEvents(ProcessEvent):
    """Writes each event's representation on a line (sys.stdout, or out=)."""

    def my_init(self, out=None):
        if out is None:
            out = sys.stdout
        self._out = out

    def process_default(self, event):
        self._out.write(str(event))
        self._out.write('\n')
        self._out.flush()


class ChainIfTrue(ProcessEvent):
    """Goes on down the chain only when func(event) is true."""

    def my_init(self, func):
        self._func = func

    def process_default(self, event):
        return not self._func(event)


class Stats(ProcessEvent):
    """Counts events by name."""

    def my_init(self):
        self._start_time = time.time()
        self._stats = {}
        self._stats_lock = threading.Lock()

    def process_default(self, event):
        with self._stats_lock:
            for event_name in event.maskname.split('|'):
                self._stats[event_name] = self._stats.get(event_name, 0) + 1

    def _stats_copy(self):
        with self._stats_lock:
            return self._stats.copy()

    def __repr__(self):
        stats = self._stats_copy()
        elapsed = int(time.time() - self._start_time)
        if elapsed < 60:
            elapsed_str = str(elapsed) + 'sec'
        elif elapsed < 3600:
            elapsed_str = '%dmn%dsec' % (elapsed / 60, elapsed % 60)
        elif elapsed < 86400:
            elapsed_str = '%dh%dmn' % (elapsed / 3600, (elapsed % 3600) / 60)
        else:
            elapsed_str = '%dd%dh' % (elapsed / 86400, (elapsed % 86400) / 3600)
        stats['ElapsedTime'] = elapsed_str
        items = ''.join(' %s=%s' % (output_format.field_name(ev),
                                    output_format.field_value(value))
                        for ev, value in sorted(stats.items(), key=lambda x: x[0]))
        return '<%s%s >' % (output_format.class_name(self.__class__.__name__), items)

    def dump(self, filename):
        """Write the statistics to FILENAME, which must not exist."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_EXCL
        fd = os.open(filename, flags, 0o0600)
        try:
            os.write(fd, bytes(self.__str__(), locale.getpreferredencoding()))
        finally:
            os.close(fd)

    def __str__(self, scale=45):
        stats = self._stats_copy()
        if not stats:
            return ''
        m = max(stats.values())
        unity = scale / m
        fmt = '%%-26s%%-%ds%%s' % (len(output_format.field_value('@' * scale)) + 1)

        def func(x):
            return fmt % (output_format.field_name(x[0]),
                          output_format.field_value('@' * int(x[1] * unity)),
                          output_format.simple('%d' % x[1], 'yellow'))
        return '\n'.join(map(func, sorted(stats.items(), key=lambda x: x[0])))


class NotifierError(PyinotifyError):
    """Raised on a notifier's error."""

    def __init__(self, err):
        PyinotifyError.__init__(self, err)


class Notifier:
    """Notifier(watch_manager, default_proc_fun=None, read_freq=0,
    threshold=0, timeout=None): reads the watch manager's events and hands
    each to its watch's proc_fun, or default_proc_fun (PrintAllEvents when
    None).

    read_freq: in loop(), read at most every read_freq seconds (events
    gather meanwhile). threshold: read only once at least this many bytes of
    kernel records wait. timeout: how long check_events() waits, in
    milliseconds (None: for ever). While it waits, other threads run."""

    def __init__(self, watch_manager, default_proc_fun=None, read_freq=0,
                 threshold=0, timeout=None):
        self._watch_manager = watch_manager
        self._fd = self._watch_manager.get_fd()
        self._pipe = (-1, -1)
        self._eventq = deque()
        self._sys_proc_fun = _SysProcessEvent(self._watch_manager, self)
        self._default_proc_fun = default_proc_fun
        if default_proc_fun is None:
            self._default_proc_fun = PrintAllEvents()
        self._read_freq = read_freq
        self._threshold = threshold
        self._timeout = timeout
        self._coalesce = False
        self._eventset = set()

    def append_event(self, event):
        """Append a raw event to the event queue."""
        self._eventq.append(event)

    def proc_fun(self):
        return self._default_proc_fun

    def coalesce_events(self, coalesce=True):
        """Merge identical events (same wd, mask, cookie and name) within
        each batch read."""
        self._coalesce = coalesce
        if not coalesce:
            self._eventset.clear()

    def check_events(self, timeout=None):
        """Wait up to TIMEOUT milliseconds (default: the notifier's timeout;
        None: for ever) for events to read: true when there are."""
        if timeout is None:
            timeout = self._timeout
        return self._watch_manager._watcher.wait(None if timeout is None else timeout / 1000.0)

    def read_events(self):
        """Read the events waiting and queue them for process_events()."""
        wm = self._watch_manager
        if self._threshold:
            # FIONREAD, as pyinotify asks it, on what vigil holds (its
            # descriptor is an epoll one, which has no FIONREAD)
            avail = wm._watcher.pending()
            if avail < self._threshold:
                log.debug('(fd: %d) %d bytes available to read but threshold is '
                          'fixed to %d bytes', self._fd, avail, self._threshold)
                return
        _debug_now[0] = log.isEnabledFor(logging.DEBUG)
        try:
            # a batch at a time: while handlers work through it, nothing
            # reads the kernel's queue (vigil reads ahead when it is asked)
            events = wm._watcher._read_raw(0, _READ_AT_ONCE)
        except OSError as msg:
            raise NotifierError(msg)
        for ev in events:
            rawevent = wm._raw_event(ev)
            if rawevent is None:
                continue
            if self._coalesce:
                key = (rawevent.wd, rawevent.mask, rawevent.cookie, rawevent.name)
                if key in self._eventset:
                    continue
                self._eventset.add(key)
            self._eventq.append(rawevent)

    def process_events(self):
        """Hand each queued event to its processing function."""
        while self._eventq:
            raw_event = self._eventq.popleft()
            if self._watch_manager.ignore_events:
                log.debug("Event ignored: %s" % repr(raw_event))
                continue
            watch_ = raw_event._watch
            revent = self._sys_proc_fun._dispatch(raw_event)
            if watch_ and watch_.proc_fun:
                watch_.proc_fun(revent)
            else:
                self._default_proc_fun(revent)
        self._sys_proc_fun.cleanup()
        if self._coalesce:
            self._eventset.clear()

    def __daemonize(self, pid_file=None, stdin=os.devnull, stdout=os.devnull,
                    stderr=os.devnull):
        """Detach (double fork, setsid, chdir /), redirect the standard
        streams, and write the pid to PID_FILE (None: /var/run/NAME.pid;
        False: none), removed at exit."""
        if pid_file is None:
            dirname = '/var/run/'
            basename = os.path.basename(sys.argv[0]) or 'pyinotify'
            pid_file = os.path.join(dirname, basename + '.pid')

        if pid_file is not False and os.path.lexists(pid_file):
            raise NotifierError('Cannot daemonize: pid file %s already exists.' % pid_file)

        if os.fork() != 0:
            os._exit(0)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        os.chdir('/')
        os.umask(0o022)
        fd_inp = os.open(stdin, os.O_RDONLY)
        os.dup2(fd_inp, 0)
        fd_out = os.open(stdout, os.O_WRONLY | os.O_CREAT, 0o0600)
        os.dup2(fd_out, 1)
        fd_err = os.open(stderr, os.O_WRONLY | os.O_CREAT, 0o0600)
        os.dup2(fd_err, 2)

        if pid_file is not False:
            import atexit
            flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_EXCL
            fd_pid = os.open(pid_file, flags, 0o0600)
            os.write(fd_pid, bytes(str(os.getpid()) + '\n', locale.getpreferredencoding()))
            os.close(fd_pid)
            atexit.register(lambda: os.unlink(pid_file))

    def _sleep(self, ref_time):
        if self._read_freq > 0:
            sleep_amount = self._read_freq - (time.time() - ref_time)
            if sleep_amount > 0:
                log.debug('Now sleeping %d seconds', sleep_amount)
                time.sleep(sleep_amount)

    def loop(self, callback=None, daemonize=False, **args):
        """Read and process events until callback(notifier) returns True or
        Ctrl-C (KeyboardInterrupt), then stop(). daemonize=True detaches
        first (pid_file=, stdin=, stdout=, stderr= in ARGS)."""
        if daemonize:
            self.__daemonize(**args)
        while 1:
            try:
                self.process_events()
                if (callback is not None) and (callback(self) is True):
                    break
                ref_time = time.time()
                if self.check_events():
                    self._sleep(ref_time)
                    self.read_events()
            except KeyboardInterrupt:
                log.debug('Pyinotify stops monitoring.')
                break
        self.stop()

    def stop(self):
        """Close the watch manager's inotify instance: every watch and
        pending event goes."""
        if self._fd is not None:
            self._watch_manager.close()
            self._fd = None
        self._sys_proc_fun = None


class ThreadedNotifier(threading.Thread, Notifier):
    """A Notifier in a thread of its own: start() it, stop() it."""

    def __init__(self, watch_manager, default_proc_fun=None, read_freq=0,
                 threshold=0, timeout=None):
        threading.Thread.__init__(self)
        self._stop_event = threading.Event()
        Notifier.__init__(self, watch_manager, default_proc_fun, read_freq,
                          threshold, timeout)

    def stop(self):
        """Stop the loop, join the thread, close the watch manager."""
        self._stop_event.set()
        self._watch_manager._watcher.wakeup()
        threading.Thread.join(self)
        Notifier.stop(self)

    def loop(self):
        while not self._stop_event.is_set():
            self.process_events()
            ref_time = time.time()
            if self.check_events():
                self._sleep(ref_time)
                self.read_events()

    def run(self):
        """The thread's body: loop() until stop()."""
        self.loop()


class AsyncioNotifier(Notifier):
    """A Notifier on an asyncio loop: AsyncioNotifier(wm, loop,
    callback=None, ...). Events are read when the loop finds the descriptor
    readable (add_reader); callback(notifier) runs after each batch."""

    def __init__(self, watch_manager, loop, callback=None,
                 default_proc_fun=None, read_freq=0, threshold=0, timeout=None):
        self.loop = loop
        self.handle_read_callback = callback
        self._timer = None
        Notifier.__init__(self, watch_manager, default_proc_fun, read_freq,
                          threshold, timeout)
        loop.add_reader(self._fd, self.handle_read)

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()
        if self._fd is not None:
            self.loop.remove_reader(self._fd)
        Notifier.stop(self)

    def handle_read(self, *args, **kwargs):
        self._timer = None
        self.read_events()
        self.process_events()
        if self.handle_read_callback is not None:
            self.handle_read_callback(self)
        # a rename half waiting for its partner: take it when it is due
        if self._fd is not None and self._timer is None:
            due = self._watch_manager._watcher.deadline()
            if due is not None:
                self._timer = self.loop.call_later(due, self.handle_read)


class Watch:
    """A watched file or directory: wd, path, mask, proc_fun, auto_add,
    exclude_filter, dir."""

    __slots__ = ('wd', 'path', 'mask', 'proc_fun', 'auto_add',
                 'exclude_filter', 'dir', '_abs')

    def __init__(self, wd, path, mask, proc_fun, auto_add, exclude_filter):
        self.wd = wd
        self.path = path
        self.mask = mask
        self.proc_fun = proc_fun
        self.auto_add = auto_add
        self.exclude_filter = exclude_filter
        self.dir = os.path.isdir(self.path)
        # path made absolute as the watch was: pyinotify's pathname asks the
        # working directory (a system call) for every event of a relative
        # watch, and is wrong once the program changes it
        self._abs = os.path.abspath(path)

    def __repr__(self):
        s = ' '.join(['%s%s%s' % (output_format.field_name(attr),
                                  output_format.punctuation('='),
                                  output_format.field_value(getattr(self, attr)))
                      for attr in self.__slots__ if not attr.startswith('_')])
        return '%s%s %s %s' % (output_format.punctuation('<'),
                               output_format.class_name(self.__class__.__name__),
                               s, output_format.punctuation('>'))


class ExcludeFilter:
    """ExcludeFilter(["^/etc/rc.*", "^/etc/hostname"]), or the name of a
    file holding such patterns, one a line: called with a path, true when a
    pattern matches its beginning (re.match)."""

    def __init__(self, arg_lst):
        if isinstance(arg_lst, str):
            lst = self._load_patterns_from_file(arg_lst)
        elif isinstance(arg_lst, list):
            lst = arg_lst
        else:
            raise TypeError
        self._lregex = [re.compile(regex, re.UNICODE) for regex in lst]

    def _load_patterns_from_file(self, filename):
        lst = []
        with open(filename, 'r') as file_obj:
            for line in file_obj.readlines():
                pattern = line.strip()
                if not pattern or pattern.startswith('#'):
                    continue
                lst.append(pattern)
        return lst

    def _match(self, regex, path):
        return regex.match(path) is not None

    def __call__(self, path):
        for regex in self._lregex:
            if self._match(regex, path):
                return True
        return False


class WatchManagerError(Exception):
    """add_watch(), update_watch() or rm_watch() failed (quiet=False); wmd
    holds what the same call did watch."""

    def __init__(self, msg, wmd):
        self.wmd = wmd
        Exception.__init__(self, msg)


class _Root:
    """One add_watch() of one path: how vigil watches it, and which of the
    directories vigil watches pyinotify would have watched."""

    __slots__ = ('path', 'recursive', 'skip', 'exclude_filter', 'settings', 'events',
                 'flags', 'abs')

    def __init__(self, path, recursive, exclude_filter, settings):
        self.path = path          # normalized
        self.recursive = recursive
        self.skip = set()         # wds whose events (and below) are dropped
        self.exclude_filter = exclude_filter
        self.settings = settings  # a Watch: what its own watch is made with
        self.events = 0           # what vigil was asked for, and how
        self.flags = 0
        self.abs = os.path.abspath(path)  # as it was when added

    def abs_of(self, path):
        """PATH (normalized, this root's or below it) made absolute as the
        root was when it was added."""
        if path == self.path:
            return self.abs
        rest = path if self.path == '.' else path[len(self.path) + 1:] \
            if self.path != '/' else path[1:]
        return os.path.join(self.abs, rest)


_HIDDEN = object()  # a directory whose events are dropped
_READ_AT_ONCE = 1024


def _str_errno(code):
    return 'Errno=%s (%s)' % (os.strerror(code), errno.errorcode.get(code, code))


class WatchManager:
    """WatchManager(exclude_filter=lambda path: False): the watches, on one
    vigil watcher (one inotify instance)."""

    def __init__(self, exclude_filter=lambda path: False):
        self._ignore_events = False
        self._exclude_filter = exclude_filter
        self._wmd = {}      # wd -> Watch
        self._roots = {}    # normalized path -> _Root
        self._dirs = {}     # an event's dir -> Watch, or _HIDDEN
        self._lock = threading.RLock()
        self._watcher = _vigil.Watcher()
        self._fd = self._watcher.fileno()

    def close(self):
        """Close the inotify instance: every watch goes."""
        self._watcher.close()

    def get_fd(self):
        """The descriptor to poll."""
        return self._fd

    def get_watch(self, wd):
        """The Watch of WD, or None."""
        watch = self._wmd.get(wd)
        if watch is None:
            watch = self.watches.get(wd)
        return watch

    def del_watch(self, wd):
        """Forget WD's Watch."""
        try:
            del self._wmd[wd]
        except KeyError as err:
            log.error('Cannot delete unknown watch descriptor %s' % str(err))

    def _forget(self, wd):
        with self._lock:
            self._wmd.pop(wd, None)
            self._dirs.clear()

    @property
    def watches(self):
        """{wd: Watch} for every watch, paths as they are now."""
        with self._lock:
            current = {}
            if not self._watcher.closed:
                for path, wd in self._watcher.watches().items():
                    watch = self._watch_of(path, wd)
                    if watch is not None:
                        current[wd] = watch
            self._wmd.clear()
            self._wmd.update(current)
            return self._wmd

    # -- from vigil's events to pyinotify's ---------------------------------

    def _root_of(self, d):
        """The _Root whose tree holds the directory D, or None."""
        roots = self._roots
        root = roots.get(d)
        if root is not None:
            return root
        p = d
        while True:
            parent = os.path.dirname(p)
            if not parent or parent == p:
                return None
            p = parent
            root = roots.get(p)
            if root is not None:
                return root if root.recursive else None

    def _watch_of(self, d, wd):
        """The Watch of the directory D (wd WD), made the first time, with
        its parent's settings, as pyinotify's auto_add makes them; None when
        pyinotify would not watch it."""
        watch = self._wmd.get(wd)
        if watch is not None and watch.path == os.path.normpath(d):
            return watch
        root = self._root_of(d)
        if root is None:
            return None
        path = os.path.normpath(d)
        if path == root.path:
            parent = None
        else:
            # hidden when it, or one above it, is excluded or skipped
            parent_path = os.path.dirname(path)
            parent_wd = self._watcher.watch_wd(parent_path)
            if parent_wd is None:
                return None
            parent = self._watch_of(parent_path, parent_wd)
            if parent is None or wd in root.skip or root.exclude_filter(path):
                return None
        if watch is None:
            settings = root.settings if parent is None else parent
            watch = Watch(wd=wd, path=path, mask=settings.mask, proc_fun=settings.proc_fun,
                          auto_add=settings.auto_add, exclude_filter=settings.exclude_filter)
        else:
            watch.path = path
        watch._abs = root.abs_of(path)
        self._wmd[wd] = watch
        return watch

    def _gone_watch(self, d):
        """The Watch a directory vigil no longer watches had: the one known
        by its path, or one made from its parent's (wd -1), or None."""
        path = os.path.normpath(d)
        for watch in self._wmd.values():
            if watch.path == path:
                return watch
        root = self._root_of(d)
        if root is None or path == root.path:
            return None
        parent_path = os.path.dirname(path)
        parent_wd = self._watcher.watch_wd(parent_path)
        parent = self._gone_watch(parent_path) if parent_wd is None else \
            self._watch_of(parent_path, parent_wd)
        if parent is None or root.exclude_filter(path):
            return None
        watch = Watch(wd=-1, path=path, mask=parent.mask, proc_fun=parent.proc_fun,
                      auto_add=parent.auto_add, exclude_filter=parent.exclude_filter)
        watch._abs = root.abs_of(path)
        return watch

    def _raw_event(self, item):
        """An event from vigil (a _read_raw() tuple) as a _RawEvent, or None
        when pyinotify would not have seen it."""
        mask, cookie, d, name, flags, error = item
        if error is not None:
            log.error('%s', error)
            return None
        if mask & IN_Q_OVERFLOW:
            with self._lock:
                self._dirs.clear()
            return _RawEvent(-1, mask, 0, '')
        watch = self._dirs.get(d)
        if watch is None:
            with self._lock:
                wd = self._watcher.watch_wd(d)
                if wd is None:
                    # gone from vigil's tree by the time its last events
                    # are handed out (IN_DELETE_SELF, IN_IGNORED)
                    watch = self._gone_watch(d)
                else:
                    watch = self._watch_of(d, wd)
                watch = self._dirs[d] = watch or _HIDDEN
        if mask & _RESHAPE or (mask & IN_ISDIR and mask & _RESHAPE_DIR):
            self._dirs.clear()
        if watch is _HIDDEN:
            return None
        if not (mask & watch.mask & ALL_EVENTS or mask & _ALWAYS):
            return None
        return _RawEvent(watch.wd, mask, cookie, name, watch.path, watch)

    # -- adding, updating and removing watches ------------------------------

    def __format_path(self, path):
        return os.path.normpath(path)

    def __glob(self, path, do_glob):
        if do_glob:
            return glob.iglob(path)
        return [path]

    def __format_param(self, param):
        # a list, as pyinotify takes; and any other collection, as the
        # guides pass (wm.rm_watch(wdd.values()), a list in Python 2)
        if isinstance(param, (str, bytes, int)) or not hasattr(param, '__iter__'):
            yield param
        else:
            for p_ in param:
                yield p_

    def __walk_rec(self, top, rec):
        if not rec or os.path.islink(top) or not os.path.isdir(top):
            yield top
        else:
            for root, dirs, files in os.walk(top):
                yield root

    def __vigil_mask(self, mask, path):
        """MASK as vigil's events and flags; OSError(EINVAL) when the kernel
        would refuse it."""
        if mask & ~_KERNEL_BITS:
            raise OSError(errno.EINVAL, "bad mask 0x%08x: 0x%08x are not inotify bits"
                          % (mask, mask & ~_KERNEL_BITS), path)
        events = mask & (ALL_EVENTS | _ALWAYS)
        if not events & ALL_EVENTS:
            raise OSError(errno.EINVAL, "bad mask 0x%08x: it asks for no event" % mask, path)
        flags = ((_vigil._ONLYDIR if mask & IN_ONLYDIR else 0) |
                 (_vigil._NOFOLLOW if mask & IN_DONT_FOLLOW else 0) |
                 (_vigil._ONESHOT if mask & IN_ONESHOT else 0))
        return events | _ALWAYS, flags

    def __add_root(self, path, mask, proc_fun, auto_add, exclude_filter, recursive,
                   skip_existing):
        """Watch PATH (normalized) through vigil; its wd (negative: failed,
        logged or raised by the caller)."""
        if auto_add and not mask & IN_CREATE:
            mask |= IN_CREATE
        events, flags = self.__vigil_mask(mask, path)
        # the root's own Watch is made anew, as inotify_add_watch() replaces
        # a watch's mask
        settings = Watch(0, path, mask, proc_fun, auto_add, exclude_filter)
        with self._lock:
            root = self._roots.get(path)
            if root is None:
                root = self._roots[path] = _Root(path, recursive, exclude_filter, settings)
            else:
                root.recursive = root.recursive or recursive
                root.settings = settings
            self._dirs.clear()
            root.events |= events
            root.flags = flags | (_vigil._RECURSIVE if root.recursive else 0)
            try:
                self._watcher._add(path, root.events, root.flags)
            except OSError:
                if not self._watcher.watch_wd(path):
                    del self._roots[path]
                raise
            wd = self._watcher.watch_wd(path)
            if wd is None:  # excluded, or watched through another name
                return -1
            old = self._wmd.pop(wd, None)
            watch = self._watch_of(path, wd)
            watch.mask, watch.proc_fun = mask, proc_fun
            watch.auto_add, watch.exclude_filter = auto_add, exclude_filter
            if old is not None and old is not watch:
                old.path = watch.path
            if skip_existing:
                # rec=False, auto_add=True: what is there now is not watched
                for p, w in self._watcher.watches().items():
                    if w != wd and os.path.dirname(os.path.normpath(p)) == path:
                        root.skip.add(w)
            self._dirs.clear()
            return wd

    def add_watch(self, path, mask, proc_fun=None, rec=False,
                  auto_add=False, do_glob=False, quiet=True,
                  exclude_filter=None):
        """Watch PATH (a str, or a list of them) for MASK; {path: wd} for
        each path watched (with rec=True, each directory below too). A
        negative wd says it failed (logged; with quiet=False,
        WatchManagerError); -2: excluded by exclude_filter; -3: not a str.

        rec: watch the directories below too. auto_add: watch directories
        that appear later (IN_CREATE is added to MASK). proc_fun: the
        ProcessEvent (or callable) for this watch's events. do_glob: PATH is
        a glob pattern. exclude_filter: a callable that is true for
        directories not to watch (default: the manager's)."""
        ret_ = {}
        if exclude_filter is None:
            exclude_filter = self._exclude_filter
        for npath in self.__format_param(path):
            if not isinstance(npath, str):
                ret_[path] = -3
                continue
            for apath in self.__glob(npath, do_glob):
                if exclude_filter(apath):
                    ret_[apath] = -2
                    continue
                top = self.__format_path(apath)
                if rec and auto_add and os.path.isdir(apath) and not os.path.islink(apath):
                    self.__add_tree(apath, top, mask, proc_fun, exclude_filter, quiet,
                                    ret_, False)
                elif auto_add and os.path.isdir(apath) and not os.path.islink(apath):
                    self.__add_tree(apath, top, mask, proc_fun, exclude_filter, quiet,
                                    ret_, True)
                else:
                    for rpath in self.__walk_rec(apath, rec):
                        if rpath != apath and exclude_filter(rpath):
                            ret_[rpath] = -2
                            continue
                        self.__add_one(rpath, self.__format_path(rpath), mask, proc_fun,
                                       auto_add, exclude_filter, quiet, ret_, False, False)
        return ret_

    def __add_one(self, key, path, mask, proc_fun, auto_add, exclude_filter, quiet, ret_,
                  recursive, skip_existing):
        try:
            wd = self.__add_root(path, mask, proc_fun, auto_add, exclude_filter,
                                 recursive, skip_existing)
        except OSError as e:
            ret_[key] = -1
            err = 'add_watch: cannot watch %s WD=%d, %s%s' % (
                key, -1, _str_errno(e.errno) if e.errno else '',
                '' if e.strerror == os.strerror(e.errno or 0) else ': ' + str(e.strerror))
            if quiet:
                log.error(err)
                return None
            raise WatchManagerError(err, ret_)
        ret_[key] = wd
        return wd

    def __add_tree(self, given, top, mask, proc_fun, exclude_filter, quiet, ret_,
                   skip_existing):
        wd = self.__add_one(given, top, mask, proc_fun, True, exclude_filter, quiet, ret_,
                            True, skip_existing)
        if wd is None or wd < 0 or skip_existing:
            return
        # every directory watched below, under the name pyinotify's walk
        # would give it (the path as given, joined)
        with self._lock:
            for p, w in sorted(self._watcher.watches().items()):
                norm = os.path.normpath(p)
                if norm == top or not norm.startswith(top.rstrip('/') + '/'):
                    continue
                key = os.path.join(given, os.path.relpath(norm, top))
                ret_[key] = w if self._watch_of(p, w) is not None else -2

    def __get_sub_rec(self, lpath):
        """Each wd of LPATH, and every wd watched below it."""
        watches = self.watches
        for d in lpath:
            root = self.get_path(d)
            if root is None:
                continue
            yield d
            if not os.path.isdir(root):
                continue
            root = os.path.normpath(root)
            lend = len(root)
            for iwd in list(watches.items()):
                cur = iwd[1].path
                if iwd[0] != d and (root == os.sep or (cur.startswith(root) and
                                                       len(cur) > lend and
                                                       cur[lend] == os.sep)):
                    yield iwd[1].wd

    def update_watch(self, wd, mask=None, proc_fun=None, rec=False,
                     auto_add=False, quiet=True):
        """Change WD's (an int, or a list) mask, proc_fun or auto_add (with
        rec=True, those of every watch below it too); {wd: bool}."""
        lwd = self.__format_param(wd)
        if rec:
            lwd = self.__get_sub_rec(lwd)
        ret_ = {}
        for awd in lwd:
            watch_ = self.get_watch(awd)
            if watch_ is None or awd < 0:
                err = 'update_watch: invalid WD=%d' % awd
                if quiet:
                    log.error(err)
                    continue
                raise WatchManagerError(err, ret_)
            if mask:
                try:
                    events, _ = self.__vigil_mask(mask, watch_.path)
                except OSError as e:
                    ret_[awd] = False
                    err = 'update_watch: cannot update %s WD=%d, %s' % (
                        watch_.path, awd, e.strerror)
                    if quiet:
                        log.error(err)
                        continue
                    raise WatchManagerError(err, ret_)
                root = self._roots.get(watch_.path) or self._root_of(watch_.path)
                if root is not None and events & ~root.events:
                    self.__widen(root, root.events | events)
                watch_.mask = mask
            if proc_fun:
                watch_.proc_fun = proc_fun
            if auto_add:
                watch_.auto_add = auto_add
            ret_[awd] = True
            log.debug('Updated watch - %s', watch_)
        return ret_

    def __widen(self, root, events):
        """Ask the kernel for EVENTS on ROOT's tree: vigil asks for more only
        on a new watch, so the tree is watched again (new watch descriptors,
        which the Watch objects take; changes in between are not seen)."""
        with self._lock:
            before = self._watcher.watches()
            by_path = {}
            for path, wd in before.items():
                norm = os.path.normpath(path)
                if norm == root.path or norm.startswith(root.path.rstrip('/') + '/'):
                    by_path[norm] = (wd, self._wmd.pop(wd, None))
            self._watcher.remove(root.path)
            root.events = events
            self._watcher._add(root.path, root.events, root.flags)
            skip = set()
            for path, wd in self._watcher.watches().items():
                norm = os.path.normpath(path)
                old_wd, watch = by_path.get(norm, (None, None))
                if old_wd in root.skip:
                    skip.add(wd)
                if watch is not None:
                    watch.wd = wd
                    self._wmd[wd] = watch
            root.skip = skip
            self._dirs.clear()

    def get_wd(self, path):
        """The wd watching PATH, or None."""
        path = self.__format_path(path)
        for iwd in self.watches.items():
            if iwd[1].path == path:
                return iwd[0]
        return None

    def get_path(self, wd):
        """The path WD watches, or None."""
        watch_ = self.get_watch(wd)
        if watch_ is not None:
            return watch_.path
        return None

    def rm_watch(self, wd, rec=False, quiet=True):
        """Stop watching WD (an int, or a list); with rec=True, every watch
        below it too. {wd: bool}."""
        lwd = self.__format_param(wd)
        if rec:
            lwd = list(self.__get_sub_rec(lwd))
        ret_ = {}
        for awd in lwd:
            watch_ = self.get_watch(awd)
            if watch_ is None:
                ret_[awd] = False
                err = 'rm_watch: cannot remove WD=%d, %s' % (awd, _str_errno(errno.EINVAL))
                if quiet:
                    log.error(err)
                    continue
                raise WatchManagerError(err, ret_)
            with self._lock:
                root = self._roots.get(watch_.path)
                if root is not None:
                    try:
                        self._watcher.remove(root.path)
                    except ValueError:
                        pass
                    del self._roots[root.path]
                else:
                    holder = self._root_of(watch_.path)
                    if holder is not None:
                        holder.skip.add(awd)
                self._wmd.pop(awd, None)
                self._dirs.clear()
            ret_[awd] = True
            log.debug('Watch WD=%d (%s) removed', awd, watch_.path)
        return ret_

    def watch_transient_file(self, filename, mask, proc_class):
        """Watch FILENAME, a file made and deleted over and over (a pid
        file), through its directory: events on other names there are not
        handed to PROC_CLASS."""
        dirname = os.path.dirname(filename)
        if dirname == '':
            return {}
        basename = os.path.basename(filename)
        mask |= IN_CREATE | IN_DELETE

        def cmp_name(event):
            if getattr(event, 'name') is None:
                return False
            return basename == event.name
        return self.add_watch(dirname, mask,
                              proc_fun=proc_class(ChainIfTrue(func=cmp_name)),
                              rec=False, auto_add=False, do_glob=False,
                              exclude_filter=lambda path: False)

    def get_ignore_events(self):
        return self._ignore_events

    def set_ignore_events(self, nval):
        self._ignore_events = nval

    ignore_events = property(get_ignore_events, set_ignore_events,
                             "Make watch manager ignoring new events.")


class RawOutputFormat:
    """Format string representations."""

    def __init__(self, format=None):
        self.format = format or {}

    def simple(self, s, attribute):
        if not isinstance(s, str):
            s = str(s)
        return (self.format.get(attribute, '') + s + self.format.get('normal', ''))

    def punctuation(self, s):
        return self.simple(s, 'normal')

    def field_value(self, s):
        return self.simple(s, 'purple')

    def field_name(self, s):
        return self.simple(s, 'blue')

    def class_name(self, s):
        return self.format.get('red', '') + self.simple(s, 'bold')


output_format = RawOutputFormat()


class ColoredOutputFormat(RawOutputFormat):
    """Colored string representations."""

    def __init__(self):
        RawOutputFormat.__init__(self, {
            'normal': '\033[0m', 'black': '\033[30m', 'red': '\033[31m',
            'green': '\033[32m', 'yellow': '\033[33m', 'blue': '\033[34m',
            'purple': '\033[35m', 'cyan': '\033[36m', 'bold': '\033[1m',
            'uline': '\033[4m', 'blink': '\033[5m', 'invert': '\033[7m'})


def compatibility_mode():
    """pyinotify 0.7's names: event.is_dir and event.event_name as
    attributes, EventsCodes.IN_* and EventsCodes.ALL_EVENTS (which this
    module has anyway)."""
    global COMPATIBILITY_MODE
    COMPATIBILITY_MODE = True
