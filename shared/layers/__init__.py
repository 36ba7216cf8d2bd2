"""Data layers: the libraries a server can read the rows through, one per server process.

A layer is the code an application would write with one library: asyncpg (the default, the
project's own tuned paths), psycopg 3 with its pool, SQLAlchemy Core on an `AsyncConnection`,
SQLAlchemy's ORM on an `AsyncSession`, and layers a port brings itself (Django's ORM, on the
Django port alone). Each offers the contract's sources it can (`LayerSpec.sources`): an ORM has
no `copy`. Whatever the layer, the bytes of a body are the same: the encoders are shared and
every layer hands them rows as sequences in the encoder's column order.

A server runs one layer (`Settings.layer`, `serve --layer`), so its memory and CPU are that
layer's alone. `open_layer` imports the layer's module only then: a server on asyncpg never
imports psycopg or the ORM.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..contract import SOURCES
from ..encoders import Row
from ..settings import Settings

if TYPE_CHECKING:
    from ..ledger import ConnectionLedger

__all__ = [
    "DEFAULT_LAYER",
    "SHARED_LAYERS",
    "BatchStream",
    "ByteStream",
    "DataLayer",
    "LayerSpec",
    "LayerUnavailable",
    "choose_layer",
    "layers_for",
    "open_layer",
]

DEFAULT_LAYER = "asyncpg"


class LayerUnavailable(Exception):
    """A layer that cannot run here: unknown, not offered by the port, or its driver missing.
    The message is one sentence naming the choices."""


class BatchStream(Protocol):
    """An open cursor, or keyset pages, read in batches: async-iterate the non-empty batches,
    then close it. `first()` waits for the first batch without taking it (the database has
    answered)."""

    def __aiter__(self) -> AsyncIterator[Sequence[Row]]: ...

    async def first(self) -> None: ...

    async def aclose(self) -> None: ...


class ByteStream(Protocol):
    """A running `COPY ... TO STDOUT`: async-iterate its chunks, then close it."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class DataLayer(Protocol):
    """What a port's endpoints read the rows through, whichever library is underneath.

    Up to the first answer of the database (`fetch_all` returning, `open_stream`, `open_copy`
    and `open_keyset` returning their stream), a failure is `shared.failures.DatabaseUnavailable`;
    later, while iterating, `shared.failures.StreamFailed`. A cursor or `COPY` stream holds a
    pooled connection until closed, a keyset stream (shared/keyset.py) only while a page's query
    runs; closing either is shielded from cancellation: a client gone away leaks nothing.

    `ledger` counts what the layer's pool lends and every wait for a connection
    (shared/ledger.py), for `/metrics`.
    """

    @property
    def name(self) -> str: ...

    @property
    def ledger(self) -> ConnectionLedger: ...

    @property
    def sources(self) -> tuple[str, ...]: ...

    async def fetch_all(self, columns: tuple[str, ...], rows: int) -> Sequence[Row]: ...

    async def open_stream(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> BatchStream: ...

    async def open_copy(self, fmt: str, rows: int) -> ByteStream: ...

    async def open_keyset(
        self, columns: tuple[str, ...], rows: int, batch_size: int
    ) -> BatchStream: ...

    async def ping(self) -> None: ...

    def pool_status(self) -> dict[str, int]: ...

    async def dispose(self) -> None: ...


@dataclass(frozen=True)
class LayerSpec:
    """One data layer: its name, the import string of `async create(settings) -> DataLayer`,
    the sources it offers, and the distributions it needs (their versions go in the results)."""

    name: str
    factory: str
    sources: tuple[str, ...]
    requires: tuple[str, ...]
    details: str = ""

    def missing(self) -> list[str]:
        """The required modules that are not installed."""
        return [module for module in self.modules() if importlib.util.find_spec(module) is None]

    def modules(self) -> tuple[str, ...]:
        return tuple(_MODULES.get(name, name) for name in self.requires)


_MODULES = {"psycopg-pool": "psycopg_pool"}

SHARED_LAYERS: Mapping[str, LayerSpec] = {
    "asyncpg": LayerSpec(
        "asyncpg",
        "shared.database:create_database",
        SOURCES,
        ("asyncpg",),
        "asyncpg on its own pool, SQLAlchemy Core compiling the queries: the tuned default",
    ),
    "psycopg": LayerSpec(
        "psycopg",
        "shared.layers.psycopg:create_layer",
        SOURCES,
        ("psycopg", "psycopg-pool"),
        "psycopg 3 async on psycopg-pool: fetchall, a named server-side cursor, cursor.copy()",
    ),
    "sqlalchemy": LayerSpec(
        "sqlalchemy",
        "shared.layers.sqlalchemy_core:create_layer",
        ("fetch", "cursor", "keyset"),
        ("sqlalchemy", "asyncpg"),
        "SQLAlchemy Core on an AsyncConnection: execute().all(), stream() in partitions",
    ),
    "sqlalchemy-orm": LayerSpec(
        "sqlalchemy-orm",
        "shared.layers.sqlalchemy_orm:create_layer",
        ("fetch", "cursor", "keyset"),
        ("sqlalchemy", "asyncpg"),
        "SQLAlchemy ORM on an AsyncSession: scalars().all(), stream_scalars() with yield_per",
    ),
}


def layers_for(port_layers: Sequence[LayerSpec] = ()) -> dict[str, LayerSpec]:
    """Every layer a port can serve: the shared ones, then its own."""
    return {**SHARED_LAYERS, **{spec.name: spec for spec in port_layers}}


def choose_layer(name: str, port_layers: Sequence[LayerSpec] = (), port: str = "") -> LayerSpec:
    """The layer `name` for a port bringing `port_layers`, or `LayerUnavailable` saying why."""
    offered = layers_for(port_layers)
    spec = offered.get(name)
    if spec is None:
        where = f" on port {port!r}" if port else ""
        raise LayerUnavailable(f"no data layer {name!r}{where}; choose one of {', '.join(offered)}")
    missing = spec.missing()
    if missing:
        raise LayerUnavailable(
            f"data layer {name!r} needs {', '.join(missing)}, which is not installed "
            "(uv sync installs every layer's driver)"
        )
    return spec


async def open_layer(settings: Settings, port_layers: Sequence[LayerSpec] = ()) -> DataLayer:
    """The data layer `settings.layer` with its pool open."""
    spec = choose_layer(settings.layer, port_layers)
    module_name, _, attribute = spec.factory.partition(":")
    create: Callable[[Settings], Awaitable[Any]] = getattr(
        importlib.import_module(module_name), attribute
    )
    layer: DataLayer = await create(settings)
    return layer
