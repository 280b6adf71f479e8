"""X-Hub-Signature-256: HMAC-SHA256 of the raw body keyed by the App Secret, in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from runtime.secret import Secret

HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta sends for `body`: `sha256=<hex>` (tests sign with it too)."""
    return _PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def matching_secret(body: bytes, header: str | None, secrets: Iterable[Secret]) -> Secret | None:
    """The App Secret that signed `body`, or None if none did (or the header is missing).

    Computed over the exact bytes received, before any JSON parsing. Each candidate is
    compared with `hmac.compare_digest`, and all of them are always tried, so the time taken
    says nothing about which one (if any) came close.
    """
    if not header or not header.startswith(_PREFIX):
        return None
    given = header[len(_PREFIX) :].strip().lower().encode()
    found: Secret | None = None
    for secret in secrets:
        expected = hmac.new(secret.reveal().encode(), body, hashlib.sha256).hexdigest().encode()
        if hmac.compare_digest(expected, given) and found is None:
            found = secret
    return found
