"""aiohttp's own server (C HTTP parser, uvloop): the server of the aiohttp port."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.settings import Settings

from .registry import ServerDescriptor

SERVER = ServerDescriptor(
    name="aiohttp",
    distribution="aiohttp",
    interface="aiohttp",
    serve="shared.servers.aiohttp:serve",
    details="C HTTP parser, uvloop",
)


def serve(app_factory: Callable[[], Any], settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then finish in-flight requests (shared/shutdown.py)."""
    import asyncio

    import uvloop

    from .aiohttp_runner import serve_app

    # The same event loop as the ASGI servers, so the comparison is of frameworks.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        interrupted = runner.run(serve_app(app_factory(), settings, host, port))
    if interrupted:
        raise KeyboardInterrupt  # SIGINT: the CLI's status 130, as on the other servers
