"""A raw HTTP/1.1 client for the tests that must see the wire: chunk boundaries, the terminating
zero-length chunk, a connection dropped mid-body. httpx hides all three."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    chunks: list[bytes] = field(default_factory=list)
    complete: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def chunked(self) -> bool:
        return self.headers.get("transfer-encoding", "").lower() == "chunked"


class RawConnection:
    """One request on one connection, read as far as the test wants."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.response: RawResponse | None = None

    @classmethod
    async def open(
        cls, url: str, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> RawConnection:
        parts = urlsplit(url)
        assert parts.hostname
        assert parts.port
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        connection = cls(reader, writer)
        await connection._read_head()
        return connection

    async def _read_head(self) -> None:
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed before the status line")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        self.response = RawResponse(status, headers)

    async def read_chunk(self) -> bytes | None:
        """The next body chunk; None at the clean end. Raises IncompleteBody on a cut body."""
        response = self.response
        assert response is not None
        if response.complete:
            return None
        if not response.chunked:
            length = int(response.headers.get("content-length", "0"))
            data = await self._exactly(length)
            response.chunks.append(data)
            response.complete = True
            return data
        size_line = await self.reader.readline()
        if not size_line.endswith(b"\n"):
            raise IncompleteBody(response)
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while (line := await self.reader.readline()) not in (b"\r\n", b"\n"):
                if not line:
                    raise IncompleteBody(response)
            response.complete = True
            return None
        data = await self._exactly(size)
        if await self.reader.readexactly(2) != b"\r\n":
            raise AssertionError("chunk not followed by CRLF")
        response.chunks.append(data)
        return data

    async def _exactly(self, size: int) -> bytes:
        try:
            return await self.reader.readexactly(size)
        except asyncio.IncompleteReadError as error:
            assert self.response is not None
            self.response.chunks.append(error.partial)
            raise IncompleteBody(self.response) from None

    async def read_all(self) -> RawResponse:
        try:
            while await self.read_chunk() is not None:
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            assert self.response is not None
            raise IncompleteBody(self.response) from None
        assert self.response is not None
        return self.response

    def abort(self) -> None:
        """Drop the connection at once (RST), the way a killed client goes away."""
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class IncompleteBody(Exception):
    """The connection ended before the body's end: what a client must see after a failure."""

    def __init__(self, response: RawResponse) -> None:
        super().__init__(f"body cut after {len(response.body)} bytes")
        self.response = response


async def fetch(url: str, path: str, headers: dict[str, str] | None = None) -> RawResponse:
    connection = await RawConnection.open(url, path, headers)
    try:
        return await connection.read_all()
    finally:
        await connection.close()


Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(answer: Answer) -> AsyncIterator[str]:
    """A server on a free loopback port whose every connection `answer` serves, until the
    client goes; yields its base URL. For tests whose server must misbehave or count."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                await answer(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
