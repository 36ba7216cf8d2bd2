"""aiohttp's client as the measuring client: `iter_any`, whatever arrived since the last read
(aiohttp's parser hands the body over as the socket delivers it)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping
from typing import ClassVar

import aiohttp
from aiohttp.connector import AddrInfoType

from .base import CONNECT_TIMEOUT, DEFAULT_HEADERS, REQUEST_TIMEOUT, Streamed

# aiohttp's default read buffer, and a paced reader's.
DEFAULT_READ_BUFFER = 2**16
PACED_READ_BUFFER = 16_384


class AiohttpClient:
    name: ClassVar[str] = "aiohttp"
    errors: ClassVar[tuple[type[BaseException], ...]] = (aiohttp.ClientError, asyncio.TimeoutError)

    def __init__(self, connections: int, receive_buffer: int | None = None) -> None:
        factory = None
        if receive_buffer is not None:

            def factory(address: AddrInfoType) -> socket.socket:
                family, kind, protocol, _, _ = address
                sock = socket.socket(family, kind, protocol)
                # Before connect(), as httpx's socket_options do: the window is set at the handshake.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
                return sock

        connector = aiohttp.TCPConnector(
            limit=connections, limit_per_host=connections, socket_factory=factory
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Per read, as httpx's timeout: a whole paced body may take longer.
            timeout=aiohttp.ClientTimeout(
                total=None, connect=CONNECT_TIMEOUT, sock_read=REQUEST_TIMEOUT
            ),
            trust_env=False,
            auto_decompress=False,
            headers=DEFAULT_HEADERS,
            # A paced reader holds little beyond the kernel's small buffer: aiohttp's own read
            # buffer (twice this before it stops reading) would otherwise take hundreds of kB
            # more off the server than httpx's reader does.
            read_bufsize=DEFAULT_READ_BUFFER if receive_buffer is None else PACED_READ_BUFFER,
        )

    @contextlib.asynccontextmanager
    async def stream(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> AsyncIterator[Streamed]:
        async with self._session.get(url, params=dict(params), headers=dict(headers)) as response:
            yield Streamed(
                response.status,
                response.content.iter_any(),
                response.headers.get("Content-Encoding"),
            )

    async def aclose(self) -> None:
        await self._session.close()
