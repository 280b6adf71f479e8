"""Logging: one line per record on stderr, and no access token in any of them."""

from __future__ import annotations

import logging
import re
import sys
from typing import Final

_TOKEN_IN_URL = re.compile(r"(access_token=)[^&\s\"']+")

# `runtime serve --log-level`: the names a user types, and the levels they stand for
LOG_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class RedactTokens(logging.Filter):
    """Masks `access_token=...` wherever a library puts a URL in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "access_token=" in message:
            record.msg = _TOKEN_IN_URL.sub(r"\1**********", message)
            record.args = None
        return True


def setup_logging(level: int | None = None) -> None:
    """Configure the root logger for the command line and the server (idempotent).

    The handler is added once; `level` is applied whenever it is given (a server worker
    process calls this with the level `runtime serve --log-level` chose). Without one, the
    first call sets INFO and later calls leave the level as it is.
    """
    root = logging.getLogger()
    if level is not None:
        root.setLevel(level)
    if any(getattr(handler, "_runtime", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    handler._runtime = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if level is None:
        root.setLevel(logging.INFO)
