"""The `sqlalchemy` data layer: SQLAlchemy Core on an `AsyncConnection`, as its users write it.

- `fetch`: `(await connection.execute(select)).all()`.
- `cursor`: `await connection.stream(select, execution_options={"yield_per": batch})` read with
  `partitions(batch)`, inside the transaction the connection begins by itself.
- `keyset`: each page `(await connection.execute(select.where(id > after).limit(n))).all()` on
  a connection of its own, given back before the page is encoded (shared/keyset.py).

The statement is `shared.schema.select_messages`, the asyncpg layer's own (same columns, order
and limit), and the rows are SQLAlchemy `Row`s, which the encoders index like asyncpg's records:
the bodies are byte for byte the asyncpg layer's.

What this costs beside the asyncpg layer, read in SQLAlchemy 2.1.9's asyncpg dialect
(`AsyncAdapt_asyncpg_ss_cursor`): opening the stream already fetches 50 rows (the result buffers
one row to learn its columns, and the dialect fetches 50 to give it), and every later partition
of more than 50 rows is two round trips, 50 rows then the rest. Every partition also passes
through a greenlet switch and SQLAlchemy's row processing.

Partitions are `batch` rows from the first on: `partitions()` takes one size, and an application
iterating it would not grow its own. The asyncpg layer's small first batch (`batch_sizes`) is a
tuning of ours; here the first byte waits for a whole partition, which is part of what the
idiom costs. Like every layer, the stream reads one partition ahead, shielded, so that a client
going away never interrupts the driver (shared/layers/_sqlalchemy.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, NoReturn

import anyio
from sqlalchemy import Select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncResult

from ..contract import not_offered
from ..encoders import Row
from ..failures import DatabaseUnavailable
from ..keyset import KeysetStream, open_pages
from ..ledger import ConnectionLedger
from ..pooling import answered, describe, release
from ..schema import select_messages, select_page
from ..settings import Settings
from . import SHARED_LAYERS
from ._sqlalchemy import (
    PartitionStream,
    checkout,
    create_engine,
    pool_status,
    retried_once,
)

__all__ = ["CoreLayer", "create_layer"]


class CoreLayer:
    """SQLAlchemy Core's `DataLayer` (shared/layers): an `AsyncEngine` and its pool."""

    name = "sqlalchemy"
    sources = SHARED_LAYERS[name].sources

    def __init__(self, engine: AsyncEngine, settings: Settings, ledger: ConnectionLedger) -> None:
        self._engine = engine
        self._patience = settings.pool_timeout
        self._ledger = ledger  # the engine's pool keeps it (`create_engine`)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def ledger(self) -> ConnectionLedger:
        return self._ledger

    async def fetch_all(self, columns: tuple[str, ...], rows: int) -> Sequence[Row]:
        """Every row in one round trip. Any failure is `DatabaseUnavailable`: nothing was sent yet."""
        return await retried_once(partial(self._all, select_messages(columns), {"rows": rows}))

    async def _all(self, statement: Select[Any], parameters: dict[str, int]) -> Sequence[Row]:
        """`statement`'s rows in one round trip on a connection given back before they are
        returned. Any failure is `DatabaseUnavailable`."""
        connection = await checkout(self._engine, self._patience, self._ledger)
        healthy = False
        try:
            fetched: Sequence[Row] = (await connection.execute(statement, parameters)).all()
            healthy = True
            return fetched
        except Exception as error:
            raise DatabaseUnavailable(describe(error)) from error
        finally:
            await release(connection, healthy)

    async def open_stream(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> PartitionStream:
        """A streamed result with its first partition read: a failure up to here is
        `DatabaseUnavailable`, before any byte. The caller must close it (`aclose()`)."""
        return await retried_once(partial(self._open_stream, columns, rows, batch_size))

    async def _open_stream(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> PartitionStream:
        connection = await checkout(self._engine, self._patience, self._ledger)
        statement = select_messages(columns)

        async def opening() -> AsyncResult[Any]:
            return await connection.stream(
                statement, {"rows": rows}, execution_options={"yield_per": batch_size}
            )

        stream = PartitionStream(opening, batch_size, partial(release, connection), self._patience)
        return await answered(stream, stream.first)

    async def open_keyset(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> KeysetStream:
        return await open_pages(self.fetch_page, columns, rows, batch_size, self._patience)

    async def fetch_page(self, columns: tuple[str, ...], after: int, limit: int) -> Sequence[Row]:
        """The first `limit` rows past id `after` in one round trip, on a connection given back
        before they are returned, retried as `fetch_all` is. Any failure is
        `DatabaseUnavailable`."""
        parameters = {"after": after, "rows": limit}
        return await retried_once(partial(self._all, select_page(columns), parameters))

    async def open_copy(self, fmt: str, rows: int) -> NoReturn:
        # SQLAlchemy has no COPY; `shared.bodies` refuses the source before coming here.
        raise not_offered("copy", self.name, self.sources)

    async def ping(self) -> None:
        await retried_once(self._ping)

    async def _ping(self) -> None:
        connection = await checkout(self._engine, self._patience, self._ledger)
        healthy = False
        try:
            with anyio.fail_after(self._patience):
                await connection.execute(text("SELECT 1"))
            healthy = True
        except Exception as error:
            raise DatabaseUnavailable(describe(error)) from error
        finally:
            await release(connection, healthy)

    def pool_status(self) -> dict[str, int]:
        return pool_status(self._engine)

    async def dispose(self) -> None:
        await self._engine.dispose()


async def create_layer(settings: Settings) -> CoreLayer:
    """The layer on a pool of `settings.pool_size` connections to `settings.database_url`."""
    ledger = ConnectionLedger()
    return CoreLayer(create_engine(settings, ledger), settings, ledger)
