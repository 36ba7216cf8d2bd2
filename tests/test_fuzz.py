"""Fuzz every port against the written contract (docs/openapi.yaml) with schemathesis, every
check on: statuses, content types, headers and bodies must be what the contract documents, invalid
input must be rejected, valid input accepted, unsupported methods refused.

The servers run with metrics on, so every documented route exists (with metrics off `/metrics` is
an unknown path, which the conformance suite checks). The spec documents auth as optional because
it is a deployment choice; with auth on, the fuzzer gets the spec as deployed (auth required), so
its `ignored_auth` check proves the token is enforced instead of skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.auth import make_token
from shared.pairs import load_pair

from .conftest import JWT_SECRET
from .servers import ServerPool

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "openapi.yaml"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def _spec_as_deployed(tmp_path: Path, auth_enabled: bool) -> Path:
    spec = yaml.safe_load(SPEC.read_text())
    if auth_enabled:
        for path_item in spec["paths"].values():
            for operation in path_item.values():
                requirements = operation.get("security") if isinstance(operation, dict) else None
                if requirements:
                    operation["security"] = [r for r in requirements if r] or requirements
    deployed = tmp_path / "openapi.yaml"
    deployed.write_text(yaml.safe_dump(spec, sort_keys=False))
    return deployed


# Examples per operation. Each pair is fuzzed with and without auth; the port on its default
# server gets the full count, a port on another server fewer: the app is the same, what the
# server can change (framing, refusals of malformed requests, headers) shows in fewer examples.
DEFAULT_EXAMPLES = 40
OTHER_SERVER_EXAMPLES = 12


def _examples(port_name: str) -> int:
    return DEFAULT_EXAMPLES if load_pair(port_name).default else OTHER_SERVER_EXAMPLES


def _fuzz(
    url: str, tmp_path: Path, examples: int, *extra: str, auth_enabled: bool = False
) -> subprocess.CompletedProcess[str]:
    spec = _spec_as_deployed(tmp_path, auth_enabled)
    command = [
        str(SCHEMATHESIS), "run", str(spec), "--url", url,
        "--checks", "all",
        "--max-examples", str(examples),
        "--seed", "20261125",
        "--generation-database", "none",
        "--request-timeout", "30",
        "--workers", "1",
        "--no-color",
        "--report-dir", str(tmp_path),
        *extra,
    ]  # fmt: skip
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )


# Several hundred real requests, some of 100,000 rows: over the suite's 120 s default when the
# machine is busy. The subprocess has its own 600 s limit.
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fuzz_against_the_contract(
    port_name: str, servers: ServerPool, small_database_url: str, tmp_path: Path
) -> None:
    if not SPEC.exists():
        pytest.fail(f"{SPEC} is missing: the contract must be written down")
    # The server keeps the default STREAMBENCH_MAX_ROWS, the spec's `maximum`, so the fuzzer's
    # boundary cases (10000000 accepted, 10000001 refused) test the real limit; the small data
    # set (SMALL_ROWS) bounds every body, which keeps a run short.
    server = servers.get(port_name, metrics=True, database_url=small_database_url)
    result = _fuzz(server.url, tmp_path, _examples(port_name))
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fuzz_with_auth_on(
    port_name: str, servers: ServerPool, small_database_url: str, tmp_path: Path
) -> None:
    if not SPEC.exists():
        pytest.fail(f"{SPEC} is missing: the contract must be written down")
    server = servers.get(
        port_name, jwt_secret=JWT_SECRET, metrics=True, database_url=small_database_url
    )
    token = make_token(JWT_SECRET, ttl=3600)
    header = f"Authorization: JWT {token}"
    result = _fuzz(
        server.url, tmp_path, _examples(port_name), "--header", header, auth_enabled=True
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
