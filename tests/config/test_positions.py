"""Every key path of a JSON5 file has the line and column where it is written: what `locate`
gives a problem at that path."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from runtime.config.json5file import Document, locate, read_json5
from runtime.validation.problems import Problem

ROOT = Path(__file__).resolve().parents[2]

TRICKY = """\ufeff// a comment: { "not": "a key" }
{
  /* a block comment, with a key: 1, inside */
  plain: 1, "double": "a \\" quote, b: 2", 'single': 'it\\'s',
  "dotted.key": { inner: [1, [2, 3], { deep: true }] },
  spaced   :   { "x" : null },
  commented /* here */ : /* and here */ [ /* first */ "a", // a line comment
    "b" ],
  escaped\\u0041: 1, "esc\\u0041ped": 2,
  numbers: [+1, -2.5e3, 0x1F, .5, Infinity, NaN],
  empty: {}, none: [], "": "empty key",
  url: "http://example.com/a//b", slash: "/*not a comment*/",
  trailing: [1, 2,],
}
"""


def key_paths(value: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, Mapping):
        items: list[tuple[str, object]] = [(str(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        items = [(str(number), item) for number, item in enumerate(value)]
    else:
        return
    for name, item in items:
        yield (*prefix, name)
        yield from key_paths(item, (*prefix, name))


def written_at(document: Document, path: str) -> tuple[int, int]:
    [problem] = locate([Problem(file=document.display, path=path, message="x")], document)
    assert problem.line is not None
    assert problem.column is not None
    return problem.line, problem.column


def text_at(text: str, line: int, column: int) -> str:
    return text.splitlines()[line - 1][column - 1 :]


def check_every_path(path: Path) -> int:
    document = read_json5(path, display=path.name)
    text = path.read_text(encoding="utf-8-sig")
    checked = 0
    for parts in key_paths(document.data):
        line, column = written_at(document, ".".join(parts))
        there = text_at(text, line, column)
        parent: object = document.data
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]  # type: ignore[index]
        if isinstance(parent, Mapping):  # a key, bare or quoted, or with an escape in it
            key = parts[-1]
            forms = (key, f'"{key}"', f"'{key}'")
            assert there.startswith(forms) or "\\u" in there[: len(key) + 8], (parts, there)
        else:  # an array item starts with its value
            assert there[:1] in "\"'{[+-.0123456789INtfn", (parts, there)
        checked += 1
    return checked


def test_every_key_and_item_of_a_tricky_file_is_found_where_written(tmp_path: Path) -> None:
    path = tmp_path / "tricky.json5"
    path.write_text(TRICKY, encoding="utf-8")
    document = read_json5(path, display="tricky.json5")
    assert written_at(document, "") == (2, 1)
    assert written_at(document, "plain") == (4, 3)
    assert written_at(document, "single") == (4, 43)
    assert written_at(document, "dotted.key.inner.1.0") == (5, 31)
    assert written_at(document, "dotted.key.inner.2.deep") == (5, 40)
    assert written_at(document, "spaced.x") == (6, 18)
    assert written_at(document, "commented") == (7, 3)
    assert written_at(document, "commented.1") == (8, 5)
    assert written_at(document, "escapedA") == (9, 3)
    assert written_at(document, "numbers.4") == (10, 35)
    assert written_at(document, "trailing.1") == (13, 17)
    assert check_every_path(path) == 33


@pytest.mark.parametrize(
    "path",
    sorted(
        [*ROOT.joinpath("examples", "quickstart").rglob("*.json5"), *ROOT.glob("flows/*.json5")]
    ),
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_every_key_of_the_shipped_files_is_found_where_written(path: Path) -> None:
    assert check_every_path(path) > 0


def test_a_missing_key_is_placed_at_its_nearest_ancestor(tmp_path: Path) -> None:
    path = tmp_path / "config.json5"
    path.write_text("{\n  channels: {\n    messenger: { dmPolicy: 'open' },\n  },\n}\n")
    document = read_json5(path, display="config.json5")
    assert written_at(document, "channels.messenger.verifyToken") == (3, 5)
    assert written_at(document, "channels.messenger.accounts.shop.pageId") == (3, 5)
    assert written_at(document, "state.backend") == (1, 1)
    assert written_at(document, "channels.messenger.dmPolicy.0") == (3, 18)


def test_problems_of_other_files_or_placed_already_are_left_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "config.json5"
    path.write_text("{ a: { b: 1 } }")
    document = read_json5(path, display="config.json5")
    other = Problem(file="flows/x.json5", path="a.b", message="x")
    placed = Problem(file="config.json5", path="a.b", message="x", line=9, column=9)
    assert locate([other, placed], document) == [other, placed]
