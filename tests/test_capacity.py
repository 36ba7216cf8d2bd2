"""What a run can hold before it starts (compare/capacity.py): the memory-aware cap that leaves
cells out and says so, and the open files the client side needs for its connections."""

from __future__ import annotations

import argparse
import resource

import pytest

from compare.capacity import (
    CLIENT_RESERVED_FILES,
    check_open_files,
    estimated_held_bytes,
    open_files_needed,
    usable_file_limit,
)
from compare.command import client_files_problem
from compare.options import Cell, add_arguments, options_from_args, plan

PAIR = "aiohttp@aiohttp"


def _options(*argv: str):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return options_from_args(parser.parse_args(["--ports", PAIR, *argv]), [(PAIR, None)], [PAIR])


def test_estimate_is_bodies_held_times_body_times_requests() -> None:
    # 500,000 text rows of about 18 bytes, held 9 times over by a buffered fetch, 1,024 at once.
    assert estimated_held_bytes("standard", "fetch", 500_000, "text", 1024) == (
        9 * 500_000 * 18 * 1024
    )
    assert estimated_held_bytes("chunked", "cursor", 500_000, "ndjson", 1024) == 0


def test_cells_over_the_memory_cap_are_left_out_and_named() -> None:
    options = _options(
        "--rows", "10000,500000", "--concurrency", "1,1024", "--sources", "fetch,cursor",
        "--memory-cap", "4096",
    )  # fmt: skip
    cells, note = plan(options)
    kept = {(c.endpoint, c.source, c.rows, c.concurrency) for c in cells}
    # Streamed cursor runs at every size and concurrency: it holds a batch or two.
    assert ("chunked", "cursor", 500_000, 1024) in kept
    assert ("standard", "fetch", 10_000, 1024) in kept  # 1.66 GB, under 4.3 GB
    assert ("standard", "fetch", 500_000, 1024) not in kept
    assert ("chunked", "fetch", 500_000, 1024) not in kept
    assert ("standard", "fetch", 500_000, 1) in kept
    assert "left out over the 4.3 GB memory cap" in note
    assert "/standard?source=fetch 500,000 rows text x 1,024 (about 82.9 GB)" in note
    assert "/chunked?source=fetch 500,000 rows text x 1,024 (about 55.3 GB)" in note
    assert "/standard?source=cursor 500,000 rows text x 1,024 (about 9.2 GB)" in note
    assert "/chunked?source=cursor" not in note


def test_the_default_run_is_not_touched_by_the_memory_cap() -> None:
    cells, note = plan(_options())
    assert "memory cap" not in note
    assert len(cells) == len(plan(_options("--memory-cap", "100000"))[0])


def test_open_files_needed_splits_the_connections_over_processes() -> None:
    assert open_files_needed(1024, 1) == 1024 + CLIENT_RESERVED_FILES
    assert open_files_needed(1024, 3) == 342 + CLIENT_RESERVED_FILES
    with pytest.raises(ValueError, match="at least 1"):
        open_files_needed(1024, 0)


def test_check_open_files_is_one_line_naming_what_fits() -> None:
    assert check_open_files(1024, 1, 4096) is None
    problem = check_open_files(1024, 1, 1024)
    assert problem is not None
    assert "\n" not in problem
    assert problem.startswith("--concurrency: 1,024 connections at once need 1,152 open files")
    assert f"ask for {1024 - CLIENT_RESERVED_FILES:,} at most" in problem
    # Several processes, each with a limit of its own: 1,024 over 4 fit under 1,024 each.
    assert check_open_files(1024, 4, 1024) is None
    assert "split over 2 processes" in (check_open_files(4096, 2, 1024) or "")


def test_paced_readers_keep_a_second_clients_connections() -> None:
    cells = [Cell("chunked", 10, "text", 512, "cursor", 1e6), Cell("chunked", 10, "text", 1)]
    assert client_files_problem(cells, processes=1, limit=1024) is not None
    assert client_files_problem(cells[1:], processes=1, limit=1024) is None


def test_usable_limit_raises_the_soft_limit_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        limit = usable_file_limit()
        assert limit == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert limit >= min(hard, 1 << 20) or hard == resource.RLIM_INFINITY
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
