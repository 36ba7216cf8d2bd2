"""What changed between two runs, figure by figure, and whether each change beats the noise.

A change is "larger than the noise" only when the old and new bands ([min, p95], the same rule as
the verdicts) do not overlap, i.e. the change is bigger than the spread of either run. A worse
figure is a regression unless the machine was clearly busier in the new run: when its 1-minute
load average (after the scenario, else over the run) exceeds the old one by more than
`LOAD_MARGIN`, about one more busy core, the change is reported as load-induced instead.
Rows are sorted by the size of the change, the clear ones first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Literal

from ..results import NO_COMPRESSION, Results, Scenario, Stats
from . import _format, html, markdown
from ._format import Kind
from .context import environment_items, scenario_label
from .figure import Table
from .verdict import NOISE_RULE, band, clearly_different


@dataclass(frozen=True)
class Metric:
    heading: str
    kind: Kind
    figure: Callable[[Results, Scenario], Stats | None]


def _floor_ratio(results: Results, scenario: Scenario) -> Stats | None:
    """The total's band over the floor's median: the ratio carries the run's own spread."""
    floor = results.floor_for(scenario.rows, scenario.format)
    total = scenario.total
    if floor is None or total is None or floor.seconds.median <= 0:
        return None
    base = floor.seconds.median
    return Stats(
        total.median / base, total.p95 / base, total.min / base, total.max / base, total.count
    )


METRICS = (
    Metric("Time to first byte", "time", lambda _, s: s.ttfb),
    Metric("Total time", "time", lambda _, s: s.total),
    Metric("Server peak memory growth", "size", lambda _, s: s.server.peak_memory_growth_bytes),
    Metric("Time as a ratio to the COPY floor", "ratio", _floor_ratio),
    # The streams side by side (results.py's StreamFigures), one value per round: lower is
    # better for both, as for every metric here.
    Metric(
        "Server open files at the peak",
        "count",
        lambda _, s: None if s.streams is None else s.streams.open_files,
    ),
    Metric(
        "Spread of per-stream throughput (fastest over slowest)",
        "ratio",
        lambda _, s: None if s.streams is None else s.streams.spread,
    ),
)


# One more core's worth of other work: beyond this, the new run's machine was clearly busier.
LOAD_MARGIN = 1.0

Direction = Literal["better", "worse", "same", "unknown"]


@dataclass(frozen=True)
class DiffSection:
    heading: str
    lines: tuple[str, ...]
    table: Table | None


@dataclass(frozen=True)
class Change:
    """One figure of one scenario in both runs, judged by the noise rule."""

    metric: Metric
    scenario: Scenario
    before: Stats
    after: Stats
    direction: Direction
    load: tuple[float, float] | None  # (old, new) when the two runs' loads clearly differed

    @property
    def relative(self) -> float | None:
        if not self.before.median:
            return None
        return (self.after.median - self.before.median) / self.before.median

    @property
    def new_busier(self) -> bool:
        return self.load is not None and self.load[1] > self.load[0]

    @property
    def regression(self) -> bool:
        return self.direction == "worse" and not self.new_busier

    @property
    def load_explained(self) -> bool:
        """Worse on a busier machine, or better on a calmer one: the load may be the cause."""
        if self.load is None:
            return False
        return (self.direction == "worse") == self.new_busier and self.direction in (
            "better",
            "worse",
        )

    def verdict(self) -> str:
        if self.direction == "unknown":
            return "too few runs to tell"
        if self.direction == "same":
            return "within the noise"
        if self.load_explained and self.load is not None:
            old, new = self.load
            if self.direction == "worse":
                return (
                    f"worse, but the machine was busier (load {new:.1f} against {old:.1f}): "
                    "not counted as a regression"
                )
            return (
                f"better, but the old run's machine was busier (load {old:.1f} against "
                f"{new:.1f}): may be the calmer machine"
            )
        return f"LARGER than the noise ({self.direction})"


