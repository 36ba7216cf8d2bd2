"""Data access: SQLAlchemy owns the pool and compiles the query, asyncpg runs the hot path.

Two paths share one query: `fetch_all` (one round trip, the buffered path) and `open_stream`/
`stream_batches` (a server-side cursor read `batch_size` rows at a time, the streamed path).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import anyio
import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from .encoders import Row
from .schema import compiled_select, literal_select
from .settings import Settings

logger = logging.getLogger("streambench.database")
T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """No connection could be had (pool exhausted past its timeout, or the server is down).

    Raised before any byte of a response exists, so ports answer 503.
    """


class StreamFailed(Exception):
    """The database failed while a stream was being read: the response must not end cleanly."""


class _ConnectionGone(Exception):
    """Opening a stream failed because its connection had gone: worth one more try."""


class Database:
    """A connection pool and the two access paths. Create with `create_database(settings, url)`."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def pool_status(self) -> dict[str, int]:
        pool = self._engine.pool
        assert isinstance(pool, AsyncAdaptedQueuePool)
        return {"size": pool.size(), "checked_out": pool.checkedout(), "idle": pool.checkedin()}

    async def _checkout(self) -> tuple[AsyncConnection, asyncpg.Connection]:
        """A pooled connection the driver has not seen closed.

        After a restart or failover every pooled connection is dead, and the driver knows it as
        soon as the event loop has read the server's goodbye: checking costs no round trip
        (benchmarks/checkout_liveness.py). A dead one is dropped and the next taken, so the pool
        refills from the database instead of handing each dead connection to one client.
        """
        for _ in range(self._settings.pool_size):
            connection, driver = await self._checkout_any()
            if not driver.is_closed():
                return connection, driver
            await _release(connection, healthy=False)
        return await self._checkout_any()  # every idle one was dead: this one is new

    async def _checkout_any(self) -> tuple[AsyncConnection, asyncpg.Connection]:
        try:
            connection = await self._engine.connect()
        except Exception as error:
            raise DatabaseUnavailable(_describe(error)) from error
        try:
            raw = await connection.get_raw_connection()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await connection.invalidate()
                await connection.close()
            raise
        return connection, raw.driver_connection

    async def _first_use(self, use: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`use` on a checked-out connection, tried once more on a fresh one when the first
        failed because its connection was gone (closed between the check and the query).
        Any failure is `DatabaseUnavailable`: nothing was sent to the client yet."""
        for attempt in (1, 2):
            connection, driver = await self._checkout()
            healthy = False
            try:
                result = await use(driver)
                healthy = True
                return result
            except Exception as error:
                if attempt == 1 and driver.is_closed():
                    logger.info("retrying on a fresh connection: %s", _describe(error))
                    continue
                raise DatabaseUnavailable(_describe(error)) from error
            finally:
                await _release(connection, healthy)
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def fetch_all(self, columns: tuple[str, ...], rows: int) -> list[Row]:
        """Every row in one round trip. Any failure is `DatabaseUnavailable`: nothing was sent yet."""

        async def fetch(driver: asyncpg.Connection) -> list[Row]:
            records: list[Row] = await driver.fetch(compiled_select(columns), rows)
            return records

        return await self._first_use(fetch)

    async def open_stream(self, columns: tuple[str, ...], rows: int, batch_size: int) -> RowStream:
        """Check out a connection, begin a read-only transaction and open the cursor.

        All of it happens before a response starts, so a failure here is a 503, never a broken
        200; a connection found gone on the way is replaced once, as in `_first_use`. The caller
        owns the returned stream and must close it (`async with` or `aclose()`).
        """
        try:
            return await self._open_stream(columns, rows, batch_size)
        except _ConnectionGone:
            return await self._open_stream(columns, rows, batch_size, last_try=True)

    async def _open_stream(
        self, columns: tuple[str, ...], rows: int, batch_size: int, last_try: bool = False
    ) -> RowStream:
        connection, driver = await self._checkout()

        async def begin() -> tuple[Any, Any]:
            transaction = driver.transaction(readonly=True)
            await transaction.start()
            try:
                return transaction, await driver.cursor(compiled_select(columns), rows)
            except BaseException:
                await transaction.rollback()
                raise

        opening = asyncio.ensure_future(begin())
        try:
            transaction, cursor = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # Cancelled while the driver was mid-protocol: let it finish, then give it back.
            with anyio.CancelScope(shield=True):
                healthy = await _settle(opening, self._settings.pool_timeout)
                if healthy:
                    await opening.result()[0].rollback()
                await _release(connection, healthy)
            raise
        except Exception as error:
            await _release(connection, healthy=False)
            if not last_try and driver.is_closed():
                logger.info("retrying on a fresh connection: %s", _describe(error))
                raise _ConnectionGone from error
            raise DatabaseUnavailable(_describe(error)) from error
        return RowStream(connection, transaction, cursor, batch_size, self._settings.pool_timeout)

    async def stream_batches(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> AsyncGenerator[list[Row], None]:
        """Yield non-empty batches of at most `batch_size` rows as they arrive.

        The cursor is closed and the connection returned however the consumer stops, once the
        generator is closed: consume it under `contextlib.aclosing()` (an abandoned async generator
        is only finalised when it is garbage-collected), or use `open_stream` as a context manager.
        """
        async with await self.open_stream(columns, rows, batch_size) as stream:
            async for batch in stream:
                yield batch

    async def ping(self) -> None:
        async def select_one(driver: asyncpg.Connection) -> None:
            with anyio.fail_after(self._settings.pool_timeout):
                await driver.fetchval("SELECT 1")

        await self._first_use(select_one)

    async def copy_to(
        self, columns: tuple[str, ...], rows: int, sink: Callable[[bytes], Awaitable[None]]
    ) -> None:
        """`COPY (the same query) TO STDOUT`, each piece awaited by `sink`: the floor to compare with."""
        connection, driver = await self._checkout()
        healthy = False
        try:
            # asyncpg wraps the query as `COPY (query) TO STDOUT` itself.
            await driver.copy_from_query(literal_select(columns, rows), output=sink)
            healthy = True
        finally:
            await _release(connection, healthy)

    async def server_version(self) -> str:
        connection, driver = await self._checkout()
        try:
            version: str = await driver.fetchval("SHOW server_version")
            return version
        finally:
            await _release(connection, healthy=True)

    async def dispose(self) -> None:
        await self._engine.dispose()


class RowStream:
    """An open server-side cursor on a checked-out connection inside a read-only transaction.

    Reads one batch ahead: while the consumer encodes and writes batch n, the driver is already
    fetching batch n+1, so database time overlaps encoding and sending. The fetch in flight is
    shielded from the consumer's cancellation (a client gone away): `aclose()` lets it finish,
    at most one batch, instead of interrupting the driver mid-protocol and losing the connection.
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
        self._batch_size = batch_size
        self._settle_timeout = settle_timeout
        self._pending: asyncio.Future[list[Row]] | None = None
        self._exhausted = False
        self._healthy = True
        self._closed = False

    def _start_fetch(self) -> asyncio.Future[list[Row]]:
        return asyncio.ensure_future(self._fetch_batch())

    async def _fetch_batch(self) -> list[Row]:
        # Called inside the task: asyncpg's `Cursor.fetch` checks the connection synchronously,
        # and a connection closed since the last batch must surface in `fetch()` as StreamFailed.
        batch: list[Row] = await self._cursor.fetch(self._batch_size)
        return batch

    async def fetch(self) -> list[Row]:
        """The next batch: at most `batch_size` rows, empty once the cursor is exhausted."""
        if self._exhausted or self._closed:
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
            raise StreamFailed(_describe(error)) from error
        if len(batch) < self._batch_size:
            self._exhausted = True
            self._pending = None
        else:
            self._pending = self._start_fetch()
        return batch

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
            if pending is not None and not await _settle(pending, self._settle_timeout):
                self._healthy = False
            if self._healthy:
                try:
                    await self._transaction.rollback()
                except Exception as error:
                    logger.info("rollback after stream failed: %s", _describe(error))
                    self._healthy = False
            await _release(self._connection, self._healthy)

    async def __aenter__(self) -> RowStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def _settle(operation: asyncio.Future[Any], patience: float) -> bool:
    """Let a driver operation in flight finish; whether the connection can still be trusted."""
    await asyncio.wait({operation}, timeout=patience)
    if not operation.done():
        operation.cancel()
        await asyncio.wait({operation})
        return False
    return not operation.cancelled() and operation.exception() is None


async def _release(connection: AsyncConnection, healthy: bool) -> None:
    """Return a connection to the pool, or drop it when its state cannot be trusted."""
    with anyio.CancelScope(shield=True):
        try:
            if not healthy:
                await connection.invalidate()
            await connection.close()
        except Exception as error:
            logger.info("dropping a connection that failed to close: %s", _describe(error))


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def create_database(settings: Settings, url: str | None = None) -> Database:
    """A pool of `settings.pool_size` connections to `url` (a plain `postgresql://` DSN), by
    default `settings.database_url`, which a port's process has already resolved."""
    url = url or settings.database_url
    if not url:
        raise RuntimeError("settings.database_url is unset: resolve it before creating the app")

    async def connect() -> asyncpg.Connection:
        # JIT compiles a plan once its estimated cost is high (here from ~4M rows on), adding
        # milliseconds before the first row: a cost that streaming, which lives on its first
        # byte, should not pay for a plain index scan. The COPY floor runs with it off too.
        return await asyncpg.connect(
            url, timeout=settings.pool_timeout, server_settings={"jit": "off"}
        )

    engine = create_async_engine(
        "postgresql+asyncpg://",
        async_creator=connect,
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=settings.pool_timeout,
    )
    return Database(engine, settings)
