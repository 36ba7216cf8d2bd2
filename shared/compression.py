"""Content codings, framework-free: which one a request gets (`negotiate_coding`), a compressor
that keeps a stream streaming (`open_compressor`), and a decoder that reads what any port sends
(`open_decoder`), for the ports, the comparator and the tests alike.

A compressor here flushes after every chunk it is given: the client can decode each batch as
soon as it arrives. A compressor that keeps input back until its buffers fill (zlib without a
flush, the usual default) turns `/chunked` into a buffered response in all but name.
"""

from __future__ import annotations

import importlib
import sys
import zlib
from collections.abc import Callable
from typing import Any, Protocol

import anyio.to_thread

from .contract import ContractError, q_value

IDENTITY = "identity"
# What a client may be sent besides the bytes as they are, in the server's order of preference
# when the client accepts several equally (`*`, or equal q-values).
CODINGS: tuple[str, ...] = ("gzip", "zstd")
# RFC 9110 12.5.3: `x-gzip` is `gzip`.
_ALIASES = {"x-gzip": "gzip"}
# The levels the shared compressor uses: zlib's and zstd's own defaults, what a user who asks for
# "compression" gets. Frameworks that compress themselves use their own defaults (see the contract).
GZIP_LEVEL = 6
ZSTD_LEVEL = 3
# A chunk this large is compressed in a worker thread: at zlib's level 9, 10 MiB held the event
# loop for 150-310 ms; Starlette's gzip middleware draws the line at the same size.
THREAD_MINIMUM = 128 * 1024


def not_acceptable() -> ContractError:
    return ContractError(
        406,
        "cannot produce any content coding in Accept-Encoding; offered: "
        + ", ".join((*CODINGS, IDENTITY)),
        headers={"Vary": "Accept-Encoding"},
    )


def coding_headers(coding: str) -> dict[str, str]:
    """What a data route's answer says about its coding, compressed or not."""
    headers = {"Vary": "Accept-Encoding"}
    if coding != IDENTITY:
        headers["Content-Encoding"] = coding
    return headers


def negotiate_coding(accept_encoding: str | None) -> str:
    """The coding for an `Accept-Encoding` header (RFC 9110 12.5.3): `identity` or one of
    `CODINGS`, or `ContractError` 406 when the client excludes identity and accepts none of them.

    No header, or an empty one: identity. Otherwise the offered coding with the highest q-value
    (explicit, else the `*` entry's) wins, ties going to the one named first in the header, then
    to `CODINGS` order; identity wins only when named with a higher q-value than that. Unknown
    codings are ignored. Identity is refused only by `identity;q=0`, or by `*;q=0` without an
    `identity` entry; then a 406 unless an offered coding is acceptable.
    """
    if accept_encoding is None or not accept_encoding.strip():
        return IDENTITY
    explicit: dict[str, tuple[float, int]] = {}
    for position, part in enumerate(accept_encoding.split(",")):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        name = _ALIASES.get(name, name)
        if name and name not in explicit:
            explicit[name] = (q_value(params), position)
    star = explicit.get("*")
    candidates: list[tuple[float, int, str]] = []
    for rank, coding in enumerate(CODINGS):
        quality, position = explicit.get(coding) or (
            (star[0], len(explicit) + rank) if star else (0.0, 0)
        )
        if quality > 0:
            candidates.append((quality, -position, coding))
    best = max(candidates) if candidates else None
    identity = explicit.get(IDENTITY)
    if identity is not None:
        identity_quality = identity[0]
    elif star is not None and star[0] <= 0:
        identity_quality = 0.0
    else:
        identity_quality = -1.0  # acceptable, with no stated preference
    if best is not None and best[0] >= identity_quality:
        return best[2]
    if identity_quality != 0:
        return IDENTITY
    raise not_acceptable()


