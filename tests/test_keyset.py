"""The `keyset` source against `cursor`, on every data layer that offers it: what it buys (readers
that stall mid-body hold no connection and no transaction) and what it costs (each page reads the
table as it is then; a page that finds the pool held by others cuts the body). A restart between
pages costs nothing: each page checks its connection out as a `fetch` does.

Real servers on real sockets, real PostgreSQL; the layers and the pairs they run on are
tests/test_data_layers.py's.
"""

from __future__ import annotations

import asyncio
import datetime
import secrets
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from shared.database import application_name
from shared.encoders import ENCODERS, encode_all
from shared.schema import compiled_select
from shared.settings import Settings

from .conftest import TEST_ROWS, _test_database
from .rawhttp import IncompleteBody, RawConnection
from .servers import Server, ServerPool
from .test_conformance_failures import BIG
from .test_conformance_resilience import _pooled_backends
from .test_data_layers import PLACEMENTS, LayerOnPair, _hold, _params, _serve, _settled

KEYSET = _params([pairs[0] for pairs in PLACEMENTS if "keyset" in pairs[0].spec.sources])
# How long every connection of a server must have been idle for its readers to count as stalled
# (the server blocked on their flow control, no page being read).
QUIET = datetime.timedelta(seconds=0.5)
# Every row of the table, a page of 100 at a time (1,000 pages; 29 MB, far more than the socket
# buffers hold, so a stalled reader stops the server long before the table's end).
WHOLE_TABLE = "/chunked?rows=1000000&batch=100&format=ndjson"


async def _unsettled(admin: asyncpg.Connection, server: Server) -> list[asyncpg.Record]:
    """The server's backends that are busy (running a query, or idle in a transaction) or were
    until less than `QUIET` ago."""
    rows: list[asyncpg.Record] = await admin.fetch(
        "SELECT pid, state, query, clock_timestamp() - state_change AS quiet_for "
        "FROM pg_stat_activity WHERE application_name = $1",
        application_name(server.pid),
    )
    return [
        row
        for row in rows
        if row["state"] != "idle" or (row["quiet_for"] is not None and row["quiet_for"] < QUIET)
    ]


async def _stalled(admin: asyncpg.Connection, server: Server, patience: float = 30.0) -> None:
    """Wait until the server reads nothing more: every connection of its idle, for `QUIET`."""
    deadline = time.monotonic() + patience
    while unsettled := await _unsettled(admin, server):
        assert time.monotonic() < deadline, (
            f"readers stalled mid-body, yet after {patience} s the server still holds: "
            + "; ".join(f"{row['state']} ({row['query'][:60]!r})" for row in unsettled)
        )
        await asyncio.sleep(0.05)


async def _open(server: Server, path: str, headers: dict[str, str] | None = None) -> RawConnection:
    """A response begun, its first chunk read, then not read any further."""
    reader = await RawConnection.open(server.url, path, headers)
    assert reader.response is not None
    assert reader.response.status == 200, f"{path}: {reader.response.status}"
    await reader.read_chunk()
    return reader


async def _stall(server: Server, source: str, count: int) -> list[RawConnection]:
    """`count` readers of a large body, each stalled after its first chunk."""
    readers: list[RawConnection] = []
    try:
        for index in range(count):
            reader = await RawConnection.open(server.url, f"{BIG}&source={source}")
            readers.append(reader)
            assert reader.response is not None
            assert reader.response.status == 200, (
                f"{source}: reader {index + 1} of {count} refused ({reader.response.status}) "
                "while the others had stalled: stalled readers hold the pool"
            )
            await reader.read_chunk()
    except BaseException:
        for reader in readers:
            reader.abort()
        raise
    return readers


@pytest.mark.parametrize("layer", KEYSET)
async def test_stalled_keyset_readers_hold_no_connection(
    layer: LayerOnPair, servers: ServerPool, settings: Settings, admin: asyncpg.Connection
) -> None:
    """One more reader stalled mid-body than the pool has connections: on `keyset` the server,
    blocked on their flow control, holds no connection in a query or a transaction and answers
    another request at once; as many readers stalled on `cursor` hold the whole pool."""
    server = _serve(servers, layer)
    await _settled(admin, server, settings.pool_size)
    stalled = await _stall(server, "keyset", settings.pool_size + 1)
    try:
        await _stalled(admin, server)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            response = await client.get("/standard?rows=10")
        assert response.status_code == 200, f"stalled keyset readers held the pool: {response.text}"
    finally:
        for reader in stalled:
            reader.abort()
    await _settled(admin, server, settings.pool_size)
    holders = await _stall(server, "cursor", settings.pool_size)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            response = await client.get("/standard?rows=10")
        assert response.status_code == 503, f"stalled cursor readers held nothing: {response.text}"
    finally:
        for holder in holders:
            holder.abort()
    await _settled(admin, server, settings.pool_size)


