"""`runtime schema`: the JSON Schema of the config, for editors' completion and checks."""

from __future__ import annotations

import argparse

from runtime.commands.common import Subparsers, add_command


def register(commands: Subparsers, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        commands,
        "schema",
        parents=[common],
        summary="print the config's JSON Schema",
        description="Generated from the same schema `runtime validate` checks with.",
        examples=["runtime schema > config.schema.json"],
    )
    parser.set_defaults(handler=run, command="schema")


def run(args: argparse.Namespace) -> int:
    import json

    from runtime.validation.jsonschema import json_schema

    print(json.dumps(json_schema("config", title="Messenger runtime config"), indent=2))
    return 0
