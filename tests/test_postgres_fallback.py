"""The README's test command on a machine without PostgreSQL: the session brings its own server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ._postgres import ADMIN_URL_ENV

pytestmark = pytest.mark.embedded

ROOT = Path(__file__).resolve().parent.parent


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_session_with_no_postgres_runs_on_a_throwaway_embedded_server() -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    env = {name: value for name, value in os.environ.items() if not name.startswith("STREAMBENCH_")}
    env[ADMIN_URL_ENV] = nowhere
    # One database test is enough: it needs the session's seeded database, so it passes only if
    # the fallback server started, took the seed and answered.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_database.py::test_exhausted",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "1 passed" in output, output
    said = re.search(
        r"nothing answered at (\S+); the tests use a throwaway embedded server in (\S+)", output
    )
    assert said, f"the session did not say it fell back:\n{output}"
    assert said.group(1) == nowhere
    folder = Path(said.group(2).rstrip(","))
    assert not folder.exists(), f"the throwaway server's folder {folder} was left behind"
    leftovers = subprocess.run(
        ["pgrep", "-f", f"postgres.*{folder}"], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout == "", f"a postgres server on {folder} still runs: {leftovers.stdout}"
