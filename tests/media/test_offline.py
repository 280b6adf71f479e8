"""`runtime chat` and `runtime test` show a file attachment as a person sees it, by its
path in the bot's folder, and never upload it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.graph_api import FakeGraphAPI
from tests.media.conftest import media_bot
from tests.testing.quickstart import run_runtime


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return media_bot(tmp_path / "bot")


def write_tests(config: Path, expected_file: str) -> Path:
    path = config.parent / "tests" / "logo.json5"
    path.parent.mkdir()
    path.write_text(
        f"""{{ tests: [{{ name: "logo", turns: [{{ user: "logo", expect: [
            {{ attachment: {{ type: "image", file: "{expected_file}" }} }},
            {{ text: "That is our logo." }},
        ] }}] }}] }}"""
    )
    return path


def test_chat_shows_the_file_by_its_path_in_the_bots_folder_from_anywhere(
    tmp_path: Path, config: Path, env: dict[str, str], graph: FakeGraphAPI
) -> None:
    result = run_runtime("chat", "-c", str(config), input="logo\n", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "bot: [image: media/logo.png]",
        "  1) Thanks",
        "bot: That is our logo.",
    ]
    assert graph.requests == []


@pytest.mark.parametrize("named", ["logo.png", "media/logo.png", "../media/logo.png"])
def test_a_test_expects_the_file_by_its_name_or_path(
    config: Path, env: dict[str, str], graph: FakeGraphAPI, named: str
) -> None:
    write_tests(config, named)
    result = run_runtime("test", "-c", str(config), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["PASS logo", "1 passed, 0 failed"]
    assert graph.requests == []


def test_a_test_expecting_another_file_fails_showing_the_one_sent(
    config: Path, env: dict[str, str]
) -> None:
    write_tests(config, "media/other.png")
    result = run_runtime("test", "-c", str(config), env=env)
    assert result.returncode == 1
    assert "-attachment: image file media/other.png" in result.stdout.splitlines()
    assert "+attachment: image file media/logo.png" in result.stdout.splitlines()
