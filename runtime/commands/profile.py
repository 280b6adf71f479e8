"""`runtime profile sync`: the page's Messenger Profile made what the config says."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from runtime.commands.common import Subparsers, add_command, config_after_action, config_path

if TYPE_CHECKING:
    from runtime.config.model import Config
    from runtime.profile_sync import PageSync


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    profile = add_command(
        commands,
        "profile",
        parents=[common],
        summary="the page's Messenger Profile: Get Started, greeting, ice breakers, menu",
        description=(
            "`profile` in the config says what the page shows before and around a\n"
            "conversation; `runtime serve` syncs it at start too (unless profile.sync is\n"
            "false)."
        ),
        examples=["runtime profile sync -c bot/config.json5", "runtime profile sync --check"],
    )
    actions = profile.add_subparsers(
        title="actions", metavar="ACTION", dest="action", required=True
    )
    sync = add_command(
        actions,
        "sync",
        parents=[config_after_action()],
        summary="make each page's Messenger Profile match the config, writing only what differs",
        description=(
            "Reads what the page has, prints each difference (old -> new) and writes it: one\n"
            "POST of the changed fields, one DELETE of the fields set to null. A field the\n"
            "config does not mention is left alone. It also subscribes the app to the webhook\n"
            "fields the bot needs, when some are missing. Meta allows 10 profile calls per\n"
            "10 minutes a page: a page that is up to date gets no write."
        ),
        examples=[
            "runtime profile sync -c bot/config.json5",
            "runtime profile sync --account shop --dry-run",
            "runtime profile sync --check   # in CI: exit 1 when a page differs",
        ],
    )
    sync.add_argument("--account", default=None, metavar="ID", help="one account (default: all)")
    sync.add_argument(
        "--dry-run", action="store_true", help="print the differences, write nothing (exit 0)"
    )
    sync.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a page differs from the config (drift, for CI)",
    )
    sync.set_defaults(handler=run, command="profile")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from runtime.config.load import load_config
    from runtime.profile_sync import describe_sync

    config = load_config(config_path(args)).config
    write = not (args.dry_run or args.check)
    syncs = asyncio.run(sync_pages(config, account_id=args.account, write=write))
    for sync in syncs:
        print(*describe_sync(sync, write=write), sep="\n")
    failed = [sync for sync in syncs if sync.error is not None]
    if failed:
        print(
            f"runtime profile sync: {_pages(len(failed))} not synced; running it again finishes "
            "what is left",
            file=sys.stderr,
        )
        return 1
    differs = [sync for sync in syncs if sync.differs]
    if args.check and differs:
        print(
            f"runtime profile sync --check: {_pages(len(differs), 'differ')} from the config; "
            "`runtime profile sync` updates them",
            file=sys.stderr,
        )
        return 1
    return 0


async def sync_pages(config: Config, *, account_id: str | None, write: bool) -> list[PageSync]:
    """Sync (or, without `write`, compare) the page of every account, or of one."""
    from runtime.messenger.graph import GraphClient
    from runtime.pairing import check_account
    from runtime.profile_sync import sync_page

    if account_id is not None:
        check_account(config, account_id)
    accounts = [
        account
        for account in config.accounts.values()
        if account_id is None or account.id == account_id
    ]
    async with GraphClient(config.graph, pools=1) as client:
        return [await sync_page(client, account, write=write) for account in accounts]


def _pages(count: int, verb: str = "") -> str:
    """`1 page differs`, `2 pages differ`; without `verb`, `1 page`."""
    if not verb:
        return "1 page" if count == 1 else f"{count} pages"
    return f"1 page {verb}s" if count == 1 else f"{count} pages {verb}"
