"""The SessionStore contract: sessions kept, replaced, forgotten and listed.

The `store` and `new_store` fixtures (one per backend: memory, SQLite, Redis) are in
`conftest.py`: every test of the class runs against each backend.
"""

from __future__ import annotations

from types import MappingProxyType

from runtime.session import Session
from runtime.store.base import (
    NewInbound,
    Store,
)
from tests.store.records import HOUR


def session(psid: str, *, account: str = "page-1", at: float = 0.0, **variables: object) -> Session:
    return Session(
        key=f"agent:main:messenger:dm:{psid}@{account}",
        account_id=account,
        psid=psid,
        vars=MappingProxyType(variables),
        updated_at=at,
    )


class TestSessionStore:
    """What every backend must do with sessions."""

    async def test_sessions_are_listed_least_recently_updated_first(self, store: Store) -> None:
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
        self,
        store: Store,
    ) -> None:
        await store.save_session(session("u1"))
        await store.save_session(session("chat-local"))  # `runtime chat`: no webhook event
        await store.save_session(session("u1", account="page-2"))  # the same PSID, another page
        event = NewInbound(account_id="page-1", psid="u1", body="{}", at=100.0)
        await store.accept_inbound([event], now=100.0, dedupe_ttl=HOUR)
        seen = {
            (s.session.account_id, s.session.psid): s.last_inbound
            for s in await store.list_sessions()
        }
        assert seen == {
            ("page-1", "u1"): 100.0,
            ("page-1", "chat-local"): None,
            ("page-2", "u1"): None,
        }

    async def test_a_session_round_trips(self, store: Store) -> None:
        session = Session(
            key="agent:a:messenger:dm:u1",
            account_id="page-1",
            psid="u1",
            vars=MappingProxyType({"name": "Zoë", "order": {"items": [1, 2]}, "ok": True}),
            flow="signup",
            step=2,
            retries=1,
            updated_at=12.5,
        )
        await store.save_session(session)
        assert await store.load_session(session.key) == session

    async def test_saving_a_session_again_replaces_it(self, store: Store) -> None:
        await store.save_session(Session(key="k", account_id="a", psid="u", flow="f", step=0))
        await store.save_session(Session(key="k", account_id="a", psid="u", updated_at=2.0))
        loaded = await store.load_session("k")
        assert loaded is not None
        assert (loaded.flow, loaded.step, loaded.updated_at) == (None, None, 2.0)

    async def test_deleting_a_session_forgets_it(self, store: Store) -> None:
        assert await store.load_session("k") is None
        await store.save_session(Session(key="k", account_id="a", psid="u"))
        assert await store.delete_session("k") is True
        assert await store.delete_session("k") is False
        assert await store.load_session("k") is None
