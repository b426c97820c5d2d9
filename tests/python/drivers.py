"""The three Python APIs behind one interface, for the tests that hold each
of them to the same behaviour:

    w = api.watch(root, mask)      # a recursive watch on ROOT
    w.collect(until)               # events until until(seen) is true
    w.close()

Each event is an Ev(names, path): the set of its IN_* names and its full
path, as the API gives them (str).
"""

import collections
import os
import time

import vigil
import vigil.inotify as inotify
import vigil.pyinotify as pyinotify

Ev = collections.namedtuple("Ev", "names path")

GUARD_S = 120


class Timeout(AssertionError):
    pass


class _Base:
    def collect(self, until, guard=GUARD_S):
        """Events until UNTIL(seen) is true; AssertionError listing what
        came when GUARD seconds pass first."""
        seen = []
        end = time.monotonic() + guard
        while not until(seen):
            if time.monotonic() > end:
                raise Timeout("%s: still waiting after %ds; %d events came, the "
                              "last ones: %r" % (self.name, guard, len(seen), seen[-20:]))
            seen.extend(self.events(0.5))
        return seen

    def drain(self, quiet=0.3):
        """Whatever comes until nothing has for QUIET seconds (to see that
        nothing more comes: a duplicate)."""
        out = []
        while True:
            got = self.events(quiet)
            if not got:
                return out
            out.extend(got)


class NativeWatch(_Base):
    name = "native"

    def __init__(self, root, mask, **kw):
        self.w = vigil.Watcher(root, recursive=True, events=mask, **kw)
        self.overflows = 0

    def events(self, timeout):
        out = []
        for ev in self.w.read(timeout):
            if ev.overflow:
                self.overflows += 1
            out.append(Ev(frozenset(ev.names), ev.path))
        return out

    def close(self):
        self.w.close()


class InotifyWatch(_Base):
    name = "inotify"

    def __init__(self, root, mask, terminal_events=()):
        self.tree = inotify.adapters.InotifyTree(root, mask=mask, block_duration_s=0.5)
        self.gen = self.tree.event_gen(terminal_events=terminal_events)
        self.overflows = 0

    def events(self, timeout):
        # one batch: up to the None that follows it (each wait lasts at
        # most block_duration_s)
        out = []
        for e in self.gen:
            if e is None:
                break
            header, type_names, path, filename = e
            if 'IN_Q_OVERFLOW' in type_names:
                self.overflows += 1
            out.append(Ev(frozenset(type_names),
                          os.path.join(path, filename) if filename else path))
        return out

    def close(self):
        self.gen.close()


class _Collector(pyinotify.ProcessEvent):
    def my_init(self, sink):
        self.sink = sink

    def process_IN_Q_OVERFLOW(self, event):
        self.sink.append(event)

    def process_default(self, event):
        self.sink.append(event)


class PyinotifyWatch(_Base):
    name = "pyinotify"

    def __init__(self, root, mask):
        self.wm = pyinotify.WatchManager()
        self.got = []
        self.notifier = pyinotify.Notifier(self.wm, _Collector(sink=self.got))
        self.wdd = self.wm.add_watch(root, mask, rec=True, auto_add=True, quiet=False)
        self.overflows = 0

    def events(self, timeout):
        if self.notifier.check_events(int(timeout * 1000)):
            self.notifier.read_events()
        self.notifier.process_events()
        out = []
        for e in self.got:
            if e.mask & pyinotify.IN_Q_OVERFLOW:
                self.overflows += 1
            out.append(Ev(frozenset(e.maskname.split('|')), e.pathname))
        del self.got[:]
        return out

    def close(self):
        self.notifier.stop()


class Api:
    def __init__(self, name, cls):
        self.name = name
        self.cls = cls

    def watch(self, root, mask=vigil.IN_ALL_EVENTS, **kw):
        return self.cls(root, mask, **kw)

    def __repr__(self):
        return self.name


ALL = [Api("native", NativeWatch), Api("inotify", InotifyWatch),
       Api("pyinotify", PyinotifyWatch)]


def created(seen):
    """The paths of SEEN's IN_CREATE events, in order."""
    return [e.path for e in seen if "IN_CREATE" in e.names]
