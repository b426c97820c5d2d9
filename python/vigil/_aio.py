"""`async for ev in watcher`: a Watcher under asyncio.

The watcher's descriptor is handed to the running loop with add_reader();
nothing waits in a thread and nothing polls. When it is readable, every event
waiting is taken at once (Watcher.read(0)) and handed out one by one. A
rename half that waits for its partner has a deadline (Watcher.deadline()):
a timer on the loop takes it when it is due.
"""

import asyncio
import collections


class AsyncEvents:
    """The asynchronous iterator `async for` gets from a Watcher."""

    def __init__(self, watcher):
        self._watcher = watcher
        self._ready = collections.deque()

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._ready:
            return self._ready.popleft()
        w = self._watcher
        loop = asyncio.get_running_loop()
        while True:
            if w.closed:
                raise StopAsyncIteration
            events = w.read(0)
            if events:
                self._ready.extend(events)
                return self._ready.popleft()
            await self._readable(loop, w)

    @staticmethod
    async def _readable(loop, w):
        """Until W's descriptor is readable, its deadline has passed, or it
        is closed."""
        fut = loop.create_future()

        def wake():
            if not fut.done():
                fut.set_result(None)

        fd = w.fileno()
        loop.add_reader(fd, wake)
        due = w.deadline()
        timer = loop.call_later(due, wake) if due is not None else None
        # close() may come from another thread
        def closed():
            loop.call_soon_threadsafe(wake)

        w._closers.add(closed)
        try:
            await fut
        finally:
            w._closers.discard(closed)
            if timer is not None:
                timer.cancel()
            loop.remove_reader(fd)
