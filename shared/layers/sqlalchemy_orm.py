"""The `sqlalchemy-orm` data layer: an `AsyncSession` loading mapped `Message` objects.

- `fetch`: `(await session.scalars(select(Message)...)).all()`.
- `cursor`: `await session.stream_scalars(select(Message)..., execution_options={"yield_per":
  batch})` read with `partitions()`.
- `keyset`: each page `(await session.scalars(select(Message).where(Message.id > after)...
  .limit(n))).all()` in a session of its own, closed before the page is serialized
  (shared/keyset.py).

Every row becomes a `Message` (shared/layers/orm_model.py), as in an application, and its
serializer then reads the attributes the format needs into a tuple in the encoder's column
order: both steps are what the ORM costs, on top of SQLAlchemy Core's (see
shared/layers/sqlalchemy_core.py for what the asyncpg dialect's streaming costs). The statement
loads the encoder's columns alone (`load_only`), so the SQL is the other layers' (the same
columns, order and limit; the limit cast to INTEGER, not BIGINT) and the difference is the
objects. Loading every column instead costs the same here (100,000 text rows streamed).

The identity map: each object is registered in the session's identity map, which holds its
state weakly (`WeakInstanceDict`; SQLAlchemy 2.1.9 orm/identity.py, orm/state.py). On a
server-side cursor the ORM builds objects a partition at a time (orm/loading.py: `yield_per`, or
the size `partitions()` asks for), and an object nothing else references (not modified) leaves
the map when its partition is dropped. So the map holds about the partitions alive at once (the
one read ahead and the one being serialized) without the `expunge` an application would not
write (tests/test_sqlalchemy_layers.py counts them). `fetch` holds every object at once: beside
the objects themselves, the cyclic garbage collector's passes over them cost as much again or
more (100,000 ids loaded as messages: 0.85 to 1.3 s with the collector on, 0.53 s with it off, single
runs on a shared two-core machine), and closing its session detaches them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from operator import attrgetter
from typing import NoReturn

import anyio
from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncScalarResult, AsyncSession, async_sessionmaker
from sqlalchemy.orm import load_only

from ..contract import not_offered
from ..encoders import Row
from ..failures import DatabaseUnavailable
from ..keyset import KeysetStream, open_pages
from ..ledger import ConnectionLedger
from ..pooling import answered, describe
from ..settings import Settings
from . import SHARED_LAYERS
from ._sqlalchemy import (
    PartitionStream,
    create_engine,
    logger,
    pool_status,
    retried_once,
    shielded,
    waited,
)
from .orm_model import Message

__all__ = ["OrmLayer", "create_layer", "select_messages"]


def select_messages(columns: tuple[str, ...], rows: int) -> Select[Message]:
    """The first `rows` messages by id with the attributes `columns` loaded, the others
    deferred (the serializer never reads them)."""
    attributes = [getattr(Message, name) for name in columns]
    return select(Message).options(load_only(*attributes)).order_by(Message.id).limit(rows)


def serializer(columns: tuple[str, ...]) -> Callable[[Sequence[Message]], list[Row]]:
    """What an application's export would do with the objects: read the attributes it writes."""
    read = attrgetter(*columns)
    if len(columns) == 1:
        return lambda messages: [(read(message),) for message in messages]
    return lambda messages: [read(message) for message in messages]


