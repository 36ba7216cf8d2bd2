"""What a load engine is: whatever sends a round's simultaneous requests and brings back, for each,
the same timing (compare/clients/timing.py), plus what the sending cost the client side.

Engines differ in where the requests come from: this process (compare/load/in_process.py),
worker processes on this machine started together (compare/load/processes.py), or a load tool's
own workers, possibly on other machines. The comparator sees one `Round` whichever it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..clients import Round

__all__ = ["ClientLoad", "LoadEngine", "RoundSpec", "saturated_share"]

# A load generator process busier than this share of a core over a round is itself a bottleneck:
# the round may have measured it rather than the server.
CLIENT_SATURATED_SHARE = 0.8


@dataclass(frozen=True)
class RoundSpec:
    """One round: `concurrency` simultaneous GETs of `url` with `params` and `headers`, each read
    to the end (no faster than `read_rate` bytes per second when given) and counted: `rows` rows
    of `format`, and `expected_bytes` bytes when given, or the request failed."""

    url: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    format: str
    rows: int
    concurrency: int
    expected_bytes: int | None = None
    read_rate: float | None = None


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


def saturated_share(load: ClientLoad | None, seconds: float) -> float | None:
    """The busiest process's share of a core, when it passed CLIENT_SATURATED_SHARE."""
    share = None if load is None else load.busiest_share(seconds)
    return share if share is not None and share > CLIENT_SATURATED_SHARE else None


class LoadEngine(Protocol):
    """Sends rounds. `describe()` names it for the environment block (engine, client, processes,
    hosts); `close()` stops whatever it started."""

    name: str

    async def run(self, spec: RoundSpec) -> Round:
        """The round, its `load` filled in when the engine measures its own cost."""

    def describe(self) -> str: ...

    async def close(self) -> None: ...
