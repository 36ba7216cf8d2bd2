"""The command line when something is wrong: one line naming it, a nonzero status, no traceback,
and quickly. `serve` says where it listens once it does, on every port."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from compare.free_ports import HOST, free_port
from shared.pairs import split

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nothing"


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMBENCH_")}
    env["DATABASE_URL"] = database_url
    return env


def _run(*argv: str, database_url: str = UNREACHABLE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streambench", *argv],
        env=_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _assert_one_line(result: subprocess.CompletedProcess[str], command: str, *words: str) -> None:
    output = result.stdout + result.stderr
    where = f"streambench {command} (status {result.returncode}):\n{output}"
    assert result.returncode != 0, where
    assert "Traceback" not in output, where
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"one line expected from {where}"
    assert lines[0].startswith(f"streambench {command}"), where
    for word in words:
        assert word in lines[0], f"{word!r} missing from {where}"


@pytest.mark.parametrize(
    "argv", [("seed", "--rows", "10"), ("compare", "--quick")], ids=["seed", "compare"]
)
def test_unreachable_database_is_one_line(argv: tuple[str, ...]) -> None:
    result = _run(*argv)
    _assert_one_line(result, argv[0], "cannot reach the database", "127.0.0.1:1")
    assert result.returncode == 1


def test_serve_on_a_port_in_use_is_one_line(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("serve", "aiohttp", "--port", str(port), database_url=database_url)
    _assert_one_line(result, "serve", f"{HOST}:{port}", "--port")
    assert result.returncode == 1


def test_serve_refuses_an_impossible_port() -> None:
    result = _run("serve", "aiohttp", "--port", "99999")
    assert result.returncode == 2, result.stderr
    assert "65535" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("reachable", [True, False], ids=["database up", "database down"])
def test_serve_says_where_it_listens(port_name: str, database_url: str, reachable: bool) -> None:
    port = free_port()
    framework, server = split(port_name)
    on_server = ["--server", server] if server else []
    process = subprocess.Popen(
        [sys.executable, "-m", "streambench", "serve", framework, *on_server, "--port", str(port)],
        env=_env(database_url if reachable else UNREACHABLE),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        expected = 200 if reachable else 503
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != expected:
            try:
                status = httpx.get(f"http://{HOST}:{port}/healthz", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.05)
        assert status == expected, f"{port_name}: /healthz answered {status}"
        time.sleep(0.3)  # the announcement polls every 50 ms
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("streambench serve:")]
    listening = [line for line in lines if f"listening on http://{HOST}:{port}" in line]
    assert len(listening) == 1, f"{port_name}: say once where it listens:\n{output}"
    unreachable = [line for line in lines if "unreachable" in line]
    assert len(unreachable) == (0 if reachable else 1), f"{port_name}:\n{output}"


def test_a_concurrency_the_client_cannot_open_is_one_line() -> None:
    """Checked before anything starts (no database, no server): the limit is the hard one, which
    the comparator cannot raise."""

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    result = subprocess.run(
        [sys.executable, "-m", "streambench", "compare", "--concurrency", "1,1024"],
        env=_env(UNREACHABLE),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=low_limit,
    )
    _assert_one_line(result, "compare", "--concurrency: 1,024 connections at once", "may open 256")
    assert result.returncode == 2
