"""Content codings, for every registered pair: `Accept-Encoding` negotiated as the contract says,
`Content-Encoding` and `Vary` right, the decoded body byte-identical to the identity body,
`/chunked` still streamed (each batch decodable as it arrives), and a client that leaves
mid-body leaving no connection held. Small bodies, over real sockets, servers from the pool.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import zlib
from collections.abc import Iterable, Sequence

import asyncpg
import pytest

from shared.compression import CODINGS, IDENTITY, decode, open_compressor, open_decoder

from .rawhttp import RawConnection, RawResponse, fetch
from .servers import ServerPool
from .test_conformance_failures import _assert_quiet, _wait_until_idle

# 1,000 rows in batches of 100: ten chunks, 15 kB to 300 kB a body.
QUERY = "rows=1000&batch=100"
CASES = [
    ("standard", "fetch", "text"),
    ("standard", "cursor", "ndjson"),
    ("chunked", "cursor", "text"),
    ("chunked", "fetch", "ndjson"),
    ("chunked", "keyset", "csv"),
]


def _vary(response: RawResponse) -> bool:
    values = response.headers.get("vary", "").lower().replace(" ", "").split(",")
    return "accept-encoding" in values


def missed_batches(
    identity_chunks: Sequence[bytes], wire_chunks: Iterable[bytes], coding: str
) -> list[int]:
    """The batch ends (byte offsets in the decoded body) that no prefix of the wire chunks
    decodes to exactly: empty when every batch could be read as soon as its chunk arrived.

    A compressor that holds input back until its buffers fill or the body ends decodes to
    offsets between or after the batch ends, never to each of them: it cannot pass."""
    decoder = open_decoder(coding)
    reached = set(itertools.accumulate(len(decoder.decode(chunk)) for chunk in wire_chunks))
    ends = itertools.accumulate(len(chunk) for chunk in identity_chunks)
    return [end for end in ends if end not in reached]


def test_the_streaming_check_fails_a_compressor_that_holds_back() -> None:
    """The check above, against a gzip stream compressed without a flush per chunk (what
    aiohttp's own `enable_compression()` writes) and one flushed only every fourth chunk."""
    batches = [
        b"".join(b"object_id:%d " % i for i in range(n, n + 100)) for n in range(0, 2000, 100)
    ]
    held = zlib.compressobj(9, zlib.DEFLATED, 31)
    unflushed = [held.compress(batch) for batch in batches] + [held.flush()]
    assert decode("gzip", b"".join(unflushed)) == b"".join(batches)
    assert missed_batches(batches, unflushed, "gzip")
    compressor = open_compressor("gzip")
    sometimes = [
        compressor.compress(b"".join(batches[i : i + 4])) for i in range(0, len(batches), 4)
    ]
    assert missed_batches(batches, [*sometimes, compressor.finish()], "gzip")
    compressor = open_compressor("zstd")
    flushed = [compressor.compress(batch) for batch in batches]
    assert not missed_batches(batches, [*flushed, compressor.finish()], "zstd")


async def test_codings(port_name: str, servers: ServerPool) -> None:
    server = servers.get(port_name)
    for endpoint, source, fmt in CASES:
        path = f"/{endpoint}?{QUERY}&source={source}&format={fmt}"
        plain = await fetch(server.url, path)
        assert plain.status == 200, f"{port_name} {path}"
        assert "content-encoding" not in plain.headers, f"{port_name} {path}"
        assert _vary(plain), f"{port_name} {path}: Vary: Accept-Encoding on an identity answer too"
        for coding in CODINGS:
            where = f"{port_name} {coding} {path}"
            response = await fetch(server.url, path, {"Accept-Encoding": coding})
            assert response.status == 200, where
            assert response.complete, where
            assert response.headers.get("content-encoding") == coding, (
                f"{where}: {response.headers}"
            )
            assert _vary(response), f"{where}: {response.headers}"
            assert response.headers["content-type"] == plain.headers["content-type"], where
            if endpoint == "standard":
                assert not response.chunked, f"{where}: a compressed /standard is still whole"
                assert int(response.headers["content-length"]) == len(response.body), where
            assert decode(coding, response.body) == plain.body, f"{where}: decoded body differs"
            assert len(response.body) < len(plain.body), f"{where}: not compressed"
            if endpoint == "chunked":
                assert response.chunked, where
                assert response.headers.get("x-accel-buffering") == "no", where
                missed = missed_batches(plain.chunks, response.chunks, coding)
                assert not missed, (
                    f"{where}: the body is not decodable batch by batch as it arrives (held "
                    f"back); no wire prefix decodes to the batch ends {missed[:5]}"
                )


async def test_accept_encoding_negotiation(port_name: str, servers: ServerPool) -> None:
    server = servers.get(port_name)
    path = "/chunked?rows=200&batch=50&source=cursor"
    expected = {
        "gzip;q=0": IDENTITY,
        "br, compress, bogus;q=0.9": IDENTITY,
        "identity": IDENTITY,
        "gzip;q=0.5, identity": IDENTITY,
        "GZIP": "gzip",
        "x-gzip": "gzip",
        "gzip;q=0.5, zstd": "zstd",
        "zstd;q=0, *": "gzip",
        "*": "gzip",
        "gzip, deflate, br, zstd": "gzip",
    }
    plain = await fetch(server.url, path)
    for header, coding in expected.items():
        response = await fetch(server.url, path, {"Accept-Encoding": header})
        where = f"{port_name} Accept-Encoding: {header}"
        assert response.status == 200, where
        assert response.headers.get("content-encoding", IDENTITY) == coding, where
        assert decode(coding, response.body) == plain.body, where
    for header in ("gzip;q=0, *;q=0", "identity;q=0", "br, identity;q=0"):
        for endpoint in ("standard", "chunked"):
            response = await fetch(server.url, f"/{endpoint}?rows=5", {"Accept-Encoding": header})
            where = f"{port_name} /{endpoint} Accept-Encoding: {header}"
            assert response.status == 406, f"{where}: {response.status} {response.body[:200]!r}"
            assert response.headers["content-type"] == "application/json", where
            assert "content-encoding" not in response.headers, where
            assert response.headers.get("x-request-id"), where
            error = json.loads(response.body)["error"]
            assert error.startswith("cannot produce any content coding"), where
    # Neither the health check nor an error body is compressed.
    health = await fetch(server.url, "/healthz", {"Accept-Encoding": "gzip"})
    assert health.status == 200
    assert "content-encoding" not in health.headers
    refused = await fetch(server.url, "/standard?rows=x", {"Accept-Encoding": "zstd"})
    assert refused.status == 400
    assert json.loads(decode(refused.headers.get("content-encoding"), refused.body))["parameter"]


@pytest.mark.parametrize("coding", CODINGS)
async def test_disconnect_mid_compressed_body(
    port_name: str, servers: ServerPool, admin: asyncpg.Connection, coding: str
) -> None:
    server = servers.get(port_name)
    server.mark_log()
    drops = 2  # one closed, one reset: tests/test_conformance_failures.py drops more, uncompressed
    for attempt in range(drops):
        connection = await RawConnection.open(
            server.url,
            # A thousand chunks: far from done when the client leaves after the first. Text,
            # not ndjson: a server that has not noticed yet compresses 1.7 MB, not 29 MB.
            "/chunked?rows=100000&batch=100&format=text&source=cursor",
            {"Accept-Encoding": coding},
        )
        assert connection.response is not None
        assert connection.response.headers.get("content-encoding") == coding
        await connection.read_chunk()
        if attempt % 2:
            connection.abort()
        else:
            await connection.close()
    await _wait_until_idle(admin)
    # Still serving, compressed, with every connection of the pool.
    results = await asyncio.gather(
        *(fetch(server.url, "/chunked?rows=1000", {"Accept-Encoding": coding}) for _ in range(2))
    )
    assert all(r.complete and r.status == 200 for r in results)
    await asyncio.sleep(0.2)
    _assert_quiet(server.new_log(), f"{port_name} {coding} after {drops} disconnects")
