"""Data access: SQLAlchemy owns the pool and compiles the queries, asyncpg runs the hot path.

Four ways to read the rows, the contract's sources: `fetch_all` (one round trip), `open_stream`
(a server-side cursor read in batches, `RowStream`), `open_copy` (the database writes the body
itself, `CopyStream`) and `open_keyset` (each batch a short query of its own, `KeysetStream`).
Two floors to measure them against: `copy_to` (the rows' ids alone) and `copy_body` (the exact
body), both `COPY ... TO STDOUT`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from .copy_stream import CopyStream
from .encoders import ENCODERS, Row
from .failures import DatabaseUnavailable, StreamFailed
from .keyset import KeysetStream, open_pages
from .layers import SHARED_LAYERS
from .ledger import ConnectionLedger
from .pooling import answered as _answered
from .pooling import describe as _describe
from .pooling import release as _release
from .pooling import settle as _settle
from .row_stream import RowStream
from .schema import COPY_OPTIONS, body_query, compiled_page, compiled_select, literal_select
from .session import SERVER_SETTINGS, application_name
from .settings import Settings

__all__ = [
    "SERVER_SETTINGS",
    "CopyStream",
    "Database",
    "DatabaseUnavailable",
    "KeysetStream",
    "RowStream",
    "StreamFailed",
    "application_name",
]

logger = logging.getLogger("streambench.database")
T = TypeVar("T")


class _ConnectionGone(Exception):
    """Opening a stream failed because its connection had gone: worth one more try."""


class Database:
    """A connection pool and the four sources: the `asyncpg` data layer (shared/layers).
    Create with `create_database(settings, url)`."""

    name = "asyncpg"
    sources = SHARED_LAYERS[name].sources

    def __init__(self, engine: AsyncEngine, settings: Settings, ledger: ConnectionLedger) -> None:
        self._engine = engine
        self._settings = settings
        self._ledger = ledger  # the engine's pool keeps it (`asyncpg_engine`)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def ledger(self) -> ConnectionLedger:
        return self._ledger

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
        # Shielded: a request cancelled while the pool opens a new connection (an ASGI client
        # gone away) would interrupt asyncpg mid-handshake, and asyncpg then leaves a future's
        # exception unretrieved (its SSL request's `on_data`, connect_utils.py), logged at ERROR.
        # Let the connect finish, then give the connection back.
        opening = asyncio.ensure_future(self._connect())
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            with anyio.CancelScope(shield=True):
                if await _settle(opening, self._settings.pool_timeout):
                    await _release(opening.result()[0], healthy=True)
            raise

    async def _connect(self) -> tuple[AsyncConnection, asyncpg.Connection]:
        try:
            with self._ledger.waiting():
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
        stream = RowStream(connection, transaction, cursor, batch_size, self._settings.pool_timeout)
        # The first batch too: until the database has answered a fetch, a failure is a 503.
        return await _answered(stream, stream.first)

    async def open_copy(self, fmt: str, rows: int) -> CopyStream:
        """Check out a connection and start `COPY (<the body's query>) TO STDOUT` for `rows` rows
        in format `fmt`, up to its first piece of output (or its end): a failure up to here is
        `DatabaseUnavailable`, before any byte of a response. The caller must close the stream.
        The chunks hold the rows only: the encoder's head and tail are the caller's to add."""
        connection, driver = await self._checkout()
        stream = CopyStream(
            connection,
            driver,
            body_query(fmt, rows),
            COPY_OPTIONS[fmt],
            self._settings.pool_timeout,
        )
        return await _answered(stream, stream.start)

    async def open_keyset(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> KeysetStream:
        return await open_pages(
            self.fetch_page, columns, rows, batch_size, self._settings.pool_timeout
        )

    async def fetch_page(self, columns: tuple[str, ...], after: int, limit: int) -> list[Row]:
        """The first `limit` rows past id `after` in one round trip, on a connection given back
        before they are returned, retried as `fetch_all` is. Any failure is
        `DatabaseUnavailable`."""

        async def fetch(driver: asyncpg.Connection) -> list[Row]:
            records: list[Row] = await driver.fetch(compiled_page(columns), after, limit)
            return records

        return await self._first_use(fetch)

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

    async def copy_body(self, fmt: str, rows: int, sink: Callable[[bytes], Awaitable[None]]) -> int:
        """The body floor: the database writing the exact body of `rows` rows in format `fmt`
        (`COPY (<the body's query>) TO STDOUT`, the encoder's head and tail around it), each
        piece awaited by `sink`, straight from the driver. Returns the body's length."""
        encoder = ENCODERS[fmt]
        size = 0

        async def counted(piece: bytes) -> None:
            nonlocal size
            size += len(piece)
            await sink(piece)

        connection, driver = await self._checkout()
        healthy = False
        try:
            if encoder.head():
                await counted(encoder.head())
            await driver.copy_from_query(body_query(fmt, rows), output=counted, **COPY_OPTIONS[fmt])
            if encoder.tail():
                await counted(encoder.tail())
            healthy = True
        finally:
            await _release(connection, healthy)
        return size

    async def server_version(self) -> str:
        connection, driver = await self._checkout()
        try:
            version: str = await driver.fetchval("SHOW server_version")
            return version
        finally:
            await _release(connection, healthy=True)

    async def dispose(self) -> None:
        await self._engine.dispose()


# How long a command waits for the database to answer before saying it cannot be reached.
DATABASE_PATIENCE_SECONDS = 3.0


def database_problem(url: str, patience: float = DATABASE_PATIENCE_SECONDS) -> str | None:
    """None when a connection to `url` opens within `patience`, else why not, in one line: what
    a command checks before its work, so that a database that is down is one line, not a
    traceback minutes later."""

    async def probe() -> None:
        connection = await asyncpg.connect(url, timeout=patience)
        await connection.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), patience + 1.0))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        text = str(error).strip()
        return f"{type(error).__name__}: {text.splitlines()[0] if text else 'no detail'}"
    return None


