"""Numbers as people read them: units chosen from the values, spreads next to medians."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from ..results import Stats


@dataclass(frozen=True)
class Unit:
    """A display unit: `factor` turns base units (seconds, bytes) into it."""

    label: str
    factor: float


SECONDS = Unit("s", 1.0)
MILLISECONDS = Unit("ms", 1e3)
MEGABYTES = Unit("MB", 1e-6)


def time_unit(values: Iterable[float]) -> Unit:
    """Milliseconds unless the largest value reaches a second ("1k ms" reads badly)."""
    largest = max(values, default=0.0)
    return SECONDS if largest >= 1 else MILLISECONDS


def seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 10:
        return f"{value:.1f} s"
    if abs(value) >= 1:
        return f"{value:.2f} s"
    if abs(value) >= 1e-3:
        return f"{_significant(value * 1e3)} ms"
    return f"{_significant(value * 1e6)} µs"


def size(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1e9:
        return f"{value / 1e9:.2f} GB"
    if abs(value) >= 1e6:
        return f"{_significant(value / 1e6)} MB"
    if abs(value) >= 1e3:
        return f"{_significant(value / 1e3)} kB"
    return f"{value:.0f} B"


MEBIBYTE = float(1 << 20)


def memory(value: float | None) -> str:
    """Memory growth: below CPython's 1 MiB arena step it is not resolved, so no digits."""
    if value is None:
        return "n/a"
    return "< 1 MiB" if value < MEBIBYTE else size(value)


def count(value: int | float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}"


def rows(value: int) -> str:
    """Row counts as short labels: 10k, 500k, 2M."""
    if value >= 1_000_000 and value % 100_000 == 0:
        return f"{value / 1_000_000:g}M"
    if value >= 1000 and value % 100 == 0:
        return f"{value / 1000:g}k"
    return f"{value:,}"


def ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"


def rate(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{_significant(value)} {unit}"


def _significant(value: float) -> str:
    """Three significant figures without scientific notation."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


Kind = Literal["time", "size", "ratio", "count"]


def formatter(kind: Kind) -> Callable[[float], str]:
    if kind == "time":
        return seconds
    if kind == "size":
        return size
    if kind == "count":
        return count
    return ratio


def spread(stats: Stats | None, *, kind: Kind = "time") -> str:
    """`median (min-p95, n runs)`: the median, the band the verdicts call noise, and how many
    measurements it rests on."""
    if stats is None:
        return "n/a"
    if kind == "size" and stats.max < MEBIBYTE:
        return f"< 1 MiB ({_runs(stats.count)})"
    fmt = memory if kind == "size" else formatter(kind)
    if stats.count < 2:
        return f"{fmt(stats.median)} (1 run)"
    return f"{fmt(stats.median)} ({fmt(stats.min)}–{fmt(stats.p95)}, {_runs(stats.count)})"


def _runs(count: int) -> str:
    return "1 run" if count == 1 else f"{count} runs"


def runs(counts: Iterable[int], noun: str = "run") -> str:
    """How many measurements a set of figures rests on: "5 runs", or "4-5 runs" when they
    differ (with an en dash)."""
    found = sorted(set(counts))
    if not found:
        return f"no {noun}s"
    low, high = found[0], found[-1]
    if low == high:
        return f"1 {noun}" if low == 1 else f"{low} {noun}s"
    return f"{low}–{high} {noun}s"


def times_sooner(slow: float, fast: float) -> str:
    """A factor ("37x sooner"), or a percentage when the gap is under two times."""
    if fast <= 0:
        return "immediately"
    factor = slow / fast
    if factor >= 2:
        return f"{factor:.0f}× sooner" if factor >= 10 else f"{factor:.1f}× sooner"
    return f"{(1 - fast / slow) * 100:.0f}% sooner"
