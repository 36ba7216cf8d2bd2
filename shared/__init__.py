"""The data layer every port shares: settings, the queries and the four sources of a body,
encoders, the request contract, auth, seeding, the embedded server and the registry of ports.

Names load on first use (PEP 562): `import shared.settings` must not import SQLAlchemy, so the
command line starts at once."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .auth import check_authorization, make_token
    from .bodies import Body, open_body, read_body
    from .contract import SOURCES, ContractError, DataRequest, parse_data_request
    from .database import (
        CopyStream,
        Database,
        DatabaseUnavailable,
        RowStream,
        StreamFailed,
        create_database,
    )
    from .encoders import ENCODERS, FORMATS, Encoder, encode_all, encode_chunks
    from .keyset import KeysetStream
    from .ports import PORTS, PortDescriptor, PortUnavailable, available_ports, load_port
    from .seed import seed
    from .settings import Settings

__all__ = [
    "ENCODERS",
    "FORMATS",
    "PORTS",
    "SOURCES",
    "Body",
    "ContractError",
    "CopyStream",
    "DataRequest",
    "Database",
    "DatabaseUnavailable",
    "Encoder",
    "KeysetStream",
    "PortDescriptor",
    "PortUnavailable",
    "RowStream",
    "Settings",
    "StreamFailed",
    "available_ports",
    "check_authorization",
    "create_database",
    "encode_all",
    "encode_chunks",
    "load_port",
    "make_token",
    "open_body",
    "parse_data_request",
    "read_body",
    "seed",
]

_HOME = {
    "Body": "bodies",
    "ContractError": "contract",
    "CopyStream": "database",
    "DataRequest": "contract",
    "Database": "database",
    "DatabaseUnavailable": "database",
    "ENCODERS": "encoders",
    "Encoder": "encoders",
    "FORMATS": "encoders",
    "KeysetStream": "keyset",
    "PORTS": "ports",
    "PortDescriptor": "ports",
    "PortUnavailable": "ports",
    "RowStream": "database",
    "SOURCES": "contract",
    "Settings": "settings",
    "StreamFailed": "database",
    "available_ports": "ports",
    "check_authorization": "auth",
    "create_database": "database",
    "encode_all": "encoders",
    "encode_chunks": "encoders",
    "load_port": "ports",
    "make_token": "auth",
    "open_body": "bodies",
    "parse_data_request": "contract",
    "read_body": "bodies",
    "seed": "seed",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'shared' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
