"""`runtime sessions`: what people answered, listed or exported (JSON, CSV)."""

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
    sessions = add_command(
        commands,
        "sessions",
        parents=[common],
        summary="what people answered: sessions listed, or exported as JSON or CSV",
        description=(
            "Each session's PSID, account, last update (UTC) and variables, from the\n"
            "configured state. Sessions of `runtime chat` are left out unless\n"
            "--include-local. The export goes to stdout."
        ),
        examples=[
            "runtime sessions list -c bot/config.json5",
            "runtime sessions export --format csv --account shop > answers.csv",
        ],
    )
    after = config_after_action()
    actions = sessions.add_subparsers(
        title="actions", metavar="ACTION", dest="action", required=True
    )
    listing = add_command(
        actions,
        "list",
        parents=[after],
        summary="a table: PSID, account, updated, variables (cut to fit)",
        examples=["runtime sessions list --account shop"],
    )
    export = add_command(
        actions,
        "export",
        parents=[after],
        summary="every session with all its variables, to stdout",
        description=(
            "json: a list of {psid, account, updated (ISO 8601, UTC), vars}.\n"
            "csv: psid, account, updated, then a column per variable; values that are not\n"
            "strings as JSON; UTF-8 with a byte-order mark, for Excel and LibreOffice; a\n"
            "value that would start a formula (=, +, -, @) gets a leading '."
        ),
        examples=["runtime sessions export --format csv > answers.csv"],
    )
    export.add_argument(
        "--format",
        dest="export_format",
        choices=["json", "csv"],
        default="json",
        help="json (default) or csv",
    )
    for parser in (listing, export):
        parser.add_argument("--account", default=None, help="one account's only")
        parser.add_argument(
            "--include-local",
            action="store_true",
            help="include the sessions of `runtime chat`",
        )
        parser.set_defaults(handler=run, command="sessions", export_format="json")


def run(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from runtime.config.load import load_config
    from runtime.sessions_export import (
        ExportFormat,
        format_table,
        load_sessions,
        local_note,
        to_csv,
        to_json,
    )

    config = load_config(config_path(args)).config
    require_shared_state(config, "runtime sessions")
    sessions = asyncio.run(
        load_sessions(config, account_id=args.account, include_local=args.include_local)
    )
    if args.action == "list":
        print(format_table(sessions))
        return 0
    export = to_csv if ExportFormat(args.export_format) is ExportFormat.CSV else to_json
    sys.stdout.flush()
    # bytes: the export is UTF-8 whatever the terminal's encoding
    sys.stdout.buffer.write(export(sessions.kept).encode("utf-8"))
    sys.stdout.flush()
    note = local_note(sessions)
    if note is not None:
        print(f"note: {note}", file=sys.stderr)
    return 0
