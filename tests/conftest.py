"""Real parts only: a database of our own on a real PostgreSQL, ports as real server processes.

Each run creates `streambench_test_<random>` on the server at `STREAMBENCH_TEST_ADMIN_URL` (default:
the machine's PostgreSQL at 127.0.0.1:5432), seeds it, and drops it at the end. When nothing answers
there, the session starts a throwaway embedded server instead (`tests/_postgres.py`).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from shared.database import Database, create_database
from shared.ports import available_ports
from shared.seed import seed
from shared.settings import Settings

from . import _postgres
from ._postgres import admin_url, with_database
from .servers import ServerPool

TEST_ROWS = 100_000
JWT_SECRET = "streambench-test-secret-of-32-bytes!"


_POSTGRES = pytest.StashKey[_postgres.Choice]()


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


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    name = f"streambench_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = with_database(admin_url(), name)
        connection = await asyncpg.connect(url)
        try:
            await seed(connection, TEST_ROWS)
        finally:
            await connection.close()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "port_name" in metafunc.fixturenames:
        params = [
            pytest.param(name, marks=[pytest.mark.skip(reason=reason)] if reason else [])
            for name, _, reason in available_ports()
        ]
        metafunc.parametrize("port_name", params)


@pytest.fixture(scope="session")
def servers(settings: Settings) -> Iterator[ServerPool]:
    pool = ServerPool(settings)
    try:
        yield pool
    finally:
        pool.stop_all()
