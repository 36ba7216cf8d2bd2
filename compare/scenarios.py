"""A scenario's figures from what its rounds collected: statistics, rates, ratios to the floors,
flags; and a contender's entry in the results."""

from __future__ import annotations

from collections.abc import Sequence

from .analysis import MEGABYTE, Flag, rate, ratio, scenario_flags, thin
from .client_load import ClientFigures, client_figures, saturated_reason
from .groups import Collected, Contender
from .options import Cell, CompareOptions
from .read_rates import format_rate
from .results import (
    Bystander,
    Check,
    ClientCeiling,
    DatabaseFigures,
    Floor,
    PortResult,
    Scenario,
    ServerFigures,
    Stats,
    Verification,
)
from .rounds import BYSTANDER_DELAY, BYSTANDER_ROWS
from .streams import starved_flag, stream_figures

# A paced reader that reached less than this share of its rate was held back by the server (or
# the client): its figures are not those of a reader at that rate.
RATE_REACHED_SHARE = 0.9
# A streamed response whose memory per open stream passes both of these holds what its reader
# has not taken yet: about a body, where the contract promises a batch or two.
BUFFERS_AHEAD_SHARE = 0.5
BUFFERS_AHEAD_FLOOR = 4 * 1024 * 1024


def build_scenario(
    contender: Contender,
    cell: Cell,
    collected: Collected,
    options: CompareOptions,
    floor: Floor | None,
    body_floor: Floor | None,
    ceiling: ClientCeiling | None,
) -> Scenario:
    requests = [r for round_ in collected.rounds for r in round_.requests]
    good = [r for r in requests if r.ok]
    expected_requests = options.repeats * cell.concurrency * options.requests_per_stream
    errors = (expected_requests - len(good)) if collected.failures else len(requests) - len(good)
    examples = list(dict.fromkeys([*collected.failures, *(r.error for r in requests if r.error)]))[
        :5
    ]
    total = Stats.maybe(r.total for r in good)
    ttfb = Stats.maybe(r.ttfb for r in good if r.ttfb is not None)
    byte_counts = sorted(r.bytes for r in good)
    decoded_counts = sorted(r.decoded_bytes for r in good)
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
    reached = Stats.maybe(r.reached_rate for r in good if r.reached_rate is not None)
    memory = Stats.maybe(collected.memory)
    body = byte_counts[(len(byte_counts) - 1) // 2] if byte_counts else None
    streams = stream_figures(
        collected.rounds, collected.open_files, streamed=cell.endpoint == "chunked"
    )
    decoded = decoded_counts[(len(decoded_counts) - 1) // 2] if decoded_counts else None
    client = client_figures(collected.rounds)
    flags, reasons = scenario_flags(
        ttfb=ttfb,
        total=total,
        concurrency=cell.concurrency,
        ceiling=ceiling,
        errors=errors,
        requests=max(expected_requests, len(requests)),
        floor_ratio=floor_ratio,
        extra=(
            buffers_ahead(cell, memory, decoded),
            rate_unreached(cell.read_rate, reached),
            None if collected.capped is None else Flag("memory-capped", collected.capped),
            starved_flag(streams),
            client_saturated(client),
        ),
    )
    return Scenario(
        port=contender.port,
        layer=contender.layer,
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
        bytes=body,
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
            peak_memory_growth_bytes=memory,
            cpu_seconds=Stats.maybe(collected.cpu),
        ),
        arrival=arrival,
        flags=flags,
        flag_reasons=reasons,
        load=collected.load,
        read_rate=cell.read_rate,
        reached_rate=reached,
        database=database_figures(collected),
        bystander=bystander(collected, cell),
        abort=collected.abort,
        streams=streams,
        client=client,
        http=cell.http,
        compression=cell.compression,
        decoded_bytes=None if decoded == body else decoded,
    )


def database_figures(collected: Collected) -> DatabaseFigures | None:
    costs, watches = collected.costs, collected.watches
    if not costs and not watches:
        return None
    return DatabaseFigures(
        connection_seconds=Stats.maybe(c.connection_seconds for c in costs),
        held_peak=max((c.held_peak for c in costs), default=None),
        hold_max=max((c.hold_max for c in costs), default=None),
        wait_max=max((c.wait_max for c in costs), default=None),
        checkouts_failed=sum(c.checkouts_failed for c in costs) if costs else None,
        transaction_age_max=max((w.transaction_age_max for w in watches), default=None),
        busy_backends_peak=max((w.busy_peak for w in watches), default=None),
    )


def bystander(collected: Collected, cell: Cell) -> Bystander | None:
    sent = collected.bystanders
    if not sent:
        return None
    answered = [r for r in sent if r.ok]
    return Bystander(
        rows=min(BYSTANDER_ROWS, cell.rows),
        delay=BYSTANDER_DELAY,
        sent=len(sent),
        ttfb=Stats.maybe(r.ttfb for r in answered if r.ttfb is not None),
        total=Stats.maybe(r.total for r in answered),
        refused=len(sent) - len(answered),
        examples=tuple(dict.fromkeys(r.error for r in sent if r.error))[:3],
    )


def buffers_ahead(cell: Cell, memory: Stats | None, body: int | None) -> Flag | None:
    """A streamed response whose server holds about a body per open stream: it does not wait
    for its reader (a middleware that queues chunks, a server that buffers writes). Only a paced
    reader can tell: one at full speed takes the body as fast as it is made, so nothing waits for
    it, and a server's own growth (Granian's 5 MB at 500,000 text rows) is not buffering. A
    `fetch` holds every row by design and is not flagged."""
    paced = cell.read_rate is not None
    if not paced or cell.endpoint != "chunked" or cell.source == "fetch":
        return None
    if memory is None or not body:
        return None
    per_stream = memory.median / cell.concurrency
    if per_stream < max(BUFFERS_AHEAD_FLOOR, BUFFERS_AHEAD_SHARE * body):
        return None
    return Flag(
        "buffers-ahead",
        f"{per_stream / 1e6:.1f} MB of server memory per open stream for a body of "
        f"{body / 1e6:.1f} MB: the server holds what its reader has not taken yet",
    )


def client_saturated(figures: ClientFigures | None) -> Flag | None:
    reason = saturated_reason(figures)
    return None if reason is None else Flag("client-saturated", reason)


def rate_unreached(read_rate: float | None, reached: Stats | None) -> Flag | None:
    if read_rate is None or reached is None or reached.median >= RATE_REACHED_SHARE * read_rate:
        return None
    return Flag(
        "rate-unreached",
        f"asked to read at {format_rate(read_rate)}, the readers reached "
        f"{format_rate(reached.median)} (median): the server sent more slowly than that",
    )


def _median(values: Sequence[float]) -> float | None:
    stats = Stats.maybe(values)
    return stats.median if stats else None


def port_result(contender: Contender) -> PortResult:
    descriptor = contender.descriptor
    if descriptor is not None:
        framework, server = descriptor.labels()
        details = descriptor.details()
    else:
        framework = server = "unknown (target)"
        details = f"already running at {contender.target_url}"
    return PortResult(
        name=contender.port,
        layer=contender.layer,
        default_pair=descriptor is not None and descriptor.default,
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
