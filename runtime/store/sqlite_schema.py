"""The SQL of the SQLite store: its tables, as numbered migrations, and its statements.

The access role's statements (pairing, approvals, blocks) are in `sqlite_access.py`.
"""

from __future__ import annotations

from runtime.store.base import NewOutbound

# `PRAGMA user_version` holds the number of the last migration applied to a database file.
# To change the schema, append a migration (a tuple of statements) under the next number and
# bump SCHEMA_VERSION; `open` applies the missing ones in order, in one transaction.
SCHEMA_VERSION = 5

_V1: tuple[str, ...] = (
    # Dedupe: message ids already processed, and when they were last seen.
    """
    CREATE TABLE IF NOT EXISTS seen_messages (
        message_id TEXT PRIMARY KEY,
        seen_at    REAL NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS seen_messages_by_time ON seen_messages (seen_at)",
    # The 24-hour window: each user's latest inbound message time.
    """
    CREATE TABLE IF NOT EXISTS last_inbound (
        account_id TEXT NOT NULL,
        psid       TEXT NOT NULL,
        at         REAL NOT NULL,
        PRIMARY KEY (account_id, psid)
    ) WITHOUT ROWID
    """,
    # Sessions, each one `Session.to_json()` document.
    """
    CREATE TABLE IF NOT EXISTS sessions (
        key        TEXT PRIMARY KEY,
        body       TEXT NOT NULL,
        updated_at REAL NOT NULL
    )
    """,
    # Pairing requests, pending and recently expired (rowid breaks ties in age).
    """
    CREATE TABLE IF NOT EXISTS pairings (
        code         TEXT PRIMARY KEY,
        account_id   TEXT NOT NULL,
        psid         TEXT NOT NULL,
        created_at   REAL NOT NULL,
        expires_at   REAL NOT NULL,
        last_sent_at REAL NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS pairings_by_account ON pairings (account_id, created_at)",
    "CREATE INDEX IF NOT EXISTS pairings_by_expiry ON pairings (expires_at)",
    """
    CREATE TABLE IF NOT EXISTS approved_senders (
        account_id  TEXT NOT NULL,
        psid        TEXT NOT NULL,
        approved_at REAL NOT NULL,
        PRIMARY KEY (account_id, psid)
    ) WITHOUT ROWID
    """,
    # The durable inbox. AUTOINCREMENT: an id is never reused, so a worker whose lease ran
    # out can never complete or release some later event by mistake.
    """
    CREATE TABLE IF NOT EXISTS inbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id  TEXT NOT NULL,
        psid        TEXT NOT NULL,
        body        TEXT NOT NULL,
        received_at REAL NOT NULL,
        lease_owner TEXT,
        lease_until REAL
    )
    """,
    # Covers the claim query: each sender's oldest id and whether any of theirs is leased.
    """
    CREATE INDEX IF NOT EXISTS inbox_by_sender
        ON inbox (account_id, psid, id, lease_until)
    """,
    # The durable outbox, same shape plus retry bookkeeping.
    """
    CREATE TABLE IF NOT EXISTS outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id      TEXT NOT NULL,
        psid            TEXT NOT NULL,
        body            TEXT NOT NULL,
        created_at      REAL NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error      TEXT,
        lease_owner     TEXT,
        lease_until     REAL
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS outbox_by_user
        ON outbox (account_id, psid, id, lease_until)
    """,
    # Dead letters keep the id the message had in the outbox (outbox ids are never reused),
    # so a log line about message 42 and `runtime outbox` agree.
    """
    CREATE TABLE IF NOT EXISTS dead_letters (
        id         INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        psid       TEXT NOT NULL,
        body       TEXT NOT NULL,
        created_at REAL NOT NULL,
        failed_at  REAL NOT NULL,
        attempts   INTEGER NOT NULL,
        error      TEXT NOT NULL
    )
    """,
)

_V2: tuple[str, ...] = (
    # The sender's session key beside each event, so a claim reads the session in its own
    # transaction; events kept by version 1 get theirs from their body.
    "ALTER TABLE inbox ADD COLUMN session_key TEXT",
    "UPDATE inbox SET session_key = json_extract(body, '$.session_key')",
)

_V3: tuple[str, ...] = (
    # Senders the owner blocked (`runtime pair block`): nothing is sent to them.
    """
    CREATE TABLE IF NOT EXISTS blocked_senders (
        account_id TEXT NOT NULL,
        psid       TEXT NOT NULL,
        blocked_at REAL NOT NULL,
        PRIMARY KEY (account_id, psid)
    ) WITHOUT ROWID
    """,
)

_V4: tuple[str, ...] = (
    # The Graph API endpoint of each outbox row (thread control leaves in order with the
    # messages); rows kept by earlier versions are all messages.
    "ALTER TABLE outbox ADD COLUMN endpoint TEXT NOT NULL DEFAULT 'me/messages'",
    "ALTER TABLE dead_letters ADD COLUMN endpoint TEXT NOT NULL DEFAULT 'me/messages'",
    # Values worth keeping for a while (people's profiles, attachment ids), by kind and key.
    """
    CREATE TABLE IF NOT EXISTS caches (
        kind       TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (kind, key)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS caches_by_expiry ON caches (expires_at)",
)

_V5: tuple[str, ...] = (
    # When Meta's 24-hour window closes for an outbox message (NULL: no such limit). A dead
    # letter keeps none: requeued by hand, it is sent whatever the time.
    "ALTER TABLE outbox ADD COLUMN send_by REAL",
    # Each person's pending timers, one per slot (`runtime/timers.py`): `body` becomes their
    # inbox event when `due_at` comes, its session read by `session_key`.
    """
    CREATE TABLE IF NOT EXISTS timers (
        account_id  TEXT NOT NULL,
        psid        TEXT NOT NULL,
        slot        TEXT NOT NULL,
        due_at      REAL NOT NULL,
        body        TEXT NOT NULL,
        session_key TEXT NOT NULL,
        PRIMARY KEY (account_id, psid, slot)
    ) WITHOUT ROWID
    """,
    # The timers due, earliest first, are a range of this index (its entries end with the
    # primary key, which breaks ties): the poll every second reads its first entry only.
    "CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due_at)",
)

# Migration number -> the statements that bring a database from the previous number to it.
MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5}

# The statements SQLiteStore runs, grouped as the Store protocol groups its methods.

# -- dedupe ----------------------------------------------------------------------------------
PURGE_SEEN = "DELETE FROM seen_messages WHERE seen_at < ?"
IS_SEEN = "SELECT 1 FROM seen_messages WHERE message_id = ?"
RECORD_SEEN = """
    INSERT INTO seen_messages (message_id, seen_at) VALUES (?, ?)
    ON CONFLICT (message_id) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)
"""

# -- the 24-hour window ----------------------------------------------------------------------
RECORD_INBOUND = """
    INSERT INTO last_inbound (account_id, psid, at) VALUES (?, ?, ?)
    ON CONFLICT (account_id, psid) DO UPDATE SET at = max(at, excluded.at)
"""
LAST_INBOUND = "SELECT at FROM last_inbound WHERE account_id = ? AND psid = ?"

# -- sessions --------------------------------------------------------------------------------
LOAD_SESSION = "SELECT body FROM sessions WHERE key = ?"
SAVE_SESSION = """
    INSERT INTO sessions (key, body, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
"""
DELETE_SESSION = "DELETE FROM sessions WHERE key = ?"
# Each session with its person's latest message time through the webhook (NULL: never wrote).
LIST_SESSIONS = """
    SELECT sessions.body, last_inbound.at FROM sessions
    LEFT JOIN last_inbound
        ON last_inbound.account_id = json_extract(sessions.body, '$.account_id')
       AND last_inbound.psid = json_extract(sessions.body, '$.psid')
    WHERE :account IS NULL OR json_extract(sessions.body, '$.account_id') = :account
    ORDER BY sessions.updated_at, sessions.key
"""

# -- durable inbox ---------------------------------------------------------------------------
INSERT_INBOUND = """
    INSERT INTO inbox (account_id, psid, body, received_at, session_key, lease_owner,
                       lease_until)
    VALUES (?, ?, ?, ?, ?, ?, ?)
"""
# Whether a claim would hold a sender's new event back: something of theirs waits already.
SENDER_WAITING = """
    SELECT EXISTS (SELECT 1 FROM inbox WHERE account_id = :account AND psid = :psid)
        OR EXISTS (SELECT 1 FROM outbox WHERE account_id = :account AND psid = :psid)
"""
# Each sender's oldest event, for the senders none of whose events holds a running lease
# and none of whose replies waits in the outbox (leased or not; dead letters are elsewhere).
# total() sums the true (1) comparisons, ignoring the NULL lease of unleased events.
# The choice reads only the covering indexes inbox_by_sender and outbox_by_user; the table is
# read for the `limit` events chosen, not for every sender's head.
CLAIMABLE_INBOUND = """
    SELECT inbox.id, inbox.account_id, inbox.psid, inbox.body, inbox.received_at,
           sessions.body AS session
    FROM inbox
    JOIN (
        SELECT min(id) AS id FROM inbox AS sender
        GROUP BY account_id, psid
        HAVING total(lease_until > :now) = 0
           AND NOT EXISTS (
               SELECT 1 FROM outbox
               WHERE outbox.account_id = sender.account_id AND outbox.psid = sender.psid
           )
        ORDER BY min(id)
        LIMIT :limit
    ) AS head USING (id)
    LEFT JOIN sessions ON sessions.key = inbox.session_key
    ORDER BY inbox.id
"""
LEASE_INBOUND = "UPDATE inbox SET lease_owner = ?, lease_until = ? WHERE id = ?"
# A sender's oldest event, as a claim would offer it, once nothing of theirs is in the outbox.
SENDER_HEAD = """
    SELECT inbox.id, inbox.account_id, inbox.psid, inbox.body, inbox.received_at,
           inbox.lease_until, sessions.body AS session
    FROM inbox LEFT JOIN sessions ON sessions.key = inbox.session_key
    WHERE inbox.account_id = :account AND inbox.psid = :psid
    ORDER BY inbox.id LIMIT 1
"""
SENDER_REPLYING = "SELECT 1 FROM outbox WHERE account_id = :account AND psid = :psid LIMIT 1"
COMPLETE_INBOUND = "DELETE FROM inbox WHERE id = ?"
FINISH_INBOUND = "DELETE FROM inbox WHERE id = ? AND lease_owner = ?"
RELEASE_INBOUND = "UPDATE inbox SET lease_owner = NULL, lease_until = NULL WHERE id = ?"
COUNT_INBOUND = "SELECT count(*) FROM inbox"

# -- durable outbox --------------------------------------------------------------------------
# Their parameters are `outbound_params(message, now)`, plus `worker` and `until` when leased.
INSERT_OUTBOUND = """
    INSERT INTO outbox (account_id, psid, endpoint, body, send_by, created_at, next_attempt_at)
    VALUES (:account_id, :psid, :endpoint, :body, :send_by, :now, :now)
"""
INSERT_OUTBOUND_LEASED = """
    INSERT INTO outbox (account_id, psid, endpoint, body, send_by, created_at, next_attempt_at,
                        lease_owner, lease_until)
    VALUES (:account_id, :psid, :endpoint, :body, :send_by, :now, :now, :worker, :until)
"""
# As for the inbox, plus: a user's oldest message must be due, else none of theirs is offered.
CLAIMABLE_OUTBOUND = """
    SELECT outbox.id, outbox.account_id, outbox.psid, outbox.endpoint, outbox.body,
           outbox.created_at, outbox.attempts, outbox.next_attempt_at, outbox.last_error,
           outbox.send_by
    FROM outbox
    JOIN (
        SELECT min(id) AS id FROM outbox
        GROUP BY account_id, psid
        HAVING total(lease_until > :now) = 0
    ) AS head USING (id)
    WHERE outbox.next_attempt_at <= :now
    ORDER BY outbox.id
    LIMIT :limit
"""
LEASE_OUTBOUND = "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?"
COMPLETE_OUTBOUND = "DELETE FROM outbox WHERE id = ?"
OUTBOUND_SENDER = "SELECT account_id, psid FROM outbox WHERE id = ?"


def outbound_params(message: NewOutbound, now: float) -> dict[str, object]:
    """The parameters of INSERT_OUTBOUND for `message`, made at `now`."""
    return {
        "account_id": message.account_id,
        "psid": message.psid,
        "endpoint": message.endpoint,
        "body": message.body,
        "send_by": message.send_by,
        "now": now,
    }


RETRY_OUTBOUND = """
    UPDATE outbox
    SET attempts = attempts + 1, last_error = :error, next_attempt_at = :at,
        lease_until = CASE WHEN lease_owner IS NULL THEN NULL ELSE :at + :grace END
    WHERE id = :id
"""
# The failed attempt that makes a message a dead letter counts as one of its attempts.
DEAD_LETTER = """
    INSERT INTO dead_letters (id, account_id, psid, endpoint, body, created_at, failed_at,
                              attempts, error)
    SELECT id, account_id, psid, endpoint, body, created_at, :now, attempts + 1, :error
    FROM outbox WHERE id = :id
"""
LIST_DEAD_LETTERS = """
    SELECT id, account_id, psid, endpoint, body, created_at, failed_at, attempts, error
    FROM dead_letters ORDER BY failed_at, id
"""
# A requeued message gets a new id, so it goes to the end of its user's queue; it has no
# send_by: the owner who requeues it chose to send it now.
REQUEUE = """
    INSERT INTO outbox (account_id, psid, endpoint, body, created_at, next_attempt_at)
    SELECT account_id, psid, endpoint, body, :now, :now FROM dead_letters WHERE id = :id
"""
DELETE_DEAD_LETTER = "DELETE FROM dead_letters WHERE id = ?"
COUNT_OUTBOUND = "SELECT count(*) FROM outbox"

# -- leases ----------------------------------------------------------------------------------
# A lease that ran out still names its worker until another worker takes the row over.
LEASE_OWNERS = """
    SELECT lease_owner FROM inbox WHERE lease_owner IS NOT NULL
    UNION
    SELECT lease_owner FROM outbox WHERE lease_owner IS NOT NULL
"""
# A lease is only ever lengthened (a retried message's runs past its retry time).
RENEW_INBOX_LEASE = """
    UPDATE inbox SET lease_until = max(coalesce(lease_until, 0), :until)
    WHERE id = :id AND lease_owner = :worker
"""
RENEW_OUTBOX_LEASE = """
    UPDATE outbox SET lease_until = max(coalesce(lease_until, 0), :until)
    WHERE id = :id AND lease_owner = :worker
"""
RELEASE_INBOX_LEASES = """
    UPDATE inbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?
"""
RELEASE_OUTBOX_LEASES = """
    UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?
"""
