"""The zero-setup default: the embedded server starts, seeds, answers and stops."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from shared import embedded
from shared.database import create_database
from shared.encoders import ENCODERS, encode_all
from shared.seed import seed
from shared.settings import Settings

pytestmark = pytest.mark.embedded


def test_embedded_server_lifecycle(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path / "cache")
    pgdata = embedded.data_dir(settings)

    async def use(url: str) -> bytes:
        connection = await asyncpg.connect(url)
        try:
            await seed(connection, 500)
        finally:
            await connection.close()
        db = await create_database(settings, url)
        try:
            return encode_all(ENCODERS["text"], await db.fetch_all(("id",), 3))
        finally:
            await db.dispose()

    url = embedded.database_url(settings)
    assert "host=" in url
    assert asyncio.run(use(url)) == b"object_id:1 \nobject_id:2 \nobject_id:3 \n"
    # A second command (another process) joins the same server instead of starting another.
    printed = subprocess.run(
        [sys.executable, "-m", "streambench", "db"],
        env={"STREAMBENCH_CACHE_DIR": str(settings.cache_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert printed == url
    assert embedded.stop(pgdata) is True
    assert embedded.stop(pgdata) is False
    # Restarted on the same data directory, the data set is still there.
    url = embedded.database_url(settings)
    try:
        assert asyncio.run(use(url)).startswith(b"object_id:1 \n")
    finally:
        embedded.stop(pgdata)
