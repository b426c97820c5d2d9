"""vigil's own API: every call of vigil.Watcher and every field of
vigil.Event."""

import os
import pathlib
import selectors
import threading
import time

import pytest

import drivers
import vigil
from conftest import python_with_watch_limit

G = drivers.GUARD_S


def names_of(events):
    return [(e.names, e.name) for e in events]


def take_until(w, pred):
    """Events from W until PRED(event) is true for one; all of them."""
    out = []
    while not out or not pred(out[-1]):
        ev = w.next(G)
        assert ev is not None, "no event after %ds; got %r" % (G, out)
        out.append(ev)
    return out


def test_event_fields(root):
    with vigil.Watcher(root, events="create") as w:
        before = time.time()
        os.mkdir(os.path.join(root, "sub"))
        ev = w.next(G)
        assert isinstance(ev, vigil.Event)
        assert ev.path == os.path.join(root, "sub")
        assert ev.dir == root and ev.name == "sub"
        assert ev.mask == vigil.IN_CREATE | vigil.IN_ISDIR
        assert ev.names == ["IN_CREATE", "IN_ISDIR"]
        assert ev.is_dir and not ev.synthetic and not ev.overflow
        assert ev.cookie == 0 and ev.flags == 0
        assert ev.from_path is None and ev.error is None
        assert before - 1 <= ev.time <= time.time() + 1
        assert "IN_CREATE|IN_ISDIR" in repr(ev) and repr(ev.path) in repr(ev)
        with pytest.raises(AttributeError):
            ev.path = "x"
        with pytest.raises(TypeError):
            vigil.Event()


def test_event_on_the_watched_directory_itself(root):
    d = os.path.join(root, "d")
    os.mkdir(d)
    with vigil.Watcher(d, events=vigil.IN_DELETE_SELF) as w:
        os.rmdir(d)
        ev = w.next(G)
        assert ev.mask == vigil.IN_DELETE_SELF
        assert ev.path == d and ev.dir == d and ev.name == ""
        ev = w.next(G)
        assert ev.mask & vigil.IN_IGNORED


def test_event_on_a_watched_file(root):
    f = os.path.join(root, "f")
    open(f, "w").close()
    with vigil.Watcher(f, events="modify") as w:
        with open(f, "a") as out:
            out.write("x")
        ev = w.next(G)
        assert (ev.path, ev.dir, ev.name) == (f, f, "")


def test_recursive_synthetic_and_watch_count(root):
    with vigil.Watcher(root, recursive=True, events=["IN_CREATE"]) as w:
        assert w.watch_count == 1
        os.makedirs(os.path.join(root, "a/b"))
        open(os.path.join(root, "a/b/f"), "w").close()
        evs = take_until(w, lambda e: e.name == "f")
        assert [e.path for e in evs] == [os.path.join(root, p) for p in ("a", "a/b", "a/b/f")]
        assert [e.synthetic for e in evs][1:] == [True, True]
        assert evs[-1].flags == vigil.EVENT_SYNTHETIC
        assert w.watch_count == 3


def test_not_recursive_by_default(root):
    os.mkdir(os.path.join(root, "sub"))
    with vigil.Watcher(root, events="create") as w:
        open(os.path.join(root, "sub/inner"), "w").close()
        open(os.path.join(root, "top"), "w").close()
        assert w.next(G).name == "top"
        assert w.next(0) is None


def test_events_given_every_way(root):
    want = vigil.IN_CREATE | vigil.IN_CLOSE_WRITE
    for events in (want, "create,close_write", "CREATE, close_write",
                   ["IN_CREATE", "close_write"], [vigil.IN_CREATE, "IN_CLOSE_WRITE"],
                   ("create", vigil.IN_CLOSE_WRITE)):
        with vigil.Watcher(root, events=events) as w:
            open(os.path.join(root, "f"), "w").close()
            assert [e.names for e in (w.next(G), w.next(G))] == \
                [["IN_CREATE"], ["IN_CLOSE_WRITE"]], events
            os.unlink(os.path.join(root, "f"))
    assert vigil.parse_events("close") == vigil.IN_CLOSE
    assert vigil.parse_events("all_events") == vigil.IN_ALL_EVENTS
    assert vigil.mask_names(vigil.IN_MOVE | vigil.IN_ISDIR) == \
        ["IN_MOVED_FROM", "IN_MOVED_TO", "IN_ISDIR"]


