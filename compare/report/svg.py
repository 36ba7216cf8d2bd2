"""Charts as inline SVG: line charts (linear or log axes) and horizontal bar charts.

Pure functions from chart descriptions to SVG text. Every number is formatted with a fixed precision
so that the same description always gives the same bytes. Colours come from CSS classes (see
`chart_css`) with a dark variant under `prefers-color-scheme`, and every chart paints its own
background, so it stays legible in a viewer that ignores the media query.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
HEIGHT = 380
_MARGIN_LEFT = 72
_MARGIN_RIGHT = 20
_MARGIN_TOP = 48
_MARGIN_BOTTOM = 56
_LEGEND_ROW = 20
_LEGEND_ITEM = 200

# (light, dark) pairs: saturated enough on white, light enough on near-black. One per framework
# (port@server) of a run: the default run has seven, so ten leave room before a colour would
# have to mean two frameworks. None is red, which marks flagged points.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#0969da", "#58a6ff"),
    ("#bc4c00", "#f0883e"),
    ("#1a7f37", "#3fb950"),
    ("#8250df", "#bc8cff"),
    ("#bf3989", "#f778ba"),
    ("#9a6700", "#d29922"),
    ("#1b7c83", "#39c5cf"),
    ("#7a4a2a", "#d4a27f"),
    ("#5a7d00", "#a5d64c"),
    ("#0a3069", "#a5d6ff"),
)
# Line styles, by name: every report gives each (endpoint, source) one of these, the same one
# on every chart (colour is the framework's).
DASHES: dict[str, str] = {
    "dash": "7 4",
    "dot": "2 3",
    "dashdot": "8 3 2 3",
    "longdash": "14 4",
    "sparse": "10 3 2 3 2 3",  # dash-dot-dot: plain dots are taken by "dot"
}
_REF = ("#57606a", "#8b949e")
_FG = ("#1f2328", "#e6edf3")
_MUTED = ("#57606a", "#9198a1")
_GRID = ("#d0d7de", "#30363d")
_BG = ("#ffffff", "#0d1117")
_WARN = ("#cf222e", "#ff7b72")


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
class Axis:
    """An axis label carries its unit, e.g. "time to first byte (ms)"."""

    label: str
    log: bool = False
    ticks: tuple[float, ...] | None = None
    start: float | None = None
    end: float | None = None
    unit: str = ""  # appended to each tick label, e.g. "s" for times in seconds

    def tick_label(self, value: float) -> str:
        return time_tick(value) if self.unit == "s" else format_tick(value)


@dataclass(frozen=True)
class LineChart:
    ident: str
    title: str
    x: Axis
    y: Axis
    series: tuple[Series, ...]
    subtitle: str = ""


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    low: float | None = None
    high: float | None = None
    colour: int = 0
    dashed: bool = False
    flagged: bool = False


@dataclass(frozen=True)
class BarChart:
    ident: str
    title: str
    axis: Axis
    bars: tuple[Bar, ...]
    reference: float | None = None
    reference_label: str = ""
    subtitle: str = ""
    pale_label: str = "paler: the buffered endpoint"  # the legend's words for a `dashed` bar


Chart = LineChart | BarChart


def chart_css(scope: str = ".sb-chart") -> str:
    """The colour rules every chart needs, light first, dark under the media query."""

    def rules(which: int) -> str:
        parts = [
            f"{scope} .bg{{fill:{_BG[which]}}}",
            f"{scope} .fg{{fill:{_FG[which]}}}",
            f"{scope} .muted{{fill:{_MUTED[which]}}}",
            f"{scope} .grid{{stroke:{_GRID[which]}}}",
            f"{scope} .axis{{stroke:{_MUTED[which]}}}",
            f"{scope} .warn{{fill:{_WARN[which]};stroke:{_WARN[which]}}}",
            f"{scope} .sref{{stroke:{_REF[which]}}}",
            f"{scope} .fref{{fill:{_REF[which]}}}",
        ]
        for index, colours in enumerate(PALETTE):
            parts.append(f"{scope} .s{index}{{stroke:{colours[which]}}}")
            parts.append(f"{scope} .f{index}{{fill:{colours[which]}}}")
        return "".join(parts)

    base = (
        f"{scope} text{{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:12px}}"
        f"{scope} .title{{font-size:15px;font-weight:600}}"
        f"{scope} .line{{fill:none;stroke-width:2;stroke-linejoin:round}}"
        + "".join(
            f"{scope} .dash-{name}{{stroke-dasharray:{dash}}}" for name, dash in DASHES.items()
        )
        + f"{scope} .dash{{stroke-dasharray:6 4}}"
        f"{scope} .whisker{{stroke-width:1.5}}"
    )
    return base + rules(0) + "@media (prefers-color-scheme: dark){" + rules(1) + "}"


def render_chart(chart: Chart, *, standalone: bool = False) -> str:
    """SVG text for one chart; `standalone` adds the XML namespace and the colour rules."""
    if isinstance(chart, LineChart):
        body, height = _line_chart(chart)
    else:
        body, height = _bar_chart(chart)
    title_id = f"{chart.ident}-title"
    head = (
        f'<svg class="sb-chart" role="img" aria-labelledby="{title_id}" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}"'
    )
    if standalone:
        head += ' xmlns="http://www.w3.org/2000/svg"'
    parts = [head + ">", f'<title id="{title_id}">{escape(chart.title)}</title>']
    if standalone:
        parts.append(f"<style>{chart_css()}</style>")
    parts.append(f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{height}" rx="6"/>')
    parts.append(
        f'<text class="fg title" x="{_MARGIN_LEFT}" y="22"{_fit(chart.title, 8.6)}>'
        f"{escape(chart.title)}</text>"
    )
    if chart.subtitle:
        parts.append(
            f'<text class="muted" x="{_MARGIN_LEFT}" y="38"{_fit(chart.subtitle, 6.6)}>'
            f"{escape(chart.subtitle)}</text>"
        )
    parts.extend(body)
    parts.append("</svg>")
    return "\n".join(parts)


def _fit(text: str, char_width: float) -> str:
    """Squeeze a line that would run past the chart's right edge (at about `char_width` px a
    character) into the room there is, rather than cut it off."""
    room = WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    if len(text) * char_width <= room:
        return ""
    return f' textLength="{room}" lengthAdjust="spacingAndGlyphs"'


# ---- scales and ticks -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scale:
    start: float
    end: float
    pixel_start: float
    pixel_end: float
    log: bool

    def __call__(self, value: float) -> float:
        if self.log:
            value = max(value, self.start)
            position = (math.log10(value) - math.log10(self.start)) / (
                math.log10(self.end) - math.log10(self.start)
            )
        else:
            position = (value - self.start) / (self.end - self.start)
        return self.pixel_start + position * (self.pixel_end - self.pixel_start)


def _domain(axis: Axis, values: Sequence[float]) -> tuple[float, float]:
    if axis.log:
        positive = [v for v in values if v > 0]
        low = min(positive) if positive else 1.0
        high = max(positive) if positive else 10.0
        start = axis.start if axis.start is not None else 10.0 ** math.floor(math.log10(low))
        end = axis.end if axis.end is not None else 10.0 ** math.ceil(math.log10(high))
        if end <= start:
            end = start * 10
        return start, end
    low = min(values, default=0.0)
    high = max(values, default=1.0)
    start = axis.start if axis.start is not None else min(0.0, low)
    end = axis.end if axis.end is not None else _nice_ceiling(high)
    if end <= start:
        end = start + 1.0
    return start, end


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return 10 * magnitude


def _linear_ticks(start: float, end: float) -> list[float]:
    span = end - start
    raw = span / 5
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(s * magnitude for s in (1, 2, 2.5, 5, 10) if s * magnitude >= raw)
    first = math.ceil(start / step) * step
    ticks = []
    value = first
    while value <= end + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _log_ticks(start: float, end: float) -> list[float]:
    decades = math.log10(end) - math.log10(start)
    multipliers = (1.0,) if decades > 3 else (1.0, 2.0, 5.0)
    ticks = []
    exponent = math.floor(math.log10(start))
    while 10.0**exponent <= end * (1 + 1e-9):
        for multiplier in multipliers:
            value = multiplier * 10.0**exponent
            if start * (1 - 1e-9) <= value <= end * (1 + 1e-9):
                ticks.append(value)
        exponent += 1
    return ticks


def format_tick(value: float) -> str:
    """Compact tick labels: 10k, 1.5M, 0.25, 12."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return _trim(value / limit) + suffix
    return _trim(value)


