"""The Locust engine for real: its master and worker processes, Locust's own messaging between
them, against a real port on a real socket (and a slow raw server where a worker must die mid-round)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from compare.free_ports import HOST, free_port
from compare.load.base import RoundSpec
from compare.load.choice import LoadOptionError, LocustOptions, add_load_arguments, load_choice
from compare.load.locust.engine import start_locust
from compare.load.processes import EngineError
from compare.results import Results
from streambench.cli import main

from .conftest import REFERENCE_PAIR
from .rawhttp import raw_server
from .servers import ServerPool

ROWS = 2_000


@pytest.mark.timeout(150)
async def test_a_master_and_two_workers_time_a_real_port(
    servers: ServerPool, tmp_path: Path
) -> None:
    server = servers.get(REFERENCE_PAIR)
    params = {"rows": str(ROWS), "format": "text", "source": "copy"}
    async with httpx.AsyncClient() as client:
        body = (await client.get(f"{server.url}/chunked", params=params)).content
    expected = hashlib.sha256(body).hexdigest()
    assert body.count(b"\n") == ROWS, "the reference body, hashed before anything is timed"

    spec = RoundSpec(f"{server.url}/chunked", params, {}, "text", ROWS, 5, len(body))
    async with start_locust(LocustOptions(workers=2, expect=2), tmp_path) as engine:
        assert "2 worker(s): 2 on this machine" in engine.describe()
        measured = await engine.run(spec)
        wrong = await engine.run(dataclasses.replace(spec, expected_bytes=len(body) + 1))

    assert len(measured.requests) == 5
    for timing in measured.requests:
        assert timing.ok, timing.error
        assert (timing.rows, timing.bytes) == (ROWS, len(body))
        assert timing.headers is not None
        assert timing.ttfb is not None
        assert timing.headers <= timing.ttfb <= timing.total
        assert timing.arrival, "every piece's arrival"
        assert timing.arrival[-1][1] == len(body)
        assert timing.chunks == len(timing.arrival)
    assert 0 < measured.seconds < 30
    load = measured.load
    assert load is not None
    assert load.processes == 2, "the 5 requests were shared by both workers"
    assert load.same_machine
    assert all(cpu >= 0 for cpu in load.cpu_seconds)
    # Bodies are checked while timing as the in-process client checks them: bytes and rows.
    assert [t.ok for t in wrong.requests] == [False] * 5
    assert all(f"{len(body)} bytes, expected {len(body) + 1}" == t.error for t in wrong.requests)
    assert hashlib.sha256(body).hexdigest() == expected


def test_a_worker_without_its_master_says_so_in_one_line() -> None:
    port = free_port()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "streambench", "load-worker", "--master", f"{HOST}:{port}",
         "--connect-timeout", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"streambench load-worker: error: cannot reach the master at {HOST}:{port} within 1 s "
        "(is `streambench compare --load locust` running there, and the port open?)"
    ]
    assert time.monotonic() - started < 30


OTHER_VERSION = """
import dataclasses, sys
from compare.load.locust.protocol import Identity
from compare.load.locust.worker import main
main(sys.argv[1:], identity=dataclasses.replace(Identity.here(), streambench="0.0.0-other"))
"""


@pytest.mark.timeout(150)
async def test_a_worker_on_another_version_is_refused(tmp_path: Path) -> None:
    port = free_port()
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OTHER_VERSION, "--master", f"{HOST}:{port}", "--connect-timeout", "90",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    choice = LocustOptions(workers=0, expect=1, master_bind=(HOST, port), wait_seconds=90)
    try:
        with pytest.raises(EngineError) as raised:
            async with start_locust(choice, tmp_path):
                pass
        _, stderr = await asyncio.wait_for(worker.communicate(), 90)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    message = str(raised.value)
    # At once, not after the wait: nothing more was to come.
    assert message.startswith("0 of 1 load worker(s) joined; refused: worker "), message
    assert "runs streambench 0.0.0-other" in message
    assert "\n" not in message
    assert worker.returncode == 1
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("streambench load-worker: error: refused by the master: worker ")
    assert "0.0.0-other" in lines[0]


ELSEWHERE = """
import dataclasses, sys
from compare.load.locust.protocol import Identity
from compare.load.locust.worker import main
main(sys.argv[1:], identity=dataclasses.replace(Identity.here(), host="elsewhere"))
"""


@pytest.mark.timeout(150)
async def test_a_loopback_server_is_not_sent_to_workers_on_other_machines(tmp_path: Path) -> None:
    port = free_port()
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ELSEWHERE, "--master", f"{HOST}:{port}", "--connect-timeout", "90",
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    choice = LocustOptions(workers=0, expect=1, master_bind=(HOST, port), wait_seconds=90)
    try:
        async with start_locust(choice, tmp_path) as engine:
            assert "1 worker(s): 1 on elsewhere" in engine.describe()
            with pytest.raises(EngineError, match="no load worker runs here"):
                await engine.run(RoundSpec(f"http://{HOST}:9/chunked", {}, {}, "text", 1, 1))
    finally:
        if worker.returncode is None:
            worker.kill()
        await worker.wait()


PIECES = 10
PIECE_SECONDS = 0.15
ROWS_PER_PIECE = 5


async def slow_rows(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Every request gets PIECES chunks of text rows, one each PIECE_SECONDS."""
    while True:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in range(PIECES):
            rows = b"".join(
                b"object_id:%d \n" % (piece * ROWS_PER_PIECE + n) for n in range(ROWS_PER_PIECE)
            )
            writer.write(b"%x\r\n%s\r\n" % (len(rows), rows))
            await writer.drain()
            await asyncio.sleep(PIECE_SECONDS)
        writer.write(b"0\r\n\r\n")
        await writer.drain()


