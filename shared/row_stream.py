"""A server-side cursor read in batches: the `cursor` source's rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .encoders import Row
from .pooling import describe, release
from .read_ahead import ReadAheadStream

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
    while True:
        yield size, size
        size = next(sizes)
        if size == batch_size:
            break
    per_fetch = batch_size * max(1, -(-FETCH_ROWS // batch_size))
    while True:
        yield per_fetch, batch_size


class RowStream(ReadAheadStream[tuple[list[Row], int], list[Row]]):
    """An open server-side cursor on a checked-out connection inside a read-only transaction.

    Read one batch ahead (`ReadAheadStream`): the fetch in flight is let finish by `aclose()`
    rather than interrupted mid-protocol, which would lose the connection. Batches grow from
    `FIRST_BATCH` rows to `batch_size` (`batch_sizes`); a fetch may bring several whole batches
    (`fetch_sizes`), handed out one at a time.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        transaction: Any,
        cursor: Any,
        batch_size: int,
        settle_timeout: float,
    ) -> None:
        super().__init__(settle_timeout)
        self._connection = connection
        self._transaction = transaction
        self._cursor = cursor
        self._sizes = fetch_sizes(batch_size)
        self._fetched: list[Row] = []  # rows of the last fetch not yet handed out
        self._fetched_at = 0
        self._batch = 0

    async def _read(self) -> tuple[tuple[list[Row], int], bool]:
        # `fetch(n)`, not iteration: asyncpg's cursor iterator prefetches its own 50 rows.
        # A fetch shorter than asked for is the last.
        size, batch = next(self._sizes)
        rows: list[Row] = await self._cursor.fetch(size)
        return (rows, batch), len(rows) < size

    async def fetch(self) -> list[Row]:
        """The next batch: at most `batch_size` rows, empty once the cursor is exhausted."""
        if self._fetched and not self._closed:
            start, self._fetched_at = self._fetched_at, self._fetched_at + self._batch
            rows = self._fetched[start : self._fetched_at]
            if self._fetched_at >= len(self._fetched):
                self._fetched = []
            return rows
        taken = await self._take()
        if taken is None:
            return []
        batch, self._batch = taken
        if len(batch) <= self._batch:
            return batch
        self._fetched, self._fetched_at = batch, self._batch
        return batch[: self._batch]

    async def _end(self, healthy: bool) -> None:
        # Closing the cursor by ending the transaction: a cancelled request must still finish
        # the rollback, or the driver resets a connection with an open transaction, or the pool
        # loses it.
        if healthy:
            try:
                await self._transaction.rollback()
            except Exception as error:
                logger.info("rollback after stream failed: %s", describe(error))
                healthy = False
        await release(self._connection, healthy)
