"""What changed between two runs, figure by figure, and whether each change beats the noise.

A change is "larger than the noise" only when the old and new bands ([min, p95], the same rule as
the verdicts) do not overlap, i.e. the change is bigger than the spread of either run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from ..results import Results, Scenario, Stats
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
)


@dataclass(frozen=True)
class DiffSection:
    heading: str
    lines: tuple[str, ...]
    table: Table | None


def diff_sections(old: Results, new: Results) -> list[DiffSection]:
    old_by_key = {s.key: s for s in old.scenarios}
    new_by_key = {s.key: s for s in new.scenarios}
    shared = sorted(old_by_key.keys() & new_by_key.keys())
    sections = [_environment_section(old, new), _verification_section(old, new)]
    for metric in METRICS:
        rows = []
        larger = 0
        for key in shared:
            before = metric.figure(old, old_by_key[key])
            after = metric.figure(new, new_by_key[key])
            if before is None or after is None:
                continue
            clear = clearly_different(before, after, metric.kind)
            change = (after.median - before.median) / before.median if before.median else None
            if clear is None:
                verdict = "too few runs to tell"
            elif clear:
                larger += 1
                direction = "better" if after.median < before.median else "worse"
                verdict = f"LARGER than the noise ({direction})"
            else:
                verdict = "within the noise"
            rows.append(
                (
                    scenario_label(new_by_key[key]),
                    _value(before, metric.kind),
                    _value(after, metric.kind),
                    "n/a" if change is None else f"{change * 100:+.1f}%",
                    verdict,
                )
            )
        summary = f"{larger} of {len(rows)} figures changed by more than the noise of either run."
        table = Table(
            ("scenario", "old median [min–p95]", "new median [min–p95]", "change", "verdict"),
            tuple(rows),
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
    gone = [scenario_label(old_by_key[k]) for k in sorted(old_by_key.keys() - new_by_key.keys())]
    added = [scenario_label(new_by_key[k]) for k in sorted(new_by_key.keys() - old_by_key.keys())]
    lines = [f"Only in the old run: {label}" for label in gone]
    lines += [f"Only in the new run: {label}" for label in added]
    sections.append(DiffSection("Scenarios in one run only", tuple(lines) or ("None.",), None))
    return sections


def _value(stats: Stats, kind: Kind) -> str:
    low, high = band(stats)
    fmt = _format.formatter(kind)
    return f"{fmt(stats.median)} [{fmt(low)}–{fmt(high)}]"


def _environment_section(old: Results, new: Results) -> DiffSection:
    before = dict(environment_items(old))
    after = dict(environment_items(new))
    rows = tuple(
        (key, before.get(key, ""), after.get(key, ""))
        for key in after
        if key != "run" and before.get(key) != after.get(key)
    )
    lines = (f"old run {old.created_at}, new run {new.created_at}.",)
    if not rows:
        return DiffSection(
            "Environment", (*lines, "Same machine, versions, settings and matrix."), None
        )
    return DiffSection("Environment", lines, Table(("what", "old", "new"), rows))


def _verification_section(old: Results, new: Results) -> DiffSection:
    before = {p.name: p.timed for p in old.ports}
    lines = []
    for port in new.ports:
        was = before.get(port.name)
        now = "passed" if port.timed else "FAILED"
        if was is None:
            lines.append(f"{port.name}: new in this run, verification {now}.")
        elif was != port.timed:
            lines.append(
                f"{port.name}: verification {'passed' if was else 'FAILED'} before, {now} now."
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
            out += [*markdown.render_table(section.table), ""]
    return "\n".join(out).rstrip() + "\n"


def render_diff_html(old: Results, new: Results) -> str:
    body = ["<h1>streambench: what changed between two runs</h1>", f"<p>{escape(NOISE_RULE)}</p>"]
    for section in diff_sections(old, new):
        body.append(f"<h2>{escape(section.heading)}</h2>")
        if section.lines:
            body += ["<ul>", *(f"<li>{escape(line)}</li>" for line in section.lines), "</ul>"]
        if section.table is not None and section.table.rows:
            body += html.render_table(section.table)
    return html.render_document("streambench: what changed between two runs", body)