@pytest.mark.timeout(150)
async def test_a_worker_killed_mid_round_leaves_a_partial_flagged_round(tmp_path: Path) -> None:
    async with (
        raw_server(slow_rows) as url,
        start_locust(LocustOptions(workers=2, expect=2), tmp_path) as engine,
    ):
        spec = RoundSpec(f"{url}/chunked", {}, {}, "text", PIECES * ROWS_PER_PIECE, 4)
        victim = engine.local_pids[0]
        during = asyncio.ensure_future(engine.run(spec))
        await asyncio.sleep(PIECES * PIECE_SECONDS / 3)
        os.kill(victim, signal.SIGKILL)
        partial = await during
        after = await engine.run(spec)

    failed = [t for t in partial.requests if not t.ok]
    assert len(partial.requests) == 4
    assert len(failed) == 2, [t.error for t in partial.requests]
    assert all(t.error and t.error.endswith(f"pid {victim} left mid-round") for t in failed)
    assert all(t.ok for t in partial.requests if t not in failed)
    assert partial.load is not None
    assert partial.load.processes == 1
    assert [t.ok for t in after.requests] == [True] * 4, "the run goes on with the worker left"
    assert after.load is not None
    assert after.load.processes == 1


@pytest.mark.timeout(180)
def test_a_compare_run_on_locust_names_its_engine(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("STREAMBENCH_JWT_SECRET", raising=False)
    monkeypatch.setenv("STREAMBENCH_POOL_SIZE", "4")
    out = tmp_path / "locust"
    argv = ["compare", "--ports", REFERENCE_PAIR, "--endpoints", "chunked", "--sources", "copy"]
    argv += ["--rows", "200", "--concurrency", "1,4", "--repeats", "1", "--out", str(out)]
    code = main([*argv, "--load", "locust", "--workers", "2"])
    printed = capsys.readouterr()
    assert code == 0, printed.err[-2000:]

    results = Results.load(out / "results.json")
    assert results.matrix.load == "locust"
    engine = results.environment.client
    assert engine.startswith("locust 2.")
    assert "2 worker(s): 2 on this machine" in engine
    assert [s.concurrency for s in results.scenarios] == [1, 4]
    for scenario in results.scenarios:
        assert scenario.errors == 0, scenario.error_examples
        assert scenario.requests == scenario.concurrency
        assert scenario.ttfb is not None
        assert scenario.total is not None
        assert scenario.arrival
    assert "locust 2." in (out / "index.html").read_text()
    assert (out / "results.csv").exists()


def _choice(*argv: str, paced: bool = False) -> tuple[str, LocustOptions]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client-processes")  # the processes engine's, beside them
    add_load_arguments(parser)
    return load_choice(parser.parse_args(argv), paced)


def test_load_options_say_what_to_give_instead() -> None:
    assert _choice() == ("processes", LocustOptions())
    assert _choice("--load", "locust", "--workers", "2") == ("locust", LocustOptions(2, 2))
    remote = _choice("--load", "locust", "--workers", "0", "--expect-workers", "3",
                     "--master-bind", "0.0.0.0:5557")  # fmt: skip
    assert remote == ("locust", LocustOptions(0, 3, ("0.0.0.0", 5557)))
    for argv, paced, message in [
        (("--workers", "2"), False, "--workers: only with --load locust"),
        (("--load", "locust", "--workers", "0"), False, "give --expect-workers N"),
        (("--load", "locust"), True, "leave out --read-rate"),
        (("--load", "locust", "--master-bind", "host:port"), False, "bad port"),
        (("--load", "locust", "--client-processes", "2"), False, "give --workers"),
    ]:
        with pytest.raises(LoadOptionError, match=message):
            _choice(*argv, paced=paced)
