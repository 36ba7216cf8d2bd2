"""Reading one batch ahead of the consumer: what every layer's `BatchStream` does alike.

While the consumer encodes and writes batch n, a task is already reading batch n+1, so database
time overlaps encoding and sending. The read in flight is awaited through `asyncio.shield`: a
cancelled consumer (a client gone away) stops waiting for it but never interrupts the driver
mid-protocol, and `aclose()` lets it finish (at most one batch), then ends the stream the layer's
way (end the transaction, close the result...) and gives the connection back, or drops it when
its state cannot be trusted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Generic, TypeVar

import anyio

from .encoders import Row
from .failures import StreamFailed
from .pooling import Closing, describe, settle

__all__ = ["ReadAheadStream"]

B = TypeVar("B")
T = TypeVar("T", bound=Sequence[Row])


class ReadAheadStream(Closing, Generic[B, T]):
    """An open source read one batch ahead. A layer supplies `_read` (one read, run inside the
    task), `fetch` (the taken read as rows, through `_take`) and `_end` (its own close).

    `B` is what one read returns, a batch or more (asyncpg's fetches bring several); `T` is a
    batch as `fetch()` hands it out.
    """

    # Whether a failed read ends the stream, so that a later `fetch()` reads nothing rather than
    # trying again; a layer whose next read would redo what failed (reopen a result) sets it.
    _failure_ends = False

    def __init__(self, patience: float) -> None:
        self._patience = patience  # how long `aclose()` waits for the read in flight
        self._pending: asyncio.Future[tuple[B, bool]] | None = None
        self._exhausted = False  # the last read has been taken: none is started again
        self._healthy = True
        self._closed = False

    async def _read(self) -> tuple[B, bool]:
        """One read of the source, run inside the task, and whether it was the last."""
        raise NotImplementedError

    async def fetch(self) -> T:
        """The next batch, empty once the source is exhausted (or the stream closed)."""
        raise NotImplementedError

    async def _end(self, healthy: bool) -> None:
        """End the stream the layer's way and give the connection back (dropped unless
        `healthy`). Runs shielded, once, after the read in flight has settled."""
        raise NotImplementedError

    def _start(self) -> asyncio.Future[tuple[B, bool]]:
        # The read runs inside the task: a driver that checks its connection synchronously
        # (asyncpg's `Cursor.fetch`) must fail there, and surface in `fetch()` as StreamFailed.
        return asyncio.ensure_future(self._read())

    async def first(self) -> None:
        """Wait for the first read without taking it: the database has answered, so a failure
        up to here is the caller's to report before any byte is sent."""
        if self._pending is None and not self._exhausted:
            self._pending = self._start()
        if self._pending is not None:
            await asyncio.shield(self._pending)

    async def _take(self) -> B | None:
        """The read in flight (started now if none is), the next one started as soon as it is
        taken; None once the source is exhausted or the stream closed. A failure is
        `StreamFailed`, and the connection is not trusted after it."""
        if self._exhausted or self._closed:
            return None
        pending = self._pending or self._start()
        self._pending = pending
        try:
            read, last = await asyncio.shield(pending)
        except asyncio.CancelledError:
            raise  # the read goes on; aclose() settles it
        except Exception as error:
            self._pending = None
            self._exhausted = self._failure_ends
            self._healthy = False
            raise StreamFailed(describe(error)) from error
        if last:
            self._exhausted = True
            self._pending = None
        else:
            self._pending = self._start()
        return read

    def __aiter__(self) -> AsyncIterator[T]:
        return self._batches()

    async def _batches(self) -> AsyncIterator[T]:
        while batch := await self.fetch():
            yield batch

    async def _settle(self, pending: asyncio.Future[tuple[B, bool]]) -> bool:
        """Let the read in flight finish (at most the patience); whether it ended cleanly."""
        return await settle(pending, self._patience)

    async def aclose(self) -> None:
        """Let the read in flight finish, then end the stream (`_end`). Shielded: a cancelled
        request (a client that went away) must still give the connection back, or drop it."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            pending, self._pending = self._pending, None
            if pending is not None and not await self._settle(pending):
                self._healthy = False
            await self._end(self._healthy)
