"""Logging: one line per record on stderr, and no access token in any of them.

Two formats, chosen by `runtime serve --log-format` (else `$RUNTIME_LOG_FORMAT`, else text):
text, `2026-01-31 12:00:00,123 INFO runtime.worker: turn account=shop ...`, for a person
reading a terminal; json, one object a line, for a machine collecting the logs:
`{"time": "2026-01-31T12:00:00.123Z", "level": "INFO", "logger": "runtime.worker",
"message": "turn account=shop ...", "account": "shop", "psid": "2000000000000001"}`, with
`account` and `psid` when the record was logged while handling that person
(`runtime/log_context.py`), and `exc`, the traceback, for an exception. In either format
an access token is masked in the message and in the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

from runtime.log_context import current_subject

_TOKEN_IN_URL = re.compile(r"(access_token=)[^&\s\"']+")
_MASK: Final = r"\1**********"

# `runtime serve --log-level`: the names a user types, and the levels they stand for
LOG_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# `runtime serve --log-format`; the environment variable sets it for every way of serving
# (the `sanic` command, a container) and reaches the worker processes
LOG_FORMATS: Final = ("text", "json")
LOG_FORMAT_VARIABLE: Final = "RUNTIME_LOG_FORMAT"
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str) -> str:
    """`text` with every `access_token=...` masked."""
    return _TOKEN_IN_URL.sub(_MASK, text) if "access_token=" in text else text


class RedactTokens(logging.Filter):
    """Masks `access_token=...` wherever a library puts a URL in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "access_token=" in message:
            record.msg = redact(message)
            record.args = None
        return True


class TextFormatter(logging.Formatter):
    """The text format; a traceback's tokens masked as the message's are."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        # the traceback too: the text another handler cached on the record is reused
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, milliseconds), level, logger, message; account
    and psid when the record is about a person; exc and stack when it has them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": _utc(record.created, record.msecs),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        subject = current_subject()
        if subject is not None:
            line["account"] = subject.account
            if subject.psid is not None:
                line["psid"] = subject.psid
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False)


def _utc(created: float, msecs: float) -> str:
    """`2026-01-31T12:00:00.123Z`"""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(msecs):03d}Z"


def setup_logging(level: int | None = None, log_format: str | None = None) -> None:
    """Configure the root logger for the command line and the server (idempotent).

    The handler is added once; `level` is applied whenever it is given (a server worker
    process calls this with the level `runtime serve --log-level` chose). Without one, the
    first call sets INFO and later calls leave the level as it is. The format is
    `log_format`, else `$RUNTIME_LOG_FORMAT` (how `runtime serve` tells its worker
    processes), else text; with neither given, a handler already added keeps its own.
    """
    root = logging.getLogger()
    if level is not None:
        root.setLevel(level)
    chosen, problem = _chosen_format(log_format, os.environ)
    handler = next((h for h in root.handlers if getattr(h, "_runtime", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(RedactTokens())
        handler._runtime = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        chosen = chosen or "text"
        if level is None:
            root.setLevel(logging.INFO)
    if chosen is not None:
        _use_format(handler, chosen)
    if problem is not None:
        logging.getLogger("runtime").warning("%s", problem)


def _chosen_format(given: str | None, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The format asked for (None: not asked), and why the environment's was not taken."""
    if given is not None:
        return given, None
    chosen, problem = environ_log_format(environ)
    return chosen, (problem + "; logging as text" if problem is not None else None)


def environ_log_format(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The format `$RUNTIME_LOG_FORMAT` names (None: unset or wrong), and what is wrong."""
    value = environ.get(LOG_FORMAT_VARIABLE, "").strip().lower()
    if not value:
        return None, None
    if value not in LOG_FORMATS:
        expected = " or ".join(LOG_FORMATS)
        return None, f"${LOG_FORMAT_VARIABLE} {value!r} is not a log format: use {expected}"
    return value, None


class _PythonHooks:
    """What Python prints as text by itself, routed through logging while the format is
    json: warnings, and an exception nothing caught (in any thread). Put back after."""

    def __init__(self) -> None:
        self.saved: tuple[Any, Any] | None = None

    def route(self, to_logging: bool) -> None:
        if to_logging and self.saved is None:
            self.saved = (sys.excepthook, threading.excepthook)
            sys.excepthook = _log_uncaught
            threading.excepthook = _log_uncaught_in_thread
            logging.captureWarnings(True)
        elif not to_logging and self.saved is not None:
            sys.excepthook, threading.excepthook = self.saved
            self.saved = None
            logging.captureWarnings(False)


_hooks = _PythonHooks()


def _use_format(handler: logging.Handler, log_format: str) -> None:
    as_json = log_format == "json"
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    _hooks.route(to_logging=as_json)


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("runtime").critical("uncaught exception", exc_info=(kind, error, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    logging.getLogger("runtime").critical(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )
