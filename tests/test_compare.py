"""The comparator end to end: real servers, real PostgreSQL, through the `streambench` CLI."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from compare.clients import CLIENTS, DEFAULT_CLIENT
from compare.results import Results
from compare.verify import ExpectedBody, expected_body, verify_port
from shared.auth import make_token
from shared.database import Database, create_database
from shared.encoders import ENCODERS, FORMATS, encode_all
from shared.layers import DEFAULT_LAYER, SHARED_LAYERS
from shared.pairs import available_pairs
from streambench.cli import main

from .conftest import JWT_SECRET, REFERENCE_PAIR
from .servers import ServerPool

BROKEN = "broken=tests.broken_port:PORT"


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("STREAMBENCH_JWT_SECRET", raising=False)
    monkeypatch.setenv("STREAMBENCH_POOL_SIZE", "4")


# Every scenario starts fresh servers: minutes, not seconds, when other work shares the cores.
@pytest.mark.timeout(420)
def test_quick_run_times_good_ports_and_refuses_a_broken_one(
    env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The broken port comes from outside the repository (tests/, through the environment):
    # compare picks it up like any registered port. Two good pairs keep the run short; every
    # pair's verification is `test_compare_verification_passes`.
    monkeypatch.setenv("STREAMBENCH_EXTRA_PORTS", BROKEN)
    pairs = [name for name, pair, _ in available_pairs() if pair]
    assert "broken@aiohttp" in pairs
    good = [REFERENCE_PAIR, *[p for p in pairs if p != REFERENCE_PAIR and "broken" not in p][-1:]]
    out = tmp_path / "run"
    argv = ["compare", "--quick", "--rows", "300,1000", "--concurrency", "2", "--repeats", "1"]
    argv += ["--ports", ",".join([*good, "broken"])]
    code = main([*argv, "--auth", "--jwt-secret", "x" * 32, "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed

    results = Results.load(out / "results.json")
    assert results.matrix.rows == (300, 1000)
    ports = {p.name: p for p in results.ports}
    assert set(ports) == {*good, "broken@aiohttp"}
    for name in good:
        assert ports[name].verification.passed, ports[name].verification.failures
        assert ports[name].server_metrics == "proc"
        assert ports[name].startup is not None
        names = {c.name for c in ports[name].verification.checks}
        assert "auth: no Authorization" in names

    broken = ports["broken@aiohttp"].verification
    assert not broken.passed
    failed = {c.name: c.reason for c in broken.failures}
    # Every fault at every size, not only the first one found.
    for rows in (300, 1000):
        assert f"standard source=fetch rows={rows} format=text: rows" in failed
        assert (
            failed[f"standard source=fetch rows={rows} format=text: rows"]
            == f"{rows - 1} rows, expected {rows}"
        )
        assert f"standard source=fetch rows={rows} format=text: body" in failed
        assert f"chunked source=cursor rows={rows} format=text: chunked" in failed
        assert "Content-Length" in failed[f"chunked source=cursor rows={rows} format=text: chunked"]
        assert (
            f"chunked source=cursor rows={rows} format=text: body" not in failed
        )  # its bytes are right
    assert "broken@aiohttp: verification FAILED" in printed
    assert "standard source=fetch rows=300 format=text: rows: 299 rows, expected 300" in printed

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
        ceiling = results.ceiling_for(scenario.rows, "text", scenario.concurrency)
        assert ceiling is not None
        assert scenario.bytes == ceiling.bytes
        assert scenario.server.source == "proc"
        assert scenario.server.peak_memory_growth_bytes is not None
        assert scenario.server.cpu_seconds is not None
        assert scenario.floor_ratio is not None
        assert scenario.floor_ratio > 0
        assert scenario.arrival[-1][1] == scenario.bytes
    assert {(f.rows, f.format) for f in results.floor} == {(300, "text"), (1000, "text")}
    # Cut as the cursor cuts: batches of 100, 200, 400, ... rows up to the batch size (1000).
    assert {(c.rows, c.chunks) for c in results.client_ceiling} == {(300, 2), (1000, 4)}
    # The client was calibrated at the concurrency it measured, and says which client it is.
    assert {(c.client, c.concurrency) for c in results.client_ceiling} == {(DEFAULT_CLIENT, 2)}
    assert results.matrix.client == DEFAULT_CLIENT
    assert results.matrix.concurrency == (2,)
    # --quick: per good contender, one server to verify it and one for every scenario.
    assert results.matrix.reuse_servers
    logs = sorted(p.name for p in (out / "logs").iterdir())
    expected = [f"{n}-{label}.log" for n in good for label in ("every-scenario", "verify")]
    assert logs == sorted([*expected, "broken@aiohttp-verify.log"])
    assert results.settings["auth"] is True
    assert results.settings["jwt_secret"] == "<set>"


# Each client once, in the comparator's own process or in two worker processes whose streams
# each send two requests in a row: the two ways a run's load is generated here, and both clients.
GENERATORS = {"aiohttp": (2, 2), "httpx": (0, 1)}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "client_name", [pytest.param(c, id=f"{REFERENCE_PAIR}-{c}") for c in sorted(CLIENTS)]
)
def test_the_chosen_client_measures_and_is_calibrated_at_every_concurrency(
    client_name: str,
    env: None,
    servers: ServerPool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = servers.get(REFERENCE_PAIR)
    out = tmp_path / client_name
    processes, per_stream = GENERATORS.get(client_name, (1, 1))
    argv = ["compare", "--target", f"ref={server.url}", "--client", client_name]
    argv += ["--rows", "200", "--concurrency", "1,3", "--endpoints", "chunked", "--repeats", "1"]
    argv += ["--client-processes", str(processes), "--requests-per-stream", str(per_stream)]
    assert main([*argv, "--out", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # as one line, however it was wrapped
    results = Results.load(out / "results.json")
    assert results.matrix.client == client_name
    assert results.environment.client.startswith(f"{client_name} ")
    assert (results.matrix.client_processes, results.matrix.requests_per_stream) == (
        processes,
        per_stream,
    )
    ceilings = results.ceilings_for(200, "text")
    assert [(c.client, c.concurrency, c.total.count) for c in ceilings] == [
        (client_name, 1, per_stream),
        (client_name, 3, 3 * per_stream),
    ]
    assert {s.concurrency for s in results.scenarios} == {1, 3}
    for scenario in results.scenarios:
        assert scenario.errors == 0, scenario.error_examples
        assert scenario.requests == scenario.concurrency * per_stream
        client = scenario.client
        assert client is not None
        # Three streams over two processes keep both busy; one stream needs only one.
        assert client.processes == max(1, min(processes, scenario.concurrency))
        assert client.same_machine
        assert client.cpu_share is not None
        if "client-bound" in scenario.flags:
            assert f"{client_name}'s own ceiling" in scenario.flag_reasons["client-bound"]
    assert f"{client_name} ceiling x1 " in printed
    assert ", x3 " in printed


@pytest.mark.timeout(300)
def test_target_reads_server_figures_from_metrics(
    env: None, servers: ServerPool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = servers.start_private(REFERENCE_PAIR, metrics=True)
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
    # Both endpoints, every source (the default): each scenario read from /metrics.
    assert len(results.scenarios) == 6
    assert all(s.body_floor_ratio is not None for s in results.scenarios)
    for scenario in results.scenarios:
        assert scenario.server.source == "metrics"
        assert scenario.server.cpu_seconds is not None
        assert scenario.server.cpu_seconds.count == 2
        assert scenario.server.peak_memory_growth_bytes is not None


def test_target_without_metrics_has_no_server_figures(
    env: None, servers: ServerPool, tmp_path: Path
) -> None:
    server = servers.get(REFERENCE_PAIR)
    out = tmp_path / "plain"
    argv = ["compare", "--target", f"plain={server.url}", "--rows", "100", "--concurrency", "1"]
    assert main([*argv, "--repeats", "1", "--out", str(out)]) == 0
    results = Results.load(out / "results.json")
    assert results.ports[0].server_metrics == "none"
    for scenario in results.scenarios:
        assert scenario.server.source == "none"
        assert scenario.server.peak_memory_growth_bytes is None
        assert scenario.server.cpu_seconds is None
        # No /proc of its own to count open files in: absent, never zero.
        assert scenario.streams is not None
        assert scenario.streams.open_files is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ports", "nope"], "unknown port or pair 'nope'; ports: "),
        (["--servers", "nope"], "unknown server 'nope'"),
        (["--ports", "aiohttp", "--servers", "granian"], "runs on aiohttp, none of --servers"),
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
        (["--layers", "nope"], "--layers: no data layer 'nope'; choose from asyncpg, "),
        (["--read-rate", "0MB/s"], "--read-rate: '0MB/s': a read rate must be above zero"),
        (["--read-rate=-2MB/s"], "--read-rate: '-2MB/s': a read rate must be above zero"),
        (["--read-rate", "5 mph"], "--read-rate: '5 mph': unknown unit 'mph'"),
        (["--memory-cap", "0"], "--memory-cap: 0 is below 1"),
        (["--client", "nope"], "--client: unknown client 'nope'; expected aiohttp, httpx\n"),
        (["--client-processes", "-1"], "--client-processes: -1 is below 0"),
        (["--requests-per-stream", "0"], "--requests-per-stream: 0 is below 1"),
        (["--load", "locust", "--http", "1.1,2"], "--http: --load locust speaks HTTP/1.1 only"),
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


def test_two_data_layers_on_one_pair(
    env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default layer and one without COPY on the reference pair: each verified and timed in
    servers of its own, the COPY it does not offer refused by its server and left out of the
    run as not offered, never a failure nor a broken budget."""
    orm = next(name for name, spec in SHARED_LAYERS.items() if "copy" not in spec.sources)
    out = tmp_path / "layers"
    argv = ["compare", "--quick", "--ports", REFERENCE_PAIR, "--layers", f"{DEFAULT_LAYER},{orm}"]
    argv += ["--endpoints", "chunked", "--sources", "cursor,copy", "--rows", "50"]
    argv += ["--concurrency", "1", "--repeats", "1", "--out", str(out)]
    argv += ["--fail-if", f"{orm}.copy.total>1ms", "--fail-if", f"{orm}.errors>0"]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err

    results = Results.load(out / "results.json")
    on_orm = f"{REFERENCE_PAIR}+{orm}"
    assert [(p.contender, p.layer) for p in results.ports] == [
        (REFERENCE_PAIR, DEFAULT_LAYER),
        (on_orm, orm),
    ]
    for port in results.ports:
        assert port.verification.passed, port.verification.failures
        assert port.default_pair
    checks = {c.name: c for c in results.ports[1].verification.checks}
    assert checks["not offered: chunked?source=copy"].status == "pass"
    measured = {(s.contender, s.source) for s in results.scenarios}
    assert measured == {
        (REFERENCE_PAIR, "cursor"), (REFERENCE_PAIR, "copy"), (on_orm, "cursor")
    }  # fmt: skip
    for scenario in results.scenarios:
        assert scenario.errors == 0, scenario.error_examples
        assert scenario.bytes == results.ceiling_for(50, "text").bytes  # type: ignore[union-attr]
    [left_out] = results.not_offered
    assert (left_out.port, left_out.layer, left_out.source) == (REFERENCE_PAIR, orm, "copy")
    assert results.matrix.layers == (DEFAULT_LAYER, orm)
    # A server process per layer, to verify it and to time it.
    logs = {p.name for p in (out / "logs").iterdir()}
    assert logs == {
        f"{n}-{label}.log"
        for n in (REFERENCE_PAIR, on_orm)
        for label in ("verify", "every-scenario")
    }
    csv_layers = {line.split(",")[1] for line in (out / "results.csv").read_text().splitlines()[1:]}
    assert csv_layers == {DEFAULT_LAYER, orm}
    summary = (out / "summary.md").read_text()
    assert "## What your data layer costs" in summary
    assert f"| {on_orm} | source=copy |" in summary
    assert f"not offered, not run: {orm} source=copy on {REFERENCE_PAIR}" in captured.out
    assert f"--fail-if {orm}.copy.total>1ms: kept" in captured.err
    assert "budgets: 2 of 2 kept" in captured.err


async def test_compare_verification_passes(
    port_name: str, servers: ServerPool, small_database_url: str
) -> None:
    """What `compare` checks before it times a pair (bodies, framing, refusals, auth) passes for
    every pair, on the server the fuzzing with auth shares."""
    server = servers.get(
        port_name, jwt_secret=JWT_SECRET, metrics=True, database_url=small_database_url
    )
    database = await create_database(servers.settings, small_database_url)
    try:
        expected = await _expected_bodies(database)
    finally:
        await database.dispose()
    auth = {"Authorization": f"JWT {make_token(JWT_SECRET, ttl=600)}"}
    async with httpx.AsyncClient(timeout=30) as client:
        verification = await verify_port(client, server.url, expected, 1_000, auth)
    failures = [f"{c.name}: {c.reason}" for c in verification.failures]
    assert verification.passed, f"{port_name}: {failures}"


async def _expected_bodies(database: Database) -> list[ExpectedBody]:
    expected = []
    for fmt in FORMATS:
        encoder = ENCODERS[fmt]
        rows = await database.fetch_all(encoder.columns, 2_500)
        for count in (0, 1, 2_500):
            expected.append(expected_body(encode_all(encoder, rows[:count]), count, fmt))
    return expected


@pytest.mark.timeout(300)
def test_piped_run_prints_progress_and_ctrl_c_keeps_what_was_measured(
    env: None, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "partial"
    argv = [sys.executable, "-m", "streambench", "compare", "--rows", "200,400"]
    argv += ["--formats", "text,ndjson,csv,json", "--concurrency", "1", "--repeats", "1"]
    # One contender and one source: the progress and the interrupt are the comparator's, the
    # same for any number of them, and seven default contenders made this the slowest test.
    # Four formats, so that two groups of fresh servers are still to come when the interrupt
    # lands (with three, the run could finish before it did).
    argv += ["--endpoints", "chunked", "--sources", "cursor", "--ports", "starlette"]
    argv += ["--out", str(out)]
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        # An xdist worker ignores SIGINT, and a child inherits an ignored signal: Python then
        # installs no KeyboardInterrupt and the Ctrl-C this test sends would be lost.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stderr is not None
    seen: list[str] = []
    starts = 0
    # Not a terminal: one line per finished step, as they finish. Interrupt once the second
    # group of servers is starting, so the first group's scenarios are complete.
    for line in process.stderr:
        seen.append(line)
        if "starting" in line and "server(s) for" in line:
            starts += 1
        if starts == 2:
            process.send_signal(signal.SIGINT)
            break
    _, rest_err = process.communicate(timeout=120)
    printed = "".join(seen) + rest_err
    assert process.returncode == 130, f"SIGINT here: {signal.getsignal(signal.SIGINT)}\n{printed}"
    assert "%," in seen[0], "progress lines carry the share done"
    assert any("servers for chunked/cursor text up:" in line for line in seen), printed
    assert "interrupted" in rest_err
    results = Results.load(out / "results.json")
    assert results.interrupted
    assert {(s.format, s.rows) for s in results.scenarios} == {("text", 200), ("text", 400)}
    assert "Traceback" not in printed
