"""The contract on Starlette, for any ASGI server.

The routes' work is `shared.asgi.endpoints`; this is the routing and Starlette's quirks. `/chunked`
returns the shared `RowStreamResponse` (as a Starlette `Response`), which sends one chunk per
batch and awaits the server's flow control on each. No `BaseHTTPMiddleware`: it would queue body
messages between the app and the server and hide backpressure.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.routing import Route

from shared.asgi import AppResources, ASGIApp, WithLifespan
from shared.asgi.starlette import (
    ContractRoute,
    contract_middleware,
    contract_routes,
    exception_handlers,
)
from shared.settings import Settings

logger = logging.getLogger("streambench.starlette")


def create_app(settings: Settings) -> ASGIApp:
    resources = AppResources(settings)
    app = Starlette(
        routes=[_route(route) for route in contract_routes(resources, logger)],
        middleware=contract_middleware(),
        exception_handlers=exception_handlers(),
    )
    # Trailing-slash variants are unknown paths: 404, not a redirect.
    app.router.redirect_slashes = False
    return WithLifespan(app, resources)


def _route(contract: ContractRoute) -> Route:
    route = Route(contract.path, contract.endpoint, methods=[contract.method])
    # Route adds HEAD to every GET route; in the contract HEAD gets the same 405 as POST.
    route.methods = {contract.method}
    return route
