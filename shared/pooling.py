"""How a checked-out connection goes back: the few rules every data layer follows alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

import anyio

from .failures import DatabaseUnavailable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["Closing", "answered", "describe", "release", "settle"]

logger = logging.getLogger("streambench.database")


async def settle(operation: asyncio.Future[Any], patience: float) -> bool:
    """Let a driver operation in flight finish; whether the connection can still be trusted."""
    await asyncio.wait({operation}, timeout=patience)
    if not operation.done():
        operation.cancel()
        await asyncio.wait({operation})
        return False
    return not operation.cancelled() and operation.exception() is None


async def release(connection: AsyncConnection, healthy: bool) -> None:
    """Return a connection to the pool, or drop it when its state cannot be trusted."""
    with anyio.CancelScope(shield=True):
        try:
            if not healthy:
                _terminate(connection)
                await connection.invalidate()
            await connection.close()
        except Exception as error:
            logger.info("dropping a connection that failed to close: %s", describe(error))


def _terminate(connection: AsyncConnection) -> None:
    """Close a connection's socket at once. SQLAlchemy's invalidation first says goodbye and
    waits up to 2 s for the server to answer; a backend still sending (a COPY being cancelled:
    PostgreSQL does not act on a cancel while it waits on its socket) sends the rest of its
    output first, which held a 500,000-row COPY's connection 1.1-1.3 s after its first chunk."""
    try:
        driver = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    except Exception:
        return  # already gone: invalidation has nothing left to wait for
    if driver is not None and not driver.is_closed():
        driver.terminate()


def describe(error: BaseException) -> str:
    """`<ExceptionClass>: <first line of its message>`, the wording of 503s and log lines; a
    `DatabaseUnavailable` (a keyset page's) already holds those words of its cause."""
    if isinstance(error, DatabaseUnavailable) and str(error):
        return str(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Closing:
    """`async with` closes it: the base of every open stream that holds a connection."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Closable(Protocol):
    async def aclose(self) -> None: ...


S = TypeVar("S", bound=_Closable)


async def answered(stream: S, first_answer: Callable[[], Awaitable[object]]) -> S:
    """`stream` once `first_answer` (its first batch, its COPY's first chunk) has come back; a
    failure up to then closes the stream and is `DatabaseUnavailable`, since no byte of a
    response exists yet."""
    try:
        await first_answer()
    except BaseException as error:
        await stream.aclose()
        if isinstance(error, Exception):
            raise DatabaseUnavailable(describe(error)) from error
        raise
    return stream
