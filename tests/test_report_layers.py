"""Reports, results.csv, budgets and the diff of a run on several data layers, from the stored
run made into one on two layers (`report_fixtures.with_layer`). The layers are the registry's."""

from __future__ import annotations

import csv
import dataclasses
import io

from rich.console import Console

from compare.budgets import check_budgets, parse_budget
from compare.export import render_csv
from compare.report import render_reports, render_summary_html, render_summary_markdown
from compare.report.context import View
from compare.report.diff import changes, diff_sections
from compare.report.layers import layers_figure
from compare.report.svg import BarChart
from compare.results import NotOffered, Results, Scenario
from compare.summary import print_summary
from shared.layers import DEFAULT_LAYER, SHARED_LAYERS

from . import report_fixtures as fx

# A layer without COPY (an ORM), as the registry has it.
ORM = next(name for name, spec in SHARED_LAYERS.items() if "copy" not in spec.sources)
ORM_SOURCES = SHARED_LAYERS[ORM].sources


def _layered(factor: float = 3.0) -> Results:
    return fx.with_layer(fx.load(), ORM, factor, ORM_SOURCES)


def _tight(results: Results, layer: str | None, median: float) -> Results:
    """Every scenario of `layer` at the default cell given a tight total: a clear verdict."""
    view = View.of(results)

    def pinned(s: Scenario) -> Scenario:
        at_cell = (s.rows, s.concurrency) == (view.default_rows, view.concurrency)
        if s.layer != layer or not at_cell:
            return s
        return dataclasses.replace(s, total=fx.stats(median, median * 0.95, median * 1.05))

    return dataclasses.replace(results, scenarios=tuple(map(pinned, results.scenarios)))


def test_a_run_of_one_layer_has_no_layer_table_and_nothing_not_offered() -> None:
    results = fx.load()
    assert layers_figure(View.of(results)) is None
    markdown = render_summary_markdown(results)
    assert "What your data layer costs" not in markdown
    assert "Not offered" not in markdown
    assert "2 port(s) compared" in markdown
    assert not any("summary-layers" in path for path in render_reports(results))


def test_the_layer_table_sets_each_layer_against_the_default() -> None:
    results = _tight(_tight(_layered(), DEFAULT_LAYER, 0.010), ORM, 0.030)
    figure = layers_figure(View.of(results))
    assert figure is not None
    assert figure.table is not None
    rows = {(row[0], row[1], row[2]): row for row in figure.table.rows}
    # Each port on its default pair, every layer, every route measured at the cell.
    ports = [p.name for p in fx.load().ports]
    routes = ["/standard?source=fetch", "/chunked?source=cursor", "/chunked?source=copy"]
    assert set(rows) == {
        (p, r, layer) for p in ports for r in routes for layer in (DEFAULT_LAYER, ORM)
    }
    for port in ports:
        assert rows[(port, "/chunked?source=cursor", DEFAULT_LAYER)][-1] == "the reference"
        against = rows[(port, "/chunked?source=cursor", ORM)][-1]
        assert against.startswith(f"total 3.00× {DEFAULT_LAYER}'s, clear"), against
        # COPY through the ORM is not offered: shown, never measured, never a failure.
        assert rows[(port, "/chunked?source=copy", ORM)][3:] == ("not offered", "", "", "", "", "")
    assert any(f"{DEFAULT_LAYER} is clearly lowest" in v for v in figure.verdicts), figure.verdicts
    # One chart per pair, a bar per measured (route, layer), none for what is not offered.
    assert [c.ident for c in figure.charts] == [f"summary-layers-{p}" for p in ports]
    chart = figure.charts[0]
    assert isinstance(chart, BarChart)
    assert len(chart.bars) == len(routes) * 2 - 1


