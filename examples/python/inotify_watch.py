#!/usr/bin/env python3
"""The inotify package's first example, on vigil: print every event in a
directory (default /tmp), one line each. The only line that changed is the
import (it was `import inotify.adapters`).

    python3 inotify_watch.py DIR
"""
import sys

import vigil.inotify as inotify


def _main():
    i = inotify.adapters.Inotify()

    i.add_watch(sys.argv[1] if len(sys.argv) > 1 else '/tmp')

    for event in i.event_gen(yield_nones=False):
        (_, type_names, path, filename) = event

        print("PATH=[{}] FILENAME=[{}] EVENT_TYPES={}".format(
              path, filename, type_names))


if __name__ == '__main__':
    try:
        _main()
    except KeyboardInterrupt:
        pass
