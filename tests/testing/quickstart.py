"""The quickstart example copied where a test may write (its state file, its test files)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"


def quickstart_results() -> list[str]:
    """What `runtime test` prints when every test of the quickstart passes."""
    from runtime.testing.cases import load_conversation_file

    names = [
        test.name
        for path in sorted((QUICKSTART / "tests").glob("*.json5"))
        for test in load_conversation_file(path).tests
    ]
    return [*(f"PASS {name}" for name in names), f"{len(names)} passed, 0 failed"]


def copy_quickstart(dest: Path, *, tests: bool = True) -> Path:
    """Copy the quickstart's config, flows and media (and its tests) into `dest`; return the
    config."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(QUICKSTART / "config.json5", dest / "config.json5")
    shutil.copytree(QUICKSTART / "flows", dest / "flows")
    shutil.copytree(QUICKSTART / "media", dest / "media")
    if tests:
        shutil.copytree(QUICKSTART / "tests", dest / "tests")
    return dest / "config.json5"


def run_runtime(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m runtime ARGS`, as a user runs it."""
    environ = {key: value for key, value in os.environ.items() if key != "RUNTIME_CONFIG"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "runtime", *args],
        input=input,
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=60,
        check=False,
    )
