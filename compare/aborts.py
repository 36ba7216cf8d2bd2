"""What a reader that vanishes mid-body costs: the time until the server has given its pooled
connection back and the database's backend is idle again.

A raw socket (a small receive buffer, as a paced reader's) asks for a `/chunked` body, reads
part of it at the scenario's rate, then goes away: with a TCP reset (`SO_LINGER` zero, how a
killed process or a dropped mobile link ends) or a clean close (a FIN first, then the socket
closed). From that moment the server's pool ledger and `pg_stat_activity` are polled until
nothing of the server is held or busy. Run after a scenario's rounds, with nothing else in
flight on that server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlencode, urlsplit

from .read_rates import PACED_RECEIVE_BUFFER, Pacer
from .results import AbortCost, Stats

__all__ = ["ABORTS_PER_KIND", "AbortCheck", "measure_aborts"]

ABORTS_PER_KIND = 3
# Read this much of the body before vanishing (half the body when it is smaller).
ABORT_AFTER_BYTES = 256 * 1024
# Past this, the server is still holding what the reader left behind: counted as leaked.
ABORT_PATIENCE = 15.0
POLL_SECONDS = 0.005

# Whether the server still holds anything for the vanished reader: pooled connections
# checked out, or database backends busy. None when it cannot be told.
AbortCheck = Callable[[], Awaitable[bool | None]]


async def measure_aborts(
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    read_rate: float | None,
    body_bytes: int,
    holding: AbortCheck,
) -> AbortCost | None:
    """ABORTS_PER_KIND resets and as many clean closes; None when `holding` cannot tell."""
    after = max(1, min(ABORT_AFTER_BYTES, body_bytes // 2))
    if await holding() is None:
        return None
    times: dict[str, list[float]] = {"reset": [], "close": []}
    leaked = 0
    for _ in range(ABORTS_PER_KIND):
        for kind in times:
            took = await _one_abort(url, params, headers, read_rate, after, kind, holding)
            if took is None:
                leaked += 1
            else:
                times[kind].append(took)
    return AbortCost(
        after_bytes=after,
        reset=Stats.maybe(times["reset"]),
        close=Stats.maybe(times["close"]),
        leaked=leaked,
        patience=ABORT_PATIENCE,
    )


async def _one_abort(
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    read_rate: float | None,
    after: int,
    kind: str,
    holding: AbortCheck,
) -> float | None:
    """Seconds from vanishing until nothing is held; None past ABORT_PATIENCE."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    assert host is not None
    assert port is not None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, PACED_RECEIVE_BUFFER)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(sock, (host, port))
    except OSError:
        sock.close()
        raise
    reader, writer = await asyncio.open_connection(sock=sock, limit=PACED_RECEIVE_BUFFER)
    target = f"{parts.path}?{urlencode(dict(params))}"
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    pacer = Pacer(read_rate)
    received = 0
    try:
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        while received < after:
            piece = await reader.read(min(PACED_RECEIVE_BUFFER, after - received))
            if not piece:
                break
            received += len(piece)
            await pacer.wait(received)
    finally:
        if kind == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await writer.wait_closed()
    vanished = time.perf_counter()
    deadline = vanished + ABORT_PATIENCE
    while time.perf_counter() < deadline:
        if not await holding():
            return time.perf_counter() - vanished
        await asyncio.sleep(POLL_SECONDS)
    return None
