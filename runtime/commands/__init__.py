"""The commands wing: one module per `runtime` subcommand.

Each module has `register(commands, common)`, which adds its argparse parser (a one-line
summary, a description, examples) and sets `handler=run`, and `run(args) -> int`, the exit
code. Modules import what their command needs inside `run`, so `runtime --help` and a
command's start stay quick. `runtime.cli` is only the argparse face that lists them.
"""
