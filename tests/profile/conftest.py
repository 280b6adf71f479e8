"""A bot folder whose config has a `profile`, and the fake Graph API holding its page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime.cli import main

TOKEN = "EAAG-profile-page-token-0123456789"
SHOP_TOKEN = "EAAG-profile-shop-token-9876543210"

# the flows' payload triggers: what a tap on Get Started, an ice breaker or a menu item sends
FLOWS = """{ flows: {
  welcome: { triggers: [{ payload: "GET_STARTED" }, { keywords: ["hi"] }],
             steps: [{ text: "Hi!" }] },
  pricing: { triggers: [{ payload: "PRICING" }], steps: [{ text: "From 9 EUR" }] },
  hours: { triggers: [{ payload: "HOURS" }], steps: [{ text: "9 to 5" }] },
} }"""

PROFILE = """{
  getStarted: "GET_STARTED",
  greeting: { default: "Hi {{user_first_name}}!", fr_FR: "Bonjour {{user_first_name}} !" },
  iceBreakers: [{ question: "What are your hours?", payload: "HOURS" }],
  persistentMenu: [
    { title: "Pricing", payload: "PRICING" },
    { title: "Website", url: "https://example.com/shop" },
  ],
}"""

_PLACED = re.compile(r"^config\.json5:\d+:\d+: ")


class ProfileBot:
    """`config.json5` (one page, or `accounts`) and `flows/` in the working directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config.json5"
        (root / "flows").mkdir(exist_ok=True)
        (root / "flows" / "main.json5").write_text(FLOWS, encoding="utf-8")

    def write(self, profile: str | None = PROFILE, *, extra: str = "") -> Path:
        """The config: a page whose `profile` is `profile` (JSON5), plus `extra` keys of
        channels.messenger."""
        keys = [
            f'pageAccessToken: "{TOKEN}"',
            'appSecret: "profile-app-secret"',
            'verifyToken: "profile-verify"',
            'pageId: "100000000000001"',
            'dmPolicy: "open"',
        ]
        if profile is not None:
            keys.append(f"profile: {profile}")
        if extra:
            keys.append(extra)
        self.config.write_text(
            "{ channels: { messenger: {\n  " + ",\n  ".join(keys) + "\n} }, flows: 'flows/' }\n",
            encoding="utf-8",
        )
        return self.config

    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        """`runtime <argv> -c config.json5`, in-process: exit code, stdout, stderr."""
        capsys.readouterr()
        code = main([*argv, "-c", "config.json5"])
        out, err = capsys.readouterr()
        return code, out, err

    def problems(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
        """`runtime validate`: its exit code and its lines about the profile, each
        `key.path: message` (the file, line and column left out)."""
        code, _out, err = self.run(capsys, "validate")
        lines = [_PLACED.sub("", line) for line in err.splitlines()]
        return code, [line for line in lines if ".profile" in line or "userProfileTtl" in line]


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProfileBot:
    monkeypatch.chdir(tmp_path)
    return ProfileBot(tmp_path)
