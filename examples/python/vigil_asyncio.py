#!/usr/bin/env python3
"""vigil's own API under asyncio: one task prints the changes in a tree as
they come while another reports, every 10 seconds, how many there were; no
thread: the loop waits on the watcher's descriptor. Stops once a file named
"stop" appears.

    python3 vigil_asyncio.py DIR
"""
import asyncio
import sys

import vigil


async def watch(top, count):
    with vigil.Watcher(top, recursive=True, events="create,delete,move",
                       pair_moves=True) as w:
        async for ev in w:
            count[0] += 1
            if ev.from_path is not None:
                print("moved:", ev.from_path, "->", ev.path, flush=True)
            else:
                print(ev.names[0][3:].lower() + ":", ev.path, flush=True)
            if ev.name == "stop":
                return


async def heartbeat(count):
    while True:
        await asyncio.sleep(10)
        print("(%d changes so far)" % count[0], flush=True)


async def main(top):
    count = [0]
    beat = asyncio.ensure_future(heartbeat(count))
    await watch(top, count)
    beat.cancel()
    print("%d changes" % count[0], flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "."))
