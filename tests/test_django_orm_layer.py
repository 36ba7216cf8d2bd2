"""The data layers a port brings itself (Django's ORM on the Django port), on that port's default
server: the same bytes as asyncpg's for every source it offers, the one it does not refused, and
the guarantees of every layer (a client gone leaks nothing, a database gone or a pool exhausted
is a 503, a database failing mid-stream cuts the body). Real servers, real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from typing import Any

import asyncpg
import httpx
import pytest

from shared.contract import ENDPOINTS
from shared.database import Database, application_name
from shared.encoders import ENCODERS, FORMATS, encode_all
from shared.ports import available_ports

from .rawhttp import IncompleteBody, RawConnection, fetch
from .servers import Server, ServerPool
from .test_conformance_failures import BIG, _assert_quiet, _backends, _wait_until_idle

CASES = [(0, 1000), (1, 1), (1001, 100), (2000, 1000), (2500, 1000), (5000, 100_000)]


def _big(source: str) -> str:
    """A body the client can leave midway. `fetch` reads every row before the first byte, and
    the ORM builds a `Message` of each: a fifth of `BIG` fills the socket buffers as well."""
    if source == "fetch":
        return "/chunked?rows=20000&batch=100&format=ndjson&source=fetch"
    return f"{BIG}&source={source}"


def _port_layers() -> list[Any]:
    """(the port's default pair, layer, the layer's sources) for every layer a port brings."""
    params: list[Any] = []
    for _, port, _ in available_ports():
        if port is None:
            continue
        pair = f"{port.name}@{port.default_server}"
        for spec in port.layers:
            params.append(pytest.param(pair, spec.name, spec.sources, id=f"{pair}-{spec.name}"))
    return params


PORT_LAYERS = _port_layers()
pytestmark = pytest.mark.parametrize(("pair", "layer", "sources"), PORT_LAYERS)


async def _expected(database: Database, fmt: str, rows: int) -> bytes:
    encoder = ENCODERS[fmt]
    return encode_all(encoder, await database.fetch_all(encoder.columns, rows))


async def _stream_backend(admin: asyncpg.Connection, server: Server) -> int:
    """The backend reading the server's one open stream: its last statement a `FETCH` (between
    two it is idle; a finished stream's last is its `CLOSE`, a fetch's its `SELECT`)."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'FETCH%'",
        application_name(server.pid),
    )
    assert len(rows) == 1, f"expected one backend reading a stream: {rows}"
    pid: int = rows[0]["pid"]
    return pid


async def _pooled(admin: asyncpg.Connection, server: Server) -> set[int]:
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1", application_name(server.pid)
    )
    return {row["pid"] for row in rows}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_same_bytes_as_asyncpg(
    pair: str,
    layer: str,
    sources: tuple[str, ...],
    fmt: str,
    servers: ServerPool,
    database: Database,
) -> None:
    server = servers.get(pair, layer=layer)
    for rows, batch in CASES:
        expected = await _expected(database, fmt, rows)
        for endpoint in ENDPOINTS:
            for source in sources:
                path = f"/{endpoint}?rows={rows}&batch={batch}&format={fmt}&source={source}"
                response = await fetch(server.url, path)
                where = f"{pair} on {layer}: {path}"
                assert response.status == 200, f"{where}: {response.body[:300]!r}"
                assert response.complete, where
                assert response.body == expected, where
                if endpoint == "chunked" and source == "cursor" and rows > batch:
                    assert len(response.chunks) >= math.ceil(rows / batch), where


async def test_sources_not_offered_are_refused(
    pair: str, layer: str, sources: tuple[str, ...], servers: ServerPool
) -> None:
    server = servers.get(pair, layer=layer)
    refused = [source for source in ("fetch", "cursor", "copy") if source not in sources]
    assert refused, f"{layer} offers every source: nothing to refuse"
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        for endpoint in ENDPOINTS:
            for source in refused:
                response = await client.get(f"/{endpoint}?rows=10&source={source}")
                assert response.status_code == 400, response.text
                message = json.loads(response.content)["error"]
                assert layer in message, message
                assert all(offered in message for offered in sources), message


