"""The `messages` table and the one query both access paths share, owned by SQLAlchemy Core."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Select,
    Table,
    Text,
    bindparam,
    select,
)
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

metadata = MetaData()

messages = Table(
    "messages",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("sender", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def dialect() -> asyncpg_dialect.dialect:
    """The SQL dialect every statement is compiled for: asyncpg runs them."""
    return asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


def select_messages(columns: Sequence[str]) -> Select[tuple[object, ...]]:
    """`SELECT <columns> FROM messages ORDER BY id LIMIT :rows`: ordering keeps bodies deterministic."""
    return (
        select(*(messages.c[name] for name in columns))
        .order_by(messages.c.id)
        .limit(bindparam("rows", type_=BigInteger))
    )


@functools.cache
def compiled_select(columns: tuple[str, ...]) -> str:
    """The query as asyncpg runs it, with `$1` standing for the row limit."""
    return str(select_messages(columns).compile(dialect=dialect()))


def literal_select(columns: tuple[str, ...], rows: int) -> str:
    """The same query with the row limit written in (COPY takes no parameters)."""
    query = select_messages(columns).params(rows=int(rows))
    return str(query.compile(dialect=dialect(), compile_kwargs={"literal_binds": True}))
