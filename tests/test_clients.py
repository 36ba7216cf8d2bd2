"""The measuring clients (compare/clients/): every one times a request the same way, against a real
port on a real socket; fails a request the same way; keeps a paced reader to its rate with a small
receive buffer; and measures its own ceiling at a concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path

import httpx
import pytest

from compare.analysis import count_rows
from compare.baselines import MemoryServer, Reference, measure_ceiling
from compare.clients import CLIENTS, open_client, timed_request
from compare.free_ports import free_port
from compare.load.processes import open_processes
from compare.verify import expected_body

from .conftest import REFERENCE_PAIR
from .rawhttp import raw_server
from .servers import ServerPool

# The reference pair's id in each test's parameters keeps these tests in the worker that already
# runs that pair's server (tests/_scheduling.py).
ON_REFERENCE = [
    pytest.param(name, id=f"{REFERENCE_PAIR}-{name}") for name in sorted(CLIENTS)
]  # fmt: skip
EVERY_CLIENT = pytest.mark.parametrize("client_name", sorted(CLIENTS))
ROWS = 3_000


async def _plain_body(url: str, params: dict[str, str]) -> bytes:
    async with httpx.AsyncClient(trust_env=False) as plain:
        response = await plain.get(url, params=params)
        response.raise_for_status()
        return response.content


@pytest.mark.timeout(60)
@pytest.mark.parametrize("client_name", ON_REFERENCE)
@pytest.mark.parametrize("endpoint", ["chunked", "standard"])
async def test_every_client_times_a_port_the_same_way(
    client_name: str, endpoint: str, servers: ServerPool
) -> None:
    server = servers.get(REFERENCE_PAIR)
    url = f"{server.url}/{endpoint}"
    params = {"rows": str(ROWS), "format": "text", "batch": "100"}
    body = await _plain_body(url, params)
    assert count_rows(body, "text") == ROWS
    async with open_client(client_name, 4) as client:
        timing = await timed_request(client, url, params, {}, "text", ROWS, len(body))
    assert timing.ok, timing.error
    assert (timing.status, timing.bytes, timing.rows) == (200, len(body), ROWS)
    assert timing.headers is not None
    assert timing.ttfb is not None
    assert 0 < timing.headers <= timing.ttfb < timing.total
    # Every piece is one point of the arrival curve, in order, the last holding every byte.
    assert timing.chunks == len(timing.arrival) >= 1
    times = [t for t, _ in timing.arrival]
    counts = [n for _, n in timing.arrival]
    assert times == sorted(times)
    assert times[0] == timing.ttfb
    assert times[-1] <= timing.total
    assert counts == sorted(set(counts))
    assert counts[-1] == len(body)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("client_name", ON_REFERENCE)
async def test_every_client_fails_a_request_the_same_way(
    client_name: str, servers: ServerPool
) -> None:
    server = servers.get(REFERENCE_PAIR)
    url = f"{server.url}/chunked"
    params = {"rows": "100", "format": "text"}
    async with open_client(client_name, 2) as client:
        fewer = await timed_request(client, url, params, {}, "text", 101)
        longer = await timed_request(client, url, params, {}, "text", 100, 10**6)
        refused = await timed_request(client, url, {**params, "rows": "-1"}, {}, "text", 100)
        closed = await timed_request(
            client, f"http://127.0.0.1:{free_port()}/chunked", params, {}, "text", 100
        )
    assert (fewer.ok, fewer.error) == (False, "100 rows, expected 101")
    assert not longer.ok
    assert longer.error is not None
    assert longer.error.endswith("bytes, expected 1000000")
    assert (refused.ok, refused.status) == (False, 400)
    assert refused.error == "status 400"
    # Nothing listens there: the client's own exception, named, never raised out of the timing.
    assert (closed.ok, closed.status, closed.bytes) == (False, None, 0)
    assert closed.error is not None
    assert closed.error.endswith("after 0 bytes")


def endless_writer(written: list[int]) -> contextlib.AbstractAsyncContextManager[str]:
    """A 200 whose chunked body never ends, from a socket with a small send buffer; `written[0]`
    counts the bytes the kernel took from it."""
    piece = b"x" * 16_384
    frame = b"%x\r\n%s\r\n" % (len(piece), piece)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16_384)
        writer.transport.set_write_buffer_limits(high=0)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            writer.write(frame)
            await writer.drain()
            written[0] += len(piece)

    return raw_server(answer)


@pytest.mark.timeout(30)
@EVERY_CLIENT
async def test_a_paced_readers_small_receive_buffer_keeps_the_server_waiting(
    client_name: str,
) -> None:
    rate = 100_000.0
    written = [0]
    async with (
        endless_writer(written) as url,
        open_client(client_name, 1, receive_buffer=65_536) as client,
    ):
        reading = asyncio.ensure_future(
            timed_request(client, url, {}, {}, "text", 0, read_rate=rate)
        )
        await asyncio.sleep(0.5)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
    # Half a second at 100 kB/s: 50 kB read, plus what the buffers hold (the receive buffer's
    # 64 KiB, doubled by Linux, the client's own, the server's small send buffer): 262 kB with
    # either client here, against 560-610 kB when the receive buffer was not set.
    assert written[0] < 400_000, f"{written[0]:,} bytes left the server in 0.5 s at 100 kB/s"


@pytest.mark.timeout(30)
@EVERY_CLIENT
async def test_a_paced_read_takes_at_least_its_bytes_over_its_rate(client_name: str) -> None:
    body = b"object_id:1 \n" * 20_000  # 260,000 bytes
    rate = 1_000_000.0
    async with whole_body(body) as url, open_client(client_name, 1) as client:
        timing = await timed_request(client, url, {}, {}, "text", 20_000, len(body), rate)
    assert timing.ok, timing.error
    assert timing.ttfb is not None
    took = timing.total - timing.ttfb
    assert took >= 0.99 * len(body) / rate, f"{len(body):,} bytes in {took:.3f} s at 1 MB/s"


def whole_body(body: bytes) -> contextlib.AbstractAsyncContextManager[str]:
    """A 200 with `body` in 16 KiB chunks, as fast as the socket takes them."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(body), 16_384):
            piece = body[start : start + 16_384]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()

    return raw_server(answer)


@pytest.mark.timeout(30)
@EVERY_CLIENT
async def test_the_ceiling_is_measured_at_the_concurrency_asked(
    client_name: str, tmp_path: Path
) -> None:
    rows = 2_000
    body = b"object_id:1 \n" * rows
    key = Reference.key(rows, "text")
    (tmp_path / f"{key}.body").write_bytes(body)
    (tmp_path / f"{key}.chunks").write_text(json.dumps([len(body) // 4] * 4))
    server = await MemoryServer.start(tmp_path)
    try:
        # Through two worker processes, as a run measures by default on a larger machine: six
        # requests split three and three, every one of them counted.
        async with open_processes(client_name, 2, 8) as engine:
            expected = expected_body(body, rows, "text")
            ceilings = [
                await measure_ceiling(engine, server, expected, 4, level, repeats=2, warmup=1)
                for level in (1, 6)
            ]
    finally:
        server.stop()
    for level, ceiling in zip((1, 6), ceilings, strict=True):
        assert (ceiling.client, ceiling.concurrency, ceiling.bytes) == (
            client_name,
            level,
            len(body),
        )
        # Every request of the two measured rounds, none of the warm-up's.
        assert ceiling.total.count == 2 * level
