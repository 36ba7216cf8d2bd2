"""What a server's requests cost its connection pool, as `/metrics` shows it (shared/ledger.py).

The comparator reads these samples around each round of requests, so their names and meanings
are an interface: the names are written out here, not taken from the code. The arithmetic is
tested on its own with a clock the test moves; every shared layer, in process, returns in its
ledger every connection its pool got back, however a body ended; then every data layer, on a real
server on a real socket with a pool of one connection, shows a stalled stream holding its
connection (and its connection-seconds rising) until its client goes, a `fetch` as one checkout
given back, a second request waiting the pool timeout into a 503, and `POST /metrics/reset-peak`
restarting the peak and the maxima but never the counters.
"""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
import httpx
import pytest

from shared import metrics
from shared.bodies import open_body
from shared.contract import DataRequest
from shared.encoders import ENCODERS
from shared.layers import SHARED_LAYERS, DataLayer
from shared.ledger import ConnectionLedger

from .rawhttp import RawConnection
from .servers import Server, ServerPool
from .test_conformance_failures import BIG
from .test_conformance_resilience import _pooled_backends
from .test_data_layers import (
    EVERY_PAIR,
    OFFERED_IN_PROCESS,
    ONE_PAIR,
    PLACEMENTS,
    LayerOnPair,
)
from .test_data_layers import opened as opened  # the fixture

HELD = "streambench_db_connections_held"
PEAK = "streambench_db_connections_held_peak"
SECONDS = "streambench_db_connection_seconds_total"
CHECKOUTS = "streambench_db_checkouts_total"
HOLD_MAX = "streambench_db_hold_seconds_max"
WAITED = "streambench_db_checkout_wait_seconds_total"
WAIT_MAX = "streambench_db_checkout_wait_seconds_max"
FAILED = "streambench_db_checkouts_failed_total"
NAMES = (HELD, PEAK, SECONDS, CHECKOUTS, HOLD_MAX, WAITED, WAIT_MAX, FAILED)
COUNTERS = (SECONDS, CHECKOUTS, WAITED, FAILED)

# One connection, so that one stalled stream holds the whole pool; a short wait for it.
POOL_TIMEOUT = 1.0
STALL = 1.2  # seconds a stream's reader stalls mid-body


# The arithmetic


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _figures(ledger: ConnectionLedger) -> dict[str, float]:
    return {sample.name: sample.value for sample in ledger.samples()}


def test_the_samples_are_the_interfaces_names() -> None:
    ledger = ConnectionLedger()
    samples = ledger.samples()
    assert tuple(sample.name for sample in samples) == NAMES
    kinds = {sample.name: sample.kind for sample in samples}
    assert {name for name, kind in kinds.items() if kind == "counter"} == set(COUNTERS)
    assert all(kind in ("counter", "gauge") for kind in kinds.values()), kinds
    # /metrics renders them after the process's samples, and the comparator's parser reads them.
    parsed = metrics.parse(metrics.render(more=samples).decode())
    assert {name: parsed[name] for name in NAMES} == dict.fromkeys(NAMES, 0)
    assert metrics.PEAK_METRIC in parsed


def test_holds_and_waits_add_up() -> None:
    clock = Clock()
    ledger = ConnectionLedger(clock)
    ledger.lent("a")
    clock.advance(2.0)
    ledger.lent("b")
    clock.advance(1.0)
    # Held now: a for 3 s, b for 1 s, both counted so far.
    now = _figures(ledger)
    assert (now[HELD], now[PEAK], now[CHECKOUTS]) == (2, 2, 2)
    assert now[SECONDS] == pytest.approx(4.0)
    assert now[HOLD_MAX] == pytest.approx(3.0)
    ledger.returned("a")
    clock.advance(0.5)
    ledger.returned("b")
    ledger.returned("b")  # twice: the second changes nothing
    ledger.returned("never lent")
    clock.advance(10.0)  # nothing held: nothing more to count
    after = _figures(ledger)
    assert (after[HELD], after[PEAK], after[CHECKOUTS]) == (0, 2, 2)
    assert after[SECONDS] == pytest.approx(3.0 + 1.5)
    assert after[HOLD_MAX] == pytest.approx(3.0)

    _wait(ledger, clock, 0.25)
    with pytest.raises(TimeoutError):
        _wait(ledger, clock, 1.0, TimeoutError("the pool timed out"))
    with pytest.raises(asyncio.CancelledError):
        # A request gone away while it waited: timed, not failed.
        _wait(ledger, clock, 0.5, asyncio.CancelledError())
    waits = _figures(ledger)
    assert waits[WAITED] == pytest.approx(1.75)
    assert waits[WAIT_MAX] == pytest.approx(1.0)
    assert waits[FAILED] == 1


