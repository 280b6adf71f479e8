"""Expected and actual messages as short readable lines, compared and diffed line by line.

Each message is one line::

    text: "Hi there! What do you need?"  [Pricing] [Talk to a human]
    buttons: "Plans start at 9.90 EUR a month."  <See plans> <Back>
    cards: "Starter kit" ("Everything you need to begin.") | "Pro kit"
    attachment: image https://example.com/img/thanks.png
    attachment: image file logo.png
    handover: Page Inbox (note "wants to talk about an order")
    handover: back to the bot
    request: POST https://api.example.com/leads json {"email": "me@example.com"}

(A handover is no message, but a test expects it the same way, after the turn's messages,
and the bot taking the thread back too; so are the `http` steps' requests when a turn lists
the `requests` it expects.)

An actual message is drawn with only the parts its expectation names (a test that leaves
`quick_replies` out does not see them), so equal lines mean a passing turn, and the diff of
a failing one shows only what the test asked about. A text picked among variations is drawn
as the expected one when it is any of them (runtime/testing/variations.py).
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import PurePath
from typing import Final, TypeAlias

from runtime.dialog.effects import (
    NAMED_APPS,
    Effect,
    HttpCall,
    PassThread,
    TakeThread,
    app_name,
)
from runtime.dialog.messages import (
    ButtonTemplate,
    Card,
    GenericTemplate,
    MediaAttachment,
    MediaFile,
    OutMessage,
    QuickReply,
    TextMessage,
)
from runtime.testing.cases import (
    THREAD_BACK,
    ExpectedCard,
    ExpectedMessage,
    ExpectedRequest,
    MessageKind,
    UserTurn,
)
from runtime.testing.variations import VariationMatch

NOTHING: Final = "(nothing)"
BACK_TO_THE_BOT: Final = "back to the bot"
# what a turn (or the turns of a wait) put out, in order: messages, and thread-control calls
Output: TypeAlias = OutMessage | Effect


def render_expected(expected: ExpectedMessage) -> str:
    """The line an expectation stands for."""
    parts: list[str] = []
    if expected.kind is MessageKind.HANDOVER:
        to = expected.handover_to or ""
        parts.append(BACK_TO_THE_BOT if to == THREAD_BACK else app_name(NAMED_APPS.get(to, to)))
        if expected.note is not None:
            parts.append(f"(note {quoted(expected.note)})")
        return f"{expected.kind}: {' '.join(parts)}"
    if expected.kind is MessageKind.CARDS:
        parts.append(" | ".join(_card(card.title, card.subtitle) for card in expected.cards or ()))
    elif expected.kind is MessageKind.ATTACHMENT:
        file = f"file {expected.file}" if expected.file is not None else None
        parts.append(
            " ".join(part for part in (expected.attachment_type, expected.url, file) if part)
        )
    else:
        if expected.text is not None:
            parts.append(quoted(expected.text))
        if expected.buttons:
            parts.append(" ".join(f"<{title}>" for title in expected.buttons))
    if expected.quick_replies:
        parts.append(" ".join(f"[{title}]" for title in expected.quick_replies))
    body = "  ".join(part for part in parts if part)
    return f"{expected.kind}: {body}" if body else f"{expected.kind}:"


def render_message(
    message: OutMessage,
    like: ExpectedMessage | None = None,
    variations: Mapping[str, frozenset[str]] | None = None,
) -> str:
    """The line of an actual message: all of it, or only the parts `like` names; a part
    sent among `variations` reads as `like`'s when it is one of them."""
    expected = like if like is not None and like.kind is message_kind(message) else None
    if expected is None:
        expected = _everything(message)
    match = VariationMatch(variations or {})
    actual = _as_expected(message, expected, match)
    return match.annotate(render_expected(actual))


def message_kind(message: OutMessage) -> MessageKind:
    if isinstance(message, TextMessage):
        return MessageKind.TEXT
    if isinstance(message, ButtonTemplate):
        return MessageKind.BUTTONS
    if isinstance(message, GenericTemplate):
        return MessageKind.CARDS
    return MessageKind.ATTACHMENT


def reply_title(reply: QuickReply) -> str:
    """A quick reply's title; user_email and user_phone_number ones have none: their type."""
    return reply.title if reply.title is not None else reply.content_type


def quoted(text: str) -> str:
    """A string as JSON writes it: quoted, escapes for newlines, other characters kept."""
    return json.dumps(text, ensure_ascii=False)


def turn_lines(
    turn: UserTurn,
    outputs: Sequence[Output],
    variables: Mapping[str, object],
    calls: Sequence[HttpCall] = (),
    variations: Mapping[str, frozenset[str]] | None = None,
) -> tuple[list[str], list[str]]:
    """The expected and the actual lines of one turn (or of all the turns a `wait` fired):
    its messages and handovers in the order they came, the requests its `http` steps made
    (when the turn lists those it expects), then the `vars` it names. `variations` holds the
    turn's texts picked among variations (`Conversation.variations`).

    An actual output is drawn like the expectation at its place when that is of its kind;
    a handover, else like the test's handover expectation of the same rank."""
    expected = [render_expected(message) for message in turn.expect] or [NOTHING]
    handovers = [like for like in turn.expect if like.kind is MessageKind.HANDOVER]
    actual: list[str] = []
    effects = 0
    for index, output in enumerate(outputs):
        like = turn.expect[index] if index < len(turn.expect) else None
        if isinstance(output, PassThread | TakeThread):
            if like is None or like.kind is not MessageKind.HANDOVER:
                like = handovers[effects] if effects < len(handovers) else None
            effects += 1
            actual.append(render_effect(output, like))
        else:
            actual.append(render_message(output, like, variations))
    actual = actual or [NOTHING]
    if turn.requests is not None:
        expected.extend(render_request(request) for request in turn.requests)
        actual.extend(
            render_call(call, turn.requests[index] if index < len(turn.requests) else None)
            for index, call in enumerate(calls)
        )
    for name, value in (turn.vars or {}).items():
        expected.append(f"vars.{name} = {_json(value)}")
        shown = _json(variables[name]) if name in variables else "(not set)"
        actual.append(f"vars.{name} = {shown}")
    return expected, actual


