"""How a server stops: one grace for everything, and when the streams still running are cut.

On SIGTERM or SIGINT a server stops accepting and lets in-flight responses finish. A response
still running when `cut_after` has passed is ended the way a client that goes away ends it: its
connection is dropped (the client sees an incomplete body, never a clean end), the port notices
at its next write or through `http.disconnect`, closes its stream shielded and logs its usual
disconnect line. What is left of the grace closes those streams and the pool, so the process
exits with status 0 within `grace` and nothing is cancelled mid-protocol.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .settings import Settings

# Kept back from the grace to close the cut streams (each waits at most one batch's fetch) and
# the pool; half the grace when the grace is shorter than twice this.
CLOSING_RESERVE_SECONDS = 2.0

logger = logging.getLogger("streambench.shutdown")


@dataclass(frozen=True)
class ShutdownPlan:
    grace: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ShutdownPlan:
        return cls(max(0.0, settings.shutdown_grace))

    @property
    def cut_after(self) -> float:
        """Seconds after the stop signal at which responses still running are cut."""
        return max(0.0, self.grace - min(CLOSING_RESERVE_SECONDS, self.grace / 2))

    @property
    def closing(self) -> float:
        """Seconds left after the cut to close what was cut, and the pool."""
        return self.grace - self.cut_after


def log_cut(client: object, after: float) -> None:
    """One WARNING line per connection dropped with its response unfinished."""
    where = f"{client[0]}:{client[1]}" if isinstance(client, tuple) else str(client)
    logger.warning(
        "shutting down: dropped the connection from %s, its response still unfinished after %.1f s",
        where,
        after,
    )
