"""The summary printed after a run: pure formatting here, printing in `print_summary` only."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from .results import PortResult, Results, Scenario, Stats

COLUMNS: tuple[str, ...] = (
    "rows",
    "format",
    "conc",
    "endpoint",
    "port",
    "headers ms",
    "TTFB ms",
    "total ms",
    "x COPY",
    "MB/s",
    "req/s",
    "mem growth MB",
    "cpu s",
    "flags",
)


def format_ms(stats: Stats | None) -> str:
    return "-" if stats is None else f"{stats.median * 1000:.1f}"


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def format_megabytes(stats: Stats | None) -> str:
    """Median growth, with the largest in brackets when it differs (the cold first request)."""
    if stats is None:
        return "-"
    median, top = stats.median / 1e6, stats.max / 1e6
    return f"{median:.1f}" if round(top, 1) == round(median, 1) else f"{median:.1f} ({top:.1f})"


def format_seconds(stats: Stats | None) -> str:
    return "-" if stats is None else f"{stats.median:.3f}"


def scenario_order(scenario: Scenario) -> tuple[int, str, int, int, str]:
    # Ports side by side: one block per (rows, format, concurrency), endpoints within.
    endpoint_rank = 0 if scenario.endpoint == "standard" else 1
    return (scenario.rows, scenario.format, scenario.concurrency, endpoint_rank, scenario.port)


def scenario_row(scenario: Scenario) -> list[str]:
    flags = ", ".join(scenario.flags)
    if scenario.errors:
        flags = f"{flags} ({scenario.errors} errors)" if flags else f"{scenario.errors} errors"
    return [
        f"{scenario.rows:,}",
        scenario.format,
        str(scenario.concurrency),
        scenario.endpoint,
        scenario.port,
        format_ms(scenario.headers),
        format_ms(scenario.ttfb),
        format_ms(scenario.total),
        format_ratio(scenario.floor_ratio),
        format_rate(scenario.megabytes_per_second),
        format_rate(scenario.requests_per_second),
        format_megabytes(scenario.server.peak_memory_growth_bytes),
        format_seconds(scenario.server.cpu_seconds),
        flags,
    ]


def summary_rows(results: Results) -> list[list[str]]:
    return [scenario_row(s) for s in sorted(results.scenarios, key=scenario_order)]


def verification_lines(port: PortResult) -> list[str]:
    """A port's verdict, then every failure and warning with its reason."""
    verdict = "passed" if port.verification.passed else "FAILED: not timed"
    passes = sum(1 for c in port.verification.checks if c.status == "pass")
    lines = [
        f"{port.name}: verification {verdict} ({passes}/{len(port.verification.checks)} checks pass)"
    ]
    for check in (*port.verification.failures, *port.verification.warnings):
        where = f" [{check.url}]" if check.url else ""
        lines.append(f"  {check.status}: {check.name}: {check.reason}{where}")
    return lines


def baseline_lines(results: Results) -> list[str]:
    lines = []
    for floor in results.floor:
        ceiling = results.ceiling_for(floor.rows, floor.format)
        text = (
            f"{floor.rows:,} rows {floor.format}: COPY floor {floor.seconds.median * 1000:.1f} ms"
        )
        if ceiling is not None:
            text += (
                f"; httpx ceiling {ceiling.total.median * 1000:.1f} ms "
                f"(TTFB {ceiling.ttfb.median * 1000:.2f} ms, {ceiling.megabytes_per_second:,.0f} MB/s, "
                f"{ceiling.bytes:,} bytes in {ceiling.chunks} chunks)"
            )
        lines.append(text)
    return lines


def flag_lines(results: Results) -> list[str]:
    lines = []
    for scenario in sorted(results.scenarios, key=scenario_order):
        for flag, reason in scenario.flag_reasons.items():
            lines.append(
                f"{scenario.port} {scenario.endpoint} {scenario.rows:,} {scenario.format} "
                f"x{scenario.concurrency}: {flag}: {reason}"
            )
    return lines


def print_summary(console: Console, results: Results, paths: Sequence[str] = ()) -> None:
    for port in results.ports:
        style = "green" if port.verification.passed else "bold red"
        for number, line in enumerate(verification_lines(port)):
            console.print(line, style=style if number == 0 else None, markup=False, highlight=False)
    for line in baseline_lines(results):
        console.print(line, markup=False, highlight=False)
    table = Table(*COLUMNS, title="streambench compare (medians; memory: median (max))")
    previous: tuple[int, str, int] | None = None
    for scenario, row in zip(
        sorted(results.scenarios, key=scenario_order), summary_rows(results), strict=True
    ):
        block = (scenario.rows, scenario.format, scenario.concurrency)
        if previous is not None and block != previous:
            table.add_section()
        previous = block
        table.add_row(*row)
    console.print(table)
    for line in flag_lines(results):
        console.print(line, markup=False, highlight=False, style="yellow")
    if results.matrix.note:
        console.print(f"matrix: {results.matrix.note}", markup=False, highlight=False)
    if results.duration_seconds is not None:
        console.print(f"run took {results.duration_seconds:.1f} s")
    for path in paths:
        console.print(f"wrote {path}", markup=False, highlight=False)
