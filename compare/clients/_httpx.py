"""httpx as the measuring client: `aiter_raw`, the bytes of each read as h11 (or h2) hands them over.

`HttpxClient` speaks HTTP/1.1, one connection per simultaneous request; `Http2Client` speaks
HTTP/2 in cleartext with prior knowledge (h2c) over one connection, every simultaneous request a
stream multiplexed on it: what HTTP/2 is for, and what a scenario over it measures.
"""

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

    http2: ClassVar[bool] = False

    def __init__(self, connections: int, receive_buffer: int | None = None) -> None:
        if self.http2:
            connections = 1  # every request a stream of the one connection
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        socket_options = []
        if receive_buffer is not None:
            socket_options.append((socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer))
        # The transport is built here in every case: `http1`/`http2` given to the client are
        # ignored when a transport is passed, and the transport's decide the protocol.
        transport = httpx.AsyncHTTPTransport(
            limits=limits,
            socket_options=socket_options or None,
            http1=not self.http2,
            http2=self.http2,
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
            if self.http2 and response.http_version != "HTTP/2":
                # A server that ignored the preface would be measured as HTTP/1.1 under HTTP/2's name.
                raise httpx.RemoteProtocolError(
                    f"asked for HTTP/2, answered in {response.http_version}"
                )
            yield Streamed(
                response.status_code, response.aiter_raw(), response.headers.get("content-encoding")
            )

    async def aclose(self) -> None:
        await self._client.aclose()


class Http2Client(HttpxClient):
    """httpx over HTTP/2 with prior knowledge: one connection, each request a stream on it."""

    name: ClassVar[str] = "httpx"
    http2: ClassVar[bool] = True
