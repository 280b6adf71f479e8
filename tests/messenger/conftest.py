"""A bot on disk, a fake Graph API, and the real server between them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import PAGE_ID

TOKEN = "EAAG-page-token-main-1234567890"
APP_SECRET = "app-secret-main-abcdef"
VERIFY_TOKEN = "verify-token-main"

FLOWS = """{
  flows: {
    welcome: {
      triggers: [{ payload: "GET_STARTED" }, { keywords: ["hi", "hello"] }],
      steps: [{ text: "Hi there! What do you need?",
                quick_replies: [{ title: "Pricing", payload: "PRICING" },
                                { title: "Long", payload: "LONG" }] }],
    },
    pricing: {
      triggers: [{ payload: "PRICING" }],
      steps: [{ buttons: {
        text: "Plans start at 9.90 EUR.",
        buttons: [{ type: "web_url", title: "See plans", url: "https://example.com" },
                  { type: "postback", title: "Back", payload: "GET_STARTED" }],
      } }],
    },
    help: {
      triggers: [{ payload: "HELP" }, { keywords: ["help"] }],
      steps: [{ text: "Help is on the way." }],
    },
    long: {
      triggers: [{ payload: "LONG" }, { keywords: ["long"] }],
      steps: [{ text: "{% for i in range(90) %}Sentence number {{ '%03d' % i }} \
is here to fill the page up nicely. {% endfor %}" }],
    },
    fallback: {
      steps: [{ text: "You said: {{ message.text }}" }],
    },
  },
}
"""


def write_bot(directory: Path, messenger: str, *, flows: str = FLOWS) -> Path:
    """A config + flows folder in `directory`; `messenger` is the body of channels.messenger."""
    (directory / "flows").mkdir(parents=True, exist_ok=True)
    (directory / "flows" / "main.json5").write_text(flows)
    config = directory / "config.json5"
    config.write_text(f"{{ channels: {{ messenger: {{ {messenger} }} }}, flows: 'flows/' }}")
    return config


def single_page(**overrides: str) -> str:
    keys = {
        "pageAccessToken": f'"{TOKEN}"',
        "appSecret": f'"{APP_SECRET}"',
        "verifyToken": f'"{VERIFY_TOKEN}"',
        "pageId": f'"{PAGE_ID}"',
        "dmPolicy": '"open"',
    }
    keys.update(overrides)
    return ", ".join(f"{key}: {value}" for key, value in keys.items() if value)


@pytest.fixture
async def server(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[RunningApp]:
    async with running(write_bot(tmp_path, single_page()), env=env) as app:
        yield app
