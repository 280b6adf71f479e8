"""`runtime chat`: talk to the bot in the terminal, with no Messenger and no Facebook app.

The bot's messages are printed as text; quick replies and buttons become numbered choices,
and typing a number taps one. The session is kept in the configured store, exactly like a
real user's, so an `ask` waits across turns and across restarts of `runtime chat` (a
restarted chat says what it waits for). The DM access policy is bypassed: whoever runs this
owns the config.

An `http` step makes its real call (`runtime/http_calls.py`, `${VAR}` secrets from the
environment), and one line shows it before the turn's messages, as the URL was rendered,
without its secrets: `(http) GET https://api.example.com/orders/A1 -> 200 in 42 ms`, and
why when it failed. On Messenger too the person sees the turn's messages once its calls
are done (a typing bubble meanwhile).

Timers fire by themselves as they fall due, while the chat waits for the next line (a
`delay`'s rest, an ask's `on_timeout`, a handover's `timeout`): a `(timer)` line says which,
then the bot's messages, as they would arrive on Messenger. Those that fell due while the
chat was closed fire when it starts. `/timers` lists the pending ones; `/wait 10m` moves the
chat's clock on, so a two-hour delay need not take two hours (the clock stays ahead till the
chat ends: timers set meanwhile fall due that much later in a chat started again).

The person's profile is what `--user` and `--locale` give (never asked of Meta); `/locale`
changes its locale mid-chat and says which language the texts come in, and why
(`runtime/chat_locale.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from runtime.bot import AskStep, Bot, HttpStep
from runtime.chat_input import LineReader, is_terminal
from runtime.chat_locale import NO_LOCALE, describe_change, describe_locale, read_locale
from runtime.chat_render import Choice, ChoiceBoard
from runtime.config.model import Account
from runtime.dialog.context import build_context
from runtime.dialog.effects import HttpResult, TakeThread, app_name
from runtime.dialog.engine import continue_turn, run_turn
from runtime.dialog.messages import OutMessage, TextMessage
from runtime.dialog.notes import Notes
from runtime.dialog.render import Renderer
from runtime.dialog.user_fields import PROFILE_FIELDS
from runtime.envelope import Envelope
from runtime.http_calls import HttpCaller, describe_call
from runtime.session import Session, session_key
from runtime.store.base import Store
from runtime.testing import events
from runtime.testing.waits import MAX_FIRED, describe_pending, next_due, pending, wait_length
from runtime.timers import Timer

CHAT_PSID = "chat-local"  # clearly not a real PSID (those are long numbers)
HANDED_OVER = (
    "(handed over to a human: {owner}; the bot stays quiet until the thread comes back: /back)"
)
WITH_HUMAN = "(with a human: {owner} has the thread, so the bot stays quiet; /back passes it back)"
TAKEN_BACK = "(the handover's timeout ran out: the bot takes the thread back)"
HTTP = "(http) "
TIMER = "(timer) "
HELP = """\
Type a message, or the number of a choice to tap it. Commands:
  /tap PAYLOAD        tap a button or quick reply by its payload (e.g. /tap GET_STARTED)
  /attach TYPE [URL]  send an attachment: image, video, audio, file or location
  /say TEXT           send TEXT as it is, even a number or a leading '/'
  /vars               show the session's variables
  /timers             list the pending timers (delays, ask and handover timeouts), soonest first
  /wait DURATION      let time pass (30s, 10m, 2h, 3d): the timers due by then fire now
  /back               the human passes the thread back to the bot (after a handover)
  /locale [LOCALE]    your profile's locale: fr_FR, fr, or none; alone: the one the texts
                      come in, and where it comes from (vars.locale, the profile, or none)
  /reset              forget the session: the bot sees you as a new user
  /quit               leave (Ctrl-D too)"""


class TerminalChat:
    """One local user's conversation through the store; `handle` takes one typed line."""

    def __init__(
        self,
        bot: Bot,
        store: Store,
        account: Account,
        psid: str,
        *,
        out: TextIO,
        err: TextIO,
        user: Mapping[str, object] | None = None,
        http: HttpCaller | None = None,
    ) -> None:
        self.bot = bot
        self.http = http  # makes the `http` steps' calls; without it, each fails unmade
        self.store = store
        self.account = account
        self.psid = psid
        # the profile fields `--user` and `--locale` gave (never asked of Meta); /locale
        self.user = dict(user or {})
        self.key = session_key(account.agent_id, psid)
        self.out = out
        self.err = err
        self.offered: tuple[OutMessage, ...] = ()
        self.board = ChoiceBoard(bot.config.base_dir)
        self.ahead = 0.0  # seconds the chat's clock runs ahead of the real one (/wait)
        self._sent = 0

    def now(self) -> float:
        """The chat's clock: the real one, plus what `/wait` added."""
        return time.time() + self.ahead

    def intro(self) -> str:
        policy = self.account.dm_policy
        profile = "".join(f" {key}={value}" for key, value in self.user.items())
        who = f"{self.psid} (profile:{profile})" if profile else self.psid
        where = "offline"
        if _calls_apis(self.bot):
            where = "with no Messenger connection (the http steps make their real calls)"
        return (
            f"Chatting with account {self.account.label} as {who}, {where}. The DM policy "
            f"({policy}) is bypassed: you are the owner, testing locally. "
            "Type /help for commands; /quit or Ctrl-D ends."
        )

    async def handle(self, line: str) -> bool:
        """Act on one line; False when the chat should end."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("/"):
            return await self.command(text)
        # a number picks a choice while there are some; with none, it is text (an answer to
        # "How many?"), and /say sends a number as text when there are
        if text.isdecimal() and self.board.choices:
            number = int(text)
            if 1 <= number <= len(self.board.choices):
                await self.pick(self.board.choices[number - 1])
            else:
                self.say(f"({self._no_such_choice(number)}; /say {text} sends it as text)")
            return True
        now, mid = self._stamp()
        await self.send(events.text_event(self.account, self.psid, text, now=now, mid=mid))
        return True

    def _no_such_choice(self, number: int) -> str:
        count = len(self.board.choices)
        choices = "the only choice is 1" if count == 1 else f"the choices are 1-{count}"
        return f"there is no choice {number}; {choices}"

    async def resume(self) -> None:
        """Say what a waiting `ask` waits for (the chat was left mid-question), with its
        choices numbered again, so the answer typed next makes sense."""
        session = await self.store.load_session(self.key)
        if session is not None and session.handover is not None:
            self.say(WITH_HUMAN.format(owner=app_name(session.handover.app_id)))
            return
        ask = _waiting_ask(self.bot, session)
        if session is None or ask is None:
            return
        now, mid = self._stamp()
        envelope = events.text_event(self.account, self.psid, "", now=now, mid=mid)
        context = build_context(self.bot, envelope, dict(session.vars), self.user)
        prompt = Renderer(context, Notes()).prompt(ask)
        question = " ".join(part.text for part in prompt if isinstance(part, TextMessage))
        where = f"{ask.source.file}: {ask.source.key_path}"
        wanted = ask.check.attachment_type if ask.check is not None else None
        attach = f"; answer with /attach {wanted} URL" if wanted in ("image", "file") else ""
        self.say(f"(the bot is waiting for your answer to: {question or where}{attach})")
        self.offered = tuple(prompt)
        self.board.clear()
        choices = [line for message in prompt for line in self.board.number_replies(message)]
        if choices:
            self.say("\n".join(choices))

    async def command(self, text: str) -> bool:
        name, _, rest = text.partition(" ")
        rest = rest.strip()
        if name in ("/quit", "/exit"):
            return False
        if name == "/help":
            self.say(HELP)
        elif name == "/reset":
            await self.store.delete_session(self.key)
            self.offered = ()
            self.board.clear()
            self.say("(session forgotten: the bot sees you as a new user)")
        elif name == "/back":
            await self.hand_back()
        elif name == "/locale":
            await self.change_locale(rest)
        elif name == "/vars":
            session = await self.store.load_session(self.key)
            variables = dict(session.vars) if session is not None else {}
            self.say(json.dumps(variables, indent=2, ensure_ascii=False, sort_keys=True))
        elif name == "/timers":
            await self.list_timers()
        elif name == "/wait" and rest:
            await self.wait(rest)
        elif name == "/say" and rest:
            now, mid = self._stamp()
            await self.send(events.text_event(self.account, self.psid, rest, now=now, mid=mid))
        elif name == "/tap" and rest:
            now, mid = self._stamp()
            envelope = events.tap_event(
                self.account, self.psid, rest, offered=self.offered, now=now, mid=mid
            )
            await self.send(envelope)
        elif name == "/attach" and rest:
            kind, _, url = rest.partition(" ")
            now, mid = self._stamp()
            envelope = events.attachment_event(
                self.account, self.psid, kind, url.strip() or None, now=now, mid=mid
            )
            await self.send(envelope)
        else:
            self.say(f"(unknown command or missing argument: {name}; /help lists the commands)")
        return True

    async def pick(self, choice: Choice) -> None:
        now, mid = self._stamp()
        if choice.reply is not None:
            envelope = events.quick_reply_event(
                self.account, self.psid, choice.reply, now=now, mid=mid
            )
            if choice.reply.content_type != "text":
                self.say(f"(Messenger would send yours; chat sends {envelope.text})")
            await self.send(envelope)
            return
        button = choice.button
        if button is None:  # pragma: no cover - a Choice holds one or the other
            return
        if button.type == "web_url":
            self.say(f"(opens {button.url})")
        elif button.type == "phone_number":
            self.say(f"(calls {button.payload})")
        else:
            payload = button.payload or ""
            envelope = events.postback_event(
                self.account, self.psid, payload, title=button.title, now=now, mid=mid
            )
            await self.send(envelope)

    # -- timers ----------------------------------------------------------------------------
    async def list_timers(self) -> None:
        """`/timers`: `delay flows.tour.steps.1 in 9m 58s`, one a line, soonest first."""
        timers = pending(await self.store.load_session(self.key))
        now = self.now()
        self.say("\n".join(describe_pending(timer, now) for timer in timers) or "(no timers)")

    async def wait(self, text: str) -> None:
        """`/wait 10m`: the chat's clock moves on, and the timers due by then fire."""
        try:
            seconds = wait_length(text)
        except ValueError as error:
            self.say(f"({error})")
            return
        self.ahead += seconds
        fired = await self.fire_due()
        if not fired:
            self.say(f"({text} later: no timer fell due)")

    async def next_due_at(self) -> float | None:
        """When the session's next timer falls due, on the chat's clock."""
        timers = pending(await self.store.load_session(self.key))
        return timers[0].due_at if timers else None

    async def fire_due(self) -> int:
        """Fire, in due order, each timer that has fallen due; how many there were (at
        most MAX_FIRED: a delay in a loop fires on at the next line)."""
        fired: set[tuple[str, float]] = set()
        while len(fired) < MAX_FIRED:
            timer = next_due(await self.store.load_session(self.key), self.now())
            if timer is None or (timer.slot, timer.due_at) in fired:
                break
            fired.add((timer.slot, timer.due_at))
            await self.send(events.timer_event(self.account, self.psid, timer))
        return len(fired)

    async def send(self, envelope: Envelope) -> None:
        """One event through the engine, with the session loaded from and saved to the store.
        While a human has the thread the bot says nothing, and a timer falling due is dropped
        (the handover's own `timeout` aside: it takes the thread back)."""
        session = await self.store.load_session(self.key)
        fired = _fired(session, envelope)
        if fired is not None:
            self.say(f"{TIMER}{fired.kind} {fired.where} fell due")
        if session is not None and session.handover and session.keeps_quiet(envelope.timer):
            if fired is None:
                self.say(WITH_HUMAN.format(owner=app_name(session.handover.app_id)))
            else:
                await self.store.save_session(session.without_timers(fired.slot))
                self.say("(dropped: a human has the thread, so the bot stays quiet)")
            return
        now = self.now()
        turn = run_turn(self.bot, envelope, session, now=now, user=self.user)
        while turn.call is not None:
            call = turn.call
            if self.http is None:
                result = HttpResult(ok=False, error="no HTTP client in this chat")
            else:
                result = await self.http.call(call)
            self.say(HTTP + describe_call(call, result))
            turn = continue_turn(self.bot, envelope, turn, result, now=self.now(), user=self.user)
        await self.store.save_session(turn.session)
        for note in turn.notes:
            print(f"note: {note}", file=self.err, flush=True)
        if not turn.messages and not turn.effects:
            self.say("(the bot says nothing)")
            return
        if turn.messages:
            self.offered = turn.messages
            self.board.clear()
        for message in turn.messages:
            self.say(self.board.render(message))
        for effect in turn.effects:
            if isinstance(effect, TakeThread):
                self.say(TAKEN_BACK)
            else:
                self.say(HANDED_OVER.format(owner=app_name(effect.target_app_id)))

    async def change_locale(self, text: str) -> None:
        """`/locale fr_FR` (or `none`): the profile's locale from the next event on; `/locale`
        alone: the one the texts come in, and where it comes from."""
        session = await self.store.load_session(self.key)
        variables = session.vars if session is not None else {}
        if not text:
            self.say(describe_locale(variables, self.user, self.bot.config.locales))
            return
        locale: str | None = None
        if text != NO_LOCALE:
            try:
                locale = read_locale(text)
            except ValueError as error:
                self.say(f"({error})")
                return
        if locale is None:
            self.user.pop("locale", None)
        else:
            self.user["locale"] = locale
        self.say(describe_change(variables, locale))

    async def hand_back(self) -> None:
        """`/back`: what a `pass_thread_control` back to the bot does on Messenger."""
        session = await self.store.load_session(self.key)
        if session is None or session.handover is None:
            self.say("(the bot has the thread already: /back is for after a handover)")
            return
        await self.store.save_session(session.thread_back(self.now()))
        self.say("(the thread is back: the bot answers your next message)")

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _stamp(self) -> tuple[float, str]:
        self._sent += 1
        return self.now(), f"m_chat_{time.time_ns()}_{self._sent}"


