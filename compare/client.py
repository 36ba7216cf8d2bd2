"""The measuring client: httpx, reading bodies as they arrive (aiter_raw), one request or a round,
at full speed or at a read rate (compare/read_rates.py)."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field

import httpx

from .analysis import RowCounter
from .read_rates import Pacer

# Longer than any scenario: a slow response is a figure to report, not an error.
REQUEST_TIMEOUT = 600.0


@dataclass(frozen=True)
class RequestTiming:
    """One request, times in seconds from just before it was sent.

    `ttfb` is the time to the first non-empty body piece (None for an empty body); `arrival`
    is the cumulative byte count after each piece.
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

    @property
    def reached_rate(self) -> float | None:
        """Bytes per second from the first byte to the end: what a paced reader reached."""
        if self.ttfb is None or self.total <= self.ttfb:
            return None
        return self.bytes / (self.total - self.ttfb)


def make_client(connections: int, receive_buffer: int | None = None) -> httpx.AsyncClient:
    """One client for a run: enough kept-alive connections for the highest concurrency. With
    `receive_buffer`, its sockets' SO_RCVBUF is that many bytes (a paced reader's)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    transport = None
    if receive_buffer is not None:
        transport = httpx.AsyncHTTPTransport(
            limits=limits,
            socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)],
        )
    return httpx.AsyncClient(
        timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=10.0),
        limits=limits,
        transport=transport,
        trust_env=False,
    )


async def timed_request(
    client: httpx.AsyncClient,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
    format: str,
    expected_rows: int,
    expected_bytes: int | None = None,
    read_rate: float | None = None,
) -> RequestTiming:
    """One request read as it arrives, no faster than `read_rate` bytes per second when given;
    wrong status, row count or (when given) byte length make it a failed request. Counting bytes
    is free on the hot path; hashing them is not, and every body was hashed once at verification."""
    counter = RowCounter(format)
    pacer = Pacer(read_rate)
    arrival: list[tuple[float, int]] = []
    received = 0
    chunks = 0
    header_time: float | None = None
    first: float | None = None
    status: int | None = None
    started = time.perf_counter()
    try:
        async with client.stream("GET", url, params=params, headers=headers) as response:
            header_time = time.perf_counter() - started
            status = response.status_code
            async for piece in response.aiter_raw():
                if not piece:
                    continue
                now = time.perf_counter() - started
                if first is None:
                    first = now
                received += len(piece)
                chunks += 1
                counter.feed(piece)
                arrival.append((now, received))
                await pacer.wait(received)
    except httpx.HTTPError as failure:
        error: str | None = f"{type(failure).__name__}: {failure} after {received} bytes"
    else:
        error = None
        if status != 200:
            error = f"status {status}"
        elif counter.rows != expected_rows:
            error = f"{counter.rows} rows, expected {expected_rows}"
        elif expected_bytes is not None and received != expected_bytes:
            error = f"{received} bytes, expected {expected_bytes}"
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
    )


@dataclass(frozen=True)
class Round:
    """`concurrency` simultaneous requests, and the wall time from the first start to the last end."""

    requests: list[RequestTiming]
    seconds: float


async def timed_round(
    client: httpx.AsyncClient,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
    format: str,
    expected_rows: int,
    concurrency: int,
    expected_bytes: int | None = None,
    read_rate: float | None = None,
) -> Round:
    started = time.perf_counter()
    requests = await asyncio.gather(
        *(
            timed_request(
                client, url, params, headers, format, expected_rows, expected_bytes, read_rate
            )
            for _ in range(concurrency)
        )
    )
    return Round(list(requests), time.perf_counter() - started)
