"""Plain-language verdicts that refuse to name a winner inside the noise.

Noise comes from the runs themselves: each figure's band runs from its fastest measurement to its
95th percentile ([min, p95]). Two figures differ clearly only when their bands do not overlap. The
p95 rather than the max keeps one stray request from hiding a real difference; with the five or so
repeats of a run the two are nearly the same. A figure measured once has no band, so no verdict.

Memory has a resolution of its own besides the spread: CPython's allocator takes memory from the
system in 1 MiB arenas, so a process's peak resident memory moves in steps up to that size whatever
the request did. Two memory figures closer than that are never called different, however tight
their bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..results import Scenario, Stats
from . import _format
from ._format import Kind, formatter

NOISE_RULE = (
    "Noise is each figure's own spread, from its fastest run to its 95th percentile ([min, p95]). "
    "A difference is called clear only when those bands do not overlap (for memory, only when they "
    "are also more than 1 MiB apart, the step in which Python's allocator grows a process); "
    "otherwise the verdict is “within the noise” and no winner is named."
)

# CPython's arena: the step in which a process's resident memory moves.
MEMORY_RESOLUTION = float(1 << 20)
# The smallest gap between two bands that a measurement of this kind can resolve.
RESOLUTION: dict[Kind, float] = {
    "time": 0.0,
    "size": MEMORY_RESOLUTION,
    "ratio": 0.0,
    "count": 0.0,
}


def size_resolved(stats: Stats) -> bool:
    """A memory figure that rose above the allocator's step at least once: a measurement. Below
    it, the process's resident memory did not visibly move, whatever the median says."""
    return stats.max >= MEMORY_RESOLUTION


def band(stats: Stats) -> tuple[float, float]:
    return (stats.min, max(stats.p95, stats.median))


def clearly_different(a: Stats, b: Stats, kind: Kind = "time") -> bool | None:
    """True when the bands are further apart than the kind's resolution, False when they are not
    (overlapping bands are not apart at all), None when either figure was measured once."""
    if a.count < 2 or b.count < 2:
        return None
    a_low, a_high = band(a)
    b_low, b_high = band(b)
    gap = max(b_low - a_high, a_low - b_high)
    return gap > 0 and gap > RESOLUTION[kind]


@dataclass(frozen=True)
class Comparison:
    """Two labelled figures where lower is better (time, memory)."""

    subject: str
    a_label: str
    a: Stats
    b_label: str
    b: Stats
    kind: Kind = "time"

    @property
    def clear(self) -> bool | None:
        return clearly_different(self.a, self.b, self.kind)

    @property
    def winner(self) -> str | None:
        if not self.clear:
            return None
        return self.a_label if self.a.median < self.b.median else self.b_label

    def sentence(self) -> str:
        fmt = _format.memory if self.kind == "size" else formatter(self.kind)
        values = (
            f"{self.a_label} {fmt(self.a.median)}, {self.b_label} {fmt(self.b.median)} (median)"
        )
        clear = self.clear
        if clear is None:
            return f"{self.subject}: {values}; measured once, too few runs to call a winner."
        if not clear:
            return f"{self.subject}: {values}; within the noise, no winner."
        fast, slow = sorted((self.a, self.b), key=lambda s: s.median)
        winner = self.winner
        if self.kind == "time":
            how = _format.times_sooner(slow.median, fast.median)
            return f"{self.subject}: {values}; {winner} is clearly ahead, {how}."
        if not size_resolved(fast):
            # A ratio over a figure below the resolution would claim a precision it lacks.
            how = f"under 1 MiB against {fmt(slow.median)}"
        elif fast.median <= 0:
            how = "none at all"
        else:
            factor = slow.median / fast.median
            how = f"{factor:.0f}× less" if factor >= 10 else f"{factor:.1f}× less"
        return f"{self.subject}: {values}; {winner} clearly needs less, {how}."


