"""Pages as one self-contained HTML file each: inline CSS and SVG, no script, no fetch."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .figure import NOTE_ICONS, Figure, Note, Table
from .high_concurrency import HighConcurrency
from .pages import NOT_OFFERED_CAPTION, SUMMARY, Page
from .slow_readers import SlowReaders
from .svg import chart_css, render_chart

PAGE_CSS = """
:root{color-scheme:light dark;--fg:#1f2328;--muted:#57606a;--bg:#ffffff;--panel:#f6f8fa;
--line:#d0d7de;--warn-bg:#fff8c5;--warn-fg:#7d4e00;--bad-bg:#ffebe9;--bad-fg:#a40e26;--link:#0969da;
--good-bg:#dafbe1;--good-fg:#116329}
@media (prefers-color-scheme: dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;
--panel:#161b22;--line:#30363d;--warn-bg:#3b2e00;--warn-fg:#e3b341;--bad-bg:#3c1618;
--bad-fg:#ff7b72;--link:#58a6ff;--good-bg:#12261e;--good-fg:#56d364}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1400px;padding:24px 32px;background:var(--bg);color:var(--fg);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--link)}
h1{font-size:26px;margin:0 0 8px}
h2{font-size:20px;margin:32px 0 8px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:16px;margin:16px 0 4px}
nav{margin-bottom:12px;color:var(--muted)}
.lead{max-width:70em}
.figure-body{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.details{flex:1 1 520px;min-width:0}
figure{margin:0}
.sb-chart{max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px}
.notes{list-style:none;padding:0;margin:8px 0}
.notes li{padding:2px 10px;margin:2px 0;border-radius:4px;font-size:13px}
.note-flag,.note-error{background:var(--warn-bg);color:var(--warn-fg)}
.notes details{font-size:12px}.notes details ul{margin:2px 0;padding-left:18px}
.note-excluded{background:var(--bad-bg);color:var(--bad-fg);font-weight:600}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--panel)}
td.num{font-variant-numeric:tabular-nums}
.status-FAIL{color:var(--bad-fg);font-weight:600}
.status-WARN{color:var(--warn-fg);font-weight:600}
.verdicts li{margin:2px 0}
.advice{max-width:70em;font-weight:600}
tr.row-better td{background:var(--good-bg);color:var(--good-fg)}
tr.row-worse td{background:var(--bad-bg);color:var(--bad-fg)}
tr.row-busier td{background:var(--warn-bg);color:var(--warn-fg)}
tr.row-winner td{font-weight:600}
dl.env{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;font-size:13px}
dl.env dt{font-weight:600}
dl.env dd{margin:0;overflow-wrap:anywhere}
"""


def page_file(slug: str) -> str:
    return "index.html" if slug == SUMMARY else f"{slug}.html"


def render_document(title: str, body: Sequence[str]) -> str:
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{escape(title)}</title>",
        f"<style>{PAGE_CSS}{chart_css()}</style>",
        "</head>",
        "<body>",
    ]
    return "\n".join([*head, *body, "</body>", "</html>"]) + "\n"


def render_page_html(page: Page) -> str:
    body = [f"<h1>{escape(page.title)}</h1>"]
    if page.links:
        links = " · ".join(
            f'<a href="{escape(page_file(slug))}">{escape(slug)}</a>' for slug in page.links
        )
        body.append(f"<nav>Other reports: {links}</nav>")
    body += [f'<p class="lead">{escape(paragraph)}</p>' for paragraph in page.lead]
    body += render_notes(page.alerts)
    if page.answer is not None and page.answer.rows:
        body.append(f'<h2 id="answer">{escape(page.answer_heading)}</h2>')
        if page.answer_caption:
            body.append(f'<p class="caption">{escape(page.answer_caption)}</p>')
        body += render_table(page.answer)
    if page.layers is not None:
        body += render_figure(page.layers)
    if page.http is not None:
        body += render_figure(page.http)
    if page.compression is not None:
        body += render_figure(page.compression)
    if page.slow_readers is not None:
        body += render_slow_readers(page.slow_readers)
    if page.not_offered is not None:
        body += [
            '<h2 id="not-offered">Not offered</h2>',
            f'<p class="caption">{escape(NOT_OFFERED_CAPTION)}</p>',
            *render_table(page.not_offered),
        ]
    if page.glance is not None:
        body += [
            '<h2 id="glance">Streamed against buffered, at a glance</h2>',
            *render_table(page.glance),
        ]
    for figure in page.figures:
        body += render_figure(figure)
    # After the streamed-against-buffered figures the page is about: a default run's three
    # concurrencies draw it too, with a table as long as its scenarios.
    if page.high_concurrency is not None:
        body += render_high_concurrency(page.high_concurrency)
    body += ['<h2 id="verification">Verification</h2>', *render_table(page.verification)]
    body += render_environment(page.environment)
    return render_document(page.title, body)


def render_slow_readers(section: SlowReaders) -> list[str]:
    out = [
        '<section class="slow-readers" id="slow-readers">',
        f"<h2>{escape(section.heading)}</h2>",
        f'<p class="advice">{escape(section.advice)}</p>',
        f'<p class="caption">{escape(section.caption)}</p>',
    ]
    for figure in section.figures:
        out += render_figure(figure, level=3)
    return [*out, "</section>"]


def render_high_concurrency(section: HighConcurrency) -> list[str]:
    out = [
        '<section class="high-concurrency" id="high-concurrency">',
        f"<h2>{escape(section.heading)}</h2>",
        f'<p class="caption">{escape(section.caption)}</p>',
    ]
    for figure in section.figures:
        out += render_figure(figure, level=3)
    return [*out, "</section>"]


def render_figure(figure: Figure, level: int = 2) -> list[str]:
    out = [
        f'<section class="figure" id="{escape(figure.ident)}">',
        f"<h{level}>{escape(figure.heading)}</h{level}>",
    ]
    if figure.caption:
        out.append(f'<p class="caption">{escape(figure.caption)}</p>')
    out += ['<div class="figure-body">', '<div class="charts">']
    for chart in figure.charts:
        out += ["<figure>", render_chart(chart), "</figure>"]
    out += ["</div>", '<div class="details">']
    # Flags sit beside or right under the chart they qualify, never in a footnote.
    out += render_notes(figure.notes)
    if figure.table is not None and figure.table.rows:
        out += render_table(figure.table)
    if figure.verdicts:
        out.append('<ul class="verdicts">')
        out += [f"<li>{escape(sentence)}</li>" for sentence in figure.verdicts]
        out.append("</ul>")
    out += ["</div>", "</div>", "</section>"]
    return out


def render_notes(notes: Sequence[Note]) -> list[str]:
    if not notes:
        return []
    items = []
    for note in notes:
        item = f'<li class="note-{note.level}">{NOTE_ICONS[note.level]} {escape(note.text)}'
        if note.details:
            # Each scenario's own numbers, one click away: the line above stays one line.
            item += (
                "<details><summary>each scenario's reason</summary><ul>"
                + "".join(f"<li>{escape(detail)}</li>" for detail in note.details)
                + "</ul></details>"
            )
        items.append(item + "</li>")
    return ['<ul class="notes">', *items, "</ul>"]


def render_table(table: Table) -> list[str]:
    out = [
        "<table>",
        "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in table.headers) + "</tr></thead>",
    ]
    out.append("<tbody>")
    for number, row in enumerate(table.rows):
        style = table.styles[number] if number < len(table.styles) else ""
        cells = []
        for cell in row:
            css = f' class="status-{cell}"' if cell in ("FAIL", "WARN", "PASS") else ""
            cells.append(f"<td{css}>{escape(cell)}</td>")
        css = f' class="row-{style}"' if style else ""
        out.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    return out


def render_environment(items: Sequence[tuple[str, str]]) -> list[str]:
    out = ['<h2 id="environment">Environment</h2>', '<dl class="env">']
    for key, value in items:
        out += [f"<dt>{escape(key)}</dt>", f"<dd>{escape(value)}</dd>"]
    out.append("</dl>")
    return out
