"""`runtime outbox`: replies waiting to be sent, and dead letters to send again."""

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
    outbox = add_command(
        commands,
        "outbox",
        parents=[common],
        summary="replies waiting to be sent, and dead letters",
        description=(
            "A reply the Graph API refused for good (a blocked person, an expired token...)\n"
            "becomes a dead letter with the reason; `retry` queues it again."
        ),
        examples=["runtime outbox list -c bot/config.json5", "runtime outbox retry 12"],
    )
    actions = outbox.add_subparsers(title="actions", metavar="ACTION", dest="action", required=True)
    listing = add_command(
        actions,
        "list",
        parents=[config_after_action()],
        summary="waiting replies and dead letters",
        description="Each with its id, person, age and, for a dead letter, the reason.",
        examples=["runtime outbox list -c bot/config.json5"],
    )
    listing.set_defaults(handler=run, command="outbox", dead_letter=None)
    retry = add_command(
        actions,
        "retry",
        parents=[config_after_action()],
        summary="send a dead letter again",
        description="ID is the dead letter's id, as `runtime outbox list` shows it.",
        examples=["runtime outbox retry 12"],
    )
    retry.add_argument("dead_letter", type=int, metavar="ID")
    retry.set_defaults(handler=run, command="outbox")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from runtime.config.load import load_config
    from runtime.deadletters import list_outbox, retry_dead_letter

    config = load_config(config_path(args)).config
    require_shared_state(config, "runtime outbox")
    if args.dead_letter is None:
        output = asyncio.run(list_outbox(config, now=time.time()))
    else:
        output = asyncio.run(retry_dead_letter(config, args.dead_letter, now=time.time()))
    print(output)
    return 0
