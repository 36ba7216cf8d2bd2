"""The contract's data matrix, for every registered port: endpoint x format x rows/batch.

Status, headers and body bytes (against the shared encoders' output straight from the database),
`/chunked` arriving in several chunks, and every port answering the same request with the same bytes.
"""

from __future__ import annotations

import hashlib
import math

import pytest

from shared.database import Database
from shared.encoders import ENCODERS, FORMATS, encode_all
from shared.ports import available_ports

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
        for endpoint in ("standard", "chunked"):
            response = await fetch(
                server.url, f"/{endpoint}?rows={rows}&batch={batch}&format={fmt}"
            )
            where = f"{port_name} /{endpoint} rows={rows} batch={batch} format={fmt}"
            _assert_headers(response, endpoint, fmt)
            assert response.complete, where
            assert response.body == expected, where
            if endpoint == "chunked" and rows > batch:
                assert len(response.chunks) >= math.ceil(rows / batch), (
                    f"{where}: one chunk per batch expected, got {len(response.chunks)}"
                )


async def test_defaults_and_negotiated_format(
    port_name: str, servers: ServerPool, database: Database
) -> None:
    server = servers.get(port_name)
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


def _ports() -> list[str]:
    return [name for name, _, reason in available_ports() if reason is None]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_every_port_sends_the_same_bytes(servers: ServerPool, fmt: str) -> None:
    names = _ports()
    if len(names) < 2:
        pytest.skip(f"one port available ({names}): nothing to compare")
    for query in (f"rows=0&format={fmt}", f"rows=3001&batch=500&format={fmt}"):
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
