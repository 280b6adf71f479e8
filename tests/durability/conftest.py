"""A bot whose every reply names the message it answers: `You said: <text>`."""

from __future__ import annotations

from pathlib import Path

from tests.messenger.conftest import single_page, write_bot

ECHO = '{ flows: { fallback: { steps: [{ text: "You said: {{ message.text }}" }] } } }'


def echo_bot(directory: Path) -> Path:
    return write_bot(directory, single_page(senderActions="false"), flows=ECHO)
