"""The Store contract for outbox endpoints and caches, against every store (conftest.py)."""

from __future__ import annotations

import json

from runtime.messenger.endpoints import MESSAGES, PASS_THREAD_CONTROL
from runtime.store.base import NewInbound, NewOutbound, Store
from tests.store.records import DAY, HOUR, outbound


def handover(psid: str) -> NewOutbound:
    body = json.dumps({"recipient": {"id": psid}, "target_app_id": "263902037430900"})
    return NewOutbound(account_id="page-1", psid=psid, body=body, endpoint=PASS_THREAD_CONTROL)


async def test_a_thread_control_call_waits_in_the_outbox_in_order_with_messages(
    store: Store,
) -> None:
    await store.enqueue_outbound([outbound("u1", "bye"), handover("u1")], now=0.0)
    [first] = await store.claim_outbound("w", now=1.0, lease=30.0, limit=10)
    assert (first.body, first.endpoint) == ("bye", MESSAGES)
    await store.complete_outbound(first.id)
    [second] = await store.claim_outbound("w", now=2.0, lease=30.0, limit=10)
    assert second.endpoint == PASS_THREAD_CONTROL


async def test_a_dead_thread_control_call_keeps_its_endpoint_when_requeued(store: Store) -> None:
    [row] = await store.enqueue_outbound([handover("u1")], now=0.0)
    await store.dead_letter_outbound(row, now=1.0, error="(#10) no permission")
    [dead] = await store.list_dead_letters()
    assert dead.endpoint == PASS_THREAD_CONTROL
    assert await store.requeue_dead_letter(dead.id, now=2.0)
    [again] = await store.claim_outbound("w", now=3.0, lease=30.0, limit=10)
    assert again.endpoint == PASS_THREAD_CONTROL


async def test_a_reply_kept_by_a_finished_turn_keeps_its_endpoint(store: Store) -> None:
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


async def test_a_cached_value_is_read_back_until_it_expires(store: Store) -> None:
    assert await store.cache_get("profile", "page-1:u1", now=0.0) is None
    await store.cache_put("profile", "page-1:u1", '{"first_name":"Ada"}', now=0.0, ttl=HOUR)
    assert await store.cache_get("profile", "page-1:u1", now=HOUR - 1) == '{"first_name":"Ada"}'
    assert await store.cache_get("profile", "page-1:u1", now=HOUR) is None
    assert await store.cache_get("attachment", "page-1:u1", now=0.0) is None  # kinds apart


async def test_a_put_replaces_the_value_and_its_expiry(store: Store) -> None:
    await store.cache_put("attachment", "page-1:abc", "111", now=0.0, ttl=HOUR)
    await store.cache_put("attachment", "page-1:abc", "222", now=10.0, ttl=DAY)
    assert await store.cache_get("attachment", "page-1:abc", now=2 * HOUR) == "222"
