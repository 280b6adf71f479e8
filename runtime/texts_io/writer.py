"""`runtime texts import`: the translations checked against the bot, then written into the
files they came from, all or nothing.

Each value goes to the file and key path its entry names: a text written as a string or a
list becomes `{ default: <as it was written>, fr_FR: ... }`, a map gets its `fr_FR` entry set
or added; ice breakers and menu items are copied from `default` with the translated question
or title. Edits splice the text (runtime/config/json5_edit.py), so the rest of each file
stays byte for byte. Every file's new text is made and checked before the first is written;
a refusal writes nothing. A value the file already has is left as written: importing twice
changes nothing the second time.
"""

from __future__ import annotations

import codecs
import contextlib
import difflib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from runtime.config.json5_edit import EditError, Json5Editor
from runtime.config.json5file import locate
from runtime.dialog.templates import Template
from runtime.errors import Error
from runtime.locales import DEFAULT_LOCALE
from runtime.texts_io.catalog import Catalog, SourceText, TextKind
from runtime.texts_io.import_file import Translation, Translations
from runtime.validation.problems import Problem, Severity, os_reason
from runtime.validation.schema import describe_value_type


@dataclass(frozen=True, slots=True)
class FileChange:
    path: Path  # where the file is
    before: bytes
    after: bytes
    texts: int  # how many texts it gets

    def diff(self, name: str) -> str:
        """A unified diff of the change, for `--dry-run`."""
        lines = difflib.unified_diff(
            self.before.decode("utf-8-sig").splitlines(keepends=True),
            self.after.decode("utf-8-sig").splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
        return "".join(lines)


@dataclass(slots=True)
class Plan:
    """What an import does: the new text of each file it changes, and what it leaves."""

    locale: str
    changes: dict[str, FileChange] = field(default_factory=dict)  # by file name
    unchanged: int = 0  # texts that already have the value
    untranslated: int = 0  # null, or an empty text
    skipped: int = 0  # the default changed since the export
    problems: list[Problem] = field(default_factory=list)  # errors refuse the whole import

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.is_error]

    @property
    def written(self) -> int:
        return sum(change.texts for change in self.changes.values())


def plan_import(catalog: Catalog, translations: Translations) -> Plan:
    """Check every translation against the bot's texts and make the new file texts."""
    locale = translations.locale
    plan = Plan(locale)
    file = translations.file
    editors: dict[str, Json5Editor] = {}
    counts: dict[str, int] = {}
    profile_left = 0
    for item in translations.items:
        source = catalog.find(item.name, item.path)
        if source is None:
            plan.problems.append(_error(file, item, _not_found(catalog, item)))
            continue
        plan.problems.extend(_ignored(file, item, source, locale))
        value = item.entry[locale]
        if value is None or (isinstance(value, str) and not value.strip()):
            plan.untranslated += 1  # what translation tools write for a text not done yet
            continue
        if not source.takes(locale):
            profile_left += 1
            continue
        if item.entry[DEFAULT_LOCALE] != source.default:
            plan.skipped += 1
            plan.problems.append(_changed_default(file, item, source))
            continue
        if value == source.text_of(locale):
            plan.unchanged += 1
            continue
        wrong = _value_problem(source, value)
        if wrong:
            plan.problems.append(_error(file, item, wrong))
            continue
        editor = editors.get(source.name)
        if editor is None:
            document = catalog.documents[source.name]
            text = document.raw.decode("utf-8-sig")
            editor = editors[source.name] = Json5Editor(text, document.data, document.positions)
        try:
            _edit(editor, source, locale, value)
        except EditError as err:
            plan.problems.append(_cannot_edit(source.name, err))
            continue
        counts[source.name] = counts.get(source.name, 0) + 1
    if profile_left:
        plan.problems.append(_profile_left(file, profile_left, locale))
    plan.problems = locate(plan.problems, translations.document)
    if not plan.errors:
        _make_changes(plan, catalog, editors, counts)
    return plan


def write_plan(plan: Plan) -> None:
    """Write each changed file, each atomically (a temporary file renamed over it).

    Raises Error when a file changed since it was read (then nothing is written), or cannot
    be written (then the files before it in the plan are written, and are valid).
    """
    for name, change in plan.changes.items():
        if change.path.read_bytes() != change.before:
            raise Error(f"{name} changed while the import ran; nothing was written: run it again")
    for name, change in plan.changes.items():
        try:
            _write_atomically(change.path, change.after)
        except OSError as err:
            raise Error(f"{name}: cannot write it: {os_reason(err)}") from err


def _edit(editor: Json5Editor, source: SourceText, locale: str, value: object) -> None:
    new = _written_value(source, value)
    if isinstance(source.written, Mapping):
        editor.set_entry(source.path, locale, new)
    else:
        editor.replace(source.path, {DEFAULT_LOCALE: editor.raw(source.path), locale: new})


