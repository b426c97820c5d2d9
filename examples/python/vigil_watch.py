#!/usr/bin/env python3
"""vigil's own API: print each complete file in a tree as it arrives
(written and closed, or moved in), with names in any encoding.

    python3 vigil_watch.py DIR
"""
import sys

import vigil


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    with vigil.Watcher(top, recursive=True, events="close_write,moved_to") as w:
        for ev in w:
            if ev.error is not None:
                print("vigil_watch.py: %s" % ev.error, file=sys.stderr)
            elif not ev.is_dir:
                # a name that is not UTF-8 prints as its bytes were
                sys.stdout.buffer.write(b"ready: %s\n" % ev.path.encode(errors="surrogateescape"))
                sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
