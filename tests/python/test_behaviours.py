"""What vigil promises, through each of the three APIs (the api fixture):
vigil's own, vigil.inotify and vigil.pyinotify."""

import asyncio
import collections
import os
import shutil
import subprocess
import threading

import pytest

import drivers
import vigil
import vigil.inotify as inotify
import vigil.pyinotify as pyinotify
from conftest import python_with_watch_limit
from drivers import created


def test_race_nested_bursts_every_path_once(api, root):
    """500 bursts of `mkdir -p N/b/c && touch N/b/c/f`, made by another
    process while the watcher reads: every path is reported, once."""
    w = api.watch(root, vigil.IN_CREATE)
    try:
        maker = subprocess.Popen(
            ["sh", "-c", 'for i in $(seq 500); do mkdir -p "$i/b/c" && touch "$i/b/c/f"; done'],
            cwd=root)
        want = set()
        for i in range(1, 501):
            want |= {"%s/%d" % (root, i), "%s/%d/b" % (root, i),
                     "%s/%d/b/c" % (root, i), "%s/%d/b/c/f" % (root, i)}
        seen = w.collect(lambda s: want <= set(created(s)) and maker.poll() is not None)
        assert maker.wait() == 0
        seen += w.drain()
        counts = collections.Counter(created(seen))
        twice = sorted(p for p, n in counts.items() if n > 1)
        assert not twice, "reported more than once: %r" % twice[:10]
        assert set(counts) == want
    finally:
        w.close()


def test_renamed_tree_events_carry_the_new_path(api, root):
    os.makedirs(os.path.join(root, "a/b/c"))
    w = api.watch(root)
    try:
        os.rename(os.path.join(root, "a"), os.path.join(root, "z"))
        w.collect(lambda s: any("IN_MOVED_TO" in e.names for e in s))
        open(os.path.join(root, "z/b/c/new"), "w").close()
        seen = w.collect(lambda s: os.path.join(root, "z/b/c/new") in created(s))
        stale = [e for e in seen if e.path.startswith(os.path.join(root, "a/"))]
        assert not stale, "events under the old path: %r" % stale
    finally:
        w.close()


def test_renamed_tree_unread_rename_then_change(api, root):
    """The rename and what follows it come in one read."""
    os.makedirs(os.path.join(root, "a/b"))
    w = api.watch(root, vigil.IN_CREATE | vigil.IN_MOVE)
    try:
        os.rename(os.path.join(root, "a"), os.path.join(root, "z"))
        open(os.path.join(root, "z/b/f"), "w").close()
        seen = w.collect(lambda s: os.path.join(root, "z/b/f") in created(s))
        assert os.path.join(root, "a/b/f") not in created(seen)
    finally:
        w.close()


def test_directory_deleted_and_made_again_is_still_watched(api, root):
    d = os.path.join(root, "d")
    os.mkdir(d)
    w = api.watch(root, vigil.IN_CREATE | vigil.IN_DELETE)
    try:
        # once with the deletion read in between
        os.rmdir(d)
        w.collect(lambda s: any(e.path == d and "IN_DELETE" in e.names for e in s))
        os.mkdir(d)
        w.collect(lambda s: d in created(s))
        open(os.path.join(d, "one"), "w").close()
        w.collect(lambda s: os.path.join(d, "one") in created(s))
        # once all in one go
        shutil.rmtree(d)
        os.mkdir(d)
        open(os.path.join(d, "two"), "w").close()
        w.collect(lambda s: os.path.join(d, "two") in created(s))
    finally:
        w.close()


def test_directory_vanishing_while_added(api, root):
    """Directories deleted by another process while the tree is walked:
    no error, and what stays is watched."""
    for round_ in range(8):
        top = os.path.join(root, "r%d" % round_)
        for i in range(60):
            os.makedirs(os.path.join(top, "d%d" % i, "x", "y"))
        # deleting starts before watching does, and runs on while it does
        rm = subprocess.Popen(["sh", "-c", 'for d in "$0"/d*; do rm -rf "$d"; done', top])
        w = api.watch(top, vigil.IN_CREATE)
        try:
            rm.wait()
            _marker_seen(w, top)
        finally:
            w.close()


