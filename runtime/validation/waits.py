"""Waits written in flow files (`"30s"`, `"10m"`, `"2h"`, `"3d"`): their seconds, checked,
and said back in messages.

Flows take a duration with its unit only (the schema rejects a bare number): `delay: 2`
would leave the reader to guess between two seconds and two hours.
"""

from __future__ import annotations

import math
from typing import Final

from runtime.durations import seconds_of
from runtime.validation.problems import ProblemCollector
from runtime.window import HUMAN_AGENT_WINDOW_SECONDS

DAY: Final = 86400.0
# Meta lets the page's people answer a person within 7 days of their last message
# (HUMAN_AGENT): past that a handed-over thread has nobody left to answer it
HANDOVER_LONGEST: Final = HUMAN_AGENT_WINDOW_SECONDS
# past this, a due time is no longer a date (Python's datetime ends in the year 9999)
_LONGEST: Final = 100 * 365 * DAY
_UNITS: Final = (("d", DAY), ("h", 3600.0), ("m", 60.0))


def wait_seconds(
    collector: ProblemCollector, text: str, path: str, *, longest: float = _LONGEST
) -> float | None:
    """The seconds of a duration the schema let through (`"2h"` -> 7200.0), or None with a
    problem at `path`: no wait at all, or one longer than `longest` (7 days for a handover's
    timeout)."""
    seconds = seconds_of(text)
    if seconds is None:  # the schema has reported it
        return None
    seconds = round(seconds, 3)  # "1.1h" is 3960 seconds, not 3960.0000000000005
    if seconds <= 0:
        collector.problem(path, f'is {text}, no wait at all; write how long to wait, such as "10m"')
        return None
    if not math.isfinite(seconds) or seconds > longest:
        if longest == HANDOVER_LONGEST:
            collector.problem(
                path,
                f"is {text}, longer than 7d: Meta lets the page's people answer a person only"
                " within 7 days of their last message (HUMAN_AGENT), so no thread stays with"
                ' them longer; write "7d" or less',
            )
        else:
            collector.problem(path, f'is {text}, more than 100 years; write a wait such as "3d"')
        return None
    return seconds


def written(seconds: float) -> str:
    """A wait as a flow file would write it, in the largest unit that counts it with two
    decimals at most: 86400 -> "1d", 43560 -> "12.1h", 5400 -> "1.5h", 30 -> "30s"."""
    for unit, size in _UNITS:
        count = seconds / size
        if count >= 1 and abs(count - round(count, 2)) < 1e-9:
            return f"{round(count, 2):g}{unit}"
    return f"{round(seconds, 3):g}s"


def hours(seconds: float) -> str:
    """A total in hours, the 24-hour rule's unit: 90000 -> "25h", 88230 -> "24h 30m 30s"."""
    whole_hours, rest = divmod(round(seconds, 3), 3600.0)
    minutes, rest = divmod(rest, 60.0)
    parts = [f"{int(whole_hours)}h"]
    if minutes:
        parts.append(f"{int(minutes)}m")
    if rest:
        parts.append(f"{round(rest, 3):g}s")
    return " ".join(parts)
