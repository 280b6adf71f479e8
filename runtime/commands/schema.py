"""`runtime schema`: the JSON Schema of the config or of flow files, for editors' completion
and checks."""

from __future__ import annotations

import argparse

from runtime.commands.common import Subparsers, add_command


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "schema",
        parents=[common],
        summary="print the JSON Schema of the config (or, with --flows, of flow files)",
        description=(
            "Generated from the same schemas `runtime validate` checks with. A file whose\n"
            '`$schema` names it (`$schema: "config.schema.json"`) gets completion and checks\n'
            "in editors that read JSON Schema."
        ),
        examples=[
            "runtime schema > config.schema.json",
            "runtime schema --flows > flows/flow.schema.json",
        ],
    )
    parser.add_argument(
        "--flows", action="store_true", help="the schema of flow files instead of the config's"
    )
    parser.set_defaults(handler=run, command="schema")


def run(args: argparse.Namespace) -> int:
    import json

    from runtime.validation.jsonschema import json_schema

    if args.flows:
        schema = json_schema("flow", title="Messenger runtime flow file")
    else:
        schema = json_schema("config", title="Messenger runtime config")
    print(json.dumps(schema, indent=2))
    return 0
