"""`runtime pair`: who may talk to the bot: pairing requests and approved senders."""

from __future__ import annotations

import argparse

from runtime.commands.common import (
    Subparsers,
    add_command,
    config_after_action,
    config_path,
    require_shared_state,
)


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    pair = add_command(
        commands,
        "pair",
        aliases=["pairing"],
        parents=[common],
        summary="who may talk to the bot: pairing requests and approved senders",
        description=(
            "Under dmPolicy 'pairing' a stranger's first message gets a code and nothing\n"
            "else; approving the code lets them talk to the bot. Changes reach a running\n"
            "server at once."
        ),
        examples=[
            "runtime pair list messenger -c bot/config.json5",
            "runtime pair approve messenger ABCD2345",
            "runtime pair revoke messenger 1234567890",
        ],
    )
    after = config_after_action()
    actions = pair.add_subparsers(title="actions", metavar="ACTION", dest="action", required=True)

    def action(name: str, summary: str, example: str) -> argparse.ArgumentParser:
        parser = add_command(actions, name, parents=[after], summary=summary, examples=[example])
        parser.add_argument("channel", choices=["messenger"], help="the channel (messenger)")
        parser.set_defaults(
            handler=run, command="pair", argument=None, account=None, approved=False
        )
        return parser

    listing = action(
        "list",
        "pending pairing requests (code, account, PSID, age, expiry)",
        "runtime pair list messenger --approved",
    )
    listing.add_argument("--account", default=None, help="one account's only")
    listing.add_argument("--approved", action="store_true", help="approved senders instead")
    for name, verb in (("approve", "approve the sender of"), ("deny", "drop the request of")):
        parser = action(name, f"{verb} a pairing code", f"runtime pair {name} messenger ABCD2345")
        # nargs="+": a code typed with a space in it (`abcd efgh`) is one code
        parser.add_argument("argument", nargs="+", metavar="CODE")
    revoke = action(
        "revoke", "withdraw a sender's approval", "runtime pair revoke messenger 1234567890"
    )
    revoke.add_argument("argument", metavar="PSID")
    revoke.add_argument("--account", default=None, help="the account (default: where approved)")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from runtime.config.load import load_config
    from runtime.pairing import PairAction, run_pair_command

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
            now=time.time(),
        )
    )
    print(output)
    return 0
