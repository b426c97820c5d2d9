"""An overflow, with fs.inotify.max_queued_events lowered for the whole
machine: these run alone (the meson test python-alone), and the limit is
lowered only while each watcher is made (an instance takes it then), and
restored whatever happens. Skipped where the sysctl cannot be written."""

import contextlib
import os

import pytest

import drivers
import vigil
import vigil.inotify as inotify
import vigil.pyinotify as pyinotify
from drivers import created

pytestmark = pytest.mark.alone

QUEUE = "/proc/sys/fs/inotify/max_queued_events"


@contextlib.contextmanager
def small_queue(events=16):
    try:
        with open(QUEUE) as f:
            saved = f.read().strip()
        with open(QUEUE, "w") as f:
            f.write(str(events))
    except OSError as e:
        pytest.skip("cannot lower %s (%s): the overflow tests need root and a "
                    "writable /proc/sys" % (QUEUE, e.strerror))
    try:
        yield
    finally:
        with open(QUEUE, "w") as f:
            f.write(saved)


def _gap(root):
    """Events enough to overflow a queue of 16, then a tree made in the gap
    and a directory that goes in it."""
    for i in range(100):
        open(os.path.join(root, "noise%d" % i), "w").close()
    os.makedirs(os.path.join(root, "gap/deep"))
    open(os.path.join(root, "gap/deep/made-in-gap"), "w").close()
    os.rmdir(os.path.join(root, "old/goes"))


def _prepare(root):
    os.makedirs(os.path.join(root, "old/goes"))


def test_overflow_is_reported_and_repaired(api, root):
    _prepare(root)
    with small_queue():
        w = api.watch(root, vigil.IN_CREATE)
    try:
        _gap(root)
        made = os.path.join(root, "gap/deep/made-in-gap")
        seen = w.collect(lambda s: w.overflows and made in created(s))
        assert w.overflows == 1
        # the re-scan watches what it found: a change there is seen
        later = os.path.join(root, "gap/deep/later")
        open(later, "w").close()
        w.collect(lambda s: later in created(s))
        assert created(seen).count(made) == 1
    finally:
        w.close()


def test_overflow_native_event(root):
    _prepare(root)
    with small_queue():
        w = vigil.Watcher(root, recursive=True, events=vigil.IN_CREATE)
    with w:
        _gap(root)
        ev = w.next(drivers.GUARD_S)
        while not ev.overflow:
            ev = w.next(drivers.GUARD_S)
        assert ev.mask == vigil.IN_Q_OVERFLOW and ev.names == ["IN_Q_OVERFLOW"]
        assert ev.path == "" and ev.flags & vigil.EVENT_OVERFLOW
        rest = []
        while os.path.join(root, "gap/deep/made-in-gap") not in [e.path for e in rest]:
            rest += w.read(drivers.GUARD_S)
        assert any(e.synthetic for e in rest)


def test_overflow_inotify_terminal_by_default(root):
    """IN_Q_OVERFLOW is in the default terminal_events: the package means
    it to end event_gen() (its own never does: it drops the event)."""
    _prepare(root)
    with small_queue():
        tree = inotify.adapters.InotifyTree(root, mask=inotify.constants.IN_CREATE)
    _gap(root)
    with pytest.raises(inotify.adapters.TerminalEventException) as e:
        for _ in tree.event_gen(yield_nones=False):
            pass
    assert e.value.args == ("IN_Q_OVERFLOW",)
    header, names, path, filename = e.value.event
    assert header.wd == -1 and names == ["IN_Q_OVERFLOW"] and (path, filename) == ("", "")


def test_overflow_pyinotify_process_in_q_overflow(root, caplog):
    _prepare(root)
    with small_queue():
        wm = pyinotify.WatchManager()
    got = []

    class Handler(pyinotify.ProcessEvent):
        def process_IN_CREATE(self, event):
            got.append(event.pathname)

    notifier = pyinotify.Notifier(wm, Handler())
    wm.add_watch(root, pyinotify.IN_CREATE, rec=True, auto_add=True)
    _gap(root)
    made = os.path.join(root, "gap/deep/made-in-gap")
    while made not in got:
        assert notifier.check_events(drivers.GUARD_S * 1000)
        notifier.read_events()
        notifier.process_events()
    # the default process_IN_Q_OVERFLOW logs it
    assert "Event queue overflowed." in caplog.text
    notifier.stop()