class OrmLayer:
    """SQLAlchemy ORM's `DataLayer` (shared/layers): an `async_sessionmaker` on an engine."""

    name = "sqlalchemy-orm"
    sources = SHARED_LAYERS[name].sources

    def __init__(self, engine: AsyncEngine, settings: Settings, ledger: ConnectionLedger) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._patience = settings.pool_timeout
        self._ledger = ledger  # the engine's pool keeps it (`create_engine`)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def ledger(self) -> ConnectionLedger:
        return self._ledger

    async def _session(self) -> AsyncSession:
        """A session holding its connection: the checkout happens here, where it can be a 503."""
        session = self._sessions()

        async def give_back(_: object) -> None:
            await end_session(session, healthy=True)

        try:
            await shielded(waited(session.connection(), self._ledger), give_back, self._patience)
        except DatabaseUnavailable:
            await end_session(session, healthy=True)  # it holds no connection
            raise
        return session

    async def fetch_all(self, columns: tuple[str, ...], rows: int) -> Sequence[Row]:
        """Every message in one round trip, then serialized. Any failure is
        `DatabaseUnavailable`: nothing was sent yet."""
        messages = await retried_once(partial(self._messages, select_messages(columns, rows)))
        return serializer(columns)(messages)

    async def _messages(self, statement: Select[Message]) -> Sequence[Message]:
        """`statement`'s messages in one round trip, in a session closed before they are
        returned. Any failure is `DatabaseUnavailable`."""
        session = await self._session()
        healthy = False
        try:
            messages = (await session.scalars(statement)).all()
            healthy = True
            return messages
        except Exception as error:
            raise DatabaseUnavailable(describe(error)) from error
        finally:
            await end_session(session, healthy)

    async def open_stream(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> PartitionStream:
        """Streamed messages with the first partition read: a failure up to here is
        `DatabaseUnavailable`, before any byte. The caller must close it (`aclose()`)."""
        return await retried_once(partial(self._open_stream, columns, rows, batch_size))

    async def _open_stream(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> PartitionStream:
        session = await self._session()
        statement = select_messages(columns, rows)

        async def opening() -> AsyncScalarResult[Message]:
            return await session.stream_scalars(
                statement, execution_options={"yield_per": batch_size}
            )

        stream = PartitionStream(
            opening,
            batch_size,
            partial(end_session, session),
            self._patience,
            to_rows=serializer(columns),
        )
        return await answered(stream, stream.first)

    async def open_keyset(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> KeysetStream:
        return await open_pages(self.fetch_page, columns, rows, batch_size, self._patience)

    async def fetch_page(self, columns: tuple[str, ...], after: int, limit: int) -> Sequence[Row]:
        """The first `limit` messages past id `after` in one round trip, in a session closed
        before they are serialized, retried as `fetch_all` is. Any failure is
        `DatabaseUnavailable`."""
        statement = select_messages(columns, limit).where(Message.id > after)
        messages = await retried_once(partial(self._messages, statement))
        return serializer(columns)(messages)

    async def open_copy(self, fmt: str, rows: int) -> NoReturn:
        # An ORM loads objects, it has no COPY; `shared.bodies` refuses the source before here.
        raise not_offered("copy", self.name, self.sources)

    async def ping(self) -> None:
        await retried_once(self._ping)

    async def _ping(self) -> None:
        session = await self._session()
        healthy = False
        try:
            with anyio.fail_after(self._patience):
                await session.execute(text("SELECT 1"))
            healthy = True
        except Exception as error:
            raise DatabaseUnavailable(describe(error)) from error
        finally:
            await end_session(session, healthy)

    def pool_status(self) -> dict[str, int]:
        return pool_status(self._engine)

    async def dispose(self) -> None:
        await self._engine.dispose()


async def end_session(session: AsyncSession, healthy: bool) -> None:
    """Close the session: its transaction rolls back and its connection goes back to the pool,
    or is dropped when its state cannot be trusted. Shielded from cancellation."""
    with anyio.CancelScope(shield=True):
        try:
            if healthy:
                await session.close()
            else:
                await session.invalidate()
        except Exception as error:
            logger.info("dropping a connection that failed to close: %s", describe(error))


async def create_layer(settings: Settings) -> OrmLayer:
    """The layer on a pool of `settings.pool_size` connections to `settings.database_url`."""
    ledger = ConnectionLedger()
    return OrmLayer(create_engine(settings, ledger), settings, ledger)
