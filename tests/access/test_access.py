"""check_access with an explicit `now`: every policy, codes, expiry, resending, the limit."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runtime.access import (
    CODE_ALPHABET,
    MAX_PENDING,
    PAIRING_TTL,
    Admission,
    check_access,
    new_code,
)
from runtime.build import build_bot
from runtime.errors import ConfigError
from runtime.store.base import PairingRequest
from runtime.store.sqlite import SQLiteStore
from tests.access.conftest import CODE, FRIEND, STRANGER, bot_config, code_in, load_bot
from tests.messenger.conftest import single_page, write_bot

APPROVED = "2000000000000103"  # approved in the store
T0 = 1_800_000_000.0


def test_codes_are_eight_characters_without_look_alikes() -> None:
    codes = {new_code() for _ in range(500)}
    assert len(codes) == 500  # from a CSPRNG: no repeats in practice
    assert all(CODE.fullmatch(code) for code in codes)
    assert set("".join(codes)) == set(CODE_ALPHABET)
    assert not set("01ILO") & set(CODE_ALPHABET)


@pytest.mark.parametrize(
    ("policy", "admitted"),
    [
        ("pairing", {FRIEND, APPROVED}),
        ("allowlist", {FRIEND}),  # approvals are pairing's, not the allowlist's
        ("open", {FRIEND, APPROVED, STRANGER}),
        ("disabled", set()),  # not even allowFrom
    ],
)
async def test_who_is_admitted_under_each_policy(
    tmp_path: Path, store: SQLiteStore, policy: str, admitted: set[str]
) -> None:
    bot = load_bot(bot_config(tmp_path, policy))
    await store.approve_sender("default", APPROVED, T0)
    verdicts = {
        psid: await check_access(store, bot, bot.accounts["default"], psid, now=T0)
        for psid in (FRIEND, APPROVED, STRANGER)
    }
    assert {psid for psid, v in verdicts.items() if v.admission is Admission.ADMIT} == admitted
    expected = Admission.PAIR if policy == "pairing" else Admission.IGNORE
    assert verdicts[STRANGER].admission is (Admission.ADMIT if policy == "open" else expected)


@pytest.mark.parametrize("policy", ["pairing", "allowlist", "open", "disabled"])
async def test_a_blocked_sender_is_admitted_by_no_policy_and_gets_no_code(
    tmp_path: Path, store: SQLiteStore, policy: str
) -> None:
    bot = load_bot(bot_config(tmp_path, policy))
    for psid in (FRIEND, APPROVED, STRANGER):
        await store.approve_sender("default", psid, T0)
        await store.block_sender("default", psid, T0)
    for psid in (FRIEND, APPROVED, STRANGER):
        verdict = await check_access(store, bot, bot.accounts["default"], psid, now=T0)
        dropped = Admission.IGNORE if policy == "disabled" else Admission.BLOCKED
        assert (verdict.admission, verdict.reply) == (dropped, None)
    assert await store.list_pairings(now=T0) == []


async def test_a_pending_stranger_gets_one_reply_per_hour_at_most(
    tmp_path: Path, store: SQLiteStore
) -> None:
    bot = load_bot(bot_config(tmp_path, "pairing"))
    account = bot.accounts["default"]
    first = await check_access(store, bot, account, STRANGER, now=T0)
    assert first.admission is Admission.PAIR
    for later in (1.0, 600.0, PAIRING_TTL - 1):
        again = await check_access(store, bot, account, STRANGER, now=T0 + later)
        assert again.admission is Admission.IGNORE
    # the code has expired: the next message gets a new one
    fresh = await check_access(store, bot, account, STRANGER, now=T0 + PAIRING_TTL)
    assert fresh.admission is Admission.PAIR
    assert code_in(fresh.reply) != code_in(first.reply)


async def test_a_code_still_pending_after_an_hour_is_sent_again_once(
    tmp_path: Path, store: SQLiteStore
) -> None:
    # a request that lives longer than the resend interval (say, from a longer-lived code)
    bot = load_bot(bot_config(tmp_path, "pairing"))
    account = bot.accounts["default"]
    long_lived = PairingRequest(
        code="K7QMW2XP",
        account_id="default",
        psid=STRANGER,
        created_at=T0,
        expires_at=T0 + 3 * 3600,
        last_sent_at=T0,
    )
    await store.create_pairing(long_lived, now=T0, max_pending=MAX_PENDING)
    assert (await check_access(store, bot, account, STRANGER, now=T0 + 3599)).reply is None
    resent = await check_access(store, bot, account, STRANGER, now=T0 + 3600)
    assert (resent.admission, code_in(resent.reply)) == (Admission.PAIR, "K7QMW2XP")
    assert (await check_access(store, bot, account, STRANGER, now=T0 + 3601)).reply is None
    later = await check_access(store, bot, account, STRANGER, now=T0 + 7200)
    assert code_in(later.reply) == "K7QMW2XP"


async def test_at_most_three_requests_are_pending_and_the_oldest_goes_first(
    tmp_path: Path, store: SQLiteStore
) -> None:
    bot = load_bot(bot_config(tmp_path, "pairing"))
    account = bot.accounts["default"]
    strangers = [f"20000000000002{n:02d}" for n in range(4)]
    codes = []
    for number, psid in enumerate(strangers):
        verdict = await check_access(store, bot, account, psid, now=T0 + number)
        codes.append(code_in(verdict.reply))
    pending = await store.list_pairings("default", now=T0 + 4)
    assert [request.code for request in pending] == codes[1:]
    assert len(set(codes)) == 4
    # the first one writes again: a new code (theirs expired), and the next oldest goes
    back = await check_access(store, bot, account, strangers[0], now=T0 + 5)
    assert code_in(back.reply) not in codes
    pending = await store.list_pairings("default", now=T0 + 6)
    assert [request.psid for request in pending] == [*strangers[2:], strangers[0]]


async def test_a_new_code_is_never_one_already_pending(tmp_path: Path, store: SQLiteStore) -> None:
    bot = load_bot(bot_config(tmp_path, "pairing"))
    account = bot.accounts["default"]
    draws = iter(["AAAAAAAA", "AAAAAAAA", "BBBBBBBB"]).__next__
    first = await check_access(store, bot, account, STRANGER, now=T0, draw_code=draws)
    second = await check_access(store, bot, account, "2000000000000199", now=T0, draw_code=draws)
    assert (code_in(first.reply), code_in(second.reply)) == ("AAAAAAAA", "BBBBBBBB")


async def test_no_reply_when_no_free_code_is_found(
    tmp_path: Path,
    store: SQLiteStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = load_bot(bot_config(tmp_path, "pairing"))
    account = bot.accounts["default"]

    def always() -> str:
        return "AAAAAAAA"

    await check_access(store, bot, account, STRANGER, now=T0, draw_code=always)
    stuck = await check_access(store, bot, account, "2000000000000199", now=T0, draw_code=always)
    assert stuck.admission is Admission.IGNORE
    assert "no free pairing code" in caplog.text


async def test_approvals_are_per_account(tmp_path: Path, store: SQLiteStore) -> None:
    config = write_bot(
        tmp_path,
        'verifyToken: "v", dmPolicy: "pairing", accounts: { '
        'main: { pageAccessToken: "t1", pageId: "1" }, shop: { pageAccessToken: "t2", '
        'pageId: "2" } }',
    )
    bot = load_bot(config)
    await store.approve_sender("main", STRANGER, T0)
    main = await check_access(store, bot, bot.accounts["main"], STRANGER, now=T0)
    shop = await check_access(store, bot, bot.accounts["shop"], STRANGER, now=T0)
    assert (main.admission, shop.admission) == (Admission.ADMIT, Admission.PAIR)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            '"Code {{ code }} for {{ psid }} on {{ account.id }}."',
            "Code {code} for {psid} on default.",
        ),
        ('"Ask Anna for access."', "Ask Anna for access."),  # the owner's choice, as written
        ("\"{{ '' }}\"", None),  # renders to nothing: the built-in text
        ('"{{ code.nope.deeper }}"', None),  # fails to render: the built-in text
    ],
)
async def test_the_pairing_message_is_the_owners_template(
    tmp_path: Path,
    store: SQLiteStore,
    message: str,
    expected: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    bot = load_bot(bot_config(tmp_path, "pairing", pairingMessage=message))
    verdict = await check_access(store, bot, bot.accounts["default"], STRANGER, now=T0)
    [request] = await store.list_pairings(now=T0)
    if expected is not None:
        assert verdict.reply == expected.format(code=request.code, psid=STRANGER)
    else:
        assert verdict.reply == (
            "Hi! This bot only talks to people its owner has approved. Your pairing code is "
            f"{request.code}. To approve you, the owner runs: runtime pair approve messenger "
            f"{request.code}"
        )


def test_validate_warns_about_a_pairing_message_without_the_code(tmp_path: Path) -> None:
    config = bot_config(tmp_path, "pairing", pairingMessage='"Ask Anna for access."')
    [warning] = [w for w in build_bot(config).warnings if w.path.endswith("pairingMessage")]
    assert "does not use {{ code }}" in warning.message
    with_code = bot_config(tmp_path / "b", "pairing", pairingMessage='"Code: {{ code }}"')
    assert not [w for w in build_bot(with_code).warnings if w.path.endswith("pairingMessage")]


def test_texts_every_account_inherits_are_checked_once_where_they_are_written(
    tmp_path: Path,
) -> None:
    """A Jinja error, then a pairingMessage without the code, written once on the channel
    for two accounts: one problem each, at the key in the file."""
    accounts = 'accounts: { shop: { pageId: "1" }, blog: { pageId: "2" } }'
    messenger = f'{single_page(pageId="")}, pairingMessage: "Ask Anna.", {accounts}'
    broken = write_bot(tmp_path, f'{messenger}, approvedMessage: "In, {{{{ psid }}"')
    with pytest.raises(ConfigError) as caught:
        build_bot(broken)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        (
            "channels.messenger.approvedMessage",
            "Jinja syntax error on line 1 of the template: unexpected '}'",
        )
    ]
    fixed = write_bot(tmp_path, f'{messenger}, approvedMessage: "In, {{{{ psid }}}}"')
    warnings = [w.path for w in build_bot(fixed).warnings if "{{ code }}" in w.message]
    assert warnings == ["channels.messenger.pairingMessage"]


async def test_a_long_pairing_message_is_cut_to_one_message(
    tmp_path: Path, store: SQLiteStore
) -> None:
    message = '"{{ code }} {% for i in range(500) %}words {% endfor %}"'
    bot = load_bot(bot_config(tmp_path, "pairing", pairingMessage=message))
    verdict = await check_access(store, bot, bot.accounts["default"], STRANGER, now=T0)
    assert verdict.reply is not None
    assert len(verdict.reply) == 2000
