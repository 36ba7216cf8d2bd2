"""What each report says, independent of Markdown or HTML: one page per port and a summary."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared.layers import DEFAULT_LAYER

from ..results import ENDPOINTS, SOURCES, Check, PortResult, Results, Scenario, Stats, http_label
from . import _format
from ._format import Kind
from .compression import compression_figure
from .context import View, environment_items
from .figure import Figure, Note, Table, with_below_floor
from .figures import build_figures, sources_figure
from .high_concurrency import HighConcurrency, high_concurrency
from .http_versions import http_figure
from .layers import layers_figure
from .slow_readers import SlowReaders, slow_readers
from .verdict import NOISE_RULE, clearly_different, size_resolved

SUMMARY = "summary"


@dataclass(frozen=True)
class Page:
    """One report page. `answer` is what a reader wants first: on the summary the frameworks
    ranked per endpoint and source, on a port's page which way of reading the rows did best."""

    slug: str  # a port's name, or SUMMARY
    title: str
    lead: tuple[str, ...]
    alerts: tuple[Note, ...]
    answer: Table | None
    answer_heading: str
    glance: Table | None
    figures: tuple[Figure, ...]
    verification: Table
    environment: tuple[tuple[str, str], ...]
    links: tuple[str, ...]  # slugs of the other pages
    answer_caption: str = ""  # how to read the answer table
    # What a data layer or a port cannot serve: left out, never run, never a failure.
    not_offered: Table | None = None
    # What each data layer costs, when more than one ran (compare/report/layers.py).
    layers: Figure | None = None
    # What slow readers cost, when the run read at a set rate (compare/report/slow_readers.py).
    slow_readers: SlowReaders | None = None
    # What more streams at once do, when more than one concurrency ran
    # (compare/report/high_concurrency.py).
    high_concurrency: HighConcurrency | None = None
    # HTTP/1.1 against HTTP/2, when the run measured both (compare/report/http_versions.py).
    http: Figure | None = None
    # With and without compression, when the run asked for a coding (compare/report/compression.py).
    compression: Figure | None = None

    @property
    def every_figure(self) -> tuple[Figure, ...]:
        """Every figure on the page, wherever it sits: the charts to write out."""
        slow = self.slow_readers.figures if self.slow_readers else ()
        crowded = self.high_concurrency.figures if self.high_concurrency else ()
        extra = [f for f in (self.layers, self.http, self.compression) if f is not None]
        return (*self.figures, *extra, *slow, *crowded)


def summary_page(results: Results) -> Page:
    view = View.of(results)
    ports = view.timed_ports
    lead = (
        f"{_compared(results)}: how much sooner a streamed "
        "(chunked) response starts than a buffered (standard) one, what it costs in total time "
        "and server memory across sizes and concurrency, and how close each gets to the "
        "database's own COPY speed.",
        NOISE_RULE,
        *reused_process_rule(results),
    )
    return Page(
        slug=SUMMARY,
        title="streambench: streamed against buffered responses",
        lead=lead,
        alerts=(*_alerts(view.failed_ports), *busy_alert(results)),
        answer=verdict_table(view, ports) if ports else None,
        answer_heading=f"Verdict: which framework, {_cell_words(view)}",
        glance=glance_table(view),
        figures=tuple(build_figures(view, ports, "summary-")) if ports else (),
        verification=verification_table(results.ports),
        environment=tuple(environment_items(results)),
        links=tuple(p.contender for p in results.ports),
        answer_caption=VERDICT_CAPTION,
        not_offered=not_offered_table(results),
        layers=layers_figure(view) if ports else None,
        slow_readers=slow_readers(results, ports, "summary-"),
        high_concurrency=high_concurrency(results, ports, "summary-") if ports else None,
        http=http_figure(results.at_compression(results.base_compression), ports, "summary-")
        if ports
        else None,
        compression=compression_figure(results.at_http(results.base_http), view, ports, "summary-")
        if ports
        else None,
    )


