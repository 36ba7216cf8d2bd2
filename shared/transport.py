"""Ending a connection so that the client cannot mistake the end for a complete response."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

# SO_LINGER on with a zero timeout: close() discards what is unsent and answers with a reset.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


def reset(transport: asyncio.Transport) -> None:
    """Drop the connection with a TCP reset, not a FIN.

    `abort()` alone only skips flushing the write buffer and still ends with a FIN, which is
    exactly how a close-delimited body (HTTP/1.0, no Content-Length) ends when it is complete.
    A reset is an error to every client, whatever the framing.
    """
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Already gone: the abort below is all there is left to do.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
    transport.abort()
