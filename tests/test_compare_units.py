"""The comparator's pure parts: row counting, thinning, flags, matrix shaping, chunking, summary."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from compare._memory_server import framed_chunks
from compare.analysis import RowCounter, client_bound, count_rows, noisy, scenario_flags, thin
from compare.baselines import chunk_sizes
from compare.groups import group_cells
from compare.options import (
    Cell,
    CompareOptions,
    OptionError,
    Target,
    add_arguments,
    options_from_args,
    parse_target,
    plan,
)
from compare.results import ClientCeiling, Results, Stats
from compare.run import calibrations
from compare.summary import format_megabytes, format_ms, format_ratio
from shared.encoders import ENCODERS, encode_all

from .report_fixtures import load


def _rows(n: int) -> list[tuple[object, ...]]:
    import datetime

    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    return [
        (i, f"u{i}@example.com", "r@example.org", f'line "{i}",\r\nx {{"id": {i}}}', start)
        for i in range(1, n + 1)
    ]


@pytest.mark.parametrize("format", list(ENCODERS))
@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1000])
def test_row_counter_ignores_chunk_boundaries(format: str, piece: int) -> None:
    rows = _rows(25)
    encoder = ENCODERS[format]
    # Quoted CSV fields hold line ends (CR and LF) and quotes: only record ends count.
    body = encode_all(encoder, [tuple(r[:1]) if format == "text" else r for r in rows])
    counter = RowCounter(format)
    for start in range(0, len(body), piece):
        counter.feed(body[start : start + piece])
    assert counter.rows == 25
    assert count_rows(body, format) == 25


def test_row_counter_empty_bodies() -> None:
    assert count_rows(b"", "text") == 0
    assert count_rows(b"id,sender,recipient,body,created_at\n", "csv") == 0
    assert count_rows(b"[]", "json") == 0
    with pytest.raises(ValueError, match="no row marker"):
        RowCounter("xml")


def test_thin_keeps_ends_and_limit() -> None:
    points = [(i / 1000, i * 10) for i in range(5000)]
    thinned = thin(points, 200)
    assert len(thinned) <= 200
    assert thinned[0] == points[0]
    assert thinned[-1] == points[-1]
    assert thinned == sorted(thinned)
    assert thin(points[:50], 200) == points[:50]


def _ceiling(total: float) -> ClientCeiling:
    stats = Stats.of([total])
    return ClientCeiling(10, "text", 100, 1, stats, stats, 1.0)


def test_client_bound_scales_with_concurrency() -> None:
    total = Stats.of([0.010, 0.011, 0.012])
    flag = client_bound(total, 1, _ceiling(0.008))
    assert flag is not None
    assert "1.38x" in flag.reason
    assert client_bound(total, 1, _ceiling(0.005)) is None
    assert client_bound(total, 4, _ceiling(0.005)) is not None  # 4 bodies cost the client 4x
    assert client_bound(total, 1, None) is None
    assert client_bound(None, 1, _ceiling(0.005)) is None


def _results_with(*ceilings: ClientCeiling) -> Results:
    return dataclasses.replace(load(), client_ceiling=ceilings)


def test_a_file_before_version_4_was_measured_by_httpx_one_request_at_a_time() -> None:
    results = load()
    assert results.matrix.client == "httpx"
    assert results.client_ceiling
    assert {(c.client, c.concurrency) for c in results.client_ceiling} == {("httpx", 1)}


def _ceiling_at(concurrency: int, total: float, client: str = "aiohttp") -> ClientCeiling:
    stats = Stats.of([total])
    return ClientCeiling(10, "text", 100, 1, stats, stats, 1.0, concurrency, client)


def test_client_bound_uses_the_ceiling_at_its_own_concurrency() -> None:
    # One body alone takes the client 5 ms; eight at once take it 100 ms each, not 8 x 5 ms. A
    # scenario at 8 taking 120 ms is the client's figure, which one request at a time scaled by
    # the concurrency (40 ms, 3x) would not show.
    results = _results_with(_ceiling_at(1, 0.005), _ceiling_at(8, 0.100), _ceiling_at(32, 0.500))
    at_8 = results.ceiling_for(10, "text", 8)
    assert at_8 is not None
    assert at_8.concurrency == 8
    total = Stats.of([0.120])
    flag = client_bound(total, 8, at_8)
    assert flag is not None
    assert "1.20x aiohttp's own ceiling" in flag.reason
    assert "8 request(s) at a time" in flag.reason
    assert client_bound(total, 8, results.ceiling_for(10, "text", 1)) is None
    assert client_bound(Stats.of([0.160]), 8, at_8) is None
    assert results.ceiling_for(10, "text", 4) is None
    assert [c.concurrency for c in results.ceilings_for(10, "text")] == [1, 8, 32]


def test_calibration_measures_each_rows_format_and_concurrency_once() -> None:
    cells = [
        Cell(endpoint, rows, "text", concurrency, source)
        for endpoint in ("standard", "chunked")
        for source in ("fetch", "copy")
        for rows in (1_000, 10_000)
        for concurrency in (1, 8)
        if rows * concurrency <= 10_000
    ]
    assert calibrations(cells) == [
        (1_000, "text", 1, "1.1", "none"),
        (1_000, "text", 8, "1.1", "none"),
        (10_000, "text", 1, "1.1", "none"),
    ]


def test_noisy_spread() -> None:
    assert noisy("total", Stats.of([1.0, 1.1, 1.2, 1.1])) is None
    flag = noisy("total", Stats.of([1.0, 1.0, 1.0, 3.0]))
    assert flag is not None
    assert "max/min 3.00" in flag.reason
    assert noisy("total", Stats.of([1.0])) is None  # one measurement has no spread


def test_scenario_flags_join_reasons() -> None:
    flags, reasons = scenario_flags(
        ttfb=Stats.of([0.001, 0.01]),
        total=Stats.of([1.0, 5.0]),
        concurrency=1,
        ceiling=None,
        errors=1,
        requests=2,
    )
    assert flags == ("noisy", "errors")
    assert reasons["noisy"].startswith("total:")
    assert "; ttfb:" in reasons["noisy"]
    assert reasons["errors"] == "1 of 2 requests failed"


def _options(**changes: object) -> CompareOptions:
    base: dict[str, object] = {
        "ports": ("a",),
        "targets": (),
        "endpoints": ("standard", "chunked"),
        "sources": (),
        "rows": (10_000, 100_000, 500_000),
        "formats": ("text",),
        "concurrency": (1, 8, 32),
        "repeats": 5,
        "batch": 1000,
        "auth": False,
        "quick": False,
        "out": None,
        "shape": True,
    }
    base.update(changes)
    return CompareOptions(**base)  # type: ignore[arg-type]


def test_plan_shapes_the_default_matrix() -> None:
    cells, note = plan(_options())
    kept = {(c.rows, c.concurrency) for c in cells}
    assert kept == {
        (10_000, 1),
        (10_000, 8),
        (10_000, 32),
        (100_000, 1),
        (500_000, 1),
    }
    assert {c.endpoint for c in cells} == {"standard", "chunked"}
    left_out = "100,000 rows x 8, 100,000 rows x 32, 500,000 rows x 8, 500,000 rows x 32"
    assert f"left out: {left_out}" in note


def test_plan_keeps_an_explicit_matrix() -> None:
    cells, note = plan(_options(shape=False, rows=(2_000_000,), concurrency=(1, 4)))
    assert {(c.rows, c.concurrency) for c in cells} == {(2_000_000, 1), (2_000_000, 4)}
    assert "left out" not in note


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


AVAILABLE = [
    ("a@own", None),
    ("b@uvicorn", None),
    ("b@granian", None),
    ("starlette@uvicorn", None),
    ("starlette@granian", None),
    ("starlette@hypercorn", "hypercorn missing"),
    ("c", "framework missing"),
]
DEFAULTS = ["a@own", "b@uvicorn", "starlette@uvicorn"]


def _options_of(*argv: str) -> tuple[str, ...]:
    return options_from_args(_args(*argv), AVAILABLE, DEFAULTS).ports


def test_options_defaults_and_quick() -> None:
    options = options_from_args(_args(), AVAILABLE, DEFAULTS)
    # Every port on its default server, plus the extra default pairs that can run here.
    assert options.ports == ("a@own", "b@uvicorn", "starlette@uvicorn", "starlette@granian")
    assert options.concurrency == (1, 8, 32)
    assert options.shape
    quick = options_from_args(_args("--quick", "--repeats", "1"), AVAILABLE, DEFAULTS)
    assert quick.quick
    assert quick.repeats == 1
    assert quick.rows == (1_000, 10_000)
    with pytest.raises(OptionError, match="'c' is unavailable: framework missing"):
        _options_of("--ports", "c")
    only_target = options_from_args(_args("--target", "x=http://h:1/"), AVAILABLE, DEFAULTS)
    assert only_target.ports == ()
    assert only_target.targets == (Target("x", "http://h:1"),)
    with pytest.raises(OptionError, match="given twice"):
        _options_of("--target", "x=http://h:1", "--target", "x=http://h:2")


def test_quick_reuses_servers_unless_told_otherwise() -> None:
    def reuse(*argv: str) -> bool:
        return options_from_args(_args(*argv), AVAILABLE, DEFAULTS).reuse_servers

    assert not reuse()
    assert reuse("--quick")
    assert not reuse("--quick", "--fresh-servers")
    assert reuse("--reuse-servers")
    with pytest.raises(SystemExit):
        _args("--reuse-servers", "--fresh-servers")
    _, note = plan(_options(reuse_servers=True))
    assert note.startswith("one server process per contender")
    assert "upper bound" in note
    _, note = plan(_options())
    assert note.startswith("fresh server processes per (endpoint, source, format)")


def test_reused_servers_serve_lighter_scenarios_first() -> None:
    cells, _ = plan(
        _options(
            shape=False,
            rows=(1_000, 10_000),
            concurrency=(1, 4),
            sources=("fetch", "cursor", "copy"),
        )
    )
    fresh = group_cells(cells)
    assert len(fresh) == 6
    for group in fresh:
        assert len({(c.endpoint, c.source, c.format) for c in group}) == 1
        loads = [c.rows * c.concurrency for c in group]
        assert loads == sorted(loads)
    [shared] = group_cells(cells, reuse_servers=True)
    assert sorted(shared, key=repr) == sorted(cells, key=repr)
    kinds = list(dict.fromkeys((c.endpoint, c.source) for c in shared))
    # Streamed cursor and copy hold a batch whatever the size: all of them come first; the
    # buffered fetch, holding the most, last.
    streamed = {("chunked", "cursor"), ("chunked", "copy")}
    assert set(kinds[:2]) == streamed
    assert [c for c in shared if (c.endpoint, c.source) in streamed] == shared[:8]
    assert shared[-1] == Cell("standard", 10_000, "text", 4, "fetch")
    assert group_cells([], reuse_servers=True) == []


def test_ports_and_servers_make_pairs() -> None:
    assert _options_of("--ports", "b") == ("b@uvicorn",)
    assert _options_of("--ports", "b@granian,a") == ("b@granian", "a@own")
    assert _options_of("--ports", "b,starlette", "--servers", "uvicorn,granian") == (
        "b@uvicorn",
        "b@granian",
        "starlette@uvicorn",
        "starlette@granian",
    )
    # --servers alone: every port on each of them that can serve it.
    assert _options_of("--servers", "granian") == ("b@granian", "starlette@granian")
    with pytest.raises(OptionError, match="runs on own, none of --servers granian"):
        _options_of("--ports", "a", "--servers", "granian")
    with pytest.raises(OptionError, match="unknown server 'nginx'"):
        _options_of("--servers", "nginx")
    with pytest.raises(OptionError, match="'starlette@hypercorn' is unavailable"):
        _options_of("--ports", "starlette", "--servers", "hypercorn")
    with pytest.raises(OptionError, match="unknown port or pair 'zope'"):
        _options_of("--ports", "zope")


def test_parse_target() -> None:
    assert parse_target(" fast = https://example.com:8443 ") == Target(
        "fast", "https://example.com:8443"
    )
    for bad in ("=http://h", "x=", "x y=http://h", "x=http://h/?q=1"):
        with pytest.raises(OptionError):
            parse_target(bad)


@pytest.mark.parametrize("format", list(ENCODERS))
@pytest.mark.parametrize(("count", "batch"), [(0, 3), (1, 3), (6, 3), (7, 3)])
def test_chunk_sizes_cut_the_body_as_chunked_does(format: str, count: int, batch: int) -> None:
    rows = [tuple(r[:1]) if format == "text" else r for r in _rows(count)]
    body = encode_all(ENCODERS[format], rows)
    sizes = chunk_sizes(format, rows, batch)
    assert sum(sizes) == len(body)
    expected_chunks = -(-count // batch) + (
        1 if format == "json" or (format == "csv" and not count) else 0
    )
    assert len(sizes) == expected_chunks
    frames = framed_chunks(body, sizes)
    assert frames[-1] == b"0\r\n\r\n"
    assert b"".join(f.split(b"\r\n", 1)[1][:-2] for f in frames[:-1]) == body


def test_framed_chunks_refuses_wrong_sizes() -> None:
    with pytest.raises(ValueError, match="add up"):
        framed_chunks(b"abc", [1])
    assert framed_chunks(b"", []) == [b"0\r\n\r\n"]


def test_summary_formats() -> None:
    assert format_ms(None) == "-"
    assert format_ms(Stats.of([0.0123])) == "12.3"
    assert format_megabytes(Stats.of([2e6, 2e6, 5e6])) == "2.0"
    assert format_megabytes(Stats.of([2e6])) == "2.0"
    # Below the 1 MiB step the memory is measured in, a figure is not a measurement.
    assert format_megabytes(Stats.of([0.0, 0.0, 4096.0])) == "<1"
    # At most three figures, also where rounding carries a digit over.
    assert [format_ratio(v) for v in (0.874, 9.996, 10.04, 99.96, 123.4)] == [
        "0.87", "10.0", "10.0", "100", "123"
    ]  # fmt: skip


def test_layout_says_where_everything_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    from compare.environment import LAYOUT_ENV, layout

    monkeypatch.delenv(LAYOUT_ENV, raising=False)
    text = layout(
        "postgresql://u@db.example:5432/x", ("aiohttp",), {"starlette": "http://app:8080"}
    )
    assert text == (
        "client on this host; aiohttp started here, one process each; "
        "starlette at http://app:8080; PostgreSQL at db.example"
    )
    monkeypatch.setenv(LAYOUT_ENV, "docker compose: db=0 aiohttp=1")
    assert layout("postgresql://u@h/x", (), {}) == "docker compose: db=0 aiohttp=1"


def test_environment_names_the_driver_and_loop_versions() -> None:
    import importlib.metadata

    from compare.environment import describe

    env = describe("postgresql://u@h/x", "18.6", False, "here")
    assert env.libraries["asyncpg"] == importlib.metadata.version("asyncpg")
    assert env.libraries["sqlalchemy"] == importlib.metadata.version("sqlalchemy")
    assert env.libraries["uvloop"] == importlib.metadata.version("uvloop")


def test_summary_reads_in_80_columns_with_whole_pair_names() -> None:
    import dataclasses
    import io

    from rich.console import Console

    from compare.summary import print_summary

    from . import report_fixtures as fx

    results = fx.load()
    long_names = ["starlette@hypercorn", "litestar@granian"]
    names = {port.name: long_names[i % 2] for i, port in enumerate(results.ports)}
    results = dataclasses.replace(
        results,
        scenarios=tuple(
            # Both floors' ratios, as wide as they come: three figures each.
            dataclasses.replace(s, port=names[s.port], floor_ratio=123.4, body_floor_ratio=56.78)
            for s in results.scenarios
        ),
    )
    out = io.StringIO()
    print_summary(Console(file=out, width=80, force_terminal=False), results)
    text = out.getvalue()
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80
    for name in set(names.values()):
        assert name in text, text


def test_verdict_line_of_one_contender_says_what_was_measured() -> None:
    import dataclasses

    from compare.summary import verdict_line

    from . import report_fixtures as fx

    results = fx.load()
    port = results.ports[0].name
    # One contender on one endpoint and source: nothing to rank it against.
    alone = tuple(
        s
        for s in results.scenarios
        if s.port == port and (s.endpoint, s.source) == ("chunked", "cursor")
    )
    line = verdict_line(dataclasses.replace(results, ports=results.ports[:1], scenarios=alone))
    cell = max((s for s in alone if s.concurrency == 1), key=lambda s: s.rows)
    assert line.startswith(f"verdict ({cell.rows:,} rows {cell.format} x1): "), line
    assert f"{port} chunked/cursor alone" in line, line
    assert f"total {format_ms(cell.total)} ms" in line, line
    assert f"{format_ratio(cell.floor_ratio)}x the rows floor" in line, line
    assert f"first byte {format_ms(cell.ttfb)} ms" in line, line
