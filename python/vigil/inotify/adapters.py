"""The inotify package's adapters (0.2.x), on vigil's engine.

    import vigil.inotify as inotify      # was: import inotify.adapters

    i = inotify.adapters.InotifyTree('/srv/incoming')
    for event in i.event_gen(yield_nones=False):
        (header, type_names, path, filename) = event
        print(path, filename, type_names)

Inotify, InotifyTree and InotifyTrees take the same arguments and yield the
same (header, type_names, watch_path, filename) tuples: header is a
namedtuple (wd, mask, cookie, len) as the kernel's record has them, and
type_names lists the mask's names in the package's order. A None follows
each batch unless yield_nones=False, and no wait lasts longer than
block_duration_s. event_gen() takes timeout_s, filter_predicate and
terminal_events as the package's does.

Where the package is right, the stream is the same, event for event. Where
it is wrong, vigil's answer stands:

- In a tree, nothing in a new directory is missed: the package watches a new
  directory only once it has read its IN_CREATE, and misses everything made
  in it meanwhile (all below a in `mkdir -p a/b/c`). vigil watches it first
  and lists it second, and what the listing finds comes as IN_CREATE (with
  IN_ISDIR for a directory) and cookie 0, once: not the IN_OPEN, IN_MODIFY
  or IN_CLOSE_WRITE that happened before the directory was watched.
- In a tree, a renamed directory's later events carry its new path (the
  package goes on with the old one), a directory moved out of the tree is no
  longer watched, and one deleted and made again is watched again.
- A directory that vanishes while a tree is added, or while a new one is
  walked, is skipped: the package raises FileNotFoundError from os.listdir()
  and stops.
- A name that is not UTF-8 comes decoded as os.fsdecode() does
  (surrogateescape: os.fsencode() gives its bytes back); the package raises
  UnicodeDecodeError and stops. Paths given as bytes give bytes events.
- IN_Q_OVERFLOW is yielded (header.wd -1, path and filename ''), so by
  default it raises TerminalEventException, as terminal_events says it
  should: the package drops it unseen (its wd, -1, names no watch) and goes
  on with events lost. With terminal_events=() the stream goes on, and vigil
  has re-scanned: directories made in the gap come as IN_CREATE events.
- None comes after each batch read (the package yields one after each 1,024
  bytes of events).
- Errors say what failed, on what: InotifyError is an OSError with errno and
  the path, raised as the OSError subclass errno calls for (so `except
  FileNotFoundError` works too); a mask with bits that are not inotify's,
  or with no event, raises InotifyError(EINVAL) naming them; a file given to
  InotifyTree raises NotADirectoryError (an InotifyError too). The watch
  limit's message names the sysctl and how to raise it.
- header.wd is the kernel's watch descriptor of the directory, as it is
  when the event is handed out. vigil watches a tree as one: remove_watch()
  and remove_watch_with_id() know the paths given to add_watch() (or to a
  tree) and their ids, not each directory below a tree's top (the package
  tracks each; remove_watch_with_id() raises KeyError for an id it does not
  know, as the package does).
- IN_EXCL_UNLINK in a mask has no effect; IN_MASK_ADD widens the mask of a
  path watched twice, as vigil always does.
- A watcher may be shared between threads: add_watch() in one while another
  waits in event_gen() is safe.
"""

import collections
import logging
import os
import time
from errno import EINVAL

from vigil import _vigil

from . import calls as _calls
from . import constants as _constants

# The names inotify.adapters has.
_DEFAULT_EPOLL_BLOCK_DURATION_S = 1
_HEADER_STRUCT_FORMAT = 'iIII'
_DEFAULT_TERMINAL_EVENTS = (
    'IN_Q_OVERFLOW',
    'IN_UNMOUNT',
)
_LOGGER = logging.getLogger('inotify.adapters')
_INOTIFY_EVENT = collections.namedtuple('_INOTIFY_EVENT', ['wd', 'mask', 'cookie', 'len'])
_STRUCT_HEADER_LENGTH = 16
_IS_DEBUG = bool(int(os.environ.get('DEBUG', '0')))

