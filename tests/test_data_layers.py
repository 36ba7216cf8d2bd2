"""Every data layer, whichever library reads the rows: the same bytes as asyncpg's, the sources it
does not offer refused, and what goes wrong in production (clients that go away, a database that
fails or is gone, more requests than connections, a cancelled reader) leaking nothing.

The layers come from the registries: the shared ones (`shared.layers.SHARED_LAYERS`) and each
port's own (`PortDescriptor.layers`). A shared layer runs on one default pair of every interface
(ASGI and aiohttp), the ASGI ports taken in turn so that the layers spread over them; a port's own
layer on that port's default pair. The failure tests take one pair per layer: for a shared layer
its ASGI pair, where a client that goes away cancels the body wherever it waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from shared.bodies import open_body
from shared.contract import ENDPOINTS, SOURCES, DataRequest
from shared.database import Database
from shared.encoders import ENCODERS, FORMATS, encode_all
from shared.layers import (
    SHARED_LAYERS,
    DataLayer,
    LayerSpec,
    LayerUnavailable,
    choose_layer,
    open_layer,
)
from shared.ports import PortDescriptor, available_ports
from shared.settings import Settings

from ._postgres import admin_url
from .rawhttp import IncompleteBody, RawConnection, fetch
from .servers import Server, ServerPool
from .test_cli_failures import _assert_one_line, _run
from .test_conformance_failures import BIG, HOLDING_SOURCES, _assert_quiet, _wait_until_idle
from .test_conformance_failures import doomed_database as doomed_database  # the fixture
from .test_conformance_resilience import _pooled_backends

# Each (rows, batch): none, one, a count that is no multiple of the batch, many small batches.
ROW_CASES = [(0, 1_000), (1, 1_000), (2_500, 1_000), (333, 7)]


@dataclass(frozen=True)
class LayerOnPair:
    """A data layer served by one pair."""

    spec: LayerSpec
    pair: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def id(self) -> str:
        # The pair is a part of its own in the id: tests/_scheduling.py keeps a pair's tests in
        # one worker, so that its servers start once.
        return f"{self.spec.name}-{self.pair}"


def _default_pairs() -> dict[str, list[tuple[PortDescriptor, str]]]:
    """Per interface, every available port with its default pair, in the registry's order."""
    by_interface: dict[str, list[tuple[PortDescriptor, str]]] = {}
    for _, port, _ in available_ports():
        if port is not None:
            pair = f"{port.name}@{port.default_server}"
            by_interface.setdefault(port.interface, []).append((port, pair))
    # ASGI first: a shared layer's failure tests take its first pair.
    return dict(sorted(by_interface.items(), key=lambda item: item[0] != "asgi"))


def _placements() -> list[list[LayerOnPair]]:
    """Every registered layer with the pairs it runs on here, its failure tests' pair first."""
    interfaces = _default_pairs()
    placements = []
    for index, spec in enumerate(SHARED_LAYERS.values()):
        placements.append(
            [
                LayerOnPair(spec, pair)
                for _, pair in (ports[index % len(ports)] for ports in interfaces.values())
            ]
        )
    for ports in interfaces.values():
        for port, pair in ports:
            placements += [[LayerOnPair(spec, pair)] for spec in port.layers]
    return placements


PLACEMENTS = _placements()


def _params(layers: Sequence[LayerOnPair]) -> list[object]:
    return [pytest.param(layer, id=layer.id) for layer in layers]


EVERY_PAIR = _params([layer for pairs in PLACEMENTS for layer in pairs])
ONE_PAIR = _params([pairs[0] for pairs in PLACEMENTS])
NOT_OFFERED = [
    pytest.param(pairs[0], source, id=f"{pairs[0].id}-{source}")
    for pairs in PLACEMENTS
    for source in SOURCES
    if source not in pairs[0].spec.sources
]
# A shared layer opens anywhere; a port's own runs in its port's app alone (Django's ORM needs
# Django configured), where a client going away cancels it: test_disconnects_leak_nothing.
OFFERED_IN_PROCESS = [
    pytest.param(spec.name, source, id=f"{spec.name}-{source}")
    for spec in SHARED_LAYERS.values()
    for source in spec.sources
]


