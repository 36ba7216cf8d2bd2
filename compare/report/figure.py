"""What a report's figure is made of: its charts, the notes that sit beside them, a table of
medians with their spread, and its verdicts; plus the notes every figure derives the same way."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..analysis import CLIENT_BOUND_FACTOR, NOISY_MAX_OVER_MIN, NOISY_P95_OVER_MEDIAN, below_floor
from ..client_load import CLIENT_SATURATED_SHARE
from ..results import SOURCES, Scenario, Stats
from .context import View, line_style, scenario_label
from .svg import Chart, Point, Series

NoteLevel = Literal["flag", "error", "excluded"]
NOTE_ICONS: dict[NoteLevel, str] = {"flag": "⚠", "error": "✖", "excluded": "⛔"}


@dataclass(frozen=True)
class Note:
    """One line beside a figure; `details` (each scenario's own reason) stay collapsed."""

    level: NoteLevel
    text: str
    details: tuple[str, ...] = ()


# What each flag means, said once per figure; the scenarios' own numbers go in the details.
FLAG_MEANINGS: dict[str, str] = {
    "noisy": (
        f"its repeats disagree by more than the noise limits (p95/median {NOISY_P95_OVER_MEDIAN}, "
        f"max/min {NOISY_MAX_OVER_MIN}), so read its band, not its median"
    ),
    "client-bound": (
        f"within {CLIENT_BOUND_FACTOR}× of what the client alone needs for the same bytes, as many "
        "at a time (its ceiling at that concurrency, measured in the same run): the client "
        "set the pace, not the port"
    ),
    "below-floor": (
        "faster than COPY of the ids alone: the floor and the scenario were measured at "
        "different moments, so read it as noise in the floor, not as beating the database"
    ),
    "buffers-ahead": (
        "a streamed response whose server held a large share of the body per open stream: it "
        "does not wait for its reader, but queues what the reader has not taken yet"
    ),
    "rate-unreached": (
        "its readers read clearly slower than the rate they were asked to: the server sent "
        "more slowly than that, so its figures are those of the rate reached"
    ),
    "starved": (
        "some of its streams got their first byte only after another stream of the same round "
        "had finished: they waited for a whole download (a pooled connection, a place in the "
        "server's queue) before theirs began"
    ),
    "memory-capped": (
        "its server's resident memory passed the run's cap, so its rounds were stopped there: "
        "its figures cover only the rounds before, if any"
    ),
    "client-saturated": (
        f"a load generator process used more than {CLIENT_SATURATED_SHARE:.0%} of a core over "
        "the median round: the generator may have set the pace, whatever its ceiling says"
    ),
}


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
    # One note per figure for every flag it draws, each flag counted and explained once: a
    # figure with eight noisy scenarios gets one line, not eight boxes.
    by_flag: dict[str, list[str]] = {}
    for scenario in scenarios:
        label = scenario_label(scenario, with_port=len(ports) > 1)
        for flag in scenario.flags:
            reason = scenario.flag_reasons.get(flag, "")
            by_flag.setdefault(flag, []).append(label + (f": {reason}" if reason else ""))
    if by_flag:
        parts = []
        details = []
        for flag, labels in by_flag.items():
            unique = list(dict.fromkeys(labels))
            meaning = FLAG_MEANINGS.get(flag, "see each scenario's reason")
            parts.append(f"{flag} ×{len(unique)}, {meaning}")
            details += [f"{flag}: {label}" for label in unique]
        notes.append(
            Note(
                "flag",
                "Flagged, and marked so in the table: " + "; ".join(parts) + ".",
                tuple(details),
            )
        )
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
        if len(ports) > 1 or port.contender in ports:
            reasons = "; ".join(c.reason for c in port.verification.failures) or "no reason given"
            notes.append(
                Note("excluded", f"{port.contender} is not drawn: failed verification: {reasons}")
            )
    return tuple(notes)


def with_below_floor(scenario: Scenario, ratio: float) -> Scenario:
    """The scenario flagged below-floor when its total beat the floor: runs flag it themselves,
    but results stored before they did would otherwise show 0.42 times the floor as a plain win."""
    flag = below_floor(ratio)
    if flag is None or flag.name in scenario.flags:
        return scenario
    return dataclasses.replace(
        scenario,
        flags=(*scenario.flags, flag.name),
        flag_reasons={**scenario.flag_reasons, flag.name: flag.reason},
    )


def flag_names(scenario: Scenario) -> str:
    """The scenario's flags, and `errors` if requests failed, as one comma list ("" if none)."""
    failed = ["errors"] if scenario.errors and "errors" not in scenario.flags else []
    return ", ".join([*scenario.flags, *failed])


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


def memory_per_stream_point(scenario: Scenario, x: float) -> Point | None:
    """The scenario's peak memory growth per open stream at `x`, in MB, its spread with it."""
    growth = scenario.server.peak_memory_growth_bytes
    if growth is None:
        return None
    return scale_points((stats_point(x, growth, scenario),), 1e-6 / scenario.concurrency)[0]


def route_series(
    view: View,
    contenders: Sequence[str],
    endpoint: str,
    scenarios: Sequence[Scenario],
    point_of: Callable[[Scenario], Point | None],
    *,
    named_by_contender: bool = False,
) -> tuple[Series, ...]:
    """One line per contender and source of one endpoint, a point per scenario where `point_of`
    has one. A line is named `contender source` among several contenders (`contender` alone
    with `named_by_contender`, when one source ran), `/endpoint/source` on a pair's page."""
    found = []
    for contender in contenders:
        for source in SOURCES:
            mine = [s for s in scenarios if (s.contender, s.source) == (contender, source)]
            points = sorted(
                (point for s in mine if (point := point_of(s)) is not None),
                key=lambda point: point.x,
            )
            if not points:
                continue
            if len(contenders) > 1:
                name = contender if named_by_contender else f"{contender} {source}"
            else:
                name = f"{endpoint}/{source}"
            dash = line_style(endpoint, source)
            found.append(Series(name, tuple(points), view.colour(contender), dash))
    return tuple(found)