class Compressor(Protocol):
    """One response body's compressor: every `compress` returns all its input so far, decodable."""

    coding: str

    def compress(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class _Gzip:
    coding = "gzip"

    def __init__(self, level: int) -> None:
        self._zlib = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def compress(self, chunk: bytes) -> bytes:
        # Z_SYNC_FLUSH ends the deflate block on a byte boundary: the client can decode up to here.
        return self._zlib.compress(chunk) + self._zlib.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._zlib.flush(zlib.Z_FINISH)


def _zstd_module() -> Any:
    # The standard library's binding from Python 3.14 on; before, the maintained `zstandard`
    # package (pinned in pyproject.toml for those versions only). Both are typed as Any here:
    # mypy checks this project as Python 3.11, which has neither in its stubs.
    if sys.version_info >= (3, 14):
        return importlib.import_module("compression.zstd")
    return importlib.import_module("zstandard")


class _Zstd:
    coding = "zstd"
    _compress: Callable[[bytes], bytes]
    _flush_block: Callable[[], bytes]
    _flush_frame: Callable[[], bytes]

    def __init__(self, level: int) -> None:
        module = _zstd_module()
        if sys.version_info >= (3, 14):
            compressor = module.ZstdCompressor(level=level)
            block, frame = compressor.FLUSH_BLOCK, compressor.FLUSH_FRAME
        else:
            compressor = module.ZstdCompressor(level=level).compressobj()
            block, frame = module.COMPRESSOBJ_FLUSH_BLOCK, module.COMPRESSOBJ_FLUSH_FINISH
        self._compress = compressor.compress
        self._flush_block = lambda: bytes(compressor.flush(block))
        self._flush_frame = lambda: bytes(compressor.flush(frame))

    def compress(self, chunk: bytes) -> bytes:
        # A block flush: everything given so far can be decoded; the frame stays open.
        return bytes(self._compress(chunk)) + self._flush_block()

    def finish(self) -> bytes:
        return self._flush_frame()


def open_compressor(coding: str, level: int | None = None) -> Compressor:
    if coding == "gzip":
        return _Gzip(GZIP_LEVEL if level is None else level)
    if coding == "zstd":
        return _Zstd(ZSTD_LEVEL if level is None else level)
    raise ValueError(f"unknown coding {coding!r}; expected one of {', '.join(CODINGS)}")


async def compress_chunk(compressor: Compressor, chunk: bytes) -> bytes:
    """`compressor.compress(chunk)`, in a worker thread when the chunk is large."""
    if len(chunk) >= THREAD_MINIMUM:
        return await anyio.to_thread.run_sync(compressor.compress, chunk)
    return compressor.compress(chunk)


class DecodeError(ValueError):
    """A body that is not what its `Content-Encoding` says, or ends inside a member or frame."""


class _Unit(Protocol):
    # zlib's decompressor, zstandard's decompressobj() and compression.zstd's decompressor all
    # have this shape: one gzip member or zstd frame each, with what follows it left over.
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


class Decoder:
    """Decodes a body as it arrives, one piece at a time, across gzip members and zstd frames.

    A body may hold several: Django's gzip middleware makes each streamed chunk a gzip member of
    its own. `zlib.decompressobj(wbits=31)` alone stops at the end of the first and leaves the
    rest in `unused_data`; here a new unit starts where the last one ended.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._new_unit: Callable[[], _Unit] | None = _unit_factory(coding)
        self._unit: _Unit | None = None
        self._units_ended = 0

    def decode(self, data: bytes) -> bytes:
        if self._new_unit is None:
            return data
        out = bytearray()
        try:
            while data:
                if self._unit is None:
                    self._unit = self._new_unit()
                out += self._unit.decompress(data)
                if not self._unit.eof:
                    break
                data = bytes(self._unit.unused_data)
                self._unit = None
                self._units_ended += 1
        # zlib.error, ValueError and zstandard.ZstdError share no base below Exception.
        except Exception as error:
            raise DecodeError(f"not a valid {self.coding} body: {error}") from None
        return bytes(out)

    def finish(self) -> None:
        """Raises `DecodeError` when the body ended inside a member or frame, or held none."""
        if self._new_unit is None:
            return
        if self._unit is not None:
            raise DecodeError(f"{self.coding} body ends inside a member or frame")
        if not self._units_ended:
            raise DecodeError(f"empty {self.coding} body")


def _unit_factory(coding: str) -> Callable[[], _Unit] | None:
    if coding == IDENTITY:
        return None
    if coding == "gzip":
        return lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "zstd":
        module = _zstd_module()
        if sys.version_info >= (3, 14):
            return lambda: module.ZstdDecompressor()
        decompressor = module.ZstdDecompressor()
        return lambda: decompressor.decompressobj()
    raise DecodeError(f"unknown Content-Encoding {coding!r}")


def open_decoder(content_encoding: str | None) -> Decoder:
    """A decoder for a response's `Content-Encoding` (absent: identity)."""
    coding = (content_encoding or IDENTITY).strip().lower()
    return Decoder(_ALIASES.get(coding, coding))


def decode(content_encoding: str | None, body: bytes) -> bytes:
    """A whole body, decoded; `DecodeError` when it is not complete and valid."""
    decoder = open_decoder(content_encoding)
    out = decoder.decode(body)
    decoder.finish()
    return out
