"""What the comparator, the Locust master and its workers say to each other, as plain data.

Two channels, and no transport of our own on either: the comparator drives its master child over
that child's stdin and stdout, one JSON object a line; the master and its workers talk through
Locust's own runner messages (`send_message`/`register_message` over its ZeroMQ sockets), whose
payloads are the dictionaries built here. Pure: nothing here imports Locust or gevent, so the
asyncio comparator and the gevent processes share one definition of every message.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HELLO",
    "REFUSED",
    "ROUND",
    "SAMPLES",
    "WELCOME",
    "Identity",
    "parse_address",
    "refusal",
]

# Locust runner message types, worker -> master: who I am; my samples of a round.
HELLO = "streambench_hello"
SAMPLES = "streambench_samples"
# Master -> worker: you are in (or refused, with the one line why); send this round.
WELCOME = "streambench_welcome"
REFUSED = "streambench_refused"
ROUND = "streambench_round"


@dataclass(frozen=True)
class Identity:
    """What a worker or the master runs: a worker from another checkout would time requests
    with other code, so the master admits only workers whose identity matches its own."""

    streambench: str
    commit: str | None
    locust: str
    host: str
    pid: int

    @classmethod
    def here(cls) -> Identity:
        import importlib.metadata

        from ...environment import streambench_info

        info = streambench_info()
        return cls(
            streambench=info.version,
            commit=info.commit,
            locust=importlib.metadata.version("locust"),
            host=socket.gethostname(),
            pid=os.getpid(),
        )

    def label(self) -> str:
        return f"streambench {self.streambench}" + (
            f" (commit {self.commit})" if self.commit else ""
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "streambench": self.streambench,
            "commit": self.commit,
            "locust": self.locust,
            "host": self.host,
            "pid": self.pid,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        return cls(
            str(data["streambench"]),
            None if data.get("commit") is None else str(data["commit"]),
            str(data["locust"]),
            str(data["host"]),
            int(data["pid"]),
        )


def refusal(master: Identity, worker: Identity) -> str | None:
    """Why the master refuses `worker`, in one line; None when it is admitted. A commit counts
    only when both sides know theirs (an installed wheel has none)."""
    where = f"worker {worker.host} pid {worker.pid}"
    if worker.streambench != master.streambench or (
        worker.commit and master.commit and worker.commit != master.commit
    ):
        return (
            f"{where} runs {worker.label()}, the master {master.label()}: "
            "start the worker from the same version"
        )
    if worker.locust != master.locust:
        return (
            f"{where} runs locust {worker.locust}, the master locust {master.locust}: "
            "install the locked dependencies (uv sync --locked)"
        )
    return None


def parse_address(raw: str, default_host: str | None = None) -> tuple[str, int]:
    """`HOST:PORT` (or `[v6]:PORT`) as a pair; ValueError with the reason otherwise. Port 0
    means any free port (only where binding)."""
    host, sep, port = raw.strip().rpartition(":")
    if not sep:
        if default_host is None:
            raise ValueError(f"expected HOST:PORT, got {raw!r}")
        host, port = default_host, raw.strip()
    host = host.strip("[]")
    if not host:
        raise ValueError(f"no host in {raw!r}")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"bad port in {raw!r}") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} out of range in {raw!r}")
    return host, number