def _compared(results: Results) -> str:
    """What was compared: ports, or ports on several data layers."""
    layers = results.matrix.layers
    if layers == (DEFAULT_LAYER,):
        return f"{len(results.ports)} port(s) compared"
    ports = len({p.name for p in results.ports})
    return (
        f"{len(results.ports)} contenders compared, {ports} port(s) on the data layers "
        f"{', '.join(layers)} (port@server+layer reads the rows through that layer, a name "
        f"without one through {DEFAULT_LAYER}, the default)"
    )


def port_page(results: Results, port: PortResult) -> Page:
    view = View.of(results)
    lead = (
        f"{port.contender}: {port.framework} served by {port.server}"
        + (f", reading through the {port.layer} data layer" if port.layer is not None else "")
        + (f" ({port.details})" if port.details else "")
        + (f", an already-running target at {port.url}" if port.target else "")
        + f". Server figures from {port.server_metrics}.",
        NOISE_RULE,
        *reused_process_rule(results),
    )
    timed = port.timed
    return Page(
        slug=port.contender,
        title=f"streambench: {port.contender}",
        lead=lead,
        alerts=_alerts([port]),
        answer=sources_table(view, port.contender) if timed else None,
        answer_heading=f"Which way to read the rows, {_cell_words(view)}",
        glance=glance_table(view, [port.contender]) if timed else None,
        figures=(
            (
                sources_figure(view, port.contender, f"{port.contender}-"),
                *build_figures(view, [port.contender], f"{port.contender}-"),
            )
            if timed
            else ()
        ),
        verification=verification_table([port]),
        environment=tuple(environment_items(results)),
        links=(SUMMARY, *(p.contender for p in results.ports if p.contender != port.contender)),
        not_offered=not_offered_table(results, port.contender),
        slow_readers=slow_readers(results, [port.contender], f"{port.contender}-")
        if timed
        else None,
        high_concurrency=high_concurrency(results, [port.contender], f"{port.contender}-")
        if timed
        else None,
        http=http_figure(
            results.at_compression(results.base_compression),
            [port.contender],
            f"{port.contender}-",
        )
        if timed
        else None,
        compression=compression_figure(
            results.at_http(results.base_http), view, [port.contender], f"{port.contender}-"
        )
        if timed
        else None,
    )


NOT_OFFERED_CAPTION = (
    "What a data layer does not offer (no COPY through an ORM), a port cannot serve (an ORM "
    "of another framework's) or a server does not speak (HTTP/2 on uvicorn): left out of the "
    "run, never run and never counted as a failure."
)


def not_offered_table(results: Results, contender: str | None = None) -> Table | None:
    """Every combination the run left out, or those of one contender; None when nothing was."""
    rows = tuple(
        (
            entry.contender,
            f"over {http_label(entry.http)}"
            if entry.http
            else f"source={entry.source}"
            if entry.source
            else "every source",
            entry.reason,
        )
        for entry in results.not_offered
        if contender is None or entry.contender == contender
    )
    return Table(("contender", "what", "why not offered"), rows) if rows else None


def _alerts(failed: list[PortResult]) -> tuple[Note, ...]:
    alerts = []
    for port in failed:
        if port.timed:
            continue
        reasons = "; ".join(f"{c.name}: {c.reason}" for c in port.verification.failures)
        alerts.append(
            Note(
                "excluded",
                f"{port.contender} FAILED verification and was not timed. "
                f"{reasons or 'No reason given.'}",
            )
        )
    return tuple(alerts)


def busy_alert(results: Results) -> tuple[Note, ...]:
    """A run whose machine had more runnable work than CPUs: every figure carries that load."""
    env = results.environment
    loads = [v for v in (env.load_before, env.load_after) if v is not None]
    loads += [s.load for s in results.scenarios if s.load is not None]
    if not loads or not env.cpu_count or max(loads) <= env.cpu_count:
        return ()
    return (
        Note(
            "flag",
            f"The machine was busy: a 1-minute load average of up to {max(loads):.1f} on "
            f"{env.cpu_count} CPUs during this run, so the figures include time spent waiting "
            "for a CPU; compare them with a run on a quiet machine before trusting a ranking.",
        ),
    )


