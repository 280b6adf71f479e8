"""A bot folder with texts written every way a file writes them, and `runtime texts` run on it
through the real command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import json5
import pytest

from runtime.cli import main

# odd on purpose: comments, single quotes, a quoted key, spacing, trailing commas or not
WELCOME = """\
// The welcome flow: comments stay where they are.
{
  flows: {
    welcome: {
      triggers: [{ keywords: ['hi', "hello"] }, { payload: "GO" }],
      steps: [
        { text:   'Hi {{ user.first_name }}!' ,   // single quotes, odd spacing
          quick_replies: [
            { title: "Pricing", payload: "PRICING", },   // trailing commas
            {title:'Help',payload:'HELP'}
          ],
        },
        {
          "text": ["Nice to see you.", "Good to see you."],  // variations
        },
        {
          ask: {
            default: "Your email?",
            fr: "Votre e-mail ?", // every French reader's
          },
          save_as: "email",
          retry: { default: "An email, please.", fr_FR: "Un e-mail, svp." },
        },
      ],
    },
    help: { triggers: [{ payload: "HELP" }, { payload: "PRICING" }], steps: [{ goto: "welcome" }] },
  },
}
"""

CONFIG = """\
{
  channels: {
    messenger: {
      pageAccessToken: "t", verifyToken: "v", appSecret: "s",
      pairingMessage: "Your code: {{ code }}",
      profile: {
        getStarted: "GO",
        greeting: "Hello!",
        iceBreakers: [
          { question: "Prices?", payload: "PRICING" },
          { question: "Help?", payload: "HELP" },
        ],
        persistentMenu: [{ title: "Pricing", payload: "PRICING" }],
      },
    },
  },
  flows: "flows/",
}
"""


@dataclass(frozen=True, slots=True)
class Ran:
    code: int
    out: str
    err: str


@dataclass
class Bot:
    """`config.json5` and `flows/` in the working directory."""

    root: Path
    capsys: pytest.CaptureFixture[str]

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        return path

    def read(self, name: str) -> str:
        return (self.root / name).read_bytes().decode("utf-8")

    def files(self) -> dict[str, bytes]:
        """Every file of the folder, as bytes: to show that nothing was written."""
        return {
            str(path.relative_to(self.root)): path.read_bytes()
            for path in sorted(self.root.rglob("*"))
            if path.is_file()
        }

    def run(self, *args: str) -> Ran:
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    def export(self, locale: str, *more: str) -> dict[str, object]:
        """`runtime texts export --locale ...`'s document, parsed; it must succeed."""
        ran = self.run("texts", "export", "--locale", locale, *more)
        assert ran.code == 0, ran.err
        exported: dict[str, object] = json5.loads(ran.out)
        return exported

    def translations(self, locale: str | None, texts: dict[str, dict[str, object]]) -> Path:
        """A filled-in export, `fr.json5` beside the bot (not inside `flows/`)."""
        document = {"locale": locale, "texts": texts}
        return self.write("fr.json5", json5.dumps(document, ensure_ascii=False, indent=2))

    def import_(self, *args: str) -> Ran:
        return self.run("texts", "import", *args)


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Bot:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNTIME_CONFIG", raising=False)
    folder = Bot(tmp_path, capsys)
    folder.write("config.json5", CONFIG)
    folder.write("flows/welcome.json5", WELCOME)
    return folder
