"""HTTP/2 in cleartext with prior knowledge, spoken with the `h2` state machine over a plain socket,
for the tests that need what a library client will not do on purpose: reset one stream mid-body
and keep the connection, or drop the connection with streams open.

httpx (httpcore 1.0) sends no RST_STREAM when a response is closed before its end
(`HTTP2Connection._response_closed` only forgets the stream), so it cannot ask a server to stop
one stream; here a test can.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events

READ_SIZE = 65_536


@dataclass
class H2Stream:
    stream_id: int
    status: int | None = None
    pieces: list[bytes] = field(default_factory=list)
    ended: bool = False
    reset: bool = False

    @property
    def received(self) -> int:
        return sum(map(len, self.pieces))


class H2Connection:
    """One client connection; every stream's events are read as they come."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader = reader
        self._writer = writer
        self._host = host
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.streams: dict[int, H2Stream] = {}
        self.closed_by_server = False

    @classmethod
    async def open(cls, base_url: str) -> H2Connection:
        parts = urlsplit(base_url)
        assert parts.hostname is not None
        assert parts.port is not None
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        connection = cls(reader, writer, f"{parts.hostname}:{parts.port}")
        connection._h2.initiate_connection()
        await connection._flush()
        return connection

    async def request(self, path: str) -> H2Stream:
        """Send a GET; return once its status has arrived."""
        stream_id = self._h2.get_next_available_stream_id()
        self._h2.send_headers(
            stream_id,
            [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", self._host)],
            end_stream=True,
        )
        stream = self.streams[stream_id] = H2Stream(stream_id)
        await self._flush()
        while stream.status is None and not stream.reset and not self.closed_by_server:
            await self.read_events()
        return stream

    async def read_piece(self, stream: H2Stream) -> bytes:
        """The stream's next DATA frame's bytes (b"" once it ended or was reset)."""
        have = len(stream.pieces)
        while len(stream.pieces) == have and not (stream.ended or stream.reset):
            if self.closed_by_server:
                raise ConnectionError("the server closed the connection")
            await self.read_events()
        return stream.pieces[have] if len(stream.pieces) > have else b""

    async def read_to_end(self, stream: H2Stream) -> bytes:
        while not (stream.ended or stream.reset):
            await self.read_piece(stream)
        return b"".join(stream.pieces)

    async def reset(self, stream: H2Stream) -> None:
        """RST_STREAM (CANCEL): this stream stops, the connection stays."""
        self._h2.reset_stream(stream.stream_id, error_code=h2.errors.ErrorCodes.CANCEL)
        stream.reset = True
        await self._flush()

    def abort(self) -> None:
        """Drop the connection without a GOAWAY: a client that went away."""
        transport = self._writer.transport
        transport.abort()

    async def close(self) -> None:
        self._h2.close_connection()
        with contextlib.suppress(ConnectionError):
            await self._flush()
        self._writer.close()

    async def read_events(self) -> None:
        data = await self._reader.read(READ_SIZE)
        if not data:
            self.closed_by_server = True
            return
        for event in self._h2.receive_data(data):
            stream = self.streams.get(getattr(event, "stream_id", 0) or 0)
            if isinstance(event, h2.events.ResponseReceived) and stream is not None:
                # Decoded to str by the configuration's header_encoding.
                headers = {str(name): str(value) for name, value in event.headers}
                stream.status = int(headers[":status"])
            elif isinstance(event, h2.events.DataReceived):
                # Give the window back at once: the reader is never what holds the server up.
                self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if stream is not None and not stream.reset:
                    stream.pieces.append(event.data)
            elif isinstance(event, h2.events.StreamEnded) and stream is not None:
                stream.ended = True
            elif isinstance(event, h2.events.StreamReset) and stream is not None:
                stream.reset = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.closed_by_server = True
        await self._flush()

    async def _flush(self) -> None:
        data = self._h2.data_to_send()
        if data:
            self._writer.write(data)
            await self._writer.drain()
