"""The summary page in a real headless Chromium: every chart laid out, nothing fetched.

CI installs Chromium (.ci/run), so there a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from compare.report import write_reports

from . import report_fixtures as fx

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Anything that does try the network goes to the discard port on loopback and fails there.
    "--proxy-server=127.0.0.1:9",
)

# Added to a copy of the page only: the report itself carries no script.
LAYOUT_PROBE = """<pre id="sb-probe"></pre><script>
const charts = [...document.querySelectorAll("svg.sb-chart")].map((svg) => {
  const box = svg.getBoundingClientRect();
  return {title: svg.querySelector("title").textContent, width: box.width, height: box.height,
          shapes: svg.querySelectorAll("polyline, rect.f0, rect.f1, rect.f2, rect.f3").length};
});
const fetched = performance.getEntriesByType("resource").map((entry) => entry.name);
document.getElementById("sb-probe").textContent = JSON.stringify({charts, fetched});
</script>"""


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed (apt-get install -y --no-install-recommends chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; .ci/run installs it, so CI must have it")
        pytest.skip(message)
    return found


def _run_chromium(tmp_path: Path, page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


def page_requests(net_log: Path) -> list[str]:
    """URLs a page asked for: requests made on the browser's own behalf have no origin."""
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] != start_job or "url" not in params:
            continue
        if params.get("initiator") == "not an origin":
            continue
        if not params["url"].startswith(("file:", "data:")):
            urls.append(params["url"])
    return urls


def png_colours(path: Path, step: int = 7) -> int:
    """How many distinct colours a sample of an 8-bit RGB(A) PNG's pixels holds."""
    return len(png_colour_set(path, step))


def png_colour_set(path: Path, step: int = 7) -> set[bytes]:
    """The distinct RGB colours of a sample of an 8-bit RGB(A) PNG's pixels."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, width, height, channels = 8, b"", 0, 0, 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8, "only 8-bit screenshots"
            assert colour_type in (2, 6), "only RGB or RGBA screenshots"
            channels = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    colours = set()
    for y in range(height):
        start = y * (stride + 1)
        line_filter, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if line_filter == 1:
                line[i] = (line[i] + left) & 0xFF
            elif line_filter == 2:
                line[i] = (line[i] + up) & 0xFF
            elif line_filter == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif line_filter == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                line[i] = (line[i] + predictor) & 0xFF
        if y % step == 0:
            for x in range(0, width, step):
                colours.add(bytes(line[x * channels : x * channels + 3]))
        previous = line
    return colours


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    write_reports(fx.with_failed_port(fx.load()), out)
    return out


def _laid_out(tmp_path: Path, page: Path) -> list[dict[str, Any]]:
    """The charts of `page` as Chromium laid them out, each checked drawn and not collapsed,
    and checked that the page fetched nothing."""
    expected = page.read_text().count('<svg class="sb-chart"')
    probe = page.parent / "probe.html"
    probe.write_text(page.read_text().replace("</body>", LAYOUT_PROBE + "\n</body>"))
    net_log = tmp_path / "net-log.json"
    dom = _run_chromium(tmp_path, probe, "--dump-dom", f"--log-net-log={net_log}").stdout
    start = dom.index('<pre id="sb-probe">') + len('<pre id="sb-probe">')
    found = json.loads(dom[start : dom.index("</pre>", start)].replace("&quot;", '"'))
    assert len(found["charts"]) == expected, "a chart is missing from the rendered DOM"
    for chart in found["charts"]:
        assert chart["width"] > 300, f"collapsed chart: {chart}"
        assert chart["height"] > 150, f"collapsed chart: {chart}"
        assert chart["shapes"] > 0, f"chart drew nothing: {chart['title']}"
    assert found["fetched"] == [], "the page loaded resources"
    assert page_requests(net_log) == [], "the page tried the network"
    charts: list[dict[str, Any]] = found["charts"]
    return charts


def test_summary_renders_every_chart_without_the_network(reports: Path, tmp_path: Path) -> None:
    assert len(_laid_out(tmp_path, reports / "index.html")) >= 6


def test_slow_reader_charts_are_laid_out_like_the_others(tmp_path: Path) -> None:
    out = tmp_path / "paced"
    results = fx.with_read_rates(fx.load())
    write_reports(results, out)
    for page in (out / "index.html", out / f"{results.ports[0].contender}.html"):
        titles = [chart["title"] for chart in _laid_out(tmp_path, page)]
        assert sum("against the read rate" in title for title in titles) == 4, titles


def test_summary_screenshot_is_not_blank(reports: Path, tmp_path: Path) -> None:
    shot = tmp_path / "summary.png"
    _run_chromium(
        tmp_path, reports / "index.html", f"--screenshot={shot}", "--window-size=1400,3000"
    )
    assert shot.stat().st_size > 20_000
    # Text, grids and six colours of series: a blank or unstyled page has a handful at most.
    assert png_colours(shot) > 50


def test_net_log_check_catches_a_page_that_fetches(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        '<!DOCTYPE html><html><body><img src="https://cdn.example.invalid/chart.png"></body></html>'
    )
    net_log = tmp_path / "net-log.json"
    _run_chromium(tmp_path, leaky, "--dump-dom", f"--log-net-log={net_log}")
    assert page_requests(net_log) == ["https://cdn.example.invalid/chart.png"]


def test_port_page_and_diff_screenshots_are_not_blank(reports: Path, tmp_path: Path) -> None:
    from compare.report import render_diff_html

    results = fx.load()
    first, second = (p.name for p in results.ports)
    # One port three times slower, the other three times faster: worse and better rows both.
    mixed = fx.scaled(fx.scaled(results, 3.0, first), 1 / 3, second)
    diff = tmp_path / "diff.html"
    diff.write_text(render_diff_html(results, mixed))
    for name, page in (("port", reports / f"{first}.html"), ("diff", diff)):
        shot = tmp_path / f"{name}.png"
        _run_chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1400,2400")
        assert shot.stat().st_size > 20_000, name
        # A port page draws its charts; the diff colours its rows.
        assert png_colours(shot) > 30, name
    colours = png_colour_set(tmp_path / "diff.png", step=3)
    for css, rgb in (("--bad-bg", (0xFF, 0xEB, 0xE9)), ("--good-bg", (0xDA, 0xFB, 0xE1))):
        assert bytes(rgb) in colours, f"the diff screenshot shows no {css} row"
