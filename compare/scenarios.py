"""A scenario's figures from what its rounds collected: statistics, rates, ratios to the floors,
flags; and a contender's entry in the results."""

from __future__ import annotations

from collections.abc import Sequence

from .analysis import MEGABYTE, rate, ratio, scenario_flags, thin
from .groups import Collected, Contender
from .options import Cell, CompareOptions
from .results import (
    Check,
    ClientCeiling,
    Floor,
    PortResult,
    Scenario,
    ServerFigures,
    Stats,
    Verification,
)


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