@pytest.mark.parametrize("read_to_the_end", [False, True])
async def test_a_stream_left_early_ends_its_session(
    pair: str,
    layer: str,
    sources: tuple[str, ...],
    read_to_the_end: bool,
    servers: ServerPool,
    admin: asyncpg.Connection,
) -> None:
    """Django declares `aiterator()`'s cursor WITH HOLD and keeps it out of reach: a stream left
    early closes its connection, so the held cursor (and its rows) cannot outlive it in the pool;
    a stream read to its end gives the connection back, still open, for the next request."""
    server = servers.get(pair, layer=layer)
    await _wait_until_idle(admin)
    connection = await RawConnection.open(server.url, f"{BIG}&source=cursor")
    await connection.read_chunk()
    backend = await _stream_backend(admin, server)
    if read_to_the_end:
        response = await asyncio.wait_for(connection.read_all(), 60)
        assert response.body.count(b"\n") == 100_000
        await connection.close()
    else:
        connection.abort()
    await _wait_until_idle(admin)
    for _ in range(100):  # the server closes it just after the client has gone
        pooled = await _pooled(admin, server)
        if (backend in pooled) == read_to_the_end:
            break
        await asyncio.sleep(0.05)
    state = "still open" if backend in pooled else "closed"
    assert (backend in pooled) == read_to_the_end, f"backend {backend} {state}: {pooled}"


@pytest.mark.parametrize("slow", [False, True])
async def test_disconnects_leak_nothing(
    pair: str,
    layer: str,
    sources: tuple[str, ...],
    slow: bool,
    servers: ServerPool,
    admin: asyncpg.Connection,
) -> None:
    server = servers.get(pair, layer=layer)
    server.mark_log()
    drops = 0
    for source in sources:
        for attempt in range(6 if not slow else 3):  # a leak would exhaust the pool of 4
            connection = await RawConnection.open(server.url, _big(source))
            assert connection.response is not None
            assert connection.response.status == 200
            for _ in range(attempt % 3 + 1):
                await connection.read_chunk()
            if slow:
                await asyncio.sleep(0.3)  # the server fills the buffers and waits on the client
            if attempt % 2 or slow:
                connection.abort()
            else:
                await connection.close()
            drops += 1
    await _wait_until_idle(admin)
    for source in sources:
        path = f"/chunked?rows=5000&source={source}"
        results = await asyncio.gather(*(fetch(server.url, path) for _ in range(4)))
        assert all(r.complete and r.status == 200 for r in results), [r.status for r in results]
    await server.log_once("client disconnected", drops)
    await asyncio.sleep(0.2)  # a line too many would come now
    log = server.new_log()
    _assert_quiet(log, f"{pair} on {layer} after {drops} disconnects")
    assert log.count("client disconnected") == drops, log


async def test_stream_fails_midway(
    pair: str,
    layer: str,
    sources: tuple[str, ...],
    servers: ServerPool,
    admin: asyncpg.Connection,
) -> None:
    server = servers.get(pair, layer=layer)
    server.mark_log()
    await _wait_until_idle(admin)
    request_id = f"midstream{secrets.token_hex(4)}"
    connection = await RawConnection.open(
        server.url, f"{BIG}&source=cursor", {"X-Request-ID": request_id}
    )
    assert connection.response is not None
    assert connection.response.status == 200
    await connection.read_chunk()
    await admin.execute("SELECT pg_terminate_backend($1)", await _stream_backend(admin, server))
    with pytest.raises(IncompleteBody):
        await asyncio.wait_for(connection.read_all(), timeout=30)
    await connection.close()
    after = await fetch(server.url, "/chunked?rows=3000&batch=1000&source=cursor")
    assert after.status == 200
    assert after.complete
    assert after.body.count(b"\n") == 3000
    await asyncio.sleep(0.2)
    log = server.new_log()
    assert "Traceback" not in log, log
    failures = [line for line in log.splitlines() if "stream failed" in line]
    assert len(failures) == 1, log
    assert request_id in failures[0]


