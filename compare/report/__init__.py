"""Reports from a comparator run: Markdown and self-contained HTML, per port and for the run.

`render_*` functions are pure (results in, text out); `write_reports` is the only one that writes.
"""

from __future__ import annotations

from pathlib import Path

from ..results import PortResult, Results
from . import html, markdown
from .diff import render_diff_html, render_diff_markdown
from .pages import Page, port_page, summary_page
from .svg import render_chart


def pages(results: Results) -> list[Page]:
    return [summary_page(results), *(port_page(results, port) for port in results.ports)]


def render_reports(results: Results) -> dict[str, str]:
    """Every file of a run's reports, by path relative to the output folder."""
    files: dict[str, str] = {}
    for page in pages(results):
        files[markdown.page_file(page.slug)] = markdown.render_page_markdown(page)
        files[html.page_file(page.slug)] = html.render_page_html(page)
        for figure in page.every_figure:
            for chart in figure.charts:
                files[markdown.chart_path(chart)] = render_chart(chart, standalone=True) + "\n"
    return files


def render_summary_markdown(results: Results) -> str:
    return markdown.render_page_markdown(summary_page(results))


def render_summary_html(results: Results) -> str:
    return html.render_page_html(summary_page(results))


def render_port_markdown(results: Results, port: str) -> str:
    return markdown.render_page_markdown(port_page(results, _port(results, port)))


def render_port_html(results: Results, port: str) -> str:
    return html.render_page_html(port_page(results, _port(results, port)))


def _port(results: Results, name: str) -> PortResult:
    for port in results.ports:
        if port.contender == name:
            return port
    raise KeyError(f"no port {name!r} in these results")


def write_reports(results: Results, out_dir: Path) -> list[Path]:
    """Write `<port>.md`, `<port>.html`, `summary.md`, `index.html` and the charts' SVG files."""
    out_dir = Path(out_dir)
    written = []
    for relative, text in sorted(render_reports(results).items()):
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


__all__ = [
    "Page",
    "pages",
    "render_diff_html",
    "render_diff_markdown",
    "render_port_html",
    "render_port_markdown",
    "render_reports",
    "render_summary_html",
    "render_summary_markdown",
    "write_reports",
]
