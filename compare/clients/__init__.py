"""The measuring clients: one timing (compare/clients/timing.py) over interchangeable HTTP
libraries, named here by import string and loaded only when a run asks for one."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
from collections.abc import AsyncIterator

from .base import REQUEST_TIMEOUT, MeasuringClient, Streamed
from .timing import BodyTimer, RequestTiming, Round, timed_request, timed_round

__all__ = [
    "CLIENTS",
    "DEFAULT_CLIENT",
    "HTTP2_CLIENT",
    "HTTP2_READER",
    "REQUEST_TIMEOUT",
    "BodyTimer",
    "MeasuringClient",
    "RequestTiming",
    "Round",
    "Streamed",
    "client_version",
    "http2_client_version",
    "open_client",
    "timed_request",
    "timed_round",
]

CLIENTS: dict[str, str] = {
    "aiohttp": "compare.clients._aiohttp:AiohttpClient",
    "httpx": "compare.clients._httpx:HttpxClient",
}
# Chosen by measurement (benchmarks/clients.py; the README's "Which client measures"): read
# from memory, aiohttp's client is faster than httpx at every size and concurrency measured.
DEFAULT_CLIENT = "aiohttp"
# What reads a body over HTTP/2, whichever client the run chose: aiohttp's client speaks only
# HTTP/1.1. httpx with h2, every simultaneous request a stream of one connection.
HTTP2_CLIENT = "compare.clients._httpx:Http2Client"
# How ceilings and flags name that reader.
HTTP2_READER = "httpx"


@contextlib.asynccontextmanager
async def open_client(
    name: str, connections: int, receive_buffer: int | None = None, http: str = "1.1"
) -> AsyncIterator[MeasuringClient]:
    """The client `name` (a key of `CLIENTS`) with `connections` kept-alive connections; with
    `receive_buffer`, its sockets' SO_RCVBUF is that many bytes (a paced reader's). With `http`
    "2", the HTTP/2 client instead (`HTTP2_CLIENT`), on one connection."""
    try:
        target = CLIENTS[name]
    except KeyError:
        raise ValueError(f"unknown client {name!r}; expected {', '.join(CLIENTS)}") from None
    if http == "2":
        target = HTTP2_CLIENT
    elif http != "1.1":
        raise ValueError(f"unknown HTTP version {http!r}; expected 1.1, 2")
    module, _, attribute = target.partition(":")
    kind = getattr(importlib.import_module(module), attribute)
    client: MeasuringClient = kind(connections, receive_buffer)
    try:
        yield client
    finally:
        await client.aclose()


def client_version(name: str) -> str:
    """`name version`, as the environment block records the client."""
    return f"{name} {importlib.metadata.version(name)}"


def http2_client_version() -> str:
    """What reads the HTTP/2 scenarios, as the environment block records it."""
    return f"httpx {importlib.metadata.version('httpx')} with h2 {importlib.metadata.version('h2')}"
