"""The Store contract for listing sessions, against every store (fixtures in conftest.py)."""

from __future__ import annotations

from types import MappingProxyType

from runtime.session import Session
from runtime.store.base import NewInbound, Store
from tests.store.records import HOUR


def session(psid: str, *, account: str = "page-1", at: float = 0.0, **variables: object) -> Session:
    return Session(
        key=f"agent:main:messenger:dm:{psid}@{account}",
        account_id=account,
        psid=psid,
        vars=MappingProxyType(variables),
        updated_at=at,
    )


async def test_sessions_are_listed_least_recently_updated_first(store: Store) -> None:
    assert await store.list_sessions() == []
    await store.save_session(session("u1", at=20.0, name="Zoë"))
    await store.save_session(session("u2", at=10.0, size=42))
    await store.save_session(session("u3", account="page-2", at=15.0))
    listed = await store.list_sessions()
    assert [(s.session.psid, s.session.account_id) for s in listed] == [
        ("u2", "page-1"),
        ("u3", "page-2"),
        ("u1", "page-1"),
    ]
    assert listed[2].session.vars == {"name": "Zoë"}
    assert [s.session.psid for s in await store.list_sessions("page-2")] == ["u3"]


async def test_a_listed_session_says_when_its_person_last_wrote_through_the_webhook(
    store: Store,
) -> None:
    await store.save_session(session("u1"))
    await store.save_session(session("chat-local"))  # `runtime chat`: no webhook event
    await store.save_session(session("u1", account="page-2"))  # the same PSID, another page
    event = NewInbound(account_id="page-1", psid="u1", body="{}", at=100.0)
    await store.accept_inbound([event], now=100.0, dedupe_ttl=HOUR)
    seen = {
        (s.session.account_id, s.session.psid): s.last_inbound for s in await store.list_sessions()
    }
    assert seen == {("page-1", "u1"): 100.0, ("page-1", "chat-local"): None, ("page-2", "u1"): None}