def _fired(session: Session | None, envelope: Envelope) -> Timer | None:
    """The session's timer a TIMER event fires (None for any other event)."""
    if envelope.timer is None or session is None:
        return None
    return session.timers.get(envelope.timer.slot)


async def converse(terminal: TerminalChat, lines: LineReader) -> None:
    """The chat until /quit or the end of input: the timers that fell due fire first, then
    each line is answered; while the next is being typed, timers fire as they fall due."""
    await terminal.fire_due()
    await terminal.resume()
    while True:
        typed = lines.ask()
        while not typed.done():
            due = await terminal.next_due_at()
            timeout = None if due is None else max(due - terminal.now(), 0.0)
            await asyncio.wait({typed}, timeout=timeout)
            if not typed.done():
                with lines.over_the_prompt(terminal.out):
                    await terminal.fire_due()
        line = typed.result()
        if line is None or not await terminal.handle(line):
            return
        await terminal.fire_due()


def _calls_apis(bot: Bot) -> bool:
    """Whether any flow has an `http` step."""
    return any(isinstance(step, HttpStep) for flow in bot.flows.values() for step in flow.steps)


def _waiting_ask(bot: Bot, session: Session | None) -> AskStep | None:
    """The `ask` the session waits on, if the flows still have it there."""
    if session is None or session.flow is None or session.step is None:
        return None
    step = bot.step_at(session.flow, session.step)
    return step if isinstance(step, AskStep) else None


