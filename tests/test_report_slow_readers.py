"""The "Slow readers" section of a run read at set rates (`--read-rate`): its charts, its table
and its advice, from the stored run made into a paced one (`report_fixtures.with_read_rates`)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from compare.report import (
    render_port_html,
    render_port_markdown,
    render_reports,
    render_summary_html,
    render_summary_markdown,
)
from compare.report.figure import FLAG_MEANINGS
from compare.report.pages import port_page, summary_page
from compare.report.slow_readers import HEADING, SlowReaders
from compare.report.svg import LineChart
from compare.results import Results, Scenario

from . import report_fixtures as fx

SVG = re.compile(r'<svg class="sb-chart".*?</svg>', re.S)
# The stored run's cell the pages lead with, and its body: 158,894 bytes.
CELL = {"rows": 10_000, "format": "text", "concurrency": 1}
BODY = 158_894
DASH = "-"  # what the table shows for a figure not measured


@pytest.fixture
def paced() -> Results:
    return fx.with_read_rates(fx.load())


def _section(results: Results, contender: str | None = None) -> SlowReaders:
    if contender is None:
        page = summary_page(results)
    else:
        page = port_page(results, next(p for p in results.ports if p.contender == contender))
    assert page.slow_readers is not None, "no slow-readers section"
    return page.slow_readers


def _table(section: SlowReaders, endpoint: str) -> list[dict[str, str]]:
    [figure] = [f for f in section.figures if f.heading == f"/{endpoint}"]
    assert figure.table is not None
    return [dict(zip(figure.table.headers, row, strict=True)) for row in figure.table.rows]


def _row(rows: list[dict[str, str]], contender: str, source: str, rate: str) -> dict[str, str]:
    [row] = [
        r for r in rows if (r["contender"], r["source"], r["rate"]) == (contender, source, rate)
    ]
    return row


def _replace(results: Results, match: dict[str, object], **changed: object) -> Results:
    """Every scenario whose fields equal `match`, with `changed`."""

    def replaced(s: Scenario) -> Scenario:
        if all(getattr(s, key) == value for key, value in match.items()):
            return dataclasses.replace(s, **changed)  # type: ignore[arg-type]
        return s

    return dataclasses.replace(results, scenarios=tuple(map(replaced, results.scenarios)))


def test_the_section_appears_only_for_paced_runs(paced: Results) -> None:
    plain = fx.load()
    assert summary_page(plain).slow_readers is None
    assert all(port_page(plain, p).slow_readers is None for p in plain.ports)
    assert "Slow readers" not in render_summary_markdown(plain)
    assert "Slow readers" not in render_summary_html(plain)
    assert not any("slow-readers" in path for path in render_reports(plain))
    # A schema 3 run read at full speed only has nothing to say about slow readers either.
    at_max = fx.with_read_rates(plain, (None,))
    assert not at_max.paced
    assert summary_page(at_max).slow_readers is None

    first = paced.ports[0].contender
    for markdown in (render_summary_markdown(paced), render_port_markdown(paced, first)):
        assert f"## {HEADING}" in markdown
        assert "### /standard" in markdown
        assert "### /chunked" in markdown
    for html in (render_summary_html(paced), render_port_html(paced, first)):
        assert f"<h2>{HEADING}</h2>" in html
        assert "<h3>/chunked</h3>" in html
    files = render_reports(paced)
    for endpoint in ("standard", "chunked"):
        for chart in ("connection", "memory"):
            assert f"charts/summary-slow-readers-{endpoint}-{chart}.svg" in files
            assert f"charts/{first}-slow-readers-{endpoint}-{chart}.svg" in files


def test_charts_draw_a_line_per_contender_and_source_and_a_point_per_rate(
    paced: Results,
) -> None:
    section = _section(paced)
    contenders = [p.contender for p in paced.ports]
    # Slowest left, max right-most.
    rates = ["1MB/s", "10MB/s", "max"]
    assert [f.heading for f in section.figures] == ["/standard", "/chunked"]
    for figure in section.figures:
        endpoint = figure.heading.lstrip("/")
        sources = ["fetch"] if endpoint == "standard" else ["cursor", "copy"]
        assert [c.ident for c in figure.charts] == [
            f"summary-slow-readers-{endpoint}-connection",
            f"summary-slow-readers-{endpoint}-memory",
        ]
        for chart in figure.charts:
            assert isinstance(chart, LineChart)
            assert chart.x.log
            assert [chart.x.tick_label(t) for t in chart.x.ticks or ()] == rates
            assert [s.name for s in chart.series] == [
                f"{c} {source}" for c in contenders for source in sources
            ]
            for series in chart.series:
                assert [chart.x.tick_label(p.x) for p in series.points] == rates, series.name
    # The connection chart draws the results' own medians: a cursor at 1MB/s holds body / rate.
    [chunked] = [f for f in section.figures if f.heading == "/chunked"]
    connection, memory = chunked.charts
    assert isinstance(connection, LineChart)
    assert isinstance(memory, LineChart)
    cursor = next(s for s in connection.series if s.name == f"{contenders[0]} cursor")
    assert cursor.points[0].y == pytest.approx(BODY / 1e6)
    assert (cursor.points[0].low, cursor.points[0].high) == pytest.approx(
        (BODY / 1e6 * 0.95, BODY / 1e6 * 1.05)
    )
    assert connection.y.log
    assert connection.y.unit == "s"
    assert memory.y.label == "peak memory growth per open stream (MB)"
    svg = SVG.findall(render_summary_html(paced).split(HEADING)[1])[0]
    assert ">1MB/s</text>" in svg
    assert ">max</text>" in svg


def test_a_port_page_draws_its_own_sources_only(paced: Results) -> None:
    first = paced.ports[0].contender
    section = _section(paced, first)
    [chunked] = [f for f in section.figures if f.heading == "/chunked"]
    for chart in chunked.charts:
        assert isinstance(chart, LineChart)
        assert [s.name for s in chart.series] == ["chunked/cursor", "chunked/copy"]
        assert chart.ident.startswith(f"{first}-slow-readers-chunked-")
    [figure] = [f for f in section.figures if f.heading == "/chunked"]
    assert figure.table is not None
    assert "contender" not in figure.table.headers
    assert len(figure.table.rows) == 2 * 3  # two sources, three rates


def test_the_table_shows_what_was_measured_and_a_dash_for_the_rest(paced: Results) -> None:
    first, second = (p.contender for p in paced.ports)
    cursor = {**CELL, "endpoint": "chunked", "source": "cursor"}
    # The first contender's server said nothing of its pool or memory at 1MB/s.
    results = _replace(
        paced,
        {**cursor, "port": first, "read_rate": 1e6},
        database=None,
        reached_rate=None,
        abort=None,
        server=dataclasses.replace(paced.scenarios[0].server, peak_memory_growth_bytes=None),
    )
    rows = _table(_section(results), "chunked")
    # Fastest first, max leading, then the sources in the contract's order, then the contenders.
    assert [(r["rate"], r["source"], r["contender"]) for r in rows] == [
        (rate, source, contender)
        for rate in ("max", "10MB/s", "1MB/s")
        for source in ("cursor", "copy")
        for contender in (first, second)
    ]
    blank = _row(rows, first, "cursor", "1MB/s")
    for column in (
        "reached rate",
        "memory per stream",
        "connection-s per request",
        "connections held at peak",
        "oldest transaction",
        "abort cost",
    ):
        assert blank[column] == DASH, column
    assert blank["bystander first byte"] == "4.00 ms"
    measured = _row(rows, second, "cursor", "1MB/s")
    assert measured["connection-s per request"] == "159 ms (151 ms–167 ms, 5 runs)"
    assert measured["reached rate"] == "990kB/s"
    assert measured["connections held at peak"] == "1"
    assert measured["oldest transaction"] == "191 ms"
    assert measured["memory per stream"] == "< 1 MiB"
    assert measured["abort cost"] == "reset 10.0 ms, close 12.0 ms, 0 leaked"
    # Read at full speed, nothing was sent beside it.
    assert {r["bystander first byte"] for r in rows if r["rate"] == "max"} == {DASH}


def test_memory_is_per_open_stream_and_refusals_are_counted(paced: Results) -> None:
    # The stored run at concurrency 4 only: four streams open at once.
    results = dataclasses.replace(
        paced, scenarios=tuple(s for s in paced.scenarios if s.concurrency == 4)
    )
    first = results.ports[0].contender
    match = {"port": first, "endpoint": "chunked", "source": "copy", "read_rate": 1e6}
    [target] = [
        s
        for s in results.scenarios
        if s.rows == 10_000 and all(getattr(s, k) == v for k, v in match.items())
    ]
    assert target.bystander is not None
    results = _replace(
        results,
        {**match, "rows": 10_000},
        server=dataclasses.replace(
            target.server, peak_memory_growth_bytes=fx.stats(40e6, 38e6, 42e6)
        ),
        bystander=dataclasses.replace(target.bystander, refused=1, examples=("503: pool timeout",)),
    )
    section = _section(results)
    row = _row(_table(section, "chunked"), first, "copy", "1MB/s")
    assert row["memory per stream"] == "10.0 MB"
    [chunked] = [f for f in section.figures if f.heading == "/chunked"]
    memory = chunked.charts[1]
    assert isinstance(memory, LineChart)
    [line] = [s for s in memory.series if s.name == f"{first} copy"]
    assert line.points[0].y == pytest.approx(10.0)  # MB, at 1MB/s: 40 MB over four streams
    assert row["bystander first byte"] == "4.00 ms (1 of 2 refused)"
    [refused] = [n for f in section.figures for n in f.notes if "refused 1 of 2 times" in n.text]
    assert refused.details == ("503: pool timeout",)
    # Counted over the contenders in the advice: one refused of the two rounds of each.
    assert "4.00 ms beside copy (1 of 4 refused)" in section.advice


def test_new_flags_are_in_the_table_with_their_meaning(paced: Results) -> None:
    first = paced.ports[0].contender
    reason = "asked to read at 1MB/s, the readers reached 612kB/s (median)"
    results = _replace(
        paced,
        {"port": first, "endpoint": "chunked", "source": "cursor", "read_rate": 1e6},
        flags=("rate-unreached",),
        flag_reasons={"rate-unreached": reason},
    )
    section = _section(results)
    flagged = [r for r in _table(section, "chunked") if r["flags"]]
    assert [(r["contender"], r["source"], r["rate"], r["flags"]) for r in flagged] == [
        (first, "cursor", "1MB/s", "rate-unreached")
    ]
    [chunked] = [f for f in section.figures if f.heading == "/chunked"]
    [note] = [n for n in chunked.notes if n.level == "flag"]
    assert f"rate-unreached ×1, {FLAG_MEANINGS['rate-unreached']}" in note.text
    # Each scenario's own reason, labelled with its rate.
    assert any(d.endswith(f"read at 1MB/s: {reason}") for d in note.details), note.details
    flagged_points = [
        p for c in chunked.charts if isinstance(c, LineChart) for s in c.series for p in s.points
    ]
    assert sum(p.flagged for p in flagged_points) == 2  # ringed on both charts


@pytest.mark.parametrize("flag", ["buffers-ahead", "rate-unreached", "memory-capped"])
def test_every_new_flag_is_explained_not_left_to_its_reason(paced: Results, flag: str) -> None:
    results = _replace(
        paced,
        {"endpoint": "chunked", "source": "copy", "read_rate": 1e6},
        flags=(flag,),
        flag_reasons={flag: "why"},
    )
    text = render_summary_markdown(results)
    assert f"{flag} ×2, see each scenario's reason" not in text
    assert f"{flag} ×2, {FLAG_MEANINGS[flag]}" in text


def test_the_advice_names_the_source_that_held_its_connection_least(paced: Results) -> None:
    results = fx.held_for(fx.held_for(paced, "copy", 0.05, 0.048, 0.052), "cursor", 1.2, 1.1, 1.3)
    advice = _section(results).advice
    assert advice.startswith(
        "When clients are slow, pick copy: at 1MB/s, the slowest rate measured on /chunked, it "
        "held a pooled connection 50.0 ms per request (medians of the 2 contenders"
    )
    assert "clearly the least: 24× less than cursor (1.20 s)" in advice
    assert "got its first byte in 4.00 ms beside cursor and 4.00 ms beside copy" in advice
    swapped = fx.held_for(fx.held_for(paced, "copy", 1.2, 1.1, 1.3), "cursor", 0.05, 0.048, 0.052)
    assert _section(swapped).advice.startswith("When clients are slow, pick cursor:")


def test_the_advice_says_within_the_noise_when_the_bands_overlap(paced: Results) -> None:
    results = fx.held_for(
        fx.held_for(paced, "copy", 0.050, 0.040, 0.070), "cursor", 0.060, 0.045, 0.080
    )
    advice = _section(results).advice
    assert advice.startswith(
        "At 1MB/s, the slowest rate measured on /chunked, the sources held a pooled connection "
        "alike, copy 50.0 ms and cursor 60.0 ms per request"
    )
    assert "within the noise" in advice
    assert "pick copy" not in advice
    assert "pick cursor" not in advice


def test_the_advice_on_a_port_page_is_that_ports_own(paced: Results) -> None:
    first, second = (p.name for p in paced.ports)
    # copy clear of cursor on the first contender, within its noise on the second.
    results = fx.held_for(paced, "copy", 0.05, 0.048, 0.052)
    results = fx.held_for(results, "cursor", 0.055, 0.045, 0.070, port=second)
    summary = _section(results).advice
    assert "within the noise" in summary
    assert not summary.startswith("When clients are slow, pick")
    assert _section(results, first).advice.startswith("When clients are slow, pick copy:")
    assert "within the noise" in _section(results, second).advice


def test_the_advice_with_one_source_says_what_it_cost(paced: Results) -> None:
    results = dataclasses.replace(
        paced, scenarios=tuple(s for s in paced.scenarios if s.source != "copy")
    )
    advice = _section(results).advice
    assert advice.startswith(
        "At 1MB/s, the slowest rate measured on /chunked, only cursor was measured: it held a "
        "pooled connection 159 ms per request (median), and the oldest transaction seen was "
        "open 191 ms"
    )
    assert not advice.startswith("When clients are slow, pick")


def test_the_advice_states_no_figure_the_run_did_not_measure(paced: Results) -> None:
    no_bystander = _replace(paced, {"endpoint": "chunked"}, bystander=None)
    advice = _section(no_bystander).advice
    assert "no request beside them was measured" in advice
    assert "first byte" not in advice
    no_pool = _replace(paced, {"endpoint": "chunked"}, database=None)
    assert "no server reported how long it held its connections" in _section(no_pool).advice
    standard_only = _replace(paced, {"endpoint": "chunked"}, read_rate=None)
    assert _section(standard_only).advice.startswith("No /chunked response was read at a set rate")
