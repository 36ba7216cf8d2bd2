"""A run's work, counted in estimated seconds: the costs that the estimate of a whole run and the
progress it reports share, so that the progress is about time, not steps."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Protocol

from .capacity import ROW_BYTES
from .options import Cell, CompareOptions

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


def cell_cost(cell: Cell) -> float:
    """One round of a cell: at least its body's bytes at the read rate when it has one."""
    cost = round_cost(cell.rows, cell.concurrency)
    if cell.read_rate is not None:
        cost = max(cost, cell.rows * ROW_BYTES.get(cell.format, 300) / cell.read_rate)
    return cost


# Each stage's cost, used alike by the estimate and by the progress it reports.
def reference_cost(rows: int) -> float:
    return round_cost(rows)


def floor_cost(options: CompareOptions, rows: int) -> float:
    return (options.warmup + options.repeats) * round_cost(rows) / 2


def ceiling_cost(options: CompareOptions, rows: int, concurrency: int = 1) -> float:
    return (options.warmup + options.repeats) * round_cost(rows, concurrency) / 4


def verify_cost(rows: int) -> float:
    return 2 * round_cost(rows)  # both endpoints


class Stopwatch:
    """Where a run's time went, phase by phase, for the line that closes its progress."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = time.perf_counter()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def summary(self) -> str:
        """`took 48.2 s: starting servers 9.1 s, verifying 12.5 s, ...`, largest first."""
        whole = time.perf_counter() - self._started
        parts = sorted(self.seconds.items(), key=lambda item: -item[1])
        other = whole - sum(self.seconds.values())
        listed = [f"{name} {seconds:.1f} s" for name, seconds in parts]
        if other >= 0.05:
            listed.append(f"the rest {other:.1f} s")
        return f"took {whole:.1f} s: " + ", ".join(listed)
