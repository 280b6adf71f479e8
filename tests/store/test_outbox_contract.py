"""The Outbox contract: replies kept in order per person, retried, dead-lettered.

The `store` and `new_store` fixtures (one per backend: memory, SQLite, Redis) are in
`conftest.py`: every test of the class runs against each backend.
"""

from __future__ import annotations

import json

from runtime.messenger.endpoints import MESSAGES, PASS_THREAD_CONTROL
from runtime.store.base import (
    NewInbound,
    NewOutbound,
    Store,
)
from tests.store.records import DAY, outbound


def handover(psid: str) -> NewOutbound:
    body = json.dumps({"recipient": {"id": psid}, "target_app_id": "263902037430900"})
    return NewOutbound(account_id="page-1", psid=psid, body=body, endpoint=PASS_THREAD_CONTROL)


class TestOutbox:
    """What every backend must do with replies waiting to be sent."""

    async def test_each_users_messages_are_sent_in_order(self, store: Store) -> None:
        ids = await store.enqueue_outbound(
            [outbound("u1", "1a"), outbound("u2", "2a"), outbound("u1", "1b")], now=0.0
        )
        assert list(ids) == sorted(ids)
        claimed = await store.claim_outbound("w", now=0.0, lease=60.0, limit=10)
        assert [m.body for m in claimed] == ["1a", "2a"]
        assert claimed[0].attempts == 0
        assert claimed[0].last_error is None
        assert await store.claim_outbound("w", now=1.0, lease=60.0, limit=10) == []
        await store.complete_outbound(claimed[0].id)
        assert [m.body for m in await store.claim_outbound("w", now=2.0, lease=60.0, limit=10)] == [
            "1b"
        ]
        assert await store.count_outbound() == 2

    async def test_a_message_keeps_when_its_window_closes(self, store: Store) -> None:
        late = NewOutbound(account_id="page-1", psid="u1", body="nudge", send_by=86_400.0)
        [first, second] = await store.enqueue_outbound([late, outbound("u2", "free")], now=0.0)
        await store.retry_outbound(first, at=1.0, error="(#2) Service temporarily unavailable")
        claimed = await store.claim_outbound("w", now=100.0, lease=60.0, limit=10)
        assert {m.id: m.send_by for m in claimed} == {first: 86_400.0, second: None}

    async def test_messages_sent_together_are_completed_together(self, store: Store) -> None:
        ids = await store.enqueue_outbound(
            [
                outbound("u1", "1a"),
                outbound("u2", "2a"),
                outbound("u1", "1b"),
                outbound("u3", "3a"),
            ],
            now=0.0,
        )
        await store.complete_outbound(ids[0], ids[1], ids[3])
        assert await store.count_outbound() == 1
        assert [m.body for m in await store.claim_outbound("w", now=1.0, lease=60.0, limit=10)] == [
            "1b"
        ]
        await store.complete_outbound()  # nothing to forget is not an error
        assert await store.count_outbound() == 1

    async def test_a_message_not_yet_due_holds_back_only_its_users_later_ones(
        self,
        store: Store,
    ) -> None:
        await store.enqueue_outbound([outbound("u1", "1a"), outbound("u1", "1b")], now=0.0)
        [first] = await store.claim_outbound("w", now=0.0, lease=60.0, limit=10)
        await store.retry_outbound(first.id, at=100.0, error="HTTP 503")
        await store.enqueue_outbound([outbound("u2", "2a")], now=1.0)
        assert [
            m.body for m in await store.claim_outbound("w", now=50.0, lease=60.0, limit=10)
        ] == ["2a"]
        # the worker retrying it keeps it a grace minute past its retry time; then anyone may
        assert await store.claim_outbound("w2", now=100.0, lease=60.0, limit=10) == []
        again = await store.claim_outbound("w2", now=161.0, lease=60.0, limit=10)
        assert [m.body for m in again] == ["1a", "2a"]  # 2a's lease from t=50 ran out too

    async def test_a_retry_counts_the_attempt_and_keeps_the_error(self, store: Store) -> None:
        [message_id] = await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
        for attempt in (1, 2):
            await store.claim_outbound("w", now=float(attempt), lease=600.0, limit=1)
            await store.retry_outbound(message_id, at=10.0 * attempt, error=f"error {attempt}")
        [message] = await store.claim_outbound("w2", now=81.0, lease=60.0, limit=1)
        assert (message.attempts, message.last_error, message.next_attempt_at) == (
            2,
            "error 2",
            20.0,
        )

    async def test_an_unleased_message_retried_is_offered_at_its_retry_time(
        self, store: Store
    ) -> None:
        [message_id] = await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
        await store.retry_outbound(message_id, at=10.0, error="HTTP 500")
        assert await store.claim_outbound("w", now=9.0, lease=60.0, limit=1) == []
        [message] = await store.claim_outbound("w", now=10.0, lease=60.0, limit=1)
        assert message.attempts == 1

    async def test_an_expired_outbound_lease_is_offered_again(self, store: Store) -> None:
        await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
        await store.claim_outbound("w1", now=0.0, lease=30.0, limit=1)
        assert await store.claim_outbound("w2", now=10.0, lease=30.0, limit=1) == []
        assert len(await store.claim_outbound("w2", now=31.0, lease=30.0, limit=1)) == 1

    async def test_a_dead_letter_leaves_the_outbox_and_unblocks_the_user(
        self, store: Store
    ) -> None:
        first_id, _ = await store.enqueue_outbound(
            [outbound("u1", "bad"), outbound("u1", "ok")], now=0.0
        )
        await store.claim_outbound("w", now=0.0, lease=60.0, limit=1)
        await store.retry_outbound(first_id, at=1.0, error="HTTP 500")
        await store.claim_outbound("w", now=1.0, lease=60.0, limit=1)
        await store.dead_letter_outbound(first_id, now=2.0, error="(#100) Invalid parameter")
        [dead] = await store.list_dead_letters()
        assert (dead.id, dead.psid, dead.body, dead.created_at) == (first_id, "u1", "bad", 0.0)
        assert (dead.failed_at, dead.attempts, dead.error) == (2.0, 2, "(#100) Invalid parameter")
        assert await store.count_outbound() == 1
        assert [m.body for m in await store.claim_outbound("w", now=3.0, lease=60.0, limit=10)] == [
            "ok"
        ]

    async def test_a_requeued_dead_letter_is_sent_again_last_and_fresh(self, store: Store) -> None:
        [bad_id] = await store.enqueue_outbound([outbound("u1", "bad")], now=0.0)
        await store.dead_letter_outbound(bad_id, now=1.0, error="refused")
        later_id, *_ = await store.enqueue_outbound([outbound("u1", "later")], now=2.0)
        assert await store.requeue_dead_letter(bad_id, now=5.0) is True
        assert await store.list_dead_letters() == []
        assert await store.requeue_dead_letter(bad_id, now=5.0) is False
        await store.complete_outbound(later_id)
        [message] = await store.claim_outbound("w", now=5.0, lease=60.0, limit=10)
        assert message.body == "bad"
        assert message.id > later_id
        assert (message.attempts, message.last_error, message.next_attempt_at) == (0, None, 5.0)

    async def test_requeueing_an_unknown_dead_letter_is_false(self, store: Store) -> None:
        assert await store.requeue_dead_letter(42, now=0.0) is False

    async def test_a_thread_control_call_waits_in_the_outbox_in_order_with_messages(
        self,
        store: Store,
    ) -> None:
        await store.enqueue_outbound([outbound("u1", "bye"), handover("u1")], now=0.0)
        [first] = await store.claim_outbound("w", now=1.0, lease=30.0, limit=10)
        assert (first.body, first.endpoint) == ("bye", MESSAGES)
        await store.complete_outbound(first.id)
        [second] = await store.claim_outbound("w", now=2.0, lease=30.0, limit=10)
        assert second.endpoint == PASS_THREAD_CONTROL

    async def test_a_dead_thread_control_call_keeps_its_endpoint_when_requeued(
        self, store: Store
    ) -> None:
        [row] = await store.enqueue_outbound([handover("u1")], now=0.0)
        await store.dead_letter_outbound(row, now=1.0, error="(#10) no permission")
        [dead] = await store.list_dead_letters()
        assert dead.endpoint == PASS_THREAD_CONTROL
        assert await store.requeue_dead_letter(dead.id, now=2.0)
        [again] = await store.claim_outbound("w", now=3.0, lease=30.0, limit=10)
        assert again.endpoint == PASS_THREAD_CONTROL

    async def test_a_reply_kept_by_a_finished_turn_keeps_its_endpoint(self, store: Store) -> None:
        await store.enqueue_outbound([outbound("u9", "x")], now=0.0)  # ids start above zero
        accepted = await store.accept_inbound(
            [NewInbound(account_id="page-1", psid="u1", body="{}")],
            now=0.0,
            dedupe_ttl=DAY,
        )
        [event] = await store.claim_inbound("w", now=1.0, lease=30.0, limit=10)
        assert event.id == accepted.ids[0]
        ids = await store.finish_inbound(
            event.id, session=None, outbound=[handover("u1")], now=1.0, worker="w", lease=30.0
        )
        assert ids is not None
        claimed = await store.claim_outbound("w2", now=100.0, lease=30.0, limit=10)
        assert {m.endpoint for m in claimed if m.psid == "u1"} == {PASS_THREAD_CONTROL}
