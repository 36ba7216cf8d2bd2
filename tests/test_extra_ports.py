"""A port from outside the repository, registered through `STREAMBENCH_EXTRA_PORTS` alone, is
picked up like any registered port: the conformance suite runs for it (on its default server and
the others) and `compare` verifies and times it. Nothing in the repository names it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

OUTSIDE_PORT = """
from shared.ports import PortDescriptor

PORT = PortDescriptor(
    name="outside",
    framework="starlette",
    factory="impl_starlette.app:create_app",
    details="registered from outside the repository",
)
"""


@pytest.fixture
def outside_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    package = tmp_path / "elsewhere"
    package.mkdir()
    (package / "outside_port.py").write_text(OUTSIDE_PORT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package), env.get("PYTHONPATH")]))
    env["STREAMBENCH_EXTRA_PORTS"] = "outside=outside_port:PORT"
    env["DATABASE_URL"] = database_url
    return env


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_conformance_suite_runs_for_an_outside_port(outside_env: dict[str, str]) -> None:
    command = [
        sys.executable, "-m", "pytest", "tests/test_conformance_data.py",
        "-k", "outside and uvicorn", "-n", "0", "-p", "no:cacheprovider",
        "-q", "-rA",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=ROOT, env=outside_env, capture_output=True, text=True, timeout=580
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    passed = [line for line in output.splitlines() if line.startswith("PASSED")]
    assert passed, output[-6000:]
    assert all("outside@uvicorn" in line for line in passed), passed


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_compare_verifies_and_times_an_outside_port(
    outside_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "streambench", "compare", "--ports", "outside",
        "--rows", "200", "--concurrency", "1", "--repeats", "1", "--out", str(out),
        # One server for every scenario: what is tested is that the port is found.
        "--reuse-servers",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=ROOT, env=outside_env, capture_output=True, text=True, timeout=580
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    results = json.loads((out / "results.json").read_text())
    (port,) = results["ports"]
    assert port["name"] == "outside@uvicorn"
    assert port["verification"]["passed"], port["verification"]
    assert {s["port"] for s in results["scenarios"]} == {"outside@uvicorn"}
