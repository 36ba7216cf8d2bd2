"""Which source to pick when clients are slow: the slow-readers section's verdicts and its one
sentence of advice, from the run's own figures at the slowest rate measured, by the noise rule
of `verdict.py`. Nothing here is estimated: a figure that was not measured is left out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..read_rates import format_rate
from ..results import SOURCES, Scenario, Stats
from . import _format
from .verdict import clearly_different, ranking_verdict


def verdicts(scenarios: Sequence[Scenario], contenders: Sequence[str]) -> list[str]:
    """Per contender, at the slowest rate, the sources ranked by connection-seconds."""
    paced = [s.read_rate for s in scenarios if s.read_rate is not None]
    if not paced:
        return []
    slowest = min(paced)
    verdicts = []
    for contender in contenders:
        entries = [
            (s.source, held)
            for s in scenarios
            if s.contender == contender and s.read_rate == slowest
            if (held := held_per_request(s)) is not None
        ]
        if len(entries) > 1:
            who = f"{contender}, " if len(contenders) > 1 else ""
            verdicts.append(
                ranking_verdict(f"{who}connection-s per request at {format_rate(slowest)}", entries)
            )
    return verdicts


def held_per_request(scenario: Scenario) -> Stats | None:
    return scenario.database.connection_seconds if scenario.database else None


def advice(measured: Sequence[Scenario], contenders: Sequence[str]) -> str:
    """Which source to pick when clients are slow: the one that held a pooled connection least
    per request on `/chunked` at the slowest rate measured, named only when it is clear of the
    others by the noise rule on every contender that measured both."""
    chunked = [s for s in measured if s.endpoint == "chunked" and s.read_rate is not None]
    if not chunked:
        return (
            "No /chunked response was read at a set rate in this run: nothing here says which "
            "source suits slow clients."
        )
    slowest = min(s.read_rate for s in chunked if s.read_rate is not None)
    at_slowest = [s for s in chunked if s.read_rate == slowest]
    where = f"At {format_rate(slowest)}, the slowest rate measured on /chunked"
    held: dict[str, dict[str, Stats]] = {}
    for s in sorted(at_slowest, key=lambda s: SOURCES.index(s.source)):
        if (stats := held_per_request(s)) is not None:
            held.setdefault(s.source, {})[s.contender] = stats
    bystanders = _bystander_clause(at_slowest)
    if not held:
        return f"{where}, no server reported how long it held its connections{bystanders}."

    def worst(source: str) -> tuple[float, int]:
        # A source ranks by its longest median over the contenders: a figure the run measured.
        return max(m.median for m in held[source].values()), SOURCES.index(source)

    ranked = sorted(held, key=worst)
    if len(ranked) == 1:
        [source] = ranked
        oldest = [
            s.database.transaction_age_max
            for s in at_slowest
            if s.source == source and s.database and s.database.transaction_age_max is not None
        ]
        transaction = (
            f", and the oldest transaction seen was open {_values(oldest)}" if oldest else ""
        )
        return (
            f"{where}, only {source} was measured: it held a pooled connection "
            f"{_values(m.median for m in held[source].values())} per request (median)"
            f"{transaction}{bystanders}."
        )
    leader, others = ranked[0], ranked[1:]
    judged = {other: _judge(held[leader], held[other]) for other in others}

    def amount(source: str) -> str:
        return _values(m.median for m in held[source].values())

    medians = (
        f"medians of the {len(contenders)} contenders, a range where they differ"
        if len(contenders) > 1
        else "median"
    )
    if any(verdict is None for verdict in judged.values()):
        values = ", ".join(f"{source} {amount(source)}" for source in ranked)
        return (
            f"{where}, pooled connections were held per request: {values} ({medians}), each "
            f"measured once, too few runs to call a winner{bystanders}."
        )
    ties = [other for other in others if not judged[other]]
    clear = [other for other in others if judged[other]]
    if not ties:
        against = _join(
            [f"{_factor(held[leader], held[o])} less than {o} ({amount(o)})" for o in clear]
        )
        return (
            f"When clients are slow, pick {leader}: {where[0].lower()}{where[1:]}, it held a "
            f"pooled connection {amount(leader)} per request ({medians}), clearly the least: "
            f"{against}{bystanders}."
        )
    tied = _join([f"{source} {amount(source)}" for source in [leader, *ties]])
    if not clear:
        return (
            f"{where}, the sources held a pooled connection alike, {tied} per request "
            f"({medians}): within the noise, so none is the clear pick for slow clients"
            f"{bystanders}."
        )
    behind = _join([f"{o} {amount(o)}, {_factor(held[leader], held[o])} as long" for o in clear])
    return (
        f"{where}, {tied} per request held a pooled connection least ({medians}), within the "
        f"noise of each other; clearly longer: {behind}{bystanders}."
    )


def _judge(leader: dict[str, Stats], other: dict[str, Stats]) -> bool | None:
    """Whether `leader` held its connection clearly less than `other` on every contender that
    measured both (None: a figure measured once)."""
    shared = [name for name in leader if name in other]
    if not shared:
        return False
    verdicts = [clearly_different(leader[name], other[name]) for name in shared]
    if any(v is None for v in verdicts):
        return None
    return all(verdicts) and all(leader[n].median < other[n].median for n in shared)


def _factor(leader: dict[str, Stats], other: dict[str, Stats]) -> str:
    """How many times less, per contender that measured both: one factor, or their range."""
    factors = sorted(
        other[name].median / leader[name].median
        for name in leader
        if name in other and leader[name].median > 0
    )
    if not factors:
        return "clearly"
    low, high = _times(factors[0]), _times(factors[-1])
    return f"{low}×" if low == high else f"{low}–{high}×"


def _times(factor: float) -> str:
    return f"{factor:.0f}" if factor >= 10 else f"{factor:.1f}"


def _values(seconds: Iterable[float]) -> str:
    """One time, or the range of several (one per contender), the unit said once."""
    found = sorted(seconds)
    low, high = _format.seconds(found[0]), _format.seconds(found[-1])
    if low == high:
        return low
    low_number, _, low_unit = low.partition(" ")
    high_unit = high.partition(" ")[2]
    return f"{low_number}–{high}" if low_unit == high_unit else f"{low}–{high}"


def _bystander_clause(scenarios: Sequence[Scenario]) -> str:
    """What a small request sent meanwhile met beside each source, as measured."""
    by_source: dict[str, list[Scenario]] = {}
    for s in sorted(scenarios, key=lambda s: SOURCES.index(s.source)):
        if s.bystander is not None:
            by_source.setdefault(s.source, []).append(s)
    if not by_source:
        return "; no request beside them was measured"
    first = next(s.bystander for found in by_source.values() for s in found if s.bystander)
    parts = []
    for source, found in by_source.items():
        sent = sum(s.bystander.sent for s in found if s.bystander)
        refused = sum(s.bystander.refused for s in found if s.bystander)
        ttfbs = [s.bystander.ttfb.median for s in found if s.bystander and s.bystander.ttfb]
        text = f"{_values(ttfbs)} beside {source}" if ttfbs else f"no answer beside {source}"
        if refused:
            text += f" ({refused} of {sent} refused)"
        parts.append(text)
    return (
        f"; a {first.rows}-row request sent {first.delay:g} s into each round got its first "
        f"byte in {_join(parts)} (medians)"
    )


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
