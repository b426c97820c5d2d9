"""Shared by the Python tests: each runs the real module (build/python, or
what PYTHONPATH names) in a fresh temporary directory, and waits for the
events it expects, never for a fixed time. A wait that never ends is cut
by a generous guard (GUARD_S) and fails saying what did come."""

import os
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import drivers  # noqa: E402

# Long enough for a loaded 2-core machine under the sanitizers; a test that
# gets there has failed (what it waited for never came).
GUARD_S = 120


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "alone: changes machine-wide settings (an inotify sysctl); "
        "run by the meson test python-alone, never beside other tests")


QUEUE = "/proc/sys/fs/inotify/max_queued_events"


@pytest.fixture(autouse=True)
def default_queue(request):
    """Wait, before a test, while another test lowers the machine's inotify
    queue (each takes it in turn, and puts it back at once): a watcher made
    meanwhile would keep a queue of 16 events. The tests marked alone
    lower it themselves, and run alone."""
    if request.node.get_closest_marker("alone"):
        return
    end = time.monotonic() + GUARD_S
    while True:
        try:
            with open(QUEUE) as f:
                if int(f.read()) >= 16384 or time.monotonic() > end:
                    return
        except (OSError, ValueError):
            return
        time.sleep(0.05)


@pytest.fixture
def root(tmp_path):
    """A fresh directory to watch (a real path, links resolved)."""
    d = tmp_path / "w"
    d.mkdir()
    return os.path.realpath(str(d))


@pytest.fixture(params=drivers.ALL, ids=lambda d: d.name)
def api(request):
    """Each of the three APIs in turn: vigil's own, vigil.inotify and
    vigil.pyinotify, behind one interface (drivers.py)."""
    return request.param


def python_with_watch_limit(limit, script, *args):
    """Run SCRIPT in this Python, in a user namespace of its own whose
    inotify watch limit is LIMIT (the rest of the machine keeps its own);
    the CompletedProcess. A skip where user namespaces are not allowed."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare")
    r = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c",
         'echo "$0" >/proc/sys/user/max_inotify_watches && exec "$@"',
         str(limit), sys.executable, "-c", script] + list(args),
        capture_output=True, text=True)
    if r.returncode != 0 and "unshare" in r.stderr:
        pytest.skip("no user namespaces here: %s" % r.stderr.strip())
    return r
