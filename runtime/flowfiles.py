"""Finding and reading flow files: the config's `flows` sources -> parsed JSON5 documents.

A source is a folder (every `*.json5` below it), a glob, or a file, relative to the config
file. Files are read in sorted order within each source and sources in the order given,
which is the "file order" regex triggers are tried in. `FlowFileCache` re-reads only the
files whose size or modification time changed, so a one-file edit of a large bot is cheap.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from runtime.config.json5file import Document, read_json5
from runtime.config.model import DEFAULT_FLOWS, Config
from runtime.errors import ConfigError
from runtime.validation.problems import Problem, Severity

_GLOB_CHARS = frozenset("*?[")


def find_flow_files(config: Config) -> tuple[list[Path], list[Problem]]:
    """Every flow file the config names, in file order, without repeats."""
    file = str(config.path)
    found: dict[Path, None] = {}
    problems: list[Problem] = []
    explicit = config.flow_sources != DEFAULT_FLOWS
    for index, source in enumerate(config.flow_sources):
        paths = _expand(config.base_dir, source)
        if not paths:
            where = f"flows.{index}" if len(config.flow_sources) > 1 else "flows"
            severity = Severity.ERROR if explicit else Severity.WARNING
            message = f"'{source}' matches no flow file"
            if not explicit:
                message += " (the default): the bot will not answer anything"
            problems.append(Problem(file=file, path=where, message=message, severity=severity))
        for path in paths:
            found.setdefault(path, None)
    return list(found), problems


def _expand(base_dir: Path, source: str) -> list[Path]:
    target = base_dir / source
    if any(char in source for char in _GLOB_CHARS):
        matches = glob.glob(str(target), recursive=True)
        return sorted(Path(match) for match in matches if Path(match).is_file())
    if target.is_dir():
        return sorted(path for path in target.rglob("*.json5") if path.is_file())
    return [target] if target.is_file() else []


def display_path(path: Path) -> str:
    """How messages name a flow file: relative to the working directory when it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)


@dataclass(slots=True)
class _Entry:
    stamp: tuple[int, int]
    document: Document | None
    problems: tuple[Problem, ...]


@dataclass(slots=True)
class FlowFileCache:
    """Parsed flow files by path, kept while their (mtime, size) stay the same."""

    _entries: dict[Path, _Entry] = field(default_factory=dict)
    reads: int = 0  # how many files were actually parsed: tests and benchmarks look at it

    def read(self, path: Path, display: str) -> tuple[Document | None, tuple[Problem, ...]]:
        try:
            info = path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = (-1, -1)
        entry = self._entries.get(path)
        if entry is not None and entry.stamp == stamp and stamp != (-1, -1):
            return entry.document, entry.problems
        self.reads += 1
        try:
            document: Document | None = read_json5(path, display=display)
            problems: tuple[Problem, ...] = ()
        except ConfigError as err:
            document, problems = None, err.problems
        self._entries[path] = _Entry(stamp=stamp, document=document, problems=problems)
        return document, problems

    def forget_missing(self, keep: set[Path]) -> None:
        for path in set(self._entries) - keep:
            del self._entries[path]


def read_flow_files(
    config: Config, cache: FlowFileCache | None = None
) -> tuple[list[Document], list[Problem]]:
    """Parse every flow file of the config; return the documents and every problem."""
    store = cache if cache is not None else FlowFileCache()
    paths, problems = find_flow_files(config)
    documents: list[Document] = []
    for path in paths:
        document, found = store.read(path, display_path(path))
        problems.extend(found)
        if document is not None:
            documents.append(document)
    store.forget_missing(set(paths))
    return documents, problems
