"""`runtime handover`: who is with a human, and taking a thread back for the bot."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from runtime.commands.common import (
    Subparsers,
    add_command,
    config_after_action,
    config_path,
    require_shared_state,
)

if TYPE_CHECKING:
    from runtime.config.model import Config


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    handover = add_command(
        commands,
        "handover",
        parents=[common],
        summary="who is with a human (after a handover step), and taking a thread back",
        description=(
            "A `handover` step passes a person's thread to the Page Inbox (or another app):\n"
            "the bot answers nothing from them until the thread comes back, from the inbox\n"
            "or with `take`. Works beside a running server, on the same state."
        ),
        examples=[
            "runtime handover list -c bot/config.json5",
            "runtime handover take 2000000000000001 --account shop",
        ],
    )
    actions = handover.add_subparsers(
        title="actions", metavar="ACTION", dest="action", required=True
    )
    listing = add_command(
        actions,
        "list",
        parents=[config_after_action()],
        summary="who is with a human: account, PSID, which app, since when, the note",
        examples=["runtime handover list --account shop --json"],
    )
    listing.add_argument("--account", default=None, help="one account's only")
    listing.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    listing.set_defaults(handler=run, command="handover", psid=None)
    take = add_command(
        actions,
        "take",
        parents=[config_after_action()],
        summary="take a person's thread back for the bot (take_thread_control)",
        description=(
            "The call is queued in the outbox and the running server sends it, after\n"
            "anything queued for the person before it; the bot answers their next message."
        ),
        examples=["runtime handover take 2000000000000001"],
    )
    take.add_argument("psid", metavar="PSID")
    take.add_argument("--account", default=None, help="the account (default: where they are)")
    take.set_defaults(handler=run, command="handover", json=False)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from runtime.config.load import load_config

    config = load_config(config_path(args)).config
    require_shared_state(config, "runtime handover")
    output = asyncio.run(
        run_handover_command(
            config, args.action, psid=args.psid, account_id=args.account, as_json=args.json
        )
    )
    print(output)
    return 0


async def run_handover_command(
    config: Config, action: str, *, psid: str | None, account_id: str | None, as_json: bool
) -> str:
    """Open the config's store, list or take, close it; return the output."""
    import time

    from runtime import handover
    from runtime.config.accounts import normalize_psid
    from runtime.store.factory import open_store

    now = time.time()
    store = await open_store(config.state)
    try:
        if action == "list":
            sessions = await handover.with_a_human(store, config, account_id=account_id)
            return (
                handover.list_json(sessions) if as_json else handover.format_list(sessions, now=now)
            )
        taken = await handover.take(
            store, config, normalize_psid(psid or ""), account_id=account_id, now=now
        )
        return handover.format_taken(taken, now=now)
    finally:
        await store.close()
