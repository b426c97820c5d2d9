#!/usr/bin/env python3
"""churn-check.py [--fanotify|--filesystem] ROOT VIEW [EVENTS]: check
vigil's view of a tree against the disk, after random changes
(tests/cli/churn.bats, bench/churn.sh).

ROOT is the watched directory, VIEW what `vigil wait -r --debug-watches`
printed on stderr at its exit (run in ROOT, watching "."), EVENTS what it
printed on stdout with `--json` (without --pair-moves), or nothing.

1. The watches: every directory on disk is watched, under the path vigil
   has for it, and the kernel's watch there (the "kernel WD INODE" lines,
   read at the same moment as vigil's) is on that very inode; no other
   watch is held.
2. With EVENTS: replaying the events as a reader would (a create or a
   move in adds a path, a delete or a move out removes it and what is below
   it, the two halves of a rename, paired by cookie, move it), every file
   and directory on disk is known under its final path: nothing that exists
   at the end was missed. Not after an overflow, which loses events by
   definition (vigil re-scans and watches again; 1 still holds).

With --fanotify (vigil wait -F: a fanotify mark per directory, which the
kernel lists by inode, not by vigil's ids), 1 is checked as far as vigil's
own view goes: every directory on disk watched under its path, and every
watch on a directory that is at that path. With --filesystem (vigil wait
-S: one mark for the filesystem, directories learnt as events name them),
only that every directory vigil knows is at the path it has for it.

Prints what diverged (a few of each) and exits 1, or prints a summary and
exits 0."""
import json
import os
import sys


def disk_entries(root):
    dirs, files = {}, set()
    for top, subdirs, names in os.walk(root, followlinks=False):
        rel = os.path.relpath(top, root)
        rel = "." if rel == "." else "./" + rel
        dirs[rel] = os.lstat(top).st_ino
        for n in names:
            files.add(rel + "/" + n)
    return dirs, files


def read_view(path):
    view, kernel = {}, {}
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
            if line.startswith("kernel "):
                _, wd, ino = line.split()
                kernel[int(wd, 16)] = int(ino, 16)
            elif line[:1].isdigit():
                wd, p = line.split(" ", 1)
                view[int(wd)] = p.rstrip("/") if p != "./" else "."
            else:
                pass  # a message: not part of either view
    return view, kernel


def check_watches(root, view, kernel, dirs, problems):
    paths = {}
    for wd, p in view.items():
        paths[p] = wd
        ino = kernel.get(wd)
        if ino is None:
            problems.append("vigil has watch %d at %r, the kernel has no such watch" % (wd, p))
        elif dirs.get(p) != ino:
            problems.append("vigil has watch %d at %r, the kernel's is on another inode" % (wd, p))
    for wd in kernel:
        if wd not in view:
            problems.append("the kernel holds watch %d, vigil does not know it" % wd)
    for p in sorted(dirs, key=len):
        if p not in paths:
            problems.append("directory %r is not watched where vigil believes" % p)


def replay(events_path, problems):
    """The paths a reader following the events knows of, or None after an
    overflow."""
    known = set()
    out = {}  # cookie -> what a MOVED_FROM took away, relative to it

    def below(p):
        return [k for k in known if k == p or k.startswith(p + "/")]

    with open(events_path, "rb") as f:
        for raw in f:
            ev = json.loads(raw.decode("utf-8"))
            kinds = set(ev["events"])
            path = ev["path"].rstrip("/")
            if "Q_OVERFLOW" in kinds:
                return None
            if "MOVED_FROM" in kinds:
                gone = below(path)
                for k in gone:
                    known.discard(k)
                out[ev["cookie"]] = [k[len(path):] for k in gone]
            elif "MOVED_TO" in kinds:
                moved = out.pop(ev["cookie"], None)
                if moved:
                    known.update(path + k for k in moved)
                known.add(path)
            elif "DELETE" in kinds:
                for k in below(path):
                    known.discard(k)
            elif kinds & {"CREATE", "CLOSE_WRITE"}:
                known.add(path)
    return known


def check_fanotify(view, dirs, every, problems):
    """vigil's view alone: each watch on a directory at that path, and
    (EVERY) each directory watched."""
    paths = set(view.values())
    for wd, p in view.items():
        if p not in dirs:
            problems.append("vigil has watch %d at %r, where there is no directory" % (wd, p))
    if every:
        for p in sorted(dirs, key=len):
            if p not in paths:
                problems.append("directory %r is not watched where vigil believes" % p)


def main():
    mode = None
    if len(sys.argv) > 1 and sys.argv[1] in ("--fanotify", "--filesystem"):
        mode = sys.argv.pop(1)
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.split("\n\n")[0])
    root, view_path = sys.argv[1], sys.argv[2]
    dirs, files = disk_entries(root)
    view, kernel = read_view(view_path)
    problems = []
    if mode:
        check_fanotify(view, dirs, mode == "--fanotify", problems)
    else:
        check_watches(root, view, kernel, dirs, problems)
    missed = 0
    known = None
    if len(sys.argv) == 4:
        known = replay(sys.argv[3], problems)
        if known is not None:
            for p in sorted(set(dirs) | files, key=len):
                if p != "." and p not in known:
                    missed += 1
                    problems.append("%r exists, and no event said so under that path" % p)
    summary = "%d directories, %d files; %d watches (kernel %d)" % (
        len(dirs), len(files), len(view), len(kernel))
    if known is None and len(sys.argv) == 4:
        summary += "; an overflow: events not checked"
    if problems:
        print("churn-check: %s; %d problems:" % (summary, len(problems)))
        for p in problems[:12]:
            print("  " + p)
        if len(problems) > 12:
            print("  ...")
        sys.exit(1)
    print("churn-check: ok: " + summary)


main()
