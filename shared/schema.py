"""The `messages` table and the one query both access paths share, owned by SQLAlchemy Core."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Select,
    Subquery,
    Table,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
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


def select_page(columns: Sequence[str]) -> Select[tuple[object, ...]]:
    """One page of the `keyset` source (shared/keyset.py): `select_messages` past the last id
    read, `... WHERE id > :after ORDER BY id LIMIT :rows`, an index range scan however far in."""
    return select_messages(columns).where(messages.c.id > bindparam("after", type_=BigInteger))


@functools.cache
def compiled_page(columns: tuple[str, ...]) -> str:
    """The page as asyncpg runs it: `$1` the last id read, `$2` the page's row limit."""
    return str(select_page(columns).compile(dialect=dialect()))


def literal_select(columns: tuple[str, ...], rows: int) -> str:
    """The same query with the row limit written in (COPY takes no parameters)."""
    query = select_messages(columns).params(rows=int(rows))
    return str(query.compile(dialect=dialect(), compile_kwargs={"literal_binds": True}))


# Per format, the `COPY ... TO STDOUT` options (asyncpg's `copy_from_query` keywords) that make
# PostgreSQL write `body_select`'s rows byte for byte as our encoders do. Text-format COPY would
# escape the backslashes JSON has already escaped, so JSON lines go out as CSV with a quote and a
# delimiter that JSON text never holds raw (JSON writes control characters as escapes): no
# field is ever quoted, every line is the value as it is.
_RAW_LINES = {"format": "csv", "quote": "\x01", "delimiter": "\x02"}
COPY_OPTIONS: dict[str, dict[str, str]] = {
    "text": {"format": "text"},
    "ndjson": _RAW_LINES,
    "json": _RAW_LINES,
    "csv": {"format": "csv"},
}


def _ordered_rows(rows: int) -> Subquery:
    columns = ("id", "sender", "recipient", "body", "created_at")
    return select_messages(columns).params(rows=int(rows)).subquery("m")


def body_select(fmt: str, rows: int) -> Select[Any]:
    """The query whose rows, copied out with `COPY_OPTIONS[fmt]`, are the body of `rows` rows in
    format `fmt` between the encoder's head and tail (the CSV header line, the JSON brackets).

    Needs `TimeZone=UTC` in the session: timestamps are written in its offset, ours are UTC.
    """
    if fmt == "text":
        line = literal("object_id:") + cast(messages.c.id, Text) + literal(" ")
        return select(line).order_by(messages.c.id).limit(int(rows))
    m = _ordered_rows(rows)
    as_json = cast(func.row_to_json(m.table_valued()), Text)
    if fmt == "ndjson":
        return select(as_json).order_by(m.c.id)
    if fmt == "json":
        # The first of the first `rows` rows by id is the table's smallest id: no comma before it.
        first_id = select(func.min(messages.c.id)).scalar_subquery()
        separator = case((m.c.id == first_id, literal("")), else_=literal(","))
        return select(separator + as_json).order_by(m.c.id)
    if fmt == "csv":
        # to_json writes ISO 8601 with a `T` and the offset, as Python's isoformat() does; #>>
        # takes the string out of its JSON quotes.
        created_at = func.to_json(m.c.created_at).op("#>>", return_type=Text)(
            literal_column("'{}'")
        )
        return select(m.c.id, m.c.sender, m.c.recipient, m.c.body, created_at).order_by(m.c.id)
    raise ValueError(f"no body query for format {fmt!r}")


def body_query(fmt: str, rows: int) -> str:
    """`body_select` as SQL with the row limit written in (COPY takes no parameters)."""
    query = body_select(fmt, rows).compile(
        dialect=dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(query)
