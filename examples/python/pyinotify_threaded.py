#!/usr/bin/env python3
"""A pyinotify tutorial's ThreadedNotifier, on vigil: the events are
handled in a thread of the notifier's own while the main thread goes on
(here, it waits for a line on stdin, then stops). The only line that
changed is the import (it was `import pyinotify`).

    python3 pyinotify_threaded.py DIR
"""
import sys

import vigil.pyinotify as pyinotify

wm = pyinotify.WatchManager()
mask = pyinotify.IN_DELETE | pyinotify.IN_CREATE


class EventHandler(pyinotify.ProcessEvent):
    def process_IN_CREATE(self, event):
        print("Creating:", event.pathname, flush=True)

    def process_IN_DELETE(self, event):
        print("Removing:", event.pathname, flush=True)


notifier = pyinotify.ThreadedNotifier(wm, EventHandler())
notifier.start()

wdd = wm.add_watch(sys.argv[1] if len(sys.argv) > 1 else '/tmp', mask,
                   rec=True, auto_add=True)

sys.stdin.readline()  # the main thread's own work would go here

wm.rm_watch(wdd.values())
notifier.stop()
print("Stopped.", flush=True)
