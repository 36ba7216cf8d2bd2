"""Horizontal bar charts: one labelled bar per figure with its spread as a whisker, paler bars for
the buffered endpoint, an optional reference line (a floor), and a key for the marks."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from .scales import Axis, Scale, domain, format_tick, px, ticks
from .style import LEGEND_ITEM, LEGEND_ROW, MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, PALETTE, WIDTH

_BAR_LABEL_WIDTH = 210
_BAR_HEIGHT = 18
_BAR_GAP = 8


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


def bar_chart(chart: BarChart) -> tuple[list[str], int]:
    """The chart's SVG elements below its title, and its height."""
    # Room for the longest label (about 7 px a character), so a port@server name is not cut at
    # the chart's edge; at most half the chart, so the bars keep the other half.
    longest = max((len(bar.label) for bar in chart.bars), default=0)
    left = min(WIDTH // 2, max(_BAR_LABEL_WIDTH, 7 * longest + 16))
    right = WIDTH - MARGIN_RIGHT - 40
    # Room above the bars for the reference line's label, clear of the subtitle.
    plot_top = MARGIN_TOP + (24 if chart.reference is not None else 6)
    plot_bottom = plot_top + max(1, len(chart.bars)) * (_BAR_HEIGHT + _BAR_GAP)
    legend = _bar_legend(chart, plot_bottom + 60)
    height = int(plot_bottom + 48 + (LEGEND_ROW if legend else 0))
    values = [v for b in chart.bars for v in (b.value, b.low, b.high) if v is not None]
    if chart.reference is not None:
        values.append(chart.reference)
    start, end = domain(chart.axis, values)
    scale = Scale(start, end, left, right, chart.axis.log)
    parts = ['<g class="axes">']
    for tick in ticks(start, end, chart.axis.log):
        x = scale(tick)
        parts.append(
            f'<line class="grid" x1="{px(x)}" y1="{px(plot_top)}" x2="{px(x)}" y2="{px(plot_bottom)}"/>'
        )
        parts.append(
            f'<text class="muted" x="{px(x)}" y="{px(plot_bottom + 16)}" text-anchor="middle">'
            f"{escape(chart.axis.tick_label(tick))}</text>"
        )
    parts.append(
        f'<text class="fg axis-label" x="{px((left + right) / 2)}" y="{px(plot_bottom + 36)}" '
        f'text-anchor="middle">{escape(chart.axis.label)}</text>'
    )
    parts.append("</g>")
    if not chart.bars:
        parts.append(
            f'<text class="muted" x="{px((left + right) / 2)}" y="{px(plot_top + 16)}" '
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
            f'<text class="fg" x="{left - 8}" y="{px(middle + 4)}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
        )
        parts.append(
            f'<rect class="f{colour}"{opacity} x="{left}" y="{px(top)}" width="{px(width)}" '
            f'height="{_BAR_HEIGHT}"/>'
        )
        if bar.low is not None and bar.high is not None:
            parts.append(
                f'<line class="whisker sref" x1="{px(scale(bar.low))}" y1="{px(middle)}" '
                f'x2="{px(scale(bar.high))}" y2="{px(middle)}"/>'
            )
        label = format_tick(bar.value) + ("  ⚠" if bar.flagged else "")
        label_x = max(scale(bar.value), scale(bar.high) if bar.high is not None else 0) + 6
        css = "warn" if bar.flagged else "fg"
        parts.append(
            f'<text class="{css}" stroke-width="0" x="{px(label_x)}" y="{px(middle + 4)}">{label}</text>'
        )
        parts.append("</g>")
    if chart.reference is not None:
        x = scale(chart.reference)
        parts.append(
            f'<line class="line sref dash" x1="{px(x)}" y1="{px(plot_top - 6)}" x2="{px(x)}" '
            f'y2="{px(plot_bottom)}"/>'
        )
        parts.append(
            f'<text class="muted" x="{px(x + 4)}" y="{px(plot_top - 8)}">'
            f"{escape(chart.reference_label)}</text>"
        )
    parts.extend(legend)
    return parts, height


def _bar_legend(chart: BarChart, y: float) -> list[str]:
    """A key for the marks a bar's own label does not explain: paler bars and the flag."""
    parts = []
    x = float(MARGIN_LEFT)
    if any(bar.dashed for bar in chart.bars) and any(not bar.dashed for bar in chart.bars):
        colour = chart.bars[0].colour % len(PALETTE)
        parts.append(
            f'<rect class="f{colour}" fill-opacity="0.45" x="{px(x)}" y="{px(y - 10)}" '
            'width="28" height="10"/>'
        )
        parts.append(
            f'<text class="fg" x="{px(x + 34)}" y="{px(y)}">{escape(chart.pale_label)}</text>'
        )
        x += LEGEND_ITEM + 40
    if any(bar.flagged for bar in chart.bars):
        parts.append(
            f'<text class="warn" stroke-width="0" x="{px(x)}" y="{px(y)}">⚠</text>'
            f'<text class="fg" x="{px(x + 16)}" y="{px(y)}">flagged: see the notes</text>'
        )
    return parts
