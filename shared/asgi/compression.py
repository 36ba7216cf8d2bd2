"""Content codings for any ASGI framework: the contract's negotiation in front of the framework
(`NegotiatedCoding`), and a compressor for a coding the framework has no streaming path for
(`Compressing`).

Why the negotiation sits in front: the frameworks' own compressors pick gzip by looking for the
substring `gzip` in `Accept-Encoding` (Starlette, FastAPI and Litestar alike), so `gzip;q=0`
would still get gzip. `NegotiatedCoding` decides once, by the contract's rules
(`shared.compression.negotiate_coding`), answers 406 itself, and hands the framework an
`Accept-Encoding` naming only the coding decided, so no substring check can disagree with it.
Both are pure ASGI and only rewrite `http.response.start` or one body message at a time, so
backpressure is untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.answers import refusal
from shared.compression import IDENTITY, compress_chunk, negotiate_coding, open_compressor
from shared.contract import ContractError

from .request_id import header_value
from .streaming import raw_headers
from .types import ASGIApp, Message, Receive, Scope, Send

# The routes whose answers may be compressed; everything else is sent as it is.
DATA_PATHS = frozenset({"/standard", "/chunked"})
_ACCEPT_ENCODING = b"accept-encoding"
_VARY = b"vary"


class NegotiatedCoding:
    """Decides the coding of a data route's answer; 406 in front of the routes when none fits.

    Other paths see `Accept-Encoding: identity`: `/healthz` and `/metrics` are never compressed.
    Every answer of a data route that reaches `http.response.start` carries
    `Vary: Accept-Encoding`, compressed or not (caches must not hand one client's coding to
    another), unless the framework's compressor put it there already.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        data_route = scope.get("path") in DATA_PATHS and scope.get("method") == "GET"
        coding = IDENTITY
        if data_route:
            try:
                coding = negotiate_coding(header_value(scope, _ACCEPT_ENCODING))
            except ContractError as error:
                await _send_refusal(send, error)
                return
        scope = {**scope, "headers": _with_accept_encoding(scope.get("headers", ()), coding)}
        if not data_route:
            await self.app(scope, receive, send)
            return

        async def send_varied(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _varied(message.get("headers", ()))}
            await send(message)

        await self.app(scope, receive, send_varied)


async def _send_refusal(send: Send, error: ContractError) -> None:
    answer = refusal(error)
    headers = {**answer.headers, "Content-Length": str(len(answer.body))}
    await send(
        {"type": "http.response.start", "status": answer.status, "headers": raw_headers(headers)}
    )
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


def _with_accept_encoding(
    headers: Iterable[tuple[bytes, bytes]], coding: str
) -> list[tuple[bytes, bytes]]:
    kept = [(name, value) for name, value in headers if name.lower() != _ACCEPT_ENCODING]
    return [*kept, (_ACCEPT_ENCODING, coding.encode("ascii"))]


def _varied(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    headers = list(headers)
    for name, value in headers:
        if name.lower() == _VARY and b"accept-encoding" in value.lower():
            return headers
    return [*headers, (_VARY, b"Accept-Encoding")]


class Compressing:
    """Compresses a `200` with `coding` when `NegotiatedCoding` chose it, one body message at a
    time, each flushed (the client decodes every batch as it arrives), the stream finished with
    the last message. For a framework whose own compressor lacks the coding or does not stream.

    A response that announced its `Content-Length` (`/standard`) is whole before it starts: its
    compressed pieces are kept and sent as one message behind the compressed length, so a
    buffered response stays one. A body that ends without its last message (a stream cut on
    purpose, a client gone) is left unfinished too: a decoder sees it end inside the frame, never
    a clean end.
    """

    def __init__(self, app: ASGIApp, coding: str) -> None:
        self.app = app
        self.coding = coding
        open_compressor(coding)  # an unknown coding fails when the app is built, not per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or header_value(scope, _ACCEPT_ENCODING) != self.coding:
            await self.app(scope, receive, send)
            return
        compressor = None
        start: Message | None = None
        whole: list[bytes] | None = None  # the compressed pieces of a body with a length

        async def send_compressed(message: Message) -> None:
            nonlocal compressor, start, whole
            kind = message["type"]
            if kind == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", ())}
                if message["status"] != 200 or b"content-encoding" in names:
                    await send(message)
                    return
                start = message
                whole = [] if b"content-length" in names else None
                compressor = open_compressor(self.coding)
                return
            if kind != "http.response.body" or compressor is None:
                await send(message)
                return
            body = await compress_chunk(compressor, bytes(message.get("body", b"")))
            more_body = bool(message.get("more_body", False))
            if not more_body:
                body += compressor.finish()
            if whole is not None:
                whole.append(body)
                if more_body:
                    return
                body = b"".join(whole)
            if start is not None:
                await send(self._start(start, None if more_body else len(body)))
                start = None
            await send({"type": "http.response.body", "body": body, "more_body": more_body})

        await self.app(scope, receive, send_compressed)

    def _start(self, start: Message, length: int | None) -> Message:
        # A body sent in one message keeps a Content-Length (its compressed size); one sent in
        # several is framed by the server (chunked), as its compressed size is not known yet.
        headers = [
            (name, value)
            for name, value in start.get("headers", ())
            if name.lower() not in (b"content-length", b"content-encoding")
        ]
        headers.append((b"content-encoding", self.coding.encode("ascii")))
        if length is not None:
            headers.append((b"content-length", str(length).encode("ascii")))
        return {**start, "headers": _varied(headers)}
