"""Load engines: what sends a round's simultaneous requests (compare/load/base.py), picked by
name (compare/load/engines.py)."""

from .base import ClientLoad, LoadEngine, RoundSpec
from .engines import DEFAULT_ENGINE, ENGINES, open_engine

__all__ = ["DEFAULT_ENGINE", "ENGINES", "ClientLoad", "LoadEngine", "RoundSpec", "open_engine"]
