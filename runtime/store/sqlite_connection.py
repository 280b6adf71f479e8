"""SQLiteConnection: one SQLite file, its one connection on a thread of its own, its migrations.

Every call runs on one dedicated thread holding the one connection, so calls are serialized
without locks and the event loop never blocks on the disk. Writes run in `BEGIN IMMEDIATE`
transactions, which take the file's write lock up front (waiting up to BUSY_TIMEOUT_MS for
another process, trying again every few hundred microseconds). A call cancelled while its
transaction runs still completes it.

The small functions at the end build the work most calls run: one statement, its rows.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from runtime.errors import StoreError
from runtime.store import sqlite_schema as sql

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]

BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another process's write to finish
# While another process writes, try again after these pauses (doubling, jittered). SQLite's
# own busy handler sleeps 1, 2, 5 ... 100 ms: with two workers that was the whole p99.
BUSY_FIRST_PAUSE = 0.0002
BUSY_MAX_PAUSE = 0.002


class SQLiteConnection:
    """The store's file: `open`, `run` work on its thread (in a transaction when it writes),
    `close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, what: str, work: Work[T], *, write: bool = True) -> T:
        """Run `work` on the store's thread, in one write transaction when `write`.

        `what` completes "cannot ..." in the StoreError raised when SQLite fails.
        """
        if self._executor is None:
            raise StoreError(f"cannot {what}: the store {self.path} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, partial(self._in_thread, what, work, write)
        )

    def _in_thread(self, what: str, work: Work[T], write: bool) -> T:
        conn = self._conn
        if conn is None:
            raise StoreError(f"cannot {what}: the store {self.path} is not open")
        try:
            result = _when_not_busy(lambda: transaction(conn, work) if write else work(conn))
        except (sqlite3.Error, UnicodeError, OverflowError, ValueError) as err:
            # sqlite3 refuses some values on its own (a lone surrogate, an int past 2**63)
            raise StoreError(f"cannot {what} in the store {self.path}: {err}") from err
        if isinstance(result, sqlite3.Cursor):
            # freed on the event loop's thread while this one uses the connection, a cursor
            # makes SQLite fail now and then with "bad parameter or other API misuse"
            raise TypeError(f"the store's work to {what} returned a cursor: return its rows")
        return result

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=0,  # busy: _when_not_busy tries again, much sooner than SQLite would
                isolation_level=None,  # autocommit: transactions are begun explicitly
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"cannot open the store {self.path}: {err}") from err
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 0")
            _use_wal(conn)
            # NORMAL in WAL mode: a committed transaction survives the process being killed
            # (kill -9), as the OS holds its pages; only a power cut may lose the last few,
            # and the file is never corrupted either way.
            conn.execute("PRAGMA synchronous = NORMAL")
            _when_not_busy(partial(transaction, conn, partial(_migrate, self.path)))
        except sqlite3.Error as err:
            conn.close()
            raise StoreError(f"cannot set up the store {self.path}: {err}") from err
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    @property
    def is_open(self) -> bool:
        return self._executor is not None

    async def open(self) -> None:
        if self._executor is not None:
            return
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._connect)
        except BaseException:  # e.g. cancelled: close the connection it may still open
            executor.submit(self._disconnect)
            executor.shutdown(wait=False)
            raise
        self._executor = executor

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        except sqlite3.Error as err:
            raise StoreError(f"cannot close the store {self.path}: {err}") from err
        finally:
            executor.shutdown(wait=False)  # idle by now: its thread ends on its own


def transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` in one write transaction, holding the write lock from the start.

    Work run with `write=False` may call this itself, to write only when a read says so.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _when_not_busy(attempt: Callable[[], T]) -> T:
    """Run `attempt`; while another process holds the lock it needs, run it again.

    Every attempt is a whole transaction (rolled back when it failed), so running it again
    is safe. The pauses block the store's thread, never the event loop.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = BUSY_FIRST_PAUSE
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as err:
            busy = err.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not secrecy
        pause = min(pause * 2, BUSY_MAX_PAUSE)


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode: readers never block the writer, processes take turns writing.

    Switching needs the file to itself; two processes creating the file together take turns.
    """
    _when_not_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())


def _migrate(path: Path, conn: sqlite3.Connection) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > sql.SCHEMA_VERSION:
        raise StoreError(
            f"the store {path} has schema version {version}, newer than this runtime's "
            f"{sql.SCHEMA_VERSION}: upgrade the runtime"
        )
    for number in range(version + 1, sql.SCHEMA_VERSION + 1):
        for statement in sql.MIGRATIONS[number]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {sql.SCHEMA_VERSION:d}")


# -- work: one statement and its result ------------------------------------------------------
def execute(statement: str, *params: object) -> Callable[[sqlite3.Connection], int]:
    """A statement to run; the work returns how many rows it changed."""
    return lambda conn: conn.execute(statement, params).rowcount


def count(statement: str) -> Callable[[sqlite3.Connection], int]:
    return lambda conn: int(conn.execute(statement).fetchone()[0])


def insert(
    conn: sqlite3.Connection, statement: str, params: Sequence[object] | Mapping[str, object]
) -> int:
    """Run an INSERT of one row and return the row's id."""
    row_id = conn.execute(statement, params).lastrowid
    if row_id is None:  # pragma: no cover - sqlite3 always sets it after an INSERT
        raise sqlite3.InterfaceError("no row id after an INSERT")
    return row_id


def fetch_one(
    statement: str, *params: object
) -> Callable[[sqlite3.Connection], sqlite3.Row | None]:
    return lambda conn: conn.execute(statement, params).fetchone()


def fetch_all(
    statement: str, params: Sequence[object] | dict[str, object]
) -> Callable[[sqlite3.Connection], list[sqlite3.Row]]:
    return lambda conn: conn.execute(statement, params).fetchall()
