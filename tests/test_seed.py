"""Seeding: deterministic, idempotent, extendable, safe when run twice at once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.seed import SEED_VERSION, seed, seeded_rows

from ._postgres import admin_url, with_database


@pytest.fixture
async def empty_url() -> AsyncIterator[str]:
    name = f"streambench_seed_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url())
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url(), name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _digest(connection: asyncpg.Connection) -> str:
    digest: str = await connection.fetchval(
        "SELECT md5(string_agg(concat_ws('|', id, sender, recipient, body, created_at), E'\\n' "
        "ORDER BY id)) FROM messages"
    )
    return digest


async def test_seed_twice_leaves_one_copy(empty_url: str) -> None:
    connection = await asyncpg.connect(empty_url)
    try:
        seen: list[tuple[int, int]] = []
        first = await seed(connection, 3000, lambda done, total: seen.append((done, total)))
        assert (first.rows, first.inserted) == (3000, 3000)
        assert seen[-1] == (3000, 3000)
        digest = await _digest(connection)
        again = await seed(connection, 3000)
        assert again.inserted == 0
        assert await connection.fetchval("SELECT count(DISTINCT id) FROM messages") == 3000
        assert await _digest(connection) == digest
        # A smaller request leaves the table alone: its first rows are the same rows.
        assert (await seed(connection, 100)).inserted == 0
        assert await seeded_rows(connection) == 3000
    finally:
        await connection.close()


async def test_extending_equals_seeding_at_once(empty_url: str) -> None:
    connection = await asyncpg.connect(empty_url)
    try:
        await seed(connection, 1000)
        extended = await seed(connection, 2500)
        assert extended.inserted == 1500
        digest = await _digest(connection)
        await connection.execute("DROP TABLE messages")
        await seed(connection, 2500)
        assert await _digest(connection) == digest, "content must be a function of the row number"
    finally:
        await connection.close()


async def test_concurrent_seeds_do_not_duplicate(empty_url: str) -> None:
    connections = [await asyncpg.connect(empty_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(seed(c, 20_000) for c in connections))
        assert sorted(r.inserted for r in results) == [0, 0, 20_000]
        assert await connections[0].fetchval("SELECT count(*) FROM messages") == 20_000
    finally:
        for connection in connections:
            await connection.close()


async def test_foreign_table_is_rebuilt_not_mixed(empty_url: str) -> None:
    connection = await asyncpg.connect(empty_url)
    try:
        await connection.execute("CREATE TABLE messages (id bigint primary key, other text)")
        await connection.execute("INSERT INTO messages VALUES (1, 'not ours')")
        result = await seed(connection, 10)
        assert result.inserted == 10
        comment = await connection.fetchval(
            "SELECT obj_description('messages'::regclass, 'pg_class')"
        )
        assert comment == SEED_VERSION
    finally:
        await connection.close()


async def test_seeded_table_is_all_visible(empty_url: str) -> None:
    """Index-only scans must not visit the heap, or the first comparison after a seed measures
    a different database than the next one (autovacuum settles it at a moment of its choosing)."""
    connection = await asyncpg.connect(empty_url)
    try:
        await seed(connection, 50_000)
        pages, visible = await connection.fetchrow(
            "SELECT relpages, relallvisible FROM pg_class WHERE oid = 'messages'::regclass"
        )
        assert pages > 0
        assert visible == pages, f"{visible} of {pages} pages all-visible after seeding"
        plan = "\n".join(
            row[0]
            for row in await connection.fetch(
                "EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM messages ORDER BY id LIMIT 50000"
            )
        )
        assert "Heap Fetches: 0" in plan, plan
    finally:
        await connection.close()


async def test_reseeding_settles_a_table_left_unvacuumed(empty_url: str) -> None:
    connection = await asyncpg.connect(empty_url)
    try:
        await seed(connection, 20_000)
        # As a bulk load that no vacuum has seen leaves it: no page all-visible.
        await connection.execute("UPDATE pg_class SET relallvisible = 0 WHERE relname = 'messages'")
        result = await seed(connection, 20_000)
        assert result.inserted == 0
        pages, visible = await connection.fetchrow(
            "SELECT relpages, relallvisible FROM pg_class WHERE oid = 'messages'::regclass"
        )
        assert visible == pages > 0
    finally:
        await connection.close()
