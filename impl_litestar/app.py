"""The contract on Litestar, for any ASGI server.

The routes' work is `shared.asgi.endpoints`; what is Litestar's own:
- `logging_config=None`: Litestar's default logging config replaces the root handler and the log
  format at startup; every port logs in the contract's format through the server's config.
  With it, Litestar also logs no exceptions, so the 500 handler logs the bug's traceback itself.
- Litestar adds an OPTIONS handler to every path (litestar/routes/http.py, `HTTPRoute.__init__`);
  in the contract OPTIONS is a method like any other: 405, `Allow: GET`. They are taken out of
  the routing trie once the app is built.
- Its router strips a trailing slash and merges repeated ones (`/standard/` and `//standard`
  would be `/standard`); in the contract those are unknown paths, refused in front of it.
- `/chunked` returns the shared `RowStreamResponse`, and `/standard` the shared `WholeBody`
  (its pieces behind their `Content-Length`, never joined), from a handler annotated `ASGIApp`, which
  Litestar then calls as it is (litestar/handlers/http_handlers/base.py, the ASGI response
  handler). Litestar's own `Stream` would run the iterator under its task group, where an error
  mid-stream surfaces as an `ExceptionGroup` re-raised as `LitestarException`.
- The request id is the shared pure ASGI middleware, outside Litestar, so the router's 404 and
  405 carry `X-Request-ID` too.
- Compression is Litestar's own `CompressionConfig` (its gzip, and zstd through a facade on the
  shared compressor: impl_litestar/compression.py), behind the contract's negotiation
  (`shared.asgi.compression.NegotiatedCoding`), which hands it an `Accept-Encoding` naming only
  the coding decided: Litestar picks a coding by substring, so `gzip;q=0` would get gzip.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp as LitestarASGIApp

from shared.answers import Answer, refusal, server_error
from shared.asgi import (
    AppResources,
    ASGIApp,
    Receive,
    RequestIdMiddleware,
    Scope,
    Send,
    WithLifespan,
    endpoints,
    request_id_of,
)
from shared.asgi.compression import NegotiatedCoding
from shared.contract import ContractError, method_not_allowed, not_found
from shared.settings import Settings

from .compression import compression_config

logger = logging.getLogger("streambench.litestar")


def create_app(settings: Settings) -> ASGIApp:
    resources = AppResources(settings)

    @get("/standard")
    async def standard(request: Request[Any, Any, Any]) -> LitestarASGIApp:
        body = await endpoints.standard(resources, *inputs(request))
        return cast(LitestarASGIApp, body)

    @get("/chunked")
    async def chunked(request: Request[Any, Any, Any]) -> LitestarASGIApp:
        stream = await endpoints.chunked(
            resources, *inputs(request), request_id=_request_id(request), logger=logger
        )
        # Litestar types its scope and messages as TypedDicts; the shared layer as mappings.
        return cast(LitestarASGIApp, stream)

    @get("/healthz")
    async def healthz(request: Request[Any, Any, Any]) -> Response[bytes]:
        return send(await endpoints.healthz(resources))

    @get("/metrics")
    async def show_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        return send(endpoints.show_metrics(resources))

    @post("/metrics/reset-peak")
    async def reset_peak(request: Request[Any, Any, Any]) -> Response[bytes]:
        return send(endpoints.reset_peak(resources))

    handlers = [standard, chunked, healthz]
    if settings.metrics:
        handlers += [show_metrics, reset_peak]
    app = Litestar(
        route_handlers=handlers,
        logging_config=None,
        openapi_config=None,
        compression_config=compression_config(),
        exception_handlers={
            ContractError: _contract_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    _drop_automatic_options(app)
    return WithLifespan(RequestIdMiddleware(NegotiatedCoding(ExactPaths(app))), resources)


class ExactPaths:
    """Refuse a path Litestar's router would normalise (trailing or repeated slashes) with the
    contract's 404, before Litestar sees it."""

    def __init__(self, app: Litestar) -> None:
        self.app = app

    @property
    def routes(self) -> Any:
        return self.app.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and (path.endswith("/") or "//" in path) and path != "/":
            answer = refusal(not_found())
            headers = [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
            headers.append((b"content-length", str(len(answer.body)).encode()))
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})
            return
        await self.app(scope, receive, send)  # type: ignore[arg-type]


def _drop_automatic_options(app: Litestar) -> None:
    nodes = [app.asgi_router.root_route_map_node]
    while nodes:
        node = nodes.pop()
        node.asgi_handlers.pop("OPTIONS", None)
        nodes.extend(node.children.values())
    for route in app.routes:
        methods = getattr(route, "methods", None)
        if isinstance(methods, set):
            methods.discard("OPTIONS")


def inputs(request: Request[Any, Any, Any]) -> tuple[list[tuple[str, str]], str | None, str | None]:
    headers = request.headers
    query = list(request.query_params.multi_items())
    return query, headers.get("accept"), headers.get("authorization")


def _request_id(request: Request[Any, Any, Any]) -> str:
    return request_id_of(cast(Scope, request.scope))


def send(answer: Answer) -> Response[bytes]:
    # Litestar sets Content-Type only when the headers lack one (litestar/response/base.py,
    # `ASGIResponse.__init__`); from `media_type` it would append a second charset.
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


def _contract_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, ContractError)
    return send(refusal(exc))


def _http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The router's refusals (unknown path, other method) as the contract's JSON errors."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return send(refusal(not_found()))
    if exc.status_code == 405:
        allow = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow", "GET")
        return send(refusal(method_not_allowed(allow)))  # the route's own Allow
    error = ContractError(exc.status_code, exc.detail, headers=dict(exc.headers or {}))
    return send(refusal(error))


def _server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    logger.error("request %s: unhandled exception", _request_id(request), exc_info=exc)
    return send(server_error())