def glance_table(view: View, ports: list[str] | None = None) -> Table:
    """The newcomer's answer: per port, what streaming changed at the default size."""
    rows = view.default_rows
    names = ports if ports is not None else [p.contender for p in view.results.ports]
    body = []
    for name in names:
        port = view.port(name)
        if port is not None and not port.timed:
            body.append((name, "failed verification: not timed", "", "", "", ""))
            continue
        standard = view.find(name, "standard", rows)
        chunked = view.find(name, "chunked", rows)
        if standard is None or chunked is None:
            present = standard or chunked
            said = (
                "not measured at this size"
                if present is None
                else f"only /{present.endpoint} measured: nothing to set it against"
            )
            body.append((name, said, "", "", "", ""))
            continue
        standard, chunked = (_below_floor_flagged(s) for s in (standard, chunked))
        body.append(
            (
                name,
                _pair(standard.ttfb, chunked.ttfb, "time", sooner=True),
                _pair(standard.total, chunked.total, "time"),
                _pair(
                    standard.server.peak_memory_growth_bytes,
                    chunked.server.peak_memory_growth_bytes,
                    "size",
                ),
                f"{_floor(chunked.floor_ratio)} / {_floor(standard.floor_ratio)}",
                ", ".join(sorted({*standard.flags, *chunked.flags})) or "none",
            )
        )
    runs_text = _format.runs(
        stats.count
        for name in names
        for endpoint in ENDPOINTS
        if (found := view.find(name, endpoint, rows)) is not None
        for stats in (found.ttfb, found.total)
        if stats is not None
    )
    headers = (
        "port",
        f"first byte, chunked vs standard ({_format.rows(rows)} rows, medians of {runs_text})",
        "total time, chunked vs standard",
        "server memory growth, chunked vs standard",
        "× COPY floor, chunked / standard",
        "flags",
    )
    return Table(headers, tuple(body))


def _below_floor_flagged(scenario: Scenario) -> Scenario:
    ratio = scenario.floor_ratio
    return scenario if ratio is None else with_below_floor(scenario, ratio)


def _floor(ratio: float | None) -> str:
    """A ratio to the floor; under 1 it is marked, since beating the database alone is a sign of
    noise in the floor, not a result."""
    text = _format.ratio(ratio)
    return text + " ⚠ below the floor" if ratio is not None and ratio < 1 else text


def _pair(standard: object, chunked: object, kind: Kind, *, sooner: bool = False) -> str:
    if not isinstance(standard, Stats) or not isinstance(chunked, Stats):
        return "not measured"
    fmt = _format.memory if kind == "size" else _format.formatter(kind)
    text = f"{fmt(chunked.median)} vs {fmt(standard.median)}"
    if kind == "size" and not size_resolved(standard) and not size_resolved(chunked):
        return text + " (both below the 1 MiB resolution)"
    clear = clearly_different(standard, chunked, kind)
    if clear is None:
        return text + " (measured once)"
    if not clear:
        return text + " (within the noise)"
    if sooner and chunked.median < standard.median:
        return text + f" ({_format.times_sooner(standard.median, chunked.median)})"
    lower = "chunked" if chunked.median < standard.median else "standard"
    return text + f" ({lower} lower, clear)"


def _cell_words(view: View) -> str:
    return f"{_format.rows(view.default_rows)} rows, {view.format}, concurrency {view.concurrency}"


def _routes(view: View, ports: Sequence[str]) -> list[tuple[str, str]]:
    """The (endpoint, source) pairs measured at the default cell, in the contract's order."""
    found = {
        (s.endpoint, s.source)
        for s in view.results.scenarios
        if s.contender in ports
        and s.rows == view.default_rows
        and s.format == view.format
        and s.concurrency == view.concurrency
    }
    return [(e, src) for e in ENDPOINTS for src in SOURCES if (e, src) in found]