def _marker_seen(w, top):
    """Make a file in TOP and wait until W reports it; again after each
    overflow (the deletions' IN_IGNORED fill a queue that another test has
    lowered, machine-wide: a file made in a directory watched already is
    not found again by the re-scan)."""
    n = [0, 0]

    def until(seen):
        if w.overflows > n[1]:
            n[1] = w.overflows
            n[0] += 1
            open(os.path.join(top, "after%d" % n[0]), "w").close()
        return os.path.join(top, "after%d" % n[0]) in created(seen)
    open(os.path.join(top, "after0"), "w").close()
    w.collect(until)


def test_undecodable_names_round_trip(api, root):
    broot = os.fsencode(root)
    name = b"caf\xe9 \xff\xfe.txt"
    os.mkdir(broot + b"/dir\xe9")
    w = api.watch(root, vigil.IN_CREATE)
    try:
        open(broot + b"/" + name, "wb").close()
        open(broot + b"/dir\xe9/" + name, "wb").close()
        want = {broot + b"/" + name, broot + b"/dir\xe9/" + name}
        seen = w.collect(lambda s: want <= {os.fsencode(p) for p in created(s)})
        for p in created(seen):
            assert isinstance(p, str)
            assert os.path.exists(p), "%r does not name the file" % p
    finally:
        w.close()


def test_undecodable_names_as_bytes(root):
    """Given bytes, the native API gives bytes."""
    broot = os.fsencode(root)
    with vigil.Watcher(broot, recursive=True, events=vigil.IN_CREATE) as w:
        open(broot + b"/\xff", "wb").close()
        ev = w.next(drivers.GUARD_S)
        assert ev.path == broot + b"/\xff"
        assert ev.dir == broot and ev.name == b"\xff"
        assert w.bytes_paths


# -- a second thread runs while one waits ----------------------------------

def _progress_then_touch(counter, path, n=200):
    """Count to N (each step gives other threads the GIL back), then make
    PATH: only a thread that runs while the other waits gets there."""
    for _ in range(n):
        counter[0] += 1
        os.sched_yield()
    open(path, "w").close()


def test_thread_runs_while_native_next_blocks(root):
    with vigil.Watcher(root, events=vigil.IN_CREATE) as w:
        counter = [0]
        t = threading.Thread(target=_progress_then_touch,
                             args=(counter, os.path.join(root, "f")))
        t.start()
        ev = w.next(drivers.GUARD_S)  # None: the other thread never ran
        t.join()
        assert ev is not None and ev.name == "f"
        assert counter[0] == 200


def test_thread_runs_while_native_read_and_wait_block(root):
    with vigil.Watcher(root, events=vigil.IN_CREATE) as w:
        counter = [0]
        t = threading.Thread(target=_progress_then_touch,
                             args=(counter, os.path.join(root, "f")))
        t.start()
        assert w.wait(drivers.GUARD_S)
        t.join()
        assert [e.name for e in w.read(drivers.GUARD_S)] == ["f"]
        assert counter[0] == 200


def test_thread_runs_while_inotify_event_gen_blocks(root):
    i = inotify.adapters.Inotify(block_duration_s=drivers.GUARD_S)
    i.add_watch(root, inotify.constants.IN_CREATE)
    counter = [0]
    t = threading.Thread(target=_progress_then_touch, args=(counter, os.path.join(root, "f")))
    t.start()
    e = next(i.event_gen())  # waits up to block_duration_s: None if it held the GIL
    t.join()
    assert e is not None and e[3] == "f"
    assert counter[0] == 200


def test_thread_runs_while_pyinotify_check_events_blocks(root):
    wm = pyinotify.WatchManager()
    notifier = pyinotify.Notifier(wm, pyinotify.ProcessEvent())
    wm.add_watch(root, pyinotify.IN_CREATE)
    counter = [0]
    t = threading.Thread(target=_progress_then_touch, args=(counter, os.path.join(root, "f")))
    t.start()
    assert notifier.check_events(drivers.GUARD_S * 1000)
    t.join()
    assert counter[0] == 200
    notifier.stop()


