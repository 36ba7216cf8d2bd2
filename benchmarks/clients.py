"""Which HTTP client to measure with, in how many processes: each of the comparator's clients
reading the same bodies from memory, many at a time, as the comparator's ceiling does.

    uv run python benchmarks/clients.py [--rows 10000,100000] [--concurrency 1,8,32,128]
        [--repeats 5] [--clients aiohttp,httpx] [--processes 0]

`--processes` lists the generators to compare for each client: 0 is the comparator's own process,
N is N client worker processes started together (`--client-processes N`); each (client,
processes) is an instrument of its own, named `aiohttp` (own process) or `aiohttp x2`.

The bodies are the data set's text rows encoded as the ports encode them, cut into the chunks
/chunked sends with the comparator's batch (`compare.baselines.build_reference`), and served by
the comparator's in-memory server (its own process, sharing the machine's cores with the
client). For each (rows, concurrency) the clients take turns round by round after one warm-up
round each: `concurrency` simultaneous requests, every body checked by rows and bytes
(the comparator's load engines, compare/load/). Per request: the median total with min and p95 over every
request of the measured rounds, and the median first byte; per round: bytes of all its bodies
over its wall time. No figure is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._database import seeded
from compare.baselines import MemoryServer, Reference, build_reference
from compare.clients import CLIENTS
from compare.load.base import LoadEngine, RoundSpec
from compare.load.in_process import InProcessEngine
from compare.load.processes import open_processes
from compare.options import DEFAULT_BATCH
from compare.stats import Stats
from shared.database import create_database
from shared.settings import Settings

MB = 1_000_000


@dataclass
class Figure:
    totals: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)  # megabytes per second, whole round


def instrument_name(client: str, processes: int) -> str:
    return client if processes == 0 else f"{client} x{processes}"


async def _round(
    name: str, engine: LoadEngine, url: str, rows: int, length: int, concurrency: int
) -> tuple[list[float], list[float], float]:
    measured = await engine.run(RoundSpec(url, {}, {}, "text", rows, concurrency, length))
    for timing in measured.requests:
        if not timing.ok:
            raise RuntimeError(f"{name}: {timing.error}")
    totals = [t.total for t in measured.requests]
    ttfb = [t.ttfb for t in measured.requests if t.ttfb is not None]
    return totals, ttfb, length * concurrency / MB / measured.seconds


async def measure(
    reference: Reference,
    server: MemoryServer,
    instruments: list[tuple[str, int]],
    rows_list: list[int],
    levels: list[int],
    repeats: int,
) -> dict[tuple[int, int, str], Figure]:
    figures: dict[tuple[int, int, str], Figure] = {}
    top = max(levels)
    names = [instrument_name(*instrument) for instrument in instruments]
    async with contextlib.AsyncExitStack() as stack:
        engines: list[LoadEngine] = []
        for client, processes in instruments:
            if processes == 0:
                own = InProcessEngine(client, top + 4)
                stack.push_async_callback(own.close)
                engines.append(own)
            else:
                engines.append(
                    await stack.enter_async_context(open_processes(client, processes, top))
                )
        clients = list(zip(names, engines, strict=True))
        for rows in rows_list:
            expected = reference.expected[(rows, "text")]
            url = f"{server.url}/{Reference.key(rows, 'text')}"
            for concurrency in levels:
                for name, engine in clients:
                    await _round(name, engine, url, rows, expected.length, concurrency)  # warm-up
                for _ in range(repeats):
                    for name, engine in clients:
                        totals, ttfb, rate = await _round(
                            name, engine, url, rows, expected.length, concurrency
                        )
                        figure = figures.setdefault((rows, concurrency, name), Figure())
                        figure.totals += totals
                        figure.ttfb += ttfb
                        figure.rounds.append(rate)
                print(_lines(rows, expected.length, concurrency, figures, names), flush=True)
    return figures


def _lines(
    rows: int, length: int, concurrency: int, figures: dict[tuple[int, int, str], Figure],
    names: list[str],
) -> str:  # fmt: skip
    out = []
    medians: dict[str, float] = {}
    for name in names:
        figure = figures[(rows, concurrency, name)]
        total = Stats.of(figure.totals)
        ttfb = Stats.of(figure.ttfb)
        rate = Stats.of(figure.rounds)
        medians[name] = total.median
        out.append(
            f"{rows:>7,} rows ({length / MB:.2f} MB) x{concurrency:<4} {name:<11} "
            f"total {total.median * 1e3:9.2f} ms [{total.min * 1e3:8.2f}, {total.p95 * 1e3:8.2f}]"
            f"  first byte {ttfb.median * 1e3:8.2f} ms  round {rate.median:7.0f} MB/s"
        )
    if len(names) == 2:
        slower, faster = sorted(names, key=lambda n: -medians[n])
        out.append(
            f"{'':>30} {slower} / {faster}: {medians[slower] / medians[faster]:.2f}x median total"
        )
    return "\n".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000")
    parser.add_argument("--concurrency", default="1,8,32,128")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--processes", default="0", help="comma list; 0: the own process")
    args = parser.parse_args()
    rows_list = [int(r) for r in args.rows.split(",")]
    levels = [int(c) for c in args.concurrency.split(",")]
    instruments = [
        (client, int(processes))
        for client in args.clients.split(",")
        for processes in args.processes.split(",")
    ]
    names = [instrument_name(*instrument) for instrument in instruments]
    settings, version = await seeded(Settings.from_env(), max(rows_list))
    database = await create_database(settings)
    load = os.getloadavg()[0]
    print(
        f"clients {', '.join(names)}; text rows {args.rows}, batch {DEFAULT_BATCH}, concurrency "
        f"{args.concurrency}; {args.repeats} rounds each (+1 warm-up), clients taking turns; "
        f"PostgreSQL {version}; {os.cpu_count()} cores, load average {load:.2f} at the start"
    )
    with tempfile.TemporaryDirectory(prefix="streambench-clients-") as scratch:
        try:
            reference = await build_reference(
                database, rows_list, ("text",), DEFAULT_BATCH, Path(scratch)
            )
        finally:
            await database.dispose()
        server = await MemoryServer.start(reference.folder)
        try:
            await measure(reference, server, instruments, rows_list, levels, args.repeats)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