def render_effect(effect: Effect, like: ExpectedMessage | None = None) -> str:
    """The line of a handover, or of the bot taking the thread back; its note only when
    the expectation names one."""
    wants_note = like is not None and like.note is not None
    target = THREAD_BACK if isinstance(effect, TakeThread) else effect.target_app_id
    actual = ExpectedMessage(
        kind=MessageKind.HANDOVER,
        handover_to=target,
        note=(effect.metadata or "") if wants_note else None,
    )
    return render_expected(actual)


def render_request(request: ExpectedRequest) -> str:
    """`request: POST https://api.example.com/leads json {"email": "me@example.com"}`;
    `json: null` expects a request without a body: `(no body)`."""
    line = f"request: {request.method} {request.url}"
    if not request.json_given:
        return line
    return f"{line} (no body)" if request.json is None else f"{line} json {_json(request.json)}"


def render_call(call: HttpCall, like: ExpectedRequest | None = None) -> str:
    """The line of a request made; its body only when the expectation names one."""
    wants_json = like is not None and like.json_given
    request = ExpectedRequest(
        method=call.method, url=call.url, json=call.json, json_given=wants_json
    )
    return render_request(request)


def diff(expected: Sequence[str], actual: Sequence[str]) -> list[str]:
    """A unified diff of the whole turn (every line kept as context), without `@@` lines."""
    context = max(len(expected), len(actual))
    lines = difflib.unified_diff(
        list(expected), list(actual), "expected", "actual", n=context, lineterm=""
    )
    return [line for line in lines if not line.startswith("@@")]


def _everything(message: OutMessage) -> ExpectedMessage:
    """An expectation naming every part of `message`, so all of it is drawn."""
    kind = message_kind(message)
    if isinstance(message, GenericTemplate):
        cards = tuple(ExpectedCard(title="", subtitle=card.subtitle) for card in message.cards)
        return ExpectedMessage(kind=kind, cards=cards, quick_replies=())
    if isinstance(message, MediaAttachment):
        return ExpectedMessage(
            kind=kind,
            attachment_type=message.type,
            url=message.url,
            file=message.file.name if message.file is not None else None,
            quick_replies=(),
        )
    if isinstance(message, ButtonTemplate):
        return ExpectedMessage(kind=kind, text="", buttons=(), quick_replies=())
    return ExpectedMessage(kind=kind, text="", quick_replies=())


def _as_expected(
    message: OutMessage, like: ExpectedMessage, match: VariationMatch
) -> ExpectedMessage:
    """`message` written as an expectation with the parts `like` has set, and no others;
    `match` reads a part sent among variations as `like`'s when it is one of them (its
    parts in the line's order, so that the notes are too)."""
    body = _body_as_expected(message, like, match)
    if like.quick_replies is None:
        return body
    titles = tuple(reply_title(reply) for reply in message.quick_replies)
    return replace(body, quick_replies=match.match_all(titles, like.quick_replies, "[{}] "))


def _body_as_expected(
    message: OutMessage, like: ExpectedMessage, match: VariationMatch
) -> ExpectedMessage:
    """As _as_expected, but for the quick replies."""
    if isinstance(message, TextMessage | ButtonTemplate):
        text = match.match(message.text, like.text) if like.text is not None else None
        if isinstance(message, TextMessage):
            return ExpectedMessage(kind=like.kind, text=text)
        titles = tuple(button.title for button in message.buttons)
        buttons = None
        if like.buttons is not None:
            buttons = match.match_all(titles, like.buttons, "<{}> ")
        return ExpectedMessage(kind=like.kind, text=text, buttons=buttons)
    if isinstance(message, GenericTemplate):
        shapes = like.cards or ()
        cards = tuple(
            _card_as_expected(card, shapes[index] if index < len(shapes) else None, match)
            for index, card in enumerate(message.cards)
        )
        return ExpectedMessage(kind=like.kind, cards=cards)
    # a test naming where the media comes from (url or file) sees where it comes from
    source = like.url is not None or like.file is not None
    return ExpectedMessage(
        kind=like.kind,
        attachment_type=message.type if like.attachment_type is not None else None,
        url=message.url if source else None,
        file=_file_as_expected(message.file, like.file) if source and message.file else None,
    )


def _file_as_expected(file: MediaFile, expected: str | None) -> str:
    """How a test names `file`: by its name, or by as many of its path's last parts as the
    test gives (`media/logo.png`), or as the flow wrote it. `expected` when it names it."""
    if expected is None:
        return file.name
    if os.path.normpath(expected) == os.path.normpath(file.written):
        return expected
    count = len(PurePath(expected).parts)
    return str(PurePath(*PurePath(file.path).parts[-count:]))


def _card_as_expected(card: Card, like: ExpectedCard | None, match: VariationMatch) -> ExpectedCard:
    if like is None:
        return ExpectedCard(title=card.title)
    title = match.match(card.title, like.title, f"{quoted(card.title)} ")
    subtitle = card.subtitle if like.subtitle is not None else None
    if subtitle is not None:
        subtitle = match.match(subtitle, like.subtitle, f"{quoted(subtitle)} ")
    return ExpectedCard(title=title, subtitle=subtitle)


def _card(title: str, subtitle: str | None) -> str:
    return quoted(title) + (f" ({quoted(subtitle)})" if subtitle is not None else "")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
