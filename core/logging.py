"""Logging configured once per process, the same way in every Baton component."""

import logging

from core.settings import Settings, get_settings

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if getattr(root, "_baton_configured", False):
        return
    logging.basicConfig(level=level, format=_FORMAT)
    # The HTTP client logs every request at INFO; that drowns the process logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    root._baton_configured = True  # type: ignore[attr-defined]


def command_settings() -> Settings:
    """The settings, with logging set up at their level: what every command starts with."""
    settings = get_settings()
    setup_logging(settings.log_level)
    return settings
