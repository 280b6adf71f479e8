"""`runtime texts export`: a bot's texts for one locale, as a JSON5 document a translator fills in.

    {
      locale: "fr_FR",
      texts: {
        "flows/welcome.json5": {
          "flows.welcome.steps.0.text": { default: "Hi {{ user.first_name }}!", fr_FR: null },
          "flows.welcome.steps.1.text": { default: "Hi!", fr_FR: null, from: "fr", fr: "Salut" },
        },
      },
    }

Files are named relative to the config's folder, texts by key path, so the import writes
each value back where it came from. `null` is a text the locale has no entry of its own
for; `from` names the entry that serves it today (an `fr` text serves fr_FR), shown beside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime.config.json5_style import Style
from runtime.locales import DEFAULT_LOCALE
from runtime.texts_io.catalog import Catalog, SourceText, TextKind

_STYLE = Style(trailing_comma=True)
_NOTES = {
    TextKind.ICE_BREAKERS: "the ice breakers' questions, in order: one each (the payloads stay)",
    TextKind.MENU: "the menu's titles, in order: one each (the payloads and links stay)",
    TextKind.GREETING: "Meta's placeholders stay as they are: {{user_first_name}}...",
}


@dataclass(frozen=True, slots=True)
class Export:
    text: str  # the JSON5 document
    listed: int  # texts in it
    missing: int  # of those, the ones no entry of the locale serves yet
    left_out: int  # profile texts a locale without region cannot have


def export_texts(
    catalog: Catalog, locale: str, *, missing_only: bool = False, config_shown: str = ""
) -> Export:
    """The document for `locale`; with `missing_only`, only the texts nothing of the locale
    serves yet (an `fr` entry serves fr_FR: the fallback rule of runtime/locales.py)."""
    takes = [text for text in catalog.texts if text.takes(locale)]
    missing = [text for text in takes if text.serving(locale) == DEFAULT_LOCALE]
    listed = missing if missing_only else takes
    left_out = len(catalog.texts) - len(takes)
    header = _header(catalog, locale, missing_only, left_out, config_shown)
    return Export(
        text=header + _document(locale, listed),
        listed=len(listed),
        missing=len(missing),
        left_out=left_out,
    )


def entry_of(text: SourceText, locale: str) -> dict[str, object]:
    """`{ default: ..., fr_FR: ... }`, and the entry that serves the locale when it is
    another (`from: "fr", fr: "..."`)."""
    entry: dict[str, object] = {DEFAULT_LOCALE: text.default, locale: text.text_of(locale)}
    serving = text.serving(locale)
    if serving not in (locale, DEFAULT_LOCALE):
        entry["from"] = serving
        entry[serving] = text.text_of(serving)
    return entry


def _header(
    catalog: Catalog, locale: str, missing_only: bool, left_out: int, config_shown: str
) -> str:
    config = config_shown or catalog.config_name
    which = f"The texts of {config} no {locale} text serves yet" if missing_only else None
    lines = [
        f"{which or f'Every text of {config} for {locale}'}, with its `default` beside it.",
        f"Fill in the {locale} values (null: left untranslated; a list: variations, one picked",
        "at random a send); keep the `default`s: they tell the import the text is unchanged.",
        f"Then write them into the files: runtime texts import FILE -c {config}",
    ]
    if not missing_only:
        lines.append(f"`from`: the entry a {locale} reader gets today, shown beside it.")
    if left_out:
        lines.append(
            f"The page profile's texts ({left_out}) are left out: Meta's profile takes a locale"
        )
        lines.append("with its region, as in fr_FR: export them with one.")
    return "".join(f"// {line}\n" for line in lines)


def _document(locale: str, texts: Sequence[SourceText]) -> str:
    key = _STYLE.key
    lines = ["{", f"  locale: {_STYLE.render(locale, indent='', column=0)},", "  texts: {"]
    names = list(dict.fromkeys(text.name for text in texts))
    for name in names:
        lines.append(f"    {key(name)}: {{")
        for text in texts:
            if text.name != name:
                continue
            note = _NOTES.get(text.kind)
            if note:
                lines.append(f"      // {note}")
            written = key(text.path)
            column = 6 + len(written) + 2
            entry = _STYLE.render(entry_of(text, locale), indent="      ", column=column)
            lines.append(f"      {written}: {entry},")
        lines.append("    },")
    if not names:
        lines[-1] = "  texts: {},"
    else:
        lines.append("  },")
    lines.extend(["}", ""])
    return "\n".join(lines)
