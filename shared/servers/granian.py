"""Granian (Rust HTTP, `--interface asgi`), one worker, run embedded in this process.

Embedded (`granian.server.embed.Server`) rather than Granian's process manager, which spawns its
workers as child processes: here the app, its event loop (uvloop, as on every server) and its
memory are in the process that `streambench serve` started, so the comparator's /proc figures
are the server's own, as on the other servers. The HTTP implementation is the same Rust worker
either way. Granian's own logger (`_granian`) goes through the contract's format.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from shared.settings import Settings

from .logs import log_config
from .registry import COMMON_GAPS, ServerDescriptor

SERVER = ServerDescriptor(
    name="granian",
    distribution="granian",
    interface="asgi",
    serve="shared.servers.granian:serve",
    details="Rust HTTP/1.1, one embedded worker, uvloop",
    gaps={
        **COMMON_GAPS,
        "head-timeout": "cannot be made to close a silent connection or an unfinished head "
        "within the contract's head timeout (its header read timeout applies once bytes come)",
    },
)


class _EmbeddedNotice(logging.Filter):
    """Granian warns "Embedded server is experimental!" at every start: said once, here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Embedded server is experimental!"


def serve(app_factory: Callable[[], Any], settings: Settings, host: str, port: int) -> None:
    import uvloop
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server

    server = Server(
        app_factory,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        log_level=LogLevels(settings.log_level.lower()),
        log_dictconfig=log_config(settings, "_granian", "granian.access"),
        log_access=settings.access_log,
    )
    logging.getLogger("_granian").addFilter(_EmbeddedNotice())

    async def run() -> None:
        loop = asyncio.get_running_loop()
        # The embedded server installs no signal handlers of its own. SIGINT stops it too (the
        # CLI's KeyboardInterrupt would skip the drain); the lifespan's shutdown then waits for
        # the open streams (see shared.asgi.lifespan).
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, server.stop)
        await server.serve()

    uvloop.run(run())
