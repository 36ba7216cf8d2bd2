"""The `django-orm` data layer: the rows read through Django's ORM, as a Django view reads them.

- `fetch`: `[message async for message in queryset]`, the async iteration Django documents for
  async views (one `sync_to_async` call fetches the whole queryset: one query, every row a
  `Message`); `await sync_to_async(list)(queryset)` does the same in other words.
- `cursor`: `queryset.aiterator(chunk_size=batch)`, its messages gathered into batches of `batch`.
- `keyset`: each page `[message async for message in ...filter(id__gt=after).order_by("id")[:n]]`,
  read as `fetch` reads, in a thread and on a connection of its own, given back before the page is
  serialized (shared/keyset.py).

`queryset` is `Message.objects.only(*columns).order_by("id")[:rows]`: the encoder's columns and
the other layers' SQL. Every row becomes a `Message` (impl_django/models.py) whose attributes are
read into a tuple in the encoder's column order, the serializer's work in an application;
`values_list(*columns)` would skip the instances and cost less, but the question is what the ORM
costs as applications use it. No `copy`: an ORM has none.

Threads. Django's ORM is synchronous; its async API runs each database call in a thread through
asgiref's `sync_to_async`, and a Django connection belongs to the thread that opened it
(`django.db.connections` is per thread). Each read here gets a thread of its own, a one-worker
executor that asgiref's `ThreadSensitiveContext(executor=...)` sends Django's calls to (Django's
ASGI handler likewise gives each request one thread): the thread owns the read's connection and
every use of it, the release included, runs there in order. A call in flight in a thread cannot
be cancelled: a cancelled request only stops waiting for it (asgiref's `SyncToAsync` lets the
thread run on), and the release is queued behind it, never awaited into being, so a client gone
away leaks nothing even when its request is cancelled twice.

The pool is Django's own (impl_django/database.py). Each read's thread checks a connection out
first, as Django does at its first query (`ensure_connection`), passing over any the server has
closed (`_check_out`) and waiting at most the pool timeout (`PoolTimeout`: `DatabaseUnavailable`,
a 503); Django's `close()` gives it back.

`aiterator()` on PostgreSQL reads a server-side cursor (unless `DISABLE_SERVER_SIDE_CURSORS`, which
reads the whole result into memory at the first chunk). Outside a transaction, as async code
runs (`transaction.atomic` is synchronous only), Django declares it `WITH HOLD`
(django/db/backends/postgresql/base.py, `create_cursor`), and PostgreSQL runs the whole query at
the `DECLARE` and keeps its result until the cursor is closed or the session ends: the first
batch waits for every row, and each later batch is one `FETCH` from that result.

Ending early. `aiterator()` keeps its cursor in a synchronous generator of its own and offers no
way to close it. Left alone, the generator is closed by whichever thread drops it last, the event
loop's when the stream is closed between batches: a `CLOSE` sent from the event loop (blocking it)
on a connection perhaps given back to the pool and serving another request by then. So a stream
closed before its end closes its connection in its own thread, which ends the session and the held
cursor with it, and gives it to the pool, which opens another (psycopg-pool logs a warning as it
discards the closed one); only then is `aiterator()`'s generator closed, with no connection left
for it to use. A stream read to its end had its cursor closed by Django and gives the connection
back for the next request. Each batch after the first is read while the previous one is encoded
and sent, as every layer does (shared/read_ahead.py); a view would not, it is the benchmark's.

Django's settings are process-wide: one process serves one Django app on one database. A second
app in the same process with other database settings is refused at startup (`create_layer`),
not supported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import anyio
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings as django_settings
from django.db import connections
from psycopg.pq import TransactionStatus

from shared.contract import not_offered
from shared.encoders import Row
from shared.failures import DatabaseUnavailable
from shared.keyset import KeysetStream, open_pages
from shared.layers import layers_for
from shared.layers.idle_check import closed_by_server
from shared.ledger import ConnectionLedger
from shared.pooling import answered, describe
from shared.read_ahead import ReadAheadStream
from shared.settings import Settings

from .database import DATABASE, database_settings
from .port import PORT

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

__all__ = ["DjangoOrmLayer", "MessageStream", "create_layer", "serializer"]

logger = logging.getLogger("streambench.database")
T = TypeVar("T")


def serializer(columns: tuple[str, ...]) -> Callable[[Sequence[Any]], list[Row]]:
    """What an export view does with the messages: read the attributes it writes, in order."""
    read = attrgetter(*columns)
    if len(columns) == 1:
        return lambda messages: [(read(message),) for message in messages]
    return lambda messages: [read(message) for message in messages]


class _Worker:
    """One thread owning one Django connection: the ORM calls of one read, in order, then the
    connection's release. The thread ends after the release."""

    def __init__(self, pool_size: int, ledger: ConnectionLedger) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="django-orm", initializer=self._bind
        )
        self._pool_size = pool_size
        self._ledger = ledger
        self._connection: Any = None  # the thread's DatabaseWrapper, once the thread runs
        self._checked_out = False
        self._released: asyncio.Future[None] | None = None

    def _bind(self) -> None:
        self._connection = connections[DATABASE]

    @property
    def holding(self) -> bool:
        """Whether the thread holds a pooled connection (read from any thread)."""
        connection = self._connection
        return connection is not None and connection.connection is not None

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, Django's async API, with its `sync_to_async` calls sent to this thread, on
        a connection the server has not closed (checked out before the first call)."""
        async with ThreadSensitiveContext(executor=self._executor):
            if not self._checked_out:
                self._checked_out = True
                await sync_to_async(self._check_out)()
            return await call()

    # In the thread, where the connection is taken and given back whether or not anyone still
    # awaits it (a cancelled request lets the thread run on): the ledger sees the real hold.
    def _check_out(self) -> None:
        with self._ledger.waiting():
            _check_out(self._pool_size)
        self._ledger.lent(self)

    def _give_back(self, discard: bool) -> None:
        try:
            _release_connection(discard)
        finally:
            self._ledger.returned(self)

    def release(self, discard: bool) -> asyncio.Future[None]:
        """Queue the connection's release behind whatever the thread runs now: given back to the
        pool, or closed first when `discard` (the pool then replaces it). Not cancellable."""
        if self._released is None:
            released = self._executor.submit(self._give_back, discard)
            self._executor.shutdown(wait=False)  # the thread ends once the release has run
            self._released = asyncio.wrap_future(released)
        return self._released

    def interrupt(self) -> None:
        """Ask the server to cancel what the thread's connection is running (libpq's cancel
        request, which any thread may send); blocking, at most a few seconds."""
        connection = self._connection
        raw = None if connection is None else connection.connection
        if raw is not None:
            try:
                raw.cancel_safe(timeout=5.0)
            except Exception as error:
                logger.info("cancelling a query failed: %s", describe(error))


def _check_out(pool_size: int) -> None:
    """This thread's connection from the pool, one the server has not closed.

    After a restart or a failover every pooled connection is dead, and psycopg does not read an
    idle connection's socket to know it. The pool's own check (`CONN_HEALTH_CHECKS`) costs a round
    trip per checkout and, from the second failed check on, waits a second, then two: a request
    meeting the pool's dead connections one after the other would time out. Looking at the socket
    costs neither: a closed connection is given back (the pool opens another) and the next taken.
    """
    connection = connections[DATABASE]
    for _ in range(pool_size):
        connection.ensure_connection()
        if not closed_by_server(connection.connection):
            return
        connection.connection.close()
        connection.close()
    connection.ensure_connection()  # every idle one was dead: this one is new


def _release_connection(discard: bool) -> None:
    connection = connections[DATABASE]  # this thread's
    raw = connection.connection
    try:
        # Not idle: inside a transaction, mid-query or broken; psycopg-pool would roll back the
        # first with a warning. Closed, the pool replaces it.
        if raw is not None and (discard or raw.info.transaction_status != TransactionStatus.IDLE):
            raw.close()
        connection.close()  # back to the pool
    except Exception as error:
        logger.info("dropping a connection that failed to close: %s", describe(error))


class DjangoOrmLayer:
    """Django's ORM as a `DataLayer` (shared/layers). Create with `create_layer(settings)`."""

    name = "django-orm"
    sources = layers_for(PORT.layers)[name].sources

    def __init__(
        self, pool: ConnectionPool[Any], model: Any, settings: Settings, ledger: ConnectionLedger
    ) -> None:
        self._pool = pool
        self._model = model
        self._pool_size = settings.pool_size
        self._patience = settings.pool_timeout
        self._workers: set[_Worker] = set()
        self._ledger = ledger

    @property
    def ledger(self) -> ConnectionLedger:
        return self._ledger

    def _queryset(self, columns: tuple[str, ...], rows: int) -> Any:
        return self._model.objects.only(*columns).order_by("id")[:rows]

    def _worker(self) -> _Worker:
        worker = _Worker(self._pool_size, self._ledger)
        self._workers.add(worker)
        return worker

    async def _released(self, worker: _Worker, discard: bool) -> bool:
        """Release `worker`'s connection and wait for it (at most the pool timeout): whether it
        was released by then. Cancelling the wait leaves the release to run."""
        released = worker.release(discard)
        released.add_done_callback(lambda _: self._workers.discard(worker))
        with anyio.CancelScope(shield=True):
            done, _ = await asyncio.wait({released}, timeout=self._patience)
        return bool(done)

    def pool_status(self) -> dict[str, int]:
        stats = self._pool.get_stats()
        return {
            "size": stats["pool_size"],
            "checked_out": sum(worker.holding for worker in list(self._workers)),
            "idle": stats["pool_available"],
        }

    async def _read(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` in a thread of its own, its connection released after, whatever happened.
        Any failure is `DatabaseUnavailable`: nothing was sent to the client yet."""
        worker = self._worker()
        failed = False
        try:
            return await worker.run(call)
        except Exception as error:
            failed = True
            raise DatabaseUnavailable(describe(error)) from error
        finally:
            # Cancelled, the call goes on in its thread; the release after it keeps the
            # connection if the call left it idle.
            await self._released(worker, discard=failed)

    async def fetch_all(self, columns: tuple[str, ...], rows: int) -> list[Row]:
        """Every message in one query, then serialized."""
        queryset = self._queryset(columns, rows)

        async def every_message() -> list[Any]:
            return [message async for message in queryset]

        return serializer(columns)(await self._read(every_message))

    async def open_stream(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> MessageStream:
        """`aiterator()` over the queryset with its first batch read: a failure up to here
        (no connection, the database down) is `DatabaseUnavailable`, before any byte of a
        response. The caller owns the stream and must close it."""
        messages = self._queryset(columns, rows).aiterator(chunk_size=batch_size)
        stream = MessageStream(
            self._worker(),
            messages,
            batch_size,
            serializer(columns),
            self._released,
            self._patience,
        )
        return await answered(stream, stream.first)

    async def open_keyset(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> KeysetStream:
        return await open_pages(self.fetch_page, columns, rows, batch_size, self._patience)

    async def fetch_page(self, columns: tuple[str, ...], after: int, limit: int) -> list[Row]:
        """The first `limit` messages past id `after` in one query, read as `fetch_all` reads
        them, their connection released before they are serialized."""
        queryset = self._model.objects.only(*columns).filter(id__gt=after).order_by("id")[:limit]

        async def page() -> list[Any]:
            return [message async for message in queryset]

        return serializer(columns)(await self._read(page))

    async def open_copy(self, fmt: str, rows: int) -> NoReturn:
        # An ORM loads objects, it has no COPY; `shared.bodies` refuses the source before here.
        raise not_offered("copy", self.name, self.sources)

    async def ping(self) -> None:
        def select_one() -> None:
            with connections[DATABASE].cursor() as cursor:
                cursor.execute("SELECT 1")

        await self._read(sync_to_async(select_one))

    async def dispose(self) -> None:
        def close_pool() -> None:
            connections[DATABASE].close_pool()

        await asyncio.to_thread(close_pool)


class MessageStream(ReadAheadStream[list[Any], list[Row]]):
    """`aiterator()` read in batches of `batch_size` messages, handed out as rows.

    One batch ahead (shared/read_ahead.py): each batch is gathered in a task of its own, which a
    cancelled consumer leaves to finish in its thread, and `aclose()` waits for it (asking the
    server to cancel a read that outlives the patience) before releasing the connection.
    """

    def __init__(
        self,
        worker: _Worker,
        messages: AsyncIterator[Any],
        batch_size: int,
        to_rows: Callable[[Sequence[Any]], list[Row]],
        released: Callable[[_Worker, bool], Awaitable[bool]],
        patience: float,
    ) -> None:
        super().__init__(patience)
        self._worker = worker
        self._messages = messages
        self._batch_size = batch_size
        self._to_rows = to_rows
        self._released = released
        # aiterator() has ended: Django has closed the cursor. Set by the read itself, not when
        # its batch is taken: a stream closed with its last batch unread keeps its connection.
        self._ended = False

    async def _read(self) -> tuple[list[Any], bool]:
        return await self._worker.run(self._gather), self._ended

    async def _gather(self) -> list[Any]:
        # aiterator() reads `chunk_size` (= `batch_size`) rows per call into its thread, then
        # hands them out one by one: a batch is one call.
        batch: list[Any] = []
        while len(batch) < self._batch_size:
            try:
                batch.append(await anext(self._messages))
            except StopAsyncIteration:
                self._ended = True
                break
        return batch

    async def fetch(self) -> list[Row]:
        """The next batch: at most `batch_size` rows, empty once the messages have ended."""
        messages = await self._take()
        return [] if messages is None else self._to_rows(messages)

    async def _end(self, healthy: bool) -> None:
        # The connection is released (closed unless the messages have ended) before aiterator()
        # is closed: see "Ending early" above.
        if not await self._released(self._worker, not (self._ended and healthy)):
            # Still busy in a call that even a cancel request did not end: the release runs
            # after it; aiterator()'s generator is left to that thread, which holds it.
            logger.info("a database call outlived its stream; its connection closes after it")
            return
        aclose = getattr(self._messages, "aclose", None)
        if aclose is not None:
            await aclose()

    async def _settle(self, pending: asyncio.Future[tuple[list[Any], bool]]) -> bool:
        """Wait for the read in flight, asking the server to cancel it past the patience;
        whether it ended with its batch."""
        done, _ = await asyncio.wait({pending}, timeout=self._patience)
        if not done:
            logger.info(
                "a read outlived its stream by %.1f s: cancelling its query", self._patience
            )
            await asyncio.to_thread(self._worker.interrupt)
            done, _ = await asyncio.wait({pending}, timeout=self._patience)
        if not done:
            pending.cancel()  # stop waiting; the thread finishes the call, then the release
            return False
        return not pending.cancelled() and pending.exception() is None


async def create_layer(settings: Settings) -> DjangoOrmLayer:
    """Django's pool of `settings.pool_size` connections, opening in the background: a server
    starts without its database and answers 503 until it is there.

    Django must be set up already, by the port's app (impl_django/app.py), with these settings'
    database: Django's settings are the process's, configured once."""
    if not django_settings.configured:
        raise RuntimeError(
            "Django is not configured: the django-orm layer runs in the Django port's app "
            "(impl_django.app.create_app)"
        )
    configured = django_settings.DATABASES.get(DATABASE) or {}
    wanted = database_settings(settings)
    differing = sorted(key for key, value in wanted.items() if configured.get(key) != value)
    if differing:
        raise RuntimeError(
            "Django's database settings are the process's and were set for another server "
            f"(differing: {', '.join(differing)}): run one Django app per process"
        )
    if settings.log_level.upper() != "DEBUG":
        # psycopg-pool logs every checkout and return at INFO: three lines a request.
        logging.getLogger("psycopg.pool").setLevel(logging.WARNING)
    from .models import Message  # once Django's apps are ready

    def open_pool() -> ConnectionPool[Any]:
        pool: ConnectionPool[Any] = connections[DATABASE].pool
        pool.open(wait=False)
        return pool

    return DjangoOrmLayer(await asyncio.to_thread(open_pool), Message, settings, ConnectionLedger())
