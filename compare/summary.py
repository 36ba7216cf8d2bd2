"""The summary printed after a run: pure formatting here, printing in `print_summary` only."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from .read_rates import format_rate
from .report.context import generator_text
from .report.verdict import MEMORY_RESOLUTION, clearly_different
from .results import (
    DEFAULT_HTTP,
    ENDPOINTS,
    LAYER_SEPARATOR,
    NO_COMPRESSION,
    SOURCES,
    PortResult,
    Results,
    Scenario,
    Stats,
    http_label,
)

# Narrow enough for an 80-column terminal with whole `port@server` names: one table per
# (rows, format, concurrency, endpoint) block, the block in the title; flags as one-letter marks
# explained under the tables.
COLUMNS: tuple[str, ...] = (
    "port",
    "source",
    "1st byte ms",
    "total ms",
    "x floor",
    "mem MB",
    "!",
)
FLAG_MARKS = {
    "client-bound": "C",
    "noisy": "N",
    "below-floor": "F",
    "errors": "E",
    "buffers-ahead": "B",
    "rate-unreached": "R",
    "memory-capped": "M",
    "starved": "W",
    "client-saturated": "S",
}
# Paced scenarios get a table of their own: what slow readers cost the server and the database.
PACED_COLUMNS: tuple[str, ...] = (
    "port",
    "source",
    "reached",
    "total s",
    "conn s",
    "MB/st",
    "xact s",
    "10 rows ms",
    "abort ms",
    "!",
)


def format_ms(stats: Stats | None) -> str:
    return "-" if stats is None else f"{stats.median * 1000:.1f}"


def format_ratio(value: float | None) -> str:
    """Three significant figures at most, so that both floors' ratios fit one narrow cell."""
    if value is None:
        return "-"
    if round(value, 2) < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if round(value, 1) < 100 else f"{value:.0f}"


def format_megabytes(stats: Stats | None) -> str:
    """Median growth; below CPython's 1 MiB arena step it is not measured, so say so."""
    if stats is None:
        return "-"
    if stats.max < MEMORY_RESOLUTION:
        return "<1"
    return f"{stats.median / 1e6:.1f}"


def scenario_order(
    scenario: Scenario,
) -> tuple[float, int, str, int, str, int, int, bool, str, str]:
    # Ports side by side: one block per (read rate, rows, format, concurrency, HTTP version),
    # endpoints and sources within, identity before the codings; full speed first, then the
    # rates fastest first.
    return (
        -(scenario.read_rate or float("inf")),
        scenario.rows,
        scenario.format,
        scenario.concurrency,
        scenario.http,
        ENDPOINTS.index(scenario.endpoint),
        SOURCES.index(scenario.source),
        scenario.compression != NO_COMPRESSION,
        scenario.compression,
        scenario.contender,
    )


def source_label(scenario: Scenario) -> str:
    """The source, and the coding when one was asked for (`cursor gzip`)."""
    if scenario.compression == NO_COMPRESSION:
        return scenario.source
    return f"{scenario.source} {scenario.compression}"


def flag_marks(scenario: Scenario) -> str:
    marks = [FLAG_MARKS.get(flag, "?") for flag in scenario.flags]
    if scenario.errors and "E" not in marks:
        marks.append("E")
    return "".join(marks)


def scenario_row(scenario: Scenario) -> list[str]:
    floor = format_ratio(scenario.floor_ratio)
    if scenario.body_floor_ratio is not None:
        floor = f"{floor}/{format_ratio(scenario.body_floor_ratio)}"
    return [
        # Another layer than the default on a line of its own: the pair's name stays whole.
        scenario.contender.replace(LAYER_SEPARATOR, "\n" + LAYER_SEPARATOR),
        source_label(scenario),
        format_ms(scenario.ttfb),
        format_ms(scenario.total),
        floor,
        format_megabytes(scenario.server.peak_memory_growth_bytes),
        flag_marks(scenario),
    ]


