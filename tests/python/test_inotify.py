"""vigil.inotify, the drop-in for the inotify package: every call, and the
same stream as the package itself (Debian's python3-inotify, when it is
installed) wherever the package is right."""

import logging
import os
import shutil

import pytest

import drivers
import vigil.inotify as inotify

G = drivers.GUARD_S
C = inotify.constants


def real_package():
    """The inotify package itself, or a skip."""
    try:
        import inotify.adapters as real
        import inotify.constants as real_constants
    except ImportError:
        pytest.skip("the inotify package is not installed (Debian: python3-inotify)")
    if "vigil" in real.__file__ or real is inotify.adapters:
        pytest.skip("the inotify module here is vigil's (-Dpython_compat_names)")
    return real, real_constants


def until_name(gen, name):
    """Events from GEN up to the one about NAME (which is left out)."""
    out = []
    for e in gen:
        if e is not None and e[3] == name:
            return out
        out.append(e)
    raise AssertionError("the generator ended before %r: %r" % (name, out))


def test_constants_match_the_package():
    real, real_constants = real_package()
    ours = {k: v for k, v in vars(C).items() if k.startswith("IN_")}
    theirs = {k: v for k, v in vars(real_constants).items() if k.startswith("IN_")}
    assert ours == theirs
    assert list(C.MASK_LOOKUP.items()) == list(real_constants.MASK_LOOKUP.items())
    for name in ("Inotify", "InotifyTree", "InotifyTrees", "EventTimeoutException",
                 "TerminalEventException", "_INOTIFY_EVENT", "_DEFAULT_TERMINAL_EVENTS",
                 "_DEFAULT_EPOLL_BLOCK_DURATION_S", "_HEADER_STRUCT_FORMAT"):
        assert hasattr(inotify.adapters, name), name
    assert inotify.adapters._DEFAULT_TERMINAL_EVENTS == real._DEFAULT_TERMINAL_EVENTS


def test_inotify_calls(root, caplog):
    a, b = os.path.join(root, "a"), os.path.join(root, "b")
    os.mkdir(a)
    os.mkdir(b)
    i = inotify.adapters.Inotify(paths=[a], block_duration_s=0.2)
    wd_b = i.add_watch(b, C.IN_CREATE)
    assert isinstance(wd_b, int) and wd_b > 0
    assert i.add_watch(b) is None
    assert "Path already being watched" in caplog.text
    open(os.path.join(a, "x"), "w").close()
    open(os.path.join(b, "y"), "w").close()
    gen = i.event_gen(yield_nones=False)
    events = until_name(gen, "y")
    header, names, path, name = events[0]
    assert (names, path, name) == (["IN_CREATE"], a, "x")
    assert header.mask == C.IN_CREATE and header.cookie == 0 and header.len == 16
    assert header == (header.wd, header.mask, header.cookie, header.len)
    gen.close()
    # remove_watch: nothing more from b; a path not watched is no error
    i.remove_watch(b)
    i.remove_watch(b)
    open(os.path.join(b, "gone"), "w").close()
    open(os.path.join(a, "end"), "w").close()
    events = until_name(i.event_gen(yield_nones=False), "end")
    assert not [e for e in events if e[3] == "gone"]
    # remove_watch_with_id
    c = os.path.join(root, "c")
    os.mkdir(c)
    wd_c = i.add_watch(c)
    i.remove_watch_with_id(wd_c)
    with pytest.raises(KeyError):
        i.remove_watch_with_id(wd_c)
    open(os.path.join(c, "gone"), "w").close()
    open(os.path.join(a, "end2"), "w").close()
    events = until_name(i.event_gen(yield_nones=False), "end2")
    assert not [e for e in events if e[3] == "gone"]


