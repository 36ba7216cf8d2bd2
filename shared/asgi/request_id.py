"""`X-Request-ID` on every response, the router's 404 and 405 included, for any ASGI framework.

A pure ASGI middleware: it only rewrites `http.response.start`, so body messages pass straight
through and backpressure is untouched (a middleware that queues body messages would hide it).
"""

from __future__ import annotations

from shared.contract import request_id

from .types import ASGIApp, Message, Receive, Scope, Send

_STATE_KEY = "streambench_request_id"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        header = (b"x-request-id", rid.encode("ascii"))

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await self.app(scope, receive, send_tagged)


def request_id_of(scope: Scope) -> str:
    """This request's id: the client's `X-Request-ID` if it is usable, else a fresh one, kept in
    the scope so that every log line and the header agree (a fresh id is random)."""
    state = scope.setdefault("state", {})
    rid = state.get(_STATE_KEY)
    if not isinstance(rid, str):
        rid = state[_STATE_KEY] = request_id(header_value(scope, b"x-request-id"))
    return rid


def header_value(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (`name` in lower case), as latin-1 text."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