def paced_row(scenario: Scenario) -> list[str]:
    database = scenario.database
    bystander = scenario.bystander
    seen = "-"
    if bystander is not None:
        seen = format_ms(bystander.ttfb)
        if bystander.refused:
            seen += f" ({bystander.refused}/{bystander.sent} refused)"
    abort = scenario.abort
    return [
        scenario.contender.replace(LAYER_SEPARATOR, "\n" + LAYER_SEPARATOR),
        scenario.source,
        "-" if scenario.reached_rate is None else format_rate(scenario.reached_rate.median),
        "-" if scenario.total is None else f"{scenario.total.median:.2f}",
        "-"
        if database is None or database.connection_seconds is None
        else f"{database.connection_seconds.median:.2f}",
        "-" if scenario.memory_per_stream is None else f"{scenario.memory_per_stream / 1e6:.1f}",
        "-"
        if database is None or database.transaction_age_max is None
        else f"{database.transaction_age_max:.2f}",
        seen,
        "-" if abort is None or abort.worst is None else f"{abort.worst * 1000:.0f}",
        flag_marks(scenario),
    ]


# Above one request at a time, a second table per block: the streams side by side.
STREAMS_COLUMNS: tuple[str, ...] = (
    "port",
    "source",
    "MB/s",
    "p99 ms",
    "MB/st",
    "fds",
    "spread",
    "starved",
)


def streams_row(scenario: Scenario) -> list[str]:
    streams = scenario.streams
    per_stream = scenario.memory_per_stream
    return [
        scenario.contender.replace(LAYER_SEPARATOR, "\n" + LAYER_SEPARATOR),
        scenario.source,
        "-" if scenario.megabytes_per_second is None else f"{scenario.megabytes_per_second:.1f}",
        "-" if streams is None or streams.ttfb_p99 is None else f"{streams.ttfb_p99 * 1000:.1f}",
        "-" if per_stream is None else f"{per_stream / 1e6:.2f}",
        "-" if streams is None or streams.open_files is None else f"{streams.open_files.max:.0f}",
        "-" if streams is None or streams.spread is None else f"{streams.spread.median:.1f}x",
        "-"
        if streams is None or streams.starved is None
        else f"{streams.starved}/{streams.streams}",
    ]


def summary_rows(results: Results) -> list[list[str]]:
    return [scenario_row(s) for s in sorted(results.scenarios, key=scenario_order)]


def verdict_line(results: Results) -> str:
    """One line: who is fastest at the default size, or that it is within the noise."""
    scenarios = [
        s
        for s in results.scenarios
        if s.total is not None
        and s.read_rate == results.base_read_rate
        and s.http == results.base_http
        and s.compression == results.base_compression
    ]
    if not scenarios:
        return "verdict: nothing was measured"
    fmt = results.matrix.formats[0] if results.matrix.formats else scenarios[0].format
    lowest = min(s.concurrency for s in scenarios)
    cell = [s for s in scenarios if s.format == fmt and s.concurrency == lowest]
    rows = max(s.rows for s in cell)
    cell = [s for s in cell if s.rows == rows]
    where = f"{rows:,} rows {fmt} x{lowest}"
    if len(cell) == 1:
        return f"verdict ({where}): {lone_verdict(cell[0])}"
    parts = [
        _ranking("total", [(s, s.total) for s in cell]),
        _ranking("first byte", [(s, s.ttfb) for s in cell]),
    ]
    return f"verdict ({where}): " + "; ".join(p for p in parts if p)


def lone_verdict(scenario: Scenario) -> str:
    """What was measured when nothing beside it was (one contender, one endpoint and source):
    its figures against the floors, since there is no one to rank."""
    total = f"total {format_ms(scenario.total)} ms"
    floors = [
        f"{format_ratio(ratio)}x the {name} floor"
        for name, ratio in (("rows", scenario.floor_ratio), ("body", scenario.body_floor_ratio))
        if ratio is not None
    ]
    if floors:
        total += f" ({', '.join(floors)})"
    figures = [total]
    if scenario.ttfb is not None:
        figures.append(f"first byte {format_ms(scenario.ttfb)} ms")
    return (
        f"{scenario.contender} {scenario.endpoint}/{scenario.source} alone: {', '.join(figures)}; "
        "nothing beside it to rank"
    )


