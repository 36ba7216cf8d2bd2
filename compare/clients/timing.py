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

__all__ = ["RequestTiming", "Round", "timed_request", "timed_round"]


@dataclass(frozen=True)
class RequestTiming:
    """One request, times in seconds from just before it was sent.

    `ttfb` is the time to the first non-empty body piece (None for an empty body); `arrival`
    is the cumulative byte count after each piece; `chunks` is how many pieces the client's reads
    returned. `bytes` and `arrival` count what arrived on the wire; `decoded` the body once its
    `Content-Encoding` is undone (the same as `bytes` for an identity body).
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

    A compressed body is decoded as it is read, by its `Content-Encoding`, to count its rows and
    its decoded bytes (`expected_bytes` is the decoded length): the client pays for decoding, as
    any real client of a compressed response does, so the total includes it."""
    counter = RowCounter(format)
    # Full speed reads without a pacer: nothing more per piece than counting it.
    pacer = Pacer(read_rate) if read_rate is not None else None
    arrival: list[tuple[float, int]] = []
    received = 0
    decoded = 0
    chunks = 0
    header_time: float | None = None
    first: float | None = None
    status: int | None = None
    started = time.perf_counter()
    try:
        async with client.stream(url, params, headers) as response:
            header_time = time.perf_counter() - started
            status = response.status
            decoder = open_decoder(response.content_encoding)
            async for piece in response.pieces:
                if not piece:
                    continue
                now = time.perf_counter() - started
                if first is None:
                    first = now
                received += len(piece)
                chunks += 1
                body = decoder.decode(piece)
                decoded += len(body)
                counter.feed(body)
                arrival.append((now, received))
                if pacer is not None:
                    await pacer.wait(received)
            decoder.finish()
    except client.errors as failure:
        error: str | None = f"{type(failure).__name__}: {failure} after {received} bytes"
    except DecodeError as failure:
        error = f"{failure} after {received} bytes"
    else:
        error = None
        if status != 200:
            error = f"status {status}"
        elif counter.rows != expected_rows:
            error = f"{counter.rows} rows, expected {expected_rows}"
        elif expected_bytes is not None and decoded != expected_bytes:
            error = f"{decoded} decoded bytes, expected {expected_bytes}"
    total = time.perf_counter() - started
    return RequestTiming(
        ok=error is None,
        error=error,
        status=status,
        headers=header_time,
        ttfb=first,
        total=total,
        bytes=received,
        rows=counter.rows,
        chunks=chunks,
        arrival=arrival,
        decoded=None if decoded == received else decoded,
    )


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
