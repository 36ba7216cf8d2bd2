"""The data set: `messages` rows whose content is a pure function of the row number.

Generated server-side with `generate_series` (no row-by-row inserts), in slices so a progress bar can
follow a 10,000,000-row seed. Idempotent: a table already holding the rows is left alone, a smaller one
is extended, one made by another version of the generator is rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from sqlalchemy.schema import CreateTable

from .schema import dialect, messages

SEED_VERSION = "streambench-seed-v1"
SLICE_ROWS = 250_000
# A fixed key: concurrent seeds of one database queue behind each other instead of racing.
_LOCK_KEY = 0x5EEDBE7C

# Content by row number g: bodies of 20 to ~300 characters that exercise JSON and CSV escaping
# (quotes, commas, newlines, tabs, backslashes, non-ASCII).
_INSERT = """
INSERT INTO messages (id, sender, recipient, body, created_at)
SELECT g,
       'user' || (g % 997) || '@example.com',
       'user' || ((g * 7919) % 1009) || '@example.org',
       (ARRAY['Hello, "world"!',
              'Ça va? Grüße aus Zürich ✓',
              E'line one\\nline two',
              'comma, separated, values',
              E'tab\\tand back\\\\slash',
              '«quoted» ''single'' and "double"',
              'emoji 🚀 and CJK 漢字'])[1 + (g % 7)::int]
         || ' #' || g || ' ' || repeat('lorem ipsum ', (g % 23)::int),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
FROM generate_series($1::bigint, $2::bigint) AS g
"""


@dataclass(frozen=True)
class SeedResult:
    rows: int
    inserted: int
    seconds: float


async def seeded_rows(connection: asyncpg.Connection) -> int:
    """How many rows the table holds from this generator version (0 if absent or foreign)."""
    comment = await connection.fetchval(
        "SELECT obj_description(to_regclass('messages'), 'pg_class')"
    )
    if comment != SEED_VERSION:
        return 0
    count: int = await connection.fetchval("SELECT count(*) FROM messages")
    return count


async def _needs_vacuum(connection: asyncpg.Connection) -> bool:
    # From pg_class, not the statistics views: those start empty after a crash or an immediate
    # shutdown (the embedded server's, say), and a table seeded before seeding vacuumed is
    # all-visible only if autovacuum happened to pass by.
    pending = await connection.fetchval(
        "SELECT relallvisible < relpages FROM pg_class WHERE oid = to_regclass('messages')"
    )
    return bool(pending)


async def seed(
    connection: asyncpg.Connection,
    rows: int,
    progress: Callable[[int, int], None] | None = None,
) -> SeedResult:
    """Make `messages` hold at least rows 1..`rows`. `progress(done, total)` follows the inserts."""
    started = time.perf_counter()
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        present = await seeded_rows(connection)
        if present == 0:
            await connection.execute("DROP TABLE IF EXISTS messages")
            ddl = str(CreateTable(messages).compile(dialect=dialect()))
            await connection.execute(ddl)
            await connection.execute(f"COMMENT ON TABLE messages IS '{SEED_VERSION}'")
        else:
            top = await connection.fetchval("SELECT max(id) FROM messages")
            if top != present:
                raise RuntimeError(
                    f"messages holds {present} rows but its highest id is {top}: not a seed, "
                    "refusing to touch it (drop the table to reseed)"
                )
        start = present + 1
        total = max(rows - present, 0)
        if progress:
            progress(0, total)
        while start <= rows:
            end = min(start + SLICE_ROWS - 1, rows)
            await connection.execute(_INSERT, start, end)
            if progress:
                progress(end - present, total)
            start = end + 1
    if total or await _needs_vacuum(connection):
        # A bulk-loaded table is not yet all-visible: index-only scans then visit the heap for
        # every row (2M rows: 0.54 s instead of 0.25 s here), until autovacuum passes by at a
        # moment of its choosing, in the middle of a comparison. Settle it now, once.
        await connection.execute("VACUUM (FREEZE, ANALYZE) messages")
    return SeedResult(
        rows=max(rows, present), inserted=total, seconds=time.perf_counter() - started
    )
