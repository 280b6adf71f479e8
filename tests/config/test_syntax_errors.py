"""A JSON5 syntax error, as `runtime validate` shows it: where the mistake is, the line it is
on with a caret under it, and its likely cause in words."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.config.json5file import parse_json5, read_json5
from runtime.errors import ConfigError

GOOD = 'pageAccessToken: "t", verifyToken: "v", appSecret: "s"'
Validate = Callable[..., tuple[int, list[str]]]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Validate:
    """Write `text` as config.json5, run `runtime validate` on it; (exit code, stderr lines)."""
    monkeypatch.chdir(tmp_path)

    def run(text: str, *options: str) -> tuple[int, list[str]]:
        (tmp_path / "config.json5").write_text(text, encoding="utf-8")
        code = main(["validate", "-c", "config.json5", *options])
        captured = capsys.readouterr()
        return code, (captured.out if "--json" in options else captured.err).splitlines()

    return run


CAUSES = [
    pytest.param(
        "{\n  a: 1\n  b: 2\n}\n",
        "3:3: JSON5 syntax error: unexpected 'b'; missing comma at the end of line 2?",
        id="missing-comma-at-line-end",
    ),
    pytest.param(
        "{ a: [1 2] }",
        "1:9: JSON5 syntax error: unexpected '2'; missing comma between two values?",
        id="missing-comma-between-values",
    ),
    pytest.param(
        '{\n  a: "hello,\n  b: 2\n}\n',
        '2:13: JSON5 syntax error: unexpected line break in a string; unclosed string? the " at'
        " line 2, column 6 is not closed on its line (a line break inside a string is written"
        " \\n)",
        id="string-not-closed-on-its-line",
    ),
    pytest.param(
        '{ a: "hello }',
        '1:6: JSON5 syntax error: unexpected end of the file; unclosed string? the " at line 1,'
        " column 6 is never closed",
        id="string-never-closed",
    ),
    pytest.param(
        "{\n  a: {\n    b: [1,\n",
        "3:8: JSON5 syntax error: unexpected end of the file; unclosed [ opened at line 3?",
        id="unclosed-innermost",
    ),
    pytest.param(
        # the } of line 9 is left of `a: {`: it closes `flows`, so `a` is the one left open
        "{\n  flows: {\n    a: {\n      steps: [],\n    b: {\n      steps: [],\n    },\n  },\n}\n",
        "3:8: JSON5 syntax error: unexpected end of the file; unclosed { opened at line 3?",
        id="unclosed-found-by-indentation",
    ),
    pytest.param(
        "{ a: [1, 2 }",
        "1:12: JSON5 syntax error: unexpected '}'; } closes the [ opened at line 1: a ] missing"
        " before it?",
        id="closer-of-the-wrong-kind",
    ),
    pytest.param(
        "{ a: 1 }\n}\n",
        "2:1: JSON5 syntax error: unexpected '}'; trailing text after the end of the document?"
        " its { of line 1 is closed on line 1: one } too many?",
        id="one-closer-too-many",
    ),
    pytest.param(
        "{ a: 1 }\nb: 2\n",
        "2:1: JSON5 syntax error: unexpected 'b'; trailing text after the end of the document?"
        " its { of line 1 is closed on line 1",
        id="trailing-text",
    ),
    pytest.param(
        "{ a 1 }",
        "1:5: JSON5 syntax error: unexpected '1'; missing colon after key 'a'?",
        id="missing-colon",
    ),
    pytest.param(
        "{ a = 1 }",
        "1:5: JSON5 syntax error: unexpected '='; a key and its value are separated by `:`,"
        " not `=`",
        id="equals-for-colon",
    ),
    pytest.param(
        "{ my-key: 1 }",
        "1:3: JSON5 syntax error: unexpected 'my-key'; a key that is not a plain name needs"
        ' quotes: "my-key"?',
        id="key-needing-quotes",
    ),
    pytest.param(
        "{ a: True }",
        "1:6: JSON5 syntax error: unexpected 'True'; true? true, false and null are written in"
        " lower case",
        id="capital-true",
    ),
    pytest.param(
        "{ a: None }",
        "1:6: JSON5 syntax error: unexpected 'None'; null? JSON5 writes no value as null",
        id="none",
    ),
    pytest.param(
        "{ a: hello }",
        "1:6: JSON5 syntax error: unexpected 'hello'; a string needs quotes: \"hello\"?",
        id="unquoted-string",
    ),
    pytest.param(
        "{ a: 10px }",
        "1:6: JSON5 syntax error: unexpected '10px'; not a number JSON5 reads (such as 42, -1.5,"
        " 0x1F): a string needs quotes",
        id="not-a-number",
    ),
    pytest.param(
        "{ a: \u201chi\u201d }",
        "1:6: JSON5 syntax error: unexpected '\u201chi\u201d'; typographic quotes? strings are"
        " quoted with straight \" or '",
        id="typographic-quotes",
    ),
    pytest.param(
        "{ a: 1,, b: 2 }",
        "1:8: JSON5 syntax error: unexpected ','; two commas in a row: a value missing between"
        " them, or one comma too many?",
        id="two-commas",
    ),
    pytest.param(
        "{ a: [, 1] }",
        "1:7: JSON5 syntax error: unexpected ','; a comma with no value before it?",
        id="comma-first",
    ),
    pytest.param(
        "{ a: , b: 2 }",
        "1:6: JSON5 syntax error: unexpected ','; a value missing after `a:`?",
        id="value-missing",
    ),
    pytest.param(
        "{ a: [ b: 1 ] }",
        "1:9: JSON5 syntax error: unexpected ':'; a key inside [ ]? an array holds values only;"
        " keys go in an object { ... }",
        id="key-in-array",
    ),
    pytest.param(
        "{ a: 1, { b: 2 } }",
        "1:9: JSON5 syntax error: unexpected '{'; a key missing before this value? in an object"
        " each value has a key: `name: { ... }`",
        id="value-without-key",
    ),
    pytest.param(
        "{\n  a: 1, /* a comment\n}\n",
        "2:9: JSON5 syntax error: unexpected end of the file; unclosed comment? the /* at line"
        " 2 is never closed with */",
        id="unclosed-comment",
    ),
    pytest.param(
        "{\n  a: [\n    { b: 1 },\n    { b: 2,\n    { b: 3 },\n  ],\n}\n",
        "5:5: JSON5 syntax error: unexpected '{'; a } missing before it? the { of line 4 is still"
        " open",
        id="closer-missing-before-a-sibling",
    ),
    pytest.param(
        "{\n  steps:\n    { a: 1 },\n    { b: 2 },\n}\n",
        "4:5: JSON5 syntax error: unexpected '{'; a [ missing before a list of objects, or a key"
        " before this value?",
        id="list-without-its-bracket",
    ),
    pytest.param(
        "/ a comment\n{ a: 1 }\n",
        "1:1: JSON5 syntax error: unexpected '/'; a comment? one starts with // (to the end of the"
        " line) or /* (to */)",
        id="half-a-comment",
    ),
    pytest.param(
        "// a comment {\n  a: 1,\n}\n",
        "2:4: JSON5 syntax error: unexpected ':'; the document's opening { missing (or inside a"
        " comment)?",
        id="opening-brace-missing",
    ),
    pytest.param(
        "",
        "1:1: JSON5 syntax error: unexpected end of the file; the file holds no value: a config"
        " or flow file is one object { ... }",
        id="empty-file",
    ),
    pytest.param(
        "// only a comment\n",
        "2:1: JSON5 syntax error: unexpected end of the file; the file holds no value: a config"
        " or flow file is one object { ... }",
        id="only-comments",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CAUSES)
def test_a_syntax_error_says_where_and_its_likely_cause(
    validate: Validate, text: str, expected: str
) -> None:
    code, lines = validate(text)
    assert code == 1
    assert lines[0] == f"config.json5:{expected}"


def test_the_line_is_shown_with_a_caret_under_the_column(validate: Validate) -> None:
    code, lines = validate(
        f"{{\n  channels: {{\n    messenger: {{ {GOOD}\n      dmPolicy: 1 }},\n}}\n"
    )
    assert code == 1
    assert lines == [
        "config.json5:4:7: JSON5 syntax error: unexpected 'dmPolicy'; missing comma at the end"
        " of line 3?",
        "  4 |       dmPolicy: 1 },",
        "    |       ^",
    ]


def test_the_caret_lands_under_the_column_after_tabs(validate: Validate) -> None:
    _, lines = validate("{\n\ta: 1\n\tb: 2\n}\n")
    assert lines[1:] == ["  3 | \tb: 2", "    | \t^"]


def test_a_long_line_is_shown_around_the_column(validate: Validate) -> None:
    values = ", ".join(f'"value{number}"' for number in range(100))
    _, lines = validate(f"{{ a: [{values} oops, {values}] }}")
    shown, caret = lines[1], lines[2]
    assert len(shown) < 140
    assert shown.startswith("  1 | \u2026")
    assert shown.endswith("\u2026")
    assert shown[caret.index("^") :].startswith("oops")


def test_json_output_carries_the_source_line_and_the_hint(validate: Validate) -> None:
    code, lines = validate("{\n  a: 1\n  b: 2\n}\n", "--json")
    assert code == 1
    [problem] = json.loads("\n".join(lines))
    assert problem == {
        "file": "config.json5",
        "path": "",
        "line": 3,
        "column": 3,
        "severity": "error",
        "message": "JSON5 syntax error: unexpected 'b'; missing comma at the end of line 2?",
        "source": "  b: 2",
        "hint": "missing comma at the end of line 2?",
    }


def test_a_syntax_error_in_a_flow_file_is_shown_the_same_way(
    validate: Validate, tmp_path: Path
) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "main.json5").write_text(
        '{ flows: { main: { steps: [{ text: "Hi" }] } }\n', encoding="utf-8"
    )
    _, lines = validate(f"{{ channels: {{ messenger: {{ {GOOD} }} }} }}")
    assert lines[:3] == [
        "flows/main.json5:1:1: JSON5 syntax error: unexpected end of the file; unclosed { opened"
        " at line 1?",
        '  1 | { flows: { main: { steps: [{ text: "Hi" }] } }',
        "    | ^",
    ]


def test_a_file_nested_deeper_than_the_parsers_default_is_read(tmp_path: Path) -> None:
    path = tmp_path / "deep.json5"
    path.write_text("{ a: " * 40 + "1" + " }" * 40, encoding="utf-8")
    data: object = read_json5(path).data
    for _ in range(40):
        assert isinstance(data, dict)
        data = data["a"]
    assert data == 1


def test_a_file_nested_too_deep_is_an_error_at_its_place(validate: Validate) -> None:
    code, lines = validate("[" * 250 + "]" * 250)
    assert code == 1
    assert lines == ["config.json5:1:201: JSON5 syntax error: nested more than 200 deep"]


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "examples" / "quickstart" / "flows").glob("*.json5")),
    ids=lambda path: path.name,
)
def test_any_one_character_slip_is_explained_on_one_line(path: Path) -> None:
    """Each character of a shipped file deleted, then doubled: whatever breaks says where
    and why, on one line, and never crashes the explaining."""
    text = path.read_text(encoding="utf-8")
    broken = 0
    for index in range(len(text)):
        for slip in (text[:index] + text[index + 1 :], text[:index] + text[index] + text[index:]):
            try:
                parse_json5(slip, file="flow.json5")
            except ConfigError as err:
                [problem] = err.problems
                assert problem.line is not None
                assert problem.column is not None
                assert problem.hint, problem.format()
                assert "\n" not in problem.format()
                broken += 1
    assert broken > 0
