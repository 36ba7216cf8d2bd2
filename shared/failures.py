"""How a data layer fails, the same words whichever layer reads the rows.

`DatabaseUnavailable` before any byte of a response exists (ports answer 503); `StreamFailed`
once the response has begun (the body must not end as if it were complete).
"""

from __future__ import annotations


class DatabaseUnavailable(Exception):
    """No connection could be had (pool exhausted past its timeout, or the server is down), or
    the database refused the query before answering it.

    Raised before any byte of a response exists, so ports answer 503.
    """


class StreamFailed(Exception):
    """The database failed while a stream was being read: the response must not end cleanly."""