async def test_no_503_after_the_database_drops_every_connection(
    pair: str,
    layer: str,
    sources: tuple[str, ...],
    servers: ServerPool,
    admin: asyncpg.Connection,
) -> None:
    server = servers.get(pair, layer=layer)
    server.mark_log()
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        warm = await asyncio.gather(*(client.get("/standard?rows=10") for _ in range(8)))
        assert {r.status_code for r in warm} == {200}
        victims = list(await _pooled(admin, server))
        assert victims, "no pooled connections to terminate"
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", victims
        )
        for _ in range(500):
            if not await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", victims
            ):
                break
            await asyncio.sleep(0.02)
        paths = [f"/standard?rows=50&source={s}" for s in sources] + ["/healthz"]
        answers = await asyncio.gather(*(client.get(path) for path in paths * 4))
        refused = [(r.url.path, r.status_code, r.text) for r in answers if r.status_code != 200]
        assert not refused, refused
    _assert_quiet(server.new_log(), f"{pair} on {layer} after the database dropped its connections")


async def test_more_requests_than_connections(
    pair: str, layer: str, sources: tuple[str, ...], servers: ServerPool
) -> None:
    server = servers.start_private(pair, layer=layer, pool_size=2, pool_timeout=0.5)
    try:
        holders = [await RawConnection.open(server.url, f"{BIG}&source=cursor") for _ in range(2)]
        for holder in holders:
            await holder.read_chunk()
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            paths = [f"/{e}?rows=10&source={s}" for e in ENDPOINTS for s in sources]
            responses = await asyncio.gather(*(client.get(path) for path in [*paths, "/healthz"]))
        elapsed = time.monotonic() - started
        for response in responses:
            assert response.status_code == 503, response.text
            assert response.headers.get("retry-after")
        assert elapsed < 15, f"503s should come after the pool timeout, not hang ({elapsed:.1f} s)"
        for holder in holders:
            holder.abort()
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            deadline = time.monotonic() + 10
            while (response := await client.get("/standard?rows=10")).status_code != 200:
                assert time.monotonic() < deadline, response.text
                await asyncio.sleep(0.1)
            burst = await asyncio.wait_for(
                asyncio.gather(
                    *(client.get("/chunked?rows=20000&source=cursor") for _ in range(8))
                ),
                timeout=60,
            )
        assert {r.status_code for r in burst} <= {200, 503}
        assert any(r.status_code == 200 for r in burst)
        for response in burst:
            if response.status_code == 200:
                assert response.content.count(b"\n") == 20000
        assert "Traceback" not in server.log(), server.log()
    finally:
        assert server.stop() == 0, server.log()


async def test_starts_and_answers_503_without_a_database(
    pair: str, layer: str, sources: tuple[str, ...], servers: ServerPool
) -> None:
    # A pool waits its whole timeout for a database that refuses connections (it retries them in
    # the background): under a second, so that the server's start (answered 503) is seen in time.
    server = servers.start_private(
        pair,
        layer=layer,
        database_url="postgresql://postgres@127.0.0.1:1/none",
        pool_timeout=0.5,
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            health = await client.get("/healthz")
            assert health.status_code == 503
            for path in [f"/{e}?rows=10&source={s}" for e in ENDPOINTS for s in sources]:
                started = time.monotonic()
                response = await client.get(path)
                assert response.status_code == 503, response.text
                assert response.headers.get("retry-after")
                assert time.monotonic() - started < 10, f"{path}: a hang, not a 503"
        assert "Traceback" not in server.log(), server.log()
    finally:
        assert server.stop() == 0, server.log()


async def test_cut_streams_leave_nothing_busy(
    pair: str,
    layer: str,
    sources: tuple[str, ...],
    servers: ServerPool,
    admin: asyncpg.Connection,
) -> None:
    """Soak: streams cut at random points, several at a time, then every backend idle and the
    pool whole (as many connections as before, each answering)."""
    server = servers.get(pair, layer=layer)
    server.mark_log()

    async def cut(index: int) -> None:
        connection = await RawConnection.open(server.url, _big(sources[index % len(sources)]))
        for _ in range(index % 4 + 1):
            await connection.read_chunk()
        connection.abort()

    for start in range(0, 24, 4):
        await asyncio.wait_for(asyncio.gather(*(cut(i) for i in range(start, start + 4))), 60)
    await _wait_until_idle(admin)
    busy = [b for b in await _backends(admin) if b["state"] != "idle"]
    assert not busy, busy
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        answers = await asyncio.gather(*(client.get("/chunked?rows=100") for _ in range(8)))
    assert {r.status_code for r in answers} == {200}
    _assert_quiet(server.new_log(), f"{pair} on {layer} after cut streams")
