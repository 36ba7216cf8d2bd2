"""What every chart shares: its frame's geometry, the colours (light and dark) and line styles, and
the CSS rules that give them."""

from __future__ import annotations

WIDTH = 640
HEIGHT = 380
MARGIN_LEFT = 72
MARGIN_RIGHT = 20
MARGIN_TOP = 48
MARGIN_BOTTOM = 56
LEGEND_ROW = 20
LEGEND_ITEM = 200

# (light, dark) pairs: saturated enough on white, light enough on near-black. One per framework
# (port@server) of a run: the default run has seven, so ten leave room before a colour would
# have to mean two frameworks. None is red, which marks flagged points.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#0969da", "#58a6ff"),
    ("#bc4c00", "#f0883e"),
    ("#1a7f37", "#3fb950"),
    ("#8250df", "#bc8cff"),
    ("#bf3989", "#f778ba"),
    ("#9a6700", "#d29922"),
    ("#1b7c83", "#39c5cf"),
    ("#7a4a2a", "#d4a27f"),
    ("#5a7d00", "#a5d64c"),
    ("#0a3069", "#a5d6ff"),
)
# Line styles, by name: every report gives each (endpoint, source) one of these, the same one
# on every chart (colour is the framework's).
DASHES: dict[str, str] = {
    "dash": "7 4",
    "dot": "2 3",
    "dashdot": "8 3 2 3",
    "longdash": "14 4",
    "sparse": "10 3 2 3 2 3",  # dash-dot-dot: plain dots are taken by "dot"
    "longshort": "12 3 5 3",
    "pairs": "5 2 5 7",
}
_REF = ("#57606a", "#8b949e")
_FG = ("#1f2328", "#e6edf3")
_MUTED = ("#57606a", "#9198a1")
_GRID = ("#d0d7de", "#30363d")
_BG = ("#ffffff", "#0d1117")
_WARN = ("#cf222e", "#ff7b72")


def chart_css(scope: str = ".sb-chart") -> str:
    """The colour rules every chart needs, light first, dark under the media query."""

    def rules(which: int) -> str:
        parts = [
            f"{scope} .bg{{fill:{_BG[which]}}}",
            f"{scope} .fg{{fill:{_FG[which]}}}",
            f"{scope} .muted{{fill:{_MUTED[which]}}}",
            f"{scope} .grid{{stroke:{_GRID[which]}}}",
            f"{scope} .axis{{stroke:{_MUTED[which]}}}",
            f"{scope} .warn{{fill:{_WARN[which]};stroke:{_WARN[which]}}}",
            f"{scope} .sref{{stroke:{_REF[which]}}}",
            f"{scope} .fref{{fill:{_REF[which]}}}",
        ]
        for index, colours in enumerate(PALETTE):
            parts.append(f"{scope} .s{index}{{stroke:{colours[which]}}}")
            parts.append(f"{scope} .f{index}{{fill:{colours[which]}}}")
        return "".join(parts)

    base = (
        f"{scope} text{{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:12px}}"
        f"{scope} .title{{font-size:15px;font-weight:600}}"
        f"{scope} .line{{fill:none;stroke-width:2;stroke-linejoin:round}}"
        + "".join(
            f"{scope} .dash-{name}{{stroke-dasharray:{dash}}}" for name, dash in DASHES.items()
        )
        + f"{scope} .dash{{stroke-dasharray:6 4}}"
        f"{scope} .whisker{{stroke-width:1.5}}"
    )
    return base + rules(0) + "@media (prefers-color-scheme: dark){" + rules(1) + "}"
