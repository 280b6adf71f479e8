"""`runtime pair`: who may talk to the bot: pairing requests, approved and blocked senders."""

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
    from runtime.pairing import PairAction


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    pair = add_command(
        commands,
        "pair",
        aliases=["pairing"],
        parents=[common],
        summary="who may talk to the bot: pairing requests, approved and blocked senders",
        description=(
            "Under dmPolicy 'pairing' a stranger's first message gets a code and nothing\n"
            "else; approving the code lets them talk to the bot. A blocked person gets\n"
            "nothing at all, under every dmPolicy, until unblocked. Changes reach a running\n"
            "server at once."
        ),
        examples=[
            "runtime pair list messenger -c bot/config.json5",
            "runtime pair approve messenger ABCD2345",
            "runtime pair deny messenger ABCD2345 --block",
            "runtime pair block messenger 1234567890 --account shop",
        ],
    )
    after = config_after_action()
    actions = pair.add_subparsers(title="actions", metavar="ACTION", dest="action", required=True)

    def action(name: str, summary: str, example: str) -> argparse.ArgumentParser:
        parser = add_command(actions, name, parents=[after], summary=summary, examples=[example])
        parser.add_argument("channel", choices=["messenger"], help="the channel (messenger)")
        parser.set_defaults(
            handler=run,
            command="pair",
            argument=None,
            account=None,
            approved=False,
            blocked=False,
            block=False,
        )
        return parser

    listing = action(
        "list",
        "pending pairing requests (code, account, PSID, age, expiry)",
        "runtime pair list messenger --blocked",
    )
    listing.add_argument("--account", default=None, help="one account's only")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--approved", action="store_true", help="approved senders instead")
    which.add_argument("--blocked", action="store_true", help="blocked senders instead")
    approve = action(
        "approve", "approve the sender of a pairing code", "runtime pair approve messenger ABCD2345"
    )
    deny = action(
        "deny",
        "drop the request of a pairing code (--block: and block its sender)",
        "runtime pair deny messenger ABCD2345 --block",
    )
    for parser in (approve, deny):
        # nargs="+": a code typed with a space in it (`abcd efgh`) is one code
        parser.add_argument("argument", nargs="+", metavar="CODE")
    deny.add_argument(
        "--block",
        action="store_true",
        help="block the sender too: no new code, nothing at all, until unblocked",
    )
    for name, summary, default in (
        ("revoke", "withdraw a sender's approval", "where approved"),
        ("block", "block a sender: nothing is sent to them, ever, until unblocked", "where seen"),
        ("unblock", "lift a sender's block", "where blocked"),
    ):
        parser = action(name, summary, f"runtime pair {name} messenger 1234567890")
        parser.add_argument("argument", metavar="PSID")
        parser.add_argument("--account", default=None, help=f"the account (default: {default})")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from runtime.config.load import load_config
    from runtime.pairing import PairAction

    argument = " ".join(args.argument) if isinstance(args.argument, list) else args.argument
    config = load_config(config_path(args)).config
    require_shared_state(config, "runtime pair")
    output = asyncio.run(
        run_pair_command(
            config,
            PairAction(args.action),
            argument=argument,
            account_id=args.account,
            approved=args.approved,
            blocked=args.blocked,
            block=args.block,
            now=time.time(),
        )
    )
    print(output)
    return 0


async def run_pair_command(
    config: Config,
    action: PairAction,
    *,
    argument: str | None = None,
    account_id: str | None = None,
    approved: bool = False,
    blocked: bool = False,
    block: bool = False,
    now: float,
) -> str:
    """Open the config's store, do one `runtime pair` action, close it; return the output.

    `argument` is the code (approve, deny) or the PSID (revoke, block, unblock). Raises
    PairingError and UnknownAccountError (the owner's mistakes) and StoreError.
    """
    from runtime import blocks, pairing
    from runtime.config.accounts import normalize_psid
    from runtime.pairing import PairAction
    from runtime.store.factory import open_store

    store = await open_store(config.state)
    try:
        if action is PairAction.LIST:
            if approved:
                senders = await pairing.list_approved(store, config, account_id=account_id)
                return pairing.format_approved(senders, now=now)
            if blocked:
                blocked_senders = await blocks.list_blocked(store, config, account_id=account_id)
                return blocks.format_blocked(blocked_senders, now=now)
            requests = await pairing.list_requests(store, config, account_id=account_id, now=now)
            return pairing.format_requests(requests, now=now)
        if action is PairAction.APPROVE:
            return pairing.format_approval(
                await pairing.approve(store, config, argument or "", now=now)
            )
        if action is PairAction.DENY:
            request = await pairing.deny(store, argument or "", now=now, block=block)
            return pairing.format_denial(request, blocked=block)
        psid = normalize_psid(argument or "")
        if action is PairAction.BLOCK:
            done = await blocks.block(store, config, psid, account_id=account_id, now=now)
            return blocks.format_block(config, done)
        if action is PairAction.UNBLOCK:
            account = await blocks.unblock(store, config, psid, account_id=account_id)
            return blocks.format_unblock(config, psid, account)
        account = await pairing.revoke(store, config, psid, account_id=account_id)
        return pairing.format_revoke(config, psid, account)
    finally:
        await store.close()
