"""One comparator run: database, baselines, verification, then the scenario matrix, port by port
interleaved round by round, each (endpoint, source, format) on fresh server processes. A port runs
once per data layer of the run, each a contender with servers of its own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import asyncpg
import httpx

from shared.auth import make_token
from shared.database import Database, create_database
from shared.layers import layers_for
from shared.pairs import load_pair
from shared.seed import seed
from shared.settings import Settings

from . import environment
from .baselines import MemoryServer, Reference, build_reference, measure_ceiling, measure_floor
from .clients import MeasuringClient, http2_client_version, open_client
from .clients.base import REQUEST_TIMEOUT
from .groups import Contender, group_cells, run_group
from .load.base import LoadEngine, machine_load
from .load.engines import open_engine
from .options import Cell, CompareOptions, plan
from .results import (
    DEFAULT_HTTP,
    Check,
    ClientCeiling,
    Floor,
    Matrix,
    Results,
    Scenario,
    Verification,
)
from .rounds import Instruments
from .scenarios import build_scenario, port_result
from .servers import ServerFailed, metrics_probe, start_local
from .verify import verify_port
from .work import (
    STARTUP_COST,
    Progress,
    Stopwatch,
    ceiling_cost,
    cell_cost,
    floor_cost,
    reference_cost,
    verify_cost,
)

# Verification times nothing: two contenders at a time, one per core.
VERIFY_PARALLEL = 2


def estimate_work(options: CompareOptions, cells: Sequence[Cell]) -> float:
    contenders = len(options.contender_names)
    rounds = options.warmup + options.repeats
    work = 0.0
    for rows in options.rows:
        for _ in options.formats:
            work += reference_cost(rows) + 2 * floor_cost(options, rows)
            work += contenders * verify_cost(rows)
    for rows, _, concurrency, _, _ in calibrations(cells):
        work += ceiling_cost(options, rows, concurrency) * options.requests_per_stream
    for cell in cells:
        # A contender whose layer does not offer the cell's source sits it out.
        taking_part = len(options.targets) + sum(
            cell.source in c.sources for c in options.contenders
        )
        work += taking_part * rounds * cell_cost(cell) * options.requests_per_stream
    work += len(group_cells(cells, options.reuse_servers)) * STARTUP_COST
    return work


def calibrations(cells: Sequence[Cell]) -> list[tuple[int, str, int, str, str]]:
    """Every (rows, format, concurrency, HTTP version, compression) the matrix measures: the
    client's ceiling is measured at each, the same bytes as many at a time as the scenarios read
    them, over the same version in the same coding."""
    return sorted(
        {(cell.rows, cell.format, cell.concurrency, cell.http, cell.compression) for cell in cells}
    )


async def run_compare(
    options: CompareOptions,
    settings: Settings,
    database_url: str,
    embedded: bool,
    progress: Progress,
    stopwatch: Stopwatch | None = None,
) -> Results:
    """Measure every contender; `settings.database_url` must already be resolved. `stopwatch`
    keeps where the time went, phase by phase."""
    started = time.perf_counter()
    created_at = environment.utc_now()
    cells, note = plan(options)
    secret = (settings.jwt_secret or secrets.token_urlsafe(32)) if options.auth else None
    server_settings = dataclasses.replace(
        settings, database_url=database_url, jwt_secret=secret, metrics=False, access_log=False
    )
    auth_header = {"Authorization": f"JWT {make_token(secret, ttl=6 * 3600)}"} if secret else {}
    contenders = [
        Contender(c.name, load_pair(c.pair), None, layer=c.layer, sources=c.sources, http=c.http)
        for c in options.contenders
    ]
    contenders += [Contender(t.name, None, t.url, url=t.url) for t in options.targets]

    load_before = machine_load()
    interrupted = False
    stopwatch = stopwatch or Stopwatch()
    progress.begin("seeding the database")
    with stopwatch.phase("seeding"):
        await _seed(database_url, max(options.rows))
    database = await create_database(server_settings)
    log_dir = (options.out or Path(".")) / "logs"
    top = max(max(cell.concurrency for cell in cells), 1)
    try:
        server_version = await database.server_version()
        with tempfile.TemporaryDirectory(prefix="streambench-compare-") as scratch:
            progress.begin("computing expected bodies")
            with stopwatch.phase("expected bodies"):
                reference = await build_reference(
                    database, options.rows, options.formats, options.batch, Path(scratch),
                    options.compression,
                )  # fmt: skip
            progress.advance(sum(map(reference_cost, options.rows)) * len(options.formats))
            progress.begin("COPY floors")
            with stopwatch.phase("floors"):
                floors, body_floors = await _floors(database, options, progress)
            progress.begin(
                f"client ceiling ({options.client}"
                + (", and httpx over HTTP/2" if "2" in options.http else "")
                + ") at every concurrency"
            )
            # The engine sends the timed rounds; a client of this process the single requests
            # beside them; httpx, timing nothing, checks the bodies and asks the servers
            # whether they are up.
            async with (
                open_engine(options, top) as engine,
                open_client(options.client, top + 4) as client,
                httpx.AsyncClient(
                    trust_env=False, timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=10.0)
                ) as control,
            ):
                with stopwatch.phase("client ceiling"):
                    ceilings = await _ceilings(engine, reference, cells, options, progress)
                routes = list(dict.fromkeys((c.endpoint, c.source) for c in cells))
                progress.begin(
                    f"verifying {len(contenders)} contender(s), {VERIFY_PARALLEL} at a time"
                )
                with stopwatch.phase("verifying"):
                    verify = functools.partial(
                        _verify, client=control, reference=reference, options=options,
                        settings=server_settings, log_dir=log_dir, auth_header=auth_header,
                        routes=routes, compression=options.compression,
                    )  # fmt: skip
                    work = sum(map(verify_cost, options.rows)) * len(options.formats)
                    await _verify_all(contenders, verify, work, progress)
                timed = [c for c in contenders if c.verification and c.verification.passed]
                floor_of = {(f.rows, f.format): f for f in floors}
                body_floor_of = {(f.rows, f.format): f for f in body_floors}
                ceiling_of = {
                    (c.rows, c.format, c.concurrency, c.http, c.compression): c for c in ceilings
                }
                scenarios: list[Scenario] = []
                engine_described = engine.describe()
                if any(v != DEFAULT_HTTP for v in options.http):
                    engine_described += (
                        f"; HTTP/2 scenarios read by {http2_client_version()}, each round's "
                        "requests as streams of one connection per client process"
                    )
                try:
                    async with _instruments(engine, client, database_url) as instruments:
                        for group in group_cells(cells, options.reuse_servers):
                            collected = await run_group(
                                group, timed, instruments, control, options, server_settings, log_dir,
                                auth_header, reference, progress, stopwatch,
                            )  # fmt: skip
                            for cell in group:
                                for contender in (c for c in timed if c.offers(cell)):
                                    scenarios.append(
                                        build_scenario(
                                            contender, cell, collected[(contender.name, cell)],
                                            options, floor_of.get((cell.rows, cell.format)),
                                            body_floor_of.get((cell.rows, cell.format)),
                                            ceiling_of.get(
                                                (
                                                    cell.rows,
                                                    cell.format,
                                                    cell.concurrency,
                                                    cell.http,
                                                    cell.compression,
                                                )
                                            ),
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
                    database_url,
                    [c.name for c in options.contenders],
                    {t.name: t.url for t in options.targets},
                ),
                _layer_libraries(contenders),
                engine_described,
            ),
            load_before=load_before,
            load_after=machine_load(),
        ),
        # Each contender's layer is its own (the ports' `layer`, the matrix's `layers`).
        settings={
            **{k: v for k, v in server_settings.as_public_dict().items() if k != "layer"},
            "auth": options.auth,
        },
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
            reuse_servers=options.reuse_servers,
            layers=options.layers,
            read_rates=options.read_rates,
            memory_cap_bytes=options.memory_cap_bytes,
            client=options.client,
            load=options.load,
            client_processes=options.client_processes,
            requests_per_stream=options.requests_per_stream,
            http=options.http,
            compression=options.compression,
        ),
        ports=tuple(port_result(c) for c in contenders),
        floor=tuple(floors),
        body_floor=tuple(body_floors),
        client_ceiling=tuple(ceilings),
        scenarios=tuple(scenarios),
        duration_seconds=time.perf_counter() - started,
        interrupted=interrupted,
        not_offered=options.not_offered,
    )


def _layer_libraries(contenders: Sequence[Contender]) -> tuple[str, ...]:
    """What the run's data layers read the rows with (psycopg, Django, ...), for their versions."""
    names: dict[str, None] = {}
    for contender in contenders:
        if contender.descriptor is not None and contender.layer is not None:
            spec = layers_for(contender.descriptor.port.layers).get(contender.layer)
            names.update(dict.fromkeys(spec.requires if spec else ()))
    return tuple(names)


