"""Hostile and unlucky clients, for every port: bytes no client library sends, HTTP/1.0 and other
versions, heads over the limits, query strings crowded with unknown keys, malformed requests and
bodies. Real servers on real sockets, each exchange under a hard time limit, every answer checked
against docs/contract.md."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from shared.auth import make_token
from shared.limits import (
    FIELD_OVERHEAD,
    MAX_HEADER_BYTES,
    MAX_HEADER_FIELDS,
    MAX_TARGET_BYTES,
    version_not_supported,
)

from .conftest import JWT_SECRET
from .servers import Server, ServerPool
from .test_conformance_failures import _assert_quiet
from .wire import WireResult, exchange, expect_gap, request_head


def _where(server: Server, what: str) -> str:
    return f"{server.name}: {what}"


def _assert_json_refusal(result: WireResult, status: int, where: str) -> dict[str, object]:
    assert result.status == status, f"{where}: expected {status}, got {result.raw[:300]!r}"
    assert result.headers.get("content-type") == "application/json", f"{where}: {result.head!r}"
    assert result.headers.get("x-request-id"), f"{where}: no X-Request-ID: {result.head!r}"
    body: dict[str, object] = json.loads(result.body)
    assert isinstance(body.get("error"), str), f"{where}: {result.body!r}"
    return body


def _dechunk(body: bytes) -> tuple[bytes, bool]:
    """The data of a chunked body, and whether it ended with the terminating chunk."""
    data = bytearray()
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep:
            return bytes(data), False
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return bytes(data), rest.startswith(b"\r\n")
        data += rest[:size]
        body = rest[size + 2 :]
    return bytes(data), False


# 1. Authorization bytes that are not a token


@pytest.mark.parametrize(
    "value",
    [b"JWT \xff", b"Bearer \xc3\xa9t\xc3\xa9", b"JWT abc.\xe2\x9c\x93.def", b"jwt \x80\x81"],
    ids=["latin-1 byte", "utf-8 word", "utf-8 in a token", "bare high bytes"],
)
async def test_non_ascii_authorization_is_401(
    port_name: str, servers: ServerPool, value: bytes
) -> None:
    server = servers.get(port_name, jwt_secret=JWT_SECRET)
    server.mark_log()
    for endpoint in ("standard", "chunked"):
        data = request_head(f"/{endpoint}?rows=1", b"Authorization: " + value)
        result = await exchange(server.url, data)
        where = _where(server, f"/{endpoint} with Authorization {value!r}")
        body = _assert_json_refusal(result, 401, where)
        assert body == {"error": "invalid token: DecodeError"}, where
        assert result.headers.get("www-authenticate", "").startswith("JWT"), where
    # A valid token still passes on the same server.
    token = make_token(JWT_SECRET).encode()
    result = await exchange(
        server.url, request_head("/chunked?rows=2", b"Authorization: JWT " + token)
    )
    assert result.status == 200, _where(server, f"valid token refused: {result.raw[:200]!r}")
    _assert_quiet(server.new_log(), _where(server, "non-ASCII Authorization"))


# 2. HTTP/1.0: a close-delimited stream


async def test_http10_gets_a_close_delimited_stream(port_name: str, servers: ServerPool) -> None:
    server = servers.get(port_name)
    server.mark_log()
    query = "rows=2500&batch=300&format=csv"
    reference = await exchange(server.url, request_head(f"/standard?{query}"))
    assert reference.status == 200, reference.raw[:200]
    for endpoint in ("chunked", "standard"):
        result = await exchange(
            server.url, request_head(f"/{endpoint}?{query}", version=b"HTTP/1.0")
        )
        where = _where(server, f"HTTP/1.0 /{endpoint}")
        assert result.status == 200, f"{where}: {result.raw[:300]!r}"
        assert "transfer-encoding" not in result.headers, (
            f"{where}: chunked to 1.0: {result.head!r}"
        )
        assert result.ended == "eof", f"{where}: the body must end with a clean close"
        assert result.body == reference.body, f"{where}: body differs from HTTP/1.1 /standard"
        if endpoint == "chunked":
            assert "content-length" not in result.headers, where
            assert "close" in result.headers.get("connection", "close").lower(), where
    _assert_quiet(server.new_log(), _where(server, "HTTP/1.0"))


# 4. Limits on the request head


def _header_fields(total: int, count: int = 1) -> list[bytes]:
    """`count` fields whose section bytes (with `Host: x`) add up to exactly `total`."""
    host = len(b"Host") + len(b"x") + FIELD_OVERHEAD
    close = len(b"Connection") + len(b"close") + FIELD_OVERHEAD
    left = total - host - close
    fields = [b"X-F%d: v" % i for i in range(count - 1)]
    left -= sum(len(f) - 2 + FIELD_OVERHEAD for f in fields)
    name = b"X-Filler"
    value_length = left - len(name) - FIELD_OVERHEAD
    assert value_length > 0
    return [*fields, name + b": " + b"a" * value_length]


async def test_head_limits(port_name: str, servers: ServerPool) -> None:
    server = servers.get(port_name)
    server.mark_log()
    prefix = "/standard?rows=1&pad="
    at_limit = prefix + "a" * (MAX_TARGET_BYTES - len(prefix))
    cases: list[tuple[str, bytes, int]] = [
        ("target at the limit", request_head(at_limit), 200),
        ("target one byte over", request_head(at_limit + "a"), 414),
        ("header section at the limit", request_head("/standard?rows=1", *_header_fields(MAX_HEADER_BYTES)), 200),
        ("header section one byte over", request_head("/standard?rows=1", *_header_fields(MAX_HEADER_BYTES + 1)), 431),
        ("fields at the limit", request_head("/standard?rows=1", *_header_fields(2000, MAX_HEADER_FIELDS - 2)), 200),
        ("one field too many", request_head("/standard?rows=1", *_header_fields(2000, MAX_HEADER_FIELDS - 1)), 431),
        ("spread over many fields", request_head("/standard?rows=1", *[b"X-%d: " % i + b"b" * 400 for i in range(50)]), 431),
    ]  # fmt: skip
    refused = 0
    # At once: a refused connection lingers a second before it closes (uvicorn_protocol).
    results = await asyncio.gather(*(exchange(server.url, data) for _, data, _ in cases))
    for (what, _, status), result in zip(cases, results, strict=True):
        where = _where(server, what)
        if status == 200:
            assert result.status == 200, f"{where}: {result.raw[:300]!r}"
            continue
        refused += 1
        body = _assert_json_refusal(result, status, where)
        limit = MAX_TARGET_BYTES if status == 414 else None
        assert limit is None or str(limit) in str(body["error"]), f"{where}: {body}"
    await asyncio.sleep(0.2)
    log = server.new_log()
    _assert_quiet(log, _where(server, "heads over the limits"))
    warnings = [line for line in log.splitlines() if "WARNING" in line and "refused" in line]
    assert len(warnings) == refused, _where(server, f"one WARNING line per refusal:\n{log}")


async def test_a_megabyte_target_gets_the_contracts_414(
    port_name: str, servers: ServerPool, request: pytest.FixtureRequest
) -> None:
    expect_gap(request, port_name, "huge-heads")
    server = servers.get(port_name)
    server.mark_log()
    target = "/standard?rows=1&pad=" + "a" * 1_000_000
    result = await exchange(server.url, request_head(target))
    where = _where(server, "target of 1 MB")
    body = _assert_json_refusal(result, 414, where)
    assert str(MAX_TARGET_BYTES) in str(body["error"]), f"{where}: {body}"
    await asyncio.sleep(0.2)
    log = server.new_log()
    _assert_quiet(log, where)
    warnings = [line for line in log.splitlines() if "WARNING" in line and "refused" in line]
    assert len(warnings) == 1, f"{where}: one WARNING line:\n{log}"


# 6. Malformed requests: the server's 400, one WARNING line, no traceback

MALFORMED = {
    "NUL in a value": b"X-A: a\x00b",
    "CR in a value": b"X-A: a\rb",
    "space before the colon": b"X-A : b",
    "no colon": b"X-A b",
    "conflicting framing": b"Content-Length: 5\r\nTransfer-Encoding: chunked",
    "two lengths": b"Content-Length: 1\r\nContent-Length: 2",
}


async def test_malformed_requests_log_one_warning_each(
    port_name: str, servers: ServerPool, request: pytest.FixtureRequest
) -> None:
    expect_gap(request, port_name, "malformed-requests")
    server = servers.get(port_name)
    server.mark_log()
    sent = 0
    for what, field in MALFORMED.items():
        result = await exchange(server.url, request_head("/standard?rows=1", field))
        sent += 1
        assert result.status == 400, _where(server, f"{what}: {result.raw[:300]!r}")
    for what, data in {
        "bad request line": b"GET /standard HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        "bad version": b"GET /standard HTTP/9.z\r\nHost: x\r\n\r\n",
    }.items():
        result = await exchange(server.url, data)
        sent += 1
        assert result.status == 400, _where(server, f"{what}: {result.raw[:300]!r}")
    await asyncio.sleep(0.2)
    log = server.new_log()
    _assert_quiet(log, _where(server, "malformed requests"))
    warnings = [line for line in log.splitlines() if re.search(r"\bWARNING\b", line)]
    assert len(warnings) == sent, _where(server, f"{sent} WARNING lines expected:\n{log}")
    assert len(log.splitlines()) == sent, _where(server, f"one line each, nothing else:\n{log}")


# 7. HTTP versions other than 1.0 and 1.1: the contract's 505, before any app code

OTHER_VERSIONS = ("HTTP/0.9", "HTTP/1.2", "HTTP/2.0", "HTTP/3.0")


async def test_other_http_versions_get_505(
    port_name: str, servers: ServerPool, request: pytest.FixtureRequest
) -> None:
    expect_gap(request, port_name, "http-versions")
    server = servers.get(port_name)
    server.mark_log()
    cases = {
        f"{version} /{endpoint}": request_head(f"/{endpoint}?rows=2", version=version.encode())
        for version in OTHER_VERSIONS
        for endpoint in ("chunked", "standard")
    }
    cases["no version (HTTP/0.9's request line)"] = b"GET /chunked?rows=2\r\nHost: x\r\n\r\n"
    # At once: a refused connection lingers a second before it closes.
    results = await asyncio.gather(
        *(exchange(server.url, data, patience=10) for data in cases.values())
    )
    for what, result in zip(cases, results, strict=True):
        where = _where(server, what)
        body = _assert_json_refusal(result, 505, where)
        assert body == {"error": version_not_supported().reason}, f"{where}: {body}"
        # Answered in HTTP/1, whatever the version asked for ("HTTP/2.0 505" is no answer).
        assert result.raw.startswith(b"HTTP/1."), f"{where}: {result.head!r}"
        assert "close" in result.headers.get("connection", "").lower(), f"{where}: {result.head!r}"
        assert result.ended == "eof", f"{where}: the refusal must close the connection"
    await asyncio.sleep(0.2)
    log = server.new_log()
    _assert_quiet(log, _where(server, "other HTTP versions"))
    warnings = [line for line in log.splitlines() if "WARNING" in line and "refused" in line]
    assert len(warnings) == len(cases), _where(server, f"one WARNING line per refusal:\n{log}")


# 8. Unknown query parameters, however many: ignored


async def test_unknown_query_parameters_are_ignored_however_many(
    port_name: str, servers: ServerPool
) -> None:
    server = servers.get(port_name)
    server.mark_log()
    known = "rows=3&format=csv"
    reference = await exchange(server.url, request_head(f"/standard?{known}"))
    assert reference.status == 200, _where(server, f"reference: {reference.raw[:300]!r}")
    for endpoint in ("standard", "chunked"):
        head = f"/{endpoint}?{known}"
        room = MAX_TARGET_BYTES - len(head)  # what the target limit leaves for unknown keys
        unknown = {
            "1,000 valueless keys": "".join(f"&k{i}" for i in range(1000)),
            f"{room // 2:,} of one valueless key": "&a" * (room // 2),
            f"{room:,} bare separators": "&" * room,
            f"{room // 3:,} empty values": "&a=" * (room // 3),
            "one key as long as the limit allows": "&" + "k" * (room - 3) + "=v",
        }
        for what, query in unknown.items():
            where = _where(server, f"/{endpoint} with {what}")
            assert len(head + query) <= MAX_TARGET_BYTES, where
            result = await exchange(server.url, request_head(head + query), patience=10)
            assert result.status == 200, f"{where}: {result.raw[:300]!r}"
            body = _dechunk(result.body)[0] if endpoint == "chunked" else result.body
            assert body == reference.body, f"{where}: not the rows asked for"
    # More keys than fit in the target: the target's own limit, the same on every port.
    result = await exchange(server.url, request_head("/standard?rows=1" + "&k" * 10_000))
    _assert_json_refusal(result, 414, _where(server, "10,000 keys"))
    await asyncio.sleep(0.2)
    _assert_quiet(server.new_log(), _where(server, "unknown query parameters"))


# 9. A chunked request body whose chunk size does not fit in 64 bits: malformed

CHUNKED = b"Transfer-Encoding: chunked"


async def test_a_chunk_size_beyond_64_bits_is_malformed(
    port_name: str, servers: ServerPool, request: pytest.FixtureRequest
) -> None:
    expect_gap(request, port_name, "chunk-size-overflow")
    server = servers.get(port_name)
    # A body the routes do not read, framed well, changes nothing.
    fine = request_head("/standard?rows=2", CHUNKED) + b"3\r\nabc\r\n0\r\n\r\n"
    result = await exchange(server.url, fine, patience=10)
    assert result.status == 200, _where(server, f"a small chunked body: {result.raw[:300]!r}")
    server.mark_log()
    sizes = {"20 hex digits": b"ffffffffffffffffffff", "2**64": b"10000000000000000"}
    sent = 0
    for endpoint in ("standard", "chunked"):
        for what, size in sizes.items():
            data = request_head(f"/{endpoint}?rows=2", CHUNKED) + size + b"\r\nabc\r\n0\r\n\r\n"
            result = await exchange(server.url, data, patience=10)
            sent += 1
            where = _where(server, f"/{endpoint} with a chunk size of {what}")
            assert result.status == 400, f"{where}: {result.raw[:300]!r}"
            assert result.ended == "eof", f"{where}: the refusal must close the connection"
    await asyncio.sleep(0.2)
    log = server.new_log()
    _assert_quiet(log, _where(server, "chunk sizes beyond 64 bits"))
    warnings = [line for line in log.splitlines() if re.search(r"\bWARNING\b", line)]
    assert len(warnings) == sent, _where(server, f"{sent} WARNING lines expected:\n{log}")
    assert len(log.splitlines()) == sent, _where(server, f"one line each, nothing else:\n{log}")