def _serve(servers: ServerPool, layer: LayerOnPair) -> Server:
    return servers.get(layer.pair, layer=layer.name)


def _reading_sources(layer: LayerOnPair) -> list[str]:
    """The layer's sources that still read from the database once the headers are out."""
    return [source for source in layer.spec.sources if source != "fetch"]


def _holding_sources(layer: LayerOnPair) -> list[str]:
    """Of those, the ones holding one connection from the first batch to the last (not
    `keyset`, whose failures are tests/test_keyset.py's)."""
    return [source for source in _reading_sources(layer) if source in HOLDING_SOURCES]


# The same bytes


@pytest.mark.parametrize("layer", EVERY_PAIR)
async def test_bodies_are_asyncpgs(
    layer: LayerOnPair, servers: ServerPool, database: Database
) -> None:
    """Every offered source, format and endpoint gives the body asyncpg's `/standard?source=fetch`
    gives (`encode_all` of asyncpg's rows), complete, for a few row counts and batch sizes."""
    server = _serve(servers, layer)
    wrong = []
    for fmt in FORMATS:
        encoder = ENCODERS[fmt]
        for rows, batch in ROW_CASES:
            expected = encode_all(encoder, await database.fetch_all(encoder.columns, rows))
            for endpoint in ENDPOINTS:
                for source in layer.spec.sources:
                    path = f"/{endpoint}?rows={rows}&batch={batch}&format={fmt}&source={source}"
                    response = await fetch(server.url, path)
                    if response.status != 200 or not response.complete:
                        wrong.append(f"{path}: {response.status}, {response.body[:200]!r}")
                    elif response.body != expected:
                        wrong.append(
                            f"{path}: {len(response.body)} bytes, {len(expected)} expected"
                        )
    assert not wrong, f"{layer.id}: {len(wrong)} bodies differ from asyncpg's:\n" + "\n".join(
        wrong[:10]
    )


@pytest.mark.parametrize(("layer", "source"), NOT_OFFERED)
async def test_a_source_not_offered_is_a_400_naming_the_offered_ones(
    layer: LayerOnPair, source: str, servers: ServerPool
) -> None:
    server = _serve(servers, layer)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        for endpoint in ENDPOINTS:
            response = await client.get(f"/{endpoint}?rows=10&source={source}")
            assert response.status_code == 400, f"{endpoint}: {response.text}"
            assert response.headers["content-type"].startswith("application/json")
            answer = json.loads(response.content)
            assert answer.get("parameter") == "source", answer
            for offered in layer.spec.sources:
                assert offered in answer["error"], f"{offered!r} not named: {answer}"


# What goes wrong, on one pair per layer


async def _settled(admin: asyncpg.Connection, server: Server, pool_size: int) -> None:
    """The server's connections all idle again, no more of them than its pool holds."""
    await _wait_until_idle(admin)
    held = await _pooled_backends(admin, server.pid)
    assert len(held) <= pool_size, f"{len(held)} connections for a pool of {pool_size}"


async def _hold(server: Server, source: str, count: int) -> list[RawConnection]:
    """`count` streams that never read past their first chunk, each holding a connection."""
    holders = [await RawConnection.open(server.url, f"{BIG}&source={source}") for _ in range(count)]
    for holder in holders:
        assert holder.response is not None
        assert holder.response.status == 200, f"a holder was refused: {holder.response.status}"
        await holder.read_chunk()
    return holders


@pytest.mark.parametrize("layer", ONE_PAIR)
async def test_disconnects_leak_nothing(
    layer: LayerOnPair, servers: ServerPool, settings: Settings, admin: asyncpg.Connection
) -> None:
    """Clients that go away after a chunk or three, closing or resetting, some after stalling,
    for every source: the server's connections all come back idle, and every one of its pool
    serves again."""
    server = _serve(servers, layer)
    server.mark_log()
    for source in layer.spec.sources:
        for attempt in range(6):  # one and a half times the pool
            connection = await RawConnection.open(server.url, f"{BIG}&source={source}")
            assert connection.response is not None
            assert connection.response.status == 200
            for _ in range(attempt % 3 + 1):
                await connection.read_chunk()
            if attempt >= 4:
                await asyncio.sleep(0.3)  # a stalled reader: the server waits on flow control
            if attempt % 2:
                connection.abort()
            else:
                await connection.close()
        await _settled(admin, server, settings.pool_size)
    # A connection the layer lost count of would leave the last of these waiting into a 503.
    for holder in await _hold(server, _reading_sources(layer)[0], settings.pool_size):
        holder.abort()
    await _settled(admin, server, settings.pool_size)
    _assert_quiet(server.new_log(), f"{layer.id} after disconnects")


