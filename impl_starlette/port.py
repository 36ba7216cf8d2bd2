"""How the Starlette port is described and served: uvicorn with httptools and uvloop."""

from __future__ import annotations

import math
import signal
from types import FrameType
from typing import Any

import uvicorn

from shared.asgi.uvicorn_protocol import contract_protocol
from shared.ports import PortDescriptor
from shared.settings import LOG_FORMAT, Settings

from .app import create_app

PORT = PortDescriptor(
    name="starlette",
    framework="starlette",
    server="uvicorn",
    factory="impl_starlette.app:create_app",
    serve="impl_starlette.port:serve",
    details="uvicorn, httptools + uvloop",
)


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then finish in-flight requests (shared/shutdown.py)."""
    config = uvicorn.Config(
        app=lambda: create_app(settings),
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
        log_config=log_config(settings),
        # Never reached in practice: the protocol cuts what still runs before the grace is over.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace),
    )
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


def log_config(settings: Settings) -> dict[str, Any]:
    """The contract's format on stderr for everything, uvicorn's loggers included."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"contract": {"format": LOG_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "contract",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        # uvicorn.access loses its handlers and propagation unless access_log is on.
        "loggers": {"uvicorn": {"level": level}},
    }
