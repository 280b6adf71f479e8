"""Compile time and per-turn engine time for 10, 1,000 and 10,000 flows; texts by locale.

    python bench/engine_bench.py
    python bench/engine_bench.py --locales [--rounds 41] [--turns 4000] [--cpu 0]

Payload and keyword matching are dictionary lookups, so the per-turn figures should not grow
with the number of flows; compile time grows with it (every template is compiled once).

`--locales` (issue 18) pairs two bots of the same 100 flows in one process: every text a
person reads as a map of 3 locales (default, fr_FR, de_DE), with French variations in some
("3 locales"), or as the French texts alone, variations kept ("1 locale": a bot written in
French alone, so that both send the same words and pick among the same variations: what is
measured is the cost of the locales, not of the variations). The person's profile says fr_FR,
so each text of the first is looked up by locale and, where it has variations, one is
picked. Rounds alternate the two (and which goes first); each round times `--turns` turns of
each bot in CPU time (this process's: time another process takes is not counted); the
figures are the medians over the rounds, their spread, and the per-round ratio
3 locales / 1 locale.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generate import FLOWS_PER_FILE, write_bot
from bench.load_bench import machine
from runtime.bot import Bot
from runtime.build import build_bot
from runtime.dialog.engine import run_turn
from runtime.envelope import Envelope, EventKind
from runtime.session import session_key

MESSENGER = 'pageAccessToken: "t", verifyToken: "v", appSecret: "s", dmPolicy: "open"'
TURNS = 20_000


def envelope(*, text: str | None = None, payload: str | None = None) -> Envelope:
    return Envelope(
        account_id="default",
        psid="1",
        session_key=session_key("main", "1"),
        kind=EventKind.POSTBACK if payload else EventKind.MESSAGE,
        timestamp=0.0,
        text=text,
        postback_payload=payload,
    )


def per_turn_us(bot, event: Envelope) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(TURNS):
            run_turn(bot, event, None, now=0.0)
        samples.append((time.perf_counter() - start) / TURNS * 1e6)
    return statistics.median(samples)


def flows_table() -> None:
    print(
        f"{'flows':>7} {'compile s':>10} {'payload us':>11} {'keyword us':>11} {'fallback us':>12}"
    )
    for flows in (10, 1_000, 10_000):
        with tempfile.TemporaryDirectory() as folder:
            config = write_bot(Path(folder), flows, messenger=MESSENGER)
            start = time.perf_counter()
            bot = build_bot(config, env={}).bot
            compile_s = time.perf_counter() - start
            last = flows - 1
            payload = per_turn_us(bot, envelope(payload=f"PAYLOAD_{last}"))
            keyword = per_turn_us(bot, envelope(text=f"  Alias{last} "))
            fallback = per_turn_us(bot, envelope(text="nothing matches this"))
            print(
                f"{flows:>7} {compile_s:>10.2f} {payload:>11.1f} {keyword:>11.1f} {fallback:>12.1f}"
            )


# -- texts by locale (issue 18) ----------------------------------------------------------
LOCALES = ("en_US", "fr_FR", "de_DE")
PERSON = {"first_name": "Amélie", "locale": "fr_FR"}  # the profile the engine is given
LOCALE_FLOWS = 100


def written(english: str, french: str | list[str], german: str, *, by_locale: bool) -> str:
    """A text as a flow file writes it: a map of the three locales, or the French text alone
    (its variations too)."""
    if not by_locale:
        return json.dumps(french, ensure_ascii=False)
    return (
        f"{{ default: {json.dumps(english)}, fr_FR: {json.dumps(french, ensure_ascii=False)},"
        f" de_DE: {json.dumps(german, ensure_ascii=False)} }}"
    )


def locale_flow(number: int, *, by_locale: bool) -> str:
    """One flow: a text with 3 quick replies, then a button template of 2 buttons: 7 texts a
    person reads, 2 of them with French variations."""

    def text(english: str, french: str | list[str], german: str) -> str:
        return written(english, french, german, by_locale=by_locale)

    name = "{{ user.first_name or 'there' }}"
    greeting = text(
        f"Hello {name}, this is flow {number}.",
        [f"Bonjour {name}, voici le flux {number}.", f"Salut {name}, c'est le flux {number}."],
        f"Hallo {name}, das ist Ablauf {number}.",
    )
    price = "{{ '%.2f' % 9.9 }}"
    plans = text(
        f"Plans start at {price} EUR a month.",
        [f"Nos formules commencent à {price} € par mois.", f"Dès {price} € par mois."],
        f"Tarife ab {price} EUR im Monat.",
    )
    replies = ", ".join(
        f"{{ title: {text(*titles)}, payload: {json.dumps(payload)} }}"
        for titles, payload in (
            (("Next", "Suivant", "Weiter"), f"PAYLOAD_{number + 1}"),
            (("Back", "Retour", "Zurück"), f"PAYLOAD_{max(number - 1, 0)}"),
            (("Menu", "Menu", "Menü"), "PAYLOAD_0"),
        )
    )
    sign_up = text("Sign up", "S'inscrire", "Anmelden")
    see = text("See plans", "Voir les formules", "Tarife ansehen")
    keywords = f'["word{number}", "alias{number}"]'
    return f"""    flow{number}: {{
      triggers: [{{ payload: "PAYLOAD_{number}" }}, {{ keywords: {keywords} }}],
      steps: [
        {{ text: {greeting}, quick_replies: [{replies}] }},
        {{ buttons: {{ text: {plans}, buttons: [
          {{ type: "postback", title: {sign_up}, payload: "PAYLOAD_0" }},
          {{ type: "web_url", title: {see}, url: "https://example.com/plans/{number}" }},
        ] }} }},
      ],
    }},"""


def write_locale_bot(folder: Path, *, by_locale: bool) -> Path:
    """LOCALE_FLOWS flows and a fallback, their texts by locale or not; returns the config."""
    flows = folder / "flows"
    flows.mkdir(parents=True)
    for first in range(0, LOCALE_FLOWS, FLOWS_PER_FILE):
        count = min(FLOWS_PER_FILE, LOCALE_FLOWS - first)
        body = "\n".join(
            locale_flow(number, by_locale=by_locale) for number in range(first, first + count)
        )
        (flows / f"part{first // FLOWS_PER_FILE:05d}.json5").write_text(
            "{\n  flows: {\n" + body + "\n  },\n}\n", encoding="utf-8"
        )
    sorry = written("Sorry?", ["Pardon ?", "Comment ?"], "Wie bitte?", by_locale=by_locale)
    (flows / "fallback.json5").write_text(
        f"{{ flows: {{ fallback: {{ steps: [{{ text: {sorry} }}] }} }} }}", encoding="utf-8"
    )
    locales = f"  locales: {json.dumps(list(LOCALES))},\n" if by_locale else ""
    config = folder / "config.json5"
    config.write_text(
        f"{{\n{locales}  channels: {{ messenger: {{ {MESSENGER} }} }},\n  flows: 'flows/',\n}}\n"
    )
    return config


def turn_us(bot: Bot, event: Envelope, turns: int) -> float:
    """The mean CPU time of one `run_turn` of `event` by `bot` over `turns` turns, in µs."""
    gc.collect()
    start = time.process_time()
    for _ in range(turns):
        run_turn(bot, event, None, now=0.0, user=PERSON)
    return (time.process_time() - start) / turns * 1e6


def spread(values: list[float]) -> str:
    """The quartiles and the extremes of `values`: `p25 to p75 (min to max)`."""
    low, _, high = statistics.quantiles(values, n=4)
    return f"{low:.2f} to {high:.2f} ({min(values):.2f} to {max(values):.2f})"


def compare(
    name: str, one: Callable[[int], float], three: Callable[[int], float], args: argparse.Namespace
) -> None:
    """`args.rounds` rounds of both, alternating which goes first; one table row."""
    one(args.turns // 10)  # warm-up: caches, each text's choices for the locale
    three(args.turns // 10)
    plain: list[float] = []
    by_locale: list[float] = []
    for number in range(args.rounds):
        if number % 2 == 0:
            plain.append(one(args.turns))
            by_locale.append(three(args.turns))
        else:
            by_locale.append(three(args.turns))
            plain.append(one(args.turns))
        if args.verbose:
            print(f"  round {number + 1}: {plain[-1]:.2f} / {by_locale[-1]:.2f} µs", flush=True)
    ratios = [three_us / one_us for one_us, three_us in zip(plain, by_locale, strict=True)]
    print(
        f"| {name} | {statistics.median(plain):.2f} | {spread(plain)} "
        f"| {statistics.median(by_locale):.2f} | {spread(by_locale)} "
        f"| {statistics.median(ratios):.3f} | {spread(ratios)} |",
        flush=True,
    )


def locales_table(args: argparse.Namespace) -> None:
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    with tempfile.TemporaryDirectory() as folder:
        bots: dict[bool, Bot] = {}
        for by_locale in (False, True):
            config = write_locale_bot(Path(folder, str(by_locale)), by_locale=by_locale)
            built = build_bot(config, env={})
            assert built.bot.config.locales == (LOCALES if by_locale else ())
            bots[by_locale] = built.bot
    print(f"{machine()}; {args.rounds} rounds of {args.turns:,} turns of each bot")
    print()
    print(
        "| turn | 1 locale (µs) | p25 to p75 (min to max) | 3 locales (µs) "
        "| p25 to p75 (min to max) | ratio | p25 to p75 (min to max) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    last = LOCALE_FLOWS - 1
    for name, event in (
        ("keyword: 7 texts, 2 with variations", envelope(text=f"  Alias{last} ")),
        ("fallback: 1 text with variations", envelope(text="nothing matches this")),
    ):

        def timed(by_locale: bool, event: Envelope = event) -> Callable[[int], float]:
            return lambda turns: turn_us(bots[by_locale], event, turns)

        compare(name, timed(False), timed(True), args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--locales", action="store_true", help="3 locales against 1, paired")
    parser.add_argument("--rounds", type=int, default=41, help="rounds of the pair (--locales)")
    parser.add_argument("--turns", type=int, default=4000, help="turns a bot a round (--locales)")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    parser.add_argument("--verbose", action="store_true", help="print every round")
    args = parser.parse_args()
    if args.locales:
        locales_table(args)
    else:
        flows_table()


if __name__ == "__main__":
    main()
