"""An ASGI app's resources for its lifetime: the database pool and its open streams.

Handled in front of the framework, in pure ASGI, so every port gets the same lifespan whether its
framework has one (Starlette, Litestar) or not (Django refuses the `lifespan` scope): the app is
built around an `AppResources` whose database exists once the server ran the lifespan's startup.
"""

from __future__ import annotations

import logging

from shared.database import Database, create_database
from shared.servers.registry import GRACEFUL_SHUTDOWN_SECONDS
from shared.settings import Settings

from .open_streams import OpenStreams
from .types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("streambench.lifespan")


class AppResources:
    """What the endpoints of one app use: its settings, its pool, its open streams."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.open_streams = OpenStreams()
        self._database: Database | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            raise RuntimeError("the app's database is not open: the server ran no lifespan startup")
        return self._database

    async def open(self) -> None:
        self._database = await create_database(self.settings)

    async def close(self) -> None:
        # uvicorn and Hypercorn run the lifespan's shutdown after their own grace for in-flight
        # responses; Granian runs it at once (granian/server/embed.py, the lifespan worker:
        # shutdown follows the stop signal, connections still open). So the grace is kept here
        # too: streams get it to finish, then are cancelled, then get pool_timeout to give their
        # connection back (a stream's close waits at most that for the fetch in flight).
        await self.open_streams.wait_closed(GRACEFUL_SHUTDOWN_SECONDS)
        if self.open_streams.cancel_all():
            logger.warning("shutdown: cancelled %d stream(s) still sending", len(self.open_streams))
        await self.open_streams.wait_closed(self.settings.pool_timeout + 1.0)
        if self._database is not None:
            database, self._database = self._database, None
            await database.dispose()


class WithLifespan:
    """`app` with the ASGI lifespan protocol answered here: `resources` opened at startup and
    closed at shutdown; every other scope goes to `app` untouched."""

    def __init__(self, app: ASGIApp, resources: AppResources) -> None:
        self.app = app
        self.resources = resources

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.resources.open()
                except Exception as error:
                    logger.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.resources.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
