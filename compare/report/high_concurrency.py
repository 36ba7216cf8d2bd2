"""High concurrency: what each contender does as streams are added, for a run that measured more
than one concurrency. Shown at the fastest read rate, like every section but the slow readers'.

At one row count (the one measured at the most concurrency levels, the larger on a tie) and the
page's format: per endpoint, throughput and server memory per open stream against concurrency,
one line per contender (and per source where several were measured), and a table with the first
byte's tail, the server's open files at the peak, how evenly the streams were served and which
waited for another to finish. A figure that was not measured is "-", never estimated or zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..results import ENDPOINTS, SOURCES, Results, Scenario
from . import _format
from .context import View
from .figure import Figure, Table, flag_names, memory_per_stream_point, notes_for, route_series
from .svg import Axis, LineChart, Point
from .verdict import size_resolved

HEADING = "High concurrency: throughput, memory and fairness as streams are added"
MISSING = "-"
# A buffered body's first byte is its end: the starvation rule does not apply to it.
NOT_JUDGED = "n/a (buffered)"
# Room on either side of the outermost concurrency, so their points clear the frame.
AXIS_MARGIN = 1.6


@dataclass(frozen=True)
class HighConcurrency:
    """The section: how to read it, and a figure per endpoint."""

    heading: str
    caption: str
    figures: tuple[Figure, ...]


def high_concurrency(
    results: Results, contenders: Sequence[str], prefix: str
) -> HighConcurrency | None:
    """The section for `contenders` (every timed one on the summary, one on its page), or None
    when they were measured at one concurrency only."""
    view = View.of(results)
    mine = [
        s for s in view.results.scenarios if s.contender in contenders and s.format == view.format
    ]
    rows = _rows(mine)
    if rows is None:
        return None
    measured = [s for s in mine if s.rows == rows]
    levels = sorted({s.concurrency for s in measured})
    endpoints = [e for e in ENDPOINTS if any(s.endpoint == e for s in measured)]
    words = f"{_format.rows(rows)} rows, {view.format}"
    return HighConcurrency(
        heading=HEADING,
        caption=_caption(results, words),
        figures=tuple(
            _figure(view, contenders, prefix, endpoint, measured, levels, words)
            for endpoint in endpoints
        ),
    )


def _rows(scenarios: Sequence[Scenario]) -> int | None:
    """The row count measured at the most concurrency levels (two at least), the larger on a
    tie: the default matrix runs its larger sizes one request at a time only."""
    levels: dict[int, set[int]] = {}
    for s in scenarios:
        levels.setdefault(s.rows, set()).add(s.concurrency)
    several = [rows for rows, found in levels.items() if len(found) > 1]
    if not several:
        return None
    return max(several, key=lambda rows: (len(levels[rows]), rows))


def _caption(results: Results, words: str) -> str:
    parts = [
        f"Every concurrency measured at {words}, each request read as fast as the client reads. "
        "Throughput: a round's bytes (and rows) over its wall time, median over rounds. Memory "
        "per stream: the server's peak memory growth over the requests open at once. First "
        "byte p50/p95/p99: over every good request of the measured rounds. Open files: the "
        "server process's file descriptors (its children's too) at the round's peak, counted "
        "from /proc every 50 ms; each connection is one. Per-stream throughput: a stream's "
        "bytes over its whole time, from being sent to its last byte, so a wait for a pooled "
        "connection or in the server's listen queue counts against it; spread: the fastest "
        "stream's over the slowest's in a round, median over rounds (1.0× is even). Starved: "
        "streams whose first byte came only after another stream of their round had finished; "
        "judged on /chunked only, since a buffered body's first byte is its end.",
        f"“{MISSING}”: not measured (no /proc for a target's open files).",
    ]
    left_out = [part for part in results.matrix.note.split("; ") if "memory cap" in part]
    if left_out:
        parts.append(f"Not run: {left_out[0]}.")
    return " ".join(parts)


def _figure(
    view: View,
    contenders: Sequence[str],
    prefix: str,
    endpoint: str,
    measured: Sequence[Scenario],
    levels: Sequence[int],
    words: str,
) -> Figure:
    def order(s: Scenario) -> tuple[int, int, int]:
        return contenders.index(s.contender), SOURCES.index(s.source), s.concurrency

    mine = sorted((s for s in measured if s.endpoint == endpoint), key=order)
    several = len(contenders) > 1
    one_source = len({s.source for s in mine}) == 1
    ident = f"{prefix}high-concurrency-{endpoint}"
    x = Axis(
        "streams open at once (log scale)",
        log=True,
        ticks=tuple(float(level) for level in levels),
        start=levels[0] / AXIS_MARGIN,
        end=levels[-1] * AXIS_MARGIN,
        # As asked for: 1,024, not a rounded 1.02k.
        labels=tuple((float(level), f"{level:,}") for level in levels),
    )
    charts = (
        LineChart(
            ident=f"{ident}-throughput",
            title=f"/{endpoint}: throughput against concurrency",
            subtitle=f"all streams of a round together, median over rounds, {words}",
            x=x,
            y=Axis("throughput (MB/s)", start=0.0),
            series=route_series(
                view, contenders, endpoint, mine, _throughput_point, named_by_contender=one_source
            ),
        ),
        LineChart(
            ident=f"{ident}-memory",
            title=f"/{endpoint}: server memory per open stream against concurrency",
            subtitle=f"median peak growth ÷ concurrency, [min, p95] whiskers, {words}",
            x=x,
            y=Axis("peak memory growth per open stream (MB)", start=0.0),
            series=route_series(
                view, contenders, endpoint, mine, _memory_point, named_by_contender=one_source
            ),
        ),
    )
    headers = (
        *(("contender",) if several else ()),
        "source",
        "concurrency",
        "throughput",
        "rows/s",
        "first byte p50",
        "p95",
        "p99",
        "memory per stream",
        "open files at peak",
        "per-stream MB/s (min, median, max)",
        "spread",
        "starved",
        "errors",
        "client CPU",
        "flags",
    )
    return Figure(
        ident=ident,
        heading=f"/{endpoint}",
        charts=charts,
        notes=notes_for(view, mine, contenders),
        table=Table(headers, tuple(_row(s, several) for s in mine)),
        verdicts=(),
    )


PointOf = Callable[[Scenario], Point | None]


def _throughput_point(scenario: Scenario) -> Point | None:
    rate = scenario.megabytes_per_second
    if rate is None:
        return None
    return Point(float(scenario.concurrency), rate, flagged=bool(scenario.flags or scenario.errors))


def _memory_point(scenario: Scenario) -> Point | None:
    return memory_per_stream_point(scenario, float(scenario.concurrency))


def _row(scenario: Scenario, several: bool) -> tuple[str, ...]:
    streams = scenario.streams
    throughput = None if streams is None else streams.throughput
    return (
        *((scenario.contender,) if several else ()),
        scenario.source,
        f"{scenario.concurrency:,}",
        _format.rate(scenario.megabytes_per_second, "MB/s"),
        _format.rate(scenario.rows_per_second, "rows/s"),
        _time(None if scenario.ttfb is None else scenario.ttfb.median),
        _time(None if scenario.ttfb is None else scenario.ttfb.p95),
        _time(None if streams is None else streams.ttfb_p99),
        _memory_per_stream(scenario),
        MISSING
        if streams is None or streams.open_files is None
        else _format.count(streams.open_files.max),
        MISSING
        if throughput is None
        else ", ".join(
            _format.rate(value / 1e6, "").strip()
            for value in (throughput.min, throughput.median, throughput.max)
        ),
        MISSING
        if streams is None or streams.spread is None
        else _format.ratio(streams.spread.median),
        _starved(scenario),
        f"{scenario.errors} of {scenario.requests}" if scenario.errors else "0",
        _client_cpu(scenario),
        flag_names(scenario),
    )


def _client_cpu(scenario: Scenario) -> str:
    """The busiest load generator process's share of a core over the median round, and how
    many processes sent the requests: next to the server's figures, what the client spent."""
    client = scenario.client
    if client is None or client.cpu_share is None:
        return MISSING
    processes = f" of {client.processes} processes" if client.processes > 1 else ""
    return f"{client.cpu_share.median:.0%}{processes}"


def _starved(scenario: Scenario) -> str:
    streams = scenario.streams
    if streams is None:
        return MISSING
    if streams.starved is None:
        return NOT_JUDGED
    return f"{streams.starved} of {streams.streams}"


def _time(value: float | None) -> str:
    return MISSING if value is None else _format.seconds(value)


def _memory_per_stream(scenario: Scenario) -> str:
    growth = scenario.server.peak_memory_growth_bytes
    per_stream = scenario.memory_per_stream
    if growth is None or per_stream is None:
        return MISSING
    # Below the allocator's step the whole process did not visibly grow: no digits to divide.
    return "< 1 MiB in all" if not size_resolved(growth) else _format.size(per_stream)
