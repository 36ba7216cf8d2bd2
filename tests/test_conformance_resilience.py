"""Unlucky moments, for every port: heads that never finish, a flood of oversized heads, a reset
just before the end, a shutdown with streams in flight, a database that drops every connection,
and a soak of mixed requests with drops. Real servers, real PostgreSQL, hard time limits."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.database import Database
from shared.encoders import ENCODERS, FORMATS, encode_all
from shared.session import application_name

from .rawhttp import IncompleteBody, RawConnection
from .servers import ServerPool
from .test_conformance_failures import BIG, _assert_quiet, _backends, _wait_until_idle
from .wire import address, expect_gap, read_to_end

MIB = 1024 * 1024


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for process {pid}")


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


# 5. Heads that never finish, and idle keep-alive connections


async def test_unfinished_heads_are_closed_after_the_head_timeout(
    port_name: str, servers: ServerPool, request: pytest.FixtureRequest
) -> None:
    expect_gap(request, port_name, "head-timeout")
    head_timeout = 1.0
    server = servers.start_private(port_name, head_timeout=head_timeout)
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        server.mark_log()
        partial = [
            b"",
            b"GE",
            b"GET /standard HTTP/1.1\r\n",
            b"GET /standard HTTP/1.1\r\nHost: x\r\nX-A: 1",
        ]
        for index in range(60):
            reader, writer = await asyncio.open_connection(*address(server.url))
            writer.write(partial[index % len(partial)])
            streams.append((reader, writer))

        async def trickle() -> None:
            # A byte every 0.2 s: alive, but its head never completes.
            reader, writer = await asyncio.open_connection(*address(server.url))
            streams.append((reader, writer))
            for byte in b"GET /standard?rows=1 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200:
                if writer.transport.is_closing() or reader.at_eof():
                    return
                writer.write(bytes([byte]))
                await asyncio.sleep(0.2)

        trickler = asyncio.create_task(trickle())
        # A keep-alive connection that got its answer and then says nothing.
        reader, writer = await asyncio.open_connection(*address(server.url))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await asyncio.wait_for(reader.readexactly(length), 10)
        streams.append((reader, writer))
        await asyncio.sleep(0.1)  # let the trickler connect
        patience = head_timeout + 5.0
        results = await asyncio.gather(*(read_to_end(r, patience) for r, _ in streams))
        trickler.cancel()
        held = [i for i, result in enumerate(results) if result.ended == "timeout"]
        assert not held, (
            f"{port_name}: {len(held)} of {len(results)} connections still open "
            f"{patience} s after their head timeout of {head_timeout} s"
        )
        answered = [r.raw[:80] for r in results[:-1] if r.raw]
        assert not answered, f"{port_name}: unfinished heads got answers: {answered[:3]}"
        for _, writer in streams:
            writer.transport.abort()
        # Still serving.
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            assert (await client.get("/standard?rows=1")).status_code == 200
        _assert_quiet(server.new_log(), f"{port_name} closing unfinished heads")
    finally:
        for _, writer in streams:  # also when an assertion failed: no socket left to the GC
            writer.transport.abort()
        assert server.stop() == 0, server.log()


# 4. Oversized heads by the megabyte keep the server's memory bounded


async def test_oversized_heads_keep_memory_bounded(
    port_name: str, servers: ServerPool, request: pytest.FixtureRequest
) -> None:
    server = servers.start_private(port_name)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            assert (await client.get("/standard?rows=10")).status_code == 200
        resident = _status(server.pid, "VmRSS")
        _reset_peak(server.pid)
        per_connection = 8 * MIB
        piece = b"a" * 65536

        async def flood() -> str:
            reader, writer = await asyncio.open_connection(*address(server.url))
            try:
                writer.write(b"GET /standard?rows=1 HTTP/1.1\r\nHost: x\r\nX-Big: ")
                for _ in range(per_connection // len(piece)):
                    if writer.transport.is_closing():
                        break
                    writer.write(piece)
                    await writer.drain()
            except ConnectionError:
                pass
            result = await read_to_end(reader, 10.0)
            writer.transport.abort()
            return result.raw[:12].decode("latin-1") or result.ended

        outcomes = await asyncio.wait_for(asyncio.gather(*(flood() for _ in range(10))), 60)
        peak = _status(server.pid, "VmHWM")
        growth = peak - resident
        assert growth < 24 * MIB, (
            f"{port_name}: peak memory grew {growth / MIB:.0f} MiB while 10 clients each sent "
            f"{per_connection // MIB} MiB of one header line ({outcomes})"
        )
        # Refused (431), or cut off while still sending: never served.
        served = [o for o in outcomes if o.startswith("HTTP/1.") and " 431" not in o]
        assert not served, f"{port_name}: oversized heads answered otherwise: {outcomes}"
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            assert (await client.get("/standard?rows=10")).status_code == 200
        _assert_quiet(server.log(), f"{port_name} after oversized heads")
    finally:
        assert server.stop() == 0, server.log()


# 3. A reset after the last row, before the terminating chunk


async def test_reset_after_the_last_row(
    port_name: str, servers: ServerPool, admin: asyncpg.Connection, request: pytest.FixtureRequest
) -> None:
    server = servers.get(port_name)
    server.mark_log()
    rows = 300
    length = sum(len(f"object_id:{i} \n") for i in range(1, rows + 1))
    drops = 20
    for _ in range(drops):
        connection = await RawConnection.open(server.url, f"/chunked?rows={rows}&batch=100")
        assert connection.response is not None
        while len(connection.response.body) < length:
            assert await asyncio.wait_for(connection.read_chunk(), 10) is not None
        connection.abort()  # every row read, the terminating chunk not
    await _wait_until_idle(admin)
    await asyncio.sleep(0.3)
    log = server.new_log()
    _assert_quiet(log, f"{port_name} after resets before the terminating chunk")
    gone = [line for line in log.splitlines() if "client disconnected" in line]
    assert len(gone) <= drops, f"{port_name}: more disconnect lines than drops:\n{log}"


# 7. Shutdown with streams in flight


async def test_shutdown_within_the_grace(
    port_name: str, servers: ServerPool, admin: asyncpg.Connection, request: pytest.FixtureRequest
) -> None:
    expect_gap(request, port_name, "shutdown")
    grace = 4.0
    server = servers.start_private(port_name, shutdown_grace=grace)
    stopped = False
    stalled: list[RawConnection] = []
    writer: asyncio.StreamWriter | None = None
    try:
        for _ in range(3):
            connection = await RawConnection.open(server.url, BIG)
            await connection.read_chunk()
            stalled.append(connection)  # never read again: the server blocks on flow control
        reader, writer = await asyncio.open_connection(*address(server.url))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)  # then idle, kept alive
        await asyncio.sleep(0.3)
        server.mark_log()
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            # Past grace + 2 the exit is too late anyway (asserted below): a little longer is
            # enough to tell "late" from "never".
            status = await asyncio.to_thread(server.process.wait, grace + 4)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{port_name}: still running {grace + 4} s after SIGTERM:\n{server.log()}")
        stopped = True
        took = time.monotonic() - started
        assert status == 0, f"{port_name}: exit status {status} after SIGTERM:\n{server.new_log()}"
        # The process's own teardown (imports, the interpreter) comes on top of the grace.
        assert took < grace + 2.0, (
            f"{port_name}: exited {took:.1f} s after SIGTERM, grace {grace} s"
        )
        for connection in stalled:
            with pytest.raises(IncompleteBody):
                await asyncio.wait_for(connection.read_all(), 30)
            connection.abort()
        idle = await read_to_end(reader, 5.0)
        assert idle.ended in ("eof", "reset"), f"{port_name}: idle connection left open"
        writer.transport.abort()
        log = server.new_log()
        _assert_quiet(log, f"{port_name} shutting down with streams in flight")
        assert "Task was destroyed" not in log, log
        assert log.count("client disconnected") == len(stalled), log
        # Only the unfinished responses are cut; the idle connection was simply closed.
        assert log.count("dropped the connection") == len(stalled), log
        await _wait_until_idle(admin)
    finally:
        for connection in stalled:  # also when an assertion failed: no socket left to the GC
            connection.abort()
        if writer is not None:
            writer.transport.abort()
        if not stopped:
            server.stop(timeout=1.0)  # SIGTERM was sent and ignored: kill it soon


# 8. The database drops every pooled connection


async def _pooled_backends(admin: asyncpg.Connection, pid: int) -> list[int]:
    """The backends serving a server process's pool, over TCP or a Unix socket alike."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1", application_name(pid)
    )
    return [row["pid"] for row in rows]


