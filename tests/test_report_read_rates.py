"""What a run read at set rates (`--read-rate`) changes outside the slow-readers section: the
other sections show the fastest rate only, and the diff tells the rates apart. From the stored
run made into a paced one (`report_fixtures.with_read_rates`)."""

from __future__ import annotations

import dataclasses

import pytest

from compare.report import render_diff_markdown
from compare.report.diff import changes, diff_sections
from compare.report.pages import port_page, summary_page
from compare.results import Results

from . import report_fixtures as fx


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
