"""The comparator end to end: real servers, real PostgreSQL, through the `streambench` CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.results import Results
from shared.ports import available_ports
from streambench.cli import main

from .servers import ServerPool

BROKEN = "broken=tests.broken_port:PORT"


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("STREAMBENCH_JWT_SECRET", raising=False)
    monkeypatch.setenv("STREAMBENCH_POOL_SIZE", "4")


@pytest.mark.timeout(120)
def test_quick_run_times_good_ports_and_refuses_a_broken_one(
    env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMBENCH_EXTRA_PORTS", BROKEN)
    good = [name for name, descriptor, _ in available_ports() if descriptor and name != "broken"]
    assert good, "no port to measure"
    out = tmp_path / "run"
    argv = ["compare", "--quick", "--rows", "300,1000", "--concurrency", "2", "--repeats", "1"]
    code = main([*argv, "--auth", "--jwt-secret", "x" * 32, "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed

    results = Results.load(out / "results.json")
    assert results.matrix.rows == (300, 1000)
    ports = {p.name: p for p in results.ports}
    assert set(ports) == {*good, "broken"}
    for name in good:
        assert ports[name].verification.passed, ports[name].verification.failures
        assert ports[name].server_metrics == "proc"
        assert ports[name].startup is not None
        names = {c.name for c in ports[name].verification.checks}
        assert "auth: no Authorization" in names

    broken = ports["broken"].verification
    assert not broken.passed
    failed = {c.name: c.reason for c in broken.failures}
    # Every fault at every size, not only the first one found.
    for rows in (300, 1000):
        assert f"standard rows={rows} format=text: rows" in failed
        assert (
            failed[f"standard rows={rows} format=text: rows"] == f"{rows - 1} rows, expected {rows}"
        )
        assert f"standard rows={rows} format=text: body" in failed
        assert f"chunked rows={rows} format=text: chunked" in failed
        assert "Content-Length" in failed[f"chunked rows={rows} format=text: chunked"]
        assert f"chunked rows={rows} format=text: body" not in failed  # its bytes are right
    assert "broken: verification FAILED" in printed
    assert "standard rows=300 format=text: rows: 299 rows, expected 300" in printed

    # The good ports were timed in every cell, the broken one in none.
    cells = {(s.endpoint, s.rows, s.concurrency) for s in results.scenarios}
    assert cells == {(e, r, c) for e in ("standard", "chunked") for r in (300, 1000) for c in (2,)}
    assert {s.port for s in results.scenarios} == set(good)
    for scenario in results.scenarios:
        assert scenario.errors == 0, scenario.error_examples
        assert scenario.requests == scenario.concurrency
        assert scenario.total is not None
        assert scenario.ttfb is not None
        assert scenario.ttfb.median <= scenario.total.median
        ceiling = results.ceiling_for(scenario.rows, "text")
        assert ceiling is not None
        assert scenario.bytes == ceiling.bytes
        assert scenario.server.source == "proc"
        assert scenario.server.peak_memory_growth_bytes is not None
        assert scenario.server.cpu_seconds is not None
        assert scenario.floor_ratio is not None
        assert scenario.floor_ratio > 0
        assert scenario.arrival[-1][1] == scenario.bytes
    assert {(f.rows, f.format) for f in results.floor} == {(300, "text"), (1000, "text")}
    assert {(c.rows, c.chunks) for c in results.client_ceiling} == {(300, 1), (1000, 1)}
    assert results.matrix.concurrency == (2,)
    assert results.settings["auth"] is True
    assert results.settings["jwt_secret"] == "<set>"


@pytest.mark.timeout(90)
def test_target_reads_server_figures_from_metrics(
    env: None, servers: ServerPool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = next(name for name, descriptor, _ in available_ports() if descriptor)
    server = servers.start_private(name, metrics=True)
    try:
        out = tmp_path / "target"
        argv = ["compare", "--target", f"remote={server.url}", "--rows", "500"]
        code = main([*argv, "--concurrency", "1", "--repeats", "2", "--out", str(out)])
        assert code == 0, capsys.readouterr().out
    finally:
        server.stop()
    results = Results.load(out / "results.json")
    assert [p.name for p in results.ports] == ["remote"]
    port = results.ports[0]
    assert port.target
    assert port.server_metrics == "metrics"
    assert port.verification.passed
    assert port.startup is None  # nothing was started
    assert len(results.scenarios) == 2
    for scenario in results.scenarios:
        assert scenario.server.source == "metrics"
        assert scenario.server.cpu_seconds is not None
        assert scenario.server.cpu_seconds.count == 2
        assert scenario.server.peak_memory_growth_bytes is not None


def test_target_without_metrics_has_no_server_figures(
    env: None, servers: ServerPool, tmp_path: Path
) -> None:
    name = next(name for name, descriptor, _ in available_ports() if descriptor)
    server = servers.get(name)
    out = tmp_path / "plain"
    argv = ["compare", "--target", f"plain={server.url}", "--rows", "100", "--concurrency", "1"]
    assert main([*argv, "--repeats", "1", "--out", str(out)]) == 0
    results = Results.load(out / "results.json")
    assert results.ports[0].server_metrics == "none"
    for scenario in results.scenarios:
        assert scenario.server.source == "none"
        assert scenario.server.peak_memory_growth_bytes is None
        assert scenario.server.cpu_seconds is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ports", "nope"], "unknown port 'nope'; available: "),
        (["--ports", "aiohttp,aiohttp"], "given twice"),
        (["--target", "noequals"], "expected NAME=URL"),
        (["--target", "x=ftp://host"], "is not an http:// or https:// URL"),
        (["--target", "x=http://host:99999"], "bad port"),
        (["--formats", "xml"], "unknown format 'xml'"),
        (["--rows", "0"], "--rows: 0 is below 1"),
        (["--rows", "ten"], "--rows: 'ten' is not a whole number"),
        (["--concurrency", ""], "--concurrency: give at least one number"),
        (["--rows", ","], "--rows: give at least one number"),
        (["--rows", "1,,2"], "--rows: empty item in '1,,2'"),
        (["--ports", "aiohttp,"], "--ports: empty item in 'aiohttp,'"),
        (["--repeats", "0"], "--repeats: 0 is below 1"),
        (["--auth", "--target", "x=http://127.0.0.1:9"], "needs the targets' secret"),
    ],
)
def test_option_errors(
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("STREAMBENCH_JWT_SECRET", raising=False)
    assert main(["compare", *argv]) == 2
    assert message in capsys.readouterr().err
