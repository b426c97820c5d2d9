#!/usr/bin/env python3
"""churn-check.py [--fanotify|--filesystem] ROOT VIEW [EVENTS]: check
vigil's view of a tree against the disk, after random changes
(tests/cli/churn.bats, bench/churn.sh).

ROOT is the watched directory, VIEW what `vigil wait -r --debug-watches`
printed on stderr at its exit (run in ROOT, watching "."), EVENTS what it
printed on stdout with `--json` (without --pair-moves), or nothing. VIEW
"-" leaves the watches out, and EVENTS in the form "lines:FILE" is
another watcher's, a line per event as `inotifywait --format
'%e<TAB>%c<TAB>%w%f'` prints them (bench/churn.sh --watcher).

1. The watches: every directory on disk is watched, under the path vigil
   has for it, and the kernel's watch there (the "kernel WD INODE" lines,
   read at the same moment as vigil's) is on that very inode; no other
   watch is held.
2. With EVENTS: replaying the events as a reader would (a create or a
   move in adds a path, a delete or a move out removes it and what is below
   it, the two halves of a rename, paired by cookie, move it), every file
   and directory on disk is known under its final path (none missing), and
   every path the reader knows of is on disk (none stale). Across an
   overflow too: vigil's re-scan reports what appeared and vanished in the
   gap (synthetic creates and deletes), as far as names go. With
   --no-overflow-replay (for a watcher that does not), events are not
   checked after an overflow. With --stale-not-fatal, stale paths are
   counted and said, and fail nothing (churn.bats's slow writers on six
   names, where shapes remain, about one run in 30).

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


class Node:
    """A path a reader knows of, and what it knows below it."""
    __slots__ = ("known", "below")

    def __init__(self):
        self.known = False
        self.below = {}


def replay(events_path, overflows, past_overflow):
    """The paths a reader following the events knows of, or None after an
    overflow unless PAST_OVERFLOW (OVERFLOWS[0] counts them). A create adds its path (and keeps what the reader knew below
    it: a create never replaces anything), a delete removes it and what is
    below, a move out takes it and what is below away under its cookie, the
    move in with that cookie puts that at the new path, and a lone move in
    puts its path alone there (both replace what was there: a rename over
    a file or an empty directory says nothing of the one it replaced). Kept
    as a tree, so that each event costs its depth."""
    top = Node()
    out = {}  # cookie -> the subtree a MOVED_FROM took away

    def walk(path, make):
        node = top
        for part in path.split("/"):
            nxt = node.below.get(part)
            if nxt is None:
                if not make:
                    return None, None
                nxt = node.below[part] = Node()
            parent, node = node, nxt
        return parent, node

    def take(path):
        parent, node = walk(path, False)
        if node is None:
            return None
        name = path.rsplit("/", 1)[-1]
        del parent.below[name]
        return node

    lines = events_path.startswith("lines:")
    if lines:
        events_path = events_path[len("lines:"):]
    with open(events_path, "rb") as f:
        for raw in f:
            if lines:
                parts = raw.decode("utf-8", "surrogateescape").rstrip("\n").split("\t", 2)
                if len(parts) != 3:
                    continue  # not an event
                ev = {"events": parts[0].split(","), "path": parts[2],
                      "cookie": int(parts[1], 16) if parts[1] not in ("", "0") else 0}
            else:
                ev = json.loads(raw.decode("utf-8", "surrogateescape"))
            kinds = set(ev["events"])
            path = ev["path"].rstrip("/")
            if "Q_OVERFLOW" in kinds:
                overflows[0] += 1
                if not past_overflow:
                    return None
                continue
            if path == "." or not path.startswith("./"):
                continue  # the root's own
            if "MOVED_FROM" in kinds:
                gone = take(path)
                if gone is not None and ev.get("cookie"):
                    out[ev["cookie"]] = gone
            elif "MOVED_TO" in kinds:
                # what is at the path now is what moved there (a rename
                # replaces its target, with no event of its own)
                moved = out.pop(ev.get("cookie"), None) or Node()
                moved.known = True
                parent, _ = walk(path, True)
                parent.below[path.rsplit("/", 1)[-1]] = moved
            elif "DELETE" in kinds:
                take(path)
            elif "CREATE" in kinds:
                walk(path, True)[1].known = True

    known = set()
    stack = [("", top)]
    while stack:
        prefix, node = stack.pop()
        for name, sub in node.below.items():
            p = prefix + "/" + name if prefix else name
            if sub.known:
                known.add(p)
            stack.append((p, sub))
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
    past_overflow = "--no-overflow-replay" not in sys.argv
    if not past_overflow:
        sys.argv.remove("--no-overflow-replay")
    stale_fatal = "--stale-not-fatal" not in sys.argv
    if not stale_fatal:
        sys.argv.remove("--stale-not-fatal")
    mode = None
    if len(sys.argv) > 1 and sys.argv[1] in ("--fanotify", "--filesystem"):
        mode = sys.argv.pop(1)
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.split("\n\n")[0])
    root, view_path = sys.argv[1], sys.argv[2]
    dirs, files = disk_entries(root)
    view, kernel = read_view(view_path) if view_path != "-" else ({}, {})
    problems = []
    if mode:
        check_fanotify(view, dirs, mode == "--fanotify", problems)
    elif view_path != "-":
        check_watches(root, view, kernel, dirs, problems)
    missed = stale = 0
    known = None
    if len(sys.argv) == 4:
        overflows = [0]
        known = replay(sys.argv[3], overflows, past_overflow)
        if known is not None:
            there = set(dirs) | files
            for p in sorted(there - known, key=len):
                if p != ".":
                    missed += 1
                    problems.append("%r exists, and no event said so under that path" % p)
            for p in sorted(known - there, key=len):
                stale += 1
                if stale_fatal:
                    problems.append("%r was reported, and there is no such path" % p)
                elif stale <= 3:
                    print("churn-check: (not fatal) %r was reported, and there is no such path" % p)
    summary = "%d directories, %d files" % (len(dirs), len(files))
    if view_path != "-":
        summary += "; %d watches (kernel %d)" % (len(view), len(kernel))
    if known is None and len(sys.argv) == 4:
        summary += "; an overflow: events not checked"
    elif known is not None:
        summary += "; %d missing, %d stale" % (missed, stale)
        if overflows[0]:
            summary += " (across %d overflows)" % overflows[0]
    if problems:
        print("churn-check: %s; %d problems:" % (summary, len(problems)))
        for p in problems[:12]:
            print("  " + p)
        if len(problems) > 12:
            print("  ...")
        sys.exit(1)
    print("churn-check: ok: " + summary)


main()
