"""Servers under measurement: local ports as processes of their own, or targets already running.

A local server's figures come from /proc (peak resident set and CPU time of its process); a target's
from its /metrics page when it answers one, else there are none. What the requests cost the
database's pool comes from /metrics on both (compare/database_cost.py).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import psutil

from shared import metrics
from shared.pairs import Pair
from shared.ports import process_env
from shared.settings import Settings

from .database_cost import LEDGER_METRICS
from .free_ports import HOST, free_port
from .results import ServerSource, contender_name

# How long one server gets to answer /healthz. Starting several at once on two cores, each
# importing its framework, took over 30 s a server at load 8 here: starts are bounded to
# START_PARALLEL at a time and a server that did not come up is tried once more.
START_TIMEOUT = 60.0
START_PARALLEL = 2
START_ATTEMPTS = 2
STOP_TIMEOUT = 10.0


class ServerFailed(RuntimeError):
    """A server process that did not come up, or a target that cannot be reached."""


@dataclass(frozen=True)
class Sample:
    """Server-side figures of one round: growth of the peak resident set, CPU time used, and the
    pool ledger's samples before and after (None when the server publishes none)."""

    peak_memory_growth_bytes: int | None
    cpu_seconds: float | None
    ledger: tuple[dict[str, float], dict[str, float]] | None = None


class LedgerReader:
    """A server's pool ledger from its /metrics page: its peaks restarted before a round
    (`POST /metrics/reset-peak`), its samples read before and after."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self._client = client
        self._url = url
        self._headers = headers
        self._before: dict[str, float] | None = None

    async def read(self) -> dict[str, float] | None:
        try:
            response = await self._client.get(f"{self._url}/metrics", headers=self._headers)
            if response.status_code != 200:
                return None
            values = metrics.parse(response.text)
        except (httpx.HTTPError, ValueError, IndexError):
            return None
        return _ledger(values)

    async def before(self) -> None:
        try:
            await self._client.post(f"{self._url}/metrics/reset-peak", headers=self._headers)
        except httpx.HTTPError:
            self._before = None
            return
        self._before = await self.read()

    async def after(self) -> tuple[dict[str, float], dict[str, float]] | None:
        before, self._before = self._before, None
        after = await self.read()
        return None if before is None or after is None else (before, after)


class Probe(Protocol):
    """Reads a server's own figures around one round of requests."""

    @property
    def source(self) -> ServerSource: ...

    @property
    def pids(self) -> tuple[int, ...]: ...

    def resident_bytes(self) -> int | None: ...

    async def before(self) -> None: ...

    async def after(self) -> Sample: ...