def _wait(
    ledger: ConnectionLedger, clock: Clock, seconds: float, ending: BaseException | None = None
) -> None:
    with ledger.waiting():
        clock.advance(seconds)
        if ending is not None:
            raise ending


def test_a_reset_restarts_the_peak_and_maxima_from_what_is_held() -> None:
    clock = Clock()
    ledger = ConnectionLedger(clock)
    for key in ("a", "b", "c"):
        ledger.lent(key)
    clock.advance(5.0)
    ledger.returned("a")
    ledger.returned("b")
    _wait(ledger, clock, 2.0)
    before = _figures(ledger)
    ledger.reset_peak()
    after = _figures(ledger)
    assert after[PEAK] == after[HELD] == 1
    assert after[HOLD_MAX] == pytest.approx(7.0)  # c's age: it is still held
    assert after[WAIT_MAX] == 0
    assert {name: after[name] for name in COUNTERS} == {name: before[name] for name in COUNTERS}
    ledger.returned("c")
    ledger.reset_peak()
    clock.advance(1.0)
    empty = _figures(ledger)
    assert (empty[PEAK], empty[HOLD_MAX], empty[WAIT_MAX]) == (0, 0, 0)
    assert empty[SECONDS] == pytest.approx(5.0 + 5.0 + 7.0)


# Every way a stream ends, in process


@pytest.mark.parametrize(("opened", "source"), OFFERED_IN_PROCESS, indirect=["opened"])
async def test_every_way_a_body_ends_gives_its_connection_back_in_the_ledger(
    opened: DataLayer, source: str
) -> None:
    """Read to its end, closed after its first chunk (a `COPY` then drops its connection: the
    pool's invalidation path), cancelled mid-read: each checkout is returned in the ledger as
    in the pool."""
    before = opened.ledger.figures()
    async with await open_body(opened, DataRequest(10, 3, ENCODERS["text"], source)) as body:
        assert b"".join([chunk async for chunk in body]).count(b"\n") == 10
    big = DataRequest(100_000, 1_000, ENCODERS["ndjson"], source)
    async with await open_body(opened, big) as body:
        await anext(aiter(body))
    reading = asyncio.Event()

    async def read_slowly() -> None:
        async with await open_body(opened, big) as body:
            async for _ in body:
                reading.set()
                await asyncio.sleep(0.01)

    task = asyncio.create_task(read_slowly())
    await asyncio.wait_for(reading.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = opened.ledger.figures()
    assert after.held == opened.pool_status()["checked_out"] == 0, (after, opened.pool_status())
    checkouts = after.checkouts - before.checkouts
    if source in ("fetch", "cursor", "copy"):
        assert checkouts == 3, f"{checkouts} checkouts for three bodies"
    else:  # a source that reads in several queries
        assert checkouts >= 3, f"{checkouts} checkouts for three bodies"
    assert after.connection_seconds > before.connection_seconds
    assert after.failed == before.failed, after


@pytest.mark.parametrize("opened", list(SHARED_LAYERS), indirect=True)
async def test_a_dead_connection_passed_over_is_no_checkout_but_on_asyncpg(
    opened: DataLayer, admin: asyncpg.Connection
) -> None:
    """After the database dropped every pooled connection, a request is one checkout: the layer
    passes over the dead ones before lending one (SQLAlchemy's pool refuses them in its first
    checkout listener, before the ledger's). The asyncpg layer checks them itself once lent, and
    gives each dead one back at once: a checkout of its own, as docs/contract.md says."""
    await asyncio.gather(*(opened.fetch_all(("id",), 1) for _ in range(4)))
    victims = await _pooled_backends(admin, os.getpid())
    assert victims, "no pooled connections to terminate"
    await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid", victims)
    for _ in range(500):  # gone from pg_stat_activity: the server has closed them
        if not await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", victims
        ):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # the drivers read the server's goodbye
    before = opened.ledger.figures()
    await opened.fetch_all(("id",), 1)
    after = opened.ledger.figures()
    checkouts = after.checkouts - before.checkouts
    if opened.name == "asyncpg":
        assert checkouts >= 2, f"{checkouts} checkouts: the dead ones, then a live one"
    else:
        assert checkouts == 1, f"{checkouts} checkouts for one request"
    assert after.held == 0, after
    assert after.failed == before.failed, after