# What inotify_add_watch() accepts; the rest is EINVAL, as from the kernel.
_KERNEL_BITS = (_constants.IN_ALL_EVENTS | _constants.IN_UNMOUNT |
                _constants.IN_Q_OVERFLOW | _constants.IN_IGNORED |
                _constants.IN_ONLYDIR | _constants.IN_DONT_FOLLOW |
                0x04000000 |  # IN_EXCL_UNLINK
                0x10000000 |  # IN_MASK_CREATE
                _constants.IN_MASK_ADD | _constants.IN_ISDIR |
                _constants.IN_ONESHOT)
# Sent whether asked for or not.
_ALWAYS = _constants.IN_IGNORED | _constants.IN_UNMOUNT | _constants.IN_Q_OVERFLOW
# Events after which a directory's path or watch may have changed.
_RESHAPE = (_constants.IN_DELETE_SELF | _constants.IN_MOVE_SELF |
            _constants.IN_IGNORED | _constants.IN_Q_OVERFLOW | _constants.IN_UNMOUNT)
_RESHAPE_DIR = (_constants.IN_CREATE | _constants.IN_DELETE | _constants.IN_MOVED_FROM |
                _constants.IN_MOVED_TO)

_TYPE_NAMES = {}
# Events taken from vigil at a time: while a program works through them,
# nothing reads the kernel's queue (vigil reads ahead each time it is asked).
_READ_AT_ONCE = 1024


def _type_names(mask):
    names = _TYPE_NAMES.get(mask)
    if names is None:
        left, out = mask, []
        for bit, name in _constants.MASK_LOOKUP.items():
            if left & bit:
                out.append(name)
                left -= bit
                if left == 0:
                    break
        assert left == 0, "We could not resolve all event-types: (%d)" % (left,)
        names = _TYPE_NAMES[mask] = tuple(out)
    return list(names)


def _strip(path):
    """PATH without trailing slashes ('/' stays)."""
    sep = b'/' if isinstance(path, bytes) else '/'
    stripped = path.rstrip(sep)
    return stripped or path[:1]


class EventTimeoutException(Exception):
    pass


class TerminalEventException(Exception):
    def __init__(self, type_name, event):
        super(TerminalEventException, self).__init__(type_name)
        self.event = event


