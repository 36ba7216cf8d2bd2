"""Access paths: `stream_batches` returns its connection however the consumer stops."""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing

import asyncpg
import pytest

from shared.database import Database, DatabaseUnavailable, create_database
from shared.row_stream import FETCH_ROWS, fetch_sizes
from shared.settings import Settings


async def _sessions_in_transaction(admin: asyncpg.Connection) -> int:
    count: int = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
    )
    return count


async def _assert_pool_idle(db: Database, admin: asyncpg.Connection) -> None:
    status = db.pool_status()
    assert status["checked_out"] == 0, f"a connection was not returned: {status}"
    assert await _sessions_in_transaction(admin) == 0, "a session was left idle in transaction"


async def test_exhausted(database: Database, admin: asyncpg.Connection) -> None:
    batches = [b async for b in database.stream_batches(("id",), 4000, 1000)]
    # A small first batch for an early first byte, then doubling up to the batch size.
    assert [len(b) for b in batches] == [100, 200, 400, 800, 1000, 1000, 500]
    await _assert_pool_idle(database, admin)


@pytest.mark.parametrize(
    ("rows", "batch", "expected"),
    [
        # Past the ramp, a round trip brings two batches of 1,000: the client still gets 1,000.
        (6_000, 1_000, [100, 200, 400, 800, 1000, 1000, 1000, 1000, 500]),
        (450, 100, [100] * 4 + [50]),
        (7_000, 3_000, [100, 200, 400, 800, 1600, 3000, 900]),
        (3, 1, [1, 1, 1]),
    ],
)
async def test_batches_keep_the_contract_whatever_each_fetch_brings(
    database: Database, admin: asyncpg.Connection, rows: int, batch: int, expected: list[int]
) -> None:
    batches = [b async for b in database.stream_batches(("id",), rows, batch)]
    assert [len(b) for b in batches] == expected
    assert [row[0] for b in batches for row in b] == list(range(1, rows + 1))
    await _assert_pool_idle(database, admin)


def test_fetches_bring_whole_batches_once_the_ramp_is_done() -> None:
    sizes = fetch_sizes(1_000)
    assert [next(sizes) for _ in range(6)] == [
        (100, 100), (200, 200), (400, 400), (800, 800), (2_000, 1_000), (2_000, 1_000)
    ]  # fmt: skip
    # The first fetch is one small batch whatever the batch size: the first byte waits for no more.
    sizes = fetch_sizes(30)
    assert [next(sizes) for _ in range(3)] == [
        (30, 30),
        (FETCH_ROWS + 10, 30),
        (FETCH_ROWS + 10, 30),
    ]
    assert next(fetch_sizes(50_000)) == (100, 100)


async def test_break(database: Database, admin: asyncpg.Connection) -> None:
    stream = database.stream_batches(("id",), 50_000, 100)
    async for _ in stream:
        break
    await stream.aclose()
    await _assert_pool_idle(database, admin)


async def test_exception_in_consumer(database: Database, admin: asyncpg.Connection) -> None:
    with pytest.raises(RuntimeError, match="consumer failed"):  # noqa: PT012
        async with aclosing(database.stream_batches(("id",), 50_000, 100)) as stream:
            async for _ in stream:
                raise RuntimeError("consumer failed")
    await _assert_pool_idle(database, admin)


async def test_cancellation_mid_fetch(
    database: Database, admin: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """A task cancelled while the driver is fetching (a client gone away) still cleans up,
    without the driver resetting a connection that still had a transaction open."""
    caplog.set_level(logging.INFO)

    async def consume() -> None:
        async with aclosing(database.stream_batches(database_columns, 100_000, 20_000)) as stream:
            async for _ in stream:
                await asyncio.sleep(0)

    database_columns = ("id", "sender", "recipient", "body", "created_at")
    await database.fetch_all(("id",), 1)
    backends_before = await _backend_pids(admin)
    for delay in (0.0, 0.005, 0.02, 0.05):
        task = asyncio.create_task(consume())
        await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _assert_pool_idle(database, admin)
    # The pool still serves.
    assert len(await database.fetch_all(("id",), 10)) == 10
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == [], "cleanup after cancellation should be silent"
    assert await _backend_pids(admin) == backends_before, (
        "the fetch in flight should be let finish, not interrupted at the cost of the connection"
    )


async def _backend_pids(admin: asyncpg.Connection) -> set[int]:
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )
    return {row["pid"] for row in rows}


async def test_many_early_stops_do_not_exhaust_the_pool(
    database: Database, admin: asyncpg.Connection
) -> None:
    for _ in range(20):  # five times the pool size
        stream = database.stream_batches(("id",), 10_000, 10)
        await anext(stream)
        await stream.aclose()
    await _assert_pool_idle(database, admin)


async def test_unreachable_database_is_unavailable(settings: Settings) -> None:
    db = await create_database(
        settings.replace(pool_timeout=1.0), "postgresql://postgres@127.0.0.1:1/none"
    )
    try:
        with pytest.raises(DatabaseUnavailable):
            await db.fetch_all(("id",), 1)
        with pytest.raises(DatabaseUnavailable):
            await db.open_stream(("id",), 1, 1)
        with pytest.raises(DatabaseUnavailable):
            await db.ping()
    finally:
        await db.dispose()


async def test_pool_timeout_is_unavailable(settings: Settings, database_url: str) -> None:
    db = await create_database(settings.replace(pool_size=1, pool_timeout=0.2), database_url)
    try:
        held = await db.open_stream(("id",), 10, 1)
        with pytest.raises(DatabaseUnavailable):
            await db.open_stream(("id",), 10, 1)
        await held.aclose()
        async with await db.open_stream(("id",), 10, 5) as stream:
            assert len(await stream.fetch()) == 5
    finally:
        await db.dispose()


async def test_copy_floor_reads_the_same_rows(database: Database) -> None:
    pieces: list[bytes] = []

    async def sink(data: bytes) -> None:
        pieces.append(data)

    await database.copy_to(("id",), 2500, sink)
    assert b"".join(pieces).split() == [str(i).encode() for i in range(1, 2501)]
    assert database.pool_status()["checked_out"] == 0
