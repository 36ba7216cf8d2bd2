"""Line charts: series of points on linear or log axes, each point with its spread as a whisker and
a ring where it is flagged, and the legend rows under the plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from .scales import Axis, Scale, domain, px, ticks
from .style import (
    HEIGHT,
    LEGEND_ITEM,
    LEGEND_ROW,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    PALETTE,
    WIDTH,
)

FLAGGED = "flagged"


@dataclass(frozen=True)
class Point:
    """One measured value; `low`/`high` draw its spread as a whisker."""

    x: float
    y: float
    low: float | None = None
    high: float | None = None
    flagged: bool = False


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[Point, ...]
    colour: int = 0
    dash: str = ""  # a name in DASHES; "" draws a solid line
    markers: bool = True
    reference: bool = False  # drawn in the neutral colour: the floor, not a contender


@dataclass(frozen=True)
class LineChart:
    ident: str
    title: str
    x: Axis
    y: Axis
    series: tuple[Series, ...]
    subtitle: str = ""


def line_chart(chart: LineChart) -> tuple[list[str], int]:
    """The chart's SVG elements below its title, and its height."""
    items = [(s.name, _colour(s), s.dash) for s in chart.series]
    if any(p.flagged for s in chart.series for p in s.points):
        items.append(("flagged: see the notes", FLAGGED, ""))
    legend, legend_height = _legend(items, HEIGHT - 8)
    height = HEIGHT + legend_height
    plot_bottom = HEIGHT - MARGIN_BOTTOM
    xs = [p.x for s in chart.series for p in s.points]
    ys = [v for s in chart.series for p in s.points for v in (p.y, p.low, p.high) if v is not None]
    x_start, x_end = domain(chart.x, xs + list(chart.x.ticks or ()))
    y_start, y_end = domain(chart.y, ys)
    x_scale = Scale(x_start, x_end, MARGIN_LEFT, WIDTH - MARGIN_RIGHT, chart.x.log)
    y_scale = Scale(y_start, y_end, plot_bottom, MARGIN_TOP, chart.y.log)
    parts = _axes(chart, x_scale, y_scale, plot_bottom)
    if not any(s.points for s in chart.series):
        parts.append(
            f'<text class="muted" x="{px(WIDTH / 2)}" y="{px(plot_bottom / 2 + 20)}" '
            'text-anchor="middle">no data measured for this chart</text>'
        )
    for series in chart.series:
        parts.extend(_draw_series(series, x_scale, y_scale))
    parts.extend(legend)
    return parts, height


