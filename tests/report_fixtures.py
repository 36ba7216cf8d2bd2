"""The stored results file the report tests render, and variants of it made in code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from compare.report.context import View
from compare.results import (
    AbortCost,
    Bystander,
    Check,
    DatabaseFigures,
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


# The rates `with_read_rates` measures by default, fastest first as the comparator lists them.
RATES: tuple[float | None, ...] = (None, 10e6, 1e6)
# Connection-seconds per request of a `copy` stream, whatever the rate: the database wrote it
# into the socket's buffers and let go (made up, as every figure of these variants).
COPY_HELD = 0.05


def with_read_rates(
    results: Results, rates: tuple[float | None, ...] = RATES, *, copy: bool = True
) -> Results:
    """The stored run as if read at `rates` too (`--read-rate`): every scenario once per rate,
    with what a paced round records (reached rate, database figures, a bystander in each paced
    round, an abort on `/chunked` at the most rows and one request at a time). A cursor holds
    its connection for the whole body (bytes / rate), a fetch for a tenth of the total, `copy`
    (cloned from `/chunked`'s cursor unless `copy` is false) for COPY_HELD seconds; the
    scenarios read at full speed keep the stored figures and gain the new ones."""
    base = results.scenarios
    if copy:
        base = (
            *base,
            *(
                dataclasses.replace(s, source="copy")
                for s in base
                if (s.endpoint, s.source) == ("chunked", "cursor")
            ),
        )
    most_rows = max(s.rows for s in base)
    lowest = min(s.concurrency for s in base)
    paced = tuple(
        _paced(
            s,
            rate,
            abort=s.endpoint == "chunked" and (s.rows, s.concurrency) == (most_rows, lowest),
        )
        for rate in rates
        for s in base
    )
    sources = tuple(dict.fromkeys(s.source for s in base))
    return dataclasses.replace(
        results,
        scenarios=paced,
        matrix=dataclasses.replace(
            results.matrix, read_rates=rates, sources=sources if copy else results.matrix.sources
        ),
    )


def _paced(scenario: Scenario, rate: float | None, *, abort: bool) -> Scenario:
    body = scenario.bytes or 1
    total = scenario.total.median if scenario.total else 0.01
    if scenario.source == "cursor":
        held = body / rate if rate else total
    elif scenario.source == "copy":
        held = COPY_HELD
    else:
        held = total / 10
    return dataclasses.replace(
        scenario,
        read_rate=rate,
        reached_rate=stats(rate * 0.99, rate * 0.98, rate * 0.995)
        if rate
        else stats(60e6, 50e6, 70e6),
        database=DatabaseFigures(
            connection_seconds=stats(held, held * 0.95, held * 1.05),
            held_peak=scenario.concurrency,
            hold_max=held * 1.1,
            wait_max=0.0002,
            checkouts_failed=0,
            transaction_age_max=held * 1.2,
            busy_backends_peak=scenario.concurrency,
        ),
        bystander=None
        if rate is None
        else Bystander(
            rows=10,
            delay=1.0,
            sent=scenario.repeats,
            ttfb=stats(0.004, 0.0035, 0.0045, scenario.repeats),
            total=stats(0.005, 0.0045, 0.0055, scenario.repeats),
            refused=0,
        ),
        abort=AbortCost(
            after_bytes=262144,
            reset=stats(0.010, 0.009, 0.011, 3),
            close=stats(0.012, 0.011, 0.013, 3),
            leaked=0,
            patience=15.0,
        )
        if abort
        else None,
    )


def held_for(
    results: Results, source: str, median: float, low: float, high: float, port: str | None = None
) -> Results:
    """Every scenario of `source` (of `port`'s, if given) read at a set rate holding its
    connection `median` seconds per request, over [low, high]: to pin the slow-readers verdict."""

    def pinned(s: Scenario) -> Scenario:
        if s.source != source or s.read_rate is None or s.database is None:
            return s
        if port is not None and s.port != port:
            return s
        held = stats(median, low, high)
        return dataclasses.replace(
            s, database=dataclasses.replace(s.database, connection_seconds=held)
        )

    return dataclasses.replace(results, scenarios=tuple(map(pinned, results.scenarios)))
