"""`runtime pair` as the owner runs it: a real process on the bot's state file."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from runtime.access import check_access
from runtime.store.base import NewOutbound, PairingRequest, Standing
from runtime.store.sqlite import SQLiteStore
from tests.access.conftest import (
    APPROVED_MESSAGE,
    FRIEND,
    STRANGER,
    bot_config,
    code_in,
    load_bot,
    pair,
    run_cli,
)
from tests.messenger.conftest import write_bot

HOUR = 3600.0


def request(code: str, *, psid: str = STRANGER, age: float = 150.0) -> PairingRequest:
    """A request made `age` seconds ago, with the usual hour to live."""
    created = time.time() - age
    return PairingRequest(
        code=code,
        account_id="default",
        psid=psid,
        created_at=created,
        expires_at=created + HOUR,
        last_sent_at=created,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return bot_config(tmp_path, "pairing")


async def add(store: SQLiteStore, *requests: PairingRequest) -> None:
    for item in requests:
        assert await store.create_pairing(item, now=item.created_at, max_pending=3) == item


async def test_list_shows_code_account_psid_age_and_expiry(
    config: Path, store: SQLiteStore
) -> None:
    assert (await pair(config, "list", "messenger")).stdout == "no pending pairing requests\n"
    await add(
        store, request("K7QMW2XP", age=150), request("ZZ9RT4HB", psid="2000000000000777", age=90)
    )
    listed = await pair(config, "list", "messenger")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "CODE      ACCOUNT  PSID              AGE  EXPIRES IN",
        "K7QMW2XP  default  2000000000000101  2m   57m",
        "ZZ9RT4HB  default  2000000000000777  1m   58m",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["pairing", "list", "messenger", "-c", "{config}"],
        ["pair", "-c", "{config}", "list", "messenger"],
        ["pairing", "list", "-c", "{config}", "messenger", "--account", "default"],
    ],
)
async def test_pairing_is_the_same_command_and_c_goes_anywhere(
    config: Path, store: SQLiteStore, args: list[str]
) -> None:
    await add(store, request("K7QMW2XP"))
    ran = await run_cli(*(arg.replace("{config}", str(config)) for arg in args))
    assert ran.returncode == 0, ran.stderr
    assert "K7QMW2XP  default  2000000000000101" in ran.stdout


async def test_list_of_an_unknown_account_names_the_ones_there_are(config: Path) -> None:
    ran = await pair(config, "list", "messenger", "--account", "shop")
    assert ran.returncode == 1
    assert ran.stderr == "runtime pair list: no account 'shop' in the config; it has: default\n"


async def test_a_code_typed_in_lower_case_with_spaces_is_approved_once(
    config: Path, store: SQLiteStore
) -> None:
    await add(store, request("K7QMW2XP"))
    approved = await pair(config, "approve", "messenger", "k7qm", "w2xp")
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.startswith(f"approved {STRANGER} on account 'default' (code K7QMW2XP)\n")
    assert await store.standing("default", STRANGER) is Standing.APPROVED
    assert await store.list_pairings(now=time.time()) == []

    again = await pair(config, "approve", "messenger", "K7QMW2XP")
    assert again.returncode == 1
    assert again.stderr == (
        "runtime pair approve: no pending pairing request has the code K7QMW2XP; codes are used "
        "once; `runtime pair list messenger` shows the pending ones\n"
    )


async def test_an_unknown_code_is_an_error(config: Path, store: SQLiteStore) -> None:
    await add(store, request("K7QMW2XP"))
    ran = await pair(config, "approve", "messenger", "K7QMW2XQ")
    assert ran.returncode == 1
    assert "no pending pairing request has the code K7QMW2XQ" in ran.stderr
    typo = await pair(config, "approve", "messenger", "K7QMW2X0")
    assert "(a code is 8 characters of A-Z and 2-9, without I, L and O)" in typo.stderr
    assert await store.standing("default", STRANGER) is Standing.NONE


async def test_an_expired_code_says_when_and_what_to_do(config: Path, store: SQLiteStore) -> None:
    await add(store, request("K7QMW2XP", age=HOUR + 10 * 60 + 5))
    ran = await pair(config, "approve", "messenger", "K7QMW2XP")
    assert ran.returncode == 1
    assert ran.stderr == (
        f"runtime pair approve: pairing code K7QMW2XP of {STRANGER} expired 10 minutes ago; "
        "ask them to write again for a new code\n"
    )
    assert await store.standing("default", STRANGER) is Standing.NONE


async def test_the_oldest_of_four_strangers_can_no_longer_be_approved(
    config: Path, store: SQLiteStore
) -> None:
    bot = load_bot(config)
    account = bot.accounts["default"]
    now = time.time()
    codes = []
    for number in range(4):
        verdict = await check_access(store, bot, account, f"20000000000003{number:02d}", now=now)
        codes.append(code_in(verdict.reply))
    listed = await pair(config, "list", "messenger")
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == codes[1:]
    ran = await pair(config, "approve", "messenger", codes[0])
    assert ran.returncode == 1
    assert (
        f"pairing code {codes[0]} of 2000000000000300 expired less than a minute ago, pushed out "
        "when more than 3 requests were pending on account 'default' (the oldest expires first);"
        " ask them to write again for a new code"
    ) in ran.stderr
    assert (await pair(config, "approve", "messenger", codes[3])).returncode == 0


async def test_deny_drops_the_request_silently(config: Path, store: SQLiteStore) -> None:
    await add(store, request("K7QMW2XP"))
    denied = await pair(config, "deny", "messenger", "k7qmw2xp")
    assert denied.returncode == 0, denied.stderr
    assert denied.stdout.startswith(f"denied pairing code K7QMW2XP of {STRANGER}")
    assert (await pair(config, "approve", "messenger", "K7QMW2XP")).returncode == 1
    assert await store.standing("default", STRANGER) is Standing.NONE
    assert await store.count_outbound() == 0


async def test_revoke_withdraws_an_approval_once(config: Path, store: SQLiteStore) -> None:
    await store.approve_sender("default", STRANGER, time.time() - 7200)
    approved = await pair(config, "list", "messenger", "--approved")
    assert approved.stdout.splitlines() == [
        "ACCOUNT  PSID              APPROVED",
        f"default  {STRANGER}  2h00m ago",
    ]
    revoked = await pair(config, "revoke", "messenger", STRANGER)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout == (
        f"revoked {STRANGER} on account 'default': back to pairing, like a stranger\n"
    )
    assert await store.standing("default", STRANGER) is Standing.NONE
    again = await pair(config, "revoke", "messenger", STRANGER, "--account", "default")
    assert again.returncode == 1
    assert again.stderr == (
        f"runtime pair revoke: {STRANGER} is not an approved sender of account 'default'; "
        "`runtime pair list messenger --approved` shows who is\n"
    )


async def test_a_confirmation_is_queued_inside_the_window_only(
    config: Path, store: SQLiteStore
) -> None:
    await add(store, request("K7QMW2XP"), request("ZZ9RT4HB", psid=FRIEND))
    await store.record_inbound("default", STRANGER, time.time() - 150)
    await store.record_inbound("default", FRIEND, time.time() - 30 * HOUR)

    inside = await pair(config, "approve", "messenger", "K7QMW2XP")
    assert "confirmation queued" in inside.stdout
    [queued] = await store.claim_outbound("test", now=time.time(), lease=60, limit=10)
    assert json.loads(queued.body) == {
        "recipient": {"id": STRANGER},
        "messaging_type": "UPDATE",
        "message": {"text": APPROVED_MESSAGE, "metadata": "runtime:approved"},
    }

    outside = await pair(config, "approve", "messenger", "ZZ9RT4HB")
    assert outside.returncode == 0
    assert (
        "no confirmation sent: they last wrote 30 hours ago, outside Messenger's 24-hour window"
    ) in outside.stdout
    assert await store.count_outbound() == 1


@pytest.mark.parametrize("failing_table", ["approved_senders", "outbox"])
async def test_an_approval_the_store_fails_halfway_leaves_the_code_to_approve_again(
    config: Path, store: SQLiteStore, tmp_path: Path, failing_table: str
) -> None:
    """The code is used up, the sender approved and the confirmation queued in one
    transaction: when the store fails at the approval or at the confirmation (a full disk,
    a crash), nothing of it is kept, and the same code approves once the store is well."""
    await add(store, request("K7QMW2XP"))
    await store.record_inbound("default", STRANGER, time.time() - 150)
    state = sqlite3.connect(tmp_path / ".runtime" / "state.db")
    state.execute(
        f"CREATE TRIGGER disk_full BEFORE INSERT ON {failing_table} "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    state.commit()

    failed = await pair(config, "approve", "messenger", "K7QMW2XP")
    assert failed.returncode == 1
    assert "database or disk is full" in failed.stderr
    assert await store.standing("default", STRANGER) is Standing.NONE
    assert [r.code for r in await store.list_pairings(now=time.time())] == ["K7QMW2XP"]

    state.execute("DROP TRIGGER disk_full")
    state.commit()
    state.close()
    approved = await pair(config, "approve", "messenger", "K7QMW2XP")
    assert approved.returncode == 0, approved.stderr
    assert "confirmation queued" in approved.stdout
    assert await store.standing("default", STRANGER) is Standing.APPROVED
    assert await store.count_outbound() == 1


async def test_a_broken_config_stops_the_command_with_its_problems(tmp_path: Path) -> None:
    config = bot_config(tmp_path, "closed")
    ran = await pair(config, "list", "messenger")
    assert ran.returncode == 1
    assert "dmPolicy: unknown value 'closed'" in ran.stderr


async def test_block_list_and_unblock_say_what_changed(config: Path, store: SQLiteStore) -> None:
    await store.approve_sender("default", STRANGER, time.time())
    blocked = await pair(config, "block", "messenger", f"fb:{STRANGER}")
    assert blocked.returncode == 0, blocked.stderr
    assert blocked.stdout.splitlines()[1:] == [
        "their approval is withdrawn: once unblocked, they are a stranger again"
    ]
    again = await pair(config, "block", "messenger", STRANGER, "--account", "default")
    assert again.stdout.startswith(f"{STRANGER} on account 'default' was blocked already")
    friend = await pair(config, "block", "messenger", FRIEND)
    assert friend.stdout.splitlines()[1] == (
        f"note: {FRIEND} is in allowFrom of account 'default'; the block wins while it lasts "
        "(take them out of allowFrom too, for good)"
    )
    listed = await pair(config, "list", "messenger", "--blocked", "--account", "default")
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [
        ["ACCOUNT", "PSID"],
        ["default", STRANGER],
        ["default", FRIEND],
    ]
    unblocked = await pair(config, "unblock", "messenger", STRANGER)
    assert unblocked.stdout == (
        f"unblocked {STRANGER} on account 'default': a stranger again: their next message gets "
        "a pairing code\n"
    )
    assert await store.standing("default", STRANGER) is Standing.NONE
    not_blocked = await pair(config, "unblock", "messenger", STRANGER)
    assert not_blocked.returncode == 1
    assert not_blocked.stderr == (
        f"runtime pair unblock: {STRANGER} is not blocked on any account; "
        "`runtime pair list messenger --blocked` shows who is\n"
    )
    both = await pair(config, "list", "messenger", "--blocked", "--approved")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr


async def test_a_block_without_account_takes_the_one_the_person_wrote_to(
    tmp_path: Path, store: SQLiteStore
) -> None:
    account = 'pageAccessToken: "t", pageId: "{page}"'
    config = write_bot(
        tmp_path,
        'appSecret: "s", verifyToken: "v", dmPolicy: "pairing", accounts: { '
        f"main: {{ {account.format(page='100000000000001')} }}, "
        f"shop: {{ {account.format(page='100000000000002')} }} }}",
    )
    unknown = await pair(config, "block", "messenger", STRANGER)
    assert unknown.returncode == 1
    assert unknown.stderr == (
        f"runtime pair block: {STRANGER} has not written to any account; name the one to block "
        "them on with --account (this config has: main, shop)\n"
    )
    await store.record_inbound("shop", STRANGER, time.time())
    blocked = await pair(config, "block", "messenger", STRANGER)
    assert blocked.stdout.startswith(f"blocked {STRANGER} on account 'shop':")
    assert await store.standing("main", STRANGER) is Standing.NONE
    await store.record_inbound("main", STRANGER, time.time())
    several = await pair(config, "block", "messenger", STRANGER)
    assert several.stderr == (
        f"runtime pair block: {STRANGER} wrote to several accounts (main, shop); name one with "
        "--account\n"
    )
    elsewhere = await pair(config, "block", "messenger", STRANGER, "--account", "outlet")
    assert elsewhere.returncode == 1
    assert "no account 'outlet' in the config; it has: main, shop" in elsewhere.stderr


async def test_a_dead_letter_to_someone_blocked_is_not_sent_again(
    config: Path, store: SQLiteStore
) -> None:
    [message_id] = await store.enqueue_outbound(
        [NewOutbound(account_id="default", psid=STRANGER, body='{"message": {"text": "hi"}}')],
        now=time.time(),
    )
    await store.dead_letter_outbound(message_id, now=time.time(), error="(#551) unavailable")
    assert (await pair(config, "block", "messenger", STRANGER)).returncode == 0
    retried = await run_cli("outbox", "retry", str(message_id), "-c", str(config))
    assert retried.returncode == 1
    assert retried.stderr == (
        f"runtime outbox retry: dead letter {message_id} is to {STRANGER}, who is blocked on "
        f"account 'default': nothing is sent to them; `runtime pair unblock messenger {STRANGER} "
        "--account default` first\n"
    )
    assert await store.count_outbound() == 0
    assert [d.id for d in await store.list_dead_letters()] == [message_id]
