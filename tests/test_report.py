"""Reports rendered from a stored results file: deterministic, complete, honest about noise."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from compare.client_load import ClientFigures
from compare.report import (
    _format,
    render_diff_html,
    render_diff_markdown,
    render_port_html,
    render_port_markdown,
    render_reports,
    render_summary_html,
    render_summary_markdown,
    write_reports,
)
from compare.report.context import View, environment_items
from compare.report.figure import flag_names
from compare.report.pages import LONE_PORT, glance_table, verdict_table
from compare.report.verdict import Comparison, clearly_different, ranking_verdict
from compare.results import Results, Stats
from streambench.cli import main

from . import report_fixtures as fx

FIGURE_HEADINGS = (
    "1. Data arrival over time",
    "2. Time to first byte against row count",
    "3. Total time against row count",
    "4. Server peak memory growth against row count",
    "5. Throughput against concurrency and row count",
    "6. Time as a ratio to the floor",
)
SVG = re.compile(r'<svg class="sb-chart".*?</svg>', re.S)


@pytest.fixture
def results() -> Results:
    return fx.load()


def _sections(page: str) -> dict[str, str]:
    """Each figure's HTML section by its heading. A figure under an h3 belongs to a section of
    its own (slow readers, high concurrency), tested in its own file."""
    found = {}
    for match in re.finditer(r'<section class="figure".*?</section>', page, re.S):
        heading = re.search(r"<h([23])>(.*?)</h\1>", match.group(0))
        assert heading is not None
        if heading.group(1) == "2":
            found[heading.group(2)] = match.group(0)
    return found


def test_rendering_twice_gives_identical_bytes(results: Results, tmp_path: Path) -> None:
    assert render_reports(results) == render_reports(fx.load())
    first = write_reports(results, tmp_path / "a")
    second = write_reports(fx.load(), tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two renders"


def test_writes_every_report_the_issue_names(results: Results, tmp_path: Path) -> None:
    names = {p.relative_to(tmp_path).as_posix() for p in write_reports(results, tmp_path)}
    expected = {"summary.md", "index.html"}
    for port in results.ports:
        expected |= {f"{port.name}.md", f"{port.name}.html"}
    assert expected <= names
    # Markdown shows charts as images: every one it names was written.
    for md in tmp_path.glob("*.md"):
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md.read_text()):
            assert (tmp_path / image).is_file(), f"{md.name} links a missing chart {image}"


@pytest.mark.parametrize("page", ["summary", "port"])
def test_every_chart_is_present_titled_and_labelled(results: Results, page: str) -> None:
    html = (
        render_summary_html(results)
        if page == "summary"
        else render_port_html(results, results.ports[0].name)
    )
    sections = _sections(html)
    # A port's page answers "which way to read the rows" before the six figures.
    first = [] if page == "summary" else ["Which way to read the rows: total time"]
    assert list(sections) == [*first, *FIGURE_HEADINGS]
    for heading, section in sections.items():
        charts = SVG.findall(section)
        assert charts, f"{heading}: no chart"
        for chart in charts:
            title = re.search(r'<text class="fg title"[^>]*>([^<]+)</text>', chart)
            assert title is not None, f"{heading}: chart without a visible title"
            assert "<title id=" in chart, f"{heading}: chart without an accessible title"
            labels = re.findall(r'class="fg axis-label"[^>]*>([^<]+)</text>', chart)
            assert labels, f"{heading}: chart without axis labels"
            ticks = re.findall(r'<text class="muted"[^>]*>([^<]+)</text>', chart)
            for label in labels:
                unit = re.search(r"\((.*)\)", label)
                assert unit is not None, f"{heading}: axis label without its unit: {label}"
                # Time axes on log scales carry the unit on every tick (1 ms, 100 ms, 1 s).
                if unit.group(1) == "log scale" and "rows" not in label and "clients" not in label:
                    assert any(t.endswith((" ms", " s", " µs")) for t in ticks), (
                        f"{heading}: {label} has no unit on its ticks either"
                    )
            assert re.search(r"<(polyline|rect) class=\"(line|f)", chart), (
                f"{heading}: nothing drawn"
            )
    # The floor is drawn into the total-time chart.
    assert "COPY floor" in sections["3. Total time against row count"]
    if results.client_ceiling:
        assert "client ceiling" in sections["3. Total time against row count"]


def test_charts_carry_dark_mode_colours(results: Results) -> None:
    html = render_summary_html(results)
    assert "@media (prefers-color-scheme: dark)" in html
    svg_file = next(text for name, text in render_reports(results).items() if name.endswith(".svg"))
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg_file
    assert "prefers-color-scheme: dark" in svg_file
    assert '<rect class="bg"' in svg_file, "a chart must paint its own background"


def test_html_is_self_contained(results: Results) -> None:
    for html in (render_summary_html(results), render_port_html(results, results.ports[0].name)):
        assert "<script" not in html
        assert "<link" not in html
        assert "@import" not in html
        assert "url(" not in html
        assert not re.search(r"\ssrc=", html)
        for target in re.findall(r'href="([^"]*)"', html):
            assert re.fullmatch(r"[\w.-]+\.html", target), f"non-local link {target}"


def test_flags_are_shown_next_to_their_figures(results: Results) -> None:
    flagged_results, flagged = fx.with_flag(results, "noisy", "p95 is 48% above the median")
    sections = _sections(render_summary_html(flagged_results))
    arrival = sections["1. Data arrival over time"]
    note = re.search(r'<ul class="notes">.*?</ul>', arrival, re.S)
    assert note is not None, "the arrival figure lost its flag notes"
    assert "noisy" in note.group(0)
    assert "p95 is 48% above the median" in note.group(0)
    assert arrival.index("</svg>") < arrival.index('<ul class="notes">') < arrival.index("<table>")
    # The flagged point is marked on the chart itself, and the cell in the table says so.
    ttfb = sections["2. Time to first byte against row count"]
    assert '<circle class="warn"' in ttfb
    assert "⚠ noisy" in ttfb
    markdown = render_summary_markdown(flagged_results)
    section = markdown.split("<summary>2. Time to first byte", 1)[1].split("</details>", 1)[0]
    assert "> ⚠ Flagged" in section, "the flag must sit in the figure it qualifies"
    assert "noisy ×" in section
    assert flagged.port in section


@pytest.mark.parametrize("page", ["summary", "port"])
def test_many_flags_make_one_compact_note_per_figure(results: Results, page: str) -> None:
    """Every scenario flagged twice over: still one line per figure, each flag explained once,
    the scenarios' own reasons collapsed under it."""
    import dataclasses

    flagged = dataclasses.replace(
        results,
        scenarios=tuple(
            dataclasses.replace(
                s,
                flags=("noisy", "client-bound"),
                flag_reasons={"noisy": "spread of its own", "client-bound": "near httpx"},
            )
            for s in results.scenarios
        ),
    )
    html = (
        render_summary_html(flagged)
        if page == "summary"
        else render_port_html(flagged, results.ports[0].name)
    )
    for heading, section in _sections(html).items():
        notes = re.findall(r'<li class="note-flag">(.*?)</li>\n', section, re.S)
        assert len(notes) == 1, f"{heading}: {len(notes)} flag notes"
        line, _, collapsed = notes[0].partition("<details>")
        assert line.count("noisy ×") == 1, heading
        assert line.count("client-bound ×") == 1, heading
        assert "spread of its own" not in line, f"{heading}: reasons belong in the details"
        assert "spread of its own" in collapsed, heading


