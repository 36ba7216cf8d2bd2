"""The comparator's timing against wrk's on the same server, in the same session.

    uv run python benchmarks/wrk_crosscheck.py [--pair starlette@granian] [--concurrency 32]
        [--rows 10000] [--source copy] [--passes 3] [--seconds 10] [--client-processes N]

wrk is the yardstick load tool written in C: an event loop per thread, nothing per request but
the parser, and no Python between the socket and the clock. If the comparator's median total
at a concurrency matches wrk's median latency there, the comparator measures the server; if it
is well above, it measures itself. One server process is started and both instruments take
turns on it, pass by pass (wrk, then the comparator as a `--target`, so it starts nothing of
its own), so neither sees a warmer or a colder server than the other.

The two do not load the server the same way, which this script prints rather than hides: wrk
keeps `concurrency` connections busy for `--seconds`, each sending its next request as soon as
the last one ended (a closed loop); the comparator sends rounds of `concurrency` requests that
start together and waits for the last of them. A server that serves its streams fairly ends a
round's requests together, so the round's median is about the closed loop's latency; one that
serves them in turn spreads a round's totals from one request's time to the round's.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from compare.load.processes import default_client_processes
from compare.results import Results
from shared.pairs import load_pair
from shared.settings import Settings
from streambench.cli import main as streambench

from ._database import seeded

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk_median(output: str) -> float:
    """wrk's 50% latency (`--latency`'s distribution), seconds."""
    match = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no latency distribution:\n{output}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_requests(output: str) -> str:
    match = re.search(r"(\d+) requests in ([\d.]+\w+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    said = f"{match.group(1)} requests in {match.group(2)}" if match else "?"
    return said + (f", {non_2xx.group(1)} not 2xx" if non_2xx else "")


def run_wrk(url: str, concurrency: int, seconds: int, threads: int) -> tuple[float, str]:
    command = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency", url]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return wrk_median(done.stdout), wrk_requests(done.stdout)


def run_comparator(
    url: str, args: argparse.Namespace, out: Path
) -> tuple[float, float | None, tuple[str, ...], float | None]:
    """The median total, the client ceiling's, the flags, the busiest client process's share
    of a core."""
    argv = ["compare", "--target", f"server={url}", "--endpoints", "chunked"]
    argv += ["--sources", args.source, "--rows", str(args.rows)]
    argv += ["--concurrency", str(args.concurrency), "--repeats", str(args.repeats)]
    argv += ["--client-processes", str(args.client_processes), "--out", str(out)]
    argv += ["--requests-per-stream", str(args.requests_per_stream)]
    if streambench(argv) != 0:
        raise RuntimeError("the comparator run failed")
    results = Results.load(out / "results.json")
    scenario = results.scenarios[0]
    assert scenario.total is not None
    ceiling = results.ceiling_for(scenario.rows, scenario.format, scenario.concurrency)
    client = scenario.client
    share = client.cpu_share.median if client and client.cpu_share else None
    return (
        scenario.total.median,
        ceiling.total.median if ceiling else None,
        scenario.flags,
        share,
    )


async def start(pair_name: str, settings: Settings, logs: Path) -> tuple[object, str]:
    from compare.servers import start_local

    async with httpx.AsyncClient(trust_env=False) as client:
        server = await start_local(load_pair(pair_name), settings, logs, client, "wrk")
    return server, server.url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="starlette@granian")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--source", default="copy")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run's duration")
    parser.add_argument("--repeats", type=int, default=5, help="the comparator's rounds a pass")
    parser.add_argument(
        "--requests-per-stream",
        type=int,
        default=20,
        help="the comparator's closed loop: each stream's requests one after another, as wrk's",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads")
    parser.add_argument("--client-processes", type=int, default=default_client_processes())
    args = parser.parse_args()
    settings, version = asyncio.run(seeded(Settings.from_env(), args.rows))
    settings = dataclasses.replace(settings, metrics=False, access_log=False)
    wrk_medians: list[float] = []
    ours: list[float] = []
    with tempfile.TemporaryDirectory(prefix="streambench-wrk-") as scratch:
        server, base = asyncio.run(start(args.pair, settings, Path(scratch) / "logs"))
        query = f"rows={args.rows}&format=text&batch=1000&source={args.source}"
        url = f"{base}/chunked?{query}"
        print(
            f"{args.pair} (PostgreSQL {version}), /chunked?{query}, concurrency {args.concurrency}"
        )
        print(
            f"wrk: {args.threads} threads, {args.seconds} s a pass; comparator: "
            f"{args.repeats} rounds of {args.requests_per_stream} requests a stream a pass, "
            f"{args.client_processes} client process(es)"
        )
        try:
            for number in range(1, args.passes + 1):
                median, said = run_wrk(url, args.concurrency, args.seconds, args.threads)
                wrk_medians.append(median)
                total, ceiling, flags, share = run_comparator(
                    base, args, Path(scratch) / f"pass{number}"
                )
                ours.append(total)
                print(
                    f"pass {number}: wrk median {median * 1e3:.1f} ms ({said}); comparator median "
                    f"total {total * 1e3:.1f} ms, {total / median:.2f}x wrk; client ceiling "
                    + (f"{ceiling * 1e3:.1f} ms" if ceiling else "?")
                    + (f", busiest client process {share:.0%} of a core" if share else "")
                    + (f", flags {','.join(flags)}" if flags else "")
                )
        finally:
            asyncio.run(server.stop())  # type: ignore[attr-defined]
    wrk_all, ours_all = statistics.median(wrk_medians), statistics.median(ours)
    ratios = [o / w for o, w in zip(ours, wrk_medians, strict=True)]
    print(
        f"median of {args.passes} passes: wrk {wrk_all * 1e3:.1f} ms, comparator "
        f"{ours_all * 1e3:.1f} ms: {ours_all / wrk_all:.2f}x "
        f"(per pass {min(ratios):.2f}-{max(ratios):.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
