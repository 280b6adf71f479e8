"""Signature checks over the exact bytes received."""

from __future__ import annotations

import hashlib
import hmac

from runtime.messenger.signature import matching_secret, sign
from runtime.secret import Secret

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
