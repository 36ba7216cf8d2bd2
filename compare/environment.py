"""Where a run happened: machine, versions, commit, database. Read once per run."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from shared.servers.registry import installed_version
from shared.settings import redact_url

from .results import DatabaseInfo, Environment, StreambenchInfo

_REPO = Path(__file__).resolve().parent.parent


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_folder() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=_REPO, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def streambench_info() -> StreambenchInfo:
    try:
        version = importlib.metadata.version("streambench")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    commit = _git("rev-parse", "--short=12", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return StreambenchInfo(version, commit or None, None if status is None else bool(status))


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


# What every port's figures also depend on; the frameworks and servers are in each port's entry.
LIBRARIES = (
    "asyncpg",
    "sqlalchemy",
    "uvloop",
    "httptools",
    "orjson",
    "anyio",
    "h11",
    "httpx",
    "aiohttp",
)

# Set by whoever laid the processes out (the compose stack names its cpusets here).
LAYOUT_ENV = "STREAMBENCH_LAYOUT"


def layout(database_url: str, local_ports: Sequence[str], targets: Mapping[str, str]) -> str:
    """Where the client, the servers and the database ran, as far as this process can tell."""
    if os.environ.get(LAYOUT_ENV):
        return os.environ[LAYOUT_ENV]
    host = urlsplit(database_url).hostname or "a local socket"
    parts = ["client on this host"]
    if local_ports:
        parts.append(f"{', '.join(local_ports)} started here, one process each")
    parts += [f"{name} at {url}" for name, url in targets.items()]
    parts.append(f"PostgreSQL at {host}")
    return "; ".join(parts)


def describe(
    database_url: str,
    server_version: str | None,
    embedded: bool,
    layout: str,
    layer_libraries: Sequence[str] = (),
    client: str = "",
) -> Environment:
    """The environment; `layer_libraries` are what the run's data layers need besides
    `LIBRARIES` (psycopg, its pool, Django), whose versions are recorded too; `client` is the
    measuring client and its version (httpx's when not given)."""
    return Environment(
        python=platform.python_version(),
        platform=platform.platform(),
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count(),
        memory_bytes=psutil.virtual_memory().total,
        client=client or f"httpx {importlib.metadata.version('httpx')}",
        layout=layout,
        libraries={
            name: installed_version(name) for name in dict.fromkeys([*LIBRARIES, *layer_libraries])
        },
        database=DatabaseInfo(redact_url(database_url), server_version, embedded),
    )