class Inotify(object):
    """Inotify(paths=[], block_duration_s=1)

    Watch each path given (and those given to add_watch() later), not
    recursively; event_gen() yields what happens to them. See the module's
    docstring for how this differs from the inotify package."""

    def __init__(self, paths=[], block_duration_s=_DEFAULT_EPOLL_BLOCK_DURATION_S):
        self.__block_duration = block_duration_s
        self.__watcher = _vigil.Watcher()
        self.__watches = {}    # path as given -> wd
        self.__watches_r = {}  # wd -> path as given
        self.__roots = {}      # a watched path, as events name it -> as given
        self.__dirs = {}       # an event's dir -> (path to yield, wd)
        self.__known = {}      # an event's dir -> the last wd it had
        self.__pending = collections.deque()
        self.__last_success_return = None

        for path in paths:
            self.add_watch(path)

    def __get_block_duration(self):
        """Allow the block-duration to be an integer or a function-call."""
        try:
            return self.__block_duration()
        except TypeError:
            return self.__block_duration

    def _watch(self, path, mask, recursive):
        """Watch PATH for MASK through vigil; its wd. InotifyError when it
        cannot be."""
        if mask & ~_KERNEL_BITS:
            raise _calls._error(EINVAL, "bad mask 0x%08x: 0x%08x are not inotify bits"
                                % (mask, mask & ~_KERNEL_BITS), path)
        events = mask & (_constants.IN_ALL_EVENTS | _ALWAYS)
        if not events & _constants.IN_ALL_EVENTS:
            raise _calls._error(EINVAL, "bad mask 0x%08x: it asks for no event" % mask, path)
        flags = ((_vigil._RECURSIVE | _vigil._ONLYDIR if recursive else 0) |
                 (_vigil._ONLYDIR if mask & _constants.IN_ONLYDIR else 0) |
                 (_vigil._NOFOLLOW if mask & _constants.IN_DONT_FOLLOW else 0) |
                 (_vigil._ONESHOT if mask & _constants.IN_ONESHOT else 0))
        try:
            self.__watcher._add(path, events | _ALWAYS, flags)
        except OSError as e:
            raise _calls._from_oserror(e) from None
        self.__roots[_strip(os.fspath(path))] = path
        self.__dirs.clear()
        wd = self.__watcher.watch_wd(path)
        return -1 if wd is None else wd

    def add_watch(self, path_unicode, mask=_constants.IN_ALL_EVENTS):
        """Watch PATH_UNICODE (str or bytes) for MASK; its watch descriptor.
        A path watched already is left as it is (a warning is logged)."""
        _LOGGER.debug("Adding watch: [%s]", path_unicode)
        if path_unicode in self.__watches:
            _LOGGER.warning("Path already being watched: [%s]", path_unicode)
            return
        wd = self._watch(path_unicode, mask, False)
        _LOGGER.debug("Added watch (%d): [%s]", wd, path_unicode)
        self._track(path_unicode, wd)
        return wd

    def _track(self, path, wd):
        """PATH, watched with id WD, for remove_watch() and
        remove_watch_with_id()."""
        self.__watches[path] = wd
        self.__watches_r[wd] = path

    def remove_watch(self, path, superficial=False):
        """Stop watching PATH (as given to add_watch()); nothing if it is
        not watched."""
        wd = self.__watches.get(path)
        if wd is None:
            return
        _LOGGER.debug("Removing watch for watch-handle (%d): [%s]", wd, path)
        del self.__watches[path]
        self.remove_watch_with_id(wd, superficial)

    def remove_watch_with_id(self, wd, superficial=False):
        """Stop watching what watch descriptor WD watches (KeyError when it
        is not one add_watch() returned). With superficial=True, only
        forget it."""
        path = self.__watches_r.pop(wd)
        if superficial is False:
            _LOGGER.debug("Removing watch for watch-handle (%d).", wd)
            try:
                self.__watcher.remove(path)
            except ValueError:
                pass  # gone already: deleted, or moved away
            self.__roots.pop(_strip(os.fspath(path)), None)
        self.__dirs.clear()

    def _get_event_names(self, event_type):
        return _type_names(event_type)

    def __dir_info(self, d):
        info = self.__dirs.get(d)
        if info is None:
            wd = self.__watcher.watch_wd(d) if d else None
            if wd is None:
                # gone from vigil's tree by the time its last events are
                # handed out (IN_DELETE_SELF, IN_IGNORED): the wd it had
                wd = self.__known.get(d, -1)
            else:
                self.__known[d] = wd
            info = self.__dirs[d] = (self.__roots.get(d, d), wd)
        return info

    def event_gen(
            self, timeout_s=None, yield_nones=True, filter_predicate=None,
            terminal_events=_DEFAULT_TERMINAL_EVENTS):
        """Yield one event after another: (header, type_names, watch_path,
        filename), and None after each batch (unless yield_nones=False).
        Each wait lasts at most block_duration_s. With timeout_s, stop once
        no event came for that many seconds. filter_predicate(type_name,
        event) returning False ends the generator (see last_success_return);
        a type name in terminal_events raises TerminalEventException."""
        self.__last_success_return = None
        terminal_bits = 0
        for bit, name in _constants.MASK_LOOKUP.items():
            if name in terminal_events:
                terminal_bits |= bit
        pending = self.__pending
        dirs = self.__dirs
        dir_info = self.__dir_info
        new_header = tuple.__new__
        last_hit_s = time.time()
        while True:
            if not pending:
                pending.extend(self.__watcher._read_raw(self.__get_block_duration(),
                                                        _READ_AT_ONCE))
            hit = False
            while pending:
                mask, cookie, d, name, flags, error = pending.popleft()
                if error is not None:
                    _LOGGER.warning("%s", error)
                    continue
                info = dirs.get(d)
                if info is None:
                    info = dir_info(d)
                if not name:
                    length = 0
                elif isinstance(name, bytes) or name.isascii():
                    length = (len(name) + 16) & ~15
                else:
                    length = (len(os.fsencode(name)) + 16) & ~15
                if mask & _RESHAPE or (mask & _constants.IN_ISDIR and mask & _RESHAPE_DIR):
                    dirs.clear()
                    if mask & _constants.IN_IGNORED:
                        self.__known.pop(d, None)
                names = _TYPE_NAMES.get(mask)
                type_names = list(names) if names is not None else _type_names(mask)
                e = (new_header(_INOTIFY_EVENT, (info[1], mask, cookie, length)),
                     type_names, info[0], name)
                hit = True
                if filter_predicate is not None or mask & terminal_bits:
                    for type_name in type_names:
                        if filter_predicate is not None and \
                           filter_predicate(type_name, e) is False:
                            self.__last_success_return = (type_name, e)
                            return
                        elif type_name in terminal_events:
                            raise TerminalEventException(type_name, e)
                yield e
            if hit:
                last_hit_s = time.time()

            if timeout_s is not None:
                time_since_event_s = time.time() - last_hit_s
                if time_since_event_s > timeout_s:
                    break

            if yield_nones is True:
                yield None

    @property
    def last_success_return(self):
        return self.__last_success_return