def _ranking(subject: str, entries: Sequence[tuple[Scenario, Stats | None]]) -> str:
    measured = sorted(((s, f) for s, f in entries if f is not None), key=lambda e: e[1].median)
    if len(measured) < 2:
        return ""
    (best, figure), rest = measured[0], measured[1:]
    name = f"{best.contender} {best.endpoint}/{best.source} {figure.median * 1000:.1f} ms"
    clear = [clearly_different(figure, other) for _, other in rest]
    if any(c is None for c in clear):
        return f"{subject}: {name} lowest, too few runs to call a winner"
    if all(clear):
        return f"{subject}: {name}, a clear win"
    return f"{subject}: within the noise ({name} lowest)"


def verification_lines(port: PortResult) -> list[str]:
    """A port's verdict, then every failure and warning with its reason."""
    verdict = "passed" if port.verification.passed else "FAILED: not timed"
    passes = sum(1 for c in port.verification.checks if c.status == "pass")
    lines = [
        f"{port.contender}: verification {verdict} "
        f"({passes}/{len(port.verification.checks)} checks pass)"
    ]
    for check in (*port.verification.failures, *port.verification.warnings):
        where = f" [{check.url}]" if check.url else ""
        lines.append(f"  {check.status}: {check.name}: {check.reason}{where}")
    return lines


def baseline_lines(results: Results) -> list[str]:
    lines = []
    for floor in results.floor:
        text = (
            f"{floor.rows:,} rows {floor.format}: COPY floor {floor.seconds.median * 1000:.1f} ms"
        )
        body_floor = results.body_floor_for(floor.rows, floor.format)
        if body_floor is not None:
            text += f", body floor {body_floor.seconds.median * 1000:.1f} ms"
        ceilings = results.ceilings_for(floor.rows, floor.format)
        if ceilings:
            first = ceilings[0]
            at = ", ".join(f"x{c.concurrency} {c.total.median * 1000:.1f} ms" for c in ceilings)
            text += (
                f"; {first.client} ceiling {at} "
                f"(x{first.concurrency}: TTFB {first.ttfb.median * 1000:.2f} ms, "
                f"{first.megabytes_per_second:,.0f} MB/s, "
                f"{first.bytes:,} bytes in {first.chunks} chunks)"
            )
        lines.append(text)
    return lines


def flag_lines(results: Results) -> list[str]:
    """Each flag's reason, but `noisy` only counted: its spread is in every report."""
    lines = []
    noisy = 0
    for scenario in sorted(results.scenarios, key=scenario_order):
        for flag, reason in scenario.flag_reasons.items():
            if flag == "noisy":
                noisy += 1
                continue
            rate = "" if scenario.read_rate is None else f" at {format_rate(scenario.read_rate)}"
            lines.append(
                f"{scenario.contender} {scenario.endpoint}/{scenario.source} {scenario.rows:,} "
                f"{scenario.format} x{scenario.concurrency}{rate}: {flag}: {reason}"
            )
    if noisy:
        lines.append(
            f"noisy (N): {noisy} of {len(results.scenarios)} scenarios, where the repeats "
            "disagree by more than the noise limits; each spread is in the reports"
        )
    return lines


def not_offered_lines(results: Results) -> list[str]:
    """What the run left out because a layer or a port cannot serve it, one line per reason:
    never run, never a failure."""
    grouped: dict[tuple[str, str | None, str], list[str]] = {}
    for entry in results.not_offered:
        # An HTTP version not spoken is the pair's, whatever its layer.
        what = http_label(entry.http) if entry.http else entry.layer
        name = entry.contender if entry.http else entry.port
        grouped.setdefault((what, entry.source, entry.reason), []).append(name)
    return [
        f"not offered, not run: {what}{f' source={source}' if source else ''} on "
        f"{', '.join(ports)} ({reason})"
        for (what, source, reason), ports in grouped.items()
    ]