def ranked(entries: Sequence[tuple[str, Stats]], kind: Kind) -> tuple[str, bool]:
    """The entries lowest first, and whether the first is clear of every other ("<" where the
    bands are apart, "≈" where they overlap). Memory below the allocator's step has no place in
    a ranking: those ports are named together after it, so no "<" ever stands between them."""
    ordered = sorted(entries, key=lambda e: (e[1].median, e[0]))
    clear_of_all = len(ordered) > 1 and all(
        clearly_different(ordered[0][1], stats, kind) for _, stats in ordered[1:]
    )
    if kind != "size":
        return _chain(ordered, kind, _format.formatter(kind)), clear_of_all
    resolved = [(name, stats) for name, stats in ordered if size_resolved(stats)]
    unresolved = ", ".join(name for name, stats in ordered if not size_resolved(stats))
    if not resolved:
        return f"all below 1 MiB, the resolution ({unresolved})", False
    # Lowest first here too: the unresolved ones are the lowest, so they lead.
    below = f"below 1 MiB: {unresolved}; above it: " if unresolved else ""
    return below + _chain(resolved, kind, _format.memory), clear_of_all


def _chain(ordered: Sequence[tuple[str, Stats]], kind: Kind, fmt: Callable[[float], str]) -> str:
    text = f"{ordered[0][0]} {fmt(ordered[0][1].median)}"
    for (_, before), (name, stats) in itertools.pairwise(ordered):
        text += (
            f" {'<' if clearly_different(before, stats, kind) else '≈'} {name} {fmt(stats.median)}"
        )
    return text


REUSED_PROCESSES = (
    "Memory in this run is an upper bound: one server process per contender served every "
    "scenario (--reuse-servers, which --quick implies), the lighter ones first, so a figure can "
    "include what an earlier scenario left behind. Without it each (endpoint, source, format) "
    "gets fresh processes."
)


def reused_process_rule(results: Results) -> tuple[str, ...]:
    return (REUSED_PROCESSES,) if results.matrix.reuse_servers else ()


FigureOf = Callable[[Scenario], Stats | None]
TIME_FIGURES: tuple[tuple[str, FigureOf], ...] = (
    ("total", lambda s: s.total),
    ("first byte", lambda s: s.ttfb),
)
VERDICT_CAPTION = (
    "Lowest first; “<” where the next band is clear of the one before, “≈” where they overlap. "
    "A winner is named only where its band is clear of every other port's: on time (total or "
    "first byte) and, apart, on server memory, which counts only above its 1 MiB resolution."
)


LONE_PORT = "one port only: nothing to rank"


def verdict_table(view: View, ports: Sequence[str]) -> Table:
    """Per endpoint and source, the ports ranked by each figure; a winner only where its band
    is clear of every other port's, named for time and for memory separately."""
    rows = []
    styles = []
    for endpoint, source in _routes(view, ports):
        scenarios = [
            (port, found)
            for port in ports
            if (found := view.find(port, endpoint, view.default_rows, source=source)) is not None
        ]
        cells = [f"/{endpoint}?source={source}"]
        counts: set[int] = set()
        time_winners = []
        for name, figure in TIME_FIGURES:
            entries = [(port, stats) for port, s in scenarios if (stats := figure(s)) is not None]
            counts |= {stats.count for _, stats in entries}
            if not entries:
                cells.append("not measured")
                continue
            text, clear = ranked(entries, "time")
            cells.append(text)
            if clear:
                time_winners.append((min(entries, key=lambda e: e[1].median)[0], name))
        memory = [
            (port, stats)
            for port, s in scenarios
            if (stats := s.server.peak_memory_growth_bytes) is not None
        ]
        memory_winner = "not measured"
        if memory:
            text, clear = ranked(memory, "size")
            cells.append(text)
            if clear:
                memory_winner = min(memory, key=lambda e: e[1].median)[0]
            elif not any(size_resolved(stats) for _, stats in memory):
                memory_winner = "none: all below the resolution"
            else:
                memory_winner = "within the noise"
        else:
            cells.append("not measured")
        cells.insert(1, _runs_text(counts))
        if len(scenarios) == 1:
            # A lone port wins nothing and ties with no one.
            cells.append(LONE_PORT)
            cells.append(memory_winner if memory_winner == "not measured" else LONE_PORT)
        else:
            cells.append(_time_winner(time_winners))
            cells.append(memory_winner)
        rows.append(tuple(cells))
        has_winner = time_winners or memory_winner not in (
            "not measured",
            "within the noise",
            "none: all below the resolution",
        )
        styles.append("winner" if has_winner else "")
    return Table(
        (
            "endpoint and source",
            "runs",
            "total time",
            "first byte",
            "server memory growth",
            "clear winner, time",
            "clear winner, memory",
        ),
        tuple(rows),
        tuple(styles),
    )


