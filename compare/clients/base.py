"""What a measuring client is: how the comparator opens a request and reads its body piece by
piece, whichever HTTP library does it (compare/clients/timing.py does the timing, alike for all)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import ClassVar, Protocol

__all__ = ["DEFAULT_HEADERS", "REQUEST_TIMEOUT", "MeasuringClient", "Streamed"]

# Longer than any scenario's wait between two pieces: a slow response is a figure to report, not
# an error. Both clients apply it to each read, not to the whole response: a paced reader of a
# large body takes longer than this in all.
REQUEST_TIMEOUT = 600.0
CONNECT_TIMEOUT = 10.0
# What every measuring client sends unless a request says otherwise: httpx would ask for
# `gzip, deflate, zstd` and aiohttp's client for `gzip, deflate` by default, and the ports now
# honour it. A figure is of an identity body unless the scenario asks for a coding.
DEFAULT_HEADERS = {"Accept-Encoding": "identity"}


@dataclass(frozen=True)
class Streamed:
    """A response whose headers have arrived: its status, and its body as the pieces each read
    returned, undecoded (no content decoding), in the order they arrived."""

    status: int
    pieces: AsyncIterator[bytes]
    # The response's Content-Encoding (None: identity): the timing decodes the pieces by it.
    content_encoding: str | None = None


class MeasuringClient(Protocol):
    """One HTTP client of a run: kept-alive connections for the run's highest concurrency, no
    proxies from the environment, and (with a receive buffer) small SO_RCVBUF sockets for paced
    readers. `errors` are what a failed request raises (refused, reset, cut short, timed out)."""

    name: ClassVar[str]
    errors: ClassVar[tuple[type[BaseException], ...]]

    def stream(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[Streamed]: ...

    async def aclose(self) -> None: ...
