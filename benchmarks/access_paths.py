"""What each way of reading the same ordered rows costs, next to `COPY ... TO STDOUT`.

    uv run python benchmarks/access_paths.py [--rows 500000] [--repeats 7] [--format text]

Prints the median, min and max over repeats of: COPY (the floor), fetch_all (the buffered path),
stream_batches (the streamed path, asyncpg cursor on a SQLAlchemy-pooled connection), a bare asyncpg
cursor on its own connection, and SQLAlchemy's own async `stream()` with `yield_per` + `partitions()`.
Rows are only read, not encoded, so the figures are the data access alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import text

from shared import embedded
from shared.database import create_database
from shared.encoders import ENCODERS
from shared.schema import compiled_select, select_messages
from shared.seed import seed
from shared.settings import Settings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--format", default="text", choices=list(ENCODERS))
    args = parser.parse_args()
    settings = Settings.from_env()
    url = embedded.database_url(settings)
    columns = ENCODERS[args.format].columns
    connection = await asyncpg.connect(url)
    await seed(connection, args.rows)
    await connection.close()
    db = await create_database(settings, url)

    async def copy() -> int:
        size = 0

        async def sink(data: bytes) -> None:
            nonlocal size
            size += len(data)

        await db.copy_to(columns, args.rows, sink)
        return size

    async def fetch_all() -> int:
        return len(await db.fetch_all(columns, args.rows))

    async def stream_batches() -> int:
        count = 0
        async for batch in db.stream_batches(columns, args.rows, args.batch):
            count += len(batch)
        return count

    async def bare_cursor() -> int:
        conn = await asyncpg.connect(url)
        try:
            count = 0
            async with conn.transaction(readonly=True):
                cursor = await conn.cursor(compiled_select(columns), args.rows)
                while batch := await cursor.fetch(args.batch):
                    count += len(batch)
            return count
        finally:
            await conn.close()

    async def sqlalchemy_stream() -> int:
        count = 0
        async with db.engine.connect() as conn:
            result = await conn.stream(
                select_messages(columns).execution_options(yield_per=args.batch),
                {"rows": args.rows},
            )
            async for partition in result.partitions():
                count += len(partition)
        return count

    paths: dict[str, Callable[[], Awaitable[int]]] = {
        "COPY ... TO STDOUT": copy,
        "fetch_all": fetch_all,
        "stream_batches": stream_batches,
        "bare asyncpg cursor": bare_cursor,
        "SQLAlchemy stream()": sqlalchemy_stream,
    }
    async with db.engine.connect() as conn:
        version = (await conn.execute(text("SHOW server_version"))).scalar()
    print(
        f"{args.rows:,} rows, columns {', '.join(columns)}, batch {args.batch}, "
        f"{args.repeats} repeats, PostgreSQL {version}"
    )
    timings: dict[str, list[float]] = {name: [] for name in paths}
    for path in paths.values():
        await path()  # warm-up: prepared statements, pool, caches
    for _ in range(args.repeats):
        for name, path in paths.items():  # interleaved, so drift hits every path alike
            started = time.perf_counter()
            await path()
            timings[name].append(time.perf_counter() - started)
    floor = statistics.median(timings["COPY ... TO STDOUT"])
    print(f"{'path':<22} {'median s':>9} {'min s':>7} {'max s':>7} {'x COPY':>7}")
    for name, values in timings.items():
        median = statistics.median(values)
        print(
            f"{name:<22} {median:9.3f} {min(values):7.3f} {max(values):7.3f} {median / floor:7.2f}"
        )
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
