"""The three sources of a body, without HTTP: same bytes, the database answering before a body is
returned, and nothing left behind (no connection out, no transaction, no `COPY` still running)
however the reader stops."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from shared.bodies import open_body, read_body
from shared.contract import SOURCES, DataRequest
from shared.database import Database, DatabaseUnavailable, StreamFailed, create_database
from shared.encoders import ENCODERS, FORMATS, encode_all
from shared.settings import Settings

ROW_COUNTS = [0, 1, 2, 1001, 2500]
BATCH_SIZES = [1, 7, 100, 1000, 100_000]


def _request(fmt: str, rows: int, batch: int, source: str) -> DataRequest:
    return DataRequest(rows, batch, ENCODERS[fmt], source)


async def _expected(database: Database, fmt: str, rows: int) -> bytes:
    encoder = ENCODERS[fmt]
    return encode_all(encoder, await database.fetch_all(encoder.columns, rows))


async def _others(admin: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await admin.fetch(
        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )
    return rows


async def _assert_nothing_left(database: Database, admin: asyncpg.Connection) -> None:
    assert database.pool_status()["checked_out"] == 0, database.pool_status()
    deadline = time.monotonic() + 5
    while busy := [r for r in await _others(admin) if r["state"] != "idle"]:
        assert time.monotonic() < deadline, f"left running or in a transaction: {busy}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("source", SOURCES)
async def test_every_source_gives_the_same_bytes(
    database: Database, admin: asyncpg.Connection, fmt: str, source: str
) -> None:
    for rows in ROW_COUNTS:
        expected = await _expected(database, fmt, rows)
        for batch in BATCH_SIZES:
            if batch == 1 and rows > 1001:
                continue  # one round trip a row: covered by the smaller counts
            where = f"{source} {fmt} rows={rows} batch={batch}"
            request = _request(fmt, rows, batch, source)
            async with await open_body(database, request) as body:
                chunks = [chunk async for chunk in body]
            assert b"".join(chunks) == expected, where
            assert all(chunks), f"{where}: an empty chunk would end a chunked body early"
            assert b"".join(await read_body(database, request)) == expected, where
    await _assert_nothing_left(database, admin)


def _appender(pieces: list[bytes]) -> Callable[[bytes], Awaitable[None]]:
    async def sink(piece: bytes) -> None:
        pieces.append(piece)

    return sink


@pytest.mark.parametrize("fmt", FORMATS)
async def test_the_body_floor_writes_the_body(database: Database, fmt: str) -> None:
    for rows in (0, 1, 2500):
        pieces: list[bytes] = []
        size = await database.copy_body(fmt, rows, _appender(pieces))
        expected = await _expected(database, fmt, rows)
        assert b"".join(pieces) == expected, f"{fmt} rows={rows}"
        assert size == len(expected)
    assert database.pool_status()["checked_out"] == 0


@pytest.mark.parametrize("source", SOURCES)
async def test_stopping_early_leaves_nothing_behind(
    database: Database, admin: asyncpg.Connection, source: str
) -> None:
    """A reader that stops after one chunk, many times over: for `copy` the server must stop
    writing (a cancelled COPY), not go on sending 29 MB to nobody."""
    for _ in range(12):  # three times the pool size
        async with await open_body(database, _request("ndjson", 100_000, 100, source)) as body:
            async for _ in body:
                break
        await _assert_nothing_left(database, admin)
    assert await read_body(database, _request("text", 3, 1, source)) != []


@pytest.mark.parametrize("source", SOURCES)
async def test_cancelled_reader_leaves_nothing_behind(
    database: Database, admin: asyncpg.Connection, source: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A reader cancelled wherever it waits (the ASGI way of saying the client went away)."""
    caplog.set_level(logging.INFO)

    async def consume() -> None:
        async with await open_body(database, _request("ndjson", 100_000, 1000, source)) as body:
            async for _ in body:
                await asyncio.sleep(0)

    for delay in (0.0, 0.005, 0.02, 0.05):
        task = asyncio.create_task(consume())
        await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _assert_nothing_left(database, admin)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == [], "cleanup after cancellation should be silent"


@pytest.mark.parametrize("source", ["cursor", "copy"])
async def test_a_terminated_backend_fails_the_body(
    database: Database, admin: asyncpg.Connection, source: str
) -> None:
    async with await open_body(database, _request("ndjson", 100_000, 100, source)) as body:
        chunks = aiter(body)
        await anext(chunks)
        serving = [r["pid"] for r in await _others(admin) if r["state"] != "idle"]
        assert len(serving) == 1, serving
        await admin.execute("SELECT pg_terminate_backend($1)", serving[0])
        with pytest.raises(StreamFailed):
            async for _ in chunks:
                pass
    await _assert_nothing_left(database, admin)
    # Nothing was sent yet for `/standard`: the same failure there is the database unavailable.
    assert b"".join(await read_body(database, _request("text", 10, 3, source))).count(b"\n") == 10


@pytest.mark.parametrize("source", SOURCES)
async def test_unreachable_database_is_unavailable(settings: Settings, source: str) -> None:
    db = await create_database(
        settings.replace(pool_timeout=1.0), "postgresql://postgres@127.0.0.1:1/none"
    )
    try:
        with pytest.raises(DatabaseUnavailable):
            await open_body(db, _request("text", 1, 1, source))
        with pytest.raises(DatabaseUnavailable):
            await read_body(db, _request("text", 1, 1, source))
    finally:
        await db.dispose()
