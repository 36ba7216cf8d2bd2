"""What sending a scenario's rounds cost the client side, and whether that makes the figures
the client's rather than the server's.

The client ceiling (compare/baselines.py) says how fast the client reads the same bytes from
memory; this says how hard the load generator worked while it measured the server: per round,
the busiest generator process's CPU seconds over the round's wall time (1.0: a whole core).
A process above `CLIENT_SATURATED_SHARE` of a core was itself a bottleneck. Where the servers
ran on a machine the generator ran on, the two shared its cores: the report says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .stats import Stats, stats_or_none

if TYPE_CHECKING:
    from .clients import Round

__all__ = ["CLIENT_SATURATED_SHARE", "ClientFigures", "client_figures", "saturated_reason"]

# A load generator process busier than this share of a core over a round is itself a bottleneck:
# the round may have measured it rather than the server.
CLIENT_SATURATED_SHARE = 0.8


@dataclass(frozen=True)
class ClientFigures:
    """The load generator over a scenario's measured rounds: its processes, the busiest one's
    share of a core per round (`cpu_share`), the client machines' highest one-minute load
    average after a round, their names, and whether the server shared a machine with them."""

    processes: int
    cpu_share: Stats | None
    load: float | None
    hosts: tuple[str, ...]
    same_machine: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClientFigures:
        return cls(
            processes=int(data["processes"]),
            cpu_share=stats_or_none(data.get("cpu_share")),
            load=data.get("load"),
            hosts=tuple(data.get("hosts", ())),
            same_machine=bool(data.get("same_machine", True)),
        )


def client_figures(rounds: Sequence[Round]) -> ClientFigures | None:
    measured = [(r, r.load) for r in rounds if r.load is not None]
    if not measured:
        return None
    shares = [load.busiest_share(r.seconds) for r, load in measured]
    loads = [value for _, load in measured for value in load.load.values() if value is not None]
    hosts = dict.fromkeys(host for _, load in measured for host in load.hosts)
    return ClientFigures(
        processes=max(load.processes for _, load in measured),
        cpu_share=Stats.maybe(share for share in shares if share is not None),
        load=max(loads, default=None),
        hosts=tuple(hosts),
        same_machine=any(load.same_machine for _, load in measured),
    )


def saturated_reason(figures: ClientFigures | None) -> str | None:
    """Why the scenario is flagged client-saturated: the median round's busiest generator
    process above the share of a core it may use; None when it was not."""
    if figures is None or figures.cpu_share is None:
        return None
    share = figures.cpu_share.median
    if share <= CLIENT_SATURATED_SHARE:
        return None
    shared = " on the servers' own machine" if figures.same_machine else ""
    return (
        f"the busiest of {figures.processes} client process(es){shared} used {share:.0%} of a "
        f"core over the median round (limit {CLIENT_SATURATED_SHARE:.0%}): the load generator "
        "may have set the pace; give it more --client-processes or another machine"
    )
