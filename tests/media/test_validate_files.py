"""`runtime validate` checks each attachment file: there, a file, small enough, of its type,
inside the bot's folder; one problem each, with the file, the key path and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main
from tests.media.conftest import LOGO

CONFIG = '{ channels: { messenger: { pageAccessToken: "t", appSecret: "s", verifyToken: "v" } } }'


def bot_with(folder: Path, *attachments: str) -> Path:
    """A bot whose one flow sends `attachments` (JSON5 objects), with media/logo.png."""
    (folder / "flows").mkdir(parents=True)
    (folder / "media").mkdir()
    (folder / "media" / "logo.png").write_bytes(LOGO)
    steps = ", ".join(f"{{ attachment: {attachment} }}" for attachment in attachments)
    flow = f'{{ flows: {{ main: {{ triggers: [{{ keywords: ["hi"] }}], steps: [{steps}] }} }} }}'
    (folder / "flows" / "main.json5").write_text(flow)
    config = folder / "config.json5"
    config.write_text(CONFIG)
    return config


def validate(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, str]]]:
    code = main(["validate", "-c", str(config), "--json"])
    problems = json.loads(capsys.readouterr().out)
    return code, [p for p in problems if p["severity"] == "error"]


def test_a_file_next_to_the_flows_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = bot_with(tmp_path, '{ type: "image", file: "../media/logo.png" }')
    assert validate(config, capsys) == (0, [])


def test_a_missing_file_is_named_with_where_it_was_looked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = bot_with(tmp_path, '{ type: "image", file: "media/logo.png" }')
    code, [problem] = validate(config, capsys)
    assert code == 2  # as any file that cannot be read
    assert problem["path"] == "flows.main.steps.0.attachment.file"
    assert problem["file"].endswith("flows/main.json5")
    looked = tmp_path / "flows" / "media" / "logo.png"
    assert problem["message"] == (
        f"cannot read 'media/logo.png' ({looked}): No such file or directory; the path is"
        " relative to the flow file: fix it or put the file there"
    )


def test_a_file_too_big_for_meta_is_refused_before_any_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = bot_with(tmp_path, '{ type: "video", file: "../media/tour.mp4" }')
    with (tmp_path / "media" / "tour.mp4").open("wb") as sparse:
        sparse.truncate(25_000_001)
    code, [problem] = validate(config, capsys)
    assert code == 1
    assert problem["message"] == (
        "'../media/tour.mp4' is 25.0 MB; Meta takes files up to 25 MB (by url too): make it smaller"
    )


@pytest.mark.parametrize(
    ("kind", "name", "said"),
    [
        ("image", "terms.pdf", "is application/pdf by its extension, not an image"),
        ("video", "song.mp3", "is audio/mpeg by its extension, not a video"),
        ("audio", "logo.png", "is image/png by its extension, not an audio"),
        ("image", "logo", "cannot tell the type of '../media/logo' from its name"),
    ],
)
def test_a_file_whose_name_says_another_type_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, name: str, said: str
) -> None:
    config = bot_with(tmp_path, f'{{ type: "{kind}", file: "../media/{name}" }}')
    (tmp_path / "media" / name).write_bytes(b"x")
    code, [problem] = validate(config, capsys)
    assert code == 1
    assert said in problem["message"]
    assert problem["message"].endswith('or send it as type: "file"')


def test_a_file_attachment_takes_any_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = bot_with(
        tmp_path,
        '{ type: "file", file: "../media/terms.pdf" }',
        '{ type: "file", file: "../media/notes" }',
    )
    (tmp_path / "media" / "terms.pdf").write_bytes(b"%PDF-1.7")
    (tmp_path / "media" / "notes").write_bytes(b"plain")
    assert validate(config, capsys) == (0, [])


def test_url_and_file_together_or_neither_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = bot_with(
        tmp_path,
        '{ type: "image", url: "https://example.com/a.png", file: "../media/logo.png" }',
        '{ type: "image" }',
    )
    code, problems = validate(config, capsys)
    assert code == 1
    assert [(p["path"], p["message"].partition(" (")[0]) for p in problems] == [
        (
            "flows.main.steps.0.attachment",
            "an attachment needs exactly one of url, file; it has both: keep one",
        ),
        (
            "flows.main.steps.1.attachment",
            "an attachment needs exactly one of url, file; it has neither",
        ),
    ]


def test_a_path_out_of_the_bots_folder_or_absolute_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "shared.png").write_bytes(LOGO)
    config = bot_with(
        tmp_path / "bot",
        '{ type: "image", file: "../../shared.png" }',
        f'{{ type: "image", file: "{tmp_path / "shared.png"}" }}',
    )
    code, problems = validate(config, capsys)
    assert code == 1
    messages = {p["path"]: p["message"] for p in problems}
    assert messages["flows.main.steps.0.attachment.file"].startswith(
        f"'../../shared.png' ({tmp_path / 'shared.png'}) is outside the bot's folder"
        f" ({tmp_path / 'bot'}); move it into that folder"
    )
    assert messages["flows.main.steps.1.attachment.file"].startswith(
        f"'{tmp_path / 'shared.png'}' is an absolute path; write it relative to the flow file"
    )


def test_a_folder_is_not_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = bot_with(tmp_path, '{ type: "file", file: "../media" }')
    code, [problem] = validate(config, capsys)
    assert code == 1
    assert problem["message"] == f"'../media' ({tmp_path / 'media'}) is a folder; name a file"
