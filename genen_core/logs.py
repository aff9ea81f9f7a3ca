"""One logging setup, called by every entry point and by every fresh worker process."""

from __future__ import annotations

import logging
import os

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVEL_ENV = "GENEN_LOG_LEVEL"
"""Environment variable that sets the level when the caller gives none (e.g. ``DEBUG``)."""


def setup_logging(level: int | str | None = None) -> None:
    """Log to stderr in :data:`FORMAT` at ``level``, else ``$GENEN_LOG_LEVEL``, else INFO.

    Like :func:`logging.basicConfig`, it leaves a root logger that already has a handler
    alone (pytest's capture, a host application's, or an earlier call), so a Ray worker
    process, which starts with none, gets one and the driver keeps its own.

    Raises:
        ValueError: The level is not a logging level name or number.
    """
    if level is None:
        level = os.environ.get(LEVEL_ENV) or logging.INFO
    if isinstance(level, str):
        name = level.strip().upper()
        if name not in logging.getLevelNamesMapping():
            raise ValueError(
                f"log level {level!r} ({LEVEL_ENV}): use DEBUG, INFO, WARNING or ERROR"
            )
        level = logging.getLevelNamesMapping()[name]
    logging.basicConfig(level=level, format=FORMAT)
