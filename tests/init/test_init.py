"""`runtime init [DIR]`: a new bot that validates, chats and passes its own test as written."""

from __future__ import annotations

import json
from pathlib import Path

import json5
import pytest

from runtime.cli import main
from tests.testing.quickstart import run_runtime

FILES = [
    "config.json5",
    "config.schema.json",
    "flows/fallback.json5",
    "flows/welcome.json5",
    "tests/welcome.json5",
]
GREETING = "bot: Hi there! How can I help?"


def written(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_init_writes_a_bot_and_says_what_to_type_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = tmp_path / "mybot"  # made, parents and all
    assert main(["init", str(bot)]) == 0
    out, err = capsys.readouterr()
    assert written(bot) == FILES
    config = bot / "config.json5"
    assert out.splitlines() == [
        f"wrote a new bot in {bot}:",
        *(f"  {bot / name}" for name in ["config.json5", "config.schema.json"]),
        *(f"  {bot / name}" for name in FILES[2:]),
        "next:",
        f"  runtime chat -c {config}       # talk to it in the terminal (/quit ends)",
        f"  runtime test -c {config}       # run its conversation test",
        f"  runtime validate -c {config}   # check it; it warns until the placeholders are "
        "replaced",
    ]
    assert err == ""


def test_the_new_bot_validates_and_its_test_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["init", str(tmp_path)])
    config = str(tmp_path / "config.json5")
    capsys.readouterr()
    assert main(["validate", "-c", config]) == 0
    out, err = capsys.readouterr()
    assert out == f"{config}: valid (1 account, 4 flows, 1 warning)\n"
    # the one warning: a token written in the file (the placeholder); nothing about the flows
    assert "channels.messenger.pageAccessToken: warning: the token is written" in err
    assert main(["test", "-c", config]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        "PASS the menu",
        "PASS what the bot does not understand",
        "2 passed, 0 failed",
    ]


def test_the_new_bot_chats(tmp_path: Path) -> None:
    main(["init", str(tmp_path)])
    result = run_runtime("chat", "-c", str(tmp_path / "config.json5"), input="hi\n1\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        GREETING,
        "  1) Opening hours",
        "  2) Contact us",
        "bot: We're open Monday to Friday, 9:00 to 17:00.",
    ]


def test_without_a_folder_it_writes_into_the_current_one(tmp_path: Path) -> None:
    result = run_runtime("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert written(tmp_path) == FILES
    lines = result.stdout.splitlines()
    assert lines[:2] == ["wrote a new bot in the current folder:", "  config.json5"]
    assert "  runtime chat -c config.json5       # talk to it in the terminal (/quit ends)" in lines
    tested = run_runtime("test", "-c", "config.json5", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_config_names_a_schema_that_is_runtime_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["init", str(tmp_path)])
    config = json5.loads((tmp_path / "config.json5").read_text(encoding="utf-8"))
    assert config["$schema"] == "config.schema.json"
    capsys.readouterr()
    main(["schema"])
    printed = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "config.schema.json").read_text(encoding="utf-8")) == printed


def test_existing_files_are_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.json5").write_text("// mine\n{}\n", encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "welcome.json5").write_text("{ tests: [] }\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"runtime init: {tmp_path} already has config.json5 and tests/welcome.json5; nothing "
        "was written (choose another folder, or --force to overwrite them)\n"
    )
    assert written(tmp_path) == ["config.json5", "tests/welcome.json5"]
    assert (tmp_path / "config.json5").read_text(encoding="utf-8") == "// mine\n{}\n"


def test_in_the_current_folder_the_refusal_names_it_so(tmp_path: Path) -> None:
    (tmp_path / "config.json5").write_text("{}\n", encoding="utf-8")
    result = run_runtime("init", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "runtime init: the current folder already has config.json5; nothing was written "
        "(choose another folder, or --force to overwrite it)\n"
    )


def test_force_overwrites_its_own_files_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "config.json5").write_text("// mine\n{}\n", encoding="utf-8")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "orders.json5").write_text("{ flows: {} }\n", encoding="utf-8")
    assert main(["init", "--force", str(tmp_path)]) == 0
    assert "channels:" in (tmp_path / "config.json5").read_text(encoding="utf-8")
    assert (tmp_path / "flows" / "orders.json5").read_text(encoding="utf-8") == "{ flows: {} }\n"


def test_a_file_is_not_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mybot"
    target.write_text("", encoding="utf-8")
    assert main(["init", str(target)]) == 1
    assert capsys.readouterr().err == (
        f"runtime init: {target} is a file; name a folder for the new bot (made if missing)\n"
    )
