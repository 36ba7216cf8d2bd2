"""What a round of requests costs the database: read from both ends.

The server's end: its pool's ledger on its /metrics page (connections held, connection-seconds,
waits, failed checkouts; shared/ledger.py writes it), read before and after each round. The
database's end: `pg_stat_activity` sampled while the round runs, for the backends of the
server's process (found by the application_name every layer sets, shared/session.py): how
many run a query or sit inside a transaction at once, and the oldest open transaction, which
holds back vacuum for as long as it stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg

from shared.ledger import CONNECTION_SECONDS, FAILED, HELD, HELD_PEAK, HOLD_MAX, WAIT_MAX
from shared.session import application_name

__all__ = [
    "HELD",
    "BackendWatch",
    "RoundCost",
    "backends_busy",
    "round_cost",
    "watch_backends",
]

LEDGER_METRICS = (HELD, HELD_PEAK, CONNECTION_SECONDS, HOLD_MAX, WAIT_MAX, FAILED)

# How often pg_stat_activity is read while a round runs: often enough to see a transaction's
# age within a few hundredths of a second, rarely enough to cost the database nothing visible.
SAMPLE_SECONDS = 0.025

# Backends of the server's processes that hold the database's attention: running a query, or
# idle inside an open transaction (a cursor waiting for its reader).
_BUSY = """
SELECT count(*) FILTER (WHERE state IS DISTINCT FROM 'idle')::int,
       coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)::float8
FROM pg_stat_activity
WHERE application_name = ANY($1::text[]) AND pid <> pg_backend_pid()
"""


@dataclass(frozen=True)
class RoundCost:
    """One round's database figures from the server's ledger."""

    connection_seconds: float
    held_peak: int
    hold_max: float
    wait_max: float
    checkouts_failed: int


def round_cost(
    before: Mapping[str, float], after: Mapping[str, float], requests: int
) -> RoundCost | None:
    """The ledger's figures for a round, from its samples read before (after a reset of the
    peaks) and after; None when the server does not publish them."""
    if any(name not in before or name not in after for name in LEDGER_METRICS):
        return None
    return RoundCost(
        connection_seconds=(after[CONNECTION_SECONDS] - before[CONNECTION_SECONDS])
        / max(requests, 1),
        held_peak=int(after[HELD_PEAK]),
        hold_max=after[HOLD_MAX],
        wait_max=after[WAIT_MAX],
        checkouts_failed=int(after[FAILED] - before[FAILED]),
    )


@dataclass
class BackendWatch:
    """What `pg_stat_activity` showed of one server's backends while a watch ran."""

    busy_peak: int = 0
    transaction_age_max: float = 0.0
    samples: int = 0
    errors: list[str] = field(default_factory=list)


async def backends_busy(connection: asyncpg.Connection, pids: Sequence[int]) -> tuple[int, float]:
    """How many of the servers' backends are busy now, and the oldest open transaction's age."""
    names = [application_name(pid) for pid in pids]
    row = await connection.fetchrow(_BUSY, names)
    assert row is not None
    return int(row[0]), float(row[1])


@contextlib.asynccontextmanager
async def watch_backends(
    connection: asyncpg.Connection | None, pids: Sequence[int]
) -> AsyncIterator[BackendWatch]:
    """Sample the backends of `pids` every SAMPLE_SECONDS while the block runs (nothing without
    a connection: a target's processes are not known)."""
    watch = BackendWatch()
    if connection is None or not pids:
        yield watch
        return

    stop = asyncio.Event()

    async def sample() -> None:
        # Stopped between queries, never cancelled inside one: the connection stays usable.
        while not stop.is_set():
            started = time.perf_counter()
            try:
                busy, age = await backends_busy(connection, pids)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
                watch.errors.append(f"{type(error).__name__}: {error}")
                return
            watch.samples += 1
            watch.busy_peak = max(watch.busy_peak, busy)
            watch.transaction_age_max = max(watch.transaction_age_max, age)
            with contextlib.suppress(TimeoutError):
                left = SAMPLE_SECONDS - (time.perf_counter() - started)
                await asyncio.wait_for(stop.wait(), max(left, 0.0))

    task = asyncio.ensure_future(sample())
    try:
        yield watch
    finally:
        stop.set()
        await asyncio.shield(task)
