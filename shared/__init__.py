"""The data layer every port shares: settings, the query and its two access paths, encoders, the
request contract, auth, seeding, the embedded server and the registry of ports."""

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