async def test_no_503_after_the_database_drops_every_connection(
    port_name: str, servers: ServerPool, admin: asyncpg.Connection
) -> None:
    # The pair's shared server (the suite's settings: a pool of 4); it must go on serving.
    server = servers.get(port_name)
    server.mark_log()
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        warm = await asyncio.gather(*(client.get("/standard?rows=10") for _ in range(8)))
        assert {r.status_code for r in warm} == {200}
        for round_ in range(2):
            victims = await _pooled_backends(admin, server.pid)
            assert victims, f"{port_name}: no pooled connections to terminate"
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", victims
            )
            for _ in range(500):  # gone from pg_stat_activity: the server has closed them
                if not await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", victims
                ):
                    break
                await asyncio.sleep(0.02)
            paths = ["/standard?rows=50", "/chunked?rows=50&batch=10", "/healthz"] * 6
            answers = await asyncio.gather(*(client.get(path) for path in paths))
            refused = [
                (p, r.status_code, r.text)
                for p, r in zip(paths, answers, strict=True)
                if r.status_code != 200
            ]
            assert not refused, f"{port_name}, restart {round_ + 1}: {refused}"
    _assert_quiet(server.new_log(), f"{port_name} after the database dropped its connections")


# The soak: mixed requests, a quarter dropped mid-body, several at a time


