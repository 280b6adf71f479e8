"""Conversation: one user talking to a Bot in memory, turn by turn, as a test does.

Usable from any test suite, like errbot's testbot::

    from runtime.build import build_bot
    from runtime.testing import Conversation

    chat = Conversation(build_bot(Path("config.json5")).bot)
    assert chat.say("hi").messages[0].text == "Hi there! What do you need?"
    chat.tap("SIGNUP")
    chat.say("me@example.com")
    assert chat.session.vars["email"] == "me@example.com"

No network, no store: the session lives in the object, the clock is a counter, and the
person's profile fields are what `user=` says (`Conversation(bot, user={"first_name":
"Ada"})`), never asked of Meta, so runs are repeatable.

An `http` step's call is not made either: the answers given answer it (the rules are in
`runtime.testing.http_answers`), those of the whole conversation and those of one turn::

    from runtime.testing import HttpAnswer

    orders = "https://api.example.com/orders"  # the quickstart's order lookup
    shipped = HttpAnswer(url=f"{orders}/A123", json={"status": "shipped"})
    chat = Conversation(bot, http=[shipped])
    assert chat.say("order A123").messages[0].text == "Order A123: shipped."
    assert chat.calls[0].call.url == f"{orders}/A123" and chat.calls[0].result.ok
    chat.say("order B404", http=[HttpAnswer(url=f"{orders}/B404", status=404)])  # this turn
    chat.say("order C333")
    assert chat.unanswered[0].url == f"{orders}/C333"  # no answer: the flow got `ok: false`
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from runtime.bot import Bot
from runtime.config.model import Account
from runtime.dialog.effects import HttpCall
from runtime.dialog.engine import Turn, continue_turn, run_turn
from runtime.envelope import Envelope
from runtime.errors import ConfigError
from runtime.session import Session
from runtime.testing import events
from runtime.testing.http_answers import Exchange, HttpAnswer, HttpAnswers, answer_call
from runtime.validation.problems import Problem

DEFAULT_PSID = "test-user"
START_TIME = 1_700_000_000.0  # the fixed "now" of the first event; each event adds a second


class Conversation:
    """One sender's conversation with `bot`; starts with no session, like a new user."""

    def __init__(
        self,
        bot: Bot,
        *,
        psid: str = DEFAULT_PSID,
        account_id: str | None = None,
        user: Mapping[str, object] | None = None,
        http: Iterable[HttpAnswer] = (),
    ) -> None:
        self.bot = bot
        self.psid = psid
        self.user = user or {}  # the person's profile fields, as Meta would give them
        self.account = choose_account(bot, account_id)
        self.http = HttpAnswers(http)  # ValueError when two answer the same request
        self.session: Session | None = None
        self.last_turn: Turn | None = None
        self.calls: tuple[Exchange, ...] = ()  # the `http` calls of the last event's turn
        self._events = 0

    @property
    def unanswered(self) -> tuple[HttpCall, ...]:
        """The last turn's calls that no answer matched (they got `ok: false`)."""
        return tuple(exchange.call for exchange in self.calls if not exchange.answered)

    def say(self, text: str, *, http: Iterable[HttpAnswer] = ()) -> Turn:
        """The user types `text`; `http` answers this turn's calls before the conversation's."""
        now, mid = self._stamp()
        envelope = events.text_event(self.account, self.psid, text, now=now, mid=mid)
        return self.send(envelope, http=http)

    def tap(self, payload: str, *, http: Iterable[HttpAnswer] = ()) -> Turn:
        """The user taps the quick reply or button carrying `payload` (see `events.tap_event`)."""
        offered = self.last_turn.messages if self.last_turn is not None else ()
        now, mid = self._stamp()
        envelope = events.tap_event(
            self.account, self.psid, payload, offered=offered, now=now, mid=mid
        )
        return self.send(envelope, http=http)

    def attach(self, type: str, url: str | None = None, *, http: Iterable[HttpAnswer] = ()) -> Turn:
        """The user sends an attachment of `type` (image, video, audio, file, location)."""
        now, mid = self._stamp()
        envelope = events.attachment_event(self.account, self.psid, type, url, now=now, mid=mid)
        return self.send(envelope, http=http)

    def send(self, envelope: Envelope, *, http: Iterable[HttpAnswer] = ()) -> Turn:
        """Run one event through the engine, its `http` calls answered offline, and keep the
        session it returns; while a human has the thread (a `handover` step ran), the bot
        says nothing, as on Messenger."""
        self.calls = ()
        if self.session is not None and self.session.handover is not None:
            return Turn(messages=(), session=self.session, flow=None)
        turn_answers = HttpAnswers(http)
        now = envelope.timestamp
        turn = run_turn(self.bot, envelope, self.session, now=now, user=self.user)
        calls: list[Exchange] = []
        while turn.call is not None:
            exchange = answer_call(turn.call, turn_answers, self.http)
            calls.append(exchange)
            turn = continue_turn(self.bot, envelope, turn, exchange.result, now=now, user=self.user)
        self.calls = tuple(calls)
        self.session = turn.session
        if turn.messages:  # what the user can tap is what the bot said last
            self.last_turn = turn
        return turn

    def hand_back(self) -> None:
        """The human passes the thread back: the bot answers again, variables kept."""
        if self.session is not None:
            self.session = replace(self.session, handover=None)

    def reset(self) -> None:
        """Forget the session, as if the user had never written."""
        self.session = None
        self.last_turn = None

    def _stamp(self) -> tuple[float, str]:
        self._events += 1
        return START_TIME + self._events, f"m_test_{self._events}"


def choose_account(bot: Bot, account_id: str | None) -> Account:
    """The account named, or the first one configured; ConfigError if there is none such."""
    if account_id is None:
        for account in bot.accounts.values():
            return account
        message = "no enabled Messenger account to talk to"
    else:
        found = bot.accounts.get(account_id)
        if found is not None:
            return found
        known = ", ".join(f"'{name}'" for name in bot.accounts) or "none"
        message = f"no account '{account_id}'; the enabled accounts are {known}"
    file = str(bot.config.path)
    raise ConfigError([Problem(file=file, path="channels.messenger", message=message)])
