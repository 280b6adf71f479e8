"""Finding and reading flow files: the config's `flows` sources -> parsed JSON5 documents.

A source is a folder (every `*.json5` below it), a glob, or a file, relative to the config
file. Files are read in sorted order within each source and sources in the order given,
which is the "file order" regex triggers are tried in. `FlowFileCache` re-reads only the
files whose size, modification or status-change time changed, so a one-file edit of a large
bot is cheap.

Nothing is skipped in silence: a link to nothing, a file or a folder the runtime may not
read is a problem that makes the command exit 2 (`Problem.unreadable`), never a bot that
runs without those flows.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runtime.config.json5file import Document, read_json5
from runtime.config.model import DEFAULT_FLOWS
from runtime.errors import ConfigError, ConfigReadError
from runtime.validation.problems import Problem

_GLOB_CHARS = frozenset("*?[")
_OnError = Callable[[OSError], None]


def find_flow_files(config_path: Path, sources: Sequence[str]) -> tuple[list[Path], list[Problem]]:
    """Every flow file the config's `flows` sources name, in file order, without repeats.

    A source that matches no file is an error, the default `flows/` too: a bot that answers
    nothing is never "valid".
    """
    file = str(config_path)
    base_dir = config_path.parent
    found: dict[Path, None] = {}
    problems: list[Problem] = []
    for index, source in enumerate(sources):
        paths, unreadable = _expand(base_dir, source)
        problems.extend(p for p in unreadable if p not in problems)
        if not paths and not unreadable:
            where = f"flows.{index}" if len(sources) > 1 else "flows"
            message = f"'{source}' matches no flow file: {_looked_for(base_dir, source)}"
            problems.append(Problem(file=file, path=where, message=message))
        for path in paths:
            found.setdefault(path, None)
    return list(found), problems


def _looked_for(base_dir: Path, source: str) -> str:
    """What was looked for, and where: the full path, as a source is relative to the config."""
    target = Path(os.path.abspath(base_dir / source))
    if _has_magic(source):
        why = f"no file matches {target}"
    elif target.is_dir():
        why = f"the folder {target} holds no *.json5 file"
    elif target.exists():
        why = f"{target} is not a regular file"
    else:
        why = f"{target} does not exist"
    return (
        f"{why}; `flows` (default {DEFAULT_FLOWS[0]!r}) names the flow files' folders, globs "
        "or files, relative to the config file"
    )


def _expand(base_dir: Path, source: str) -> tuple[list[Path], list[Problem]]:
    """The files of one source, and the folders on its way that could not be listed."""
    target = base_dir / source
    if _has_magic(source):
        matches = glob.glob(str(target), recursive=True)
        found = sorted(Path(match) for match in matches if _may_be_flow_file(Path(match)))
        return found, _unlistable_glob_folders(base_dir, source)
    try:
        if target.is_dir():  # through a link too; False when missing, raises when forbidden
            return _walk_folder(target)
        target.lstat()  # a link to nothing is there, to be read and reported
    except (FileNotFoundError, NotADirectoryError):
        return [], []  # the caller says it matches no flow file
    except OSError as err:  # a folder on the way that we may not enter
        return [], [Problem.cannot_read(display_path(target), err)]
    return ([target] if _may_be_flow_file(target) else []), []


def _walk_folder(folder: Path) -> tuple[list[Path], list[Problem]]:
    """Every `*.json5` below `folder` (links to folders are not followed, as `rglob`), and
    the folders that could not be listed."""
    problems: list[Problem] = []
    found: list[Path] = []
    for root, _folders, names in os.walk(folder, onerror=_collect_into(problems)):
        paths = (Path(root, name) for name in names if name.endswith(".json5"))
        found.extend(path for path in paths if _may_be_flow_file(path))
    return sorted(found), problems


def _has_magic(source: str) -> bool:
    return any(char in source for char in _GLOB_CHARS)


def _may_be_flow_file(path: Path) -> bool:
    """A regular file, or what may be one but cannot be looked at (a link to nothing, a
    file in a folder we may list but not enter): reading it then says why. Not a folder,
    nor a FIFO, which would block the read."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return True