def test_inotify_event_gen_arguments(root):
    calls = []

    def block():
        calls.append(1)
        return 0.05
    i = inotify.adapters.Inotify(paths=[root], block_duration_s=block)
    # yield_nones: a None after each batch; timeout_s ends it
    got = list(i.event_gen(timeout_s=0.1))
    assert got and set(got) == {None} and calls
    open(os.path.join(root, "f"), "w").close()
    # filter_predicate returning False ends it, and is remembered
    gen = i.event_gen(yield_nones=False,
                      filter_predicate=lambda type_name, e: type_name != "IN_CLOSE_WRITE")
    seen = list(gen)
    assert [e[1] for e in seen] == [["IN_CREATE"], ["IN_OPEN"]]
    type_name, e = i.last_success_return
    assert type_name == "IN_CLOSE_WRITE" and e[3] == "f"
    # terminal_events
    os.unlink(os.path.join(root, "f"))
    with pytest.raises(inotify.adapters.TerminalEventException) as exc:
        list(i.event_gen(terminal_events=("IN_DELETE",)))
    assert exc.value.args == ("IN_DELETE",) and exc.value.event[3] == "f"
    assert issubclass(inotify.adapters.EventTimeoutException, Exception)


def test_inotify_events_left_in_a_batch_are_kept(root):
    i = inotify.adapters.Inotify(paths=[root])
    for n in range(3):
        open(os.path.join(root, "f%d" % n), "w").close()
    gen = i.event_gen(yield_nones=False)
    first = next(gen)
    gen.close()  # the rest of that batch waits for the next generator
    rest = until_name(i.event_gen(yield_nones=False), "f2")
    assert first[3] == "f0" and [e[3] for e in rest][-3:] == ["f1", "f1", "f1"]


def test_inotify_trees_and_the_inotify_property(root, caplog):
    a, b = os.path.join(root, "a"), os.path.join(root, "b")
    os.makedirs(os.path.join(a, "deep"))
    os.makedirs(os.path.join(b, "deep"))
    trees = inotify.adapters.InotifyTrees([a, b], mask=C.IN_CLOSE_WRITE)
    assert isinstance(trees.inotify, inotify.adapters.Inotify)
    open(os.path.join(a, "deep/x"), "w").close()
    open(os.path.join(b, "deep/y"), "w").close()
    # CREATE and DELETE come as well, as the package makes them come
    events = until_name(trees.event_gen(yield_nones=False, ignore_missing_new_folders=True),
                        "y")
    assert [(e[1], e[2], e[3]) for e in events] == [
        (["IN_CREATE"], os.path.join(a, "deep"), "x"),
        (["IN_CLOSE_WRITE"], os.path.join(a, "deep"), "x")]
    # a tree's top can be removed, with all below it; other ids are unknown
    trees.inotify.remove_watch(a)
    with pytest.raises(KeyError):
        trees.inotify.remove_watch_with_id(9999)
    open(os.path.join(a, "deep/gone"), "w").close()
    open(os.path.join(b, "deep/end"), "w").close()
    events = until_name(trees.event_gen(yield_nones=False), "end")
    assert not [e for e in events if e[3] == "gone"]


def test_inotify_calls_module(root):
    fd = inotify.calls.inotify_init()
    try:
        wd = inotify.calls.inotify_add_watch(fd, root.encode(), C.IN_CREATE)
        assert wd == 1
        assert inotify.calls.inotify_rm_watch(fd, wd) == 0
        with pytest.raises(inotify.calls.InotifyError) as e:
            inotify.calls.inotify_add_watch(fd, os.path.join(root, "missing"), C.IN_CREATE)
        assert isinstance(e.value, FileNotFoundError) and "ERRNO=(2)" in str(e.value)
    finally:
        os.close(fd)


def test_logger_is_the_packages():
    assert inotify.adapters._LOGGER is logging.getLogger("inotify.adapters")


# -- the same stream as the package, where it is right ---------------------

