"""Everything a client can get wrong, for every port: a clear 4xx with a JSON body, never a 500,
never a traceback, and the same answer from every port."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest

from shared.auth import make_token
from shared.contract import SOURCES

from .conftest import JWT_SECRET, REFERENCE_PAIR
from .servers import ServerPool

HUGE = "9" * 30  # beyond 64 bits
BAD_VALUES = [
    "abc", "-1", HUGE, "", " 5", "5 ", "+5", "1e3", "1.5", "0x10", "1_000", "1,000",
    "٣", "５", "1;DROP TABLE messages", "1' OR '1'='1", "%00", "null",
]  # fmt: skip
BAD_QUERIES: list[tuple[str, str]] = (
    [(f"rows={v}", "rows") for v in BAD_VALUES]
    + [(f"batch={v}", "batch") for v in BAD_VALUES]
    + [
        ("rows=10000001", "rows"),  # one past the configured maximum
        ("batch=0", "batch"),
        ("batch=100001", "batch"),
        ("rows=1&rows=2", "rows"),
        ("batch=5&batch=5", "batch"),
        ("format=xml", "format"),
        ("format=", "format"),
        ("format=TEXT", "format"),
        ("format=text&format=csv", "format"),
        ("format=%E2%9C%93", "format"),
        ("format=text%00", "format"),
        ("source=", "source"),
        ("source=COPY", "source"),
        ("source=stream", "source"),
        ("source=copy&source=copy", "source"),
        ("source=copy%00", "source"),
        ("source=fetch&rows=abc", "rows"),  # rows is checked first, wherever it comes
    ]
)


def _assert_json_error(
    response: httpx.Response, status: int, parameter: str | None
) -> dict[str, Any]:
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text!r}"
    assert response.headers["content-type"].startswith("application/json"), where
    assert "Traceback" not in response.text, where
    body: dict[str, Any] = json.loads(response.content)
    assert isinstance(body.get("error"), str), where
    assert body["error"], where
    if parameter is not None:
        assert body.get("parameter") == parameter, where
    assert response.headers.get("x-request-id"), where
    return body


@pytest.mark.parametrize("endpoint", ["standard", "chunked"])
async def test_bad_parameters(port_name: str, servers: ServerPool, endpoint: str) -> None:
    server = servers.get(port_name)
    async with httpx.AsyncClient(base_url=server.url) as client:
        for query, parameter in BAD_QUERIES:
            response = await client.get(f"/{endpoint}?{query}")
            _assert_json_error(response, 400, parameter)
        # The boundaries themselves are fine; unknown parameters are ignored.
        for query in (
            "rows=0",
            "batch=1&rows=2",
            "batch=100000&rows=2",
            "rows=2&limit=9",
            *(f"rows=2&source={source}" for source in SOURCES),
        ):
            response = await client.get(f"/{endpoint}?{query}")
            assert response.status_code == 200, f"{query}: {response.text!r}"


async def test_negotiation(port_name: str, servers: ServerPool) -> None:
    server = servers.get(port_name)
    cases = {
        "text/csv": "text/csv",
        "application/json;q=0.5, text/csv": "text/csv",
        "application/json;q=0.9, text/csv;q=0.1": "application/json",
        "application/x-ndjson": "application/x-ndjson",
        "*/*": "text/plain",
        "text/*": "text/plain",
        "application/*": "application/json",
        "image/png, */*;q=0.1": "text/plain",
        "": "text/plain",
    }
    async with httpx.AsyncClient(base_url=server.url) as client:
        for accept, media in cases.items():
            response = await client.get("/standard?rows=2", headers={"Accept": accept})
            assert response.status_code == 200, accept
            assert response.headers["content-type"].split(";")[0] == media, accept
        for accept in ("application/xml", "image/png", "text/html;q=1, */*;q=0", "text/csv;q=0"):
            for endpoint in ("standard", "chunked"):
                response = await client.get(f"/{endpoint}?rows=2", headers={"Accept": accept})
                _assert_json_error(response, 406, None)
        # An explicit format wins over Accept, even one we could not otherwise satisfy.
        response = await client.get(
            "/chunked?rows=2&format=csv", headers={"Accept": "application/xml"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")


async def test_routing(port_name: str, servers: ServerPool) -> None:
    server = servers.get(port_name)
    async with httpx.AsyncClient(base_url=server.url) as client:
        for path in ("/", "/nope", "/standard/", "/chunked/x", "/STANDARD", "/%00", "/metrics"):
            _assert_json_error(await client.get(path), 404, None)
        for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD"):
            for path in ("/standard", "/chunked", "/healthz"):
                response = await client.request(method, path)
                assert response.status_code == 405, f"{method} {path}"
                assert "GET" in response.headers.get("allow", ""), f"{method} {path}"
                if method != "HEAD":
                    _assert_json_error(response, 405, None)
        # The client's request id is echoed; a fresh one otherwise.
        response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"


def _tokens() -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "t", "exp": now + 600}
    return {
        "expired": jwt.encode({"sub": "t", "exp": now - 10}, JWT_SECRET, algorithm="HS256"),
        "bad signature": jwt.encode(claims, "another-secret-of-at-least-32-bytes", "HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "HS384": jwt.encode(claims, JWT_SECRET + "-padded-to-48-bytes-for-hs384", "HS384"),
        "no exp": jwt.encode({"sub": "t"}, JWT_SECRET, algorithm="HS256"),
        "malformed": "not.a.token",
        "garbage": "abc",
    }


async def test_auth_matrix(port_name: str, servers: ServerPool) -> None:
    server = servers.get(port_name, jwt_secret=JWT_SECRET)
    valid = make_token(JWT_SECRET, ttl=600)
    async with httpx.AsyncClient(base_url=server.url) as client:
        for endpoint in ("standard", "chunked"):
            for header in (f"JWT {valid}", f"Bearer {valid}", f"jwt {valid}"):
                response = await client.get(
                    f"/{endpoint}?rows=2", headers={"Authorization": header}
                )
                assert response.status_code == 200, header
            bad_headers = {name: f"JWT {token}" for name, token in _tokens().items()}
            bad_headers |= {
                "missing": "",
                "scheme only": "JWT",
                "basic": "Basic dXNlcjpwYXNz",
                "two tokens": f"JWT {valid} {valid}",
                "unknown scheme": f"Token {valid}",
            }
            for case, header in bad_headers.items():
                headers = {"Authorization": header} if header else {}
                response = await client.get(f"/{endpoint}?rows=2", headers=headers)
                _assert_json_error(response, 401, None)
                assert response.headers.get("www-authenticate", "").startswith("JWT"), case
            # Auth comes before parameters: an anonymous bad request learns nothing more.
            _assert_json_error(await client.get(f"/{endpoint}?rows=abc"), 401, None)
        # Health is never behind auth.
        assert (await client.get("/healthz")).status_code == 200


async def test_auth_off_needs_no_token(port_name: str, servers: ServerPool) -> None:
    server = servers.get(port_name)
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/standard?rows=1", headers={"Authorization": "JWT junk"})
        assert response.status_code == 200


async def test_every_port_answers_errors_alike(other_port: str, servers: ServerPool) -> None:
    names = [REFERENCE_PAIR, other_port]
    requests = [f"/standard?{q}" for q, _ in BAD_QUERIES[::3]] + [
        "/nope",
        "/chunked?rows=1&format=json",
    ]
    answers: dict[str, list[tuple[int, str, bytes]]] = {}
    for name in names:
        async with httpx.AsyncClient(base_url=servers.get(name).url) as client:
            for path in requests:
                response = await client.get(path, headers={"Accept": "application/xml"})
                answers.setdefault(path, []).append(
                    (response.status_code, response.headers["content-type"], response.content)
                )
    for path, seen in answers.items():
        assert len(set(seen)) == 1, f"{path}: ports disagree: {dict(zip(names, seen, strict=True))}"
