"""Outage: one log line when the store stops answering a caller, one when it answers again.

While Redis restarts or fails over, a server keeps trying: the webhook answers 503 to every
POST (Meta delivers them again), the worker looks for work every second. A line for each
failure would be thousands a minute under load, each the same. So a caller logs the first
failure at ERROR (and again when the reason changes), the ones after it at DEBUG, and once
the store answers, one INFO line saying how many failed meanwhile.
"""

from __future__ import annotations

import logging

from runtime.errors import StoreError


class Outage:
    """One caller's failures to reach the store, from the first until it answers again."""

    def __init__(self, logger: logging.Logger, ended: str) -> None:
        """`ended` is the line logged once the store answers again; its `%d` is how many
        calls failed meanwhile."""
        self._logger = logger
        self._ended = ended
        self._failures = 0
        self._reason = ""

    def failed(self, err: StoreError, message: str, *args: object) -> None:
        """Log `message % args`, then `: <err>`: at ERROR when the outage starts or its
        reason changes, else at DEBUG."""
        self._failures += 1
        reason = str(err)
        level = logging.DEBUG if reason == self._reason else logging.ERROR
        self._reason = reason
        self._logger.log(level, f"{message}: %s", *args, reason)

    def answered(self) -> None:
        """The store did what was asked: after failures, say that the outage is over."""
        if self._failures:
            self._logger.info(self._ended, self._failures)
            self._failures = 0
            self._reason = ""
