"""However much a person sends, the engine reads 20,000 characters and answers in 10 messages.

The caps live where an inbound event becomes an Envelope (every entry point: the webhook,
`runtime chat`, `runtime test`) and where a text is split into messages.
"""

from __future__ import annotations

import logging

import pytest

from runtime.bot import Bot
from runtime.dialog.messages import TextMessage
from runtime.envelope import Attachment, Envelope, EventKind
from runtime.messenger.limits import LIMITS
from runtime.testing import Conversation
from runtime.testing.events import text_event
from tests.dialog.conftest import Chat, MakeBot, notes_at
from tests.dialog.events import ACCOUNT, KEY, PSID, attachment, postback, tap, text

ECHO = """{ flows: {
  menu: { triggers: [{ payload: "MENU" }], steps: [{ text: "The menu." }] },
  fallback: { steps: [{ text: "You said: {{ message.text }}" }] },
} }"""
ASK = """{ flows: {
  name: { triggers: [{ keywords: ["go"] }],
          steps: [{ ask: "Your name?", save_as: "name" }, { text: "Thanks." }] },
} }"""
# a distinctive text, so that a log line holding any of it is easy to find
HUGE = "Never log what people say. " * 33_334  # 900,018 characters
MIB = 1024 * 1024


@pytest.fixture
def echo(make_bot: MakeBot) -> Bot:
    return make_bot(ECHO)


def texts(messages: object) -> list[str]:
    assert isinstance(messages, tuple)
    return [message.text for message in messages if isinstance(message, TextMessage)]


def test_the_engine_reads_the_first_20000_characters_of_a_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    envelope = text(HUGE)
    assert envelope.text == HUGE[: LIMITS.inbound_text]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    line = record.getMessage()
    assert PSID in line
    assert f"account '{ACCOUNT}'" in line
    assert f"text of {len(HUGE)} characters cut to 20000" in line
    assert "Never log" not in caplog.text


def test_an_envelope_read_back_from_the_inbox_is_not_cut_nor_logged_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored = text(HUGE).to_json()
    caplog.clear()
    assert Envelope.from_json(stored).text == HUGE[: LIMITS.inbound_text]
    assert caplog.records == []


def test_payloads_titles_and_attachment_fields_are_capped_at_messengers_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    assert tap("MENU" + "x" * MIB, title="Menu").quick_reply_payload == "MENU" + "x" * 996
    tapped = postback("P" * MIB, title="T" * 5000)
    assert tapped.postback_payload == "P" * LIMITS.payload
    assert tapped.postback_title == "T" * LIMITS.inbound_title
    sent = attachment("file", "https://cdn.example.com/" + "a" * MIB)
    assert sent.attachments == (Attachment(type="file", url=None),)
    titled = Envelope(
        account_id=ACCOUNT,
        psid=PSID,
        session_key=KEY,
        kind=EventKind.MESSAGE,
        timestamp=1.0,
        attachments=(Attachment(type="fallback", url="https://example.com", title="t" * 9999),),
    )
    assert titled.attachments[0].url == "https://example.com"
    assert titled.attachments[0].title == "t" * LIMITS.inbound_title
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 4  # one line an event, naming every cut
    assert "postback payload of 1048576 characters cut to 1000" in lines[1]
    assert "postback title of 5000 characters cut to 1000" in lines[1]
    assert "file URL of 1048600 characters left out" in lines[2]


def test_an_echo_of_a_huge_text_is_at_most_ten_messages(echo: Bot) -> None:
    turn = Chat(echo).send(text(HUGE))
    sent = texts(turn.messages)
    assert len(sent) == LIMITS.messages_per_text
    assert all(len(part) <= LIMITS.text for part in sent)
    assert sent[0].startswith("You said: Never log what people say.")
    [note] = notes_at(turn, "flows.fallback.steps.0.text")
    assert note.endswith(
        "main.json5: flows.fallback.steps.0.text: is 20010 characters after "
        "rendering, more than 10 messages of 2000 hold; the last 47 characters are left out"
    )
    assert "Never log" not in note


def test_a_text_step_never_becomes_more_than_ten_messages(make_bot: MakeBot) -> None:
    flows = """{ flows: { main: { triggers: [{ keywords: ["go"] }], steps: [
      { text: "{{ 'word ' * 100000 }}", quick_replies: [{ title: "More", payload: "MORE" }] },
    ] } } }"""
    turn = Chat(make_bot(flows)).send(text("go"))
    assert len(turn.messages) == LIMITS.messages_per_text
    assert all(len(texts((message,))[0]) <= LIMITS.text for message in turn.messages)
    assert [len(message.quick_replies) for message in turn.messages] == [0] * 9 + [1]
    [note] = notes_at(turn, "flows.main.steps.0.text")
    assert "is 500000 characters after rendering, more than 10 messages of 2000 hold" in note


def test_a_text_that_fits_in_ten_messages_is_sent_whole(make_bot: MakeBot) -> None:
    flows = """{ flows: { main: { triggers: [{ keywords: ["go"] }],
      steps: [{ text: "{{ 'x' * 20000 }}" }] } } }"""
    turn = Chat(make_bot(flows)).send(text("go"))
    assert texts(turn.messages) == ["x" * LIMITS.text] * LIMITS.messages_per_text
    assert turn.notes == ()


def test_an_answer_saved_from_a_huge_text_is_cut_too(make_bot: MakeBot) -> None:
    chat = Chat(make_bot(ASK))
    chat.send(text("go"))
    chat.send(text(HUGE))
    assert chat.session is not None
    assert chat.session.vars["name"] == HUGE[: LIMITS.inbound_text].strip()


def test_runtime_test_and_runtime_chat_see_the_same_cap(echo: Bot) -> None:
    conversation = Conversation(echo)  # what `runtime test` drives
    turn = conversation.say(HUGE)
    assert len(turn.messages) == LIMITS.messages_per_text
    account = echo.accounts[ACCOUNT]
    typed = text_event(account, "chat-local", HUGE, now=1.0, mid="m_chat_1")  # `runtime chat`
    assert typed.text == HUGE[: LIMITS.inbound_text]
