"""What a server's requests cost its database connection pool, kept by the data layer itself.

A streamed response on a server-side cursor or a `COPY` holds its pooled connection (and a
transaction) for its whole download, so a slow reader costs connection-seconds a fast one does
not, and enough of them exhaust the pool. A `ConnectionLedger` counts what the pool hands out:
each layer tells it when a connection was lent to a request and when it came back (keyed by what
identifies a checked-out connection in that layer), and times every wait for one. `/metrics`
shows its samples (`samples()`); `POST /metrics/reset-peak` restarts its peak and maxima, never
its counters.

Holds still out count as far as they have got: a scrape during a long stream sees its
connection-seconds so far, and its age as the longest hold if it is. A wait counts once it ends.

Safe from any thread (one lock): Django's layer lends and takes back its connections in the
threads that own them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .metrics import Sample

__all__ = [
    "CONNECTION_SECONDS",
    "FAILED",
    "HELD",
    "HELD_PEAK",
    "HOLD_MAX",
    "WAIT_MAX",
    "ConnectionLedger",
    "LedgerFigures",
]

# The samples a reader of /metrics goes by (the comparator reads these around each round).
HELD = "streambench_db_connections_held"
HELD_PEAK = "streambench_db_connections_held_peak"
CONNECTION_SECONDS = "streambench_db_connection_seconds_total"
HOLD_MAX = "streambench_db_hold_seconds_max"
WAIT_MAX = "streambench_db_checkout_wait_seconds_max"
FAILED = "streambench_db_checkouts_failed_total"


@dataclass(frozen=True)
class LedgerFigures:
    """The ledger at one moment. Counters since start; `held_peak`, `hold_max` and `wait_max`
    since start or the last `reset_peak()`."""

    held: int
    held_peak: int
    connection_seconds: float
    checkouts: int
    hold_max: float
    wait_seconds: float
    wait_max: float
    failed: int

    def samples(self) -> list[Sample]:
        """The figures as `/metrics` shows them."""
        return [
            Sample(HELD, "gauge",
                   "Pooled connections checked out now.", self.held),
            Sample(HELD_PEAK, "gauge",
                   "Most connections checked out at once since start or the last "
                   "POST /metrics/reset-peak.", self.held_peak),
            Sample(CONNECTION_SECONDS, "counter",
                   "Seconds connections were held, summed over checkouts, those still held "
                   "counted so far.", self.connection_seconds),
            Sample("streambench_db_checkouts_total", "counter",
                   "Connections handed out by the pool.", self.checkouts),
            Sample(HOLD_MAX, "gauge",
                   "Longest single checkout since start or the last POST /metrics/reset-peak, "
                   "those still held counted so far, seconds.", self.hold_max),
            Sample("streambench_db_checkout_wait_seconds_total", "counter",
                   "Seconds spent waiting for the pool to hand a connection out, whether one "
                   "came or not.", self.wait_seconds),
            Sample(WAIT_MAX, "gauge",
                   "Longest wait for a connection since start or the last "
                   "POST /metrics/reset-peak, seconds.", self.wait_max),
            Sample(FAILED, "counter",
                   "Requests for a connection that failed (pool timeout, database unreachable).",
                   self.failed),
        ]  # fmt: skip


class ConnectionLedger:
    """One data layer's pool as its requests used it: connections lent and returned, the time
    each was held, and the waits for one. Create one per layer, with the layer."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[Hashable, float] = {}  # what is out, and since when
        self._held_peak = 0
        self._checkouts = 0
        self._returned_seconds = 0.0  # the holds that have ended
        self._returned_max = 0.0  # the longest of them since the last reset
        self._wait_seconds = 0.0
        self._wait_max = 0.0
        self._failed = 0

    def lent(self, key: Hashable) -> None:
        """The pool handed the connection `key` to a request."""
        with self._lock:
            self._held[key] = self._clock()
            self._checkouts += 1
            self._held_peak = max(self._held_peak, len(self._held))

    def returned(self, key: Hashable) -> None:
        """The connection `key` went back to the pool, or was dropped. One never lent (its
        checkout failed on the way) or already returned is no hold: nothing changes."""
        with self._lock:
            since = self._held.pop(key, None)
            if since is None:
                return
            held = self._clock() - since
            self._returned_seconds += held
            self._returned_max = max(self._returned_max, held)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Time a wait for the pool to hand a connection out; one that raises an error (a pool
        timeout, a database that does not answer) is a failed checkout. A cancelled wait is
        timed, not failed: no request was refused for it."""
        started = self._clock()
        failed = False
        try:
            yield
        except Exception:
            failed = True
            raise
        finally:
            waited = self._clock() - started
            with self._lock:
                self._wait_seconds += waited
                self._wait_max = max(self._wait_max, waited)
                self._failed += failed

    def reset_peak(self) -> None:
        """Restart the peak and the maxima from now: the peak from the connections held now,
        the longest hold from their ages, the longest wait from nothing."""
        with self._lock:
            self._held_peak = len(self._held)
            self._returned_max = 0.0
            self._wait_max = 0.0

    def figures(self) -> LedgerFigures:
        with self._lock:
            now = self._clock()
            ages = [now - since for since in self._held.values()]
            return LedgerFigures(
                held=len(ages),
                held_peak=self._held_peak,
                connection_seconds=self._returned_seconds + sum(ages),
                checkouts=self._checkouts,
                hold_max=max([self._returned_max, *ages]),
                wait_seconds=self._wait_seconds,
                wait_max=self._wait_max,
                failed=self._failed,
            )

    def samples(self) -> list[Sample]:
        """What `/metrics` shows of the ledger now."""
        return self.figures().samples()
