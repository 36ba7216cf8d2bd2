"""What your data layer costs: each port on its default server, every data layer the run had,
side by side per endpoint and source at the summary's cell. Only when more than one layer ran.

The figures are the ones every report shows (total against the floors, first byte, server memory
growth and CPU), each layer set against a reference layer on the same pair and route by the noise
rule of `verdict.py`: the default layer when it ran, else the first one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.layers import DEFAULT_LAYER

from ..results import DEFAULT_SOURCE, PortResult, Scenario, Stats
from . import _format
from ._format import Kind
from .context import View
from .figure import Figure, Table, flag_names, notes_for, with_below_floor
from .svg import Axis, Bar, BarChart
from .verdict import clearly_different, ranking_verdict, size_resolved

NOT_OFFERED = "not offered"


@dataclass(frozen=True)
class LayerRow:
    """One (pair, route, layer) at the summary's cell: measured, or why not."""

    pair: str
    endpoint: str
    source: str
    layer: str
    scenario: Scenario | None
    missing: str = ""  # "not offered", "failed verification" or "not measured"


def layers_figure(view: View) -> Figure | None:
    """The table and charts of what each layer costs, or None for a run of one layer."""
    layers = view.results.matrix.layers
    if len(layers) < 2:
        return None
    reference = DEFAULT_LAYER if DEFAULT_LAYER in layers else layers[0]
    rows = [row for pair in default_pairs(view.results.ports) for row in _rows(view, pair)]
    measured = [row.scenario for row in rows if row.scenario is not None]
    cell = f"{_format.rows(view.default_rows)} rows, {view.format}, concurrency {view.concurrency}"
    return Figure(
        ident="summary-layers",
        heading="What your data layer costs",
        charts=tuple(
            _chart(view, pair, rows, layers) for pair in dict.fromkeys(r.pair for r in rows)
        ),
        notes=notes_for(view, measured, [s.contender for s in measured]),
        table=Table(
            (
                "port",
                "endpoint and source",
                "data layer",
                "total",
                "× rows floor / × body floor",
                "first byte (median)",
                "server memory growth (median)",
                "server CPU per round (median)",
                f"against {reference}",
            ),
            tuple(_table_row(view, row, rows, reference) for row in rows),
        ),
        verdicts=tuple(_verdicts(rows)),
        caption=(
            f"Each port on its default server, on every data layer of the run, at {cell}: the "
            "cost of reading the rows through the layer, everything else alike. The last column "
            f"sets each layer against {reference} on the same port, endpoint and source by the "
            "noise rule above; “not offered” is what a layer cannot serve (no COPY through an "
            "ORM). The charts draw each total over the body floor, COPY writing the body: 1× is "
            "as fast as the database alone."
        ),
    )


def default_pairs(ports: Sequence[PortResult]) -> list[str]:
    """Per framework port, the pair the table shows: the port on its default server when it
    ran, else the first of its pairs in the run. Targets have no layer to compare."""
    chosen: dict[str, PortResult] = {}
    for port in ports:
        if port.target:
            continue
        current = chosen.setdefault(port.name.partition("@")[0], port)
        if port.default_pair and not current.default_pair:
            chosen[port.name.partition("@")[0]] = port
    return [port.name for port in chosen.values()]


def _rows(view: View, pair: str) -> list[LayerRow]:
    results = view.results
    on_pair = {p.layer: p for p in results.ports if p.name == pair and p.layer is not None}
    refused = {(n.layer, n.source) for n in results.not_offered if n.port == pair}
    rows: list[LayerRow] = []
    for endpoint in results.matrix.endpoints:
        for source in results.matrix.sources or (DEFAULT_SOURCE[endpoint],):
            for layer in results.matrix.layers:
                port = on_pair.get(layer)
                if (layer, source) in refused:
                    rows.append(LayerRow(pair, endpoint, source, layer, None, NOT_OFFERED))
                elif port is None:
                    # Another port's own layer (Django's ORM): no choice for this port's users,
                    # said once in the table of what is not offered.
                    continue
                elif not port.timed:
                    rows.append(
                        LayerRow(pair, endpoint, source, layer, None, "failed verification")
                    )
                else:
                    found = view.find(port.contender, endpoint, view.default_rows, source=source)
                    missing = "" if found else "not measured"
                    rows.append(LayerRow(pair, endpoint, source, layer, found, missing))
    # A route no layer measured at this cell says nothing of the layers: left out.
    measured = {(r.endpoint, r.source) for r in rows if r.scenario is not None}
    return [r for r in rows if (r.endpoint, r.source) in measured]