def test_add_with_its_own_settings(root):
    a, b = os.path.join(root, "a"), os.path.join(root, "b")
    os.makedirs(os.path.join(a, "deep"))
    os.makedirs(os.path.join(b, "deep"))
    with vigil.Watcher(events="create") as w:
        assert w.add(a) == 1
        assert w.add(b, recursive=True, events="delete") == 2
        assert w.add(a) == 0  # watched already
        open(os.path.join(a, "deep/no"), "w").close()
        open(os.path.join(b, "deep/no"), "w").close()
        open(os.path.join(a, "yes"), "w").close()
        os.unlink(os.path.join(b, "deep/no"))
        assert names_of([w.next(G), w.next(G)]) == [(["IN_CREATE"], "yes"),
                                                    (["IN_DELETE"], "no")]


def test_add_follow_symlinks_only_dir_oneshot(root):
    target = os.path.join(root, "target")
    os.mkdir(target)
    link = os.path.join(root, "link")
    os.symlink(target, link)
    with vigil.Watcher(events="create") as w:
        w.add(link, follow_symlinks=False)
        open(os.path.join(target, "inside"), "w").close()
        assert w.next(0.2) is None
    with vigil.Watcher(link, events="create") as w:
        open(os.path.join(target, "inside2"), "w").close()
        assert w.next(G).name == "inside2"
    with vigil.Watcher(follow_symlinks=False) as w:
        with pytest.raises(NotADirectoryError):
            w.add(link, only_dir=True)
    with vigil.Watcher(events="create") as w:
        w.add(target, oneshot=True)
        open(os.path.join(target, "one"), "w").close()
        open(os.path.join(target, "two"), "w").close()
        evs = take_until(w, lambda e: e.mask & vigil.IN_IGNORED)
        assert [e.name for e in evs if e.mask & vigil.IN_CREATE] == ["one"]


def test_exclude_include_ignore_case(root):
    os.mkdir(os.path.join(root, "skip"))
    with vigil.Watcher(root, recursive=True, events="create",
                       exclude=[r"/skip$", r"\.tmp$"], ignore_case=True) as w:
        assert w.watch_count == 1  # the excluded directory costs no watch
        open(os.path.join(root, "skip/x"), "w").close()
        open(os.path.join(root, "a.TMP"), "w").close()
        open(os.path.join(root, "kept"), "w").close()
        assert w.next(G).name == "kept"
    with vigil.Watcher(root, events="create", include=r"\.jpg$") as w:
        open(os.path.join(root, "no.txt"), "w").close()
        open(os.path.join(root, "yes.jpg"), "w").close()
        assert w.next(G).name == "yes.jpg"
    with pytest.raises(TypeError):
        vigil.Watcher(exclude=[1])


def test_pair_moves(root):
    open(os.path.join(root, "old"), "w").close()
    with vigil.Watcher(root, events="move", pair_moves=True) as w:
        os.rename(os.path.join(root, "old"), os.path.join(root, "new"))
        ev = w.next(G)
        assert ev.mask == vigil.IN_MOVED_FROM | vigil.IN_MOVED_TO
        assert ev.from_path == os.path.join(root, "old")
        assert ev.path == os.path.join(root, "new")
        assert ev.flags & vigil.EVENT_PAIRED and ev.cookie
        assert "->" in repr(ev)