@pytest.mark.parametrize("layer", ONE_PAIR)
async def test_stream_fails_midway(
    layer: LayerOnPair, servers: ServerPool, settings: Settings, admin: asyncpg.Connection
) -> None:
    """The server's connections are terminated while a stream is in flight: the client sees a
    body cut short, never a complete one, and the next request is served. All of them, not the
    one whose query runs: Django's cursor is declared `WITH HOLD` in autocommit, its result kept
    by a session that looks idle between fetches."""
    server = _serve(servers, layer)
    for source in _holding_sources(layer):
        await _settled(admin, server, settings.pool_size)
        server.mark_log()
        connection = await RawConnection.open(server.url, f"{BIG}&source={source}")
        assert connection.response is not None
        assert connection.response.status == 200
        await connection.read_chunk()
        victims = await _pooled_backends(admin, server.pid)
        assert victims, f"{layer.id}: no connections of the server's to terminate"
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", victims)
        with pytest.raises(IncompleteBody):
            await asyncio.wait_for(connection.read_all(), timeout=30)
        await connection.close()
        after = await fetch(server.url, f"/chunked?rows=3000&batch=1000&source={source}")
        assert after.status == 200, f"{source}: {after.status} after the failure"
        assert after.complete
        assert after.body.count(b"\n") == 3000
        log = server.new_log()
        assert "Traceback" not in log, log
        assert sum("stream failed" in line for line in log.splitlines()) == 1, log


@pytest.mark.parametrize("layer", ONE_PAIR)
async def test_more_requests_than_connections(
    layer: LayerOnPair, servers: ServerPool, settings: Settings, admin: asyncpg.Connection
) -> None:
    """With every pooled connection held by a stalled stream, other requests wait the pool
    timeout and get a 503 with Retry-After, before any byte; once the holders go, all is served."""
    server = _serve(servers, layer)
    await _settled(admin, server, settings.pool_size)
    server.mark_log()
    paths = [f"/{e}?rows=10&source={s}" for e in ENDPOINTS for s in layer.spec.sources]
    holders = await _hold(server, _reading_sources(layer)[0], settings.pool_size)
    try:
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            responses = await asyncio.gather(*(client.get(path) for path in paths))
        elapsed = time.monotonic() - started
        for path, response in zip(paths, responses, strict=True):
            assert response.status_code == 503, f"{path}: {response.text}"
            assert response.headers.get("retry-after"), path
            assert json.loads(response.content)["error"], path
        assert elapsed < settings.pool_timeout + 10, f"503s came after {elapsed:.1f} s"
    finally:
        for holder in holders:
            holder.abort()
    await _settled(admin, server, settings.pool_size)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        burst = await asyncio.gather(*(client.get(path) for path in paths))
    assert [r.status_code for r in burst] == [200] * len(paths), [r.text for r in burst]
    # Django logs its 503s at ERROR (django.request): a traceback is what must not appear.
    assert "Traceback" not in server.new_log(), server.new_log()


