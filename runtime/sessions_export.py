"""`runtime sessions`: what people answered, out of the store, as a table, JSON or CSV.

The answers are the business's: each session's PSID, account, last update and variables.
Sessions `runtime chat` made are left out unless asked for: a session is local when its PSID
is chat's own (`chat-local`) or when nobody with that PSID ever wrote to the account through
the webhook (`chat --as` may take any PSID). A real person's session stays theirs even after
`chat --as` wrote to it. Only variables are shown: no token, secret or session key.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from runtime.chat import CHAT_PSID
from runtime.config.model import Config
from runtime.pairing import check_account
from runtime.session import Session
from runtime.store.base import Store, StoredSession
from runtime.store.factory import open_store
from runtime.tables import table

VARIABLES_WIDTH: Final = 60  # the table's variables column, cut with an ellipsis
# A cell a spreadsheet would read as a formula (CSV injection); a plain number is left be.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BOM: Final = "\ufeff"  # Excel reads a CSV as UTF-8 only after one


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


@dataclass(frozen=True, slots=True)
class Sessions:
    """The sessions to show, least recently updated first, and how many local ones were not."""

    kept: tuple[Session, ...]
    local_left_out: int


def is_local(stored: StoredSession) -> bool:
    """A session of `runtime chat`, not of a person who wrote to the page."""
    return stored.session.psid == CHAT_PSID or stored.last_inbound is None


async def read_sessions(
    store: Store, config: Config, *, account_id: str | None, include_local: bool
) -> Sessions:
    """The sessions of one configured account, or of all, local ones only if asked for."""
    if account_id is not None:
        check_account(config, account_id)
    stored = await store.list_sessions(account_id)
    kept = tuple(s.session for s in stored if include_local or not is_local(s))
    return Sessions(kept=kept, local_left_out=len(stored) - len(kept))


async def load_sessions(config: Config, *, account_id: str | None, include_local: bool) -> Sessions:
    """`read_sessions` on the config's store, opened and closed here."""
    store = await open_store(config.state)
    try:
        return await read_sessions(
            store, config, account_id=account_id, include_local=include_local
        )
    finally:
        await store.close()


# -- output ----------------------------------------------------------------------------------
def format_table(sessions: Sessions) -> str:
    """The `runtime sessions list` table: one session a line, its variables cut to fit."""
    lines = []
    if sessions.kept:
        rows = [
            (
                _printable(session.psid),
                _printable(session.account_id),
                iso_utc(session.updated_at, minutes=True),
                _variables(session),
            )
            for session in sessions.kept
        ]
        lines.append(table(("PSID", "ACCOUNT", "UPDATED (UTC)", "VARIABLES"), rows))
    else:
        lines.append("no sessions")
    note = local_note(sessions)
    if note is not None:
        lines.append(f"({note})")
    return "\n".join(lines)


def local_note(sessions: Sessions) -> str | None:
    count = sessions.local_left_out
    if not count:
        return None
    it = "it" if count == 1 else "them"
    return (
        f"{count} session{'s' if count != 1 else ''} of `runtime chat` left out; "
        f"--include-local shows {it}"
    )


def to_json(sessions: Sequence[Session]) -> str:
    """A list of {psid, account, updated (ISO 8601, UTC), vars}."""
    records = [
        {
            "psid": session.psid,
            "account": session.account_id,
            "updated": iso_utc(session.updated_at),
            "vars": dict(session.vars),
        }
        for session in sessions
    ]
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def to_csv(sessions: Sequence[Session]) -> str:
    """RFC 4180 CSV (CRLF, quoted where needed) with a byte-order mark, for spreadsheets.

    Columns: psid, account, updated, then one per variable name of any session (sorted); a
    value that is not a string is JSON (`42`, `true`, `["a","b"]`), a missing one is empty.
    A cell that would start a formula gets a leading `'` (CSV injection: people wrote them).
    """
    names = sorted({name for session in sessions for name in session.vars})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_cell(cell) for cell in ("psid", "account", "updated", *names)])
    for session in sessions:
        values = [_csv_value(session.vars[name]) if name in session.vars else "" for name in names]
        row = [session.psid, session.account_id, iso_utc(session.updated_at), *values]
        writer.writerow([_cell(cell) for cell in row])
    return _BOM + out.getvalue()


def iso_utc(timestamp: float, *, minutes: bool = False) -> str:
    """`2026-05-01T12:00:00Z`, or `2026-05-01 12:00` for a table."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M" if minutes else "%Y-%m-%dT%H:%M:%SZ")


def _csv_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _cell(text: str) -> str:
    """`text`, with a `'` before it when a spreadsheet would take it for a formula."""
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def _json(value: object) -> str:
    """A value for the table: JSON, so a string's quotes and line breaks show as written."""
    return _printable(json.dumps(value, ensure_ascii=False))


def _printable(text: str) -> str:
    """No terminal control: what does not print (escapes, bidi overrides) shows as \\uXXXX."""
    return "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in text)


def _variables(session: Session) -> str:
    """`name="Zoë", size=42`, sorted by name, cut to VARIABLES_WIDTH with an ellipsis."""
    text = ", ".join(
        f"{_printable(name)}={_json(value)}" for name, value in sorted(session.vars.items())
    )
    return text if len(text) <= VARIABLES_WIDTH else text[: VARIABLES_WIDTH - 1] + "…"
