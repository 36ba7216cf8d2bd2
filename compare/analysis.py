"""Pure arithmetic on measurements: row counting, curve thinning, flags. No I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .results import ClientCeiling, Stats

MAX_ARRIVAL_POINTS = 200
# Within this factor of the client's own ceiling the figure says more about the client than the
# server.
CLIENT_BOUND_FACTOR = 1.5
# Spread beyond these is reported, not hidden: p95 over median, and max over min.
NOISY_P95_OVER_MEDIAN = 1.5
NOISY_MAX_OVER_MIN = 2.0
MEGABYTE = 1_000_000

# What ends or starts one row in each format's body. The JSON encoders write "id" first and
# escape any quote inside a string. CSV records end in LF, and a quoted field may hold LFs too:
# only an LF outside quotes ends a record (`_CsvRecordCounter`).
_ROW_MARKERS: dict[str, bytes] = {
    "text": b"\n",
    "ndjson": b"\n",
    "csv": b"\n",
    "json": b'{"id":',
}
# Lines that are not rows: CSV's header.
_ROW_OFFSET: dict[str, int] = {"csv": -1}


class RowCounter:
    """Counts rows in a body fed chunk by chunk, whatever the chunk boundaries."""

    def __init__(self, format: str) -> None:
        try:
            self._marker = _ROW_MARKERS[format]
        except KeyError:
            raise ValueError(f"no row marker for format {format!r}") from None
        self._offset = _ROW_OFFSET.get(format, 0)
        self._csv = format == "csv"
        self._in_quotes = False
        self._carry = b""
        self._count = 0

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._csv:
            self._feed_csv(chunk)
            return
        data = self._carry + chunk
        self._count += data.count(self._marker)
        # Keep a marker's worth minus one byte: a marker split across chunks is seen once whole.
        # Never keep a complete marker, or it would be counted twice.
        keep = len(self._marker) - 1
        self._carry = data[-keep:] if keep else b""

    def _feed_csv(self, chunk: bytes) -> None:
        # Quotes toggle the state (an escaped `""` toggles twice): every other segment between
        # quotes lies outside them, and only there does an LF end a record.
        segments = chunk.split(b'"')
        outside = 1 if self._in_quotes else 0
        self._count += sum(segment.count(b"\n") for segment in segments[outside::2])
        if len(segments) % 2 == 0:
            self._in_quotes = not self._in_quotes

    @property
    def rows(self) -> int:
        return max(self._count + self._offset, 0)


def count_rows(body: bytes, format: str) -> int:
    counter = RowCounter(format)
    counter.feed(body)
    return counter.rows


def thin(
    points: Sequence[tuple[float, int]], limit: int = MAX_ARRIVAL_POINTS
) -> list[tuple[float, int]]:
    """At most `limit` points of a curve, evenly spread by index, first and last always kept."""
    if limit < 2:
        raise ValueError("thinning keeps at least the first and last point")
    if len(points) <= limit:
        return list(points)
    last = len(points) - 1
    indexes = sorted({round(i * last / (limit - 1)) for i in range(limit)})
    return [points[i] for i in indexes]


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0:
        return None
    return value / base


def rate(amount: float, seconds: float | None) -> float | None:
    if seconds is None or seconds <= 0:
        return None
    return amount / seconds


@dataclass(frozen=True)
class Flag:
    name: str
    reason: str


def noisy(name: str, stats: Stats | None) -> Flag | None:
    """A figure whose spread over its measurements is too large to read its median alone."""
    if stats is None or stats.count < 2 or stats.median <= 0 or stats.min <= 0:
        return None
    p95_over_median = stats.p95 / stats.median
    max_over_min = stats.max / stats.min
    if p95_over_median > NOISY_P95_OVER_MEDIAN or max_over_min > NOISY_MAX_OVER_MIN:
        return Flag(
            "noisy",
            f"{name}: p95/median {p95_over_median:.2f}, max/min {max_over_min:.2f} "
            f"(limits {NOISY_P95_OVER_MEDIAN}, {NOISY_MAX_OVER_MIN})",
        )
    return None


def client_bound(
    total: Stats | None, concurrency: int, ceiling: ClientCeiling | None
) -> Flag | None:
    """The server was about as fast as the run's client can read the same bytes from memory.

    The ceiling is measured at each concurrency of the matrix, and compared as it is. One
    measured at another concurrency (a file from before version 4 has only concurrency 1) is
    scaled by the ratio of the two: `concurrency` requests in one event loop cost the client
    about that many times as much.
    """
    if total is None or ceiling is None or ceiling.total.median <= 0:
        return None
    bound = ceiling.total.median * concurrency / max(ceiling.concurrency, 1)
    factor = total.median / bound
    if factor <= CLIENT_BOUND_FACTOR:
        how = (
            f"{concurrency} request(s) at a time"
            if ceiling.concurrency == concurrency
            else f"scaled from {ceiling.concurrency} request(s) at a time to {concurrency}"
        )
        return Flag(
            "client-bound",
            f"median total {total.median * 1000:.1f} ms is {factor:.2f}x {ceiling.client}'s own "
            f"ceiling ({bound * 1000:.1f} ms for these bytes from memory, {how}; "
            f"limit {CLIENT_BOUND_FACTOR}x)",
        )
    return None


def below_floor(floor_ratio: float | None) -> Flag | None:
    """Faster than the database alone: not a win, a sign the floor and the scenario were measured
    under different conditions (a warmer cache, a quieter moment)."""
    if floor_ratio is not None and floor_ratio < 1.0:
        return Flag(
            "below-floor",
            f"median total is {floor_ratio:.2f}x the rows floor, faster than COPY of the ids "
            "alone: read it as noise in the floor, not as beating the database",
        )
    return None


def errors_flag(errors: int, requests: int) -> Flag | None:
    if errors:
        return Flag("errors", f"{errors} of {requests} requests failed")
    return None


def scenario_flags(
    *,
    ttfb: Stats | None,
    total: Stats | None,
    concurrency: int,
    ceiling: ClientCeiling | None,
    errors: int,
    requests: int,
    floor_ratio: float | None = None,
    extra: Sequence[Flag | None] = (),
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Flag names in a fixed order, and one reason per flag (reasons of one kind joined);
    `extra` flags come last, in their order."""
    found = [
        client_bound(total, concurrency, ceiling),
        noisy("total", total),
        noisy("ttfb", ttfb),
        below_floor(floor_ratio),
        errors_flag(errors, requests),
        *extra,
    ]
    reasons: dict[str, str] = {}
    for flag in found:
        if flag is None:
            continue
        reasons[flag.name] = (
            f"{reasons[flag.name]}; {flag.reason}" if flag.name in reasons else flag.reason
        )
    return tuple(reasons), reasons
