"""Ports as real server processes on real sockets, started the way users start them."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from compare.free_ports import HOST, free_port
from shared.pairs import load_pair
from shared.ports import process_env
from shared.settings import Settings


@dataclass
class Server:
    """One running port: its URL, its process and everything it logged."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log_offset: int = field(default=0)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def mark_log(self) -> None:
        """Start a new log window: `new_log()` returns what was logged after this call."""
        self._log_offset = self.log_path.stat().st_size

    def new_log(self) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(self._log_offset)
            return handle.read().decode(errors="replace")

    async def log_once(self, text: str, count: int, patience: float = 10.0) -> str:
        """The new log as soon as it holds `text` `count` times, or as it is after `patience`
        seconds. A server may notice a client gone only at its next write (Granian, Hypercorn),
        well after the client left: a fixed pause would miss those lines."""
        deadline = time.monotonic() + patience
        while True:
            log = self.new_log()
            if log.count(text) >= count or time.monotonic() > deadline:
                return log
            await asyncio.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(name: str, settings: Settings, log_dir: Path, timeout: float = 60.0) -> Server:
    pair = load_pair(name)
    port = free_port()
    log_path = log_dir / f"{pair.name}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pair.command(HOST, port),
            env=process_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, f"http://{HOST}:{port}", process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.log()}")
        try:
            # Longer than the pool's wait: a server started without its database answers 503
            # only once a connection could not be had.
            response = httpx.get(f"{server.url}/healthz", timeout=settings.pool_timeout + 1.0)
            # The serve command's own "listening on" line comes from a thread that may print
            # after the first answer: a test's log window must not open before it.
            if response.status_code in (200, 503) and b"listening on" in log_path.read_bytes():
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{name} did not answer /healthz within {timeout} s:\n{server.log()}")


class ServerPool:
    """Servers shared by the tests of a session, one per (pair, settings), at most MAX_LIVE at a
    time: the least recently used is stopped first. Each keeps up to `pool_size` connections to
    PostgreSQL open, and the machine's server allows 100 clients for every test run on it; a
    pair's tests run one after the other in one worker (tests/_scheduling.py), so its servers are the
    recent ones."""

    MAX_LIVE = 4

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._servers: dict[tuple[str, Settings], Server] = {}
        self._log_dir = Path(tempfile.mkdtemp(prefix="streambench-servers-"))

    @property
    def settings(self) -> Settings:
        return self._settings

    def get(self, name: str, **changes: object) -> Server:
        settings = self._settings.replace(**changes)
        key = (name, settings)
        server = self._servers.pop(key, None)
        if server is None or server.process.poll() is not None:
            while len(self._servers) >= self.MAX_LIVE:
                oldest = next(iter(self._servers))
                self._servers.pop(oldest).stop()
            server = start_server(name, settings, self._log_dir)
        self._servers[key] = server  # most recently used last
        return server

    def start_private(self, name: str, **changes: object) -> Server:
        """A server of the test's own, which the test must stop."""
        return start_server(name, self._settings.replace(**changes), self._log_dir)

    def stop_all(self) -> None:
        for server in self._servers.values():
            server.stop()
