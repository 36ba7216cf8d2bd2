"""The "High concurrency" section of a run measured at several concurrencies: a throughput and a
memory-per-stream chart per endpoint against concurrency, one line per contender, and a table of
the streams side by side. From the stored run (concurrency 1 and 4), its streams filled in."""

from __future__ import annotations

import dataclasses
import re

import pytest

from compare.client_load import ClientFigures
from compare.report import (
    render_port_html,
    render_port_markdown,
    render_reports,
    render_summary_html,
    render_summary_markdown,
)
from compare.report.figure import FLAG_MEANINGS
from compare.report.high_concurrency import HEADING, HighConcurrency
from compare.report.pages import port_page, summary_page
from compare.report.svg import LineChart
from compare.results import Results, Scenario, Stats, StreamFigures

from . import report_fixtures as fx

SVG = re.compile(r'<svg class="sb-chart".*?</svg>', re.S)
DASH = "-"


def _streams(scenario: Scenario) -> StreamFigures:
    c = scenario.concurrency
    return StreamFigures(
        ttfb_p99=0.010 * c,
        open_files=Stats.of([20 + c, 21 + c]),
        throughput=Stats.of([1e6, 2e6, 4e6]),
        spread=Stats.of([float(c), float(c)]),
        starved=0 if scenario.endpoint == "chunked" else None,
        streams=c * scenario.repeats,
    )


@pytest.fixture
def crowded() -> Results:
    results = fx.load()
    return dataclasses.replace(
        results,
        scenarios=tuple(dataclasses.replace(s, streams=_streams(s)) for s in results.scenarios),
    )


def _section(results: Results, contender: str | None = None) -> HighConcurrency:
    if contender is None:
        page = summary_page(results)
    else:
        page = port_page(results, next(p for p in results.ports if p.contender == contender))
    assert page.high_concurrency is not None, "no high-concurrency section"
    return page.high_concurrency


def _table(section: HighConcurrency, endpoint: str) -> list[dict[str, str]]:
    [figure] = [f for f in section.figures if f.heading == f"/{endpoint}"]
    assert figure.table is not None
    return [dict(zip(figure.table.headers, row, strict=True)) for row in figure.table.rows]


def test_the_section_appears_only_with_several_concurrencies(crowded: Results) -> None:
    single = dataclasses.replace(
        crowded, scenarios=tuple(s for s in crowded.scenarios if s.concurrency == 1)
    )
    assert summary_page(single).high_concurrency is None
    assert all(port_page(single, p).high_concurrency is None for p in single.ports)
    assert HEADING not in render_summary_html(single)
    assert not any("high-concurrency" in path for path in render_reports(single))

    first = crowded.ports[0].contender
    for markdown in (render_summary_markdown(crowded), render_port_markdown(crowded, first)):
        assert f"## {HEADING}" in markdown
        assert "<summary>High concurrency, /chunked</summary>" in markdown
    for html in (render_summary_html(crowded), render_port_html(crowded, first)):
        assert f"<h2>{HEADING}</h2>" in html
        assert "<h3>/chunked</h3>" in html
        assert len(SVG.findall(html.split(HEADING)[1].split("</section>\n</section>")[0])) == 4
    files = render_reports(crowded)
    for endpoint in ("standard", "chunked"):
        for chart in ("throughput", "memory"):
            assert f"charts/summary-high-concurrency-{endpoint}-{chart}.svg" in files
            assert f"charts/{first}-high-concurrency-{endpoint}-{chart}.svg" in files


def test_charts_draw_a_line_per_contender_and_a_point_per_concurrency(crowded: Results) -> None:
    section = _section(crowded)
    contenders = [p.contender for p in crowded.ports]
    assert [f.heading for f in section.figures] == ["/standard", "/chunked"]
    for figure in section.figures:
        endpoint = figure.heading.lstrip("/")
        assert [c.ident for c in figure.charts] == [
            f"summary-high-concurrency-{endpoint}-throughput",
            f"summary-high-concurrency-{endpoint}-memory",
        ]
        throughput, memory = figure.charts
        assert isinstance(throughput, LineChart)
        assert isinstance(memory, LineChart)
        for chart in (throughput, memory):
            assert chart.x.log
            assert chart.x.ticks == (1.0, 4.0)
            assert [chart.x.tick_label(t) for t in chart.x.ticks] == ["1", "4"]
            assert [s.name for s in chart.series] == contenders
        assert throughput.y.label == "throughput (MB/s)"
        assert memory.y.label == "peak memory growth per open stream (MB)"
        for series in throughput.series:
            # The results' own medians over rounds, one point per concurrency.
            found = [
                s
                for s in crowded.scenarios
                if (s.contender, s.endpoint, s.rows, s.format)
                == (series.name, endpoint, 10_000, "text")
            ]
            assert [(p.x, p.y) for p in series.points] == [
                (float(s.concurrency), s.megabytes_per_second)
                for s in sorted(found, key=lambda s: s.concurrency)
            ]
        for series in memory.series:
            at_four = next(p for p in series.points if p.x == 4.0)
            scenario = next(
                s
                for s in crowded.scenarios
                if (s.contender, s.endpoint, s.rows, s.concurrency)
                == (series.name, endpoint, 10_000, 4)
            )
            growth = scenario.server.peak_memory_growth_bytes
            assert growth is not None
            assert at_four.y == pytest.approx(growth.median / 4 / 1e6)


