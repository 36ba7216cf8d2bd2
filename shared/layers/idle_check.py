"""Whether the server has closed an idle psycopg connection, asked of the socket, not the server.

psycopg never reads an idle connection's socket, so a pool hands out connections the server
closed long ago (a terminated backend, a restart, a failover), and psycopg-pool's own check costs
a round trip per checkout, then sleeps a second after a second failure in a row. Both layers on
psycopg (`psycopg`, and Django's ORM on its port) look at the socket instead.
"""

from __future__ import annotations

import select
from typing import Any

__all__ = ["closed_by_server"]


def closed_by_server(connection: Any) -> bool:
    """Whether the server has closed an idle pooled `psycopg.Connection`, without a round trip.

    An idle connection in autocommit has nothing to read unless the server wrote unasked, and
    here it only does so to say goodbye: its socket is readable. `poll`, not `select`: a busy
    server's descriptors pass 1024.
    """
    if connection.closed or connection.broken:
        return True
    try:
        poller = select.poll()
        poller.register(connection.pgconn.socket, select.POLLIN)
        return bool(poller.poll(0))
    except Exception:
        return True
