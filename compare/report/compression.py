"""What compression costs and buys, per contender: first byte and total with and without it, the
bytes on the wire, the ratio and the server's CPU per MB of body. Only when the run asked for a
content coding (`--compression`).

Each row is a route of one contender at the summary's cell (its rows, format and concurrency, at
the fastest read rate), one column pair per coding; the coded figures are set against the
identity ones by the noise rule of `verdict.py`. The charts draw the totals over the body floor,
a colour per coding, as the layers' charts do.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..results import NO_COMPRESSION, Results, Scenario, Stats
from . import _format
from .context import View
from .figure import Figure, Table, notes_for
from .svg import Axis, Bar, BarChart
from .verdict import clearly_different


def compression_figure(
    results: Results, view: View, contenders: Sequence[str], prefix: str
) -> Figure | None:
    """The table and charts, or None for a run without a content coding."""
    base = results.at_read_rate(results.base_read_rate)
    codings = [
        c for c in base.matrix.compression if any(s.compression == c for s in base.scenarios)
    ]
    if not any(c != NO_COMPRESSION for c in codings):
        return None
    cell = (view.default_rows, view.format, view.concurrency)
    found: dict[tuple[str, str, str, str], Scenario] = {
        (s.contender, s.endpoint, s.source, s.compression): s
        for s in base.scenarios
        if (s.rows, s.format, s.concurrency) == cell and s.contender in contenders
    }
    routes = list(dict.fromkeys((c, e, s) for c, e, s, _ in found))
    rows = [_row(found, route, codings) for route in routes]
    measured = list(found.values())
    where = f"{_format.rows(view.default_rows)} rows, {view.format}, concurrency {view.concurrency}"
    return Figure(
        ident=f"{prefix}compression",
        heading="With and without compression",
        charts=tuple(
            _chart(base, view, contender, found, routes, codings, prefix)
            for contender in dict.fromkeys(c for c, _, _ in routes)
        ),
        notes=notes_for(view, measured, [s.contender for s in measured]),
        table=Table(
            (
                "contender",
                "endpoint and source",
                "coding",
                "first byte (median)",
                "total",
                "wire MB (median)",
                "ratio",
                "server CPU per MB",
                f"against {NO_COMPRESSION}",
            ),
            tuple(row for group in rows for row in group),
        ),
        verdicts=(),
        caption=(
            f"Each contender at {where}, asked for each coding of the run (Accept-Encoding). "
            "First byte and total are the client's, decoding included; wire MB what arrived; "
            "ratio the decoded body over the wire bytes; server CPU per MB of decoded body. The "
            f"last column sets each coding against {NO_COMPRESSION} on the same route by the "
            "noise rule above."
        ),
    )


def _row(
    found: dict[tuple[str, str, str, str], Scenario],
    route: tuple[str, str, str],
    codings: Sequence[str],
) -> list[tuple[str, ...]]:
    contender, endpoint, source = route
    plain = found.get((contender, endpoint, source, NO_COMPRESSION))
    out: list[tuple[str, ...]] = []
    for coding in codings:
        scenario = found.get((contender, endpoint, source, coding))
        label = f"/{endpoint}?source={source}"
        if scenario is None:
            out.append((contender, label, coding, "not measured", "", "", "", "", ""))
            continue
        cpu = scenario.cpu_seconds_per_megabyte
        out.append(
            (
                contender,
                label,
                coding,
                _format.seconds(scenario.ttfb.median if scenario.ttfb else None),
                _format.spread(scenario.total),
                "n/a" if scenario.bytes is None else f"{scenario.bytes / 1e6:,.3g}",
                _format.ratio(scenario.compression_ratio),
                "n/a" if cpu is None else f"{cpu * 1e3:,.1f} ms",
                _against(scenario, plain),
            )
        )
    return out


def _against(scenario: Scenario, plain: Scenario | None) -> str:
    if scenario.compression == NO_COMPRESSION:
        return "the reference"
    if plain is None:
        return f"{NO_COMPRESSION} not measured here"
    parts = [
        _compare("first byte", scenario.ttfb, plain.ttfb),
        _compare("total", scenario.total, plain.total),
    ]
    return "; ".join(part for part in parts if part)


def _compare(subject: str, figure: Stats | None, base: Stats | None) -> str:
    if figure is None or base is None:
        return ""
    clear = clearly_different(base, figure, "time")
    if clear is None:
        return f"{subject} measured once, too few runs to tell"
    if not clear:
        return f"{subject} within the noise"
    if base.median <= 0:
        return f"{subject} clearly {'more' if figure.median > base.median else 'less'}"
    return f"{subject} {figure.median / base.median:.2f}×, clear"


def _chart(
    results: Results,
    view: View,
    contender: str,
    found: dict[tuple[str, str, str, str], Scenario],
    routes: Sequence[tuple[str, str, str]],
    codings: Sequence[str],
    prefix: str,
) -> BarChart:
    """One contender: every measured (route, coding)'s total over the body floor."""
    floor = results.body_floor_for(view.default_rows, view.format) or results.floor_for(
        view.default_rows, view.format
    )
    bars = []
    for who, endpoint, source in routes:
        for coding in codings:
            scenario = found.get((who, endpoint, source, coding))
            if who != contender or scenario is None or scenario.total is None or floor is None:
                continue
            divisor = floor.seconds.median
            total = scenario.total
            bars.append(
                Bar(
                    f"{coding} /{endpoint}?source={source}",
                    total.median / divisor,
                    total.min / divisor,
                    max(total.p95, total.median) / divisor,
                    codings.index(coding),
                    endpoint == "standard",
                    bool(scenario.flags or scenario.errors),
                )
            )
    return BarChart(
        ident=f"{prefix}compression-{contender}",
        title=f"{contender}: total time per coding, {_format.rows(view.default_rows)} rows",
        subtitle=f"median total ÷ the floor ({view.format}, concurrency {view.concurrency}), "
        "[min, p95] whiskers, a colour per coding",
        axis=Axis("total time ÷ floor (×, 1 = as fast as the database alone)", start=0.0),
        bars=tuple(bars),
        reference=1.0,
        reference_label="floor",
    )
