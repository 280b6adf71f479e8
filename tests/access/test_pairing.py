"""The owner's side of pairing (runtime.pairing) with an explicit `now`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.access import PAIRING_TTL, Admission, check_access
from runtime.commands.pair import run_pair_command
from runtime.config.load import load_config
from runtime.config.model import Config
from runtime.errors import PairingError
from runtime.messenger.proactive import UnknownAccountError
from runtime.pairing import (
    PairAction,
    approve,
    deny,
    format_revoke,
    normalize_code,
    revoke,
)
from runtime.store.base import Standing
from runtime.store.sqlite import SQLiteStore
from runtime.tables import duration
from tests.access.conftest import APPROVED_MESSAGE, FRIEND, STRANGER, bot_config, code_in, load_bot
from tests.messenger.conftest import write_bot

T0 = 1_800_000_000.0


def config_of(path: Path) -> Config:
    return load_config(path).config


async def paired(tmp_path: Path, store: SQLiteStore, policy: str = "pairing") -> tuple[Path, str]:
    """A bot under pairing whose STRANGER just wrote and got a code (now: T0)."""
    path = bot_config(tmp_path, "pairing")
    bot = load_bot(path)
    await store.record_inbound("default", STRANGER, T0)
    verdict = await check_access(store, bot, bot.accounts["default"], STRANGER, now=T0)
    if policy != "pairing":
        path = bot_config(tmp_path, policy)  # the owner changed the policy since
    return path, code_in(verdict.reply)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("K7QMW2XP", "K7QMW2XP"),
        ("k7qmw2xp", "K7QMW2XP"),
        (" k7qm w2xp\n", "K7QMW2XP"),
        ("K7QM-W2XP", "K7QMW2XP"),
    ],
)
def test_codes_are_normalized(typed: str, code: str) -> None:
    assert normalize_code(typed) == code


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h00m"),
        (3 * 86400 + 7200, "3d02h"),
        (-5, "0s"),
    ],
)
def test_durations_are_short(seconds: float, text: str) -> None:
    assert duration(seconds) == text


async def test_a_code_approves_until_it_expires(tmp_path: Path, store: SQLiteStore) -> None:
    path, code = await paired(tmp_path, store)
    with pytest.raises(PairingError, match=r"expired less than a minute ago; ask them to write"):
        await approve(store, config_of(path), code, now=T0 + PAIRING_TTL)
    assert await store.standing("default", STRANGER) is Standing.NONE

    bot = load_bot(path)
    fresh = await check_access(store, bot, bot.accounts["default"], STRANGER, now=T0 + PAIRING_TTL)
    approval = await approve(
        store, config_of(path), code_in(fresh.reply), now=T0 + 2 * PAIRING_TTL - 1
    )
    assert approval.request.psid == STRANGER
    assert await store.standing("default", STRANGER) is Standing.APPROVED


async def test_an_approved_sender_is_admitted_at_the_next_message(
    tmp_path: Path, store: SQLiteStore
) -> None:
    path, code = await paired(tmp_path, store)
    approval = await approve(store, config_of(path), code.lower(), now=T0 + 60)
    assert approval.confirmation_queued
    [message] = await store.claim_outbound("w", now=T0 + 60, lease=1, limit=5)
    assert json.loads(message.body)["messaging_type"] == "UPDATE"
    bot = load_bot(path)
    verdict = await check_access(store, bot, bot.accounts["default"], STRANGER, now=T0 + 61)
    assert verdict.admission is Admission.ADMIT


async def test_deny_of_an_expired_code_says_there_is_nothing_to_deny(
    tmp_path: Path, store: SQLiteStore
) -> None:
    _, code = await paired(tmp_path, store)
    with pytest.raises(PairingError, match=r"expired 2 minutes ago; there is nothing to deny"):
        await deny(store, code, now=T0 + PAIRING_TTL + 150)


async def test_revoke_puts_the_sender_back_to_pairing(tmp_path: Path, store: SQLiteStore) -> None:
    path, code = await paired(tmp_path, store)
    config = config_of(path)
    await approve(store, config, code, now=T0 + 60)
    assert await revoke(store, config, f"fb:{STRANGER}", account_id=None) == "default"
    bot = load_bot(path)
    verdict = await check_access(store, bot, bot.accounts["default"], STRANGER, now=T0 + 120)
    assert verdict.admission is Admission.PAIR
    with pytest.raises(PairingError, match="is not approved on any account"):
        await revoke(store, config, STRANGER, account_id=None)


async def test_revoke_asks_which_account_when_approved_on_several(
    tmp_path: Path, store: SQLiteStore
) -> None:
    path = write_bot(
        tmp_path,
        'verifyToken: "v", accounts: { main: { pageAccessToken: "t1", pageId: "1" }, '
        'shop: { pageAccessToken: "t2", pageId: "2" } }',
    )
    config = config_of(path)
    await store.approve_sender("main", STRANGER, T0)
    await store.approve_sender("shop", STRANGER, T0)
    with pytest.raises(PairingError, match=r"approved on several accounts \(main, shop\)"):
        await revoke(store, config, STRANGER, account_id=None)
    assert await revoke(store, config, STRANGER, account_id="shop") == "shop"
    assert await store.standing("main", STRANGER) is Standing.APPROVED


@pytest.mark.parametrize(
    ("policy", "note"),
    [
        ("allowlist", "add the PSID to allowFrom to let them in"),
        ("disabled", "they count again under dmPolicy pairing"),
    ],
)
async def test_approving_under_another_policy_says_it_does_not_count(
    tmp_path: Path, store: SQLiteStore, policy: str, note: str
) -> None:
    path, code = await paired(tmp_path, store, policy)
    approval = await approve(store, config_of(path), code, now=T0 + 60)
    assert not approval.confirmation_queued
    assert approval.note is not None
    assert approval.note.endswith(note)
    assert await store.count_outbound() == 0


async def test_approving_for_an_account_gone_from_the_config_sends_nothing(
    tmp_path: Path, store: SQLiteStore
) -> None:
    _, code = await paired(tmp_path, store)
    other = write_bot(
        tmp_path / "other", 'verifyToken: "v", accounts: { shop: { pageAccessToken: "t" } }'
    )
    approval = await approve(store, config_of(other), code, now=T0 + 60)
    assert approval.outcome == "no confirmation sent: account 'default' is not in the config"
    assert await store.count_outbound() == 0


async def test_never_having_written_means_no_confirmation(
    tmp_path: Path, store: SQLiteStore
) -> None:
    path = bot_config(tmp_path, "pairing")
    bot = load_bot(path)
    verdict = await check_access(store, bot, bot.accounts["default"], STRANGER, now=T0)
    approval = await approve(store, config_of(path), code_in(verdict.reply), now=T0 + 1)
    assert approval.outcome.startswith("no confirmation sent: they have not written to this page")


async def test_each_command_reports_what_it_did(tmp_path: Path) -> None:
    path = bot_config(tmp_path, "pairing")
    config = config_of(path)
    store = SQLiteStore(config.state.path or tmp_path / "state.db")
    await store.open()
    try:
        bot = load_bot(path)
        await store.record_inbound("default", STRANGER, T0)
        first = code_in(
            (await check_access(store, bot, bot.accounts["default"], STRANGER, now=T0)).reply
        )
        other = code_in(
            (
                await check_access(store, bot, bot.accounts["default"], "2000000000000555", now=T0)
            ).reply
        )
    finally:
        await store.close()

    async def run(action: PairAction, **kwargs: object) -> str:
        return await run_pair_command(config, action, now=T0 + 90, **kwargs)

    listed = await run(PairAction.LIST, account_id="default")
    assert listed.splitlines()[1:] == [
        f"{first}  default  {STRANGER}  1m   58m",
        f"{other}  default  2000000000000555  1m   58m",
    ]
    assert await run(PairAction.DENY, argument=other) == (
        f"denied pairing code {other} of 2000000000000555 on account 'default'; they are not "
        "told, and they will get a new code if they write again; use --block to stop that "
        "(now: `runtime pair block messenger 2000000000000555 --account default`)"
    )
    assert (await run(PairAction.APPROVE, argument=first)).splitlines() == [
        f"approved {STRANGER} on account 'default' (code {first})",
        f'confirmation queued ("{APPROVED_MESSAGE}"): a running server sends it within seconds, '
        "else the next `runtime serve` does",
    ]
    assert await run(PairAction.LIST) == "no pending pairing requests"
    assert (await run(PairAction.LIST, approved=True, account_id="default")).splitlines() == [
        "ACCOUNT  PSID              APPROVED",
        f"default  {STRANGER}  0s ago",
    ]
    assert await run(PairAction.REVOKE, argument=STRANGER, account_id="default") == (
        f"revoked {STRANGER} on account 'default': back to pairing, like a stranger"
    )
    assert await run(PairAction.LIST, approved=True) == "no approved senders"
    with pytest.raises(UnknownAccountError, match="no account 'shop'"):
        await run(PairAction.LIST, approved=True, account_id="shop")


async def test_revoking_a_friend_in_allow_from_says_they_still_get_in(
    tmp_path: Path, store: SQLiteStore
) -> None:
    path = bot_config(tmp_path, "pairing")
    await store.approve_sender("default", FRIEND, T0)
    assert format_revoke(config_of(path), FRIEND, "default").splitlines()[1] == (
        f"note: {FRIEND} is in allowFrom of account 'default', which still admits"
    )


async def test_an_empty_code_is_unknown(tmp_path: Path, store: SQLiteStore) -> None:
    with pytest.raises(PairingError, match=r"has the code ' '"):
        await approve(store, config_of(bot_config(tmp_path, "pairing")), " ", now=T0)
