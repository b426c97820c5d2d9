"""Installing the package: `pip install .` offline (meson-python, no build
isolation), and the top-level inotify and pyinotify names only when asked
for (-Dpython_compat_names=true), so that a real install is never shadowed.

The pip build compiles the engine again: it runs in the normal stage only
(the sanitizer stage's build is not what pip builds)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

SRC = os.environ.get("VIGIL_SOURCE_ROOT",
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("VIGIL_BUILD_ROOT")


def test_default_install_shadows_nothing():
    if not BUILD:
        pytest.skip("VIGIL_BUILD_ROOT is not set (meson test sets it)")
    # meson itself is not under test: not under the sanitizers' runtime
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run(["meson", "introspect", "--installed", BUILD], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0, r.stderr
    installed = list(json.loads(r.stdout).values())
    mine = [p for p in installed if "/vigil/" in p]
    assert any(p.endswith("/vigil/pyinotify.py") for p in mine)
    assert any(p.endswith("/vigil/inotify/adapters.py") for p in mine)
    shadowing = [p for p in installed
                 if p.endswith("/pyinotify.py") and "/vigil/" not in p
                 or "/inotify/" in p and "/vigil/inotify/" not in p]
    assert shadowing == []


def test_pip_install_offline_with_compat_names(tmp_path):
    if os.environ.get("VIGIL_SANITIZE"):
        pytest.skip("pip builds without the sanitizers: the normal stage runs this")
    try:
        import mesonpy  # noqa: F401 (only whether it is there)
    except ImportError:
        pytest.skip("meson-python is not installed (Debian: python3-mesonpy)")
    # a copy of the tree, as pip's in-tree build writes into it
    src = tmp_path / "src"
    shutil.copytree(SRC, src, ignore=shutil.ignore_patterns("build", "build-*", ".git",
                                                            ".mesonpy-*", "__pycache__"))
    env = tmp_path / "env"
    r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env)],
                       capture_output=True, text=True)
    if r.returncode != 0 and "ensurepip" in r.stdout + r.stderr:
        pytest.skip("no venv with pip here (Debian: python3-venv)")
    assert r.returncode == 0, r.stdout + r.stderr
    py = str(env / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                        "--no-deps", "--config-settings=setup-args=-Dpython_compat_names=true",
                        str(src)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    probe = ("import os, sys, vigil, vigil.pyinotify, pyinotify, inotify.adapters\n"
             "assert vigil.__file__.startswith(sys.prefix), vigil.__file__\n"
             "assert pyinotify is vigil.pyinotify\n"
             "assert inotify.adapters is vigil.inotify.adapters\n"
             "import inotify.constants, inotify.calls\n"
             "assert inotify.constants is vigil.inotify.constants\n"
             "w = vigil.Watcher(sys.argv[1], events='create')\n"
             "open(os.path.join(sys.argv[1], 'f'), 'w').close()\n"
             "print(w.next(60).name)\n")
    d = tmp_path / "w"
    d.mkdir()
    # the installed package, not the one in the build tree
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([py, "-c", probe, str(d)], capture_output=True, text=True,
                       cwd=str(tmp_path), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "f\n"
