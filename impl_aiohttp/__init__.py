"""The aiohttp reference port of the streambench contract."""

from .app import create_app
from .port import PORT, serve

__all__ = ["PORT", "create_app", "serve"]
