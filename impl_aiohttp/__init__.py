"""The aiohttp reference port of the streambench contract."""

from .app import create_app
from .port import PORT

__all__ = ["PORT", "create_app"]
