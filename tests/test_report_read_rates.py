"""What a run read at set rates (`--read-rate`) changes outside the slow-readers section: the
other sections show the fastest rate only, and the diff, results.csv and budgets tell the rates
apart. From the stored run made into a paced one (`report_fixtures.with_read_rates`)."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest

from compare.budgets import check_budgets, parse_budget
from compare.export import render_csv
from compare.report import render_diff_markdown
from compare.report.diff import changes, diff_sections
from compare.report.pages import port_page, summary_page
from compare.results import Results

from . import report_fixtures as fx

BODY = 158_894  # the stored run's body at 10,000 rows


@pytest.fixture
def paced() -> Results:
    return fx.with_read_rates(fx.load())


def test_the_other_sections_show_the_fastest_rate_only() -> None:
    plain = fx.load()
    paced = fx.with_read_rates(plain, copy=False)
    # Slowest first: a lookup that took the first scenario of a cell would find a paced one.
    paced = dataclasses.replace(paced, scenarios=paced.scenarios[::-1])
    for before, after in (
        (summary_page(plain), summary_page(paced)),
        (port_page(plain, plain.ports[0]), port_page(paced, paced.ports[0])),
    ):
        assert after.answer == before.answer
        assert after.glance == before.glance
        assert after.figures == before.figures


def test_the_diff_tells_the_rates_apart(paced: Results) -> None:
    slower = fx.scaled(paced, 3.0)
    matched = {c.scenario.key for c in changes(paced, slower)}
    assert matched == {s.key for s in paced.scenarios if s.total or s.ttfb}
    assert "read at 1MB/s" in render_diff_markdown(paced, slower)
    [total] = [s for s in diff_sections(paced, slower) if s.heading == "Total time"]
    assert total.table is not None
    labels = [row[0] for row in total.table.rows]
    assert len(labels) == len(set(labels)), "two scenarios of the diff read alike"
    assert sum(label.endswith(", read at 1MB/s") for label in labels) == len(labels) // 3
    assert sum(label.endswith(", read at 10MB/s") for label in labels) == len(labels) // 3
    # A rate only one run measured: listed as in one run only, with its rate.
    fewer = dataclasses.replace(
        slower, scenarios=tuple(s for s in slower.scenarios if s.read_rate != 1e6)
    )
    [only] = [s for s in diff_sections(paced, fewer) if s.heading == "Scenarios in one run only"]
    assert len(only.lines) == len(paced.scenarios) // 3
    assert all(line.endswith(", read at 1MB/s") for line in only.lines)


def test_csv_carries_the_read_rate_and_the_new_figures(paced: Results) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(paced))))
    assert {r["read_rate"] for r in rows} == {"", "10000000", "1000000"}
    naming = ("port", "endpoint", "source", "rows", "format", "concurrency", "read_rate", "figure")
    keys = [tuple(r[c] for c in naming) for r in rows]
    assert len(set(keys)) == len(keys), "a (scenario, figure) pair appears twice"
    cell = (paced.ports[0].name, "chunked", "cursor", "10000", "1")
    figures = {
        r["figure"]: r
        for r in rows
        if (r["port"], r["endpoint"], r["source"], r["rows"], r["concurrency"]) == cell
        and r["read_rate"] == "1000000"
    }
    expected = {
        "reached_rate": "bytes/s",
        "memory_per_stream": "bytes",
        "connection_seconds": "s",
        "held_peak": "count",
        "hold_max": "s",
        "wait_max": "s",
        "checkouts_failed": "count",
        "transaction_age_max": "s",
        "busy_backends_peak": "count",
        "bystander_ttfb": "s",
        "bystander_refused": "count",
        "bystander_sent": "count",
        "abort_reset": "s",
        "abort_close": "s",
        "abort_leaked": "count",
    }
    assert {name: figures[name]["unit"] for name in expected} == expected
    assert float(figures["connection_seconds"]["median"]) == pytest.approx(BODY / 1e6)
    assert figures["connection_seconds"]["count"] == "5"
    assert figures["held_peak"]["median"] == "1"
    assert figures["reached_rate"]["median"] == "990000"
    assert (figures["bystander_refused"]["median"], figures["bystander_sent"]["median"]) == (
        "0",
        "2",
    )
    # Read at full speed nothing was sent beside it: no bystander row, not an empty one.
    at_max = {
        r["figure"]
        for r in rows
        if (r["port"], r["endpoint"], r["source"], r["rows"], r["concurrency"]) == cell
        and r["read_rate"] == ""
    }
    assert "connection_seconds" in at_max
    assert "bystander_ttfb" not in at_max


def test_budget_breaches_say_the_rate(paced: Results) -> None:
    names = [p.name for p in paced.ports]
    budget = parse_budget("chunked.copy.total>0s", names, ["text"])
    lines = [b.line() for b in check_budgets([budget], paced)]
    copies = [s for s in paced.scenarios if (s.endpoint, s.source) == ("chunked", "copy")]
    assert len(lines) == len(copies)
    assert sum(" x1 read at 1MB/s: " in line for line in lines) == 4  # 2 contenders x 2 sizes
    assert sum(" read at " in line for line in lines) == len(lines) * 2 // 3
