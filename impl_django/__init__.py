"""The Django port of the streambench contract: an ASGI app for any ASGI server."""

from .app import create_app
from .port import PORT

__all__ = ["PORT", "create_app"]
