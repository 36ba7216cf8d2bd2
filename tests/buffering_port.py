"""A port that does not wait for its reader, for the slow-reader tests, served by the real CLI
(`STREAMBENCH_EXTRA_PORTS=buffering=tests.buffering_port:PORT`).

It is the Starlette port behind a middleware that queues the response's messages without bound
and sends them from a task of its own: the app's `send` returns at once, so the body is read
from the database as fast as it can be encoded and waits in the queue for a slow client. The
bytes are the contract's; only the memory per open stream gives it away. Older releases of
Starlette's `BaseHTTPMiddleware` queued body messages this way (1.10 hands them over one at a
time).
"""

from __future__ import annotations

import asyncio
import contextlib

from impl_starlette.app import create_app
from shared.asgi import ASGIApp, Message, Receive, Scope, Send
from shared.ports import PortDescriptor
from shared.settings import Settings

PORT = PortDescriptor(
    name="buffering",
    framework="starlette",
    factory="tests.buffering_port:create_buffering_app",
    details="the Starlette port behind a middleware that queues the body without bound",
)


class QueueingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        queue: asyncio.Queue[Message | None] = asyncio.Queue()

        async def forward() -> None:
            while (message := await queue.get()) is not None:
                await send(message)

        async def queued(message: Message) -> None:
            await queue.put(message)

        sender = asyncio.ensure_future(forward())
        try:
            await self.app(scope, receive, queued)
        finally:
            await queue.put(None)
            with contextlib.suppress(Exception):
                await sender


def create_buffering_app(settings: Settings) -> ASGIApp:
    return QueueingMiddleware(create_app(settings))