def test_verdicts_refuse_a_winner_inside_the_noise(results: Results) -> None:
    tied = fx.with_totals(results, fx.stats(0.300, 0.280, 0.330), fx.stats(0.310, 0.290, 0.340))
    port = results.ports[0].name
    markdown = render_port_markdown(tied, port)
    rows = fx.default_cell(results, "chunked").rows
    assert re.search(
        rf"Total time, {re.escape(_rows(rows))} rows: chunked 310 ms, standard 300 ms \(median\); "
        r"within the noise, no winner\.",
        markdown,
    ), markdown
    clear = fx.with_totals(results, fx.stats(0.600, 0.580, 0.630), fx.stats(0.310, 0.290, 0.340))
    markdown = render_port_markdown(clear, port)
    assert "chunked 310 ms, standard 600 ms (median); chunked is clearly ahead, 48% sooner." in (
        markdown
    )


def _rows(value: int) -> str:
    from compare.report._format import rows

    return rows(value)


def test_verdict_wording() -> None:
    within = Comparison("Total time", "a", fx.stats(1.0, 0.9, 1.2), "b", fx.stats(1.1, 1.0, 1.3))
    assert within.winner is None
    assert within.sentence().endswith("within the noise, no winner.")
    clear = Comparison(
        "First byte", "a", fx.stats(0.001, 0.0009, 0.0012), "b", fx.stats(0.05, 0.04, 0.06)
    )
    assert clear.winner == "a"
    assert clear.sentence().endswith("a is clearly ahead, 50× sooner.")
    once = Comparison(
        "Total time", "a", fx.stats(1.0, 1.0, 1.0, 1), "b", fx.stats(2.0, 2.0, 2.0, 1)
    )
    assert once.winner is None
    assert "too few runs" in once.sentence()
    ranking = ranking_verdict(
        "Total",
        [
            ("x", fx.stats(1.0, 0.9, 1.1)),
            ("y", fx.stats(1.05, 1.0, 1.2)),
            ("z", fx.stats(3, 2.9, 3.1)),
        ],
    )
    assert ranking.endswith("x is lowest but y is within its noise; the rest are clearly behind.")
    clear_leader = ranking_verdict(
        "Total", [("x", fx.stats(1.0, 0.9, 1.1)), ("z", fx.stats(3, 2.9, 3.1))]
    )
    assert clear_leader.endswith("x is clearly lowest.")


