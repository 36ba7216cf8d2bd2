"""The `psycopg` data layer: psycopg 3 async on a psycopg-pool of its own, written as its users do.

- `fetch`: a cursor's `execute()` and `fetchall()`.
- `cursor`: a named (server-side) cursor in a transaction, read with `fetchmany()` in batches that
  grow as asyncpg's do (`batch_sizes`), one batch ahead of the consumer (`NamedCursorStream`).
- `copy`: `cursor.copy("COPY (<the body's query>) TO STDOUT ...")`, its rows gathered into
  chunks (`CopyChunks`).
- `keyset`: each page a cursor's `execute()` and `fetchall()` past the last id read, on a
  connection given back before the page is encoded (`KeysetStream`, shared/keyset.py).

The connections run in autocommit, as Django runs psycopg: a query is one round trip, where psycopg
would otherwise send `BEGIN` before it and the pool roll back after it; the named cursor opens the
transaction it needs. The session is asyncpg's (`jit=off`, `TimeZone=UTC`, the process's
application name), so the rows (timestamps in UTC) and the database's COPY bytes are asyncpg's too.

The guarantees are those of the asyncpg layer (shared/database.py): a source returns once the
database has answered, so a failure up to then is `DatabaseUnavailable` (a 503) and later
`StreamFailed`; every driver call runs in a task that a cancelled request lets finish rather than
interrupting psycopg mid-protocol; and a connection goes back to the pool idle, or is closed first
when it is not (psycopg-pool would roll back one returned inside a transaction, with a warning, and
close one returned mid-query).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import anyio
from psycopg import AsyncConnection, AsyncServerCursor, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from ..chunks import CHUNK_SIZE, ChunkGatherer
from ..failures import DatabaseUnavailable
from ..keyset import KeysetStream, open_pages
from ..ledger import ConnectionLedger
from ..pooling import Closing, answered, describe, settle
from ..read_ahead import ReadAheadStream
from ..row_stream import batch_sizes
from ..schema import COPY_OPTIONS, body_query, select_messages, select_page
from ..session import SERVER_SETTINGS, application_name
from ..settings import Settings
from . import SHARED_LAYERS
from .idle_check import closed_by_server

__all__ = ["CopyChunks", "NamedCursorStream", "PsycopgLayer", "create_layer"]

logger = logging.getLogger("streambench.database")

Connection = AsyncConnection[TupleRow]
Pool = AsyncConnectionPool[Connection]
Release = Callable[[Connection, bool], Awaitable[None]]
T = TypeVar("T")

# Each stream holds its connection alone, so one name serves them all.
CURSOR_NAME = "messages_export"


class PsycopgLayer:
    """A psycopg-pool and the four sources. Create with `create_layer(settings)`."""

    name = "psycopg"
    sources = SHARED_LAYERS[name].sources

    def __init__(self, pool: Pool, settings: Settings, ledger: ConnectionLedger) -> None:
        self._pool = pool
        self._settings = settings
        # Connections handed out and not yet given back: the pool counts the ones it holds and
        # the ones it is opening, not these.
        self._checked_out = 0
        self._ledger = ledger

    @property
    def ledger(self) -> ConnectionLedger:
        return self._ledger

    def pool_status(self) -> dict[str, int]:
        stats = self._pool.get_stats()
        return {
            "size": stats["pool_size"],
            "checked_out": self._checked_out,
            "idle": stats["pool_available"],
        }

    async def _checkout(self) -> Connection:
        """A pooled connection the server has not closed, or `DatabaseUnavailable` once the pool
        timeout has passed.

        psycopg does not read an idle connection's socket, so after a restart or failover the
        pool hands out connections the server has long closed. Its own `check` hook costs a round
        trip per checkout and backs off for a second after a second failed check; looking at the
        socket costs neither (`_closed_by_server`). A closed one is dropped (the pool opens
        another) and the next taken.
        """
        deadline = time.monotonic() + self._settings.pool_timeout
        while True:
            # psycopg-pool refuses a timeout of zero even with a connection ready.
            left = max(deadline - time.monotonic(), 0.001)
            try:
                with self._ledger.waiting():
                    connection = await self._pool.getconn(left)
            except (PoolTimeout, PoolClosed) as error:  # closed: the server is shutting down
                raise DatabaseUnavailable(describe(error)) from error
            self._checked_out += 1
            if not closed_by_server(connection):
                self._ledger.lent(connection)  # a closed one passed over is not lent
                return connection
            await self._release(connection, healthy=False)

    async def _release(self, connection: Connection, healthy: bool = True) -> None:
        """Give a connection back to the pool idle, or closed when it is not (or not `healthy`):
        the pool then opens a new one. Shielded: a cancelled request must still give it back."""
        with anyio.CancelScope(shield=True):
            try:
                if connection.pgconn.transaction_status != TransactionStatus.IDLE:
                    healthy = False
                if not healthy:
                    await connection.close()
                await self._pool.putconn(connection)
            except Exception as error:
                logger.info("dropping a connection that failed to close: %s", describe(error))
            finally:
                self._checked_out -= 1
                self._ledger.returned(connection)

    async def _finished(
        self,
        connection: Connection,
        operation: Coroutine[Any, Any, T],
        undo: Callable[[T], Awaitable[None]] | None = None,
    ) -> T:
        """`operation` on `connection`, in a task that a cancelled caller lets finish (up to the
        pool timeout), undoes (`undo`, e.g. end the transaction it began) and gives back."""
        task = asyncio.ensure_future(operation)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            with anyio.CancelScope(shield=True):
                healthy = await settle(task, self._settings.pool_timeout)
                if healthy and undo is not None:
                    try:
                        await undo(task.result())
                    except Exception as error:
                        logger.info("undoing after a cancel failed: %s", describe(error))
                        healthy = False
                await self._release(connection, healthy)
            raise

    async def _begin(
        self,
        use: Callable[[Connection], Coroutine[Any, Any, T]],
        undo: Callable[[T], Awaitable[None]] | None = None,
    ) -> tuple[Connection, T]:
        """A checked-out connection and what `use` made of it, tried once more on a fresh
        connection when the first was lost on the way (closed between the check and the query).
        Any failure is `DatabaseUnavailable`: nothing was sent to the client yet."""
        for attempt in (1, 2):
            connection = await self._checkout()
            try:
                return connection, await self._finished(connection, use(connection), undo)
            except Exception as error:
                await self._release(connection)
                if attempt == 1 and (connection.broken or connection.closed):
                    logger.info("retrying on a fresh connection: %s", describe(error))
                    continue
                raise DatabaseUnavailable(describe(error)) from error
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def fetch_all(self, columns: tuple[str, ...], rows: int) -> list[TupleRow]:
        """Every row in one round trip. Any failure is `DatabaseUnavailable`: nothing was sent yet."""

        async def fetch(connection: Connection) -> list[TupleRow]:
            async with connection.cursor() as cursor:
                await cursor.execute(_select(columns), {"rows": rows})
                return await cursor.fetchall()

        connection, records = await self._begin(fetch)
        await self._release(connection)
        return records

    async def open_stream(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> NamedCursorStream:
        """Check out a connection, begin a transaction, declare the named cursor and fetch the
        first batch, all before a response starts: a failure up to here is a 503. The caller
        owns the stream and must close it."""

        async def declare(
            connection: Connection,
        ) -> tuple[AsyncExitStack, AsyncServerCursor[TupleRow]]:
            declared = AsyncExitStack()
            cursor = connection.cursor(name=CURSOR_NAME)
            # Closed last, once the transaction has ended: psycopg then has nothing to send.
            declared.push_async_callback(cursor.close)
            try:
                # Rolled back, never committed: the stream only reads.
                await declared.enter_async_context(connection.transaction(force_rollback=True))
                await cursor.execute(_select(columns), {"rows": rows})
            except BaseException:
                await declared.aclose()
                raise
            return declared, cursor

        async def end(declared: tuple[AsyncExitStack, AsyncServerCursor[TupleRow]]) -> None:
            await declared[0].aclose()

        connection, (declared, cursor) = await self._begin(declare, end)
        stream = NamedCursorStream(
            connection, declared, cursor, batch_size, self._release, self._settings.pool_timeout
        )
        return await answered(stream, stream.first)

    async def open_copy(self, fmt: str, rows: int) -> CopyChunks:
        """Check out a connection and start `COPY (<the body's query>) TO STDOUT` for `rows` rows
        in format `fmt`, up to its first row (or its end): a failure up to here is
        `DatabaseUnavailable`. The caller must close the stream. The chunks hold the rows only:
        the encoder's head and tail are the caller's to add."""
        connection = await self._checkout()
        stream = CopyChunks(
            connection, _copy_statement(fmt, rows), self._release, self._settings.pool_timeout
        )
        return await answered(stream, stream.start)

    async def open_keyset(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> KeysetStream:
        return await open_pages(
            self.fetch_page, columns, rows, batch_size, self._settings.pool_timeout
        )

    async def fetch_page(self, columns: tuple[str, ...], after: int, limit: int) -> list[TupleRow]:
        """The first `limit` rows past id `after` in one round trip, on a connection given back
        before they are returned, retried as `fetch_all` is. Any failure is
        `DatabaseUnavailable`."""

        async def fetch(connection: Connection) -> list[TupleRow]:
            async with connection.cursor() as cursor:
                await cursor.execute(_page(columns), {"after": after, "rows": limit})
                return await cursor.fetchall()

        connection, records = await self._begin(fetch)
        await self._release(connection)
        return records

    async def ping(self) -> None:
        async def select_one(connection: Connection) -> None:
            with anyio.fail_after(self._settings.pool_timeout):
                await connection.execute("SELECT 1")

        connection, _ = await self._begin(select_one)
        await self._release(connection)

    async def dispose(self) -> None:
        await self._pool.close()


class NamedCursorStream(ReadAheadStream[list[TupleRow], list[TupleRow]]):
    """A named cursor on a checked-out connection inside a transaction, read in batches.

    As asyncpg's `RowStream`: one batch ahead (`ReadAheadStream`), batches from 100 rows
    doubling to `batch_size`. A short batch is the last: `fetchmany(n)` is one `FETCH FORWARD n`.
    """

    def __init__(
        self,
        connection: Connection,
        declared: AsyncExitStack,
        cursor: AsyncServerCursor[TupleRow],
        batch_size: int,
        release: Release,
        settle_timeout: float,
    ) -> None:
        super().__init__(settle_timeout)
        self._connection = connection
        self._declared = declared  # the transaction and the cursor, closed in that order
        self._cursor = cursor
        self._sizes = batch_sizes(batch_size)
        self._release = release

    async def _read(self) -> tuple[list[TupleRow], bool]:
        size = next(self._sizes)
        batch = await self._cursor.fetchmany(size)
        return batch, len(batch) < size

    async def fetch(self) -> list[TupleRow]:
        """The next batch: at most `batch_size` rows, empty once the cursor is exhausted."""
        return await self._take() or []

    async def _end(self, healthy: bool) -> None:
        # Ending the transaction closes the cursor. psycopg refuses a plain rollback while the
        # transaction's block is open, and the pool would roll back a connection returned
        # inside it, with a warning.
        try:
            await self._declared.aclose()
        except Exception as error:
            logger.info("ending the cursor's transaction failed: %s", describe(error))
            healthy = False
        await self._release(self._connection, healthy)


class _Stopped(Exception):
    """Raised inside psycopg's `copy()` block when the reader has gone: psycopg cancels the
    COPY on the way out and reads what the server had already sent."""


class CopyChunks(Closing):
    """A running `COPY ... TO STDOUT` on a checked-out connection, read as chunks of about
    `chunk_size` bytes.

    psycopg's `copy()` hands over one row at a time. A task reads them as psycopg's users do
    (`async for row in copy`) and gathers them into chunks as asyncpg's `CopyStream` does with
    its pieces (`ChunkGatherer`: the first row a chunk of its own, the reader woken once per
    chunk, the task waiting while `CHUNKS_AHEAD` chunks are unread).

    `aclose()` before the end stops the task at its next chunk: it leaves the `copy()` block
    with an exception, psycopg cancels the COPY and reads the rest, and the connection goes back
    idle. A task that does not stop within the settle timeout is cancelled and its connection
    closed.
    """

    def __init__(
        self,
        connection: Connection,
        statement: sql.Composed,
        release: Release,
        settle_timeout: float,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self._connection = connection
        self._statement = statement
        self._release = release
        self._settle_timeout = settle_timeout
        self._chunks = ChunkGatherer(chunk_size)
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        """Start the COPY and wait for its first row, or its end; raise what it raised."""
        self._task = asyncio.ensure_future(self._run())
        await self._chunks.first()

    async def _run(self) -> None:
        chunks = self._chunks
        gathering = bytearray()  # the chunk being gathered
        try:
            async with (
                self._connection.cursor() as cursor,
                cursor.copy(self._statement) as copy,
            ):
                async for row in copy:
                    # Copied at once: a row's memoryview holds a buffer of libpq's, thousands
                    # of them alive per chunk cost the garbage collector more than the copy.
                    gathering += row
                    if len(gathering) >= chunks.wanted:
                        # bytes, never a bytearray or a memoryview: a framework that is not
                        # pure ASGI (Django's make_bytes) would send its repr.
                        chunk = bytes(gathering)
                        gathering.clear()
                        if not await chunks.hand_over(chunk):
                            raise _Stopped
        except _Stopped:
            pass
        except Exception as error:
            chunks.fail(error)
        else:
            chunks.finish(bytes(gathering))

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks.chunks()

    async def aclose(self) -> None:
        """Stop the COPY if it still runs and give the connection back (or close it)."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            healthy = True
            task = self._task
            if task is not None:
                if not task.done():
                    self._chunks.stop()
                    await asyncio.wait({task}, timeout=self._settle_timeout)
                if not task.done():
                    logger.info("COPY did not stop within %.1f s", self._settle_timeout)
                    task.cancel()
                    await asyncio.wait({task})
                healthy = not task.cancelled() and not self._chunks.failed
            await self._release(self._connection, healthy)


