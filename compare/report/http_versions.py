"""HTTP/1.1 against HTTP/2: a run with `--http 1.1,2`, every scenario measured over both versions
set side by side, first byte and total per contender, with the floors and a verdict by the noise
rule of `verdict.py`.

The rest of a page shows the run's first HTTP version only (`View.of`): its charts and verdicts
compare frameworks, and an HTTP/2 figure beside an HTTP/1.1 one there would compare protocols
without saying so. HTTP/2's requests are streams of one connection per client process, read by
httpx with h2, whose ceiling is measured over HTTP/2 too.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..results import DEFAULT_HTTP, Results, Scenario, Stats, http_label
from . import _format
from .figure import Figure, Table
from .verdict import clearly_different

HEADING = "HTTP/1.1 against HTTP/2"


def http_figure(results: Results, contenders: Sequence[str], prefix: str) -> Figure | None:
    """Every cell measured over HTTP/1.1 and another version, for `contenders`; None when the
    run measured one version only."""
    results = results.at_read_rate(results.base_read_rate)
    versions = [v for v in results.matrix.http if v != DEFAULT_HTTP]
    if DEFAULT_HTTP not in results.matrix.http or not versions:
        return None
    base = {s.key[:7]: s for s in results.scenarios if s.http == DEFAULT_HTTP}
    rows: list[tuple[str, ...]] = []
    styles: list[str] = []
    verdicts: list[str] = []
    for other in versions:
        for scenario in results.scenarios:
            if scenario.http != other or scenario.contender not in contenders:
                continue
            before = base.get(scenario.key[:7])
            if before is None:
                continue
            row, style, verdict = _row(results, before, scenario, len(contenders) > 1)
            rows.append(row)
            styles.append(style)
            if verdict:
                verdicts.append(verdict)
    if not rows:
        return None
    return Figure(
        ident=f"{prefix}http",
        heading=HEADING,
        charts=(),
        notes=(),
        table=Table(
            (
                "contender",
                "scenario",
                "first byte, HTTP/1.1",
                "first byte, HTTP/2",
                "total, HTTP/1.1 (× body floor)",
                "total, HTTP/2 (× body floor)",
                "HTTP/2 against HTTP/1.1",
            ),
            tuple(rows),
            tuple(styles),
        ),
        verdicts=tuple(verdicts),
        caption=(
            "The same scenarios over both versions, each on server processes of its own. Over "
            "HTTP/1.1 each simultaneous request has a connection of its own; over HTTP/2 (in "
            "cleartext, prior knowledge) they are streams of one connection per client "
            "process, read by httpx with h2 whatever the run's client. Medians with their "
            "[min–p95] band; the last column sets the totals apart by the noise rule above. "
            "HTTP/2's client ceiling is httpx reading the same bytes over HTTP/2 from an "
            "in-memory server written with the Python h2 package, itself slower than the "
            "servers' HTTP/2 layers: an upper bound of what the reader costs, so a figure may "
            "be flagged client-bound where the reader alone would not bound it. Pairs whose "
            "server does not speak HTTP/2 are listed as not offered."
        ),
    )


def _row(
    results: Results, before: Scenario, after: Scenario, with_port: bool
) -> tuple[tuple[str, ...], str, str]:
    floor = results.body_floor_for(after.rows, after.format)
    what = (
        f"/{after.endpoint}?source={after.source} {_format.rows(after.rows)} rows "
        f"{after.format} x{after.concurrency}"
    )
    against, style = _against(before.total, after.total)
    verdict = ""
    if style:
        direction = "faster" if style == "better" else "slower"
        verdict = (
            f"{after.contender} {what}: {direction} over {http_label(after.http)}, its total "
            f"{against.partition(',')[0]} {http_label(before.http)}'s, beyond the noise"
        )
    row = (
        after.contender if with_port else "",
        what,
        _format.spread(before.ttfb),
        _format.spread(after.ttfb),
        _total(before, floor.seconds.median if floor else None),
        _total(after, floor.seconds.median if floor else None),
        against,
    )
    return row, style, verdict


def _total(scenario: Scenario, floor: float | None) -> str:
    text = _format.spread(scenario.total)
    if scenario.total is not None and floor:
        text += f" ({_format.ratio(scenario.total.median / floor)})"
    if scenario.errors:
        text += f", {scenario.errors} error(s)"
    return text


def _against(before: Stats | None, after: Stats | None) -> tuple[str, str]:
    """The ratio of the medians and, when the bands are apart, which way (a row style)."""
    if before is None or after is None or before.median <= 0:
        return "not measured", ""
    ratio = f"{after.median / before.median:.2f}x"
    apart = clearly_different(before, after)
    if apart is None:
        return f"{ratio}, too few runs to tell", ""
    if not apart:
        return f"{ratio}, within the noise", ""
    if after.median < before.median:
        return f"{ratio}, faster", "better"
    return f"{ratio}, slower", "worse"
