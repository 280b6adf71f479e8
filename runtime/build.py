"""build_bot: a config file in, a Bot out, with every file it names read and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime.bot import Bot
from runtime.compiler import compile_bot
from runtime.config.load import load_config
from runtime.errors import ConfigError
from runtime.flowfiles import FlowFileCache, read_flow_files
from runtime.validation.problems import Problem


@dataclass(frozen=True, slots=True)
class BuiltBot:
    bot: Bot
    warnings: tuple[Problem, ...]


def build_bot(
    config_path: Path, *, env: Mapping[str, str] | None = None, cache: FlowFileCache | None = None
) -> BuiltBot:
    """Load the config, read the flows, compile. Raises ConfigError with every problem found.

    `cache` keeps parsed flow files between calls, so a reload parses only what changed.
    """
    loaded = load_config(config_path, env=env)
    documents, problems = read_flow_files(loaded.config, cache)
    bot, compile_problems = compile_bot(loaded.config, documents)
    problems.extend(compile_problems)
    errors = [problem for problem in problems if problem.is_error]
    if bot is None or errors:
        raise ConfigError(errors)
    warnings = [*loaded.warnings, *(problem for problem in problems if not problem.is_error)]
    return BuiltBot(bot=bot, warnings=tuple(warnings))
