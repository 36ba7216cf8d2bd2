"""Which xdist worker runs which test: every test of one (port, server) pair in one worker, one after
the other, so that the pair's servers start once and its later tests reuse them.

xdist's own `--dist loadgroup` did this through an `xdist_group` mark, by appending the group to
each test's node id; with pytest 9.2 that rewrite no longer takes effect (pytest-dev/pytest-xdist
issue 1386) and the tests were dealt out one by one: a run started about 500 servers where about
150 are needed. Here the scope is read from the node id itself, the pair's name being part of every
pair-parametrised test's id; any other test is a scope of its own, free to go to either worker.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling


def pair_scope(nodeid: str, pairs: Collection[str]) -> str:
    """The pair a test belongs to (`starlette@uvicorn`), or the test's own id when it has none."""
    _, bracket, params = nodeid.partition("[")
    if bracket:
        for part in params.rstrip("]").split("-"):
            if part in pairs:
                return part
    return nodeid


class PairScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with a pair as the scope; the largest scopes are dealt first
    (`--loadscope-reorder`, on by default), so single tests fill the gaps at the end."""

    def __init__(self, config: pytest.Config, log: Any, pairs: Collection[str]) -> None:
        super().__init__(config, log)
        self.pairs = frozenset(pairs)

    def _split_scope(self, nodeid: str) -> str:
        return pair_scope(nodeid, self.pairs)
