"""bench/python_watch.py: one Python watcher, for bench/python.sh.

    python3 bench/python_watch.py TOOL MODE DIR

Watches DIR recursively through TOOL, says "Watches established." on
stderr once it does, and handles events as a program would, through the
tool's own API, until SIGTERM. Then, with MODE "count", it prints one line:

    EVENTS CPU_US

the events it was handed and the CPU time (user + system, every thread)
it spent from the moment it was ready; with MODE "paths", it prints the
path of each IN_CREATE (or watchdog's created event) as it comes, one a
line, and nothing at the end.

TOOL: vigil (its own API: `for ev in watcher`), vigil.inotify,
vigil.pyinotify (the drop-ins, as the originals are used), inotify (the
inotify package), pyinotify, watchdog.
"""

import os
import resource
import signal
import sys


def cpu_us():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return int((r.ru_utime + r.ru_stime) * 1e6)


def main():
    tool, mode, top = sys.argv[1:4]
    paths = mode == "paths"
    count = [0]
    start = [0]

    def done(signum, frame):
        if not paths:
            sys.stdout.write("%d %d\n" % (count[0], cpu_us() - start[0]))
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, done)

    def ready():
        start[0] = cpu_us()
        sys.stderr.write("Watches established.\n")
        sys.stderr.flush()

    out = sys.stdout

    if tool == "vigil":
        import vigil
        w = vigil.Watcher(top, recursive=True,
                          events=vigil.IN_CREATE if paths else vigil.IN_ALL_EVENTS)
        ready()
        if paths:
            for ev in w:
                out.write(ev.path + "\n")
                out.flush()
        for ev in w:
            count[0] += 1

    elif tool in ("vigil.inotify", "inotify"):
        if tool == "inotify":
            import inotify.adapters as adapters
            import inotify.constants as constants
        else:
            import vigil.inotify as inotify
            adapters, constants = inotify.adapters, inotify.constants
        tree = adapters.InotifyTree(top, mask=constants.IN_CREATE if paths
                                    else constants.IN_ALL_EVENTS)
        ready()
        for event in tree.event_gen(yield_nones=False):
            (header, type_names, path, filename) = event
            if paths:
                if "IN_CREATE" in type_names:
                    out.write(os.path.join(path, filename) + "\n")
                    out.flush()
            else:
                count[0] += 1

    elif tool in ("vigil.pyinotify", "pyinotify"):
        if tool == "pyinotify":
            import warnings
            warnings.simplefilter("ignore", DeprecationWarning)
            import pyinotify
        else:
            import vigil.pyinotify as pyinotify

        class Handler(pyinotify.ProcessEvent):
            def process_IN_CREATE(self, event):
                if paths:
                    # as watched (pathname is made absolute)
                    out.write(os.path.join(event.path, event.name) + "\n")
                    out.flush()
                else:
                    count[0] += 1

            def process_default(self, event):
                count[0] += 1

        wm = pyinotify.WatchManager()
        notifier = pyinotify.Notifier(wm, Handler())
        wm.add_watch(top, pyinotify.IN_CREATE if paths else pyinotify.ALL_EVENTS,
                     rec=True, auto_add=True)
        ready()
        notifier.loop()

    elif tool == "watchdog":
        import time
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers.inotify import InotifyObserver

        class Handler(FileSystemEventHandler):
            def on_created(self, event):
                if paths:
                    out.write(event.src_path + "\n")
                    out.flush()
                else:
                    count[0] += 1

            def on_any_event(self, event):
                if not paths and event.event_type != "created":
                    count[0] += 1

        observer = InotifyObserver()
        observer.schedule(Handler(), top, recursive=True)
        observer.start()
        ready()
        while True:
            time.sleep(3600)

    else:
        sys.exit("python_watch.py: '%s' is not a tool (vigil, vigil.inotify, "
                 "vigil.pyinotify, inotify, pyinotify, watchdog)" % tool)


if __name__ == "__main__":
    main()
