"""`/chunked?source=copy` on every (port, server) pair against the body floor, in one run.

    uv run python benchmarks/copy_floor.py [--rows 500000] [--formats text,ndjson] [--repeats 7]
        [--pairs aiohttp@aiohttp,starlette@uvicorn]   (default: every available pair)

- body floor: `compare.baselines.measure_floor(..., body=True)`, the figure the comparator divides
  `/chunked?source=copy` by: the database writing the exact body with `COPY`, read in this process.
- client floor: httpx reading the same body from an in-memory server (its own process) in the
  64 KiB chunks `copy` sends, timed as a port is: what the client alone costs.
- each pair: a fresh server process, its warm-up body checked by SHA-256, then timed as the
  comparator times a request (`compare.clients.timed_request`, same client, rows counted); beside
  the total, its first byte and the server process's CPU time per request (the mean: the kernel
  counts CPU time in 10 ms ticks).

Every round measures the floors, then every pair once, in an order rotated round by round, then
the body floor again: drift of the machine hits them alike, and the floor every ratio divides by
rests on twice as many samples. Medians over `--repeats` with min-max; the ratio is the pair's
median over the body floor's median of the same run, as the comparator reports it. The 1-minute
load average is printed at the start and end, and its highest reading between rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks._database import seeded
from compare.baselines import MemoryServer, measure_floor
from compare.clients import MeasuringClient, open_client, timed_request
from compare.servers import LocalServer, start_locals
from shared.chunks import CHUNK_SIZE
from shared.database import Database, create_database
from shared.pairs import Pair, available_pairs, load_pair
from shared.settings import Settings

MB = 1_000_000
BODY_FLOOR = "body floor (COPY of the body)"
CLIENT_FLOOR = "client floor (64 KiB chunks)"


@dataclass
class Figure:
    totals: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.totals)


def _load() -> float:
    return os.getloadavg()[0]


async def _expected_body(db: Database, fmt: str, rows: int) -> bytes:
    pieces: list[bytes] = []

    async def keep(piece: bytes) -> None:
        pieces.append(bytes(piece))

    await db.copy_body(fmt, rows, keep)
    return b"".join(pieces)


async def _body_floor(db: Database, fmt: str, rows: int, size: int) -> float:
    floor = await measure_floor(db, rows, fmt, 1, 0, body=True)
    if floor.bytes != size:
        raise RuntimeError(f"body floor: {floor.bytes} bytes, not {size}")
    return floor.seconds.median


@dataclass
class _Run:
    """One format's run: its database, client, servers and what they are checked against."""

    db: Database
    client: MeasuringClient
    memory: MemoryServer
    servers: dict[str, LocalServer]
    fmt: str
    rows: int
    size: int

    async def body_floor(self, figures: dict[str, Figure], kept: bool) -> None:
        floor = await _body_floor(self.db, self.fmt, self.rows, self.size)
        if kept:
            figures[BODY_FLOOR].totals.append(floor)

    async def client_floor(self, figures: dict[str, Figure], kept: bool) -> None:
        url = f"{self.memory.url}/copy"
        timing = await timed_request(self.client, url, {}, {}, self.fmt, self.rows, self.size)
        if not timing.ok:
            raise RuntimeError(f"client floor: {timing.error}")
        if kept:
            figures[CLIENT_FLOOR].totals.append(timing.total)
            if timing.ttfb is not None:
                figures[CLIENT_FLOOR].ttfb.append(timing.ttfb)

    async def pair(self, name: str, figure: Figure, kept: bool) -> None:
        server = self.servers[name]
        params = {"rows": str(self.rows), "format": self.fmt, "source": "copy"}
        probe = server.probe()
        await probe.before()
        timing = await timed_request(
            self.client, f"{server.url}/chunked", params, {}, self.fmt, self.rows, self.size
        )
        sample = await probe.after()
        if not timing.ok:
            raise RuntimeError(f"{name}: {timing.error}")
        if kept:
            figure.totals.append(timing.total)
            if timing.ttfb is not None:
                figure.ttfb.append(timing.ttfb)
            if sample.cpu_seconds is not None:
                figure.cpu.append(sample.cpu_seconds)

    async def rounds(self, repeats: int) -> tuple[dict[str, Figure], float]:
        """Figures per floor and pair, and the highest load average seen between rounds."""
        figures = {BODY_FLOOR: Figure(), CLIENT_FLOOR: Figure()}
        figures |= {name: Figure() for name in self.servers}
        names = list(self.servers)
        highest = _load()
        for round_number in range(repeats + 1):  # the first round warms up
            kept = round_number > 0
            await self.body_floor(figures, kept)
            await self.client_floor(figures, kept)
            shift = round_number % len(names) if names else 0
            for name in names[shift:] + names[:shift]:
                await self.pair(name, figures[name], kept)
            await self.body_floor(figures, kept)
            highest = max(highest, _load())
        return figures, highest