@contextlib.asynccontextmanager
async def _instruments(
    engine: LoadEngine, client: MeasuringClient, database_url: str
) -> AsyncIterator[Instruments]:
    """The run's measuring tools: the engine, `client`, and a connection of its own that watches
    the servers' backends in pg_stat_activity."""
    watcher = await asyncpg.connect(database_url)
    try:
        yield Instruments(engine, client, watcher)
    finally:
        await watcher.close()


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
                progress.advance(floor_cost(options, rows))
    return floors, body_floors


async def _ceilings(
    engine: LoadEngine,
    reference: Reference,
    cells: Sequence[Cell],
    options: CompareOptions,
    progress: Progress,
) -> list[ClientCeiling]:
    server = await MemoryServer.start(reference.folder)
    ceilings: list[ClientCeiling] = []
    try:
        for rows, format, concurrency, http, compression in calibrations(cells):
            expected = reference.expected[(rows, format)]
            chunks = reference.chunks[(rows, format)]
            ceilings.append(
                await measure_ceiling(
                    engine,
                    server,
                    expected,
                    chunks,
                    concurrency,
                    options.repeats,
                    options.warmup,
                    options.requests_per_stream,
                    http,
                    compression,
                )
            )
            progress.advance(ceiling_cost(options, rows, concurrency))
    finally:
        server.stop()
    return ceilings


