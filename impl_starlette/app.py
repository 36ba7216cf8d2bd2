"""The contract on Starlette, served by uvicorn.

`/standard` is one `Response` with Content-Length; `/chunked` opens the cursor in the endpoint,
before any byte leaves (a failure is still a 503), and returns a `RowStreamResponse` that sends
one chunk per batch and awaits uvicorn's flow control on each. No `BaseHTTPMiddleware`: it
would queue body messages between the app and the server and hide backpressure.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypedDict

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared import metrics
from shared.answers import Answer, data_headers, health, refusal, server_error
from shared.auth import check_authorization
from shared.contract import (
    ContractError,
    DataRequest,
    method_not_allowed,
    not_found,
    parse_data_request,
    unavailable,
)
from shared.database import Database, DatabaseUnavailable, create_database
from shared.encoders import encode_all
from shared.settings import Settings

from .request_id import RequestIdMiddleware, get_request_id
from .streaming import OpenStreams, PurposelyIncompleteFilter, RowStreamResponse

logger = logging.getLogger("streambench.starlette")

Endpoint = Callable[[Request], Awaitable[Response]]


class _State(TypedDict):
    """Lifespan state: uvicorn copies it into every request's `request.state`."""

    settings: Settings
    database: Database
    open_streams: OpenStreams


def create_app(settings: Settings) -> Starlette:
    routes = [
        _get_only("/standard", standard),
        _get_only("/chunked", chunked),
        _get_only("/healthz", healthz),
    ]
    if settings.metrics:
        routes += [
            _get_only("/metrics", show_metrics),
            Route("/metrics/reset-peak", reset_peak, methods=["POST"]),
        ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[_State]:
        database = await create_database(settings)
        open_streams = OpenStreams()
        # On uvicorn's logger for this app's lifetime only; see PurposelyIncompleteFilter.
        quieter = PurposelyIncompleteFilter()
        uvicorn_errors = logging.getLogger("uvicorn.error")
        uvicorn_errors.addFilter(quieter)
        try:
            yield {"settings": settings, "database": database, "open_streams": open_streams}
        finally:
            # A stream's close waits at most pool_timeout for the fetch in flight.
            await open_streams.wait_closed(settings.pool_timeout + 1.0)
            uvicorn_errors.removeFilter(quieter)
            await database.dispose()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={
            ContractError: _contract_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    # Trailing-slash variants are unknown paths: 404, not a redirect.
    app.router.redirect_slashes = False
    return app


def _get_only(path: str, endpoint: Endpoint) -> Route:
    route = Route(path, endpoint, methods=["GET"])
    # Route adds HEAD to every GET route; in the contract HEAD gets the same 405 as POST.
    route.methods = {"GET"}
    return route


def _state(request: Request) -> _State:
    return _State(
        settings=request.state.settings,
        database=request.state.database,
        open_streams=request.state.open_streams,
    )


def _json(error: ContractError) -> Response:
    return _send(refusal(error))


def _send(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


async def _contract_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ContractError)
    return _json(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    """The router's refusals (unknown path, other method) as the contract's JSON errors."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _json(not_found())
    if exc.status_code == 405:
        refusal = method_not_allowed()
        refusal.headers.update(exc.headers or {})  # the route's own Allow
        return _json(refusal)
    return _json(ContractError(exc.status_code, exc.detail, headers=dict(exc.headers or {})))


async def _server_error(request: Request, exc: Exception) -> Response:
    # Outside RequestIdMiddleware (Starlette puts this handler outermost): tag it here. Starlette
    # re-raises the exception afterwards, so uvicorn still logs the bug with its traceback.
    answer = server_error()
    answer.headers["X-Request-ID"] = get_request_id(request)
    return _send(answer)


def _data_request(request: Request, settings: Settings) -> DataRequest:
    check_authorization(request.headers.get("authorization"), settings.jwt_secret)
    return parse_data_request(
        request.query_params.multi_items(), request.headers.get("accept"), settings
    )


async def standard(request: Request) -> Response:
    state = _state(request)
    data = _data_request(request, state["settings"])
    encoder = data.encoder
    try:
        rows = await state["database"].fetch_all(encoder.columns, data.rows)
    except DatabaseUnavailable as error:
        raise unavailable(str(error)) from None
    return Response(encode_all(encoder, rows), headers=data_headers(encoder, streamed=False))


async def chunked(request: Request) -> Response:
    state = _state(request)
    data = _data_request(request, state["settings"])
    encoder = data.encoder
    try:
        # Connection, transaction and cursor before the headers: a failure is still a 503.
        stream = await state["database"].open_stream(encoder.columns, data.rows, data.batch)
    except DatabaseUnavailable as error:
        raise unavailable(str(error)) from None
    # From here the response owns the stream; nothing awaits before it takes it over.
    return RowStreamResponse(
        stream,
        encoder,
        request_id=get_request_id(request),
        logger=logger,
        headers=data_headers(encoder, streamed=True),
        open_streams=state["open_streams"],
    )


async def healthz(request: Request) -> Response:
    try:
        await _state(request)["database"].ping()
    except DatabaseUnavailable as error:
        return _send(health(str(error)))
    return _send(health(None))


async def show_metrics(request: Request) -> Response:
    return Response(metrics.render(), headers={"Content-Type": metrics.CONTENT_TYPE})


async def reset_peak(request: Request) -> Response:
    metrics.reset_peak()
    return Response(status_code=204)
