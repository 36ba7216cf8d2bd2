"""The comparator's own process sends every request (`--client-processes 0`): the instrument of
earlier releases. Its event loop also runs the comparator's own watchers (memory, backends), so
its CPU figure is the whole process's."""

from __future__ import annotations

import contextlib
import time

from ..clients import Round, client_version, open_client, timed_round
from ..clients.base import MeasuringClient
from ..read_rates import PACED_RECEIVE_BUFFER
from .base import ClientLoad, RoundSpec, machine_load, serves_here, this_host

__all__ = ["InProcessEngine"]


class InProcessEngine:
    name = "in-process"

    def __init__(self, client: str, connections: int) -> None:
        self.client = client
        self._connections = connections
        self._stack = contextlib.AsyncExitStack()
        # One client per (paced or not, HTTP version), opened when a round first needs it.
        self._readers: dict[tuple[bool, str], MeasuringClient] = {}

    async def _reader(self, paced: bool, http: str) -> MeasuringClient:
        key = (paced, http)
        if key not in self._readers:
            self._readers[key] = await self._stack.enter_async_context(
                open_client(
                    self.client, self._connections, PACED_RECEIVE_BUFFER if paced else None, http
                )
            )
        return self._readers[key]

    async def run(self, spec: RoundSpec) -> Round:
        reader = await self._reader(spec.read_rate is not None, spec.http)
        cpu = time.process_time()
        measured = await timed_round(
            reader, spec.url, spec.params, spec.headers, spec.format, spec.rows,
            spec.concurrency, spec.expected_bytes, spec.read_rate, spec.requests_per_stream,
        )  # fmt: skip
        load = ClientLoad(
            cpu_seconds=(time.process_time() - cpu,),
            hosts=(this_host(),),
            same_machine=serves_here(spec.url),
            load={this_host(): machine_load()},
        )
        return Round(measured.requests, measured.seconds, load)

    def describe(self) -> str:
        return f"{client_version(self.client)}, in the comparator's own process"

    async def close(self) -> None:
        await self._stack.aclose()
