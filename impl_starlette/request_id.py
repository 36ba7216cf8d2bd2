"""`X-Request-ID` on every response, the router's 404 and 405 included.

A pure ASGI middleware: it only rewrites `http.response.start`, so body messages pass straight
through and backpressure is untouched (`BaseHTTPMiddleware` would put a queue in between).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contract import request_id

_STATE_KEY = "request_id"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(Headers(scope=scope).get("x-request-id"))
        # Computed once per request: a fresh id is random, and the log lines must match it.
        scope.setdefault("state", {})[_STATE_KEY] = rid
        header = (b"x-request-id", rid.encode("ascii"))

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await self.app(scope, receive, send_tagged)


def get_request_id(request: Request) -> str:
    """The id `RequestIdMiddleware` gave this request (a fresh one, kept, outside it)."""
    state = request.scope.setdefault("state", {})
    rid = state.get(_STATE_KEY)
    if not isinstance(rid, str):
        rid = state[_STATE_KEY] = request_id(request.headers.get("x-request-id"))
    return rid
