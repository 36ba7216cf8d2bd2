"""The chart primitives: ticks people can read, data in the right place, text escaped."""

from __future__ import annotations

import itertools
import re

import pytest

from compare.report.svg import Axis, Bar, BarChart, LineChart, Point, Series, render_chart


@pytest.mark.parametrize(
    ("value", "label"),
    [(0, "0"), (1, "1"), (2.5, "2.5"), (0.05, "0.05"), (1000, "1k"), (500000, "500k"), (2e6, "2M")],
)
def test_tick_labels_are_compact(value: float, label: str) -> None:
    from compare.report.svg import format_tick

    assert format_tick(value) == label


def _chart(*series: Series, log: bool = True) -> LineChart:
    return LineChart(
        ident="t",
        title="Total <time> & more",
        x=Axis("rows (log scale)", log=True, ticks=(1000.0, 10000.0, 100000.0)),
        y=Axis("time (ms)", log=log),
        series=series,
    )


def test_points_land_in_order_on_log_axes() -> None:
    points = tuple(Point(x, y) for x, y in ((1000, 2.0), (10000, 20.0), (100000, 200.0)))
    svg = render_chart(_chart(Series("s", points)))
    coordinates = re.search(r'<polyline class="line s0" points="([^"]+)"', svg)
    assert coordinates is not None
    pairs = [tuple(map(float, p.split(","))) for p in coordinates.group(1).split()]
    xs = [x for x, _ in pairs]
    ys = [y for _, y in pairs]
    assert xs == sorted(xs)
    assert ys == sorted(ys, reverse=True), "larger values must be drawn higher"
    # Equal ratios are equal distances on a log axis.
    assert abs((xs[1] - xs[0]) - (xs[2] - xs[1])) < 0.2
    assert abs((ys[0] - ys[1]) - (ys[1] - ys[2])) < 0.2
    for label in ("1k", "10k", "100k"):
        assert f">{label}</text>" in svg


def test_text_is_escaped_and_empty_charts_say_so() -> None:
    svg = render_chart(_chart(Series("a <b>", ())))
    assert "Total &lt;time&gt; &amp; more" in svg
    assert "a &lt;b&gt;" in svg
    assert "no data measured for this chart" in svg


def test_flagged_points_and_whiskers_are_drawn() -> None:
    series = Series("s", (Point(1000, 5.0, 4.0, 7.0, flagged=True), Point(10000, 9.0)))
    svg = render_chart(_chart(series, log=False))
    assert svg.count('<line class="whisker s0"') == 1
    # The ring on the flagged point, and its key in the legend.
    assert svg.count('<circle class="warn"') == 2
    assert "flagged: see the notes" in svg


def test_bar_chart_draws_the_reference_line() -> None:
    chart = BarChart(
        ident="b",
        title="Ratio",
        axis=Axis("ratio (×)", start=0.0),
        bars=(Bar("a", 1.4, 1.3, 1.6), Bar("b", 2.5, flagged=True)),
        reference=1.0,
        reference_label="COPY floor",
    )
    svg = render_chart(chart, standalone=True)
    assert svg.startswith("<svg")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg
    assert svg.count('<g class="bar"') == 2
    assert "COPY floor" in svg
    assert "2.5  ⚠" in svg


@pytest.mark.parametrize(
    ("seconds", "label"), [(0.0005, "500 µs"), (0.01, "10 ms"), (0.25, "250 ms"), (1.5, "1.5 s")]
)
def test_time_ticks_carry_their_unit(seconds: float, label: str) -> None:
    from compare.report.svg import time_tick

    assert time_tick(seconds) == label


