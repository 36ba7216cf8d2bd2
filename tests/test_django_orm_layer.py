"""The data layers a port brings itself (Django's ORM on the Django port), on that port's default
server, beyond what tests/test_data_layers.py asks of every layer: `aiterator()`'s ends at batch
boundaries, its held cursor gone with a stream left early, readers cancelled wherever they wait
(in a process of their own: Django's settings are the process's), a server started without its
database, and streams cut several at a time. Real servers, real PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import asyncpg
import httpx
import pytest

from shared.contract import ENDPOINTS
from shared.database import Database, application_name
from shared.encoders import ENCODERS, FORMATS, encode_all
from shared.ports import available_ports

from .rawhttp import RawConnection, fetch
from .servers import Server, ServerPool
from .test_conformance_failures import BIG, _assert_quiet, _backends, _wait_until_idle

# (rows, batch) where `aiterator()` ends on a batch boundary (one more call finds nothing), on
# one row short of it, and in batches of one.
BOUNDARIES = [(1000, 1000), (2000, 1000), (1999, 1000), (5, 1)]


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
async def test_batch_boundaries_give_asyncpgs_bytes(
    pair: str,
    layer: str,
    sources: tuple[str, ...],
    fmt: str,
    servers: ServerPool,
    database: Database,
) -> None:
    server = servers.get(pair, layer=layer)
    for rows, batch in BOUNDARIES:
        expected = await _expected(database, fmt, rows)
        for endpoint in ENDPOINTS:
            for source in sources:
                path = f"/{endpoint}?rows={rows}&batch={batch}&format={fmt}&source={source}"
                response = await fetch(server.url, path)
                where = f"{pair} on {layer}: {path}"
                assert response.status == 200, f"{where}: {response.body[:300]!r}"
                assert response.complete, where
                assert response.body == expected, where
                if endpoint == "chunked" and source in ("cursor", "keyset"):
                    assert len(response.chunks) >= rows // batch, where


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


async def test_starts_and_answers_503_without_a_database(
    pair: str, layer: str, sources: tuple[str, ...], servers: ServerPool
) -> None:
    # A pool waits its whole timeout for a database that refuses connections (it retries them in
    # the background) before each 503: half a second keeps the test short.
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


def test_cancelled_readers_leave_nothing_behind(
    pair: str, layer: str, sources: tuple[str, ...], database_url: str
) -> None:
    """Readers cancelled wherever they wait, the ASGI way of saying the client went away: no
    connection left out of the pool or busy in the database, no warning but the pool's on
    discarding the connections closed on purpose (tests/port_layer_reader.py)."""
    port = pair.partition("@")[0]
    reader = [sys.executable, "-m", "tests.port_layer_reader", port, layer, database_url]
    result = subprocess.run(reader, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{pair} on {layer}:\n{result.stderr}"
