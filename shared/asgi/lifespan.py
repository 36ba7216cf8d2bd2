"""An ASGI app's resources for its lifetime: the database pool and its open streams.

Handled in front of the framework, in pure ASGI, so every port gets the same lifespan whether its
framework has one (Starlette, Litestar) or not (Django refuses the `lifespan` scope): the app is
built around an `AppResources` whose database exists once the server ran the lifespan's startup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from shared.layers import DataLayer, LayerSpec, open_layer
from shared.settings import Settings
from shared.shutdown import ShutdownPlan

from .open_streams import OpenStreams
from .running import RunningRequests
from .types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("streambench.lifespan")


class AppResources:
    """What the endpoints of one app use: its settings, its pool, its open streams, and the
    requests it is running, which a shutdown gives the grace and then cuts."""

    def __init__(self, settings: Settings, layers: Sequence[LayerSpec] = ()) -> None:
        self.settings = settings
        self.layers = tuple(layers)  # the port's own data layers, beside the shared ones
        self.open_streams = OpenStreams()
        self.running = RunningRequests()
        self.shutdown_plan = ShutdownPlan.from_settings(settings)
        self._database: DataLayer | None = None
        self._stopping_since: float | None = None
        self._cut_timer: asyncio.TimerHandle | None = None

    @property
    def database(self) -> DataLayer:
        if self._database is None:
            raise RuntimeError("the app's database is not open: the server ran no lifespan startup")
        return self._database

    async def open(self) -> None:
        self._database = await open_layer(self.settings, self.layers)

    def begin_shutdown(self) -> None:
        """The server stopped accepting: requests still running at the plan's `cut_after` from
        now are cut (see `shared.asgi.running`). Said again, it changes nothing."""
        if self._stopping_since is not None:
            return
        loop = asyncio.get_running_loop()
        self._stopping_since = loop.time()
        plan = self.shutdown_plan
        self._cut_timer = loop.call_later(plan.cut_after, self.running.cut, plan.cut_after)

    async def close(self) -> None:
        # uvicorn and Hypercorn run the lifespan's shutdown once their connections are done
        # (uvicorn's protocol cuts what still runs; Hypercorn's serve begins the shutdown here
        # at the signal). Granian runs it at once (granian/server/embed.py, the lifespan worker:
        # shutdown follows the stop signal, connections still open), so the shutdown begins now
        # and the streams get what is left of the grace: cut at `cut_after`, closed by its end.
        # A stream that still has not closed then is cancelled, and gets a second to give its
        # connection back before the pool goes.
        self.begin_shutdown()
        assert self._stopping_since is not None
        loop = asyncio.get_running_loop()
        left = self._stopping_since + self.shutdown_plan.grace - loop.time()
        await self.open_streams.wait_closed(max(0.0, left))
        if self.open_streams.cancel_all():
            logger.warning("shutdown: cancelled %d stream(s) still sending", len(self.open_streams))
            await self.open_streams.wait_closed(1.0)
        if self._cut_timer is not None:
            self._cut_timer.cancel()
        if self._database is not None:
            database, self._database = self._database, None
            await database.dispose()


class WithLifespan:
    """`app` with the ASGI lifespan protocol answered here: `resources` opened at startup and
    closed at shutdown. HTTP requests reach `app` tracked, so that a shutdown can cut them;
    every other scope goes to `app` untouched."""

    def __init__(self, app: ASGIApp, resources: AppResources) -> None:
        self.app = app
        self.resources = resources

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            with self.resources.running.track(scope, receive) as tracked_receive:
                await self.app(scope, tracked_receive, send)
            return
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


def begin_shutdown(app: object) -> None:
    """For a server's stop signal: begin the shutdown of `app` if it is one of ours."""
    if isinstance(app, WithLifespan):
        app.resources.begin_shutdown()


async def finish_shutdown(app: object) -> None:
    """For a server that stopped without running the lifespan's shutdown: close `app`'s pool."""
    if isinstance(app, WithLifespan):
        await app.resources.close()