def test_memory_closer_than_the_allocator_step_is_never_a_difference() -> None:
    """Tight, disjoint bands 12 kB apart: real for a time, below what memory can resolve."""
    kib = 1024.0
    low, high = fx.stats(0.0, 0.0, 0.0), fx.stats(12 * kib, 12 * kib, 12 * kib)
    assert clearly_different(low, high, "time") is True
    assert clearly_different(low, high, "size") is False
    small = Comparison("Server memory growth", "a", low, "b", high, kind="size")
    assert small.sentence().endswith("within the noise, no winner.")
    assert ranking_verdict("Memory", [("x", low), ("y", high)], "size").endswith(
        "x, y all below the 1 MiB resolution; no winner."
    )
    megabytes = fx.stats(3e6, 3e6, 3e6)
    large = Comparison("Server memory growth", "a", low, "b", megabytes, kind="size")
    assert large.winner == "a"


def test_failed_port_is_shown_with_its_reasons(results: Results) -> None:
    broken = fx.with_failed_port(results)
    summary = render_summary_html(broken)
    assert "brokenport FAILED verification and was not timed" in summary
    assert fx.BROKEN_REASON in summary
    for heading, section in _sections(summary).items():
        assert "brokenport is not drawn: failed verification" in section, heading
    page = render_port_markdown(broken, "brokenport")
    assert "⛔ brokenport FAILED verification" in page
    assert (
        f"| brokenport | FAIL | row count | {fx.BROKEN_REASON} "
        "(http://127.0.0.1:9/chunked?rows=1000) |" in page
    )
    assert "| brokenport | WARN | cache headers |" in page
    assert "1. Data arrival" not in page, "an untimed port has no figures to show"
    assert "failed verification: not timed" in render_summary_markdown(broken)


def test_environment_block_is_in_every_report(results: Results) -> None:
    env = results.environment
    for name, text in render_reports(fx.with_failed_port(results)).items():
        if name.endswith(".svg"):
            continue
        assert "Environment" in text, name
        for needle in (env.python, env.client, results.matrix.note, "commit", "layout", "matrix"):
            assert needle in text, f"{name} lacks {needle!r}"


