"""`runtime init` from an installed runtime (a wheel, as `pip install .` builds), not the tree.

The starter's flows reach the package through a link (runtime/starter/flows -> flows/): this
checks that the wheel holds them as files, and that init writes them from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "runtime", "schemas", "flows")


def build_wheel(tmp_path: Path) -> Path:
    """A wheel of a copy of the package's sources, links kept as links (as a clone has them)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("*.whl")
    return wheel


def test_init_from_a_wheel_writes_the_starter(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    installed = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    # the starter's flows are files in the package, not a link out of it
    flows = installed / "runtime" / "starter" / "flows"
    assert sorted(path.name for path in flows.iterdir()) == ["fallback.json5", "welcome.json5"]
    assert not flows.is_symlink()

    home = tmp_path / "home"
    home.mkdir()
    environ = {key: value for key, value in os.environ.items() if key != "RUNTIME_CONFIG"}
    environ["PYTHONPATH"] = str(installed)  # ahead of the source tree's editable install

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            cwd=home,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    imported = run("-c", "import runtime.starter; print(runtime.starter.__file__)")
    assert Path(imported.stdout.strip()).is_relative_to(installed), imported.stderr
    initialized = run("-m", "runtime", "init", "mybot")
    assert initialized.returncode == 0, initialized.stderr
    bot = home / "mybot"
    for name in ("flows/welcome.json5", "flows/fallback.json5"):
        assert (bot / name).read_text(encoding="utf-8") == (ROOT / name).read_text("utf-8")
    tested = run("-m", "runtime", "test", "-c", "mybot/config.json5")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.splitlines()[-1] == "2 passed, 0 failed"
