"""`/standard`'s body as a pure ASGI app: whole, behind its `Content-Length`, sent as the pieces
it was read in.

`cursor` and `copy` read a `/standard` body in pieces (a batch's encoding, 64 KiB of `COPY`
output). Joining them into one `bytes` to hand a framework its usual response would hold the body
twice at the peak; sending the pieces one after the other behind the total length holds it once,
and the client sees the same response. The aiohttp port does the same with its own writer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence

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
        last = len(pieces) - 1
        for index, piece in enumerate(pieces):
            await send({"type": "http.response.body", "body": piece, "more_body": index < last})

    async def pieces(self) -> AsyncGenerator[bytes, None]:
        """The pieces, for a framework that sends a body from an async iterator (Django)."""
        pieces, self._pieces = self._pieces, []
        for piece in pieces:
            yield piece
