"""The Inbox contract: events accepted once, claimed in order one per person, finished.

The `store` and `new_store` fixtures (one per backend: memory, SQLite, Redis) are in
`conftest.py`: every test of the class runs against each backend.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from runtime.errors import StoreError
from runtime.session import Session
from runtime.store.base import (
    Lease,
    LostLeases,
    NewInbound,
    Store,
)
from tests.store.conftest import NewStore
from tests.store.records import HOUR, inbound, outbound


def keyed(psid: str, body: str, message_id: str | None = None) -> NewInbound:
    return replace(inbound(psid, body, message_id), session_key=f"agent:main:messenger:dm:{psid}")


class TestInbox:
    """What every backend must do with accepted webhook events."""

    async def test_a_closed_store_raises_store_error(self, new_store: NewStore) -> None:
        store = new_store()
        with pytest.raises(StoreError, match="not open"):
            await store.count_inbound()
        await store.open()
        await store.open()  # opening again is harmless
        await store.close()
        await store.close()  # closing twice is harmless
        with pytest.raises(StoreError, match="not open"):
            await store.count_outbound()

    async def test_accepted_events_get_ids_in_order(self, store: Store) -> None:
        events = [inbound("u1", "1"), inbound("u2", "2"), inbound("u3", "3")]
        ids = (await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)).ids
        assert len(ids) == 3
        assert list(ids) == sorted(ids)
        assert await store.count_inbound() == 3

    async def test_accepting_drops_redeliveries_within_and_across_batches(
        self, store: Store
    ) -> None:
        first = [inbound("u1", "a", "m1"), inbound("u1", "again", "m1"), inbound("u2", "b", None)]
        assert len((await store.accept_inbound(first, now=0.0, dedupe_ttl=HOUR)).ids) == 2
        second = [
            inbound("u1", "redelivered", "m1"),
            inbound("u2", "c", None),
            inbound("u3", "d", "m2"),
        ]
        assert len((await store.accept_inbound(second, now=1.0, dedupe_ttl=HOUR)).ids) == 2
        bodies = set()
        while claimed := await store.claim_inbound("w", now=2.0, lease=60.0, limit=10):
            for event in claimed:
                bodies.add(event.body)
                await store.complete_inbound(event.id)
        assert bodies == {"a", "b", "c", "d"}

    async def test_a_message_id_is_kept_again_once_its_ttl_has_passed(self, store: Store) -> None:
        event = [inbound("u1", "a", "m1")]
        await store.accept_inbound(event, now=0.0, dedupe_ttl=HOUR)
        assert len((await store.accept_inbound(event, now=HOUR + 1, dedupe_ttl=HOUR)).ids) == 1

    async def test_a_redelivery_keeps_its_id_remembered_a_ttl_longer(self, store: Store) -> None:
        """Meta may redeliver for hours: each sighting, kept or not, restarts the ttl; an
        earlier time (a POST that waited) never shortens it."""
        await store.accept_inbound(
            [inbound("u1", "a", "m1"), inbound("u2", "b", "m2")], now=0.0, dedupe_ttl=HOUR
        )
        await store.accept_inbound([inbound("u1", "a", "m1")], now=20.0, dedupe_ttl=HOUR)
        await store.accept_inbound([inbound("u2", "b", "m2")], now=10.0, dedupe_ttl=HOUR)
        await store.accept_inbound([inbound("u1", "a", "m1")], now=15.0, dedupe_ttl=HOUR)
        kept = await store.accept_inbound(
            [inbound("u1", "a", "m1"), inbound("u2", "b", "m2")], now=HOUR + 12, dedupe_ttl=HOUR
        )
        assert len(kept.ids) == 1  # m2's, last seen at 10; m1 was seen at 20

    async def test_a_senders_next_event_waits_for_the_first_to_complete(self, store: Store) -> None:
        first, second = (
            await store.accept_inbound(
                [inbound("u1", "1"), inbound("u1", "2")], now=0.0, dedupe_ttl=HOUR
            )
        ).ids
        assert [e.id for e in await store.claim_inbound("w1", now=1.0, lease=60.0, limit=10)] == [
            first
        ]
        assert await store.claim_inbound("w2", now=2.0, lease=60.0, limit=10) == []
        await store.complete_inbound(first)
        [event] = await store.claim_inbound("w2", now=3.0, lease=60.0, limit=10)
        assert (event.id, event.body, event.psid, event.received_at) == (second, "2", "u1", 0.0)
        assert await store.count_inbound() == 1

    async def test_different_senders_are_offered_in_parallel(self, store: Store) -> None:
        events = [
            inbound("u1", "1a"),
            inbound("u1", "1b"),
            inbound("u2", "2a"),
            inbound("u3", "3a"),
        ]
        await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)
        claimed = await store.claim_inbound("w1", now=1.0, lease=60.0, limit=10)
        assert [event.body for event in claimed] == ["1a", "2a", "3a"]

    async def test_claim_respects_the_limit_oldest_first(self, store: Store) -> None:
        events = [inbound(f"u{n}", str(n)) for n in range(5)]
        await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)
        assert await store.claim_inbound("w0", now=1.0, lease=60.0, limit=0) == []
        first = await store.claim_inbound("w1", now=1.0, lease=60.0, limit=2)
        second = await store.claim_inbound("w2", now=1.0, lease=60.0, limit=2)
        assert [e.body for e in first] == ["0", "1"]
        assert [e.body for e in second] == ["2", "3"]

    async def test_an_expired_lease_lets_another_worker_claim(self, store: Store) -> None:
        [event_id] = (
            await store.accept_inbound([inbound("u1", "1")], now=0.0, dedupe_ttl=HOUR)
        ).ids
        await store.claim_inbound("w1", now=0.0, lease=30.0, limit=10)
        assert await store.claim_inbound("w2", now=29.0, lease=30.0, limit=10) == []
        assert [e.id for e in await store.claim_inbound("w2", now=30.0, lease=30.0, limit=10)] == [
            event_id
        ]

    async def test_a_released_event_is_offered_again_at_once(self, store: Store) -> None:
        [event_id] = (
            await store.accept_inbound([inbound("u1", "1")], now=0.0, dedupe_ttl=HOUR)
        ).ids
        await store.claim_inbound("w1", now=0.0, lease=300.0, limit=10)
        await store.release_inbound(event_id)
        assert [e.id for e in await store.claim_inbound("w2", now=1.0, lease=30.0, limit=10)] == [
            event_id
        ]
        assert await store.count_inbound() == 1

    async def test_concurrent_claims_in_one_process_never_share_an_event(
        self, store: Store
    ) -> None:
        events = [inbound(f"u{n}", str(n)) for n in range(30)]
        await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)
        batches = await asyncio.gather(
            *(store.claim_inbound(f"w{n}", now=1.0, lease=60.0, limit=4) for n in range(10))
        )
        ids = [event.id for batch in batches for event in batch]
        assert len(ids) == len(set(ids)) == 30

    async def test_a_claimed_event_brings_its_senders_session(self, store: Store) -> None:
        session = Session(key="agent:main:messenger:dm:u1", account_id="page-1", psid="u1", step=2)
        await store.save_session(session)
        await store.accept_inbound([keyed("u1", "1"), keyed("u2", "2")], now=0.0, dedupe_ttl=HOUR)
        first, second = await store.claim_inbound("w", now=1.0, lease=60.0, limit=10)
        assert (first.psid, first.session) == ("u1", session)
        assert (second.psid, second.session) == ("u2", None)  # never seen: no session yet

    async def test_a_session_saved_by_finishing_reaches_the_senders_next_event(
        self, store: Store
    ) -> None:
        first, _ = (
            await store.accept_inbound(
                [keyed("u1", "1"), keyed("u1", "2")], now=0.0, dedupe_ttl=HOUR
            )
        ).ids
        await store.claim_inbound("w", now=0.0, lease=60.0, limit=10)
        saved = Session(key="agent:main:messenger:dm:u1", account_id="page-1", psid="u1", retries=1)
        assert (
            await store.finish_inbound(
                first, session=saved, outbound=[], now=1.0, worker="w", lease=60.0
            )
            == []
        )
        [event] = await store.claim_inbound("w", now=2.0, lease=60.0, limit=10)
        assert (event.body, event.session) == ("2", saved)

    async def test_accepting_with_a_lease_takes_each_free_senders_first_event(
        self, store: Store
    ) -> None:
        session = Session(key="agent:main:messenger:dm:u2", account_id="page-1", psid="u2")
        await store.save_session(session)
        accepted = await store.accept_inbound(
            [keyed("u1", "1"), keyed("u1", "2"), keyed("u2", "3")],
            now=0.0,
            dedupe_ttl=HOUR,
            lease=Lease("w1", 0.0, 60.0),
        )
        assert len(accepted.ids) == 3
        assert [(e.id, e.body, e.session) for e in accepted.claimed] == [
            (accepted.ids[0], "1", None),
            (accepted.ids[2], "3", session),
        ]
        assert await store.lease_owners() == {"w1"}
        assert await store.claim_inbound("w2", now=1.0, lease=60.0, limit=10) == []  # all held
        await store.complete_inbound(accepted.ids[0])
        [event] = await store.claim_inbound("w2", now=2.0, lease=60.0, limit=10)
        assert event.body == "2"

    async def test_accepting_with_a_lease_leaves_a_sender_whose_earlier_work_waits(
        self,
        store: Store,
    ) -> None:
        await store.accept_inbound([keyed("u1", "earlier")], now=0.0, dedupe_ttl=HOUR)
        await store.enqueue_outbound([outbound("u2", "a reply on its way")], now=0.0)
        accepted = await store.accept_inbound(
            [keyed("u1", "later"), keyed("u2", "next"), keyed("u3", "free")],
            now=1.0,
            dedupe_ttl=HOUR,
            lease=Lease("w1", 1.0, 61.0),
        )
        assert [event.body for event in accepted.claimed] == ["free"]
        [event] = await store.claim_inbound("w2", now=2.0, lease=60.0, limit=10)
        assert event.body == "earlier"  # u1's earlier event first; u2 waits for their reply

    async def test_a_lease_taken_when_accepting_runs_out_like_any_other(self, store: Store) -> None:
        accepted = await store.accept_inbound(
            [keyed("u1", "1")], now=0.0, dedupe_ttl=HOUR, lease=Lease("gone", 0.0, 30.0)
        )
        assert await store.claim_inbound("w2", now=29.0, lease=60.0, limit=10) == []
        [event] = await store.claim_inbound("w2", now=30.0, lease=60.0, limit=10)
        assert event.id == accepted.claimed[0].id

    async def test_the_transaction_that_sends_a_persons_last_reply_takes_their_next_event(
        self,
        store: Store,
    ) -> None:
        saved = Session(key="agent:main:messenger:dm:u1", account_id="page-1", psid="u1", step=1)
        first, _ = (
            await store.accept_inbound(
                [keyed("u1", "1"), keyed("u1", "2")], now=0.0, dedupe_ttl=HOUR
            )
        ).ids
        await store.claim_inbound("w1", now=0.0, lease=60.0, limit=10)
        two_replies = [outbound("u1", "re: 1"), outbound("u1", "and more")]
        one, two = (
            await store.finish_inbound(
                first, session=saved, outbound=two_replies, now=1.0, worker="w1", lease=60.0
            )
            or []
        )
        then = Lease("w1", 2.0, 62.0)
        assert await store.complete_outbound(one, then=then) == []  # a reply of theirs waits yet
        [event] = await store.complete_outbound(two, then=then)
        assert (event.body, event.session) == ("2", saved)
        assert await store.claim_inbound("w2", now=3.0, lease=60.0, limit=10) == []  # w1's

    async def test_a_dead_letter_hands_on_the_next_event_as_a_sent_reply_does(
        self, store: Store
    ) -> None:
        first, _ = (
            await store.accept_inbound(
                [keyed("u1", "1"), keyed("u1", "2")], now=0.0, dedupe_ttl=HOUR
            )
        ).ids
        await store.claim_inbound("w1", now=0.0, lease=60.0, limit=10)
        [reply] = (
            await store.finish_inbound(
                first,
                session=None,
                outbound=[outbound("u1", "re")],
                now=1.0,
                worker="w1",
                lease=60.0,
            )
            or []
        )
        [event] = await store.dead_letter_outbound(
            reply, now=2.0, error="(#100) refused", then=Lease("w1", 2.0, 62.0)
        )
        assert event.body == "2"

    async def test_completing_without_a_lease_takes_nothing(self, store: Store) -> None:
        [reply] = await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
        await store.accept_inbound([keyed("u1", "next")], now=0.0, dedupe_ttl=HOUR)
        assert await store.complete_outbound(reply) == []
        [event] = await store.claim_inbound("w", now=1.0, lease=60.0, limit=10)
        assert event.body == "next"

    async def test_a_next_event_held_by_another_worker_is_not_taken(self, store: Store) -> None:
        [reply] = await store.enqueue_outbound([outbound("u1", "a confirmation")], now=0.0)
        await store.accept_inbound([keyed("u1", "next")], now=0.0, dedupe_ttl=HOUR)
        # a claim does not offer it while the reply waits; released leases do not matter here
        assert await store.claim_inbound("w2", now=0.0, lease=60.0, limit=10) == []
        await store.complete_outbound(reply)
        [held] = await store.claim_inbound("w2", now=1.0, lease=60.0, limit=10)
        [again] = await store.enqueue_outbound([outbound("u1", "another")], now=1.0)
        assert await store.complete_outbound(again, then=Lease("w1", 2.0, 62.0)) == []
        assert await store.lease_owners() == {"w2"}
        assert held.body == "next"

    async def test_finishing_an_event_another_worker_took_over_keeps_nothing(
        self, store: Store
    ) -> None:
        [event_id] = (await store.accept_inbound([keyed("u1", "1")], now=0.0, dedupe_ttl=HOUR)).ids
        await store.claim_inbound("slow", now=0.0, lease=30.0, limit=10)
        await store.claim_inbound("other", now=31.0, lease=30.0, limit=10)  # slow stalled past it
        late = Session(key="agent:main:messenger:dm:u1", account_id="page-1", psid="u1", step=1)
        assert (
            await store.finish_inbound(
                event_id,
                session=late,
                outbound=[outbound("u1", "late")],
                now=32.0,
                worker="slow",
                lease=30.0,
            )
            is None
        )
        assert await store.load_session(late.key) is None
        assert await store.count_outbound() == 0
        [reply] = await store.finish_inbound(
            event_id,
            session=None,
            outbound=[outbound("u1", "kept")],
            now=33.0,
            worker="other",
            lease=30.0,
        )
        assert await store.count_inbound() == 0
        [message] = await store.claim_outbound("any", now=100.0, lease=30.0, limit=10)
        assert (message.id, message.body) == (reply, "kept")

    async def test_renewing_keeps_leases_from_running_out(self, store: Store) -> None:
        [event_id] = (await store.accept_inbound([keyed("u1", "1")], now=0.0, dedupe_ttl=HOUR)).ids
        await store.claim_inbound("w1", now=0.0, lease=30.0, limit=10)
        [message_id] = await store.finish_inbound(
            event_id,
            session=None,
            outbound=[outbound("u1", "re")],
            now=1.0,
            worker="w1",
            lease=30.0,
        )
        [other_id] = (await store.accept_inbound([keyed("u2", "2")], now=1.0, dedupe_ttl=HOUR)).ids
        await store.claim_inbound("w1", now=1.0, lease=30.0, limit=10)
        lost = await store.renew_leases("w1", inbound=[other_id], outbound=[message_id], until=90.0)
        assert lost == LostLeases()
        assert await store.claim_inbound("w2", now=89.0, lease=30.0, limit=10) == []
        assert await store.claim_outbound("w2", now=89.0, lease=30.0, limit=10) == []
        assert [e.id for e in await store.claim_inbound("w2", now=90.0, lease=30.0, limit=10)] == [
            other_id
        ]

    async def test_renewing_reports_what_is_done_or_another_workers(self, store: Store) -> None:
        ids = (
            await store.accept_inbound(
                [keyed("u1", "1"), keyed("u2", "2")], now=0.0, dedupe_ttl=HOUR
            )
        ).ids
        await store.claim_inbound("w1", now=0.0, lease=30.0, limit=10)
        await store.claim_inbound("w2", now=31.0, lease=30.0, limit=1)  # took u1's over
        await store.complete_inbound(ids[1])  # and u2's is done
        [message_id] = await store.enqueue_outbound([outbound("u3", "3")], now=0.0)
        await store.claim_outbound("w2", now=0.0, lease=30.0, limit=10)
        lost = await store.renew_leases("w1", inbound=ids, outbound=[message_id, 999], until=60.0)
        assert lost == LostLeases(inbound=frozenset(ids), outbound=frozenset({message_id, 999}))
        assert await store.lease_owners() == {"w2"}

    async def test_renewing_never_shortens_a_retry_lease(self, store: Store) -> None:
        [message_id] = await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
        await store.claim_outbound("w1", now=0.0, lease=30.0, limit=1)
        await store.retry_outbound(message_id, at=100.0, error="HTTP 503")  # held till 100 + grace
        assert await store.renew_leases("w1", inbound=[], outbound=[message_id], until=40.0) == (
            LostLeases()
        )
        assert await store.claim_outbound("w2", now=150.0, lease=30.0, limit=1) == []

    async def test_a_senders_next_event_waits_while_a_reply_to_them_is_in_the_outbox(
        self,
        store: Store,
    ) -> None:
        first, second = (
            await store.accept_inbound(
                [inbound("u1", "1"), inbound("u1", "2")], now=0.0, dedupe_ttl=HOUR
            )
        ).ids
        await store.claim_inbound("w1", now=0.0, lease=60.0, limit=10)
        [reply] = await store.finish_inbound(
            first,
            session=None,
            outbound=[outbound("u1", "re: 1")],
            now=1.0,
            worker="w1",
            lease=30.0,
        )
        assert await store.claim_inbound("w2", now=2.0, lease=60.0, limit=10) == []
        # its lease ran out, yet the reply still waits to be sent: so does the event
        assert await store.claim_inbound("w2", now=100.0, lease=60.0, limit=10) == []
        await store.complete_outbound(reply)
        assert [e.id for e in await store.claim_inbound("w2", now=101.0, lease=60.0, limit=10)] == [
            second
        ]

    async def test_a_reply_held_by_an_outage_holds_back_the_next_event_until_dead_lettered(
        self,
        store: Store,
    ) -> None:
        [event_id] = (
            await store.accept_inbound([inbound("u1", "1")], now=0.0, dedupe_ttl=HOUR)
        ).ids
        [reply] = await store.enqueue_outbound([outbound("u1", "sent by runtime send")], now=0.0)
        await store.retry_outbound(reply, at=500.0, error="HTTP 503")  # not leased, not due
        assert await store.claim_inbound("w", now=10.0, lease=60.0, limit=10) == []
        await store.dead_letter_outbound(reply, now=20.0, error="(#100) Invalid parameter")
        assert [e.id for e in await store.claim_inbound("w", now=21.0, lease=60.0, limit=10)] == [
            event_id
        ]

    async def test_a_reply_waiting_holds_back_no_one_else(self, store: Store) -> None:
        await store.enqueue_outbound(
            [outbound("u1", "waiting"), outbound("u2", "to another page's u2", account="page-2")],
            now=0.0,
        )
        events = [inbound(f"u{n}", str(n)) for n in range(4)]
        await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)
        claimed = await store.claim_inbound("w", now=1.0, lease=60.0, limit=2)
        assert [event.psid for event in claimed] == ["u0", "u2"]  # the limit counts what is offered

    async def test_posts_accepted_at_once_each_get_their_own_events_once(
        self, store: Store
    ) -> None:
        """Twenty POSTs in flight together (the SQLite store writes them in one transaction).

        A message id is one sender's message, redelivered in other POSTs: the Redis store
        finds it in that sender's keys."""
        batches = [
            [
                inbound(f"u{n}", f"{n}-a", f"m{n}a"),
                inbound(f"u{n % 5}", f"{n}-b", f"m{n % 5}shared"),
            ]
            for n in range(20)
        ]
        results = [
            accepted.ids
            for accepted in await asyncio.gather(
                *(store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR) for events in batches)
            )
        ]
        assert [len(ids) for ids in results[:5]] == [2, 2, 2, 2, 2]  # first to carry each shared id
        assert all(len(ids) == 1 for ids in results[5:])  # a shared id seen before: not again
        flat = [event_id for ids in results for event_id in ids]
        assert flat == sorted(flat)
        assert len(set(flat)) == len(flat) == await store.count_inbound() == 25