@pytest.mark.parametrize(
    ("bars", "keys"),
    [
        ((Bar("a", 1.0), Bar("b", 2.0)), ()),
        ((Bar("a", 1.0), Bar("b", 2.0, dashed=True)), ("paler: the buffered endpoint",)),
        ((Bar("a", 1.0, flagged=True),), ("flagged: see the notes",)),
        (
            (Bar("a", 1.0), Bar("b", 2.0, dashed=True, flagged=True)),
            ("paler: the buffered endpoint", "flagged: see the notes"),
        ),
    ],
)
def test_bar_chart_legend_keys_every_mark_it_draws(
    bars: tuple[Bar, ...], keys: tuple[str, ...]
) -> None:
    svg = render_chart(BarChart(ident="b", title="t", axis=Axis("x (ms)"), bars=bars))
    for key in ("paler: the buffered endpoint", "flagged: see the notes"):
        assert (key in svg) is (key in keys), key
    height = int(re.search(r'height="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    for y in re.findall(r'<text class="fg" x="[\d.]+" y="([\d.]+)">(?:paler|flagged)', svg):
        assert float(y) < height, "the legend must fit inside the chart"


@pytest.mark.parametrize("name", ["a", "starlette@hypercorn standard", "x" * 40])
def test_legend_items_never_overlap_their_neighbours(name: str) -> None:
    series = tuple(Series(f"{name} {n}", (Point(1000, 1.0 + n),), colour=n) for n in range(4))
    svg = render_chart(_chart(*series, log=False))
    starts = [
        (float(x), float(y))
        for x, y, label in re.findall(
            r'<text class="fg" x="([\d.]+)" y="([\d.]+)">([^<]+)</text>', svg
        )
        if label.startswith(name)
    ]
    assert len(starts) == 4
    for (x1, y1), (x2, y2) in itertools.pairwise(starts):
        if y1 == y2:
            assert x2 - x1 >= 34 + 6.5 * len(name), "a label runs into the next item"


@pytest.mark.parametrize("label", ["a", "starlette@hypercorn standard, 10k", "x" * 40])
def test_bar_labels_start_inside_the_chart(label: str) -> None:
    svg = render_chart(BarChart(ident="b", title="t", axis=Axis("x (ms)"), bars=(Bar(label, 1.0),)))
    anchor = re.search(rf'<text class="fg" x="([\d.]+)"[^>]*text-anchor="end">{label}<', svg)
    assert anchor is not None
    # Right-aligned at x: at about 7 px a character it must not start left of the chart.
    assert float(anchor.group(1)) - 6.5 * min(len(label), 44) >= 0, "label cut at the left edge"


@pytest.mark.parametrize(("title", "squeezed"), [("Short title", False), ("t" * 90, True)])
def test_long_titles_are_squeezed_into_the_chart_not_cut(title: str, squeezed: bool) -> None:
    svg = render_chart(BarChart(ident="b", title=title, subtitle=title, axis=Axis("x"), bars=()))
    fitted = re.findall(r'<text class="(?:fg title|muted)"[^>]*textLength="(\d+)"', svg)
    assert len(fitted) == (2 if squeezed else 0)
    assert all(72 + int(width) <= 640 for width in fitted)


def test_every_endpoint_and_source_has_a_line_style_of_its_own() -> None:
    from compare.report.context import LINE_STYLES
    from compare.report.svg import DASHES
    from compare.results import ENDPOINTS, SOURCES

    styles = [LINE_STYLES[(endpoint, source)] for endpoint in ENDPOINTS for source in SOURCES]
    assert len(set(styles)) == len(styles), styles
    assert all(style == "" or style in DASHES for style in styles)
    # Two patterns of nothing but dots would read as one line style on a chart.
    dotted = [name for name, dash in DASHES.items() if max(map(float, dash.split()[::2])) <= 3]
    assert len(dotted) <= 1, dotted


def test_an_axis_can_name_its_ticks_in_words_escaped() -> None:
    # A read rate's axis: bytes per second placed on a log scale, named as the rate was asked.
    x = Axis(
        "read rate (log scale)",
        log=True,
        ticks=(1e6, 1e7, 1e8),
        labels=((1e6, "1MB/s"), (1e7, "<10MB/s>"), (1e8, "max")),
    )
    chart = LineChart("r", "rates", x, Axis("time (ms)"), (Series("s", (Point(1e6, 1.0),)),))
    svg = render_chart(chart)
    labels = re.findall(r'<text class="muted"[^>]*text-anchor="middle">([^<]*)</text>', svg)
    assert labels == ["1MB/s", "&lt;10MB/s&gt;", "max"]
    # A tick without a name of its own keeps its number.
    assert x.tick_label(1e5) == "100k"