async def test_soak(
    port_name: str,
    servers: ServerPool,
    admin: asyncpg.Connection,
    database: Database,
    request: pytest.FixtureRequest,
) -> None:
    expect_gap(request, port_name, "quiet-drops")
    # More connections than requests at a time: every refusal would be a bug, not the pool's.
    server = servers.start_private(port_name, pool_size=10, pool_timeout=5.0)
    try:
        rng = random.Random(14)
        row_counts = (0, 1, 999, 2500)
        expected = {
            (fmt, rows): encode_all(
                ENCODERS[fmt], await database.fetch_all(ENCODERS[fmt].columns, rows)
            )
            for fmt in FORMATS
            for rows in row_counts
        }
        plan = []
        for index in range(240):  # a quarter of them dropped mid-body
            fmt, rows = rng.choice(FORMATS), rng.choice(row_counts)
            endpoint = rng.choice(("standard", "chunked"))
            plan.append((index % 4 == 0, endpoint, fmt, rows, rng.choice((1, 7, 100, 1000))))
        gate = asyncio.Semaphore(8)
        wrong: list[str] = []

        async def one(drop: bool, endpoint: str, fmt: str, rows: int, batch: int) -> None:
            async with gate:
                if drop:
                    connection = await RawConnection.open(server.url, BIG)
                    await connection.read_chunk()
                    if rng.random() < 0.5:
                        connection.abort()
                    else:
                        await connection.close()
                    return
                path = f"/{endpoint}?rows={rows}&batch={batch}&format={fmt}"
                connection = await RawConnection.open(server.url, path)
                try:
                    response = await connection.read_all()
                finally:
                    await connection.close()
                if response.status != 200 or response.body != expected[(fmt, rows)]:
                    wrong.append(f"{path}: {response.status}, {response.body[:200]!r}")

        await asyncio.wait_for(asyncio.gather(*(one(*step) for step in plan[:40])), 120)
        await _wait_until_idle(admin)
        fds, resident = _open_fds(server.pid), _status(server.pid, "VmRSS")
        await asyncio.wait_for(asyncio.gather(*(one(*step) for step in plan[40:])), 300)
        assert not wrong, f"{port_name}: {len(wrong)} bodies differ, e.g. {wrong[:5]}"
        await _wait_until_idle(admin)
        busy = [b for b in await _backends(admin) if b["state"] != "idle"]
        assert not busy, f"{port_name}: sessions left busy: {busy}"
        # A server may close the sockets of dropped clients a little later (Hypercorn takes
        # seconds); a leak never gives them back.
        for _ in range(50):
            grown_fds = _open_fds(server.pid) - fds
            if grown_fds <= 4:
                break
            await asyncio.sleep(0.2)
        assert grown_fds <= 4, f"{port_name}: {grown_fds} more open files 10 s after the soak"
        grown = _status(server.pid, "VmRSS") - resident
        assert grown < 32 * MIB, f"{port_name}: resident memory grew {grown / MIB:.0f} MiB"
        await asyncio.sleep(0.2)
        log = server.log()
        _assert_quiet(log, f"{port_name} soak")
        drops = sum(1 for step in plan if step[0])
        assert log.count("client disconnected") == drops, f"{port_name}: one line per drop"
    finally:
        assert server.stop() == 0, server.log()
