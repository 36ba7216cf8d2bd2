"""Granian (Rust HTTP, `--interface asgi`), one worker, run embedded in this process.

Embedded (`granian.server.embed.Server`) rather than Granian's process manager, which spawns its
workers as child processes: here the app, its event loop (uvloop, as on every server) and its
memory are in the process that `streambench serve` started, so the comparator's /proc figures
are the server's own, as on the other servers. The HTTP implementation is the same Rust worker
either way. Granian's own logger (`_granian`) goes through the contract's format.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import math
import signal
from collections.abc import Callable
from typing import Any

from shared.settings import Settings

from .logs import log_config
from .registry import COMMON_GAPS, LISTEN_BACKLOG, ServerDescriptor

SERVER = ServerDescriptor(
    name="granian",
    distribution="granian",
    interface="asgi",
    serve="shared.servers.granian:serve",
    details="Rust HTTP/1.1, one embedded worker, uvloop",
    http_versions=("1.1", "2"),
    gaps={
        **COMMON_GAPS,
        "huge-heads": "a head beyond its own limits (a buffer of tens of KiB, 100 fields) is "
        "answered by its Rust HTTP layer with an empty 414 or 431 and nothing logged; below "
        "them the contract's limits hold (shared.asgi.head_limits)",
        "malformed-requests": "its parser's refusals are not logged as one WARNING line each",
        "http-versions": "a request line naming another version than HTTP/1.0 or HTTP/1.1 "
        "(HTTP/0.9, 1.2, 2.0, 3.0, or none) gets its Rust HTTP layer's empty 400, not the "
        "contract's 505, and nothing logged",
        "chunk-size-overflow": "a request body's chunk size beyond 64 bits is not refused: its "
        "HTTP layer (hyper) fails the body only when it is read, and Granian hands that to the "
        "app as http.disconnect (src/asgi/io.rs, github.com/emmett-framework/granian), so the "
        "request is answered as if it had no body (200; 500 from Granian on Django, which reads "
        "the body first) and nothing is logged",
    },
)


# What Granian's defaults give one worker: its default backlog of 128 over one worker.
GRANIAN_BACKPRESSURE = 128


class _EmbeddedNotice(logging.Filter):
    """Granian warns "Embedded server is experimental!" at every start: said once, here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Embedded server is experimental!"


def serve(app_factory: Callable[[], Any], settings: Settings, host: str, port: int) -> None:
    import uvloop
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.embed import Server

    from shared.asgi.head_limits import HeadLimits
    from shared.asgi.lifespan import begin_shutdown, finish_shutdown

    apps: list[Any] = []

    def built() -> Any:
        apps.append(app_factory())
        # Granian's HTTP layer keeps limits of its own, looser than the contract's.
        return HeadLimits(apps[-1])

    server = Server(
        built,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        # HTTP/2 asked for: its `auto` mode, which takes the h2c preface on the same plain socket
        # and HTTP/1.1 otherwise (its `2` would refuse the comparator's HTTP/1.1 health checks).
        http=HTTPModes.auto if settings.http == "2" else HTTPModes.http1,
        # The contract's head timeout (Granian's default is 30 s), in milliseconds: it also
        # closes a silent new connection and an idle kept-alive one.
        http1_settings=HTTP1Settings(header_read_timeout=math.ceil(settings.head_timeout * 1000)),
        websockets=False,
        # The common listen queue (registry.LISTEN_BACKLOG: its default of 128 left 1,024
        # connections at once to the kernel's handshake retries, p99 58.9 s). Granian derives
        # the connections it serves at once from the backlog (backlog // workers); that bound
        # is its own design and stays what its default gives, 128, said outright.
        backlog=LISTEN_BACKLOG,
        backpressure=GRANIAN_BACKPRESSURE,
        log_level=LogLevels(settings.log_level.lower()),
        log_dictconfig=log_config(settings, "_granian", "granian.access"),
        log_access=settings.access_log,
    )
    # Granian's graceful stop waits for every connection to flush, and a client that stopped
    # reading never lets one: past the cut, the worker gets what is left of the grace. (The
    # embedded server reads it, in `_stop_workers`, but takes no argument for it: under another
    # name ours would be ignored without a word, so a Granian that renamed it is refused.)
    if not hasattr(server, "workers_kill_timeout"):
        raise RuntimeError(
            f"granian {importlib.metadata.version('granian')}: its embedded server has no "
            "workers_kill_timeout, which shared/servers/granian.py sets to stop within the grace"
        )
    server.workers_kill_timeout = _kill_timeout(settings.shutdown_grace)
    logging.getLogger("_granian").addFilter(_EmbeddedNotice())

    async def run() -> None:
        loop = asyncio.get_running_loop()

        # The embedded server installs no signal handlers of its own. SIGINT stops it too (the
        # CLI's KeyboardInterrupt would skip the drain). Granian's worker waits for its
        # connections before the lifespan's shutdown, so the app's shutdown begins here: what
        # still runs at the plan's cut is cut (see shared.asgi.running).
        def stopping() -> None:
            server.stop()  # type: ignore[no-untyped-call]
            for app in apps:
                begin_shutdown(app)

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping)
        try:
            await server.serve()
        except TimeoutError:
            # The worker was cancelled at the kill timeout, before its lifespan's shutdown: the
            # cut streams are closed already, and the pool is closed here instead.
            for app in apps:
                await finish_shutdown(app)

    uvloop.run(run())


def _kill_timeout(grace: float) -> int:
    """Whole seconds (Granian's unit) from the stop to cancelling the worker: the grace less
    the time the pool needs to close, at least one."""
    return max(1, math.floor(grace - 1.0))
