"""The folder where the workers of `runtime serve --workers N` keep their Prometheus counts.

prometheus_client's multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set before it is
imported, each process keeps its counters in files of its own in that folder, and a scrape
reads them all (`runtime/metrics.py`). `runtime serve` makes a private folder before its
workers start (they inherit the variable) and removes it at exit; one a killed server left
behind is removed by the next start. No import of prometheus_client here: this runs before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from runtime.worker import process_alive

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
PREFIX: Final = "runtime-metrics-"  # then the pid of the `runtime serve` that made it


def open_metrics_folder() -> Path:
    """A new empty folder for this process's workers, named in PROMETHEUS_MULTIPROC_DIR
    (for the processes started from now on) and removed when this process exits."""
    remove_abandoned_folders()
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def remove_abandoned_folders(parent: Path | None = None) -> list[Path]:
    """Remove the folders of servers of this user that are gone (killed before their exit
    could); the ones removed."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = folder.name.removeprefix(PREFIX).partition("-")[0]
        with contextlib.suppress(OSError):
            if (
                pid.isdigit()
                and folder.stat().st_uid == os.getuid()
                and not process_alive(int(pid))
            ):
                shutil.rmtree(folder)
                removed.append(folder)
    return removed
