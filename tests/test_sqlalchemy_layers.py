"""SQLAlchemy's layers (Core and the ORM) without HTTP, where they differ from the other layers:
partitions of the batch size, connections given back to the pool (not dropped) however a reader
stops, dead pooled connections seen at checkout, and ORM objects let go a partition at a time.
What every layer must do (the same bytes, failures, disconnects) is tests/test_data_layers.py."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import asyncpg
import pytest

from shared.encoders import ENCODERS
from shared.layers import SHARED_LAYERS, DataLayer, open_layer
from shared.layers.orm_model import Message
from shared.session import application_name
from shared.settings import Settings

# The layers this file covers: those the registry builds on SQLAlchemy's own query execution.
LAYERS = [name for name, spec in SHARED_LAYERS.items() if spec.name.startswith("sqlalchemy")]
FULL = ENCODERS["ndjson"].columns


@pytest.fixture(params=LAYERS)
async def layer(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Any]:
    opened = await open_layer(settings.replace(layer=request.param))
    try:
        yield opened
    finally:
        await opened.dispose()


async def _busy(admin: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await admin.fetch(
        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'"
    )
    return rows


async def _assert_nothing_left(layer: DataLayer, admin: asyncpg.Connection) -> None:
    assert layer.pool_status()["checked_out"] == 0, f"a connection is out: {layer.pool_status()}"
    deadline = time.monotonic() + 5
    while busy := await _busy(admin):
        assert time.monotonic() < deadline, f"left running or in a transaction: {busy}"
        await asyncio.sleep(0.02)


async def _pooled_backends(admin: asyncpg.Connection) -> set[int]:
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
        application_name(os.getpid()),
    )
    return {row["pid"] for row in rows}


async def test_partitions_of_the_batch_size(layer: DataLayer, admin: asyncpg.Connection) -> None:
    async with aclosing(await layer.open_stream(("id",), 2345, 1000)) as stream:
        batches = [batch async for batch in stream]
    assert [len(batch) for batch in batches] == [1000, 1000, 345]
    assert [row[0] for batch in batches for row in batch] == list(range(1, 2346))
    await _assert_nothing_left(layer, admin)


async def test_a_stream_closed_midway_gives_its_connection_back(
    layer: DataLayer, admin: asyncpg.Connection
) -> None:
    backends = None
    for _ in range(12):  # three times the pool size
        stream = await layer.open_stream(FULL, 50_000, 100)
        async for _batch in stream:
            break
        await stream.aclose()
        await _assert_nothing_left(layer, admin)
        backends = backends or await _pooled_backends(admin)
    # The connections went back to the pool, not dropped and replaced.
    assert await _pooled_backends(admin) == backends


async def test_a_consumer_cancelled_mid_read_leaves_nothing(
    layer: DataLayer, admin: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """A task cancelled while the driver fetches (a client gone away) still cleans up, and the
    fetch in flight is let finish rather than costing the connection."""
    caplog.set_level(logging.INFO)

    async def consume(reading: asyncio.Event) -> None:
        async with aclosing(await layer.open_stream(FULL, 100_000, 20_000)) as stream:
            async for _ in stream:
                reading.set()
                await asyncio.sleep(0)

    await layer.fetch_all(("id",), 1)
    before = await _pooled_backends(admin)
    # None: while the stream opens; otherwise that long after the first batch, mid-read.
    for delay in (None, 0.0, 0.005, 0.02, 0.05):
        reading = asyncio.Event()
        task = asyncio.create_task(consume(reading))
        if delay is not None:
            await reading.wait()
            await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _assert_nothing_left(layer, admin)
    assert len(await layer.fetch_all(("id",), 10)) == 10
    assert await _pooled_backends(admin) <= before, "a connection was dropped, not returned"
    noisy = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert noisy == [], "cleanup after cancellation should be silent"


async def test_dead_pooled_connections_are_replaced(
    layer: DataLayer, admin: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """After the database dropped every pooled connection (a restart), no request fails, and
    none is even tried on a dead connection: the checkout saw they were closed."""
    caplog.set_level(logging.INFO)
    streams = [await layer.open_stream(("id",), 10, 5) for _ in range(4)]  # fill the pool
    for stream in streams:
        await stream.aclose()
    victims = await _pooled_backends(admin)
    await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", victims)
    for _ in range(250):  # gone from pg_stat_activity
        if not await _pooled_backends(admin) & victims:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)  # the server's goodbyes reach the driver
    for _ in range(2):
        assert len(await layer.fetch_all(("id",), 5)) == 5
        async with aclosing(await layer.open_stream(("id",), 5, 5)) as stream:
            assert [len(batch) async for batch in stream] == [5]
        await layer.ping()
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retried == [], "a query went to a connection the driver knew was closed"


async def test_orm_objects_are_let_go_a_partition_at_a_time(settings: Settings) -> None:
    """`yield_per` builds the objects of one partition at a time, and the session's identity map
    holds them weakly: streaming never holds more than a few partitions of `Message`s."""
    layer = await open_layer(settings.replace(layer="sqlalchemy-orm"))
    batch = 500
    alive = []
    try:
        async with aclosing(await layer.open_stream(FULL, 20_000, batch)) as stream:
            async for _ in stream:
                # `type`, not isinstance: a lazy proxy elsewhere (Django's settings) would be asked.
                alive.append(sum(type(o) is Message for o in gc.get_objects()))
    finally:
        await layer.dispose()
    assert len(alive) == 40
    assert max(alive) <= 3 * batch, f"Message objects alive while streaming: {alive}"
