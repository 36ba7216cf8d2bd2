"""A COPY's output handed from the task that reads it to the response, chunk by chunk.

A driver hands a `COPY ... TO STDOUT`'s output over in small pieces (asyncpg's of about 8 KB,
psycopg's a row each). The task running the COPY gathers them into chunks of about
`CHUNK_SIZE` bytes (a client pays per chunk, so fewer, larger chunks move faster), except the
first, a chunk of its own so that the first byte leaves at once. The reader is woken once per
chunk, never per piece. When `CHUNKS_AHEAD` chunks wait unread (a slow client), the task waits
for the reader before it reads on: the driver stops reading the socket and PostgreSQL waits on
its own send.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from .failures import StreamFailed
from .pooling import describe

__all__ = ["CHUNKS_AHEAD", "CHUNK_SIZE", "ChunkGatherer"]

CHUNK_SIZE = 64 * 1024
# Chunks gathered and not yet taken by the reader when the COPY stops to wait for it: a stream
# holds these and the one being gathered (each under `chunk_size` plus one piece), no more.
CHUNKS_AHEAD = 2


class ChunkGatherer:
    """Chunks between the COPY's task (`hand_over`, then `finish` or `fail`) and the reader
    (`first`, then `chunks`). The task gathers a chunk until it holds `wanted` bytes."""

    def __init__(self, chunk_size: int = CHUNK_SIZE) -> None:
        self._chunk_size = chunk_size
        self.wanted = 1  # 1 byte: the first piece is a chunk of its own
        self._ready: deque[bytes] = deque()
        self._reader: asyncio.Future[None] | None = None  # the reader waiting for a chunk
        self._writer: asyncio.Future[None] | None = None  # the COPY waiting for room
        self._failure: Exception | None = None
        self._finished = False
        self._stopping = False

    async def hand_over(self, chunk: bytes) -> bool:
        """Queue a gathered chunk for the reader, then wait while `CHUNKS_AHEAD` chunks are
        unread; whether to read on (False once `stop()` was called)."""
        self._ready.append(chunk)
        self.wanted = self._chunk_size
        _wake(self._reader)
        while len(self._ready) >= CHUNKS_AHEAD and not self._stopping:
            self._writer = asyncio.get_running_loop().create_future()
            await self._writer
        return not self._stopping

    def finish(self, rest: bytes) -> None:
        """The COPY has ended; `rest` is the last chunk, gathered so far (perhaps empty)."""
        if rest:
            self._ready.append(rest)
        self._finished = True
        _wake(self._reader)

    def fail(self, error: Exception) -> None:
        """The COPY failed: the reader gets what was gathered before, then `StreamFailed`."""
        self._failure = error
        _wake(self._reader)

    def stop(self) -> None:
        """Ask the task to stop: `hand_over` returns False instead of waiting for room."""
        self._stopping = True
        _wake(self._writer)

    @property
    def failed(self) -> bool:
        return self._failure is not None

    async def first(self) -> None:
        """Wait for the first chunk, or the COPY's end; raise what the COPY raised before it."""
        while not (self._ready or self._finished or self._failure):
            await self._wait_for_chunk()
        if self._failure is not None and not self._ready:
            raise self._failure

    async def chunks(self) -> AsyncIterator[bytes]:
        """The chunks as they are gathered; `StreamFailed` after the last if the COPY failed."""
        while True:
            if self._ready:
                chunk = self._ready.popleft()
                _wake(self._writer)
                yield chunk
            elif self._failure is not None:
                raise StreamFailed(describe(self._failure)) from self._failure
            elif self._finished:
                return
            else:
                await self._wait_for_chunk()

    async def _wait_for_chunk(self) -> None:
        self._reader = asyncio.get_running_loop().create_future()
        try:
            await self._reader
        finally:
            self._reader = None


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
