"""What making sure a pooled connection is alive costs per request.

    uv run python benchmarks/checkout_liveness.py [--requests 2000] [--repeats 7] [--rows 1]

After a database restart every pooled connection is dead; handing one out costs a client a 503.
Each request here is what `/standard?rows=N` does with the database: check a connection out of
the pool, fetch N rows, give it back. Timed, interleaved round by round:

- unchecked: the pool hands out whatever it holds (the behaviour before the check);
- closed-check: `is_closed()` on the driver's connection, no round trip (what `Database` does,
  with one retry on a connection-level failure);
- pre-ping: `SELECT 1` on every checkout (SQLAlchemy's `pool_pre_ping` does the same);
- Database.fetch_all: the shipped path, closed-check and retry included;
- COPY floor: `COPY (the same query) TO STDOUT` on a pooled connection, the database alone.

Prints per-request medians over the repeats with [min, max], and the extra cost against the
unchecked path.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import asyncpg

from shared import embedded
from shared.database import Database, create_database
from shared.encoders import ENCODERS
from shared.schema import compiled_select
from shared.seed import seed
from shared.settings import Settings


def _paths(db: Database, rows: int) -> dict[str, Callable[[], Awaitable[None]]]:
    columns = ENCODERS["text"].columns
    query = compiled_select(columns)

    async def unchecked() -> None:
        async with db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            await driver.fetch(query, rows)

    async def closed_check() -> None:
        async with db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            if driver.is_closed():
                raise RuntimeError("a closed connection in a healthy pool")
            await driver.fetch(query, rows)

    async def pre_ping() -> None:
        async with db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            await driver.fetchval("SELECT 1")
            await driver.fetch(query, rows)

    async def shipped() -> None:
        await db.fetch_all(columns, rows)

    async def copy_floor() -> None:
        async def sink(data: bytes) -> None:
            pass

        await db.copy_to(columns, rows, sink)

    return {
        "unchecked": unchecked,
        "closed-check": closed_check,
        "pre-ping (SELECT 1)": pre_ping,
        "Database.fetch_all": shipped,
        "COPY floor": copy_floor,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per path per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rows", type=int, default=1, help="rows each request fetches")
    args = parser.parse_args()
    settings = Settings.from_env()
    url = embedded.database_url(settings)
    db = await create_database(settings, url)
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        seeding: asyncpg.Connection = raw.driver_connection
        await seed(seeding, max(args.rows, 1000))
    paths = _paths(db, args.rows)
    print(
        f"{args.requests} requests x {args.repeats} repeats per path, {args.rows} row(s) each, "
        f"PostgreSQL {await db.server_version()}, one request at a time"
    )
    per_request: dict[str, list[float]] = {name: [] for name in paths}
    for path in paths.values():
        for _ in range(50):  # warm-up: prepared statements, a pooled connection
            await path()
    for _ in range(args.repeats):
        for name, path in paths.items():  # interleaved, so drift hits every path alike
            started = time.perf_counter()
            for _ in range(args.requests):
                await path()
            per_request[name].append((time.perf_counter() - started) / args.requests)
    await db.dispose()
    base = statistics.median(per_request["unchecked"])
    floor = statistics.median(per_request["COPY floor"])
    print(f"{'path':<22} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'+ms':>7} {'x COPY':>7}")
    for name, values in per_request.items():
        median = statistics.median(values)
        print(
            f"{name:<22} {median * 1e3:10.4f} {min(values) * 1e3:8.4f} {max(values) * 1e3:8.4f}"
            f" {(median - base) * 1e3:+7.4f} {median / floor:7.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
