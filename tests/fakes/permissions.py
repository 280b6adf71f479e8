"""Files the runtime may not read, even when the tests run as root.

Root reads any file whatever its mode, so a command that must meet "Permission denied" runs
without the two capabilities that let it (`setpriv` from util-linux drops them from the
bounding set before it starts the command). Run as another user, `chmod 000` is enough.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

_SETPRIV = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")


def bound_by_file_modes(*command: str) -> tuple[str, ...]:
    """`command`, run so that a file's mode keeps it out as it would keep out any user."""
    if os.geteuid() != 0:
        return command
    if shutil.which(_SETPRIV[0]) is None:
        pytest.skip("running as root without setpriv (util-linux): root reads any file")
    return (*_SETPRIV, *command)


@contextlib.contextmanager
def unreadable(path: Path) -> Iterator[Path]:
    """`chmod 000` on `path` (a file or a folder) for the block; its mode is put back after,
    so that the test's folder can be cleaned up."""
    mode = stat.S_IMODE(path.stat().st_mode)
    path.chmod(0)
    try:
        yield path
    finally:
        path.chmod(mode)