def test_diff_separates_noise_from_real_change(results: Results) -> None:
    same = render_diff_markdown(results, fx.load())
    assert "LARGER than the noise" not in same
    assert "within the noise" in same
    slower = render_diff_markdown(results, fx.scaled(results, 3.0))
    assert "LARGER than the noise (worse)" in slower
    for heading in ("## Time to first byte", "## Total time", "## Server peak memory growth"):
        assert heading in slower


def test_report_command_renders_and_diffs(
    results: Results, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(fx.FIXTURE), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "index.html").is_file()
    assert (tmp_path / "out" / "summary.md").read_text() == render_summary_markdown(results)
    capsys.readouterr()
    newer = tmp_path / "new.json"
    fx.scaled(results, 0.5).dump(newer)
    diff_out = tmp_path / "diff"
    assert main(["report", "--diff", str(fx.FIXTURE), str(newer), "--out", str(diff_out)]) == 0
    printed = capsys.readouterr().out
    assert "LARGER than the noise (better)" in printed
    assert (diff_out / "diff.md").read_text() == printed
    assert "<script" not in (diff_out / "diff.html").read_text()
    assert main(["report", "--diff", str(fx.FIXTURE)]) == 2


@pytest.mark.parametrize("count", [2, 7, 10])
def test_every_framework_keeps_a_colour_of_its_own(results: Results, count: int) -> None:
    """The default run compares seven port@server pairs: no two may share a colour."""
    many = fx.with_ports(results, count)
    arrival = _sections(render_summary_html(many))["1. Data arrival over time"]
    colours = []
    for chart in SVG.findall(arrival):
        used = set(re.findall(r'class="line s(\d+)', chart))
        assert len(used) == 1, "an arrival chart is one framework, so one colour"
        colours.append(used.pop())
    assert len(colours) == count
    assert len(set(colours)) == count, f"colours reused: {colours}"


MIB = float(1 << 20)


def _with_cell(results: Results, figures: dict[str, tuple[Stats, Stats]]) -> Results:
    """Each port's standard default cell given (time, memory): time for total and first byte."""
    import dataclasses

    for port, (time, memory) in figures.items():
        view = View.of(results)
        target = view.find(port, "standard", view.default_rows)
        assert target is not None
        server = dataclasses.replace(target.server, peak_memory_growth_bytes=memory)
        changed = dataclasses.replace(target, total=time, ttfb=time, server=server)
        results = fx.replace_scenario(results, target, changed)
    return results


FAST, SLOW = fx.stats(0.010, 0.009, 0.011, 4), fx.stats(0.030, 0.029, 0.031, 4)
SMALL, LARGE = fx.stats(0.2 * MIB, 0.0, 0.5 * MIB, 4), fx.stats(40 * MIB, 39 * MIB, 41 * MIB, 4)


@pytest.mark.parametrize(
    ("first", "second", "time_winner", "memory_winner", "memory_cell"),
    [
        # Faster, but both below the memory resolution: no memory ranking at all.
        ((FAST, SMALL), (SLOW, SMALL), "{0} (total, first byte)", "none: all below", "all below"),
        # Faster and clearly leaner: both named, each in its own column.
        ((FAST, SMALL), (SLOW, LARGE), "{0} (total, first byte)", "{0}", "below 1 MiB: {0}"),
        # Slower but leaner: the time winner is not the memory winner.
        ((SLOW, SMALL), (FAST, LARGE), "{1} (total, first byte)", "{0}", "{1} 41.9 MB"),
        # Tied on time, far apart on memory: a memory winner alone.
        ((FAST, LARGE), (FAST, SMALL), "within the noise", "{1}", "below 1 MiB: {1}"),
    ],
)
def test_verdict_table_names_time_and_memory_winners_apart(
    results: Results,
    first: tuple[Stats, Stats],
    second: tuple[Stats, Stats],
    time_winner: str,
    memory_winner: str,
    memory_cell: str,
) -> None:
    names = [p.name for p in results.ports]
    table = verdict_table(
        View.of(_with_cell(results, dict(zip(names, (first, second), strict=True)))), names
    )
    row = dict(zip(table.headers, table.rows[0], strict=True))
    assert row["endpoint and source"].startswith("/standard")
    assert row["runs"] == "4 each"
    assert row["clear winner, time"] == time_winner.format(*names)
    assert row["clear winner, memory"].startswith(memory_winner.format(*names))
    assert memory_cell.format(*names) in row["server memory growth"]
    # "<" only ever ranks: no value below the resolution is written "< 1 MiB" beside it.
    assert "< 1 MiB" not in row["server memory growth"]