class ProcProbe:
    """Figures straight from the kernel: VmHWM reset through clear_refs, CPU from psutil.

    Growth is the round's peak resident set over the resident set the process had when it
    became healthy, before its first data request. Measured against the round's own starting
    point instead, memory freed by an earlier request but kept by the allocator would be reused
    and hide the growth (0 MB has been seen for a streamed request after a buffered one).
    """

    source: ServerSource = "proc"

    def __init__(self, pid: int, ledger: LedgerReader | None = None) -> None:
        self._process = psutil.Process(pid)
        self._baseline = self._process.memory_info().rss
        self._cpu_before = 0.0
        self._ledger = ledger

    @property
    def pids(self) -> tuple[int, ...]:
        """The processes whose database backends are the server's."""
        return (self._process.pid,)

    def resident_bytes(self) -> int | None:
        try:
            return int(self._process.memory_info().rss)
        except psutil.Error:
            return None

    def _cpu(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    async def before(self) -> None:
        if self._ledger is not None:
            await self._ledger.before()
        metrics.reset_peak(self._process.pid)
        self._cpu_before = self._cpu()

    async def after(self) -> Sample:
        growth = metrics.peak_rss_bytes(self._process.pid) - self._baseline
        cpu = self._cpu() - self._cpu_before
        ledger = None if self._ledger is None else await self._ledger.after()
        return Sample(max(growth, 0), cpu, ledger)


class MetricsProbe:
    """Figures from a target's /metrics: reset the peak before a round, read it after."""

    source: ServerSource = "metrics"

    pids: tuple[int, ...] = ()  # another machine's, perhaps: its backends are not looked for

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self._client = client
        self._url = url
        self._headers = headers
        self._rss_before: float | None = None
        self._cpu_before: float | None = None
        self._ledger_before: dict[str, float] | None = None

    def resident_bytes(self) -> int | None:
        return None

    async def read(self) -> dict[str, float]:
        response = await self._client.get(f"{self._url}/metrics", headers=self._headers)
        response.raise_for_status()
        return metrics.parse(response.text)

    async def before(self) -> None:
        reset = await self._client.post(f"{self._url}/metrics/reset-peak", headers=self._headers)
        reset.raise_for_status()
        values = await self.read()
        self._rss_before = values.get("process_resident_memory_bytes")
        self._cpu_before = values.get("process_cpu_seconds_total")
        self._ledger_before = _ledger(values)

    async def after(self) -> Sample:
        values = await self.read()
        before, after = self._ledger_before, _ledger(values)
        peak = values.get(metrics.PEAK_METRIC)
        cpu = values.get("process_cpu_seconds_total")
        growth = (
            None
            if peak is None or self._rss_before is None
            else max(int(peak - self._rss_before), 0)
        )
        used = None if cpu is None or self._cpu_before is None else cpu - self._cpu_before
        return Sample(growth, used, None if before is None or after is None else (before, after))


def _ledger(values: dict[str, float]) -> dict[str, float] | None:
    found = {name: values[name] for name in LEDGER_METRICS if name in values}
    return found if len(found) == len(LEDGER_METRICS) else None


class NoProbe:
    source: ServerSource = "none"
    pids: tuple[int, ...] = ()

    def resident_bytes(self) -> int | None:
        return None

    async def before(self) -> None:
        return None

    async def after(self) -> Sample:
        return Sample(None, None)


async def metrics_probe(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Probe:
    """A target's probe: /metrics if it answers with the figures we need, else none."""
    probe = MetricsProbe(client, url, headers)
    try:
        values = await probe.read()
        await probe.before()
    except (httpx.HTTPError, ValueError, IndexError):
        return NoProbe()
    if metrics.PEAK_METRIC not in values or "process_cpu_seconds_total" not in values:
        return NoProbe()
    return probe


class LocalServer:
    """One port served by `python -m shared.cli serve` on a free local port."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path
        self.startup_seconds: float | None = None
        self._probe: ProcProbe | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def probe(self, client: httpx.AsyncClient | None = None) -> ProcProbe:
        """The process's probe, its baseline taken at the first call: call it before any load.
        With `client`, it reads the pool's ledger from the server's /metrics too."""
        if self._probe is None:
            ledger = None if client is None else LedgerReader(client, self.url, {})
            self._probe = ProcProbe(self.pid, ledger)
        return self._probe

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            # A child process has no awaitable exit here; polling it is what is left.
            while self.process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


async def start_local(
    descriptor: Pair,
    settings: Settings,
    log_dir: Path,
    client: httpx.AsyncClient,
    label: str,
    name: str | None = None,
) -> LocalServer:
    """Start the port and wait for a healthy /healthz; `startup_seconds` is how long that took.
    `name` (default: the pair's) names its log and its failures: a pair runs once per data layer."""
    name = name or descriptor.name
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (before the clock starts)
    log_path = log_dir / f"{name}-{label}.log"
    started = time.perf_counter()
    with log_path.open("wb") as log:
        # Popen returns at once; the wait for /healthz below is the part that is awaited.
        process = subprocess.Popen(  # noqa: ASYNC220
            descriptor.command(HOST, port),
            # Memory and CPU come from /proc; /metrics for the pool's ledger only.
            env=process_env(settings.replace(metrics=True)),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = LocalServer(process, f"http://{HOST}:{port}", log_path)
    try:
        return await _wait_healthy(server, name, client, log_path, started)
    except BaseException:
        # Cancelled (Ctrl-C) or failed: the process must not outlive the run.
        await server.stop()
        raise


async def _wait_healthy(
    server: LocalServer,
    name: str,
    client: httpx.AsyncClient,
    log_path: Path,
    started: float,
) -> LocalServer:
    process = server.process
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(
                f"{name} exited with {process.returncode} while starting; "
                f"log {log_path}:\n{server.log_tail()}"
            )
        try:
            response = await client.get(f"{server.url}/healthz", timeout=1.0)
            if response.status_code == 200:
                server.startup_seconds = time.perf_counter() - started
                server.probe(client)
                return server
            last = f"/healthz answered {response.status_code}: {response.text[:200]}"
        except httpx.TransportError as error:
            last = type(error).__name__
        await asyncio.sleep(0.01)
    raise ServerFailed(
        f"{name} was not healthy within {START_TIMEOUT:.0f} s ({last}); log {log_path}"
    )


async def start_locals(
    pairs: Sequence[Pair],
    settings: Settings,
    log_dir: Path,
    client: httpx.AsyncClient,
    label: str,
    layers: Sequence[str] | None = None,
) -> list[LocalServer | BaseException]:
    """Start every pair, at most START_PARALLEL at a time, each tried up to START_ATTEMPTS
    times: a server, or why it could not start, per pair in order. Adding contenders makes a
    run longer, never makes the starts time out. With `layers`, the pair in each place reads
    through the layer in the same place (`settings.layer` otherwise)."""
    gate = asyncio.Semaphore(START_PARALLEL)
    chosen = [settings.layer] * len(pairs) if layers is None else list(layers)

    async def start(pair: Pair, layer: str) -> LocalServer | BaseException:
        failure: BaseException | None = None
        name = contender_name(pair.name, layer) if layers is not None else pair.name
        for attempt in range(1, START_ATTEMPTS + 1):
            async with gate:
                try:
                    tag = label if attempt == 1 else f"{label}-retry{attempt}"
                    return await start_local(
                        pair, settings.replace(layer=layer), log_dir, client, tag, name
                    )
                except ServerFailed as error:
                    failure = error
        assert failure is not None
        return failure

    return list(
        await asyncio.gather(
            *(start(pair, layer) for pair, layer in zip(pairs, chosen, strict=True))
        )
    )
