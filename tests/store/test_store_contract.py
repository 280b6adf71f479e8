"""The Store contract, run against every store: each test says what any backend must do.

The `store` and `new_store` fixtures (one per backend) are in `conftest.py`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import MappingProxyType

import pytest

from runtime.errors import StoreError
from runtime.session import Session
from runtime.store.base import Lease, LostLeases, NewInbound, Standing, Store
from tests.store.conftest import NewStore
from tests.store.records import DAY, HOUR, inbound, outbound, pairing


async def test_a_closed_store_raises_store_error(new_store: NewStore) -> None:
    store = new_store()
    with pytest.raises(StoreError, match="not open"):
        await store.count_inbound()
    await store.open()
    await store.open()  # opening again is harmless
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="not open"):
        await store.count_outbound()


# -- dedupe ----------------------------------------------------------------------------------
async def test_new_message_ids_are_reported_new(store: Store) -> None:
    assert await store.claim_message_ids(["a", "b"], now=0.0, ttl=HOUR) == {"a", "b"}


async def test_a_redelivered_message_id_is_not_new_again(store: Store) -> None:
    await store.claim_message_ids(["a"], now=0.0, ttl=HOUR)
    assert await store.claim_message_ids(["a", "b"], now=10.0, ttl=HOUR) == {"b"}


async def test_an_id_repeated_in_one_call_is_new_once(store: Store) -> None:
    assert await store.claim_message_ids(["a", "a"], now=0.0, ttl=HOUR) == {"a"}
    assert await store.claim_message_ids(["a"], now=1.0, ttl=HOUR) == frozenset()


async def test_ids_past_their_ttl_count_as_new(store: Store) -> None:
    await store.claim_message_ids(["a"], now=0.0, ttl=HOUR)
    assert await store.claim_message_ids(["a"], now=HOUR + 1, ttl=HOUR) == {"a"}


async def test_an_id_is_remembered_for_the_ttl_after_it_was_last_seen(store: Store) -> None:
    await store.claim_message_ids(["a", "b"], now=0.0, ttl=HOUR)
    await store.claim_message_ids(["a"], now=20.0, ttl=HOUR)
    await store.claim_message_ids(["b"], now=10.0, ttl=HOUR)
    await store.claim_message_ids(["a"], now=15.0, ttl=HOUR)  # an earlier time never wins
    assert await store.claim_message_ids(["a", "b"], now=HOUR + 12, ttl=HOUR) == {"b"}


# -- the 24-hour window ----------------------------------------------------------------------
async def test_last_inbound_is_none_for_someone_never_heard_from(store: Store) -> None:
    assert await store.last_inbound("page-1", "u1") is None


async def test_an_older_inbound_time_never_overwrites_a_newer_one(store: Store) -> None:
    await store.record_inbound("page-1", "u1", 100.0)
    await store.record_inbound("page-1", "u1", 50.0)
    assert await store.last_inbound("page-1", "u1") == 100.0
    await store.record_inbound("page-1", "u1", 150.0)
    assert await store.last_inbound("page-1", "u1") == 150.0


async def test_inbound_times_are_kept_per_account_and_user(store: Store) -> None:
    await store.record_inbound("page-1", "u1", 1.0)
    await store.record_inbound("page-2", "u1", 2.0)
    assert await store.last_inbound("page-1", "u1") == 1.0
    assert await store.last_inbound("page-2", "u1") == 2.0
    assert await store.last_inbound("page-1", "u2") is None


# -- sessions --------------------------------------------------------------------------------
async def test_a_session_round_trips(store: Store) -> None:
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


async def test_saving_a_session_again_replaces_it(store: Store) -> None:
    await store.save_session(Session(key="k", account_id="a", psid="u", flow="f", step=0))
    await store.save_session(Session(key="k", account_id="a", psid="u", updated_at=2.0))
    loaded = await store.load_session("k")
    assert loaded is not None
    assert (loaded.flow, loaded.step, loaded.updated_at) == (None, None, 2.0)


async def test_deleting_a_session_forgets_it(store: Store) -> None:
    assert await store.load_session("k") is None
    await store.save_session(Session(key="k", account_id="a", psid="u"))
    assert await store.delete_session("k") is True
    assert await store.delete_session("k") is False
    assert await store.load_session("k") is None


# -- pairing ---------------------------------------------------------------------------------
async def test_a_created_pairing_is_pending_for_that_sender_only(store: Store) -> None:
    request = pairing("ABC", psid="u1")
    assert await store.create_pairing(request, now=0.0, max_pending=3) == request
    assert await store.pending_pairing("page-1", "u1", now=1.0) == request
    assert await store.pending_pairing("page-1", "u2", now=1.0) is None
    assert await store.pending_pairing("page-2", "u1", now=1.0) is None


async def test_an_expired_pairing_is_neither_pending_nor_listed(store: Store) -> None:
    await store.create_pairing(pairing("ABC", ttl=HOUR), now=0.0, max_pending=3)
    assert await store.pending_pairing("page-1", "u1", now=HOUR) is None
    assert await store.list_pairings(now=HOUR) == []


async def test_pairings_are_listed_oldest_first_per_account_or_all(store: Store) -> None:
    await store.create_pairing(pairing("B", psid="u2", at=2.0), now=2.0, max_pending=5)
    await store.create_pairing(pairing("A", psid="u1", at=1.0), now=2.0, max_pending=5)
    await store.create_pairing(pairing("C", account="page-2", at=3.0), now=3.0, max_pending=5)
    everything = await store.list_pairings(now=4.0)
    assert [request.code for request in everything] == ["A", "B", "C"]
    page_1 = await store.list_pairings("page-1", now=4.0)
    assert [request.code for request in page_1] == ["A", "B"]


async def test_of_requests_made_at_once_the_last_made_is_pending_and_the_first_evicted(
    store: Store,
) -> None:
    for code in ("A", "B"):
        await store.create_pairing(pairing(code), now=0.0, max_pending=5)
    pending = await store.pending_pairing("page-1", "u1", now=1.0)
    assert pending is not None
    assert pending.code == "B"
    await store.create_pairing(pairing("C", psid="u2"), now=0.0, max_pending=2)
    assert [request.code for request in await store.list_pairings(now=1.0)] == ["B", "C"]


async def test_max_pending_expires_the_oldest_of_that_account(store: Store) -> None:
    await store.create_pairing(pairing("OTHER", account="page-2"), now=0.0, max_pending=2)
    for number, code in enumerate(["A", "B", "C"]):
        request = pairing(code, psid=f"u{number}", at=float(number))
        assert await store.create_pairing(request, now=float(number), max_pending=2) == request
    assert [request.code for request in await store.list_pairings("page-1", now=3.0)] == ["B", "C"]
    assert await store.pending_pairing("page-1", "u0", now=3.0) is None
    evicted = await store.take_pairing("A")  # kept, expired when C came: the caller can say so
    assert evicted is not None
    assert evicted.expires_at == 2.0
    assert [request.code for request in await store.list_pairings("page-2", now=3.0)] == ["OTHER"]


async def test_expired_requests_do_not_count_against_max_pending(store: Store) -> None:
    await store.create_pairing(pairing("OLD", psid="u0", ttl=10.0), now=0.0, max_pending=1)
    await store.create_pairing(pairing("NEW", psid="u1", at=20.0), now=20.0, max_pending=1)
    assert [request.code for request in await store.list_pairings(now=21.0)] == ["NEW"]
    assert await store.take_pairing("OLD") is not None  # still known, as expired


async def test_a_code_taken_by_a_pending_request_is_refused(store: Store) -> None:
    first = pairing("ABC", psid="u1")
    await store.create_pairing(first, now=0.0, max_pending=3)
    assert await store.create_pairing(pairing("ABC", psid="u2"), now=1.0, max_pending=3) is None
    assert await store.list_pairings(now=1.0) == [first]


async def test_the_code_of_an_expired_request_can_be_used_again(store: Store) -> None:
    await store.create_pairing(pairing("ABC", psid="u1", ttl=10.0), now=0.0, max_pending=3)
    again = pairing("ABC", psid="u2", at=20.0)
    assert await store.create_pairing(again, now=20.0, max_pending=3) == again
    assert await store.take_pairing("ABC") == again


async def test_a_code_is_taken_once_even_when_expired(store: Store) -> None:
    request = pairing("ABC", ttl=10.0)
    await store.create_pairing(request, now=0.0, max_pending=3)
    assert await store.take_pairing("ABC") == request  # expired by now: the caller says so
    assert await store.take_pairing("ABC") is None
    assert await store.take_pairing("NOPE") is None


async def test_requests_expired_for_over_a_day_are_forgotten(store: Store) -> None:
    await store.create_pairing(pairing("OLD", psid="u0", ttl=10.0), now=0.0, max_pending=3)
    await store.create_pairing(pairing("NEW", psid="u1", at=DAY + 20), now=DAY + 20, max_pending=3)
    assert await store.take_pairing("OLD") is None


async def test_finding_a_code_leaves_it_pending(store: Store) -> None:
    request = pairing("ABC", ttl=10.0)
    await store.create_pairing(request, now=0.0, max_pending=3)
    assert await store.find_pairing("ABC") == request
    assert await store.find_pairing("ABC") == request
    assert await store.find_pairing("NOPE") is None
    assert await store.take_pairing("ABC") == request  # found expired, still there to take


async def test_approving_uses_the_code_approves_and_queues_the_confirmation(store: Store) -> None:
    request = pairing("ABC", psid="u1")
    await store.create_pairing(request, now=0.0, max_pending=3)
    confirmation = outbound("u1", "welcome")
    assert await store.approve_pairing(request, now=5.0, confirmation=confirmation) is True
    assert await store.find_pairing("ABC") is None
    [approval] = await store.list_approved()
    assert (approval.account_id, approval.psid, approval.approved_at) == ("page-1", "u1", 5.0)
    [queued] = await store.claim_outbound("w", now=5.0, lease=60.0, limit=10)
    assert (queued.psid, queued.body) == ("u1", "welcome")


async def test_approving_without_a_confirmation_queues_nothing(store: Store) -> None:
    request = pairing("ABC")
    await store.create_pairing(request, now=0.0, max_pending=3)
    assert await store.approve_pairing(request, now=1.0, confirmation=None) is True
    assert await store.standing("page-1", "u1") is Standing.APPROVED
    assert await store.count_outbound() == 0


async def test_a_request_used_or_expired_since_it_was_read_approves_nothing(store: Store) -> None:
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


async def test_marking_a_code_sent_records_the_time(store: Store) -> None:
    await store.create_pairing(pairing("ABC"), now=0.0, max_pending=3)
    await store.mark_pairing_sent("ABC", 30.0)
    pending = await store.pending_pairing("page-1", "u1", now=31.0)
    assert pending is not None
    assert pending.last_sent_at == 30.0


async def test_approvals_are_scoped_per_account(store: Store) -> None:
    await store.approve_sender("page-1", "u1", 1.0)
    assert await store.standing("page-1", "u1") is Standing.APPROVED
    assert await store.standing("page-2", "u1") is Standing.NONE
    assert await store.standing("page-1", "u2") is Standing.NONE


async def test_revoking_withdraws_an_approval(store: Store) -> None:
    await store.approve_sender("page-1", "u1", 1.0)
    assert await store.revoke_sender("page-1", "u1") is True
    assert await store.revoke_sender("page-1", "u1") is False
    assert await store.standing("page-1", "u1") is Standing.NONE


async def test_approved_senders_are_listed_per_account_or_all(store: Store) -> None:
    await store.approve_sender("page-2", "u9", 1.0)
    await store.approve_sender("page-1", "u1", 2.0)
    await store.approve_sender("page-1", "u1", 3.0)  # approving again keeps the first time
    listed = await store.list_approved()
    assert [(a.account_id, a.psid, a.approved_at) for a in listed] == [
        ("page-2", "u9", 1.0),
        ("page-1", "u1", 2.0),
    ]
    assert [a.psid for a in await store.list_approved("page-1")] == ["u1"]


# -- durable inbox ---------------------------------------------------------------------------
async def test_accepted_events_get_ids_in_order(store: Store) -> None:
    events = [inbound("u1", "1"), inbound("u2", "2"), inbound("u3", "3")]
    ids = (await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)).ids
    assert len(ids) == 3
    assert list(ids) == sorted(ids)
    assert await store.count_inbound() == 3


async def test_accepting_drops_redeliveries_within_and_across_batches(store: Store) -> None:
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


async def test_accepting_and_claiming_ids_share_one_dedupe_memory(store: Store) -> None:
    await store.accept_inbound([inbound("u1", "a", "m1")], now=0.0, dedupe_ttl=HOUR)
    assert await store.claim_message_ids(["m1"], now=1.0, ttl=HOUR) == frozenset()
    kept = await store.accept_inbound([inbound("u1", "a", "m1")], now=HOUR + 2, dedupe_ttl=HOUR)
    assert len(kept.ids) == 1


async def test_a_senders_next_event_waits_for_the_first_to_complete(store: Store) -> None:
    first, second = (
        await store.accept_inbound(
            [inbound("u1", "1"), inbound("u1", "2")], now=0.0, dedupe_ttl=HOUR
        )
    ).ids
    assert [e.id for e in await store.claim_inbound("w1", now=1.0, lease=60.0, limit=10)] == [first]
    assert await store.claim_inbound("w2", now=2.0, lease=60.0, limit=10) == []
    await store.complete_inbound(first)
    [event] = await store.claim_inbound("w2", now=3.0, lease=60.0, limit=10)
    assert (event.id, event.body, event.psid, event.received_at) == (second, "2", "u1", 0.0)
    assert await store.count_inbound() == 1


async def test_different_senders_are_offered_in_parallel(store: Store) -> None:
    events = [inbound("u1", "1a"), inbound("u1", "1b"), inbound("u2", "2a"), inbound("u3", "3a")]
    await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)
    claimed = await store.claim_inbound("w1", now=1.0, lease=60.0, limit=10)
    assert [event.body for event in claimed] == ["1a", "2a", "3a"]


async def test_claim_respects_the_limit_oldest_first(store: Store) -> None:
    events = [inbound(f"u{n}", str(n)) for n in range(5)]
    await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)
    assert await store.claim_inbound("w0", now=1.0, lease=60.0, limit=0) == []
    first = await store.claim_inbound("w1", now=1.0, lease=60.0, limit=2)
    second = await store.claim_inbound("w2", now=1.0, lease=60.0, limit=2)
    assert [e.body for e in first] == ["0", "1"]
    assert [e.body for e in second] == ["2", "3"]


async def test_an_expired_lease_lets_another_worker_claim(store: Store) -> None:
    [event_id] = (await store.accept_inbound([inbound("u1", "1")], now=0.0, dedupe_ttl=HOUR)).ids
    await store.claim_inbound("w1", now=0.0, lease=30.0, limit=10)
    assert await store.claim_inbound("w2", now=29.0, lease=30.0, limit=10) == []
    assert [e.id for e in await store.claim_inbound("w2", now=30.0, lease=30.0, limit=10)] == [
        event_id
    ]


async def test_a_released_event_is_offered_again_at_once(store: Store) -> None:
    [event_id] = (await store.accept_inbound([inbound("u1", "1")], now=0.0, dedupe_ttl=HOUR)).ids
    await store.claim_inbound("w1", now=0.0, lease=300.0, limit=10)
    await store.release_inbound(event_id)
    assert [e.id for e in await store.claim_inbound("w2", now=1.0, lease=30.0, limit=10)] == [
        event_id
    ]
    assert await store.count_inbound() == 1


async def test_concurrent_claims_in_one_process_never_share_an_event(store: Store) -> None:
    events = [inbound(f"u{n}", str(n)) for n in range(30)]
    await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)
    batches = await asyncio.gather(
        *(store.claim_inbound(f"w{n}", now=1.0, lease=60.0, limit=4) for n in range(10))
    )
    ids = [event.id for batch in batches for event in batch]
    assert len(ids) == len(set(ids)) == 30


# -- the session comes with the event ----------------------------------------------------------
def keyed(psid: str, body: str, message_id: str | None = None) -> NewInbound:
    return replace(inbound(psid, body, message_id), session_key=f"agent:main:messenger:dm:{psid}")


async def test_a_claimed_event_brings_its_senders_session(store: Store) -> None:
    session = Session(key="agent:main:messenger:dm:u1", account_id="page-1", psid="u1", step=2)
    await store.save_session(session)
    await store.accept_inbound([keyed("u1", "1"), keyed("u2", "2")], now=0.0, dedupe_ttl=HOUR)
    first, second = await store.claim_inbound("w", now=1.0, lease=60.0, limit=10)
    assert (first.psid, first.session) == ("u1", session)
    assert (second.psid, second.session) == ("u2", None)  # never seen: no session yet


async def test_a_session_saved_by_finishing_reaches_the_senders_next_event(store: Store) -> None:
    first, _ = (
        await store.accept_inbound([keyed("u1", "1"), keyed("u1", "2")], now=0.0, dedupe_ttl=HOUR)
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


# -- taking a sender's first event at once, when it is accepted --------------------------------
async def test_accepting_with_a_lease_takes_each_free_senders_first_event(store: Store) -> None:
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


async def test_a_lease_taken_when_accepting_runs_out_like_any_other(store: Store) -> None:
    accepted = await store.accept_inbound(
        [keyed("u1", "1")], now=0.0, dedupe_ttl=HOUR, lease=Lease("gone", 0.0, 30.0)
    )
    assert await store.claim_inbound("w2", now=29.0, lease=60.0, limit=10) == []
    [event] = await store.claim_inbound("w2", now=30.0, lease=60.0, limit=10)
    assert event.id == accepted.claimed[0].id


async def test_the_transaction_that_sends_a_persons_last_reply_takes_their_next_event(
    store: Store,
) -> None:
    saved = Session(key="agent:main:messenger:dm:u1", account_id="page-1", psid="u1", step=1)
    first, _ = (
        await store.accept_inbound([keyed("u1", "1"), keyed("u1", "2")], now=0.0, dedupe_ttl=HOUR)
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


async def test_a_dead_letter_hands_on_the_next_event_as_a_sent_reply_does(store: Store) -> None:
    first, _ = (
        await store.accept_inbound([keyed("u1", "1"), keyed("u1", "2")], now=0.0, dedupe_ttl=HOUR)
    ).ids
    await store.claim_inbound("w1", now=0.0, lease=60.0, limit=10)
    [reply] = (
        await store.finish_inbound(
            first, session=None, outbound=[outbound("u1", "re")], now=1.0, worker="w1", lease=60.0
        )
        or []
    )
    [event] = await store.dead_letter_outbound(
        reply, now=2.0, error="(#100) refused", then=Lease("w1", 2.0, 62.0)
    )
    assert event.body == "2"


async def test_completing_without_a_lease_takes_nothing(store: Store) -> None:
    [reply] = await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
    await store.accept_inbound([keyed("u1", "next")], now=0.0, dedupe_ttl=HOUR)
    assert await store.complete_outbound(reply) == []
    [event] = await store.claim_inbound("w", now=1.0, lease=60.0, limit=10)
    assert event.body == "next"


async def test_a_next_event_held_by_another_worker_is_not_taken(store: Store) -> None:
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


# -- a lease that ran out and was taken over -------------------------------------------------
async def test_finishing_an_event_another_worker_took_over_keeps_nothing(store: Store) -> None:
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


async def test_renewing_keeps_leases_from_running_out(store: Store) -> None:
    [event_id] = (await store.accept_inbound([keyed("u1", "1")], now=0.0, dedupe_ttl=HOUR)).ids
    await store.claim_inbound("w1", now=0.0, lease=30.0, limit=10)
    [message_id] = await store.finish_inbound(
        event_id, session=None, outbound=[outbound("u1", "re")], now=1.0, worker="w1", lease=30.0
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


async def test_renewing_reports_what_is_done_or_another_workers(store: Store) -> None:
    ids = (
        await store.accept_inbound([keyed("u1", "1"), keyed("u2", "2")], now=0.0, dedupe_ttl=HOUR)
    ).ids
    await store.claim_inbound("w1", now=0.0, lease=30.0, limit=10)
    await store.claim_inbound("w2", now=31.0, lease=30.0, limit=1)  # took u1's over
    await store.complete_inbound(ids[1])  # and u2's is done
    [message_id] = await store.enqueue_outbound([outbound("u3", "3")], now=0.0)
    await store.claim_outbound("w2", now=0.0, lease=30.0, limit=10)
    lost = await store.renew_leases("w1", inbound=ids, outbound=[message_id, 999], until=60.0)
    assert lost == LostLeases(inbound=frozenset(ids), outbound=frozenset({message_id, 999}))
    assert await store.lease_owners() == {"w2"}


async def test_renewing_never_shortens_a_retry_lease(store: Store) -> None:
    [message_id] = await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
    await store.claim_outbound("w1", now=0.0, lease=30.0, limit=1)
    await store.retry_outbound(message_id, at=100.0, error="HTTP 503")  # held till 100 + grace
    assert await store.renew_leases("w1", inbound=[], outbound=[message_id], until=40.0) == (
        LostLeases()
    )
    assert await store.claim_outbound("w2", now=150.0, lease=30.0, limit=1) == []


# -- a sender's replies leave before their next event is processed ---------------------------
async def test_a_senders_next_event_waits_while_a_reply_to_them_is_in_the_outbox(
    store: Store,
) -> None:
    first, second = (
        await store.accept_inbound(
            [inbound("u1", "1"), inbound("u1", "2")], now=0.0, dedupe_ttl=HOUR
        )
    ).ids
    await store.claim_inbound("w1", now=0.0, lease=60.0, limit=10)
    [reply] = await store.finish_inbound(
        first, session=None, outbound=[outbound("u1", "re: 1")], now=1.0, worker="w1", lease=30.0
    )
    assert await store.claim_inbound("w2", now=2.0, lease=60.0, limit=10) == []
    # its lease ran out, yet the reply still waits to be sent: so does the event
    assert await store.claim_inbound("w2", now=100.0, lease=60.0, limit=10) == []
    await store.complete_outbound(reply)
    assert [e.id for e in await store.claim_inbound("w2", now=101.0, lease=60.0, limit=10)] == [
        second
    ]


async def test_a_reply_held_by_an_outage_holds_back_the_next_event_until_dead_lettered(
    store: Store,
) -> None:
    [event_id] = (await store.accept_inbound([inbound("u1", "1")], now=0.0, dedupe_ttl=HOUR)).ids
    [reply] = await store.enqueue_outbound([outbound("u1", "sent by runtime send")], now=0.0)
    await store.retry_outbound(reply, at=500.0, error="HTTP 503")  # not leased, not due
    assert await store.claim_inbound("w", now=10.0, lease=60.0, limit=10) == []
    await store.dead_letter_outbound(reply, now=20.0, error="(#100) Invalid parameter")
    assert [e.id for e in await store.claim_inbound("w", now=21.0, lease=60.0, limit=10)] == [
        event_id
    ]


async def test_a_reply_waiting_holds_back_no_one_else(store: Store) -> None:
    await store.enqueue_outbound(
        [outbound("u1", "waiting"), outbound("u2", "to another page's u2", account="page-2")],
        now=0.0,
    )
    events = [inbound(f"u{n}", str(n)) for n in range(4)]
    await store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR)
    claimed = await store.claim_inbound("w", now=1.0, lease=60.0, limit=2)
    assert [event.psid for event in claimed] == ["u0", "u2"]  # the limit counts what is offered


async def test_posts_accepted_at_once_each_get_their_own_events_once(store: Store) -> None:
    """Twenty POSTs in flight together (the SQLite store writes them in one transaction)."""
    batches = [
        [inbound(f"u{n}", f"{n}-a", f"m{n}a"), inbound(f"u{n}", f"{n}-b", f"m{n % 5}shared")]
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


# -- leases ----------------------------------------------------------------------------------
async def test_lease_owners_are_the_workers_holding_events_or_messages(store: Store) -> None:
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
        first, session=None, outbound=[outbound("u1", "re: 1")], now=1.0, worker="w1", lease=60.0
    )
    await store.release_inbound(second)
    await store.complete_outbound(message_id)
    assert await store.lease_owners() == {"w1"}  # it sends the reply
    await store.complete_outbound(reply)
    assert await store.lease_owners() == set()


async def test_a_lease_that_ran_out_names_its_worker_until_another_takes_over(
    store: Store,
) -> None:
    await store.accept_inbound([inbound("u1", "1")], now=0.0, dedupe_ttl=HOUR)
    await store.claim_inbound("w1", now=0.0, lease=30.0, limit=10)
    assert await store.lease_owners() == {"w1"}  # lease_owners has no `now` to tell
    await store.claim_inbound("w2", now=31.0, lease=30.0, limit=10)
    assert await store.lease_owners() == {"w2"}


async def test_releasing_a_workers_leases_offers_what_it_held_at_once(store: Store) -> None:
    await store.accept_inbound([inbound("u1", "1"), inbound("u2", "2")], now=0.0, dedupe_ttl=HOUR)
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


# -- durable outbox --------------------------------------------------------------------------
async def test_each_users_messages_are_sent_in_order(store: Store) -> None:
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


async def test_messages_sent_together_are_completed_together(store: Store) -> None:
    ids = await store.enqueue_outbound(
        [outbound("u1", "1a"), outbound("u2", "2a"), outbound("u1", "1b"), outbound("u3", "3a")],
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
    store: Store,
) -> None:
    await store.enqueue_outbound([outbound("u1", "1a"), outbound("u1", "1b")], now=0.0)
    [first] = await store.claim_outbound("w", now=0.0, lease=60.0, limit=10)
    await store.retry_outbound(first.id, at=100.0, error="HTTP 503")
    await store.enqueue_outbound([outbound("u2", "2a")], now=1.0)
    assert [m.body for m in await store.claim_outbound("w", now=50.0, lease=60.0, limit=10)] == [
        "2a"
    ]
    # the worker retrying it keeps it a grace minute past its retry time; then anyone may
    assert await store.claim_outbound("w2", now=100.0, lease=60.0, limit=10) == []
    again = await store.claim_outbound("w2", now=161.0, lease=60.0, limit=10)
    assert [m.body for m in again] == ["1a", "2a"]  # 2a's lease from t=50 ran out too


async def test_a_retry_counts_the_attempt_and_keeps_the_error(store: Store) -> None:
    [message_id] = await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
    for attempt in (1, 2):
        await store.claim_outbound("w", now=float(attempt), lease=600.0, limit=1)
        await store.retry_outbound(message_id, at=10.0 * attempt, error=f"error {attempt}")
    [message] = await store.claim_outbound("w2", now=81.0, lease=60.0, limit=1)
    assert (message.attempts, message.last_error, message.next_attempt_at) == (2, "error 2", 20.0)


async def test_an_unleased_message_retried_is_offered_at_its_retry_time(store: Store) -> None:
    [message_id] = await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
    await store.retry_outbound(message_id, at=10.0, error="HTTP 500")
    assert await store.claim_outbound("w", now=9.0, lease=60.0, limit=1) == []
    [message] = await store.claim_outbound("w", now=10.0, lease=60.0, limit=1)
    assert message.attempts == 1


async def test_an_expired_outbound_lease_is_offered_again(store: Store) -> None:
    await store.enqueue_outbound([outbound("u1", "hi")], now=0.0)
    await store.claim_outbound("w1", now=0.0, lease=30.0, limit=1)
    assert await store.claim_outbound("w2", now=10.0, lease=30.0, limit=1) == []
    assert len(await store.claim_outbound("w2", now=31.0, lease=30.0, limit=1)) == 1


async def test_a_dead_letter_leaves_the_outbox_and_unblocks_the_user(store: Store) -> None:
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


async def test_a_requeued_dead_letter_is_sent_again_last_and_fresh(store: Store) -> None:
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


async def test_requeueing_an_unknown_dead_letter_is_false(store: Store) -> None:
    assert await store.requeue_dead_letter(42, now=0.0) is False
