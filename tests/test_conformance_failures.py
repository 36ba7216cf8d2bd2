"""What goes wrong in production, for every port: clients that go away, a database that dies
mid-stream or is gone, more requests than connections. Real sockets, real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from shared.contract import SOURCES
from shared.seed import seed

from ._postgres import admin_url, with_database
from .rawhttp import IncompleteBody, RawConnection, fetch
from .servers import Server, ServerPool
from .wire import gap

# Big enough that a stream cannot be finished before the test acts on it (29 MB).
BIG = "/chunked?rows=100000&batch=100&format=ndjson"
# The sources that still read from the database once the headers are out: `fetch` has read
# every row before them and holds no connection while it sends.
READING_SOURCES = [source for source in SOURCES if source != "fetch"]
# Of those, the ones that hold one connection (and its transaction) from the first batch to the
# last: `keyset` gives its connection back after every page, and what a dying connection or an
# exhausted pool does to it is tests/test_keyset.py's.
HOLDING_SOURCES = [source for source in READING_SOURCES if source != "keyset"]


async def _backends(admin: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await admin.fetch(
        "SELECT pid, state, query FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'"
    )
    return rows


async def _wait_until_idle(admin: asyncpg.Connection, patience: float = 10.0) -> None:
    """Every server connection back to plain idle (or gone): no transaction left open, no query
    running, in particular no `COPY` still writing to a client that went away."""
    deadline = time.monotonic() + patience
    while True:
        busy = [b for b in await _backends(admin) if b["state"] != "idle"]
        if not busy:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"connections not returned to the pool: {busy}")
        await asyncio.sleep(0.05)


def _assert_quiet(log: str, where: str) -> None:
    assert "Traceback" not in log, f"{where}: a traceback was logged:\n{log}"
    assert "Resetting connection with an active transaction" not in log, f"{where}:\n{log}"
    assert not re.search(r"\b(ERROR|CRITICAL)\b", log), f"{where}: logged at error:\n{log}"


@pytest.mark.parametrize("source", SOURCES)
async def test_disconnects_leak_nothing(
    port_name: str, servers: ServerPool, admin: asyncpg.Connection, source: str
) -> None:
    server = servers.get(port_name)
    server.mark_log()
    # Three times the pool size: a leak would exhaust the pool (it was six times; with
    # source=fetch each drop reads 100,000 rows first, and the suite is CPU-bound).
    drops = 12
    for attempt in range(drops):
        connection = await RawConnection.open(server.url, f"{BIG}&source={source}")
        assert connection.response is not None
        assert connection.response.status == 200
        for _ in range(attempt % 3 + 1):
            await connection.read_chunk()
        if attempt % 2:
            connection.abort()
        else:
            await connection.close()
    await _wait_until_idle(admin)
    # Still serving, with every connection of the pool.
    path = f"/chunked?rows=5000&source={source}"
    results = await asyncio.gather(*(fetch(server.url, path) for _ in range(4)))
    assert all(r.complete and r.status == 200 for r in results)
    unreported = gap(port_name, "unreported-disconnects")
    # Where the server may keep drops from the app, the missing lines would never come.
    await server.log_once("client disconnected", drops, patience=1.0 if unreported else 10.0)
    await asyncio.sleep(0.2)  # a line too many would come now
    log = server.new_log()
    _assert_quiet(log, f"{port_name} {source} after {drops} disconnects")
    lines = [line for line in log.splitlines() if "client disconnected" in line]
    if unreported is None:
        assert len(lines) == drops, f"one info line per disconnect expected, got:\n{log}"
    else:  # the server may keep the drop from the app: at most one line each, never more
        assert len(lines) <= drops, f"at most one info line per disconnect ({unreported}):\n{log}"


@pytest.mark.parametrize("source", SOURCES)
async def test_disconnect_while_client_is_slow(
    port_name: str, servers: ServerPool, admin: asyncpg.Connection, source: str
) -> None:
    """A reader that stalls fills the socket buffers; the server waits on flow control and must
    notice the drop there too (aiohttp raises a different error in that state)."""
    server = servers.get(port_name)
    server.mark_log()
    for _ in range(4):
        connection = await RawConnection.open(server.url, f"{BIG}&source={source}")
        await connection.read_chunk()
        await asyncio.sleep(0.3)  # the server fills the buffers and blocks in drain
        connection.abort()
    await _wait_until_idle(admin)
    await server.log_once("client disconnected", 4)
    await asyncio.sleep(0.2)  # a line too many would come now
    log = server.new_log()
    _assert_quiet(log, f"{port_name} after slow-reader drops")
    assert log.count("client disconnected") == 4, log


@pytest.mark.parametrize("source", HOLDING_SOURCES)
async def test_stream_fails_midway(
    port_name: str, servers: ServerPool, admin: asyncpg.Connection, source: str
) -> None:
    """The database connection dies while a response is in flight: the client must see an
    incomplete body, the server logs one line with the request id, and the next request works."""
    # The pair's shared server: the failure ends one stream, never the server.
    server = servers.get(port_name)
    server.mark_log()
    await _wait_until_idle(admin)
    request_id = f"midstream{secrets.token_hex(4)}"
    connection = await RawConnection.open(
        server.url, f"{BIG}&source={source}", {"X-Request-ID": request_id}
    )
    assert connection.response is not None
    assert connection.response.status == 200
    await connection.read_chunk()
    serving = [b["pid"] for b in await _backends(admin) if b["state"] != "idle"]
    assert len(serving) == 1, f"expected one backend serving the stream: {serving}"
    await admin.execute("SELECT pg_terminate_backend($1)", serving[0])
    with pytest.raises(IncompleteBody):
        await asyncio.wait_for(connection.read_all(), timeout=30)
    await connection.close()
    after = await fetch(server.url, f"/chunked?rows=3000&batch=1000&source={source}")
    assert after.status == 200
    assert after.complete
    assert after.body.count(b"\n") == 3000
    await asyncio.sleep(0.2)
    log = server.new_log()
    assert "Traceback" not in log, log
    failure_lines = [line for line in log.splitlines() if "stream failed" in line]
    assert len(failure_lines) == 1, log
    assert request_id in failure_lines[0]


async def test_more_requests_than_connections(port_name: str, servers: ServerPool) -> None:
    """With every pooled connection held by a stalled stream, others wait up to the pool timeout
    and then get 503 with Retry-After; once the holders go, requests succeed again."""
    server = servers.start_private(port_name, pool_size=2, pool_timeout=0.5)
    try:
        holders = [await RawConnection.open(server.url, BIG) for _ in range(2)]
        for holder in holders:
            await holder.read_chunk()
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            paths = [f"/{e}?rows=10&source={s}" for e in ("standard", "chunked") for s in SOURCES]
            responses = await asyncio.gather(*(client.get(path) for path in paths))
        elapsed = time.monotonic() - started
        for response in responses:
            assert response.status_code == 503, response.text
            assert response.headers.get("retry-after")
            assert json.loads(response.content)["error"]
        assert elapsed < 15, f"503s should come after the pool timeout, not hang ({elapsed:.1f} s)"
        for holder in holders:
            holder.abort()
        deadline = time.monotonic() + 10
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            while True:
                response = await client.get("/standard?rows=10")
                if response.status_code == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert response.status_code == 200
            # A burst of many concurrent requests: each completes or is refused, none hangs.
            burst = await asyncio.wait_for(
                asyncio.gather(*(client.get("/chunked?rows=20000") for _ in range(16))),
                timeout=60,
            )
        assert {r.status_code for r in burst} <= {200, 503}
        assert any(r.status_code == 200 for r in burst)
        for response in burst:
            if response.status_code == 200:
                assert response.content.count(b"\n") == 20000
    finally:
        assert server.stop() == 0, server.log()


@pytest.fixture
async def doomed_database() -> AsyncIterator[str]:
    """A database of the test's own, dropped by the test while a port is serving it."""
    name = f"streambench_doomed_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url())
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url(), name)
    connection = await asyncpg.connect(url)
    await seed(connection, 1000)
    await connection.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_health_and_503_when_the_database_goes(
    port_name: str, servers: ServerPool, doomed_database: str
) -> None:
    server = servers.start_private(port_name, database_url=doomed_database, pool_timeout=1.0)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            response = await client.get("/healthz")
            assert response.status_code == 200
            assert json.loads(response.content) == {"status": "ok"}
            assert (await client.get("/chunked?rows=10")).status_code == 200
            admin = await asyncpg.connect(admin_url())
            try:
                name = urlsplit(doomed_database).path.lstrip("/")
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            paths = [f"/{e}?rows=10&source={s}" for e in ("standard", "chunked") for s in SOURCES]
            for path in ("/healthz", *paths):
                response = await client.get(path)
                assert response.status_code == 503, f"{path}: {response.text}"
                assert response.headers.get("retry-after"), path
                assert response.headers["content-type"].startswith("application/json")
                assert "Traceback" not in response.text
        _assert_no_traceback(server)
    finally:
        assert server.stop() == 0, server.log()


async def test_starts_and_answers_503_without_a_database(
    port_name: str, servers: ServerPool
) -> None:
    server = servers.start_private(
        port_name, database_url="postgresql://postgres@127.0.0.1:1/none", pool_timeout=1.0
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert json.loads(health.content)["status"] == "unavailable"
            for path in [f"/{e}?source={s}" for e in ("standard", "chunked") for s in SOURCES]:
                response = await client.get(path)
                assert response.status_code == 503, response.text
                assert response.headers.get("retry-after")
        _assert_no_traceback(server)
    finally:
        assert server.stop() == 0, server.log()


def _assert_no_traceback(server: Server) -> None:
    assert "Traceback" not in server.log(), server.log()
