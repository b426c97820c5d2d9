#!/usr/bin/env python3
"""A pyinotify tutorial's handler, on vigil: report files created, deleted
and written in a tree, new directories included (rec=True, auto_add=True).
The only line that changed is the import (it was `import pyinotify`).
Stop it with Ctrl-C.

    python3 pyinotify_handler.py DIR
"""
import sys

import vigil.pyinotify as pyinotify

wm = pyinotify.WatchManager()
mask = pyinotify.IN_CREATE | pyinotify.IN_DELETE | pyinotify.IN_CLOSE_WRITE


class EventHandler(pyinotify.ProcessEvent):
    def process_IN_CREATE(self, event):
        print("Creating:", event.pathname)

    def process_IN_DELETE(self, event):
        print("Removing:", event.pathname)

    def process_IN_CLOSE_WRITE(self, event):
        kind = "directory" if event.is_dir else "file"  # the guides' name for event.dir
        print("Written:", event.pathname, "(%s)" % kind)


handler = EventHandler()
notifier = pyinotify.Notifier(wm, handler)
wdd = wm.add_watch(sys.argv[1] if len(sys.argv) > 1 else '/tmp', mask,
                   rec=True, auto_add=True)

notifier.loop()
