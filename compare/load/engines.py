"""The load engines a run can pick (`--load`), by import string, loaded only when asked for: each
names a factory `(options, concurrency) -> async context manager of a LoadEngine`."""

from __future__ import annotations

import importlib
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Protocol

from .base import LoadEngine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ..options import CompareOptions

__all__ = ["DEFAULT_ENGINE", "ENGINES", "open_engine"]

ENGINES: dict[str, str] = {
    "processes": "compare.load.engines:open_local",
    # Locust's master and workers, here or on other machines; Locust (and gevent) load only in
    # those processes, never in the comparator's.
    "locust": "compare.load.locust.engine:open_locust",
}
DEFAULT_ENGINE = "processes"


class EngineFactory(Protocol):
    def __call__(
        self, options: CompareOptions, concurrency: int
    ) -> AbstractAsyncContextManager[LoadEngine]: ...


def open_engine(
    options: CompareOptions, concurrency: int
) -> AbstractAsyncContextManager[LoadEngine]:
    """The engine `options.load` names, ready for rounds of up to `concurrency` requests."""
    try:
        target = ENGINES[options.load]
    except KeyError:
        raise ValueError(
            f"unknown load engine {options.load!r}; expected {', '.join(ENGINES)}"
        ) from None
    module, _, attribute = target.partition(":")
    factory: EngineFactory = getattr(importlib.import_module(module), attribute)
    return factory(options, concurrency)


@asynccontextmanager
async def open_local(options: CompareOptions, concurrency: int) -> AsyncIterator[LoadEngine]:
    """This machine's generator: `--client-processes` worker processes, or with 0 the
    comparator's own process."""
    if options.client_processes == 0:
        from .in_process import InProcessEngine

        engine: LoadEngine = InProcessEngine(options.client, concurrency + 4)
        try:
            yield engine
        finally:
            await engine.close()
        return
    from .processes import open_processes

    async with open_processes(options.client, options.client_processes, concurrency) as workers:
        yield workers