def _table_row(
    view: View, row: LayerRow, rows: Sequence[LayerRow], reference: str
) -> tuple[str, ...]:
    route = f"/{row.endpoint}?source={row.source}"
    if row.scenario is None:
        return (row.pair, route, row.layer, row.missing, "", "", "", "", "")
    scenario = row.scenario
    if scenario.floor_ratio is not None:
        scenario = with_below_floor(scenario, scenario.floor_ratio)
    flags = flag_names(scenario)
    floors = f"{_format.ratio(scenario.floor_ratio)} / {_format.ratio(scenario.body_floor_ratio)}"
    return (
        row.pair,
        route,
        row.layer,
        _format.spread(scenario.total) + (f" ⚠ {flags}" if flags else ""),
        floors,
        # Medians beside the total's band: the last column says which differences are clear.
        _format.seconds(scenario.ttfb.median if scenario.ttfb else None),
        _memory(scenario.server.peak_memory_growth_bytes),
        _cpu(scenario.server.cpu_seconds),
        _against(row, _reference(row, rows, reference), reference),
    )


def _memory(stats: Stats | None) -> str:
    return "n/a" if stats is None else _format.memory(stats.median if size_resolved(stats) else 0)


def _cpu(stats: Stats | None) -> str:
    # CPU time is counted in the kernel's ticks (10 ms here): no figure finer than a millisecond.
    return "n/a" if stats is None else f"{stats.median * 1e3:,.0f} ms"


def _reference(row: LayerRow, rows: Sequence[LayerRow], reference: str) -> Scenario | None:
    return next(
        (
            r.scenario
            for r in rows
            if (r.pair, r.endpoint, r.source, r.layer)
            == (row.pair, row.endpoint, row.source, reference)
        ),
        None,
    )


def _against(row: LayerRow, base: Scenario | None, reference: str) -> str:
    """The layer's total, memory and CPU against the reference layer's, by the noise rule."""
    if row.layer == reference:
        return "the reference"
    if row.scenario is None or base is None:
        return f"{reference} not measured here"
    server, base_server = row.scenario.server, base.server
    parts = [
        _compare("total", row.scenario.total, base.total, "time", reference),
        _compare("memory", server.peak_memory_growth_bytes, base_server.peak_memory_growth_bytes,
                 "size", reference),
        _compare("CPU", server.cpu_seconds, base_server.cpu_seconds, "time", reference),
    ]  # fmt: skip
    return "; ".join(part for part in parts if part)


def _compare(
    subject: str, figure: Stats | None, base: Stats | None, kind: Kind, reference: str
) -> str:
    if figure is None or base is None:
        return ""
    if kind == "size" and not (size_resolved(figure) or size_resolved(base)):
        return f"{subject} below 1 MiB in both"
    clear = clearly_different(base, figure, kind)
    if clear is None:
        return f"{subject} measured once, too few runs to tell"
    if not clear:
        return f"{subject} within the noise"
    if kind == "size":
        more = "more" if figure.median > base.median else "less"
        return f"{subject} {_format.memory(figure.median)}, clearly {more}"
    if base.median <= 0:
        return f"{subject} clearly {'more' if figure.median > base.median else 'less'}"
    return f"{subject} {figure.median / base.median:.2f}× {reference}'s, clear"


def _verdicts(rows: Sequence[LayerRow]) -> list[str]:
    """Per pair and route, the layers ranked by total time, a winner only where it is clear."""
    verdicts = []
    routes: dict[tuple[str, str, str], list[tuple[str, Stats]]] = {}
    for row in rows:
        if row.scenario is not None and row.scenario.total is not None:
            routes.setdefault((row.pair, row.endpoint, row.source), []).append(
                (row.layer, row.scenario.total)
            )
    for (pair, endpoint, source), entries in routes.items():
        if len(entries) > 1:
            verdicts.append(ranking_verdict(f"{pair} /{endpoint}?source={source}, total", entries))
    return verdicts


def _chart(view: View, pair: str, rows: Sequence[LayerRow], layers: Sequence[str]) -> BarChart:
    """One pair: every measured (route, layer)'s total over the body floor, a colour per layer."""
    floor = view.results.body_floor_for(view.default_rows, view.format)
    rows_floor = view.results.floor_for(view.default_rows, view.format)
    base = floor or rows_floor
    bars = []
    for row in rows:
        scenario = row.scenario
        if row.pair != pair or scenario is None or scenario.total is None or base is None:
            continue
        divisor = base.seconds.median
        total = scenario.total
        bars.append(
            Bar(
                f"{row.layer} /{row.endpoint}?source={row.source}",
                total.median / divisor,
                total.min / divisor,
                max(total.p95, total.median) / divisor,
                layers.index(row.layer),
                row.endpoint == "standard",
                bool(scenario.flags or scenario.errors),
            )
        )
    name = "body floor" if floor else "rows floor"
    return BarChart(
        ident=f"summary-layers-{pair}",
        title=f"{pair}: total time per data layer, {_format.rows(view.default_rows)} rows",
        subtitle=f"median total ÷ the {name} ({view.format}, concurrency {view.concurrency}), "
        "[min, p95] whiskers, a colour per layer",
        axis=Axis(f"total time ÷ {name} (×, 1 = as fast as the database alone)", start=0.0),
        bars=tuple(bars),
        reference=1.0,
        reference_label=name,
    )
