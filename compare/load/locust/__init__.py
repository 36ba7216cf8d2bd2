"""The Locust load engine: a Locust master (a child process of the comparator) and Locust
workers (`streambench load-worker`, here or on other machines) send each round and bring back
every request's timing. Only the comparator's side is exported here; the master and worker
modules import Locust, which monkey-patches for gevent, and run only as processes of their own."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import LocustEngine, open_locust, start_locust

__all__ = ["LocustEngine", "open_locust", "start_locust"]


def __getattr__(name: str) -> Any:
    # Lazily: `python -m compare.load.locust.worker` imports this package before Locust patches
    # the standard library, and the engine module brings asyncio (and ssl) with it.
    if name in __all__:
        return getattr(importlib.import_module(".engine", __name__), name)
    raise AttributeError(name)
