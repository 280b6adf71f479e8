"""A bot folder in tmp_path: a minimal config, flow files written by the test, then a build."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from runtime.build import BuiltBot, build_bot
from runtime.errors import ConfigError
from runtime.validation.problems import Problem

CONFIG = (
    '{ channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s" } },'
    ' flows: "flows/" }'
)


class BotFolder:
    """`config.json5` and `flows/` in the working directory, so messages name `flows/x.json5`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = Path("config.json5")
        self.write("config.json5", CONFIG)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def flow(self, text: str, name: str = "main.json5") -> Path:
        """Write `flows/<name>`."""
        return self.write(f"flows/{name}", text)

    def build(self) -> BuiltBot:
        return build_bot(self.config_path, env={})

    def errors(self, *, placed: bool = False) -> list[str]:
        """The build's problems, one formatted line each; the build must fail.

        Without their line and column unless `placed`: these tests are about what is said
        and at which key path; test_problem_positions.py is about where.
        """
        with pytest.raises(ConfigError) as caught:
            self.build()
        show = Problem.format if placed else unplaced
        return [show(problem) for problem in caught.value.problems]

    def warnings(self) -> list[str]:
        """The warnings about flow files (not the config's own) of a build that succeeds."""
        return [
            unplaced(problem)
            for problem in self.build().warnings
            if problem.file.startswith("flows/")
        ]


def unplaced(problem: Problem) -> str:
    """`file: key.path: message`: the problem's line without its line and column."""
    return dataclasses.replace(problem, line=None, column=None).format()


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BotFolder:
    monkeypatch.chdir(tmp_path)
    return BotFolder(tmp_path)


def one_flow(steps: str, *, triggers: str = '[{ payload: "GO" }]', name: str = "main") -> str:
    """A flow file holding one flow, for tests about what is inside a step."""
    return f"{{ flows: {{ {name}: {{ triggers: {triggers}, steps: [{steps}] }} }} }}"
