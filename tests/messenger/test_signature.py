"""Signature checks over the exact bytes received, and the rule on what a signature admits."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from runtime.build import build_bot
from runtime.config.model import Account
from runtime.messenger.signature import matching_secret, refusal, sign
from runtime.secret import Secret
from tests.messenger.conftest import write_bot

BODY = b'{"object":"page","entry":[]}'


def test_sign_is_hmac_sha256_of_the_raw_body() -> None:
    expected = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, "s3cret") == f"sha256={expected}"


def test_the_secret_that_signed_is_found_among_several() -> None:
    first, second = Secret("one"), Secret("two")
    assert matching_secret(BODY, sign(BODY, "two"), [first, second]) is second
    assert (
        matching_secret(BODY, sign(BODY, "two").upper().replace("SHA256=", "sha256="), [second])
        is second
    )


def test_a_wrong_missing_or_legacy_signature_matches_nothing() -> None:
    secrets = [Secret("one")]
    assert matching_secret(BODY, sign(BODY, "other"), secrets) is None
    assert matching_secret(BODY, None, secrets) is None
    assert matching_secret(BODY, "", secrets) is None
    legacy = "sha1=" + hmac.new(b"one", BODY, hashlib.sha1).hexdigest()
    assert matching_secret(BODY, legacy, secrets) is None


def test_one_changed_byte_breaks_the_signature() -> None:
    header = sign(BODY, "one")
    assert matching_secret(BODY + b" ", header, [Secret("one")]) is None


# -- the rule: what a signature admits ---------------------------------------------------------


@pytest.fixture
def accounts(tmp_path: Path) -> dict[str, Account]:
    """`main` (page 1, its secret), `support` (page 2, its own), `open` (page 3, none)."""
    messenger = """verifyToken: "v", dmPolicy: "open", accounts: {
        main: { pageAccessToken: "t1", appSecret: "s3cret-main", pageId: "1" },
        support: { pageAccessToken: "t2", appSecret: "s3cret-support", pageId: "2" },
        open: { pageAccessToken: "t3", pageId: "3" } }"""
    return dict(build_bot(write_bot(tmp_path, messenger)).bot.accounts)


def test_each_entry_needs_its_own_accounts_secret(accounts: dict[str, Account]) -> None:
    main, support = accounts["main"], accounts["support"]
    every = list(accounts.values())
    assert refusal(Secret("s3cret-main"), every, {"1": main}) is None
    assert refusal(Secret("s3cret-support"), every, {"2": support}) is None
    reason = refusal(Secret("s3cret-main"), every, {"1": main, "2": support})
    assert reason is not None
    assert "page 2" in reason
    assert "account 'support'" in reason
    assert "s3cret" not in reason
    assert refusal(None, every, {"1": main}) is not None


def test_an_account_without_secret_takes_its_entries_unsigned(
    accounts: dict[str, Account],
) -> None:
    every = list(accounts.values())
    open_ = accounts["open"]
    assert refusal(None, every) is None  # it may be for `open`: parse it and see
    assert refusal(None, every, {"3": open_}) is None
    assert refusal(Secret("s3cret-main"), every, {"3": open_}) is None
    assert refusal(None, every, {"3": open_, "1": accounts["main"]}) is not None


def test_a_body_no_configured_secret_signed_is_refused_unless_an_entry_vouches(
    accounts: dict[str, Account],
) -> None:
    signed = [accounts["main"], accounts["support"]]
    # before parsing: every account has a secret, so nothing in the body could save it
    assert refusal(None, signed) is not None
    assert "account 'main'" in (refusal(None, [accounts["main"]]) or "")
    # entries only for pages no account has: taken (and ignored) only when signed
    assert refusal(Secret("s3cret-support"), signed, {"99": None}) is None
    assert refusal(None, list(accounts.values()), {"99": None}) is not None
    assert refusal(None, list(accounts.values()), {}) is not None


def test_one_hmac_a_distinct_secret_still_finds_the_signer() -> None:
    shared = [Secret("one"), Secret("one"), Secret("two"), Secret("one")]
    assert matching_secret(BODY, sign(BODY, "one"), shared) == Secret("one")
    assert matching_secret(BODY, sign(BODY, "two"), shared) == Secret("two")
