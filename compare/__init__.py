"""The comparator: verifies every port, then measures identical buffered and streamed scenarios
against each, next to the `COPY` floor and the client's own ceiling, and writes the results."""

from .results import SCHEMA_VERSION, Results, Scenario, Stats
from .run import run_compare

__all__ = ["SCHEMA_VERSION", "Results", "Scenario", "Stats", "run_compare"]
