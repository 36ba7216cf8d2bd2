"""The database every benchmark starts from: resolved as the commands resolve it, seeded."""

from __future__ import annotations

import asyncpg

from shared import embedded
from shared.seed import seed
from shared.settings import Settings


async def seeded(settings: Settings, rows: int) -> tuple[Settings, str]:
    """`settings` with its database URL resolved (the embedded server when none is set), the
    data set holding at least `rows` rows, and the server's version for the header."""
    url = embedded.database_url(settings)
    connection = await asyncpg.connect(url)
    try:
        await seed(connection, rows)
        version: str = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    return settings.replace(database_url=url), version