@pytest.mark.parametrize("page", ["summary", "port"])
def test_memory_below_the_resolution_shows_no_digits(results: Results, page: str) -> None:
    """The fixture's memory figures are all under 1 MiB: no "0 B", no "8.19 kB", no ratio of "less"."""
    html = (
        render_summary_html(results)
        if page == "summary"
        else render_port_html(results, results.ports[0].name)
    )
    section = _sections(html)["4. Server peak memory growth against row count"]
    prose = re.sub(r"<svg.*?</svg>", "", section, flags=re.S)
    assert "below the 1 MiB resolution" in prose or "&lt; 1 MiB" in prose
    for claim in (r"\b0 B\b", r"\d kB", r"× less"):
        assert not re.search(claim, prose), f"{claim} in {page} memory figure"


def _loaded(results: Results, load: float | None) -> Results:
    import dataclasses

    env = dataclasses.replace(results.environment, load_before=load, load_after=load)
    return dataclasses.replace(results, environment=env)


@pytest.mark.parametrize(
    ("old_load", "new_load", "factor", "warning", "verdict", "regressions_expected"),
    [
        (0.5, 6.0, 3.0, "new run's machine was clearly busier", "worse, but the machine", False),
        (6.0, 0.5, 1 / 3, "old run's machine was clearly busier", "the calmer machine", False),
        (0.5, 0.7, 3.0, None, "LARGER than the noise (worse)", True),
        (None, None, 3.0, "No load average recorded in the old and new run", "LARGER", True),
    ],
)
def test_diff_warns_when_the_load_differed(
    results: Results,
    old_load: float | None,
    new_load: float | None,
    factor: float,
    warning: str | None,
    verdict: str,
    regressions_expected: bool,
) -> None:
    from compare.report.diff import regressions

    old = _loaded(results, old_load)
    new = _loaded(fx.scaled(results, factor), new_load)
    page = render_diff_markdown(old, new)
    environment = page.split("## Environment", 1)[1].split("## ", 1)[0]
    if old_load is not None:
        assert f"old run {old_load:.2f}, new run {new_load:.2f}" in environment
    if warning is None:
        assert "⚠" not in environment
    else:
        assert f"⚠ {warning}" in environment or warning in environment
    assert verdict in page.split("## Total time", 1)[1]
    assert bool(regressions(old, new)) is regressions_expected
    html = render_diff_html(old, new)
    assert ('<li class="note-flag">⚠' in html) is (warning is not None), "warnings stand out"


@pytest.mark.parametrize(
    ("load", "shown"),
    [(None, "not recorded"), (1.25, "1-minute load average on 2 CPUs: at the start 1.25")],
)
def test_environment_block_shows_the_load(results: Results, load: float | None, shown: str) -> None:
    page = render_summary_markdown(_loaded(results, load))
    row = next(line for line in page.splitlines() if line.startswith("| load |"))
    assert shown in row


