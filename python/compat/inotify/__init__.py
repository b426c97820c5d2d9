"""vigil's drop-in for the inotify package, installed under its name by
-Dpython_compat_names=true, for programs that cannot be edited: `import
inotify.adapters` gets vigil.inotify.adapters (see its docstring)."""

import sys

import vigil.inotify
from vigil.inotify import adapters, calls, constants

# one module object each, whichever name imports it first
for _name, _module in (("adapters", adapters), ("calls", calls), ("constants", constants)):
    sys.modules[__name__ + "." + _name] = _module
sys.modules[__name__] = vigil.inotify