def print_summary(console: Console, results: Results, paths: Sequence[str] = ()) -> None:
    for port in results.ports:
        style = "green" if port.verification.passed else "bold red"
        for number, line in enumerate(verification_lines(port)):
            console.print(line, style=style if number == 0 else None, markup=False, highlight=False)
    for line in baseline_lines(results):
        console.print(line, markup=False, highlight=False)
    console.print(f"load generator: {generator_text(results)}", markup=False, highlight=False)
    blocks: dict[tuple[float | None, int, str, int, str, str], list[Scenario]] = {}
    for scenario in sorted(results.scenarios, key=scenario_order):
        block = (
            scenario.read_rate,
            scenario.rows,
            scenario.format,
            scenario.concurrency,
            scenario.http,
            scenario.endpoint,
        )
        blocks.setdefault(block, []).append(scenario)
    for (rate, rows, fmt, concurrency, http, endpoint), scenarios in blocks.items():
        title = f"/{endpoint}, {rows:,} rows, {fmt}, concurrency {concurrency}"
        if rate is not None:
            title += f", read at {format_rate(rate)}"
        if http != DEFAULT_HTTP:
            title += f", over {http_label(http)}"
        table = Table(
            *(COLUMNS if rate is None else PACED_COLUMNS),
            title=f"{title} (medians)",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        for scenario in scenarios:
            table.add_row(*(scenario_row(scenario) if rate is None else paced_row(scenario)))
        console.print(table)
        if concurrency > 1 and any(s.streams is not None for s in scenarios):
            side = Table(
                *STREAMS_COLUMNS,
                title=f"{title}: the streams side by side",
                box=box.SIMPLE_HEAD,
                pad_edge=False,
            )
            for scenario in scenarios:
                side.add_row(*streams_row(scenario))
            console.print(side)
    console.print(
        "x floor: total over the rows floor (COPY of the ids)"
        + (" / over the body floor (COPY writing the body)" if results.body_floor else "")
        + "; mem <1: below the 1 MiB step memory is measured in; "
        + "!: C client-bound, N noisy, F faster than the floor, E errors, B buffers ahead of "
        + "its reader, R read rate not reached, M stopped at the memory cap, W a stream starved "
        + "(waited) while others finished, S client process saturated (reasons below)",
        markup=False,
        highlight=False,
    )
    if any(s.concurrency > 1 and s.streams is not None for s in results.scenarios):
        console.print(
            "side by side: MB/s, the round's bytes over its wall time; p99 ms, the first byte's "
            "99th percentile over every request; MB/st, server memory growth per open stream; "
            "fds, the server's open files at the peak; spread, the fastest stream's throughput "
            "over the slowest's in a round (1.0x is even); starved, streams that got their first "
            "byte only after another of their round had finished",
            markup=False,
            highlight=False,
        )
    if results.paced:
        console.print(
            "read at a rate: reached, the rate the readers reached; conn s, seconds a pooled "
            "connection was held per request; MB/st, server memory growth per open stream; "
            "xact s, the oldest open transaction seen in pg_stat_activity; 10 rows ms, first "
            "byte of a 10-row request sent 1 s into the round; abort ms, until the server held "
            "nothing after a reader vanished mid-body",
            markup=False,
            highlight=False,
        )
    for line in flag_lines(results):
        console.print(line, markup=False, highlight=False, style="yellow")
    for line in not_offered_lines(results):
        console.print(line, markup=False, highlight=False)
    if results.matrix.note:
        console.print(f"matrix: {results.matrix.note}", markup=False, highlight=False)
    if results.duration_seconds is not None:
        console.print(f"run took {results.duration_seconds:.1f} s")
    for path in paths:
        console.print(f"wrote {path}", markup=False, highlight=False)
    console.print(verdict_line(results), markup=False, highlight=False, style="bold")