@pytest.mark.parametrize("which", ["passing", "failing"])
def test_verification_rows_carry_a_short_reason_and_no_empty_cell(
    results: Results, which: str
) -> None:
    from compare.report.pages import verification_table

    ports = fx.with_failed_port(results).ports
    port = ports[0] if which == "passing" else ports[-1]
    table = verification_table([port])
    for row in table.rows:
        assert all(cell.strip() for cell in row), f"empty cell in {row}"
    summary = dict(zip(table.headers, table.rows[-1], strict=True))
    assert summary["status"] == ("PASS" if which == "passing" else "FAIL")
    # The brokenport has one pass, one failure and one warning: the count says all three.
    assert summary["checks"] == (
        "35 of 35 passed" if which == "passing" else "1 of 3 passed, 1 warned"
    )
    assert len(summary["reason"]) < 100, summary["reason"]
    if which == "passing":
        assert "as the contract requires" in summary["reason"]
        assert not any(
            c.name in summary["reason"] for c in port.verification.checks if ":" in c.name
        )


@pytest.mark.parametrize("page", ["summary", "port"])
def test_a_total_faster_than_the_floor_is_flagged_with_its_reason(
    results: Results, page: str
) -> None:
    """The stored fixture predates the run's own below-floor flag: its 0.42x still gets it."""
    standard = fx.default_cell(results, "standard")
    assert "below-floor" not in standard.flags
    beaten = fx.replace_scenario(
        results, standard, __import__("dataclasses").replace(standard, floor_ratio=0.42)
    )
    html = (
        render_summary_html(beaten)
        if page == "summary"
        else render_port_html(beaten, results.ports[0].name)
    )
    floor = _sections(html)["6. Time as a ratio to the floor"]
    note = re.search(r'<li class="note-flag">(.*?)</li>\n', floor, re.S)
    assert note is not None, "no flag note beside the floor figure"
    assert "below-floor ×" in note.group(1)
    assert "not as beating the database" in note.group(1)
    assert "0.42  ⚠" in floor, "the bar itself is marked"
    assert "0.42× ⚠ below the floor" in html, "the answer tables mark it too"


@pytest.mark.parametrize("count", [2, 7, 10])
def test_summary_markdown_pastes_into_a_pull_request(results: Results, count: int) -> None:
    """A short answer first, every figure collapsed, and nothing that breaks once pasted."""
    text = render_summary_markdown(fx.with_ports(results, count))
    head, _, rest = text.partition("<details>")
    assert len(head.splitlines()) < 80, f"{len(head.splitlines())} lines before the details"
    assert "## Verdict" in head
    assert "index.html" in head, "the charts are pointed to, not embedded"
    assert not re.search(r"!\[[^\]]*\]\(", text), "an image breaks when pasted elsewhere"
    assert "<img" not in text
    for heading in FIGURE_HEADINGS:
        assert f"<summary>{heading}</summary>" in rest, f"{heading} is not collapsed"
    assert text.count("<details>") == text.count("</details>")


RUNS = re.compile(r"\b\d+(?:–\d+)? (?:runs|requests|rounds)\b")


@pytest.mark.parametrize("page", ["summary", "port"])
def test_every_figure_and_table_says_how_many_runs_it_rests_on(results: Results, page: str) -> None:
    html = (
        render_summary_html(results)
        if page == "summary"
        else render_port_html(results, results.ports[0].name)
    )
    for heading, section in _sections(html).items():
        for chart in SVG.findall(section):
            title = re.search(r"<title[^>]*>([^<]+)", chart)
            # A chart and the table beside it share the figure: one of them names the count.
            assert RUNS.search(chart) or RUNS.search(SVG.sub("", section)), (heading, title)
    for ident in ("answer", "glance"):
        table = html.split(f'<h2 id="{ident}">', 1)[1].split("</table>", 1)[0]
        assert RUNS.search(table) or "each" in table, f"{ident} table shows no run count"


