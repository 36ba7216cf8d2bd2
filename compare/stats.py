"""Summaries of one figure over several measurements: the `Stats` every result carries."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stats:
    """Summary of one figure over several measurements (p95 linearly interpolated), and the
    measurements themselves in the order they were taken (empty in files written before)."""

    median: float
    p95: float
    min: float
    max: float
    count: int
    samples: tuple[float, ...] = ()

    @classmethod
    def of(cls, values: Iterable[float]) -> Stats:
        taken = tuple(float(v) for v in values)
        ordered = sorted(taken)
        if not ordered:
            raise ValueError("Stats.of needs at least one value")
        return cls(
            median=statistics.median(ordered),
            p95=percentile(ordered, 95.0),
            min=ordered[0],
            max=ordered[-1],
            count=len(ordered),
            samples=taken,
        )

    @classmethod
    def maybe(cls, values: Iterable[float]) -> Stats | None:
        """`Stats.of`, or `None` when nothing was measured."""
        collected = list(values)
        return cls.of(collected) if collected else None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stats:
        return cls(
            median=float(data["median"]),
            p95=float(data["p95"]),
            min=float(data["min"]),
            max=float(data["max"]),
            count=int(data["count"]),
            samples=tuple(float(v) for v in data.get("samples", ())),
        )


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile of sorted values, interpolated between neighbours (numpy's default)."""
    if not ordered:
        raise ValueError("percentile of nothing")
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def stats_or_none(data: Mapping[str, Any] | None) -> Stats | None:
    return None if data is None else Stats.from_dict(data)