def chat(
    bot: Bot,
    account: Account,
    psid: str,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    user: Mapping[str, object] | None = None,
) -> int:
    """Run the chat until /quit or end of input; the store is the config's `state`; `user`
    holds the person's profile fields (`user.first_name`...)."""
    from runtime.store.factory import open_store

    source = stdin if stdin is not None else sys.stdin
    output = out if out is not None else sys.stdout
    errors = err if err is not None else sys.stderr
    # a person at a terminal gets a prompt (and line editing); a pipe gets neither
    interactive = is_terminal(source)
    if interactive:
        with contextlib.suppress(ImportError):  # line editing where the platform has it
            import readline  # noqa: F401
    lines = LineReader(source, interactive=interactive)
    with asyncio.Runner() as runner:
        store = runner.run(open_store(bot.config.state))
        http = HttpCaller()  # one client for the chat's calls, as a server worker has
        try:
            runner.run(http.open())
            terminal = TerminalChat(
                bot, store, account, psid, out=output, err=errors, user=user, http=http
            )
            terminal.say(terminal.intro())
            runner.run(converse(terminal, lines))
        finally:
            lines.close()
            runner.run(http.close())
            runner.run(store.close())
    return 0


def read_profile_field(text: str) -> tuple[str, object]:
    """`first_name=Ada` -> ("first_name", "Ada"); `timezone=-7` -> ("timezone", -7), a number
    as Meta gives it (`timezone=5.5` -> 5.5).

    Raises ValueError saying what is wrong: no `=`, a field Meta does not give, a timezone
    that is not a number, a locale that is none (`locale=french`).
    """
    field, equals, value = text.partition("=")
    field = field.strip()
    if not equals or not field:
        raise ValueError(f"expected FIELD=VALUE, such as first_name=Ada; got {text!r}")
    if field not in PROFILE_FIELDS:
        close = difflib.get_close_matches(field, PROFILE_FIELDS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ValueError(
            f"no profile field {field!r}; {hint}the fields are {', '.join(PROFILE_FIELDS)}"
        )
    if field == "locale":
        return field, read_locale(value)
    if field != "timezone":
        return field, value
    try:
        hours = float(value)
    except ValueError:
        raise ValueError(
            f"timezone is a number of hours from GMT, such as -7 or 5.5; got {value!r}"
        ) from None
    return field, int(hours) if hours.is_integer() else hours
