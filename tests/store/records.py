"""Records to put in a store, built with the defaults the store tests share."""

from __future__ import annotations

from runtime.store.base import NewInbound, NewOutbound, PairingRequest

HOUR = 3600.0
DAY = 86_400.0


def pairing(
    code: str, *, account: str = "page-1", psid: str = "u1", at: float = 0.0, ttl: float = HOUR
) -> PairingRequest:
    return PairingRequest(
        code=code,
        account_id=account,
        psid=psid,
        created_at=at,
        expires_at=at + ttl,
        last_sent_at=at,
    )


def inbound(psid: str, body: str, message_id: str | None = None) -> NewInbound:
    return NewInbound(account_id="page-1", psid=psid, body=body, message_id=message_id)


def outbound(psid: str, body: str, account: str = "page-1") -> NewOutbound:
    return NewOutbound(account_id=account, psid=psid, body=body)