def _flat_ops(d):
    f = os.path.join(d, "file")
    with open(f, "w") as out:
        out.write("data")
    with open(f) as src:
        src.read()
    os.chmod(f, 0o600)
    os.rename(f, os.path.join(d, "renamed"))
    os.mkdir(os.path.join(d, "dir"))
    os.rmdir(os.path.join(d, "dir"))
    os.unlink(os.path.join(d, "renamed"))
    open(os.path.join(d, "zz-end"), "w").close()


def _tree_ops(d):
    with open(os.path.join(d, "a/b/file"), "w") as out:
        out.write("data")
    os.rename(os.path.join(d, "a/b/file"), os.path.join(d, "a/moved"))
    os.rename(os.path.join(d, "a/moved"), os.path.join(d, "c/moved"))
    os.chmod(os.path.join(d, "c/moved"), 0o600)
    os.unlink(os.path.join(d, "c/moved"))
    os.rmdir(os.path.join(d, "c/empty"))
    open(os.path.join(d, "zz-end"), "w").close()


def _stream(adapter, d, ops, keep_wd):
    gen = adapter.event_gen(yield_nones=False)
    ops(d)
    out = []
    for header, names, path, name in gen:
        cookie = bool(header.cookie)
        out.append(((header.wd if keep_wd else None), header.mask, cookie, header.len,
                    names, os.path.relpath(path, d), name))
        if name == "zz-end" and "IN_CLOSE_WRITE" in names:
            gen.close()
            return out


def test_same_stream_as_the_package_flat(tmp_path):
    real, _ = real_package()
    ours_d, theirs_d = str(tmp_path / "ours"), str(tmp_path / "theirs")
    os.mkdir(ours_d)
    os.mkdir(theirs_d)
    ours = inotify.adapters.Inotify(paths=[ours_d])
    theirs = real.Inotify(paths=[theirs_d])
    assert _stream(ours, ours_d, _flat_ops, True) == _stream(theirs, theirs_d, _flat_ops, True)


def test_same_stream_as_the_package_tree(tmp_path):
    real, _ = real_package()
    dirs = []
    for side in ("ours", "theirs"):
        d = str(tmp_path / side)
        os.makedirs(os.path.join(d, "a/b"))
        os.makedirs(os.path.join(d, "c/empty"))
        dirs.append(d)
    ours = inotify.adapters.InotifyTree(dirs[0])
    theirs = real.InotifyTree(dirs[1])
    a = _stream(ours, dirs[0], _tree_ops, True)
    b = _stream(theirs, dirs[1], _tree_ops, True)
    # the watch descriptors' numbers depend on the order each walks the
    # tree in: the same directory has the same one throughout, in both
    wds = [{}, {}]
    for stream, by_dir in zip((a, b), wds):
        for i, e in enumerate(stream):
            assert by_dir.setdefault(e[5], e[0]) == e[0], (e, by_dir)
            stream[i] = (None,) + e[1:]
    assert len(set(wds[0].values())) == len(wds[0])
    assert a == b


def test_the_package_misses_what_vigil_reports(tmp_path):
    """Where the package is wrong: everything under `mkdir -p a/b/c` made
    before it reads the first IN_CREATE."""
    real, _ = real_package()
    dirs = [str(tmp_path / "ours"), str(tmp_path / "theirs")]
    for d in dirs:
        os.mkdir(d)
    ours = inotify.adapters.InotifyTree(dirs[0], mask=C.IN_CREATE)
    theirs = real.InotifyTree(dirs[1], mask=C.IN_CREATE)
    got = []
    for adapter, d in zip((ours, theirs), dirs):
        os.makedirs(os.path.join(d, "a/b/c"))
        open(os.path.join(d, "a/b/c/f"), "w").close()
        paths = set()
        for e in adapter.event_gen(timeout_s=0.5):
            if e is not None and "IN_CREATE" in e[1]:
                paths.add(os.path.relpath(os.path.join(e[2], e[3]), d))
        got.append(paths)
    assert got[0] == {"a", "a/b", "a/b/c", "a/b/c/f"}
    assert got[1] < got[0]
    shutil.rmtree(dirs[1])