async def _verify_all(
    contenders: Sequence[Contender],
    verify_one: Callable[[Contender], Awaitable[None]],
    work: float,
    progress: Progress,
) -> None:
    """Verify every contender, VERIFY_PARALLEL at a time: nothing is timed meanwhile, and each
    local contender's server is started, checked and stopped on its own."""
    gate = asyncio.Semaphore(VERIFY_PARALLEL)

    async def verify(contender: Contender) -> None:
        async with gate:
            started = time.perf_counter()
            await verify_one(contender)
            took = time.perf_counter() - started
            up = f", its server up in {contender.startup[-1]:.1f} s" if contender.startup else ""
            progress.note(f"verified {contender.name} in {took:.1f} s{up}")
            progress.advance(work)

    await asyncio.gather(*(verify(contender) for contender in contenders))


async def _verify(
    contender: Contender,
    *,
    client: httpx.AsyncClient,
    reference: Reference,
    options: CompareOptions,
    settings: Settings,
    log_dir: Path,
    auth_header: dict[str, str],
    routes: Sequence[tuple[str, str]],
    compression: Sequence[str] = (),
) -> None:
    expected = list(reference.expected.values())
    offered = [(e, s) for e, s in routes if s in contender.sources]
    # What the layer does not offer must be refused as the contract says, not served otherwise.
    refused = [(e, s) for e, s in routes if s not in contender.sources]
    if contender.descriptor is None:
        assert contender.target_url is not None
        contender.verification = await verify_port(
            client, contender.target_url, expected, options.batch, auth_header, routes,
            compression=compression or options.compression,
        )  # fmt: skip
        probe = await metrics_probe(client, contender.target_url, auth_header)
        contender.source = probe.source
        return
    contender.source = "proc"
    try:
        server = await start_local(
            contender.descriptor,
            settings.replace(layer=contender.layer),
            log_dir,
            client,
            "verify",
            contender.name,
        )
    except ServerFailed as error:
        contender.verification = Verification.of([Check("start", "fail", str(error))])
        return
    try:
        contender.url = server.url
        if server.startup_seconds is not None:
            contender.startup.append(server.startup_seconds)
        verification = await verify_port(
            client, server.url, expected, options.batch, auth_header, offered, refused,
            compression=compression or options.compression,
        )  # fmt: skip
    finally:
        await server.stop()
    # A contract point the server cannot meet under hostile clients (limits, log lines,
    # shutdown) is a warning beside the verification: the bodies, which the timings depend on,
    # were checked above and fail the pair on their own.
    gaps = [
        Check(f"gap: {point}", "warn", why) for point, why in contender.descriptor.gaps().items()
    ]
    contender.verification = Verification.of([*verification.checks, *gaps])
