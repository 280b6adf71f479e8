"""Every subcommand explains itself: `--help` has a description, an example and the choices."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from runtime.cli import build_parser


def _subcommands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (command words, parser) below `parser`, aliases left out."""
    found: list[tuple[tuple[str, ...], argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, child in action.choices.items():
                if id(child) in seen:
                    continue  # `pairing` is `pair`
                seen.add(id(child))
                found.append(((*prefix, name), child))
                found.extend(_subcommands(child, (*prefix, name)))
    return found


COMMANDS = _subcommands(build_parser())


def test_every_command_is_listed() -> None:
    names = {words[0] for words, _parser in COMMANDS}
    assert {
        "init",
        "validate",
        "test",
        "chat",
        "serve",
        "pair",
        "sessions",
        "send",
        "outbox",
        "schema",
        "profile",
        "handover",
        "texts",
        "emulator",
    } <= names


@pytest.mark.parametrize(("words", "parser"), COMMANDS, ids=[" ".join(w) for w, _ in COMMANDS])
def test_help_has_a_description_and_an_example(
    words: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    text = parser.format_help()
    assert parser.description, f"runtime {' '.join(words)} --help has no description"
    assert "examples:\n  runtime " + words[0] in text, text


def test_choices_are_listed() -> None:
    send = dict(COMMANDS)[("send",)].format_help()
    assert "{messenger}" in send
    assert "--tag TAG" in send
    assert "HUMAN_AGENT, NON_PROMOTIONAL_SUBSCRIPTION" in send


def test_help_runs_through_the_real_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "pair", "approve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert "Approve the sender of a pairing code." in result.stdout
    assert "runtime pair approve messenger ABCD2345" in result.stdout


def test_a_closed_pipe_is_not_a_traceback() -> None:
    """`runtime schema | head -1`: the reader leaves before the command writes; it ends quietly."""
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()  # long before the interpreter has started and printed
    _out, err = process.communicate(timeout=30)
    assert err == ""
    assert process.returncode == 0