def _written_value(source: SourceText, value: object) -> object:
    """What the file gets for the locale: the text itself, or for ice breakers and the
    menu, `default`'s items with the translated question or title."""
    field = source.kind.item_text
    if field is None or not isinstance(value, list):
        return value
    items = source.items_of(DEFAULT_LOCALE) or []
    return [{**item, field: text} for item, text in zip(items, value, strict=True)]


def _make_changes(
    plan: Plan, catalog: Catalog, editors: Mapping[str, Json5Editor], counts: Mapping[str, int]
) -> None:
    for name, editor in editors.items():
        document = catalog.documents[name]
        try:
            text = editor.text_after()
        except EditError as err:
            plan.problems.append(_cannot_edit(name, err))
            continue
        bom = codecs.BOM_UTF8 if document.raw.startswith(codecs.BOM_UTF8) else b""
        after = bom + text.encode("utf-8")
        plan.changes[name] = FileChange(document.path, document.raw, after, counts[name])


def _cannot_edit(name: str, err: EditError) -> Problem:
    message = (
        f"cannot be edited safely ({err}); nothing was written. This is a bug of runtime"
        " texts import: please report it with the file"
    )
    return Problem(file=name, path="", message=message)


def _value_problem(source: SourceText, value: object) -> str | None:
    """Why `value` cannot be `source`'s translation, or None."""
    kind, default = source.kind, source.default
    if kind.item_text:
        count = len(default) if isinstance(default, list) else 0
        noun = "questions" if kind is TextKind.ICE_BREAKERS else "titles"
        if not _texts(value) or not isinstance(value, list) or len(value) != count:
            return (
                f"expected a list of {count} {noun}, one for each of default's in its order,"
                f" or null; got {_shown(value)}"
            )
        return None
    if kind is TextKind.GREETING and not isinstance(value, str):
        return f"expected a text (a greeting has no variations), or null; got {_shown(value)}"
    if not _texts(value):
        return f"expected a text, a list of variations, or null; got {_shown(value)}"
    if kind is TextKind.TEXT:
        for text in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            try:
                Template(str(text))
            except jinja2.TemplateSyntaxError as err:
                return f"is not a valid template: {err.message} (line {err.lineno})"
    return None


def _texts(value: object) -> bool:
    """A text, or a list of texts, none empty."""
    items = [value] if isinstance(value, str) else value
    return (
        isinstance(items, list)
        and bool(items)
        and all(isinstance(item, str) and item.strip() for item in items)
    )


def _shown(value: object) -> str:
    if isinstance(value, list) and any(
        not isinstance(item, str) or not item.strip() for item in value
    ):
        return "a list holding something else than texts"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return describe_value_type(value)


def _not_found(catalog: Catalog, item: Translation) -> str:
    if item.name not in catalog.documents:
        return (
            f"{item.name} is not among the bot's files (the config and its flows, named from"
            f" {catalog.config_name}'s folder); was it renamed or moved since the export?"
        )
    what = "config" if item.name == catalog.config_name else "flow"
    return f"no such text in {item.name}; was the {what} changed since the export?"


def _changed_default(file: str, item: Translation, source: SourceText) -> Problem:
    message = (
        f"skipped: the default text in {item.name} is now {_json(source.default)}, not"
        f" {_json(item.entry[DEFAULT_LOCALE])} as exported; translate the new text"
        f" (runtime texts export --missing lists it)"
    )
    return Problem(file=file, path=item.where, message=message, severity=Severity.WARNING)


def _ignored(file: str, item: Translation, source: SourceText, locale: str) -> list[Problem]:
    """Entries of the import other than `default` and the locale, that say something other
    than the file: the import writes one locale, so they are left as they are."""
    return [
        Problem(
            file=file,
            path=f"{item.where}.{key}",
            message=f"ignored: this import writes {locale} texts only (its `locale`)",
            severity=Severity.WARNING,
        )
        for key, value in item.entry.items()
        if key not in (DEFAULT_LOCALE, locale, "from") and value != source.text_of(key)
    ]


def _profile_left(file: str, count: int, locale: str) -> Problem:
    message = (
        f"{count} page profile text(s) not written: Meta's profile takes a locale with its"
        f" region (fr_FR), not {locale} alone; import them with such a locale"
    )
    return Problem(file=file, path="locale", message=message, severity=Severity.WARNING)


def _error(file: str, item: Translation, message: str) -> Problem:
    return Problem(file=file, path=item.where, message=message)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside the target, then rename it over the target:
    a reader (a server reloading) sees the old file or the new, never half of one. A
    symbolic link stays a link: its target is written."""
    target = path.resolve()
    mode = stat.S_IMODE(target.stat().st_mode)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
