"""A run's work, counted in estimated seconds: the costs that the estimate of a whole run and the
progress it reports share, so that the progress is about time, not steps."""

from __future__ import annotations

from typing import Protocol

from .options import CompareOptions

# What starting one group's servers is taken to cost.
STARTUP_COST = 3.0


class Progress(Protocol):
    """Where a run reports how far it got. Work is counted in estimated seconds (the same costs as
    `estimate_work`), so progress is about time, not steps."""

    def begin(self, label: str) -> None:
        """A step starts (and the one before it is done)."""

    def advance(self, work: float) -> None: ...

    def note(self, text: str) -> None:
        """Something worth a line of its own, e.g. how long the servers took to start."""


def round_cost(rows: int, concurrency: int = 1) -> float:
    return 0.005 + rows * concurrency * 1.2e-6


# Each stage's cost, used alike by the estimate and by the progress it reports.
def reference_cost(rows: int) -> float:
    return round_cost(rows)


def floor_cost(options: CompareOptions, rows: int) -> float:
    return (options.warmup + options.repeats) * round_cost(rows) / 2


def ceiling_cost(options: CompareOptions, rows: int) -> float:
    return (options.warmup + options.repeats) * round_cost(rows) / 4


def verify_cost(rows: int) -> float:
    return 2 * round_cost(rows)  # both endpoints
