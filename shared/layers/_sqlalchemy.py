"""What SQLAlchemy's two layers share: the engine, the checkout, and a result read in partitions.

Both layers keep the asyncpg layer's guarantees (shared/database.py, shared/read_ahead.py): the
database has answered before a response starts, a failure later is `StreamFailed`, the driver
call in flight is never interrupted by a client gone away (it is let finish, then the connection
goes back), and a connection whose state is unknown is dropped, not pooled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar, cast

import anyio
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from ..database import asyncpg_engine
from ..encoders import Row
from ..failures import DatabaseUnavailable
from ..ledger import ConnectionLedger
from ..pooling import describe, release, settle
from ..read_ahead import ReadAheadStream
from ..settings import Settings

logger = logging.getLogger("streambench.database")
T = TypeVar("T")


def create_engine(settings: Settings, ledger: ConnectionLedger) -> AsyncEngine:
    """An `AsyncEngine` on asyncpg with the asyncpg layer's pool size, timeout and session, its
    connections opened by the same call (`shared.database.asyncpg_engine`), so the layers differ
    only in what reads the rows, and its checkouts kept in `ledger` the same way.
    """
    engine = asyncpg_engine(settings, ledger=ledger)
    # After a restart every pooled connection is dead. `pool_pre_ping` would find out with three
    # round trips per checkout (BEGIN, `;`, ROLLBACK in 2.1's asyncpg dialect); asyncpg already
    # knows, for free, once the event loop has read the server's goodbye. Raising
    # DisconnectionError at checkout is SQLAlchemy's documented way to have the pool replace it.
    # First of the checkout listeners: the ledger's must not count a connection refused here.
    event.listen(engine.sync_engine, "checkout", _refuse_closed, insert=True)
    return engine


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")


def pool_status(engine: AsyncEngine) -> dict[str, int]:
    pool = engine.pool
    assert isinstance(pool, AsyncAdaptedQueuePool)
    return {"size": pool.size(), "checked_out": pool.checkedout(), "idle": pool.checkedin()}


async def shielded(
    opening: Awaitable[T], undo: Callable[[T], Awaitable[None]], patience: float
) -> T:
    """`opening` (a checkout) run to its end even when the caller is cancelled meanwhile.

    A request cancelled while the pool opens a connection would interrupt asyncpg mid-handshake,
    which then leaves a future's exception unretrieved (logged at ERROR). The opening is let
    finish, then `undo` gives back what it got. Any failure is `DatabaseUnavailable`.
    """

    async def wrapped() -> T:
        try:
            return await opening
        except Exception as error:
            raise DatabaseUnavailable(describe(error)) from error

    task = asyncio.ensure_future(wrapped())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with anyio.CancelScope(shield=True):
            if await settle(task, patience):
                await undo(task.result())
        raise


async def checkout(
    engine: AsyncEngine, patience: float, ledger: ConnectionLedger
) -> AsyncConnection:
    """A pooled `AsyncConnection`, or `DatabaseUnavailable` (pool timeout, database down)."""

    async def give_back(connection: AsyncConnection) -> None:
        await release(connection, healthy=True)

    return await shielded(waited(engine.connect(), ledger), give_back, patience)


async def waited(opening: Awaitable[T], ledger: ConnectionLedger) -> T:
    """`opening` (a checkout), its wait for the pool timed in `ledger`."""
    with ledger.waiting():
        return await opening


def connection_gone(error: BaseException) -> bool:
    """Whether `error` came from a connection found dead (SQLAlchemy has invalidated it)."""
    cause = error.__cause__ if isinstance(error, DatabaseUnavailable) else error
    return isinstance(cause, exc.DBAPIError) and cause.connection_invalidated


async def retried_once(attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()`, once more on a fresh connection when the first failed because its connection
    had gone (closed after the checkout's check, before the query): nothing was sent yet."""
    try:
        return await attempt()
    except DatabaseUnavailable as error:
        if not connection_gone(error):
            raise
        logger.info("retrying on a fresh connection: %s", error)
    return await attempt()


class Partitioned(Protocol):
    """A streamed result: `AsyncResult` (Core) and `AsyncScalarResult` (the ORM) alike."""

    def partitions(self, size: int | None = None) -> AsyncIterator[Sequence[Any]]: ...

    async def close(self) -> None: ...


class PartitionStream(ReadAheadStream[Sequence[Any], Sequence[Row]]):
    """A streamed result read in `batch_size` partitions: the layers' `BatchStream`.

    The first read opens the result (`opening`: `stream()` or `stream_scalars()`) and reads the
    first partition; every later one reads the next partition while the consumer encodes the
    last (one ahead, `ReadAheadStream`). `aclose()` lets the read in flight finish (at most
    `patience`), closes the result and hands the connection to `release(healthy)`.
    `to_rows` turns a partition into rows in the encoder's column order (ORM objects to tuples).
    """

    # A failed first read leaves no result open: a later read would open it again.
    _failure_ends = True

    def __init__(
        self,
        opening: Callable[[], Awaitable[Partitioned]],
        batch_size: int,
        release: Callable[[bool], Awaitable[None]],
        patience: float,
        to_rows: Callable[[Sequence[Any]], Sequence[Row]] | None = None,
    ) -> None:
        super().__init__(patience)
        self._opening = opening
        self._batch_size = batch_size
        self._release = release
        self._to_rows = to_rows
        self._result: Partitioned | None = None
        self._partitions: AsyncGenerator[Sequence[Any], None] | None = None

    async def _read(self) -> tuple[Sequence[Any], bool]:
        if self._partitions is None:
            self._result = await self._opening()
            # `partitions()` is an async generator function (typed as an iterator): closed in _end().
            partitions = self._result.partitions(self._batch_size)
            self._partitions = cast(AsyncGenerator[Sequence[Any], None], partitions)
        # Exhaustion is the empty read, never a short partition: a count is never guessed.
        # (None, not an empty tuple: Python 3.11's `anext` fails on a tuple default.)
        partition = await anext(self._partitions, None)
        return partition or [], not partition

    async def fetch(self) -> Sequence[Row]:
        """The next partition as rows: empty once the result is exhausted."""
        partition = await self._take()
        if not partition:
            return []
        return self._to_rows(partition) if self._to_rows else partition

    async def _end(self, healthy: bool) -> None:
        try:
            if self._partitions is not None:
                await self._partitions.aclose()
            if self._result is not None:
                await self._result.close()
        except Exception as error:
            logger.info("closing a streamed result failed: %s", describe(error))
            healthy = False
        await self._release(healthy)
