"""The read-rate axis: parsing rates, pacing a reader, and the flags a paced scenario can get."""

from __future__ import annotations

import argparse
import dataclasses
import time

import pytest

from compare.analysis import Flag
from compare.options import Cell, add_arguments, options_from_args, plan
from compare.read_rates import Pacer, ReadRateError, format_rate, parse_read_rates
from compare.results import Stats
from compare.scenarios import buffers_ahead, rate_unreached

MB = 1_000_000


@pytest.mark.parametrize(
    ("raw", "rates"),
    [
        ("max", (None,)),
        ("1MB/s", (1e6,)),
        ("1MB/s,10MB/s,max", (None, 10e6, 1e6)),
        (" 512KiB/s , 2.5MB ", (2.5e6, 512 * 1024)),
        ("100kB/s,1GB/s", (1e9, 1e5)),
    ],
)
def test_rates_parse_fastest_first(raw: str, rates: tuple[float | None, ...]) -> None:
    assert parse_read_rates(raw) == rates


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0MB/s", "must be above zero"),
        ("-1MB/s", "must be above zero"),
        ("1 furlong/s", "unknown unit 'furlong'"),
        ("fast", "is not a read rate"),
        ("1MB/s,,max", "empty item"),
        ("1MB/s,1000kB/s", "given twice"),
        ("", "at least one"),
    ],
)
def test_bad_rates_say_what_to_give(raw: str, message: str) -> None:
    with pytest.raises(ReadRateError, match=message):
        parse_read_rates(raw)


def test_rates_read_back_as_written() -> None:
    assert [format_rate(r) for r in (None, 1e6, 2.5e6, 512_000, 3e9, 20)] == [
        "max", "1MB/s", "2.5MB/s", "512kB/s", "3GB/s", "20B/s",
    ]  # fmt: skip
    # Just under a unit's boundary: rounded into the larger unit, never 1e+03MB/s.
    assert [format_rate(r) for r in (999_600_000.0, 999_440.3, 999_400.0)] == [
        "1GB/s", "999kB/s", "999kB/s",
    ]  # fmt: skip


async def test_a_pacer_keeps_the_reader_to_its_rate() -> None:
    pacer = Pacer(10 * MB)
    started = time.perf_counter()
    await pacer.wait(0)  # the first byte: the clock starts
    for received in range(100_000, 1_000_001, 100_000):
        await pacer.wait(received)
    # 1 MB at 10 MB/s: never sooner than 0.1 s (sleeping never ends early).
    assert time.perf_counter() - started >= 0.1


async def test_without_a_rate_the_pacer_never_waits() -> None:
    pacer = Pacer(None)
    started = time.perf_counter()
    for received in range(0, 10**9, 10**8):
        await pacer.wait(received)
    assert time.perf_counter() - started < 1.0


def _options(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_each_rate_is_a_cell_of_its_own() -> None:
    args = _options("--endpoints", "chunked", "--rows", "10", "--concurrency", "1")
    args.read_rate = "1MB/s,max"
    options = options_from_args(args, [("aiohttp@aiohttp", None)], ["aiohttp@aiohttp"])
    assert options.read_rates == (None, 1e6)
    cells, note = plan(options)
    assert {(c.source, c.read_rate) for c in cells} == {
        (source, rate) for source in options.sources for rate in (None, 1e6)
    }
    assert "bodies read at max, 1MB/s" in note


def _cell(source: str = "cursor", endpoint: str = "chunked", concurrency: int = 2) -> Cell:
    return Cell(endpoint, 1000, "text", concurrency, source, 1e6)  # type: ignore[arg-type]


def _stats(value: float) -> Stats:
    return Stats.of([value])


def test_memory_of_about_a_body_per_stream_buffers_ahead() -> None:
    body = 20 * MB
    flag = buffers_ahead(_cell(), _stats(2 * 15 * MB), body)
    assert isinstance(flag, Flag)
    assert flag.name == "buffers-ahead"
    assert "15.0 MB of server memory per open stream" in flag.reason
    # A chunk or two per stream, or a small body, or a fetch (every row by design): no flag.
    assert buffers_ahead(_cell(), _stats(2 * 1 * MB), body) is None
    assert buffers_ahead(_cell(), _stats(2 * 3 * MB), 4 * MB) is None
    assert buffers_ahead(_cell("fetch"), _stats(2 * 15 * MB), body) is None
    assert buffers_ahead(_cell(endpoint="standard"), _stats(2 * 15 * MB), body) is None
    # Read at full speed nothing waits for the reader: a server's own growth is no buffering.
    full_speed = dataclasses.replace(_cell(), read_rate=None)
    assert buffers_ahead(full_speed, _stats(2 * 15 * MB), body) is None


def test_a_rate_not_reached_is_flagged_with_what_was_reached() -> None:
    flag = rate_unreached(10 * MB, _stats(4 * MB))
    assert flag is not None
    assert "asked to read at 10MB/s, the readers reached 4MB/s" in flag.reason
    assert rate_unreached(10 * MB, _stats(9.5 * MB)) is None
    assert rate_unreached(None, _stats(1 * MB)) is None
