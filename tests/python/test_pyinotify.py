"""vigil.pyinotify, the drop-in for pyinotify: every call, and the same
events as pyinotify itself (Debian's python3-pyinotify, when it is
installed) wherever pyinotify is right."""

import io
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

import drivers
import vigil.pyinotify as pyinotify

G = drivers.GUARD_S


def real_pyinotify():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import pyinotify as real
    except ImportError:
        pytest.skip("pyinotify is not installed (Debian: python3-pyinotify)")
    if real is pyinotify or "vigil" in real.__file__:
        pytest.skip("the pyinotify module here is vigil's (-Dpython_compat_names)")
    return real


class Recorder(pyinotify.ProcessEvent):
    def my_init(self, sink=None, tag=None):
        self.sink = sink if sink is not None else []
        self.tag = tag

    def process_default(self, event):
        self.sink.append(event if self.tag is None else (self.tag, event))


def pump(notifier, until, guard=G):
    """Read and process until UNTIL() is true."""
    end = time.monotonic() + guard
    while not until():
        assert time.monotonic() < end, "still waiting after %ds" % guard
        if notifier.check_events(500):
            notifier.read_events()
        notifier.process_events()


def test_constants_match_pyinotify():
    real = real_pyinotify()
    for name in dir(real):
        if name.startswith("IN_") or name == "ALL_EVENTS":
            assert getattr(pyinotify, name) == getattr(real, name), name
    assert pyinotify.EventsCodes.ALL_FLAGS == real.EventsCodes.ALL_FLAGS
    assert pyinotify.EventsCodes.ALL_VALUES == real.EventsCodes.ALL_VALUES
    for name in ("WatchManager", "Notifier", "ThreadedNotifier", "AsyncioNotifier",
                 "ProcessEvent", "PrintAllEvents", "ChainIfTrue", "Stats", "ExcludeFilter",
                 "Event", "WatchManagerError", "NotifierError", "ProcessEventError",
                 "PyinotifyError", "Watch", "compatibility_mode", "EventsCodes",
                 "max_queued_events", "max_user_watches", "max_user_instances"):
        assert hasattr(pyinotify, name), name


def test_event_fields_and_dispatch(root):
    wm = pyinotify.WatchManager()
    calls = []

    class Handler(pyinotify.ProcessEvent):
        def my_init(self, prefix):
            self.prefix = prefix

        def process_IN_CREATE(self, event):
            calls.append((self.prefix, "create", event))

        def process_IN_CLOSE(self, event):   # the family: CLOSE_WRITE and NOWRITE
            calls.append((self.prefix, "close", event))

        def process_IN_MOVED_TO(self, event):
            calls.append((self.prefix, "moved_to", event))

        def process_default(self, event):
            calls.append((self.prefix, "default", event))

    notifier = pyinotify.Notifier(wm, Handler(prefix="p"))
    wdd = wm.add_watch(root, pyinotify.IN_CREATE | pyinotify.IN_CLOSE_WRITE |
                       pyinotify.IN_MOVED_FROM | pyinotify.IN_MOVED_TO)
    assert list(wdd) == [root] and wdd[root] > 0
    os.mkdir(os.path.join(root, "sub"))
    with open(os.path.join(root, "f"), "w") as out:
        out.write("x")
    os.rename(os.path.join(root, "f"), os.path.join(root, "g"))
    pump(notifier, lambda: len(calls) == 5)
    kinds = [(k, e.maskname, e.name) for _, k, e in calls]
    assert kinds == [("create", "IN_CREATE|IN_ISDIR", "sub"), ("create", "IN_CREATE", "f"),
                     ("close", "IN_CLOSE_WRITE", "f"), ("default", "IN_MOVED_FROM", "f"),
                     ("moved_to", "IN_MOVED_TO", "g")]
    sub = calls[0][2]
    assert (sub.wd, sub.path, sub.pathname, sub.dir, sub.is_dir) == \
        (wdd[root], root, os.path.join(root, "sub"), True, True)
    assert sub.mask == pyinotify.IN_CREATE | pyinotify.IN_ISDIR
    assert sub.event_name == "IN_CREATE|IN_ISDIR"
    assert not hasattr(sub, "cookie") and not hasattr(sub, "src_pathname")
    moved_from, moved_to = calls[3][2], calls[4][2]
    assert moved_from.cookie == moved_to.cookie != 0
    assert moved_to.src_pathname == os.path.join(root, "f")
    assert repr(sub) == ("<Event dir=True mask=0x40000100 maskname=IN_CREATE|IN_ISDIR "
                         "name=sub path=%s pathname=%s wd=%d >"
                         % (root, os.path.join(root, "sub"), wdd[root]))
    notifier.stop()