class _BaseTree(object):
    def __init__(self, mask=_constants.IN_ALL_EVENTS,
                 block_duration_s=_DEFAULT_EPOLL_BLOCK_DURATION_S):
        # as the package does: whatever was asked, these come too
        self._mask = mask | _constants.IN_ISDIR | _constants.IN_CREATE | _constants.IN_DELETE
        self._i = Inotify(block_duration_s=block_duration_s)

    def event_gen(self, ignore_missing_new_folders=False, **kwargs):
        """Inotify.event_gen() over the trees. vigil watches new directories
        itself (ignore_missing_new_folders changes nothing: a directory gone
        before it could be watched is skipped in any case)."""
        return (yield from self._i.event_gen(**kwargs))

    @property
    def inotify(self):
        return self._i


class InotifyTree(_BaseTree):
    """Recursively watch a path: InotifyTree(path, mask=IN_ALL_EVENTS,
    block_duration_s=1). NotADirectoryError unless it is a directory."""

    def __init__(self, path, mask=_constants.IN_ALL_EVENTS,
                 block_duration_s=_DEFAULT_EPOLL_BLOCK_DURATION_S):
        super(InotifyTree, self).__init__(mask=mask, block_duration_s=block_duration_s)
        self.__root_path = path
        _LOGGER.debug("Adding initial watches on tree: [%s]", path)
        self._i._track(path, self._i._watch(path, self._mask, True))


class InotifyTrees(_BaseTree):
    """Recursively watch over a list of trees: InotifyTrees(paths,
    mask=IN_ALL_EVENTS, block_duration_s=1)."""

    def __init__(self, paths, mask=_constants.IN_ALL_EVENTS,
                 block_duration_s=_DEFAULT_EPOLL_BLOCK_DURATION_S):
        super(InotifyTrees, self).__init__(mask=mask, block_duration_s=block_duration_s)
        _LOGGER.debug("Adding initial watches on trees: [%s]", ",".join(map(str, paths)))
        for path in paths:
            self._i._track(path, self._i._watch(path, self._mask, True))
