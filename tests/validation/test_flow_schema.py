"""`runtime schema --flows`: the JSON Schema editors check flow files with, the same rules as
`runtime validate`'s, and the copy in schemas/ that flow files can name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import json5
import jsonschema
import pytest

from runtime.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_FLOWS = sorted(
    [
        *(ROOT / "examples" / "quickstart" / "flows").glob("*.json5"),
        *(ROOT / "flows").glob("*.json5"),
    ]
)


def printed_schema(capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, Any]:
    assert main(["schema", *options]) == 0
    schema: dict[str, Any] = json.loads(capsys.readouterr().out)
    return schema


@pytest.fixture
def validator(capsys: pytest.CaptureFixture[str]) -> jsonschema.Draft202012Validator:
    schema = printed_schema(capsys, "--flows")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize(
    ("options", "copy"),
    [((), "config.schema.json"), (("--flows",), "flow.schema.json")],
    ids=["config", "flows"],
)
def test_the_copies_in_schemas_are_what_the_command_prints(
    capsys: pytest.CaptureFixture[str], options: tuple[str, ...], copy: str
) -> None:
    shipped = json.loads((ROOT / "schemas" / copy).read_text(encoding="utf-8"))
    assert shipped == printed_schema(capsys, *options), (
        f"schemas/{copy} is stale: run `runtime schema {' '.join(options)} > schemas/{copy}`"
    )


def test_the_flow_schema_is_not_the_config_schema(capsys: pytest.CaptureFixture[str]) -> None:
    flows = printed_schema(capsys, "--flows")
    assert flows["title"] == "Messenger runtime flow file"
    assert flows["required"] == ["flows"]
    assert "channels" not in flows["properties"]


@pytest.mark.parametrize("path", SHIPPED_FLOWS, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_shipped_flow_files_are_valid_against_it(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    document = json5.loads(path.read_text(encoding="utf-8"))
    assert [error.message for error in validator.iter_errors(document)] == []


def test_it_catches_the_mistakes_of_a_flow(validator: jsonschema.Draft202012Validator) -> None:
    document = json5.loads(
        """{
          flows: {
            "bad name": { steps: [{ text: "Hi" }] },
            menu: {
              triggers: [{ attachment: "sticker" }],
              steps: [
                { txt: "Hi" },
                { text: "Pick", quick_replies: [{ title: "", payload: "A" }] },
                { set: {} },
              ],
            },
            empty: { steps: [] },
          },
        }"""
    )
    found = sorted(
        (".".join(map(str, error.absolute_path)), error.validator)
        for error in validator.iter_errors(document)
    )
    assert found == [
        ("flows", "pattern"),  # of the name "bad name"
        ("flows.empty.steps", "minItems"),
        ("flows.menu.steps.0", "additionalProperties"),  # txt
        ("flows.menu.steps.1.quick_replies.0.title", "minLength"),
        ("flows.menu.steps.2.set", "minProperties"),
        ("flows.menu.triggers.0.attachment", "enum"),
    ]


def test_a_flow_file_may_name_its_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "main.json5").write_text(
        '{ $schema: "../schemas/flow.schema.json",\n'
        '  flows: { main: { triggers: [{ keywords: ["hi"] }], steps: [{ text: "Hi" }] } } }\n',
        encoding="utf-8",
    )
    (tmp_path / "config.json5").write_text(
        '{ $schema: "schemas/config.schema.json", flows: "flows/",\n'
        '  channels: { messenger: { pageAccessToken: "t", verifyToken: "v", appSecret: "s" } } }\n',
        encoding="utf-8",
    )
    assert main(["validate", "-c", "config.json5"]) == 0
    assert capsys.readouterr().out.startswith("config.json5: valid (1 account, 1 flow")
