"""The contract on Starlette, for any ASGI server.

The routes' work is `shared.asgi.endpoints`; this is the routing and Starlette's quirks. `/chunked`
returns the shared `RowStreamResponse` (as a Starlette `Response`), which sends one chunk per
batch and awaits the server's flow control on each. No `BaseHTTPMiddleware`: it would queue body
messages between the app and the server and hide backpressure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.asgi import (
    AppResources,
    ASGIApp,
    RequestIdMiddleware,
    WithLifespan,
    endpoints,
    request_id_of,
)
from shared.asgi.starlette import StarletteRowStream, exception_handlers, inputs, send
from shared.settings import Settings

logger = logging.getLogger("streambench.starlette")

Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(settings: Settings) -> ASGIApp:
    resources = AppResources(settings)

    async def standard(request: Request) -> Response:
        return send(await endpoints.standard(resources, *inputs(request)))

    async def chunked(request: Request) -> Response:
        stream = await endpoints.chunked(
            resources, *inputs(request), request_id=request_id_of(request.scope), logger=logger
        )
        return StarletteRowStream(stream)

    async def healthz(request: Request) -> Response:
        return send(await endpoints.healthz(resources))

    async def show_metrics(request: Request) -> Response:
        return send(endpoints.show_metrics())

    async def reset_peak(request: Request) -> Response:
        return send(endpoints.reset_peak())

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
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers=exception_handlers(),
    )
    # Trailing-slash variants are unknown paths: 404, not a redirect.
    app.router.redirect_slashes = False
    return WithLifespan(app, resources)


def _get_only(path: str, endpoint: Endpoint) -> Route:
    route = Route(path, endpoint, methods=["GET"])
    # Route adds HEAD to every GET route; in the contract HEAD gets the same 405 as POST.
    route.methods = {"GET"}
    return route
