"""The AccessStore contract: the 24-hour window, pairing, approvals and blocks.

The `store` and `new_store` fixtures (one per backend: memory, SQLite, Redis) are in
`conftest.py`: every test of the class runs against each backend.
"""

from __future__ import annotations

from runtime.store.base import (
    BlockedSender,
    Standing,
    Store,
)
from tests.store.records import DAY, HOUR, outbound, pairing


class TestAccessStore:
    """What every backend must do for who may talk to the bot."""

    async def test_last_inbound_is_none_for_someone_never_heard_from(self, store: Store) -> None:
        assert await store.last_inbound("page-1", "u1") is None

    async def test_an_older_inbound_time_never_overwrites_a_newer_one(self, store: Store) -> None:
        await store.record_inbound("page-1", "u1", 100.0)
        await store.record_inbound("page-1", "u1", 50.0)
        assert await store.last_inbound("page-1", "u1") == 100.0
        await store.record_inbound("page-1", "u1", 150.0)
        assert await store.last_inbound("page-1", "u1") == 150.0

    async def test_inbound_times_are_kept_per_account_and_user(self, store: Store) -> None:
        await store.record_inbound("page-1", "u1", 1.0)
        await store.record_inbound("page-2", "u1", 2.0)
        assert await store.last_inbound("page-1", "u1") == 1.0
        assert await store.last_inbound("page-2", "u1") == 2.0
        assert await store.last_inbound("page-1", "u2") is None

    async def test_a_created_pairing_is_pending_for_that_sender_only(self, store: Store) -> None:
        request = pairing("ABC", psid="u1")
        assert await store.create_pairing(request, now=0.0, max_pending=3) == request
        assert await store.pending_pairing("page-1", "u1", now=1.0) == request
        assert await store.pending_pairing("page-1", "u2", now=1.0) is None
        assert await store.pending_pairing("page-2", "u1", now=1.0) is None

    async def test_an_expired_pairing_is_neither_pending_nor_listed(self, store: Store) -> None:
        await store.create_pairing(pairing("ABC", ttl=HOUR), now=0.0, max_pending=3)
        assert await store.pending_pairing("page-1", "u1", now=HOUR) is None
        assert await store.list_pairings(now=HOUR) == []

    async def test_pairings_are_listed_oldest_first_per_account_or_all(self, store: Store) -> None:
        await store.create_pairing(pairing("B", psid="u2", at=2.0), now=2.0, max_pending=5)
        await store.create_pairing(pairing("A", psid="u1", at=1.0), now=2.0, max_pending=5)
        await store.create_pairing(pairing("C", account="page-2", at=3.0), now=3.0, max_pending=5)
        everything = await store.list_pairings(now=4.0)
        assert [request.code for request in everything] == ["A", "B", "C"]
        page_1 = await store.list_pairings("page-1", now=4.0)
        assert [request.code for request in page_1] == ["A", "B"]

    async def test_of_requests_made_at_once_the_last_made_is_pending_and_the_first_evicted(
        self,
        store: Store,
    ) -> None:
        for code in ("A", "B"):
            await store.create_pairing(pairing(code), now=0.0, max_pending=5)
        pending = await store.pending_pairing("page-1", "u1", now=1.0)
        assert pending is not None
        assert pending.code == "B"
        await store.create_pairing(pairing("C", psid="u2"), now=0.0, max_pending=2)
        assert [request.code for request in await store.list_pairings(now=1.0)] == ["B", "C"]

    async def test_max_pending_expires_the_oldest_of_that_account(self, store: Store) -> None:
        await store.create_pairing(pairing("OTHER", account="page-2"), now=0.0, max_pending=2)
        for number, code in enumerate(["A", "B", "C"]):
            request = pairing(code, psid=f"u{number}", at=float(number))
            assert await store.create_pairing(request, now=float(number), max_pending=2) == request
        assert [request.code for request in await store.list_pairings("page-1", now=3.0)] == [
            "B",
            "C",
        ]
        assert await store.pending_pairing("page-1", "u0", now=3.0) is None
        evicted = await store.take_pairing("A")  # kept, expired when C came: the caller can say so
        assert evicted is not None
        assert evicted.expires_at == 2.0
        assert [request.code for request in await store.list_pairings("page-2", now=3.0)] == [
            "OTHER"
        ]

    async def test_expired_requests_do_not_count_against_max_pending(self, store: Store) -> None:
        await store.create_pairing(pairing("OLD", psid="u0", ttl=10.0), now=0.0, max_pending=1)
        await store.create_pairing(pairing("NEW", psid="u1", at=20.0), now=20.0, max_pending=1)
        assert [request.code for request in await store.list_pairings(now=21.0)] == ["NEW"]
        assert await store.take_pairing("OLD") is not None  # still known, as expired

    async def test_a_code_taken_by_a_pending_request_is_refused(self, store: Store) -> None:
        first = pairing("ABC", psid="u1")
        await store.create_pairing(first, now=0.0, max_pending=3)
        assert await store.create_pairing(pairing("ABC", psid="u2"), now=1.0, max_pending=3) is None
        assert await store.list_pairings(now=1.0) == [first]

    async def test_the_code_of_an_expired_request_can_be_used_again(self, store: Store) -> None:
        await store.create_pairing(pairing("ABC", psid="u1", ttl=10.0), now=0.0, max_pending=3)
        again = pairing("ABC", psid="u2", at=20.0)
        assert await store.create_pairing(again, now=20.0, max_pending=3) == again
        assert await store.take_pairing("ABC") == again

    async def test_a_code_is_taken_once_even_when_expired(self, store: Store) -> None:
        request = pairing("ABC", ttl=10.0)
        await store.create_pairing(request, now=0.0, max_pending=3)
        assert await store.take_pairing("ABC") == request  # expired by now: the caller says so
        assert await store.take_pairing("ABC") is None
        assert await store.take_pairing("NOPE") is None

    async def test_requests_expired_for_over_a_day_are_forgotten(self, store: Store) -> None:
        await store.create_pairing(pairing("OLD", psid="u0", ttl=10.0), now=0.0, max_pending=3)
        await store.create_pairing(
            pairing("NEW", psid="u1", at=DAY + 20), now=DAY + 20, max_pending=3
        )
        assert await store.take_pairing("OLD") is None

    async def test_finding_a_code_leaves_it_pending(self, store: Store) -> None:
        request = pairing("ABC", ttl=10.0)
        await store.create_pairing(request, now=0.0, max_pending=3)
        assert await store.find_pairing("ABC") == request
        assert await store.find_pairing("ABC") == request
        assert await store.find_pairing("NOPE") is None
        assert await store.take_pairing("ABC") == request  # found expired, still there to take

    async def test_approving_uses_the_code_approves_and_queues_the_confirmation(
        self, store: Store
    ) -> None:
        request = pairing("ABC", psid="u1")
        await store.create_pairing(request, now=0.0, max_pending=3)
        confirmation = outbound("u1", "welcome")
        assert await store.approve_pairing(request, now=5.0, confirmation=confirmation) is True
        assert await store.find_pairing("ABC") is None
        [approval] = await store.list_approved()
        assert (approval.account_id, approval.psid, approval.approved_at) == ("page-1", "u1", 5.0)
        [queued] = await store.claim_outbound("w", now=5.0, lease=60.0, limit=10)
        assert (queued.psid, queued.body) == ("u1", "welcome")

    async def test_approving_without_a_confirmation_queues_nothing(self, store: Store) -> None:
        request = pairing("ABC")
        await store.create_pairing(request, now=0.0, max_pending=3)
        assert await store.approve_pairing(request, now=1.0, confirmation=None) is True
        assert await store.standing("page-1", "u1") is Standing.APPROVED
        assert await store.count_outbound() == 0

    async def test_a_request_used_or_expired_since_it_was_read_approves_nothing(
        self, store: Store
    ) -> None:
        used = pairing("USED", psid="u1")
        expired = pairing("GONE", psid="u2", ttl=10.0)
        replaced = pairing("SAME", psid="u3")
        for request in (used, expired, replaced):
            await store.create_pairing(request, now=0.0, max_pending=5)
        await store.take_pairing("USED")  # denied meanwhile
        await store.take_pairing("SAME")  # and its code given to someone else since
        await store.create_pairing(pairing("SAME", psid="u4", at=1.0), now=1.0, max_pending=5)
        for request in (used, expired, replaced):
            confirmation = outbound(request.psid, "welcome")
            assert not await store.approve_pairing(request, now=20.0, confirmation=confirmation)
        assert await store.list_approved() == []
        assert await store.count_outbound() == 0
        assert await store.find_pairing("SAME") is not None  # the other person's request stays

    async def test_marking_a_code_sent_records_the_time(self, store: Store) -> None:
        await store.create_pairing(pairing("ABC"), now=0.0, max_pending=3)
        await store.mark_pairing_sent("ABC", 30.0)
        pending = await store.pending_pairing("page-1", "u1", now=31.0)
        assert pending is not None
        assert pending.last_sent_at == 30.0

    async def test_approvals_are_scoped_per_account(self, store: Store) -> None:
        await store.approve_sender("page-1", "u1", 1.0)
        assert await store.standing("page-1", "u1") is Standing.APPROVED
        assert await store.standing("page-2", "u1") is Standing.NONE
        assert await store.standing("page-1", "u2") is Standing.NONE

    async def test_revoking_withdraws_an_approval(self, store: Store) -> None:
        await store.approve_sender("page-1", "u1", 1.0)
        assert await store.revoke_sender("page-1", "u1") is True
        assert await store.revoke_sender("page-1", "u1") is False
        assert await store.standing("page-1", "u1") is Standing.NONE

    async def test_approved_senders_are_listed_per_account_or_all(self, store: Store) -> None:
        await store.approve_sender("page-2", "u9", 1.0)
        await store.approve_sender("page-1", "u1", 2.0)
        await store.approve_sender("page-1", "u1", 3.0)  # approving again keeps the first time
        listed = await store.list_approved()
        assert [(a.account_id, a.psid, a.approved_at) for a in listed] == [
            ("page-2", "u9", 1.0),
            ("page-1", "u1", 2.0),
        ]
        assert [a.psid for a in await store.list_approved("page-1")] == ["u1"]

    async def test_a_sender_is_neither_approved_nor_blocked_until_the_owner_says(
        self, store: Store
    ) -> None:
        assert await store.standing("page-1", "u1") is Standing.NONE
        await store.approve_sender("page-1", "u1", 1.0)
        assert await store.standing("page-1", "u1") is Standing.APPROVED

    async def test_blocking_withdraws_the_approval_and_drops_the_requests(
        self, store: Store
    ) -> None:
        await store.approve_sender("page-1", "u1", 1.0)
        await store.create_pairing(pairing("AAAA2222", psid="u1", at=5.0), now=5.0, max_pending=3)
        await store.create_pairing(pairing("BBBB3333", psid="u2", at=5.0), now=5.0, max_pending=3)
        assert await store.block_sender("page-1", "u1", 10.0)
        assert await store.standing("page-1", "u1") is Standing.BLOCKED
        assert await store.list_approved() == []
        assert await store.find_pairing("AAAA2222") is None
        assert [r.code for r in await store.list_pairings(now=6.0)] == ["BBBB3333"]

    async def test_blocking_drops_what_waits_to_be_sent_to_them_only(self, store: Store) -> None:
        await store.enqueue_outbound(
            [outbound("u1", "a"), outbound("u2", "b"), outbound("u1", "c", account="page-2")],
            now=0.0,
        )
        await store.block_sender("page-1", "u1", 1.0)
        left = await store.claim_outbound("w", now=2.0, lease=30.0, limit=10)
        assert sorted((m.account_id, m.psid, m.body) for m in left) == [
            ("page-1", "u2", "b"),
            ("page-2", "u1", "c"),
        ]
        assert await store.count_outbound() == 2

    async def test_a_block_wins_over_an_approval_given_after_it(self, store: Store) -> None:
        await store.block_sender("page-1", "u1", 1.0)
        await store.approve_sender("page-1", "u1", 2.0)
        assert await store.standing("page-1", "u1") is Standing.BLOCKED

    async def test_blocks_are_per_account_and_the_first_time_stays(self, store: Store) -> None:
        assert await store.block_sender("page-1", "u1", 1.0)
        assert not await store.block_sender("page-1", "u1", 5.0)
        assert await store.block_sender("page-2", "u2", 3.0)
        assert await store.standing("page-2", "u1") is Standing.NONE
        assert await store.list_blocked() == [
            BlockedSender(account_id="page-1", psid="u1", blocked_at=1.0),
            BlockedSender(account_id="page-2", psid="u2", blocked_at=3.0),
        ]
        assert [b.psid for b in await store.list_blocked("page-2")] == ["u2"]

    async def test_unblocking_makes_a_stranger_not_an_approved_sender(self, store: Store) -> None:
        await store.approve_sender("page-1", "u1", 1.0)
        await store.block_sender("page-1", "u1", 2.0)
        assert await store.unblock_sender("page-1", "u1")
        assert not await store.unblock_sender("page-1", "u1")
        assert await store.standing("page-1", "u1") is Standing.NONE
        assert await store.list_blocked() == []
