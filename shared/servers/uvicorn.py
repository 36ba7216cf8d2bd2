"""uvicorn, with httptools and uvloop: the default server of every ASGI port."""

from __future__ import annotations

import logging
import math
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from shared.asgi.streaming import cut_on_purpose
from shared.settings import Settings

from .logs import log_config
from .registry import LISTEN_BACKLOG, ServerDescriptor

SERVER = ServerDescriptor(
    name="uvicorn",
    distribution="uvicorn",
    interface="asgi",
    serve="shared.servers.uvicorn:serve",
    details="httptools + uvloop",
)

# uvicorn's line when an app returns before the last body message (uvicorn/protocols/http/
# httptools_impl.py and h11_impl.py, `run_asgi`), exactly as it passes it to `logger.error`.
UVICORN_INCOMPLETE = "ASGI callable returned without completing response."


class PurposelyIncompleteFilter(logging.Filter):
    """Drop uvicorn's "returned without completing response" for a body cut on purpose.

    An ASGI app cannot reach the transport: the only ways to end a chunked body without its
    terminating chunk are an exception out of the app (uvicorn logs a traceback) or returning
    before the last message (uvicorn logs one generic ERROR line, then closes the connection).
    The shared response returns, logs its own line with the request id, byte count and reason,
    and this filter, on the `uvicorn.error` logger, removes uvicorn's duplicate for that request
    only (uvicorn logs it in the request's task, where the response marked it): any other app
    bug that returns early is still reported.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == UVICORN_INCOMPLETE and cut_on_purpose())


def serve(app_factory: Callable[[], Any], settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from shared.asgi.uvicorn_protocol import contract_protocol

    config = uvicorn.Config(
        app=app_factory,
        factory=True,
        host=host,
        port=port,
        # httptools, with the contract's head limits, timeouts, HTTP/1.0 framing and shutdown.
        http=contract_protocol(settings),
        loop="uvloop",
        ws="none",
        lifespan="on",
        # Nothing in front of the benchmark rewrites client addresses: skip the middleware.
        proxy_headers=False,
        access_log=settings.access_log,
        # uvicorn.access loses its handlers and propagation unless access_log is on.
        log_config=log_config(settings, "uvicorn"),
        # Never reached in practice: the protocol cuts what still runs before the grace is over.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace),
        # Its own default, said here so that every server's is one value (registry.py).
        backlog=LISTEN_BACKLOG,
    )
    logging.getLogger("uvicorn.error").addFilter(PurposelyIncompleteFilter())
    server = uvicorn.Server(config)

    # After its graceful shutdown uvicorn restores the previous SIGTERM handler and raises the
    # signal again (uvicorn/server.py, `capture_signals`). With the default handler the process
    # would then die of SIGTERM (status -15) although it stopped cleanly; a supervisor asking
    # us to stop is not a failure, so the handler it finds only asks for the stop (a no-op by
    # then; before uvicorn installs its own, it makes the server stop right after startup) and
    # we exit 0. SIGINT keeps Python's handler: KeyboardInterrupt, the CLI's status 130.
    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
