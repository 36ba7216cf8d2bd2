"""The HTTP version as an axis of a run (`--http`), without servers: the options and the matrix,
what is not offered, the results file and its older versions, the CSV, budgets, the diff and
the report section that sets HTTP/2 beside HTTP/1.1."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import httpx
import pytest

from compare.baselines import MemoryServer, Reference, measure_ceiling
from compare.budgets import check_budgets, parse_budget
from compare.export import render_csv
from compare.groups import group_cells
from compare.load.in_process import InProcessEngine
from compare.options import CompareOptions, OptionError, add_arguments, options_from_args, plan
from compare.report.diff import changes
from compare.report.http_versions import http_figure
from compare.results import NotOffered, Results, Stats
from compare.verify import expected_body

from .test_compare_results import sample_results

AVAILABLE = [("a@uvicorn", None), ("a@granian", None), ("a@hypercorn", None)]
DEFAULTS = ["a@uvicorn"]
SPEAKS = {"a@uvicorn": ("1.1",), "a@granian": ("1.1", "2"), "a@hypercorn": ("1.1", "2")}


def _options(*argv: str, speaks: dict[str, tuple[str, ...]] = SPEAKS) -> CompareOptions:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--ports", "a@uvicorn,a@granian,a@hypercorn", *argv])
    return options_from_args(args, AVAILABLE, DEFAULTS, None, speaks)


def test_an_unknown_version_is_one_line_naming_the_choices() -> None:
    with pytest.raises(OptionError) as raised:
        _options("--http", "3")
    assert str(raised.value) == "--http: unknown HTTP version '3'; expected 1.1, 2"


def test_http2_only_where_the_server_speaks_it() -> None:
    options = _options("--http", "2,1.1", "--rows", "10", "--concurrency", "1,4")
    assert options.http == ("1.1", "2")  # HTTP/1.1 first, whatever the order given
    assert {c.pair: c.http for c in options.contenders} == {
        "a@uvicorn": ("1.1",),
        "a@granian": ("1.1", "2"),
        "a@hypercorn": ("1.1", "2"),
    }
    offered = [n for n in options.not_offered if n.http is not None]
    assert offered == [
        NotOffered("a@uvicorn", "asyncpg", None, "uvicorn speaks HTTP/1.1 only", "2")
    ]
    assert offered[0].label() == "a@uvicorn over HTTP/2"
    cells, note = plan(options)
    assert {c.http for c in cells} == {"1.1", "2"}
    assert "an upper bound of the reader's cost" in note
    # A server process serves one version: no group mixes them, HTTP/1.1's come first.
    for reuse in (False, True):
        groups = group_cells(cells, reuse)
        assert all(len({c.http for c in group}) == 1 for group in groups)
        assert groups[0][0].http == "1.1"
    assert next(c.label for c in cells if c.http == "2").endswith(" over HTTP/2")


def test_the_default_is_http11_alone() -> None:
    options = _options()
    assert options.http == ("1.1",)
    assert all(n.http is None for n in options.not_offered)
    assert {c.http for c in plan(options)[0]} == {"1.1"}


def test_http2_with_no_pair_that_speaks_it_is_refused() -> None:
    with pytest.raises(OptionError, match=r"--http: no contender speaks 2: a@uvicorn: uvicorn"):
        _options("--http", "2", speaks={})


def _over_both() -> Results:
    results = sample_results()
    first = results.scenarios[0]
    faster = Stats.of([0.010, 0.011, 0.012])
    slower = Stats.of([0.030, 0.031, 0.032])
    return dataclasses.replace(
        results,
        matrix=dataclasses.replace(results.matrix, http=("1.1", "2")),
        scenarios=(
            dataclasses.replace(first, total=faster, ttfb=faster),
            dataclasses.replace(first, total=slower, ttfb=slower, http="2"),
        ),
    )


def test_results_record_the_version_and_older_files_read_as_http11() -> None:
    results = _over_both()
    one, two = results.scenarios
    assert one.key != two.key
    assert one.key[-2] == "1.1"  # then the coding
    assert two.key[-2] == "2"
    assert Results.from_dict(results.to_dict()).scenarios == results.scenarios
    older = results.to_dict()
    older["schema_version"] = 5
    del older["matrix"]["http"]
    for scenario in older["scenarios"]:
        del scenario["http"]
    loaded = Results.from_dict(older)
    assert loaded.matrix.http == ("1.1",)
    assert [s.http for s in loaded.scenarios] == ["1.1", "1.1"]


def test_ceilings_are_per_version() -> None:
    results = sample_results()
    ceiling = results.client_ceiling[0]
    over_http2 = dataclasses.replace(ceiling, http="2", client="httpx")
    results = dataclasses.replace(results, client_ceiling=(ceiling, over_http2))
    rows, fmt, at = ceiling.rows, ceiling.format, ceiling.concurrency
    assert results.ceiling_for(rows, fmt, at) == ceiling
    assert results.ceiling_for(rows, fmt, at, http="2") == over_http2
    assert results.ceilings_for(rows, fmt, http="2") == (over_http2,)
    assert Results.from_dict(results.to_dict()).client_ceiling == results.client_ceiling


def test_csv_names_the_version() -> None:
    lines = render_csv(_over_both()).splitlines()
    header = lines[0].split(",")
    column = header.index("http")
    assert {line.split(",")[column] for line in lines[1:]} == {"1.1", "2"}


def test_budgets_scope_by_version() -> None:
    results = _over_both()
    budget = parse_budget("h2.ttfb>20ms", ["aiohttp"], ["text"])
    breaches = check_budgets([budget], results)
    assert [b.scenario.http for b in breaches if b.scenario] == ["2"]
    assert "over HTTP/2" in breaches[0].line()
    assert check_budgets([parse_budget("h1.ttfb>20ms", ["aiohttp"], ["text"])], results) == []
    # No HTTP/2 measured: held against the run, unless HTTP/2 was not offered.
    only_http11 = dataclasses.replace(results, scenarios=results.scenarios[:1])
    assert check_budgets([budget], only_http11)[0].measured == "matched no measured scenario"
    not_offered = dataclasses.replace(
        only_http11,
        not_offered=(NotOffered("aiohttp", "asyncpg", None, "speaks HTTP/1.1 only", "2"),),
    )
    assert check_budgets([budget], not_offered) == []


def test_the_diff_matches_scenarios_by_version() -> None:
    old = _over_both()
    swapped = tuple(
        dataclasses.replace(s, http="2" if s.http == "1.1" else "1.1") for s in old.scenarios
    )
    new = dataclasses.replace(old, scenarios=swapped)
    found = changes(old, new)
    assert found
    # Each version against itself: HTTP/1.1 got slower, HTTP/2 faster, never one against the other.
    by_version = {c.scenario.http: c.direction for c in found if c.metric.heading == "Total time"}
    assert by_version == {"1.1": "worse", "2": "better"}


def test_the_report_sets_http2_beside_http11() -> None:
    results = _over_both()
    figure = http_figure(results, ["aiohttp"], "aiohttp-")
    assert figure is not None
    assert figure.table is not None
    (row,) = figure.table.rows
    assert row[-1] == "2.82x, slower"
    assert figure.verdicts[0].startswith("aiohttp /chunked")
    only_one = dataclasses.replace(
        results, matrix=dataclasses.replace(results.matrix, http=("1.1",))
    )
    assert http_figure(only_one, ["aiohttp"], "aiohttp-") is None


@pytest.mark.timeout(30)
async def test_the_http2_ceiling_reads_the_same_bytes_over_http2(tmp_path: Path) -> None:
    """The in-memory server answers the HTTP/2 preface in HTTP/2, and the ceiling over it is
    httpx's, whatever the engine's client, with every byte checked."""
    rows = 2_000
    body = b"object_id:1 \n" * rows
    key = Reference.key(rows, "text")
    (tmp_path / f"{key}.body").write_bytes(body)
    # Pieces larger than a stream's initial window (64 KiB - 1): flow control is exercised.
    (tmp_path / f"{key}.chunks").write_text(json.dumps([len(body) // 2] * 2))
    server = await MemoryServer.start(tmp_path)
    try:
        async with httpx.AsyncClient(http1=False, http2=True, trust_env=False) as client:
            over_http2 = await client.get(f"{server.url}/{key}")
        async with httpx.AsyncClient(trust_env=False) as client:
            over_http1 = await client.get(f"{server.url}/{key}")
        engine = InProcessEngine("aiohttp", 8)
        try:
            expected = expected_body(body, rows, "text")
            ceiling = await measure_ceiling(
                engine, server, expected, 2, 6, repeats=2, warmup=1, http="2"
            )
        finally:
            await engine.close()
    finally:
        server.stop()
    assert (over_http2.http_version, over_http1.http_version) == ("HTTP/2", "HTTP/1.1")
    assert over_http2.content == over_http1.content == body
    assert (ceiling.http, ceiling.client, ceiling.concurrency) == ("2", "httpx", 6)
    assert ceiling.total.count == 2 * 6