# Every layer, on a real server


def _serve(servers: ServerPool, layer: LayerOnPair) -> Server:
    return servers.get(
        layer.pair, layer=layer.name, metrics=True, pool_size=1, pool_timeout=POOL_TIMEOUT
    )


async def _ledger(client: httpx.AsyncClient) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    values = metrics.parse(response.text)
    missing = [name for name in NAMES if name not in values]
    assert not missing, f"/metrics lacks {missing}:\n{response.text}"
    return {name: values[name] for name in NAMES}


async def _nothing_held(client: httpx.AsyncClient, patience: float = 10.0) -> dict[str, float]:
    """The ledger once no connection is held (a stream of an earlier request may still be
    closing), or an assertion saying what is still held after `patience`."""
    deadline = time.monotonic() + patience
    while True:
        figures = await _ledger(client)
        if figures[HELD] == 0:
            return figures
        if time.monotonic() > deadline:
            raise AssertionError(f"a connection is still held after {patience} s: {figures}")
        await asyncio.sleep(0.05)


async def _stalled_stream(server: Server) -> RawConnection:
    """A `/chunked?source=cursor` stream whose reader stops after its first chunk: the server
    soon waits on flow control, its connection held."""
    stream = await RawConnection.open(server.url, f"{BIG}&source=cursor")
    assert stream.response is not None
    assert stream.response.status == 200, f"the stream was refused: {stream.response.status}"
    await stream.read_chunk()
    return stream


async def _reset(client: httpx.AsyncClient) -> None:
    response = await client.post("/metrics/reset-peak")
    assert response.status_code == 204, response.text


@pytest.mark.parametrize("layer", ONE_PAIR)
async def test_a_stalled_stream_holds_its_connection_until_its_client_goes(
    layer: LayerOnPair, servers: ServerPool
) -> None:
    server = _serve(servers, layer)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        before = await _nothing_held(client)
        stream = await _stalled_stream(server)
        try:
            stalled_since = time.monotonic()
            during = []
            for _ in range(3):
                await asyncio.sleep(STALL / 3)
                during.append(await _ledger(client))
            stalled = time.monotonic() - stalled_since
        finally:
            stream.abort()
        assert [figures[HELD] for figures in during] == [1, 1, 1], during
        seconds = [figures[SECONDS] for figures in during]
        assert seconds[0] < seconds[1] < seconds[2], (
            f"connection-seconds should rise while the stream is stalled: {seconds}"
        )
        assert during[-1][SECONDS] - before[SECONDS] >= stalled * 2 / 3, (before, during)
        after = await _nothing_held(client)
        assert after[SECONDS] - before[SECONDS] >= stalled, (
            f"{after[SECONDS] - before[SECONDS]:.2f} connection-seconds for a {stalled:.2f} s stall"
        )
        assert after[CHECKOUTS] - before[CHECKOUTS] == 1, (before, after)


@pytest.mark.parametrize("layer", EVERY_PAIR)
async def test_a_fetch_is_one_checkout_given_back(layer: LayerOnPair, servers: ServerPool) -> None:
    """On every pair: the /metrics and /metrics/reset-peak wiring of every port."""
    server = _serve(servers, layer)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        before = await _nothing_held(client)
        response = await client.get("/standard?rows=10&source=fetch")
        assert response.status_code == 200, response.text
        after = await _ledger(client)
        assert after[CHECKOUTS] - before[CHECKOUTS] == 1, (before, after)
        assert after[HELD] == 0, "a fetch gives its connection back before its response"
        assert after[SECONDS] > before[SECONDS], (before, after)
        assert after[PEAK] == 1, after
        await _reset(client)
        assert (await _ledger(client))[PEAK] == 0, "the peak restarts from what is held: nothing"


