"""What a server's requests cost its connection pool, as `/metrics` shows it (shared/ledger.py).

The comparator reads these samples around each round of requests, so their names and meanings
are an interface: the names are written out here, not taken from the code. The arithmetic is
tested on its own with a clock the test moves; every shared layer, in process, returns in its
ledger every connection its pool got back, however a body ended.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest

from shared import metrics
from shared.bodies import open_body
from shared.contract import DataRequest
from shared.encoders import ENCODERS
from shared.layers import SHARED_LAYERS, DataLayer
from shared.ledger import ConnectionLedger

from .test_conformance_resilience import _pooled_backends
from .test_data_layers import OFFERED_IN_PROCESS
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
