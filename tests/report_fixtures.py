"""The stored results file the report tests render, and variants of it made in code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from compare.report.context import View
from compare.results import (
    Check,
    NotOffered,
    PortResult,
    Results,
    Scenario,
    Stats,
    Verification,
)

FIXTURE = Path(__file__).parent / "fixtures" / "results-quick.json"

BROKEN_REASON = "/chunked?rows=1000 returned 999 rows, expected 1000"


def load() -> Results:
    return Results.load(FIXTURE)


def default_cell(results: Results, endpoint: str) -> Scenario:
    """The scenario every summary leads with: first port, default rows, lowest concurrency."""
    view = View.of(results)
    scenario = view.find(results.ports[0].name, endpoint, view.default_rows)
    assert scenario is not None, f"fixture has no {endpoint} scenario at the default rows"
    return scenario


def replace_scenario(results: Results, old: Scenario, new: Scenario) -> Results:
    return dataclasses.replace(
        results, scenarios=tuple(new if s is old else s for s in results.scenarios)
    )


def with_flag(results: Results, flag: str, reason: str) -> tuple[Results, Scenario]:
    target = default_cell(results, "chunked")
    flagged = dataclasses.replace(
        target,
        flags=(*target.flags, flag),
        flag_reasons={**target.flag_reasons, flag: reason},
    )
    return replace_scenario(results, target, flagged), flagged


def with_failed_port(results: Results) -> Results:
    broken = PortResult(
        name="brokenport",
        framework="brokenfw 0.1",
        server="brokenfw 0.1",
        details="a port that drops the last row",
        url="http://127.0.0.1:9",
        target=False,
        server_metrics="proc",
        verification=Verification.of(
            (
                Check("bodies identical", "pass", "streamed equals buffered"),
                Check("row count", "fail", BROKEN_REASON, "http://127.0.0.1:9/chunked?rows=1000"),
                Check("cache headers", "warn", "Cache-Control missing on errors"),
            )
        ),
    )
    return dataclasses.replace(results, ports=(*results.ports, broken))


def stats(median: float, low: float, high: float, count: int = 5) -> Stats:
    return Stats(median=median, p95=high, min=low, max=high, count=count)


def with_totals(results: Results, standard: Stats, chunked: Stats) -> Results:
    """Force the default cell's total times, to pin a verdict's wording."""
    for endpoint, total in (("standard", standard), ("chunked", chunked)):
        target = default_cell(results, endpoint)
        results = replace_scenario(results, target, dataclasses.replace(target, total=total))
    return results


def scaled(results: Results, factor: float, port: str | None = None) -> Results:
    """A second run whose every time is `factor` times the first's (spreads included); with
    `port`, that port's times only."""

    def scale(value: Stats | None) -> Stats | None:
        if value is None:
            return None
        return Stats(
            value.median * factor,
            value.p95 * factor,
            value.min * factor,
            value.max * factor,
            value.count,
        )

    scenarios = tuple(
        dataclasses.replace(s, ttfb=scale(s.ttfb), total=scale(s.total))
        if port is None or s.port == port
        else s
        for s in results.scenarios
    )
    return dataclasses.replace(results, scenarios=scenarios, created_at="2026-11-26T10:00:00Z")


def with_ports(results: Results, count: int) -> Results:
    """`count` ports, the stored ones and copies of the first under new names, as in a run of
    many frameworks and servers."""
    first = results.ports[0]
    extra = [
        dataclasses.replace(first, name=f"copy{number}@server")
        for number in range(count - len(results.ports))
    ]
    copies = tuple(
        dataclasses.replace(s, port=port.name)
        for port in extra
        for s in results.scenarios
        if s.port == first.name
    )
    return dataclasses.replace(
        results, ports=(*results.ports, *extra), scenarios=(*results.scenarios, *copies)
    )


def with_layer(results: Results, layer: str, factor: float, sources: tuple[str, ...]) -> Results:
    """The stored run as if on two data layers: every port also on `layer`, its times `factor`
    times the stored ones, its copy scenarios (cloned from the cursor ones on the default
    layer) left out as not offered when `layer` does not offer copy."""
    on_default = tuple(
        dataclasses.replace(s, source="copy") for s in results.scenarios if s.source == "cursor"
    )
    base = dataclasses.replace(
        results,
        scenarios=(*results.scenarios, *on_default),
        ports=tuple(dataclasses.replace(p, default_pair=True) for p in results.ports),
        matrix=dataclasses.replace(
            results.matrix, sources=("fetch", "cursor", "copy"), layers=("asyncpg", layer)
        ),
    )
    scaled_run = scaled(base, factor)
    layered = tuple(
        dataclasses.replace(s, layer=layer) for s in scaled_run.scenarios if s.source in sources
    )
    missing = tuple(
        NotOffered(p.name, layer, source, f"{layer} offers {', '.join(sources)} only")
        for p in results.ports
        for source in ("fetch", "cursor", "copy")
        if source not in sources
    )
    return dataclasses.replace(
        base,
        ports=(*base.ports, *(dataclasses.replace(p, layer=layer) for p in base.ports)),
        scenarios=(*base.scenarios, *layered),
        not_offered=missing,
    )
