"""Ports for servers about to start: free now, and not handed to anyone else meanwhile.

The kernel's "any free port" (binding port 0) knows only the ports bound at that moment. A
server takes a second or more to import its framework before it binds, and in that window the
kernel can give the same port to another process starting a server too (two test workers, a
comparator beside a test). One of the two then fails to listen, and whoever waits for it can
be answered by the other's server. So each port handed out is claimed for `CLAIM_SECONDS` by a
file in a directory every process on the machine shares: a port claimed and still fresh is
passed over. Once its server listens, the kernel itself keeps the port from anyone else.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
# Longer than any server here takes from its start to listening (about 1.5 s quiet, over 30 s
# seen at load 8), shorter than a test run.
CLAIM_SECONDS = 120.0
ATTEMPTS = 50


def claims_directory() -> Path:
    directory = Path(tempfile.gettempdir()) / f"streambench-port-claims-{os.getuid()}"
    directory.mkdir(exist_ok=True)
    return directory


def free_port(host: str = HOST, claims: Path | None = None) -> int:
    """A port on `host` nothing listens on, claimed for this caller for `CLAIM_SECONDS`."""
    claims = claims or claims_directory()
    _forget_stale(claims)
    for _ in range(ATTEMPTS):
        port = _unbound_port(host)
        if _claim(claims / str(port)):
            return port
    raise OSError(f"no unclaimed free port on {host} after {ATTEMPTS} tries")


def _unbound_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _claim(path: Path) -> bool:
    """Whether this process now holds the claim at `path` (no other fresh claim was there)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _forget_stale(claims: Path) -> None:
    """Remove claims older than `CLAIM_SECONDS`: the directory holds only recent ones."""
    now = time.time()
    with os.scandir(claims) as entries:
        for entry in entries:
            try:
                if now - entry.stat().st_mtime >= CLAIM_SECONDS:
                    os.unlink(entry.path)
            except FileNotFoundError:
                pass  # another process removed it first
