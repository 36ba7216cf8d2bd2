"""The Starlette port of the streambench contract, served by uvicorn."""

from .app import create_app
from .port import PORT, serve

__all__ = ["PORT", "create_app", "serve"]
