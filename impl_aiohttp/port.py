"""How the aiohttp port is described and served."""

from __future__ import annotations

import logging

import uvloop
from aiohttp import web

from shared.ports import PortDescriptor
from shared.settings import Settings

from .app import create_app

PORT = PortDescriptor(
    name="aiohttp",
    framework="aiohttp",
    server="aiohttp",
    factory="impl_aiohttp.app:create_app",
    serve="impl_aiohttp.port:serve",
    details="aiohttp's own server, C HTTP parser, uvloop",
)


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then finish in-flight requests (up to 10 s)."""
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        # Access logging costs a log line per request and distorts the figures: off unless asked.
        access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
        print=None,
        shutdown_timeout=10.0,
        # The same event loop as the uvicorn ports, so the comparison is of frameworks.
        loop=uvloop.new_event_loop(),
    )
