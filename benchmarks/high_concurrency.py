"""What more streams at once do to each contender: throughput, memory per stream, the first
byte's tail, open files and fairness, from one request at a time to 1,024.

    uv run python benchmarks/high_concurrency.py [--ports starlette@granian,starlette@uvicorn,aiohttp]
        [--concurrency 1,32,256,1024] [--rows 10000] [--sources copy,keyset] [--repeats 3]
        [--pool-size 10]

One comparator run on `/chunked` (`streambench compare --concurrency ...`), so every body is
verified and every figure is the comparator's; this script picks the matrix and prints the
figures that answer the question, with the machine's load average before and after (the
comparator and the servers share its cores: a busy machine moves every figure).

The defaults are the question a team asks before opening an export to many clients at once:
10,000 text rows (a 159 KB body) streamed by the database (`copy`, a connection held per
stream) or a page at a time (`keyset`, a connection per page), against a pool of 10.

- ok/all: requests answered in full, of those sent (examples of the others follow the table);
- MB/s, rows/s: a round's bytes and rows over its wall time, median over rounds;
- p50/p95/p99: the first byte over every answered request, ms;
- MB/st: the server's peak memory growth per open stream;
- fds: the server's open file descriptors at the round's peak (most over rounds);
- spread: per round, the fastest stream's throughput over the slowest's (median over rounds);
- starved: streams whose first byte came only after another stream of their round finished;
- ceiling: the measuring client's own median total for the same bytes from memory, as many at
  a time, ms: a total near it measured the client, not the server (flag C).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from compare.results import Results, Scenario
from streambench.cli import main as streambench


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "not known"


def _ms(value: float | None) -> str:
    return (
        "-" if value is None else f"{value * 1000:.0f}" if value >= 0.1 else f"{value * 1000:.1f}"
    )


def row(scenario: Scenario, results: Results) -> str:
    streams = scenario.streams
    ttfb = scenario.ttfb
    ok = scenario.requests - scenario.errors
    per_stream = scenario.memory_per_stream
    ceiling = results.ceiling_for(scenario.rows, scenario.format, scenario.concurrency)
    marks = "".join(
        {"client-bound": "C", "starved": "S", "errors": "E", "noisy": "N"}.get(f, "")
        for f in scenario.flags
    )
    parts = [
        f"{scenario.contender:<19}",
        f"{scenario.source:<7}",
        f"{scenario.concurrency:>5}",
        f"{f'{ok}/{scenario.requests}':>10}",
        f"{'-' if scenario.megabytes_per_second is None else f'{scenario.megabytes_per_second:.1f}':>6}",
        f"{'-' if scenario.rows_per_second is None else f'{scenario.rows_per_second:,.0f}':>10}",
        f"{_ms(None if ttfb is None else ttfb.median):>6}",
        f"{_ms(None if ttfb is None else ttfb.p95):>6}",
        f"{_ms(None if streams is None else streams.ttfb_p99):>6}",
        f"{'-' if per_stream is None else f'{per_stream / 1e6:.2f}':>6}",
        f"{'-' if streams is None or streams.open_files is None else f'{streams.open_files.max:.0f}':>5}",
        f"{'-' if streams is None or streams.spread is None else f'{streams.spread.median:.1f}':>6}",
        f"{'-' if streams is None or streams.starved is None else f'{streams.starved}/{streams.streams}':>10}",
        f"{'-' if ceiling is None else _ms(ceiling.total.median):>7}",
        marks,
    ]
    return " ".join(parts)


HEADER = (
    f"{'contender':<19} {'source':<7} {'at':>5} {'ok/all':>10} {'MB/s':>6} {'rows/s':>10} "
    f"{'p50':>6} {'p95':>6} {'p99':>6} {'MB/st':>6} {'fds':>5} {'spread':>6} {'starved':>10} "
    f"{'ceiling':>7} !"
)


def report(results: Results) -> list[str]:
    lines = [HEADER]
    order = sorted(results.scenarios, key=lambda s: (s.source, s.contender, s.concurrency))
    lines += [row(s, results) for s in order]
    for scenario in order:
        for example in scenario.error_examples:
            lines.append(
                f"  {scenario.contender} {scenario.source} x{scenario.concurrency}: {example}"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", default="starlette@granian,starlette@uvicorn,aiohttp")
    parser.add_argument("--concurrency", default="1,32,256,1024")
    parser.add_argument("--rows", default="10000")
    parser.add_argument("--sources", default="copy,keyset")
    parser.add_argument("--repeats", default="3")
    parser.add_argument("--pool-size", default="10")
    parser.add_argument("--out", type=Path, help="keep the comparator's results here")
    args = parser.parse_args()
    before = _load()
    with tempfile.TemporaryDirectory(prefix="streambench-crowd-") as scratch:
        out = args.out or Path(scratch) / "run"
        argv = ["compare", "--ports", args.ports, "--endpoints", "chunked"]
        argv += ["--sources", args.sources, "--rows", args.rows, "--concurrency", args.concurrency]
        argv += ["--repeats", args.repeats, "--pool-size", args.pool_size, "--out", str(out)]
        code = streambench(argv)
        if code != 0 or not (out / "results.json").exists():
            print(f"high_concurrency: the comparator run failed ({code})", file=sys.stderr)
            return code or 1
        results = Results.load(out / "results.json")
    print()
    print(
        f"/chunked, {args.rows} rows of text, pool of {args.pool_size} per server, "
        f"{args.repeats} measured rounds per scenario, client {results.matrix.client}"
    )
    print(f"load average before: {before}; after: {_load()}; cores: {os.cpu_count()}")
    for line in report(results):
        print(line)
    if results.matrix.note:
        print(f"matrix: {results.matrix.note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
