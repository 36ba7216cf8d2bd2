"""The `/chunked` response: one chunk per batch, and an account of how the body ended.

Why not Starlette's `StreamingResponse`: under uvicorn (ASGI spec 2.3) it does listen for
`http.disconnect` and cancel its body iterator (starlette/responses.py, `StreamingResponse.__call__`),
but the iterator only ever sees a `CancelledError`, which a server shutdown raises too, and nothing
says how many bytes the server had taken. The contract wants one line per disconnect with that
count, and a database failure midway must end the body without its terminating chunk. This class
keeps Starlette's design (a task waits for `http.disconnect` and cancels the sender) and adds the
accounting; the stream is closed however the response ends, `RowStream.aclose()` being shielded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import aclosing
from contextvars import ContextVar
from dataclasses import dataclass

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from shared.answers import log_client_gone, log_stream_failed
from shared.database import RowStream, StreamFailed
from shared.encoders import Encoder, encode_chunks

# uvicorn's line when an app returns before the last body message (uvicorn/protocols/http/
# httptools_impl.py and h11_impl.py, `run_asgi`), exactly as it passes it to `logger.error`.
UVICORN_INCOMPLETE = "ASGI callable returned without completing response."

# Set in the request's own task when this response ended its body incomplete on purpose and
# said why at ERROR already. uvicorn's `run_asgi` awaits the app and then logs in that task, and
# Starlette calls the response in it too (routing.py `request_response`: no task in between).
_cut_on_purpose: ContextVar[bool] = ContextVar(
    "streambench_starlette_cut_on_purpose", default=False
)


class PurposelyIncompleteFilter(logging.Filter):
    """Drop uvicorn's "returned without completing response" for a body we cut on purpose.

    An ASGI app cannot reach the transport: the only ways to end a chunked body without its
    terminating chunk are an exception out of the app (uvicorn logs a traceback) or returning
    before the last message (uvicorn logs one generic ERROR line, then closes the connection).
    We return, log our own line with the request id, byte count and reason, and this filter,
    on the `uvicorn.error` logger, removes uvicorn's duplicate for that request only: any other
    app bug that returns early is still reported.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == UVICORN_INCOMPLETE and _cut_on_purpose.get())


class OpenStreams:
    """The streams of one app not closed yet, so that its shutdown can wait for them.

    Past its graceful timeout uvicorn cancels the responses still running and goes straight on
    to the lifespan's shutdown (uvicorn/server.py, `shutdown`) while their shielded `aclose()`
    may still be giving a connection back: disposing the pool then, and ending the event loop,
    would cut that short and leave SQLAlchemy to collect a checked-out connection.
    """

    def __init__(self) -> None:
        self._streams: set[RowStream] = set()
        self._all_closed = anyio.Event()
        self._all_closed.set()

    def add(self, stream: RowStream) -> None:
        if not self._streams:
            self._all_closed = anyio.Event()
        self._streams.add(stream)

    def discard(self, stream: RowStream) -> None:
        self._streams.discard(stream)
        if not self._streams:
            self._all_closed.set()

    async def wait_closed(self, patience: float) -> None:
        with anyio.move_on_after(patience):
            await self._all_closed.wait()


@dataclass
class _Progress:
    sent: int = 0
    complete: bool = False
    disconnected: bool = False


class RowStreamResponse(Response):
    """Sends an open `RowStream` as one chunk per batch, head with the first, tail last."""

    def __init__(
        self,
        stream: RowStream,
        encoder: Encoder,
        *,
        request_id: str,
        logger: logging.Logger,
        headers: Mapping[str, str],
        open_streams: OpenStreams,
    ) -> None:
        self.status_code = 200
        self.background = None
        self._stream = stream
        self._open_streams = open_streams
        open_streams.add(stream)
        self._encoder = encoder
        self._request_id = request_id
        self._logger = logger
        self.init_headers(headers)  # no `body` attribute: no Content-Length, uvicorn chunks

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
            # Return without the last body message: uvicorn closes the connection, the client
            # sees a body without its terminating chunk, never a clean end.
            _cut_on_purpose.set(True)
            return
        if progress.disconnected:
            log_client_gone(self._logger, self._request_id, progress.sent)

    async def _send_body(self, send: Send, progress: _Progress) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        async with aclosing(encode_chunks(self._encoder, self._stream)) as chunks:
            async for chunk in chunks:
                # uvicorn's send() waits on the transport's flow control before it writes.
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                progress.sent += len(chunk)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        progress.complete = True

    @staticmethod
    async def _watch_disconnect(
        receive: Receive, progress: _Progress, sender: anyio.CancelScope
    ) -> None:
        # uvicorn answers `http.disconnect` once the connection is lost, and also once the
        # response is complete: only the first kind cuts the body short.
        while (await receive())["type"] != "http.disconnect":
            pass
        if not progress.complete:
            progress.disconnected = True
            sender.cancel()
