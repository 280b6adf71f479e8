"""Bots built from real flow files, and a chat that keeps one person's session between turns."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.bot import Bot
from runtime.build import build_bot
from runtime.dialog.engine import Turn, run_turn
from runtime.dialog.messages import TextMessage
from runtime.envelope import Envelope
from runtime.session import Session

CONFIG = (
    '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s",'
    ' pageId: "111", name: "Acme" } }, flows: "flows/" }'
)

MakeBot = Callable[..., Bot]


@pytest.fixture
def make_bot(tmp_path: Path) -> MakeBot:
    """`make_bot(flows_text, **other_files)`: a config and `flows/main.json5` -> a built Bot.

    Each call gets its own folder, so a test can build the "reloaded" flows as a second Bot.
    """
    folders = itertools.count()

    def make(flows: str, **files: str) -> Bot:
        root = tmp_path / f"bot{next(folders)}"
        (root / "flows").mkdir(parents=True)
        (root / "config.json5").write_text(CONFIG, encoding="utf-8")
        (root / "flows" / "main.json5").write_text(flows, encoding="utf-8")
        for name, text in files.items():
            (root / "flows" / f"{name}.json5").write_text(text, encoding="utf-8")
        return build_bot(root / "config.json5", env={}).bot

    return make


class Chat:
    """One person talking to a bot: every `send` runs a turn and keeps the new session."""

    def __init__(self, bot: Bot, session: Session | None = None) -> None:
        self.bot = bot
        self.session = session
        self.now = 1_700_000_000.0

    def send(self, envelope: Envelope) -> Turn:
        self.now += 1
        turn = run_turn(self.bot, envelope, self.session, now=self.now)
        self.session = turn.session
        return turn

    def said(self, envelope: Envelope) -> list[str]:
        """The texts of the text messages the bot answers `envelope` with."""
        return said(self.send(envelope))


def said(turn: Turn) -> list[str]:
    return [message.text for message in turn.messages if isinstance(message, TextMessage)]


def notes_at(turn: Turn, key_path: str) -> list[str]:
    """The notes about one place of a flow file, such as `flows.hi.steps.0.text`.

    A note names its file first when there is one (a wait on a removed flow has none).
    """
    return [
        note for note in turn.notes if f": {key_path}: " in note or note.startswith(f"{key_path}: ")
    ]
