"""One comparator run: database, baselines, verification, then the scenario matrix, port by port
interleaved round by round, each (endpoint, source, format) on fresh server processes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg
import httpx

from shared.auth import make_token
from shared.database import Database, create_database
from shared.pairs import Pair, load_pair
from shared.seed import seed
from shared.settings import Settings

from . import environment
from .analysis import MEGABYTE, rate, ratio, scenario_flags, thin
from .baselines import MemoryServer, Reference, build_reference, measure_ceiling, measure_floor
from .client import Round, make_client, timed_round
from .options import Cell, CompareOptions, plan
from .results import (
    Check,
    ClientCeiling,
    Floor,
    Matrix,
    PortResult,
    Results,
    Scenario,
    ServerFigures,
    ServerSource,
    Stats,
    Verification,
)
from .servers import (
    LocalServer,
    NoProbe,
    Probe,
    Sample,
    ServerFailed,
    metrics_probe,
    start_local,
    start_locals,
)
from .verify import verify_port

STARTUP_COST = 3.0


class Progress(Protocol):
    """Where a run reports how far it got. Work is counted in estimated seconds (the same costs as
    `estimate_work`), so progress is about time, not steps."""

    def begin(self, label: str) -> None:
        """A step starts (and the one before it is done)."""

    def advance(self, work: float) -> None: ...

    def note(self, text: str) -> None:
        """Something worth a line of its own, e.g. how long the servers took to start."""


def round_cost(rows: int, concurrency: int = 1) -> float:
    return 0.005 + rows * concurrency * 1.2e-6


# Each stage's cost, used alike by the estimate and by the progress it reports.
def _reference_cost(rows: int) -> float:
    return round_cost(rows)


def _floor_cost(options: CompareOptions, rows: int) -> float:
    return (options.warmup + options.repeats) * round_cost(rows) / 2


def _ceiling_cost(options: CompareOptions, rows: int) -> float:
    return (options.warmup + options.repeats) * round_cost(rows) / 4


def _verify_cost(rows: int) -> float:
    return 2 * round_cost(rows)  # both endpoints


def group_cells(cells: Sequence[Cell]) -> list[list[Cell]]:
    """Cells that share server processes: one (endpoint, source, format), lightest load first.

    Memory growth is each round's peak over the resident set the process had fresh, before any
    request. Run in rising order of rows x concurrency, a lighter scenario's freed-but-kept
    memory is less than a heavier one reuses, so it cannot hide that one's growth; two
    endpoints or sources never share a process, so a buffered response's arenas can never hide
    a streamed one's. Starting servers once per group, not once per row count, is what keeps a
    matrix of many ports and sources within minutes.
    """
    groups: dict[tuple[str, str, str], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.endpoint, cell.source, cell.format), []).append(cell)
    return [
        sorted(group, key=lambda c: (c.rows * c.concurrency, c.rows, c.concurrency))
        for group in groups.values()
    ]


@dataclass
class Contender:
    """A contender in this run: a local (port, server) pair or a target URL, and what is known of
    it so far."""

    name: str
    descriptor: Pair | None
    target_url: str | None
    verification: Verification | None = None
    url: str = ""
    source: ServerSource = "none"
    startup: list[float] = field(default_factory=list)


@dataclass
class _Collected:
    rounds: list[Round] = field(default_factory=list)
    memory: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    load: float | None = None


def estimate_work(options: CompareOptions, cells: Sequence[Cell]) -> float:
    contenders = len(options.names)
    rounds = options.warmup + options.repeats
    work = 0.0
    for rows in options.rows:
        for _ in options.formats:
            work += _reference_cost(rows) + 2 * _floor_cost(options, rows)
            work += _ceiling_cost(options, rows) + contenders * _verify_cost(rows)
    for cell in cells:
        work += contenders * rounds * round_cost(cell.rows, cell.concurrency)
    work += len(group_cells(cells)) * STARTUP_COST
    return work


async def run_compare(
    options: CompareOptions,
    settings: Settings,
    database_url: str,
    embedded: bool,
    progress: Progress,
) -> Results:
    """Measure every contender; `settings.database_url` must already be resolved."""
    started = time.perf_counter()
    created_at = environment.utc_now()
    cells, note = plan(options)
    secret = (settings.jwt_secret or secrets.token_urlsafe(32)) if options.auth else None
    server_settings = dataclasses.replace(
        settings, database_url=database_url, jwt_secret=secret, metrics=False, access_log=False
    )
    auth_header = {"Authorization": f"JWT {make_token(secret, ttl=6 * 3600)}"} if secret else {}
    contenders = [Contender(name, load_pair(name), None) for name in options.ports]
    contenders += [Contender(t.name, None, t.url, url=t.url) for t in options.targets]

    load_before = _load()
    interrupted = False
    progress.begin("seeding the database")
    await _seed(database_url, max(options.rows))
    database = await create_database(server_settings)
    log_dir = (options.out or Path(".")) / "logs"
    top = max(max(cell.concurrency for cell in cells), 1)
    try:
        server_version = await database.server_version()
        with tempfile.TemporaryDirectory(prefix="streambench-compare-") as scratch:
            progress.begin("computing expected bodies")
            reference = await build_reference(
                database, options.rows, options.formats, options.batch, Path(scratch)
            )
            progress.advance(sum(map(_reference_cost, options.rows)) * len(options.formats))
            progress.begin("COPY floors")
            floors, body_floors = await _floors(database, options, progress)
            progress.begin("client ceiling")
            async with make_client(top + 4) as client:
                ceilings = await _ceilings(client, reference, options, progress)
                routes = list(dict.fromkeys((c.endpoint, c.source) for c in cells))
                for contender in contenders:
                    progress.begin(f"verifying {contender.name}")
                    await _verify(
                        contender, client, reference, options, server_settings, log_dir,
                        auth_header, routes,
                    )  # fmt: skip
                    progress.advance(sum(map(_verify_cost, options.rows)) * len(options.formats))
                timed = [c for c in contenders if c.verification and c.verification.passed]
                floor_of = {(f.rows, f.format): f for f in floors}
                body_floor_of = {(f.rows, f.format): f for f in body_floors}
                ceiling_of = {(c.rows, c.format): c for c in ceilings}
                scenarios: list[Scenario] = []
                try:
                    for group in group_cells(cells):
                        collected = await _run_group(
                            group, timed, client, options, server_settings, log_dir,
                            auth_header, reference, progress,
                        )  # fmt: skip
                        for cell in group:
                            for contender in timed:
                                scenarios.append(
                                    build_scenario(
                                        contender, cell, collected[(contender.name, cell)],
                                        options, floor_of.get((cell.rows, cell.format)),
                                        body_floor_of.get((cell.rows, cell.format)),
                                        ceiling_of.get((cell.rows, cell.format)),
                                    )
                                )  # fmt: skip
                except asyncio.CancelledError:
                    # Ctrl-C: asyncio cancels this task. Keep every finished group's scenarios;
                    # the group under way is dropped (its servers were stopped on the way out).
                    interrupted = True
                    task = asyncio.current_task()
                    if task is not None:
                        task.uncancel()
    finally:
        await database.dispose()
    return Results(
        created_at=created_at,
        streambench=environment.streambench_info(),
        environment=dataclasses.replace(
            environment.describe(
                database_url,
                server_version,
                embedded,
                environment.layout(
                    database_url, options.ports, {t.name: t.url for t in options.targets}
                ),
            ),
            load_before=load_before,
            load_after=_load(),
        ),
        settings={**server_settings.as_public_dict(), "auth": options.auth},
        matrix=Matrix(
            ports=options.names,
            rows=options.rows,
            formats=options.formats,
            concurrency=options.concurrency,
            endpoints=options.endpoints,
            sources=options.sources,
            repeats=options.repeats,
            batch=options.batch,
            warmup=options.warmup,
            quick=options.quick,
            note=note,
        ),
        ports=tuple(_port_result(c) for c in contenders),
        floor=tuple(floors),
        body_floor=tuple(body_floors),
        client_ceiling=tuple(ceilings),
        scenarios=tuple(scenarios),
        duration_seconds=time.perf_counter() - started,
        interrupted=interrupted,
    )


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


async def _seed(database_url: str, rows: int) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await seed(connection, rows)
    finally:
        await connection.close()


async def _floors(
    database: Database, options: CompareOptions, progress: Progress
) -> tuple[list[Floor], list[Floor]]:
    """The rows floors and the body floors, each (rows, format) measured in turn."""
    floors: list[Floor] = []
    body_floors: list[Floor] = []
    for rows in options.rows:
        for format in options.formats:
            for body, into in ((False, floors), (True, body_floors)):
                into.append(
                    await measure_floor(
                        database, rows, format, options.repeats, options.warmup, body=body
                    )
                )
                progress.advance(_floor_cost(options, rows))
    return floors, body_floors


async def _ceilings(
    client: httpx.AsyncClient, reference: Reference, options: CompareOptions, progress: Progress
) -> list[ClientCeiling]:
    server = await MemoryServer.start(reference.folder)
    ceilings: list[ClientCeiling] = []
    try:
        for (rows, format), expected in reference.expected.items():
            chunks = reference.chunks[(rows, format)]
            ceilings.append(
                await measure_ceiling(
                    client, server, expected, chunks, options.repeats, options.warmup
                )
            )
            progress.advance(_ceiling_cost(options, rows))
    finally:
        server.stop()
    return ceilings


async def _verify(
    contender: Contender,
    client: httpx.AsyncClient,
    reference: Reference,
    options: CompareOptions,
    settings: Settings,
    log_dir: Path,
    auth_header: dict[str, str],
    routes: Sequence[tuple[str, str]],
) -> None:
    expected = list(reference.expected.values())
    if contender.descriptor is None:
        assert contender.target_url is not None
        contender.verification = await verify_port(
            client, contender.target_url, expected, options.batch, auth_header, routes
        )
        probe = await metrics_probe(client, contender.target_url, auth_header)
        contender.source = probe.source
        return
    contender.source = "proc"
    try:
        server = await start_local(contender.descriptor, settings, log_dir, client, "verify")
    except ServerFailed as error:
        contender.verification = Verification.of([Check("start", "fail", str(error))])
        return
    try:
        contender.url = server.url
        if server.startup_seconds is not None:
            contender.startup.append(server.startup_seconds)
        verification = await verify_port(
            client, server.url, expected, options.batch, auth_header, routes
        )
    finally:
        await server.stop()
    # A contract point the server cannot meet under hostile clients (limits, log lines,
    # shutdown) is a warning beside the verification: the bodies, which the timings depend on,
    # were checked above and fail the pair on their own.
    gaps = [
        Check(f"gap: {point}", "warn", why) for point, why in contender.descriptor.gaps().items()
    ]
    contender.verification = Verification.of([*verification.checks, *gaps])


async def _run_group(
    group: Sequence[Cell],
    contenders: Sequence[Contender],
    client: httpx.AsyncClient,
    options: CompareOptions,
    settings: Settings,
    log_dir: Path,
    auth_header: dict[str, str],
    reference: Reference,
    progress: Progress,
) -> dict[tuple[str, Cell], _Collected]:
    """Fresh servers for this group; per cell a warm-up, then rounds interleaved: A, B, A, B..."""
    collected = {(c.name, cell): _Collected() for c in contenders for cell in group}
    first = group[0]
    progress.begin(f"starting {len(contenders)} server(s) for {_group_label(first)}")
    label = f"{first.endpoint}-{first.source}-{first.format}"
    local = [c for c in contenders if c.descriptor is not None]
    started = await start_locals(
        [c.descriptor for c in local if c.descriptor], settings, log_dir, client, label
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
                collected[(contender.name, cell)].failures.append(
                    f"server did not start: {outcome}"
                )
    if took:
        progress.note(f"servers for {_group_label(first)} up: " + ", ".join(took))
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
        for cell in group:
            progress.begin(cell.label)
            expected_bytes = reference.expected[(cell.rows, cell.format)].length
            await _run_cell(
                cell, contenders, client, options, urls, probes, auth_header, expected_bytes,
                collected, progress,
            )  # fmt: skip
            load = _load()
            for contender in contenders:
                collected[(contender.name, cell)].load = load
    finally:
        await asyncio.gather(*(server.stop() for server in servers.values()))
    return collected


async def _run_cell(
    cell: Cell,
    contenders: Sequence[Contender],
    client: httpx.AsyncClient,
    options: CompareOptions,
    urls: dict[str, str],
    probes: dict[str, Probe],
    auth_header: dict[str, str],
    expected_bytes: int,
    collected: dict[tuple[str, Cell], _Collected],
    progress: Progress,
) -> None:
    params = cell.params(options.batch)
    cost = round_cost(cell.rows, cell.concurrency)
    for round_number in range(options.warmup + options.repeats):
        warm = round_number < options.warmup
        for contender in contenders:
            if contender.name not in urls:
                progress.advance(cost)
                continue
            probe = probes[contender.name]
            await probe.before()
            measured = await timed_round(
                client, f"{urls[contender.name]}/{cell.endpoint}", params, auth_header,
                cell.format, cell.rows, cell.concurrency, expected_bytes,
            )  # fmt: skip
            sample: Sample = await probe.after()
            progress.advance(cost)
            if warm:
                continue
            into = collected[(contender.name, cell)]
            into.rounds.append(measured)
            if sample.peak_memory_growth_bytes is not None:
                into.memory.append(sample.peak_memory_growth_bytes)
            if sample.cpu_seconds is not None:
                into.cpu.append(sample.cpu_seconds)


def build_scenario(
    contender: Contender,
    cell: Cell,
    collected: _Collected,
    options: CompareOptions,
    floor: Floor | None,
    body_floor: Floor | None,
    ceiling: ClientCeiling | None,
) -> Scenario:
    requests = [r for round_ in collected.rounds for r in round_.requests]
    good = [r for r in requests if r.ok]
    expected_requests = options.repeats * cell.concurrency
    errors = (expected_requests - len(good)) if collected.failures else len(requests) - len(good)
    examples = list(dict.fromkeys([*collected.failures, *(r.error for r in requests if r.error)]))[
        :5
    ]
    total = Stats.maybe(r.total for r in good)
    ttfb = Stats.maybe(r.ttfb for r in good if r.ttfb is not None)
    byte_counts = sorted(r.bytes for r in good)
    round_rows: list[float] = []
    round_bytes: list[float] = []
    round_requests: list[float] = []
    for round_ in collected.rounds:
        done = [r for r in round_.requests if r.ok]
        if not done:
            continue
        for into, amount in (
            (round_rows, cell.rows * len(done)),
            (round_bytes, sum(r.bytes for r in done) / MEGABYTE),
            (round_requests, len(done)),
        ):
            value = rate(amount, round_.seconds)
            if value is not None:
                into.append(value)
    arrival: tuple[tuple[float, int], ...] = ()
    if good:
        median_request = sorted(good, key=lambda r: r.total)[(len(good) - 1) // 2]
        arrival = tuple(thin(median_request.arrival))
    floor_ratio = ratio(total.median if total else None, floor.seconds.median if floor else None)
    flags, reasons = scenario_flags(
        ttfb=ttfb,
        total=total,
        concurrency=cell.concurrency,
        ceiling=ceiling,
        errors=errors,
        requests=max(expected_requests, len(requests)),
        floor_ratio=floor_ratio,
    )
    return Scenario(
        port=contender.name,
        endpoint=cell.endpoint,
        source=cell.source,
        rows=cell.rows,
        format=cell.format,
        concurrency=cell.concurrency,
        repeats=options.repeats,
        requests=len(requests),
        errors=errors,
        error_examples=tuple(examples),
        headers=Stats.maybe(r.headers for r in good if r.headers is not None),
        ttfb=ttfb,
        total=total,
        bytes=byte_counts[(len(byte_counts) - 1) // 2] if byte_counts else None,
        chunks=Stats.maybe(r.chunks for r in good),
        rows_per_second=_median(round_rows),
        megabytes_per_second=_median(round_bytes),
        requests_per_second=_median(round_requests),
        floor_ratio=floor_ratio,
        body_floor_ratio=ratio(
            total.median if total else None, body_floor.seconds.median if body_floor else None
        ),
        server=ServerFigures(
            source=contender.source,
            peak_memory_growth_bytes=Stats.maybe(collected.memory),
            cpu_seconds=Stats.maybe(collected.cpu),
        ),
        arrival=arrival,
        flags=flags,
        flag_reasons=reasons,
        load=collected.load,
    )


def _group_label(cell: Cell) -> str:
    return f"{cell.endpoint}/{cell.source} {cell.format}"


def _median(values: Sequence[float]) -> float | None:
    stats = Stats.maybe(values)
    return stats.median if stats else None


def _port_result(contender: Contender) -> PortResult:
    descriptor = contender.descriptor
    if descriptor is not None:
        framework, server = descriptor.labels()
        details = descriptor.details()
    else:
        framework = server = "unknown (target)"
        details = f"already running at {contender.target_url}"
    return PortResult(
        name=contender.name,
        framework=framework,
        server=server,
        details=details,
        url=contender.url,
        target=descriptor is None,
        server_metrics=contender.source,
        verification=contender.verification
        or Verification.of([Check("verify", "fail", "not verified")]),
        startup=Stats.maybe(contender.startup),
    )
