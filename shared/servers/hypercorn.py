"""Hypercorn (h11, asyncio worker) on uvloop, served in this process through `hypercorn.asyncio`."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from shared.settings import Settings

from .logs import log_config
from .registry import COMMON_GAPS, LISTEN_BACKLOG, ServerDescriptor

SERVER = ServerDescriptor(
    name="hypercorn",
    distribution="hypercorn",
    interface="asgi",
    serve="shared.servers.hypercorn:serve",
    details="h11, asyncio worker on uvloop",
    gaps=COMMON_GAPS,
    # Its h11 protocol hands a connection that opens with the HTTP/2 preface to its h2 protocol
    # (`H2ProtocolAssumedError`, hypercorn/protocol/h11.py): h2c with prior knowledge on the same
    # plain socket, whatever `settings.http` says, so there is nothing to switch on.
    http_versions=("1.1", "2"),
)


def serve(app_factory: Callable[[], Any], settings: Settings, host: str, port: int) -> None:
    import uvloop
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    from shared.asgi import hypercorn_protocol
    from shared.asgi.lifespan import begin_shutdown

    # The contract's head limits, malformed-request lines and shutdown resets (see there).
    hypercorn_protocol.install()

    config = Config()
    config.bind = [f"{host}:{port}"]
    # Its default backlog is 100: at 1,024 connections at once the rest waited for the kernel's
    # handshake retries (registry.LISTEN_BACKLOG says what that measured).
    config.backlog = LISTEN_BACKLOG
    # Its default grace is 3 s; every server here gets the contract's. The app cuts what still
    # runs before it is over (`begin_shutdown` below), so Hypercorn never has to cancel a task.
    config.graceful_timeout = settings.shutdown_grace
    # The contract's idle keep-alive (Hypercorn's default is 5 s, whatever the head timeout).
    config.keep_alive_timeout = settings.head_timeout
    config.loglevel = settings.log_level.upper()
    config.logconfig_dict = log_config(settings, "hypercorn.error", "hypercorn.access")
    # Loggers, not "-": Hypercorn then keeps them as they are (hypercorn/logging.py,
    # `_create_logger`) and they reach the contract's handler instead of its own stream handlers.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.accesslog = logging.getLogger("hypercorn.access") if settings.access_log else None
    app = app_factory()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stopping() -> None:
            stop.set()
            # Hypercorn runs the lifespan's shutdown only after its grace: the app's begins now.
            begin_shutdown(app)

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping)
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait, mode="asgi")

    uvloop.run(run())
