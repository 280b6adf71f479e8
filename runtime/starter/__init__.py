"""The starter bot that `runtime init` writes: a config, flows and a conversation test.

Its files are package data beside this module, so an installed runtime writes the same bot
as a source tree. `flows` here is a link to the repository's top-level `flows/` folder (as
`runtime/schemas` is to `schemas/`): one copy, read in the repository and shipped in the
package alike. `config.schema.json` is generated when the bot is written, so it matches the
runtime that wrote it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from runtime.errors import Error

CONFIG_FILE = PurePosixPath("config.json5")
SCHEMA_FILE = PurePosixPath("config.schema.json")  # what the config's `$schema` names


@dataclass(frozen=True, slots=True, kw_only=True)
class StarterFile:
    path: PurePosixPath  # relative to the new bot's folder
    text: str


def starter_files() -> tuple[StarterFile, ...]:
    """The new bot's files: the config and its schema first, then the rest by path."""
    config, *rest = sorted(_packaged(resources.files(__name__), PurePosixPath()), key=_config_first)
    return (config, StarterFile(path=SCHEMA_FILE, text=_config_schema()), *rest)


def write_starter(folder: Path, *, force: bool = False) -> tuple[Path, ...]:
    """Write the starter bot into `folder` (made if missing); the paths written, in order.

    Nothing is written when one of the files exists already, unless `force`: then those are
    replaced and every other file of the folder is left as it is.
    """
    if folder.exists() and not folder.is_dir():
        raise Error(f"{folder} is a file; name a folder for the new bot (made if missing)")
    files = starter_files()
    targets = [folder.joinpath(file.path) for file in files]
    existing = [file.path for file, target in zip(files, targets, strict=True) if _taken(target)]
    if existing and not force:
        them = "it" if len(existing) == 1 else "them"
        raise Error(
            f"{folder_name(folder)} already has {_listed(existing)}; nothing was written "
            f"(choose another folder, or --force to overwrite {them})"
        )
    for file, target in zip(files, targets, strict=True):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file.text, encoding="utf-8")
        except OSError as err:
            raise Error(f"cannot write {target}: {err.strerror or err}") from err
    return tuple(targets)


def folder_name(folder: Path) -> str:
    """How messages name the folder: `mybot`, or `the current folder` for `.`."""
    return "the current folder" if folder == Path() else str(folder)


def _taken(path: Path) -> bool:
    return path.exists() or path.is_symlink()  # a link to nothing counts: a write follows it


def _packaged(folder: Traversable, prefix: PurePosixPath) -> list[StarterFile]:
    files: list[StarterFile] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            files.extend(_packaged(entry, prefix / entry.name))
        elif entry.name.endswith(".json5"):
            text = entry.read_text(encoding="utf-8")
            files.append(StarterFile(path=prefix / entry.name, text=text))
    return files


def _config_first(file: StarterFile) -> tuple[bool, PurePosixPath]:
    return (file.path != CONFIG_FILE, file.path)


def _config_schema() -> str:
    from runtime.validation.jsonschema import json_schema

    schema = json_schema("config", title="Messenger runtime config")
    return json.dumps(schema, indent=2) + "\n"


def _listed(paths: list[PurePosixPath]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    names = [str(path) for path in paths]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