def test_main_thread_runs_beside_a_pyinotify_threaded_notifier(root):
    wm = pyinotify.WatchManager()
    got = []
    done = threading.Event()

    class Handler(pyinotify.ProcessEvent):
        def process_IN_CREATE(self, event):
            got.append(event.name)
            done.set()

    notifier = pyinotify.ThreadedNotifier(wm, Handler())
    notifier.start()
    try:
        wm.add_watch(root, pyinotify.IN_CREATE, rec=True, auto_add=True)
        counter = [0]
        _progress_then_touch(counter, os.path.join(root, "f"))
        assert done.wait(drivers.GUARD_S)
        assert counter[0] == 200 and got == ["f"]
    finally:
        notifier.stop()
    assert not notifier.is_alive()


# -- asyncio ---------------------------------------------------------------

def test_asyncio_native_async_for(root):
    """`async for` through loop.add_reader(): the loop runs other tasks
    while it waits, and no thread is started."""

    async def main():
        threads = threading.active_count()
        w = vigil.Watcher(root, recursive=True, events=vigil.IN_CREATE)
        ticks = [0]
        names = []

        async def consume():
            async for ev in w:
                names.append(ev.name)
                if ev.name == "last":
                    return

        async def produce():
            for i in range(50):
                ticks[0] += 1
                await asyncio.sleep(0)
                if i % 10 == 0:
                    assert threading.active_count() == threads
                open(os.path.join(root, "f%d" % i), "w").close()
            os.mkdir(os.path.join(root, "d"))
            open(os.path.join(root, "d", "last"), "w").close()

        await asyncio.wait_for(asyncio.gather(consume(), produce()), drivers.GUARD_S)
        w.close()
        return ticks[0], names

    ticks, names = asyncio.run(main())
    assert ticks == 50
    assert names == ["f%d" % i for i in range(50)] + ["d", "last"]


def test_asyncio_native_close_ends_async_for(root):
    async def main():
        w = vigil.Watcher(root)
        got = []

        async def consume():
            async for ev in w:
                got.append(ev)

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0)
        w.close()
        await asyncio.wait_for(task, drivers.GUARD_S)
        return got

    assert asyncio.run(main()) == []


def test_asyncio_inotify_event_gen_in_an_executor(root):
    """The inotify package has no asyncio API; its users run event_gen()
    in an executor, which only works if it lets the loop's thread run."""

    async def main():
        i = inotify.adapters.InotifyTree(root, mask=inotify.constants.IN_CREATE)
        gen = i.event_gen(yield_nones=False)
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(None, next, gen)
        ticks = 0
        while not fut.done() and ticks < 100:
            ticks += 1
            await asyncio.sleep(0)
        open(os.path.join(root, "f"), "w").close()
        e = await asyncio.wait_for(fut, drivers.GUARD_S)
        gen.close()
        return ticks, e

    ticks, e = asyncio.run(main())
    assert ticks == 100
    assert e[3] == "f" and "IN_CREATE" in e[1]


def test_asyncio_pyinotify_asyncio_notifier(root):
    async def main():
        loop = asyncio.get_running_loop()
        wm = pyinotify.WatchManager()
        got = []
        done = asyncio.Event()

        class Handler(pyinotify.ProcessEvent):
            def process_IN_CREATE(self, event):
                got.append(event.pathname)
                if event.name == "last":
                    done.set()

        batches = []
        notifier = pyinotify.AsyncioNotifier(wm, loop, default_proc_fun=Handler(),
                                             callback=lambda n: batches.append(1))
        wm.add_watch(root, pyinotify.IN_CREATE, rec=True, auto_add=True)
        threads = threading.active_count()
        os.makedirs(os.path.join(root, "a/b"))
        open(os.path.join(root, "a/b/last"), "w").close()
        await asyncio.wait_for(done.wait(), drivers.GUARD_S)
        assert threading.active_count() == threads
        notifier.stop()
        return got, batches

    got, batches = asyncio.run(main())
    assert got == [os.path.join(root, p) for p in ("a", "a/b", "a/b/last")]
    assert batches


