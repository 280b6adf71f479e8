"""Files that cannot be read: every command exits 2 naming the file and the OS's reason.

A missing file, a link to nothing, a file or a folder the runtime may not read is never
skipped in silence (a bot running without some of its flows) nor reported as a mistake in
the file (exit 1). Commands run as a user runs them: in a subprocess, which, for a
permission, cannot read past a file's mode even when the tests run as root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.permissions import bound_by_file_modes, unreadable

TOKEN = "EAAG-secret-token-from-a-file"
FLOW = '{ flows: { %s: { triggers: [{ keywords: ["%s"] }], steps: [{ text: "Hi" }] } } }'


def runtime(*args: str, cwd: Path, modes: bool = False) -> subprocess.CompletedProcess[str]:
    """`runtime ARGS` in `cwd`; with `modes`, kept out of files by their mode even as root."""
    command = (sys.executable, "-m", "runtime", *args)
    environ = {k: v for k, v in os.environ.items() if k != "MESSENGER_PAGE_ACCESS_TOKEN"}
    return subprocess.run(
        bound_by_file_modes(*command) if modes else command,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=60,
        check=False,
    )


def write_bot(folder: Path, *, flows: str = "'flows/'", messenger: str = "") -> Path:
    keys = messenger or 'pageAccessToken: "t", verifyToken: "v"'
    (folder / "flows" / "sub").mkdir(parents=True)
    (folder / "flows" / "main.json5").write_text(FLOW % ("main", "hi"))
    (folder / "flows" / "sub" / "more.json5").write_text(FLOW % ("more", "more"))
    config = folder / "config.json5"
    config.write_text(f"{{ channels: {{ messenger: {{ {keys} }} }}, flows: {flows} }}")
    return config


def test_a_flow_link_to_nothing_is_not_skipped_but_exits_2(tmp_path: Path) -> None:
    write_bot(tmp_path)
    (tmp_path / "flows" / "gone.json5").symlink_to("moved-away.json5")
    result = runtime("validate", "-c", "config.json5", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "flows/gone.json5: cannot read: No such file or directory (it is a symbolic link to "
        "'moved-away.json5', which does not exist); restore the target or remove the link"
    ]
    assert result.stdout == ""


def test_json_output_of_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    write_bot(tmp_path)
    (tmp_path / "flows" / "sub" / "gone.json5").symlink_to("nowhere.json5")
    result = runtime("validate", "-c", "config.json5", "--json", cwd=tmp_path)
    assert result.returncode == 2
    [problem] = json.loads(result.stdout)
    assert problem["file"] == "flows/sub/gone.json5"
    assert problem["path"] == ""
    assert problem["severity"] == "error"
    assert problem["message"].startswith("cannot read: No such file or directory")


@pytest.mark.parametrize(
    "flows",
    [
        pytest.param("'flows/**/*.json5'", id="glob"),
        pytest.param("['flows/main.json5', 'flows/gone.json5']", id="file"),
    ],
)
def test_a_glob_or_file_source_that_is_a_link_to_nothing_exits_2(
    tmp_path: Path, flows: str
) -> None:
    write_bot(tmp_path, flows=flows)
    (tmp_path / "flows" / "gone.json5").symlink_to("nowhere.json5")
    result = runtime("validate", "-c", "config.json5", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("flows/gone.json5: cannot read: No such file or directory")


def test_a_file_source_that_does_not_exist_still_matches_no_flow_file(tmp_path: Path) -> None:
    write_bot(tmp_path, flows="['flows/', 'extra.json5']")
    result = runtime("validate", "-c", "config.json5", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"config.json5:1:90: flows.1: 'extra.json5' matches no flow file:"
        f" {tmp_path / 'extra.json5'}"
        " does not exist; `flows` (default 'flows/') names the flow files' folders,"
        " globs or files, relative to the config file\n"
    )


def test_a_fifo_or_a_folder_named_like_a_flow_file_is_not_read(tmp_path: Path) -> None:
    write_bot(tmp_path)
    os.mkfifo(tmp_path / "flows" / "pipe.json5")  # reading it would wait forever
    (tmp_path / "flows" / "folder.json5").mkdir()
    result = runtime("validate", "-c", "config.json5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 flows" in result.stdout


def test_a_flow_file_without_read_permission_exits_2(tmp_path: Path) -> None:
    write_bot(tmp_path)
    with unreadable(tmp_path / "flows" / "main.json5"):
        result = runtime("validate", "-c", "config.json5", cwd=tmp_path, modes=True)
        as_json = runtime("validate", "-c", "config.json5", "--json", cwd=tmp_path, modes=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "flows/main.json5: cannot read: Permission denied; give the user running the runtime "
        "read access to it"
    ]
    assert as_json.returncode == 2
    [problem] = json.loads(as_json.stdout)
    assert (problem["file"], problem["path"]) == ("flows/main.json5", "")


@pytest.mark.parametrize(
    "flows",
    [
        pytest.param("'flows/'", id="folder"),
        pytest.param("'flows/**/*.json5'", id="recursive-glob"),
        pytest.param("'flows/*/*.json5'", id="glob"),
    ],
)
def test_a_flow_folder_that_cannot_be_listed_exits_2(tmp_path: Path, flows: str) -> None:
    write_bot(tmp_path, flows=flows)
    with unreadable(tmp_path / "flows" / "sub"):
        result = runtime("validate", "-c", "config.json5", cwd=tmp_path, modes=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "flows/sub: cannot list: Permission denied; give the user running the runtime read "
        "and execute access to the folder"
    ]


def test_a_token_file_that_cannot_be_read_exits_2_without_its_content(tmp_path: Path) -> None:
    write_bot(tmp_path, messenger='tokenFile: "page.token", verifyToken: "v"')
    (tmp_path / "page.token").write_text(TOKEN)
    with unreadable(tmp_path / "page.token"):
        result = runtime("validate", "-c", "config.json5", cwd=tmp_path, modes=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "config.json5:1:28: channels.messenger.tokenFile: cannot read 'page.token': Permission "
        "denied; give the user running the runtime read access to it"
    ]
    assert TOKEN not in result.stdout + result.stderr


def test_a_missing_token_file_exits_2(tmp_path: Path) -> None:
    write_bot(tmp_path, messenger='tokenFile: "secrets/page.token", verifyToken: "v"')
    result = runtime("validate", "-c", "config.json5", "--json", cwd=tmp_path)
    assert result.returncode == 2
    [problem] = json.loads(result.stdout)
    assert problem["path"] == "channels.messenger.tokenFile"
    assert problem["message"] == "cannot read 'secrets/page.token': No such file or directory"


def test_a_config_without_read_permission_exits_2(tmp_path: Path) -> None:
    write_bot(tmp_path)
    with unreadable(tmp_path / "config.json5"):
        result = runtime("validate", "-c", "config.json5", "--json", cwd=tmp_path, modes=True)
    assert result.returncode == 2
    [problem] = json.loads(result.stdout)
    assert problem["file"] == "config.json5"
    assert problem["message"].startswith("cannot read: Permission denied")


def test_every_problem_is_listed_with_the_unreadable_ones(tmp_path: Path) -> None:
    write_bot(tmp_path)
    (tmp_path / "flows" / "gone.json5").symlink_to("nowhere.json5")
    (tmp_path / "flows" / "broken.json5").write_text('{ flows: { x: { steps: [{ txt: "" }] } } }')
    result = runtime("validate", "-c", "config.json5", cwd=tmp_path)
    assert result.returncode == 2
    assert "flows/gone.json5: cannot read" in result.stderr
    assert "flows/broken.json5:1:27: flows.x.steps.0.txt: unknown key" in result.stderr


def test_other_commands_exit_2_on_a_file_they_cannot_read(tmp_path: Path) -> None:
    # pair reads the config only: its token file is the one it cannot read (chat and test
    # run offline, where a token is not needed: tests/config/test_offline.py)
    write_bot(tmp_path, messenger='tokenFile: "gone.token", verifyToken: "v"')
    (tmp_path / "gone.token").symlink_to("nowhere.token")
    result = runtime("pair", "list", "messenger", "-c", "config.json5", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        "config.json5:1:28: channels.messenger.tokenFile: cannot read 'gone.token'" in result.stderr
    )
    assert "Traceback" not in result.stderr
