"""What only SQLiteStore promises: a real file, reopened, upgraded, shared by two processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

import runtime
from runtime.errors import StoreError
from runtime.session import Session
from runtime.store import sqlite_schema as sql
from runtime.store import sqlite_timers
from runtime.store.base import Accepted, NewOutbound, NewTimer, Standing, TimerChanges
from runtime.store.sqlite import SQLiteStore
from tests.store.records import HOUR, inbound, outbound, pairing


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "not" / "yet" / "runtime.db"


def pragmas(path: Path) -> tuple[str, int]:
    """The journal mode and schema version of a database file, which must exist."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return mode, version


# -- opening, closing, reopening -------------------------------------------------------------
async def test_the_database_is_created_at_a_nested_path_in_wal_mode(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    assert not db_path.parent.exists()  # nothing happens before open()
    await store.open()
    await store.open()  # opening again is harmless
    await store.close()
    assert pragmas(db_path) == ("wal", sql.SCHEMA_VERSION)


async def test_everything_survives_reopening_the_file(db_path: Path) -> None:
    first = SQLiteStore(db_path)
    await first.open()
    await first.record_inbound("page-1", "u1", 5.0)
    await first.save_session(Session(key="k", account_id="page-1", psid="u1", vars={"n": 1}))
    await first.create_pairing(pairing("ABC"), now=0.0, max_pending=3)
    await first.approve_sender("page-1", "u2", 1.0)
    [event_id] = (
        await first.accept_inbound([inbound("u1", "e", "m1")], now=0.0, dedupe_ttl=HOUR)
    ).ids
    await first.enqueue_outbound([outbound("u3", "hello")], now=0.0)
    await first.claim_outbound("gone", now=0.0, lease=60.0, limit=10)
    await first.close()

    second = SQLiteStore(db_path)
    await second.open()
    try:
        redelivered = [inbound("u1", "e", "m1")]
        assert (await second.accept_inbound(redelivered, now=1.0, dedupe_ttl=HOUR)).ids == ()
        assert await second.last_inbound("page-1", "u1") == 5.0
        session = await second.load_session("k")
        assert session is not None
        assert session.vars == {"n": 1}
        assert await second.pending_pairing("page-1", "u1", now=1.0) == pairing("ABC")
        assert await second.standing("page-1", "u2") is Standing.APPROVED
        [event] = await second.claim_inbound("w", now=1.0, lease=60.0, limit=10)
        assert (event.id, event.body) == (event_id, "e")
        assert await second.lease_owners() == {"gone", "w"}  # a dead worker's leases stay
        assert await second.release_leases("gone") == 1
        [message] = await second.claim_outbound("w", now=1.0, lease=60.0, limit=10)
        assert message.body == "hello"
    finally:
        await second.close()


async def test_a_file_that_is_not_a_database_raises_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database file, not at all" * 100)
    with pytest.raises(StoreError, match=r"garbage\.db") as caught:
        await SQLiteStore(path).open()
    assert isinstance(caught.value.__cause__, sqlite3.Error)


async def test_a_folder_that_cannot_be_made_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(StoreError, match="cannot open the store") as caught:
        await SQLiteStore(blocker / "runtime.db").open()
    assert isinstance(caught.value.__cause__, OSError)


async def test_a_database_from_a_newer_runtime_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StoreError, match="999"):
        await SQLiteStore(db_path).open()


