"""`/chunked` for frameworks that send the body themselves from an async iterator (Django's
`StreamingHttpResponse`): the chunks, with the same account of how the body ended as
`RowStreamResponse` gives.

Such a framework cancels the task sending the body when the client goes away (Django does on
`http.disconnect`), so the iterator sees either `CancelledError` at its next await or
`GeneratorExit` when the framework closes it: both are a client gone, said once with the byte
count. A database failure is said at ERROR and raised as `CutShort`, which the port catches in
front of the framework to end the response without its last message (no clean end, and no
traceback from the server for a failure already reported).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator

from shared.answers import log_client_gone, log_stream_failed
from shared.bodies import Body
from shared.failures import StreamFailed

from .endpoints import OpenBody
from .open_streams import OpenStreams
from .streaming import mark_cut_on_purpose


class CutShort(Exception):
    """The body ended on purpose without its terminating chunk; the reason is logged already."""


async def iterate_body(
    body: OpenBody, *, request_id: str, logger: logging.Logger, open_streams: OpenStreams
) -> AsyncGenerator[bytes, None]:
    """The body's chunks; the stream is closed however the iteration ends."""
    stream = body.stream
    open_streams.add(stream)
    sent = 0
    ended = False  # completely, or by a failure already said
    try:
        async for chunk in stream:
            yield chunk
            sent += len(chunk)
            # Granian and Hypercorn deliver `http.disconnect` only once the app yields to
            # the event loop; the framework's send() into a fast socket need not.
            await asyncio.sleep(0)
        if not sent:
            # An empty body: an empty part makes Django send an empty message with more body
            # to come, so that Granian frames it chunked (see `RowStreamResponse`).
            yield b""
        ended = True
    except StreamFailed as error:
        ended = True
        log_stream_failed(logger, request_id, sent, error)
        mark_cut_on_purpose()
        raise CutShort(str(error)) from None
    finally:
        closing = asyncio.ensure_future(_close(stream, open_streams))
        # In a task of its own: a cancelled request must still finish the rollback and give the
        # connection back; if cancelled here, the close goes on and a shutdown waits for it.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(closing)
        if not ended:
            log_client_gone(logger, request_id, sent)


async def _close(stream: Body, open_streams: OpenStreams) -> None:
    try:
        await stream.aclose()
    finally:
        open_streams.discard(stream)
