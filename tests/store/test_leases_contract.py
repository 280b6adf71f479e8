"""The Leases contract: who holds what, renewed, released.

The `store` and `new_store` fixtures (one per backend: memory, SQLite, Redis) are in
`conftest.py`: every test of the class runs against each backend.
"""

from __future__ import annotations

from runtime.store.base import (
    Store,
)
from tests.store.records import HOUR, inbound, outbound


class TestLeases:
    """What every backend must do with the leases of workers."""

    async def test_lease_owners_are_the_workers_holding_events_or_messages(
        self, store: Store
    ) -> None:
        assert await store.lease_owners() == set()
        first, second = (
            await store.accept_inbound(
                [inbound("u1", "1"), inbound("u2", "2")], now=0.0, dedupe_ttl=HOUR
            )
        ).ids
        [message_id] = await store.enqueue_outbound([outbound("u3", "3")], now=0.0)
        await store.claim_inbound("w1", now=0.0, lease=60.0, limit=10)
        await store.claim_outbound("w2", now=0.0, lease=60.0, limit=10)
        assert await store.lease_owners() == {"w1", "w2"}
        [reply] = await store.finish_inbound(
            first,
            session=None,
            outbound=[outbound("u1", "re: 1")],
            now=1.0,
            worker="w1",
            lease=60.0,
        )
        await store.release_inbound(second)
        await store.complete_outbound(message_id)
        assert await store.lease_owners() == {"w1"}  # it sends the reply
        await store.complete_outbound(reply)
        assert await store.lease_owners() == set()

    async def test_a_lease_that_ran_out_names_its_worker_until_another_takes_over(
        self,
        store: Store,
    ) -> None:
        await store.accept_inbound([inbound("u1", "1")], now=0.0, dedupe_ttl=HOUR)
        await store.claim_inbound("w1", now=0.0, lease=30.0, limit=10)
        assert await store.lease_owners() == {"w1"}  # lease_owners has no `now` to tell
        await store.claim_inbound("w2", now=31.0, lease=30.0, limit=10)
        assert await store.lease_owners() == {"w2"}

    async def test_releasing_a_workers_leases_offers_what_it_held_at_once(
        self, store: Store
    ) -> None:
        await store.accept_inbound(
            [inbound("u1", "1"), inbound("u2", "2")], now=0.0, dedupe_ttl=HOUR
        )
        await store.enqueue_outbound([outbound("u3", "3"), outbound("u4", "4")], now=0.0)
        [held_event] = await store.claim_inbound("gone", now=0.0, lease=600.0, limit=1)
        [kept_event] = await store.claim_inbound("alive", now=0.0, lease=600.0, limit=1)
        [held_message] = await store.claim_outbound("gone", now=0.0, lease=600.0, limit=1)
        [kept_message] = await store.claim_outbound("alive", now=0.0, lease=600.0, limit=1)
        assert (held_event.psid, kept_event.psid, held_message.psid) == ("u1", "u2", "u3")

        assert await store.release_leases("gone") == 2
        assert await store.release_leases("gone") == 0
        events = await store.claim_inbound("new", now=1.0, lease=60.0, limit=10)
        messages = await store.claim_outbound("new", now=1.0, lease=60.0, limit=10)
        assert [event.id for event in events] == [held_event.id]
        assert [message.id for message in messages] == [held_message.id]
        assert await store.lease_owners() == {"alive", "new"}
        assert (await store.count_inbound(), await store.count_outbound()) == (2, 2)
        assert kept_message.psid == "u4"

    async def test_a_released_message_waiting_to_be_retried_is_offered_at_its_retry_time(
        self,
        store: Store,
    ) -> None:
        [message_id] = await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
        await store.claim_outbound("gone", now=0.0, lease=60.0, limit=1)
        await store.retry_outbound(message_id, at=100.0, error="HTTP 503")
        assert await store.release_leases("gone") == 1
        assert await store.claim_outbound("new", now=99.0, lease=60.0, limit=1) == []
        # not held for the retry grace any more: that was for the worker that is gone
        [message] = await store.claim_outbound("new", now=100.0, lease=60.0, limit=1)
        assert message.id == message_id
