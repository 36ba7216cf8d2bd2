"""What each data layer costs on each source it offers, without HTTP, against `COPY ... TO STDOUT`.

    uv run python benchmarks/access_paths.py [--rows 500000] [--repeats 7] [--format text]
                                             [--layers asyncpg,psycopg,...]

Every (layer, source) the registries know (the shared layers, and a port's own such as Django's
ORM), each opened as a server opens it (`open_layer`), timed twice in this process:

- read: the rows only (`fetch_all`; the cursor's or the keyset pages' batches; the COPY's
  chunks), nothing encoded;
- body: the whole body as a port builds it (`shared.bodies.open_body`, bytes counted), encoding
  included: what the layer costs a server before its framework sends anything.

Beside them, two references measured in the same run: the rows floor (`COPY (SELECT <columns>
...) TO STDOUT` through asyncpg, what reading the rows costs the database) for the reads, the body
floor (`COPY (<the body's query>) TO STDOUT`, the database writing the exact body) for the bodies,
and a bare asyncpg cursor on a connection of its own fetching `--batch` rows a time, the loop the
shared path is held against. Paths run interleaved, so drift hits every one alike. Medians over
`--repeats` with min and max. No figure is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from benchmarks._database import seeded
from shared.bodies import open_body
from shared.contract import DataRequest
from shared.database import Database, create_database
from shared.encoders import ENCODERS
from shared.layers import SHARED_LAYERS, BatchStream, ByteStream, DataLayer, open_layer
from shared.ports import PortDescriptor, available_ports
from shared.schema import compiled_select
from shared.servers.registry import import_string
from shared.settings import Settings

Timed = Callable[[], Awaitable[int]]


@dataclass(frozen=True)
class Path:
    """One line of the table: what is timed for the rows alone and for the whole body."""

    name: str
    read: Timed | None
    body: Timed | None


def every_layer() -> dict[str, PortDescriptor | None]:
    """Each layer the registries know, with the port that brings it (None: a shared layer)."""
    layers: dict[str, PortDescriptor | None] = dict.fromkeys(SHARED_LAYERS)
    for _, port, _ in available_ports():
        if port is not None:
            for spec in port.layers:
                layers.setdefault(spec.name, port)
    return layers


async def open_for_timing(settings: Settings, port: PortDescriptor | None) -> DataLayer:
    """The layer `settings.layer` opened as a server opens it; a port's own layer inside that
    port's app (Django's ORM needs the settings its app configures)."""
    if port is None:
        return await open_layer(settings)
    import_string(port.factory)(settings)
    return await open_layer(settings, port.layers)


def layer_paths(layer: DataLayer, fmt: str, rows: int, batch: int) -> list[Path]:
    encoder = ENCODERS[fmt]
    paths = []
    for source in layer.sources:
        request = DataRequest(rows, batch, encoder, source)

        async def body(request: DataRequest = request) -> int:
            async with await open_body(layer, request) as chunks:
                return sum([len(chunk) async for chunk in chunks])

        read = _read(layer, source, fmt, rows, batch)
        paths.append(Path(f"{layer.name} {source}", read, body))
    return paths


def _read(layer: DataLayer, source: str, fmt: str, rows: int, batch: int) -> Timed:
    columns = ENCODERS[fmt].columns

    async def fetch() -> int:
        return len(await layer.fetch_all(columns, rows))

    async def cursor() -> int:
        return await _drained(layer.open_stream(columns, rows, batch))

    async def copy() -> int:
        return await _drained(layer.open_copy(fmt, rows))

    async def keyset() -> int:
        return await _drained(layer.open_keyset(columns, rows, batch))

    return {"fetch": fetch, "cursor": cursor, "copy": copy, "keyset": keyset}[source]


async def _drained(opening: Awaitable[BatchStream | ByteStream]) -> int:
    """Read an opened stream to its end and close it: how many rows (or bytes) it gave."""
    stream = await opening
    try:
        return sum([len(item) async for item in stream])
    finally:
        await stream.aclose()


def reference_paths(db: Database, url: str, fmt: str, rows: int, batch: int) -> list[Path]:
    columns = ENCODERS[fmt].columns

    async def rows_floor() -> int:
        return await _counted(lambda sink: db.copy_to(columns, rows, sink))

    async def body_floor() -> int:
        return await _counted(lambda sink: db.copy_body(fmt, rows, sink))

    async def bare_cursor() -> int:
        connection = await asyncpg.connect(url)
        try:
            count = 0
            async with connection.transaction(readonly=True):
                cursor = await connection.cursor(compiled_select(columns), rows)
                while batch_read := await cursor.fetch(batch):
                    count += len(batch_read)
            return count
        finally:
            await connection.close()

    return [
        Path("COPY floor", rows_floor, body_floor),
        Path(f"bare asyncpg cursor ({batch:,} a fetch)", bare_cursor, None),
    ]


Sink = Callable[[bytes], Awaitable[None]]


async def _counted(write: Callable[[Sink], Awaitable[object]]) -> int:
    """The bytes `write` hands its sink."""
    size = 0

    async def sink(data: bytes) -> None:
        nonlocal size
        size += len(data)

    await write(sink)
    return size


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--format", default="text", choices=list(ENCODERS))
    parser.add_argument("--layers", help="comma list (default: every layer the registries know)")
    args = parser.parse_args()
    known = every_layer()
    chosen = args.layers.split(",") if args.layers else list(known)
    unknown = [name for name in chosen if name not in known]
    if unknown:
        parser.error(f"unknown layer {', '.join(unknown)}; choose from {', '.join(known)}")
    settings = Settings.from_env().replace(pool_size=2)
    settings, version = await seeded(settings, args.rows)
    url = settings.database_url
    assert url is not None
    db = await create_database(settings, url)
    layers = [await open_for_timing(settings.replace(layer=name), known[name]) for name in chosen]
    paths = reference_paths(db, url, args.format, args.rows, args.batch)
    for layer in layers:
        paths += layer_paths(layer, args.format, args.rows, args.batch)
    print(
        f"{args.rows:,} rows as {args.format} (columns {', '.join(ENCODERS[args.format].columns)}), "
        f"batch {args.batch}, {args.repeats} repeats, PostgreSQL {version}"
    )
    timings = await _time_interleaved(paths, args.repeats)
    _print(paths, timings)
    for layer in layers:
        await layer.dispose()
    await db.dispose()


async def _time_interleaved(paths: list[Path], repeats: int) -> dict[tuple[str, str], list[float]]:
    timings: dict[tuple[str, str], list[float]] = {}
    timed = [
        (path.name, kind, run)
        for path in paths
        for kind, run in (("read", path.read), ("body", path.body))
        if run
    ]
    for _, _, run in timed:
        await run()  # warm-up: prepared statements, pools, caches
    for _ in range(repeats):
        for name, kind, run in timed:
            started = time.perf_counter()
            await run()
            timings.setdefault((name, kind), []).append(time.perf_counter() - started)
    return timings


def _print(paths: list[Path], timings: dict[tuple[str, str], list[float]]) -> None:
    floors = {kind: statistics.median(timings[("COPY floor", kind)]) for kind in ("read", "body")}
    width = max(len(path.name) for path in paths)
    print(
        f"{'path':<{width}}  {'read median s':>13} {'min-max':>13} {'x rows floor':>12}"
        f"  {'body median s':>13} {'min-max':>13} {'x body floor':>12}"
    )
    for path in paths:
        cells = []
        for kind in ("read", "body"):
            values = timings.get((path.name, kind))
            if values is None:
                cells.append(f"{'':>13} {'':>13} {'':>12}")
                continue
            median = statistics.median(values)
            spread = f"{min(values):.3f}-{max(values):.3f}"
            cells.append(f"{median:13.3f} {spread:>13} {median / floors[kind]:12.2f}")
        print(f"{path.name:<{width}}  {cells[0]}  {cells[1]}")


if __name__ == "__main__":
    asyncio.run(main())