def _legend(items: Sequence[tuple[str, str, str]], top: float) -> tuple[list[str], int]:
    """Legend rows below the plot; items are (label, colour class suffix, dash name); the colour
    FLAGGED draws the ring that marks a flagged point."""
    # Wide enough for the longest label (about 7 px a character at 12 px), so that a long
    # port@server name never runs into the next item's line.
    item = max(LEGEND_ITEM, 44 + 7 * max((len(label) for label, _, _ in items), default=0))
    per_row = max(1, (WIDTH - MARGIN_LEFT) // item)
    parts = []
    for index, (label, colour, dash) in enumerate(items):
        row, column = divmod(index, per_row)
        x = MARGIN_LEFT + column * item
        y = top + row * LEGEND_ROW
        if colour == FLAGGED:
            parts.append(
                f'<circle class="warn" cx="{px(x + 14)}" cy="{px(y - 4)}" r="7" '
                'fill-opacity="0" stroke-width="2"/>'
            )
            parts.append(f'<text class="fg" x="{px(x + 34)}" y="{px(y)}">{escape(label)}</text>')
            continue
        style = f" dash-{dash}" if dash else ""
        parts.append(
            f'<line class="line s{colour}{style}" x1="{px(x)}" y1="{px(y - 4)}" '
            f'x2="{px(x + 28)}" y2="{px(y - 4)}"/>'
        )
        parts.append(f'<text class="fg" x="{px(x + 34)}" y="{px(y)}">{escape(label)}</text>')
    rows = math.ceil(len(items) / per_row) if items else 0
    return parts, rows * LEGEND_ROW


def _colour(series: Series) -> str:
    return "ref" if series.reference else str(series.colour % len(PALETTE))


def _axes(chart: LineChart, x_scale: Scale, y_scale: Scale, plot_bottom: float) -> list[str]:
    parts = ['<g class="axes">']
    x_ticks = list(chart.x.ticks) if chart.x.ticks else None
    if x_ticks is None:
        x_ticks = ticks(x_scale.start, x_scale.end, chart.x.log)
    y_ticks = ticks(y_scale.start, y_scale.end, chart.y.log)
    for tick in y_ticks:
        y = y_scale(tick)
        parts.append(
            f'<line class="grid" x1="{MARGIN_LEFT}" y1="{px(y)}" x2="{WIDTH - MARGIN_RIGHT}" y2="{px(y)}"/>'
        )
        parts.append(
            f'<text class="muted" x="{MARGIN_LEFT - 6}" y="{px(y + 4)}" text-anchor="end">'
            f"{escape(chart.y.tick_label(tick))}</text>"
        )
    for tick in x_ticks:
        x = x_scale(tick)
        parts.append(
            f'<line class="grid" x1="{px(x)}" y1="{MARGIN_TOP}" x2="{px(x)}" y2="{px(plot_bottom)}"/>'
        )
        parts.append(
            f'<text class="muted" x="{px(x)}" y="{px(plot_bottom + 16)}" text-anchor="middle">'
            f"{escape(chart.x.tick_label(tick))}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{px(plot_bottom)}" '
        f'x2="{WIDTH - MARGIN_RIGHT}" y2="{px(plot_bottom)}"/>'
    )
    parts.append(
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" '
        f'x2="{MARGIN_LEFT}" y2="{px(plot_bottom)}"/>'
    )
    middle_x = (MARGIN_LEFT + WIDTH - MARGIN_RIGHT) / 2
    parts.append(
        f'<text class="fg axis-label" x="{px(middle_x)}" y="{px(plot_bottom + 34)}" '
        f'text-anchor="middle">{escape(chart.x.label)}</text>'
    )
    middle_y = (MARGIN_TOP + plot_bottom) / 2
    parts.append(
        f'<text class="fg axis-label" x="16" y="{px(middle_y)}" text-anchor="middle" '
        f'transform="rotate(-90 16 {px(middle_y)})">{escape(chart.y.label)}</text>'
    )
    parts.append("</g>")
    return parts


def _draw_series(series: Series, x_scale: Scale, y_scale: Scale) -> list[str]:
    if not series.points:
        return []
    colour = _colour(series)
    dash = f" dash-{series.dash}" if series.dash else ""
    coordinates = " ".join(f"{px(x_scale(p.x))},{px(y_scale(p.y))}" for p in series.points)
    parts = [f'<g class="series" data-series="{escape(series.name)}">']
    parts.append(f'<polyline class="line s{colour}{dash}" points="{coordinates}"/>')
    for point in series.points:
        x, y = x_scale(point.x), y_scale(point.y)
        if point.low is not None and point.high is not None:
            low, high = y_scale(point.low), y_scale(point.high)
            parts.append(
                f'<line class="whisker s{colour}" x1="{px(x)}" y1="{px(low)}" x2="{px(x)}" y2="{px(high)}"/>'
            )
        if series.markers:
            parts.append(f'<circle class="f{colour}" cx="{px(x)}" cy="{px(y)}" r="3.5"/>')
        if point.flagged:
            parts.append(
                f'<circle class="warn" cx="{px(x)}" cy="{px(y)}" r="7" fill-opacity="0" '
                'stroke-width="2"><title>flagged: see the notes under this chart</title></circle>'
            )
    parts.append("</g>")
    return parts
