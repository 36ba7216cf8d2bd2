"""How fast the measuring client reads each body: `max` (as fast as it can, the default) or a
rate such as `1MB/s`, the speed of a phone, a partner's job in another region or a proxy.

A paced reader takes the body's bytes no faster than its rate from the first byte on: after each
piece it waits until the piece would have been read at that rate (a token bucket one piece
deep, refilled at the rate). Its sockets have a small receive buffer (`PACED_RECEIVE_BUFFER`):
the kernel's own would otherwise take megabytes of a body off the server at once (autotuning
grows a loopback receive buffer up to `net.ipv4.tcp_rmem`'s maximum, 32 MiB on the machines
this was written on) and hide whether the server waits for its reader.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence

__all__ = [
    "MAX",
    "PACED_RECEIVE_BUFFER",
    "Pacer",
    "ReadRateError",
    "format_rate",
    "parse_read_rates",
]

MAX = "max"
# SO_RCVBUF of a paced reader's sockets, bytes (Linux doubles it for its own bookkeeping).
PACED_RECEIVE_BUFFER = 64 * 1024

_UNITS: dict[str, float] = {
    "B": 1.0,
    "kB": 1e3,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "KiB": 1024.0,
    "MiB": 1024.0**2,
    "GiB": 1024.0**3,
}
_RATE = re.compile(r"^\s*(?P<number>[-+]?[0-9]*\.?[0-9]+)\s*(?P<unit>[A-Za-z]+)(?P<per>/s)?\s*$")


class ReadRateError(ValueError):
    """A read rate the client cannot use; the message says what to give instead."""


def parse_read_rate(raw: str) -> float | None:
    """Bytes per second, or None for `max`: `1MB/s`, `512KiB/s`, `2.5MB/s`, `max`."""
    text = raw.strip()
    if text.lower() == MAX:
        return None
    match = _RATE.match(text)
    if match is None:
        raise ReadRateError(
            f"{raw!r} is not a read rate; give a number and a unit, e.g. 1MB/s, 512KiB/s, or max"
        )
    unit = match["unit"]
    if unit not in _UNITS:
        raise ReadRateError(
            f"{raw!r}: unknown unit {unit!r}; expected one of {', '.join(_UNITS)} per second, "
            "or max"
        )
    value = float(match["number"]) * _UNITS[unit]
    if value <= 0:
        raise ReadRateError(f"{raw!r}: a read rate must be above zero (max reads at full speed)")
    return value


def parse_read_rates(raw: str) -> tuple[float | None, ...]:
    """A comma list of rates, fastest first (`max` leading), each once."""
    parts = [part.strip() for part in raw.split(",")]
    if not any(parts):
        raise ReadRateError("give at least one read rate, e.g. 1MB/s,10MB/s,max")
    if not all(parts):
        raise ReadRateError(f"empty item in {raw!r}")
    rates: list[float | None] = []
    for part in parts:
        rate = parse_read_rate(part)
        if rate in rates:
            raise ReadRateError(f"{part!r} given twice")
        rates.append(rate)
    return tuple(sorted(rates, key=_fastest_first))


def _fastest_first(rate: float | None) -> float:
    return -rate if rate is not None else float("-inf")


def format_rate(rate: float | None) -> str:
    """`max`, or the rate in the largest decimal unit that keeps it at or above 1: `1MB/s`,
    `2.5MB/s`, `512kB/s`."""
    if rate is None:
        return MAX
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        # 999.6 MB/s reads as 1GB/s: three significant figures would round it to 1e+03MB/s.
        if rate >= size * 0.9995:
            return f"{rate / size:.3g}{unit}/s"
    return f"{rate:.3g}B/s"


def rate_order(rates: Sequence[float | None]) -> list[float | None]:
    """Fastest first, `max` leading: the order tables and charts list rates in."""
    return sorted(set(rates), key=_fastest_first)


class Pacer:
    """Keeps a reader at `rate` bytes per second from `start` (the first byte's arrival): after
    the reader has taken `received` bytes, `wait` sleeps until that many bytes would have been
    read at the rate. With no rate it never waits."""

    def __init__(self, rate: float | None) -> None:
        self._rate = rate
        self._start: float | None = None

    async def wait(self, received: int) -> None:
        if self._rate is None:
            return
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        delay = self._start + received / self._rate - now
        if delay > 0:
            await asyncio.sleep(delay)
