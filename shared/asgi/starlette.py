"""The shared ASGI pieces in Starlette's terms, for the frameworks built on Starlette (Starlette
itself and FastAPI): the contract's routes as Starlette endpoints, the streamed response as a
`Response`, answers as responses, and the exception handlers that turn refusals into the
contract's JSON errors. What is left to each framework is how it registers a route.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive as StarletteReceive
from starlette.types import Scope as StarletteScope
from starlette.types import Send as StarletteSend

from shared.answers import Answer, refusal, server_error
from shared.contract import ContractError, method_not_allowed, not_found

from . import endpoints
from .compression import Compressing, NegotiatedCoding
from .lifespan import AppResources
from .request_id import RequestIdMiddleware, request_id_of
from .types import Receive, Scope, Send

Handler = Callable[[Request, Exception], Coroutine[Any, Any, Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class ContractRoute:
    method: str
    path: str
    endpoint: Endpoint


def contract_routes(resources: AppResources, logger: logging.Logger) -> list[ContractRoute]:
    """Every route of the contract as a Starlette endpoint; the two `/metrics` routes only when
    the settings turn metrics on. `logger` names the framework in stream log lines."""

    async def standard(request: Request) -> Response:
        return StarletteASGIResponse(await endpoints.standard(resources, *inputs(request)))

    async def chunked(request: Request) -> Response:
        stream = await endpoints.chunked(
            resources, *inputs(request), request_id=request_id_of(request.scope), logger=logger
        )
        return StarletteASGIResponse(stream)

    async def healthz(request: Request) -> Response:
        return send(await endpoints.healthz(resources))

    async def show_metrics(request: Request) -> Response:
        return send(endpoints.show_metrics(resources))

    async def reset_peak(request: Request) -> Response:
        return send(endpoints.reset_peak(resources))

    routes = [
        ContractRoute("GET", "/standard", standard),
        ContractRoute("GET", "/chunked", chunked),
        ContractRoute("GET", "/healthz", healthz),
    ]
    if resources.settings.metrics:
        routes += [
            ContractRoute("GET", "/metrics", show_metrics),
            ContractRoute("POST", "/metrics/reset-peak", reset_peak),
        ]
    return routes


def contract_middleware() -> list[Middleware]:
    """The middleware of both Starlette ports, outermost first: the request id, the contract's
    coding negotiation, then Starlette's own gzip (it flushes every body message since
    Starlette 1.4, so `/chunked` stays streamed; its defaults, level 9 and nothing under 500
    bytes, are what its users get) and the shared compressor for zstd, which Starlette lacks.
    """
    return [
        Middleware(RequestIdMiddleware),
        Middleware(NegotiatedCoding),
        Middleware(GZipMiddleware),
        Middleware(Compressing, coding="zstd"),
    ]


class SendsItself(Protocol):
    """A response that is an ASGI app of its own (`RowStreamResponse`, `WholeBody`)."""

    raw_headers: list[tuple[bytes, bytes]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class StarletteASGIResponse(Response):
    """A `Response` that lets an ASGI app send itself: no body attribute of its own.

    FastAPI passes an endpoint's return value through unchanged only when it is a `Response`
    (fastapi/routing.py: anything else it serialises as JSON); Starlette only calls it.
    """

    def __init__(self, app: SendsItself) -> None:
        self.status_code = 200
        self.background = None
        self._app = app
        self.raw_headers = app.raw_headers

    async def __call__(
        self, scope: StarletteScope, receive: StarletteReceive, send: StarletteSend
    ) -> None:
        await self._app(scope, receive, send)


def send(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


def inputs(request: Request) -> tuple[list[tuple[str, str]], str | None, str | None]:
    """What `shared.asgi.endpoints` takes from a request: query items, Accept, Authorization."""
    headers = request.headers
    return request.query_params.multi_items(), headers.get("accept"), headers.get("authorization")


def exception_handlers() -> dict[Any, Handler]:
    return {ContractError: _contract_error, HTTPException: _http_error, Exception: _server_error}


async def _contract_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ContractError)
    return send(refusal(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    """The router's refusals (unknown path, other method) as the contract's JSON errors."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return send(refusal(not_found()))
    if exc.status_code == 405:
        refused = method_not_allowed()
        refused.headers.update(exc.headers or {})  # the route's own Allow
        return send(refusal(refused))
    error = ContractError(exc.status_code, exc.detail, headers=dict(exc.headers or {}))
    return send(refusal(error))


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware runs this handler outside every user middleware, the
    # request id's included: tag it here. The exception is re-raised afterwards, so the server
    # still logs the bug with its traceback.
    answer = server_error()
    answer.headers["X-Request-ID"] = request_id_of(request.scope)
    return send(answer)
