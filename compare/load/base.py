"""What a load engine is: whatever sends a round's simultaneous requests and brings back, for each,
the same timing (compare/clients/timing.py), plus what the sending cost the client side.

Engines differ in where the requests come from: this process (compare/load/in_process.py),
worker processes on this machine started together (compare/load/processes.py), or a load tool's
own workers, possibly on other machines. The comparator sees one `Round` whichever it was.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from ..clients import Round

__all__ = [
    "ClientLoad",
    "LoadEngine",
    "RoundSpec",
    "machine_load",
    "serves_here",
    "this_host",
]


@dataclass(frozen=True)
class RoundSpec:
    """One round: `concurrency` simultaneous GETs of `url` with `params` and `headers`, each read
    to the end (no faster than `read_rate` bytes per second when given) and counted: `rows` rows
    of `format`, and `expected_bytes` bytes when given, or the request failed. Each stream sends
    `requests_per_stream` requests one after another. Over `http` "2" the requests are streams
    of one HTTP/2 connection per client process."""

    url: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    format: str
    rows: int
    concurrency: int
    expected_bytes: int | None = None
    read_rate: float | None = None
    requests_per_stream: int = 1
    http: str = "1.1"


@dataclass(frozen=True)
class ClientLoad:
    """What a round cost the processes that sent it: each process's CPU seconds over the round
    (same order as `hosts`), where each ran, and whether the servers shared their machine."""

    cpu_seconds: tuple[float, ...]
    hosts: tuple[str, ...]
    same_machine: bool
    load: Mapping[str, float | None] = field(default_factory=dict)  # 1-min load average by host

    @property
    def processes(self) -> int:
        return len(self.cpu_seconds)

    def busiest_share(self, seconds: float) -> float | None:
        """The busiest process's CPU over the round's wall time: 1.0 is a whole core."""
        if not self.cpu_seconds or seconds <= 0:
            return None
        return max(self.cpu_seconds) / seconds


class LoadEngine(Protocol):
    """Sends rounds. `describe()` names it for the environment block (engine, client, processes,
    hosts); `close()` stops whatever it started."""

    name: str
    client: str  # what reads the bodies, as ceilings and flags name it ("aiohttp")

    async def run(self, spec: RoundSpec) -> Round:
        """The round, its `load` filled in when the engine measures its own cost."""

    def describe(self) -> str: ...

    async def close(self) -> None: ...


def this_host() -> str:
    return socket.gethostname()


def machine_load() -> float | None:
    """This machine's one-minute load average, where the platform has one."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def serves_here(url: str) -> bool:
    """Whether the server at `url` runs on this machine as far as its address tells: loopback,
    or this host's own name."""
    host = urlsplit(url).hostname or ""
    if host in ("localhost", this_host()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
