"""The load engines that send a round from this machine: the comparator's own process, and
worker processes that start together and send their samples back. Against raw HTTP servers in
the test (what they measure does not depend on a port); no database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from compare.capacity import open_files_needed
from compare.client_load import ClientFigures, client_figures, saturated_reason
from compare.clients import Round
from compare.load.base import ClientLoad, LoadEngine, RoundSpec, serves_here
from compare.load.in_process import InProcessEngine
from compare.load.processes import (
    EngineError,
    ProcessEngine,
    default_client_processes,
    open_processes,
    shares,
)
from compare.results import Stats

from .rawhttp import raw_server

BODY = b"object_id:1 \n" * 1_000


class Counting:
    """How many requests the server held at once, at most."""

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0
        self.served = 0


@contextlib.asynccontextmanager
async def body_server(seconds: float = 0.0) -> AsyncIterator[tuple[str, Counting]]:
    """Answers every request with BODY in ten pieces over `seconds`, kept alive."""
    counting = Counting()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            counting.open += 1
            counting.peak = max(counting.peak, counting.open)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY))
            step = len(BODY) // 10
            for start in range(0, len(BODY), step):
                writer.write(BODY[start : start + step])
                await writer.drain()
                await asyncio.sleep(seconds / 10)
            counting.open -= 1
            counting.served += 1

    async with raw_server(answer) as url:
        yield f"{url}/body", counting


def spec(url: str, concurrency: int, per_stream: int = 1) -> RoundSpec:
    return RoundSpec(url, {}, {}, "text", 1_000, concurrency, len(BODY), None, per_stream)


def in_process(concurrency: int) -> AbstractAsyncContextManager[LoadEngine]:
    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[LoadEngine]:
        engine = InProcessEngine("aiohttp", concurrency + 4)
        try:
            yield engine
        finally:
            await engine.close()

    return opened()


ENGINES: dict[str, Callable[[int], AbstractAsyncContextManager[LoadEngine]]] = {
    "in-process": in_process,
    "two processes": lambda concurrency: open_processes("aiohttp", 2, concurrency),
}


def test_a_round_is_split_evenly_and_each_process_has_files_for_its_share() -> None:
    assert shares(5, 2) == [3, 2]
    assert shares(1, 3) == [1, 0, 0]
    assert sum(shares(1_024, 3)) == 1_024
    assert open_files_needed(1_024, 4) - open_files_needed(1_024, 8) == 128
    assert default_client_processes(2) == 1
    assert default_client_processes(16) == 8
    assert default_client_processes(1) == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(ENGINES))
async def test_every_request_of_a_round_comes_back_timed(name: str) -> None:
    async with body_server() as (url, counting), ENGINES[name](8) as engine:
        measured = await engine.run(spec(url, 5))
        closed_loop = await engine.run(spec(url, 5, per_stream=3))
    assert [r.error for r in measured.requests] == [None] * 5
    assert all(r.bytes == len(BODY) and r.rows == 1_000 for r in measured.requests)
    assert all(
        r.ttfb is not None and r.ttfb <= r.total <= measured.seconds for r in measured.requests
    )
    assert len(closed_loop.requests) == 15
    assert all(r.ok for r in closed_loop.requests)
    # A closed loop keeps the streams at five: a stream's next request waits for its last.
    assert counting.peak <= 5, f"{counting.peak} requests at once from 5 streams"
    assert counting.served == 20
    load = measured.load
    assert load is not None
    assert load.processes == (2 if name == "two processes" else 1)
    assert load.same_machine
    assert all(seconds >= 0 for seconds in load.cpu_seconds)


@pytest.mark.timeout(60)
async def test_a_worker_that_dies_mid_round_fails_its_share_and_is_replaced() -> None:
    async with body_server(seconds=2.0) as (url, _), open_processes("aiohttp", 2, 8) as engine:
        round_ = asyncio.ensure_future(engine.run(spec(url, 4)))
        await asyncio.sleep(0.5)
        victim = engine._workers[0]
        assert victim is not None
        os.kill(victim.pid, signal.SIGKILL)
        measured = await round_
        after = await engine.run(spec(url, 4))
    lost = [r for r in measured.requests if not r.ok]
    assert len(measured.requests) == 4
    assert len(lost) == 2, [r.error for r in measured.requests]
    assert all(f"pid {victim.pid} exited mid-round" in (r.error or "") for r in lost)
    assert all(r.ok for r in measured.requests if r not in lost)
    assert [r.error for r in after.requests] == [None] * 4


@pytest.mark.timeout(60)
async def test_a_concurrency_past_the_open_file_limit_is_refused_before_a_round() -> None:
    engine = ProcessEngine("aiohttp", 1, 10**9)
    with pytest.raises(EngineError, match=r"needs about 1,000,000,128 open files .* limit is"):
        await engine.start()
    assert engine._workers == []


def _round(cpu: tuple[float, ...], seconds: float, here: bool = True) -> Round:
    return Round([], seconds, ClientLoad(cpu, ("a",) * len(cpu), here, {"a": 1.5}))


def test_a_load_generator_above_four_fifths_of_a_core_is_flagged() -> None:
    busy = client_figures([_round((0.9, 0.2), 1.0), _round((0.85,), 1.0), _round((0.95,), 1.0)])
    calm = client_figures([_round((0.5, 0.7), 1.0)])
    assert busy is not None
    assert busy.cpu_share is not None
    assert busy.cpu_share.median == pytest.approx(0.9)
    assert busy.processes == 2
    assert busy.same_machine
    assert busy.load == 1.5
    reason = saturated_reason(busy)
    assert reason is not None
    assert "90% of a core" in reason
    assert "servers' own machine" in reason
    assert saturated_reason(calm) is None
    assert client_figures([Round([], 1.0)]) is None
    elsewhere = ClientFigures(1, Stats.of([0.95]), None, ("b",), same_machine=False)
    assert "own machine" not in (saturated_reason(elsewhere) or "")


def test_a_server_on_loopback_shares_the_machine() -> None:
    assert serves_here("http://127.0.0.1:8000")
    assert serves_here("http://localhost:8000/x")
    assert serves_here("http://[::1]:8000")
    assert not serves_here("http://192.0.2.10:8000")
