"""The Locust engine against the comparator's own engines on one scenario: what each measures
and what the sending costs the client.

    uv run python benchmarks/load_engines.py [--pair starlette@granian] [--rows 10000]
        [--source copy] [--concurrency 32] [--rounds 5] [--workers 1]

One server process, one body (verified by its byte length and rows in every request, as the
comparator does), rounds taking turns: aiohttp's client in this process (`--client-processes
0`), in `--workers` client worker processes (the default engine, `processes`), then Locust's
`--workers` workers (compare/load/locust/). Per engine: the median total and first byte over
every request of the measured rounds with [min, p95], and the client CPU per round, as each
engine reports it (the busiest sending process's; Locust's master only relays). The load
average before and after says how busy the machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
from pathlib import Path

import httpx

from compare.clients import Round
from compare.free_ports import HOST, free_port
from compare.load.base import LoadEngine, RoundSpec
from compare.load.choice import LocustOptions
from compare.load.in_process import InProcessEngine
from compare.load.locust.engine import start_locust
from compare.load.processes import open_processes
from shared.pairs import load_pair
from shared.ports import process_env
from shared.settings import Settings

from ._database import seeded


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.1f} ms [{ordered[0] * 1000:.1f}, {p95 * 1000:.1f}]"


def _summary(name: str, rounds: list[Round], cpu: list[float]) -> str:
    requests = [r for round_ in rounds for r in round_.requests]
    good = [r for r in requests if r.ok]
    totals = [r.total for r in good]
    ttfbs = [r.ttfb for r in good if r.ttfb is not None]
    return (
        f"| {name} | {len(good)}/{len(requests)} | {_spread(totals) if totals else '-'} | "
        f"{_spread(ttfbs) if ttfbs else '-'} | "
        f"{statistics.median(r.seconds for r in rounds) * 1000:.1f} ms | "
        f"{statistics.median(cpu) * 1000:.0f} ms |"
    )


async def measure(args: argparse.Namespace) -> list[str]:
    settings, version = await seeded(Settings.from_env(), args.rows)
    pair = load_pair(args.pair)
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *pair.command(HOST, port),
        env=process_env(dataclasses.replace(settings, metrics=False, access_log=False)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://{HOST}:{port}"
    params = {"rows": str(args.rows), "format": "text", "batch": "1000"}
    if args.source != "cursor":
        params["source"] = args.source
    load_before = os.getloadavg()[0]
    try:
        async with httpx.AsyncClient() as control:
            for _ in range(300):
                try:
                    if (await control.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            body = (await control.get(f"{base}/chunked", params=params)).content
        spec = RoundSpec(
            f"{base}/chunked", params, {}, "text", args.rows, args.concurrency, len(body)
        )
        choice = LocustOptions(args.workers, args.workers)
        names = ("own process (in-process)", f"{args.workers} client process(es)", "locust")
        cpu: dict[str, list[float]] = {name: [] for name in names}
        rounds: dict[str, list[Round]] = {name: [] for name in names}
        with tempfile.TemporaryDirectory() as logs:
            own = InProcessEngine("aiohttp", args.concurrency + 4)
            async with (
                open_processes("aiohttp", args.workers, args.concurrency) as processes,
                start_locust(choice, Path(logs)) as locust,
            ):
                engines: dict[str, LoadEngine] = dict(
                    zip(names, (own, processes, locust), strict=True)
                )
                try:
                    for number in range(1 + args.rounds):  # the first of each is a warm-up
                        for name, engine in engines.items():
                            sent = await engine.run(spec)
                            if number == 0:
                                continue
                            assert sent.load is not None
                            rounds[name].append(sent)
                            cpu[name].append(max(sent.load.cpu_seconds))
                    described = {name: engine.describe() for name, engine in engines.items()}
                finally:
                    await own.close()
    finally:
        server.terminate()
        await server.wait()
    load_after = os.getloadavg()[0]
    return [
        f"{args.pair} /chunked?source={args.source}&rows={args.rows} ({len(body):,} bytes), "
        f"{args.concurrency} at a time, {args.rounds} rounds each after a warm-up, taking turns; "
        f"PostgreSQL {version}; {os.cpu_count()} cores; load average {load_before:.2f} before, "
        f"{load_after:.2f} after",
        *(f"{name}: {text}" for name, text in described.items()),
        "",
        "| engine | ok | total, median [min, p95] | first byte | round | client CPU per round |",
        "| --- | --- | --- | --- | --- | --- |",
        *(_summary(name, rounds[name], cpu[name]) for name in rounds),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="starlette@granian")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--source", default="copy")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    for line in asyncio.run(measure(args)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