def _load(results: Results, scenario: Scenario) -> float | None:
    if scenario.load is not None:
        return scenario.load
    env = results.environment
    loads = [v for v in (env.load_before, env.load_after) if v is not None]
    return sum(loads) / len(loads) if loads else None


ScenarioKey = tuple[str, str, str, int, str, int, float | None, str, str]


def key_order(
    key: ScenarioKey,
) -> tuple[str, str, str, int, str, int, bool, float, str, bool, str]:
    """Scenario keys in a stable order: their cell, then full speed before the set read rates,
    fastest first (None, full speed, has no order against a number of its own), then HTTP/1.1
    before HTTP/2, then identity before the content codings. A scenario is matched across runs
    in its own version and coding only."""
    contender, endpoint, source, rows, fmt, concurrency, rate, http, compression = key
    return (
        contender, endpoint, source, rows, fmt, concurrency, rate is not None, -(rate or 0.0),
        http, compression != NO_COMPRESSION, compression,
    )  # fmt: skip


def changes(old: Results, new: Results) -> list[Change]:
    """Every figure measured in both runs, metric by metric."""
    old_by_key = {s.key: s for s in old.scenarios}
    new_by_key = {s.key: s for s in new.scenarios}
    shared = sorted(old_by_key.keys() & new_by_key.keys(), key=key_order)
    found = []
    for metric in METRICS:
        for key in shared:
            before = metric.figure(old, old_by_key[key])
            after = metric.figure(new, new_by_key[key])
            if before is None or after is None:
                continue
            clear = clearly_different(before, after, metric.kind)
            direction: Direction
            if clear is None:
                direction = "unknown"
            elif not clear:
                direction = "same"
            else:
                direction = "better" if after.median < before.median else "worse"
            old_load, new_load = _load(old, old_by_key[key]), _load(new, new_by_key[key])
            busier = (
                (old_load, new_load)
                if old_load is not None
                and new_load is not None
                and abs(new_load - old_load) > LOAD_MARGIN
                else None
            )
            found.append(Change(metric, new_by_key[key], before, after, direction, busier))
    return found


def regressions(old: Results, new: Results) -> list[Change]:
    """Figures clearly worse in the new run, and not explained by a busier machine."""
    return [c for c in changes(old, new) if c.regression]


def _factor(change: Change) -> float:
    """The size of a change as a factor either way: three times slower and three times faster
    are changes of one size, though one reads +200% and the other -67%. Memory below the
    resolution has no size."""
    before, after = change.before.median, change.after.median
    if _unresolved(change) or before <= 0 or after <= 0:
        return 0.0
    return abs(math.log(after / before))


def _unresolved(change: Change) -> bool:
    return change.metric.kind == "size" and max(change.before.max, change.after.max) < (
        _format.MEBIBYTE
    )


def _sort_key(change: Change) -> tuple[int, float]:
    clear = change.direction in ("better", "worse")
    return (0 if clear else 1, -_factor(change))


def _change_text(change: Change) -> str:
    if _unresolved(change):
        return "below 1 MiB"
    relative = change.relative
    return "n/a" if relative is None else f"{relative * 100:+.1f}%"