def endpoint_verdict(standard: Scenario | None, chunked: Scenario | None) -> list[str]:
    """What streaming bought in one cell of the matrix, one sentence per figure."""
    if standard is None or chunked is None:
        present = standard or chunked
        if present is None:
            return []
        return [f"Only the {present.endpoint} endpoint was measured here: nothing to compare."]
    sentences: list[str] = []
    if standard.ttfb and chunked.ttfb:
        sentences.append(
            Comparison("First byte", "chunked", chunked.ttfb, "standard", standard.ttfb).sentence()
        )
    if standard.total and chunked.total:
        sentences.append(
            Comparison(
                "Total time", "chunked", chunked.total, "standard", standard.total
            ).sentence()
        )
    standard_memory = standard.server.peak_memory_growth_bytes
    chunked_memory = chunked.server.peak_memory_growth_bytes
    if standard_memory and chunked_memory:
        sentences.append(
            Comparison(
                "Server memory growth",
                "chunked",
                chunked_memory,
                "standard",
                standard_memory,
                kind="size",
            ).sentence()
        )
    else:
        sentences.append(f"Server memory growth: not measured (source: {standard.server.source}).")
    for scenario in (standard, chunked):
        if scenario.errors:
            example = f" (e.g. {scenario.error_examples[0]})" if scenario.error_examples else ""
            sentences.append(
                f"{scenario.endpoint}: {scenario.errors} of {scenario.requests} requests failed"
                f"{example}; its figures cover the successful ones only."
            )
    return sentences


def ranking_verdict(subject: str, entries: Sequence[tuple[str, Stats]], kind: Kind = "time") -> str:
    """Name the lowest figure the winner only if it is clear of every other; else say who ties."""
    if not entries:
        return f"{subject}: nothing measured."
    fmt = _format.memory if kind == "size" else formatter(kind)
    ordered = sorted(entries, key=lambda entry: (entry[1].median, entry[0]))
    if kind == "size" and not any(size_resolved(stats) for _, stats in ordered):
        # Medians of 0 B against 8 kB are below what the measurement resolves: say only that.
        names = ", ".join(label for label, _ in ordered)
        return f"{subject}: {names} all below the 1 MiB resolution; no winner."
    unresolved = [entry for entry in ordered if kind == "size" and not size_resolved(entry[1])]
    if len(unresolved) > 1:
        return _below_resolution_verdict(subject, ordered, unresolved)
    values = ", ".join(f"{label} {fmt(stats.median)}" for label, stats in ordered)
    if len(ordered) == 1:
        return f"{subject}: {values}; only one contender."
    leader_label, leader = ordered[0]
    verdicts = [clearly_different(leader, stats, kind) for _, stats in ordered[1:]]
    if any(v is None for v in verdicts):
        return f"{subject}: {values}; measured once, too few runs to call a winner."
    ties = [label for (label, _), clear in zip(ordered[1:], verdicts, strict=True) if not clear]
    if not ties:
        return f"{subject}: {values}; {leader_label} is clearly lowest."
    if len(ties) == len(ordered) - 1:
        return f"{subject}: {values}; all within the noise, no winner."
    tied = ", ".join(ties)
    verb = "is" if len(ties) == 1 else "are"
    return (
        f"{subject}: {values}; {leader_label} is lowest but {tied} {verb} within its noise; "
        "the rest are clearly behind."
    )


def _below_resolution_verdict(
    subject: str, ordered: Sequence[tuple[str, Stats]], below: Sequence[tuple[str, Stats]]
) -> str:
    """Several memory figures below 1 MiB have no order among them: they lead together, and a
    figure above is behind only if it is clear of every one of them."""
    names = ", ".join(label for label, _ in below)
    above = [entry for entry in ordered if entry not in below]
    values = f"below 1 MiB: {names}; above it: " + ", ".join(
        f"{label} {_format.memory(stats.median)}" for label, stats in above
    )
    verdicts = [[clearly_different(low, stats, "size") for _, low in below] for _, stats in above]
    if any(v is None for row in verdicts for v in row):
        return f"{subject}: {values}; measured once, too few runs to call a winner."
    ties = [label for (label, _), row in zip(above, verdicts, strict=True) if not all(row)]
    if not ties:
        return f"{subject}: {values}; those below 1 MiB clearly need less."
    if len(ties) == len(above):
        return f"{subject}: {values}; all within the noise, no winner."
    verb = "is" if len(ties) == 1 else "are"
    return (
        f"{subject}: {values}; {', '.join(ties)} {verb} within the noise of those below 1 MiB; "
        "the rest clearly need more."
    )