@pytest.mark.parametrize(
    ("slower", "faster", "first"),
    [(3.0, 4.0, "faster"), (4.0, 3.0, "slower"), (2.0, 10.0, "faster")],
)
def test_diff_sorts_by_the_factor_either_way(
    results: Results, slower: float, faster: float, first: str
) -> None:
    """Four times faster (-75%) is a larger change than three times slower (+200%)."""
    from compare.report.diff import diff_sections

    a, b = (p.name for p in results.ports)
    new = fx.scaled(fx.scaled(results, slower, a), 1 / faster, b)
    (total,) = [s for s in diff_sections(results, new) if s.heading == "Total time"]
    assert total.table is not None
    clear = [row for row in total.table.rows if "LARGER" in row[4]]
    leader = a if first == "slower" else b
    assert clear[0][0].startswith(leader), clear[0]
    (memory,) = [s for s in diff_sections(results, new) if s.heading.startswith("Server peak")]
    assert memory.table is not None
    for row in memory.table.rows:
        if row[1].startswith("< 1 MiB") and row[2].startswith("< 1 MiB"):
            assert row[3] == "below 1 MiB", "no percentage of figures below the resolution"


@pytest.mark.parametrize(
    ("dropped", "titles"),
    [
        # Every size at both levels: one chart against concurrency per size.
        ((), ["concurrency, 1k rows", "concurrency, 10k rows"]),
        # The default matrix's shape: the larger size at one level only.
        (((10_000, 4),), ["concurrency, 1k rows", "row count, concurrency 1"]),
        (((1_000, 4), (10_000, 4)), ["row count, concurrency 1"]),
    ],
)
def test_throughput_is_charted_for_every_row_count_measured(
    results: Results, dropped: tuple[tuple[int, int], ...], titles: list[str]
) -> None:
    import dataclasses

    kept = tuple(s for s in results.scenarios if (s.rows, s.concurrency) not in dropped)
    html = render_summary_html(dataclasses.replace(results, scenarios=kept))
    section = _sections(html)["5. Throughput against concurrency and row count"]
    shown = re.findall(r'<text class="fg title"[^>]*>Throughput against ([^<]+)</text>', section)
    assert shown == titles
    table = section.split("<table>", 1)[1]
    for rows in ("1k rows", "10k rows"):
        assert rows in table, f"{rows} missing from the throughput table"


@pytest.mark.parametrize(
    ("above", "ending"),
    [
        (fx.stats(40 * MIB, 39 * MIB, 41 * MIB), "those below 1 MiB clearly need less."),
        (fx.stats(1.2 * MIB, 0.1 * MIB, 1.3 * MIB), "all within the noise, no winner."),
    ],
)
def test_memory_rankings_never_order_figures_below_the_resolution(
    above: Stats, ending: str
) -> None:
    below = [("x", fx.stats(0.0, 0.0, 0.0)), ("y", fx.stats(8e3, 0.0, 0.5 * MIB))]
    sentence = ranking_verdict("Memory", [*below, ("z", above)], "size")
    assert "below 1 MiB: x, y; above it: z" in sentence
    assert sentence.endswith(ending), sentence
    assert "is lowest" not in sentence, "no leader among figures below the resolution"


@pytest.mark.parametrize(("load", "busy"), [(None, False), (0.5, False), (2.0, False), (6.0, True)])
def test_summary_says_when_the_machine_was_busy(
    results: Results, load: float | None, busy: bool
) -> None:
    """The fixture ran on 2 CPUs: a load above that means requests waited for a CPU."""
    page = render_summary_html(_loaded(results, load))
    alert = "The machine was busy: a 1-minute load average of up to 6.0 on 2 CPUs"
    assert (alert in page) is busy


def test_one_contender_is_not_ranked_against_no_one(results: Results) -> None:
    import dataclasses

    port = results.ports[0]
    # One port, and on its own page one endpoint: what a single --target run may measure.
    alone = dataclasses.replace(
        results,
        ports=(port,),
        scenarios=tuple(s for s in results.scenarios if s.port == port.name),
    )
    table = verdict_table(View.of(alone), [port.name])
    assert table.rows
    for row in (dict(zip(table.headers, cells, strict=True)) for cells in table.rows):
        assert row["clear winner, time"] == LONE_PORT, row
        assert row["clear winner, memory"] in (LONE_PORT, "not measured"), row
    chunked_only = dataclasses.replace(
        alone, scenarios=tuple(s for s in alone.scenarios if s.endpoint == "chunked")
    )
    glance = glance_table(View.of(chunked_only))
    assert glance.rows[0][1] == "only /chunked measured: nothing to set it against"


