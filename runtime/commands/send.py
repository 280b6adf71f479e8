"""`runtime send`: a message to one person, under the 24-hour window rules."""

from __future__ import annotations

import argparse

from runtime.commands.common import Subparsers, add_command, config_path, require_shared_state
from runtime.messenger.tags import MESSAGE_TAGS, RETIRED_TAGS


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "send",
        parents=[common],
        summary="send a message to a person (24-hour window rules)",
        description=(
            "Within 24 hours of the person's last message it goes out as an UPDATE; later,\n"
            "only with a message tag. Checked before anything is sent; a refusal by the\n"
            "Graph API is printed with its reason."
        ),
        examples=[
            'runtime send messenger --to 1234567890 --text "Your order has shipped"',
            'runtime send messenger --to 1234567890 --text "Anna here, about your order" '
            "--tag HUMAN_AGENT --account shop",
        ],
    )
    parser.add_argument("channel", choices=["messenger"], help="the channel (messenger)")
    parser.add_argument("--to", required=True, metavar="PSID", help="the person's page-scoped id")
    parser.add_argument("--text", required=True, help="the message (split if over 2000 chars)")
    parser.add_argument(
        "--tag",
        default=None,
        metavar="TAG",
        help=f"message tag, for outside the 24-hour window: {', '.join(MESSAGE_TAGS)} "
        f"(HUMAN_AGENT: a person replying by hand, within 7 days; refused since Meta retired "
        f"them on 2026-04-27: {', '.join(RETIRED_TAGS)})",
    )
    parser.add_argument("--account", default=None, help="the page account (default: the only one)")
    parser.set_defaults(handler=run, command="send")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from runtime.build import build_bot
    from runtime.messenger.proactive import send_to

    bot = build_bot(config_path(args)).bot
    require_shared_state(bot.config, "runtime send")
    asyncio.run(send_to(bot, psid=args.to, text=args.text, account_id=args.account, tag=args.tag))
    print(f"sent to {args.to}")
    return 0
