"""The `messages` table as an application's mapped class, for the `sqlalchemy-orm` layer.

Declarative on the schema's own `Table` (shared/schema.py), so the mapping cannot drift from
the table every other layer reads; the annotations type the attributes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import DeclarativeBase, Mapped

from ..schema import messages, metadata

__all__ = ["Base", "Message"]


class Base(DeclarativeBase):
    metadata = metadata


class Message(Base):
    __table__ = messages

    id: Mapped[int]
    sender: Mapped[str]
    recipient: Mapped[str]
    body: Mapped[str]
    created_at: Mapped[datetime]
