"""Pages as Markdown, short enough to paste into a pull request: the answer and the glance first,
every figure's table and verdicts in a collapsed <details> section. No images: a relative link to
a chart breaks wherever the Markdown is pasted, so the charts live in the HTML page and as SVG
files under charts/, which the page links to by name."""

from __future__ import annotations

from collections.abc import Sequence

from .figure import NOTE_ICONS, Figure, Note, Table
from .high_concurrency import HighConcurrency
from .pages import NOT_OFFERED_CAPTION, SUMMARY, Page
from .slow_readers import SlowReaders
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
    out += [page.lead[0], ""] if page.lead else []
    out += render_notes(page.alerts)
    if page.answer is not None and page.answer.rows:
        out += [f"## {page.answer_heading}", ""]
        out += [_escape(page.answer_caption), ""] if page.answer_caption else []
        out += [*render_table(page.answer), ""]
    if page.layers is not None:
        # An answer too: open, not folded away like the figures further down.
        out += [f"## {page.layers.heading}", "", *figure_body(page.layers), ""]
    if page.http is not None:
        # An answer of its own, open like the layers table.
        out += [f"## {page.http.heading}", "", *figure_body(page.http), ""]
    if page.compression is not None:
        out += [f"## {page.compression.heading}", "", *figure_body(page.compression), ""]
    if page.slow_readers is not None:
        out += render_slow_readers(page.slow_readers)
    if page.not_offered is not None:
        out += ["## Not offered", "", _escape(NOT_OFFERED_CAPTION), ""]
        out += [*render_table(page.not_offered), ""]
    if page.glance is not None:
        out += ["## Streamed against buffered, at a glance", "", *render_table(page.glance), ""]
    out += [*page.lead[1:2], ""] if len(page.lead) > 1 else []
    if page.figures:
        html_page = "index.html" if page.slug == SUMMARY else f"{page.slug}.html"
        out += [f"Charts: `{html_page}` beside this file, or the SVG files in `{CHART_DIR}/`.", ""]
    for figure in page.figures:
        out += render_figure(figure)
    # After the figures, as on the HTML page.
    if page.high_concurrency is not None:
        out += render_high_concurrency(page.high_concurrency)
    out += _details("Verification", render_table(page.verification))
    out += _details("Environment", render_environment(page.environment)[2:])
    return "\n".join(out).rstrip() + "\n"


def _details(summary: str, body: list[str]) -> list[str]:
    # GitHub renders Markdown inside <details> only with blank lines around it.
    return ["<details>", f"<summary>{_escape(summary)}</summary>", "", *body, "", "</details>", ""]


def render_slow_readers(section: SlowReaders) -> list[str]:
    """Open like the layers table: it answers a question of its own."""
    out = [f"## {section.heading}", "", _escape(section.advice), "", _escape(section.caption), ""]
    for figure in section.figures:
        out += [f"### {figure.heading}", "", *figure_body(figure), ""]
    return out


def render_high_concurrency(section: HighConcurrency) -> list[str]:
    """Its heading and caption open, each endpoint's table folded: a row per contender, source
    and concurrency is long once pasted into a pull request."""
    out = [f"## {section.heading}", "", _escape(section.caption), ""]
    for figure in section.figures:
        out += _details(
            f"{section.heading.partition(':')[0]}, {figure.heading}", figure_body(figure)
        )
    return out


def render_figure(figure: Figure) -> list[str]:
    return _details(figure.heading, figure_body(figure))


def figure_body(figure: Figure) -> list[str]:
    body = [_escape(figure.caption), ""] if figure.caption else []
    body += render_notes(figure.notes)
    if figure.table is not None and figure.table.rows:
        body += [*render_table(figure.table), ""]
    body += [f"- {_escape(sentence)}" for sentence in figure.verdicts]
    return body


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
