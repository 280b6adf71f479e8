"""Building a Bot from a config file, with every file it names read and checked.

`build_bot` does it once. `BotBuilder` does it again and again (hot reload): it keeps the
parsed and compiled flow files, so a rebuild reads and compiles only the files that changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime.bot import Bot
from runtime.compiler import CompileCache, compile_bot, link_flows
from runtime.config.json5file import Document, locate
from runtime.config.load import check_config, is_flows_error
from runtime.config.model import Config
from runtime.errors import ConfigError
from runtime.flowfiles import FlowFileCache, read_flow_files
from runtime.validation.problems import Problem


@dataclass(frozen=True, slots=True)
class BuiltBot:
    bot: Bot
    warnings: tuple[Problem, ...]


class BotBuilder:
    """Builds the Bot of one config file; each build reuses what the files left unchanged."""

    def __init__(
        self,
        config_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        offline: bool = False,
        adjust: Callable[[Config], Config] | None = None,
    ) -> None:
        """`adjust` changes each build's config before the flows are compiled against it:
        the emulator points the Graph API at its stand-in that way, on every reload too."""
        self.config_path = config_path
        self.env = env
        self.offline = offline
        self.adjust = adjust
        self.files = FlowFileCache()
        self.compiled = CompileCache()

    def build(self) -> BuiltBot:
        """Load the config, read the flows, compile.

        Raises ConfigError with every problem of every file: the flows are read and checked
        even when the config has errors (unless its `flows` setting is one). A
        ConfigReadError when a file among them cannot be read (missing, no permission, a
        link to nothing).
        """
        checked = check_config(self.config_path, env=self.env, offline=self.offline)
        problems = list(checked.problems)
        documents: list[Document] = []
        if checked.flow_sources is None:
            problems = _flows_not_read(problems)
        else:
            documents, found = read_flow_files(self.config_path, checked.flow_sources, self.files)
            problems.extend(found)
        bot: Bot | None = None
        if checked.config is None:
            problems.extend(link_flows(documents, self.compiled).problems)
        else:
            config = checked.config if self.adjust is None else self.adjust(checked.config)
            bot, compile_problems = compile_bot(config, documents, self.compiled, env=self.env)
            problems.extend(compile_problems)
        # checks name key paths; here every problem of every file gets its line and column
        problems = locate(problems, checked.document, *documents)
        errors = [problem for problem in problems if problem.is_error]
        if bot is None or errors:
            raise ConfigError(errors)
        return BuiltBot(bot=bot, warnings=tuple(problems))


def _flows_not_read(problems: list[Problem]) -> list[Problem]:
    """The first error of the `flows` setting says that the flow files were not checked."""
    first = next(number for number, problem in enumerate(problems) if is_flows_error(problem))
    message = f"{problems[first].message}; the flow files are not read until this is right"
    return [
        *problems[:first],
        dataclasses.replace(problems[first], message=message),
        *problems[first + 1 :],
    ]


def build_bot(
    config_path: Path, *, env: Mapping[str, str] | None = None, offline: bool = False
) -> BuiltBot:
    """Build once; raises ConfigError with every problem found.

    `offline`: for commands that send nothing (chat, test, validate --offline), what only
    production needs (tokens, secrets, `${VAR}`s) is a warning when it is missing.
    """
    return BotBuilder(config_path, env=env, offline=offline).build()
