"""Hypercorn's h11 protocol and TCP server with what the contract asks of a server and Hypercorn
lacks. The counterpart of `shared.asgi.uvicorn_protocol`.

Hypercorn names no protocol class in its config: `ProtocolWrapper` builds `H11Protocol` and
`worker_serve` builds `TCPServer` from their modules' globals (hypercorn/protocol/__init__.py,
hypercorn/asyncio/run.py). `install()` replaces those two names, in the serving process only,
with the subclasses here, after checking that Hypercorn still looks them up there; nothing else
of Hypercorn changes.

- Head limits (shared/limits.py): Hypercorn answers a head over `h11_max_incomplete_size` with an
  empty 400 or 431 and logs nothing, and has no field count. Here h11 may buffer up to the
  largest head the limits allow, a parsed head is checked exactly before the app runs, and both
  refusals are the contract's JSON 414 or 431 with one WARNING line.
- HTTP versions: h11 takes any `HTTP/<digit>.<digit>` and Hypercorn serves HTTP/0.9, 1.2 or 2.0 as
  if it were 1.1. Any version but 1.0 and 1.1 is answered 505 before the app runs, and so is a
  request line with no version at all (HTTP/0.9's form), which llhttp reads as HTTP/0.9 on the
  other servers and h11 refuses as malformed.
- Malformed requests: h11's refusals get Hypercorn's 400 and, here, one WARNING line each. h11
  takes chunk sizes of up to 20 hex digits; one beyond 64 bits, where llhttp stops, is refused
  here too.
- Shutdown: a response cut by the app at the plan's `cut_after` (see `shared.asgi.running`)
  makes Hypercorn close the connection, and closing waits for the write buffer to drain, which
  a client that stopped reading never lets happen; past its grace Hypercorn then cancels the
  connection's task, which asyncio reports with a traceback. A connection closed while its
  response is unfinished during a shutdown is reset instead.
"""

from __future__ import annotations

import asyncio
import dis
import importlib.metadata
import re
from types import CodeType, ModuleType
from typing import Any, cast

import h11
import hypercorn.asyncio.run
import hypercorn.protocol
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.events import Closed, Event, RawData
from hypercorn.protocol.h11 import H11Protocol

from shared.limits import (
    MAX_HEAD_BYTES,
    MAX_TARGET_BYTES,
    REQUEST_LINE_SLACK,
    HeadRefused,
    check_head,
    check_version,
    header_section_too_large,
    log_malformed,
    target_too_long,
    version_not_supported,
)
from shared.transport import reset

# How long a refused connection is kept before it is closed, so that closing it with the rest of
# the head unread (a reset) cannot overtake the refusal.
REFUSAL_LINGER_SECONDS = 1.0
# The largest chunk a request body may announce: what llhttp (aiohttp, uvicorn) and Granian's
# HTTP layer can count, 64 bits.
MAX_CHUNK_SIZE = 2**64 - 1
# A request line of a method and a target and nothing else: HTTP/0.9's.
_VERSIONLESS_LINE = re.compile(rb"[!-~]+ [!-~]+\r?")


# Where Hypercorn finds each class it builds connections from: a global of the module, looked up
# at run time by the function named. A release that renamed or moved either would leave the
# classes here unused and the contract's fixes silently undone, so `install()` checks both first.
REPLACED: tuple[tuple[ModuleType, str, str], ...] = (
    (hypercorn.protocol, "H11Protocol", "ProtocolWrapper.__init__"),
    (hypercorn.asyncio.run, "TCPServer", "worker_serve"),
)


class HypercornChanged(RuntimeError):
    """The installed Hypercorn no longer builds its connections where `install()` replaces them."""


def install() -> None:
    """Make Hypercorn, in this process, build its connections from the classes here; raise
    `HypercornChanged`, naming what moved, rather than serve without them."""
    ours: dict[str, type] = {"H11Protocol": ContractH11Protocol, "TCPServer": ContractTCPServer}
    for module, name, reader in REPLACED:
        problem = replacement_problem(module, name, ours[name], reader)
        if problem is not None:
            raise HypercornChanged(
                f"hypercorn {importlib.metadata.version('hypercorn')}: {problem}, so "
                "shared.asgi.hypercorn_protocol.install() cannot put its classes in its place "
                "(the contract's head limits, malformed-request lines and shutdown resets)"
            )
    for module, name, _ in REPLACED:
        # Neither module re-exports the name it uses: set as attributes.
        setattr(module, name, ours[name])


def replacement_problem(
    module: ModuleType, name: str, replacement: type, reader: str
) -> str | None:
    """Why `replacement`, set as `module.<name>`, would not be what `module.<reader>` builds, or
    None: the name must hold the class `replacement` extends (or `replacement`), and `reader`
    must look it up there when it runs."""
    current = getattr(module, name, None)
    if current is None:
        return f"{module.__name__} has no {name}"
    if current is not replacement and current not in replacement.__bases__:
        return (
            f"{module.__name__}.{name} is {current!r}, not the class {replacement.__name__} extends"
        )
    function: Any = module
    for part in reader.split("."):
        function = getattr(function, part, None)
    code = getattr(function, "__code__", None)
    if code is None:
        return f"{module.__name__} has no function {reader}"
    if function.__globals__ is not vars(module) or not _looks_up_global(code, name):
        return f"{module.__name__}.{reader} no longer looks up the global {name}"
    return None


