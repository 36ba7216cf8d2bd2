"""What each report says, independent of Markdown or HTML: one page per port and a summary."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..results import ENDPOINTS, SOURCES, PortResult, Results, Scenario, Stats
from . import _format
from ._format import Kind
from .context import View, environment_items
from .figure import Figure, Note, Table
from .figures import build_figures, sources_figure
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


def summary_page(results: Results) -> Page:
    view = View.of(results)
    ports = view.timed_ports
    lead = (
        f"{len(results.ports)} port(s) compared: how much sooner a streamed (chunked) response "
        "starts than a buffered (standard) one, what it costs in total time and server memory "
        "across sizes and concurrency, and how close each gets to the database's own COPY speed.",
        NOISE_RULE,
    )
    return Page(
        slug=SUMMARY,
        title="streambench: streamed against buffered responses",
        lead=lead,
        alerts=_alerts(view.failed_ports),
        answer=verdict_table(view, ports) if ports else None,
        answer_heading=f"Verdict: which framework, {_cell_words(view)}",
        glance=glance_table(view),
        figures=tuple(build_figures(view, ports, "summary-")) if ports else (),
        verification=verification_table(results.ports),
        environment=tuple(environment_items(results)),
        links=tuple(p.name for p in results.ports),
    )


def port_page(results: Results, port: PortResult) -> Page:
    view = View.of(results)
    lead = (
        f"{port.name}: {port.framework} served by {port.server}"
        + (f" ({port.details})" if port.details else "")
        + (f", an already-running target at {port.url}" if port.target else "")
        + f". Server figures from {port.server_metrics}.",
        NOISE_RULE,
    )
    timed = port.timed
    return Page(
        slug=port.name,
        title=f"streambench: {port.name}",
        lead=lead,
        alerts=_alerts([port]),
        answer=sources_table(view, port.name) if timed else None,
        answer_heading=f"Which way to read the rows, {_cell_words(view)}",
        glance=glance_table(view, [port.name]) if timed else None,
        figures=(
            (
                sources_figure(view, port.name, f"{port.name}-"),
                *build_figures(view, [port.name], f"{port.name}-"),
            )
            if timed
            else ()
        ),
        verification=verification_table([port]),
        environment=tuple(environment_items(results)),
        links=(SUMMARY, *(p.name for p in results.ports if p.name != port.name)),
    )


def _alerts(failed: list[PortResult]) -> tuple[Note, ...]:
    alerts = []
    for port in failed:
        if port.timed:
            continue
        reasons = "; ".join(f"{c.name}: {c.reason}" for c in port.verification.failures)
        alerts.append(
            Note(
                "excluded",
                f"{port.name} FAILED verification and was not timed. {reasons or 'No reason given.'}",
            )
        )
    return tuple(alerts)


def glance_table(view: View, ports: list[str] | None = None) -> Table:
    """The newcomer's answer: per port, what streaming changed at the default size."""
    rows = view.default_rows
    names = ports if ports is not None else [p.name for p in view.results.ports]
    body = []
    for name in names:
        port = view.port(name)
        if port is not None and not port.timed:
            body.append((name, "failed verification: not timed", "", "", "", ""))
            continue
        standard = view.find(name, "standard", rows)
        chunked = view.find(name, "chunked", rows)
        if standard is None or chunked is None:
            body.append((name, "not measured at this size", "", "", "", ""))
            continue
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
                f"{_format.ratio(chunked.floor_ratio)} / {_format.ratio(standard.floor_ratio)}",
                ", ".join(sorted({*standard.flags, *chunked.flags})) or "none",
            )
        )
    headers = (
        "port",
        f"first byte, chunked vs standard ({_format.rows(rows)} rows)",
        "total time, chunked vs standard",
        "server memory growth, chunked vs standard",
        "× COPY floor, chunked / standard",
        "flags",
    )
    return Table(headers, tuple(body))


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
        if s.port in ports
        and s.rows == view.default_rows
        and s.format == view.format
        and s.concurrency == view.concurrency
    }
    return [(e, src) for e in ENDPOINTS for src in SOURCES if (e, src) in found]


def ranked(entries: Sequence[tuple[str, Stats]], kind: Kind) -> tuple[str, bool]:
    """The entries lowest first, and whether the first is clear of every other ("<" where the
    bands are apart, "≈" where they overlap)."""
    ordered = sorted(entries, key=lambda e: (e[1].median, e[0]))
    fmt = _format.formatter(kind)
    if kind == "size":
        fmt = _format.memory
    text = f"{ordered[0][0]} {fmt(ordered[0][1].median)}"
    clear_of_all = len(ordered) > 1
    for (_, before), (name, stats) in itertools.pairwise(ordered):
        clear = clearly_different(before, stats, kind)
        clear_of_all = clear_of_all and bool(clearly_different(ordered[0][1], stats, kind))
        text += f" {'<' if clear else '≈'} {name} {fmt(stats.median)}"
    return text, clear_of_all


def verdict_table(view: View, ports: Sequence[str]) -> Table:
    """Per endpoint and source, the ports ranked by each figure; a winner only where its band
    is clear of every other port's."""
    figures: tuple[tuple[str, Kind, Callable[[Scenario], Stats | None]], ...] = (
        ("total", "time", lambda s: s.total),
        ("first byte", "time", lambda s: s.ttfb),
        ("memory", "size", lambda s: s.server.peak_memory_growth_bytes),
    )
    rows = []
    styles = []
    for endpoint, source in _routes(view, ports):
        cells = [f"/{endpoint}?source={source}"]
        winners = []
        for name, kind, figure in figures:
            entries = []
            for port in ports:
                scenario = view.find(port, endpoint, view.default_rows, source=source)
                stats = figure(scenario) if scenario else None
                if stats is not None:
                    entries.append((port, stats))
            if not entries:
                cells.append("not measured")
                continue
            text, clear = ranked(entries, kind)
            cells.append(text)
            if clear:
                winners.append(f"{min(entries, key=lambda e: e[1].median)[0]} ({name})")
        cells.append(", ".join(winners) if winners else "within the noise")
        rows.append(tuple(cells))
        styles.append("winner" if winners else "")
    return Table(
        ("endpoint and source", "total time", "first byte", "server memory growth", "clear winner"),
        tuple(rows),
        tuple(styles),
    )


def sources_table(view: View, port: str) -> Table:
    """One port, every endpoint x source: first byte, total, its floors and memory, with spread."""
    rows = []
    for endpoint, source in _routes(view, [port]):
        scenario = view.find(port, endpoint, view.default_rows, source=source)
        if scenario is None:
            continue
        rows.append(
            (
                f"/{endpoint}?source={source}",
                _format.spread(scenario.ttfb),
                _format.spread(scenario.total),
                _format.ratio(scenario.floor_ratio),
                _format.ratio(scenario.body_floor_ratio),
                _format.spread(scenario.server.peak_memory_growth_bytes, kind="size"),
                ", ".join(scenario.flags) or "",
            )
        )
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
            rows.append((port.name, check.status.upper(), check.name, check.reason + where))
        passed = sum(1 for c in port.verification.checks if c.status == "pass")
        status = "PASS" if port.timed else "FAIL"
        rows.append(
            (port.name, status, f"{passed} of {len(port.verification.checks)} checks passed", "")
        )
    return Table(("port", "status", "check", "reason"), tuple(rows))