def test_a_layer_the_port_cannot_serve_has_no_rows_in_the_layer_table() -> None:
    results = _layered()
    second = results.ports[1].name
    without = dataclasses.replace(
        results,
        ports=tuple(p for p in results.ports if p.contender != f"{second}+{ORM}"),
        scenarios=tuple(s for s in results.scenarios if s.contender != f"{second}+{ORM}"),
        not_offered=(
            *(n for n in results.not_offered if n.port != second),
            NotOffered(second, ORM, None, f"{ORM} is another port's own layer"),
        ),
    )
    figure = layers_figure(View.of(without))
    assert figure is not None
    assert figure.table is not None
    layers_of = {(row[0], row[2]) for row in figure.table.rows}
    assert (second, ORM) not in layers_of
    assert {(results.ports[0].name, ORM), (second, DEFAULT_LAYER)} <= layers_of
    assert f"| {second}+{ORM} | every source |" in render_summary_markdown(without)


def test_pages_name_the_layers_and_what_is_not_offered() -> None:
    results = _layered()
    markdown = render_summary_markdown(results)
    assert "## What your data layer costs" in markdown
    assert f"on the data layers {DEFAULT_LAYER}, {ORM}" in markdown
    assert "## Not offered" in markdown
    first = results.ports[0].name
    assert (
        f"| {first}+{ORM} | source=copy | {ORM} offers {', '.join(ORM_SOURCES)} only |" in markdown
    )
    assert "What your data layer costs" in render_summary_html(results)
    files = render_reports(results)
    # A page per contender: the port on each layer.
    assert {f"{first}.md", f"{first}+{ORM}.md"} <= set(files)
    orm_page = files[f"{first}+{ORM}.md"]
    assert f"reading through the {ORM} data layer" in orm_page
    assert "| /chunked?source=copy | not offered |" in orm_page
    assert f"charts/summary-layers-{first}.svg" in files


def test_csv_names_the_layer() -> None:
    results = _layered()
    rows = list(csv.DictReader(io.StringIO(render_csv(results))))
    assert {(r["port"], r["layer"]) for r in rows} == {
        (p.name, layer) for p in fx.load().ports for layer in (DEFAULT_LAYER, ORM)
    }
    assert not [r for r in rows if r["layer"] == ORM and r["source"] == "copy"]


def test_budgets_scope_the_layer_and_never_count_what_is_not_offered() -> None:
    results = _layered()
    names = [p.name for p in results.ports] + [p.contender for p in results.ports]
    layers = results.matrix.layers

    def breaches(text: str) -> list[str]:
        budget = parse_budget(text, dict.fromkeys(names), ["text"], layers)
        return [b.line() for b in check_budgets([budget], results)]

    broken = breaches(f"{ORM}.chunked.x-floor>0")
    assert broken
    assert all(f"+{ORM} /chunked" in line for line in broken), broken
    assert len(broken) == sum(
        1 for s in results.scenarios if s.layer == ORM and s.endpoint == "chunked"
    )
    assert breaches(f"{ORM}.copy.total>0s") == []  # not offered: nothing to hold against it
    assert breaches(f"{DEFAULT_LAYER}.copy.total>1min") == []
    first = results.ports[0].name
    assert all(first in line for line in breaches(f"{first}.standard.total>0s"))


def test_the_diff_matches_scenarios_by_their_layer() -> None:
    old = fx.load()
    new = _layered()
    matched = {c.scenario.key for c in changes(old, new)}
    assert matched == {s.key for s in old.scenarios if s.total is not None or s.ttfb is not None}
    assert all(c.scenario.layer == DEFAULT_LAYER for c in changes(old, new))
    [only] = [s for s in diff_sections(old, new) if s.heading == "Scenarios in one run only"]
    added = [line for line in only.lines if line.startswith("Only in the new run")]
    assert added
    assert all(f"+{ORM}, " in line or "/copy" in line for line in added), added
    # The same port on another layer is another contender: nothing of it matches.
    moved = dataclasses.replace(new, scenarios=tuple(s for s in new.scenarios if s.layer == ORM))
    assert changes(old, moved) == []


def test_the_console_names_each_contender_and_what_is_not_offered() -> None:
    results = _layered()
    out = io.StringIO()
    print_summary(Console(file=out, width=80, force_terminal=False), results)
    text = out.getvalue()
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80
    first = results.ports[0].name
    assert f"{first}+{ORM}: verification passed" in text
    assert f"+{ORM}" in text.split("concurrency 1 (medians)")[1]
    assert f"not offered, not run: {ORM} source=copy on " in text
