"""What a run can hold before it starts: the memory a scenario would make a server keep, against
the run's memory cap, and the file descriptors the client side needs, against its limit.

Pure but for `usable_file_limit`, which raises this process's soft limit to the hard one as
load tools do (a shell's default soft limit, 1,024, is below what 1,024 streams need). The server
processes the comparator starts inherit the raised limit: a server that still runs out of
descriptors fails requests, which are counted and flagged as errors like any other.
"""

from __future__ import annotations

import math
import resource

__all__ = [
    "CLIENT_RESERVED_FILES",
    "HELD_BODIES",
    "ROW_BYTES",
    "check_open_files",
    "estimated_held_bytes",
    "open_files_needed",
    "usable_file_limit",
]

# What a response of each kind holds at its peak, in bodies, roughly (the README's run at 500,000
# rows: a buffered `fetch` about 9 bodies, a streamed `fetch` about 6, buffered `cursor` and `copy`
# about one, streamed `cursor` and `copy` a batch or two whatever the size).
HELD_BODIES: dict[tuple[str, str], int] = {
    ("chunked", "copy"): 0,
    ("chunked", "cursor"): 0,
    ("chunked", "keyset"): 0,
    ("standard", "copy"): 1,
    ("standard", "cursor"): 1,
    ("standard", "keyset"): 1,
    ("chunked", "fetch"): 6,
    ("standard", "fetch"): 9,
}
# Bytes per row of each format in the data set, roughly: a body's size before it is measured.
ROW_BYTES = {"text": 18, "ndjson": 285, "csv": 220, "json": 287}
# Descriptors a comparator process holds beside its measuring connections: the interpreter and
# its imports, the control client's and the spare measuring connections, the database
# connection that watches the servers' backends, log files, the pipes to the memory server.
CLIENT_RESERVED_FILES = 128


def estimated_held_bytes(
    endpoint: str, source: str, rows: int, format: str, concurrency: int
) -> int:
    """What a server would hold at once for `concurrency` such requests: the bodies each holds
    at its peak, times the body's size, times the requests. A streamed `cursor` or `copy` holds a
    batch or two whatever the size: 0 bodies, never over a cap."""
    bodies = HELD_BODIES.get((endpoint, source), 1)
    return bodies * rows * ROW_BYTES.get(format, 300) * concurrency


def open_files_needed(concurrency: int, processes: int) -> int:
    """File descriptors each client process needs to keep `concurrency` connections open at
    once when the requests are split over `processes` processes (each has a limit of its own):
    its share of the connections, rounded up, and what it holds besides."""
    if concurrency < 1 or processes < 1:
        raise ValueError("open_files_needed: concurrency and processes are at least 1")
    return math.ceil(concurrency / processes) + CLIENT_RESERVED_FILES


def check_open_files(
    concurrency: int, processes: int, limit: int, *, option: str = "--concurrency"
) -> str | None:
    """One line saying why `concurrency` connections cannot be opened under `limit` descriptors
    per process, or None when they can."""
    needed = open_files_needed(concurrency, processes)
    if needed <= limit:
        return None
    split = f" split over {processes} processes" if processes > 1 else ""
    most = max(limit - CLIENT_RESERVED_FILES, 0) * processes
    return (
        f"{option}: {concurrency:,} connections at once{split} need {needed:,} open files per "
        f"client process, and this process may open {limit:,} (ulimit -n; the hard limit "
        f"allows no more): ask for {most:,} at most, or raise the hard limit"
    )


def usable_file_limit() -> int:
    """This process's limit on open files, after raising the soft limit to the hard one where the
    system allows it (a shell's default soft limit, 1,024, is below what 1,024 streams need)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass  # not allowed here: the soft limit is what there is
    return soft if soft != resource.RLIM_INFINITY else 1 << 30
