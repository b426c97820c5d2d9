"""The inotify package's calls module: InotifyError, and the three system
calls as it exposes them (through libc, for the programs that call them
directly; the adapters do not use them)."""

import ctypes
import ctypes.util
import os


class InotifyError(OSError):
    """What the adapters raise when a watch cannot be set or removed.

    The inotify package's InotifyError is an Exception with .errno; this
    one is an OSError, so it also carries .strerror and .filename (the
    path), and it is raised as the OSError subclass errno calls for:
    `except FileNotFoundError` catches a missing path, and
    `except InotifyError` still catches everything."""


_SUBCLASSES = {}


def _error(err, message, path=None):
    """An InotifyError for ERR, of the OSError subclass ERR calls for
    (FileNotFoundError, NotADirectoryError, ...)."""
    base = type(OSError(err, ""))
    cls = InotifyError
    if base is not OSError:
        cls = _SUBCLASSES.get(base)
        if cls is None:
            cls = type(base.__name__, (InotifyError, base), {
                "__module__": __name__,
                "__doc__": "InotifyError that is also a %s." % base.__name__})
            _SUBCLASSES[base] = cls
    if path is None:
        return cls(err, message)
    return cls(err, message, path)


def _from_oserror(exc):
    """EXC (an OSError from vigil) as an InotifyError of the same kind."""
    if isinstance(exc, InotifyError) or exc.errno is None:
        return exc
    return _error(exc.errno, exc.strerror, exc.filename)


_LIB = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result):
    if result == -1:
        err = ctypes.get_errno()
        raise _error(err, "%s ERRNO=(%d)" % (os.strerror(err), err))
    return result


def inotify_init():
    """inotify_init(2): a new inotify descriptor."""
    return _check(_LIB.inotify_init())


def inotify_add_watch(fd, path, mask):
    """inotify_add_watch(2): PATH (bytes or str) watched on FD for MASK."""
    if isinstance(path, str):
        path = os.fsencode(path)
    return _check(_LIB.inotify_add_watch(ctypes.c_int(fd), ctypes.c_char_p(path),
                                         ctypes.c_uint32(mask)))


def inotify_rm_watch(fd, wd):
    """inotify_rm_watch(2)."""
    return _check(_LIB.inotify_rm_watch(ctypes.c_int(fd), ctypes.c_int(wd)))


__all__ = ["InotifyError", "inotify_init", "inotify_add_watch", "inotify_rm_watch"]
