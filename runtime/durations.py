"""Durations as the files write them: a number of seconds, or `"30s"`, `"10m"`, `"2h"`, `"3d"`."""

from __future__ import annotations

import re
from typing import Final

DURATION_PATTERN: Final = r"^[0-9]+(\.[0-9]+)?(s|m|h|d)$"
DURATION_HINT: Final = 'a number of seconds, or a duration such as "30s", "10m", "24h" or "3d"'

_SECONDS: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION: Final = re.compile(DURATION_PATTERN)


def seconds_of(value: object) -> float | None:
    """`"24h"` -> 86400.0, `90` -> 90.0; None for anything else (the schema reports it)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if _DURATION.match(text):
            return float(text[:-1]) * _SECONDS[text[-1]]
    return None
