"""A bot keeping its state on Redis, and the commands an operator runs on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.cli import main


def with_redis_state(config: Path, url: str, prefix: str | None = None) -> Path:
    """`config` (as `tests.messenger.conftest.write_bot` writes it) with its state on Redis."""
    keys = {"backend": "redis", "url": url, **({"prefix": prefix} if prefix else {})}
    state = ", ".join(f"{key}: {json.dumps(value)}" for key, value in keys.items())
    written = config.read_text().rstrip()
    assert written.endswith("}")
    config.write_text(f"{written[:-1]}, state: {{ {state} }} }}")
    return config


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`runtime ARGS` in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def serve_until_exit(
    config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`runtime serve` that is expected to stop at start: its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "runtime", "serve", "-c", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