@pytest.mark.parametrize("layer", ONE_PAIR)
async def test_no_503_after_the_database_drops_every_connection(
    layer: LayerOnPair, servers: ServerPool, admin: asyncpg.Connection
) -> None:
    """A restart or failover: every pooled connection closed by the server at once. The layer
    must notice and open new ones, not hand the dead ones out as 503s."""
    server = _serve(servers, layer)
    server.mark_log()
    paths = [f"/{e}?rows=50&batch=10&source={s}" for e in ENDPOINTS for s in layer.spec.sources]
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        warm = await asyncio.gather(*(client.get(path) for path in paths))
        assert {r.status_code for r in warm} == {200}
        victims = await _pooled_backends(admin, server.pid)
        assert victims, f"{layer.id}: no pooled connections to terminate"
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", victims)
        for _ in range(500):  # gone from pg_stat_activity: the server has closed them
            if not await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", victims
            ):
                break
            await asyncio.sleep(0.02)
        answers = await asyncio.gather(*(client.get(path) for path in [*paths, "/healthz"] * 3))
        refused = [(r.url.path, r.status_code, r.text) for r in answers if r.status_code != 200]
        assert not refused, f"{layer.id} after its connections were dropped: {refused}"
    _assert_quiet(server.new_log(), f"{layer.id} after the database dropped its connections")


@pytest.mark.parametrize("layer", ONE_PAIR)
async def test_503_when_the_database_goes(
    layer: LayerOnPair, servers: ServerPool, doomed_database: str
) -> None:
    """The database dropped under a serving pool: every source on both endpoints is a 503 JSON
    with Retry-After (before any byte), as is /healthz, and nothing is logged as a traceback."""
    server = servers.start_private(
        layer.pair, layer=layer.name, database_url=doomed_database, pool_timeout=1.0
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            assert (await client.get("/healthz")).status_code == 200
            for source in layer.spec.sources:
                response = await client.get(f"/chunked?rows=10&source={source}")
                assert response.status_code == 200, f"{source}: {response.text}"
            admin = await asyncpg.connect(admin_url())
            try:
                name = urlsplit(doomed_database).path.lstrip("/")
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            paths = [f"/{e}?rows=10&source={s}" for e in ENDPOINTS for s in layer.spec.sources]
            for path in ("/healthz", *paths):
                response = await client.get(path)
                assert response.status_code == 503, f"{path}: {response.text}"
                assert response.headers.get("retry-after"), path
                assert response.headers["content-type"].startswith("application/json"), path
        assert "Traceback" not in server.log(), server.log()
    finally:
        assert server.stop() == 0, server.log()


# A cancelled reader, without HTTP: the layer itself


@pytest.fixture
async def opened(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[DataLayer]:
    data_layer = await open_layer(settings.replace(layer=request.param))
    try:
        yield data_layer
    finally:
        await data_layer.dispose()


@pytest.mark.parametrize(("opened", "source"), OFFERED_IN_PROCESS, indirect=["opened"])
async def test_a_cancelled_reader_leaves_nothing_behind(
    opened: DataLayer,
    source: str,
    admin: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reader cancelled wherever it waits (the ASGI way of saying the client went away): no
    connection left out of the pool or busy in the database, not a warning logged."""
    caplog.set_level(logging.INFO)
    request = DataRequest(100_000, 1_000, ENCODERS["ndjson"], source)

    async def consume() -> None:
        async with await open_body(opened, request) as body:
            async for _ in body:
                await asyncio.sleep(0)

    for delay in (0.0, 0.005, 0.02, 0.05):
        task = asyncio.create_task(consume())
        await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert opened.pool_status()["checked_out"] == 0, opened.pool_status()
        await _wait_until_idle(admin)
    async with await open_body(opened, DataRequest(3, 1, ENCODERS["text"], source)) as body:
        assert b"".join([chunk async for chunk in body]).count(b"\n") == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [], "cleanup after cancellation should be silent"


# Choosing a layer


def test_an_unknown_layer_is_one_line_naming_the_choices() -> None:
    placement = PLACEMENTS[0][0]
    port = placement.pair.partition("@")[0]
    result = _run("serve", port, "--layer", "no-such-layer", "--port", "1")
    _assert_one_line(result, "serve", "no-such-layer", *SHARED_LAYERS)


def test_a_layer_without_its_driver_is_one_line() -> None:
    spec = LayerSpec("absent", "absent_driver_layer:create", ("fetch",), ("absent-driver-pkg",))
    with pytest.raises(LayerUnavailable) as refused:
        choose_layer("absent", (spec,))
    message = str(refused.value)
    assert "absent-driver-pkg" in message, message
    assert "\n" not in message, message