def _collect_into(problems: list[Problem]) -> _OnError:
    """An `os.walk` error handler that records each folder it could not list."""

    def unlistable(err: OSError) -> None:
        folder = Path(err.filename) if isinstance(err.filename, str) else Path(".")
        problem = Problem.cannot_read(display_path(folder), err, listing=True)
        if problem not in problems:
            problems.append(problem)

    return unlistable


def _unlistable_glob_folders(base_dir: Path, source: str) -> list[Problem]:
    """The folders a glob would have to list and cannot (`glob` skips them in silence).

    Walks from the glob's literal start (`flows` of `flows/*/x*.json5`) into the folders
    its parts can match, as `glob` does: `**` any depth, hidden folders only when named.
    """
    parts = Path(source).parts
    literal = 0
    while literal < len(parts) - 1 and not _has_magic(parts[literal]):
        literal += 1
    start = base_dir.joinpath(*parts[:literal])
    folders = parts[literal:-1]
    try:
        if not start.is_dir():
            return []  # nothing to match in: the caller says it matches no flow file
    except OSError as err:
        return [Problem.cannot_read(display_path(start), err)]
    problems: list[Problem] = []
    for root, names, _files in os.walk(start, onerror=_collect_into(problems)):
        depth = len(Path(root).relative_to(start).parts)
        names[:] = [name for name in names if _glob_enters(folders, depth, name)]
    return problems


def _glob_enters(folders: Sequence[str], depth: int, name: str) -> bool:
    """Whether a glob whose folder parts are `folders` looks into folder `name` at `depth`."""
    if "**" in folders[: depth + 1]:
        return not name.startswith(".")
    if depth >= len(folders):
        return False
    pattern = folders[depth]
    hidden_ok = pattern.startswith(".") or not name.startswith(".")
    return hidden_ok and fnmatch.fnmatchcase(name, pattern)


def display_path(path: Path) -> str:
    """How messages name a flow file: relative to the working directory when it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)


@dataclass(slots=True)
class _Entry:
    stamp: tuple[int, int, int]
    document: Document | None
    problems: tuple[Problem, ...]


@dataclass(slots=True)
class FlowFileCache:
    """Parsed flow files by path, kept while their (mtime, size, ctime) stay the same.

    A file that could not be read is not kept: the next build tries it again.
    """

    _entries: dict[Path, _Entry] = field(default_factory=dict)
    reads: int = 0  # how many files were actually parsed: tests and benchmarks look at it

    def read(self, path: Path, display: str) -> tuple[Document | None, tuple[Problem, ...]]:
        try:
            info = path.stat()
            # the status-change time moves with a chmod, which a file's mtime does not:
            # a file made unreadable, or readable again, is read again
            stamp = (info.st_mtime_ns, info.st_size, info.st_ctime_ns)
        except OSError:
            stamp = None
        entry = self._entries.get(path)
        if entry is not None and stamp is not None and entry.stamp == stamp:
            return entry.document, entry.problems
        self.reads += 1
        try:
            document: Document | None = read_json5(path, display=display)
            problems: tuple[Problem, ...] = ()
        except ConfigReadError as err:  # not kept: the next reload tries again
            self._entries.pop(path, None)
            return None, err.problems
        except ConfigError as err:
            document, problems = None, err.problems
        if stamp is not None:
            self._entries[path] = _Entry(stamp=stamp, document=document, problems=problems)
        return document, problems

    def forget_missing(self, keep: set[Path]) -> None:
        for path in set(self._entries) - keep:
            del self._entries[path]


def read_flow_files(
    config_path: Path, sources: Sequence[str], cache: FlowFileCache | None = None
) -> tuple[list[Document], list[Problem]]:
    """Parse every flow file `sources` name (the config's `flows`); return the documents
    and every problem."""
    store = cache if cache is not None else FlowFileCache()
    paths, problems = find_flow_files(config_path, sources)
    documents: list[Document] = []
    for path in paths:
        document, found = store.read(path, display_path(path))
        problems.extend(found)
        if document is not None:
            documents.append(document)
    store.forget_missing(set(paths))
    return documents, problems
