"""One measured round on one server: its requests, and around them what the server and the
database went through.

Beside the requests themselves (compare/clients/), a round reads the server's own figures
(its probe), samples the database's view of the server's backends (compare/database_cost.py),
counts the server's open files at their peak, stops early when a local server's memory passes
the cap, and, when its readers are paced, sends
one small request `BYSTANDER_DELAY` seconds in, read at full speed: what a user of the rest of
the service meets while slow exports run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import psutil

from .clients import MeasuringClient, RequestTiming, Round, timed_request
from .database_cost import BackendWatch, watch_backends
from .load.base import LoadEngine, RoundSpec
from .options import Cell
from .servers import Probe, Sample

__all__ = ["BYSTANDER_DELAY", "BYSTANDER_ROWS", "Instruments", "RoundOutcome", "measure_round"]

# The question, as a user would put it: a request arriving one second into the exports.
BYSTANDER_DELAY = 1.0
BYSTANDER_ROWS = 10
# How often a local server's resident memory is checked against the cap.
MEMORY_POLL_SECONDS = 0.05
# How often its open files are counted: as often, on a sampler of its own.
OPEN_FILES_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Instruments:
    """What measures a run: the load engine that sends the rounds (at full speed or paced), a
    client of this process for single requests (the bystander, the aborts), and a database
    connection for `pg_stat_activity` (None: not watched)."""

    engine: LoadEngine
    client: MeasuringClient
    backends: asyncpg.Connection | None = None


@dataclass(frozen=True)
class RoundOutcome:
    round: Round | None  # None: stopped at the memory cap
    sample: Sample
    watch: BackendWatch
    bystander: RequestTiming | None  # None: not sent (no pace, or the round was over first)
    capped: str | None  # why the round was stopped, if it was
    # The most file descriptors the server's processes held at once; None: no /proc to count.
    open_files: int | None = None


async def measure_round(
    cell: Cell,
    instruments: Instruments,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
    expected_bytes: int,
    probe: Probe,
    memory_cap: int,
    requests_per_stream: int = 1,
) -> RoundOutcome:
    await probe.before()
    async with watch_backends(instruments.backends, probe.pids) as watch:
        spec = RoundSpec(
            f"{url}/{cell.endpoint}", params, headers, cell.format, cell.rows, cell.concurrency,
            expected_bytes, cell.read_rate, requests_per_stream, cell.http,
        )  # fmt: skip
        requests = asyncio.ensure_future(instruments.engine.run(spec))
        sent = asyncio.Event()
        bystander = (
            asyncio.ensure_future(_bystander(instruments.client, url, cell, params, headers, sent))
            if cell.read_rate is not None
            else None
        )
        cap = asyncio.ensure_future(_over_cap(probe, memory_cap))
        files = OpenFiles(probe.pids)
        counting = asyncio.ensure_future(files.sample())
        try:
            await asyncio.wait({requests, cap}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            capped = cap.result() if cap.done() else None
            for task in (cap, requests if capped else None):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await files.stop(counting)
        bystanding = await _settled(bystander, sent)
    sample = await probe.after()
    measured = None if capped else requests.result()
    return RoundOutcome(measured, sample, watch, bystanding, capped, files.peak)


async def _bystander(
    client: MeasuringClient,
    url: str,
    cell: Cell,
    params: dict[str, str],
    headers: dict[str, str],
    sent: asyncio.Event,
) -> RequestTiming:
    await asyncio.sleep(BYSTANDER_DELAY)
    sent.set()
    rows = min(BYSTANDER_ROWS, cell.rows)
    return await timed_request(
        client, f"{url}/{cell.endpoint}", {**params, "rows": str(rows)}, headers, cell.format, rows
    )


async def _settled(
    task: asyncio.Future[RequestTiming] | None, sent: asyncio.Event
) -> RequestTiming | None:
    """The bystander's timing once the round is over: if it was not sent by then, it never is."""
    if task is None:
        return None
    if not sent.is_set():
        task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return None


async def _over_cap(probe: Probe, cap: int) -> str | None:
    """Returns (a reason) once the server's resident memory passes `cap`; never without /proc."""
    if probe.resident_bytes() is None:
        await asyncio.Event().wait()
    while True:
        resident = probe.resident_bytes()
        if resident is not None and resident > cap:
            return (
                f"stopped at the memory cap: the server's resident memory reached "
                f"{resident / 1e6:,.0f} MB (cap {cap / 1e6:,.0f} MB)"
            )
        await asyncio.sleep(MEMORY_POLL_SECONDS)


class OpenFiles:
    """The most file descriptors a server's processes (and their children) held at once during a
    round: each socket a stream holds is one, so at high concurrency this is what a server asks
    of its fd limit. Counted from /proc/<pid>/fd at the start, every OPEN_FILES_POLL_SECONDS and
    once more as the round ends (kept-alive connections are still open then); `peak` stays None
    where nothing could be counted (no pids, no /proc), never zero."""

    def __init__(self, pids: Sequence[int]) -> None:
        self._pids = _with_children(pids)
        self.peak: int | None = None

    def count(self) -> None:
        counted = open_files(self._pids)
        if counted is not None and (self.peak is None or counted > self.peak):
            self.peak = counted

    async def sample(self) -> None:
        if not self._pids:
            return
        while True:
            self.count()
            await asyncio.sleep(OPEN_FILES_POLL_SECONDS)

    async def stop(self, task: asyncio.Future[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._pids:
            self.count()


def open_files(pids: Sequence[int]) -> int | None:
    """File descriptors open in `pids` together; None when none of them could be read."""
    total, read = 0, False
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        read = True
    return total if read else None


def _with_children(pids: Sequence[int]) -> tuple[int, ...]:
    """The pids and every descendant alive now: a server that forks workers serves from them."""
    found = list(pids)
    for pid in pids:
        try:
            found += [child.pid for child in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            continue
    return tuple(dict.fromkeys(found))