async def test_events_kept_by_a_version_1_file_bring_their_session_after_the_upgrade(
    db_path: Path,
) -> None:
    """Version 2 keeps each event's session key beside it; an event accepted before the
    upgrade gets its key from its body."""
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    for statement in sql.MIGRATIONS[1]:
        conn.execute(statement)
    key = "agent:main:messenger:dm:u1"
    body = json.dumps({"kind": "message", "psid": "u1", "session_key": key, "text": "hi"})
    conn.execute(
        "INSERT INTO inbox (account_id, psid, body, received_at) VALUES ('page-1', 'u1', ?, 0)",
        (body,),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = SQLiteStore(db_path)
    await store.open()
    try:
        session = Session(key=key, account_id="page-1", psid="u1", step=3)
        await store.save_session(session)
        [event] = await store.claim_inbound("w", now=1.0, lease=60.0, limit=10)
        assert (event.body, event.session) == (body, session)
    finally:
        await store.close()


async def test_a_version_2_file_keeps_its_approvals_and_can_block_after_the_upgrade(
    db_path: Path,
) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    for number in (1, 2):
        for statement in sql.MIGRATIONS[number]:
            conn.execute(statement)
    conn.execute("INSERT INTO approved_senders VALUES ('page-1', 'u1', 1.0)")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    store = SQLiteStore(db_path)
    await store.open()
    try:
        assert await store.standing("page-1", "u1") is Standing.APPROVED
        assert await store.block_sender("page-1", "u2", 2.0)
        assert await store.standing("page-1", "u2") is Standing.BLOCKED
    finally:
        await store.close()
    assert pragmas(db_path) == ("wal", sql.SCHEMA_VERSION)


async def test_a_version_3_file_keeps_its_waiting_replies_as_messages_after_the_upgrade(
    db_path: Path,
) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    for number in (1, 2, 3):
        for statement in sql.MIGRATIONS[number]:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO outbox (account_id, psid, body, created_at, next_attempt_at)"
        " VALUES ('page-1', 'u1', '{\"message\":{\"text\":\"hi\"}}', 1.0, 1.0)"
    )
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    store = SQLiteStore(db_path)
    await store.open()
    try:
        [waiting] = await store.claim_outbound("w", now=2.0, lease=30.0, limit=10)
        assert (waiting.psid, waiting.endpoint) == ("u1", "me/messages")
        await store.cache_put("profile", "page-1:u1", "{}", now=2.0, ttl=60.0)
        assert await store.cache_get("profile", "page-1:u1", now=3.0) == "{}"
    finally:
        await store.close()
    assert pragmas(db_path) == ("wal", sql.SCHEMA_VERSION)


async def test_a_version_4_file_keeps_its_replies_without_a_deadline_and_keeps_timers(
    db_path: Path,
) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    for number in (1, 2, 3, 4):
        for statement in sql.MIGRATIONS[number]:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO outbox (account_id, psid, body, created_at, next_attempt_at)"
        " VALUES ('page-1', 'u1', '{\"message\":{\"text\":\"hi\"}}', 1.0, 1.0)"
    )
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    store = SQLiteStore(db_path)
    await store.open()
    try:
        [waiting] = await store.claim_outbound("w", now=2.0, lease=30.0, limit=10)
        assert (waiting.psid, waiting.send_by) == ("u1", None)  # sent whenever it can be
        due = NewTimer(
            account_id="page-1", psid="u2", slot="ask", due_at=5.0, body="t", session_key="k"
        )
        await store.change_timers(TimerChanges(set=(due,)))
        assert (await store.fire_timers(now=5.0, limit=10)).fired == 1
    finally:
        await store.close()
    assert pragmas(db_path) == ("wal", sql.SCHEMA_VERSION)


async def test_a_requeued_dead_letter_is_sent_whatever_its_window_said(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    await store.open()
    try:
        late = NewOutbound(account_id="page-1", psid="u1", body="nudge", send_by=86_400.0)
        [message_id] = await store.enqueue_outbound([late], now=0.0)
        await store.dead_letter_outbound(message_id, now=90_000.0, error="the window closed")
        assert await store.requeue_dead_letter(message_id, now=90_001.0)
        [again] = await store.claim_outbound("w", now=90_001.0, lease=60.0, limit=10)
        assert (again.body, again.send_by) == ("nudge", None)
    finally:
        await store.close()


# -- the claim reads indexes, not tables -----------------------------------------------------
def test_choosing_inbound_events_to_claim_reads_only_covering_indexes() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        for number in sorted(sql.MIGRATIONS):
            for statement in sql.MIGRATIONS[number]:
                conn.execute(statement)
        plan = [
            row[3]
            for row in conn.execute(
                f"EXPLAIN QUERY PLAN {sql.CLAIMABLE_INBOUND}", {"now": 0.0, "limit": 10}
            )
        ]
    finally:
        conn.close()
    assert any("outbox USING COVERING INDEX outbox_by_user" in line for line in plan), plan
    # the session read with each event is found by its key, for the events chosen only
    assert any(re.search(r"SEARCH sessions USING INDEX", line) for line in plan), plan
    # a table is read by id only (for the events chosen), never scanned
    scans = [line for line in plan if re.search(r"SCAN (inbox|outbox)\b(?! USING COVERING)", line)]
    assert not scans, plan


def test_firing_timers_seeks_the_head_of_their_index_among_many(tmp_path: Path) -> None:
    """The poll every second and a fire read only the timers due, never the whole table,
    and never sort: the index gives them earliest first."""
    conn = sqlite3.connect(tmp_path / "plans.db")
    try:
        for number in sorted(sql.MIGRATIONS):
            for statement in sql.MIGRATIONS[number]:
                conn.execute(statement)
        conn.executemany(
            sqlite_timers.SET,
            [("page-1", f"u{n}", "ask", 1e9 + n, "{}", f"k{n}") for n in range(5000)],
        )

        def plan(statement: str, params: Mapping[str, object] | Sequence[object] = ()) -> list[str]:
            return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params)]

        due = plan(sqlite_timers.DUE, {"now": 5.0, "limit": 10})
        head = plan(sqlite_timers.NEXT_DUE)
        cancel = plan(sqlite_timers.CANCEL, ("page-1", "u1", "ask"))
    finally:
        conn.close()
    assert due == ["SEARCH timers USING INDEX timers_by_due (due_at<?)"], due
    assert head == ["SEARCH timers USING COVERING INDEX timers_by_due"], head
    assert cancel == ["SEARCH timers USING PRIMARY KEY (account_id=? AND psid=? AND slot=?)"], (
        cancel
    )