def test_process_event_chaining_print_all_and_chain_if_true(root):
    out = io.StringIO()
    seen = []
    wm = pyinotify.WatchManager()
    printer = pyinotify.PrintAllEvents(out=out)
    # the chained one runs first; a true result stops the rest
    chained = pyinotify.ProcessEvent(pevent=pyinotify.ChainIfTrue(func=lambda e: e.name == "yes"))
    chained.process_default = seen.append
    notifier = pyinotify.Notifier(wm, printer)
    wm.add_watch(root, pyinotify.IN_CREATE, proc_fun=chained)
    open(os.path.join(root, "no"), "w").close()
    open(os.path.join(root, "yes"), "w").close()
    pump(notifier, lambda: seen)
    assert [e.name for e in seen] == ["yes"] and out.getvalue() == ""
    assert chained.nested_pevent() is not None
    # the default processing function
    wm2 = pyinotify.WatchManager()
    n2 = pyinotify.Notifier(wm2, printer)
    wm2.add_watch(root, pyinotify.IN_DELETE)
    os.unlink(os.path.join(root, "no"))
    pump(n2, lambda: out.getvalue())
    assert out.getvalue().startswith("<Event dir=False mask=0x200 maskname=IN_DELETE name=no ")
    notifier.stop()
    n2.stop()


def test_add_watch_rec_auto_add_glob_list_exclude(root):
    for d in ("a/x", "b/y", "skip/z"):
        os.makedirs(os.path.join(root, d))
    wm = pyinotify.WatchManager()
    got = []
    notifier = pyinotify.Notifier(wm, Recorder(sink=got))
    excl = pyinotify.ExcludeFilter(["^%s/skip" % root])
    wdd = wm.add_watch(root + "/", pyinotify.IN_CREATE, rec=True, auto_add=True,
                       exclude_filter=excl)
    assert set(wdd) == {root + "/", root + "/a", root + "/a/x", root + "/b", root + "/b/y",
                        root + "/skip", root + "/skip/z"}
    assert wdd[root + "/skip"] == -2 and wdd[root + "/skip/z"] == -2
    assert wm.get_wd(root) == wdd[root + "/"] and wm.get_path(wdd[root + "/a/x"]) == root + "/a/x"
    assert set(w.path for w in wm.watches.values()) == {root, root + "/a", root + "/a/x",
                                                         root + "/b", root + "/b/y"}
    open(os.path.join(root, "skip/z/hidden"), "w").close()
    os.makedirs(os.path.join(root, "new/deeper"))
    open(os.path.join(root, "new/deeper/f"), "w").close()
    pump(notifier, lambda: any(e.name == "f" for e in got))
    assert [e.pathname for e in got] == [root + "/new", root + "/new/deeper",
                                         root + "/new/deeper/f"]
    assert wm.get_path(got[-1].wd) == root + "/new/deeper"
    notifier.stop()
    # do_glob, a list of paths
    wm = pyinotify.WatchManager()
    wdd = wm.add_watch([root + "/[ab]", root + "/new"], pyinotify.IN_CREATE, do_glob=True)
    assert set(wdd) == {root + "/a", root + "/b", root + "/new"}
    assert all(wd > 0 for wd in wdd.values())
    wm.close()


def test_rec_without_auto_add_and_auto_add_without_rec(root):
    os.makedirs(os.path.join(root, "old/deep"))
    got = []
    # rec=True, auto_add=False: what is there is watched, not what comes
    wm = pyinotify.WatchManager()
    notifier = pyinotify.Notifier(wm, Recorder(sink=got))
    wdd = wm.add_watch(root, pyinotify.IN_CREATE, rec=True)
    assert set(wdd) == {root, root + "/old", root + "/old/deep"}
    os.mkdir(os.path.join(root, "new"))
    open(os.path.join(root, "new/unseen"), "w").close()
    open(os.path.join(root, "old/deep/seen"), "w").close()
    pump(notifier, lambda: any(e.name == "seen" for e in got))
    assert [e.name for e in got] == ["new", "seen"]
    notifier.stop()
    # rec=False, auto_add=True: what comes is watched, not what is there
    del got[:]
    wm = pyinotify.WatchManager()
    notifier = pyinotify.Notifier(wm, Recorder(sink=got))
    assert wm.add_watch(root, pyinotify.IN_CLOSE_WRITE, auto_add=True) == \
        {root: wm.get_wd(root)}
    open(os.path.join(root, "old/unseen2"), "w").close()
    os.makedirs(os.path.join(root, "fresh/sub"))
    open(os.path.join(root, "fresh/sub/seen2"), "w").close()
    pump(notifier, lambda: any(e.name == "seen2" and e.mask & pyinotify.IN_CREATE
                               for e in got))
    assert [e.pathname for e in got if "unseen" in e.pathname] == []
    notifier.stop()


