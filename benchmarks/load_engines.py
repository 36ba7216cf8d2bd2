"""The Locust engine against the in-process default on one scenario: what each measures and
what the sending costs the client.

    uv run python benchmarks/load_engines.py [--pair starlette@granian] [--rows 10000]
        [--source copy] [--concurrency 32] [--rounds 5] [--workers 1]

One server process, one body (verified by its byte length and rows in every request, as the
comparator does), rounds taking turns: the comparator's own aiohttp client in this process,
then Locust's workers (compare/load/locust/). Per engine: the median total and first byte over
every request of the measured rounds with [min, p95], and the client CPU per round: this
process's CPU over an in-process round, the workers' own over a Locust round (the master only
relays). The load average before and after says how busy the machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from compare.clients import Round, open_client, timed_round
from compare.free_ports import HOST, free_port
from compare.load.base import RoundSpec
from compare.load.choice import LoadChoice
from compare.load.locust.engine import open_locust
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
        choice = LoadChoice("locust", args.workers, args.workers)
        cpu: dict[str, list[float]] = {"in-process": [], "locust": []}
        rounds: dict[str, list[Round]] = {"in-process": [], "locust": []}
        with tempfile.TemporaryDirectory() as logs:
            async with (
                open_client("aiohttp", args.concurrency + 4) as client,
                open_locust(choice, Path(logs)) as engine,
            ):
                for number in range(1 + args.rounds):  # the first of each is a warm-up
                    started = time.process_time()
                    own = await timed_round(
                        client, spec.url, params, {}, "text", args.rows, args.concurrency,
                        len(body),
                    )  # fmt: skip
                    spent = time.process_time() - started
                    sent = await engine.run(spec)
                    if number == 0:
                        continue
                    rounds["in-process"].append(own)
                    cpu["in-process"].append(spent)
                    rounds["locust"].append(sent)
                    assert sent.load is not None
                    cpu["locust"].append(sum(sent.load.cpu_seconds))
                described = engine.describe()
    finally:
        server.terminate()
        await server.wait()
    load_after = os.getloadavg()[0]
    return [
        f"{args.pair} /chunked?source={args.source}&rows={args.rows} ({len(body):,} bytes), "
        f"{args.concurrency} at a time, {args.rounds} rounds each after a warm-up, taking turns; "
        f"PostgreSQL {version}; {os.cpu_count()} cores; load average {load_before:.2f} before, "
        f"{load_after:.2f} after",
        f"locust engine: {described}",
        "",
        "| engine | ok | total, median [min, p95] | first byte | round | client CPU per round |",
        "| --- | --- | --- | --- | --- | --- |",
        _summary("in-process (aiohttp)", rounds["in-process"], cpu["in-process"]),
        _summary("locust", rounds["locust"], cpu["locust"]),
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
