"""Real parts only: a database of our own on a real PostgreSQL, ports as real server processes.

Each run creates `streambench_test_<random>` on the server at `STREAMBENCH_TEST_ADMIN_URL` (default:
the machine's PostgreSQL at 127.0.0.1:5432), seeds it, and drops it at the end. When nothing answers
there, the session starts a throwaway embedded server instead (`tests/_postgres.py`).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest

from shared.database import Database, create_database
from shared.pairs import available_pairs
from shared.seed import seed
from shared.settings import Settings

from . import _postgres
from ._postgres import admin_url, with_database
from ._scheduling import PairScheduling
from .servers import ServerPool

TEST_ROWS = 100_000
SMALL_ROWS = 3_000
# What the cross-port tests compare every other pair with: the reference port on its own server.
REFERENCE_PAIR = "aiohttp@aiohttp"
JWT_SECRET = "streambench-test-secret-of-32-bytes!"


_POSTGRES = pytest.StashKey[_postgres.Choice]()


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> PairScheduling | None:
    if config.getvalue("dist") != "loadscope":
        return None
    return PairScheduling(config, log, [name for name, _, _ in available_pairs()])


def pytest_configure(config: pytest.Config) -> None:
    # Only the controlling process chooses; xdist workers inherit its choice through the environment.
    if not hasattr(config, "workerinput"):
        config.stash[_POSTGRES] = _postgres.resolve()


def pytest_unconfigure(config: pytest.Config) -> None:
    choice = config.stash.get(_POSTGRES, None)
    if choice is not None:
        _postgres.release(choice)


def pytest_report_header(config: pytest.Config) -> list[str]:
    choice = config.stash.get(_POSTGRES, None)
    return [choice.describe()] if choice is not None else []


@contextlib.asynccontextmanager
async def _test_database(rows: int) -> AsyncIterator[str]:
    name = f"streambench_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = with_database(admin_url(), name)
        connection = await asyncpg.connect(url)
        try:
            await seed(connection, rows)
        finally:
            await connection.close()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    async with _test_database(TEST_ROWS) as url:
        yield url


@pytest.fixture(scope="session")
async def small_database_url() -> AsyncIterator[str]:
    """A data set of SMALL_ROWS for the fuzzing and the compare verification: hundreds of
    requests each, and a body's size says nothing they check, so small bodies keep them quick."""
    async with _test_database(SMALL_ROWS) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, pool_size=4, pool_timeout=2.0)


@pytest.fixture
async def database(settings: Settings, database_url: str) -> AsyncIterator[Database]:
    db = await create_database(settings, database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own to the test database (for pg_stat_activity and such)."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


def pair_params(*, exclude: tuple[str, ...] = ()) -> list[Any]:
    """Every registered (port, server) pair as a test parameter named `port@server`.

    Each pair's tests run in one worker (`tests/_scheduling.py`), which starts that pair's
    servers once; a pair that cannot run here is skipped with the reason.
    """
    params = []
    for name, _, reason in available_pairs():
        if name in exclude:
            continue
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def http2_pair_params() -> list[Any]:
    """Every registered pair whose server speaks HTTP/2 (its descriptor says so), as test
    parameters named `port@server`; a pair that cannot run here is skipped with the reason."""
    params = []
    for name, pair, reason in available_pairs():
        if pair is None:
            skip = pytest.mark.skip(reason=reason or "unavailable")
            params.append(pytest.param(name, marks=[skip], id=name))
        elif "2" in pair.http_versions:
            params.append(pytest.param(name, id=name))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "port_name" in metafunc.fixturenames:
        metafunc.parametrize("port_name", pair_params())
    elif "other_port" in metafunc.fixturenames:
        # Cross-port tests: each pair against the reference pair, so `-k PORT` selects them too.
        metafunc.parametrize("other_port", pair_params(exclude=(REFERENCE_PAIR,)))


@pytest.fixture(scope="session")
def servers(settings: Settings) -> Iterator[ServerPool]:
    pool = ServerPool(settings)
    try:
        yield pool
    finally:
        pool.stop_all()
