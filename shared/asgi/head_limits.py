"""The contract's head limits as pure ASGI, for a server whose HTTP layer cannot enforce them.

Granian parses the head in Rust and hands the app every head within its own limits (a buffer of
tens of KiB, at most 100 fields), answering larger ones itself with an empty 414 or 431. Between
the contract's limits and its own, this refuses the head before the app runs, with the contract's
JSON answer and WARNING line, exactly as the uvicorn and Hypercorn protocol classes do in their
HTTP layer (`shared.asgi.uvicorn_protocol`, `shared.asgi.hypercorn_protocol`).
"""

from __future__ import annotations

from shared.limits import HeadRefused, check_head

from .streaming import raw_headers
from .types import ASGIApp, Receive, Scope, Send


class HeadLimits:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_head(_target_length(scope), scope["headers"])
            except HeadRefused as refusal:
                refusal.log(scope.get("client"))
                answer = refusal.answer()
                await send(
                    {
                        "type": "http.response.start",
                        "status": answer.status,
                        "headers": raw_headers(answer.headers),
                    }
                )
                await send({"type": "http.response.body", "body": answer.body})
                return
        await self.app(scope, receive, send)


def _target_length(scope: Scope) -> int:
    """The request-target's length as sent: the raw path, and the query after its "?"."""
    path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = scope.get("query_string", b"")
    return len(path) + (len(query) + 1 if query else 0)
