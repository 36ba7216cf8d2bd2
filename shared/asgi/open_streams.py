"""The streams of one app not closed yet, so that its shutdown can wait for them."""

from __future__ import annotations

import asyncio

import anyio

from shared.bodies import Body


class OpenStreams:
    """Every `Body` a response has taken over and not closed yet.

    Past its graceful timeout a server cancels the responses still running and goes straight on
    to the lifespan's shutdown (uvicorn/server.py `shutdown`, hypercorn's `graceful_timeout`)
    while their shielded `aclose()` may still be giving a connection back: disposing the pool
    then, and ending the event loop, would cut that short and leave SQLAlchemy to collect a
    checked-out connection.
    """

    def __init__(self) -> None:
        self._streams: dict[Body, asyncio.Task[object] | None] = {}
        self._all_closed = anyio.Event()
        self._all_closed.set()

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, stream: Body) -> None:
        """Called in the request's task, which then sends the stream and closes it."""
        if not self._streams:
            self._all_closed = anyio.Event()
        self._streams[stream] = asyncio.current_task()

    def discard(self, stream: Body) -> None:
        self._streams.pop(stream, None)
        if not self._streams:
            self._all_closed.set()

    def cancel_all(self) -> int:
        """Cancel the requests still sending a stream; their shielded close still runs."""
        tasks = [task for task in self._streams.values() if task is not None and not task.done()]
        for task in tasks:
            task.cancel()
        return len(tasks)

    async def wait_closed(self, patience: float) -> None:
        with anyio.move_on_after(patience):
            await self._all_closed.wait()