async def _measure(
    pairs: list[Pair], settings: Settings, fmt: str, rows: int, repeats: int, work: Path
) -> tuple[dict[str, Figure], int, float]:
    """Figures per floor and pair, the body's length and the highest load average seen."""
    db = await create_database(settings)
    try:
        body = await _expected_body(db, fmt, rows)
        folder = work / fmt
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "copy.body").write_bytes(body)
        sizes = [min(CHUNK_SIZE, len(body) - start) for start in range(0, len(body), CHUNK_SIZE)]
        (folder / "copy.chunks").write_text(json.dumps(sizes))
        memory = await MemoryServer.start(folder)
        servers: dict[str, LocalServer] = {}
        try:
            async with (
                httpx.AsyncClient(trust_env=False, timeout=600.0) as control,
                open_client("httpx", 1) as client,
            ):
                started = await start_locals(pairs, settings, work / "logs", control, fmt)
                for pair, server in zip(pairs, started, strict=True):
                    if isinstance(server, BaseException):
                        print(f"{pair.name}: not measured ({server})")
                    else:
                        servers[pair.name] = server
                await _check_bodies(control, servers, fmt, rows, body)
                run = _Run(db, client, memory, servers, fmt, rows, len(body))
                figures, highest = await run.rounds(repeats)
        finally:
            for server in servers.values():
                await server.stop()
            memory.stop()
        return figures, len(body), highest
    finally:
        await db.dispose()


async def _check_bodies(
    client: httpx.AsyncClient, servers: dict[str, LocalServer], fmt: str, rows: int, body: bytes
) -> None:
    digest = hashlib.sha256(body).hexdigest()
    params = {"rows": str(rows), "format": fmt, "source": "copy"}
    for name, server in servers.items():
        async with client.stream("GET", f"{server.url}/chunked", params=params) as response:
            if hashlib.sha256(await response.aread()).hexdigest() != digest:
                raise RuntimeError(f"{name}: the body differs from the database's")


def format_table(fmt: str, rows: int, size: int, figures: dict[str, Figure]) -> str:
    floor = figures[BODY_FLOOR].median()
    lines = [
        f"{fmt}: {rows:,} rows, body {size / MB:.1f} MB, /chunked?source=copy",
        f"{'what':<30} {'total ms':>8} {'min-max':>11} {'x body floor':>12} "
        f"{'min-max':>11} {'first byte ms':>13} {'server CPU ms':>13}",
    ]
    for name, figure in figures.items():
        median = figure.median()
        low, high = min(figure.totals), max(figure.totals)
        ttfb = f"{statistics.median(figure.ttfb) * 1e3:13.1f}" if figure.ttfb else " " * 13
        cpu = f"{statistics.fmean(figure.cpu) * 1e3:13.0f}" if figure.cpu else ""
        lines.append(
            f"{name:<30} {median * 1e3:8.1f} {f'{low * 1e3:.0f}-{high * 1e3:.0f}':>11} "
            f"{median / floor:12.2f} {f'{low / floor:.2f}-{high / floor:.2f}':>11} {ttfb} {cpu}"
        )
    return "\n".join(lines)


def _pairs(names: str | None) -> list[Pair]:
    if names:
        return [load_pair(name) for name in names.split(",")]
    pairs: list[Pair] = []
    for name, pair, reason in available_pairs():
        if pair is None:
            print(f"{name}: not available ({reason})")
        else:
            pairs.append(pair)
    return pairs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--formats", default="text")
    parser.add_argument("--pairs", help="port@server names, comma-separated (default: every one)")
    args = parser.parse_args()
    settings = Settings.from_env()
    settings, version = await seeded(settings, args.rows)
    pairs = _pairs(args.pairs)
    print(
        f"{args.rows:,} rows, {args.repeats} repeats (+1 warm-up), PostgreSQL {version}, "
        f"{len(pairs)} pairs, httpx client, medians; load average {_load():.2f} at the start"
    )
    work = Path(tempfile.mkdtemp(prefix="streambench-copy-floor-"))
    for fmt in args.formats.split(","):
        figures, size, highest = await _measure(pairs, settings, fmt, args.rows, args.repeats, work)
        print(format_table(fmt, args.rows, size, figures))
        print(f"load average: highest {highest:.2f} between rounds, {_load():.2f} at the end\n")


if __name__ == "__main__":
    asyncio.run(main())