def _runs_text(counts: set[int]) -> str:
    """How many timed runs each figure of the row rests on."""
    if not counts:
        return "n/a"
    low, high = min(counts), max(counts)
    return f"{low} each" if low == high else f"{low}–{high}"


def _time_winner(winners: Sequence[tuple[str, str]]) -> str:
    if not winners:
        return "within the noise"
    by_port: dict[str, list[str]] = {}
    for port, figure in winners:
        by_port.setdefault(port, []).append(figure)
    return "; ".join(f"{port} ({', '.join(figures)})" for port, figures in by_port.items())


def sources_table(view: View, port: str) -> Table:
    """One port, every endpoint x source: first byte, total, its floors and memory, with spread."""
    rows = []
    for endpoint, source in _routes(view, [port]):
        scenario = view.find(port, endpoint, view.default_rows, source=source)
        if scenario is None:
            continue
        scenario = _below_floor_flagged(scenario)
        rows.append(
            (
                f"/{endpoint}?source={source}",
                _format.spread(scenario.ttfb),
                _format.spread(scenario.total),
                # The flags column beside it says below-floor already.
                _format.ratio(scenario.floor_ratio),
                _format.ratio(scenario.body_floor_ratio),
                _format.spread(scenario.server.peak_memory_growth_bytes, kind="size"),
                ", ".join(scenario.flags) or "",
            )
        )
    for entry in view.results.not_offered:
        if entry.contender == port and entry.source is not None:
            rows += [
                (f"/{endpoint}?source={entry.source}", "not offered", "", "", "", "", "")
                for endpoint in view.results.matrix.endpoints
            ]
    return Table(
        (
            "endpoint and source",
            "first byte",
            "total",
            "× rows floor",
            "× body floor",
            "server memory growth",
            "flags",
        ),
        tuple(rows),
    )


def verification_table(ports: list[PortResult] | tuple[PortResult, ...]) -> Table:
    """Every failure and warning with its reason and URL; passing checks counted, not listed."""
    rows = []
    for port in ports:
        for check in (*port.verification.failures, *port.verification.warnings):
            where = f" ({check.url})" if check.url else ""
            rows.append((port.contender, check.status.upper(), check.name, check.reason + where))
        passed = [c for c in port.verification.checks if c.status == "pass"]
        status = "PASS" if port.timed else "FAIL"
        reason = (
            pass_reason(passed)
            if port.timed
            else "not timed: the failures above must be fixed first"
        )
        warned = len(port.verification.warnings)
        counted = f"{len(passed)} of {len(port.verification.checks)} passed" + (
            f", {warned} warned" if warned else ""
        )
        rows.append((port.contender, status, counted, reason))
    return Table(("port", "status", "checks", "reason"), tuple(rows))


def pass_reason(passed: Sequence[Check]) -> str:
    """What the passing checks established, in a few words rather than their names."""
    aspects = {check.name.rsplit(": ", 1)[-1] for check in passed}
    found = [
        words
        for words, present in (
            ("status codes", "status" in aspects),
            ("headers", bool(aspects - {"status", "rows", "body", "healthz"})),
            ("row counts", "rows" in aspects),
            ("bodies byte for byte", "body" in aspects),
        )
        if present
    ]
    urls = len({check.url for check in passed if check.url})
    where = f" on {urls} URLs" if urls > 1 else ""
    return (", ".join(found) or "every check") + f" as the contract requires{where}"
