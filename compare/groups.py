"""A group of cells measured on the same server processes: the servers started for it, then per
cell a warm-up and rounds interleaved contender by contender, the server's own figures read around
each round."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.pairs import Pair
from shared.settings import Settings

from .aborts import measure_aborts
from .baselines import Reference
from .capacity import HELD_BODIES
from .clients import RequestTiming, Round
from .database_cost import HELD, BackendWatch, RoundCost, backends_busy, round_cost
from .load.base import machine_load
from .options import Cell, CompareOptions
from .results import (
    DEFAULT_HTTP,
    NO_COMPRESSION,
    SOURCES,
    AbortCost,
    ServerSource,
    Verification,
    http_label,
)
from .rounds import Instruments, measure_round
from .servers import LedgerReader, LocalServer, NoProbe, Probe, metrics_probe, start_locals
from .work import STARTUP_COST, Progress, Stopwatch, cell_cost


def group_cells(cells: Sequence[Cell], reuse_servers: bool = False) -> list[list[Cell]]:
    """Cells that share server processes: one (endpoint, source, format), lightest load first.

    Memory growth is each round's peak over the resident set the process had fresh, before any
    request. Run in rising order of rows x concurrency, a lighter scenario's freed-but-kept
    memory is less than a heavier one reuses, so it cannot hide that one's growth; two
    endpoints or sources never share a process, so a buffered response's arenas can never hide
    a streamed one's. Starting servers once per group, not once per row count, is what keeps a
    matrix of many ports and sources within minutes.

    With `reuse_servers` every cell shares one process per contender, in rising order of what
    the response is expected to hold: streamed before buffered, `copy` and `cursor` before
    `fetch`. A figure is then never hidden by an earlier, heavier one as far as that order is
    right, but it can include memory an earlier scenario left behind: an upper bound.

    A server process serves one HTTP version's cells (Granian switches its HTTP layer to serve
    HTTP/2), so each version's cells are groups of their own, HTTP/1.1's first.
    """
    by_http: dict[str, list[Cell]] = {}
    for cell in cells:
        by_http.setdefault(cell.http, []).append(cell)
    if reuse_servers:
        return [sorted(same, key=_expected_memory) for same in by_http.values()]
    groups: dict[tuple[str, str, str, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.http, cell.endpoint, cell.source, cell.format), []).append(cell)
    return [
        sorted(group, key=lambda c: (c.rows * c.concurrency, c.rows, c.concurrency))
        for group in groups.values()
    ]


def _expected_memory(cell: Cell) -> tuple[int, int, int]:
    load = cell.rows * cell.concurrency
    return HELD_BODIES.get((cell.endpoint, cell.source), 1) * load, load, cell.rows


def group_label(group: Sequence[Cell]) -> str:
    """What a group is, for the console: `standard/fetch text`, or `every scenario` when the
    group spans several endpoints, sources or formats."""
    kinds = {(c.endpoint, c.source, c.format) for c in group}
    over = "" if group[0].http == DEFAULT_HTTP else f" over {http_label(group[0].http)}"
    if len(kinds) == 1:
        first = group[0]
        return f"{first.endpoint}/{first.source} {first.format}{over}"
    return f"every scenario{over}"


@dataclass
class Contender:
    """A contender in this run: a local (port, server) pair on one data layer, or a target URL,
    and what is known of it so far. `name` is the contender's (`port@server+layer` off the
    default layer), `sources` what its layer offers: a cell of another source leaves it out."""

    name: str
    descriptor: Pair | None
    target_url: str | None
    verification: Verification | None = None
    url: str = ""
    source: ServerSource = "none"
    startup: list[float] = field(default_factory=list)
    layer: str | None = None  # None: a target's, whatever it runs
    sources: tuple[str, ...] = SOURCES
    http: tuple[str, ...] = (DEFAULT_HTTP,)  # the versions of the run its server speaks

    @property
    def port(self) -> str:
        """The pair's name (or the target's): what the results call the port."""
        return self.descriptor.name if self.descriptor is not None else self.name

    def offers(self, cell: Cell) -> bool:
        return cell.source in self.sources and cell.http in self.http


def taking_part(group: Sequence[Cell], contenders: Sequence[Contender]) -> list[Contender]:
    """The contenders that serve at least one cell of the group: only they get a server."""
    return [c for c in contenders if any(c.offers(cell) for cell in group)]


@dataclass
class Collected:
    rounds: list[Round] = field(default_factory=list)
    memory: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    load: float | None = None
    costs: list[RoundCost] = field(default_factory=list)
    watches: list[BackendWatch] = field(default_factory=list)
    bystanders: list[RequestTiming] = field(default_factory=list)
    capped: str | None = None
    abort: AbortCost | None = None
    open_files: list[int] = field(default_factory=list)  # each measured round's peak


async def run_group(
    group: Sequence[Cell],
    contenders: Sequence[Contender],
    instruments: Instruments,
    control: httpx.AsyncClient,
    options: CompareOptions,
    settings: Settings,
    log_dir: Path,
    auth_header: dict[str, str],
    reference: Reference,
    progress: Progress,
    stopwatch: Stopwatch,
) -> dict[tuple[str, Cell], Collected]:
    """Fresh servers for this group; per cell a warm-up, then rounds interleaved: A, B, A, B...
    A contender whose layer does not offer a cell's source sits that cell out. `control` (httpx,
    timing nothing) starts the servers and reads their /metrics; `instruments` time the rounds."""
    client = control
    contenders = taking_part(group, contenders)
    collected = {
        (c.name, cell): Collected() for c in contenders for cell in group if c.offers(cell)
    }
    described = group_label(group)
    progress.begin(f"starting {len(contenders)} server(s) for {described}")
    label = described.replace("/", "-").replace(" ", "-")
    local = [c for c in contenders if c.descriptor is not None]
    with stopwatch.phase("starting servers"):
        started = await start_locals(
            [c.descriptor for c in local if c.descriptor],
            # Every cell of a group goes over one HTTP version (group_cells).
            settings.replace(http=group[0].http),
            log_dir,
            client,
            label,
            layers=[c.layer or settings.layer for c in local],
        )
    progress.advance(STARTUP_COST)
    servers: dict[str, LocalServer] = {}
    took: list[str] = []
    for contender, outcome in zip(local, started, strict=True):
        if isinstance(outcome, LocalServer):
            servers[contender.name] = outcome
            if outcome.startup_seconds is not None:
                contender.startup.append(outcome.startup_seconds)
                took.append(f"{contender.name} {outcome.startup_seconds:.1f} s")
        else:
            took.append(f"{contender.name} FAILED")
            for cell in group:
                if contender.offers(cell):
                    collected[(contender.name, cell)].failures.append(
                        f"server did not start: {outcome}"
                    )
    if took:
        progress.note(f"servers for {described} up: " + ", ".join(took))
    try:
        probes: dict[str, Probe] = {}
        urls: dict[str, str] = {}
        for contender in contenders:
            if contender.name in servers:
                probes[contender.name] = servers[contender.name].probe()
                urls[contender.name] = servers[contender.name].url
            elif contender.target_url is not None:
                probes[contender.name] = (
                    await metrics_probe(client, contender.target_url, auth_header)
                    if contender.source == "metrics"
                    else NoProbe()
                )
                urls[contender.name] = contender.target_url
        bench = _Bench(
            contenders,
            instruments,
            control,
            options,
            urls,
            probes,
            auth_header,
            collected,
            progress,
        )
        for cell in group:
            progress.begin(cell.label)
            expected_bytes = reference.expected[(cell.rows, cell.format)].length
            with stopwatch.phase("measuring"):
                await _run_cell(cell, bench, expected_bytes)
            if _measures_aborts(cell, options):
                with stopwatch.phase("aborts"):
                    await _run_aborts(cell, bench, expected_bytes)
            load = machine_load()
            for contender in contenders:
                if contender.offers(cell):
                    collected[(contender.name, cell)].load = load
    finally:
        with stopwatch.phase("stopping servers"):
            await asyncio.gather(*(server.stop() for server in servers.values()))
    return collected


@dataclass(frozen=True)
class _Bench:
    """What every cell of a group is measured with: its contenders, their servers' URLs and
    probes, and where the figures go."""

    contenders: Sequence[Contender]
    instruments: Instruments
    control: httpx.AsyncClient
    options: CompareOptions
    urls: dict[str, str]
    probes: dict[str, Probe]
    auth_header: dict[str, str]
    collected: dict[tuple[str, Cell], Collected]
    progress: Progress
    # Contenders whose server passed the memory cap, and where: the memory it may still hold
    # (what it queued for the readers that went) would be charged to every later scenario.
    capped: dict[str, str] = field(default_factory=dict)


async def _run_cell(cell: Cell, bench: _Bench, expected_bytes: int) -> None:
    contenders, options, urls = bench.contenders, bench.options, bench.urls
    collected, progress = bench.collected, bench.progress
    params = cell.params(options.batch)
    cost = cell_cost(cell) * options.requests_per_stream
    for round_number in range(options.warmup + options.repeats):
        warm = round_number < options.warmup
        for contender in contenders:
            if not contender.offers(cell):
                continue
            into = collected[(contender.name, cell)]
            earlier = bench.capped.get(contender.name)
            if earlier is not None and not into.capped:
                into.capped = f"not run: its server passed the memory cap in {earlier}"
                into.failures.append(into.capped)
            if contender.name not in urls or into.capped:
                progress.advance(cost)
                continue
            outcome = await measure_round(
                cell, bench.instruments, urls[contender.name], params,
                {**bench.auth_header, **cell.headers()}, expected_bytes, bench.probes[contender.name], options.memory_cap_bytes,
                options.requests_per_stream,
            )  # fmt: skip
            progress.advance(cost)
            if outcome.capped:
                into.capped = outcome.capped
                into.failures.append(outcome.capped)
                bench.capped[contender.name] = cell.label
                progress.note(f"{contender.name} {cell.label}: {outcome.capped}")
                continue
            if warm or outcome.round is None:
                continue
            sample = outcome.sample
            into.rounds.append(outcome.round)
            if sample.peak_memory_growth_bytes is not None:
                into.memory.append(sample.peak_memory_growth_bytes)
            if sample.cpu_seconds is not None:
                into.cpu.append(sample.cpu_seconds)
            if outcome.open_files is not None:
                into.open_files.append(outcome.open_files)
            if sample.ledger is not None:
                figures = round_cost(*sample.ledger, requests=len(outcome.round.requests))
                if figures is not None:
                    into.costs.append(figures)
            if outcome.watch.samples:
                into.watches.append(outcome.watch)
            if outcome.bystander is not None:
                into.bystanders.append(outcome.bystander)


def _measures_aborts(cell: Cell, options: CompareOptions) -> bool:
    """Once per (endpoint, source, format, read rate): `/chunked` with the most rows, one
    request at a time. `/standard` sends nothing until the database is done with it.
    Identity bodies only: a vanishing reader leaves after a share of the body's wire bytes,
    which a compressed body's are not known before it is read (that a compressed body's reader
    leaving holds nothing is tests/test_conformance_compression.py's)."""
    return (
        cell.compression == NO_COMPRESSION
        and cell.endpoint == "chunked"
        and cell.http == DEFAULT_HTTP  # its readers go away over HTTP/1.1 (compare/aborts.py)
        and cell.rows == max(options.rows)
        and cell.concurrency == options.concurrency[0]
    )


async def _run_aborts(cell: Cell, bench: _Bench, expected_bytes: int) -> None:
    instruments, auth_header = bench.instruments, bench.auth_header
    for contender in bench.contenders:
        into = bench.collected.get((contender.name, cell))
        if into is None or contender.name not in bench.urls or into.capped:
            continue
        url = bench.urls[contender.name]
        ledger = LedgerReader(bench.control, url, auth_header)
        pids = list(bench.probes[contender.name].pids)

        async def holding(ledger: LedgerReader = ledger, pids: list[int] = pids) -> bool | None:
            values = await ledger.read()
            busy = None
            if instruments.backends is not None and pids:
                busy, _ = await backends_busy(instruments.backends, pids)
            if values is None and busy is None:
                return None
            return bool(values and values[HELD]) or bool(busy)

        into.abort = await measure_aborts(
            f"{url}/{cell.endpoint}", cell.params(bench.options.batch),
            {**auth_header, **cell.headers()},
            cell.read_rate, expected_bytes, holding,
        )  # fmt: skip
