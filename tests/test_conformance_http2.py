"""Over HTTP/2, for every pair whose server speaks it (h2c, prior knowledge): the body still
streams, and a client that resets its stream or drops the connection mid-body still gets the
database connection back. The pairs come from the registry; what does not speak HTTP/2 is
refused in one line naming what it serves."""

from __future__ import annotations

import asyncio
import hashlib
import time

import asyncpg
import httpx
import pytest

from shared.pairs import available_pairs
from shared.servers import ServerUnavailable, check_http

from .conftest import http2_pair_params
from .h2wire import H2Connection
from .servers import ServerPool
from .test_conformance_failures import _assert_quiet, _wait_until_idle

# About 6 MB of ndjson in 200 batches: long enough that a streamed first byte comes well before
# the end, small enough for CI.
STREAMED = "/chunked?rows=20000&batch=100&format=ndjson"
# Big enough that a stream cannot be finished before the test drops it (29 MB).
BIG = "/chunked?rows=100000&batch=100&format=ndjson"
# The sources that still read from the database once the headers are out, holding a connection.
HOLDING = ["cursor", "copy"]


@pytest.mark.parametrize("h2_port", http2_pair_params())
@pytest.mark.parametrize("source", ["cursor"])
async def test_streams_over_http2(h2_port: str, servers: ServerPool, source: str) -> None:
    server = servers.get(h2_port, http="2")
    url = f"{server.url}{STREAMED}&source={source}"
    # Identity bodies on both versions, read raw: httpx asks for gzip, deflate and zstd by
    # default, which the ports now honour (the codings have a conformance suite of their own).
    identity = {"Accept-Encoding": "identity"}
    async with httpx.AsyncClient(
        http1=False, http2=True, trust_env=False, timeout=60, headers=identity
    ) as client:
        # A pooled connection's first query (its plan, its prepared statement) costs tens of ms
        # before any first byte: paid here, so the figure below is the response's own.
        await client.get(f"{server.url}/chunked?rows=10&format=ndjson&source={source}")
        started = time.perf_counter()
        first: float | None = None
        body = hashlib.sha256()
        size = 0
        async with client.stream("GET", url) as response:
            assert response.http_version == "HTTP/2", f"{h2_port} answered {response.http_version}"
            assert response.status_code == 200
            async for piece in response.aiter_raw():
                if piece and first is None:
                    first = time.perf_counter() - started
                body.update(piece)
                size += len(piece)
        total = time.perf_counter() - started
    async with httpx.AsyncClient(trust_env=False, timeout=60, headers=identity) as client:
        over_http1 = await client.get(url)
    assert over_http1.http_version == "HTTP/1.1"
    assert body.hexdigest() == hashlib.sha256(over_http1.content).hexdigest(), (
        f"{h2_port}: the HTTP/2 body ({size} bytes) differs from the HTTP/1.1 one "
        f"({len(over_http1.content)} bytes)"
    )
    assert first is not None
    # A body held back until it was whole would arrive in the last part of the total.
    assert first < total / 2, (
        f"{h2_port} {source}: the first byte came {first * 1000:.1f} ms into a "
        f"{total * 1000:.1f} ms response over HTTP/2: not streamed"
    )


@pytest.mark.parametrize("h2_port", http2_pair_params())
@pytest.mark.parametrize("source", HOLDING)
async def test_disconnects_over_http2_leak_nothing(
    h2_port: str, servers: ServerPool, admin: asyncpg.Connection, source: str
) -> None:
    """Streams reset mid-body (the connection stays, and serves on) and a connection dropped with
    streams open: either way the server must stop reading the rows and give the database
    connection back, one 'client disconnected' line per stream."""
    server = servers.get(h2_port, http="2")
    server.mark_log()
    drops = 0
    for how in ("reset-stream", "drop-connection"):
        connection = await H2Connection.open(server.url)
        # Two streams on the one connection, both mid-body when the client acts.
        streams = [await connection.request(f"{BIG}&source={source}") for _ in range(2)]
        for stream in streams:
            assert stream.status == 200, f"{h2_port}: status {stream.status}"
            assert await connection.read_piece(stream), f"{h2_port}: no first piece ({how})"
        drops += len(streams)
        if how == "reset-stream":
            for stream in streams:
                await connection.reset(stream)
            # The connection still serves a request after its streams were reset.
            after = await connection.request("/chunked?rows=10&format=text")
            assert after.status == 200
            assert (await connection.read_to_end(after)).count(b"object_id:") == 10
            await connection.close()
        else:
            connection.abort()
    await _wait_until_idle(admin, patience=15.0)
    # Still serving, with every connection of the pool.
    async with httpx.AsyncClient(http1=False, http2=True, trust_env=False, timeout=60) as h2:
        answers = await asyncio.gather(
            *(h2.get(f"{server.url}/chunked?rows=5000&source={source}") for _ in range(4))
        )
    assert all(a.status_code == 200 and a.http_version == "HTTP/2" for a in answers)
    await server.log_once("client disconnected", drops)
    await asyncio.sleep(0.2)  # a line too many would come now
    log = server.new_log()
    _assert_quiet(log, f"{h2_port} {source} after {drops} HTTP/2 drops")
    gone = [line for line in log.splitlines() if "client disconnected" in line]
    assert len(gone) == drops, f"{h2_port}: one info line per dropped stream expected:\n{log}"


def test_servers_without_http2_refuse_it_in_one_line() -> None:
    pairs = [pair for _, pair, _ in available_pairs() if pair is not None]
    without = [pair for pair in pairs if "2" not in pair.http_versions]
    for pair in without:
        with pytest.raises(ServerUnavailable, match=r"does not speak HTTP/2; it serves HTTP/1\.1"):
            check_http(pair.server, "2")
    for pair in pairs:
        with pytest.raises(ServerUnavailable, match=r"no HTTP version '3'; choose from 1\.1, 2"):
            check_http(pair.server, "3")