# -- two processes at once -------------------------------------------------------------------
WORKER = r"""
import asyncio, json, sys, time
from pathlib import Path
from runtime.store.base import NewInbound
from runtime.store.sqlite import SQLiteStore

async def main(path: str, name: str) -> None:
    store = SQLiteStore(Path(path))
    await store.open()
    sys.stdin.readline()  # start together: the test writes "go" to both processes
    for start in range(0, 200, 10):
        batch = []
        for n in range(start, start + 10):
            mid = f"shared-{n}" if n % 4 == 0 else f"{name}-{n}"
            body = json.dumps({"mid": mid, "by": name})
            batch.append(NewInbound(account_id="page", psid=f"u{n % 7}", body=body, message_id=mid))
        await store.accept_inbound(batch, now=time.time(), dedupe_ttl=3600.0)
    claimed = []
    while True:
        events = await store.claim_inbound(name, now=time.time(), lease=3600.0, limit=4)
        if not events and await store.count_inbound() == 0:
            break
        for event in events:
            claimed.append({"id": event.id, "mid": json.loads(event.body)["mid"]})
            await store.complete_inbound(event.id)
    await store.close()
    print(json.dumps(claimed))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_two_processes_accept_and_claim_at_once_without_loss_or_overlap(db_path: Path) -> None:
    env = dict(os.environ)
    project = str(Path(runtime.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project, env.get("PYTHONPATH")]))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db_path), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("alpha", "beta")
    ]
    outputs: list[tuple[str, str, int]] = []
    try:
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            stdout, stderr = process.communicate(timeout=120)
            outputs.append((stdout, stderr, process.returncode))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    for _, stderr, returncode in outputs:
        assert returncode == 0, stderr
        assert "locked" not in stderr
    claims = [claim for stdout, _, _ in outputs for claim in json.loads(stdout)]
    ids = [claim["id"] for claim in claims]
    mids = [claim["mid"] for claim in claims]
    expected = {f"shared-{n}" for n in range(0, 200, 4)} | {
        f"{name}-{n}" for name in ("alpha", "beta") for n in range(200) if n % 4
    }
    assert len(ids) == len(set(ids)), "an event was claimed twice"
    assert len(mids) == len(set(mids)), "a redelivered message was kept twice"
    assert set(mids) == expected, "an event was lost"

    async def left_over() -> int:
        store = SQLiteStore(db_path)
        await store.open()
        try:
            return await store.count_inbound()
        finally:
            await store.close()

    assert asyncio.run(left_over()) == 0


async def test_an_event_sqlite_refuses_costs_only_its_own_post_its_200(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    await store.open()
    try:
        good = [[inbound("u1", f"ok {n}", f"m{n}")] for n in range(5)]
        bad = [inbound("u2", "lone \ud800 surrogate", "m-bad")]  # not UTF-8: SQLite refuses
        results = await asyncio.gather(
            *(store.accept_inbound(events, now=0.0, dedupe_ttl=HOUR) for events in good),
            store.accept_inbound(bad, now=0.0, dedupe_ttl=HOUR),
            return_exceptions=True,
        )
        assert all(isinstance(kept, Accepted) and len(kept.ids) == 1 for kept in results[:5])
        assert isinstance(results[5], StoreError)
        assert await store.count_inbound() == 5
        # and the refused POST may come again (Meta retries): its id was not recorded as seen
        assert (await store.accept_inbound(good[0], now=1.0, dedupe_ttl=HOUR)).ids == ()
    finally:
        await store.close()
