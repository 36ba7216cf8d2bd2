"""`COPY (<the body's query>) TO STDOUT`: the `copy` source, the database writing the bytes.

asyncpg hands `copy_from_query(output=...)` the server's output in pieces of about 8 KB. A task
runs the COPY and puts each piece in a small bounded queue: when the client reads slowly the
queue fills, the task's `put` waits, asyncpg stops reading the socket and PostgreSQL waits on its
own send. The consumer joins pieces into chunks of about `chunk_size` bytes (a client pays per
chunk, so fewer, larger chunks move faster), except the first, which leaves at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection

from ._pooling import describe, release
from .row_stream import StreamFailed

logger = logging.getLogger("streambench.database")

CHUNK_SIZE = 64 * 1024
# About 128 KB in flight per stream: enough to keep PostgreSQL busy while a chunk is sent.
QUEUE_PIECES = 16


class _End:
    """The COPY finished: everything it wrote is in the queue before this."""


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error


class CopyStream:
    """A running `COPY ... TO STDOUT` on a checked-out connection, read as coalesced chunks.

    Create with `Database.open_copy`, which waits for the first piece (or the COPY's end) before
    returning, so a query the database refuses is still the caller's to answer before any header.
    `aclose()` cancels a COPY still running and drops the connection: asyncpg, cancelled inside
    `copy_out`, sends PostgreSQL a cancel request, but its protocol stays in the COPY's state
    until the server's answer arrives (the next command raises `InternalClientError: cannot
    switch to state ...`), so the connection cannot go back to the pool as it is. Closing it
    stops the server too: a backend writing to a closed socket ends its COPY at once.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        driver: Any,
        query: str,
        options: dict[str, str],
        settle_timeout: float,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self._connection = connection
        self._driver = driver
        self._query = query
        self._options = options
        self._settle_timeout = settle_timeout
        self._chunk_size = chunk_size
        self._queue: asyncio.Queue[bytes | _End | _Failed] = asyncio.Queue(QUEUE_PIECES)
        self._task: asyncio.Task[None] | None = None
        self._next: bytes | _End | _Failed | None = None
        self._finished = False
        self._healthy = True
        self._closed = False

    async def start(self) -> None:
        """Start the COPY and wait for its first piece, or its end; raise what it raised."""
        self._task = asyncio.ensure_future(self._run())
        item = await self._queue.get()
        if isinstance(item, _Failed):
            self._healthy = False
            raise item.error
        self._next = item

    async def _run(self) -> None:
        try:
            await self._driver.copy_from_query(self._query, output=self._queue.put, **self._options)
        except Exception as error:
            await self._queue.put(_Failed(error))
        else:
            await self._queue.put(_End())

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        first = True
        while not self._finished:
            pieces: list[bytes] = []
            size = 0
            while not self._finished and (size < self._chunk_size and not (first and pieces)):
                item = self._next if self._next is not None else await self._queue.get()
                self._next = None
                if isinstance(item, _End):
                    self._finished = True
                elif isinstance(item, _Failed):
                    self._healthy = False
                    raise StreamFailed(describe(item.error)) from item.error
                else:
                    pieces.append(item)
                    size += len(item)
            if pieces:
                # asyncpg may hand over a piece as a bytearray; a framework that is not pure
                # ASGI (Django's make_bytes) would send its repr. bytes() of bytes is itself.
                yield bytes(pieces[0]) if len(pieces) == 1 else b"".join(pieces)
            first = False

    async def aclose(self) -> None:
        """Stop the COPY if it still runs and give the connection back (or drop it)."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            task = self._task
            if task is not None and not task.done():
                # Cancelled inside asyncpg's copy_out (in the output call or waiting for data),
                # asyncpg sends PostgreSQL a CancelRequest before re-raising.
                task.cancel()
                self._healthy = False
                await asyncio.wait({task}, timeout=self._settle_timeout)
                if not task.done():
                    logger.info("COPY did not stop within %.1f s", self._settle_timeout)
            await release(self._connection, self._healthy)
