"""`/standard`'s body as a pure ASGI app: whole, behind its `Content-Length`, sent as the pieces
it was read in.

`cursor` and `copy` read a `/standard` body in pieces (a batch's encoding, 64 KiB of `COPY`
output). Joining them into one `bytes` to hand a framework its usual response would hold the body
twice at the peak; sending the pieces one after the other behind the total length holds it once,
and the client sees the same response. The aiohttp port does the same with its own writer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence

from shared.compression import IDENTITY

from .request_id import header_value
from .streaming import raw_headers
from .types import Receive, Scope, Send


class WholeBody:
    """A complete 200 body in pieces; call it as an ASGI app, once."""

    def __init__(self, pieces: Sequence[bytes], headers: Mapping[str, str]) -> None:
        self.status = 200
        self._pieces = list(pieces)
        length = sum(len(piece) for piece in self._pieces)
        self.headers = {**headers, "Content-Length": str(length)}
        self.raw_headers = raw_headers(self.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        pieces, self._pieces = self._pieces or [b""], []
        if len(pieces) > 1 and header_value(scope, b"accept-encoding") not in (None, IDENTITY):
            # A coding was negotiated (shared.asgi.compression.NegotiatedCoding): a framework's
            # compressor handed several messages streams them, chunked and without a length.
            # One message keeps `/standard` a whole response behind its compressed
            # Content-Length, at the cost of a second copy of the body while it is compressed.
            pieces = [b"".join(pieces)]
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": index < last})

    async def pieces(self) -> AsyncGenerator[bytes, None]:
        """The pieces, for a framework that sends a body from an async iterator (Django)."""
        pieces, self._pieces = self._pieces, []
        for piece in pieces:
            yield piece
