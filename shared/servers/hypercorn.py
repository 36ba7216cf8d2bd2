"""Hypercorn (h11, asyncio worker) on uvloop, served in this process through `hypercorn.asyncio`."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from shared.settings import Settings

from .logs import log_config
from .registry import COMMON_GAPS, GRACEFUL_SHUTDOWN_SECONDS, ServerDescriptor

SERVER = ServerDescriptor(
    name="hypercorn",
    distribution="hypercorn",
    interface="asgi",
    serve="shared.servers.hypercorn:serve",
    details="h11, asyncio worker on uvloop",
    gaps={
        **COMMON_GAPS,
        "quiet-drops": "logs its own lines when a client drops a response mid-body",
    },
)


def serve(app_factory: Callable[[], Any], settings: Settings, host: str, port: int) -> None:
    import uvloop
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    # Its default grace is 3 s; every server here gets the same.
    config.graceful_timeout = float(GRACEFUL_SHUTDOWN_SECONDS)
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
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait, mode="asgi")

    uvloop.run(run())
