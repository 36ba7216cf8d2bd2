"""Keyset pagination: the `keyset` source's rows, each batch a short query of its own.

A cursor holds a pooled connection and an open transaction from its first batch to its last, so
on `/chunked` a client that reads slowly keeps both for the whole download, and a few such
clients exhaust the pool. Here each batch is one query, `... WHERE id > <the last id read> ORDER
BY id LIMIT <n>`, on a connection taken from the pool for it and given back as soon as the query
returns, before the batch is encoded or written: between batches a stream holds no connection
and no transaction, however slowly its client reads.

What that costs: every page reads the table as it is at that moment, not one snapshot (a row
inserted meanwhile with a higher id may appear, one deleted meanwhile may be missing); every page
pays a checkout and a round trip; and a page that finds the pool held by others waits the pool
timeout and fails the body midway (`StreamFailed`), where a cursor, once open, never waits again.

A layer supplies its one page (`Page`: its library's query on a connection of its own, given
back before it returns; tried once more on a fresh connection when the first was found dead, as
its `fetch_all` does; any failure `DatabaseUnavailable`). `KeysetStream` does the rest alike for
every layer: batches from `FIRST_BATCH` rows doubling to `batch` (`batch_sizes`, for a quick
first byte), never more than the rows still owed, one page read ahead (`ReadAheadStream`, whose
`aclose()` lets the page in flight finish rather than interrupting the driver mid-protocol).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from .encoders import Row
from .pooling import answered
from .read_ahead import ReadAheadStream
from .row_stream import batch_sizes

__all__ = ["BEFORE_FIRST", "KeysetStream", "Page", "open_pages"]

# (columns, after, limit) -> the first `limit` rows whose id is above `after`, by id.
Page = Callable[[tuple[str, ...], int, int], Awaitable[Sequence[Row]]]

# Below every id (the smallest bigint): the first page's `after`, so that every page is the same
# statement, prepared once.
BEFORE_FIRST = -(2**63)


class KeysetStream(ReadAheadStream[Sequence[Row], Sequence[Row]]):
    """The first `rows` rows by id, read a page at a time through a layer's `page`: the layers'
    `BatchStream` for the `keyset` source. Holds no connection: each page gave its own back."""

    # A failed page ends the stream: the body is cut there, never resumed past a gap.
    _failure_ends = True

    def __init__(
        self,
        page: Page,
        columns: tuple[str, ...],
        rows: int,
        batch_size: int,
        patience: float,
    ) -> None:
        super().__init__(patience)
        self._page = page
        self._columns = columns
        self._key = columns.index("id")  # every format's columns hold the id the pages go by
        self._owed = rows
        self._after = BEFORE_FIRST
        self._sizes = batch_sizes(batch_size)

    async def _read(self) -> tuple[Sequence[Row], bool]:
        # The first page is read even for no rows (LIMIT 0): the database has answered before a
        # response starts, as with every source.
        limit = min(next(self._sizes), self._owed)
        batch = await self._page(self._columns, self._after, limit)
        if batch:
            self._after = batch[-1][self._key]
            self._owed -= len(batch)
        # A short page is the last: the table holds no more rows past it.
        return batch, len(batch) < limit or not self._owed

    async def fetch(self) -> Sequence[Row]:
        """The next batch: at most `batch_size` rows, empty once the rows owed are sent."""
        return await self._take() or []

    async def _end(self, healthy: bool) -> None:
        """Nothing to give back: each page returned its connection before its rows."""


async def open_pages(
    page: Page, columns: tuple[str, ...], rows: int, batch_size: int, patience: float
) -> KeysetStream:
    """A layer's `open_keyset`: its pages as a stream with the first one read, so that a failure
    up to here is `DatabaseUnavailable`, before any byte. The caller must close the stream."""
    stream = KeysetStream(page, columns, rows, batch_size, patience)
    return await answered(stream, stream.first)
