"""Which profile fields a bot's templates use: what the worker asks Meta for, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.build import build_bot
from runtime.dialog.user_fields import PROFILE_FIELDS
from tests.messenger.conftest import single_page, write_bot

EVERY_FIELD = frozenset(PROFILE_FIELDS)


def fields_of(tmp_path: Path, steps: str) -> frozenset[str]:
    flows = f'{{ flows: {{ hi: {{ triggers: [{{ keywords: ["hi"] }}], steps: [{steps}] }} }} }}'
    bot = build_bot(write_bot(tmp_path, single_page(), flows=flows), env={}).bot
    return bot.user_fields


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ("{ text: \"Hi {{ user.first_name or 'there' }}!\" }", {"first_name"}),
        ("{ text: \"{{ user['locale'] | default('en_US') }}\" }", {"locale"}),
        ("{ text: \"{{ user.get('timezone', 0) }}\" }", {"timezone"}),
        (
            '{ text: "ok", when: "user.locale is defined and user.timezone > 2" }',
            {"locale", "timezone"},
        ),
        ('{ set: { greeting: "{{ user.name }}" } }', {"name"}),
        (
            '{ ask: "Email?", save_as: "email", retry: "{{ user.last_name }}, an email please" }',
            {"last_name"},
        ),
        (
            '{ text: "Menu", quick_replies: [{ title: "{{ user.first_name }}", payload: "ME" }] }',
            {"first_name"},
        ),
        (
            '{ cards: [{ title: "You", image_url: "{{ user.profile_pic }}",'
            ' buttons: [{ type: "web_url", title: "Open",'
            ' url: "https://example.com/{{ user.locale }}" }] }] }',
            {"profile_pic", "locale"},
        ),
    ],
)
def test_a_field_named_anywhere_in_the_flows_is_asked_for(
    tmp_path: Path, steps: str, expected: set[str]
) -> None:
    assert fields_of(tmp_path, steps) == expected


@pytest.mark.parametrize(
    "steps",
    [
        '{ text: "Hi there!" }',
        '{ text: "Your id is {{ user.psid }} ({{ user.id }})" }',
        '{ text: "You said {{ message.text }}", when: "vars.user is defined" }',
        '{ text: "A user.first_name in plain text is not a template" }',
    ],
)
def test_a_bot_naming_no_profile_field_asks_for_none(tmp_path: Path, steps: str) -> None:
    assert fields_of(tmp_path, steps) == frozenset()


@pytest.mark.parametrize(
    "steps",
    [
        '{ text: "{% set person = user %}{{ person.first_name }}" }',
        '{ text: "{{ user }}" }',
        '{ text: "{{ user[vars.field] }}" }',
        '{ text: "{% for key, value in user.items() %}{{ key }}{% endfor %}" }',
    ],
)
def test_user_used_whole_may_read_any_field_so_all_are_asked(tmp_path: Path, steps: str) -> None:
    assert fields_of(tmp_path, steps) == EVERY_FIELD


def one_flow(name: str, text: str) -> str:
    flow = f'{name}: {{ triggers: [{{ keywords: ["{name}"] }}], steps: [{{ text: "{text}" }}] }}'
    return f"{{ flows: {{ {flow} }} }}"


def test_fields_of_every_flow_file_add_up(tmp_path: Path) -> None:
    flows = one_flow("a", "{{ user.first_name }}")
    other = one_flow("b", "{{ user.locale }}")
    config = write_bot(tmp_path, single_page(), flows=flows)
    (tmp_path / "flows" / "other.json5").write_text(other)
    assert build_bot(config, env={}).bot.user_fields == {"first_name", "locale"}


def test_a_pairing_message_fetches_nothing(tmp_path: Path) -> None:
    """It is rendered before the person is admitted, with no `user` at all."""
    flows = one_flow("a", "Hello")
    messenger = single_page(
        dmPolicy='"pairing"', pairingMessage='"Hi {{ user.first_name }}, your code is {{ code }}"'
    )
    assert build_bot(write_bot(tmp_path, messenger, flows=flows), env={}).bot.user_fields == set()
