"""Which PostgreSQL the tests use: the one at `STREAMBENCH_TEST_ADMIN_URL`, or a throwaway embedded one.

CI and developer machines have a server at 127.0.0.1:5432 and use it. On a machine where nothing answers
there (only Python and uv installed), the session starts one embedded server of its own in a temporary
folder, shared by every xdist worker, and removes it at the end. A server that answers but refuses us
(a wrong password, say) is an error to see, not a reason to fall back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared import embedded

ADMIN_URL_ENV = "STREAMBENCH_TEST_ADMIN_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Set by the controlling process once it started the fallback, so that xdist workers (which inherit
# the environment) use that server instead of probing and starting their own.
_FALLBACK_ENV = "STREAMBENCH_TEST_EMBEDDED_PGDATA"
_PROBE_TIMEOUT = 3.0


def admin_url() -> str:
    """The admin URL of the server the tests use (resolved once per session by `resolve`)."""
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead, its query (an embedded server's socket) kept."""
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


@dataclass(frozen=True)
class Choice:
    wanted: str
    url: str
    fallback_pgdata: Path | None = None

    def describe(self) -> str:
        if self.fallback_pgdata is None:
            return f"postgres: {self.url}"
        return (
            f"postgres: nothing answered at {self.wanted}; the tests use a throwaway embedded "
            f"server in {self.fallback_pgdata.parent}, removed at the end"
        )


def resolve() -> Choice:
    """Pick the server, starting the fallback if nothing answers. Call once, in the controller."""
    wanted = admin_url()
    if os.environ.get(_FALLBACK_ENV) or _answers(wanted):
        return Choice(wanted, wanted)
    folder = Path(tempfile.mkdtemp(prefix="streambench-test-pg-"))
    folder.chmod(0o755)
    pgdata = folder / "pgdata"
    url: str = embedded.start(pgdata).get_uri()
    os.environ[_FALLBACK_ENV] = str(pgdata)
    os.environ[ADMIN_URL_ENV] = url
    return Choice(wanted, url, pgdata)


def release(choice: Choice) -> None:
    """Stop and remove the fallback server, if this session started one."""
    if choice.fallback_pgdata is None:
        return
    embedded.stop(choice.fallback_pgdata)
    shutil.rmtree(choice.fallback_pgdata.parent, ignore_errors=True)
    os.environ.pop(_FALLBACK_ENV, None)
    os.environ[ADMIN_URL_ENV] = choice.wanted


def _answers(url: str) -> bool:
    async def probe() -> None:
        connection = await asyncpg.connect(url, timeout=_PROBE_TIMEOUT)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, TimeoutError):
        return False
    return True
