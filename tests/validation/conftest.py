"""A bot folder in tmp_path: a minimal config, flow files written by the test, then a build."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.build import BuiltBot, build_bot
from runtime.errors import ConfigError

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

    def errors(self) -> list[str]:
        """The build's problems, one formatted line each; the build must fail."""
        with pytest.raises(ConfigError) as caught:
            self.build()
        return [problem.format() for problem in caught.value.problems]

    def warnings(self) -> list[str]:
        """The warnings about flow files (not the config's own) of a build that succeeds."""
        return [
            problem.format()
            for problem in self.build().warnings
            if problem.file.startswith("flows/")
        ]


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BotFolder:
    monkeypatch.chdir(tmp_path)
    return BotFolder(tmp_path)


def one_flow(steps: str, *, triggers: str = '[{ payload: "GO" }]', name: str = "main") -> str:
    """A flow file holding one flow, for tests about what is inside a step."""
    return f"{{ flows: {{ {name}: {{ triggers: {triggers}, steps: [{steps}] }} }} }}"
