"""Charts as inline SVG: line charts (linear or log axes) and horizontal bar charts.

Pure functions from chart descriptions to SVG text. Every number is formatted with a fixed precision
so that the same description always gives the same bytes. Colours come from CSS classes (see
`chart_css`) with a dark variant under `prefers-color-scheme`, and every chart paints its own
background, so it stays legible in a viewer that ignores the media query.

This module draws what every chart has, its frame, title and subtitle; `style` holds the geometry
and colours, `scales` the axes, `lines` and `bars` the two kinds of chart.
"""

from __future__ import annotations

from html import escape

from .bars import Bar, BarChart, bar_chart
from .lines import FLAGGED, LineChart, Point, Series, line_chart
from .scales import Axis, format_tick, time_tick
from .style import DASHES, MARGIN_LEFT, MARGIN_RIGHT, PALETTE, WIDTH, chart_css

Chart = LineChart | BarChart


def render_chart(chart: Chart, *, standalone: bool = False) -> str:
    """SVG text for one chart; `standalone` adds the XML namespace and the colour rules."""
    if isinstance(chart, LineChart):
        body, height = line_chart(chart)
    else:
        body, height = bar_chart(chart)
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
        f'<text class="fg title" x="{MARGIN_LEFT}" y="22"{_fit(chart.title, 8.6)}>'
        f"{escape(chart.title)}</text>"
    )
    if chart.subtitle:
        parts.append(
            f'<text class="muted" x="{MARGIN_LEFT}" y="38"{_fit(chart.subtitle, 6.6)}>'
            f"{escape(chart.subtitle)}</text>"
        )
    parts.extend(body)
    parts.append("</svg>")
    return "\n".join(parts)


def _fit(text: str, char_width: float) -> str:
    """Squeeze a line that would run past the chart's right edge (at about `char_width` px a
    character) into the room there is, rather than cut it off."""
    room = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    if len(text) * char_width <= room:
        return ""
    return f' textLength="{room}" lengthAdjust="spacingAndGlyphs"'


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