async def create_database(settings: Settings, url: str | None = None) -> Database:
    """A pool of `settings.pool_size` connections to `url` (a plain `postgresql://` DSN), by
    default `settings.database_url`, which a port's process has already resolved."""
    ledger = ConnectionLedger()
    return Database(asyncpg_engine(settings, url, ledger=ledger), settings, ledger)


def asyncpg_engine(
    settings: Settings, url: str | None = None, *, ledger: ConnectionLedger
) -> AsyncEngine:
    """SQLAlchemy's pool of `settings.pool_size` asyncpg connections to `url` (default
    `settings.database_url`), each opened by asyncpg itself from the plain DSN, so sockets and
    `sslmode` resolve as asyncpg resolves them, with the session every layer opens
    (shared/session.py: JIT off, UTC, the process's application_name). Every connection the
    pool lends and takes back is kept in `ledger` (`_keep_ledger`); the waits for one are the
    callers' to time, around `connect()`."""
    url = url or settings.database_url
    if not url:
        raise RuntimeError("settings.database_url is unset: resolve it before creating the app")

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(
            url,
            timeout=settings.pool_timeout,
            server_settings={**SERVER_SETTINGS, "application_name": application_name(os.getpid())},
        )

    engine = create_async_engine(
        "postgresql+asyncpg://",
        async_creator=connect,
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=settings.pool_timeout,
    )
    _keep_ledger(engine, ledger)
    return engine


def _keep_ledger(engine: AsyncEngine, ledger: ConnectionLedger) -> None:
    """The pool's checkouts and returns in `ledger`, keyed by the pool's record of each
    connection (its slot, which outlives a connection replaced in it).

    In SQLAlchemy 2.1.9 (pool/base.py) `checkout` fires once a connection has passed every
    earlier `checkout` listener (one refused there is not lent), and `checkin` whenever a
    checked-out record goes back: closed, invalidated (`_checkin` runs after the invalidation) or
    failed on the way (`_checkin_failed`, which also checks in records never lent: the ledger
    ignores those). A connection garbage-collected without being returned is `detach`ed
    instead, with no `checkin`."""

    def lent(dbapi_connection: object, record: object, proxy: object) -> None:
        ledger.lent(record)

    def returned(dbapi_connection: object, record: object) -> None:
        ledger.returned(record)

    event.listen(engine.sync_engine, "checkout", lent)
    event.listen(engine.sync_engine, "checkin", returned)
    event.listen(engine.sync_engine, "detach", returned)
