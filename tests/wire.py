"""Bytes on a socket, for the tests that must send what no HTTP client library would: raw header
bytes, HTTP/1.0, oversized or unfinished heads. Reads until the server ends the connection and
says how it ended (a clean close, a reset, or not at all within the time given)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest


@dataclass
class WireResult:
    raw: bytes
    ended: str  # "eof", "reset" or "timeout"
    seconds: float

    @property
    def head(self) -> bytes:
        return self.raw.partition(b"\r\n\r\n")[0]

    @property
    def body(self) -> bytes:
        return self.raw.partition(b"\r\n\r\n")[2]

    @property
    def status(self) -> int | None:
        line = self.head.split(b"\r\n", 1)[0]
        parts = line.split()
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None

    @property
    def headers(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in self.head.split(b"\r\n")[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        return fields


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname
    assert parts.port
    return parts.hostname, parts.port


def request_head(
    path: str, *fields: bytes, version: bytes = b"HTTP/1.1", host: bytes = b"x"
) -> bytes:
    """A request head, ending with `Connection: close` so that the answer ends with the
    connection on every HTTP version."""
    lines = [b"GET " + path.encode() + b" " + version, b"Host: " + host, *fields]
    if version == b"HTTP/1.1":
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def exchange(url: str, data: bytes, patience: float = 15.0) -> WireResult:
    """Send `data`, then read until the server closes or resets the connection."""
    reader, writer = await asyncio.open_connection(*address(url))
    started = time.monotonic()
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await read_to_end(reader, patience, started)
    finally:
        writer.transport.abort()


async def read_to_end(
    reader: asyncio.StreamReader, patience: float, started: float | None = None
) -> WireResult:
    started = time.monotonic() if started is None else started
    received = bytearray()
    ended = "timeout"
    try:
        async with asyncio.timeout(patience):
            while True:
                piece = await reader.read(65536)
                if not piece:
                    ended = "eof"
                    break
                received += piece
    except TimeoutError:
        ended = "timeout"
    except ConnectionError:  # reset, or a broken pipe the stream reader kept for us
        ended = "reset"
    return WireResult(bytes(received), ended, time.monotonic() - started)


def gap(pair_name: str, point: str) -> str | None:
    """Why the pair's server cannot meet contract point `point`, or None when it can."""
    from shared.pairs import load_pair

    return load_pair(pair_name).gaps().get(point)


def expect_gap(request: pytest.FixtureRequest, pair_name: str, point: str) -> None:
    """Mark the test an expected failure when the pair's server records `point` as a gap
    (`ServerDescriptor.gaps`), with its reason. Strict: a gap that no longer fails is an error,
    so the descriptor cannot claim more (or less) than the server really does."""
    reason = gap(pair_name, point)
    if reason is not None:
        request.node.add_marker(pytest.mark.xfail(reason=reason, strict=True))
