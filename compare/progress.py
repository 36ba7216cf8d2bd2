"""How a comparison shows its progress: a live bar on a terminal, one line per finished step when
piped (a CI log), and an ETA from the pace measured so far in both.

Work is counted in the comparator's estimated seconds (`compare.run.estimate_work`, `compare.work`); only the
ratio of work done to time taken is trusted, so a wrong estimate of the whole skews the ETA less
than any fixed figure would. No ETA is shown before enough of the measured work is done.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

# Before this share of the work is done the pace says little (seeding, reference bodies).
ETA_AFTER = 0.05


def clock(seconds: float) -> str:
    whole = max(round(seconds), 0)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Pace:
    """Work done against time taken: the share done and the time left at the measured pace."""

    def __init__(self, total: float, now: float | None = None) -> None:
        self.total = max(total, 1e-9)
        self.done = 0.0
        self.started = time.monotonic() if now is None else now

    def add(self, work: float) -> None:
        self.done = min(self.done + work, self.total)

    def share(self) -> float:
        return self.done / self.total

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds left at the pace so far, or None while too little is done to tell."""
        elapsed = (time.monotonic() if now is None else now) - self.started
        if self.share() < ETA_AFTER or elapsed <= 0:
            return None
        return elapsed * (self.total - self.done) / self.done

    def status(self, now: float | None = None) -> str:
        moment = time.monotonic() if now is None else now
        left = self.remaining(moment)
        eta = "ETA measuring" if left is None else f"about {clock(left)} left"
        return f"{self.share() * 100:3.0f}%, {clock(moment - self.started)} elapsed, {eta}"


class LineProgress:
    """One line per finished step (and per note), for logs that are not a terminal."""

    def __init__(self, total: float, stream: TextIO) -> None:
        self.pace = Pace(total)
        self._stream = stream
        self._step: str | None = None
        self._step_started = 0.0

    def begin(self, label: str) -> None:
        self._finish()
        self._step, self._step_started = label, time.monotonic()

    def advance(self, work: float) -> None:
        self.pace.add(work)

    def note(self, text: str) -> None:
        self._line(text)

    def _finish(self) -> None:
        if self._step is not None:
            took = time.monotonic() - self._step_started
            self._line(f"{self._step} ({took:.1f} s)")
        self._step = None

    def _line(self, text: str) -> None:
        print(f"[{self.pace.status()}] {text}", file=self._stream, flush=True)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self._finish()


class BarProgress:
    """A live bar on a terminal; notes (server starts) print above it."""

    def __init__(self, total: float, console: Console) -> None:
        self.pace = Pace(total)
        self._console = console
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task("compare", total=self.pace.total, status="")

    def begin(self, label: str) -> None:
        self._bar.update(self._task, description=label)

    def advance(self, work: float) -> None:
        self.pace.add(work)
        left = self.pace.remaining()
        status = "ETA measuring" if left is None else f"~{clock(left)} left"
        self._bar.update(self._task, completed=self.pace.done, status=status)

    def note(self, text: str) -> None:
        self._bar.console.print(text, markup=False, highlight=False, style="dim")

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._bar.stop()


def progress_for(console: Console, total: float, stream: TextIO) -> LineProgress | BarProgress:
    return BarProgress(total, console) if console.is_terminal else LineProgress(total, stream)
