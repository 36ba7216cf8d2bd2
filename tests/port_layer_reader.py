"""Readers of a port's own data layer cancelled wherever they wait, in a process of its own.

A port's own layer runs inside its app (Django's ORM needs Django configured, with settings that
are the process's), so a test process that built an app of that port for another database
cannot open it: tests/test_django_orm_layer.py runs this module instead,
`python -m tests.port_layer_reader PORT LAYER DATABASE_URL`. Exit status 0 when nothing was left
behind; otherwise what was, on stderr.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import asyncpg

from shared.bodies import open_body
from shared.contract import DataRequest
from shared.encoders import ENCODERS
from shared.layers import DataLayer, choose_layer, open_layer
from shared.ports import load_port
from shared.servers.registry import import_string
from shared.settings import Settings

# Where the reader is when cancelled: before its first await returns, while the first batch is
# read, while later ones are, while it encodes.
DELAYS = (0.0, 0.001, 0.005, 0.02, 0.05, 0.1)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _busy(admin: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await admin.fetch(
        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'"
    )
    return rows


async def _idle(admin: asyncpg.Connection, patience: float = 10.0) -> list[asyncpg.Record]:
    """The busy backends left after `patience` (none, once every connection is back)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        busy = await _busy(admin)
        if not busy or loop.time() > deadline:
            return busy
        await asyncio.sleep(0.05)


async def _cancelled_readers(layer: DataLayer, admin: asyncpg.Connection, source: str) -> list[str]:
    problems = []
    request = DataRequest(100_000, 1_000, ENCODERS["ndjson"], source)

    async def consume() -> None:
        async with await open_body(layer, request) as body:
            async for _ in body:
                await asyncio.sleep(0)

    for delay in DELAYS:
        task = asyncio.create_task(consume())
        await asyncio.sleep(delay)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            problems.append(f"{source}: the reader was done within {delay} s: nothing tested")
        status = layer.pool_status()
        if status["checked_out"]:
            problems.append(f"{source}, cancelled after {delay} s: {status}")
        if busy := await _idle(admin):
            problems.append(f"{source}, cancelled after {delay} s: left busy {busy}")
    async with await open_body(layer, DataRequest(3, 1, ENCODERS["text"], source)) as body:
        if b"".join([chunk async for chunk in body]).count(b"\n") != 3:
            problems.append(f"{source}: three rows expected after the cancellations")
    return problems


async def main(port_name: str, layer_name: str, database_url: str) -> list[str]:
    port = load_port(port_name)
    spec = choose_layer(layer_name, port.layers, port.name)
    settings = Settings(database_url=database_url, pool_size=4, pool_timeout=2.0, layer=spec.name)
    import_string(port.factory)(settings)  # the app sets up what its layer needs
    records = _Records()
    logging.getLogger().addHandler(records)
    logging.getLogger().setLevel(logging.INFO)
    layer = await open_layer(settings, port.layers)
    admin = await asyncpg.connect(database_url)
    try:
        problems = []
        for source in spec.sources:
            problems += await _cancelled_readers(layer, admin, source)
    finally:
        await admin.close()
        await layer.dispose()
    # psycopg-pool warns as it discards a connection closed on purpose (a stream left early
    # closes its own, the held cursor with it): that one is expected, no other.
    for record in records.records:
        expected = record.name == "psycopg.pool" and "discarding closed" in record.getMessage()
        if record.levelno >= logging.WARNING and not expected:
            problems.append(f"logged {record.levelname} {record.name}: {record.getMessage()}")
    return problems


if __name__ == "__main__":
    found = asyncio.run(main(*sys.argv[1:4]))
    print("\n".join(found), file=sys.stderr)
    sys.exit(1 if found else 0)
