"""An image answer and an escape word through the real pipeline: signed webhooks, the
server, the store, the fake Graph API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.server import RunningApp, running
from tests.fakes.webhooks import PSID, new_mid, sample, text
from tests.messenger.conftest import APP_SECRET, single_page, write_bot

FLOWS = """{
  flows: {
    avatar: {
      triggers: [{ keywords: ["avatar"] }],
      steps: [
        { ask: "Send a photo of you", save_as: "photo", validate: "image",
          retry: "A photo, please." },
        { text: "Got it: {{ vars.photo }}" },
      ],
    },
    cancel: {
      triggers: [{ keywords: ["cancel", "stop"], interrupt: true }],
      steps: [{ text: "No problem, cancelled." }],
    },
    fallback: { steps: [{ text: "You said: {{ message.text }}" }] },
  },
}
"""


def photo() -> dict[str, Any]:
    """Meta's image message (tests/webhooks/image.json), as a new message."""
    data = sample("image")
    data["entry"][0]["messaging"][0]["message"]["mid"] = new_mid()
    return data


async def said(app: RunningApp, graph: FakeGraphAPI, body: dict[str, Any], count: int) -> str:
    """Post `body`; the text of the bot's `count`th message to the person so far."""
    answer = await app.post(body, secret=APP_SECRET)
    assert answer.status_code == 200
    sent = await graph.wait_for(count, psid=PSID)
    text_sent: str = sent[count - 1].json["message"]["text"]
    return text_sent


async def test_an_image_answers_an_image_ask_and_an_escape_word_drops_the_wait(
    tmp_path: Path, graph: FakeGraphAPI, env: dict[str, str]
) -> None:
    config = write_bot(tmp_path, single_page(), flows=FLOWS)
    async with running(config, env=env) as app:
        assert await said(app, graph, text("avatar"), 1) == "Send a photo of you"
        assert await said(app, graph, text("here you go"), 2) == "A photo, please."
        url = sample("image")["entry"][0]["messaging"][0]["message"]["attachments"][0]
        got = f"Got it: {url['payload']['url']}"
        assert await said(app, graph, photo(), 3) == got
        assert await said(app, graph, text("avatar"), 4) == "Send a photo of you"
        assert await said(app, graph, text("Stop"), 5) == "No problem, cancelled."
        # nothing waits any more: text is just text again
        assert await said(app, graph, text("hello"), 6) == "You said: hello"
    assert len(graph.messages(PSID)) == 6
