"""The contract's data matrix, for every registered port: endpoint x source x format x rows/batch.

Status, headers and body bytes (against the shared encoders' output straight from the database),
`/chunked` arriving in several chunks, and every port answering the same request with the same bytes.
"""

from __future__ import annotations

import hashlib
import math

import pytest

from shared.contract import DEFAULT_SOURCES, ENDPOINTS, SOURCES
from shared.database import Database
from shared.encoders import ENCODERS, FORMATS, encode_all

from .conftest import REFERENCE_PAIR
from .rawhttp import RawResponse, fetch
from .servers import ServerPool

CASES = [(0, 1000), (1, 1), (1001, 100), (2500, 1000), (5000, 100_000)]


async def _expected(database: Database, fmt: str, rows: int) -> bytes:
    encoder = ENCODERS[fmt]
    return encode_all(encoder, await database.fetch_all(encoder.columns, rows))


def _assert_headers(response: RawResponse, endpoint: str, fmt: str) -> None:
    headers = response.headers
    assert response.status == 200, response.body[:300]
    assert headers["content-type"] == ENCODERS[fmt].content_type
    assert headers.get("x-request-id")
    if endpoint == "standard":
        assert not response.chunked, "/standard is sent at once, with Content-Length"
        assert int(headers["content-length"]) == len(response.body)
    else:
        assert response.chunked, "/chunked uses chunked transfer encoding"
        assert "content-length" not in headers
        assert headers.get("x-accel-buffering") == "no"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_matrix(port_name: str, servers: ServerPool, database: Database, fmt: str) -> None:
    server = servers.get(port_name)
    for rows, batch in CASES:
        expected = await _expected(database, fmt, rows)
        for endpoint in ENDPOINTS:
            for source in SOURCES:
                response = await fetch(
                    server.url,
                    f"/{endpoint}?rows={rows}&batch={batch}&format={fmt}&source={source}",
                )
                where = f"{port_name} /{endpoint} {source} rows={rows} batch={batch} format={fmt}"
                _assert_headers(response, endpoint, fmt)
                assert response.complete, where
                assert response.body == expected, where
                if endpoint == "chunked" and source != "copy" and rows > batch:
                    assert len(response.chunks) >= math.ceil(rows / batch), (
                        f"{where}: one chunk per batch expected, got {len(response.chunks)}"
                    )


@pytest.mark.parametrize("fmt", ["text", "ndjson"])
async def test_copy_gathers_the_database_output_into_large_chunks(
    port_name: str, servers: ServerPool, database: Database, fmt: str
) -> None:
    """`copy` forwards the database's pieces (about 8 KB for text rows) gathered into chunks of
    at least 64 KiB, all but the first (which leaves as soon as it exists) and the last. Some
    servers (Hypercorn, Django's response on any) frame one large write as a 64 KiB chunk and
    its rest, so the wire's chunks are held to their mean: 8 KB pieces sent one by one fail."""
    server = servers.get(port_name)
    response = await fetch(server.url, f"/chunked?rows=100000&format={fmt}&source=copy")
    assert response.body == await _expected(database, fmt, 100_000)
    sizes = [len(chunk) for chunk in response.chunks]
    assert len(sizes) > 2, sizes
    middle = sizes[1:-1]
    assert sum(middle) / len(middle) >= 32 * 1024, sizes


async def test_defaults_and_negotiated_format(
    port_name: str, servers: ServerPool, database: Database
) -> None:
    server = servers.get(port_name)
    assert DEFAULT_SOURCES == {"standard": "fetch", "chunked": "cursor"}
    # No parameters: default rows (more than the test data set holds: all of it), text.
    everything = await _expected(database, "text", 10**9)
    for endpoint in ("standard", "chunked"):
        response = await fetch(server.url, f"/{endpoint}")
        _assert_headers(response, endpoint, "text")
        assert response.body == everything
    # The original service's request: Accept: text/plain.
    response = await fetch(server.url, "/chunked?rows=3", {"Accept": "text/plain"})
    assert response.body == b"object_id:1 \nobject_id:2 \nobject_id:3 \n"
    for fmt in FORMATS:
        media = ENCODERS[fmt].media_type
        response = await fetch(server.url, "/standard?rows=20", {"Accept": media})
        _assert_headers(response, "standard", fmt)
        assert response.body == await _expected(database, fmt, 20)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_every_port_sends_the_same_bytes(
    other_port: str, servers: ServerPool, fmt: str
) -> None:
    names = [REFERENCE_PAIR, other_port]
    queries = [f"rows=0&format={fmt}", f"rows=3001&batch=500&format={fmt}"]
    queries += [f"rows=3001&batch=500&format={fmt}&source={source}" for source in SOURCES]
    for query in queries:
        seen: dict[tuple[str, int, str, str], list[str]] = {}
        for name in names:
            server = servers.get(name)
            for endpoint in ("standard", "chunked"):
                response = await fetch(server.url, f"/{endpoint}?{query}")
                key = (
                    endpoint,
                    response.status,
                    response.headers["content-type"],
                    hashlib.sha256(response.body).hexdigest(),
                )
                seen.setdefault(key, []).append(name)
        by_endpoint: dict[str, set[tuple[int, str, str]]] = {}
        for endpoint, status, content_type, digest in seen:
            by_endpoint.setdefault(endpoint, set()).add((status, content_type, digest))
        for endpoint, answers in by_endpoint.items():
            assert len(answers) == 1, f"/{endpoint}?{query}: ports disagree: {seen}"
        assert by_endpoint["standard"] == by_endpoint["chunked"]
