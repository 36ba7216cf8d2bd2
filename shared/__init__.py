"""The data layer every port shares: settings, the query and its two access paths, encoders, the
request contract, auth, seeding, the embedded server and the registry of ports.

Names load on first use (PEP 562): `import shared.settings` must not import SQLAlchemy, so the
command line starts at once."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .auth import check_authorization, make_token
    from .contract import ContractError, DataRequest, parse_data_request
    from .database import Database, DatabaseUnavailable, RowStream, StreamFailed, create_database
    from .encoders import ENCODERS, FORMATS, Encoder, encode_all, encode_chunks
    from .ports import PORTS, PortDescriptor, PortUnavailable, available_ports, load_port
    from .seed import seed
    from .settings import Settings

__all__ = [
    "ENCODERS",
    "FORMATS",
    "PORTS",
    "ContractError",
    "DataRequest",
    "Database",
    "DatabaseUnavailable",
    "Encoder",
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
    "parse_data_request",
    "seed",
]

_HOME = {
    "ContractError": "contract",
    "DataRequest": "contract",
    "Database": "database",
    "DatabaseUnavailable": "database",
    "ENCODERS": "encoders",
    "Encoder": "encoders",
    "FORMATS": "encoders",
    "PORTS": "ports",
    "PortDescriptor": "ports",
    "PortUnavailable": "ports",
    "RowStream": "database",
    "Settings": "settings",
    "StreamFailed": "database",
    "available_ports": "ports",
    "check_authorization": "auth",
    "create_database": "database",
    "encode_all": "encoders",
    "encode_chunks": "encoders",
    "load_port": "ports",
    "make_token": "auth",
    "parse_data_request": "contract",
    "seed": "seed",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'shared' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
