"""What a report's figure is made of: its charts, the notes that sit beside them, a table of
medians with their spread, and its verdicts; plus the notes every figure derives the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..results import Scenario, Stats
from .context import View, scenario_label
from .svg import Chart, Point

NoteLevel = Literal["flag", "error", "excluded"]
NOTE_ICONS: dict[NoteLevel, str] = {"flag": "⚠", "error": "✖", "excluded": "⛔"}


@dataclass(frozen=True)
class Note:
    level: NoteLevel
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    # Per row, a style name the HTML colours ("better", "worse", "busier", "winner"; "" none).
    styles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figure:
    ident: str
    heading: str
    charts: tuple[Chart, ...]
    notes: tuple[Note, ...]
    table: Table | None
    verdicts: tuple[str, ...]
    caption: str = ""  # what a reader needs to read the figure right


def notes_for(view: View, scenarios: Sequence[Scenario], ports: Sequence[str]) -> tuple[Note, ...]:
    """Flags and failures of the scenarios a figure draws, and the ports it cannot draw."""
    notes: list[Note] = []
    # One note per kind of flag, naming every scenario it concerns: a figure with eight noisy
    # scenarios gets one box, not eight.
    by_flag: dict[str, list[str]] = {}
    for scenario in scenarios:
        label = scenario_label(scenario, with_port=len(ports) > 1)
        for flag in scenario.flags:
            reason = scenario.flag_reasons.get(flag, "")
            by_flag.setdefault(flag, []).append(label + (f" ({reason})" if reason else ""))
    for flag, labels in by_flag.items():
        notes.append(Note("flag", f"{flag}: " + "; ".join(dict.fromkeys(labels))))
    for scenario in scenarios:
        label = scenario_label(scenario, with_port=len(ports) > 1)
        if scenario.errors:
            example = f": {scenario.error_examples[0]}" if scenario.error_examples else ""
            notes.append(
                Note(
                    "error",
                    f"{scenario.errors} of {scenario.requests} requests failed: {label}{example}",
                )
            )
    for port in view.failed_ports:
        if len(ports) > 1 or port.name in ports:
            reasons = "; ".join(c.reason for c in port.verification.failures) or "no reason given"
            notes.append(
                Note("excluded", f"{port.name} is not drawn: failed verification: {reasons}")
            )
    return tuple(notes)


def flag_names(scenario: Scenario) -> str:
    """The scenario's flags, and `errors` if requests failed, as one comma list ("" if none)."""
    return ", ".join([*scenario.flags, *(["errors"] if scenario.errors else [])])


def flag_mark(scenario: Scenario) -> str:
    names = flag_names(scenario)
    return f" ⚠ {names}" if names else ""


def scale_points(points: Sequence[Point], factor: float) -> tuple[Point, ...]:
    return tuple(
        Point(
            p.x,
            p.y * factor,
            None if p.low is None else p.low * factor,
            None if p.high is None else p.high * factor,
            p.flagged,
        )
        for p in points
    )


def stats_point(x: float, stats: Stats, scenario: Scenario) -> Point:
    return Point(
        x,
        stats.median,
        stats.min,
        max(stats.p95, stats.median),
        bool(scenario.flags or scenario.errors),
    )