@pytest.fixture
async def changing_database() -> AsyncIterator[str]:
    """A database of the test's own, seeded as the session's, whose rows the test changes while
    a server reads them."""
    async with _test_database(TEST_ROWS) as url:
        yield url


async def _body(table: asyncpg.Connection) -> bytes:
    """The table's whole body in WHOLE_TABLE's format, as it is now."""
    encoder = ENCODERS["ndjson"]
    return encode_all(encoder, await table.fetch(compiled_select(encoder.columns), 1_000_000))


def _holds(body: bytes, row_id: int) -> bool:
    return b'{"id":%d,' % row_id in body


@pytest.mark.parametrize("layer", KEYSET)
async def test_keyset_reads_each_page_as_the_table_is_then(
    layer: LayerOnPair, servers: ServerPool, changing_database: str
) -> None:
    """The table's last row is deleted and one with a higher id inserted while a `cursor` and a
    `keyset` response are midway: the cursor's body is the table as it was when it began (one
    snapshot), the keyset's the table as each page found it (the deleted row missing, the new
    one there)."""
    server = servers.start_private(layer.pair, layer=layer.name, database_url=changing_database)
    table = await asyncpg.connect(changing_database)
    try:
        before = await _body(table)
        readers = {
            source: await _open(server, f"{WHOLE_TABLE}&source={source}")
            for source in ("cursor", "keyset")
        }
        last = await table.fetchval("SELECT max(id) FROM messages")
        await table.execute(
            "INSERT INTO messages SELECT id + 1, sender, recipient, body, created_at "
            "FROM messages WHERE id = $1",
            last,
        )
        await table.execute("DELETE FROM messages WHERE id = $1", last)
        after = await _body(table)
        bodies = {}
        for source, reader in readers.items():
            bodies[source] = (await asyncio.wait_for(reader.read_all(), 60)).body
            await reader.close()
    finally:
        await table.close()
        assert server.stop() == 0, server.log()
    # (deleted row there, inserted row there, the body the table gave then)
    seen = {
        source: (_holds(body, last), _holds(body, last + 1), body == before, body == after)
        for source, body in bodies.items()
    }
    assert seen["cursor"] == (True, False, True, False), f"cursor: one snapshot expected: {seen}"
    assert seen["keyset"] == (False, True, False, True), f"keyset: each page's table: {seen}"


@pytest.mark.parametrize("layer", KEYSET)
async def test_a_keyset_page_that_finds_the_pool_held_cuts_the_body(
    layer: LayerOnPair, servers: ServerPool, settings: Settings, admin: asyncpg.Connection
) -> None:
    """A reader stalls midway; meanwhile stalled `cursor` readers take every connection. Its
    next page waits the pool timeout for one and fails: the body ends without its last chunk,
    one line says so, and the server serves on once the holders go."""
    server = _serve(servers, layer)
    await _settled(admin, server, settings.pool_size)
    server.mark_log()
    request_id = f"keyset{secrets.token_hex(4)}"
    reader = await _open(server, f"{BIG}&source=keyset", {"X-Request-ID": request_id})
    holders = await _hold(server, "cursor", settings.pool_size)
    try:
        with pytest.raises(IncompleteBody):
            await asyncio.wait_for(reader.read_all(), timeout=60)
    finally:
        for holder in holders:
            holder.abort()
        await reader.close()
    await _settled(admin, server, settings.pool_size)
    log = await server.log_once("stream failed", 1)
    failures = [line for line in log.splitlines() if "stream failed" in line]
    assert len(failures) == 1, log
    assert request_id in failures[0], failures
    assert "Traceback" not in log, log


@pytest.mark.parametrize("layer", KEYSET)
async def test_keyset_pages_outlive_connections_dropped_between_them(
    layer: LayerOnPair, servers: ServerPool, settings: Settings, admin: asyncpg.Connection
) -> None:
    """The database drops every connection of the server's (a restart, a failover) while a
    keyset reader has stalled: the next page finds its connection dead before using it, takes
    a fresh one as a `fetch` would, and the body completes."""
    server = _serve(servers, layer)
    await _settled(admin, server, settings.pool_size)
    server.mark_log()
    reader = await _open(server, f"{BIG}&source=keyset")
    try:
        await _stalled(admin, server)
        victims = await _pooled_backends(admin, server.pid)
        assert victims, f"{layer.id}: no connections of the server's to terminate"
        # With a timeout, each call returns once its backend has exited and closed its socket: the
        # drop has happened before the next page, as between pages of a real restart. (Without it
        # a page could race the backend's exit and meet a connection still open, then dying.)
        await admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM unnest($1::int[]) pid", victims
        )
        response = await asyncio.wait_for(reader.read_all(), timeout=60)
    finally:
        await reader.close()
    assert response.body.count(b"\n") == 100_000
    await _settled(admin, server, settings.pool_size)
    log = server.new_log()
    assert "stream failed" not in log, log
    assert "Traceback" not in log, log
