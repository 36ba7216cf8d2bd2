"""Slow readers: what a streamed export costs the server and the database when its clients read
slowly (`--read-rate`). Only for a run with a paced rate; the other sections show the fastest.

At the page's cell (its rows, format and lowest concurrency), every rate measured: per endpoint,
connection-seconds per request and server memory per open stream against the read rate, one
line per contender and source; a table of every figure a paced round records; and one sentence
on which source to pick when clients are slow, from `/chunked` at the slowest rate, by the noise
rule of `verdict.py`. A figure that was not measured is shown as "-", never estimated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..read_rates import format_rate, rate_order
from ..results import ENDPOINTS, SOURCES, Results, Scenario, Stats
from . import _format
from .context import View
from .figure import (
    Figure,
    Note,
    Table,
    flag_names,
    memory_per_stream_point,
    notes_for,
    route_series,
    stats_point,
)
from .slow_advice import advice, held_per_request, verdicts
from .svg import Axis, LineChart, Point
from .verdict import size_resolved

HEADING = "Slow readers: what a streamed export costs the database"
MISSING = "-"
# Where `max` sits on the log rate axis: this many times the fastest rate measured, to its right.
MAX_STEP = 10.0
# Room on either side of the outermost rates, so their points clear the frame.
AXIS_MARGIN = 1.6

Cell = tuple[int, str, int]  # rows, format, concurrency


@dataclass(frozen=True)
class SlowReaders:
    """The section: the sentence that answers it, how to read it, and a figure per endpoint."""

    heading: str
    advice: str
    caption: str
    figures: tuple[Figure, ...]


def slow_readers(results: Results, contenders: Sequence[str], prefix: str) -> SlowReaders | None:
    """The section for `contenders` (every timed one on the summary, one on its page), or None
    for a run read at full speed only."""
    results = results.at_http(results.base_http)  # as every section but HTTP/1.1 against HTTP/2
    view = View.of(results)
    cell = _cell(results, view, contenders)
    if cell is None:
        return None
    rows, fmt, concurrency = cell
    measured = [
        s
        for s in results.scenarios
        if s.contender in contenders and (s.rows, s.format, s.concurrency) == cell
    ]
    rates = rate_order([s.read_rate for s in measured])
    endpoints = [e for e in ENDPOINTS if any(s.endpoint == e for s in measured)]
    words = f"{_format.rows(rows)} rows, {fmt}, concurrency {concurrency}"
    return SlowReaders(
        heading=HEADING,
        advice=advice(measured, contenders),
        caption=_caption(measured, words),
        figures=tuple(
            _figure(view, contenders, prefix, endpoint, measured, rates, words)
            for endpoint in endpoints
        ),
    )


def _cell(results: Results, view: View, contenders: Sequence[str]) -> Cell | None:
    """The page's own cell when it was read at a set rate, else the cell read at set rates most
    often (a run stopped early), the larger first."""
    paced: dict[Cell, int] = {}
    for s in results.scenarios:
        if s.contender in contenders and s.read_rate is not None:
            cell = (s.rows, s.format, s.concurrency)
            paced[cell] = paced.get(cell, 0) + 1
    if not paced:
        return None
    own = (view.default_rows, view.format, view.concurrency)
    if own in paced:
        return own
    return max(paced, key=lambda c: (paced[c], c[0], -c[2]))


def _caption(measured: Sequence[Scenario], words: str) -> str:
    bystander = next((s.bystander for s in measured if s.bystander is not None), None)
    abort = next((s.abort for s in measured if s.abort is not None), None)
    parts = [
        f"Each request was read no faster than its rate (max: as fast as the client reads), at "
        f"{words}. Connection-s: how long the server held a pooled database connection per "
        "request, from its pool's own count; memory per stream: the server's peak memory "
        "growth divided by the requests open at once; oldest transaction: the oldest open "
        "transaction pg_stat_activity showed while the rounds ran."
    ]
    if bystander is not None:
        parts.append(
            f"Bystander: a {bystander.rows}-row request sent {bystander.delay:g} s into each "
            "paced round and read at full speed, its first byte (median) and how many were "
            "refused (answered other than 200, e.g. a 503 when the pool had no connection)."
        )
    if abort is not None:
        parts.append(
            f"Abort: a reader that took {_format.size(abort.after_bytes)} of a /chunked body at "
            "the rate and vanished; seconds (median) until the server held no connection and "
            "its backends were idle, after a reset and after a clean close; leaked: not within "
            f"{abort.patience:g} s."
        )
    parts.append(f"“{MISSING}”: not measured.")
    return " ".join(parts)


def _figure(
    view: View,
    contenders: Sequence[str],
    prefix: str,
    endpoint: str,
    measured: Sequence[Scenario],
    rates: Sequence[float | None],
    words: str,
) -> Figure:
    def order(s: Scenario) -> tuple[int, int, int]:
        # Fastest rate first, then the contract's order of sources, then the run's of contenders.
        return rates.index(s.read_rate), SOURCES.index(s.source), contenders.index(s.contender)

    def at_rate(point_of: PointOf) -> Callable[[Scenario], Point | None]:
        return lambda s: point_of(s, _position(s.read_rate, rates))

    mine = sorted((s for s in measured if s.endpoint == endpoint), key=order)
    several = len(contenders) > 1
    ident = f"{prefix}slow-readers-{endpoint}"
    x = _rate_axis(rates)
    charts = (
        LineChart(
            ident=f"{ident}-connection",
            title=f"/{endpoint}: connection-seconds per request against the read rate",
            subtitle=f"median with [min, p95] whiskers, {words}",
            x=x,
            y=Axis("pooled connection held per request (log scale)", log=True, unit="s"),
            series=route_series(view, contenders, endpoint, mine, at_rate(_connection_point)),
        ),
        LineChart(
            ident=f"{ident}-memory",
            title=f"/{endpoint}: server memory per open stream against the read rate",
            subtitle=f"median peak growth ÷ concurrency, [min, p95] whiskers, {words}",
            x=x,
            y=Axis("peak memory growth per open stream (MB)", start=0.0),
            series=route_series(view, contenders, endpoint, mine, at_rate(memory_per_stream_point)),
        ),
    )
    headers = (
        *(("contender",) if several else ()),
        "source",
        "rate",
        "reached rate",
        "first byte",
        "total",
        "memory per stream",
        "connection-s per request",
        "connections held at peak",
        "oldest transaction",
        "bystander first byte",
        "abort cost",
        "flags",
    )
    return Figure(
        ident=ident,
        heading=f"/{endpoint}",
        charts=charts,
        notes=(*notes_for(view, mine, contenders), *_database_notes(mine, several)),
        table=Table(headers, tuple(_row(s, several) for s in mine)),
        verdicts=tuple(verdicts(mine, contenders)),
    )


def _rate_axis(rates: Sequence[float | None]) -> Axis:
    """A log axis of the rates measured, `max` one step right of the fastest, each tick labelled
    as the rate was asked for."""
    positions = [_position(rate, rates) for rate in rates]
    return Axis(
        "read rate per request (log scale; max: as fast as the client reads)",
        log=True,
        ticks=tuple(sorted(positions)),
        start=min(positions) / AXIS_MARGIN,
        end=max(positions) * AXIS_MARGIN,
        labels=tuple((_position(rate, rates), format_rate(rate)) for rate in rates),
    )


def _position(rate: float | None, rates: Sequence[float | None]) -> float:
    if rate is not None:
        return rate
    fastest = max((r for r in rates if r is not None), default=None)
    return MAX_STEP if fastest is None else fastest * MAX_STEP


PointOf = Callable[[Scenario, float], Point | None]


def _connection_point(scenario: Scenario, x: float) -> Point | None:
    held = held_per_request(scenario)
    return None if held is None else stats_point(x, held, scenario)


def _row(scenario: Scenario, several: bool) -> tuple[str, ...]:
    database = scenario.database
    return (
        *((scenario.contender,) if several else ()),
        scenario.source,
        format_rate(scenario.read_rate),
        _rate(scenario.reached_rate),
        _median(scenario.ttfb),
        _median(scenario.total),
        _memory_per_stream(scenario),
        MISSING
        if database is None or database.connection_seconds is None
        else _format.spread(database.connection_seconds),
        MISSING if database is None or database.held_peak is None else str(database.held_peak),
        MISSING
        if database is None or database.transaction_age_max is None
        else _format.seconds(database.transaction_age_max),
        _bystander(scenario),
        _abort(scenario),
        flag_names(scenario),
    )


def _rate(stats: Stats | None) -> str:
    return MISSING if stats is None else format_rate(stats.median)


def _median(stats: Stats | None) -> str:
    return MISSING if stats is None else _format.seconds(stats.median)


def _memory_per_stream(scenario: Scenario) -> str:
    growth = scenario.server.peak_memory_growth_bytes
    per_stream = scenario.memory_per_stream
    if growth is None or per_stream is None:
        return MISSING
    # Below the allocator's step the whole process did not visibly grow: no digits to divide.
    return "< 1 MiB" if not size_resolved(growth) else _format.size(per_stream)


def _bystander(scenario: Scenario) -> str:
    bystander = scenario.bystander
    if bystander is None:
        return MISSING
    text = MISSING if bystander.ttfb is None else _format.seconds(bystander.ttfb.median)
    if bystander.refused:
        text += f" ({bystander.refused} of {bystander.sent} refused)"
    return text


def _abort(scenario: Scenario) -> str:
    abort = scenario.abort
    if abort is None:
        return MISSING
    return f"reset {_median(abort.reset)}, close {_median(abort.close)}, {abort.leaked} leaked"


def _label(scenario: Scenario, several: bool) -> str:
    who = f"{scenario.contender} " if several else ""
    return f"{who}{scenario.source} at {format_rate(scenario.read_rate)}"


def _database_notes(scenarios: Sequence[Scenario], several: bool) -> tuple[Note, ...]:
    """What went wrong for the database or for the requests beside the slow ones."""
    notes = []
    for scenario in scenarios:
        label = _label(scenario, several)
        database, bystander, abort = scenario.database, scenario.bystander, scenario.abort
        if database is not None and database.checkouts_failed:
            notes.append(
                Note(
                    "error",
                    f"{label}: {database.checkouts_failed} requests for a pooled connection "
                    "failed (each a 503, or a stream cut short)",
                )
            )
        if bystander is not None and bystander.refused:
            notes.append(
                Note(
                    "error",
                    f"{label}: the {bystander.rows}-row request sent meanwhile was refused "
                    f"{bystander.refused} of {bystander.sent} times",
                    bystander.examples,
                )
            )
        if abort is not None and abort.leaked:
            notes.append(
                Note(
                    "error",
                    f"{label}: after {abort.leaked} vanished readers the server still held a "
                    f"connection or a busy backend {abort.patience:g} s later",
                )
            )
    return tuple(notes)
