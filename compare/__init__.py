"""The comparator: verifies every port, then measures identical buffered and streamed scenarios
against each, next to the `COPY` floor and the client's own ceiling, and writes the results.

Names load on first use (PEP 562), so the command line can read the options module without
importing the measuring machinery."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import SCHEMA_VERSION, Results, Scenario, Stats
    from .run import run_compare

__all__ = ["SCHEMA_VERSION", "Results", "Scenario", "Stats", "run_compare"]

_HOME = {
    "SCHEMA_VERSION": "results",
    "Results": "results",
    "Scenario": "results",
    "Stats": "results",
    "run_compare": "run",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'compare' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
