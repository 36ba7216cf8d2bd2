"""A scenario's streams side by side (compare/streams.py): first byte percentiles, per-stream
throughput and its spread, and the rule that calls a stream starved."""

from __future__ import annotations

import pytest

from compare.clients import RequestTiming, Round
from compare.streams import (
    starved,
    starved_flag,
    stream_figures,
    stream_throughput,
    throughput_spread,
)


def request(
    sent: float | None, ttfb: float, total: float, size: int = 1000, ok: bool = True
) -> RequestTiming:
    return RequestTiming(
        ok=ok,
        error=None if ok else "status 503",
        status=200 if ok else 503,
        headers=ttfb,
        ttfb=ttfb,
        total=total,
        bytes=size if ok else 0,
        rows=10 if ok else 0,
        chunks=1,
        sent=sent,
    )


def test_throughput_counts_the_wait_before_the_first_byte() -> None:
    """Bytes over the whole request: a stream that waited 0.9 s and then read in 0.1 s was
    served at a tenth of the speed of one that started at once."""
    quick = request(0.0, 0.0, 0.1)
    waited = request(0.0, 0.9, 1.0)
    assert stream_throughput(quick) == pytest.approx(10_000)
    assert stream_throughput(waited) == pytest.approx(1_000)
    assert stream_throughput(request(0.0, 0.1, 0.2, ok=False)) is None


def test_spread_is_fastest_over_slowest() -> None:
    assert throughput_spread([1_000.0, 4_000.0, 2_000.0]) == pytest.approx(4.0)
    assert throughput_spread([5.0, 5.0]) == pytest.approx(1.0)
    assert throughput_spread([5.0]) is None


def test_a_stream_that_starts_after_another_finished_is_starved() -> None:
    # Two served at once, a third queued behind the first: its first byte at 1.1 s, after the
    # first stream ended at 1.0 s.
    round_ = [request(0.0, 0.1, 1.0), request(0.0, 0.1, 1.2), request(0.0, 1.1, 2.0)]
    assert starved(round_) == 1


def test_overlapping_streams_are_not_starved() -> None:
    """Every first byte before any end: slow or not, nobody waited for a whole download."""
    round_ = [request(0.0, 0.1, 1.0), request(0.0, 0.5, 2.0), request(0.0, 0.9, 3.0)]
    assert starved(round_) == 0
    # A failed stream's end does not count: it was not served, it was refused.
    assert starved([request(0.0, 0.0, 0.01, ok=False), request(0.0, 0.5, 1.0)]) == 0


def test_the_rule_uses_when_each_request_was_sent() -> None:
    """A request sent late whose first byte came late by its own clock, but before the other
    stream finished on the shared one, is not starved; the same timings all sent at 0 would be."""
    late = request(5.0, 1.2, 2.0)  # first byte at 6.2 s
    early = request(0.0, 0.1, 7.0)  # ends at 7.0 s
    assert starved([early, late]) == 0
    assert starved([request(None, 0.1, 1.0), request(None, 1.2, 2.0)]) == 1


def test_figures_over_rounds() -> None:
    first = Round([request(0.0, t / 100, 1.0) for t in range(1, 101)], 1.0)
    second = Round([request(10.0, 0.1, 1.0), request(10.0, 1.5, 2.0)], 2.0)
    figures = stream_figures([first, second], [120, 130])
    assert figures is not None
    assert figures.streams == 102
    assert figures.starved == 1
    # 0.01 .. 1.00 plus 0.1 and 1.5, sorted: numpy's linear interpolation at 99% of the way
    # from the first to the 102nd lies between the 100th (0.99) and 101st (1.00) first bytes.
    assert figures.ttfb_p99 == pytest.approx(0.99 + 0.99 * 0.01)
    assert figures.open_files is not None
    assert figures.open_files.max == 130
    assert figures.spread is not None
    # Round 1: every stream the same speed; round 2: 1000 B/s against 500 B/s.
    assert sorted(figures.spread.samples) == pytest.approx([1.0, 2.0])
    assert figures.throughput is not None
    assert figures.throughput.count == 102


def test_a_buffered_response_is_not_judged_for_starvation() -> None:
    """Its first byte is its whole body: one after another, each waited for its own query."""
    one_after_another = [Round([request(0.0, 0.1, 0.1), request(0.0, 0.2, 0.2)], 0.2)]
    streamed = stream_figures(one_after_another, [])
    buffered = stream_figures(one_after_another, [], streamed=False)
    assert streamed is not None
    assert streamed.starved == 1
    assert buffered is not None
    assert buffered.starved is None
    assert starved_flag(buffered) is None
    assert buffered.spread is not None  # its unevenness is still measured


def test_no_proc_means_no_open_files_not_zero() -> None:
    figures = stream_figures([Round([request(0.0, 0.1, 1.0)], 1.0)], [])
    assert figures is not None
    assert figures.open_files is None
    assert stream_figures([], []) is None


def test_starved_flag_names_how_many_of_how_many() -> None:
    figures = stream_figures(
        [Round([request(0.0, 0.1, 1.0), request(0.0, 1.1, 2.0), request(0.0, 0.2, 1.5)], 2.0)],
        [],
    )
    flag = starved_flag(figures)
    assert flag is not None
    assert flag.name == "starved"
    assert flag.reason.startswith("1 of 3 streams got their first byte only after")
    fair = stream_figures([Round([request(0.0, 0.1, 1.0), request(0.0, 0.2, 1.0)], 1.0)], [])
    assert starved_flag(fair) is None
