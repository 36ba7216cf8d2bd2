"""The `/chunked` response as a pure ASGI app: one chunk per batch, and an account of how the
body ended. Any ASGI framework can send it (Starlette and FastAPI through `StarletteRowStream`,
Litestar by returning it from a handler annotated `ASGIApp`).

Why not a framework's streaming response: Starlette's `StreamingResponse` listens for
`http.disconnect` and cancels its body iterator (starlette/responses.py,
`StreamingResponse.__call__`), but the iterator only ever sees a `CancelledError`, which a server
shutdown raises too, and nothing says how many bytes the server had taken. The contract wants one
line per disconnect with that count, and a database failure midway must end the body without its
terminating chunk. This keeps Starlette's design (a task waits for `http.disconnect` and cancels
the sender) and adds the accounting; the stream is closed however the response ends,
`RowStream.aclose()` being shielded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass

import anyio
import anyio.lowlevel

from shared.answers import log_client_gone, log_stream_failed
from shared.bodies import Body
from shared.failures import StreamFailed

from .open_streams import OpenStreams
from .types import Receive, Scope, Send

# Set in the request's own task when a response ended its body incomplete on purpose and said
# why at ERROR already, so that a server's own line about it can be dropped (see
# `shared.servers.uvicorn`). Servers await the app and log in that same task, and the
# frameworks call the response in it too (no task in between).
_cut_on_purpose: ContextVar[bool] = ContextVar("streambench_cut_on_purpose", default=False)


def cut_on_purpose() -> bool:
    """Whether the response of the current request's task ended its body incomplete on purpose."""
    return _cut_on_purpose.get()


def mark_cut_on_purpose() -> None:
    _cut_on_purpose.set(True)


@dataclass
class _Progress:
    sent: int = 0
    complete: bool = False
    disconnected: bool = False


def raw_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


class RowStreamResponse:
    """Sends an open `Body` chunk by chunk, as `shared.bodies` cut it.

    Constructing it hands the body over: from then on the response closes it, so nothing may
    await between `open_body` and the framework calling this app.
    """

    def __init__(
        self,
        stream: Body,
        *,
        request_id: str,
        logger: logging.Logger,
        headers: Mapping[str, str],
        open_streams: OpenStreams,
    ) -> None:
        self._stream = stream
        self._open_streams = open_streams
        open_streams.add(stream)
        self._request_id = request_id
        self._logger = logger
        # No Content-Length: every server then frames the body with chunked encoding (HTTP/1.1).
        self.raw_headers = raw_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        progress = _Progress()
        failure: StreamFailed | None = None
        try:
            async with self._stream, anyio.create_task_group() as group:
                group.start_soon(self._watch_disconnect, receive, progress, group.cancel_scope)
                try:
                    await self._send_body(send, progress)
                except StreamFailed as error:
                    failure = error
                group.cancel_scope.cancel()
        finally:
            self._open_streams.discard(self._stream)
        if failure is not None:
            log_stream_failed(self._logger, self._request_id, progress.sent, failure)
            # Return without the last body message: every server then closes the connection and
            # the client sees a body without its terminating chunk, never a clean end.
            mark_cut_on_purpose()
            return
        if progress.disconnected:
            log_client_gone(self._logger, self._request_id, progress.sent)

    async def _send_body(self, send: Send, progress: _Progress) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        async for chunk in self._stream:
            # Every server's send() waits on the transport's flow control before it writes.
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            progress.sent += len(chunk)
            # Granian and Hypercorn deliver `http.disconnect` only once the app yields to the
            # event loop, and a send() into a fast socket need not: yield, so a client gone
            # away is noticed within one batch rather than after the whole body.
            await anyio.lowlevel.checkpoint()
        if not progress.sent:
            # An empty body: Granian frames a response whose first body message is also its
            # last with Content-Length (0 here), not chunked. An empty message with more body to
            # come makes it start chunked framing; the other servers write nothing for it.
            await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        progress.complete = True

    @staticmethod
    async def _watch_disconnect(
        receive: Receive, progress: _Progress, sender: anyio.CancelScope
    ) -> None:
        # Servers answer `http.disconnect` once the connection is lost, and some also once the
        # response is complete: only the first kind cuts the body short.
        while (await receive())["type"] != "http.disconnect":
            pass
        if not progress.complete:
            progress.disconnected = True
            sender.cancel()
