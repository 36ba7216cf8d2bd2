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
    "REQUEST_TIMEOUT",
    "BodyTimer",
    "MeasuringClient",
    "RequestTiming",
    "Round",
    "Streamed",
    "client_version",
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


@contextlib.asynccontextmanager
async def open_client(
    name: str, connections: int, receive_buffer: int | None = None
) -> AsyncIterator[MeasuringClient]:
    """The client `name` (a key of `CLIENTS`) with `connections` kept-alive connections; with
    `receive_buffer`, its sockets' SO_RCVBUF is that many bytes (a paced reader's)."""
    try:
        target = CLIENTS[name]
    except KeyError:
        raise ValueError(f"unknown client {name!r}; expected {', '.join(CLIENTS)}") from None
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