# -- a storm through the iterator, memory flat -----------------------------

def _assert_flat(before, after):
    # AddressSanitizer holds freed memory back (its quarantine): RSS says
    # nothing there, and the normal stage measures it
    if os.environ.get("VIGIL_SANITIZE"):
        return
    assert after - before < 4096, "RSS grew from %d to %d KiB" % (before, after)


def _rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _churn(root, n):
    """N events (IN_OPEN, IN_CLOSE_NOWRITE) on ROOT/f, the file system left
    alone: nothing is written (and the kernel merges an event only with an
    identical one queued just before it)."""
    path = root + "/f"
    for _ in range(n // 2):
        os.close(os.open(path, os.O_RDONLY))


STORM_MASK = vigil.IN_OPEN | vigil.IN_CLOSE_NOWRITE


def _storm(root, consume, total=100000, chunk=2000):
    """TOTAL events, CHUNK at a time (within the kernel's queue), each
    chunk taken through CONSUME(n) before the next is made; RSS after the
    first tenth and at the end."""
    open(root + "/f", "w").close()
    rss = []
    for start in range(0, total, chunk):
        _churn(root, chunk)
        assert consume(chunk) == chunk
        if start + chunk == total // 10:
            rss.append(_rss_kib())
    rss.append(_rss_kib())
    return rss


def test_100000_events_native_iterator_rss_flat(root):
    mask = STORM_MASK
    with vigil.Watcher(root, events=mask) as w:
        it = iter(w)

        def consume(n):
            for _ in range(n):
                ev = next(it)
                assert ev.mask & mask
            return n
        before, after = _storm(root, consume)
    _assert_flat(before, after)


def test_100000_events_inotify_event_gen_rss_flat(root):
    i = inotify.adapters.Inotify()
    i.add_watch(root, STORM_MASK)
    gen = i.event_gen(yield_nones=False)

    def consume(n):
        for _ in range(n):
            header, names, path, name = next(gen)
            assert path == root and name == "f"
        return n
    before, after = _storm(root, consume)
    gen.close()
    _assert_flat(before, after)


def test_100000_events_pyinotify_notifier_rss_flat(root):
    wm = pyinotify.WatchManager()
    count = [0]

    class Counter(pyinotify.ProcessEvent):
        def process_default(self, event):
            count[0] += 1

    notifier = pyinotify.Notifier(wm, Counter())
    wm.add_watch(root, STORM_MASK)

    def consume(n):
        count[0] = 0
        while count[0] < n:
            assert notifier.check_events(drivers.GUARD_S * 1000)
            notifier.read_events()
            notifier.process_events()
        return count[0]
    before, after = _storm(root, consume)
    notifier.stop()
    _assert_flat(before, after)


# -- an overflow without lowering anything: more than the queue holds -----

def test_overflow_by_not_reading(api, root):
    """More events than the kernel's queue holds (16,384 by default), made
    while nothing reads: an overflow is reported, and what was made in the
    gap is found by the re-scan."""
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        queue = int(f.read())
    if queue > 1000000:
        pytest.skip("max_queued_events is %d: too many events to make" % queue)
    open(root + "/f", "w").close()
    w = api.watch(root, vigil.IN_CREATE | STORM_MASK)
    try:
        _churn(root, queue + 500)
        os.makedirs(os.path.join(root, "gap/deep"))
        open(os.path.join(root, "gap/deep/f"), "w").close()
        w.collect(lambda s: w.overflows and os.path.join(root, "gap/deep/f") in created(s))
    finally:
        w.close()


# -- clear errors ----------------------------------------------------------

def test_errors_native(root):
    missing = os.path.join(root, "missing")
    with pytest.raises(FileNotFoundError) as e:
        vigil.Watcher(missing)
    assert e.value.errno == 2 and e.value.filename == missing
    f = os.path.join(root, "file")
    open(f, "w").close()
    w = vigil.Watcher()
    with pytest.raises(NotADirectoryError) as e:
        w.add(f, only_dir=True)
    assert e.value.filename == f
    for bad, words in ((0, "no event"), (1 << 20, "no events to ask for: 0x00100000"),
                       (vigil.IN_ONLYDIR | vigil.IN_CREATE, "only_dir=True"),
                       ("create,bogus", "'bogus' is not an event name"),
                       (["IN_CREATE", "IN_NOPE"], "'nope' is not an event name")):
        with pytest.raises(ValueError) as e:
            w.add(root, events=bad)
        assert words in str(e.value)
    with pytest.raises(TypeError):
        w.add(root, events=1.5)
    with pytest.raises(ValueError) as e:
        vigil.Watcher(exclude="(")
    assert "not a valid POSIX extended regular expression" in str(e.value)
    with pytest.raises(ValueError) as e:
        vigil.Watcher(exclude="a" + "+" * 30)
    assert "too complex" in str(e.value)
    w.close()


def test_errors_inotify(root):
    missing = os.path.join(root, "missing")
    i = inotify.adapters.Inotify()
    with pytest.raises(inotify.calls.InotifyError) as e:
        i.add_watch(missing)
    assert isinstance(e.value, FileNotFoundError)
    assert e.value.errno == 2 and e.value.filename == missing
    f = os.path.join(root, "file")
    open(f, "w").close()
    with pytest.raises(NotADirectoryError) as e:
        inotify.adapters.InotifyTree(f)
    assert isinstance(e.value, inotify.calls.InotifyError) and e.value.filename == f
    with pytest.raises(FileNotFoundError):
        inotify.adapters.InotifyTree(missing)
    for bad, words in ((0, "asks for no event"), (0x08000000, "are not inotify bits")):
        with pytest.raises(inotify.calls.InotifyError) as e:
            i.add_watch(root, bad)
        assert e.value.errno == 22 and words in str(e.value)


def test_errors_pyinotify(root, caplog):
    missing = os.path.join(root, "missing")
    wm = pyinotify.WatchManager()
    assert wm.add_watch(missing, pyinotify.ALL_EVENTS) == {missing: -1}
    assert "add_watch: cannot watch %s WD=-1, Errno=No such file or directory (ENOENT)" \
        % missing in caplog.text
    with pytest.raises(pyinotify.WatchManagerError) as e:
        wm.add_watch(missing, pyinotify.ALL_EVENTS, quiet=False)
    assert missing in str(e.value) and e.value.wmd == {missing: -1}
    f = os.path.join(root, "file")
    open(f, "w").close()
    with pytest.raises(pyinotify.WatchManagerError) as e:
        wm.add_watch(f, pyinotify.ALL_EVENTS | pyinotify.IN_ONLYDIR, quiet=False)
    assert "ENOTDIR" in str(e.value)
    for bad, words in ((0, "asks for no event"), (0x08000000, "are not inotify bits")):
        with pytest.raises(pyinotify.WatchManagerError) as e:
            wm.add_watch(root, bad, quiet=False)
        assert "EINVAL" in str(e.value) and words in str(e.value)
    assert wm.add_watch(b"/tmp", pyinotify.ALL_EVENTS) == {b"/tmp": -3}
    wm.close()


def test_watch_limit_names_the_sysctl(root):
    """The watch limit, lowered in a user namespace of the test's own."""
    for i in range(5):
        os.makedirs(os.path.join(root, "d%d" % i))
    script = ("import vigil, sys\n"
              "try:\n"
              "    vigil.Watcher(sys.argv[1], recursive=True)\n"
              "except OSError as e:\n"
              "    print(type(e).__name__, e.errno, e.filename)\n"
              "    print(e.strerror)\n")
    r = python_with_watch_limit(3, script, root)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "OSError 28 %s" % root
    assert lines[1].startswith("inotify watch limit reached (user.max_inotify_watches = 3); "
                               "raise it with 'sysctl -w user.max_inotify_watches=")
