"""ProfileKeeper: `runtime serve`'s profile sync, in the background, once per server.

At start, every account with a `profile` (unless `profile.sync` is false) is synced; after a
reload, only the accounts whose profile, token or page changed: a flows-only reload costs no
Graph call. Syncs run one after the other in a task of their own, never in a webhook's way;
each ends in one log line, and a failure is only logged. A sync refused for too many calls
is tried again once RATE_LIMIT_WAIT has passed (Meta counts 10 profile calls per 10 minutes
a page).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Final

from runtime.background import cancel_and_wait
from runtime.config.model import Account
from runtime.messenger.graph import GraphClient
from runtime.messenger.profile import SYNC_KEY
from runtime.profile_sync import summary_line, sync_page

logger = logging.getLogger("runtime.profile")

RATE_LIMIT_WAIT: Final = 600.0  # seconds: Meta's window for its 10 profile calls a page


def synced_by_serve(account: Account) -> bool:
    """An account whose page `runtime serve` keeps in sync: a profile without `sync: false`."""
    return account.profile is not None and account.profile.get(SYNC_KEY, True) is not False


class ProfileKeeper:
    """Syncs the pages of `accounts()` (the serving Bot's, read when a sync starts)."""

    def __init__(
        self,
        client: GraphClient,
        accounts: Callable[[], Mapping[str, Account]],
        *,
        retry_after: float = RATE_LIMIT_WAIT,
    ) -> None:
        self._client = client
        self._accounts = accounts
        self._retry_after = retry_after
        self._pending: list[str] = []  # account ids, in the order they were asked for
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._retries: list[asyncio.TimerHandle] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sync every account's page that asks for it, then wait for `follow`."""
        self._task = asyncio.create_task(self._run(), name="profile-sync")
        self._ask(list(self._accounts()))

    def follow(self, old: Mapping[str, Account], new: Mapping[str, Account]) -> None:
        """A reload swapped `old` accounts for `new`: sync the pages whose profile, token or
        page id changed (a new account's too)."""
        changed = [
            account_id
            for account_id, account in new.items()
            if account_id not in old or _synced_state(old[account_id]) != _synced_state(account)
        ]
        self._ask(changed)

    async def settled(self) -> None:
        """Wait until no sync is asked for or running (a rate-limited retry may come later)."""
        await self._idle.wait()

    async def stop(self) -> None:
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()
        await cancel_and_wait(self._task)
        self._task = None

    def _ask(self, account_ids: list[str]) -> None:
        accounts = self._accounts()
        wanted = [
            account_id
            for account_id in account_ids
            if account_id in accounts and synced_by_serve(accounts[account_id])
        ]
        for account_id in wanted:
            if account_id not in self._pending:
                self._pending.append(account_id)
        if self._pending:
            self._idle.clear()
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                account = self._accounts().get(self._pending.pop(0))
                if account is not None and synced_by_serve(account):
                    await self._sync(account)
            self._idle.set()

    async def _sync(self, account: Account) -> None:
        try:
            result = await sync_page(self._client, account, write=True)
        except Exception:  # the server serves on, whatever a sync does
            logger.exception("Messenger Profile of account %s: sync failed", account.label)
            return
        logger.log(logging.ERROR if result.error else logging.INFO, "%s", summary_line(result))
        if result.rate_limited:
            logger.info(
                "Messenger Profile of account %s: trying again in %.0f minutes",
                account.label,
                self._retry_after / 60,
            )
            loop = asyncio.get_running_loop()
            self._retries.append(loop.call_later(self._retry_after, self._ask, [account.id]))


def _synced_state(account: Account) -> tuple[object, ...]:
    """What a sync of the account's page depends on."""
    return (account.profile, account.page_access_token.reveal(), account.page_id)
