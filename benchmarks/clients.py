"""Which HTTP client to measure with: each of the comparator's clients reading the same bodies from
memory, many at a time, as the comparator's ceiling does.

    uv run python benchmarks/clients.py [--rows 10000,100000] [--concurrency 1,8,32,128] [--repeats 5]

The bodies are the data set's text rows encoded as the ports encode them, cut into the chunks
/chunked sends with the comparator's batch (`compare.baselines.build_reference`), and served by
the comparator's in-memory server (its own process, sharing the machine's cores with the
client). For each (rows, concurrency) the clients take turns round by round after one warm-up
round each: `concurrency` simultaneous requests, every body checked by rows and bytes
(`compare.clients.timed_round`). Per request: the median total with min and p95 over every
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
from compare.clients import CLIENTS, MeasuringClient, open_client, timed_round
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


async def _round(
    client: MeasuringClient, url: str, rows: int, length: int, concurrency: int
) -> tuple[list[float], list[float], float]:
    measured = await timed_round(client, url, {}, {}, "text", rows, concurrency, length)
    for timing in measured.requests:
        if not timing.ok:
            raise RuntimeError(f"{client.name}: {timing.error}")
    totals = [t.total for t in measured.requests]
    ttfb = [t.ttfb for t in measured.requests if t.ttfb is not None]
    return totals, ttfb, length * concurrency / MB / measured.seconds


async def measure(
    reference: Reference,
    server: MemoryServer,
    names: list[str],
    rows_list: list[int],
    levels: list[int],
    repeats: int,
) -> dict[tuple[int, int, str], Figure]:
    figures: dict[tuple[int, int, str], Figure] = {}
    top = max(levels)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(open_client(n, top + 4)) for n in names]
        for rows in rows_list:
            expected = reference.expected[(rows, "text")]
            url = f"{server.url}/{Reference.key(rows, 'text')}"
            for concurrency in levels:
                for client in clients:
                    await _round(client, url, rows, expected.length, concurrency)  # warm-up
                for _ in range(repeats):
                    for client in clients:
                        totals, ttfb, rate = await _round(
                            client, url, rows, expected.length, concurrency
                        )
                        figure = figures.setdefault((rows, concurrency, client.name), Figure())
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
            f"{rows:>7,} rows ({length / MB:.2f} MB) x{concurrency:<4} {name:<8} "
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
    args = parser.parse_args()
    rows_list = [int(r) for r in args.rows.split(",")]
    levels = [int(c) for c in args.concurrency.split(",")]
    names = args.clients.split(",")
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
            await measure(reference, server, names, rows_list, levels, args.repeats)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
