"""Building a Bot from a config file, with every file it names read and checked.

`build_bot` does it once. `BotBuilder` does it again and again (hot reload): it keeps the
parsed and compiled flow files, so a rebuild reads and compiles only the files that changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime.bot import Bot
from runtime.compiler import CompileCache, compile_bot
from runtime.config.load import load_config
from runtime.errors import ConfigError
from runtime.flowfiles import FlowFileCache, read_flow_files
from runtime.validation.problems import Problem


@dataclass(frozen=True, slots=True)
class BuiltBot:
    bot: Bot
    warnings: tuple[Problem, ...]


class BotBuilder:
    """Builds the Bot of one config file; each build reuses what the files left unchanged."""

    def __init__(self, config_path: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.config_path = config_path
        self.env = env
        self.files = FlowFileCache()
        self.compiled = CompileCache()

    def build(self) -> BuiltBot:
        """Load the config, read the flows, compile.

        Raises ConfigError with every problem: a ConfigReadError when a file among them
        cannot be read (missing, no permission, a link to nothing).
        """
        loaded = load_config(self.config_path, env=self.env)
        documents, problems = read_flow_files(loaded.config, self.files)
        bot, compile_problems = compile_bot(loaded.config, documents, self.compiled)
        problems.extend(compile_problems)
        errors = [problem for problem in problems if problem.is_error]
        if bot is None or errors:
            raise ConfigError(errors)
        warnings = [*loaded.warnings, *(problem for problem in problems if not problem.is_error)]
        return BuiltBot(bot=bot, warnings=tuple(warnings))


def build_bot(
    config_path: Path, *, env: Mapping[str, str] | None = None, offline: bool = False
) -> BuiltBot:
    """Build once; raises ConfigError with every problem found.

    `offline`: for commands that send nothing (chat, test, validate --offline), what only
    production needs (tokens, secrets, `${VAR}`s) is a warning when it is missing.
    """
    del offline  # the offline loading itself lands in the next commits
    return BotBuilder(config_path, env=env).build()
