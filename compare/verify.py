"""Verification before timing: every check a port must pass, every failure reported with its reason.

In the manner of TechEmpower's verifier, nothing stops at the first failure: each body, header and
refusal is checked and reported as pass, warn or fail. A port with any failure is not timed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from shared.compression import IDENTITY, DecodeError, decode
from shared.contract import JSON_CONTENT_TYPE
from shared.encoders import ENCODERS

from .analysis import count_rows
from .results import DEFAULT_SOURCE, ENDPOINTS, NO_COMPRESSION, Check, CheckStatus, Verification


@dataclass(frozen=True)
class ExpectedBody:
    """What a body must be, computed from the database and the shared encoders."""

    rows: int
    format: str
    sha256: str
    length: int


def expected_body(body: bytes, rows: int, format: str) -> ExpectedBody:
    return ExpectedBody(rows, format, hashlib.sha256(body).hexdigest(), len(body))


class _Checks:
    def __init__(self) -> None:
        self.items: list[Check] = []

    def add(self, name: str, status: CheckStatus, reason: str, url: str | None) -> None:
        self.items.append(Check(name, status, reason, url))

    def expect(
        self, name: str, ok: bool, good: str, bad: str, url: str | None, warn: bool = False
    ) -> None:
        self.add(name, "pass" if ok else ("warn" if warn else "fail"), good if ok else bad, url)


async def verify_port(
    client: httpx.AsyncClient,
    base_url: str,
    expected: Iterable[ExpectedBody],
    batch: int,
    auth_header: Mapping[str, str],
    routes: Sequence[tuple[str, str]] | None = None,
    not_offered: Sequence[tuple[str, str]] = (),
    compression: Sequence[str] = (NO_COMPRESSION,),
) -> Verification:
    """Check /healthz, every (endpoint, source) of `routes` (default: each endpoint with its own
    source) for every (rows, format) in every coding of `compression`, refusals, and auth if on.
    Each (endpoint, source) of `not_offered`, which the server's data layer cannot read, must be
    the contract's 400. A compressed body is decoded and its SHA-256 checked like any other."""
    checks = _Checks()
    await _check_health(client, base_url, checks)
    pairs = routes if routes is not None else [(e, DEFAULT_SOURCE[e]) for e in ENDPOINTS]
    for body in expected:
        for endpoint, source in pairs:
            for coding in compression:
                await _check_data(
                    client, base_url, endpoint, source, body, batch, auth_header, checks, coding
                )
    await _check_refusals(client, base_url, auth_header, checks)
    for endpoint, source in not_offered:
        await _check_refusal(
            client, base_url, auth_header, checks, endpoint, f"rows=1&source={source}", "source",
            f"not offered: {endpoint}?source={source}",
        )  # fmt: skip
    if auth_header:
        await _check_auth(client, base_url, checks)
    return Verification.of(checks.items)


async def _get(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], checks: _Checks, name: str
) -> httpx.Response | None:
    try:
        return await client.get(url, headers=dict(headers))
    except httpx.HTTPError as error:
        checks.add(name, "fail", f"request failed: {type(error).__name__}: {error}", url)
        return None


async def _check_health(client: httpx.AsyncClient, base_url: str, checks: _Checks) -> None:
    url = f"{base_url}/healthz"
    response = await _get(client, url, {}, checks, "healthz")
    if response is None:
        return
    body = _json(response)
    checks.expect(
        "healthz",
        response.status_code == 200 and body == {"status": "ok"},
        '200 {"status": "ok"}',
        f"status {response.status_code}, body {response.text[:200]!r}",
        url,
    )


async def _get_raw(
    client: httpx.AsyncClient, url: str, headers: Mapping[str, str], checks: _Checks, name: str
) -> tuple[httpx.Response, bytes] | None:
    """The response and its body as it arrived, not decoded: httpx decodes only the first
    member of a gzip body, and the checks must see the wire bytes."""
    try:
        async with client.stream("GET", url, headers=dict(headers)) as response:
            return response, b"".join([piece async for piece in response.aiter_raw()])
    except httpx.HTTPError as error:
        checks.add(name, "fail", f"request failed: {type(error).__name__}: {error}", url)
        return None