def _looks_up_global(code: CodeType, name: str) -> bool:
    """Whether `code`, or a function defined in it, reads the global `name`."""
    if any(i.opname == "LOAD_GLOBAL" and i.argval == name for i in dis.get_instructions(code)):
        return True
    return any(isinstance(c, CodeType) and _looks_up_global(c, name) for c in code.co_consts)


class _RecordingConnection(h11.Connection):
    """h11's connection, keeping the last refusal of the peer's bytes for the answer."""

    refusal: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as error:
            self.refusal = error
            raise

    def _extract_next_receive_event(self) -> Any:
        # Refused in here, h11 marks the peer's state as an error as for its own refusals, and
        # Hypercorn then drops what the app still sends instead of failing it.
        event = super()._extract_next_receive_event()
        if isinstance(event, h11.Data) and event.chunk_start:
            # h11's chunked reader counts down what is left of the chunk after the bytes given.
            left = getattr(self._reader, "_bytes_in_chunk", 0)
            if len(event.data) + left > MAX_CHUNK_SIZE:
                raise h11.RemoteProtocolError("chunk size overflow", error_status_hint=400)
        return event


class ContractH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection = _RecordingConnection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._line_bytes = 0  # of the request line so far, while it has no end yet
        self._line = bytearray()  # its first bytes, up to the longest line the limits allow
        self._line_done = False
        self._refused = False

    async def handle(self, event: Event) -> None:
        if isinstance(event, RawData):
            if self._refused:
                return  # the rest of a refused head: discarded while the refusal lingers
            self._count_request_line(event.data)
        await super().handle(event)

    def _count_request_line(self, data: bytes) -> None:
        if self._line_done or self.connection.their_state is not h11.IDLE:
            return
        end = data.find(b"\n")
        piece = data if end < 0 else data[:end]
        self._line_bytes += len(piece)
        self._line += piece[: max(0, MAX_TARGET_BYTES + REQUEST_LINE_SLACK - len(self._line))]
        self._line_done = end >= 0

    async def _create_stream(self, request: h11.Request) -> None:
        self._line_bytes, self._line_done = 0, False  # the next head starts afresh
        self._line.clear()
        try:
            check_head(len(request.target), request.headers.raw_items())
            check_version(request.http_version.decode("ascii"))
        except HeadRefused as refusal:
            await self._refuse(refusal)
            return
        names = {name for name, _ in request.headers}
        if {b"content-length", b"transfer-encoding"} <= names:
            # h11 lets Transfer-Encoding win (RFC 9112 section 6.3); a request that sends both
            # may be smuggling one inside the other, and the contract refuses it as malformed.
            await self._malformed("both Content-Length and Transfer-Encoding")
            return
        await super()._create_stream(request)

    async def _send_error_response(self, status_code: int) -> None:
        refusal = getattr(self.connection, "refusal", None)
        if status_code == 431 and refusal is not None:
            # h11's "Receive buffer too long": a head still unfinished past MAX_HEAD_BYTES.
            too_long_a_line = not self._line_done or self._line_bytes > (
                MAX_TARGET_BYTES + REQUEST_LINE_SLACK
            )
            await self._refuse(target_too_long() if too_long_a_line else header_section_too_large())
            return
        if self._versionless_line():
            await self._refuse(version_not_supported())
            return
        log_malformed(self.client, str(refusal) if refusal is not None else "invalid HTTP")
        await super()._send_error_response(status_code)

    def _versionless_line(self) -> bool:
        whole = self._line_done and self._line_bytes == len(self._line)
        return whole and _VERSIONLESS_LINE.fullmatch(self._line) is not None

    async def _malformed(self, reason: str) -> None:
        self._refused = True
        log_malformed(self.client, reason)
        await super()._send_error_response(400)
        await self.send(Closed())

    async def _refuse(self, refusal: HeadRefused) -> None:
        self._refused = True
        refusal.log(self.client)
        await self.send(RawData(data=refusal.response()))
        await asyncio.sleep(REFUSAL_LINGER_SECONDS)
        await self.send(Closed())


class ContractTCPServer(TCPServer):
    async def _close(self) -> None:
        if self.context.terminated.is_set() and _response_unfinished(self):
            # uvloop's transport is not an `asyncio.Transport` subclass, but has its methods.
            reset(cast(asyncio.Transport, self.writer.transport))
        await super()._close()


def _response_unfinished(server: TCPServer) -> bool:
    protocol = getattr(getattr(server, "protocol", None), "protocol", None)
    connection = getattr(protocol, "connection", None)
    return isinstance(connection, h11.Connection) and connection.our_state is h11.SEND_BODY