def test_rm_watch_update_watch_and_proc_fun(root):
    os.makedirs(os.path.join(root, "a/b"))
    wm = pyinotify.WatchManager()
    default, special = [], []
    notifier = pyinotify.Notifier(wm, Recorder(sink=default))
    wdd = wm.add_watch(root, pyinotify.IN_CREATE, rec=True, auto_add=True)
    # a subdirectory's own handler
    assert wm.update_watch(wdd[root + "/a/b"], proc_fun=Recorder(sink=special)) == \
        {wdd[root + "/a/b"]: True}
    open(os.path.join(root, "a/b/x"), "w").close()
    open(os.path.join(root, "a/y"), "w").close()
    pump(notifier, lambda: default and special)
    assert [e.name for e in special] == ["x"] and [e.name for e in default] == ["y"]
    # a mask changed: IN_DELETE the tree was not watched for (it is
    # watched again, with new watch descriptors), and no more IN_CREATE
    wm.update_watch(wdd[root + "/a"], mask=pyinotify.IN_DELETE)
    open(os.path.join(root, "a/z"), "w").close()
    os.unlink(os.path.join(root, "a/z"))
    pump(notifier, lambda: default[-1].name == "z")
    assert default[-1].maskname == "IN_DELETE"
    assert [e.name for e in default] == ["y", "z"]
    wdd = {p: wm.get_wd(p) for p in wdd}
    open(os.path.join(root, "a/b/x2"), "w").close()
    pump(notifier, lambda: special[-1].name == "x2")
    # rm_watch of a subtree: its events stop, the rest go on
    assert wm.rm_watch(wdd[root + "/a"], rec=True) == {wdd[root + "/a"]: True,
                                                       wdd[root + "/a/b"]: True}
    open(os.path.join(root, "a/b/gone"), "w").close()
    open(os.path.join(root, "top"), "w").close()
    pump(notifier, lambda: default[-1].name == "top")
    assert not [e for e in default + special if e.name == "gone"]
    assert wm.rm_watch(9999) == {9999: False}
    with pytest.raises(pyinotify.WatchManagerError):
        wm.rm_watch([9999], quiet=False)
    assert wm.update_watch(9999) == {}
    # rm_watch of the top: nothing more
    wm.rm_watch(list(wdd.values())[:1])
    assert wm.watches == {}
    notifier.stop()


def test_update_watch_widening(root):
    wm = pyinotify.WatchManager()
    got = []
    notifier = pyinotify.Notifier(wm, Recorder(sink=got))
    wd = wm.add_watch(root, pyinotify.IN_CREATE)[root]
    wm.update_watch(wd, mask=pyinotify.IN_CREATE | pyinotify.IN_DELETE)
    open(os.path.join(root, "f"), "w").close()
    os.unlink(os.path.join(root, "f"))
    pump(notifier, lambda: len(got) == 2)
    assert [e.maskname for e in got] == ["IN_CREATE", "IN_DELETE"]
    notifier.stop()


def test_notifier_loop_callback_timeout_read_freq_threshold(root):
    wm = pyinotify.WatchManager()
    got = []
    notifier = pyinotify.Notifier(wm, Recorder(sink=got), read_freq=0.01, threshold=1,
                                  timeout=10)
    notifier.coalesce_events()
    wm.add_watch(root, pyinotify.IN_CREATE | pyinotify.IN_ATTRIB)
    rounds = []

    def callback(n):
        rounds.append(1)
        if len(rounds) == 1:
            open(os.path.join(root, "f"), "w").close()
            for _ in range(3):
                os.utime(os.path.join(root, "f"))
        return bool(got and got[-1].mask & pyinotify.IN_ATTRIB)
    notifier.loop(callback=callback)
    # coalesced: one IN_ATTRIB for the three
    assert [e.maskname for e in got] == ["IN_CREATE", "IN_ATTRIB"]
    assert len(rounds) > 1
    assert wm._watcher.closed  # loop() ends with stop()


