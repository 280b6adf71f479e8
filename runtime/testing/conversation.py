"""Conversation: one user talking to a Bot in memory, turn by turn, as a test does.

Usable from any test suite, like errbot's testbot::

    from runtime.build import build_bot
    from runtime.testing import Conversation

    chat = Conversation(build_bot(Path("config.json5")).bot)
    assert chat.say("hi").messages[0].text == "Hi there! What do you need?"
    chat.tap("SIGNUP")
    chat.say("me@example.com")
    assert chat.session.vars["email"] == "me@example.com"

No network, no store: the session lives in the object, the clock is a counter (a second
an event, and whatever `wait` adds), and the
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

Time passes only when the test says so: `wait` moves the clock on and fires, in due order,
each of the session's timers that falls due meanwhile (a `delay`'s rest, an ask's
`on_timeout`, a handover's `timeout`), one turn each, as the worker would::

    chat.say("tour")  # "Welcome to the tour.", then a `delay: "10m"` step
    assert chat.wait("9m") == ()  # not yet
    [rest] = chat.wait("1m")  # ten minutes after the message: the rest of the flow
    assert rest.messages[0].text == "Ten minutes in: how is it going?"

The person's profile locale is `locale=` (`Conversation(bot, locale="fr_FR")`, their
`user.locale`): the texts come in that language. A text written as variations is picked at
random, as on Messenger; `variations` says, for each text of the last event picked among
variations, all it could have been::

    [message] = chat.say("hi").messages  # text: ["Hi!", "Hello!"]
    assert chat.variations[message.text] == {"Hi!", "Hello!"}

Meta's 24-hour window is not checked here (nothing is sent): `runtime validate` rejects
flows whose waits would put a message past it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from runtime.bot import Bot
from runtime.config.model import Account
from runtime.dialog.effects import HttpCall
from runtime.dialog.engine import Turn, continue_turn, run_turn
from runtime.envelope import Envelope
from runtime.errors import ConfigError
from runtime.locales import normalize_locale
from runtime.session import Session
from runtime.testing import events
from runtime.testing.http_answers import Exchange, HttpAnswer, HttpAnswers, answer_call
from runtime.testing.waits import MAX_FIRED, TimerLoopError, next_due, pending, wait_length
from runtime.timers import Timer
from runtime.validation.problems import Problem

DEFAULT_PSID = "test-user"
# the clock before the first event; each event adds a second, a `wait` its length
START_TIME = 1_700_000_000.0


class Conversation:
    """One sender's conversation with `bot`; starts with no session, like a new user."""

    def __init__(
        self,
        bot: Bot,
        *,
        psid: str = DEFAULT_PSID,
        account_id: str | None = None,
        user: Mapping[str, object] | None = None,
        locale: str | None = None,
        http: Iterable[HttpAnswer] = (),
    ) -> None:
        self.bot = bot
        self.psid = psid
        self.user = dict(user or {})  # the person's profile fields, as Meta would give them
        if locale is not None:  # the profile's locale: user.locale
            if normalize_locale(locale) is None:
                raise ValueError(f"{locale!r} is no locale; write one as Meta does, such as fr_FR")
            self.user["locale"] = locale
        self.account = choose_account(bot, account_id)
        self.http = HttpAnswers(http)  # ValueError when two answer the same request
        self.session: Session | None = None
        self.last_turn: Turn | None = None
        self.calls: tuple[Exchange, ...] = ()  # the `http` calls of the last event or wait
        # the last event's (or wait's) texts picked among variations: sent -> all of them
        self.variations: dict[str, frozenset[str]] = {}
        self.now = START_TIME  # the conversation's clock (Unix seconds)
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

    @property
    def timers(self) -> tuple[Timer, ...]:
        """The session's pending timers, soonest first."""
        return pending(self.session)

    def wait(self, duration: float | str, *, http: Iterable[HttpAnswer] = ()) -> tuple[Turn, ...]:
        """Let `duration` pass (seconds, or `"30s"`, `"10m"`, `"2h"`, `"3d"`): every timer of
        the session that falls due by then fires, in due order, as its own turn at its due
        time; returns those turns (none: nothing fell due). `calls` holds all their `http`
        calls. The clock of later events goes on from the end of the wait.

        ValueError when `duration` is no wait; TimerLoopError (a ValueError) when more than
        MAX_FIRED timers fall due in it (a delay in a loop): the clock then stays at the
        last one fired.
        """
        until = self.now + wait_length(duration)
        answers = tuple(http)
        turns: list[Turn] = []
        calls: list[Exchange] = []
        variations: dict[str, frozenset[str]] = {}
        while (timer := next_due(self.session, until)) is not None:
            if len(turns) >= MAX_FIRED:
                raise TimerLoopError(
                    f"more than {MAX_FIRED} timers fell due within a wait of {duration}"
                    f" (the last at {timer.where}: a delay in a loop?); wait less at a time"
                )
            self.now = max(self.now, timer.due_at)
            turn = self.send(events.timer_event(self.account, self.psid, timer), http=answers)
            calls.extend(self.calls)
            variations.update(self.variations)
            if turn.fired is not None:
                turns.append(turn)
        self.now = until
        self.calls = tuple(calls)
        self.variations = variations
        return tuple(turns)

    def send(self, envelope: Envelope, *, http: Iterable[HttpAnswer] = ()) -> Turn:
        """Run one event through the engine, its `http` calls answered offline, and keep the
        session it returns; while a human has the thread (a `handover` step ran), the bot
        says nothing, as on Messenger, and a timer falling due meanwhile is dropped, as the
        worker drops it (but the handover's own `timeout`, which takes the thread back)."""
        self.calls = ()
        variations: dict[str, frozenset[str]] = {}
        self.variations = variations
        session = self.session
        if session is not None and session.keeps_quiet(envelope.timer):
            if envelope.timer is not None:
                session = session.without_timers(envelope.timer.slot)
                self.session = session
            return Turn(messages=(), session=session, flow=None)
        turn_answers = HttpAnswers(http)
        now = envelope.timestamp
        turn = run_turn(
            self.bot, envelope, self.session, now=now, user=self.user, variations=variations
        )
        calls: list[Exchange] = []
        while turn.call is not None:
            exchange = answer_call(turn.call, turn_answers, self.http)
            calls.append(exchange)
            turn = continue_turn(
                self.bot,
                envelope,
                turn,
                exchange.result,
                now=now,
                user=self.user,
                variations=variations,
            )
        self.calls = tuple(calls)
        self.session = turn.session
        if turn.messages:  # what the user can tap is what the bot said last
            self.last_turn = turn
        return turn

    def hand_back(self) -> None:
        """The human passes the thread back: the bot answers again, variables kept (and the
        handover's timeout is dropped, as when Meta tells the bot)."""
        if self.session is not None:
            self.session = self.session.thread_back(self.now)

    def reset(self) -> None:
        """Forget the session, as if the user had never written."""
        self.session = None
        self.last_turn = None

    def _stamp(self) -> tuple[float, str]:
        self._events += 1
        self.now += 1
        return self.now, f"m_test_{self._events}"


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
