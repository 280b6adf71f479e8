"""Logging: one line per record on stderr, and no access token in any of them."""

from __future__ import annotations

import logging
import re
import sys

_TOKEN_IN_URL = re.compile(r"(access_token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Masks `access_token=...` wherever a library puts a URL in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "access_token=" in message:
            record.msg = _TOKEN_IN_URL.sub(r"\1**********", message)
            record.args = None
        return True


def setup_logging(level: int = logging.INFO) -> None:
    """Configure the root logger for the command line and the server (idempotent)."""
    root = logging.getLogger()
    if any(getattr(handler, "_runtime", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    handler._runtime = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