def time_tick(seconds: float) -> str:
    """Tick labels for times spanning decades: 500 µs, 10 ms, 1.5 s."""
    if seconds == 0:
        return "0"
    if abs(seconds) >= 1:
        return _trim(seconds) + " s"
    if abs(seconds) >= 1e-3:
        return _trim(seconds * 1e3) + " ms"
    return _trim(seconds * 1e6) + " µs"


def _trim(value: float) -> str:
    if value == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{min(digits, 4)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _n(value: float) -> str:
    return f"{value:.1f}"


# ---- line charts ------------------------------------------------------------------------------


FLAGGED = "flagged"


def _legend(items: Sequence[tuple[str, str, str]], top: float) -> tuple[list[str], int]:
    """Legend rows below the plot; items are (label, colour class suffix, dash name); the colour
    FLAGGED draws the ring that marks a flagged point."""
    # Wide enough for the longest label (about 7 px a character at 12 px), so that a long
    # port@server name never runs into the next item's line.
    item = max(_LEGEND_ITEM, 44 + 7 * max((len(label) for label, _, _ in items), default=0))
    per_row = max(1, (WIDTH - _MARGIN_LEFT) // item)
    parts = []
    for index, (label, colour, dash) in enumerate(items):
        row, column = divmod(index, per_row)
        x = _MARGIN_LEFT + column * item
        y = top + row * _LEGEND_ROW
        if colour == FLAGGED:
            parts.append(
                f'<circle class="warn" cx="{_n(x + 14)}" cy="{_n(y - 4)}" r="7" '
                'fill-opacity="0" stroke-width="2"/>'
            )
            parts.append(f'<text class="fg" x="{_n(x + 34)}" y="{_n(y)}">{escape(label)}</text>')
            continue
        style = f" dash-{dash}" if dash else ""
        parts.append(
            f'<line class="line s{colour}{style}" x1="{_n(x)}" y1="{_n(y - 4)}" '
            f'x2="{_n(x + 28)}" y2="{_n(y - 4)}"/>'
        )
        parts.append(f'<text class="fg" x="{_n(x + 34)}" y="{_n(y)}">{escape(label)}</text>')
    rows = math.ceil(len(items) / per_row) if items else 0
    return parts, rows * _LEGEND_ROW


def _colour(series: Series) -> str:
    return "ref" if series.reference else str(series.colour % len(PALETTE))


def _line_chart(chart: LineChart) -> tuple[list[str], int]:
    items = [(s.name, _colour(s), s.dash) for s in chart.series]
    if any(p.flagged for s in chart.series for p in s.points):
        items.append(("flagged: see the notes", FLAGGED, ""))
    legend, legend_height = _legend(items, HEIGHT - 8)
    height = HEIGHT + legend_height
    plot_bottom = HEIGHT - _MARGIN_BOTTOM
    xs = [p.x for s in chart.series for p in s.points]
    ys = [v for s in chart.series for p in s.points for v in (p.y, p.low, p.high) if v is not None]
    x_start, x_end = _domain(chart.x, xs + list(chart.x.ticks or ()))
    y_start, y_end = _domain(chart.y, ys)
    x_scale = _Scale(x_start, x_end, _MARGIN_LEFT, WIDTH - _MARGIN_RIGHT, chart.x.log)
    y_scale = _Scale(y_start, y_end, plot_bottom, _MARGIN_TOP, chart.y.log)
    parts = _axes(chart, x_scale, y_scale, plot_bottom)
    if not any(s.points for s in chart.series):
        parts.append(
            f'<text class="muted" x="{_n(WIDTH / 2)}" y="{_n(plot_bottom / 2 + 20)}" '
            'text-anchor="middle">no data measured for this chart</text>'
        )
    for series in chart.series:
        parts.extend(_draw_series(series, x_scale, y_scale))
    parts.extend(legend)
    return parts, height


def _axes(chart: LineChart, x_scale: _Scale, y_scale: _Scale, plot_bottom: float) -> list[str]:
    parts = ['<g class="axes">']
    x_ticks = list(chart.x.ticks) if chart.x.ticks else None
    if x_ticks is None:
        x_ticks = (_log_ticks if chart.x.log else _linear_ticks)(x_scale.start, x_scale.end)
    y_ticks = (_log_ticks if chart.y.log else _linear_ticks)(y_scale.start, y_scale.end)
    for tick in y_ticks:
        y = y_scale(tick)
        parts.append(
            f'<line class="grid" x1="{_MARGIN_LEFT}" y1="{_n(y)}" x2="{WIDTH - _MARGIN_RIGHT}" y2="{_n(y)}"/>'
        )
        parts.append(
            f'<text class="muted" x="{_MARGIN_LEFT - 6}" y="{_n(y + 4)}" text-anchor="end">'
            f"{chart.y.tick_label(tick)}</text>"
        )
    for tick in x_ticks:
        x = x_scale(tick)
        parts.append(
            f'<line class="grid" x1="{_n(x)}" y1="{_MARGIN_TOP}" x2="{_n(x)}" y2="{_n(plot_bottom)}"/>'
        )
        parts.append(
            f'<text class="muted" x="{_n(x)}" y="{_n(plot_bottom + 16)}" text-anchor="middle">'
            f"{chart.x.tick_label(tick)}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{_MARGIN_LEFT}" y1="{_n(plot_bottom)}" '
        f'x2="{WIDTH - _MARGIN_RIGHT}" y2="{_n(plot_bottom)}"/>'
    )
    parts.append(
        f'<line class="axis" x1="{_MARGIN_LEFT}" y1="{_MARGIN_TOP}" '
        f'x2="{_MARGIN_LEFT}" y2="{_n(plot_bottom)}"/>'
    )
    middle_x = (_MARGIN_LEFT + WIDTH - _MARGIN_RIGHT) / 2
    parts.append(
        f'<text class="fg axis-label" x="{_n(middle_x)}" y="{_n(plot_bottom + 34)}" '
        f'text-anchor="middle">{escape(chart.x.label)}</text>'
    )
    middle_y = (_MARGIN_TOP + plot_bottom) / 2
    parts.append(
        f'<text class="fg axis-label" x="16" y="{_n(middle_y)}" text-anchor="middle" '
        f'transform="rotate(-90 16 {_n(middle_y)})">{escape(chart.y.label)}</text>'
    )
    parts.append("</g>")
    return parts


def _draw_series(series: Series, x_scale: _Scale, y_scale: _Scale) -> list[str]:
    if not series.points:
        return []
    colour = _colour(series)
    dash = f" dash-{series.dash}" if series.dash else ""
    coordinates = " ".join(f"{_n(x_scale(p.x))},{_n(y_scale(p.y))}" for p in series.points)
    parts = [f'<g class="series" data-series="{escape(series.name)}">']
    parts.append(f'<polyline class="line s{colour}{dash}" points="{coordinates}"/>')
    for point in series.points:
        x, y = x_scale(point.x), y_scale(point.y)
        if point.low is not None and point.high is not None:
            low, high = y_scale(point.low), y_scale(point.high)
            parts.append(
                f'<line class="whisker s{colour}" x1="{_n(x)}" y1="{_n(low)}" x2="{_n(x)}" y2="{_n(high)}"/>'
            )
        if series.markers:
            parts.append(f'<circle class="f{colour}" cx="{_n(x)}" cy="{_n(y)}" r="3.5"/>')
        if point.flagged:
            parts.append(
                f'<circle class="warn" cx="{_n(x)}" cy="{_n(y)}" r="7" fill-opacity="0" '
                'stroke-width="2"><title>flagged: see the notes under this chart</title></circle>'
            )
    parts.append("</g>")
    return parts


# ---- bar charts -------------------------------------------------------------------------------

_BAR_LABEL_WIDTH = 210
_BAR_HEIGHT = 18
_BAR_GAP = 8


def _bar_chart(chart: BarChart) -> tuple[list[str], int]:
    # Room for the longest label (about 7 px a character), so a port@server name is not cut at
    # the chart's edge; at most half the chart, so the bars keep the other half.
    longest = max((len(bar.label) for bar in chart.bars), default=0)
    left = min(WIDTH // 2, max(_BAR_LABEL_WIDTH, 7 * longest + 16))
    right = WIDTH - _MARGIN_RIGHT - 40
    # Room above the bars for the reference line's label, clear of the subtitle.
    plot_top = _MARGIN_TOP + (24 if chart.reference is not None else 6)
    plot_bottom = plot_top + max(1, len(chart.bars)) * (_BAR_HEIGHT + _BAR_GAP)
    legend = _bar_legend(chart, plot_bottom + 60)
    height = int(plot_bottom + 48 + (_LEGEND_ROW if legend else 0))
    values = [v for b in chart.bars for v in (b.value, b.low, b.high) if v is not None]
    if chart.reference is not None:
        values.append(chart.reference)
    start, end = _domain(chart.axis, values)
    scale = _Scale(start, end, left, right, chart.axis.log)
    parts = ['<g class="axes">']
    for tick in (_log_ticks if chart.axis.log else _linear_ticks)(start, end):
        x = scale(tick)
        parts.append(
            f'<line class="grid" x1="{_n(x)}" y1="{_n(plot_top)}" x2="{_n(x)}" y2="{_n(plot_bottom)}"/>'
        )
        parts.append(
            f'<text class="muted" x="{_n(x)}" y="{_n(plot_bottom + 16)}" text-anchor="middle">'
            f"{chart.axis.tick_label(tick)}</text>"
        )
    parts.append(
        f'<text class="fg axis-label" x="{_n((left + right) / 2)}" y="{_n(plot_bottom + 36)}" '
        f'text-anchor="middle">{escape(chart.axis.label)}</text>'
    )
    parts.append("</g>")
    if not chart.bars:
        parts.append(
            f'<text class="muted" x="{_n((left + right) / 2)}" y="{_n(plot_top + 16)}" '
            'text-anchor="middle">no data measured for this chart</text>'
        )
    for index, bar in enumerate(chart.bars):
        top = plot_top + index * (_BAR_HEIGHT + _BAR_GAP)
        middle = top + _BAR_HEIGHT / 2
        colour = bar.colour % len(PALETTE)
        width = max(1.0, scale(bar.value) - left)
        opacity = ' fill-opacity="0.45"' if bar.dashed else ""
        parts.append(f'<g class="bar" data-label="{escape(bar.label)}">')
        parts.append(
            f'<text class="fg" x="{left - 8}" y="{_n(middle + 4)}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
        )
        parts.append(
            f'<rect class="f{colour}"{opacity} x="{left}" y="{_n(top)}" width="{_n(width)}" '
            f'height="{_BAR_HEIGHT}"/>'
        )
        if bar.low is not None and bar.high is not None:
            parts.append(
                f'<line class="whisker sref" x1="{_n(scale(bar.low))}" y1="{_n(middle)}" '
                f'x2="{_n(scale(bar.high))}" y2="{_n(middle)}"/>'
            )
        label = format_tick(bar.value) + ("  ⚠" if bar.flagged else "")
        label_x = max(scale(bar.value), scale(bar.high) if bar.high is not None else 0) + 6
        css = "warn" if bar.flagged else "fg"
        parts.append(
            f'<text class="{css}" stroke-width="0" x="{_n(label_x)}" y="{_n(middle + 4)}">{label}</text>'
        )
        parts.append("</g>")
    if chart.reference is not None:
        x = scale(chart.reference)
        parts.append(
            f'<line class="line sref dash" x1="{_n(x)}" y1="{_n(plot_top - 6)}" x2="{_n(x)}" '
            f'y2="{_n(plot_bottom)}"/>'
        )
        parts.append(
            f'<text class="muted" x="{_n(x + 4)}" y="{_n(plot_top - 8)}">'
            f"{escape(chart.reference_label)}</text>"
        )
    parts.extend(legend)
    return parts, height


def _bar_legend(chart: BarChart, y: float) -> list[str]:
    """A key for the marks a bar's own label does not explain: paler bars and the flag."""
    parts = []
    x = float(_MARGIN_LEFT)
    if any(bar.dashed for bar in chart.bars) and any(not bar.dashed for bar in chart.bars):
        colour = chart.bars[0].colour % len(PALETTE)
        parts.append(
            f'<rect class="f{colour}" fill-opacity="0.45" x="{_n(x)}" y="{_n(y - 10)}" '
            'width="28" height="10"/>'
        )
        parts.append(
            f'<text class="fg" x="{_n(x + 34)}" y="{_n(y)}">{escape(chart.pale_label)}</text>'
        )
        x += _LEGEND_ITEM + 40
    if any(bar.flagged for bar in chart.bars):
        parts.append(
            f'<text class="warn" stroke-width="0" x="{_n(x)}" y="{_n(y)}">⚠</text>'
            f'<text class="fg" x="{_n(x + 16)}" y="{_n(y)}">flagged: see the notes</text>'
        )
    return parts


__all__ = [
    "DASHES",
    "FLAGGED",
    "PALETTE",
    "Axis",
    "Bar",
    "BarChart",
    "Chart",
    "LineChart",
    "Point",
    "Series",
    "chart_css",
    "format_tick",
    "render_chart",
    "time_tick",
]