def test_move_out_half_comes_after_its_deadline(root):
    """A rename half whose partner never comes is delivered alone, when
    its deadline (deadline()) passes; next() waits for it by itself."""
    out = os.path.join(os.path.dirname(root), "outside")
    os.mkdir(os.path.join(root, "d"))
    with vigil.Watcher(root, events="move", pair_moves=True) as w:
        os.rename(os.path.join(root, "d"), out)
        ev = w.next(G)
        assert ev.mask == vigil.IN_MOVED_FROM | vigil.IN_ISDIR and ev.from_path is None
        assert w.deadline() is None


def test_remove(root):
    with vigil.Watcher(root, events="create") as w:
        w.remove(pathlib.Path(root))
        assert w.watch_count == 0
        with pytest.raises(ValueError) as e:
            w.remove(root)
        assert "is not watched" in str(e.value)
        open(os.path.join(root, "f"), "w").close()
        assert w.next(0.1) is None


def test_close_context_and_closed_errors(root):
    w = vigil.Watcher(root)
    assert not w.closed and repr(w) == "<vigil.Watcher 1 watch>"
    with w as same:
        assert same is w
    assert w.closed and repr(w) == "<vigil.Watcher closed>"
    w.close()  # twice is fine
    assert w.watch_count == 0
    for call in (lambda: w.next(0), lambda: w.read(0), lambda: w.wait(0), w.fileno,
                 lambda: w.add(root), w.watches, lambda: w.remove(root)):
        with pytest.raises(ValueError) as e:
            call()
        assert "closed" in str(e.value)
    assert list(w) == []  # iteration just ends
    with pytest.raises(ValueError):
        with w:
            pass


def test_close_from_another_thread_ends_iteration(root):
    w = vigil.Watcher(root)
    got = []
    t = threading.Thread(target=lambda: got.extend(w))
    t.start()
    w.close()
    t.join(G)
    assert not t.is_alive() and got == []


def test_next_read_wait_timeouts_and_wakeup(root):
    with vigil.Watcher(root, events="create") as w:
        assert w.next(0) is None and w.read(0) == [] and w.wait(0) is False
        assert w.next(0.05) is None and w.read(-1) == []
        with pytest.raises(ValueError):
            w.next(float("nan"))
        with pytest.raises(TypeError):
            w.next("soon")
        # wakeup() returns a waiting call at once, and only once
        result = []
        t = threading.Thread(target=lambda: result.append(w.next()))
        t.start()
        w.wakeup()
        t.join(G)
        assert result == [None]
        w.wakeup()
        assert w.read() == [] and w.wait(0) is False
        open(os.path.join(root, "first"), "w").close()
        assert w.wait(0) is True  # queued by the kernel as the file was made
        assert w.next(0).name == "first"
        for i in range(5):
            open(os.path.join(root, "f%d" % i), "w").close()
        assert w.wait(G) is True
        assert [e.name for e in w.read(G)] == ["f%d" % i for i in range(5)]


def test_fileno_with_selectors(root):
    with vigil.Watcher(root, events="create") as w, selectors.DefaultSelector() as sel:
        assert os.get_inheritable(w.fileno()) is False
        sel.register(w, selectors.EVENT_READ)
        assert sel.select(0) == []
        open(os.path.join(root, "f"), "w").close()
        assert sel.select(G)
        assert w.next(0).name == "f"


def test_watches_and_watch_wd_follow_renames(root):
    os.makedirs(os.path.join(root, "a/b"))
    with vigil.Watcher(root, recursive=True, events="create,move") as w:
        watches = w.watches()
        assert set(watches) == {root, os.path.join(root, "a"), os.path.join(root, "a/b")}
        wd = watches[os.path.join(root, "a/b")]
        assert w.watch_wd(os.path.join(root, "a/b")) == wd
        os.rename(os.path.join(root, "a"), os.path.join(root, "z"))
        take_until(w, lambda e: e.mask & vigil.IN_MOVED_TO)
        assert w.watches()[os.path.join(root, "z/b")] == wd
        assert w.watch_wd(os.path.join(root, "a/b")) is None


