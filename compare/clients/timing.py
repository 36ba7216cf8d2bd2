"""Timing a request the same way whichever client reads it: headers, the first body byte, each
piece's arrival, the total, bytes and rows; one request or a round, at full speed or at a read
rate (compare/read_rates.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.compression import DecodeError, open_decoder

from ..analysis import RowCounter
from ..read_rates import Pacer
from .base import MeasuringClient

if TYPE_CHECKING:
    from ..load.base import ClientLoad

__all__ = ["BodyTimer", "RequestTiming", "Round", "timed_request", "timed_round"]


@dataclass(frozen=True)
class RequestTiming:
    """One request, times in seconds from just before it was sent.

    `ttfb` is the time to the first non-empty body piece (None for an empty body); `arrival`
    is the cumulative byte count after each piece; `chunks` is how many pieces the client's reads
    returned. `bytes` and `arrival` count what arrived on the wire; `decoded` the body once its
    `Content-Encoding` is undone (the same as `bytes` for an identity body). `sent` is when it was
    sent on `time.perf_counter()`'s clock (the system's monotonic clock, one for every process of
    the machine), so the requests of a round can be set against each other (compare/streams.py);
    None where it was not recorded.
    """

    ok: bool
    error: str | None
    status: int | None
    headers: float | None
    ttfb: float | None
    total: float
    bytes: int
    rows: int
    chunks: int
    arrival: list[tuple[float, int]] = field(default_factory=list)
    sent: float | None = None
    decoded: int | None = None  # None: as `bytes` (an identity body, or a file before it)

    @property
    def decoded_bytes(self) -> int:
        return self.bytes if self.decoded is None else self.decoded

    @property
    def reached_rate(self) -> float | None:
        """Bytes per second from the first byte to the end: what a paced reader reached."""
        if self.ttfb is None or self.total <= self.ttfb:
            return None
        return self.bytes / (self.total - self.ttfb)


class BodyTimer:
    """Times one request from its construction: headers, each body piece as it arrives, then the
    verdict. Plain synchronous code, so that any reader drives it the same way: the asyncio
    clients here and a load tool's greenlets in another process (compare/load/).

    A compressed body is decoded as it is read, by its `Content-Encoding`, to count its rows and
    its decoded bytes (`expected_bytes` is the decoded length): the client pays for decoding, as
    any real client of a compressed response does, so the total includes it."""

    def __init__(self, format: str) -> None:
        self.counter = RowCounter(format)
        self.arrival: list[tuple[float, int]] = []
        self.received = 0
        self.decoded = 0
        self.decoder = open_decoder(None)
        self.chunks = 0
        self.header_time: float | None = None
        self.first: float | None = None
        self.status: int | None = None
        self.started = time.perf_counter()

    def headers(self, status: int, content_encoding: str | None = None) -> None:
        self.header_time = time.perf_counter() - self.started
        self.status = status
        self.decoder = open_decoder(content_encoding)

    def piece(self, piece: bytes) -> int:
        """Counts a piece read from the body (an empty one is no piece); the bytes so far."""
        if piece:
            now = time.perf_counter() - self.started
            if self.first is None:
                self.first = now
            self.received += len(piece)
            self.chunks += 1
            body = self.decoder.decode(piece)  # DecodeError: see `undecodable`
            self.decoded += len(body)
            self.counter.feed(body)
            self.arrival.append((now, self.received))
        return self.received

    def failed(self, failure: BaseException) -> RequestTiming:
        """The timing of a request the client raised on, `failure` named as its error."""
        return self._timing(f"{type(failure).__name__}: {failure} after {self.received} bytes")

    def undecodable(self, failure: DecodeError) -> RequestTiming:
        """The timing of a body its Content-Encoding could not decode."""
        return self._timing(f"{failure} after {self.received} bytes")

    def finished(self, expected_rows: int, expected_bytes: int | None = None) -> RequestTiming:
        """The timing of a body read to its end: wrong status, row count or (when given) byte
        length make it a failed request."""
        error = None
        if self.status != 200:
            error = f"status {self.status}"
        elif self.counter.rows != expected_rows:
            error = f"{self.counter.rows} rows, expected {expected_rows}"
        elif expected_bytes is not None and self.decoded != expected_bytes:
            what = "bytes" if self.decoded == self.received else "decoded bytes"
            error = f"{self.decoded} {what}, expected {expected_bytes}"
        return self._timing(error)

    def _timing(self, error: str | None) -> RequestTiming:
        return RequestTiming(
            ok=error is None,
            error=error,
            status=self.status,
            headers=self.header_time,
            ttfb=self.first,
            total=time.perf_counter() - self.started,
            bytes=self.received,
            rows=self.counter.rows,
            chunks=self.chunks,
            arrival=self.arrival,
            sent=self.started,
            decoded=None if self.decoded == self.received else self.decoded,
        )


async def timed_request(
    client: MeasuringClient,
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    format: str,
    expected_rows: int,
    expected_bytes: int | None = None,
    read_rate: float | None = None,
) -> RequestTiming:
    """One request read as it arrives, no faster than `read_rate` bytes per second when given;
    wrong status, row count or (when given) byte length make it a failed request. Counting bytes
    is free on the hot path; hashing them is not, and every body was hashed once at verification.
    A compressed body is decoded as it arrives (`BodyTimer`)."""
    # Full speed reads without a pacer: nothing more per piece than counting it.
    pacer = Pacer(read_rate) if read_rate is not None else None
    timer = BodyTimer(format)
    try:
        async with client.stream(url, params, headers) as response:
            timer.headers(response.status, response.content_encoding)
            async for piece in response.pieces:
                received = timer.piece(piece)
                if pacer is not None and piece:
                    await pacer.wait(received)
    except client.errors as failure:
        return timer.failed(failure)
    except DecodeError as failure:
        return timer.undecodable(failure)
    return timer.finished(expected_rows, expected_bytes)


@dataclass(frozen=True)
class Round:
    """`concurrency` simultaneous streams of requests, and the wall time from the first start to
    the last end;
    `load`, what sending them cost the client side, when the engine measured it."""

    requests: list[RequestTiming]
    seconds: float
    load: ClientLoad | None = None


async def timed_round(
    client: MeasuringClient,
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    format: str,
    expected_rows: int,
    concurrency: int,
    expected_bytes: int | None = None,
    read_rate: float | None = None,
    requests_per_stream: int = 1,
) -> Round:
    """`concurrency` streams that start together, each sending `requests_per_stream` requests one
    after another (a closed loop, as wrk keeps its connections busy): with one, every request of
    the round starts at once; with more, most of them meet a server already serving the others,
    as in a steady load."""

    async def stream() -> list[RequestTiming]:
        return [
            await timed_request(
                client, url, params, headers, format, expected_rows, expected_bytes, read_rate
            )
            for _ in range(requests_per_stream)
        ]

    started = time.perf_counter()
    streams = await asyncio.gather(*(stream() for _ in range(concurrency)))
    return Round([r for sent in streams for r in sent], time.perf_counter() - started)