def test_threshold_holds_reads_back_until_enough_bytes_wait(root):
    # pyinotify's threshold: read_events() reads nothing until that many
    # bytes of records wait (asked of vigil, whose descriptor is epoll's)
    wm = pyinotify.WatchManager()
    got = []
    notifier = pyinotify.Notifier(wm, Recorder(sink=got), threshold=40 * 32)
    wm.add_watch(root, pyinotify.IN_CREATE)
    open(os.path.join(root, "a"), "w").close()
    assert notifier.check_events(G * 1000)
    assert wm._watcher.pending() >= 16
    notifier.read_events()
    notifier.process_events()
    assert got == []
    for i in range(60):
        open(os.path.join(root, "f%02d" % i), "w").close()
    end = time.monotonic() + G
    while wm._watcher.pending() < 40 * 32:
        assert time.monotonic() < end, "records still short of the threshold"
        notifier.check_events(100)
    notifier.read_events()
    notifier.process_events()
    assert got and got[0].name == "a"
    assert wm._watcher.pending() == 0 or len(got) > 1
    notifier.stop()


def test_notifier_loop_stops_on_ctrl_c(root, tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(
        "import sys, vigil.pyinotify as p\n"
        "wm = p.WatchManager()\n"
        "wm.add_watch(sys.argv[1], p.IN_CREATE)\n"
        "def ready(notifier):\n"
        "    # inside loop(): Ctrl-C from here on is loop()'s to take\n"
        "    if not getattr(notifier, 'said', False):\n"
        "        notifier.said = True\n"
        "        print('ready', flush=True)\n"
        "p.Notifier(wm).loop(callback=ready)\n"
        "print('stopped', flush=True)\n")
    proc = subprocess.Popen([sys.executable, str(script), root], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=G)
    assert proc.returncode == 0 and out == "stopped\n"


def test_notifier_loop_daemonize(root, tmp_path):
    pid_file, out_file = tmp_path / "pid", tmp_path / "out"
    script = tmp_path / "daemon.py"
    script.write_text(
        "import sys, vigil.pyinotify as p\n"
        "wm = p.WatchManager()\n"
        "wm.add_watch(sys.argv[1], p.IN_CREATE)\n"
        "p.Notifier(wm).loop(daemonize=True, pid_file=sys.argv[2], stdout=sys.argv[3])\n")
    r = subprocess.run([sys.executable, str(script), root, str(pid_file), str(out_file)],
                       timeout=G)
    assert r.returncode == 0
    end = time.monotonic() + G
    while not (pid_file.exists() and pid_file.read_text().endswith("\n")):
        assert time.monotonic() < end
        time.sleep(0.01)
    pid = int(pid_file.read_text())
    try:
        open(os.path.join(root, "f"), "w").close()
        while "name=f " not in (out_file.read_text() if out_file.exists() else ""):
            assert time.monotonic() < end
            time.sleep(0.01)
    finally:
        os.kill(pid, signal.SIGTERM)


def test_threaded_notifier_add_watch_while_it_runs(root):
    wm = pyinotify.WatchManager()
    got = []
    notifier = pyinotify.ThreadedNotifier(wm, Recorder(sink=got))
    notifier.start()
    try:
        wdd = wm.add_watch(root, pyinotify.IN_CREATE, rec=True, auto_add=True)
        os.makedirs(os.path.join(root, "a/b"))
        open(os.path.join(root, "a/b/f"), "w").close()
        end = time.monotonic() + G
        while len(got) < 3:
            assert time.monotonic() < end
            time.sleep(0.01)
        assert [e.pathname for e in got] == [root + "/a", root + "/a/b", root + "/a/b/f"]
        wm.rm_watch(wdd.values())
    finally:
        notifier.stop()


def test_stats_watch_transient_file_ignore_events_and_the_rest(root, tmp_path):
    wm = pyinotify.WatchManager()
    stats = pyinotify.Stats()
    notifier = pyinotify.Notifier(wm, stats)
    pid = os.path.join(root, "x.pid")
    transient = []

    class Transient(pyinotify.ProcessEvent):
        def process_default(self, event):
            transient.append(event.name)
    wm.watch_transient_file(pid, pyinotify.IN_CREATE, Transient)
    open(os.path.join(root, "other"), "w").close()
    open(pid, "w").close()
    pump(notifier, lambda: transient)
    assert transient == ["x.pid"]
    wm.ignore_events = True
    assert wm.get_ignore_events()
    open(os.path.join(root, "ignored"), "w").close()
    if notifier.check_events(200):
        notifier.read_events()
    notifier.process_events()
    wm.set_ignore_events(False)
    assert "IN_CREATE" not in repr(stats)
    wm2 = pyinotify.WatchManager()
    n2 = pyinotify.Notifier(wm2, stats)
    wm2.add_watch(root, pyinotify.IN_DELETE)
    os.unlink(pid)
    pump(n2, lambda: "IN_DELETE=1" in repr(stats))
    assert "IN_DELETE" in str(stats)
    stats.dump(str(tmp_path / "stats"))
    assert "IN_DELETE" in (tmp_path / "stats").read_text()
    assert isinstance(wm.get_fd(), int)
    notifier.stop()
    n2.stop()
    assert pyinotify.max_user_watches.value > 0 and "max_user_watches" in repr(
        pyinotify.max_user_watches)


def test_exclude_filter_from_a_file(tmp_path):
    lst = tmp_path / "exclude.lst"
    lst.write_text("# comment\n\n^/etc/rc.*\n /etc/hostname \n")
    f = pyinotify.ExcludeFilter(str(lst))
    assert f("/etc/rc.local") and f("/etc/hostname") and not f("/etc/passwd")
    with pytest.raises(TypeError):
        pyinotify.ExcludeFilter(42)


def test_compatibility_mode_and_guides_names(root):
    assert pyinotify.EventsCodes.IN_CREATE == pyinotify.IN_CREATE
    assert pyinotify.EventsCodes.ALL_EVENTS == pyinotify.ALL_EVENTS
    ev = pyinotify.Event({"mask": pyinotify.IN_Q_OVERFLOW})
    assert (ev.path, ev.name, ev.pathname) == ("", "", "")
    assert repr(ev) == "<Event mask=0x4000 maskname=IN_Q_OVERFLOW >"
    try:
        pyinotify.compatibility_mode()
        ev = pyinotify.Event({"mask": pyinotify.IN_CREATE, "path": root, "name": "n",
                              "wd": 1, "dir": False})
        assert ev.event_name == "IN_CREATE" and "event_name=IN_CREATE" in repr(ev)
    finally:
        pyinotify.COMPATIBILITY_MODE = False


# -- the same events as pyinotify, where it is right -----------------------

def _fields(event, d, keep_wd):
    out = {}
    for k, v in vars(event).items():
        if k.startswith("_"):
            continue
        if k in ("path", "pathname", "src_pathname"):
            v = os.path.relpath(v, d)
        elif k == "cookie":
            v = bool(v)
        elif k == "wd" and not keep_wd:
            v = None
        out[k] = v
    return out


def _events(module, d, ops, rec, keep_wd):
    wm = module.WatchManager()
    got = []

    class H(module.ProcessEvent):
        def process_default(self, event):
            got.append(event)

    def until(name):
        end = time.monotonic() + G
        while not any(e.name == name and e.mask & module.IN_CLOSE_WRITE for e in got):
            assert time.monotonic() < end
            if notifier.check_events(500):
                notifier.read_events()
            notifier.process_events()

    notifier = module.Notifier(wm, H())
    wm.add_watch(d, module.ALL_EVENTS, rec=rec, auto_add=rec)
    # pyinotify's walk opens what it has watched already: those events
    # are its own, not the test's
    open(os.path.join(d, "zz-start"), "w").close()
    until("zz-start")
    del got[:]
    ops(d)
    until("zz-end")
    notifier.stop()
    return [_fields(e, d, keep_wd) for e in got]


def test_same_events_as_pyinotify_flat(tmp_path):
    import test_inotify
    real = real_pyinotify()
    dirs = [str(tmp_path / "ours"), str(tmp_path / "theirs")]
    for d in dirs:
        os.mkdir(d)
    assert _events(pyinotify, dirs[0], test_inotify._flat_ops, False, True) == \
        _events(real, dirs[1], test_inotify._flat_ops, False, True)


def test_same_events_as_pyinotify_tree(tmp_path):
    import test_inotify
    real = real_pyinotify()
    dirs = [str(tmp_path / "ours"), str(tmp_path / "theirs")]
    for d in dirs:
        os.makedirs(os.path.join(d, "a/b"))
        os.makedirs(os.path.join(d, "c/empty"))
    assert _events(pyinotify, dirs[0], test_inotify._tree_ops, True, False) == \
        _events(real, dirs[1], test_inotify._tree_ops, True, False)
