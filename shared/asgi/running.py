"""The HTTP requests an app is running, and the shutdown cut that ends those still running.

A server that stops lets in-flight responses finish for the contract's grace (shared/shutdown.py)
and then cuts what still runs. uvicorn's protocol class and the aiohttp port's server cut at the
transport. Granian and Hypercorn give an ASGI app no way to reach theirs, so the cut is made here,
in the app, the way the app already ends a body for a client that went away: a request still
running at the cut is told `http.disconnect` (its response stops sending, closes its stream and
logs its usual disconnect line) and returns without its last body message, which every server
answers by closing the connection with the body unfinished, never with a clean end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from shared.shutdown import log_cut

from .types import Message, Receive, Scope

_DISCONNECT: Message = {"type": "http.disconnect"}


class _Running:
    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.client = scope.get("client")
        self._receive = receive
        self.cut = asyncio.Event()

    async def receive(self) -> Message:
        if self.cut.is_set():
            return _DISCONNECT
        receiving = asyncio.ensure_future(self._receive())
        cutting = asyncio.ensure_future(self.cut.wait())
        try:
            await asyncio.wait({receiving, cutting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cutting.cancel()
            if not receiving.done():
                receiving.cancel()
        # A message that came with the cut is still the app's: the cut shows at the next call.
        if receiving.done() and not receiving.cancelled():
            return receiving.result()
        return _DISCONNECT


class RunningRequests:
    """Every HTTP request of one app still running, each with a `receive` the cut can end."""

    def __init__(self) -> None:
        self._running: set[_Running] = set()

    @contextlib.contextmanager
    def track(self, scope: Scope, receive: Receive) -> Iterator[Receive]:
        """The `receive` to hand the app for this request while it runs."""
        running = _Running(scope, receive)
        self._running.add(running)
        try:
            yield running.receive
        finally:
            self._running.discard(running)

    def cut(self, after: float) -> None:
        """Tell every request still running that its client is gone; one WARNING line each."""
        for running in list(self._running):
            if not running.cut.is_set():
                running.cut.set()
                log_cut(running.client, after)
