"""vigil's drop-in for pyinotify, installed under its name by
-Dpython_compat_names=true, for programs that cannot be edited: `import
pyinotify` gets vigil.pyinotify (see its docstring)."""

import sys

import vigil.pyinotify

sys.modules[__name__] = vigil.pyinotify