def test_a_port_page_names_its_lines_by_route(crowded: Results) -> None:
    first = crowded.ports[0].contender
    section = _section(crowded, first)
    [chunked] = [f for f in section.figures if f.heading == "/chunked"]
    for chart in chunked.charts:
        assert isinstance(chart, LineChart)
        assert [s.name for s in chart.series] == ["chunked/cursor"]
        assert chart.ident.startswith(f"{first}-high-concurrency-chunked-")
    assert chunked.table is not None
    assert "contender" not in chunked.table.headers


def test_the_table_shows_every_figure_and_a_dash_where_none_was_measured(
    crowded: Results,
) -> None:
    first, second = (p.contender for p in crowded.ports)
    # A target's server: no /proc, so no open files; and a file from before version 5.
    results = dataclasses.replace(
        crowded,
        scenarios=tuple(
            (
                dataclasses.replace(s, streams=dataclasses.replace(s.streams, open_files=None))
                if s.contender == first and s.streams is not None
                else dataclasses.replace(s, streams=None)
                if s.contender == second and s.concurrency == 1
                else s
            )
            for s in crowded.scenarios
        ),
    )
    rows = _table(_section(results), "chunked")
    assert [(r["contender"], r["concurrency"]) for r in rows] == [
        (first, "1"),
        (first, "4"),
        (second, "1"),
        (second, "4"),
    ]
    mine = rows[1]
    assert mine["open files at peak"] == DASH
    assert mine["p99"] == "40.0 ms"
    assert mine["spread"] == "4.00×"
    assert mine["per-stream MB/s (min, median, max)"] == "1.00, 2.00, 4.00"
    assert mine["starved"] == "0 of 8"
    assert mine["throughput"].endswith("MB/s")
    assert mine["rows/s"].endswith("rows/s")
    assert mine["first byte p50"] != DASH
    theirs = rows[3]
    assert theirs["open files at peak"] == "25"
    old = rows[2]
    for column in ("p99", "open files at peak", "spread", "starved", "client CPU"):
        assert old[column] == DASH, column
    # Its median and p95 first byte were measured before version 5 too.
    assert old["first byte p50"] != DASH
    buffered = _table(_section(results), "standard")
    assert {r["starved"] for r in buffered if r["contender"] == first} == {"n/a (buffered)"}


def test_the_client_cpu_stands_beside_the_server_figures(crowded: Results) -> None:
    busy = ClientFigures(2, Stats.of([0.4, 0.86]), 1.2, ("here",), same_machine=True)
    one = ClientFigures(1, Stats.of([0.25]), 1.2, ("here",), same_machine=True)
    results = dataclasses.replace(
        crowded,
        scenarios=tuple(
            dataclasses.replace(s, client=busy if s.concurrency > 1 else one)
            for s in crowded.scenarios
        ),
    )
    rows = _table(_section(results), "chunked")
    assert {r["concurrency"]: r["client CPU"] for r in rows} == {
        "1": "25%",
        "4": "63% of 2 processes",
    }


def test_a_starved_stream_is_flagged_beside_the_chart(crowded: Results) -> None:
    first = crowded.ports[0].contender
    reason = "3 of 8 streams got their first byte only after another stream of the same round"

    def starve(s: Scenario) -> Scenario:
        if (s.contender, s.endpoint, s.concurrency) != (first, "chunked", 4):
            return s
        assert s.streams is not None
        return dataclasses.replace(
            s,
            streams=dataclasses.replace(s.streams, starved=3),
            flags=(*s.flags, "starved"),
            flag_reasons={**s.flag_reasons, "starved": reason},
        )

    results = dataclasses.replace(crowded, scenarios=tuple(map(starve, crowded.scenarios)))
    [chunked] = [f for f in _section(results).figures if f.heading == "/chunked"]
    row = next(
        r
        for r in _table(_section(results), "chunked")
        if r["contender"] == first and r["concurrency"] == "4"
    )
    assert row["starved"] == "3 of 8"
    assert "starved" in row["flags"]
    texts = " ".join(n.text + " ".join(n.details) for n in chunked.notes)
    assert FLAG_MEANINGS["starved"] in texts
    assert reason in texts


def test_what_the_memory_cap_left_out_is_said(crowded: Results) -> None:
    left_out = (
        "left out over the 4.3 GB memory cap, by the memory a server would hold (estimated: "
        "bodies held per request x body x concurrency): /standard?source=fetch 500,000 rows "
        "text x 1,024 (about 82.9 GB)"
    )
    matrix = dataclasses.replace(crowded.matrix, note=f"{crowded.matrix.note}; {left_out}")
    section = _section(dataclasses.replace(crowded, matrix=matrix))
    assert f"Not run: {left_out}." in section.caption
    assert "Not run" not in _section(crowded).caption
