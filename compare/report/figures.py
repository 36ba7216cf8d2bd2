"""The six figures of a report, built from results: charts, the notes that belong next to them,
a table of medians with their spread, and the figure's verdicts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..analysis import MEGABYTE
from ..results import Scenario, Stats
from . import _format
from ._format import Kind
from .context import View, line_style
from .figure import (
    Figure,
    Table,
    flag_mark,
    flag_names,
    notes_for,
    scale_points,
    stats_point,
    with_below_floor,
)
from .svg import Axis, Bar, BarChart, Chart, LineChart, Point, Series
from .throughput import throughput_figure
from .verdict import Comparison, ranking_verdict


def build_figures(view: View, ports: Sequence[str], prefix: str) -> list[Figure]:
    """Every figure for `ports` (one port for its own page, all timed ports for the summary)."""
    return [
        arrival_figure(view, ports, prefix),
        ttfb_figure(view, ports, prefix),
        total_figure(view, ports, prefix),
        memory_figure(view, ports, prefix),
        throughput_figure(view, ports, prefix),
        floor_ratio_figure(view, ports, prefix),
    ]


def arrival_figure(view: View, ports: Sequence[str], prefix: str) -> Figure:
    rows = view.default_rows
    used: list[Scenario] = []
    curves: dict[str, list[tuple[str, int, str, tuple[tuple[float, int], ...]]]] = {}
    routes = view.routes(ports)
    for port in ports:
        for endpoint, source in routes:
            scenario = view.find(port, endpoint, rows, source=source)
            if scenario is None:
                continue
            used.append(scenario)
            curves.setdefault(port, []).append(
                (
                    view.series_name(port, endpoint, [port], source),
                    view.colour(port),
                    line_style(endpoint, source),
                    scenario.arrival,
                )
            )
    all_times = [t for port_curves in curves.values() for c in port_curves for t, _ in c[3]]
    all_bytes = [b for port_curves in curves.values() for c in port_curves for _, b in c[3]]
    unit = _format.time_unit(all_times)
    requests = _format.runs((s.total.count for s in used if s.total), "request")
    charts: list[Chart] = []
    for port in ports:
        series = tuple(
            Series(name, _step_points(arrival, unit.factor), colour, dash, markers=False)
            for name, colour, dash, arrival in curves.get(port, [])
        )
        charts.append(
            LineChart(
                ident=f"{prefix}arrival-{port}" if len(ports) > 1 else f"{prefix}arrival",
                title=f"{port}: data arrival, {_format.rows(rows)} rows",
                subtitle=(
                    f"the median of {requests}, {view.format}, concurrency {view.concurrency}"
                ),
                # Shared axes, so the ports' pictures compare at a glance.
                x=Axis(
                    f"time since the request was sent ({unit.label})",
                    start=0.0,
                    end=_nice_end(max(all_times, default=0.0) * unit.factor),
                ),
                y=Axis(
                    "data received (MB, cumulative)",
                    start=0.0,
                    end=_nice_end(max(all_bytes, default=0) / MEGABYTE),
                ),
                series=series,
            )
        )
    table_rows = []
    verdicts = []
    for port in ports:
        standard = view.find(port, "standard", rows)
        chunked = view.find(port, "chunked", rows)
        for endpoint, source in routes:
            scenario = view.find(port, endpoint, rows, source=source)
            if scenario is not None:
                table_rows.append(
                    (
                        view.series_name(port, endpoint, ports, source),
                        _format.spread(scenario.ttfb),
                        _format.spread(scenario.total),
                        _format.size(scenario.bytes),
                        _format.count(scenario.chunks.median if scenario.chunks else None),
                        flag_names(scenario),
                    )
                )
        if standard and chunked and standard.ttfb and chunked.ttfb:
            subject = f"{port}, first byte" if len(ports) > 1 else "First byte"
            verdicts.append(
                Comparison(subject, "chunked", chunked.ttfb, "standard", standard.ttfb).sentence()
            )
    return Figure(
        ident=f"{prefix}arrival",
        heading="1. Data arrival over time",
        charts=tuple(charts),
        notes=notes_for(view, used, ports),
        table=Table(
            ("series", "first byte", "total", "body", "pieces read", "flags"), tuple(table_rows)
        ),
        verdicts=tuple(verdicts),
        caption=(
            "Pieces read: how many reads the client returned for the median request. The socket "
            "decides how a body is cut, not the server, so a buffered response arrives in many "
            "pieces too; only a streamed one sends them as they are made."
        ),
    )


def _step_points(arrival: Sequence[tuple[float, int]], factor: float) -> tuple[Point, ...]:
    """Bytes arrive in jumps: hold each level until the next arrival, starting from nothing at 0."""
    points = [Point(0.0, 0.0)]
    level = 0.0
    for time, received in arrival:
        x = time * factor
        points.append(Point(x, level))
        level = received / MEGABYTE
        points.append(Point(x, level))
    return tuple(points)


def _nice_end(value: float) -> float | None:
    return None if value <= 0 else value * 1.05


def _rows_figure(
    view: View,
    ports: Sequence[str],
    prefix: str,
    *,
    key: str,
    heading: str,
    title: str,
    y_label: Callable[[str], str],
    figure: Callable[[Scenario], Stats | None],
    kind: Kind,
    log_y: bool,
    floor: bool = False,
) -> Figure:
    rows_measured = view.rows_for(ports)
    used: list[Scenario] = []
    raw: list[tuple[str, int, str, list[Point]]] = []
    table_rows = []
    for port in ports:
        for endpoint, source in view.routes(ports):
            points = []
            cells = []
            for rows in rows_measured:
                scenario = view.find(port, endpoint, rows, source=source)
                if scenario is None:
                    cells.append("n/a")
                    continue
                stats = figure(scenario)
                cells.append(_format.spread(stats, kind=kind) + flag_mark(scenario))
                if stats is not None:
                    used.append(scenario)
                    points.append(stats_point(rows, stats, scenario))
            name = view.series_name(port, endpoint, ports, source)
            raw.append((name, view.colour(port), line_style(endpoint, source), points))
            if any(c != "n/a" for c in cells):
                table_rows.append((name, *cells))
    floors = [view.results.floor_for(rows, view.format) for rows in rows_measured] if floor else []
    floor_points = [
        Point(rows, measured.seconds.median, measured.seconds.min, measured.seconds.p95)
        for rows, measured in zip(rows_measured, floors, strict=False)
        if measured is not None
    ]
    # Times on log axes span decades: tick labels carry their own unit (1 ms, 100 ms, 1 s).
    unit = _format.SECONDS if kind == "time" else _format.MEGABYTES
    series = [
        Series(name, scale_points(points, unit.factor), colour, dash)
        for name, colour, dash, points in raw
        if points
    ]
    if floor_points:
        series.append(
            Series(
                "COPY floor", scale_points(floor_points, unit.factor), dash="dash", reference=True
            )
        )
    chart = LineChart(
        ident=f"{prefix}{key}",
        title=title,
        subtitle=f"median with [min, p95] whiskers, {view.format}, concurrency {view.concurrency}",
        x=Axis("rows per response (log scale)", log=True, ticks=tuple(map(float, rows_measured))),
        y=Axis(
            y_label(unit.label),
            log=log_y,
            start=None if log_y else 0.0,
            unit="s" if kind == "time" else "",
        ),
        series=tuple(series),
    )
    headers = ("series", *(f"{_format.rows(r)} rows" for r in rows_measured))
    if floor_points:
        floor_cells = (_format.spread(m.seconds) if m else "n/a" for m in floors)
        table_rows.append(("COPY floor", *floor_cells))
        ceilings = [
            view.results.ceiling_for(rows, view.format, view.concurrency) for rows in rows_measured
        ]
        if any(ceilings):
            # What the client alone needs for the same bytes, as many at a time: totals near it
            # are the client's, not the port's.
            table_rows.append(
                (
                    f"client ceiling ({view.results.matrix.client}, from memory, "
                    f"x{view.concurrency})",
                    *(_format.spread(c.total) if c else "n/a" for c in ceilings),
                )
            )
    verdicts = _figure_verdicts(view, ports, rows_measured, figure, kind, heading)
    return Figure(
        ident=f"{prefix}{key}",
        heading=heading,
        charts=(chart,),
        notes=notes_for(view, used, ports),
        table=Table(headers, tuple(table_rows)),
        verdicts=tuple(verdicts),
    )


def _figure_verdicts(
    view: View,
    ports: Sequence[str],
    rows_measured: Sequence[int],
    figure: Callable[[Scenario], Stats | None],
    kind: Kind,
    heading: str,
) -> list[str]:
    """One port: chunked against standard at each size. Several: the ports ranked per endpoint."""
    subject = heading.split(". ", 1)[-1].split(" against ")[0]
    verdicts = []
    for rows in rows_measured:
        if len(ports) == 1:
            standard = view.find(ports[0], "standard", rows)
            chunked = view.find(ports[0], "chunked", rows)
            a = figure(chunked) if chunked else None
            b = figure(standard) if standard else None
            if a and b:
                verdicts.append(
                    Comparison(
                        f"{subject}, {_format.rows(rows)} rows", "chunked", a, "standard", b, kind
                    ).sentence()
                )
            continue
        for endpoint, source in view.routes(ports):
            entries = []
            for port in ports:
                scenario = view.find(port, endpoint, rows, source=source)
                stats = figure(scenario) if scenario else None
                if stats is not None:
                    entries.append((port, stats))
            if len(entries) > 1:
                verdicts.append(
                    ranking_verdict(
                        f"{subject}, {endpoint}, {_format.rows(rows)} rows", entries, kind
                    )
                )
    return verdicts


def ttfb_figure(view: View, ports: Sequence[str], prefix: str) -> Figure:
    return _rows_figure(
        view,
        ports,
        prefix,
        key="ttfb",
        heading="2. Time to first byte against row count",
        title="Time to first byte against row count",
        y_label=lambda _: "time to first byte (log scale)",
        figure=lambda s: s.ttfb,
        kind="time",
        log_y=True,
    )


def total_figure(view: View, ports: Sequence[str], prefix: str) -> Figure:
    return _rows_figure(
        view,
        ports,
        prefix,
        key="total",
        heading="3. Total time against row count",
        title="Total time against row count, with the COPY floor",
        y_label=lambda _: "total response time (log scale)",
        figure=lambda s: s.total,
        kind="time",
        log_y=True,
        floor=True,
    )


def memory_figure(view: View, ports: Sequence[str], prefix: str) -> Figure:
    return _rows_figure(
        view,
        ports,
        prefix,
        key="memory",
        heading="4. Server peak memory growth against row count",
        title="Server peak memory growth against row count",
        y_label=lambda u: f"peak resident memory growth ({u})",
        figure=lambda s: s.server.peak_memory_growth_bytes,
        kind="size",
        log_y=False,
    )


def floor_ratio_figure(view: View, ports: Sequence[str], prefix: str) -> Figure:
    ratios: dict[int, list[tuple[str, Stats]]] = {}
    bars = []
    used: list[Scenario] = []
    table_rows = []
    for rows in view.rows_for(ports):
        floor = view.results.floor_for(rows, view.format)
        for port in ports:
            for endpoint, source in view.routes(ports):
                found = view.find(port, endpoint, rows, source=source)
                if found is None or found.total is None or floor is None:
                    continue
                total = found.total
                base = floor.seconds.median
                ratio = found.floor_ratio or total.median / base
                scenario = with_below_floor(found, ratio)
                used.append(scenario)
                low = total.min / base
                high = max(total.p95, total.median) / base
                label = f"{view.series_name(port, endpoint, ports, source)}, {_format.rows(rows)}"
                bars.append(
                    Bar(
                        label,
                        ratio,
                        low,
                        high,
                        view.colour(port),
                        endpoint == "standard",
                        bool(scenario.flags or scenario.errors),
                    )
                )
                ratios.setdefault(rows, []).append(
                    (
                        view.series_name(port, endpoint, ports, source),
                        Stats(ratio, high, low, total.max / base, total.count),
                    )
                )
                table_rows.append(
                    (
                        label + " rows",
                        _format.ratio(ratio),
                        f"{_format.ratio(low)}–{_format.ratio(high)}",
                        _format.seconds(base),
                        _format.ratio(scenario.body_floor_ratio),
                        flag_names(scenario),
                    )
                )
    chart = BarChart(
        ident=f"{prefix}floor-ratio",
        title="Time as a multiple of the COPY floor",
        subtitle=f"median total ÷ median COPY time, [min, p95] whiskers, concurrency {view.concurrency}",
        axis=Axis("total time ÷ COPY floor (×, 1 = as fast as the database alone)", start=0.0),
        bars=tuple(bars),
        reference=1.0,
        reference_label="COPY floor",
    )
    return Figure(
        ident=f"{prefix}floor-ratio",
        heading="6. Time as a ratio to the floor",
        charts=(chart,),
        notes=notes_for(view, used, ports),
        table=Table(
            (
                "series",
                "× rows floor (median)",
                f"ratio band ([min, p95] of {_format.runs(s.total.count for s in used if s.total)})",
                "rows floor median",
                "× body floor",
                "flags",
            ),
            tuple(table_rows),
        ),
        caption=(
            "The rows floor is COPY of the ordered ids: the database reading the rows and nothing "
            "else. The body floor is COPY writing the exact response body: the best a port can "
            "do. Below 1× a response beat the database alone, which is flagged, not celebrated."
        ),
        verdicts=tuple(
            ranking_verdict(
                f"Time over the COPY floor, {_format.rows(rows)} rows", entries, "ratio"
            )
            for rows, entries in ratios.items()
            if len(entries) > 1
        ),
    )


def sources_figure(view: View, port: str, prefix: str) -> Figure:
    """One port: total time of every endpoint x source at the default cell, with its spread."""
    bars = []
    used: list[Scenario] = []
    for endpoint, source in view.routes([port]):
        scenario = view.find(port, endpoint, view.default_rows, source=source)
        if scenario is None or scenario.total is None:
            continue
        used.append(scenario)
        total = scenario.total
        bars.append(
            Bar(
                f"/{endpoint}?source={source}",
                total.median * 1e3,
                total.min * 1e3,
                max(total.p95, total.median) * 1e3,
                view.colour(port),
                endpoint == "standard",
                bool(scenario.flags or scenario.errors),
            )
        )
    body_floor = view.results.body_floor_for(view.default_rows, view.format)
    chart = BarChart(
        ident=f"{prefix}sources",
        title=f"{port}: total time per way of reading, {_format.rows(view.default_rows)} rows",
        subtitle=f"median, [min, p95] whiskers of {_format.runs(s.total.count for s in used if s.total)}, "
        f"{view.format}, concurrency {view.concurrency}"
        + ("; line: the body floor" if body_floor else ""),
        axis=Axis("total response time (ms)", start=0.0),
        bars=tuple(bars),
        reference=body_floor.seconds.median * 1e3 if body_floor else None,
        reference_label="body floor" if body_floor else "",
    )
    return Figure(
        ident=f"{prefix}sources",
        heading="Which way to read the rows: total time",
        charts=(chart,),
        notes=notes_for(view, used, [port]),
        table=None,
        verdicts=(),
        caption="fetch: every row in one round trip, then encoded; cursor: a server-side cursor "
        "read in batches; copy: the database writes the body with COPY and the port forwards it. "
        "Paler bars are the buffered endpoint.",
    )
