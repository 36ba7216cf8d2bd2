"""A raw asyncio HTTP/1.1 server that serves prepared bodies from memory, chunk by chunk.

Run as its own process (`python -m compare._memory_server DIR`) so the client being measured has the
CPU to itself, as with a real port. `GET /<key>` serves `DIR/<key>.body` cut at the sizes listed in
`DIR/<key>.chunks` (JSON), each piece written and drained the way a port writes a batch. It prints
its port number on the first line of stdout and serves until terminated.
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
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


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


class _Bodies:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._cache: dict[str, tuple[bytes, list[bytes]]] = {}

    def get(self, key: str) -> tuple[bytes, list[bytes]] | None:
        """The head and the framed chunks for `key`."""
        if key not in self._cache:
            body_path = self._folder / f"{key}.body"
            if not key.isidentifier() or not body_path.exists():
                return None
            sizes = json.loads((self._folder / f"{key}.chunks").read_text())
            coding = self._folder / f"{key}.encoding"
            head = _CODED_HEAD % coding.read_bytes().strip() if coding.exists() else _HEAD
            self._cache[key] = (head, framed_chunks(body_path.read_bytes(), sizes))
        return self._cache[key]


async def _serve_connection(
    bodies: _Bodies, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
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


async def serve(folder: Path) -> None:
    bodies = _Bodies(folder)
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(bodies, r, w), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(Path(sys.argv[1])))
