"""What a scenario's simultaneous streams did side by side: the far tail of their first bytes, how
evenly they were served, and whether any waited for another to finish before it started.

Pure: built from the requests its rounds timed and the server's open files sampled meanwhile
(compare/rounds.py), nothing measured here. Only good requests (status 200, every row) count:
a failed one is an error of its own, counted and flagged elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from .analysis import Flag
from .clients import RequestTiming, Round
from .results import StreamFigures
from .stats import Stats, percentile

__all__ = ["starved_flag", "stream_figures", "stream_throughput", "throughput_spread"]


def stream_throughput(request: RequestTiming) -> float | None:
    """Bytes per second of one stream from the moment it was asked for to its last byte.

    Over the whole request, not from its first byte: a stream that waited for a pooled connection
    or for the server to take it off its listen queue, and then ran at full speed, was served
    slowly, and that wait is what sets streams apart at high concurrency. Counting from the
    first byte would call a stream fair that waited seconds to start.
    """
    if not request.ok or request.total <= 0:
        return None
    return request.bytes / request.total


def throughput_spread(speeds: Sequence[float]) -> float | None:
    """The fastest stream's throughput over the slowest's, in one round: 1.0 is perfectly even,
    3.0 means one stream got a third of another's speed. A ratio of two streams a reader can
    picture, where a coefficient of variation needs statistics to read; it answers the issue's
    question (was anyone served far worse than another?) directly. None with fewer than two."""
    if len(speeds) < 2:
        return None
    slowest = min(speeds)
    return None if slowest <= 0 else max(speeds) / slowest


def starved(requests: Sequence[RequestTiming]) -> int:
    """How many good streams of one round got their first byte only after another good stream
    of the same round had already finished: it did not start until someone else was done (a
    pooled connection, a place in the server's listen queue or event loop, given back by a
    stream that ran its course).

    Only streamed responses are judged (`stream_figures`): a buffered body's first byte is its
    whole body, so two buffered requests finishing one after the other would make the second
    "starved" by this rule although both waited only for their own query. Their unevenness is
    in the spread.

    Times are compared on one clock (`sent`, when the request was sent; a request without it
    is taken to have been sent with the round's first, which gathering them at once makes
    true within milliseconds)."""
    good = [r for r in requests if r.ok and r.ttfb is not None]
    if len(good) < 2:
        return 0
    origin = min((r.sent for r in good if r.sent is not None), default=0.0)

    def start(r: RequestTiming) -> float:
        return r.sent if r.sent is not None else origin

    ends = sorted(start(r) + r.total for r in good)
    count = 0
    for request in good:
        first_byte = start(request) + (request.ttfb or 0.0)
        own_end = start(request) + request.total
        # The first end that is not this stream's own: any other stream finished before it began.
        earliest_other = ends[1] if ends[0] == own_end else ends[0]
        if earliest_other < first_byte:
            count += 1
    return count


def stream_figures(
    rounds: Sequence[Round], open_files: Sequence[int], streamed: bool = True
) -> StreamFigures | None:
    """The scenario's figures over its measured rounds; None when no request succeeded and no
    open file was counted. `streamed`: the endpoint sends rows as they come (`/chunked`), so
    its streams are judged for starvation; a buffered one's `starved` is None."""
    good = [r for round_ in rounds for r in round_.requests if r.ok]
    if not good and not open_files:
        return None
    first_bytes = sorted(r.ttfb for r in good if r.ttfb is not None)
    speeds = [s for r in good if (s := stream_throughput(r)) is not None]
    spreads = [
        spread
        for round_ in rounds
        if (
            spread := throughput_spread(
                [s for r in round_.requests if (s := stream_throughput(r)) is not None]
            )
        )
        is not None
    ]
    return StreamFigures(
        ttfb_p99=percentile(first_bytes, 99.0) if first_bytes else None,
        open_files=Stats.maybe(open_files),
        throughput=Stats.maybe(speeds),
        spread=Stats.maybe(spreads),
        starved=sum(starved(round_.requests) for round_ in rounds) if streamed else None,
        streams=len(good),
    )


def starved_flag(figures: StreamFigures | None) -> Flag | None:
    if figures is None or not figures.starved:
        return None
    return Flag(
        "starved",
        f"{figures.starved} of {figures.streams} streams got their first byte only after another "
        "stream of the same round had finished: they waited for a whole download before theirs "
        "began",
    )
