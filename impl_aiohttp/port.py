"""How the aiohttp port is described and served."""

from __future__ import annotations

import asyncio

import uvloop

from shared.ports import PortDescriptor
from shared.settings import Settings

from .app import create_app
from .server import serve_app

PORT = PortDescriptor(
    name="aiohttp",
    framework="aiohttp",
    server="aiohttp",
    factory="impl_aiohttp.app:create_app",
    serve="impl_aiohttp.port:serve",
    details="aiohttp's own server, C HTTP parser, uvloop",
)


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then finish in-flight requests (shared/shutdown.py)."""
    # The same event loop as the uvicorn ports, so the comparison is of frameworks.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        interrupted = runner.run(serve_app(create_app(settings), settings, host, port))
    if interrupted:
        raise KeyboardInterrupt  # SIGINT: the CLI's status 130, as on the other ports
