"""A raw asyncio server that serves prepared bodies from memory, chunk by chunk, over HTTP/1.1 or
HTTP/2 in cleartext with prior knowledge (a connection that opens with the HTTP/2 preface).

Run as its own process (`python -m compare._memory_server DIR`) so the client being measured has the
CPU to itself, as with a real port. `GET /<key>` serves `DIR/<key>.body` cut at the sizes listed in
`DIR/<key>.chunks` (JSON), each piece written and drained the way a port writes a batch (over
HTTP/2, as DATA frames as large as the client's flow-control window and the frame size allow). It
prints its port number on the first line of stdout and serves until terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
# A body with a `<key>.encoding` file is sent with that Content-Encoding.
_CODED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Encoding: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
)
# A body with a `<key>.encoding` file is sent with that Content-Encoding.
_CODED_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Encoding: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def framed_chunks(body: bytes, sizes: list[int]) -> list[bytes]:
    """The body as chunked-encoding frames, cut at `sizes`, with the terminating frame last."""
    frames: list[bytes] = []
    offset = 0
    for size in sizes:
        if size:
            frames.append(b"%x\r\n" % size + body[offset : offset + size] + b"\r\n")
        offset += size
    if offset != len(body):
        raise ValueError(f"chunk sizes add up to {offset}, body is {len(body)} bytes")
    frames.append(b"0\r\n\r\n")
    return frames


def pieces(body: bytes, sizes: list[int]) -> list[bytes]:
    """The body cut at `sizes`, unframed: what HTTP/2 sends as DATA."""
    cut: list[bytes] = []
    offset = 0
    for size in sizes:
        if size:
            cut.append(body[offset : offset + size])
        offset += size
    return cut


class _Bodies:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._cache: dict[str, tuple[bytes, list[bytes]]] = {}
        self._pieces: dict[str, list[bytes]] = {}

    def get(self, key: str) -> tuple[bytes, list[bytes]] | None:
        """The head and the body's chunked-encoding frames (HTTP/1.1)."""
        if key not in self._cache:
            loaded = self._load(key)
            if loaded is None:
                return None
            coding = self.coding(key)
            head = _CODED_HEAD % coding.encode("latin-1") if coding else _HEAD
            self._cache[key] = (head, framed_chunks(*loaded))
        return self._cache[key]

    def pieces(self, key: str) -> list[bytes] | None:
        """The body's pieces, unframed (HTTP/2)."""
        if key not in self._pieces:
            loaded = self._load(key)
            if loaded is None:
                return None
            self._pieces[key] = pieces(*loaded)
        return self._pieces[key]

    def coding(self, key: str) -> str | None:
        """The Content-Encoding a body is sent with: its `<key>.encoding` file's, if any."""
        path = self._folder / f"{key}.encoding"
        return path.read_text().strip() if path.exists() else None

    def _load(self, key: str) -> tuple[bytes, list[int]] | None:
        body_path = self._folder / f"{key}.body"
        if not key.isidentifier() or not body_path.exists():
            return None
        sizes = json.loads((self._folder / f"{key}.chunks").read_text())
        return body_path.read_bytes(), sizes


async def _serve_connection(
    bodies: _Bodies, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        first = True
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                # The HTTP/2 preface reads as a head of its own, then "SM" and an empty line.
                if first and head == _H2_PREFACE[: len(head)]:
                    if (
                        await reader.readexactly(len(_H2_PREFACE) - len(head))
                        == _H2_PREFACE[len(head) :]
                    ):
                        await _serve_http2(bodies, reader, writer)
                    return
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            first = False
            path = head.split(b" ", 2)[1].decode("latin-1")
            found = bodies.get(path.lstrip("/").split("?", 1)[0])
            if found is None:
                writer.write(_NOT_FOUND)
                await writer.drain()
                continue
            head, frames = found
            writer.write(head)
            for frame in frames:
                writer.write(frame)
                await writer.drain()
    except ConnectionError:
        return
    finally:
        writer.close()


# The client's ceiling is measured at every concurrency of the run, up to thousands at once: with
# asyncio's default listen backlog (100) the connections past it wait for the kernel to retry
# their handshake (a second or more), and the ceiling would measure that, not the client. The
# kernel caps it at net.core.somaxconn (4,096 here).
LISTEN_BACKLOG = 4096


async def _serve_http2(
    bodies: _Bodies, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    import h2.config
    import h2.connection
    import h2.events

    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    # The client's preface was read already: the state machine is told of it.
    connection.initiate_connection()
    connection.receive_data(_H2_PREFACE)
    window = asyncio.Event()
    senders: dict[int, asyncio.Task[None]] = {}

    async def flush() -> None:
        data = connection.data_to_send()
        if data:
            writer.write(data)
            await writer.drain()

    async def send_body(stream_id: int, cut: list[bytes], coding: str | None) -> None:
        head = [(":status", "200"), ("content-type", "application/octet-stream")]
        connection.send_headers(
            stream_id, head + ([("content-encoding", coding)] if coding else [])
        )
        for piece in cut:
            view = memoryview(piece)
            while view:
                room = min(
                    connection.local_flow_control_window(stream_id),
                    connection.max_outbound_frame_size,
                )
                if room <= 0:
                    window.clear()
                    await flush()
                    await window.wait()
                    continue
                connection.send_data(stream_id, bytes(view[:room]))
                view = view[room:]
            await flush()  # each piece written and drained, as over HTTP/1.1
        connection.end_stream(stream_id)
        await flush()

    try:
        await flush()
        while data := await reader.read(65_536):
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    headers = {_text(k): _text(v) for k, v in event.headers}
                    key = headers.get(":path", "/").lstrip("/").split("?", 1)[0]
                    cut = bodies.pieces(key)
                    if cut is None:
                        connection.send_headers(
                            event.stream_id, [(":status", "404")], end_stream=True
                        )
                        continue
                    senders[event.stream_id] = asyncio.ensure_future(
                        send_body(event.stream_id, cut, bodies.coding(key))
                    )
                elif isinstance(event, h2.events.WindowUpdated):
                    window.set()
                elif isinstance(event, h2.events.StreamReset):
                    task = senders.pop(event.stream_id, None)
                    if task is not None:
                        task.cancel()
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return
            await flush()
    finally:
        for task in senders.values():
            task.cancel()


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


async def serve(folder: Path) -> None:
    bodies = _Bodies(folder)
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(bodies, r, w), "127.0.0.1", 0, backlog=LISTEN_BACKLOG
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(Path(sys.argv[1])))
