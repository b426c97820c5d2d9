"""The programs in examples/python/, each run as it is against real file
changes, and what it printed checked. A program is known to be watching
once its inotify instance holds the watches expected (/proc/PID/fdinfo),
not after a pause."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

import drivers

EXAMPLES = os.path.join(os.environ.get("VIGIL_SOURCE_ROOT",
                                       os.path.join(os.path.dirname(__file__), "..", "..")),
                        "examples", "python")
G = drivers.GUARD_S


def inotify_watches(pid):
    """How many inotify watches process PID holds."""
    n = 0
    fd_dir = "/proc/%d/fdinfo" % pid
    try:
        for fd in os.listdir(fd_dir):
            try:
                with open(os.path.join(fd_dir, fd)) as f:
                    n += sum(line.startswith("inotify wd:") for line in f)
            except OSError:
                pass  # closed meanwhile
    except OSError:
        pass
    return n


class Running:
    """An example running on DIR, its output read line by line."""

    def __init__(self, name, top, watches=1, stdin=subprocess.DEVNULL):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, name), top],
                                     stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.lines = []
        self._q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        end = time.monotonic() + G
        while inotify_watches(self.proc.pid) < watches:
            assert self.proc.poll() is None, "%s exited: %s" % (name, self.proc.stderr.read())
            assert time.monotonic() < end, "%s set no watches in %ds" % (name, G)
            time.sleep(0.01)

    def _read(self):
        for line in self.proc.stdout:
            self._q.put(line)
        self._q.put(None)

    def expect(self, *want):
        """Wait until each line of WANT has been printed; then all printed."""
        end = time.monotonic() + G
        while not all(w.encode() in self.lines for w in want):
            try:
                line = self._q.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                line = None
            assert line is not None, "still waiting for %r; printed: %r" % (
                [w for w in want if w.encode() not in self.lines], self.lines)
            self.lines.append(line.rstrip(b"\n"))
        return self.lines

    def stop(self, sig=signal.SIGINT):
        if sig is not None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(G)
        err = self.proc.stderr.read().decode(errors="replace")
        assert rc == 0, "exit status %d; stderr: %s" % (rc, err)
        return err


def test_inotify_watch(root):
    ex = Running("inotify_watch.py", root)
    open(os.path.join(root, "test_file"), "w").close()
    os.unlink(os.path.join(root, "test_file"))
    lines = ex.expect("PATH=[%s] FILENAME=[test_file] EVENT_TYPES=['IN_DELETE']" % root)
    assert lines == [("PATH=[%s] FILENAME=[test_file] EVENT_TYPES=[%s]" % (root, t)).encode()
                     for t in ("'IN_CREATE'", "'IN_OPEN'", "'IN_CLOSE_WRITE'", "'IN_DELETE'")]
    ex.stop()


def test_inotify_tree(root):
    ex = Running("inotify_tree.py", root)
    os.makedirs(os.path.join(root, "a/b/c"))
    open(os.path.join(root, "a/b/c/f"), "w").close()
    ex.expect(*["PATH=[%s] FILENAME=[%s] EVENT_TYPES=[%s]" % (os.path.join(root, d) if d else
                                                              root, n, t)
                for d, n, t in (("", "a", "'IN_CREATE', 'IN_ISDIR'"),
                                ("a", "b", "'IN_CREATE', 'IN_ISDIR'"),
                                ("a/b", "c", "'IN_CREATE', 'IN_ISDIR'"),
                                ("a/b/c", "f", "'IN_CREATE'"))])
    ex.stop()


def test_pyinotify_handler(root):
    os.mkdir(os.path.join(root, "old"))
    ex = Running("pyinotify_handler.py", root, watches=2)
    os.makedirs(os.path.join(root, "new/deep"))
    with open(os.path.join(root, "new/deep/f"), "w") as f:
        f.write("x")
    ex.expect("Creating: %s/new/deep/f" % root)
    os.unlink(os.path.join(root, "new/deep/f"))
    open(os.path.join(root, "old/g"), "w").close()
    lines = ex.expect("Removing: %s/new/deep/f" % root, "Written: %s/old/g (file)" % root)
    got = [line.decode() for line in lines]
    # new/deep/f is found by the listing of new/deep (then its write is
    # not seen) or by the kernel: either way once
    written = "Written: %s/new/deep/f (file)" % root
    assert [line for line in got if line != written] == [
        "Creating: %s/new" % root, "Creating: %s/new/deep" % root,
        "Creating: %s/new/deep/f" % root, "Removing: %s/new/deep/f" % root,
        "Creating: %s/old/g" % root, "Written: %s/old/g (file)" % root]
    ex.stop()


def test_pyinotify_threaded(root):
    ex = Running("pyinotify_threaded.py", root, stdin=subprocess.PIPE)
    os.mkdir(os.path.join(root, "d"))
    open(os.path.join(root, "d/f"), "w").close()
    ex.expect("Creating: %s/d" % root, "Creating: %s/d/f" % root)
    os.unlink(os.path.join(root, "d/f"))
    ex.expect("Removing: %s/d/f" % root)
    ex.proc.stdin.close()  # the main thread's readline() returns
    ex.expect("Stopped.")
    ex.stop(sig=None)


def test_vigil_watch(root):
    ex = Running("vigil_watch.py", root)
    os.mkdir(os.path.join(root, "in"))
    with open(os.path.join(root, "in", "photo.jpg"), "w") as f:
        f.write("x")
    outside = os.path.join(os.path.dirname(root), b"caf\xe9".decode(errors="surrogateescape"))
    open(outside, "w").close()
    os.rename(outside, os.path.join(root, "in", os.path.basename(outside)))
    lines = ex.expect("ready: %s/in/photo.jpg" % root)
    end = time.monotonic() + G
    want = b"ready: " + os.fsencode(root) + b"/in/caf\xe9"
    while want not in lines:
        assert time.monotonic() < end, lines
        line = ex._q.get(timeout=G)
        lines.append(line.rstrip(b"\n"))
    ex.stop()


def test_vigil_asyncio(root):
    ex = Running("vigil_asyncio.py", root)
    open(os.path.join(root, "a"), "w").close()
    os.rename(os.path.join(root, "a"), os.path.join(root, "b"))
    os.unlink(os.path.join(root, "b"))
    open(os.path.join(root, "stop"), "w").close()
    lines = ex.expect("4 changes")
    assert [line.decode() for line in lines if not line.startswith(b"(")] == [
        "create: %s/a" % root, "moved: %s/a -> %s/b" % (root, root),
        "delete: %s/b" % root, "create: %s/stop" % root, "4 changes"]
    ex.stop(sig=None)


@pytest.mark.parametrize("name", sorted(os.listdir(EXAMPLES)) if os.path.isdir(EXAMPLES) else [])
def test_each_example_is_tested(name):
    assert "test_" + name[:-3] in globals(), "examples/python/%s has no test" % name