@pytest.mark.parametrize("layer", ONE_PAIR)
async def test_waiting_for_a_held_pool_is_timed_and_its_503_counted(
    layer: LayerOnPair, servers: ServerPool
) -> None:
    server = _serve(servers, layer)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        await _nothing_held(client)
        stream = await _stalled_stream(server)
        try:
            await _reset(client)
            before = await _ledger(client)
            started = time.monotonic()
            response = await client.get("/standard?rows=10&source=fetch")
            elapsed = time.monotonic() - started
            after = await _ledger(client)
        finally:
            stream.abort()
        assert response.status_code == 503, response.text
        assert after[FAILED] - before[FAILED] == 1, (before, after)
        assert after[CHECKOUTS] == before[CHECKOUTS], "nothing was handed out"
        assert after[HELD] == 1, after
        assert POOL_TIMEOUT * 0.9 <= after[WAIT_MAX] <= elapsed, (
            f"waited {after[WAIT_MAX]:.3f} s for a pool timeout of {POOL_TIMEOUT} s"
        )
        assert after[WAITED] - before[WAITED] >= POOL_TIMEOUT * 0.9, (before, after)
        await _nothing_held(client)


@pytest.mark.parametrize("layer", ONE_PAIR)
async def test_a_reset_restarts_the_peak_and_maxima_but_no_counter(
    layer: LayerOnPair, servers: ServerPool
) -> None:
    server = _serve(servers, layer)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        await _nothing_held(client)
        stream = await _stalled_stream(server)
        await asyncio.sleep(STALL)
        stream.abort()
        long_hold = await _nothing_held(client)
        assert long_hold[PEAK] >= 1
        assert long_hold[HOLD_MAX] >= STALL, long_hold

        await _reset(client)
        nothing = await _ledger(client)
        assert (nothing[PEAK], nothing[HOLD_MAX], nothing[WAIT_MAX]) == (0, 0, 0), nothing
        _assert_counters_kept(long_hold, nothing)

        opened = time.monotonic()
        stream = await _stalled_stream(server)
        try:
            await asyncio.sleep(STALL / 3)
            await _reset(client)
            held = await _ledger(client)
            age = time.monotonic() - opened
        finally:
            stream.abort()
        assert (held[HELD], held[PEAK]) == (1, 1), held
        assert STALL / 3 <= held[HOLD_MAX] <= age, (
            f"the longest hold after a reset is the age of the one held ({age:.2f} s at most), "
            f"not {held[HOLD_MAX]:.2f} s"
        )
        _assert_counters_kept(nothing, held)


# Layers with the `keyset` source: each page a query on a connection of its own.
KEYSET = [
    pytest.param(pairs[0], id=pairs[0].id)
    for pairs in PLACEMENTS
    if "keyset" in pairs[0].spec.sources
]


@pytest.mark.parametrize("layer", KEYSET)
async def test_a_stalled_keyset_stream_holds_nothing_between_its_pages(
    layer: LayerOnPair, servers: ServerPool
) -> None:
    """Every page is a checkout given back before its rows are sent: once the server waits on a
    stalled reader it holds no connection, and the pool's one connection serves another request
    meanwhile."""
    server = _serve(servers, layer)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        before = await _nothing_held(client)
        stream = await RawConnection.open(server.url, f"{BIG}&source=keyset")
        try:
            assert stream.response is not None
            assert stream.response.status == 200, stream.response.status
            await stream.read_chunk()
            stalled = await _no_more_checkouts(client)
            await asyncio.sleep(STALL)
            during = await _ledger(client)
            other = await client.get("/standard?rows=10&source=fetch")
        finally:
            stream.abort()
        assert during[CHECKOUTS] - before[CHECKOUTS] >= 2, "the first page and the one read ahead"
        assert during[HELD] == 0, during
        assert during[SECONDS] == stalled[SECONDS], (
            f"connection-seconds went on while nothing was read: {stalled} -> {during}"
        )
        assert other.status_code == 200, other.text


async def _no_more_checkouts(
    client: httpx.AsyncClient, quiet: float = 0.5, patience: float = 15.0
) -> dict[str, float]:
    """The ledger once no checkout came for `quiet` seconds: a stream of pages goes on until the
    socket buffers are full (megabytes on loopback), then waits for its reader."""
    deadline = time.monotonic() + patience
    last = await _ledger(client)
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet)
        figures = await _ledger(client)
        if figures[CHECKOUTS] == last[CHECKOUTS] and figures[HELD] == 0:
            return figures
        last = figures
    raise AssertionError(f"checkouts still coming after {patience} s: {last}")


def _assert_counters_kept(before: dict[str, float], after: dict[str, float]) -> None:
    went_down = [name for name in COUNTERS if after[name] < before[name]]
    assert not went_down, f"counters never restart: {went_down} in {before} -> {after}"
