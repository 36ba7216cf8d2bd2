"""httpx as the measuring client: `aiter_raw`, the bytes of each read as h11 hands them over."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Mapping
from typing import ClassVar

import httpx

from .base import CONNECT_TIMEOUT, DEFAULT_HEADERS, REQUEST_TIMEOUT, Streamed


class HttpxClient:
    name: ClassVar[str] = "httpx"
    errors: ClassVar[tuple[type[BaseException], ...]] = (httpx.HTTPError,)

    def __init__(self, connections: int, receive_buffer: int | None = None) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        transport = None
        if receive_buffer is not None:
            transport = httpx.AsyncHTTPTransport(
                limits=limits,
                socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)],
            )
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
            limits=limits,
            transport=transport,
            trust_env=False,
            headers=DEFAULT_HEADERS,
        )

    @contextlib.asynccontextmanager
    async def stream(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> AsyncIterator[Streamed]:
        async with self._client.stream(
            "GET", url, params=dict(params), headers=dict(headers)
        ) as response:
            yield Streamed(
                response.status_code, response.aiter_raw(), response.headers.get("content-encoding")
            )

    async def aclose(self) -> None:
        await self._client.aclose()
