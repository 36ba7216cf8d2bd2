"""Client worker processes on this machine (`--client-processes N`): each round's concurrency
split over N processes that start together and send their raw samples back, merged into one
round. One Python process cannot read a thousand streams, or even 32 fast ones, without itself
becoming what is measured; several processes take as many cores as they are given.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..capacity import open_files_needed
from ..clients import RequestTiming, Round, client_version
from .base import ClientLoad, RoundSpec, serves_here
from .wire import spec_to_wire, timing_from_wire

__all__ = [
    "EngineError",
    "ProcessEngine",
    "default_client_processes",
    "shares",
]

# How long after the orders are written the workers start: enough for every worker to read its
# order, so that they start together rather than in the order they were told.
START_MARGIN = 0.02
HELLO_TIMEOUT = 30.0
LINE_LIMIT = 2**30


class EngineError(RuntimeError):
    """The load engine cannot run as asked; the message is one line that says why."""


def default_client_processes(cores: int | None = None) -> int:
    """Half the machine's cores, at least one: the other half is left to the servers and the
    database, which share the machine in a local run."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, cores // 2)


def shares(concurrency: int, processes: int) -> list[int]:
    """`concurrency` streams over `processes` processes, as evenly as they go."""
    base, extra = divmod(concurrency, processes)
    return [base + (1 if index < extra else 0) for index in range(processes)]


@dataclass
class _Worker:
    process: asyncio.subprocess.Process
    pid: int
    host: str
    nofile: int

    async def order(self, spec: RoundSpec, count: int, start_at: float) -> None:
        assert self.process.stdin is not None
        line = {"spec": spec_to_wire(spec), "count": count, "start_at": start_at}
        self.process.stdin.write(orjson.dumps(line) + b"\n")
        await self.process.stdin.drain()

    async def answer(self) -> dict[str, Any] | None:
        """The round's report; None when the worker went away before sending it."""
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        return orjson.loads(line) if line else None

    async def stop(self) -> None:
        if self.process.returncode is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def _spawn(client: str, connections: int) -> _Worker:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "compare.load._worker", client, str(connections),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), HELLO_TIMEOUT)
    except TimeoutError:
        line = b""
    if not line:
        if process.returncode is None:
            process.kill()
        status = await process.wait()
        raise EngineError(f"a client worker process did not start (exit status {status})")
    hello = orjson.loads(line)
    return _Worker(process, int(hello["pid"]), str(hello["host"]), int(hello["nofile"]))


class ProcessEngine:
    """`processes` client worker processes, each with kept-alive connections for its share of
    the run's highest concurrency."""

    name = "processes"

    client: str

    def __init__(self, client: str, processes: int, concurrency: int) -> None:
        self.client = client
        self.processes = processes
        self._connections = math.ceil(concurrency / processes) + 4
        self._concurrency = concurrency
        self._workers: list[_Worker | None] = []

    async def start(self) -> None:
        started = await asyncio.gather(
            *(_spawn(self.client, self._connections) for _ in range(self.processes)),
            return_exceptions=True,
        )
        self._workers = [w if isinstance(w, _Worker) else None for w in started]
        failed = [w for w in started if isinstance(w, BaseException)]
        if failed:
            await self.close()
            raise failed[0] if isinstance(failed[0], EngineError) else EngineError(str(failed[0]))
        needed = open_files_needed(self._concurrency, self.processes)
        limit = min(w.nofile for w in self._workers if w is not None)
        if needed > limit:
            await self.close()
            raise EngineError(
                f"concurrency {self._concurrency:,} needs about {needed:,} open files in each of "
                f"{self.processes} client process(es), and their limit is {limit:,}: raise "
                "`ulimit -n` or give more --client-processes"
            )

    async def run(self, spec: RoundSpec) -> Round:
        split = shares(spec.concurrency, self.processes)
        busy: list[tuple[int, _Worker, int]] = []
        for index, count in enumerate(split):
            if count == 0:
                continue
            worker = self._workers[index] or await self._replace(index)
            busy.append((index, worker, count))
        start_at = time.monotonic() + START_MARGIN
        try:
            for _, worker, count in busy:
                await worker.order(spec, count, start_at)
            answers = await asyncio.gather(*(worker.answer() for _, worker, _ in busy))
        except asyncio.CancelledError:
            # A round stopped from outside (the memory cap, Ctrl-C): its workers would answer
            # it late, as if it were the next round's. They go, and are replaced when needed.
            for index, worker, _ in busy:
                self._workers[index] = None
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()
            raise
        requests: list[RequestTiming] = []
        starts: list[float] = []
        ends: list[float] = []
        cpu: list[float] = []
        hosts: list[str] = []
        load: dict[str, float | None] = {}
        for (index, worker, count), answer in zip(busy, answers, strict=True):
            if answer is None:
                status = await worker.process.wait()
                self._workers[index] = None  # replaced before its next round
                requests.extend(_lost(worker, status, count * spec.requests_per_stream))
                continue
            requests.extend(timing_from_wire(raw) for raw in answer["requests"])
            starts.append(answer["started"])
            ends.append(answer["ended"])
            cpu.append(answer["cpu"])
            hosts.append(worker.host)
            load[worker.host] = answer["load"]
        seconds = (max(ends) - min(starts)) if starts else 0.0
        measured = ClientLoad(tuple(cpu), tuple(hosts), serves_here(spec.url), load)
        return Round(requests, seconds, measured if cpu else None)

    async def _replace(self, index: int) -> _Worker:
        worker = await _spawn(self.client, self._connections)
        self._workers[index] = worker
        return worker

    def describe(self) -> str:
        return (
            f"{client_version(self.client)}, in {self.processes} client worker "
            f"process{'es' if self.processes > 1 else ''} on this machine"
        )

    async def close(self) -> None:
        await asyncio.gather(*(w.stop() for w in self._workers if w is not None))
        self._workers = []


def _lost(worker: _Worker, status: int, count: int) -> list[RequestTiming]:
    error = f"client worker pid {worker.pid} exited mid-round (exit status {status})"
    lost = RequestTiming(
        ok=False, error=error, status=None, headers=None, ttfb=None, total=0.0, bytes=0, rows=0,
        chunks=0,
    )  # fmt: skip
    return [lost] * count


@contextlib.asynccontextmanager
async def open_processes(
    client: str, processes: int, concurrency: int
) -> AsyncIterator[ProcessEngine]:
    engine = ProcessEngine(client, processes, concurrency)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.close()
