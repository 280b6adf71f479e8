"""The Store contract for blocked senders, against every store (fixtures in conftest.py)."""

from __future__ import annotations

from runtime.store.base import BlockedSender, Standing, Store
from tests.store.records import outbound, pairing


async def test_a_sender_is_neither_approved_nor_blocked_until_the_owner_says(store: Store) -> None:
    assert await store.standing("page-1", "u1") is Standing.NONE
    await store.approve_sender("page-1", "u1", 1.0)
    assert await store.standing("page-1", "u1") is Standing.APPROVED


async def test_blocking_withdraws_the_approval_and_drops_the_requests(store: Store) -> None:
    await store.approve_sender("page-1", "u1", 1.0)
    await store.create_pairing(pairing("AAAA2222", psid="u1", at=5.0), now=5.0, max_pending=3)
    await store.create_pairing(pairing("BBBB3333", psid="u2", at=5.0), now=5.0, max_pending=3)
    assert await store.block_sender("page-1", "u1", 10.0)
    assert await store.standing("page-1", "u1") is Standing.BLOCKED
    assert await store.list_approved() == []
    assert await store.find_pairing("AAAA2222") is None
    assert [r.code for r in await store.list_pairings(now=6.0)] == ["BBBB3333"]


async def test_blocking_drops_what_waits_to_be_sent_to_them_only(store: Store) -> None:
    await store.enqueue_outbound(
        [outbound("u1", "a"), outbound("u2", "b"), outbound("u1", "c", account="page-2")], now=0.0
    )
    await store.block_sender("page-1", "u1", 1.0)
    left = await store.claim_outbound("w", now=2.0, lease=30.0, limit=10)
    assert sorted((m.account_id, m.psid, m.body) for m in left) == [
        ("page-1", "u2", "b"),
        ("page-2", "u1", "c"),
    ]
    assert await store.count_outbound() == 2


async def test_a_block_wins_over_an_approval_given_after_it(store: Store) -> None:
    await store.block_sender("page-1", "u1", 1.0)
    await store.approve_sender("page-1", "u1", 2.0)
    assert await store.standing("page-1", "u1") is Standing.BLOCKED


async def test_blocks_are_per_account_and_the_first_time_stays(store: Store) -> None:
    assert await store.block_sender("page-1", "u1", 1.0)
    assert not await store.block_sender("page-1", "u1", 5.0)
    assert await store.block_sender("page-2", "u2", 3.0)
    assert await store.standing("page-2", "u1") is Standing.NONE
    assert await store.list_blocked() == [
        BlockedSender(account_id="page-1", psid="u1", blocked_at=1.0),
        BlockedSender(account_id="page-2", psid="u2", blocked_at=3.0),
    ]
    assert [b.psid for b in await store.list_blocked("page-2")] == ["u2"]


async def test_unblocking_makes_a_stranger_not_an_approved_sender(store: Store) -> None:
    await store.approve_sender("page-1", "u1", 1.0)
    await store.block_sender("page-1", "u1", 2.0)
    assert await store.unblock_sender("page-1", "u1")
    assert not await store.unblock_sender("page-1", "u1")
    assert await store.standing("page-1", "u1") is Standing.NONE
    assert await store.list_blocked() == []
