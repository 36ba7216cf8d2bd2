"""One measured round's edges: stopped at the memory cap without losing the run, and the small
request sent into a paced round. Against a raw HTTP server in the test, no database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses

import httpx
import pytest

from compare.clients import CLIENTS, open_client
from compare.groups import Collected, Contender, _Bench, _run_cell
from compare.load.base import LoadEngine, RoundSpec
from compare.load.in_process import InProcessEngine
from compare.load.processes import open_processes
from compare.options import Cell, add_arguments, options_from_args
from compare.results import ServerSource
from compare.rounds import BYSTANDER_DELAY, Instruments, measure_round
from compare.servers import Sample

from .rawhttp import raw_server

MB = 1_000_000
CHUNK = b"x" * 65_536


class GrowingProbe:
    """A server whose memory grows by `step` bytes each time it is looked at."""

    source: ServerSource = "proc"
    pids: tuple[int, ...] = ()

    def __init__(self, step: int) -> None:
        self._resident = 0
        self._step = step

    def resident_bytes(self) -> int | None:
        self._resident += self._step
        return self._resident

    async def before(self) -> None:
        return None

    async def after(self) -> Sample:
        return Sample(None, None)


def endless_body() -> contextlib.AbstractAsyncContextManager[str]:
    """Any request gets a 200 with a chunked body that never ends."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
            await writer.drain()

    return raw_server(answer)


def small_body() -> contextlib.AbstractAsyncContextManager[str]:
    """Any request gets a 200 with `object_id:1 \n`, one row of text, kept alive."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nobject_id:1 \n")
            await writer.drain()

    return raw_server(answer)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("client_name", "processes"), [*((name, 0) for name in sorted(CLIENTS)), ("aiohttp", 2)]
)
async def test_a_round_past_the_memory_cap_is_stopped_and_says_why(
    client_name: str, processes: int
) -> None:
    """Stopped mid-round, the engine's workers must not answer the stopped round as if it were
    the next one: the next round is measured whole."""
    cell = Cell("chunked", 1000, "text", 4, "cursor", 1 * MB)
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(endless_body())
        client = await stack.enter_async_context(open_client(client_name, 8))
        engine: LoadEngine
        if processes:
            engine = await stack.enter_async_context(open_processes(client_name, processes, 8))
        else:
            engine = InProcessEngine(client_name, 8)
            stack.push_async_callback(engine.close)
        outcome = await measure_round(
            cell, Instruments(engine, client), url, {}, {}, 10 * MB, GrowingProbe(10 * MB), 50 * MB
        )
        small = await stack.enter_async_context(small_body())
        after = await engine.run(RoundSpec(small, {}, {}, "text", 1, 4, 13))
    assert [r.error for r in after.requests] == [None] * 4
    assert outcome.round is None
    assert outcome.capped is not None
    assert "stopped at the memory cap" in outcome.capped
    assert "cap 50 MB" in outcome.capped
    assert outcome.bystander is None, f"capped before {BYSTANDER_DELAY} s: nothing was sent"


class Quiet:
    def begin(self, label: str) -> None: ...

    def advance(self, work: float) -> None: ...

    def note(self, text: str) -> None: ...


@pytest.mark.timeout(30)
async def test_a_server_past_the_memory_cap_sits_out_the_rest_of_its_group() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--repeats", "1"])
    options = dataclasses.replace(
        options_from_args(args, [("aiohttp@aiohttp", None)], ["aiohttp@aiohttp"]),
        memory_cap_bytes=50 * MB,
        warmup=0,
    )
    first, later = (Cell("chunked", rows, "text", 2, "cursor", 1 * MB) for rows in (1000, 2000))
    contender = Contender("endless", None, "http://unused")
    collected = {(contender.name, cell): Collected() for cell in (first, later)}
    async with (
        endless_body() as url,
        open_client("httpx", 8) as client,
        httpx.AsyncClient() as control,
    ):
        engine = InProcessEngine("httpx", 8)
        bench = _Bench(
            [contender], Instruments(engine, client), control, options, {contender.name: url},
            {contender.name: GrowingProbe(10 * MB)}, {}, collected, Quiet(),
        )  # fmt: skip
        for cell in (first, later):
            await _run_cell(cell, bench, 10 * MB)
        await engine.close()
    stopped, skipped = collected[(contender.name, first)], collected[(contender.name, later)]
    assert stopped.capped is not None
    assert "stopped at the memory cap" in stopped.capped
    assert not stopped.rounds
    assert skipped.capped == f"not run: its server passed the memory cap in {first.label}"
    assert skipped.failures == [skipped.capped]
    assert not skipped.rounds
