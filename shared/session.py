"""The database session every data layer opens alike, whatever its driver.

Kept apart from the layers so that a server importing one driver imports no other: its memory
figures are its own layer's.
"""

from __future__ import annotations

__all__ = ["SERVER_SETTINGS", "application_name"]

# JIT compiles a plan once its estimated cost is high (here from ~4M rows on), adding
# milliseconds before the first row: a cost that streaming, which lives on its first byte,
# should not pay for a plain index scan. The COPY floor runs with it off too.
# TimeZone=UTC: the database writes timestamps in the session's offset when it writes a body
# itself (`copy`), and ours are UTC (the drivers' decoded rows are UTC whatever it is).
SERVER_SETTINGS = {"jit": "off", "TimeZone": "UTC"}


def application_name(pid: int) -> str:
    """How a server process's pooled connections name themselves in `pg_stat_activity`: an
    operator (and a test) can tell whose they are over TCP and Unix sockets alike."""
    return f"streambench pid {pid}"
