"""`runtime chat`: talk to the bot in the terminal, with no Messenger and no secrets."""

from __future__ import annotations

import argparse
import sys

from runtime.commands.common import Subparsers, add_command, config_path


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "chat",
        parents=[common],
        summary="talk to the bot in the terminal, without Messenger",
        description=(
            "Quick replies and buttons become numbered choices: type the number to tap one.\n"
            "The session is kept in the configured state, so an `ask` waits across runs.\n"
            "Needs no token and no appSecret; type /help inside for commands. An http step\n"
            "makes its real call (its ${VAR} from the environment), shown on a line of its own."
        ),
        examples=[
            "runtime chat -c bot/config.json5",
            "runtime chat --as 1234567890 --account shop -c bot/config.json5",
            "runtime chat --user first_name=Ada --user locale=en_GB",
            "runtime chat --locale fr_FR",
        ],
    )
    parser.add_argument(
        "--as", dest="psid", default=None, metavar="PSID", help="who you are (default: chat-local)"
    )
    parser.add_argument(
        "--account", default=None, help="the account to talk to (default: the first)"
    )
    parser.add_argument(
        "--user",
        dest="profile",
        action="append",
        type=_profile_field,
        default=[],
        metavar="FIELD=VALUE",
        help=(
            "a profile field the templates see as user.FIELD, as Meta would give it "
            "(first_name, last_name, name, profile_pic, locale, timezone); repeat for more. "
            "Never asked of Meta: without it, user.first_name is undefined"
        ),
    )
    parser.add_argument(
        "--locale",
        type=_locale,
        default=None,
        metavar="LOCALE",
        help=(
            "your profile's locale, as Meta gives it (fr_FR; or a language alone: fr): the "
            "texts come in its language, unless a flow sets vars.locale; /locale changes it"
        ),
    )
    parser.set_defaults(handler=run, command="chat")


def run(args: argparse.Namespace) -> int:
    from runtime.build import build_bot
    from runtime.chat import CHAT_PSID, chat
    from runtime.testing.conversation import choose_account

    profile = dict(args.profile)
    if args.locale is not None:
        given = profile.setdefault("locale", args.locale)
        if given != args.locale:
            print(
                f"runtime chat: --locale {args.locale} and --user locale={given} disagree:"
                " a person has one profile locale; give it once",
                file=sys.stderr,
            )
            return 2
    bot = build_bot(config_path(args), offline=True).bot
    account = choose_account(bot, args.account)
    return chat(bot, account, args.psid or CHAT_PSID, user=profile)


def _profile_field(text: str) -> tuple[str, object]:
    from runtime.chat import read_profile_field

    try:
        return read_profile_field(text)
    except ValueError as err:  # argparse says it: `argument --user: ...`, exit 2
        raise argparse.ArgumentTypeError(str(err)) from None


def _locale(text: str) -> str:
    from runtime.chat_locale import read_locale

    try:
        return read_locale(text)
    except ValueError as err:  # argparse says it: `argument --locale: ...`, exit 2
        raise argparse.ArgumentTypeError(str(err)) from None
