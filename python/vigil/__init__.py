"""vigil: see every change to a tree of files on Linux, correctly and cheaply.

    import vigil

    with vigil.Watcher("photos", recursive=True, events="close_write,moved_to") as w:
        for ev in w:
            print(ev.names, ev.path)

A Watcher is one libvigil handle (one inotify instance). Iterating it yields
vigil.Event objects as things change; next(timeout) takes one, read(timeout)
takes every one waiting as a list; `async for ev in w` works under asyncio
(through loop.add_reader(), no thread). While it waits, other Python threads
run.

What vigil's engine promises, in a recursive watch:

- Nothing is lost in new directories: a new directory is watched first and
  listed second, and what the listing finds comes once, as a synthetic event
  (ev.synthetic): `mkdir -p a/b/c && touch a/b/c/f` is reported whole.
- Paths stay right after a rename: a directory renamed inside the tree is
  renamed in place, and later events carry the new path.
- An overflow of the kernel's queue is an event (ev.overflow); vigil re-scans
  at once, and directories made in the gap come as synthetic events.
- Errors are OSError subclasses with errno and the path; the watch limit's
  message names the sysctl, its value and how to raise it.

Paths are str, decoded as os.fsdecode() does (os.fsencode() gives a name's
bytes back, whatever its encoding), or bytes when the watcher was given bytes.

Two drop-ins give programs written for other libraries this engine, each
by changing one import line:

- vigil.inotify, for the inotify package (import vigil.inotify as inotify);
- vigil.pyinotify, for pyinotify (import vigil.pyinotify as pyinotify).
"""

import os as _os

from . import _vigil
from ._vigil import Event, mask_names, parse_events  # noqa: F401
from ._vigil import (  # noqa: F401
    IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_CLOSE_NOWRITE, IN_OPEN,
    IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE, IN_DELETE_SELF,
    IN_MOVE_SELF, IN_UNMOUNT, IN_Q_OVERFLOW, IN_IGNORED, IN_ONLYDIR,
    IN_DONT_FOLLOW, IN_EXCL_UNLINK, IN_MASK_ADD, IN_ISDIR, IN_ONESHOT,
    IN_CLOSE, IN_MOVE, IN_ALL_EVENTS,
    EVENT_SYNTHETIC, EVENT_PAIRED, EVENT_OVERFLOW, EVENT_ERROR,
)

__all__ = [
    "Watcher", "Event", "mask_names", "parse_events", "ALL_EVENTS",
    "IN_ACCESS", "IN_MODIFY", "IN_ATTRIB", "IN_CLOSE_WRITE",
    "IN_CLOSE_NOWRITE", "IN_OPEN", "IN_MOVED_FROM", "IN_MOVED_TO",
    "IN_CREATE", "IN_DELETE", "IN_DELETE_SELF", "IN_MOVE_SELF",
    "IN_UNMOUNT", "IN_Q_OVERFLOW", "IN_IGNORED", "IN_ONLYDIR",
    "IN_DONT_FOLLOW", "IN_EXCL_UNLINK", "IN_MASK_ADD", "IN_ISDIR",
    "IN_ONESHOT", "IN_CLOSE",
    "IN_MOVE", "IN_ALL_EVENTS",
    "EVENT_SYNTHETIC", "EVENT_PAIRED", "EVENT_OVERFLOW", "EVENT_ERROR",
]

# the engine's vigil_version(): the release, and the commit in a build from git
__version__ = _vigil.LIBVIGIL_VERSION

#: Every event a watch can ask for (IN_ALL_EVENTS).
ALL_EVENTS = IN_ALL_EVENTS

# What a mask may ask for: the events, and what the kernel sends on its own.
_EVENT_BITS = IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED
# Flags that are keyword arguments of add() here.
_FLAG_WORDS = {
    IN_ONLYDIR: "only_dir=True",
    IN_DONT_FOLLOW: "follow_symlinks=False",
    IN_ONESHOT: "oneshot=True",
}


def _event_mask(events):
    """EVENTS (an int mask, 'create,close_write', or names/ints in an
    iterable) as a mask; ValueError says what is wrong with it."""
    if isinstance(events, bool):
        raise TypeError("events must be a mask, a string of event names or "
                        "an iterable of them, not %r" % (events,))
    if isinstance(events, int):
        mask = events
    elif isinstance(events, str):
        mask = _names_mask(events.split(","))
    else:
        try:
            items = list(events)
        except TypeError:
            raise TypeError("events must be a mask, a string of event names "
                            "or an iterable of them, not %r" % (events,)) from None
        mask = 0
        for item in items:
            mask |= item if isinstance(item, int) and not isinstance(item, bool) \
                else _names_mask([item])
    if mask < 0 or mask > 0xFFFFFFFF:
        raise ValueError("event mask 0x%x is not a 32-bit mask" % mask)
    for bit, word in _FLAG_WORDS.items():
        if mask & bit:
            raise ValueError("event mask 0x%08x has %s: a flag, not an event "
                             "(give %s)" % (mask, mask_names(bit)[0], word))
    stray = mask & ~_EVENT_BITS
    if stray:
        known = mask_names(stray)
        raise ValueError("event mask 0x%08x has bits that are no events to ask "
                         "for: 0x%08x%s" % (mask, stray,
                                            " (%s)" % "|".join(known) if known else ""))
    if not mask & _EVENT_BITS:
        raise ValueError("event mask 0x%08x asks for no event" % mask)
    return mask


