"""How big and how slow a request head may be, which HTTP versions it may name, and the answer to
one that does not comply: every server alike.

The figures are the contract's (docs/contract.md, "Limits and timeouts"). Servers enforce them in
their HTTP layer, before any app code runs, and keep at most about one head's worth of bytes
per connection while doing so: the uvicorn protocol in `shared.asgi.uvicorn_protocol`, aiohttp's
own server in `shared.servers.aiohttp_runner`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from .answers import Answer, refusal
from .contract import ContractError, request_id

# The request-target (path and query) as sent, in bytes: longer is 414.
MAX_TARGET_BYTES = 8192
# The header section: every field's name and value plus 4 bytes each for ": " and CRLF, which
# is its size on the wire when fields are written `Name: value`. Larger is 431.
MAX_HEADER_BYTES = 16384
# Header fields in one request, repeats counted: more is 431.
MAX_HEADER_FIELDS = 64
# Per field line: the framing every field costs on the wire besides its name and value.
FIELD_OVERHEAD = 4
# A request line also holds the method, two spaces, the version and CRLF. A parser limited to
# whole lines needs this much room above the target's limit; the target is then checked exactly.
REQUEST_LINE_SLACK = 64
# Bytes a server may hold of a head still arriving before it refuses it unseen: the largest head
# the limits allow (request line, header section, the empty line).
MAX_HEAD_BYTES = MAX_TARGET_BYTES + REQUEST_LINE_SLACK + MAX_HEADER_BYTES + 2
# The versions a request line may name, as `HTTP/<these>`: any other well-formed one is 505.
HTTP_VERSIONS = ("1.0", "1.1")
# llhttp's reason (the parser of aiohttp and of httptools) for a well-formed version it does not
# speak, such as HTTP/1.2 or HTTP/3.0; it reads HTTP/0.9 and HTTP/2.0 as such instead.
LLHTTP_UNKNOWN_VERSION = "Invalid HTTP version"

logger = logging.getLogger("streambench.limits")


@dataclass
class HeadRefused(Exception):
    """A request head over one of the limits: the status to answer and the reason to log."""

    status: int
    reason: str

    def answer(self) -> Answer:
        """The contract's JSON error, with a fresh request id and the connection closed: the rest
        of an oversized head is never read, so the connection cannot carry another request."""
        answer = refusal(ContractError(self.status, self.reason))
        answer.headers["X-Request-ID"] = request_id(None)
        answer.headers["Connection"] = "close"
        return answer

    def log(self, client: object) -> None:
        log_refused(client, self.status, self.reason)

    def response(self) -> bytes:
        """The whole answer as it goes on the wire, for a server's HTTP layer to write."""
        answer = self.answer()
        head = [b"HTTP/1.1 %d %s\r\n" % (answer.status, _REASONS[answer.status])]
        headers = {**answer.headers, "Content-Length": str(len(answer.body))}
        head += [f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()]
        return b"".join([*head, b"\r\n", answer.body])


_REASONS = {
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    505: b"HTTP Version Not Supported",
}


def target_too_long() -> HeadRefused:
    return HeadRefused(414, f"request target longer than {MAX_TARGET_BYTES} bytes")


def header_section_too_large() -> HeadRefused:
    return HeadRefused(431, f"header section larger than {MAX_HEADER_BYTES} bytes")


def too_many_fields() -> HeadRefused:
    return HeadRefused(431, f"more than {MAX_HEADER_FIELDS} header fields")


def version_not_supported() -> HeadRefused:
    return HeadRefused(505, "HTTP version not supported; use HTTP/1.1 or HTTP/1.0")


def check_version(version: str) -> None:
    """Raise `HeadRefused` (505) unless `version` ("1.1", as in `HTTP/1.1`) is one spoken here."""
    if version not in HTTP_VERSIONS:
        raise version_not_supported()


def check_head(target_length: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Raise `HeadRefused` for a parsed head over the limits (the target first, as sent)."""
    if target_length > MAX_TARGET_BYTES:
        raise target_too_long()
    size = 0
    count = 0
    for name, value in headers:
        size += len(name) + len(value) + FIELD_OVERHEAD
        count += 1
    if count > MAX_HEADER_FIELDS:
        raise too_many_fields()
    if size > MAX_HEADER_BYTES:
        raise header_section_too_large()


class HeadCounter:
    """Counts one head as a parser hands it over piece by piece, and refuses it as soon as it
    goes over a limit, so that nothing more of it is buffered."""

    def __init__(self) -> None:
        self.target = 0
        self.header_bytes = 0
        self.fields = 0

    def add_target(self, piece: bytes) -> None:
        self.target += len(piece)
        if self.target > MAX_TARGET_BYTES:
            raise target_too_long()

    def add_field(self, name: bytes, value: bytes) -> None:
        self.fields += 1
        self.header_bytes += len(name) + len(value) + FIELD_OVERHEAD
        if self.fields > MAX_HEADER_FIELDS:
            raise too_many_fields()
        if self.header_bytes > MAX_HEADER_BYTES:
            raise header_section_too_large()


def log_refused(client: object, status: int, reason: str) -> None:
    """One WARNING line per refused head, never a traceback: any client can send these."""
    logger.warning("refused a request from %s: %d %s", _client(client), status, reason)


def log_malformed(client: object, reason: str) -> None:
    """One WARNING line per request the HTTP parser refused as malformed (the server's 400)."""
    first_line = reason.strip().splitlines()[0] if reason.strip() else "invalid HTTP"
    logger.warning("refused a malformed request from %s: %s", _client(client), first_line)


def _client(client: object) -> str:
    if isinstance(client, tuple) and len(client) >= 2:
        return f"{client[0]}:{client[1]}"
    return str(client) if client else "unknown client"
