"""vigil.inotify: the inotify package (0.2.x) on vigil's engine.

A program written for the inotify package changes one line,

    import inotify.adapters           ->   import vigil.inotify as inotify

and keeps the rest: inotify.adapters.Inotify, InotifyTree, InotifyTrees,
event_gen(), EventTimeoutException, TerminalEventException;
inotify.constants with every IN_* name and value; inotify.calls.InotifyError.
vigil.inotify.adapters' docstring lists where what it yields differs from
the package's, and why.
"""

from . import adapters, calls, constants  # noqa: F401

# the inotify package's version this stands in for
__version__ = '0.2.10'
