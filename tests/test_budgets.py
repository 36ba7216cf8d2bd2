"""Budgets (`--fail-if`), regressions (`--fail-on-regression`) and results.csv, on stored results."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import pytest

from compare.budgets import BudgetError, check_budgets, parse_budget
from compare.export import render_csv
from compare.report.diff import changes, regressions
from compare.results import Results, ServerFigures, Stats, StreamFigures
from streambench.cli import main

from . import report_fixtures as fx

PORTS = ("aiohttp", "starlette")
FORMATS = ("text", "ndjson", "csv", "json")


@pytest.fixture
def results() -> Results:
    return fx.load()


def _budget(text: str):
    return parse_budget(text, PORTS, FORMATS)


@pytest.mark.parametrize(
    ("text", "scope", "figure", "stat", "op", "limit", "per_body"),
    [
        ("chunked.ttfb>10ms", ("chunked",), "ttfb", "median", ">", 0.010, False),
        ("total:p95>=1.5s", (), "total", "p95", ">=", 1.5, False),
        ("standard.memory>2x-body", ("standard",), "memory", "median", ">", 2.0, True),
        ("memory>64MiB", (), "memory", "median", ">", 64 * 1024**2, False),
        ("x-floor>3", (), "x-floor", "median", ">", 3.0, False),
        ("errors>0", (), "errors", "median", ">", 0.0, False),
        (
            "aiohttp.copy.text.total<2min",
            ("aiohttp", "copy", "text"),
            "total",
            "median",
            "<",
            120.0,
            False,
        ),
    ],
)
def test_grammar(text, scope, figure, stat, op, limit, per_body) -> None:
    budget = _budget(text)
    assert (budget.scope, budget.figure, budget.stat, budget.op) == (scope, figure, stat, op)
    assert budget.limit == pytest.approx(limit)
    assert budget.per_body == per_body


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ttfb 10ms", r"expected \[SCOPE\.\]FIGURE"),
        ("latency>10ms", "unknown figure 'latency'"),
        ("flask.ttfb>1ms", "'flask' is no endpoint, source, format, data layer, port, read"),
        ("0MB/s.total>1s", "'0MB/s' is no endpoint"),
        ("ttfb>10MB", "a time takes ms, s or min"),
        ("memory>3parsecs", "a size takes"),
        ("errors>1ms", "take a bare number"),
        ("ttfb:p99>1ms", "statistic 'p99'"),
    ],
)
def test_grammar_refusals(text: str, message: str) -> None:
    with pytest.raises(BudgetError, match=message):
        _budget(text)


def test_a_read_rate_scopes_a_budget_and_slow_reader_figures_have_budgets(
    results: Results,
) -> None:
    paced = fx.with_read_rates(results)
    slow = min(r for r in fx.RATES if r is not None)
    word = {1e6: "1MB/s", 10e6: "10MB/s"}[slow]
    cursor = [s for s in paced.scenarios if s.source == "cursor" and s.endpoint == "chunked"]
    held = {
        s.read_rate: s.database.connection_seconds.median
        for s in cursor
        if s.database and s.database.connection_seconds
    }
    limit = min(held[slow], held[None]) / 2
    breaches = check_budgets([_budget(f"{word}.chunked.cursor.conn-seconds>{limit}s")], paced)
    assert breaches
    assert {b.scenario.read_rate for b in breaches if b.scenario} == {slow}
    assert all(f"read at {word}" in b.line() for b in breaches)
    full_speed = check_budgets([_budget(f"max.chunked.cursor.conn-seconds>{limit}s")], paced)
    assert {b.scenario.read_rate for b in full_speed if b.scenario} == {None}
    # An abort is measured on a few scenarios only: the others are out of its budgets' scope.
    aborts = check_budgets([_budget("abort>0ms")], paced)
    assert aborts
    assert all(b.scenario and b.scenario.abort is not None for b in aborts)
    assert check_budgets([_budget("abort>10min"), _budget("transaction-age>10min")], paced) == []


def test_a_broken_budget_names_every_scenario_that_broke_it(results: Results) -> None:
    chunked = [(s, s.ttfb) for s in results.scenarios if s.endpoint == "chunked" and s.ttfb]
    limit = sorted(ttfb.median for _, ttfb in chunked)[len(chunked) // 2]
    budget = _budget(f"chunked.ttfb>{limit * 1000:.6f}ms")
    breaches = check_budgets([budget], results)
    over = {s.key for s, ttfb in chunked if ttfb.median > budget.limit}
    assert over, "the fixture should have chunked scenarios on both sides of the median"
    assert {b.scenario.key for b in breaches if b.scenario} == over
    assert all(b.scenario and b.scenario.endpoint == "chunked" for b in breaches)
    assert "chunked.ttfb>" in breaches[0].line()
    assert "/chunked?source=cursor" in breaches[0].line()


def test_kept_budgets_and_body_multiples(results: Results) -> None:
    assert check_budgets([_budget("errors>0"), _budget("ttfb>10min")], results) == []
    target = fx.default_cell(results, "standard")
    assert target.bytes
    heavy = dataclasses.replace(
        target,
        server=ServerFigures(
            "proc", fx.stats(30.0 * target.bytes, target.bytes, 40.0 * target.bytes), None
        ),
    )
    changed = fx.replace_scenario(results, target, heavy)
    breaches = check_budgets([_budget("standard.memory>20x-body")], changed)
    assert [b.scenario.key for b in breaches if b.scenario] == [heavy.key]
    assert "30.00x the" in breaches[0].measured


def test_unmeasured_figures_and_empty_scopes_break_budgets(results: Results) -> None:
    no_memory = dataclasses.replace(
        results,
        scenarios=tuple(
            dataclasses.replace(s, server=ServerFigures("none", None, None))
            for s in results.scenarios
        ),
    )
    breaches = check_budgets([_budget("memory>1GB")], no_memory)
    assert len(breaches) == len(results.scenarios)
    assert all(b.measured == "memory was not measured" for b in breaches)
    (empty,) = check_budgets([_budget("json.total>1s")], results)
    assert empty.scenario is None
    assert "matched no measured scenario" in empty.line()


def test_regressions_by_the_noise_rule_and_the_load(results: Results) -> None:
    assert regressions(results, fx.load()) == []
    slower = fx.scaled(results, 3.0)
    worse = regressions(results, slower)
    assert worse, "tripled times beyond every band must be regressions"
    assert {c.direction for c in worse} == {"worse"}
    assert regressions(slower, results) == []  # faster is no regression
    busy_env = dataclasses.replace(slower.environment, load_before=6.0, load_after=6.0)
    calm_env = dataclasses.replace(results.environment, load_before=0.5, load_after=0.5)
    busier = dataclasses.replace(slower, environment=busy_env)
    calm = dataclasses.replace(results, environment=calm_env)
    assert regressions(calm, busier) == []
    explained = [c for c in changes(calm, busier) if c.direction == "worse"]
    assert explained
    assert "busier (load 6.0 against 0.5)" in explained[0].verdict()


def test_report_diff_fails_on_regression(
    results: Results, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = tmp_path / "slower.json"
    fx.scaled(results, 3.0).dump(newer)
    same = tmp_path / "same.json"
    results.dump(same)
    argv = ["report", "--diff", str(fx.FIXTURE)]
    assert main([*argv, str(same), "--fail-on-regression"]) == 0
    assert "no regression" in capsys.readouterr().err
    assert main([*argv, str(newer)]) == 0  # without the flag a diff only reports
    assert main([*argv, str(newer), "--fail-on-regression", "--out", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert "REGRESSION Total time: aiohttp /standard?source=fetch" in err
    page = (tmp_path / "d" / "diff.html").read_text()
    assert 'class="row-worse"' in page
    assert "🔴 LARGER than the noise (worse)" in (tmp_path / "d" / "diff.md").read_text()


def test_diff_rows_sorted_by_the_size_of_the_change(results: Results, tmp_path: Path) -> None:
    from compare.report.diff import diff_sections

    slower = fx.scaled(results, 2.0)
    target = fx.default_cell(slower, "chunked")
    assert target.total is not None
    much = dataclasses.replace(
        target,
        total=Stats(
            target.total.median * 5,
            target.total.p95 * 5,
            target.total.min * 5,
            target.total.max * 5,
            target.total.count,
        ),
    )
    slower = fx.replace_scenario(slower, target, much)
    (total,) = [s for s in diff_sections(results, slower) if s.heading == "Total time"]
    assert total.table is not None
    changes_shown = [float(row[3].rstrip("%")) for row in total.table.rows]
    clear = [
        c for c, row in zip(changes_shown, total.table.rows, strict=True) if "LARGER" in row[4]
    ]
    assert clear == sorted(clear, key=abs, reverse=True)
    assert "chunked" in total.table.rows[0][0]


def test_results_csv_has_one_row_per_scenario_and_figure(results: Results) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(results))))
    keys = {
        (
            r["port"],
            r["endpoint"],
            r["source"],
            r["rows"],
            r["format"],
            r["concurrency"],
            r["figure"],
        )
        for r in rows
    }
    assert len(keys) == len(rows), "a (scenario, figure) pair appears twice"
    scenario = results.scenarios[0]
    assert scenario.total is not None
    (total,) = [
        r
        for r in rows
        if r["figure"] == "total"
        and (r["port"], r["endpoint"], int(r["rows"]), int(r["concurrency"]))
        == (scenario.port, scenario.endpoint, scenario.rows, scenario.concurrency)
    ]
    assert float(total["median"]) == scenario.total.median
    assert total["unit"] == "s"
    assert int(total["count"]) == scenario.total.count
    assert {r["figure"] for r in rows} >= {
        "ttfb",
        "total",
        "memory_growth",
        "errors",
        "x_rows_floor",
    }


def test_raw_samples_survive_the_round_trip(tmp_path: Path) -> None:
    stats = Stats.of([0.3, 0.1, 0.2])
    assert stats.samples == (0.3, 0.1, 0.2)  # in the order measured
    assert (stats.median, stats.min, stats.max) == (0.2, 0.1, 0.3)
    results = fx.load()
    target = results.scenarios[0]
    changed = fx.replace_scenario(results, target, dataclasses.replace(target, total=stats))
    loaded = Results.load(changed.dump(tmp_path / "r.json"))
    assert loaded.scenarios[0].total == stats


def test_report_names_a_corrupt_file_and_keeps_existing_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1, "created_at": ')
    assert main(["report", str(broken)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err
    assert "not JSON" in err
    assert "Traceback" not in err
    run = tmp_path / "run"
    fx.load().dump(run / "results.json")
    assert main(["report", str(run / "results.json")]) == 0
    before = (run / "index.html").stat().st_mtime_ns
    assert main(["report", str(run / "results.json")]) == 2
    assert "already holds reports" in capsys.readouterr().err
    assert (run / "index.html").stat().st_mtime_ns == before
    assert main(["report", str(run / "results.json"), "--overwrite"]) == 0


def _with_streams(results: Results, starved: int = 0) -> Results:
    def filled(s):
        c = s.concurrency
        return dataclasses.replace(
            s,
            streams=StreamFigures(
                ttfb_p99=0.002 * c,
                open_files=Stats.of([30 + c, 31 + c]),
                throughput=Stats.of([1e6, 3e6]),
                spread=Stats.of([1.0 * c, 1.5 * c]),
                starved=starved if c > 1 else 0,
                streams=c * s.repeats,
            ),
        )

    return dataclasses.replace(results, scenarios=tuple(map(filled, results.scenarios)))


def test_the_streams_side_by_side_have_budgets(results: Results) -> None:
    crowded = _with_streams(results, starved=2)
    assert _budget("chunked.ttfb-p99>5ms").figure == "ttfb-p99"
    tail = check_budgets([_budget("ttfb-p99>5ms")], crowded)
    assert tail
    assert {b.scenario.concurrency for b in tail if b.scenario} == {4}
    assert check_budgets([_budget("fds>100")], crowded) == []
    fds = check_budgets([_budget("fds:max>34")], crowded)
    assert {b.scenario.concurrency for b in fds if b.scenario} == {4}
    assert "max 35" in fds[0].line()
    fairness = check_budgets([_budget("fairness>3")], crowded)
    assert {b.scenario.concurrency for b in fairness if b.scenario} == {4}
    starved = check_budgets([_budget("starved>0")], crowded)
    assert {b.scenario.concurrency for b in starved if b.scenario} == {4}
    # A run from before version 5 measured none of them: the budget cannot pass.
    unmeasured = check_budgets([_budget("fds>100")], results)
    assert len(unmeasured) == len(results.scenarios)
    assert all("fds was not measured" in b.line() for b in unmeasured)
    with pytest.raises(BudgetError, match="unknown figure 'p99'"):
        _budget("p99>1ms")


def test_the_streams_land_in_the_csv_and_the_diff(results: Results) -> None:
    crowded = _with_streams(results, starved=1)
    rows = list(csv.DictReader(io.StringIO(render_csv(crowded))))
    figures = {r["figure"] for r in rows}
    assert figures >= {
        "ttfb_p99",
        "open_files",
        "stream_throughput",
        "stream_spread",
        "starved_streams",
        "streams",
    }
    starved = [r for r in rows if r["figure"] == "starved_streams" and r["concurrency"] == "4"]
    assert starved
    assert {r["median"] for r in starved} == {"1"}
    assert all("starved" not in r["flags"] for r in starved)  # flags come from the scenario
    assert "open_files" not in {
        r["figure"] for r in csv.DictReader(io.StringIO(render_csv(results)))
    }
    # Twice the open files in the new run, clear of both bands: a regression the diff names.
    worse = dataclasses.replace(
        crowded,
        scenarios=tuple(
            dataclasses.replace(
                s,
                streams=dataclasses.replace(s.streams, open_files=Stats.of([200.0, 201.0])),
            )
            if s.streams is not None
            else s
            for s in crowded.scenarios
        ),
    )
    found = [
        c for c in regressions(crowded, worse) if c.metric.heading.startswith("Server open files")
    ]
    assert len(found) == len(crowded.scenarios)
