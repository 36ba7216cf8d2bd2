"""The contract on FastAPI, for any ASGI server.

The routes' work is `shared.asgi.endpoints`; what is FastAPI's own:
- Endpoints are plain `async def`s that return a response object. A generator endpoint (FastAPI
  0.16x streams `yield`ing endpoints itself) runs its body only when the response body is
  iterated, after the headers are out: too late to open the cursor and still answer 503.
- No OpenAPI or docs routes: the contract documents every route (docs/openapi.yaml), and an
  extra one would be an undocumented route.
- Telemetry off: FastAPI 0.16x wraps every request in its OpenTelemetry layer when a provider is
  configured anywhere in the process; a benchmark measures the framework, not exporters.
- FastAPI's `APIRoute` adds no HEAD to a GET route (Starlette's `Route` does), and the router is
  told not to redirect trailing slashes.
- Its own handlers for `HTTPException` and `RequestValidationError` are replaced by the
  contract's JSON errors (no parameter is declared, so validation never runs).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from shared.asgi import AppResources, ASGIApp, WithLifespan
from shared.asgi.starlette import contract_middleware, contract_routes, exception_handlers
from shared.settings import Settings

logger = logging.getLogger("streambench.fastapi")


def create_app(settings: Settings) -> ASGIApp:
    resources = AppResources(settings)
    app = FastAPI(
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        telemetry={"tracing": False, "metrics": False, "logs": False},
        exception_handlers=exception_handlers(),
        middleware=contract_middleware(),
    )
    for route in contract_routes(resources, logger):
        app.add_api_route(route.path, route.endpoint, methods=[route.method])
    return WithLifespan(app, resources)