async def _check_data(
    client: httpx.AsyncClient,
    base_url: str,
    endpoint: str,
    source: str,
    expected: ExpectedBody,
    batch: int,
    auth_header: Mapping[str, str],
    checks: _Checks,
    compression: str = NO_COMPRESSION,
) -> None:
    url = f"{base_url}/{endpoint}?rows={expected.rows}&format={expected.format}&batch={batch}"
    # The endpoint's own source is asked for as a port that predates the parameter serves it.
    if source != DEFAULT_SOURCE[endpoint]:
        url += f"&source={source}"
    label = f"{endpoint} source={source} rows={expected.rows} format={expected.format}"
    coding = IDENTITY if compression == NO_COMPRESSION else compression
    if coding != IDENTITY:
        label += f" {coding}"
    request_id = f"verify-{secrets.token_hex(6)}"
    request_headers = {**auth_header, "X-Request-ID": request_id, "Accept-Encoding": coding}
    answer = await _get_raw(client, url, request_headers, checks, f"{label}: request")
    if answer is None:
        return
    response, wire = answer
    headers = response.headers
    encoding = headers.get("content-encoding", IDENTITY).lower()
    try:
        body = decode(encoding, wire)
        decoded = f"decoded from {len(wire)} bytes of {encoding}" if encoding != IDENTITY else ""
    except DecodeError as error:
        body, decoded = b"", f"not decodable: {error}"
    checks.expect(
        f"{label}: Content-Encoding",
        encoding == coding and not decoded.startswith("not"),
        coding if coding != IDENTITY else "none",
        f"Content-Encoding {headers.get('content-encoding')!r}, asked for {coding}; {decoded}",
        url,
    )
    vary = [v.strip().lower() for v in headers.get("vary", "").split(",")]
    checks.expect(
        f"{label}: Vary",
        "accept-encoding" in vary,
        "Vary: Accept-Encoding",
        f"Vary {headers.get('vary')!r}: a cache could hand this coding to another client",
        url,
        warn=True,
    )
    checks.expect(
        f"{label}: status",
        response.status_code == 200,
        "200",
        f"status {response.status_code}: {body[:200]!r}",
        url,
    )
    content_type = ENCODERS[expected.format].content_type
    checks.expect(
        f"{label}: content type",
        headers.get("content-type") == content_type,
        content_type,
        f"Content-Type {headers.get('content-type')!r}, expected {content_type!r}",
        url,
    )
    checks.expect(
        f"{label}: X-Request-ID",
        headers.get("x-request-id") == request_id,
        "echoed",
        f"X-Request-ID {headers.get('x-request-id')!r}, sent {request_id!r}",
        url,
    )
    transfer = headers.get("transfer-encoding", "").lower()
    length = headers.get("content-length")
    if endpoint == "standard" and coding != IDENTITY:
        # The contract promises a compressed /standard whole, not its framing: a framework's
        # compressor that is handed the body in pieces sends it chunked.
        checks.expect(
            f"{label}: framing",
            (length is not None and int(length) == len(wire)) or transfer == "chunked",
            f"Content-Length {length} or chunked",
            f"Content-Length {length!r}, Transfer-Encoding {transfer!r}, {len(wire)} bytes",
            url,
        )
    elif endpoint == "standard":
        checks.expect(
            f"{label}: Content-Length",
            length is not None and length.isdigit() and int(length) == len(body) and not transfer,
            f"Content-Length {length} equals the body",
            f"Content-Length {length!r}, Transfer-Encoding {transfer!r}, body {len(body)} bytes",
            url,
        )
    else:
        checks.expect(
            f"{label}: chunked",
            transfer == "chunked" and length is None,
            "Transfer-Encoding: chunked, no Content-Length",
            f"Transfer-Encoding {transfer!r}, Content-Length {length!r}",
            url,
        )
        checks.expect(
            f"{label}: X-Accel-Buffering",
            headers.get("x-accel-buffering") == "no",
            "no",
            f"X-Accel-Buffering {headers.get('x-accel-buffering')!r}: proxies may buffer",
            url,
            warn=True,
        )
    checks.expect(
        f"{label}: Cache-Control",
        headers.get("cache-control") == "no-store",
        "no-store",
        f"Cache-Control {headers.get('cache-control')!r}",
        url,
        warn=True,
    )
    rows = count_rows(body, expected.format)
    checks.expect(
        f"{label}: rows",
        rows == expected.rows,
        f"{rows} rows",
        f"{rows} rows, expected {expected.rows}",
        url,
    )
    digest = hashlib.sha256(body).hexdigest()
    checks.expect(
        f"{label}: body",
        digest == expected.sha256,
        f"SHA-256 {digest[:16]}… of {len(body)} bytes matches",
        f"SHA-256 {digest[:16]}… of {len(body)} bytes, expected {expected.sha256[:16]}… of "
        f"{expected.length} bytes",
        url,
    )


async def _check_refusals(
    client: httpx.AsyncClient, base_url: str, auth_header: Mapping[str, str], checks: _Checks
) -> None:
    for endpoint, query, parameter in (
        ("standard", "rows=abc", "rows"),
        ("chunked", "rows=-1", "rows"),
        ("chunked", "batch=0", "batch"),
        ("standard", "format=xml", "format"),
    ):
        await _check_refusal(client, base_url, auth_header, checks, endpoint, query, parameter)


async def _check_refusal(
    client: httpx.AsyncClient,
    base_url: str,
    auth_header: Mapping[str, str],
    checks: _Checks,
    endpoint: str,
    query: str,
    parameter: str,
    name: str = "",
) -> None:
    """`endpoint?query` must be a 400 JSON naming `parameter`."""
    url = f"{base_url}/{endpoint}?{query}"
    name = name or f"bad parameter {endpoint}?{query}"
    response = await _get(client, url, auth_header, checks, name)
    if response is not None:
        body = _json(response)
        ok = (
            response.status_code == 400
            and response.headers.get("content-type") == JSON_CONTENT_TYPE
            and isinstance(body, dict)
            and isinstance(body.get("error"), str)
            and body.get("parameter") == parameter
        )
        checks.expect(
            name,
            ok,
            f"400 JSON naming {parameter!r}",
            f"status {response.status_code}, Content-Type {response.headers.get('content-type')!r}, "
            f"body {response.text[:200]!r}",
            url,
        )


async def _check_auth(client: httpx.AsyncClient, base_url: str, checks: _Checks) -> None:
    url = f"{base_url}/chunked?rows=1"
    for name, headers in (
        ("auth: no Authorization", {}),
        ("auth: bad token", {"Authorization": "JWT not.a.token"}),
    ):
        response = await _get(client, url, headers, checks, name)
        if response is None:
            continue
        ok = (
            response.status_code == 401
            and "www-authenticate" in response.headers
            and isinstance(_json(response), dict)
        )
        checks.expect(
            name,
            ok,
            "401 JSON with WWW-Authenticate",
            f"status {response.status_code}, body {response.text[:200]!r}",
            url,
        )


def _json(response: httpx.Response) -> object:
    try:
        return json.loads(response.content)
    except ValueError:
        return None
