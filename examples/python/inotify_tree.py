#!/usr/bin/env python3
"""The inotify package's recursive example, on vigil: every event in a
tree, new directories included (the package misses what is made in a new
directory before it reads its creation; vigil does not). The only line that
changed is the import (it was `import inotify.adapters`).

    python3 inotify_tree.py DIR
"""
import sys

import vigil.inotify as inotify


def _main():
    i = inotify.adapters.InotifyTree(sys.argv[1] if len(sys.argv) > 1 else '/tmp')

    for event in i.event_gen():
        if event is None:
            continue
        (_, type_names, path, filename) = event
        print("PATH=[{}] FILENAME=[{}] EVENT_TYPES={}".format(
              path, filename, type_names), flush=True)


if __name__ == '__main__':
    try:
        _main()
    except KeyboardInterrupt:
        pass
