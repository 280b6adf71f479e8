"""Media files the flows send (`attachment: { file: ... }`): found, checked and hashed when
the flows are compiled, so `runtime validate` says what Meta would refuse.

A path is relative to the flow file that names it. An absolute path, or one that leads out
of the bot's folder (the config file's), is an error: the bot's folder is what gets copied
and deployed (`cp -r`, an image's COPY), and a file outside it would be left behind.
Symbolic links are followed without a question: placing one is a deliberate act.

Each file is stat'ed and hashed once a compile; `stamps` records what was seen, so a rebuild
recompiles a flow file whose media changed even though the flow file itself did not.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from runtime.bot import AttachmentStep, CompiledFlow
from runtime.dialog.messages import MediaFile
from runtime.messenger.limits import LIMITS
from runtime.validation.problems import Problem, os_reason

FALLBACK_MIME: Final = "application/octet-stream"  # a `file` attachment of unknown type

# Python's own table (not the system's /etc/mime.types, so every machine agrees), with the
# formats Messenger plays that it lacks
_TYPES = mimetypes.MimeTypes()
for _mime, _extension in (
    ("image/webp", ".webp"),
    ("audio/mp4", ".m4a"),
    ("audio/ogg", ".ogg"),
    ("audio/ogg", ".oga"),
    ("audio/ogg", ".opus"),
):
    _TYPES.add_type(_mime, _extension)

_EXAMPLES = {
    "image": ".png, .jpg, .gif or .webp",
    "video": ".mp4 or .mov",
    "audio": ".mp3, .m4a, .aac, .ogg or .wav",
}
_CHUNK = 1 << 20

Stamp = tuple[int, int, int]  # (mtime_ns, size, ctime_ns)


def guess_mime(path: str) -> str | None:
    """The MIME type a file's extension says (`image/png`), or None."""
    return _TYPES.guess_type(path, strict=False)[0]


def file_stamp(path: str) -> Stamp | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ctime_ns)


class MediaFiles:
    """Checks the `file` attachments of one flow file; `folder` is that file's folder.

    `stamps` holds, for every file looked at, its stamp when looked at (None if it was not
    there): `unchanged()` says whether a compile still stands.
    """

    def __init__(self, folder: Path, display: str) -> None:
        self.folder = folder
        self.display = display
        self.stamps: dict[str, Stamp | None] = {}
        self._hashes: dict[str, str] = {}

    def check(self, written: str, kind: str, path: str) -> tuple[MediaFile | None, list[Problem]]:
        """The file `written` (relative to the flow file) for an attachment of `kind` at
        key `path`: a MediaFile, or None and the problems that say why not."""
        if os.path.isabs(written):
            message = (
                f"'{written}' is an absolute path; write it relative to the flow file, such as"
                " 'media/logo.png', and keep the file in the bot's folder, which is what gets"
                " copied and deployed"
            )
            return None, [self._problem(path, message)]
        full = os.path.abspath(os.path.normpath(self.folder / written))
        self.stamps[full] = file_stamp(full)
        try:
            info = os.stat(full)
        except OSError as err:
            message = f"cannot read '{written}' ({full}): {os_reason(err)}"
            if isinstance(err, FileNotFoundError):
                message += "; the path is relative to the flow file: fix it or put the file there"
            return None, [Problem(file=self.display, path=path, message=message, unreadable=True)]
        if not stat.S_ISREG(info.st_mode):
            what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            return None, [self._problem(path, f"'{written}' ({full}) is {what}; name a file")]
        problems = []
        if info.st_size > LIMITS.file_bytes:
            problems.append(
                self._problem(
                    path,
                    f"'{written}' is {info.st_size / 1e6:.1f} MB; Meta takes files up to"
                    f" {LIMITS.file_bytes / 1e6:.0f} MB (by url too): make it smaller",
                )
            )
        mime, type_problem = _mime_for(written, kind)
        if type_problem is not None:
            problems.append(self._problem(path, type_problem))
        if problems or mime is None:
            return None, problems
        try:
            digest = self._sha256(full)
        except OSError as err:
            message = f"cannot read '{written}' ({full}): {os_reason(err)}"
            return None, [Problem(file=self.display, path=path, message=message, unreadable=True)]
        media = MediaFile(path=full, written=written, mime=mime, sha256=digest, size=info.st_size)
        return media, []

    def _sha256(self, full: str) -> str:
        known = self._hashes.get(full)
        if known is None:
            known = file_sha256(full)
            self._hashes[full] = known
        return known

    def _problem(self, path: str, message: str) -> Problem:
        return Problem(file=self.display, path=path, message=message)


def file_sha256(path: str) -> str:
    """The hex SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def unchanged(stamps: Iterable[tuple[str, Stamp | None]]) -> bool:
    """Whether every file still has the stamp it had (or is still missing)."""
    return all(file_stamp(path) == stamp for path, stamp in stamps)


def _mime_for(written: str, kind: str) -> tuple[str | None, str | None]:
    """The file's MIME type for an attachment of `kind`, or the problem with it."""
    mime = guess_mime(written)
    if kind == "file":  # Messenger takes any file as a `file` attachment
        return mime or FALLBACK_MIME, None
    if mime is None:
        return None, (
            f"cannot tell the type of '{written}' from its name; give it the extension of its"
            f' format ({_EXAMPLES[kind]}), or send it as type: "file"'
        )
    if not mime.startswith(f"{kind}/"):
        return None, (
            f"'{written}' is {mime} by its extension, not {_article(kind)} {kind}; use"
            f' {_article(kind)} {kind} file ({_EXAMPLES[kind]}), or send it as type: "file"'
        )
    return mime, None


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def files_outside(folder: Path, flows: Iterable[CompiledFlow]) -> list[Problem]:
    """The attachment files that lie outside the bot's `folder` (the config file's)."""
    base = os.path.abspath(folder)
    problems = []
    for flow in flows:
        for step in flow.steps:
            if not isinstance(step, AttachmentStep) or step.file is None:
                continue
            if os.path.commonpath([base, step.file.path]) == base:
                continue
            message = (
                f"'{step.file.written}' ({step.file.path}) is outside the bot's folder ({base});"
                " move it into that folder (such as media/) and name it from there: copying"
                " or deploying the folder would leave it behind"
            )
            path = f"{step.source.key_path}.attachment.file"
            problems.append(Problem(file=step.source.file, path=path, message=message))
    return problems
