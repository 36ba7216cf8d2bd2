"""The throughput figure: every row count measured, against concurrency where more than one level
was measured, and against row count at the base concurrency so the sizes measured at one level
only are charted too."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ..results import Scenario
from . import _format
from .context import View, line_style
from .figure import Figure, Table, flag_mark, notes_for
from .svg import Axis, LineChart, Point, Series
from .verdict import ranking_verdict


def throughput_figure(view: View, ports: Sequence[str], prefix: str) -> Figure:
    by_rows: dict[int, set[int]] = {}
    for scenario in view.results.scenarios:
        if scenario.contender in ports and scenario.format == view.format:
            by_rows.setdefault(scenario.rows, set()).add(scenario.concurrency)
    all_rows = sorted(by_rows)
    all_levels = sorted({c for levels in by_rows.values() for c in levels})
    used: list[Scenario] = []
    charts = [
        _chart(view, ports, prefix, rows, sorted(by_rows[rows]), used)
        for rows in all_rows
        if len(by_rows[rows]) > 1
    ]
    # The default matrix keeps concurrency above 1 to the smaller sizes: chart the rest against
    # size, or they would be in the table alone.
    if len(all_rows) > 1 and any(len(by_rows[rows]) < 2 for rows in all_rows):
        charts.append(_rows_chart(view, ports, prefix, all_rows, used))
    if not charts:
        # One size at one level: a single point each, still drawn rather than left out.
        rows = view.throughput_rows
        charts.append(_chart(view, ports, prefix, rows, sorted(by_rows.get(rows, ())), used))
    table_rows = []
    for rows in all_rows:
        for port in ports:
            for endpoint, source in view.routes(ports):
                cells = [
                    _cell(view.find(port, endpoint, rows, concurrency=level, source=source))
                    for level in all_levels
                ]
                if any(cell != "n/a" for cell in cells):
                    name = view.series_name(port, endpoint, ports, source)
                    table_rows.append((f"{name}, {_format.rows(rows)} rows", *cells))
    return Figure(
        ident=f"{prefix}throughput",
        heading="5. Throughput against concurrency and row count",
        charts=tuple(charts),
        notes=notes_for(view, used, ports),
        table=Table(("series", *(f"concurrency {c}" for c in all_levels)), tuple(table_rows)),
        verdicts=tuple(_load_verdicts(view, ports, by_rows.get(view.throughput_rows, set()))),
    )


def _cell(found: Scenario | None) -> str:
    if found is None or found.megabytes_per_second is None:
        return "n/a"
    return (
        f"{_format.rate(found.megabytes_per_second, 'MB/s')}, "
        f"{_format.rate(found.requests_per_second, 'req/s')}{flag_mark(found)}"
    )


def _point(x: float, found: Scenario | None, used: list[Scenario]) -> Point | None:
    if found is None or found.megabytes_per_second is None:
        return None
    used.append(found)
    return Point(x, found.megabytes_per_second, flagged=bool(found.flags or found.errors))


def _series(
    view: View,
    ports: Sequence[str],
    xs: Sequence[int],
    find: Callable[[str, str, str, int], Scenario | None],
    used: list[Scenario],
) -> tuple[Series, ...]:
    """One line per port, endpoint and source, through every x it was measured at."""
    series = []
    for port in ports:
        for endpoint, source in view.routes(ports):
            found = (_point(x, find(port, endpoint, source, x), used) for x in xs)
            points = tuple(p for p in found if p is not None)
            if points:
                name = view.series_name(port, endpoint, ports, source)
                series.append(Series(name, points, view.colour(port), line_style(endpoint, source)))
    return tuple(series)


def _subtitle(view: View, used: Sequence[Scenario], where: str) -> str:
    rounds = _format.runs((s.repeats for s in used), "round")
    return f"all concurrent clients together, median of {rounds}, {view.format}{where}"


def _chart(
    view: View,
    ports: Sequence[str],
    prefix: str,
    rows: int,
    levels: Sequence[int],
    used: list[Scenario],
) -> LineChart:
    series = _series(
        view,
        ports,
        levels,
        lambda port, endpoint, source, level: view.find(
            port, endpoint, rows, concurrency=level, source=source
        ),
        used,
    )
    return LineChart(
        ident=f"{prefix}throughput-{rows}",
        title=f"Throughput against concurrency, {_format.rows(rows)} rows",
        subtitle=_subtitle(view, used, ""),
        x=Axis("concurrent clients (log scale)", log=True, ticks=tuple(map(float, levels))),
        y=Axis("throughput (MB/s)", start=0.0),
        series=series,
    )


def _rows_chart(
    view: View, ports: Sequence[str], prefix: str, all_rows: Sequence[int], used: list[Scenario]
) -> LineChart:
    series = _series(
        view,
        ports,
        all_rows,
        lambda port, endpoint, source, rows: view.find(port, endpoint, rows, source=source),
        used,
    )
    return LineChart(
        ident=f"{prefix}throughput-rows",
        title=f"Throughput against row count, concurrency {view.concurrency}",
        subtitle=_subtitle(view, used, ", every size measured"),
        x=Axis("rows per response (log scale)", log=True, ticks=tuple(map(float, all_rows))),
        y=Axis("throughput (MB/s)", start=0.0),
        series=series,
    )


def _load_verdicts(view: View, ports: Sequence[str], levels: Iterable[int]) -> list[str]:
    """Rates carry no spread of their own: judge load by the per-request total time's bands."""
    verdicts = []
    for level in sorted(levels):
        entries = []
        for port in ports:
            for endpoint, source in view.routes(ports):
                scenario = view.find(
                    port, endpoint, view.throughput_rows, concurrency=level, source=source
                )
                if scenario is not None and scenario.total is not None:
                    entries.append(
                        (view.series_name(port, endpoint, ports, source), scenario.total)
                    )
        if len(entries) > 1:
            verdicts.append(
                ranking_verdict(
                    f"Per-request total time at concurrency {level}, "
                    f"{_format.rows(view.throughput_rows)} rows",
                    entries,
                )
            )
    return verdicts
