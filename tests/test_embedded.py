"""The zero-setup default: the embedded server starts, seeds, answers and stops."""

from __future__ import annotations

import asyncio
import shutil
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


def test_a_program_deleted_while_it_runs_is_told_apart(tmp_path: Path) -> None:
    program = tmp_path / "sleeper"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    process = subprocess.Popen([str(program), "30"])
    try:
        assert not embedded.installation_gone(process.pid)
        program.unlink()
        assert embedded.installation_gone(process.pid)
    finally:
        process.kill()
        process.wait()
    assert not embedded.installation_gone(process.pid), "a process that is gone is not asked"


def test_a_server_whose_installation_is_gone_is_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout removed while its embedded server ran leaves a server without its share
    files, which refuses every session: the next command restarts it from its own wheel."""
    settings = Settings(cache_dir=tmp_path / "cache")
    pgdata = embedded.data_dir(settings)
    embedded.database_url(settings)
    try:
        first = embedded._postmaster_pid(pgdata)
        assert first is not None
        monkeypatch.setattr(embedded, "installation_gone", lambda pid: pid == first)
        url = embedded.database_url(settings)
        second = embedded._postmaster_pid(pgdata)
        assert second is not None
        assert second != first, "the server left by a deleted installation was joined"

        async def answers() -> int:
            connection = await asyncpg.connect(url)
            try:
                return int(await connection.fetchval("SELECT 1"))
            finally:
                await connection.close()

        assert asyncio.run(answers()) == 1
    finally:
        embedded.stop(pgdata)
