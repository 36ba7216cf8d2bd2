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
        self._full: MeasuringClient | None = None
        self._paced: MeasuringClient | None = None

    async def _reader(self, paced: bool) -> MeasuringClient:
        if paced:
            if self._paced is None:
                self._paced = await self._stack.enter_async_context(
                    open_client(self.client, self._connections, PACED_RECEIVE_BUFFER)
                )
            return self._paced
        if self._full is None:
            self._full = await self._stack.enter_async_context(
                open_client(self.client, self._connections)
            )
        return self._full

    async def run(self, spec: RoundSpec) -> Round:
        reader = await self._reader(spec.read_rate is not None)
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
