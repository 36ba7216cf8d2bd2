"""What each source (`fetch`, `cursor`, `copy`) costs on each endpoint of each port, with and
without HTTP, against the two floors measured in the same run.

    uv run python benchmarks/sources.py [--rows 500000] [--formats text,ndjson] [--repeats 7]

- rows floor: `COPY (SELECT <the encoder's columns> ... ORDER BY id LIMIT n) TO STDOUT` through
  asyncpg (for `text`, the bare ids): what reading the rows costs the database.
- body floor: `COPY (<the body's query>) TO STDOUT`, the database writing the exact body.
- client floor: httpx reading the same body from an in-memory server (its own process), cut as
  the cursor cuts it and in 64 KiB chunks as `copy` does: what the client alone costs.
- without HTTP: each source's body read in this process (`open_body`, bytes counted): for
  `cursor` the cursor-and-encode loop a port runs, minus the port. Also the encoding alone.
- with HTTP: every port x endpoint x source on a fresh server process of its own, requests
  interleaved across them, each body checked by length and, on the warm-up, by SHA-256.
  Memory: the server's peak resident set (VmHWM, reset through /proc/PID/clear_refs before each
  request) over its resident set when it became healthy; the median over requests.

Medians over `--repeats` with min-max; ratios against the floors. No figure is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks._database import seeded
from compare.baselines import MemoryServer, chunk_sizes
from compare.clients import open_client, timed_request
from compare.servers import LocalServer, start_local
from shared.bodies import open_body
from shared.chunks import CHUNK_SIZE
from shared.contract import ENDPOINTS, SOURCES, DataRequest
from shared.database import Database, create_database
from shared.encoders import ENCODERS, encode_all
from shared.pairs import default_pairs, load_pair
from shared.settings import Settings

MB = 1_000_000


@dataclass
class Figure:
    """One thing measured over repeats: totals, first bytes and memory growth."""

    totals: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    memory: list[int] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.totals)

    def spread(self) -> str:
        return f"{min(self.totals) * 1e3:.0f}-{max(self.totals) * 1e3:.0f}"


async def _timed(run: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


def _counting_sink() -> Callable[[bytes], Awaitable[None]]:
    async def sink(piece: bytes) -> None:
        del piece

    return sink


async def _in_process(
    db: Database, fmt: str, rows: int, batch: int, repeats: int
) -> dict[str, Figure]:
    """Floors and each source without HTTP, interleaved so drift hits each alike."""
    encoder = ENCODERS[fmt]
    everything = await db.fetch_all(encoder.columns, rows)

    async def rows_floor() -> None:
        await db.copy_to(encoder.columns, rows, _counting_sink())

    async def body_floor() -> None:
        await db.copy_body(fmt, rows, _counting_sink())

    async def encode_only() -> None:
        encode_all(encoder, everything)

    def source_loop(source: str) -> Callable[[], Awaitable[float | None]]:
        async def run() -> float | None:
            started = time.perf_counter()
            first: float | None = None
            async with await open_body(db, DataRequest(rows, batch, encoder, source)) as body:
                async for _ in body:
                    if first is None:
                        first = time.perf_counter() - started
            return first

        return run

    plain: dict[str, Callable[[], Awaitable[None]]] = {
        "rows floor (COPY of the rows)": rows_floor,
        "body floor (COPY of the body)": body_floor,
        "encode only (rows in memory)": encode_only,
    }
    loops = {f"no HTTP, source={source}": source_loop(source) for source in SOURCES}
    figures = {name: Figure() for name in [*plain, *loops]}
    for round_number in range(repeats + 1):  # the first round warms up
        for name, run in plain.items():
            elapsed = await _timed(run)
            if round_number:
                figures[name].totals.append(elapsed)
        for name, loop in loops.items():
            started = time.perf_counter()
            first = await loop()
            elapsed = time.perf_counter() - started
            if round_number:
                figures[name].totals.append(elapsed)
                if first is not None:
                    figures[name].ttfb.append(first)
    return figures


async def _client_floor(
    body: bytes, fmt: str, rows: int, cursor_cuts: list[int], repeats: int, folder: Path
) -> dict[str, Figure]:
    cuts = {
        "client floor, cursor's chunks": cursor_cuts,
        "client floor, 64 KiB chunks": [
            min(CHUNK_SIZE, len(body) - start) for start in range(0, len(body), CHUNK_SIZE)
        ],
    }
    figures: dict[str, Figure] = {}
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (before any timing)
    for number, sizes in enumerate(cuts.values()):
        key = f"b_{fmt}_{number}"
        (folder / f"{key}.body").write_bytes(body)
        (folder / f"{key}.chunks").write_text(json.dumps(sizes))
    server = await MemoryServer.start(folder)
    try:
        async with open_client("httpx", 1) as client:
            for number, name in enumerate(cuts):
                figure = figures.setdefault(name, Figure())
                for round_number in range(repeats + 1):
                    timing = await timed_request(
                        client, f"{server.url}/b_{fmt}_{number}", {}, {}, fmt, rows
                    )
                    if timing.bytes != len(body):
                        raise RuntimeError(f"{name}: {timing.bytes} bytes, not {len(body)}")
                    if round_number:
                        figure.totals.append(timing.total)
                        if timing.ttfb is not None:
                            figure.ttfb.append(timing.ttfb)
    finally:
        server.stop()
    return figures


async def _over_http(
    ports: list[str],
    settings: Settings,
    fmt: str,
    rows: int,
    batch: int,
    repeats: int,
    body: bytes,
    log_dir: Path,
) -> dict[str, Figure]:
    digest = hashlib.sha256(body).hexdigest()
    figures: dict[str, Figure] = {}
    async with (
        httpx.AsyncClient(trust_env=False, timeout=600.0) as control,
        open_client("httpx", 1) as client,
    ):
        # (server, path, source): httpx replaces a URL's query string with `params`, so the
        # source goes into the params, never into the path.
        servers: dict[str, tuple[LocalServer, str, str]] = {}
        try:
            for port in ports:
                for endpoint in ENDPOINTS:
                    for source in SOURCES:
                        name = f"{port} /{endpoint} source={source}"
                        label = f"{fmt}-{endpoint}-{source}"
                        server = await start_local(
                            load_pair(port), settings, log_dir, control, label
                        )
                        servers[name] = (server, f"/{endpoint}", source)
                        figures[name] = Figure()
            common = {"rows": str(rows), "batch": str(batch), "format": fmt}
            for round_number in range(repeats + 1):
                for name, (server, path, source) in servers.items():
                    params = {**common, "source": source}
                    probe = server.probe()
                    if not round_number:
                        async with control.stream("GET", server.url + path, params=params) as r:
                            got = hashlib.sha256(await r.aread()).hexdigest()
                        if got != digest:
                            raise RuntimeError(f"{name}: the body differs from the expected one")
                    await probe.before()
                    timing = await timed_request(client, server.url + path, params, {}, fmt, rows)
                    sample = await probe.after()
                    if not timing.ok or timing.bytes != len(body):
                        raise RuntimeError(f"{name}: {timing.error}, {timing.bytes} bytes")
                    if round_number:
                        figures[name].totals.append(timing.total)
                        figures[name].memory.append(sample.peak_memory_growth_bytes or 0)
                        if timing.ttfb is not None:
                            figures[name].ttfb.append(timing.ttfb)
        finally:
            for server, _, _ in servers.values():
                await server.stop()
    return figures


def _print(
    fmt: str, rows: int, body: bytes, figures: dict[str, Figure], overhead: dict[str, str]
) -> None:
    rows_floor = figures["rows floor (COPY of the rows)"].median()
    body_floor = figures["body floor (COPY of the body)"].median()
    client_ttfb = {
        "chunked-cursor": statistics.median(figures["client floor, cursor's chunks"].ttfb),
        "copy": statistics.median(figures["client floor, 64 KiB chunks"].ttfb),
    }
    print(f"\n{fmt}: {rows:,} rows, body {len(body) / MB:.1f} MB")
    print(
        f"{'what':<38} {'total ms':>8} {'min-max':>11} {'x rows':>6} {'x body':>6} "
        f"{'ttfb ms':>8} {'growth MB':>9} {'x body':>6}"
    )
    for name, figure in figures.items():
        median = figure.median()
        ttfb = f"{statistics.median(figure.ttfb) * 1e3:8.2f}" if figure.ttfb else f"{'':8}"
        if figure.memory:
            growth = statistics.median(figure.memory)
            memory = f"{growth / MB:9.1f} {growth / len(body):6.2f}"
        else:
            memory = ""
        print(
            f"{name:<38} {median * 1e3:8.0f} {figure.spread():>11} {median / rows_floor:6.2f} "
            f"{median / body_floor:6.2f} {ttfb} {memory}"
        )
    print(
        f"first byte over the client's floor ({client_ttfb['chunked-cursor'] * 1e3:.2f} ms "
        f"cursor chunks, {client_ttfb['copy'] * 1e3:.2f} ms 64 KiB chunks):"
    )
    for name, figure in figures.items():
        if figure.memory and figure.ttfb and "/chunked" in name:
            floor = client_ttfb["copy" if "copy" in name else "chunked-cursor"]
            print(f"  {name:<36} {(statistics.median(figure.ttfb) - floor) * 1e3:+.2f} ms")
    for line in overhead.values():
        print(line)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--formats", default="text,ndjson")
    parser.add_argument(
        "--ports",
        default=",".join(pair.name for pair in default_pairs()),
        help="port or port@server names, comma-separated (default: each port on its default server)",
    )
    args = parser.parse_args()
    settings = Settings.from_env()
    settings, version = await seeded(settings, args.rows)
    ports = args.ports.split(",")
    print(
        f"{args.rows:,} rows, batch {args.batch}, {args.repeats} repeats (+1 warm-up), "
        f"PostgreSQL {version}, ports {', '.join(ports)}, httpx client, medians"
    )
    db = await create_database(settings)
    work = Path(tempfile.mkdtemp(prefix="streambench-sources-"))
    try:
        for fmt in args.formats.split(","):
            encoder = ENCODERS[fmt]
            rows_list = await db.fetch_all(encoder.columns, args.rows)
            body = encode_all(encoder, rows_list)
            cursor_cuts = chunk_sizes(fmt, rows_list, args.batch)
            del rows_list
            figures = await _in_process(db, fmt, args.rows, args.batch, args.repeats)
            figures |= await _client_floor(
                body, fmt, args.rows, cursor_cuts, args.repeats, work / fmt
            )
            http = await _over_http(
                ports, settings, fmt, args.rows, args.batch, args.repeats, body, work / "logs"
            )
            figures |= http
            loop = figures["no HTTP, source=cursor"].median()
            overhead = {
                port: f"{port} /chunked source=cursor over the same loop without HTTP: "
                f"{(http[f'{port} /chunked source=cursor'].median() / loop - 1) * 100:+.0f}%"
                for port in ports
            }
            _print(fmt, args.rows, body, figures, overhead)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
