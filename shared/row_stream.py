"""A server-side cursor read in batches: the `cursor` source's rows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import anyio

from .encoders import Row
from .failures import StreamFailed
from .pooling import Closing, describe, release, settle

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

logger = logging.getLogger("streambench.database")

# The first batch is small so that the first byte leaves after a few rows, not after `batch`;
# later batches double up to `batch`.
FIRST_BATCH = 100
# Rows per round trip once batches have reached `batch`: whole batches, at least this many rows.
# Each fetch costs a round trip, and each row a record the garbage collector walks while its
# batch is alive: reading 500,000 rows here, 2,000 per fetch took 0.10 s where 1,000 took
# 0.13 s and 10,000 took 0.14 s (ids alone; whole rows 0.53, 0.56 and 0.65 s), and with the
# collector off 10,000 was as fast as 2,000.
FETCH_ROWS = 2_000


def batch_sizes(batch_size: int) -> Iterator[int]:
    """Rows per batch: FIRST_BATCH (or `batch_size` if smaller), doubling up to `batch_size`."""
    size = min(batch_size, FIRST_BATCH)
    while True:
        yield size
        size = min(size * 2, batch_size)


def fetch_sizes(batch_size: int) -> Iterator[tuple[int, int]]:
    """(rows per fetch, rows per batch): the batches of `batch_sizes`, one fetch each while they
    grow (the first always alone, for the first byte), then as many whole batches per fetch as
    make `FETCH_ROWS`."""
    sizes = batch_sizes(batch_size)
    size = next(sizes)
    yield size, size
    while size < batch_size:
        size = next(sizes)
        if size == batch_size:
            break
        yield size, size
    per_fetch = batch_size * max(1, -(-FETCH_ROWS // batch_size))
    while True:
        yield per_fetch, batch_size


class RowStream(Closing):
    """An open server-side cursor on a checked-out connection inside a read-only transaction.

    Reads one batch ahead: while the consumer encodes and writes batch n, the driver is already
    fetching batch n+1, so database time overlaps encoding and sending. The fetch in flight is
    shielded from the consumer's cancellation (a client gone away): `aclose()` lets it finish,
    at most one batch, instead of interrupting the driver mid-protocol and losing the connection.
    Batches grow from `FIRST_BATCH` rows to `batch_size` (`batch_sizes`); a fetch may bring
    several whole batches (`fetch_sizes`), handed out one at a time.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        transaction: Any,
        cursor: Any,
        batch_size: int,
        settle_timeout: float,
    ) -> None:
        self._connection = connection
        self._transaction = transaction
        self._cursor = cursor
        self._sizes = fetch_sizes(batch_size)
        self._settle_timeout = settle_timeout
        self._pending: asyncio.Future[list[Row]] | None = None
        self._pending_size = 0
        self._pending_batch = 0
        self._fetched: list[Row] = []  # rows of the last fetch not yet handed out
        self._fetched_at = 0
        self._batch = 0
        self._exhausted = False
        self._healthy = True
        self._closed = False

    def _start_fetch(self) -> asyncio.Future[list[Row]]:
        self._pending_size, self._pending_batch = next(self._sizes)
        return asyncio.ensure_future(self._fetch_batch(self._pending_size))

    async def _fetch_batch(self, size: int) -> list[Row]:
        # `fetch(n)`, not iteration: asyncpg's cursor iterator prefetches its own 50 rows.
        # Called inside the task: asyncpg's `Cursor.fetch` checks the connection synchronously,
        # and a connection closed since the last batch must surface in `fetch()` as StreamFailed.
        batch: list[Row] = await self._cursor.fetch(size)
        return batch

    async def first(self) -> None:
        """Wait for the first batch without taking it: the database has answered, so a failure
        up to here is the caller's to report before any byte is sent."""
        if self._pending is None:
            self._pending = self._start_fetch()
        await asyncio.shield(self._pending)

    async def fetch(self) -> list[Row]:
        """The next batch: at most `batch_size` rows, empty once the cursor is exhausted."""
        if self._closed:
            return []
        if self._fetched:
            start, self._fetched_at = self._fetched_at, self._fetched_at + self._batch
            rows = self._fetched[start : self._fetched_at]
            if self._fetched_at >= len(self._fetched):
                self._fetched = []
            return rows
        if self._exhausted:
            return []
        pending = self._pending or self._start_fetch()
        self._pending = pending
        try:
            batch: list[Row] = await asyncio.shield(pending)
        except asyncio.CancelledError:
            raise  # the fetch goes on; aclose() settles it
        except Exception as error:
            self._pending = None
            self._healthy = False
            raise StreamFailed(describe(error)) from error
        size, self._batch = self._pending_size, self._pending_batch
        if len(batch) < size:
            self._exhausted = True
            self._pending = None
        else:
            self._pending = self._start_fetch()
        if len(batch) <= self._batch:
            return batch
        self._fetched, self._fetched_at = batch, self._batch
        return batch[: self._batch]

    def __aiter__(self) -> AsyncIterator[list[Row]]:
        return self._batches()

    async def _batches(self) -> AsyncIterator[list[Row]]:
        while batch := await self.fetch():
            yield batch

    async def aclose(self) -> None:
        """Close the cursor (by ending the transaction) and return the connection.

        Shielded: a cancelled request (a client that went away) must still finish the rollback,
        or the driver resets a connection with an open transaction, or the pool loses it.
        """
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            pending, self._pending = self._pending, None
            if pending is not None and not await settle(pending, self._settle_timeout):
                self._healthy = False
            if self._healthy:
                try:
                    await self._transaction.rollback()
                except Exception as error:
                    logger.info("rollback after stream failed: %s", describe(error))
                    self._healthy = False
            await release(self._connection, self._healthy)
