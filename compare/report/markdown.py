"""Pages as Markdown: charts as image links to standalone SVG files beside the report."""

from __future__ import annotations

from collections.abc import Sequence

from .figure import NOTE_ICONS, Figure, Note, Table
from .pages import SUMMARY, Page
from .svg import Chart

CHART_DIR = "charts"


def chart_path(chart: Chart) -> str:
    """Where a chart's SVG lives, relative to the report."""
    return f"{CHART_DIR}/{chart.ident}.svg"


def page_file(slug: str) -> str:
    return "summary.md" if slug == SUMMARY else f"{slug}.md"


def render_page_markdown(page: Page) -> str:
    out: list[str] = [f"# {page.title}", ""]
    links = " · ".join(f"[{slug}]({page_file(slug)})" for slug in page.links)
    if links:
        out += [f"Other reports: {links}", ""]
    for paragraph in page.lead:
        out += [paragraph, ""]
    out += render_notes(page.alerts)
    if page.glance is not None:
        out += ["## At a glance", "", *render_table(page.glance), ""]
    for figure in page.figures:
        out += render_figure(figure)
    if page.verdicts:
        out += ["## Verdicts by scenario", ""]
        for group in page.verdicts:
            out += [f"**{_escape(group.heading)}**", ""]
            out += [f"- {_escape(sentence)}" for sentence in group.sentences]
            out.append("")
    out += ["## Verification", "", *render_table(page.verification), ""]
    out += render_environment(page.environment)
    return "\n".join(out).rstrip() + "\n"


def render_figure(figure: Figure) -> list[str]:
    out = [f"## {figure.heading}", ""]
    for chart in figure.charts:
        out += [f"![{_escape(chart.title)}]({chart_path(chart)})", ""]
    # Flags sit right under the chart they qualify, never in a footnote.
    out += render_notes(figure.notes)
    if figure.table is not None and figure.table.rows:
        out += [*render_table(figure.table), ""]
    out += [f"- {_escape(sentence)}" for sentence in figure.verdicts]
    if figure.verdicts:
        out.append("")
    return out


def render_notes(notes: Sequence[Note]) -> list[str]:
    if not notes:
        return []
    lines = [f"> {NOTE_ICONS[note.level]} {_escape(note.text)}  " for note in notes]
    lines[-1] = lines[-1].rstrip()
    return [*lines, ""]


def render_table(table: Table) -> list[str]:
    lines = [
        "| " + " | ".join(_cell(h) for h in table.headers) + " |",
        "|" + "|".join("---" for _ in table.headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return lines


def render_environment(items: Sequence[tuple[str, str]]) -> list[str]:
    out = ["## Environment", "", "| | |", "|---|---|"]
    out += [f"| {_cell(key)} | {_cell(value)} |" for key, value in items]
    return [*out, ""]


def _cell(text: str) -> str:
    return _escape(text).replace("|", "\\|").replace("\n", " ")


def _escape(text: str) -> str:
    # Only what would change the meaning of prose: HTML tags and emphasis markers from data.
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_")