def diff_sections(old: Results, new: Results) -> list[DiffSection]:
    old_by_key = {s.key: s for s in old.scenarios}
    new_by_key = {s.key: s for s in new.scenarios}
    shared = sorted(old_by_key.keys() & new_by_key.keys(), key=key_order)
    sections = [_environment_section(old, new), _verification_section(old, new)]
    found = changes(old, new)
    for metric in METRICS:
        mine = sorted((c for c in found if c.metric is metric), key=_sort_key)
        rows = []
        styles = []
        for change in mine:
            rows.append(
                (
                    scenario_label(change.scenario),
                    _value(change.before, metric.kind),
                    _value(change.after, metric.kind),
                    _change_text(change),
                    change.verdict(),
                )
            )
            styles.append(
                "busier"
                if change.load_explained
                else (change.direction if change.direction in ("better", "worse") else "")
            )
        better = sum(1 for c in mine if c.direction == "better" and not c.load_explained)
        worse = sum(1 for c in mine if c.regression)
        busier = sum(1 for c in mine if c.load_explained)
        summary = (
            f"{better + worse + busier} of {len(rows)} figures changed by more than the noise of "
            f"either run: {better} better, {worse} worse"
            + (f", {busier} in step with a clearly different load" if busier else "")
            + "; clear changes first, then by the factor of the change either way."
        )
        table = Table(
            ("scenario", "old median [min–p95]", "new median [min–p95]", "change", "verdict"),
            tuple(rows),
            tuple(styles),
        )
        sections.append(DiffSection(metric.heading, (summary,), table))
    throughput_rows = []
    for key in shared:
        before_rate = old_by_key[key].megabytes_per_second
        after_rate = new_by_key[key].megabytes_per_second
        if before_rate is None or after_rate is None or before_rate == 0:
            continue
        throughput_rows.append(
            (
                scenario_label(new_by_key[key]),
                _format.rate(before_rate, "MB/s"),
                _format.rate(after_rate, "MB/s"),
                f"{(after_rate - before_rate) / before_rate * 100:+.1f}%",
                "no spread recorded for rates: judge by the total time above",
            )
        )
    sections.append(
        DiffSection(
            "Throughput against concurrency",
            (),
            Table(("scenario", "old", "new", "change", "verdict"), tuple(throughput_rows)),
        )
    )
    tail_rows = []
    for key in shared:
        before_streams, after_streams = old_by_key[key].streams, new_by_key[key].streams
        before_p99 = None if before_streams is None else before_streams.ttfb_p99
        after_p99 = None if after_streams is None else after_streams.ttfb_p99
        if before_p99 is None or after_p99 is None or before_p99 <= 0:
            continue
        tail_rows.append(
            (
                scenario_label(new_by_key[key]),
                _format.seconds(before_p99),
                _format.seconds(after_p99),
                f"{(after_p99 - before_p99) / before_p99 * 100:+.1f}%",
                "one figure over every request of the run: judge by the first byte's band above",
            )
        )
    if tail_rows:
        sections.append(
            DiffSection(
                "First byte, 99th percentile",
                (),
                Table(("scenario", "old", "new", "change", "verdict"), tuple(tail_rows)),
            )
        )
    gone = [
        scenario_label(old_by_key[k])
        for k in sorted(old_by_key.keys() - new_by_key.keys(), key=key_order)
    ]
    added = [
        scenario_label(new_by_key[k])
        for k in sorted(new_by_key.keys() - old_by_key.keys(), key=key_order)
    ]
    lines = [f"Only in the old run: {label}" for label in gone]
    lines += [f"Only in the new run: {label}" for label in added]
    sections.append(DiffSection("Scenarios in one run only", tuple(lines) or ("None.",), None))
    return sections


def _value(stats: Stats, kind: Kind) -> str:
    low, high = band(stats)
    if kind == "size" and stats.max < _format.MEBIBYTE:
        return "< 1 MiB (below the resolution)"
    fmt = _format.formatter(kind)
    return f"{fmt(stats.median)} [{fmt(low)}–{fmt(high)}]"


def _environment_section(old: Results, new: Results) -> DiffSection:
    before = dict(environment_items(old))
    after = dict(environment_items(new))
    rows = tuple(
        (key, before.get(key, ""), after.get(key, ""))
        for key in after
        # The ceiling is a measurement of the run, different every time, not its environment.
        if key not in ("run", "load", "client ceiling") and before.get(key) != after.get(key)
    )
    lines = (f"old run {old.created_at}, new run {new.created_at}.", *load_lines(old, new))
    if old.matrix.client != new.matrix.client:
        lines += (
            f"⚠ The runs read their bodies with different clients ({old.matrix.client}, then "
            f"{new.matrix.client}): where a figure is near either client's ceiling, the change "
            "is the client's.",
        )
    if not rows:
        return DiffSection(
            "Environment", (*lines, "Same machine, versions, settings and matrix."), None
        )
    return DiffSection("Environment", lines, Table(("what", "old", "new"), rows))


