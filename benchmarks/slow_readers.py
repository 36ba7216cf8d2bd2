"""What slow readers cost a server's pool and its database, source by source.

    uv run python benchmarks/slow_readers.py [--ports aiohttp,starlette] [--rows 50000]
        [--format ndjson] [--concurrency 32] [--read-rate 1MB/s] [--sources cursor,copy,keyset]
        [--pool-size 10] [--batch 1000]

The scenario a team meets right after deciding to stream: more exports at once than the pool
has connections, each read slowly (a phone, a partner's job in another region), while other
requests keep arriving. It is one comparator run (`streambench compare --read-rate ...` on
`/chunked`), so every body is verified and every figure is the comparator's;
this script picks the matrix, then prints the figures that answer the question beside the
machine's socket buffer sizes, which decide how much of each body the kernel takes off the
server before it has to wait.

The defaults make the readers the bottleneck, not the machine: 50,000 ndjson rows are a body of
about 14 MB, several times the 4 MiB a server's socket takes before it must wait, and 32
readers at 1 MB/s ask for about 112,000 rows a second in all. The same 32 MB/s of the text
format (18 bytes a row) would ask for 1.8 million rows a second, more than this 2-core machine
serves with the database beside it: a test of the machine, not of slow readers.

- ok/all: requests answered in full, of those sent (the examples of the others follow the
  table); refused: requests for a connection that failed in the server (no connection within
  the pool timeout: a 503, or a stream cut short);
- 1st byte, total: medians over the answered requests;
- conn s/req: seconds a pooled connection was held per request sent, refused ones included
  (the server's ledger); hold s: the longest single hold;
- held, waited: connections held at once at the peak, the longest wait for one;
- MB/st: the server's peak memory growth per open stream;
- xact s: the oldest open transaction pg_stat_activity showed while the rounds ran;
- 10 rows: first byte of a 10-row request sent one second into each round, and how many of
  those were refused;
- abort ms: until the server held nothing after a reader vanished mid-body (reset, close).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from compare.read_rates import format_rate
from compare.results import Results, Scenario, Stats
from streambench.cli import main as streambench

SYSCTLS = ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.core.rmem_max", "net.core.wmem_max")


def socket_buffers() -> list[str]:
    lines = []
    for name in SYSCTLS:
        path = Path("/proc/sys") / name.replace(".", "/")
        try:
            value = " ".join(path.read_text().split())
        except OSError:
            value = "not readable"
        lines.append(f"{name} = {value}")
    return lines


def _ms(stats: Stats | None) -> str:
    return "-" if stats is None else f"{stats.median * 1000:.0f}"


def row(scenario: Scenario) -> str:
    database = scenario.database
    bystander = scenario.bystander
    abort = scenario.abort
    ok = scenario.requests - scenario.errors
    parts = [
        f"{scenario.contender:<20}",
        f"{scenario.source:<7}",
        f"{format_rate(scenario.read_rate):>8}",
        f"{f'{ok}/{scenario.requests}':>7}",
        f"{_ms(scenario.ttfb):>8}",
        f"{'-' if scenario.total is None else f'{scenario.total.median:.2f}':>7}",
    ]
    if database is not None:
        parts += [
            "-"
            if database.connection_seconds is None
            else f"{database.connection_seconds.median:>9.2f}",
            f"{'-' if database.hold_max is None else f'{database.hold_max:.2f}':>6}",
            f"{database.held_peak if database.held_peak is not None else '-':>4}",
            f"{database.checkouts_failed if database.checkouts_failed is not None else '-':>7}",
            f"{'-' if database.wait_max is None else f'{database.wait_max:.2f}':>6}",
            f"{'-' if database.transaction_age_max is None else f'{database.transaction_age_max:.2f}':>6}",
        ]
    else:
        parts += ["        -", "     -", "   -", "      -", "     -", "     -"]
    per_stream = scenario.memory_per_stream
    parts.append(f"{'-' if per_stream is None else f'{per_stream / 1e6:.1f}':>5}")
    seen = "-"
    if bystander is not None:
        seen = f"{_ms(bystander.ttfb)}" + (
            f" ({bystander.refused}/{bystander.sent} refused)" if bystander.refused else ""
        )
    parts.append(f"{seen:>18}")
    if abort is not None:
        parts.append(
            f"{_ms(abort.reset)}/{_ms(abort.close)}"
            + (f" {abort.leaked} leaked" if abort.leaked else "")
        )
    else:
        parts.append("-")
    return " ".join(parts)


HEADER = (
    f"{'contender':<20} {'source':<7} {'rate':>8} {'ok/all':>7} {'1st ms':>8} {'total s':>7} "
    f"{'conn s/req':>9} {'hold s':>6} {'held':>4} {'refused':>7} {'waited':>6} {'xact s':>6} "
    f"{'MB/st':>5} {'10 rows 1st ms':>18} abort ms"
)


def report(results: Results) -> list[str]:
    lines = [HEADER]
    order = sorted(
        results.scenarios,
        key=lambda s: (-(s.read_rate or float("inf")), s.contender, s.source),
    )
    lines += [row(s) for s in order]
    for scenario in order:
        for example in scenario.error_examples:
            lines.append(f"  {scenario.contender} {scenario.source}: {example}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", default="aiohttp,starlette")
    parser.add_argument("--rows", default="50000")
    parser.add_argument("--format", default="ndjson")
    parser.add_argument("--concurrency", default="32")
    parser.add_argument("--read-rate", default="1MB/s")
    parser.add_argument("--sources", default="cursor,copy,keyset")
    parser.add_argument("--pool-size", default="10")
    parser.add_argument("--repeats", default="1")
    parser.add_argument("--batch", default="1000", help="rows per batch, and per keyset page")
    parser.add_argument("--out", type=Path, help="keep the comparator's results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="streambench-slow-") as scratch:
        out = args.out or Path(scratch) / "run"
        argv = ["compare", "--ports", args.ports, "--endpoints", "chunked"]
        argv += ["--sources", args.sources, "--rows", args.rows, "--formats", args.format]
        argv += ["--concurrency", args.concurrency, "--repeats", args.repeats]
        argv += ["--batch", args.batch]
        argv += ["--read-rate", args.read_rate, "--pool-size", args.pool_size, "--out", str(out)]
        code = streambench(argv)
        if code != 0 or not (out / "results.json").exists():
            print(f"slow_readers: the comparator run failed ({code})", file=sys.stderr)
            return code or 1
        results = Results.load(out / "results.json")
    print()
    print(f"pool of {args.pool_size} per server, {args.concurrency} streams per round")
    for line in socket_buffers():
        print(line)
    for line in report(results):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
