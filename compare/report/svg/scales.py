"""From values to pixels and back to words: axes, their linear or log scales and ticks, and the
fixed-precision numbers that keep the same chart the same bytes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Axis:
    """An axis label carries its unit, e.g. "time to first byte (ms)"."""

    label: str
    log: bool = False
    ticks: tuple[float, ...] | None = None
    start: float | None = None
    end: float | None = None
    unit: str = ""  # appended to each tick label, e.g. "s" for times in seconds
    # A tick's own words instead of its number, e.g. a read rate of 1e6 as "1MB/s".
    labels: tuple[tuple[float, str], ...] = ()

    def tick_label(self, value: float) -> str:
        for tick, label in self.labels:
            if tick == value:
                return label
        return time_tick(value) if self.unit == "s" else format_tick(value)


@dataclass(frozen=True)
class Scale:
    start: float
    end: float
    pixel_start: float
    pixel_end: float
    log: bool

    def __call__(self, value: float) -> float:
        if self.log:
            value = max(value, self.start)
            position = (math.log10(value) - math.log10(self.start)) / (
                math.log10(self.end) - math.log10(self.start)
            )
        else:
            position = (value - self.start) / (self.end - self.start)
        return self.pixel_start + position * (self.pixel_end - self.pixel_start)


def domain(axis: Axis, values: Sequence[float]) -> tuple[float, float]:
    if axis.log:
        positive = [v for v in values if v > 0]
        low = min(positive) if positive else 1.0
        high = max(positive) if positive else 10.0
        start = axis.start if axis.start is not None else 10.0 ** math.floor(math.log10(low))
        end = axis.end if axis.end is not None else 10.0 ** math.ceil(math.log10(high))
        if end <= start:
            end = start * 10
        return start, end
    low = min(values, default=0.0)
    high = max(values, default=1.0)
    start = axis.start if axis.start is not None else min(0.0, low)
    end = axis.end if axis.end is not None else _nice_ceiling(high)
    if end <= start:
        end = start + 1.0
    return start, end


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return 10 * magnitude


def ticks(start: float, end: float, log: bool) -> list[float]:
    """Where an axis from `start` to `end` gets its grid lines and labels."""
    return _log_ticks(start, end) if log else _linear_ticks(start, end)


def _linear_ticks(start: float, end: float) -> list[float]:
    span = end - start
    raw = span / 5
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(s * magnitude for s in (1, 2, 2.5, 5, 10) if s * magnitude >= raw)
    first = math.ceil(start / step) * step
    found = []
    value = first
    while value <= end + step * 1e-9:
        found.append(round(value, 12))
        value += step
    return found


def _log_ticks(start: float, end: float) -> list[float]:
    decades = math.log10(end) - math.log10(start)
    multipliers = (1.0,) if decades > 3 else (1.0, 2.0, 5.0)
    found = []
    exponent = math.floor(math.log10(start))
    while 10.0**exponent <= end * (1 + 1e-9):
        for multiplier in multipliers:
            value = multiplier * 10.0**exponent
            if start * (1 - 1e-9) <= value <= end * (1 + 1e-9):
                found.append(value)
        exponent += 1
    return found


def format_tick(value: float) -> str:
    """Compact tick labels: 10k, 1.5M, 0.25, 12."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return _trim(value / limit) + suffix
    return _trim(value)


def time_tick(seconds: float) -> str:
    """Tick labels for times spanning decades: 500 µs, 10 ms, 1.5 s."""
    if seconds == 0:
        return "0"
    if abs(seconds) >= 1:
        return _trim(seconds) + " s"
    if abs(seconds) >= 1e-3:
        return _trim(seconds * 1e3) + " ms"
    return _trim(seconds * 1e6) + " µs"


def _trim(value: float) -> str:
    if value == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{min(digits, 4)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def px(value: float) -> str:
    """A coordinate as it is written into the SVG: one decimal, always."""
    return f"{value:.1f}"
