"""What each report says, independent of Markdown or HTML: one page per port and a summary."""

from __future__ import annotations

from dataclasses import dataclass

from ..results import PortResult, Results, Stats
from . import _format
from ._format import Kind
from .context import View, environment_items
from .figure import Figure, Note, Table
from .figures import build_figures
from .verdict import NOISE_RULE, clearly_different, endpoint_verdict

SUMMARY = "summary"


@dataclass(frozen=True)
class VerdictGroup:
    heading: str
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    slug: str  # a port's name, or SUMMARY
    title: str
    lead: tuple[str, ...]
    alerts: tuple[Note, ...]
    glance: Table | None
    figures: tuple[Figure, ...]
    verdicts: tuple[VerdictGroup, ...]
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
        glance=glance_table(view),
        figures=tuple(build_figures(view, ports, "summary-")) if ports else (),
        verdicts=tuple(_verdict_groups(view, ports)),
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
        glance=glance_table(view, [port.name]) if timed else None,
        figures=tuple(build_figures(view, [port.name], f"{port.name}-")) if timed else (),
        verdicts=tuple(_verdict_groups(view, [port.name])) if timed else (),
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
    fmt = _format.formatter(kind)
    text = f"{fmt(chunked.median)} vs {fmt(standard.median)}"
    clear = clearly_different(standard, chunked, kind)
    if clear is None:
        return text + " (measured once)"
    if not clear:
        return text + " (within the noise)"
    if sooner and chunked.median < standard.median:
        return text + f" ({_format.times_sooner(standard.median, chunked.median)})"
    lower = "chunked" if chunked.median < standard.median else "standard"
    return text + f" ({lower} lower, clear)"


def _verdict_groups(view: View, ports: list[str]) -> list[VerdictGroup]:
    """A short verdict for every measured cell: port, size, format and concurrency."""
    cells = sorted(
        {
            (s.port, s.rows, s.format, s.concurrency)
            for s in view.results.scenarios
            if s.port in ports
        },
        key=lambda c: (ports.index(c[0]), c[2], c[3], c[1]),
    )
    groups = []
    for port, rows, fmt, concurrency in cells:
        standard = view.find(port, "standard", rows, concurrency, fmt)
        chunked = view.find(port, "chunked", rows, concurrency, fmt)
        sentences = endpoint_verdict(standard, chunked)
        flags = sorted({*(standard.flags if standard else ()), *(chunked.flags if chunked else ())})
        if flags:
            sentences.append("Flags: " + ", ".join(flags) + " (see the figures above).")
        heading = f"{port}, {_format.rows(rows)} rows, {fmt}, concurrency {concurrency}"
        groups.append(VerdictGroup(heading, tuple(sentences)))
    return groups


def verification_table(ports: list[PortResult] | tuple[PortResult, ...]) -> Table:
    """Every failure and warning with its reason; passing checks counted, not listed."""
    rows = []
    for port in ports:
        for check in (*port.verification.failures, *port.verification.warnings):
            rows.append(
                (port.name, check.status.upper(), check.name, check.reason, check.url or "")
            )
        passed = [c.name for c in port.verification.checks if c.status == "pass"]
        status = "PASS" if port.timed else "FAIL"
        rows.append((port.name, status, f"{len(passed)} checks passed", ", ".join(passed), ""))
    return Table(("port", "status", "check", "reason", "url"), tuple(rows))
