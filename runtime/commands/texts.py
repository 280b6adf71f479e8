"""`runtime texts`: a translator's round trip: export every text for a locale, import it back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runtime.commands.common import (
    Subparsers,
    add_command,
    config_after_action,
    config_path,
    print_problems,
)


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    texts = add_command(
        commands,
        "texts",
        parents=[common],
        summary="translate the bot: export its texts for a locale, import the translations",
        description=(
            "`export` prints every text a person reads (steps, quick replies, buttons, cards,\n"
            "asks, retries, pairing and approval messages, the page's greeting, ice breakers\n"
            "and menu) as JSON5: each with its file, key path and `default` text, and the\n"
            "locale's text or null. `import` writes the filled-in values back into those\n"
            "files, keeping the rest of each file as it is written (comments, order, quotes,\n"
            "spacing), then validates the bot. It writes nothing when a text or file of the\n"
            "import is not in the bot any more, or a value is not a text."
        ),
        examples=[
            "runtime texts export --locale fr_FR -c bot/config.json5 > fr.json5",
            "runtime texts export --locale fr_FR --missing > fr.json5   # only what is left",
            "runtime texts import fr.json5 -c bot/config.json5 --dry-run",
        ],
    )
    after = config_after_action()
    actions = texts.add_subparsers(title="actions", metavar="ACTION", dest="action", required=True)
    export = add_command(
        actions,
        "export",
        parents=[after],
        summary="print every text for a locale as JSON5, with its default beside it",
        examples=["runtime texts export --locale fr_FR > fr.json5"],
    )
    export.add_argument(
        "--locale",
        required=True,
        type=_locale,
        help="the locale to translate into, as Meta writes it (fr_FR) or a language (fr)",
    )
    export.add_argument(
        "--missing",
        action="store_true",
        help="only the texts nothing of the locale serves yet (an fr text serves fr_FR)",
    )
    export.set_defaults(handler=run_export, command="texts")
    into = add_command(
        actions,
        "import",
        parents=[after],
        summary="write a filled-in export into the config and flow files",
        examples=["runtime texts import fr.json5 -c bot/config.json5"],
    )
    into.add_argument("file", type=Path, help="the filled-in export")
    into.add_argument(
        "--dry-run", action="store_true", help="print the changes as a diff; write nothing"
    )
    into.set_defaults(handler=run_import, command="texts")


def _locale(value: str) -> str:
    from runtime.locales import DEFAULT_LOCALE
    from runtime.texts_io.import_file import is_text_locale

    if value == DEFAULT_LOCALE or not is_text_locale(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a locale: write it as Meta does (fr_FR), or a language alone (fr)"
        )
    return value


def run_export(args: argparse.Namespace) -> int:
    from runtime.texts_io.catalog import read_catalog
    from runtime.texts_io.export import export_texts

    path = config_path(args)
    catalog = read_catalog(path)
    exported = export_texts(catalog, args.locale, missing_only=args.missing, config_shown=str(path))
    sys.stdout.write(exported.text)
    print(f"{exported.listed} texts; {exported.missing} without {args.locale}", file=sys.stderr)
    if catalog.locales and args.locale == catalog.locales[0]:
        print(
            f"note: {args.locale} is the first of `locales`: the language `default` texts are"
            " written in",
            file=sys.stderr,
        )
    elif catalog.locales and args.locale not in catalog.locales:
        print(
            f"note: {args.locale} is not in `locales`, so runtime validate does not check that"
            " every text has it; add it there",
            file=sys.stderr,
        )
    return 0


def run_import(args: argparse.Namespace) -> int:
    from runtime.build import build_bot
    from runtime.commands.validate import summary
    from runtime.errors import ConfigError, ConfigReadError
    from runtime.texts_io.catalog import read_catalog
    from runtime.texts_io.import_file import read_translations
    from runtime.texts_io.writer import plan_import, write_plan

    path = config_path(args)
    catalog = read_catalog(path)
    try:
        translations = read_translations(args.file)
    except ConfigError as err:
        print_problems(err.problems, as_json=False)
        print(f"{args.file}: nothing was written", file=sys.stderr)
        return 2 if isinstance(err, ConfigReadError) else 1
    plan = plan_import(catalog, translations)
    print_problems(plan.problems, as_json=False)
    if plan.errors:
        print(f"{translations.file}: nothing was written", file=sys.stderr)
        return 1
    for name, change in plan.changes.items():
        print(f"{name}: {change.texts} text{'' if change.texts == 1 else 's'}")
        if args.dry_run:
            sys.stdout.write(change.diff(name))
    left = [
        f"{plan.unchanged} already there" if plan.unchanged else "",
        f"{plan.untranslated} untranslated" if plan.untranslated else "",
        f"{plan.skipped} skipped" if plan.skipped else "",
    ]
    verb = "to write (--dry-run: nothing written)" if args.dry_run else "written"
    print("; ".join([f"{plan.locale}: {plan.written} texts {verb}", *filter(None, left)]))
    if args.dry_run:
        return 0
    write_plan(plan)
    try:
        built = build_bot(path, offline=True)
    except ConfigError as err:
        print_problems(err.problems, as_json=False)
        print(f"{path}: invalid after the import: fix the problems above", file=sys.stderr)
        return 1
    print_problems(built.warnings, as_json=False)
    print(f"{path}: valid ({summary(built.bot, len(built.warnings))})")
    return 0