def test_a_scenario_with_failed_requests_is_flagged_errors_once() -> None:
    scenario = fx.default_cell(fx.load(), "chunked")
    failed = dataclasses.replace(scenario, errors=3, flags=("noisy", "errors"))
    assert flag_names(failed) == "noisy, errors"
    unflagged = dataclasses.replace(scenario, errors=3, flags=())
    assert flag_names(unflagged) == "errors"


def test_the_reports_name_the_client_and_its_ceiling_at_every_concurrency() -> None:
    results = fx.load()
    at_one = results.client_ceiling[0]
    ceilings = tuple(
        dataclasses.replace(at_one, concurrency=level, client="aiohttp", total=Stats.of([seconds]))
        for level, seconds in ((1, 0.0004), (8, 0.0021))
    )
    results = dataclasses.replace(
        results,
        client_ceiling=ceilings,
        matrix=dataclasses.replace(results.matrix, client="aiohttp"),
    )
    items = dict(environment_items(results))
    rows = _format.rows(at_one.rows)
    assert items["client ceiling"] == (
        "aiohttp reading the same bytes from memory, median per request; "
        f"{rows} rows {at_one.format}: x1 400 µs, x8 2.10 ms"
    )
    view = View.of(results)
    assert view.concurrency == 1
    markdown = render_summary_markdown(results)
    assert "| client ceiling (aiohttp, from memory, x1) |" in markdown
    assert "x8 2.10 ms" in render_summary_html(results)


def test_the_reports_name_the_load_generator_and_say_when_it_shared_the_machine() -> None:
    results = fx.load()
    assert dict(environment_items(results))["load generator"] == "the comparator's own process"
    busy = ClientFigures(2, Stats.of([0.35, 0.9]), 1.75, ("here",), same_machine=True)
    scenarios = tuple(dataclasses.replace(s, client=busy) for s in results.scenarios)
    results = dataclasses.replace(
        results,
        scenarios=scenarios,
        matrix=dataclasses.replace(results.matrix, load="processes", client_processes=2),
    )
    text = dict(environment_items(results))["load generator"]
    assert text.startswith("2 client worker processes, started together; ")
    assert "the busiest client process used 62%–62% of a core" in text
    assert "client machine load 1.75–1.75" in text
    assert "Client and servers shared this machine's" in text
    elsewhere = ClientFigures(2, None, None, ("there",), same_machine=False)
    apart = dataclasses.replace(
        results, scenarios=tuple(dataclasses.replace(s, client=elsewhere) for s in scenarios)
    )
    assert "shared" not in dict(environment_items(apart))["load generator"]


def test_a_diff_says_when_the_client_changed_but_not_that_its_ceiling_did() -> None:
    from compare.report.diff import diff_sections

    old = fx.load()
    at_one = old.client_ceiling[0]
    remeasured = dataclasses.replace(at_one, total=Stats.of([at_one.total.median * 1.2]))
    same_client = dataclasses.replace(old, client_ceiling=(remeasured,))
    (environment, *_) = diff_sections(old, same_client)
    assert environment.table is None, "a ceiling measured again is not a change of environment"
    assert not any("different clients" in line for line in environment.lines)

    other = dataclasses.replace(
        same_client,
        matrix=dataclasses.replace(old.matrix, client="aiohttp"),
        environment=dataclasses.replace(old.environment, client="aiohttp 3.14.5"),
    )
    (environment, *_) = diff_sections(old, other)
    assert any("different clients (httpx, then aiohttp)" in line for line in environment.lines), (
        environment.lines
    )
    assert environment.table is not None
    assert ("client", old.environment.client, "aiohttp 3.14.5") in environment.table.rows
