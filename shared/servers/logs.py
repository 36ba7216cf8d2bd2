"""One log configuration for every server: the contract's format on stderr, servers' loggers too."""

from __future__ import annotations

from typing import Any

from shared.settings import LOG_FORMAT, Settings


def log_config(settings: Settings, *server_loggers: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: everything through one stderr handler in the
    contract's format, each of `server_loggers` at the configured level."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"contract": {"format": LOG_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "contract",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"level": level} for name in server_loggers},
    }