def run_load(results: Results) -> float | None:
    """One figure for a run's load: the mean of its start and end, else of its scenarios'."""
    env = results.environment
    loads = [v for v in (env.load_before, env.load_after) if v is not None]
    if not loads:
        loads = [s.load for s in results.scenarios if s.load is not None]
    return sum(loads) / len(loads) if loads else None


def load_lines(old: Results, new: Results) -> tuple[str, ...]:
    """The two runs' loads, and a warning when they differ enough to move the figures."""
    before, after = run_load(old), run_load(new)
    if before is None or after is None:
        missing = [name for name, value in (("old", before), ("new", after)) if value is None]
        return (
            f"⚠ No load average recorded in the {' and '.join(missing)} run: a change a busier "
            "machine caused cannot be told from a regression.",
        )
    text = f"1-minute load average: old run {before:.2f}, new run {after:.2f}."
    if after - before > LOAD_MARGIN:
        return (
            text,
            "⚠ The new run's machine was clearly busier: figures worse on it are marked as "
            "in step with the load and not counted as regressions; rerun on a quiet machine to "
            "be sure.",
        )
    if before - after > LOAD_MARGIN:
        return (
            text,
            "⚠ The old run's machine was clearly busier: figures better now may owe it to the "
            "calmer machine, and are marked so.",
        )
    return (text,)


def _verification_section(old: Results, new: Results) -> DiffSection:
    before = {p.contender: p.timed for p in old.ports}
    lines = []
    for port in new.ports:
        was = before.get(port.contender)
        now = "passed" if port.timed else "FAILED"
        if was is None:
            lines.append(f"{port.contender}: new in this run, verification {now}.")
        elif was != port.timed:
            lines.append(
                f"{port.contender}: verification {'passed' if was else 'FAILED'} before, {now} now."
            )
    return DiffSection("Verification", tuple(lines) or ("No change.",), None)


def render_diff_markdown(old: Results, new: Results) -> str:
    out = ["# streambench: what changed between two runs", "", NOISE_RULE, ""]
    for section in diff_sections(old, new):
        out += [f"## {section.heading}", ""]
        out += [f"- {line}" for line in section.lines]
        if section.lines:
            out.append("")
        if section.table is not None and section.table.rows:
            out += [*markdown.render_table(_marked(section.table)), ""]
    return "\n".join(out).rstrip() + "\n"


_MARKS = {"better": "🟢 ", "worse": "🔴 ", "busier": "🟡 "}


def _marked(table: Table) -> Table:
    """Markdown has no colour: the verdict cell starts with a coloured mark instead."""
    if not table.styles:
        return table
    rows = tuple(
        (*row[:-1], _MARKS.get(style, "") + row[-1])
        for row, style in zip(table.rows, table.styles, strict=True)
    )
    return Table(table.headers, rows, table.styles)


def render_diff_html(old: Results, new: Results) -> str:
    body = ["<h1>streambench: what changed between two runs</h1>", f"<p>{escape(NOISE_RULE)}</p>"]
    for section in diff_sections(old, new):
        body.append(f"<h2>{escape(section.heading)}</h2>")
        if section.lines:
            body.append("<ul>")
            for line in section.lines:
                # A warning (a load that differed, none recorded) must not read like the facts.
                css = ' class="note-flag"' if line.startswith("⚠") else ""
                body.append(f"<li{css}>{escape(line)}</li>")
            body.append("</ul>")
        if section.table is not None and section.table.rows:
            body += html.render_table(section.table)
    return html.render_document("streambench: what changed between two runs", body)