@functools.cache
def _select(columns: tuple[str, ...]) -> str:
    """The query as psycopg runs it, with `%(rows)s` standing for the row limit."""
    query = select_messages(columns).compile(dialect=psycopg_dialect.dialect())  # type: ignore[no-untyped-call]
    return str(query)


@functools.cache
def _page(columns: tuple[str, ...]) -> str:
    """A keyset page as psycopg runs it: `%(after)s` the last id read, `%(rows)s` its limit."""
    query = select_page(columns).compile(dialect=psycopg_dialect.dialect())  # type: ignore[no-untyped-call]
    return str(query)


def _copy_statement(fmt: str, rows: int) -> sql.Composed:
    """`COPY (<the body's query>) TO STDOUT (<COPY_OPTIONS[fmt]>)`, the options written as
    asyncpg's `copy_from_query` writes them: `NAME 'value'`."""
    options = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.SQL(name.upper()), sql.Literal(value))
        for name, value in COPY_OPTIONS[fmt].items()
    )
    return sql.SQL("COPY ({}) TO STDOUT ({})").format(sql.SQL(body_query(fmt, rows)), options)


def _session(settings: Settings) -> dict[str, Any]:
    """The connection keywords: autocommit, and the session asyncpg's pool sets up."""
    options = " ".join(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items())
    return {
        "autocommit": True,
        "application_name": application_name(os.getpid()),
        "options": options,
        # libpq counts whole seconds and takes less than 2 as 2.
        "connect_timeout": max(2, math.ceil(settings.pool_timeout)),
    }


async def create_layer(settings: Settings) -> PsycopgLayer:
    """A psycopg-pool of `settings.pool_size` connections to `settings.database_url`, opening in
    the background: a server starts without its database and answers 503 until it is there."""
    if not settings.database_url:
        raise RuntimeError("settings.database_url is unset: resolve it before creating the app")
    if settings.log_level.upper() != "DEBUG":
        # psycopg-pool logs every checkout and return at INFO: three lines a request.
        logging.getLogger("psycopg.pool").setLevel(logging.WARNING)
    pool: Pool = AsyncConnectionPool(
        settings.database_url,
        kwargs=_session(settings),
        min_size=settings.pool_size,
        max_size=settings.pool_size,
        timeout=settings.pool_timeout,
        open=False,
        name="streambench",
    )
    await pool.open(wait=False)
    return PsycopgLayer(pool, settings, ConnectionLedger())