def test_paths_str_bytes_pathlike(root):
    with vigil.Watcher(pathlib.Path(root), events="create") as w:
        assert not w.bytes_paths
        with pytest.raises(TypeError) as e:
            w.add(os.fsencode(root))
        assert "cannot be mixed" in str(e.value)
        open(os.path.join(root, "f"), "w").close()
        assert w.next(G).path == os.path.join(root, "f")
    with vigil.Watcher(os.fsencode(root), events="create") as w:
        assert w.bytes_paths
        assert list(w.watches()) == [os.fsencode(root)]
    with pytest.raises(ValueError):
        vigil.Watcher(root + "\0x")


def test_a_subclass_and_gc(root):
    class Mine(vigil.Watcher):
        pass
    w = Mine(root)
    w.me = w  # a cycle: the GC collects it
    import gc
    import weakref
    ref = weakref.ref(w)
    del w
    gc.collect()
    assert ref() is None


def test_docstrings():
    for obj in (vigil, vigil.Watcher, vigil.Watcher.add, vigil.Watcher.next,
                vigil.Watcher.read, vigil.Watcher.wait, vigil.Watcher.wakeup,
                vigil.Watcher.close, vigil.Watcher.fileno, vigil.Watcher.remove,
                vigil.Watcher.watches, vigil.Watcher.deadline, vigil.Event,
                vigil.Event.path, vigil.Event.names, vigil.Event.synthetic,
                vigil.Event.overflow, vigil.Event.from_path, vigil.mask_names,
                vigil.parse_events):
        assert obj.__doc__ and len(obj.__doc__) > 30, obj


def test_error_events_when_the_limit_is_reached_later(root):
    """A tree that appears once the watch limit is reached: an event with
    error set (ENOSPC, naming the sysctl), and watching goes on."""
    script = (
        "import os, sys, vigil\n"
        "root = sys.argv[1]\n"
        "w = vigil.Watcher(root, recursive=True, events='create')\n"
        "os.makedirs(root + '/a/b/c/d')\n"
        "open(root + '/after', 'w').close()\n"
        "while True:\n"
        "    ev = w.next(120)\n"
        "    if ev.error is not None:\n"
        "        print('error', type(ev.error).__name__, ev.error.errno, ev.mask, ev.names)\n"
        "        print(ev.error.filename)\n"
        "        print(ev.error.strerror)\n"
        "    if ev.name == 'after':\n"
        "        break\n")
    r = python_with_watch_limit(3, script, root)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "error OSError 28 0 []"
    assert lines[1] == os.path.join(root, "a/b/c")
    assert "user.max_inotify_watches = 3" in lines[2]
    assert lines[2].endswith("; the 1 directory below it is not watched either")


def test_reading_ahead_empties_the_kernel_queue(root):
    """Taking one event takes in everything waiting in the kernel's queue,
    so that what comes while the program works on it has the whole queue
    to wait in: two runs of nearly a queue's worth of events, with one
    event taken in between, lose nothing. (Reading one 256 KiB buffer at a
    time, 8,192 of these events, the second run would overflow it.)"""
    def queue_size():
        with open("/proc/sys/fs/inotify/max_queued_events") as f:
            return int(f.read())
    path = os.path.join(root, "f")
    open(path, "w").close()
    before = queue_size()
    w = vigil.Watcher(root, events=vigil.IN_OPEN | vigil.IN_CLOSE_NOWRITE)
    q = min(before, queue_size())
    if q < 12000 or q > 1000000:
        w.close()
        pytest.skip("max_queued_events is %d (another test lowered it?)" % q)
    run = q - 1000
    with w:
        for _ in range(run // 2):
            os.close(os.open(path, os.O_RDONLY))
        first = w.next(G)
        for _ in range(run // 2):
            os.close(os.open(path, os.O_RDONLY))
        got = [first]
        while len(got) < 4 * (run // 2):
            batch = w.read(G)
            assert batch, "%d events of %d came" % (len(got), 4 * (run // 2))
            assert not [e for e in batch if e.overflow], \
                "the kernel's queue overflowed after %d events" % len(got)
            got += batch
        assert len(got) == 4 * (run // 2) and w.next(0) is None
