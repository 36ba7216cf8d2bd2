"""`COPY (<the body's query>) TO STDOUT`: the `copy` source, the database writing the bytes.

asyncpg hands `copy_from_query(output=...)` the server's output in pieces of about 8 KB, one
call of `output` each. A task runs the COPY; its `output` gathers the pieces into chunks for the
reader (`ChunkGatherer`, shared/chunks.py: the first piece alone, then about `chunk_size` bytes,
the COPY waiting for a reader `CHUNKS_AHEAD` chunks behind).

asyncpg reads the socket again as soon as `output` returns, and each read costs the server about
the same however little it brings: a reader faster than the database takes its 8 KB writes one
by one. Past the first `PACED_AFTER` bytes, a piece under `SMALL_PIECE` makes `output` wait
`READ_PAUSE` before asyncpg reads on, so the next read takes what the database wrote meanwhile
in one larger piece; a large piece means the reader is behind, and it reads on at once. A shorter
body is read eagerly: a pause can hold its end back by up to `READ_PAUSE`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio

from .chunks import CHUNK_SIZE, ChunkGatherer
from .pooling import release

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

logger = logging.getLogger("streambench.database")

# Read coalescing (see above). The socket buffers keep what PostgreSQL writes during a pause:
# sampled through paced 500,000-row COPYs (text and ndjson), it was never seen waiting on them.
SMALL_PIECE = 64 * 1024
READ_PAUSE = 0.002
PACED_AFTER = 4 * CHUNK_SIZE


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
        self._chunks = ChunkGatherer(chunk_size)
        self._pieces: list[bytes] = []  # the chunk being gathered
        self._gathered = 0
        self._taken = 0
        self._task: asyncio.Task[None] | None = None
        self._healthy = True
        self._closed = False

    async def start(self) -> None:
        """Start the COPY and wait for its first piece, or its end; raise what it raised."""
        self._task = asyncio.ensure_future(self._run())
        await self._chunks.first()

    async def _run(self) -> None:
        try:
            await self._driver.copy_from_query(self._query, output=self._gather, **self._options)
        except Exception as error:
            # Whether or not the reader gets this far: a connection whose COPY failed is dropped.
            self._healthy = False
            self._chunks.fail(error)
        else:
            self._chunks.finish(self._cut())

    async def _gather(self, piece: bytes) -> None:
        # Called by asyncpg once per piece, awaited before it reads on: a chunk is handed over
        # whole, which spares the reader a task switch per piece. Never stopped (`aclose()`
        # cancels the task), so whether to read on is not asked.
        self._pieces.append(piece)
        self._gathered += len(piece)
        self._taken += len(piece)
        if self._gathered >= self._chunks.wanted:
            await self._chunks.hand_over(self._cut())
        if len(piece) < SMALL_PIECE and self._taken > PACED_AFTER:
            await asyncio.sleep(READ_PAUSE)

    def _cut(self) -> bytes:
        pieces, self._pieces, self._gathered = self._pieces, [], 0
        # asyncpg may hand over a piece as a bytearray; a framework that is not pure ASGI
        # (Django's make_bytes) would send its repr. bytes() of bytes is itself.
        return bytes(pieces[0]) if len(pieces) == 1 else b"".join(pieces)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks.chunks()

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