def _names_mask(names):
    mask = 0
    for name in names:
        if not isinstance(name, str):
            raise TypeError("an event name must be a str, not %r" % (name,))
        word = name.strip()
        if not word:
            continue
        upper = word.upper()
        bit = getattr(_vigil, upper if upper.startswith("IN_") else "IN_" + upper, None)
        if isinstance(bit, int) and upper not in ("IN_ALL_EVENTS",):
            mask |= bit
        else:
            mask |= parse_events(word.lower()[3:] if upper.startswith("IN_") else word)
    return mask


def _patterns(arg, what):
    if isinstance(arg, (str, bytes)):
        return [arg]
    out = list(arg)
    for p in out:
        if not isinstance(p, (str, bytes)):
            raise TypeError("%s patterns are POSIX extended regular expressions "
                            "as str or bytes, not %r" % (what, p))
    return out


class Watcher(_vigil.Watcher):
    """Watcher(paths=(), *, recursive=False, events=ALL_EVENTS, exclude=(),
    include=(), pair_moves=False, follow_symlinks=True, ignore_case=False)

    Watch PATHS (a path or several: str, bytes or os.PathLike) for EVENTS,
    and yield an Event for each change.

    recursive      watch every directory below each path too, and every one
                   that appears later (symbolic links met on the way are
                   never followed); the default for add().
    events         what to report: an int mask (vigil.IN_CREATE |
                   vigil.IN_CLOSE_WRITE), names as inotifywait's -e takes
                   them ("create,close_write"), or an iterable of names
                   ("IN_CREATE" or "create") and masks; the default for add().
    exclude        POSIX extended regular expressions (a str or several)
                   matched against full paths: matching paths are not
                   reported, and matching directories are not watched at all.
    include        the same, the other way: only matching paths are reported
                   (directories are watched anyway, for what they hold).
    pair_moves     report a rename inside the watched trees as one event:
                   mask IN_MOVED_FROM|IN_MOVED_TO, path the new path and
                   from_path the old one.
    follow_symlinks  follow each path itself if it is a symbolic link
                   (never those met while recursing); the default for add().
    ignore_case    the patterns ignore case.

    Iterate it (for, next(), or next(timeout)/read(timeout), or `async for`
    under asyncio). It is a context manager (close() at the end), and
    fileno() gives its descriptor for selectors or an event loop. It is safe
    to share between threads: add(), remove(), wakeup() and close() work
    while another thread waits in next().

    Errors are OSError subclasses carrying errno and the path:
    FileNotFoundError for a missing path, NotADirectoryError for a file given
    with only_dir=True, PermissionError...; the watch limit (ENOSPC) and the
    instance limit (EMFILE) name their sysctl, its value and how to raise it.
    A directory that cannot be watched once watching is under way (it denies
    access, or the limit is reached while a new tree is walked) comes as an
    event with error set, and the rest is watched.
    """

    def __init__(self, paths=(), *, recursive=False, events=IN_ALL_EVENTS,
                 exclude=(), include=(), pair_moves=False,
                 follow_symlinks=True, ignore_case=False):
        super().__init__(pair_moves=pair_moves)
        self._closers = set()
        try:
            self._recursive = bool(recursive)
            self._events = _event_mask(events)
            self._follow = bool(follow_symlinks)
            for p in _patterns(exclude, "exclude"):
                self._filter(_vigil._FILTER_EXCLUDE, p, bool(ignore_case))
            for p in _patterns(include, "include"):
                self._filter(_vigil._FILTER_INCLUDE, p, bool(ignore_case))
            if isinstance(paths, (str, bytes, _os.PathLike)):
                paths = [paths]
            for p in paths:
                self.add(p)
        except BaseException:
            self.close()
            raise

    def add(self, path, *, recursive=None, events=None, follow_symlinks=None,
            only_dir=False, oneshot=False):
        """add(path, *, recursive=None, events=None, follow_symlinks=None,
        only_dir=False, oneshot=False) -> int

        Watch PATH too; recursive, events and follow_symlinks default to the
        watcher's. only_dir: fail with NotADirectoryError unless PATH is a
        directory. oneshot: each watch goes after its first event. Returns
        the number of watches added (0 when PATH was watched already, or is
        excluded). A watcher's paths are all str or all bytes (os.PathLike
        allowed): events carry the same type.

        Raises FileNotFoundError, NotADirectoryError, PermissionError...
        (errno and filename set); OSError(ENOSPC) when the watch limit is
        reached: what could be watched stays watched, and each directory left
        out is an error event (ev.error) to come.
        """
        rec = self._recursive if recursive is None else bool(recursive)
        mask = self._events if events is None else _event_mask(events)
        follow = self._follow if follow_symlinks is None else bool(follow_symlinks)
        flags = ((_vigil._RECURSIVE if rec else 0) |
                 (0 if follow else _vigil._NOFOLLOW) |
                 (_vigil._ONLYDIR if only_dir else 0) |
                 (_vigil._ONESHOT if oneshot else 0))
        return self._add(path, mask, flags)

    def close(self):
        """close()

        Stop watching and free the kernel's resources. A next(), read() or
        wait() waiting in another thread returns, and so does an `async for`
        (iteration ends). Closing twice is allowed."""
        super().close()
        for wake in list(getattr(self, "_closers", ())):
            wake()

    def __aiter__(self):
        from . import _aio
        return _aio.AsyncEvents(self)

    def __repr__(self):
        if self.closed:
            return "<vigil.Watcher closed>"
        n = self.watch_count
        return "<vigil.Watcher %d watch%s>" % (n, "" if n == 1 else "es")
