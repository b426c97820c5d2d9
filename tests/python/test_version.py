"""The version, said three ways: `vigil --version`, the shared library's
vigil_version() and vigil.__version__ are one string, with the commit in a
build from a git checkout (issue 23)."""
import ctypes
import os
import re
import shutil
import subprocess

import pytest

import vigil

BUILD = os.environ["VIGIL_BUILD_ROOT"]
SOURCE = os.environ["VIGIL_SOURCE_ROOT"]


def release():
    """meson.build's project version."""
    with open(os.path.join(SOURCE, "meson.build"), encoding="utf-8") as f:
        return re.search(r"version : '([^']+)'", f.read()).group(1)


def cli_version():
    # not with the sanitizer runtime the san stage preloads into Python
    # (the command has its own linked in; two are refused)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = subprocess.run([os.path.join(BUILD, "vigil"), "--version"], env=env,
                         check=True, capture_output=True, text=True).stdout
    assert out.startswith("vigil ") and out.endswith("\n"), out
    return out[len("vigil "):-1]


def lib_version():
    lib = ctypes.CDLL(os.path.join(BUILD, "libvigil.so"))
    lib.vigil_version.restype = ctypes.c_char_p
    lib.vigil_version.argtypes = []
    return lib.vigil_version().decode()


def test_the_three_versions_agree():
    assert cli_version() == lib_version() == vigil.__version__


def test_the_version_is_the_release_and_maybe_a_commit():
    v = vigil.__version__
    assert v == release() or re.fullmatch(
        re.escape(release()) + r"\+g[0-9a-f]{12}(\.dirty)?", v), v


def test_a_build_from_git_says_the_commit():
    if shutil.which("git") is None:
        if not os.path.exists(os.path.join(SOURCE, ".git")):
            # a tarball on a machine without git: the release alone
            assert vigil.__version__ == release()
            return
        pytest.skip("git is not installed: the commit cannot be checked here")
    git = subprocess.run(["git", "-C", SOURCE, "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True)
    if git.returncode != 0 or os.path.realpath(git.stdout.strip()) != os.path.realpath(SOURCE):
        # a tarball (meson dist): the release alone
        assert vigil.__version__ == release()
        return
    head = subprocess.run(["git", "-C", SOURCE, "rev-parse", "--short=12", "HEAD"],
                          check=True, capture_output=True, text=True).stdout.strip()
    assert vigil.__version__.startswith(release() + "+g" + head), vigil.__version__
